//! The RFC 4733 §2.3 telephone-event payload.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     event     |E|R| volume    |          duration             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! [`EventView`] reads the payload in place; [`EventPayload`] is the owned
//! `Copy` form a sender builds and writes into a packet buffer.

use core::fmt;

use crate::digit::Digit;

/// Length of one telephone-event payload in bytes.
pub const EVENT_PAYLOAD_LEN: usize = 4;
/// Highest volume value (6 bits): the power level is `-volume` dBm0.
pub const MAX_VOLUME: u8 = 63;
/// RFC 4733 event code for hook flash.
pub const EVENT_FLASH: u8 = 16;

const END_BIT: u8 = 0x80;
const RESERVED_BIT: u8 = 0x40;
const VOLUME_MASK: u8 = 0x3f;

/// Why a telephone-event payload could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventError {
    /// Malformed input: the payload is shorter than 4 bytes.
    Truncated {
        /// Bytes available.
        len: usize,
    },
    /// API misuse: the output buffer is shorter than 4 bytes.
    BufferTooSmall {
        /// Bytes available.
        len: usize,
    },
    /// API misuse: volume above 63 cannot be encoded in 6 bits.
    VolumeOutOfRange {
        /// The volume asked for.
        volume: u8,
    },
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::Truncated { len } => {
                write!(f, "telephone-event payload truncated: {len} of 4 bytes")
            }
            EventError::BufferTooSmall { len } => {
                write!(
                    f,
                    "output buffer too small for a telephone-event: {len} of 4 bytes"
                )
            }
            EventError::VolumeOutOfRange { volume } => {
                write!(f, "telephone-event volume {volume} above 63")
            }
        }
    }
}

impl std::error::Error for EventError {}

/// What an event code means to a DTMF relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A DTMF digit (codes 0-15).
    Dtmf(Digit),
    /// Hook flash (code 16).
    Flash,
    /// Any other code (RFC 4734 modem/fax tones and the rest): parsed, but
    /// not DTMF; a DTMF-only leg should drop or pass it through unchanged.
    Other(u8),
}

impl EventKind {
    /// Classify an event code.
    pub const fn from_code(code: u8) -> EventKind {
        match Digit::from_event_code(code) {
            Some(d) => EventKind::Dtmf(d),
            None if code == EVENT_FLASH => EventKind::Flash,
            None => EventKind::Other(code),
        }
    }
}

/// A borrowed, zero-copy view of one telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventView<'a> {
    bytes: &'a [u8; EVENT_PAYLOAD_LEN],
}

impl<'a> EventView<'a> {
    /// View the first 4 bytes of an RTP payload. Trailing bytes are ignored
    /// (RTP padding is the RTP layer's business).
    pub fn parse(payload: &'a [u8]) -> Result<Self, EventError> {
        match payload.first_chunk::<EVENT_PAYLOAD_LEN>() {
            Some(bytes) => Ok(EventView { bytes }),
            None => Err(EventError::Truncated { len: payload.len() }),
        }
    }

    /// The raw event code.
    pub fn event(&self) -> u8 {
        self.bytes[0]
    }

    /// The event code classified; codes above 16 are [`EventKind::Other`].
    pub fn kind(&self) -> EventKind {
        EventKind::from_code(self.event())
    }

    /// The DTMF digit, or `None` when the code is not a DTMF digit.
    pub fn digit(&self) -> Option<Digit> {
        Digit::from_event_code(self.event())
    }

    /// The E bit: this report ends the event.
    pub fn end(&self) -> bool {
        self.bytes[1] & END_BIT != 0
    }

    /// The R bit: reserved, senders set it to zero, receivers ignore it.
    pub fn reserved(&self) -> bool {
        self.bytes[1] & RESERVED_BIT != 0
    }

    /// Volume: the power level is `-volume` dBm0 (0..=63).
    pub fn volume(&self) -> u8 {
        self.bytes[1] & VOLUME_MASK
    }

    /// Duration so far, in RTP timestamp units from the event's timestamp.
    pub fn duration(&self) -> u16 {
        u16::from_be_bytes([self.bytes[2], self.bytes[3]])
    }

    /// Copy into the owned form (the R bit is dropped, as RFC 4733 asks).
    pub fn to_payload(&self) -> EventPayload {
        EventPayload {
            event: self.event(),
            end: self.end(),
            volume: self.volume(),
            duration: self.duration(),
        }
    }
}

/// An owned telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPayload {
    /// Event code (0-15 DTMF, 16 flash, others per RFC 4734).
    pub event: u8,
    /// E bit: the final report(s) of the event.
    pub end: bool,
    /// Power level as `-volume` dBm0, 0..=63.
    pub volume: u8,
    /// Duration so far in RTP timestamp units.
    pub duration: u16,
}

impl EventPayload {
    /// Write the 4 payload bytes at the start of `out`, R bit zero.
    /// Returns the number of bytes written (always 4).
    pub fn write_to(self, out: &mut [u8]) -> Result<usize, EventError> {
        if self.volume > MAX_VOLUME {
            return Err(EventError::VolumeOutOfRange {
                volume: self.volume,
            });
        }
        let len = out.len();
        let Some(dst) = out.first_chunk_mut::<EVENT_PAYLOAD_LEN>() else {
            return Err(EventError::BufferTooSmall { len });
        };
        *dst = self.encode();
        Ok(EVENT_PAYLOAD_LEN)
    }

    /// The 4 payload bytes; volume above 63 is an error.
    pub fn to_bytes(self) -> Result<[u8; EVENT_PAYLOAD_LEN], EventError> {
        if self.volume > MAX_VOLUME {
            return Err(EventError::VolumeOutOfRange {
                volume: self.volume,
            });
        }
        Ok(self.encode())
    }

    fn encode(self) -> [u8; EVENT_PAYLOAD_LEN] {
        let flags = if self.end { END_BIT } else { 0 } | (self.volume & VOLUME_MASK);
        let [d0, d1] = self.duration.to_be_bytes();
        [self.event, flags, d0, d1]
    }

    /// The event code classified.
    pub fn kind(&self) -> EventKind {
        EventKind::from_code(self.event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Figure 1 of RFC 4733 §2.3 laid out by hand: digit 5, end of event,
    /// volume 10 (-10 dBm0), duration 1600 (200 ms at 8 kHz).
    #[test]
    fn rfc4733_layout_digit_5_end() {
        let bytes = [0x05, 0x8a, 0x06, 0x40];
        let v = EventView::parse(&bytes).expect("4 bytes");
        assert_eq!(v.event(), 5);
        assert_eq!(v.digit(), Some(Digit::D5));
        assert!(v.end());
        assert!(!v.reserved());
        assert_eq!(v.volume(), 10);
        assert_eq!(v.duration(), 1600);
        let mut out = [0u8; 4];
        assert_eq!(v.to_payload().write_to(&mut out), Ok(4));
        assert_eq!(out, bytes);
    }

    /// Start report of `#` (code 11), no E bit, volume 63, duration 0, and
    /// a set R bit, which the receiver ignores and a re-write clears.
    #[test]
    fn rfc4733_layout_pound_reserved_bit() {
        let bytes = [0x0b, 0x7f, 0x00, 0x00];
        let v = EventView::parse(&bytes).expect("4 bytes");
        assert_eq!(v.kind(), EventKind::Dtmf(Digit::Pound));
        assert!(!v.end());
        assert!(v.reserved());
        assert_eq!(v.volume(), 63);
        assert_eq!(v.duration(), 0);
        assert_eq!(v.to_payload().to_bytes(), Ok([0x0b, 0x3f, 0x00, 0x00]));
    }

    #[test]
    fn non_dtmf_codes_parse_but_are_flagged() {
        let flash = EventView::parse(&[16, 0x80, 0x03, 0x20]).expect("4 bytes");
        assert_eq!(flash.kind(), EventKind::Flash);
        assert_eq!(flash.digit(), None);
        let fax = EventView::parse(&[36, 0x0d, 0xff, 0xff]).expect("4 bytes");
        assert_eq!(fax.kind(), EventKind::Other(36));
        assert_eq!(fax.duration(), 0xffff);
    }

    #[test]
    fn truncated_and_bad_writes() {
        assert_eq!(
            EventView::parse(&[1, 2, 3]),
            Err(EventError::Truncated { len: 3 })
        );
        assert_eq!(EventView::parse(&[]), Err(EventError::Truncated { len: 0 }));
        let p = EventPayload {
            event: 1,
            end: false,
            volume: 64,
            duration: 0,
        };
        assert_eq!(
            p.write_to(&mut [0; 4]),
            Err(EventError::VolumeOutOfRange { volume: 64 })
        );
        let p = EventPayload { volume: 10, ..p };
        assert_eq!(
            p.write_to(&mut [0; 3]),
            Err(EventError::BufferTooSmall { len: 3 })
        );
        // Trailing bytes are left alone.
        let mut out = [0xaa; 6];
        assert_eq!(p.write_to(&mut out), Ok(4));
        assert_eq!(out[4..], [0xaa, 0xaa]);
    }

    proptest! {
        #[test]
        fn parse_write_round_trip(event: u8, end: bool, volume in 0u8..=63, duration: u16) {
            let p = EventPayload { event, end, volume, duration };
            let mut buf = [0u8; 4];
            prop_assert_eq!(p.write_to(&mut buf), Ok(4));
            let v = EventView::parse(&buf).expect("4 bytes");
            prop_assert_eq!(v.to_payload(), p);
        }

        #[test]
        fn any_bytes_parse_and_rewrite_except_r_bit(bytes: [u8; 4]) {
            let v = EventView::parse(&bytes).expect("4 bytes");
            let out = v.to_payload().to_bytes().expect("volume is 6 bits");
            prop_assert_eq!(out[0], bytes[0]);
            prop_assert_eq!(out[1], bytes[1] & !0x40);
            prop_assert_eq!(&out[2..], &bytes[2..]);
        }
    }
}

//! Digits seen in streams the relay passes through unchanged: the end of
//! each RFC 4733 telephone-event is noted once (its three end packets,
//! and any retransmission, share a timestamp), so that the control
//! thread can report it. Transcoded streams report their own digits.

use sluice_dtmf::EventView;
use sluice_rtp::RtpView;

use super::table::{CallSerial, SocketKey};

/// A telephone-event that ended in a pass-through stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenDigit {
    /// The call.
    pub call: CallSerial,
    /// The socket it arrived on (facing the leg that sent it).
    pub socket: SocketKey,
    /// Event code (0-15 are DTMF digits).
    pub event: u8,
    /// Duration in RTP timestamp units of the event's clock.
    pub duration: u16,
    /// Volume, -dBm0.
    pub volume: u8,
}

/// Per-socket memory of the last event end reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LastEnd {
    last: Option<(u32, u32)>,
}

impl LastEnd {
    /// If `packet` (plain RTP carrying the telephone-event payload type)
    /// ends an event not reported yet, its (event, duration, volume).
    pub fn end_of_event(&mut self, packet: &[u8]) -> Option<(u8, u16, u8)> {
        let rtp = RtpView::parse(packet).ok()?;
        let event = EventView::parse(rtp.payload()).ok()?;
        if !event.end() {
            return None;
        }
        let id = (rtp.ssrc().0, rtp.timestamp());
        if self.last == Some(id) {
            return None;
        }
        self.last = Some(id);
        Some((event.event(), event.duration(), event.volume()))
    }
}

#[cfg(test)]
mod tests {
    use super::LastEnd;

    fn event(ts: u32, ssrc: u32, end: bool, code: u8, duration: u16) -> Vec<u8> {
        let mut p = vec![0x80, 101];
        p.extend_from_slice(&7u16.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(&[code, if end { 0x80 | 10 } else { 10 }]);
        p.extend_from_slice(&duration.to_be_bytes());
        p
    }

    #[test]
    fn one_report_per_event_whatever_the_retransmissions() {
        let mut last = LastEnd::default();
        assert_eq!(last.end_of_event(&event(100, 1, false, 5, 160)), None);
        assert_eq!(
            last.end_of_event(&event(100, 1, true, 5, 800)),
            Some((5, 800, 10))
        );
        assert_eq!(last.end_of_event(&event(100, 1, true, 5, 800)), None);
        assert_eq!(last.end_of_event(&event(100, 1, true, 5, 800)), None);
        // The next digit has its own timestamp.
        assert_eq!(
            last.end_of_event(&event(2000, 1, true, 11, 480)),
            Some((11, 480, 10))
        );
        // A new sender with the same timestamp is another event.
        assert_eq!(
            last.end_of_event(&event(2000, 2, true, 11, 480)),
            Some((11, 480, 10))
        );
    }

    #[test]
    fn junk_is_ignored() {
        let mut last = LastEnd::default();
        assert_eq!(last.end_of_event(&[0x80, 101, 0, 1]), None);
        let mut short = event(1, 1, true, 5, 1);
        short.truncate(14);
        assert_eq!(last.end_of_event(&short), None);
    }
}

//! DTMF pieces of one direction: telephone-event payload mapping, the
//! event stream generated from in-band tones, and events or tones
//! injected by `play DTMF`.

use std::time::{Duration, Instant};

use sluice_dtmf::event::EVENT_PAYLOAD_LEN;
use sluice_dtmf::sender::rescale;
use sluice_dtmf::{
    Digit, EventPacket, EventPayload, EventSender, EventView, SendConfig, ToneGenerator,
};

use crate::error::DtmfError;

/// Update interval of generated and injected events, ms.
pub const UPDATE_MS: u32 = 20;
/// An event with no packet for this long is closed (end reports lost).
pub const EVENT_IDLE: Duration = Duration::from_millis(500);

/// Longest duration one event segment reports (RFC 4733 §2.5.1.3).
pub const MAX_SEGMENT: u64 = u16::MAX as u64;

/// Splits an event's `duration` so far into the segment it falls in and
/// the duration within that segment (RFC 4733 §2.5.1.3): a segment closes
/// at 0xFFFF and the next one starts at `index * 0xFFFF` units after the
/// event's start, its duration counting from there.
pub fn segment(duration: u64) -> (u64, u16) {
    let index = duration.saturating_sub(1) / MAX_SEGMENT;
    let within = (duration - index * MAX_SEGMENT).min(MAX_SEGMENT) as u16;
    (index, within)
}

/// Rewrites a telephone-event payload for the other leg's clock: the
/// duration is rescaled; one that no longer fits 16 bits (more than
/// 1.365 s going from 8 to 48 kHz) is split into segments. Returns the
/// segment index (its timestamp is `index * 0xFFFF` units of `to_rate`
/// after the mapped one) and the new payload.
pub fn map_payload(
    view: &EventView<'_>,
    from_rate: u32,
    to_rate: u32,
) -> (u64, [u8; EVENT_PAYLOAD_LEN]) {
    let mut p = view.to_payload();
    let (index, within) = segment(rescale(u64::from(p.duration), from_rate, to_rate));
    p.duration = within;
    (index, p.to_bytes().unwrap_or([0; EVENT_PAYLOAD_LEN]))
}

/// An event generated from an in-band digit the detector is hearing.
#[derive(Debug, Clone, Copy)]
pub struct LiveEvent {
    /// Event code.
    pub code: u8,
    /// Output timestamp of the event's start (64-bit timeline).
    pub start_ts: u64,
    /// Whether the first (marker) packet went out.
    pub started: bool,
}

impl LiveEvent {
    /// The payload reporting `duration` event clock units so far, and
    /// the index of the segment it belongs to (see [`segment`]).
    pub fn payload(&self, duration: u64, end: bool) -> (u64, [u8; EVENT_PAYLOAD_LEN]) {
        let (index, within) = segment(duration);
        let bytes = EventPayload {
            event: self.code,
            end,
            volume: 10,
            duration: within,
        }
        .to_bytes()
        .unwrap_or([0; EVENT_PAYLOAD_LEN]);
        (index, bytes)
    }
}

/// What `play DTMF` is sending toward a leg.
#[derive(Debug)]
pub enum Injection {
    /// RFC 4733 packets on the leg's telephone-event payload type.
    Events {
        /// The packet sequence.
        sender: EventSender,
        /// The next packet, not yet due.
        next: Option<EventPacket>,
        /// Offset of the first packet (sent at `start`).
        first_offset: u64,
        /// When the event started.
        start: Instant,
        /// The event's clock.
        clock: u32,
        /// Output timestamp of the start (64-bit timeline).
        start_ts: u64,
        /// Event duration in clock units.
        duration: u64,
    },
    /// In-band tones encoded as audio, one packet per ptime.
    Tones {
        /// The tone.
        tone: ToneGenerator,
        /// Samples (internal rate) still to play.
        remaining: usize,
        /// Packets sent so far.
        sent: u64,
        /// When the first packet went.
        start: Instant,
        /// Output timestamp of the start (64-bit timeline).
        start_ts: u64,
    },
}

/// Checks `play DTMF` arguments (NG: duration 100..=5000 ms).
pub fn check_play(code: u8, duration_ms: u32, volume: u8) -> Result<Digit, DtmfError> {
    let digit = Digit::from_event_code(code).ok_or(DtmfError::Code(code))?;
    if !(100..=5000).contains(&duration_ms) {
        return Err(DtmfError::Duration(duration_ms));
    }
    if volume > 63 {
        return Err(DtmfError::Volume(volume));
    }
    Ok(digit)
}

/// The event packet sequence of an injected event starting at `start_ts`.
pub fn injected_events(
    code: u8,
    volume: u8,
    start_ts: u64,
    clock: u32,
    duration_ms: u32,
    now: Instant,
) -> Option<Injection> {
    // RTP timestamps are the 64-bit timeline modulo 2^32.
    let cfg = SendConfig::from_millis(code, volume, start_ts as u32, clock, duration_ms, UPDATE_MS)
        .ok()?;
    let mut sender = EventSender::new(cfg).ok()?;
    let next = sender.next();
    Some(Injection::Events {
        first_offset: next.map_or(0, |p| p.send_offset),
        next,
        sender,
        start: now,
        clock,
        start_ts,
        duration: u64::from(cfg.duration),
    })
}

/// The two-tone generator of `digit` at `level_dbm0` per tone and `rate`.
pub fn tone(digit: Digit, level_dbm0: f64, rate: u32) -> ToneGenerator {
    let (low, high) = digit.frequencies_hz();
    ToneGenerator::new([f64::from(low), f64::from(high)], [level_dbm0; 2], rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_duration_scales_by_six() {
        let bytes = EventPayload {
            event: 5,
            end: true,
            volume: 10,
            duration: 800,
        }
        .to_bytes()
        .expect("valid");
        let view = EventView::parse(&bytes).expect("parses");
        let (index, out) = map_payload(&view, 8000, 48000);
        assert_eq!(index, 0);
        let v = EventView::parse(&out).expect("parses");
        assert_eq!(
            (v.event(), v.end(), v.volume(), v.duration()),
            (5, true, 10, 4800)
        );
        let (_, back) = map_payload(&v, 48000, 8000);
        assert_eq!(EventView::parse(&back).expect("parses").duration(), 800);
    }

    /// 8 kHz durations past 10922 units no longer fit at 48 kHz: the
    /// event goes on in a new segment instead of saturating.
    #[test]
    fn long_mapped_event_is_segmented() {
        assert_eq!(segment(0), (0, 0));
        assert_eq!(segment(0xffff), (0, 0xffff));
        assert_eq!(segment(0x10000), (1, 1));
        assert_eq!(segment(3 * 0xffff + 5), (3, 5));
        let bytes = EventPayload {
            event: 1,
            end: false,
            volume: 10,
            duration: 12000,
        }
        .to_bytes()
        .expect("valid");
        let view = EventView::parse(&bytes).expect("parses");
        let (index, out) = map_payload(&view, 8000, 48000);
        assert_eq!(index, 1);
        assert_eq!(
            EventView::parse(&out).expect("parses").duration(),
            (72000 - 0xffff) as u16
        );
    }

    #[test]
    fn play_arguments_are_checked() {
        assert_eq!(check_play(16, 200, 10), Err(DtmfError::Code(16)));
        assert_eq!(check_play(1, 99, 10), Err(DtmfError::Duration(99)));
        assert_eq!(check_play(1, 5001, 10), Err(DtmfError::Duration(5001)));
        assert_eq!(check_play(1, 100, 64), Err(DtmfError::Volume(64)));
        assert_eq!(check_play(11, 5000, 63), Ok(Digit::Pound));
    }
}

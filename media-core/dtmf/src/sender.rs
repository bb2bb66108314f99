//! The RFC 4733 §2.5.1 packet sequence for one event, and rescaling of
//! event timing between clock rates.
//!
//! [`EventSender`] is an iterator of [`EventPacket`]s. It never reads a
//! clock: each packet carries `send_offset`, the RTP-clock time after the
//! event's start at which the caller should send it.
//!
//! The sequence for one event:
//! - updates every `interval`, all with the event's RTP timestamp and a
//!   growing duration; the first one has the marker bit (§2.5.1.2) and is
//!   due one interval after the start, reporting that interval's worth of
//!   tone (so a report's duration never runs ahead of its send time);
//! - the report that reaches the total duration has the E bit and is sent
//!   three times (§2.5.1.4), `end_spacing` apart;
//! - an event longer than 0xFFFF timestamp units (1.37 s at 48 kHz, 8.2 s
//!   at 8 kHz) is split into segments (§2.5.1.3): a segment closes with a
//!   report of duration 0xFFFF without the E bit, and the next segment
//!   starts at the old timestamp plus 0xFFFF, without the marker bit.

use core::fmt;

use crate::event::{EventPayload, MAX_VOLUME};

/// Longest duration one segment can report.
pub const MAX_SEGMENT_DURATION: u32 = 0xffff;
/// How many times the end report is sent (RFC 4733 §2.5.1.4).
pub const END_REPORTS: u8 = 3;

/// Why an [`EventSender`] could not be built. All are API misuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// Clock rate of zero.
    ZeroClockRate,
    /// Update interval of zero.
    ZeroInterval,
    /// Total duration of zero.
    ZeroDuration,
    /// Volume above 63.
    VolumeOutOfRange {
        /// The volume asked for.
        volume: u8,
    },
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::ZeroClockRate => f.write_str("telephone-event clock rate is zero"),
            SendError::ZeroInterval => f.write_str("telephone-event update interval is zero"),
            SendError::ZeroDuration => f.write_str("telephone-event duration is zero"),
            SendError::VolumeOutOfRange { volume } => {
                write!(f, "telephone-event volume {volume} above 63")
            }
        }
    }
}

impl std::error::Error for SendError {}

/// What to send, all times in RTP timestamp units of the event's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendConfig {
    /// Event code (a [`crate::Digit::event_code`] for DTMF).
    pub event: u8,
    /// `-volume` dBm0, 0..=63.
    pub volume: u8,
    /// RTP timestamp of the event's start.
    pub start_timestamp: u32,
    /// Total duration of the event.
    pub duration: u32,
    /// Time between updates.
    pub interval: u32,
    /// Time between the three end reports; zero sends them back to back.
    pub end_spacing: u32,
}

impl SendConfig {
    /// A config from milliseconds at `clock_rate` Hz (8000 for PCMU/PCMA,
    /// 48000 for Opus): `interval_ms` between updates (RFC 4733 suggests
    /// 50 ms), end reports 20 ms apart.
    pub fn from_millis(
        event: u8,
        volume: u8,
        start_timestamp: u32,
        clock_rate: u32,
        duration_ms: u32,
        interval_ms: u32,
    ) -> Result<SendConfig, SendError> {
        if clock_rate == 0 {
            return Err(SendError::ZeroClockRate);
        }
        Ok(SendConfig {
            event,
            volume,
            start_timestamp,
            duration: ms_to_units(duration_ms, clock_rate),
            interval: ms_to_units(interval_ms, clock_rate),
            end_spacing: ms_to_units(20, clock_rate),
        })
    }
}

fn ms_to_units(ms: u32, clock_rate: u32) -> u32 {
    let units = u64::from(ms) * u64::from(clock_rate) / 1000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// One packet to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// RTP marker bit: set on the first packet of the event only.
    pub marker: bool,
    /// RTP timestamp: the start of the event's current segment.
    pub timestamp: u32,
    /// The telephone-event payload.
    pub payload: EventPayload,
    /// When to send, in timestamp units after the event's start.
    pub send_offset: u64,
}

/// The packet sequence for one event; see the module docs.
#[derive(Debug, Clone)]
pub struct EventSender {
    cfg: SendConfig,
    /// Time covered by reports so far, from the event's start.
    elapsed: u64,
    /// Start of the current segment, from the event's start.
    segment_start: u64,
    first: bool,
    end_reports_sent: u8,
}

impl EventSender {
    /// A sender for one event.
    pub fn new(cfg: SendConfig) -> Result<EventSender, SendError> {
        if cfg.interval == 0 {
            return Err(SendError::ZeroInterval);
        }
        if cfg.duration == 0 {
            return Err(SendError::ZeroDuration);
        }
        if cfg.volume > MAX_VOLUME {
            return Err(SendError::VolumeOutOfRange { volume: cfg.volume });
        }
        Ok(EventSender {
            cfg,
            elapsed: 0,
            segment_start: 0,
            first: true,
            end_reports_sent: 0,
        })
    }

    /// The config this sender runs.
    pub fn config(&self) -> &SendConfig {
        &self.cfg
    }

    /// True once every packet, end reports included, has been yielded.
    pub fn is_done(&self) -> bool {
        self.end_reports_sent >= END_REPORTS
    }

    fn packet(&self, end: bool, send_offset: u64) -> EventPacket {
        let seg_duration = self.elapsed - self.segment_start;
        // The segment boundary logic keeps this at or below 0xFFFF.
        let duration = u16::try_from(seg_duration).unwrap_or(u16::MAX);
        EventPacket {
            marker: false,
            timestamp: self
                .cfg
                .start_timestamp
                // RTP timestamps wrap: truncation is the intended modulo 2^32.
                .wrapping_add(self.segment_start as u32),
            payload: EventPayload {
                event: self.cfg.event,
                end,
                volume: self.cfg.volume,
                duration,
            },
            send_offset,
        }
    }
}

impl Iterator for EventSender {
    type Item = EventPacket;

    fn next(&mut self) -> Option<EventPacket> {
        let total = u64::from(self.cfg.duration);
        let interval = u64::from(self.cfg.interval);
        if self.elapsed >= total {
            // Retransmissions of the end report.
            if self.is_done() {
                return None;
            }
            let offset = total + u64::from(self.end_reports_sent) * u64::from(self.cfg.end_spacing);
            self.end_reports_sent += 1;
            return Some(self.packet(true, offset));
        }
        // A segment that closed at 0xFFFF with more to come: move on.
        if self.elapsed - self.segment_start >= u64::from(MAX_SEGMENT_DURATION) {
            self.segment_start = self.elapsed;
        }
        let next_tick = (self.elapsed / interval + 1) * interval;
        let segment_end = self.segment_start + u64::from(MAX_SEGMENT_DURATION);
        self.elapsed = next_tick.min(segment_end).min(total);
        let end = self.elapsed >= total;
        if end {
            self.end_reports_sent = 1;
        }
        let mut p = self.packet(end, self.elapsed);
        p.marker = self.first;
        self.first = false;
        Some(p)
    }
}

/// Rescale a duration or timestamp difference from one clock rate to
/// another, rounding to nearest: 160 at 8000 Hz is 960 at 48000 Hz.
pub fn rescale(units: u64, from_rate: u32, to_rate: u32) -> u64 {
    if from_rate == 0 {
        return 0;
    }
    let from = u128::from(from_rate);
    let scaled = (u128::from(units) * u128::from(to_rate) + from / 2) / from;
    u64::try_from(scaled).unwrap_or(u64::MAX)
}

/// Map an RTP timestamp from one leg to the other: `ts` is taken relative
/// to `from_base` (wrapping), rescaled, and added to `to_base` (wrapping).
/// `from_base`/`to_base` are a pair of timestamps the caller knows to be
/// the same instant on both legs. Differences are read as unsigned, so
/// `ts` must not be before `from_base` by more than it wraps.
pub fn rescale_timestamp(
    ts: u32,
    from_base: u32,
    to_base: u32,
    from_rate: u32,
    to_rate: u32,
) -> u32 {
    let delta = u64::from(ts.wrapping_sub(from_base));
    to_base.wrapping_add(rescale(delta, from_rate, to_rate) as u32)
}

/// Rescale an event's duration field; `None` when the result does not fit
/// in 16 bits (e.g. more than 10922 units at 8 kHz going to 48 kHz). The
/// caller then has to segment the event anew, which [`EventSender`] does.
pub fn rescale_duration(duration: u16, from_rate: u32, to_rate: u32) -> Option<u16> {
    u16::try_from(rescale(u64::from(duration), from_rate, to_rate)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Digit;
    use proptest::prelude::*;

    fn sequence(cfg: SendConfig) -> Vec<EventPacket> {
        EventSender::new(cfg).expect("valid config").collect()
    }

    fn summary(p: &[EventPacket]) -> Vec<(bool, u32, bool, u16, u64)> {
        p.iter()
            .map(|p| {
                (
                    p.marker,
                    p.timestamp,
                    p.payload.end,
                    p.payload.duration,
                    p.send_offset,
                )
            })
            .collect()
    }

    #[test]
    fn digit_200ms_at_8khz_50ms_updates() {
        let cfg = SendConfig::from_millis(Digit::D5.event_code(), 10, 1000, 8000, 200, 50)
            .expect("valid");
        let p = sequence(cfg);
        assert_eq!(
            summary(&p),
            vec![
                (true, 1000, false, 400, 400),
                (false, 1000, false, 800, 800),
                (false, 1000, false, 1200, 1200),
                (false, 1000, true, 1600, 1600),
                (false, 1000, true, 1600, 1760),
                (false, 1000, true, 1600, 1920),
            ]
        );
        assert!(p
            .iter()
            .all(|p| p.payload.event == 5 && p.payload.volume == 10));
    }

    #[test]
    fn digit_200ms_at_48khz_50ms_updates() {
        let cfg =
            SendConfig::from_millis(Digit::Pound.event_code(), 7, 0xffff_f000, 48000, 200, 50)
                .expect("valid");
        let p = sequence(cfg);
        assert_eq!(
            summary(&p),
            vec![
                (true, 0xffff_f000, false, 2400, 2400),
                (false, 0xffff_f000, false, 4800, 4800),
                (false, 0xffff_f000, false, 7200, 7200),
                (false, 0xffff_f000, true, 9600, 9600),
                (false, 0xffff_f000, true, 9600, 10560),
                (false, 0xffff_f000, true, 9600, 11520),
            ]
        );
    }

    #[test]
    fn duration_not_a_multiple_of_interval() {
        // 130 ms at 8 kHz with 20 ms updates: the last update is short.
        let cfg = SendConfig::from_millis(1, 10, 0, 8000, 130, 20).expect("valid");
        let d: Vec<_> = sequence(cfg).iter().map(|p| p.payload.duration).collect();
        assert_eq!(d, vec![160, 320, 480, 640, 800, 960, 1040, 1040, 1040]);
    }

    #[test]
    fn long_event_at_48khz_is_segmented() {
        // 3 s at 48 kHz = 144000 units = 0xFFFF + 0xFFFF + 12930.
        let cfg = SendConfig::from_millis(0, 10, 100, 48000, 3000, 50).expect("valid");
        let p = sequence(cfg);
        assert_eq!(p.iter().filter(|p| p.marker).count(), 1);
        assert!(p[0].marker);
        let ts: Vec<u32> = p.iter().map(|p| p.timestamp).collect();
        let mut distinct = ts.clone();
        distinct.dedup();
        assert_eq!(distinct, vec![100, 100 + 0xffff, 100 + 2 * 0xffff]);
        // Each segment but the last closes at exactly 0xFFFF without E.
        for seg in [100, 100 + 0xffff] {
            let last = p.iter().rfind(|p| p.timestamp == seg).expect("segment");
            assert_eq!(last.payload.duration, 0xffff);
            assert!(!last.payload.end);
        }
        let ends: Vec<_> = p.iter().filter(|p| p.payload.end).collect();
        assert_eq!(ends.len(), 3);
        assert!(ends.iter().all(|e| e.timestamp == 100 + 2 * 0xffff
            && u32::from(e.payload.duration) == 144_000 - 2 * 0xffff));
        // Durations grow within each segment and offsets never go back.
        assert!(p.windows(2).all(|w| w[0].send_offset <= w[1].send_offset));
        assert!(p
            .windows(2)
            .all(|w| w[0].timestamp != w[1].timestamp
                || w[0].payload.duration <= w[1].payload.duration));
    }

    #[test]
    fn rejects_misuse() {
        let ok = SendConfig::from_millis(1, 10, 0, 8000, 100, 50).expect("valid");
        assert_eq!(
            SendConfig::from_millis(1, 10, 0, 0, 100, 50),
            Err(SendError::ZeroClockRate)
        );
        assert_eq!(
            EventSender::new(SendConfig { interval: 0, ..ok }).err(),
            Some(SendError::ZeroInterval)
        );
        assert_eq!(
            EventSender::new(SendConfig { duration: 0, ..ok }).err(),
            Some(SendError::ZeroDuration)
        );
        assert_eq!(
            EventSender::new(SendConfig { volume: 64, ..ok }).err(),
            Some(SendError::VolumeOutOfRange { volume: 64 })
        );
    }

    #[test]
    fn rescaling_between_8k_and_48k() {
        assert_eq!(rescale(160, 8000, 48000), 960);
        assert_eq!(rescale(960, 48000, 8000), 160);
        assert_eq!(rescale(7, 48000, 8000), 1); // 1.17 rounds to 1
        assert_eq!(rescale_duration(1600, 8000, 48000), Some(9600));
        assert_eq!(rescale_duration(10922, 8000, 48000), Some(65532));
        assert_eq!(rescale_duration(10923, 8000, 48000), None);
        assert_eq!(rescale_duration(0xffff, 48000, 8000), Some(10923));
        // Across a wrap on both legs.
        assert_eq!(
            rescale_timestamp(0x10, 0xffff_fff0, 0xffff_ff00, 8000, 48000),
            0xffff_ff00u32.wrapping_add(32 * 6)
        );
    }

    proptest! {
        #[test]
        fn sequence_invariants(duration in 1u32..400_000, interval in 1u32..3000, spacing in 0u32..500, ts: u32) {
            let cfg = SendConfig { event: 3, volume: 12, start_timestamp: ts, duration, interval, end_spacing: spacing };
            let p = sequence(cfg);
            prop_assert!(p[0].marker);
            prop_assert_eq!(p.iter().filter(|p| p.marker).count(), 1);
            let ends: Vec<_> = p.iter().filter(|p| p.payload.end).collect();
            prop_assert_eq!(ends.len(), 3);
            prop_assert!(p[p.len() - 3..].iter().all(|p| p.payload.end));
            // Segment timestamps plus the final duration add up to the total.
            let last = p[p.len() - 1];
            let covered = u64::from(last.timestamp.wrapping_sub(ts)) + u64::from(last.payload.duration);
            prop_assert_eq!(covered, u64::from(duration));
            prop_assert!(p.windows(2).all(|w| w[0].send_offset <= w[1].send_offset));
        }

        #[test]
        fn rescale_round_trips_8k_48k(units in 0u64..1 << 40) {
            prop_assert_eq!(rescale(rescale(units, 8000, 48000), 48000, 8000), units);
        }
    }
}

//! Telephone-event packets in, digit start/end events out.
//!
//! [`EventReceiver`] follows the str0m shape: [`EventReceiver::handle_packet`]
//! takes one packet's RTP timestamp, marker bit and payload and returns
//! either `Ok(())` or a `Copy` [`DropReason`] for the caller's counters;
//! [`EventReceiver::poll_event`] then yields what the packet produced.
//!
//! What it tolerates (RFC 4733 §2.5.2):
//! - the end report retransmitted (it is reported once);
//! - the start packet (marker) lost: any report with a new timestamp starts
//!   an event, and an end report alone yields both start and end;
//! - reordering within an event: durations only grow, and updates arriving
//!   after the end are ignored;
//! - all end reports lost: the next event, or
//!   [`EventReceiver::handle_idle`], closes the event with
//!   `complete: false`;
//! - long events split into 0xFFFF segments (§2.5.1.3): a report with the
//!   same code at the old timestamp plus 0xFFFF continues the event.
//!
//! A duration above the configured limit (10 s by default) is refused with
//! [`DropReason::AbsurdDuration`]; a started event is then closed with
//! `complete: false` and its later packets are dropped.

use core::fmt;

use crate::digit::Digit;
use crate::event::{EventError, EventView};
use crate::sender::MAX_SEGMENT_DURATION;

/// Why a packet was dropped. `Copy`, for counters; no formatting needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// Malformed input: payload shorter than 4 bytes.
    Truncated,
    /// Peer misbehaved: duration above the configured limit.
    AbsurdDuration,
    /// Peer misbehaved: a different event code at the current timestamp.
    EventChanged,
    /// A report older than the current event that is not a retransmission
    /// of the previous event (reordered across events, or a stray).
    Stale,
    /// A later report of an event already refused as absurd.
    RefusedEvent,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DropReason::Truncated => "telephone-event payload truncated",
            DropReason::AbsurdDuration => "telephone-event duration above limit",
            DropReason::EventChanged => "telephone-event code changed within an event",
            DropReason::Stale => "telephone-event report older than the current event",
            DropReason::RefusedEvent => "telephone-event report of a refused event",
        })
    }
}

impl std::error::Error for DropReason {}

impl From<EventError> for DropReason {
    fn from(_: EventError) -> Self {
        DropReason::Truncated
    }
}

/// Receiver settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// RTP clock rate of the telephone-event payload type.
    pub clock_rate: u32,
    /// Longest believable event, in milliseconds.
    pub max_duration_ms: u32,
}

impl ReceiverConfig {
    /// `clock_rate` with the default 10 s limit.
    pub fn new(clock_rate: u32) -> ReceiverConfig {
        ReceiverConfig {
            clock_rate,
            max_duration_ms: 10_000,
        }
    }
}

/// A digit edge reported by the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceivedEvent {
    /// An event began.
    Start {
        /// Event code; see [`ReceivedEvent::digit`].
        event: u8,
        /// RTP timestamp of the event (of its first segment).
        timestamp: u32,
        /// `-volume` dBm0.
        volume: u8,
    },
    /// An event ended.
    End {
        /// Event code.
        event: u8,
        /// RTP timestamp of the event (of its first segment).
        timestamp: u32,
        /// Total duration over all segments, in timestamp units.
        duration: u64,
        /// `-volume` dBm0 of the last report.
        volume: u8,
        /// True when an end report (E bit) was seen; false when the end
        /// was inferred (next event, idle, or refused as absurd).
        complete: bool,
    },
}

impl ReceivedEvent {
    /// The DTMF digit, `None` for non-DTMF codes.
    pub fn digit(&self) -> Option<Digit> {
        match self {
            ReceivedEvent::Start { event, .. } | ReceivedEvent::End { event, .. } => {
                Digit::from_event_code(*event)
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Active {
    event: u8,
    /// Timestamp of the first segment.
    first_timestamp: u32,
    /// Timestamp of the current segment.
    timestamp: u32,
    /// Sum of the durations of completed segments.
    earlier_segments: u64,
    /// Largest duration seen in the current segment.
    duration: u16,
    volume: u8,
    /// The end was reported (or the event refused): later reports at this
    /// timestamp are duplicates.
    closed: bool,
    refused: bool,
}

impl Active {
    fn total(&self) -> u64 {
        self.earlier_segments + u64::from(self.duration)
    }
}

/// Whether `ts` lies in `first..=last`, in wrapping RTP timestamp order.
fn in_event(ts: u32, first: u32, last: u32) -> bool {
    ts.wrapping_sub(first) <= last.wrapping_sub(first)
}

const QUEUE_LEN: usize = 4;

/// The receiver state machine; see the module docs.
#[derive(Debug, Clone)]
pub struct EventReceiver {
    max_duration: u64,
    active: Option<Active>,
    /// (first timestamp, last segment timestamp, code) of the event before
    /// `active`, to recognise its late retransmissions.
    previous: Option<(u32, u32, u8)>,
    queue: [Option<ReceivedEvent>; QUEUE_LEN],
    head: usize,
    len: usize,
    overflowed: u64,
}

impl EventReceiver {
    /// A receiver with no event in progress.
    pub fn new(cfg: ReceiverConfig) -> EventReceiver {
        EventReceiver {
            max_duration: u64::from(cfg.max_duration_ms) * u64::from(cfg.clock_rate) / 1000,
            active: None,
            previous: None,
            queue: [None; QUEUE_LEN],
            head: 0,
            len: 0,
            overflowed: 0,
        }
    }

    /// Events lost because [`Self::poll_event`] was not called between
    /// packets (one packet yields at most three).
    pub fn overflowed(&self) -> u64 {
        self.overflowed
    }

    /// The next reported edge, oldest first.
    pub fn poll_event(&mut self) -> Option<ReceivedEvent> {
        if self.len == 0 {
            return None;
        }
        let ev = self.queue[self.head].take();
        self.head = (self.head + 1) % QUEUE_LEN;
        self.len -= 1;
        ev
    }

    fn push(&mut self, ev: ReceivedEvent) {
        if self.len == QUEUE_LEN {
            // Drop the oldest: the caller stopped polling.
            self.head = (self.head + 1) % QUEUE_LEN;
            self.len -= 1;
            self.overflowed += 1;
        }
        self.queue[(self.head + self.len) % QUEUE_LEN] = Some(ev);
        self.len += 1;
    }

    fn end_of(a: &Active, complete: bool) -> ReceivedEvent {
        ReceivedEvent::End {
            event: a.event,
            timestamp: a.first_timestamp,
            duration: a.total(),
            volume: a.volume,
            complete,
        }
    }

    /// The stream went quiet (the caller decides how long is too long, e.g.
    /// no report for a few update intervals): close an open event with
    /// `complete: false`.
    pub fn handle_idle(&mut self) {
        if let Some(a) = self.active.as_mut() {
            if !a.closed {
                a.closed = true;
                let ev = Self::end_of(a, false);
                self.push(ev);
            }
        }
    }

    /// Feed one telephone-event packet: its RTP timestamp, marker bit and
    /// payload. The marker bit is not needed to start an event (the start
    /// packet may be lost); it is accepted for the caller's convenience.
    pub fn handle_packet(
        &mut self,
        timestamp: u32,
        _marker: bool,
        payload: &[u8],
    ) -> Result<(), DropReason> {
        let view = EventView::parse(payload)?;
        let (event, end, volume, duration) =
            (view.event(), view.end(), view.volume(), view.duration());

        if let Some(a) = self.active.as_mut() {
            let delta = timestamp.wrapping_sub(a.timestamp) as i32;
            if delta == 0 {
                return self.update_current(event, end, volume, duration);
            }
            if delta < 0 {
                // A late report of an earlier segment of this event or of
                // the previous event: a retransmission, silently ignored.
                let late = in_event(timestamp, a.first_timestamp, a.timestamp) && a.event == event
                    || self.previous.is_some_and(|(first, last, code)| {
                        code == event && in_event(timestamp, first, last)
                    });
                return if late { Ok(()) } else { Err(DropReason::Stale) };
            }
            let next_segment = a.timestamp.wrapping_add(MAX_SEGMENT_DURATION);
            if timestamp == next_segment && a.event == event && a.refused {
                // The next segment of a refused event stays refused.
                a.timestamp = timestamp;
                return Err(DropReason::RefusedEvent);
            }
            if timestamp == next_segment && a.event == event && !a.closed {
                a.earlier_segments += u64::from(MAX_SEGMENT_DURATION);
                a.timestamp = timestamp;
                a.duration = 0;
                return self.update_current(event, end, volume, duration);
            }
            if !a.closed {
                a.closed = true;
                let ev = Self::end_of(a, false);
                self.push(ev);
            }
        }
        self.start(timestamp, event, end, volume, duration)
    }

    fn start(
        &mut self,
        timestamp: u32,
        event: u8,
        end: bool,
        volume: u8,
        duration: u16,
    ) -> Result<(), DropReason> {
        if let Some(old) = self.active {
            self.previous = Some((old.first_timestamp, old.timestamp, old.event));
        }
        let mut a = Active {
            event,
            first_timestamp: timestamp,
            timestamp,
            earlier_segments: 0,
            duration,
            volume,
            closed: false,
            refused: false,
        };
        if u64::from(duration) > self.max_duration {
            a.closed = true;
            a.refused = true;
            self.active = Some(a);
            return Err(DropReason::AbsurdDuration);
        }
        self.push(ReceivedEvent::Start {
            event,
            timestamp,
            volume,
        });
        if end {
            a.closed = true;
            self.push(Self::end_of(&a, true));
        }
        self.active = Some(a);
        Ok(())
    }

    fn update_current(
        &mut self,
        event: u8,
        end: bool,
        volume: u8,
        duration: u16,
    ) -> Result<(), DropReason> {
        let max = self.max_duration;
        let Some(a) = self.active.as_mut() else {
            return Ok(());
        };
        if a.refused {
            return Err(DropReason::RefusedEvent);
        }
        if a.event != event {
            return Err(DropReason::EventChanged);
        }
        if a.closed {
            // Retransmitted end, or an update reordered after the end.
            return Ok(());
        }
        a.duration = a.duration.max(duration);
        a.volume = volume;
        if a.total() > max {
            a.closed = true;
            a.refused = true;
            let ev = Self::end_of(a, false);
            self.push(ev);
            return Err(DropReason::AbsurdDuration);
        }
        if end {
            a.closed = true;
            let ev = Self::end_of(a, true);
            self.push(ev);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sender::{EventPacket, EventSender, SendConfig};
    use proptest::prelude::*;

    fn packets(event: u8, start: u32, rate: u32, ms: u32) -> Vec<EventPacket> {
        let cfg = SendConfig::from_millis(event, 10, start, rate, ms, 50).expect("valid");
        EventSender::new(cfg).expect("valid").collect()
    }

    fn feed(rx: &mut EventReceiver, p: &[EventPacket]) -> (Vec<ReceivedEvent>, Vec<DropReason>) {
        let (mut evs, mut drops) = (Vec::new(), Vec::new());
        for p in p {
            let bytes = p.payload.to_bytes().expect("volume in range");
            if let Err(e) = rx.handle_packet(p.timestamp, p.marker, &bytes) {
                drops.push(e);
            }
            while let Some(ev) = rx.poll_event() {
                evs.push(ev);
            }
        }
        (evs, drops)
    }

    fn start(event: u8, timestamp: u32) -> ReceivedEvent {
        ReceivedEvent::Start {
            event,
            timestamp,
            volume: 10,
        }
    }

    fn end(event: u8, timestamp: u32, duration: u64, complete: bool) -> ReceivedEvent {
        ReceivedEvent::End {
            event,
            timestamp,
            duration,
            volume: 10,
            complete,
        }
    }

    #[test]
    fn clean_sequence_with_triple_end_reports_once() {
        let mut rx = EventReceiver::new(ReceiverConfig::new(8000));
        let (evs, drops) = feed(&mut rx, &packets(5, 1000, 8000, 200));
        assert_eq!(evs, vec![start(5, 1000), end(5, 1000, 1600, true)]);
        assert!(drops.is_empty());
        assert_eq!(evs[0].digit(), Some(Digit::D5));
    }

    #[test]
    fn duplicated_end_packets_and_lost_start() {
        let p = packets(11, 0, 8000, 200);
        // Lose the marker packet, duplicate every end report.
        let mut stream: Vec<_> = p[1..].to_vec();
        stream.extend_from_slice(&p[3..]);
        let mut rx = EventReceiver::new(ReceiverConfig::new(8000));
        let (evs, drops) = feed(&mut rx, &stream);
        assert_eq!(evs, vec![start(11, 0), end(11, 0, 1600, true)]);
        assert!(drops.is_empty());
    }

    #[test]
    fn only_an_end_report_arrives() {
        let p = packets(2, 77, 48000, 200);
        let mut rx = EventReceiver::new(ReceiverConfig::new(48000));
        let (evs, _) = feed(&mut rx, &p[5..]);
        assert_eq!(evs, vec![start(2, 77), end(2, 77, 9600, true)]);
    }

    #[test]
    fn reordered_within_event() {
        let p = packets(1, 500, 8000, 200);
        // End first, then the updates and the marker packet.
        let stream = [p[3], p[2], p[0], p[1], p[4], p[5]];
        let mut rx = EventReceiver::new(ReceiverConfig::new(8000));
        let (evs, drops) = feed(&mut rx, &stream);
        assert_eq!(evs, vec![start(1, 500), end(1, 500, 1600, true)]);
        assert!(drops.is_empty());
    }

    #[test]
    fn lost_end_reports_closed_by_next_event_and_late_retransmission_ignored() {
        let a = packets(1, 0, 8000, 200);
        let b = packets(2, 2400, 8000, 100);
        let mut stream: Vec<_> = a[..3].to_vec(); // no end reports
        stream.extend_from_slice(&b);
        stream.push(a[5]); // a late end of the first event
        let mut rx = EventReceiver::new(ReceiverConfig::new(8000));
        let (evs, drops) = feed(&mut rx, &stream);
        assert_eq!(
            evs,
            vec![
                start(1, 0),
                end(1, 0, 1200, false),
                start(2, 2400),
                end(2, 2400, 800, true),
            ]
        );
        assert!(drops.is_empty());
        // Something older than both events is stale.
        let stray = [1, 0x8a, 0, 160];
        assert_eq!(
            rx.handle_packet(0u32.wrapping_sub(5000), false, &stray),
            Err(DropReason::Stale)
        );
    }

    #[test]
    fn idle_closes_an_open_event() {
        let p = packets(9, 0, 8000, 200);
        let mut rx = EventReceiver::new(ReceiverConfig::new(8000));
        let (evs, _) = feed(&mut rx, &p[..2]);
        assert_eq!(evs, vec![start(9, 0)]);
        rx.handle_idle();
        rx.handle_idle();
        assert_eq!(rx.poll_event(), Some(end(9, 0, 800, false)));
        assert_eq!(rx.poll_event(), None);
    }

    #[test]
    fn long_segmented_event_is_one_digit() {
        let p = packets(0, 0xffff_0000, 48000, 3000);
        let mut rx = EventReceiver::new(ReceiverConfig::new(48000));
        let (evs, drops) = feed(&mut rx, &p);
        assert_eq!(
            evs,
            vec![start(0, 0xffff_0000), end(0, 0xffff_0000, 144_000, true)]
        );
        assert!(drops.is_empty());
    }

    #[test]
    fn absurd_durations_are_refused_and_counted() {
        // 12 s at 48 kHz, default 10 s limit: refused once the total passes.
        let p = packets(4, 0, 48000, 12_000);
        let mut rx = EventReceiver::new(ReceiverConfig::new(48000));
        let (evs, drops) = feed(&mut rx, &p);
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0], start(4, 0));
        match evs[1] {
            ReceivedEvent::End {
                complete, duration, ..
            } => {
                assert!(!complete);
                assert!(duration > 480_000);
            }
            other => panic!("expected an inferred end, got {other:?}"),
        }
        assert_eq!(drops[0], DropReason::AbsurdDuration);
        assert!(drops[1..].iter().all(|d| *d == DropReason::RefusedEvent));

        // A first report already beyond a 1 s limit: no start at all.
        let cfg = ReceiverConfig {
            clock_rate: 8000,
            max_duration_ms: 1000,
        };
        let mut rx = EventReceiver::new(cfg);
        assert_eq!(
            rx.handle_packet(0, true, &[3, 0x8a, 0x27, 0x10]),
            Err(DropReason::AbsurdDuration)
        );
        assert_eq!(rx.poll_event(), None);
        assert_eq!(
            rx.handle_packet(0, false, &[3, 0x8a, 0x27, 0x10]),
            Err(DropReason::RefusedEvent)
        );
        // The next event is fine.
        assert_eq!(rx.handle_packet(16000, true, &[3, 0x0a, 0, 160]), Ok(()));
        assert_eq!(rx.poll_event(), Some(start(3, 16000)));
    }

    #[test]
    fn malformed_and_changed_code() {
        let mut rx = EventReceiver::new(ReceiverConfig::new(8000));
        assert_eq!(
            rx.handle_packet(0, true, &[1, 2]),
            Err(DropReason::Truncated)
        );
        assert_eq!(rx.handle_packet(0, true, &[1, 10, 0, 160]), Ok(()));
        assert_eq!(
            rx.handle_packet(0, false, &[2, 10, 1, 64]),
            Err(DropReason::EventChanged)
        );
    }

    proptest! {
        /// Random loss, duplication and local reordering of two digits:
        /// never more than one start and one end per digit, start first,
        /// and the exact duration whenever an end report got through.
        #[test]
        fn loss_duplication_reordering(
            keep in proptest::collection::vec(0u8..4, 12),
            swaps in proptest::collection::vec(0usize..12, 0..4),
        ) {
            let mut all = packets(7, 100, 8000, 200);
            all.extend(packets(8, 100 + 3200, 8000, 200));
            let mut stream = Vec::new();
            for (p, k) in all.iter().zip(keep.iter()) {
                // 0: lost, 1: once, 2-3: duplicated.
                for _ in 0..(*k).min(2) { stream.push(*p); }
            }
            for s in swaps {
                if s + 1 < stream.len() && stream[s].timestamp == stream[s + 1].timestamp {
                    stream.swap(s, s + 1);
                }
            }
            let mut rx = EventReceiver::new(ReceiverConfig::new(8000));
            let (mut evs, drops) = feed(&mut rx, &stream);
            rx.handle_idle();
            while let Some(ev) = rx.poll_event() { evs.push(ev); }
            prop_assert!(drops.is_empty(), "{:?}", drops);
            for (code, ts, sent) in [(7u8, 100u32, &all[..6]), (8, 3300, &all[6..])] {
                let seen: Vec<_> = evs.iter().filter(|e| e.digit().map(|d| d.event_code()) == Some(code)).collect();
                let any_kept = sent.iter().zip(&keep[if code == 7 { 0 } else { 6 }..]).any(|(_, k)| *k > 0);
                if !any_kept { prop_assert!(seen.is_empty()); continue; }
                prop_assert_eq!(seen.len(), 2);
                prop_assert_eq!(*seen[0], start(code, ts));
                let end_kept = keep[if code == 7 { 3 } else { 9 }..][..3].iter().any(|k| *k > 0);
                match *seen[1] {
                    ReceivedEvent::End { duration, complete, .. } => {
                        prop_assert_eq!(complete, end_kept);
                        if end_kept { prop_assert_eq!(duration, 1600); }
                    }
                    other => prop_assert!(false, "expected end, got {:?}", other),
                }
            }
        }
    }
}

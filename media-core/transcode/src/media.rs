//! [`MediaTranscoder`]: both directions of one media section, their
//! output streams and RTCP.

use std::time::{Duration, Instant, SystemTime};

use sluice_rtp::{classify, PacketKind, RtpView};

use crate::error::{DropCause, DtmfError, TranscodeError};
use crate::plan::MediaPlan;
use crate::rtcp::{self, ReceiveStats, SenderInfo};
use crate::settings::Settings;
use crate::sink::Sink;
use crate::stats::DirectionStats;
use crate::stream::{self, Ctx, Direction};
use crate::translator::OutStream;

/// A small deterministic generator (SplitMix64) for SSRCs, first sequence
/// numbers and timestamps: the caller seeds it, the core never draws
/// randomness itself.
#[derive(Debug, Clone)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Both directions of one transcoded media section; see the crate docs.
#[derive(Debug)]
pub struct MediaTranscoder {
    settings: Settings,
    directions: [Option<Direction>; 2],
    /// Output stream toward leg i.
    out: [OutStream; 2],
    /// Statistics of the stream received from leg i.
    recv: [ReceiveStats; 2],
    stats: [DirectionStats; 2],
    epoch: Instant,
    wall: SystemTime,
    next_rtcp: [Instant; 2],
    rtcp_buf: Box<[u8]>,
}

impl MediaTranscoder {
    /// A transcoder for `plan`; `seed` drives SSRCs, first sequence
    /// numbers and timestamps; `now` and `wall` are the same instant on
    /// the monotonic and the wall clock (for RTCP NTP times).
    pub fn new(
        plan: &MediaPlan,
        settings: &Settings,
        seed: u64,
        now: Instant,
        wall: SystemTime,
    ) -> Result<Self, TranscodeError> {
        let directions = Self::build(plan, settings, now)?;
        let mut rng = SplitMix(seed);
        let mut out_stream = |to: usize| {
            let r = rng.next();
            let clock = plan.directions[1 - to]
                .as_ref()
                .map_or(8000, |d| d.output.codec.clock_rate());
            OutStream::new((r >> 32) as u32, (r >> 16) as u16, rng.next() as u32, clock)
        };
        let out = [out_stream(0), out_stream(1)];
        let half = settings.rtcp_interval / 2;
        Ok(Self {
            settings: settings.clone(),
            directions,
            out,
            recv: Default::default(),
            stats: Default::default(),
            epoch: now,
            wall,
            next_rtcp: [now + half, now + half + Duration::from_millis(seed % 97)],
            rtcp_buf: vec![0u8; 512].into_boxed_slice(),
        })
    }

    fn build(
        plan: &MediaPlan,
        settings: &Settings,
        now: Instant,
    ) -> Result<[Option<Direction>; 2], TranscodeError> {
        for (i, d) in plan.directions.iter().enumerate() {
            if let Some(d) = d {
                stream::validate(d, i)?;
            }
        }
        let mut dirs: [Option<Direction>; 2] = [None, None];
        for (i, d) in plan.directions.iter().enumerate() {
            if let Some(d) = d {
                dirs[i] = Some(Direction::new(d, i, settings, now)?);
            }
        }
        Ok(dirs)
    }

    /// re-INVITE: a new plan. Directions whose plan did not change keep
    /// all their state; changed ones are rebuilt. Every output stream
    /// keeps its SSRC, sequence numbers and timestamp continuity. On
    /// error nothing changed.
    pub fn update(&mut self, plan: &MediaPlan, now: Instant) -> Result<(), TranscodeError> {
        for (i, d) in plan.directions.iter().enumerate() {
            if let Some(d) = d {
                stream::validate(d, i)?;
            }
        }
        let mut fresh: [Option<Direction>; 2] = [None, None];
        for (i, d) in plan.directions.iter().enumerate() {
            match (d, &self.directions[i]) {
                (Some(d), Some(old)) if old.plan() == d => {}
                (Some(d), _) => fresh[i] = Some(Direction::new(d, i, &self.settings, now)?),
                (None, _) => {}
            }
        }
        for (i, d) in plan.directions.iter().enumerate() {
            match (d, fresh[i].take()) {
                (None, _) => self.directions[i] = None,
                (Some(_), None) => {}
                (Some(d), Some(mut new)) => {
                    if let Some(old) = &self.directions[i] {
                        new.inherit(old);
                    }
                    self.directions[i] = Some(new);
                    let out = &mut self.out[1 - i];
                    out.set_clock(d.output.codec.clock_rate());
                    out.reanchor();
                }
            }
        }
        Ok(())
    }

    /// An RTP packet from `from_leg` (plain, after SRTP unprotect).
    pub fn push_rtp(&mut self, from_leg: usize, packet: &[u8], now: Instant, sink: &mut impl Sink) {
        if from_leg > 1 {
            return;
        }
        self.stats[from_leg].received += 1;
        let Ok(view) = RtpView::parse(packet) else {
            self.stats[from_leg].drops.count(DropCause::Malformed);
            sink.dropped(from_leg, DropCause::Malformed);
            return;
        };
        let Some(dir) = self.directions[from_leg].as_mut() else {
            self.stats[from_leg].drops.count(DropCause::NoDirection);
            sink.dropped(from_leg, DropCause::NoDirection);
            return;
        };
        let pt = view.payload_type().0;
        if dir.input_clock(pt).is_some() {
            // Only audio timestamps say when the sender sampled: events
            // count for loss, not for jitter (nor the jitter buffer's
            // delay).
            let audio = dir.audio_clock(pt);
            let recv = &mut self.recv[from_leg];
            recv.update(
                view.ssrc().0,
                view.seq().0,
                view.timestamp(),
                audio,
                now,
                self.epoch,
            );
            self.stats[from_leg].jitter = recv.jitter();
            if let Some(clock) = audio {
                dir.adapt(recv.jitter(), clock);
            }
        }
        let mut ctx = Ctx {
            out: &mut self.out[1 - from_leg],
            stats: &mut self.stats[from_leg],
            sink,
            now,
        };
        dir.handle_rtp(&view, &mut ctx);
    }

    /// An RTCP compound packet from `from_leg`: consumed (its SSRCs name
    /// streams the other leg never sees); SR times kept for our reports.
    pub fn push_rtcp(
        &mut self,
        from_leg: usize,
        packet: &[u8],
        now: Instant,
        sink: &mut impl Sink,
    ) {
        if from_leg > 1 {
            return;
        }
        self.stats[from_leg].rtcp_received += 1;
        let ok = classify(packet) == PacketKind::Rtcp
            && rtcp::parse_compound(packet, &mut self.recv[from_leg], now);
        if !ok {
            self.stats[from_leg].drops.count(DropCause::RtcpMalformed);
            sink.dropped(from_leg, DropCause::RtcpMalformed);
        }
    }

    /// Runs the timers that are due: jitter-buffer give-ups (loss, then
    /// PLC or FEC), DTMF event packets, RTCP reports.
    pub fn poll(&mut self, now: Instant, sink: &mut impl Sink) {
        for i in 0..2 {
            if let Some(dir) = self.directions[i].as_mut() {
                let mut ctx = Ctx {
                    out: &mut self.out[1 - i],
                    stats: &mut self.stats[i],
                    sink,
                    now,
                };
                dir.poll(&mut ctx);
            }
        }
        if self.settings.generate_rtcp {
            for leg in 0..2 {
                if now >= self.next_rtcp[leg] {
                    self.send_report(leg, now, sink);
                    // Stay on the grid; skip missed slots after a long stall.
                    let interval = self.settings.rtcp_interval.max(Duration::from_millis(100));
                    while self.next_rtcp[leg] <= now {
                        self.next_rtcp[leg] += interval;
                    }
                }
            }
        }
    }

    fn send_report(&mut self, leg: usize, now: Instant, sink: &mut impl Sink) {
        // Nothing to say to a leg we neither send to nor receive from.
        if self.directions[1 - leg].is_none() && self.directions[leg].is_none() {
            return;
        }
        let out = &self.out[leg];
        let sender = (out.packets > 0).then(|| SenderInfo {
            ntp: rtcp::ntp(self.wall + now.saturating_duration_since(self.epoch)),
            rtp_ts: out.rtp_ts_at(now),
            packets: out.packets,
            octets: out.octets,
        });
        let n = rtcp::write_report(
            &mut self.rtcp_buf,
            out.ssrc(),
            sender,
            &mut self.recv[leg],
            self.settings.cname,
            now,
        );
        sink.rtcp(leg, &self.rtcp_buf[..n]);
        self.stats[leg].rtcp_sent += 1;
    }

    /// The earliest time [`poll`](Self::poll) has work.
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut d: Option<Instant> = None;
        let mut consider = |t: Instant| d = Some(d.map_or(t, |x| x.min(t)));
        for dir in self.directions.iter().flatten() {
            if let Some(t) = dir.next_deadline() {
                consider(t);
            }
        }
        if self.settings.generate_rtcp {
            for t in self.next_rtcp {
                consider(t);
            }
        }
        d
    }

    /// NG `play DTMF`: an event toward `to_leg` (code 0-15, 100..=5000 ms,
    /// volume as RFC 4733 -dBm0 0..=63) on its telephone-event payload
    /// type and clock, or as in-band tones when it has none. Audio toward
    /// the leg is muted meanwhile. The first packet is due at once:
    /// [`next_deadline`](Self::next_deadline) says `now` and the next
    /// [`poll`](Self::poll) sends it ([`play_dtmf_with`](Self::play_dtmf_with)
    /// sends it right away).
    pub fn play_dtmf(
        &mut self,
        to_leg: usize,
        code: u8,
        duration_ms: u32,
        volume: u8,
        now: Instant,
    ) -> Result<(), DtmfError> {
        let sink = &mut crate::sink::NullSink;
        self.start_event(to_leg, code, duration_ms, volume, now, sink, false)
    }

    /// [`play_dtmf`](Self::play_dtmf) sending the first packet to `sink`
    /// at once.
    pub fn play_dtmf_with(
        &mut self,
        to_leg: usize,
        code: u8,
        duration_ms: u32,
        volume: u8,
        now: Instant,
        sink: &mut impl Sink,
    ) -> Result<(), DtmfError> {
        self.start_event(to_leg, code, duration_ms, volume, now, sink, true)
    }

    /// Starts an injected event toward `to_leg`; with `send_now`, its
    /// first packet goes to `sink` at once.
    #[allow(
        clippy::too_many_arguments,
        reason = "play DTMF's arguments, the sink and one switch"
    )]
    fn start_event<S: Sink>(
        &mut self,
        to_leg: usize,
        code: u8,
        duration_ms: u32,
        volume: u8,
        now: Instant,
        sink: &mut S,
        send_now: bool,
    ) -> Result<(), DtmfError> {
        if to_leg > 1 {
            return Err(DtmfError::NoSuchLeg(to_leg));
        }
        let from = 1 - to_leg;
        let dir = self.directions[from]
            .as_mut()
            .ok_or(DtmfError::NoStream(to_leg))?;
        let mut ctx = Ctx {
            out: &mut self.out[to_leg],
            stats: &mut self.stats[from],
            sink,
            now,
        };
        dir.play(code, duration_ms, volume, &mut ctx)?;
        if send_now {
            dir.poll(&mut ctx);
        }
        Ok(())
    }

    /// NG block/unblock DTMF: events and in-band tones from `from_leg` no
    /// longer reach the other leg (events are dropped and counted as
    /// blocked; tones are not converted).
    pub fn set_dtmf_blocked(&mut self, from_leg: usize, blocked: bool) {
        if let Some(d) = self.directions.get_mut(from_leg).and_then(Option::as_mut) {
            d.set_blocked(blocked);
        }
    }

    /// Counters of the direction whose sender is `leg`, plus the RTCP we
    /// sent it.
    pub fn stats(&self, leg: usize) -> DirectionStats {
        self.stats.get(leg).copied().unwrap_or_default()
    }

    /// Our SSRC toward `to_leg`.
    pub fn ssrc(&self, to_leg: usize) -> u32 {
        self.out[to_leg.min(1)].ssrc()
    }
}

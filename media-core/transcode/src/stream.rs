//! One transcoded direction: the sender's packets through the jitter
//! buffer, decoded (or copied / translated code by code), DTMF handled,
//! repacketized and encoded for the receiver.
//!
//! Paths per packet, chosen after the jitter buffer:
//! - **copy**: the input codec is the output codec, the packet carries
//!   exactly the output ptime, nothing is queued and no DTMF work needs
//!   the audio: the payload goes out unchanged under our header.
//! - **translate**: PCMU <-> PCMA with the same ptime: code by code.
//! - **decode**: everything else: decode to PCM at the internal rate,
//!   the PCM FIFO, encode frames of the output ptime.
//!
//! Loss: a gap given up by the jitter buffer is concealed when the next
//! audio packet shows how much audio is missing (its timestamp), so
//! telephone-event or unknown payload-type packets in the gap conceal
//! nothing. With Opus input the last packet's worth of the gap is
//! recovered from the next packet's in-band FEC when that packet is the
//! one right after the loss. A timestamp jump with no loss (DTX, silence
//! suppression) is a new talkspurt: marker, no concealment.

use std::time::{Duration, Instant};

use sluice_codec::g711;
use sluice_codec::opus::OpusRate;
use sluice_dtmf::{
    Detector, DigitEdge, EventReceiver, EventView, ReceivedEvent, ReceiverConfig, ToneGenerator,
};

use crate::decode::Decoder;
use crate::dtmf::{self, Injection, LiveEvent, EVENT_IDLE};
use crate::encode::{Encoded, Encoder};
use crate::error::{DropCause, DtmfError, TranscodeError};
use crate::jitter::{JitterBuffer, Popped, Pushed, MAX_PAYLOAD};
use crate::packetizer::{Continuity, PcmFifo};
use crate::plan::{AudioCodec, DirectionPlan};
use crate::settings::Settings;
use crate::sink::{DigitReport, DigitSource, Sink};
use crate::stats::DirectionStats;
use crate::translator::{OutStream, TsUnwrap};

/// Payload type marking a jitter-buffer placeholder (an unknown payload
/// type already dropped: it only fills its sequence number).
const PLACEHOLDER: u8 = 0xff;
/// Longest gap concealed, ms; longer gaps are a new talkspurt.
const MAX_CONCEAL_MS: u64 = 120;
/// Output packet buffer: header plus the largest payload.
const OUT_BUF: usize = 12 + 4000;
/// An audio timestamp this far ahead of the last one (seconds) breaks
/// the input timeline (a sender that restarted its clock); behind it by
/// more than [`MAX_CONCEAL_MS`] does too.
const MAX_JUMP_S: u64 = 3;
/// How long after an audio packet's own span more audio is expected
/// before a sender's event tone is generated without it.
const AUDIO_SLACK: Duration = Duration::from_millis(30);

/// The shared per-call context a direction works in.
pub struct Ctx<'a, S: Sink> {
    /// The output stream toward the receiver.
    pub out: &'a mut OutStream,
    /// This direction's counters.
    pub stats: &'a mut DirectionStats,
    /// Where packets go.
    pub sink: &'a mut S,
    /// The current time.
    pub now: Instant,
}

#[derive(Debug, Clone, Copy)]
struct LastIn {
    /// Unwrapped input timestamp just after the last audio packet.
    end: u64,
    clock: u32,
}

/// One direction; see the module docs.
#[derive(Debug)]
pub struct Direction {
    plan: DirectionPlan,
    from: usize,
    rate: OpusRate,
    decoders: Vec<(u8, AudioCodec, Decoder)>,
    encoder: Encoder,
    /// Samples per output packet at the internal rate.
    frame: usize,
    /// Output clock units per output packet.
    frame_units: u64,
    fifo: PcmFifo,
    jitter: JitterBuffer,
    base_delay: Duration,
    max_delay: Duration,
    late_boost: Duration,
    unwrap: TsUnwrap,
    ssrc: Option<u32>,
    last_in: Option<LastIn>,
    lost_pending: u64,
    lost_just_before: bool,
    pcm: Box<[i16]>,
    payload: Box<[u8]>,
    buf: Box<[u8]>,
    blocked: bool,
    inband_level: f64,
    receiver: Option<EventReceiver>,
    last_event_at: Option<Instant>,
    /// The sender's current event (its RTP timestamp) and the output
    /// timestamp it was given: every packet of one event keeps it, even
    /// if the timeline is re-anchored mid-event (RFC 4733: a new
    /// timestamp is a new event).
    event_out_ts: Option<(u32, u64)>,
    /// In-band tone replacing the audio while the sender's event lasts.
    event_tone: Option<ToneGenerator>,
    detector: Option<Detector>,
    live: Option<LiveEvent>,
    /// Output timestamp of the detector's sample 0, renewed on every push
    /// (so a gap or re-anchor in the output timeline moves it).
    detector_ts: u64,
    /// Samples pushed into the detector since it was (re)made.
    detector_pos: u64,
    /// Until when the last audio packet (plus slack) covers the output.
    audio_until: Option<Instant>,
    /// Next tone frame due from [`poll`](Self::poll) while the sender's
    /// event lasts and no audio carries it, and its output timestamp.
    tone_due: Option<Instant>,
    tone_next_ts: Option<u64>,
    injection: Option<Injection>,
    /// `play DTMF` digits waiting for the one playing to end, in order.
    queued: DigitQueue,
}

/// Digits asked for while another plays (code, duration ms, volume): a
/// platform sending "1234#" as five SIP INFOs gets five events in a row.
#[derive(Debug, Default)]
struct DigitQueue {
    slots: [(u8, u32, u8); DIGIT_QUEUE],
    head: usize,
    len: usize,
}

/// Digits a direction holds beyond the one playing.
const DIGIT_QUEUE: usize = 16;

impl DigitQueue {
    fn push(&mut self, digit: (u8, u32, u8)) -> bool {
        if self.len == DIGIT_QUEUE {
            return false;
        }
        self.slots[(self.head + self.len) % DIGIT_QUEUE] = digit;
        self.len += 1;
        true
    }

    fn pop(&mut self) -> Option<(u8, u32, u8)> {
        if self.len == 0 {
            return None;
        }
        let digit = self.slots[self.head];
        self.head = (self.head + 1) % DIGIT_QUEUE;
        self.len -= 1;
        Some(digit)
    }
}

/// Validates one direction of a plan (also used by `update` before
/// anything changes).
pub fn validate(plan: &DirectionPlan, from: usize) -> Result<(), TranscodeError> {
    let ptime = plan.output.ptime_ms;
    if !(10..=120).contains(&ptime) || !ptime.is_multiple_of(10) {
        return Err(TranscodeError::Ptime(ptime));
    }
    if matches!(plan.output.codec, AudioCodec::Opus(_))
        && !matches!(ptime, 10 | 20 | 40 | 60 | 80 | 100 | 120)
    {
        return Err(TranscodeError::OpusPtime(ptime));
    }
    if plan.inputs.is_empty() {
        return Err(TranscodeError::NoInput(from));
    }
    let mut seen = [false; 128];
    let te = plan.input_dtmf.map(|d| d.payload_type);
    for pt in plan.inputs.iter().map(|i| i.payload_type).chain(te) {
        if pt > 127 || std::mem::replace(&mut seen[usize::from(pt)], true) {
            return Err(TranscodeError::PayloadType(pt));
        }
    }
    if plan.output.payload_type > 127 {
        return Err(TranscodeError::PayloadType(plan.output.payload_type));
    }
    for d in [plan.input_dtmf, plan.output_dtmf].into_iter().flatten() {
        if d.payload_type > 127 {
            return Err(TranscodeError::PayloadType(d.payload_type));
        }
        if d.clock_rate != 8000 && d.clock_rate != 48000 {
            return Err(TranscodeError::DtmfClock(d.clock_rate));
        }
    }
    Ok(())
}

/// The internal PCM rate: 8 kHz whenever G.711 is on either side; for
/// Opus to Opus the highest of 8/16/48 kHz that the receiver's
/// `maxplaybackrate` and every sender `sprop-maxcapturerate` allow.
pub fn internal_rate(plan: &DirectionPlan) -> OpusRate {
    let AudioCodec::Opus(out) = plan.output.codec else {
        return OpusRate::Hz8000;
    };
    let mut cap = out.max_playback_rate;
    for i in &plan.inputs {
        match i.codec {
            AudioCodec::Opus(p) => cap = cap.min(p.sprop_max_capture_rate),
            _ => return OpusRate::Hz8000,
        }
    }
    match cap {
        48000.. => OpusRate::Hz48000,
        16000.. => OpusRate::Hz16000,
        _ => OpusRate::Hz8000,
    }
}

fn same_kind(a: AudioCodec, b: AudioCodec) -> bool {
    matches!(
        (a, b),
        (AudioCodec::Pcmu, AudioCodec::Pcmu)
            | (AudioCodec::Pcma, AudioCodec::Pcma)
            | (AudioCodec::Opus(_), AudioCodec::Opus(_))
    )
}

impl Direction {
    /// Builds a direction from leg `from`; allocates everything it will
    /// use.
    pub fn new(
        plan: &DirectionPlan,
        from: usize,
        settings: &Settings,
        now: Instant,
    ) -> Result<Self, TranscodeError> {
        validate(plan, from)?;
        let rate = internal_rate(plan);
        let mut decoders = Vec::with_capacity(plan.inputs.len());
        for i in &plan.inputs {
            decoders.push((i.payload_type, i.codec, Decoder::new(i.codec, rate)?));
        }
        let encoder = Encoder::new(plan.output.codec, rate, settings)?;
        let out_clock = plan.output.codec.clock_rate();
        let frame = rate.samples(plan.output.ptime_ms as usize);
        let units_per_sample = u64::from(out_clock / rate.hz());
        let max_samples = rate.samples(120);
        let base_delay = Duration::from_millis(40).min(settings.max_jitter_delay);
        let needs_detector =
            plan.output_dtmf.is_some() && plan.input_dtmf.is_none() && rate == OpusRate::Hz8000;
        Ok(Self {
            plan: plan.clone(),
            from,
            rate,
            decoders,
            encoder,
            frame,
            frame_units: frame as u64 * units_per_sample,
            fifo: PcmFifo::new(3 * max_samples, units_per_sample),
            jitter: JitterBuffer::new(base_delay, now),
            base_delay,
            max_delay: settings.max_jitter_delay,
            late_boost: Duration::ZERO,
            unwrap: TsUnwrap::default(),
            ssrc: None,
            last_in: None,
            lost_pending: 0,
            lost_just_before: false,
            pcm: vec![0; max_samples].into_boxed_slice(),
            payload: vec![0; MAX_PAYLOAD.max(4000)].into_boxed_slice(),
            buf: vec![0; OUT_BUF].into_boxed_slice(),
            blocked: false,
            inband_level: settings.inband_dtmf_level_dbm0,
            receiver: plan
                .input_dtmf
                .map(|d| EventReceiver::new(ReceiverConfig::new(d.clock_rate))),
            last_event_at: None,
            event_out_ts: None,
            event_tone: None,
            detector: needs_detector.then(Detector::default),
            live: None,
            detector_ts: 0,
            detector_pos: 0,
            audio_until: None,
            tone_due: None,
            tone_next_ts: None,
            injection: None,
            queued: DigitQueue::default(),
        })
    }

    /// The plan this direction runs.
    pub fn plan(&self) -> &DirectionPlan {
        &self.plan
    }

    /// The internal PCM rate.
    pub fn rate(&self) -> OpusRate {
        self.rate
    }

    /// Blocks or unblocks DTMF from the sender.
    pub fn set_blocked(&mut self, blocked: bool) {
        self.blocked = blocked;
        if blocked {
            self.event_tone = None;
            self.tone_due = None;
        }
    }

    /// Whether DTMF from the sender is blocked.
    pub fn blocked(&self) -> bool {
        self.blocked
    }

    /// Carries the sender-side state over from the direction this one
    /// replaces (re-INVITE): DTMF blocking.
    pub fn inherit(&mut self, old: &Direction) {
        self.blocked = old.blocked;
    }

    fn drop<S: Sink>(&self, ctx: &mut Ctx<'_, S>, cause: DropCause) {
        ctx.stats.drops.count(cause);
        ctx.sink.dropped(self.from, cause);
    }

    fn clock_of(&self, pt: u8) -> Option<u32> {
        if let Some(d) = self.plan.input_dtmf.filter(|d| d.payload_type == pt) {
            return Some(d.clock_rate);
        }
        self.plan
            .inputs
            .iter()
            .find(|i| i.payload_type == pt)
            .map(|i| i.codec.clock_rate())
    }

    /// The RTP clock of payload type `pt` from the sender, if negotiated.
    pub fn input_clock(&self, pt: u8) -> Option<u32> {
        self.clock_of(pt)
    }

    /// The RTP clock of `pt` if it is one of the sender's audio codecs
    /// (not its telephone-event type).
    pub fn audio_clock(&self, pt: u8) -> Option<u32> {
        self.plan
            .inputs
            .iter()
            .find(|i| i.payload_type == pt)
            .map(|i| i.codec.clock_rate())
    }

    /// One RTP packet from the sender (already parsed).
    pub fn handle_rtp<S: Sink>(&mut self, view: &sluice_rtp::RtpView<'_>, ctx: &mut Ctx<'_, S>) {
        let pt = view.payload_type().0;
        let ssrc = view.ssrc().0;
        if self.ssrc != Some(ssrc) {
            if self.ssrc.is_some() {
                self.drain(ctx);
                self.new_sender(ctx);
            }
            self.ssrc = Some(ssrc);
        }
        let (pt_stored, payload): (u8, &[u8]) = if self.clock_of(pt).is_some() {
            (pt, view.payload())
        } else {
            self.drop(ctx, DropCause::UnknownPayloadType);
            (PLACEHOLDER, &[])
        };
        let mut pushed = self.jitter.push(
            view.seq().0,
            view.timestamp(),
            pt_stored,
            view.marker(),
            payload,
            ctx.now,
        );
        if pushed == Pushed::Resync {
            self.drain(ctx);
            self.jitter.restart();
            // Whatever the sequence did, the timestamps may have too.
            self.break_timeline(ctx);
            pushed = self.jitter.push(
                view.seq().0,
                view.timestamp(),
                pt_stored,
                view.marker(),
                payload,
                ctx.now,
            );
        }
        match pushed {
            Pushed::Stored | Pushed::Resync => {}
            Pushed::Duplicate => self.drop(ctx, DropCause::Duplicate),
            Pushed::Late => {
                self.drop(ctx, DropCause::TooLate);
                // Waited too little: wait longer for the next gaps.
                self.late_boost = (self.late_boost + Duration::from_millis(10)).min(self.max_delay);
            }
            Pushed::TooBig => self.drop(ctx, DropCause::Overflow),
        }
        self.process(ctx, false);
    }

    /// Adapts the gap wait to the sender's jitter (`jitter_units` on a
    /// `clock` Hz clock): three times the jitter, at least 40 ms (a packet
    /// overtaken by the next one at 20 ms ptime), plus a
    /// boost after late packets, at most the configured maximum.
    pub fn adapt(&mut self, jitter_units: u32, clock: u32) {
        let j =
            Duration::from_micros(u64::from(jitter_units) * 1_000_000 / u64::from(clock.max(1)));
        let d = (3 * j).max(self.base_delay) + self.late_boost;
        self.jitter.set_delay(d.min(self.max_delay));
    }

    fn new_sender<S: Sink>(&mut self, ctx: &mut Ctx<'_, S>) {
        self.event_out_ts = None;
        self.jitter.restart();
        self.break_timeline(ctx);
        for (_, _, d) in &mut self.decoders {
            d.reset();
        }
        if let Some(r) = self.receiver.as_mut() {
            r.handle_idle();
        }
        self.poll_receiver(ctx);
    }

    /// The input timeline broke (new sender, sequence resync, a timestamp
    /// jump): what is queued goes out, the next packet sets a new anchor
    /// (the output timeline goes on with real time, never back), and
    /// nothing is concealed or detected across the break.
    fn break_timeline<S: Sink>(&mut self, ctx: &mut Ctx<'_, S>) {
        self.flush(ctx);
        self.fifo.clear();
        self.unwrap.reset();
        self.last_in = None;
        self.lost_pending = 0;
        self.lost_just_before = false;
        self.tone_next_ts = None;
        self.reset_detector(ctx);
        ctx.out.reanchor();
    }

    /// Yields everything the jitter buffer holds, gaps given up at once.
    fn drain<S: Sink>(&mut self, ctx: &mut Ctx<'_, S>) {
        self.process(ctx, true);
    }

    /// Takes what the jitter buffer has ready (bounded by its size).
    pub fn process<S: Sink>(&mut self, ctx: &mut Ctx<'_, S>, force: bool) {
        while let Some(p) = self.jitter.pop(ctx.now, force) {
            match p {
                Popped::Lost { .. } => {
                    ctx.stats.lost += 1;
                    self.lost_pending += 1;
                    self.lost_just_before = true;
                }
                Popped::Packet(i) => {
                    let pt = self.jitter.slot(i).payload_type;
                    if pt == PLACEHOLDER {
                        self.lost_just_before = false;
                    } else if self.plan.input_dtmf.is_some_and(|d| d.payload_type == pt) {
                        self.handle_event(i, ctx);
                        self.lost_just_before = false;
                    } else {
                        self.handle_audio(i, ctx);
                        self.lost_just_before = false;
                    }
                }
            }
        }
    }

    fn handle_event<S: Sink>(&mut self, slot: usize, ctx: &mut Ctx<'_, S>) {
        let s = self.jitter.slot(slot);
        let (ts, marker) = (s.timestamp, s.marker);
        let Some(in_te) = self.plan.input_dtmf else {
            return;
        };
        if self.blocked {
            self.drop(ctx, DropCause::DtmfBlocked);
            return;
        }
        let Ok(view) = EventView::parse(self.jitter.slot(slot).payload()) else {
            self.drop(ctx, DropCause::BadDtmf);
            return;
        };
        if view.event() > 15 {
            self.drop(ctx, DropCause::BadDtmf);
            return;
        }
        let payload = self.jitter.slot(slot).payload();
        let Some(rx) = self.receiver.as_mut() else {
            return;
        };
        if rx.handle_packet(ts, marker, payload).is_err() {
            self.drop(ctx, DropCause::BadDtmf);
            self.poll_receiver(ctx);
            return;
        }
        self.last_event_at = Some(ctx.now);
        if let Some(out_te) = self.plan.output_dtmf {
            let (segment, mapped) = dtmf::map_payload(&view, in_te.clock_rate, out_te.clock_rate);
            let start = match self.event_out_ts {
                Some((in_ts, out)) if in_ts == ts => out,
                _ => {
                    let ext = self.unwrap.peek(ts);
                    let out = ctx.out.map(ext, in_te.clock_rate, ctx.now);
                    self.event_out_ts = Some((ts, out));
                    out
                }
            };
            let out_ts = start
                + segment * dtmf::MAX_SEGMENT * u64::from(ctx.out.clock())
                    / u64::from(out_te.clock_rate);
            if self.injection.is_none() {
                let n = ctx.out.write(
                    &mut self.buf,
                    out_te.payload_type,
                    marker,
                    out_ts,
                    &mapped,
                    None,
                    ctx.now,
                );
                ctx.sink.rtp(1 - self.from, &self.buf[..n]);
                ctx.stats.sent_packets += 1;
                ctx.stats.sent_octets += mapped.len() as u64;
                ctx.stats.dtmf_events_forwarded += 1;
            }
        }
        self.poll_receiver(ctx);
    }

    fn poll_receiver<S: Sink>(&mut self, ctx: &mut Ctx<'_, S>) {
        let Some(rx) = self.receiver.as_mut() else {
            return;
        };
        let clock = self.plan.input_dtmf.map_or(8000, |d| d.clock_rate);
        while let Some(ev) = rx.poll_event() {
            match ev {
                ReceivedEvent::Start { .. } => {
                    if self.plan.output_dtmf.is_none() && !self.blocked {
                        if let Some(d) = ev.digit() {
                            self.event_tone =
                                Some(dtmf::tone(d, self.inband_level, self.rate.hz()));
                            // Tone frames from `poll` if no audio carries it.
                            self.tone_due = Some(
                                ctx.now
                                    + Duration::from_millis(u64::from(self.plan.output.ptime_ms)),
                            );
                            self.tone_next_ts = None;
                        }
                    }
                }
                ReceivedEvent::End {
                    duration, volume, ..
                } => {
                    self.event_tone = None;
                    self.tone_due = None;
                    self.last_event_at = None;
                    if let Some(digit) = ev.digit() {
                        ctx.stats.dtmf_digits += 1;
                        ctx.sink.digit(
                            self.from,
                            DigitReport {
                                digit,
                                duration_ms: (duration * 1000 / u64::from(clock)) as u32,
                                volume,
                                source: DigitSource::Event,
                            },
                        );
                    }
                }
            }
        }
    }

    fn decoder_index(&self, pt: u8) -> Option<usize> {
        self.decoders.iter().position(|(p, _, _)| *p == pt)
    }

    fn handle_audio<S: Sink>(&mut self, slot: usize, ctx: &mut Ctx<'_, S>) {
        let s = self.jitter.slot(slot);
        let (ts, pt, marker) = (s.timestamp, s.payload_type, s.marker);
        let Some(di) = self.decoder_index(pt) else {
            return;
        };
        let codec = self.decoders[di].1;
        let clock = codec.clock_rate();
        if self.last_in.is_some_and(|l| l.clock != clock) {
            self.unwrap.reset();
            self.last_in = None;
            ctx.out.reanchor();
        }
        if let Some(last) = self.last_in {
            // A sender that restarted its timestamps (same SSRC): mapped
            // as is, its audio would land behind what was sent and be
            // trimmed as overlap until the old timeline caught up.
            let ext = self.unwrap.peek(ts);
            let per_ms = u64::from(clock) / 1000;
            if last.end.saturating_sub(ext) > MAX_CONCEAL_MS * per_ms
                || ext.saturating_sub(last.end) > MAX_JUMP_S * 1000 * per_ms
            {
                ctx.stats.timeline_breaks += 1;
                self.break_timeline(ctx);
            }
        }
        let ext = self.unwrap.unwrap(ts);
        let payload = self.jitter.slot(slot).payload();
        let samples = match self.decoders[di].2.samples(payload) {
            Ok(n) if n > 0 && n <= self.pcm.len() => n,
            _ => {
                self.drop(ctx, DropCause::Undecodable);
                return;
            }
        };
        let in_units = samples as u64 * u64::from(clock) / u64::from(self.rate.hz());
        self.audio_until = Some(
            ctx.now
                + Duration::from_micros(in_units * 1_000_000 / u64::from(clock.max(1)))
                + AUDIO_SLACK,
        );
        if marker {
            ctx.out.mark();
        }
        if self.injection.is_some() {
            // `play DTMF` toward the receiver: its audio is muted.
            ctx.stats.muted += 1;
            self.last_in = Some(LastIn {
                end: ext + in_units,
                clock,
            });
            self.lost_pending = 0;
            return;
        }
        let out_codec = self.plan.output.codec;
        let out_clock = out_codec.clock_rate();
        let out_units = in_units * u64::from(out_clock) / u64::from(clock);
        let plain = self.fifo.is_empty()
            && self.event_tone.is_none()
            && self.detector.is_none()
            && out_units == self.frame_units;
        if plain
            && (same_kind(codec, out_codec)
                || matches!(
                    (codec, out_codec),
                    (AudioCodec::Pcmu, AudioCodec::Pcma) | (AudioCodec::Pcma, AudioCodec::Pcmu)
                ))
        {
            if self.lost_pending == 0 && self.last_in.is_some_and(|l| ext > l.end) {
                // Silence suppression or DTX on the sender: a talkspurt.
                ctx.out.mark();
            }
            let out_ts = ctx.out.map(ext, clock, ctx.now);
            // Real loss stays visible to the receiver as a sequence gap.
            ctx.out
                .skip_seq(self.lost_pending.min(u64::from(u16::MAX)) as u16);
            self.lost_pending = 0;
            let n = payload.len();
            self.payload[..n].copy_from_slice(payload);
            match (codec, out_codec) {
                (AudioCodec::Pcmu, AudioCodec::Pcma) => {
                    g711::ulaw_to_alaw_in_place(&mut self.payload[..n])
                }
                (AudioCodec::Pcma, AudioCodec::Pcmu) => {
                    g711::alaw_to_ulaw_in_place(&mut self.payload[..n])
                }
                _ => {}
            }
            let len = ctx.out.write(
                &mut self.buf,
                self.plan.output.payload_type,
                false,
                out_ts,
                &self.payload[..n],
                Some(out_ts + out_units),
                ctx.now,
            );
            ctx.sink.rtp(1 - self.from, &self.buf[..len]);
            ctx.stats.copied_frames += 1;
            ctx.stats.sent_packets += 1;
            ctx.stats.sent_octets += n as u64;
            self.last_in = Some(LastIn {
                end: ext + in_units,
                clock,
            });
            return;
        }
        // Decode path: conceal what a loss left out first.
        if self.lost_pending > 0 {
            if let Some(last) = self.last_in {
                let gap = ext.saturating_sub(last.end);
                if gap > 0 && gap <= MAX_CONCEAL_MS * u64::from(clock) / 1000 {
                    self.conceal(di, slot, last.end, gap, clock, ctx);
                }
            }
            self.lost_pending = 0;
        }
        let payload = self.jitter.slot(slot).payload();
        let n = match self.decoders[di].2.decode(payload, &mut self.pcm) {
            Ok(n) => n,
            Err(_) => {
                self.drop(ctx, DropCause::Undecodable);
                return;
            }
        };
        ctx.stats.decoded_frames += 1;
        let out_ts = ctx.out.map(ext, clock, ctx.now);
        self.last_in = Some(LastIn {
            end: ext + in_units,
            clock,
        });
        self.queue(out_ts, n, ctx);
    }

    /// Conceals `gap` input units lost before the packet in `slot`.
    fn conceal<S: Sink>(
        &mut self,
        di: usize,
        slot: usize,
        from: u64,
        gap: u64,
        clock: u32,
        ctx: &mut Ctx<'_, S>,
    ) {
        let hz = u64::from(self.rate.hz());
        let quantum = (hz / 400) as usize;
        let total = ((gap * hz / u64::from(clock)) as usize).min(self.pcm.len());
        let total = total - total % quantum;
        if total == 0 {
            return;
        }
        let next_len = self.decoders[di]
            .2
            .samples(self.jitter.slot(slot).payload())
            .unwrap_or(0);
        let fec = if self.lost_just_before && self.decoders[di].2.has_fec() {
            next_len.min(total) / quantum * quantum
        } else {
            0
        };
        let plc = total - fec;
        let out_ts = ctx.out.map(from, clock, ctx.now);
        if plc > 0 {
            if let Ok(n) = self.decoders[di].2.conceal(&mut self.pcm[..plc]) {
                ctx.stats.concealed += 1;
                self.queue(out_ts, n, ctx);
            }
        }
        if fec > 0 {
            let next = self.jitter.slot(slot).payload();
            if let Ok(n) = self.decoders[di].2.recover(next, &mut self.pcm[..fec]) {
                ctx.stats.fec_recovered += 1;
                let units = plc as u64 * (u64::from(ctx.out.clock()) / hz).max(1);
                self.queue(out_ts + units, n, ctx);
            }
        }
    }

    /// Puts `self.pcm[..n]` (output timestamp `ts`) through DTMF and the
    /// FIFO, and sends every whole frame.
    fn queue<S: Sink>(&mut self, ts: u64, n: usize, ctx: &mut Ctx<'_, S>) {
        if self.fifo.check(ts) == Continuity::Gap {
            self.flush(ctx);
            ctx.out.mark();
        }
        if let Some(tone) = self.event_tone.as_mut() {
            tone.fill(&mut self.pcm[..n]);
        }
        if self.detector.is_some() && !self.blocked {
            self.detect(ts, n, ctx);
        }
        self.fifo.push(ts, &self.pcm[..n]);
        self.send_frames(ctx);
    }

    fn send_frames<S: Sink>(&mut self, ctx: &mut Ctx<'_, S>) {
        while let Some((pcm, ts)) = self.fifo.front(self.frame) {
            match self.encoder.encode(pcm, &mut self.payload) {
                Ok(Encoded::Payload(len)) => {
                    let n = ctx.out.write(
                        &mut self.buf,
                        self.plan.output.payload_type,
                        false,
                        ts,
                        &self.payload[..len],
                        Some(ts + self.frame_units),
                        ctx.now,
                    );
                    ctx.sink.rtp(1 - self.from, &self.buf[..n]);
                    ctx.stats.sent_packets += 1;
                    ctx.stats.sent_octets += len as u64;
                }
                Ok(Encoded::Silence) => {
                    ctx.stats.dtx_suppressed += 1;
                    ctx.out.mark();
                }
                Err(_) => self.drop(ctx, DropCause::Undecodable),
            }
            self.fifo.consume(self.frame);
        }
    }

    /// Sends a partial frame padded with silence.
    fn flush<S: Sink>(&mut self, ctx: &mut Ctx<'_, S>) {
        if !self.fifo.is_empty() {
            self.fifo.pad_to(self.frame);
            self.send_frames(ctx);
        }
    }

    fn detect<S: Sink>(&mut self, ts: u64, n: usize, ctx: &mut Ctx<'_, S>) {
        let Some(det) = self.detector.as_mut() else {
            return;
        };
        let units = u64::from(ctx.out.clock() / self.rate.hz());
        // These samples start at `ts`: keep the detector's sample count on
        // the output timeline, which may have jumped since the last push.
        self.detector_ts = ts.wrapping_sub(self.detector_pos.wrapping_mul(units));
        self.detector_pos += n as u64;
        let mut edges: [Option<sluice_dtmf::DetectedDigit>; 4] = [None; 4];
        let mut k = 0;
        det.push(&self.pcm[..n], |d| {
            if k < edges.len() {
                edges[k] = Some(d);
                k += 1;
            }
        });
        self.handle_edges(&edges, ctx);
        let Some(out_te) = self.plan.output_dtmf else {
            return;
        };
        // An update for the digit still sounding, once per packet.
        if let Some(mut live) = self.live {
            let end = ts + n as u64 * units;
            let dur = end.saturating_sub(live.start_ts) * u64::from(out_te.clock_rate)
                / u64::from(ctx.out.clock());
            let marker = !live.started;
            live.started = true;
            self.live = Some(live);
            self.send_live(&live, dur, false, marker, ctx);
        }
    }

    /// Digit starts and ends from the detector: events for the receiver.
    fn handle_edges<S: Sink>(
        &mut self,
        edges: &[Option<sluice_dtmf::DetectedDigit>],
        ctx: &mut Ctx<'_, S>,
    ) {
        let Some(out_te) = self.plan.output_dtmf else {
            return;
        };
        let units = u64::from(ctx.out.clock() / self.rate.hz());
        for d in edges.iter().flatten() {
            match d.edge {
                DigitEdge::Start => {
                    self.live = Some(LiveEvent {
                        code: d.digit.event_code(),
                        start_ts: self.detector_ts.wrapping_add(d.sample * units),
                        started: false,
                    });
                }
                DigitEdge::End { duration } => {
                    if let Some(live) = self.live.take() {
                        let dur = duration * units * u64::from(out_te.clock_rate)
                            / u64::from(ctx.out.clock());
                        // Only an event's first packet carries the marker.
                        for i in 0..3 {
                            self.send_live(&live, dur, true, !live.started && i == 0, ctx);
                        }
                        ctx.stats.dtmf_digits += 1;
                        ctx.sink.digit(
                            self.from,
                            DigitReport {
                                digit: d.digit,
                                duration_ms: (duration * 1000 / 8000) as u32,
                                volume: 0,
                                source: DigitSource::Inband,
                            },
                        );
                    }
                }
            }
        }
    }

    /// Sends a packet of the generated event `live` reporting `dur` units
    /// (event clock) so far, in its segment if it outgrew 16 bits.
    fn send_live<S: Sink>(
        &mut self,
        live: &LiveEvent,
        dur: u64,
        end: bool,
        marker: bool,
        ctx: &mut Ctx<'_, S>,
    ) {
        let Some(out_te) = self.plan.output_dtmf else {
            return;
        };
        let (segment, p) = live.payload(dur, end);
        let ts = live.start_ts
            + segment * dtmf::MAX_SEGMENT * u64::from(ctx.out.clock())
                / u64::from(out_te.clock_rate);
        self.send_event(out_te.payload_type, marker, ts, &p, ctx);
    }

    /// Ends what the detector is hearing (its event closes) and starts it
    /// afresh: the samples that follow are on another timeline.
    fn reset_detector<S: Sink>(&mut self, ctx: &mut Ctx<'_, S>) {
        let Some(det) = self.detector.as_mut() else {
            return;
        };
        let mut edges: [Option<sluice_dtmf::DetectedDigit>; 4] = [None; 4];
        let mut k = 0;
        det.finish(|d| {
            if k < edges.len() {
                edges[k] = Some(d);
                k += 1;
            }
        });
        *det = Detector::default();
        self.detector_pos = 0;
        if !self.blocked {
            self.handle_edges(&edges, ctx);
        }
        self.live = None;
    }

    fn ptime(&self) -> Duration {
        Duration::from_millis(u64::from(self.plan.output.ptime_ms))
    }

    /// The sender's event is on but no audio carries its tone (many
    /// senders send only event packets during a digit): tone frames, one
    /// per output packet time.
    fn poll_tone<S: Sink>(&mut self, ctx: &mut Ctx<'_, S>) {
        let ptime = self.ptime();
        while let Some(due) = self.tone_due.filter(|d| *d <= ctx.now) {
            if self.event_tone.is_none() {
                self.tone_due = None;
                return;
            }
            // After a stall, no burst of stale frames.
            let due = if due + 4 * ptime < ctx.now {
                ctx.now
            } else {
                due
            };
            self.tone_due = Some(due + ptime);
            if self.injection.is_some() || self.audio_until.is_some_and(|t| t > due) {
                // Audio carries the tone (or `play DTMF` owns the leg).
                self.tone_next_ts = None;
                continue;
            }
            let mut covered = ctx.out.audio_end();
            if self.fifo.is_started() {
                covered = covered.max(self.fifo.end_ts());
            }
            let ts = match self.tone_next_ts {
                Some(t) => t.max(covered),
                None => ctx
                    .out
                    .now_ts(due.checked_sub(ptime).unwrap_or(due))
                    .max(covered),
            };
            self.pcm[..self.frame].fill(0);
            // `queue` puts the event's tone over these samples.
            self.queue(ts, self.frame, ctx);
            ctx.stats.tone_frames += 1;
            self.tone_next_ts = Some(ts + self.frame_units);
        }
    }

    fn send_event<S: Sink>(
        &mut self,
        pt: u8,
        marker: bool,
        ts: u64,
        payload: &[u8],
        ctx: &mut Ctx<'_, S>,
    ) {
        let n = ctx
            .out
            .write(&mut self.buf, pt, marker, ts, payload, None, ctx.now);
        ctx.sink.rtp(1 - self.from, &self.buf[..n]);
        ctx.stats.sent_packets += 1;
        ctx.stats.sent_octets += payload.len() as u64;
        ctx.stats.dtmf_events_generated += 1;
    }

    /// `play DTMF` toward this direction's receiver.
    pub fn play<S: Sink>(
        &mut self,
        code: u8,
        duration_ms: u32,
        volume: u8,
        ctx: &mut Ctx<'_, S>,
    ) -> Result<(), DtmfError> {
        dtmf::check_play(code, duration_ms, volume)?;
        if self.injection.is_some() {
            // Played when the current one ends (see `poll_injection`).
            return if self.queued.push((code, duration_ms, volume)) {
                Ok(())
            } else {
                Err(DtmfError::Busy(1 - self.from))
            };
        }
        self.start_injection(code, duration_ms, volume, ctx);
        Ok(())
    }

    /// Starts playing a checked digit now.
    fn start_injection<S: Sink>(
        &mut self,
        code: u8,
        duration_ms: u32,
        volume: u8,
        ctx: &mut Ctx<'_, S>,
    ) {
        let Ok(digit) = dtmf::check_play(code, duration_ms, volume) else {
            return;
        };
        self.fifo.clear();
        let start_ts = ctx.out.now_ts(ctx.now);
        self.injection = match self.plan.output_dtmf {
            Some(te) => {
                dtmf::injected_events(code, volume, start_ts, te.clock_rate, duration_ms, ctx.now)
            }
            None => Some(Injection::Tones {
                tone: dtmf::tone(digit, -f64::from(volume), self.rate.hz()),
                remaining: self.rate.samples(duration_ms as usize),
                sent: 0,
                start: ctx.now,
                start_ts,
            }),
        };
    }

    fn poll_injection<S: Sink>(&mut self, ctx: &mut Ctx<'_, S>) {
        let Some(inj) = self.injection.as_mut() else {
            return;
        };
        let mut done_at = None;
        match inj {
            Injection::Events {
                sender,
                next,
                first_offset,
                start,
                clock,
                start_ts,
                duration,
            } => {
                let pt = self.plan.output_dtmf.map_or(0, |d| d.payload_type);
                while let Some(p) = *next {
                    let due = *start
                        + Duration::from_micros(
                            (p.send_offset - *first_offset) * 1_000_000 / u64::from(*clock),
                        );
                    if due > ctx.now {
                        break;
                    }
                    let bytes = p.payload.to_bytes().unwrap_or([0; 4]);
                    // The packet's timestamp (its segment's start) back on
                    // the 64-bit output timeline.
                    let ts = *start_ts + u64::from(p.timestamp.wrapping_sub(*start_ts as u32));
                    let n = ctx
                        .out
                        .write(&mut self.buf, pt, p.marker, ts, &bytes, None, ctx.now);
                    ctx.sink.rtp(1 - self.from, &self.buf[..n]);
                    ctx.stats.sent_packets += 1;
                    ctx.stats.sent_octets += 4;
                    ctx.stats.dtmf_events_generated += 1;
                    *next = sender.next();
                }
                if next.is_none() {
                    let out_clock = u64::from(ctx.out.clock());
                    done_at = Some(*start_ts + *duration * out_clock / u64::from(*clock));
                }
            }
            Injection::Tones {
                tone,
                remaining,
                sent,
                start,
                start_ts,
            } => {
                let ptime = Duration::from_millis(u64::from(self.plan.output.ptime_ms));
                while *remaining > 0 && *start + ptime * (*sent as u32) <= ctx.now {
                    let take = (*remaining).min(self.frame);
                    let frame = &mut self.pcm[..self.frame];
                    tone.fill(&mut frame[..take]);
                    frame[take..].fill(0);
                    *remaining -= take;
                    let ts = *start_ts + *sent * self.frame_units;
                    *sent += 1;
                    if let Ok(Encoded::Payload(len)) = self
                        .encoder
                        .encode(&self.pcm[..self.frame], &mut self.payload)
                    {
                        let n = ctx.out.write(
                            &mut self.buf,
                            self.plan.output.payload_type,
                            *sent == 1,
                            ts,
                            &self.payload[..len],
                            Some(ts + self.frame_units),
                            ctx.now,
                        );
                        ctx.sink.rtp(1 - self.from, &self.buf[..n]);
                        ctx.stats.sent_packets += 1;
                        ctx.stats.sent_octets += len as u64;
                    }
                }
                if *remaining == 0 {
                    done_at = Some(*start_ts + *sent * self.frame_units);
                }
            }
        }
        if let Some(end) = done_at {
            self.injection = None;
            ctx.out.advance_to(end);
            ctx.out.reanchor();
            if let Some((code, duration_ms, volume)) = self.queued.pop() {
                self.start_injection(code, duration_ms, volume, ctx);
            }
        }
    }

    /// Timers: jitter give-up, injected DTMF, an event whose end reports
    /// were all lost.
    pub fn poll<S: Sink>(&mut self, ctx: &mut Ctx<'_, S>) {
        self.process(ctx, false);
        self.poll_injection(ctx);
        if self
            .last_event_at
            .is_some_and(|t| ctx.now >= t + EVENT_IDLE)
        {
            self.last_event_at = None;
            if let Some(r) = self.receiver.as_mut() {
                r.handle_idle();
            }
            self.poll_receiver(ctx);
            self.event_tone = None;
        }
        self.poll_tone(ctx);
    }

    /// The earliest time [`poll`](Self::poll) has work.
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut d = self.jitter.deadline();
        let mut consider = |t: Instant| d = Some(d.map_or(t, |x| x.min(t)));
        if let Some(t) = self.last_event_at {
            consider(t + EVENT_IDLE);
        }
        if let Some(t) = self.tone_due.filter(|_| self.event_tone.is_some()) {
            consider(t);
        }
        match &self.injection {
            Some(Injection::Events {
                next: Some(p),
                first_offset,
                start,
                clock,
                ..
            }) => {
                consider(
                    *start
                        + Duration::from_micros(
                            (p.send_offset - *first_offset) * 1_000_000 / u64::from(*clock),
                        ),
                );
            }
            Some(Injection::Tones { sent, start, .. }) => {
                consider(
                    *start
                        + Duration::from_millis(u64::from(self.plan.output.ptime_ms))
                            * (*sent as u32),
                );
            }
            _ => {}
        }
        d
    }
}

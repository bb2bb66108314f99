//! The transcoding mode (`--transcode`): every call is PCMU on the
//! caller's leg and Opus on the callee's, so the relay decodes and
//! re-encodes every packet in both directions.
//!
//! ```text
//! caller --PCMU 20 ms (PT 0, ts += 160)--> relay --Opus (ts += 960)--> callee
//! caller <--PCMU (ts += 160)-------------- relay <--Opus 20 ms (PT 96)-- callee
//! ```
//!
//! Set-up: the caller offers PCMU + telephone-event/8000 with NG
//! `codec: {transcode: [opus]}`; the relay adds `opus/48000/2` toward the
//! callee, who answers Opus only. The answer reply toward the caller must
//! keep PCMU, or the relay did not transcode and the point fails.
//!
//! Media: one speech-like signal (summed sines under a syllable-rate
//! envelope, a little noise; [`FRAMES`] frames, looped), sent as PCMU by
//! callers and, encoded once at start with `sluice_codec`'s Opus encoder
//! at 8 kHz, as Opus by callees.
//!
//! Latency: the relay re-encodes the payload, so the send time cannot
//! travel in it. Each sender writes the send time of frame `k` of its
//! stream into a ring ([`SendTimes`]); the receiver recovers `k` from the
//! RTP timestamp: `k = k_anchor + (ts - ts_anchor) / step` (step 160 for
//! PCMU, 960 for Opus at 48 kHz). The anchor is the signal's onset: the
//! first [`ONSET_FRAME`] frames of the loop are silent and the signal
//! starts [`ONSET_SAMPLE`] samples into the next one, so the first
//! received packet that decodes loud after at least two quiet ones is
//! frame `ONSET_FRAME + n * FRAMES` (the latest such frame already sent;
//! latencies above one loop, 3 s, would alias). Until a stream is
//! anchored (in the warm-up) its packets are decoded and not counted.
//! The anchor follows the audio, so a relay that delays the signal by a
//! frame (holding one packet until the next arrives) shows that frame in
//! its latency. Senders go on, uncounted, through half the drain time,
//! so frames a relay holds at the window's end still come out.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use serde::Serialize;
use sluice_codec::g711::ulaw;
use sluice_codec::opus::{OpusDecoder, OpusEncoder, OpusEncoderConfig, OpusRate};
use sluice_ng::client::Client;
use sluice_ng::{Dict, Value};
use sluice_rtp::RtpView;

use crate::ng::{self, CallIds, RelayEnds};
use crate::pacing::Schedule;
use crate::report::PointResult;
use crate::stats::{self, Latency, RxStats, TxStats};
use crate::sys::{self, Epoll, RecvBatch};
use crate::traffic::{Endpoint, Plan, Progress, RxClock};

/// The mode label in reports.
pub const MODE: &str = "transcode PCMU<->opus";
/// Frames in the looped signal (3 s).
pub const FRAMES: usize = 150;
/// Silent frames at the start of the loop.
pub const ONSET_FRAME: usize = 5;
/// Silent samples at the start of the onset frame: the codecs' delay
/// (Opus lookahead 6.5 ms, a resampler's few samples) must keep the onset
/// inside the same 20 ms frame.
pub const ONSET_SAMPLE: usize = 20;
/// Samples per 20 ms frame at 8 kHz.
const SAMPLES: usize = 160;
/// RMS above which a decoded frame counts as loud.
const LOUD_RMS: f64 = 300.0;
/// PCMU's payload type.
const PT_PCMU: u8 = 0;
/// The caller's telephone-event payload type.
const PT_EVENT: u8 = 101;
/// Send-time slots per stream (10.24 s of frames).
const RING: usize = 512;
/// p99 added latency a point may have and still count: one frame (the
/// issue's limit), and two frames (one frame over a relay that holds one
/// frame at any load, as rtpengine does).
pub const P99_LIMITS_US: [f64; 2] = [20_000.0, 40_000.0];

/// What a run's callers and callees send.
#[derive(Debug)]
pub struct Media {
    /// The signal as PCMU, one 160-byte frame each.
    pub pcmu: Vec<[u8; SAMPLES]>,
    /// The signal as Opus (8 kHz, complexity 5, libopus' bit rate).
    pub opus: Vec<Vec<u8>>,
}

/// A speech-like signal: four partials of a 140 Hz voice with a slow
/// vibrato, under a 4 Hz syllable envelope, plus noise; silent before
/// the onset.
pub fn signal() -> Vec<i16> {
    let onset = ONSET_FRAME * SAMPLES + ONSET_SAMPLE;
    let mut noise: u32 = 0x1234_5678;
    (0..FRAMES * SAMPLES)
        .map(|n| {
            if n < onset {
                return 0;
            }
            let t = (n - onset) as f64 / 8000.0;
            let tau = std::f64::consts::TAU;
            let env = 0.35 + 0.65 * (0.5 - 0.5 * (tau * 4.0 * t).cos());
            let f0 = 140.0 * (1.0 + 0.03 * (tau * 1.3 * t).sin());
            let voice = [(1.0, 1.0), (0.6, 3.0), (0.35, 8.0), (0.2, 17.0)]
                .iter()
                .map(|(a, h)| a * (tau * f0 * h * t).sin())
                .sum::<f64>();
            noise = noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let white = (noise >> 8) as f64 / (1u32 << 24) as f64 - 0.5;
            (6000.0 * env * voice + 400.0 * white).clamp(-32000.0, 32000.0) as i16
        })
        .collect()
}

/// The media, built once per process.
pub fn media() -> Result<&'static Media> {
    static MEDIA: OnceLock<Media> = OnceLock::new();
    if let Some(m) = MEDIA.get() {
        return Ok(m);
    }
    let pcm = signal();
    let mut encoder = OpusEncoder::new(&OpusEncoderConfig {
        complexity: 5,
        ..OpusEncoderConfig::new(OpusRate::Hz8000)
    })
    .context("Opus encoder")?;
    let mut pcmu = Vec::with_capacity(FRAMES);
    let mut opus = Vec::with_capacity(FRAMES);
    let mut buf = [0u8; 1500];
    for frame in pcm.chunks_exact(SAMPLES) {
        let mut codes = [0u8; SAMPLES];
        ulaw::encode_into(frame, &mut codes);
        pcmu.push(codes);
        let n = encoder.encode(frame, &mut buf).context("Opus encode")?;
        opus.push(buf[..n].to_vec());
    }
    Ok(MEDIA.get_or_init(|| Media { pcmu, opus }))
}

/// The caller's offer: PCMU and telephone-event.
fn offer_sdp(addr: SocketAddr, session: usize) -> String {
    let (ip, port) = (addr.ip(), addr.port());
    format!(
        "v=0\r\no=- {session} 1 IN IP4 {ip}\r\ns=loadgen\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {PT_PCMU} {PT_EVENT}\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:{PT_EVENT} telephone-event/8000\r\na=fmtp:{PT_EVENT} 0-16\r\n\
         a=ptime:20\r\na=sendrecv\r\n"
    )
}

/// The `a=fmtp` value of the callees' Opus answer (`--opus-fmtp`), once per process.
static ANSWER_FMTP: OnceLock<String> = OnceLock::new();

/// Sets the callees' Opus fmtp (e.g. `stereo=0;sprop-stereo=0`); empty: none.
pub fn set_answer_fmtp(fmtp: &str) {
    let _ = ANSWER_FMTP.set(fmtp.to_owned());
}

/// The callee's answer: Opus only, at the payload type the relay offered.
fn answer_sdp(addr: SocketAddr, session: usize, pt: u8) -> String {
    let (ip, port) = (addr.ip(), addr.port());
    let fmtp = match ANSWER_FMTP.get().map(String::as_str) {
        None | Some("") => String::new(),
        Some(f) => format!("a=fmtp:{pt} {f}\r\n"),
    };
    format!(
        "v=0\r\no=- {session} 1 IN IP4 {ip}\r\ns=loadgen\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {pt}\r\na=rtpmap:{pt} opus/48000/2\r\n{fmtp}a=ptime:20\r\na=sendrecv\r\n"
    )
}

/// The payload type of `opus/48000` in an SDP, if any.
pub fn opus_pt(sdp: &str) -> Option<u8> {
    sdp.lines().find_map(|l| {
        let (pt, enc) = l.trim_end().strip_prefix("a=rtpmap:")?.split_once(' ')?;
        enc.to_ascii_lowercase()
            .starts_with("opus/48000")
            .then(|| pt.parse().ok())?
    })
}

/// The payload types of the first `m=audio` line.
fn audio_formats(sdp: &str) -> Vec<String> {
    sdp.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .map(|rest| rest.split_whitespace().skip(2).map(String::from).collect())
        .unwrap_or_default()
}

fn reply_sdp(reply: &Dict, what: &str) -> Result<String> {
    ng::check_ok(reply, what)?;
    Ok(reply
        .get("sdp")
        .and_then(Value::as_str)
        .with_context(|| format!("{what} reply without sdp"))?
        .to_owned())
}

/// Offer (PCMU, transcode to Opus) from `a`, Opus-only answer from `b`;
/// returns where each leg sends and the Opus payload type.
pub fn setup_call(
    client: &mut Client,
    ids: &CallIds,
    index: usize,
    (a, b): (SocketAddr, SocketAddr),
) -> Result<(RelayEnds, u8)> {
    let codec = Dict::new().with("transcode", vec![Value::from("opus")]);
    let offer = Dict::new()
        .with("command", "offer")
        .with("call-id", ids.call_id.as_str())
        .with("from-tag", ids.from_tag.as_str())
        .with("sdp", offer_sdp(a, index))
        .with("codec", codec)
        .with("ICE", "remove");
    let offer_sdp = reply_sdp(&client.request(&offer).context("offer")?, "offer")?;
    let for_b = ng::media_addr(&offer_sdp)?;
    let Some(pt) = opus_pt(&offer_sdp) else {
        bail!("the relay's offer has no opus/48000 (codec transcode ignored):\n{offer_sdp}");
    };
    let answer = Dict::new()
        .with("command", "answer")
        .with("call-id", ids.call_id.as_str())
        .with("from-tag", ids.from_tag.as_str())
        .with("to-tag", ids.to_tag.as_str())
        .with("sdp", answer_sdp(b, index, pt))
        .with("ICE", "remove");
    let answer_sdp = reply_sdp(&client.request(&answer).context("answer")?, "answer")?;
    let for_a = ng::media_addr(&answer_sdp)?;
    let formats = audio_formats(&answer_sdp);
    if formats.first().map(String::as_str) != Some("0") || opus_pt(&answer_sdp).is_some() {
        bail!("the relay's answer to the caller is not PCMU (formats {formats:?}): no transcoding");
    }
    Ok((RelayEnds { for_a, for_b }, pt))
}

/// The send time of each stream's recent frames, written by the sender
/// before the packet leaves and read by the receiver of the far leg.
#[derive(Debug)]
pub struct SendTimes {
    /// `RING` slots per stream: frame index + 1 (0: empty).
    frame: Vec<AtomicU64>,
    /// The slot's send time, CLOCK_MONOTONIC ns.
    ns: Vec<AtomicU64>,
}

impl SendTimes {
    /// Empty rings for `streams` streams.
    pub fn new(streams: usize) -> Self {
        Self {
            frame: (0..streams * RING).map(|_| AtomicU64::new(0)).collect(),
            ns: (0..streams * RING).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn record(&self, stream: usize, k: u64, ns: u64) {
        let slot = stream * RING + (k as usize % RING);
        self.frame[slot].store(0, Ordering::Release);
        self.ns[slot].store(ns, Ordering::Release);
        self.frame[slot].store(k + 1, Ordering::Release);
    }

    /// The send time of frame `k` of `stream`, if it is still in the ring.
    fn get(&self, stream: usize, k: u64) -> Option<u64> {
        let slot = stream * RING + (k as usize % RING);
        if self.frame[slot].load(Ordering::Acquire) != k + 1 {
            return None;
        }
        let ns = self.ns[slot].load(Ordering::Acquire);
        (self.frame[slot].load(Ordering::Acquire) == k + 1).then_some(ns)
    }
}

/// Sends the streams of `endpoints[i]` for every `i` with `i % threads ==
/// index`: PCMU from callers (even `i`), Opus at `opus_pt` from callees.
#[expect(
    clippy::too_many_arguments,
    reason = "the traffic sender's arguments plus the mode's"
)]
pub fn sender(
    endpoints: &[Endpoint],
    index: usize,
    threads: usize,
    plan: Plan,
    stop: &AtomicBool,
    progress: &Progress,
    times: &SendTimes,
    opus_pt: u8,
) -> Result<TxStats> {
    let media = media()?;
    let total = endpoints.len();
    let mine: Vec<usize> = (index..total).step_by(threads.max(1)).collect();
    // Per slot: (frame index, seq, timestamp, ssrc).
    let mut state: Vec<(u64, u16, u32, u32)> = mine
        .iter()
        .map(|&i| {
            let mix = (i as u32).wrapping_mul(0x9E37_79B9);
            (
                0,
                (mix >> 16) as u16,
                mix ^ 0x5A5A_0000,
                0x7C00_0000 ^ i as u32,
            )
        })
        .collect();
    let period_ns = (1e9 / plan.pps).max(1.0) as u64;
    let phases: Vec<u64> = mine
        .iter()
        .map(|&i| (i as u64 * period_ns) / total.max(1) as u64)
        .collect();
    let mut schedule = Schedule::new(plan.start_ns, period_ns, phases);
    let mut stats = TxStats {
        sent: vec![0; total],
        ..TxStats::default()
    };
    let mut buf = [0u8; 1500];
    let tick_ns = plan.tick.as_nanos() as u64;
    let mut pending = 0u64;
    // A transcoder may hold a frame until the next one arrives (rtpengine
    // does): keep sending, uncounted, through half the drain so the
    // window's last frames come out.
    let send_end_ns = plan.window_end_ns + (plan.drain_end_ns - plan.window_end_ns) / 2;
    while !mine.is_empty() {
        let mut now = sys::now_ns();
        if now >= send_end_ns || stop.load(Ordering::Relaxed) {
            break;
        }
        while let Some((slot, due)) = schedule.due(now) {
            if due >= send_end_ns {
                break;
            }
            let i = mine[slot];
            let (k, seq, ts, ssrc) = &mut state[slot];
            let caller = i.is_multiple_of(2);
            let frame = *k as usize % FRAMES;
            let (pt, payload, step): (u8, &[u8], u32) = if caller {
                (PT_PCMU, &media.pcmu[frame], SAMPLES as u32)
            } else {
                (opus_pt, &media.opus[frame], 960)
            };
            buf[0] = 0x80;
            buf[1] = pt & 0x7F;
            buf[2..4].copy_from_slice(&seq.to_be_bytes());
            buf[4..8].copy_from_slice(&ts.to_be_bytes());
            buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
            buf[12..12 + payload.len()].copy_from_slice(payload);
            times.record(i, *k, now);
            match endpoints[i].socket.send(&buf[..12 + payload.len()]) {
                Ok(_) => {
                    if now >= plan.window_start_ns && now < plan.window_end_ns {
                        stats.sent[i] += 1;
                        stats.max_lag_ns = stats.max_lag_ns.max(now - due);
                    }
                    pending += 1;
                }
                Err(_) => {
                    if now >= plan.window_start_ns && now < plan.window_end_ns {
                        stats.send_errors += 1;
                    }
                }
            }
            *k += 1;
            *seq = seq.wrapping_add(1);
            *ts = ts.wrapping_add(step);
            schedule.advance();
            now = sys::now_ns();
        }
        progress.sent.fetch_add(pending, Ordering::Relaxed);
        pending = 0;
        let wait = schedule
            .next_due()
            .saturating_sub(sys::now_ns())
            .max(tick_ns);
        std::thread::sleep(Duration::from_nanos(wait.min(50_000_000)));
    }
    Ok(stats)
}

/// Per-direction figures a transcoding receiver keeps beside [`RxStats`].
#[derive(Debug, Clone)]
pub struct RxExtra {
    /// Latency, ns: `[0]` caller→callee (PCMU in, Opus out), `[1]` callee→caller.
    pub latency: [Histogram<u64>; 2],
    /// Streams never anchored (no onset seen): none of their packets count.
    pub unanchored: u64,
    /// Packets of another payload type than the stream's codec (e.g.
    /// telephone-event, comfort noise), not counted.
    pub other_pt: u64,
    /// Packets whose timestamp is not a whole number of frames from the anchor.
    pub misaligned: u64,
    /// Packets whose frame's send time had left the ring (or was never
    /// sent): counted as not received.
    pub unknown_frame: u64,
    /// Opus packets received by callees, by TOC configuration (0-31).
    pub opus_configs: [u64; 32],
    /// Of those, stereo packets.
    pub opus_stereo: u64,
    /// Their payload bytes.
    pub opus_bytes: u64,
}

impl RxExtra {
    fn new() -> Self {
        Self {
            latency: [stats::new_histogram(), stats::new_histogram()],
            unanchored: 0,
            other_pt: 0,
            misaligned: 0,
            unknown_frame: 0,
            opus_configs: [0; 32],
            opus_stereo: 0,
            opus_bytes: 0,
        }
    }

    /// Adds another thread's figures.
    pub fn merge(&mut self, o: &Self) {
        for (a, b) in self.latency.iter_mut().zip(&o.latency) {
            a.add(b).expect("histograms share bounds");
        }
        self.unanchored += o.unanchored;
        self.other_pt += o.other_pt;
        self.misaligned += o.misaligned;
        self.unknown_frame += o.unknown_frame;
        for (a, b) in self.opus_configs.iter_mut().zip(&o.opus_configs) {
            *a += b;
        }
        self.opus_stereo += o.opus_stereo;
        self.opus_bytes += o.opus_bytes;
    }
}

/// Where a receiving leg stands with its stream's frame numbering.
enum Anchor {
    /// Decoding until the onset; counts quiet frames seen in a row.
    Seeking {
        decoder: Option<OpusDecoder>,
        quiet: u32,
    },
    /// Timestamp `ts` is frame `k` of the far leg's stream.
    Found { ts: u32, k: u64 },
}

/// Receives on `endpoints[i]` for every `i` with `i % threads == index`.
#[expect(
    clippy::too_many_arguments,
    reason = "the traffic receiver's arguments plus the mode's"
)]
pub fn receiver(
    endpoints: &[Endpoint],
    index: usize,
    threads: usize,
    plan: Plan,
    stop: &AtomicBool,
    progress: &Progress,
    times: &SendTimes,
    opus_pt: u8,
) -> Result<RxStats> {
    let total = endpoints.len();
    let epoll = Epoll::new()?;
    let mine: Vec<usize> = (index..total).step_by(threads.max(1)).collect();
    let mut anchors = Vec::with_capacity(mine.len());
    for &i in &mine {
        let fd = endpoints[i].socket.as_raw_fd();
        if matches!(plan.rx_clock, RxClock::Kernel { .. }) {
            sys::enable_rx_timestamps(fd)?;
        }
        epoll.add_readable(fd, i as u64)?;
        // Callees (odd) receive Opus.
        let decoder = if i % 2 == 1 {
            Some(OpusDecoder::new(OpusRate::Hz8000).context("Opus decoder")?)
        } else {
            None
        };
        anchors.push(Anchor::Seeking { decoder, quiet: 0 });
    }
    let mut rx = Rx {
        stats: RxStats::new(total),
        extra: RxExtra::new(),
        anchors,
        times,
        plan,
        opus_pt,
        pcm: vec![0i16; 5760],
    };
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut ready = Vec::with_capacity(256);
    let mut batch = RecvBatch::new(BATCH);
    loop {
        let now = sys::now_ns();
        if now >= plan.drain_end_ns || stop.load(Ordering::Relaxed) {
            break;
        }
        let left_ms = ((plan.drain_end_ns - now) / 1_000_000).clamp(1, 20) as i32;
        epoll.wait(&mut events, left_ms, &mut ready)?;
        let mut got = 0u64;
        for &token in &ready {
            let i = token as usize;
            got += rx.read_socket(
                endpoints,
                i,
                (i - index) / threads.max(1),
                &mut batch,
                u64::MAX,
            );
        }
        progress.received.fetch_add(got, Ordering::Relaxed);
        if let RxClock::Kernel { poll, .. } = plan.rx_clock {
            if !poll.is_zero() {
                std::thread::sleep(poll);
            }
        }
    }
    if !stop.load(Ordering::Relaxed) {
        for (slot, &i) in mine.iter().enumerate() {
            let got = rx.read_socket(endpoints, i, slot, &mut batch, plan.drain_end_ns);
            rx.stats.swept += got;
        }
    }
    rx.extra.unanchored = rx
        .anchors
        .iter()
        .filter(|a| matches!(a, Anchor::Seeking { .. }))
        .count() as u64;
    let Rx {
        mut stats, extra, ..
    } = rx;
    stats.transcode = Some(Box::new(extra));
    Ok(stats)
}

const BATCH: usize = 32;

/// One receiver thread's state.
struct Rx<'a> {
    stats: RxStats,
    extra: RxExtra,
    anchors: Vec<Anchor>,
    times: &'a SendTimes,
    plan: Plan,
    opus_pt: u8,
    pcm: Vec<i16>,
}

impl Rx<'_> {
    /// Reads endpoint `i`'s socket (its anchor at `slot`) until empty.
    fn read_socket(
        &mut self,
        endpoints: &[Endpoint],
        i: usize,
        slot: usize,
        batch: &mut RecvBatch,
        cutoff_ns: u64,
    ) -> u64 {
        let fd = endpoints[i].socket.as_raw_fd();
        let mut got = 0u64;
        loop {
            let n = match batch.recv(fd) {
                Ok(n) => n,
                Err(_) => {
                    self.stats.foreign += 1;
                    break;
                }
            };
            if n == 0 {
                break;
            }
            let t_user = sys::now_ns();
            got += n as u64;
            for k in 0..n {
                let t = match self.plan.rx_clock {
                    RxClock::User => t_user,
                    RxClock::Kernel { offset_ns, .. } => batch
                        .timestamp(k)
                        .map_or(t_user, |real| (real as i64 - offset_ns) as u64),
                };
                if t <= cutoff_ns {
                    self.packet(i, slot, batch.get(k), t);
                }
            }
            if n < BATCH {
                break;
            }
        }
        got
    }

    /// One datagram received by endpoint `i` at `t`.
    fn packet(&mut self, i: usize, slot: usize, datagram: &[u8], t: u64) {
        let Ok(view) = RtpView::parse(datagram) else {
            self.stats.foreign += 1;
            return;
        };
        let callee = i % 2 == 1;
        let (pt, step) = if callee {
            (self.opus_pt, 960)
        } else {
            (PT_PCMU, SAMPLES as u32)
        };
        if view.payload_type().0 != pt {
            self.extra.other_pt += 1;
            return;
        }
        let payload = view.payload();
        let ts = view.timestamp();
        let stream = i ^ 1;
        if callee {
            if let Some(&toc) = payload.first() {
                self.extra.opus_configs[usize::from(toc >> 3)] += 1;
                self.extra.opus_stereo += u64::from((toc >> 2) & 1);
                self.extra.opus_bytes += payload.len() as u64;
            }
        }
        let (anchor_ts, anchor_k) = match &mut self.anchors[slot] {
            Anchor::Found { ts, k } => (*ts, *k),
            Anchor::Seeking { decoder, quiet } => {
                let samples = match decoder {
                    Some(d) => d.decode(payload, &mut self.pcm).unwrap_or(0),
                    None => ulaw::decode_into(payload, &mut self.pcm),
                };
                let pcm = &self.pcm[..samples];
                let energy: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
                let rms = (energy / samples.max(1) as f64).sqrt();
                if rms <= LOUD_RMS {
                    *quiet += 1;
                    return;
                }
                if *quiet < 2 {
                    *quiet = 0;
                    return;
                }
                // The latest onset frame of the far stream sent before `t`.
                let mut found = None;
                let mut k = ONSET_FRAME as u64;
                while let Some(sent) = self.times.get(stream, k) {
                    if sent > t {
                        break;
                    }
                    found = Some(k);
                    k += FRAMES as u64;
                }
                let Some(k) = found else {
                    *quiet = 0;
                    return;
                };
                self.anchors[slot] = Anchor::Found { ts, k };
                (ts, k)
            }
        };
        let delta = ts.wrapping_sub(anchor_ts) as i32 as i64;
        if delta % i64::from(step) != 0 {
            self.extra.misaligned += 1;
            return;
        }
        let Some(k) = anchor_k.checked_add_signed(delta / i64::from(step)) else {
            self.extra.unknown_frame += 1;
            return;
        };
        let Some(sent) = self.times.get(stream, k) else {
            self.extra.unknown_frame += 1;
            return;
        };
        if sent >= self.plan.window_start_ns && sent < self.plan.window_end_ns {
            self.stats.received[stream] += 1;
            let ns = t.saturating_sub(sent).max(1);
            self.stats.latency.saturating_record(ns);
            // Stream `stream` even: sent by a caller, i.e. caller→callee.
            self.extra.latency[stream % 2].saturating_record(ns);
        }
    }
}

/// One direction of a transcoded point.
#[derive(Debug, Clone, Serialize)]
pub struct Direction {
    /// `caller->callee (PCMU->opus)` or `callee->caller (opus->PCMU)`.
    pub name: String,
    /// Frames sent in the window.
    pub sent: u64,
    /// Of those, received.
    pub received: u64,
    /// Loss, %.
    pub loss_pct: f64,
    /// Added latency (send to kernel receive), µs.
    pub latency: Latency,
}

/// What a transcoded point adds to [`PointResult`].
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Both directions.
    pub directions: Vec<Direction>,
    /// Streams whose onset never arrived (their packets are all lost here).
    pub unanchored_streams: u64,
    /// Packets of other payload types (not counted).
    pub other_pt: u64,
    /// Packets off the frame grid (not counted).
    pub misaligned: u64,
    /// Packets whose frame was unknown (not counted).
    pub unknown_frame: u64,
    /// Relay CPU per call: ms of CPU per second of a full-duplex call.
    pub relay_cpu_ms_per_call_s: Option<f64>,
    /// Calls one core could carry at that cost (1000 / the above).
    pub cpu_bound_calls_per_core: Option<f64>,
    /// What the relay sends the callee, from the Opus TOC bytes.
    pub opus_to_callee: String,
}

/// Opus TOC configuration names (RFC 6716 3.1).
fn config_name(c: usize) -> String {
    let (mode, bw) = match c {
        0..=3 => ("SILK", "NB"),
        4..=7 => ("SILK", "MB"),
        8..=11 => ("SILK", "WB"),
        12..=13 => ("hybrid", "SWB"),
        14..=15 => ("hybrid", "FB"),
        16..=19 => ("CELT", "NB"),
        20..=23 => ("CELT", "WB"),
        24..=27 => ("CELT", "SWB"),
        _ => ("CELT", "FB"),
    };
    let ms = match c {
        0..=11 => [10.0, 20.0, 40.0, 60.0][c % 4],
        12..=15 => [10.0, 20.0][c % 2],
        _ => [2.5, 5.0, 10.0, 20.0][c % 4],
    };
    format!("{mode} {bw} {ms} ms")
}

/// The summary of a transcoded point.
pub fn summary(
    extra: &RxExtra,
    sent: [u64; 2],
    received: [u64; 2],
    relay_cpu_s: Option<f64>,
    window_s: f64,
    calls: usize,
) -> Summary {
    let names = ["caller->callee (PCMU->opus)", "callee->caller (opus->PCMU)"];
    let directions = (0..2)
        .map(|d| Direction {
            name: names[d].into(),
            sent: sent[d],
            received: received[d],
            loss_pct: if sent[d] == 0 {
                0.0
            } else {
                100.0 * (sent[d] as f64 - received[d] as f64) / sent[d] as f64
            },
            latency: Latency::from_histogram(&extra.latency[d]),
        })
        .collect();
    let per_call = relay_cpu_s
        .filter(|_| calls > 0 && window_s > 0.0)
        .map(|s| 1000.0 * s / window_s / calls as f64);
    let opus_pkts: u64 = extra.opus_configs.iter().sum();
    let mut configs: Vec<String> = extra
        .opus_configs
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(c, &n)| {
            format!(
                "{} {:.1}%",
                config_name(c),
                100.0 * n as f64 / opus_pkts as f64
            )
        })
        .collect();
    if opus_pkts > 0 {
        configs.push(format!(
            "stereo {:.1}%, {:.1} bytes per packet",
            100.0 * extra.opus_stereo as f64 / opus_pkts as f64,
            extra.opus_bytes as f64 / opus_pkts as f64
        ));
    }
    Summary {
        directions,
        unanchored_streams: extra.unanchored,
        other_pt: extra.other_pt,
        misaligned: extra.misaligned,
        unknown_frame: extra.unknown_frame,
        relay_cpu_ms_per_call_s: per_call,
        cpu_bound_calls_per_core: per_call.filter(|&c| c > 0.0).map(|c| 1000.0 / c),
        opus_to_callee: configs.join(", "),
    }
}

/// The largest load a relay carried within the limits.
#[derive(Debug, Clone, Serialize)]
pub struct Capacity {
    /// Relay (and variant).
    pub relay: String,
    /// The p99 limit, µs (see [`P99_LIMITS_US`]).
    pub p99_limit_us: f64,
    /// Largest calls with no loss and p99 under the limit in both
    /// directions below the first failing point, if any passed.
    pub max_calls: Option<usize>,
    /// Smallest calls that failed, if any.
    pub first_fail: Option<usize>,
    /// Why that point failed.
    pub first_fail_reason: Option<String>,
}

/// Why a transcoded point misses the limits (p99 under `limit_us`), or
/// `None` if it passes.
pub fn fails(p: &PointResult, limit_us: f64) -> Option<String> {
    let s = p.transcode.as_ref()?;
    let mut why = Vec::new();
    if p.lost > 0 || p.send_errors > 0 {
        why.push(format!("loss {:.3}%", p.loss_pct));
    }
    if s.unanchored_streams > 0 {
        why.push(format!("{} streams never anchored", s.unanchored_streams));
    }
    for d in &s.directions {
        if d.latency.p99_us >= limit_us || d.latency.count == 0 {
            why.push(format!("{} p99 {:.0} us", d.name, d.latency.p99_us));
        }
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// Calls per core of each relay among `points` (transcoded ones only).
pub fn capacities(points: &[PointResult]) -> Vec<Capacity> {
    let mut relays: Vec<&str> = Vec::new();
    for p in points.iter().filter(|p| p.transcode.is_some()) {
        if !relays.contains(&p.relay.as_str()) {
            relays.push(&p.relay);
        }
    }
    let mut out = Vec::new();
    for limit in P99_LIMITS_US {
        out.extend(relays.iter().map(|&relay| {
            let mut mine: Vec<&PointResult> = points
                .iter()
                .filter(|p| p.relay == relay && p.transcode.is_some())
                .collect();
            mine.sort_by_key(|p| p.calls);
            let fail = mine
                .iter()
                .find_map(|p| fails(p, limit).map(|w| (p.calls, w)));
            let max_calls = mine
                .iter()
                .filter(|p| fail.as_ref().is_none_or(|(c, _)| p.calls < *c))
                .map(|p| p.calls)
                .max();
            Capacity {
                relay: relay.into(),
                p99_limit_us: limit,
                max_calls,
                first_fail: fail.as_ref().map(|(c, _)| *c),
                first_fail_reason: fail.map(|(_, w)| w),
            }
        }));
    }
    out
}

/// The per-direction table and the calls-per-core summary.
pub fn table(points: &[PointResult], capacity: &[Capacity]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if capacity.is_empty() {
        return s;
    }
    let _ = writeln!(
        s,
        "\ntranscoding, per direction (latency added by the relay, send to kernel receive):"
    );
    let _ = writeln!(
        s,
        "{:<16} {:>6} {:<28} {:>9} {:>8} {:>8} {:>9} {:>9} {:>7} {:>9}",
        "relay",
        "calls",
        "direction",
        "loss%",
        "p50us",
        "p99us",
        "p99.9us",
        "max_us",
        "cpu%",
        "ms/call/s"
    );
    for p in points {
        let Some(t) = &p.transcode else { continue };
        for d in &t.directions {
            let _ = writeln!(
                s,
                "{:<16} {:>6} {:<28} {:>9.4} {:>8.0} {:>8.0} {:>9.0} {:>9.0} {:>7} {:>9}",
                p.relay,
                p.calls,
                d.name,
                d.loss_pct,
                d.latency.p50_us,
                d.latency.p99_us,
                d.latency.p999_us,
                d.latency.max_us,
                p.relay_cpu_pct
                    .map_or_else(|| "-".into(), |v| format!("{v:.1}")),
                t.relay_cpu_ms_per_call_s
                    .map_or_else(|| "-".into(), |v| format!("{v:.3}")),
            );
        }
        let _ = writeln!(
            s,
            "    opus to callee: {}; unanchored streams {}, other PT {}, misaligned {}, unknown frame {}{}",
            if t.opus_to_callee.is_empty() { "-" } else { &t.opus_to_callee },
            t.unanchored_streams,
            t.other_pt,
            t.misaligned,
            t.unknown_frame,
            fails(p, P99_LIMITS_US[0]).map_or_else(String::new, |w| format!("; over the limits: {w}"))
        );
    }
    let _ = writeln!(
        s,
        "\ntranscoded calls (no loss, p99 under the limit both ways):"
    );
    for c in capacity {
        let _ = writeln!(
            s,
            "  p99 < {:>2.0} ms  {:<16} {}{}",
            c.p99_limit_us / 1000.0,
            c.relay,
            c.max_calls
                .map_or_else(|| "none passed".into(), |v| format!("{v} calls")),
            match (&c.first_fail, &c.first_fail_reason) {
                (Some(n), Some(w)) => format!(" (first failure at {n}: {w})"),
                _ => " (no point failed)".into(),
            }
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_onset_and_media() {
        let pcm = signal();
        let onset = ONSET_FRAME * SAMPLES + ONSET_SAMPLE;
        assert!(pcm[..onset].iter().all(|&s| s == 0));
        let rms = |f: &[i16]| {
            (f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / f.len() as f64).sqrt()
        };
        let onset_frame = &pcm[ONSET_FRAME * SAMPLES..(ONSET_FRAME + 1) * SAMPLES];
        assert!(rms(onset_frame) > 3.0 * LOUD_RMS, "{}", rms(onset_frame));
        let m = media().expect("media");
        assert_eq!(m.pcmu.len(), FRAMES);
        assert_eq!(m.opus.len(), FRAMES);
        // Through Opus and back, the onset stays in its frame.
        let mut dec = OpusDecoder::new(OpusRate::Hz8000).expect("decoder");
        let mut out = [0i16; 960];
        let loud: Vec<bool> = m
            .opus
            .iter()
            .take(ONSET_FRAME + 2)
            .map(|p| {
                let n = dec.decode(p, &mut out).expect("decode");
                rms(&out[..n]) > LOUD_RMS
            })
            .collect();
        assert_eq!(loud[..ONSET_FRAME], [false; ONSET_FRAME]);
        assert!(loud[ONSET_FRAME] && loud[ONSET_FRAME + 1]);
    }

    #[test]
    fn finds_opus_pt_and_formats() {
        let sdp = "v=0\r\nm=audio 1 RTP/AVP 0 96 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:96 opus/48000/2\r\n";
        assert_eq!(opus_pt(sdp), Some(96));
        assert_eq!(audio_formats(sdp), ["0", "96", "101"]);
        let a: SocketAddr = "127.0.0.1:4000".parse().expect("literal");
        assert_eq!(opus_pt(&answer_sdp(a, 1, 97)), Some(97));
        assert_eq!(ng::media_addr(&offer_sdp(a, 1)).expect("sdp"), a);
        assert_eq!(opus_pt(&offer_sdp(a, 1)), None);
    }

    #[test]
    fn send_times_ring() {
        let t = SendTimes::new(2);
        t.record(1, 7, 700);
        assert_eq!(t.get(1, 7), Some(700));
        assert_eq!(t.get(0, 7), None);
        t.record(1, 7 + RING as u64, 900);
        assert_eq!(t.get(1, 7), None);
        assert_eq!(t.get(1, 7 + RING as u64), Some(900));
    }

    #[test]
    fn config_names() {
        assert_eq!(config_name(1), "SILK NB 20 ms");
        assert_eq!(config_name(31), "CELT FB 20 ms");
        assert_eq!(config_name(15), "hybrid FB 20 ms");
    }
}

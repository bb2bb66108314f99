//! Shared helpers of the integration tests: plans, RTP packets, a sink
//! that keeps everything, signal measures.
#![allow(dead_code, reason = "each test file uses a different subset")]

use std::f64::consts::PI;
use std::time::{Duration, Instant, SystemTime};

use sluice_rtp::RtpView;
use sluice_transcode::{
    AudioCodec, DigitReport, DirectionPlan, DropCause, DtmfFormat, InputCodec, MediaPlan,
    MediaTranscoder, OpusParams, OutputCodec, Settings, Sink,
};

pub const MS: Duration = Duration::from_millis(1);

/// An RTP packet as sent: header fields and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkt {
    pub pt: u8,
    pub marker: bool,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    pub payload: Vec<u8>,
}

impl Pkt {
    pub fn parse(b: &[u8]) -> Pkt {
        let v = RtpView::parse(b).expect("we send valid RTP");
        Pkt {
            pt: v.payload_type().0,
            marker: v.marker(),
            seq: v.seq().0,
            ts: v.timestamp(),
            ssrc: v.ssrc().0,
            payload: v.payload().to_vec(),
        }
    }
}

/// Builds an RTP packet.
pub fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&ssrc.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Keeps everything the transcoder produces.
#[derive(Debug, Default)]
pub struct Collect {
    pub rtp: [Vec<Pkt>; 2],
    pub rtcp: [Vec<Vec<u8>>; 2],
    pub drops: Vec<(usize, DropCause)>,
    pub digits: Vec<(usize, DigitReport)>,
}

impl Sink for Collect {
    fn rtp(&mut self, to_leg: usize, packet: &[u8]) {
        self.rtp[to_leg].push(Pkt::parse(packet));
    }
    fn rtcp(&mut self, to_leg: usize, packet: &[u8]) {
        self.rtcp[to_leg].push(packet.to_vec());
    }
    fn dropped(&mut self, from_leg: usize, reason: DropCause) {
        self.drops.push((from_leg, reason));
    }
    fn digit(&mut self, from_leg: usize, digit: DigitReport) {
        self.digits.push((from_leg, digit));
    }
}

pub fn opus() -> AudioCodec {
    AudioCodec::Opus(OpusParams::default())
}

pub fn opus_with(f: impl FnOnce(&mut OpusParams)) -> AudioCodec {
    let mut p = OpusParams::default();
    f(&mut p);
    AudioCodec::Opus(p)
}

pub fn pt_of(c: AudioCodec) -> u8 {
    match c {
        AudioCodec::Pcmu => 0,
        AudioCodec::Pcma => 8,
        AudioCodec::Opus(_) => 111,
    }
}

/// One direction from `input` to `output` at `ptime`.
pub fn dir(input: AudioCodec, output: AudioCodec, ptime: u32) -> DirectionPlan {
    DirectionPlan {
        inputs: vec![InputCodec {
            payload_type: pt_of(input),
            codec: input,
        }],
        output: OutputCodec {
            payload_type: pt_of(output),
            codec: output,
            ptime_ms: ptime,
        },
        input_dtmf: None,
        output_dtmf: None,
    }
}

pub fn te(pt: u8, clock: u32) -> Option<DtmfFormat> {
    Some(DtmfFormat {
        payload_type: pt,
        clock_rate: clock,
    })
}

/// A plan with only leg 0 sending (to leg 1).
pub fn one_way(d: DirectionPlan) -> MediaPlan {
    MediaPlan {
        directions: [Some(d), None],
    }
}

pub fn settings() -> Settings {
    Settings {
        generate_rtcp: false,
        ..Settings::default()
    }
}

pub fn transcoder(plan: &MediaPlan, t0: Instant) -> MediaTranscoder {
    MediaTranscoder::new(
        plan,
        &settings(),
        42,
        t0,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    )
    .expect("valid plan")
}

pub fn sine(hz: f64, amp: f64, rate: u32, start: usize, len: usize) -> Vec<i16> {
    (start..start + len)
        .map(|n| (amp * (2.0 * PI * hz * n as f64 / f64::from(rate)).sin()).round() as i16)
        .collect()
}

/// A linear sweep from `f0` to `f1` Hz over `len` samples.
pub fn sweep(f0: f64, f1: f64, amp: f64, rate: u32, len: usize) -> Vec<i16> {
    let fs = f64::from(rate);
    let dur = len as f64 / fs;
    (0..len)
        .map(|n| {
            let t = n as f64 / fs;
            (amp * (2.0 * PI * (f0 * t + (f1 - f0) * t * t / (2.0 * dur))).sin()).round() as i16
        })
        .collect()
}

pub fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// Power at `hz` (Goertzel).
pub fn power_at(x: &[i16], hz: f64, fs: f64) -> f64 {
    let coeff = 2.0 * (2.0 * PI * hz / fs).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s0 = f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// Best SNR (dB) of `y` against `x` delayed by a lag in `0..max_lag`,
/// with a least-squares gain; returns (snr, lag).
pub fn snr(x: &[i16], y: &[i16], max_lag: usize) -> (f64, usize) {
    let mut best = (f64::MIN, 0);
    for lag in 0..max_lag {
        let n = x.len().min(y.len().saturating_sub(lag));
        if n < 100 {
            break;
        }
        let (xs, ys) = (&x[..n], &y[lag..lag + n]);
        let xy: f64 = xs
            .iter()
            .zip(ys)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum();
        let xx: f64 = xs.iter().map(|&a| f64::from(a).powi(2)).sum();
        let g = if xx > 0.0 { xy / xx } else { 0.0 };
        let sig: f64 = xs.iter().map(|&a| (g * f64::from(a)).powi(2)).sum();
        let noise: f64 = xs
            .iter()
            .zip(ys)
            .map(|(&a, &b)| (f64::from(b) - g * f64::from(a)).powi(2))
            .sum();
        let s = 10.0 * (sig / noise.max(1e-9)).log10();
        if s > best.0 {
            best = (s, lag);
        }
    }
    best
}

/// 20 ms PCMU packets of `pcm` (8 kHz), sequence from `seq0`, timestamp
/// from `ts0`.
pub fn pcmu_packets(pcm: &[i16], seq0: u16, ts0: u32, ssrc: u32, samples: usize) -> Vec<Vec<u8>> {
    pcm.chunks_exact(samples)
        .enumerate()
        .map(|(k, c)| {
            let mut codes = vec![0u8; c.len()];
            sluice_codec::g711::ulaw::encode_into(c, &mut codes);
            rtp(
                0,
                k == 0,
                seq0.wrapping_add(k as u16),
                ts0.wrapping_add((k * samples) as u32),
                ssrc,
                &codes,
            )
        })
        .collect()
}

/// Feeds `packets` from leg 0 one per `step`, polling as time passes;
/// returns the time after the last.
pub fn feed(
    t: &mut MediaTranscoder,
    packets: &[Vec<u8>],
    t0: Instant,
    step: Duration,
    sink: &mut Collect,
) -> Instant {
    let mut now = t0;
    for p in packets {
        t.poll(now, sink);
        t.push_rtp(0, p, now, sink);
        now += step;
    }
    t.poll(now + Duration::from_secs(1), sink);
    now
}

/// Decodes PCMU payloads back to PCM.
pub fn decode_pcmu(pkts: &[Pkt]) -> Vec<i16> {
    let mut out = Vec::new();
    for p in pkts.iter().filter(|p| p.pt == 0) {
        let mut pcm = vec![0i16; p.payload.len()];
        sluice_codec::g711::ulaw::decode_into(&p.payload, &mut pcm);
        out.extend(pcm);
    }
    out
}

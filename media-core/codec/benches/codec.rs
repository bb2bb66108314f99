//! One 20 ms frame through each codec path the transcoder uses.
//!
//! `cargo bench -p sluice-codec --bench codec`

#![allow(
    missing_docs,
    reason = "criterion_group! generates undocumented public functions"
)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use sluice_codec::g711::{self, alaw, ulaw};
use sluice_codec::opus::{OpusDecoder, OpusEncoder, OpusEncoderConfig, OpusRate, MAX_PACKET_BYTES};

/// A voice-like test signal: two harmonics with a slow level swing plus
/// a little deterministic noise, so the encoder has real work to do.
fn signal(rate: OpusRate, frames: usize) -> Vec<i16> {
    let fs = f64::from(rate.hz());
    let mut seed: u32 = 0x1234_5678;
    (0..rate.frame_samples() * frames)
        .map(|n| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = f64::from((seed >> 16) as i16 >> 6);
            let t = n as f64 / fs;
            let env = 0.6 + 0.4 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
            let tone = (2.0 * std::f64::consts::PI * 220.0 * t).sin() * 6000.0
                + (2.0 * std::f64::consts::PI * 660.0 * t).sin() * 2500.0;
            (env * tone + noise) as i16
        })
        .collect()
}

fn g711_benches(c: &mut Criterion) {
    let pcm = signal(OpusRate::Hz8000, 1);
    let mut codes = [0u8; 160];
    ulaw::encode_into(&pcm, &mut codes);
    let mut out = [0i16; 160];
    c.bench_function("pcmu decode+encode 160 samples", |b| {
        b.iter(|| {
            ulaw::decode_into(black_box(&codes), &mut out);
            ulaw::encode_into(black_box(&out), &mut codes);
        })
    });
    c.bench_function("pcma decode+encode 160 samples", |b| {
        alaw::encode_into(&pcm, &mut codes);
        b.iter(|| {
            alaw::decode_into(black_box(&codes), &mut out);
            alaw::encode_into(black_box(&out), &mut codes);
        })
    });
    c.bench_function("pcmu->pcma in place 160 samples", |b| {
        b.iter(|| g711::ulaw_to_alaw_in_place(black_box(&mut codes)))
    });
}

fn opus_benches(c: &mut Criterion) {
    for (rate, name) in [(OpusRate::Hz8000, "8k"), (OpusRate::Hz48000, "48k")] {
        let frames = 50;
        let pcm = signal(rate, frames);
        let n = rate.frame_samples();
        for complexity in [10u8, 5] {
            let config = OpusEncoderConfig {
                complexity,
                ..OpusEncoderConfig::new(rate)
            };
            let mut enc = OpusEncoder::new(&config).expect("valid config");
            let mut packet = [0u8; MAX_PACKET_BYTES];
            let mut i = 0;
            c.bench_function(&format!("opus encode 20ms {name} c{complexity}"), |b| {
                b.iter(|| {
                    let frame = &pcm[(i % frames) * n..][..n];
                    i += 1;
                    enc.encode(black_box(frame), &mut packet).expect("encodes")
                })
            });
        }
        // Decode a second of packets in a loop.
        let mut enc = OpusEncoder::new(&OpusEncoderConfig::new(rate)).expect("valid config");
        let mut buf = [0u8; MAX_PACKET_BYTES];
        let packets: Vec<Vec<u8>> = pcm
            .chunks_exact(n)
            .map(|f| {
                let len = enc.encode(f, &mut buf).expect("encodes");
                buf[..len].to_vec()
            })
            .collect();
        let mut dec = OpusDecoder::new(rate).expect("decoder");
        let mut out = vec![0i16; n];
        let mut i = 0;
        c.bench_function(&format!("opus decode 20ms {name}"), |b| {
            b.iter(|| {
                let p = &packets[i % frames];
                i += 1;
                dec.decode(black_box(p), &mut out).expect("decodes")
            })
        });
    }
}

criterion_group!(benches, g711_benches, opus_benches);
criterion_main!(benches);

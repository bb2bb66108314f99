//! Round trips through libopus, judged by frequency, level and SNR.

use super::*;
use std::f64::consts::PI;

fn sine(rate: OpusRate, hz: f64, amplitude: f64, start: usize, len: usize) -> Vec<i16> {
    let fs = f64::from(rate.hz());
    (start..start + len)
        .map(|n| (amplitude * (2.0 * PI * hz * n as f64 / fs).sin()).round() as i16)
        .collect()
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Power of `x` at `hz` (one DFT bin, Goertzel).
fn power_at(x: &[i16], hz: f64, fs: f64) -> f64 {
    let coeff = 2.0 * (2.0 * PI * hz / fs).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s0 = f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// SNR of `y` against `x` delayed by the lag within `lags` that
/// maximises it; returns (snr_db, lag).
fn aligned_snr(
    x: &[i16],
    y: &[i16],
    skip: usize,
    lags: std::ops::RangeInclusive<usize>,
) -> (f64, usize) {
    let mut best = (f64::MIN, 0);
    for lag in lags {
        let (mut sig, mut err) = (0.0, 0.0);
        for n in skip..y.len() {
            let r = f64::from(x[n - lag]);
            sig += r * r;
            err += (f64::from(y[n]) - r).powi(2);
        }
        let snr = 10.0 * (sig / err.max(1e-9)).log10();
        if snr > best.0 {
            best = (snr, lag);
        }
    }
    best
}

/// Encodes and decodes `pcm` frame by frame.
fn round_trip(enc: &mut OpusEncoder, dec: &mut OpusDecoder, pcm: &[i16]) -> Vec<i16> {
    let n = enc.frame_samples();
    let mut packet = [0u8; MAX_PACKET_BYTES];
    let mut frame = vec![0i16; n];
    let mut out = Vec::with_capacity(pcm.len());
    for chunk in pcm.chunks_exact(n) {
        let len = enc
            .encode(chunk, &mut packet)
            .expect("a 20 ms frame encodes");
        assert!(len > 0 && len <= MAX_PACKET_BYTES);
        let got = dec
            .decode(&packet[..len], &mut frame)
            .expect("our own packet decodes");
        assert_eq!(got, n);
        out.extend_from_slice(&frame);
    }
    out
}

#[test]
fn sine_round_trip_at_8_16_48_khz() {
    println!("{}", libopus_version());
    for rate in [OpusRate::Hz8000, OpusRate::Hz16000, OpusRate::Hz48000] {
        let fs = f64::from(rate.hz());
        let pcm = sine(rate, 1000.0, 10000.0, 0, rate.samples(1000));
        let mut enc = OpusEncoder::new(&OpusEncoderConfig::new(rate)).expect("encoder");
        let mut dec = OpusDecoder::new(rate).expect("decoder");
        let lookahead = enc.lookahead().expect("lookahead");
        let out = round_trip(&mut enc, &mut dec, &pcm);
        assert_eq!(out.len(), pcm.len());

        // Judge the steady state: skip the first 200 ms.
        let steady = &out[rate.samples(200)..];
        let p1k = power_at(steady, 1000.0, fs);
        for other in [250.0, 500.0, 1500.0, 2000.0, 3000.0] {
            let p = power_at(steady, other, fs);
            assert!(
                p1k > 100.0 * p,
                "{fs} Hz: 1 kHz not dominant over {other} Hz"
            );
        }
        let crossings = steady
            .windows(2)
            .filter(|w| (w[0] < 0) != (w[1] < 0))
            .count();
        let seconds = steady.len() as f64 / fs;
        let freq = crossings as f64 / 2.0 / seconds;
        assert!(
            (freq - 1000.0).abs() < 10.0,
            "{fs} Hz: zero crossings say {freq} Hz"
        );
        let level_db = 20.0 * (rms(steady) / rms(&pcm[rate.samples(200)..])).log10();
        assert!(
            level_db.abs() < 1.0,
            "{fs} Hz: level off by {level_db:.2} dB"
        );

        // The codec delay is the encoder's lookahead (6.5 ms); search a
        // few samples around it.
        let (snr, lag) = aligned_snr(&pcm, &out, rate.samples(200), lookahead - 3..=lookahead + 3);
        println!(
            "opus {fs} Hz, 1 kHz sine, peak 10000: SNR {snr:.1} dB at lag {lag} samples \
             (lookahead {lookahead}), level {level_db:+.2} dB, {freq:.1} Hz"
        );
        assert!(snr > 10.0, "{fs} Hz: SNR {snr:.1} dB");
    }
}

#[test]
fn concealment_fills_the_lost_duration() {
    let rate = OpusRate::Hz8000;
    let mut enc = OpusEncoder::new(&OpusEncoderConfig::new(rate)).expect("encoder");
    let mut dec = OpusDecoder::new(rate).expect("decoder");
    let pcm = sine(rate, 440.0, 8000.0, 0, rate.samples(200));
    round_trip(&mut enc, &mut dec, &pcm);

    let mut out = vec![0i16; rate.frame_samples()];
    assert_eq!(dec.decode_lost(&mut out), Ok(160));
    assert!(rms(&out) > 1000.0, "concealment continues the tone");
    let mut ten_ms = vec![0i16; 80];
    assert_eq!(dec.decode_lost(&mut ten_ms), Ok(80));
    assert_eq!(
        dec.decode_lost(&mut [0i16; 7]),
        Err(OpusError::LossDuration(7))
    );
    assert_eq!(dec.decode_lost(&mut []), Err(OpusError::LossDuration(0)));

    let mut dec48 = OpusDecoder::new(OpusRate::Hz48000).expect("decoder");
    let mut out48 = vec![0i16; 960];
    assert_eq!(dec48.decode_lost(&mut out48), Ok(960));
}

#[test]
fn fec_recovers_a_lost_frame_better_than_concealment() {
    for rate in [OpusRate::Hz8000, OpusRate::Hz16000] {
        let n = rate.frame_samples();
        let config = OpusEncoderConfig {
            fec: true,
            expected_loss_percent: 20,
            bitrate: Some(24_000),
            ..OpusEncoderConfig::new(rate)
        };
        let mut enc = OpusEncoder::new(&config).expect("encoder");
        // A tone that jumps in pitch and level at the lost frame, so that
        // concealment (which continues the past) cannot guess it.
        let lost = 20;
        let mut pcm = sine(rate, 300.0, 4000.0, 0, lost * n);
        pcm.extend(sine(rate, 700.0, 12000.0, lost * n, 10 * n));
        let mut packets = Vec::new();
        let mut buf = [0u8; MAX_PACKET_BYTES];
        for chunk in pcm.chunks_exact(n) {
            let len = enc.encode(chunk, &mut buf).expect("encodes");
            packets.push(buf[..len].to_vec());
        }

        let mut with_fec = OpusDecoder::new(rate).expect("decoder");
        let mut with_plc = OpusDecoder::new(rate).expect("decoder");
        let mut frame = vec![0i16; n];
        for p in &packets[..lost] {
            with_fec.decode(p, &mut frame).expect("decodes");
            with_plc.decode(p, &mut frame).expect("decodes");
        }
        let mut fec = vec![0i16; n];
        let mut plc = vec![0i16; n];
        assert_eq!(with_fec.decode_fec(&packets[lost + 1], &mut fec), Ok(n));
        assert_eq!(with_plc.decode_lost(&mut plc), Ok(n));
        // Both continue with the next packet.
        assert_eq!(with_fec.decode(&packets[lost + 1], &mut frame), Ok(n));

        // The recovered frame has the new tone's level and pitch.
        let fs = f64::from(rate.hz());
        let fec_700 = power_at(&fec[n / 2..], 700.0, fs);
        let plc_700 = power_at(&plc[n / 2..], 700.0, fs);
        println!(
            "opus {fs} Hz FEC: recovered rms {:.0} (700 Hz power {fec_700:.3e}), \
             concealed rms {:.0} (700 Hz power {plc_700:.3e})",
            rms(&fec),
            rms(&plc)
        );
        assert!(
            fec_700 > 10.0 * plc_700,
            "{fs} Hz: FEC frame no closer than concealment"
        );
    }
}

#[test]
fn dtx_sends_tiny_packets_in_silence() {
    let rate = OpusRate::Hz8000;
    let config = OpusEncoderConfig {
        dtx: true,
        ..OpusEncoderConfig::new(rate)
    };
    let mut enc = OpusEncoder::new(&config).expect("encoder");
    let silence = vec![0i16; rate.frame_samples()];
    let mut buf = [0u8; MAX_PACKET_BYTES];
    let lens: Vec<usize> = (0..50)
        .map(|_| enc.encode(&silence, &mut buf).expect("encodes"))
        .collect();
    assert!(
        lens[20..].iter().filter(|&&l| l <= 2).count() >= 20,
        "{lens:?}"
    );
}

#[test]
fn misuse_and_garbage_are_errors() {
    assert_eq!(
        OpusRate::from_hz(44100),
        Err(OpusError::UnsupportedRate(44100))
    );
    assert_eq!(OpusRate::from_hz(16000), Ok(OpusRate::Hz16000));
    let rate = OpusRate::Hz8000;
    let bad = OpusEncoderConfig {
        complexity: 11,
        ..OpusEncoderConfig::new(rate)
    };
    assert_eq!(
        OpusEncoder::new(&bad).err(),
        Some(OpusError::UnsupportedComplexity(11))
    );
    let bad = OpusEncoderConfig {
        bitrate: Some(100),
        ..OpusEncoderConfig::new(rate)
    };
    assert_eq!(
        OpusEncoder::new(&bad).err(),
        Some(OpusError::UnsupportedBitrate(100))
    );

    let mut enc = OpusEncoder::new(&OpusEncoderConfig::new(rate)).expect("encoder");
    let mut buf = [0u8; MAX_PACKET_BYTES];
    assert_eq!(
        enc.encode(&[0i16; 100], &mut buf),
        Err(OpusError::FrameSize {
            expected: 160,
            got: 100
        })
    );

    let mut dec = OpusDecoder::new(rate).expect("decoder");
    let mut out = [0i16; 960];
    assert_eq!(dec.decode(&[], &mut out), Err(OpusError::InvalidPacket));
    // Code 3 packet claiming 63 frames of 20 ms: over 120 ms.
    assert_eq!(
        dec.decode(&[0xFB, 0x3F, 0, 0], &mut out),
        Err(OpusError::InvalidPacket)
    );
    // A valid 20 ms packet into a 10 ms buffer.
    let len = enc.encode(&[0i16; 160], &mut buf).expect("encodes");
    assert_eq!(dec.packet_samples(&buf[..len]), Ok(160));
    assert_eq!(
        dec.decode(&buf[..len], &mut out[..80]),
        Err(OpusError::BufferTooSmall)
    );
    // Still usable afterwards.
    assert_eq!(dec.decode(&buf[..len], &mut out), Ok(160));
}

/// The encoder takes every packet duration RTP `ptime` may ask for that
/// Opus can carry in one packet (10, 20, 40, 60 ms, up to 120 ms) and
/// refuses durations it cannot (30 ms); the decoder gets them back whole.
#[test]
fn encoder_takes_10_to_120_ms_frames() {
    for rate in [OpusRate::Hz8000, OpusRate::Hz16000, OpusRate::Hz48000] {
        let mut enc = OpusEncoder::new(&OpusEncoderConfig::new(rate)).expect("encoder");
        let mut dec = OpusDecoder::new(rate).expect("decoder");
        let mut buf = [0u8; 4000];
        let mut out = vec![0i16; rate.samples(120)];
        for ms in [10usize, 20, 40, 60, 80, 100, 120] {
            let n = rate.samples(ms);
            assert!(enc.is_frame_duration(n), "{ms} ms at {rate:?}");
            let pcm: Vec<i16> = (0..n).map(|i| ((i * 37) % 2000) as i16 - 1000).collect();
            let len = enc.encode(&pcm, &mut buf).expect("encodes");
            assert_eq!(
                dec.packet_samples(&buf[..len]),
                Ok(n),
                "{ms} ms at {rate:?}"
            );
            assert_eq!(dec.decode(&buf[..len], &mut out), Ok(n));
        }
        for ms in [30usize, 50, 70] {
            let n = rate.samples(ms);
            assert!(!enc.is_frame_duration(n), "{ms} ms at {rate:?}");
            assert!(matches!(
                enc.encode(&vec![0i16; n], &mut buf),
                Err(OpusError::FrameSize { .. })
            ));
        }
    }
}

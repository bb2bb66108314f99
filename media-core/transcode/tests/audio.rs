//! The audio pipeline end to end: round trips, code-exact G.711
//! translation, copy mode, Opus rates, repacketization, the translator's
//! timestamps across wraps, the jitter buffer with PLC and FEC.

mod common;

use std::time::{Duration, Instant};

use common::*;
use sluice_codec::g711;
use sluice_codec::opus::{OpusDecoder, OpusEncoder, OpusEncoderConfig, OpusRate};
use sluice_transcode::{AudioCodec, MediaPlan, TranscodeError};

/// PCMU -> Opus -> PCMU through two transcoders: a 1 kHz tone and a
/// 300-3400 Hz sweep keep frequency and level.
#[test]
fn pcmu_opus_pcmu_round_trip() {
    for (name, signal) in [
        ("1 kHz tone", sine(1000.0, 8000.0, 8000, 0, 8000)),
        (
            "sweep 300-3400 Hz",
            sweep(300.0, 3400.0, 8000.0, 8000, 16000),
        ),
    ] {
        let t0 = Instant::now();
        let mut a = transcoder(&one_way(dir(AudioCodec::Pcmu, opus(), 20)), t0);
        let mut b = transcoder(&one_way(dir(opus(), AudioCodec::Pcmu, 20)), t0);
        let mut sa = Collect::default();
        let pkts = pcmu_packets(&signal, 100, 5000, 1, 160);
        feed(&mut a, &pkts, t0, 20 * MS, &mut sa);
        assert_eq!(
            sa.rtp[1].len(),
            pkts.len(),
            "{name}: one Opus packet per 20 ms"
        );
        assert!(sa.drops.is_empty(), "{name}: {:?}", sa.drops);
        let opus_pkts: Vec<Vec<u8>> = sa.rtp[1]
            .iter()
            .map(|p| rtp(p.pt, p.marker, p.seq, p.ts, p.ssrc, &p.payload))
            .collect();
        let mut sb = Collect::default();
        feed(&mut b, &opus_pkts, t0, 20 * MS, &mut sb);
        assert_eq!(sb.rtp[1].len(), pkts.len());
        let y = decode_pcmu(&sb.rtp[1]);
        // The reference: the G.711 signal as sent.
        let mut x = vec![0i16; signal.len()];
        let mut codes = vec![0u8; signal.len()];
        g711::ulaw::encode_into(&signal, &mut codes);
        g711::ulaw::decode_into(&codes, &mut x);
        let (snr_db, lag) = snr(&x[800..], &y[800..], 200);
        println!("{name}: PCMU->Opus->PCMU SNR {snr_db:.1} dB at lag {lag} samples");
        let level = rms(&y[1600..]) / rms(&x[1600..]);
        println!("{name}: level ratio {level:.3}");
        assert!((0.8..1.2).contains(&level), "{name}: level {level}");
        if name.starts_with('1') {
            assert!(snr_db > 15.0, "{name}: SNR {snr_db}");
            let p1k = power_at(&y[1600..], 1000.0, 8000.0);
            for other in [500.0, 1500.0, 2000.0] {
                assert!(
                    p1k > 100.0 * power_at(&y[1600..], other, 8000.0),
                    "tone stays at 1 kHz"
                );
            }
        } else {
            assert!(snr_db > 8.0, "{name}: SNR {snr_db}");
        }
    }
}

/// PCMU <-> PCMA is translated code by code, and the same codec with the
/// same ptime is copied byte for byte.
#[test]
fn g711_translation_is_code_exact_and_copy_is_identity() {
    let signal = sweep(200.0, 3800.0, 12000.0, 8000, 1600);
    for (out, expect) in [
        (
            AudioCodec::Pcma,
            Box::new(|c: u8| g711::ulaw_to_alaw(c)) as Box<dyn Fn(u8) -> u8>,
        ),
        (AudioCodec::Pcmu, Box::new(|c: u8| c)),
    ] {
        let t0 = Instant::now();
        let mut t = transcoder(&one_way(dir(AudioCodec::Pcmu, out, 20)), t0);
        let mut s = Collect::default();
        let pkts = pcmu_packets(&signal, 1, 1, 9, 160);
        feed(&mut t, &pkts, t0, 20 * MS, &mut s);
        assert_eq!(s.rtp[1].len(), pkts.len());
        for (i, o) in pkts.iter().zip(&s.rtp[1]) {
            let want: Vec<u8> = i[12..].iter().map(|&c| expect(c)).collect();
            assert_eq!(o.payload, want);
            assert_eq!(o.pt, pt_of(out));
        }
        let st = t.stats(0);
        assert_eq!(st.copied_frames, pkts.len() as u64);
        assert_eq!(st.decoded_frames, 0);
    }
    // A-law back to µ-law too.
    let t0 = Instant::now();
    let mut t = transcoder(&one_way(dir(AudioCodec::Pcma, AudioCodec::Pcmu, 20)), t0);
    let mut s = Collect::default();
    let codes: Vec<u8> = (0..=255u8).cycle().take(160).collect();
    t.push_rtp(0, &rtp(8, true, 1, 0, 3, &codes), t0, &mut s);
    let want: Vec<u8> = codes.iter().map(|&c| g711::alaw_to_ulaw(c)).collect();
    assert_eq!(s.rtp[1][0].payload, want);
}

/// Opus to Opus with a ptime change (so audio is decoded) runs at 8, 16
/// or 48 kHz as the fmtp allow, and the tone survives.
#[test]
fn opus_to_opus_at_8_16_48_khz() {
    for (cap, rate) in [
        (8000, OpusRate::Hz8000),
        (16000, OpusRate::Hz16000),
        (48000, OpusRate::Hz48000),
    ] {
        let input = opus_with(|p| p.sprop_max_capture_rate = cap);
        let output = opus_with(|p| p.max_playback_rate = 48000);
        let plan = dir(input, output, 40);
        assert_eq!(sluice_transcode::stream::internal_rate(&plan), rate);
        let t0 = Instant::now();
        let mut t = transcoder(&one_way(plan), t0);
        let mut enc = OpusEncoder::new(&OpusEncoderConfig::new(rate)).expect("encoder");
        let n = rate.frame_samples();
        let signal = sine(1000.0, 8000.0, rate.hz(), 0, n * 50);
        let mut pkts = Vec::new();
        let mut buf = [0u8; 1500];
        for (k, c) in signal.chunks_exact(n).enumerate() {
            let len = enc.encode(c, &mut buf).expect("encodes");
            pkts.push(rtp(111, k == 0, k as u16, (k * 960) as u32, 5, &buf[..len]));
        }
        let mut s = Collect::default();
        feed(&mut t, &pkts, t0, 20 * MS, &mut s);
        assert_eq!(s.rtp[1].len(), 25, "{cap}: 40 ms packets");
        let mut dec = OpusDecoder::new(rate).expect("decoder");
        let mut y = Vec::new();
        let mut out = vec![0i16; rate.samples(120)];
        for (k, p) in s.rtp[1].iter().enumerate() {
            assert_eq!(dec.packet_samples(&p.payload), Ok(2 * n));
            if k > 0 {
                assert_eq!(p.ts.wrapping_sub(s.rtp[1][k - 1].ts), 1920);
            }
            let m = dec.decode(&p.payload, &mut out).expect("decodes");
            y.extend_from_slice(&out[..m]);
        }
        let skip = rate.samples(100);
        let p1k = power_at(&y[skip..], 1000.0, f64::from(rate.hz()));
        let p2k = power_at(&y[skip..], 2000.0, f64::from(rate.hz()));
        assert!(p1k > 100.0 * p2k, "{cap}: tone kept");
        let level = rms(&y[skip..]) / rms(&signal[skip..]);
        assert!((0.7..1.3).contains(&level), "{cap}: level {level}");
    }
}

/// 20 ms in -> 40/60 ms out and 60 ms in -> 20 ms out: sample counts and
/// timestamps exact.
#[test]
fn repacketization_counts_and_timestamps() {
    let signal = sine(700.0, 5000.0, 8000, 0, 8000);
    for (in_samples, ptime) in [(160usize, 40u32), (160, 60), (480, 20)] {
        let t0 = Instant::now();
        let mut t = transcoder(&one_way(dir(AudioCodec::Pcmu, AudioCodec::Pcmu, ptime)), t0);
        let mut s = Collect::default();
        let pkts = pcmu_packets(&signal, 7, 1000, 2, in_samples);
        feed(&mut t, &pkts, t0, MS * (in_samples as u32 / 8), &mut s);
        let out_samples = ptime as usize * 8;
        let out = &s.rtp[1];
        let fed = signal.len() / in_samples * in_samples;
        assert_eq!(out.len(), fed / out_samples, "{in_samples}->{ptime}");
        for (k, p) in out.iter().enumerate() {
            assert_eq!(p.payload.len(), out_samples);
            if k > 0 {
                assert_eq!(p.ts.wrapping_sub(out[k - 1].ts), out_samples as u32);
                assert_eq!(p.seq, out[k - 1].seq.wrapping_add(1));
                assert!(!p.marker);
            }
        }
        // Same audio, re-cut.
        let (y, x) = (
            decode_pcmu(out),
            decode_pcmu(&pkts.iter().map(|p| Pkt::parse(p)).collect::<Vec<_>>()),
        );
        assert!(y == x[..y.len()], "{in_samples}->{ptime}: same audio");
    }
    // Opus out at 40 and 60 ms.
    for ptime in [40u32, 60] {
        let t0 = Instant::now();
        let mut t = transcoder(&one_way(dir(AudioCodec::Pcmu, opus(), ptime)), t0);
        let mut s = Collect::default();
        feed(
            &mut t,
            &pcmu_packets(&signal, 7, 1000, 2, 160),
            t0,
            20 * MS,
            &mut s,
        );
        let dec = OpusDecoder::new(OpusRate::Hz8000).expect("decoder");
        for (k, p) in s.rtp[1].iter().enumerate() {
            assert_eq!(dec.packet_samples(&p.payload), Ok(ptime as usize * 8));
            if k > 0 {
                assert_eq!(p.ts.wrapping_sub(s.rtp[1][k - 1].ts), ptime * 48);
            }
        }
    }
}

/// Opus cannot carry 30 ms in one packet: the plan is refused.
#[test]
fn opus_30_ms_refused() {
    let t0 = Instant::now();
    let plan = one_way(dir(AudioCodec::Pcmu, opus(), 30));
    let err = sluice_transcode::MediaTranscoder::new(
        &plan,
        &settings(),
        1,
        t0,
        std::time::SystemTime::now(),
    )
    .err();
    assert_eq!(err, Some(TranscodeError::OpusPtime(30)));
    let plan = one_way(dir(AudioCodec::Pcmu, AudioCodec::Pcmu, 25));
    assert!(matches!(
        sluice_transcode::MediaTranscoder::new(
            &plan,
            &settings(),
            1,
            t0,
            std::time::SystemTime::now()
        ),
        Err(TranscodeError::Ptime(25))
    ));
}

/// Timestamps cross 32-bit wraps on both sides, 8k->48k and 48k->8k;
/// sequence numbers +1, SSRC constant, marker on the first packet only.
#[test]
fn translator_wraps_both_directions() {
    // 8 kHz PCMU in, input timestamps wrap; 48 kHz Opus out.
    let t0 = Instant::now();
    let mut t = transcoder(&one_way(dir(AudioCodec::Pcmu, opus(), 20)), t0);
    let signal = sine(440.0, 3000.0, 8000, 0, 160 * 300);
    let mut s = Collect::default();
    feed(
        &mut t,
        &pcmu_packets(&signal, 65500, u32::MAX - 160 * 150, 3, 160),
        t0,
        20 * MS,
        &mut s,
    );
    check_stream(&s.rtp[1], 960);
    // 48 kHz Opus in near the wrap, 8 kHz PCMU out; the output stream's
    // random start is pushed across its own wrap by a long stream too.
    let mut t = transcoder(&one_way(dir(opus(), AudioCodec::Pcmu, 20)), t0);
    let mut enc = OpusEncoder::new(&OpusEncoderConfig::new(OpusRate::Hz8000)).expect("encoder");
    let mut buf = [0u8; 1500];
    let mut pkts = Vec::new();
    for (k, c) in signal.chunks_exact(160).enumerate() {
        let len = enc.encode(c, &mut buf).expect("encodes");
        let ts = (u32::MAX - 960 * 100).wrapping_add(k as u32 * 960);
        pkts.push(rtp(
            111,
            k == 0,
            65530u16.wrapping_add(k as u16),
            ts,
            4,
            &buf[..len],
        ));
    }
    let mut s = Collect::default();
    feed(&mut t, &pkts, t0, 20 * MS, &mut s);
    check_stream(&s.rtp[1], 160);
}

fn check_stream(out: &[Pkt], step: u32) {
    assert!(out.len() > 250);
    assert!(out[0].marker);
    for w in out.windows(2) {
        assert_eq!(w[1].ts.wrapping_sub(w[0].ts), step);
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1));
        assert_eq!(w[1].ssrc, w[0].ssrc);
        assert!(!w[1].marker);
    }
}

/// Reordering within the window loses nothing; a real loss is concealed
/// once the wait is over; late and duplicate packets are counted.
#[test]
fn jitter_reorder_loss_late_duplicate() {
    let t0 = Instant::now();
    let mut t = transcoder(&one_way(dir(AudioCodec::Pcmu, opus(), 20)), t0);
    let signal = sine(500.0, 4000.0, 8000, 0, 160 * 20);
    let pkts = pcmu_packets(&signal, 10, 0, 1, 160);
    let mut s = Collect::default();
    let order = [0usize, 1, 3, 2, 4, 5, 7, 8, 9, 10, 11];
    let mut now = t0;
    for &k in &order {
        t.poll(now, &mut s);
        t.push_rtp(0, &pkts[k], now, &mut s);
        now += 20 * MS;
    }
    // 6 never comes: given up by the deadline.
    t.poll(now + 100 * MS, &mut s);
    let st = t.stats(0);
    assert_eq!(st.lost, 1, "{st:?}");
    assert_eq!(st.concealed, 1);
    assert_eq!(st.decoded_frames, 11);
    // 12 packets' worth of audio: concealment filled the gap.
    assert_eq!(s.rtp[1].len(), 12);
    for w in s.rtp[1].windows(2) {
        assert_eq!(w[1].ts.wrapping_sub(w[0].ts), 960);
    }
    // Late (6) and duplicate (5).
    t.push_rtp(0, &pkts[6], now + 120 * MS, &mut s);
    t.push_rtp(0, &pkts[5], now + 120 * MS, &mut s);
    let st = t.stats(0);
    assert_eq!(st.drops.too_late, 1);
    assert_eq!(st.drops.duplicate, 1);
}

/// With Opus FEC in the stream, a single loss is recovered from the next
/// packet's FEC data.
#[test]
fn opus_fec_recovers_single_loss() {
    let t0 = Instant::now();
    let mut t = transcoder(&one_way(dir(opus(), AudioCodec::Pcmu, 20)), t0);
    let mut enc = OpusEncoder::new(&OpusEncoderConfig {
        fec: true,
        expected_loss_percent: 20,
        bitrate: Some(24000),
        ..OpusEncoderConfig::new(OpusRate::Hz8000)
    })
    .expect("encoder");
    let signal = sweep(300.0, 2000.0, 6000.0, 8000, 160 * 40);
    let mut buf = [0u8; 1500];
    let mut pkts = Vec::new();
    for (k, c) in signal.chunks_exact(160).enumerate() {
        let len = enc.encode(c, &mut buf).expect("encodes");
        pkts.push(rtp(111, k == 0, k as u16, (k * 960) as u32, 4, &buf[..len]));
    }
    pkts.remove(20);
    let mut s = Collect::default();
    feed(&mut t, &pkts, t0, 20 * MS, &mut s);
    let st = t.stats(0);
    assert_eq!(st.lost, 1);
    assert_eq!(st.fec_recovered, 1, "{st:?}");
    assert_eq!(s.rtp[1].len(), 40);
}

/// A re-INVITE that changes the output codec keeps SSRC, sequence and
/// timestamp continuity.
#[test]
fn update_keeps_continuity() {
    let t0 = Instant::now();
    let mut t = transcoder(&one_way(dir(AudioCodec::Pcmu, AudioCodec::Pcma, 20)), t0);
    let signal = sine(440.0, 3000.0, 8000, 0, 160 * 20);
    let mut s = Collect::default();
    let end = feed(
        &mut t,
        &pcmu_packets(&signal[..1600], 1, 0, 1, 160),
        t0,
        20 * MS,
        &mut s,
    );
    t.update(&one_way(dir(AudioCodec::Pcmu, opus(), 20)), end)
        .expect("valid");
    let pk = pcmu_packets(&signal, 1, 0, 1, 160);
    feed(&mut t, &pk[10..], end, 20 * MS, &mut s);
    let out = &s.rtp[1];
    assert_eq!(out.len(), 20);
    assert_eq!(out[10].ssrc, out[9].ssrc);
    assert_eq!(out[10].seq, out[9].seq.wrapping_add(1));
    assert!(
        out[10].ts.wrapping_sub(out[9].ts) < 8000 * 2,
        "no jump back or far ahead"
    );
    assert!(out[10].ts.wrapping_sub(out[9].ts) >= 160);
    assert!(out[10].marker);
    assert_eq!(out[11].ts.wrapping_sub(out[10].ts), 960);
    let bad = MediaPlan {
        directions: [Some(dir(AudioCodec::Pcmu, opus(), 30)), None],
    };
    assert!(t.update(&bad, end).is_err());
}

/// Opus DTX toward a receiver that asked for it: silence is not sent,
/// and every packet after a suppressed stretch carries the marker.
#[test]
fn opus_dtx_suppresses_silence_with_marker_after() {
    let t0 = Instant::now();
    let out = opus_with(|p| p.use_dtx = true);
    let mut t = transcoder(&one_way(dir(AudioCodec::Pcmu, out, 20)), t0);
    let mut pcm = sine(600.0, 6000.0, 8000, 0, 8000);
    pcm.extend(vec![0i16; 16000]);
    pcm.extend(sine(600.0, 6000.0, 8000, 0, 8000));
    let mut s = Collect::default();
    feed(
        &mut t,
        &pcmu_packets(&pcm, 1, 0, 1, 160),
        t0,
        20 * MS,
        &mut s,
    );
    let st = t.stats(0);
    let sent = &s.rtp[1];
    println!(
        "DTX: {} of 200 frames sent, {} suppressed",
        sent.len(),
        st.dtx_suppressed
    );
    assert!(st.dtx_suppressed > 50, "{st:?}");
    assert_eq!(sent.len() as u64 + st.dtx_suppressed, 200);
    let mut resumed = 0;
    for w in sent.windows(2) {
        let step = w[1].ts.wrapping_sub(w[0].ts);
        assert!(step >= 960 && step % 960 == 0);
        if step > 960 {
            assert!(w[1].marker, "talkspurt after DTX");
            resumed += 1;
        } else {
            assert!(!w[1].marker);
        }
    }
    assert!(resumed >= 1);
}

/// A new sender SSRC (e.g. after a transfer) resets the input side; our
/// output stream keeps its SSRC and sequence, timestamps move on, and
/// the first packet of the new stream carries the marker.
#[test]
fn new_sender_ssrc_is_a_new_talkspurt() {
    let t0 = Instant::now();
    let mut t = transcoder(&one_way(dir(AudioCodec::Pcmu, opus(), 20)), t0);
    let pcm = sine(600.0, 6000.0, 8000, 0, 160 * 20);
    let mut s = Collect::default();
    let end = feed(
        &mut t,
        &pcmu_packets(&pcm, 1, 0, 1, 160),
        t0,
        20 * MS,
        &mut s,
    );
    feed(
        &mut t,
        &pcmu_packets(&pcm, 40000, 123_456, 2, 160),
        end,
        20 * MS,
        &mut s,
    );
    let out = &s.rtp[1];
    assert_eq!(out.len(), 40);
    assert!(out.iter().all(|p| p.ssrc == out[0].ssrc));
    assert!(out[20].marker);
    assert_eq!(out[20].seq, out[19].seq.wrapping_add(1));
    let step = out[20].ts.wrapping_sub(out[19].ts);
    assert!((960..48000 * 3).contains(&step), "{step}");
    assert_eq!(t.stats(0).lost, 0);
}

/// Cost per 20 ms packet (release build; printed, loosely bounded).
#[test]
fn cost_per_packet() {
    for (name, input, output) in [
        ("PCMU->Opus", AudioCodec::Pcmu, opus()),
        ("PCMU->PCMA", AudioCodec::Pcmu, AudioCodec::Pcma),
        ("PCMU->PCMU 20->60 ms", AudioCodec::Pcmu, AudioCodec::Pcmu),
    ] {
        let ptime = if name.contains("60") { 60 } else { 20 };
        let t0 = Instant::now();
        let mut t = transcoder(&one_way(dir(input, output, ptime)), t0);
        let pcm = sweep(300.0, 3400.0, 6000.0, 8000, 160 * 1000);
        let pkts = pcmu_packets(&pcm, 1, 0, 1, 160);
        let mut sink = sluice_transcode::NullSink;
        let start = std::time::Instant::now();
        for (k, p) in pkts.iter().enumerate() {
            t.push_rtp(0, p, t0 + 20 * MS * k as u32, &mut sink);
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / pkts.len() as f64;
        println!("{name}: {us:.2} µs per 20 ms input packet");
        assert!(us < 5000.0);
    }
}

/// A sender that restarts its timestamps under the same SSRC (with its
/// sequence numbers going on, or restarting too): audio keeps coming out
/// within a packet or two, on output timestamps that keep increasing.
#[test]
fn restarted_timestamps_keep_audio_flowing() {
    for restart_seq in [false, true] {
        // 20 ms in, 40 ms out: the decode path through the PCM FIFO.
        let d = dir(AudioCodec::Pcmu, AudioCodec::Pcmu, 40);
        let t0 = Instant::now();
        let mut t = transcoder(&one_way(d), t0);
        let mut s = Collect::default();
        let pcm = sine(440.0, 3000.0, 8000, 0, 160 * 100);
        let mut pkts = pcmu_packets(&pcm[..160 * 50], 1, 1_000_000, 9, 160);
        let seq2 = if restart_seq { 30_000 } else { 51 };
        pkts.extend(pcmu_packets(&pcm[160 * 50..], seq2, 0, 9, 160));
        let mut now = t0;
        let mut before = 0;
        for (k, p) in pkts.iter().enumerate() {
            t.poll(now, &mut s);
            t.push_rtp(0, p, now, &mut s);
            now += 20 * MS;
            if k == 49 {
                before = s.rtp[1].len();
            }
            if k == 51 {
                assert!(
                    s.rtp[1].len() > before,
                    "restart_seq {restart_seq}: audio within two packets of the restart"
                );
            }
        }
        t.poll(now + Duration::from_secs(1), &mut s);
        let out = &s.rtp[1];
        assert!(
            out.len() >= 48,
            "restart_seq {restart_seq}: {} sent",
            out.len()
        );
        for w in out.windows(2) {
            assert!(
                (w[1].ts.wrapping_sub(w[0].ts) as i32) > 0,
                "restart_seq {restart_seq}: output timestamps go forward: {} then {}",
                w[0].ts,
                w[1].ts
            );
        }
    }
}

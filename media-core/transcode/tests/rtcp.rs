//! RTCP: SR/RR toward each leg, well-formed and with the right counts;
//! incoming RTCP consumed, its SR feeding LSR/DLSR; junk counted.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::*;
use sluice_transcode::{AudioCodec, MediaPlan, MediaTranscoder, Settings};

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Splits a compound packet into (packet type, count, bytes).
fn split(mut p: &[u8]) -> Vec<(u8, u8, Vec<u8>)> {
    let mut v = Vec::new();
    while !p.is_empty() {
        assert!(p.len() >= 4 && p[0] >> 6 == 2, "header");
        let len = (usize::from(u16::from_be_bytes([p[2], p[3]])) + 1) * 4;
        assert!(len <= p.len(), "length fits");
        v.push((p[1], p[0] & 0x1f, p[..len].to_vec()));
        p = &p[len..];
    }
    v
}

#[test]
fn sender_and_receiver_reports() {
    let plan = MediaPlan {
        directions: [
            Some(dir(AudioCodec::Pcmu, opus(), 20)),
            Some(dir(opus(), AudioCodec::Pcmu, 20)),
        ],
    };
    let t0 = Instant::now();
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let settings = Settings {
        rtcp_interval: Duration::from_secs(1),
        ..Settings::default()
    };
    let mut t = MediaTranscoder::new(&plan, &settings, 7, t0, wall).expect("valid");
    let mut s = Collect::default();
    // Leg 0 sends 100 PCMU packets, two lost; leg 0 also sends an SR.
    let pkts = pcmu_packets(
        &sine(800.0, 3000.0, 8000, 0, 160 * 100),
        500,
        0,
        0xAAAA,
        160,
    );
    let mut sr = vec![0x80, 200, 0, 6];
    sr.extend_from_slice(&0xAAAAu32.to_be_bytes());
    sr.extend_from_slice(&0x1122_3344_5566_7788u64.to_be_bytes());
    sr.extend_from_slice(&[0; 12]);
    let mut now = t0;
    for (k, p) in pkts.iter().enumerate() {
        if k == 30 || k == 31 {
            now += 20 * MS;
            continue;
        }
        if k == 50 {
            t.push_rtcp(0, &sr, now, &mut s);
        }
        t.poll(now, &mut s);
        t.push_rtp(0, p, now, &mut s);
        now += 20 * MS;
    }
    t.push_rtcp(0, &[0x80, 200, 0, 40, 1, 2], now, &mut s);
    t.push_rtcp(0, b"junk junk", now, &mut s);
    assert_eq!(t.stats(0).drops.rtcp_malformed, 2);
    let before = s.rtcp[0].len();
    t.poll(now + Duration::from_secs(1), &mut s);
    assert_eq!(s.rtcp[0].len(), before + 1, "one report per interval");

    // Leg 0 got an SR from the stream toward it? No audio goes to leg 0:
    // an RR about leg 0's stream.
    let to0 = s.rtcp[0].last().expect("report to leg 0");
    let parts = split(to0);
    assert_eq!(parts[0].0, 201, "RR: we send nothing to leg 0");
    assert_eq!(parts[0].1, 1);
    let rr = &parts[0].2;
    assert_eq!(be32(&rr[4..]), t.ssrc(0));
    assert_eq!(be32(&rr[8..]), 0xAAAA);
    let cumulative = be32(&rr[12..]) & 0xff_ffff;
    assert_eq!(cumulative, 2, "two lost");
    assert_eq!(be32(&rr[16..]), 500 + 99, "extended highest sequence");
    assert_eq!(
        be32(&rr[24..]),
        0x3344_5566,
        "LSR: middle of the SR's NTP time"
    );
    assert!(be32(&rr[28..]) > 0, "DLSR");
    assert_eq!(parts[1].0, 202, "SDES");
    assert_eq!(parts[1].2[8], 1, "CNAME item");

    // Leg 1 gets an SR for the Opus stream we send it.
    let to1 = s.rtcp[1].last().expect("report to leg 1");
    let parts = split(to1);
    assert_eq!(parts[0].0, 200);
    assert_eq!(parts[0].1, 0, "nothing received from leg 1");
    let srp = &parts[0].2;
    assert_eq!(be32(&srp[4..]), t.ssrc(1));
    let sent: Vec<&Pkt> = s.rtp[1].iter().collect();
    assert_eq!(be32(&srp[20..]) as usize, sent.len(), "packet count");
    let octets: usize = sent.iter().map(|p| p.payload.len()).sum();
    assert_eq!(be32(&srp[24..]) as usize, octets, "octet count");
    let ntp_secs = be32(&srp[8..]);
    assert!((ntp_secs as u64).abs_diff(1_700_000_000 + 2_208_988_800) < 10);
    let rtp_ts = be32(&srp[16..]);
    let last = sent.last().expect("sent").ts;
    // One second after the last packet: the RTP clock ran on with time.
    let ahead = rtp_ts.wrapping_sub(last);
    assert!(
        (48000 - 2000..48000 + 2000).contains(&ahead),
        "RTP time {ahead} after the last packet's"
    );
    assert!(sent.iter().all(|p| p.ssrc == t.ssrc(1)));
    assert!(t.stats(1).rtcp_sent >= 1);
}

/// The RTP timestamps of our SRs toward `leg`, with when they were sent
/// (one report every 100 ms).
fn sr_times(s: &Collect, leg: usize) -> Vec<u32> {
    s.rtcp[leg]
        .iter()
        .filter_map(|p| {
            let parts = split(p);
            (parts[0].0 == 200).then(|| be32(&parts[0].2[16..]))
        })
        .collect()
}

/// `play DTMF` events toward a leg: the SR's RTP timestamp keeps running
/// with wall time during and after the event (event packets carry their
/// event's start timestamp, not the time they are sent).
#[test]
fn sr_timestamp_runs_during_injected_event() {
    let mut d = dir(AudioCodec::Pcmu, AudioCodec::Pcma, 20);
    d.output_dtmf = te(101, 8000);
    let t0 = Instant::now();
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let settings = Settings {
        rtcp_interval: Duration::from_millis(100),
        ..Settings::default()
    };
    let mut t = MediaTranscoder::new(&one_way(d), &settings, 3, t0, wall).expect("valid");
    let mut s = Collect::default();
    let pkts = pcmu_packets(&sine(500.0, 3000.0, 8000, 0, 160 * 200), 1, 0, 0xBB, 160);
    let mut now = t0;
    for (k, p) in pkts.iter().enumerate() {
        if k == 50 {
            t.play_dtmf(1, 4, 2000, 10, now).expect("plays");
        }
        while let Some(dl) = t.next_deadline().filter(|d| *d < now) {
            t.poll(dl, &mut s);
        }
        t.poll(now, &mut s);
        t.push_rtp(0, p, now, &mut s);
        now += 20 * MS;
    }
    assert!(s.rtp[1].iter().any(|p| p.pt == 101), "event sent");
    let srs = sr_times(&s, 1);
    assert!(srs.len() >= 35, "{} SRs", srs.len());
    // 100 ms apart: 800 units each (the estimate from the last packet may
    // be off by part of a packet time).
    for (i, w) in srs.windows(2).enumerate() {
        let d = w[1].wrapping_sub(w[0]);
        assert!((600..=1000).contains(&d), "SR {i} -> {}: {d} units", i + 1);
    }
}

/// Telephone-event packets repeat their event's start timestamp: they
/// count as received, but only audio feeds the interarrival jitter.
#[test]
fn events_do_not_inflate_jitter() {
    let mut d = dir(AudioCodec::Pcmu, AudioCodec::Pcma, 20);
    d.input_dtmf = te(101, 8000);
    let t0 = Instant::now();
    let mut t = transcoder(&one_way(d), t0);
    let mut s = Collect::default();
    let silence = [0xffu8; 160];
    let mut seq = 1u16;
    for k in 0..100u32 {
        let now = t0 + 20 * MS * k;
        t.push_rtp(0, &rtp(0, k == 0, seq, k * 160, 7, &silence), now, &mut s);
        seq += 1;
        // A 1 s event from packet 20, an update with every audio packet.
        if (20..70).contains(&k) {
            let p = sluice_dtmf::EventPayload {
                event: 1,
                end: false,
                volume: 10,
                duration: ((k - 19) * 160) as u16,
            }
            .to_bytes()
            .expect("valid");
            t.push_rtp(0, &rtp(101, k == 20, seq, 3200, 7, &p), now, &mut s);
            seq += 1;
        }
        t.poll(now, &mut s);
    }
    assert_eq!(t.stats(0).jitter, 0, "perfectly paced audio");
    assert_eq!(t.stats(0).received, 150);
}

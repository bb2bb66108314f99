//! Nothing a peer sends panics the transcoder: random bytes, random RTP
//! headers on negotiated payload types, Opus garbage, RTCP junk.

mod common;

use std::time::{Duration, Instant};

use common::*;
use proptest::prelude::*;
use sluice_transcode::{AudioCodec, MediaPlan, MediaTranscoder};

fn full_plan() -> MediaPlan {
    let mut a = dir(AudioCodec::Pcmu, opus_with(|p| p.use_dtx = true), 20);
    a.input_dtmf = te(101, 8000);
    a.output_dtmf = te(110, 48000);
    let mut b = dir(opus(), AudioCodec::Pcma, 60);
    b.input_dtmf = te(110, 48000);
    MediaPlan {
        directions: [Some(a), Some(b)],
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(packets in proptest::collection::vec((0usize..2, proptest::collection::vec(any::<u8>(), 0..300)), 1..40)) {
        let t0 = Instant::now();
        let mut t = transcoder(&full_plan(), t0);
        let mut s = Collect::default();
        let mut now = t0;
        for (leg, bytes) in &packets {
            t.push_rtp(*leg, bytes, now, &mut s);
            t.push_rtcp(*leg, bytes, now, &mut s);
            now += Duration::from_millis(7);
            t.poll(now, &mut s);
        }
        t.poll(now + Duration::from_secs(10), &mut s);
    }

    #[test]
    fn random_payloads_on_real_headers_never_panic(
        packets in proptest::collection::vec(
            (0usize..2, prop::sample::select(vec![0u8, 8, 101, 110, 111, 13]), any::<bool>(), any::<u16>(), any::<u32>(), any::<u32>(), proptest::collection::vec(any::<u8>(), 0..200)),
            1..60)
    ) {
        let t0 = Instant::now();
        let mut t = transcoder(&full_plan(), t0);
        let mut s = Collect::default();
        let mut now = t0;
        for (leg, pt, m, seq, ts, ssrc, payload) in &packets {
            t.push_rtp(*leg, &rtp(*pt, *m, *seq, *ts, *ssrc % 3, payload), now, &mut s);
            now += Duration::from_millis(5);
            t.poll(now, &mut s);
        }
        let _ = t.play_dtmf(1, 4, 100, 10, now);
        t.poll(now + Duration::from_secs(10), &mut s);
        let st = t.stats(0);
        prop_assert!(st.received <= packets.len() as u64);
    }
}

/// A stream of Opus garbage on the Opus payload type: dropped as
/// undecodable, nothing sent, nothing panics.
#[test]
fn opus_garbage_is_counted() {
    let t0 = Instant::now();
    let mut t: MediaTranscoder = transcoder(&one_way(dir(opus(), AudioCodec::Pcmu, 20)), t0);
    let mut s = Collect::default();
    for k in 0..50u16 {
        // TOC code 3 with an impossible frame count.
        t.push_rtp(
            0,
            &rtp(111, false, k, u32::from(k) * 960, 1, &[0xFB, 0x3F, 1, 2, 3]),
            t0,
            &mut s,
        );
    }
    t.push_rtp(0, &rtp(96, false, 50, 0, 1, &[1; 10]), t0, &mut s);
    let st = t.stats(0);
    assert_eq!(st.drops.undecodable, 50);
    assert_eq!(st.drops.unknown_payload_type, 1);
    assert!(s.rtp[1].is_empty());
}

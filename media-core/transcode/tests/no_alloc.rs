//! Steady state allocates nothing: a counting global allocator watches a
//! PCMU -> Opus -> PCMU call through two transcoders (both directions of
//! each, FEC and DTX on, RTCP on) after a warm-up.

mod common;

use sluice_alloc_count::{allocations, CountingAllocator};
use std::time::{Duration, Instant};

use common::*;
use sluice_transcode::{
    AudioCodec, DigitReport, DropCause, MediaPlan, MediaTranscoder, Settings, Sink,
};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Copies each packet into a fixed buffer (a driver's send path) and
/// counts; never allocates.
struct Relay {
    buf: [[u8; 1600]; 8],
    lens: [usize; 8],
    n: usize,
    packets: u64,
}

impl Sink for Relay {
    fn rtp(&mut self, _to: usize, p: &[u8]) {
        if self.n < 8 {
            self.buf[self.n][..p.len()].copy_from_slice(p);
            self.lens[self.n] = p.len();
            self.n += 1;
        }
        self.packets += 1;
    }
    fn rtcp(&mut self, _: usize, _: &[u8]) {}
    fn dropped(&mut self, _: usize, _: DropCause) {}
    fn digit(&mut self, _: usize, _: DigitReport) {}
}

#[test]
fn steady_pcmu_opus_pcmu_does_not_allocate() {
    let fec_dtx = opus_with(|p| {
        p.use_inband_fec = true;
        p.use_dtx = true;
    });
    let a_plan = MediaPlan {
        directions: [
            Some(dir(AudioCodec::Pcmu, fec_dtx, 20)),
            Some(dir(opus(), AudioCodec::Pcmu, 20)),
        ],
    };
    let b_plan = MediaPlan {
        directions: [
            Some(dir(opus(), AudioCodec::Pcmu, 20)),
            Some(dir(AudioCodec::Pcmu, opus(), 20)),
        ],
    };
    let t0 = Instant::now();
    let wall = std::time::SystemTime::UNIX_EPOCH;
    let settings = Settings {
        rtcp_interval: Duration::from_millis(500),
        ..Settings::default()
    };
    let mut a = MediaTranscoder::new(&a_plan, &settings, 1, t0, wall).expect("valid");
    let mut b = MediaTranscoder::new(&b_plan, &settings, 2, t0, wall).expect("valid");
    let signal = sweep(300.0, 3000.0, 6000.0, 8000, 160 * 500);
    let input = pcmu_packets(&signal, 1, 0, 3, 160);
    let mut ra = Relay {
        buf: [[0; 1600]; 8],
        lens: [0; 8],
        n: 0,
        packets: 0,
    };
    let mut rb = Relay {
        buf: [[0; 1600]; 8],
        lens: [0; 8],
        n: 0,
        packets: 0,
    };
    let mut run = |range: std::ops::Range<usize>, ra: &mut Relay, rb: &mut Relay| {
        for k in range {
            let now = t0 + Duration::from_millis(20 * k as u64);
            ra.n = 0;
            a.poll(now, ra);
            // Drop one packet in 50 to exercise PLC/FEC.
            if k % 50 != 7 {
                a.push_rtp(0, &input[k], now, ra);
            }
            rb.n = 0;
            b.poll(now, rb);
            for i in 0..ra.n {
                b.push_rtp(0, &ra.buf[i][..ra.lens[i]], now, rb);
            }
        }
    };
    run(0..100, &mut ra, &mut rb);
    let before = allocations();
    run(100..500, &mut ra, &mut rb);
    let after = allocations();
    assert!(rb.packets > 350, "{}", rb.packets);
    assert_eq!(after - before, 0, "allocations in steady state");
}

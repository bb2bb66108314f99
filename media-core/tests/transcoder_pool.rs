//! The transcoder pool between its two queues, without sockets: set-up,
//! PCMU in and Opus out (one packet per packet, own sequence, 48 kHz
//! timestamps), Opus garbage reported as a drop, `play DTMF` as a full
//! RFC 4733 sequence, a digit sent by a leg reported as JSON to the
//! `dtmf-log-dest`, and nothing after removal.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::net::UdpSocket;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use media_core::relay::{CallSerial, DropReason, SocketKey};
use media_core::transcoder::{
    CallLabels, Job, LegSockets, MediaKey, Output, OutputQueue, PoolCommand, PoolSettings,
    TranscodeSetup, TranscoderPool,
};
use media_core::worker::Doorbell;
use sluice_transcode::{
    AudioCodec, DirectionPlan, DtmfFormat, InputCodec, MediaPlan, OpusParams, OutputCodec, Settings,
};

const KEY: MediaKey = MediaKey {
    call: CallSerial(7),
    media: 0,
};
const SOCKETS: [LegSockets; 2] = [
    LegSockets {
        rtp: SocketKey(1000),
        rtcp: SocketKey(1001),
    },
    LegSockets {
        rtp: SocketKey(2000),
        rtcp: SocketKey(2001),
    },
];
const PT_OPUS: u8 = 96;
const PT_EVENT_48K: u8 = 97;
const PT_EVENT_8K: u8 = 101;

/// Leg 0 speaks PCMU with telephone-event/8000; leg 1 Opus with
/// telephone-event/48000.
fn plan() -> MediaPlan {
    let pcmu = InputCodec {
        payload_type: 0,
        codec: AudioCodec::Pcmu,
    };
    let opus = InputCodec {
        payload_type: PT_OPUS,
        codec: AudioCodec::Opus(OpusParams::default()),
    };
    let te8 = DtmfFormat {
        payload_type: PT_EVENT_8K,
        clock_rate: 8000,
    };
    let te48 = DtmfFormat {
        payload_type: PT_EVENT_48K,
        clock_rate: 48000,
    };
    let output = |c: InputCodec| OutputCodec {
        payload_type: c.payload_type,
        codec: c.codec,
        ptime_ms: 20,
    };
    MediaPlan {
        directions: [
            Some(DirectionPlan {
                inputs: vec![pcmu],
                output: output(opus),
                input_dtmf: Some(te8),
                output_dtmf: Some(te48),
            }),
            Some(DirectionPlan {
                inputs: vec![opus],
                output: output(pcmu),
                input_dtmf: Some(te48),
                output_dtmf: Some(te8),
            }),
        ],
    }
}

fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn packet_job(from_leg: u8, packet: &[u8]) -> Job {
    let mut data = [0u8; media_core::transcoder::job::MAX_PACKET];
    data[..packet.len()].copy_from_slice(packet);
    Job::Packet {
        key: KEY,
        from_leg,
        rtcp: false,
        arrival: Instant::now(),
        len: packet.len() as u16,
        data,
    }
}

/// A 1 kHz PCMU tone frame (160 samples) starting at sample `n`.
fn tone_frame(n: u32) -> Vec<u8> {
    (0..160)
        .map(|i| {
            let t = f64::from(n + i) / 8000.0;
            let x = (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16;
            sluice_codec::g711::ulaw::encode(x)
        })
        .collect()
}

struct Harness {
    pool: TranscoderPool,
    inbox: Arc<ArrayQueue<Output>>,
}

impl Harness {
    fn start(dtmf_log_dest: Option<std::net::SocketAddr>) -> Self {
        let inbox = Arc::new(ArrayQueue::new(4096));
        let settings = PoolSettings {
            threads: 1,
            cores: Vec::new(),
            transcode: Settings::default(),
            dtmf_log_dest,
            queue_capacity: 4096,
        };
        let pool = TranscoderPool::spawn(
            &settings,
            vec![OutputQueue {
                queue: Arc::clone(&inbox),
                doorbell: Arc::new(Doorbell::new().unwrap()),
            }],
        )
        .unwrap();
        let h = Self { pool, inbox };
        h.submit(Job::Control {
            key: KEY,
            command: PoolCommand::Setup(Box::new(TranscodeSetup {
                worker: 0,
                plan: plan(),
                sockets: SOCKETS,
                labels: CallLabels {
                    call_id: "pool-test".into(),
                    tags: ["carrier".into(), "platform".into()],
                },
                block_dtmf: [false, false],
            })),
        });
        h
    }

    fn submit(&self, job: Job) {
        self.pool.handle().submit(KEY, job).unwrap();
    }

    /// Outputs until `want` of them arrived or `within` passed.
    fn collect(&self, want: usize, within: Duration) -> Vec<Output> {
        let deadline = Instant::now() + within;
        let mut got = Vec::new();
        while got.len() < want && Instant::now() < deadline {
            match self.inbox.pop() {
                Some(o) => got.push(o),
                None => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        got
    }
}

fn packets(outputs: &[Output], out: SocketKey) -> Vec<Vec<u8>> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Packet {
                call,
                out: o,
                rtcp: false,
                len,
                data,
            } if *o == out => {
                assert_eq!(*call, KEY.call, "output names its call");
                Some(data[..usize::from(*len)].to_vec())
            }
            _ => None,
        })
        .collect()
}

fn seq(p: &[u8]) -> u16 {
    u16::from_be_bytes([p[2], p[3]])
}

fn ts(p: &[u8]) -> u32 {
    u32::from_be_bytes([p[4], p[5], p[6], p[7]])
}

#[test]
fn pcmu_in_opus_out_one_for_one() {
    let h = Harness::start(None);
    for k in 0..50u16 {
        let p = rtp(
            0,
            k == 0,
            100 + k,
            8000 + u32::from(k) * 160,
            &tone_frame(u32::from(k) * 160),
        );
        h.submit(packet_job(0, &p));
    }
    let out = h.collect(50, Duration::from_secs(3));
    let opus = packets(&out, SOCKETS[1].rtp);
    assert_eq!(opus.len(), 50, "one Opus packet per PCMU packet");
    for (i, p) in opus.iter().enumerate() {
        assert_eq!(p[1] & 0x7f, PT_OPUS);
        assert_eq!(
            seq(p),
            seq(&opus[0]).wrapping_add(i as u16),
            "consecutive sequence"
        );
        assert_eq!(
            ts(p).wrapping_sub(ts(&opus[0])),
            960 * i as u32,
            "20 ms at the 48 kHz Opus clock"
        );
        assert!(p.len() > 12 + 2, "a real Opus frame, not DTX");
    }
    assert!(opus[0][1] & 0x80 != 0, "marker on the first packet");
}

#[test]
fn opus_garbage_is_dropped_and_reported() {
    let h = Harness::start(None);
    // A TOC byte announcing a code-3 packet with an impossible frame count.
    let junk = rtp(PT_OPUS, false, 1, 960, &[0xff, 0xff, 0x00, 0x13]);
    h.submit(packet_job(1, &junk));
    let wrong_pt = rtp(8, false, 2, 1920, &[0xd5; 160]);
    h.submit(packet_job(1, &wrong_pt));
    let out = h.collect(2, Duration::from_secs(3));
    let reasons: Vec<(SocketKey, DropReason)> = out
        .iter()
        .filter_map(|o| match o {
            Output::Dropped { origin, reason, .. } => Some((*origin, *reason)),
            Output::Packet { .. } => None,
        })
        .collect();
    assert!(
        reasons.contains(&(SOCKETS[1].rtp, DropReason::Undecodable)),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&(SOCKETS[1].rtp, DropReason::PayloadType)),
        "{reasons:?}"
    );
}

#[test]
fn play_dtmf_sends_a_full_event_sequence() {
    let h = Harness::start(None);
    // Some audio first so the output stream has a timeline.
    for k in 0..5u16 {
        let p = rtp(
            0,
            k == 0,
            k,
            u32::from(k) * 160,
            &tone_frame(u32::from(k) * 160),
        );
        h.submit(packet_job(0, &p));
    }
    h.collect(5, Duration::from_secs(2));
    h.submit(Job::Control {
        key: KEY,
        command: PoolCommand::PlayDtmf {
            to_leg: 1,
            code: 11,
            duration_ms: 200,
            volume: 10,
        },
    });
    let out = h.collect(64, Duration::from_millis(1500));
    let events: Vec<Vec<u8>> = packets(&out, SOCKETS[1].rtp)
        .into_iter()
        .filter(|p| p[1] & 0x7f == PT_EVENT_48K)
        .collect();
    assert!(
        events.len() >= 4,
        "updates and end packets: {}",
        events.len()
    );
    assert!(events[0][1] & 0x80 != 0, "marker on the first event packet");
    let start = ts(&events[0]);
    for p in &events {
        assert_eq!(ts(p), start, "one timestamp: the event's start");
        assert_eq!(p[12], 11, "event code of '#'");
        assert_eq!(p[13] & 0x3f, 10, "volume");
    }
    let ends: Vec<&Vec<u8>> = events.iter().filter(|p| p[13] & 0x80 != 0).collect();
    assert_eq!(ends.len(), 3, "the end packet is sent three times");
    let duration = u16::from_be_bytes([ends[0][14], ends[0][15]]);
    assert_eq!(u32::from(duration), 200 * 48, "200 ms at 48 kHz");
}

#[test]
fn digits_from_a_leg_reach_the_dtmf_log_dest() {
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    listener
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let h = Harness::start(Some(listener.local_addr().unwrap()));
    // Digit '5' for 100 ms at 8 kHz: updates, then three end packets.
    for (seq_no, (duration, end)) in (10u16..).zip([
        (160u16, false),
        (480, false),
        (800, true),
        (800, true),
        (800, true),
    ]) {
        let payload = [
            5u8,
            if end { 0x80 | 10 } else { 10 },
            (duration >> 8) as u8,
            duration as u8,
        ];
        let p = rtp(PT_EVENT_8K, seq_no == 10, seq_no, 16000, &payload);
        h.submit(packet_job(0, &p));
    }
    let mut buf = [0u8; 2048];
    let n = listener.recv(&mut buf).expect("a JSON digit report");
    let json: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
    assert_eq!(json["callid"], "pool-test");
    assert_eq!(json["source_tag"], "carrier");
    assert_eq!(json["digit"], "5");
    assert_eq!(json["event"], 5);
    assert_eq!(json["type"], "DTMF");
    assert_eq!(json["duration"], 100);
    // The event also reached the other leg, on its payload type and clock.
    let out = h.collect(5, Duration::from_secs(2));
    let mapped = packets(&out, SOCKETS[1].rtp);
    assert!(
        mapped
            .iter()
            .any(|p| p[1] & 0x7f == PT_EVENT_48K && p[12] == 5),
        "mapped to telephone-event/48000"
    );
}

#[test]
fn nothing_after_removal() {
    let h = Harness::start(None);
    h.submit(Job::Control {
        key: KEY,
        command: PoolCommand::Remove,
    });
    let p = rtp(0, true, 1, 160, &tone_frame(0));
    h.submit(packet_job(0, &p));
    assert!(h.collect(1, Duration::from_millis(300)).is_empty());
}

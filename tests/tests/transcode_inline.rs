//! `--transcode-threads 0`: the worker transcodes its own calls (a bounded
//! batch per loop turn) instead of handing them to a pool thread. The
//! same PCMU -> Opus call as with the pool: one Opus packet per PCMU
//! packet, consecutive sequence numbers, 48 kHz timestamps; and the
//! transcoder's timers (a `play DTMF` event sequence, sent over ~300 ms
//! with no packet arriving to wake the worker) still run.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use sluice_ng::{Dict, Value};
use sluice_tests::relay::{RelayKind, RelayOptions};
use sluice_tests::sdp::{audio_endpoint, audio_sdp, rtpmap_pt, Codec, PCMU};
use sluice_tests::{call_id, ng, PortBlock, Relay};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const TE8: Codec = Codec {
    pt: 101,
    rtpmap: "telephone-event/8000",
};
const OPUS: Codec = Codec {
    pt: 96,
    rtpmap: "opus/48000/2",
};
const TE48: Codec = Codec {
    pt: 97,
    rtpmap: "telephone-event/48000",
};

fn bind(port: u16) -> UdpSocket {
    let s = UdpSocket::bind((LOCALHOST, port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s
}

fn rtp(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x0abc_def0_u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// A 1 kHz tone frame in PCMU starting at sample `n`.
fn tone(n: u32) -> Vec<u8> {
    (0..160)
        .map(|i| {
            let t = f64::from(n + i) / 8000.0;
            let x = (8000.0 * (std::f64::consts::TAU * 1000.0 * t).sin()) as i16;
            sluice_codec::g711::ulaw::encode(x)
        })
        .collect()
}

/// RTP packets (not RTCP) `socket` receives within `within`.
fn receive(socket: &UdpSocket, within: Duration) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 2048];
    let mut got = Vec::new();
    while Instant::now() < deadline {
        if let Ok(n) = socket.recv(&mut buf) {
            if !(192..=223).contains(&buf[1]) {
                got.push(buf[..n].to_vec());
            }
        }
    }
    got
}

#[test]
fn worker_transcodes_itself_and_runs_timers() {
    let mut ports = PortBlock::new();
    let a_port = ports.take(2);
    let b_port = ports.take(2);
    let opts = RelayOptions {
        extra_args: vec!["--transcode-threads".into(), "0".into()],
        ..RelayOptions::default()
    };
    let relay = Relay::start(RelayKind::MediaCore, &mut ports, &opts);
    let mut client = relay.client();
    let call = call_id("transcode_inline");
    let offer = Dict::new()
        .with("command", "offer")
        .with("call-id", call.as_str())
        .with("from-tag", "carrier")
        .with(
            "sdp",
            audio_sdp(LOCALHOST, a_port, &[PCMU, TE8], 20).as_str(),
        )
        .with(
            "codec",
            Dict::new().with("transcode", Value::from(vec![Value::from("opus")])),
        );
    let offered = ng::reply_sdp(
        &ng::expect_ok(ng::send(&mut client, &offer, "offer"), "offer"),
        "offer",
    );
    assert!(audio_endpoint(&offered).is_some(), "{offered}");
    let opus_pt = rtpmap_pt(&offered, "opus/48000").expect("opus offered to B");
    assert_eq!(opus_pt, OPUS.pt, "{offered}");
    let answered = ng::answer(
        &mut client,
        &call,
        "carrier",
        "platform",
        &audio_sdp(LOCALHOST, b_port, &[OPUS, TE48], 20),
    );
    let relay_for_a: SocketAddr = audio_endpoint(&answered).unwrap();
    assert!(answered.contains("PCMU/8000"), "{answered}");
    let a = bind(a_port);
    let b = bind(b_port);

    let start = Instant::now();
    for k in 0..50u16 {
        let p = rtp(
            PCMU.pt,
            1000 + k,
            8000 * 3 + u32::from(k) * 160,
            &tone(u32::from(k) * 160),
        );
        a.send_to(&p, relay_for_a).unwrap();
        // 20 ms pacing, without drift.
        let next = start + Duration::from_millis(20 * (u64::from(k) + 1));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let opus = receive(&b, Duration::from_millis(400));
    assert_eq!(opus.len(), 50, "one Opus packet per PCMU packet");
    let seq = |p: &[u8]| u16::from_be_bytes([p[2], p[3]]);
    let ts = |p: &[u8]| u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
    for (i, p) in opus.iter().enumerate() {
        assert_eq!(p[1] & 0x7f, OPUS.pt);
        assert_eq!(seq(p), seq(&opus[0]).wrapping_add(i as u16));
        assert_eq!(ts(p).wrapping_sub(ts(&opus[0])), 960 * i as u32);
    }

    // `play DTMF` on behalf of the carrier: B hears '4' as RFC 4733 events
    // on its telephone-event/48000, paced by the transcoder's timers.
    let play = Dict::new()
        .with("command", "play DTMF")
        .with("call-id", call.as_str())
        .with("from-tag", "carrier")
        .with("code", "4")
        .with("duration", 200_i64);
    ng::expect_ok(ng::send(&mut client, &play, "play DTMF"), "play DTMF");
    let events: Vec<Vec<u8>> = receive(&b, Duration::from_millis(800))
        .into_iter()
        .filter(|p| p[1] & 0x7f == TE48.pt)
        .collect();
    let ends = events.iter().filter(|p| p[13] & 0x80 != 0).count();
    assert!(events.len() >= 5, "updates and ends: {}", events.len());
    assert!(events.iter().all(|p| p[12] == 4), "event code 4");
    assert_eq!(ends, 3, "three end packets");
    let last = events.last().unwrap();
    assert_eq!(u16::from_be_bytes([last[14], last[15]]), 200 * 48);
    ng::delete(&mut client, &call, "carrier");
}

//! DTMF in a call whose legs share a codec (nothing is transcoded): the
//! telephone-events reach the far side unchanged, each digit is reported
//! once as JSON to `--dtmf-log-dest` (and logged), `block DTMF` drops the
//! events (counted, not reported) while audio keeps flowing, and
//! `unblock DTMF` lets them through again.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use sluice_ng::Dict;
use sluice_tests::relay::{RelayKind, RelayOptions};
use sluice_tests::sdp::{audio_endpoint, audio_sdp, Codec, PCMU};
use sluice_tests::{call_id, ng, PortBlock, Relay};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const TE: Codec = Codec {
    pt: 101,
    rtpmap: "telephone-event/8000",
};

fn bind(port: u16) -> UdpSocket {
    let s = UdpSocket::bind((LOCALHOST, port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    s
}

fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x00de_cafe_u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// One digit of 100 ms at 8 kHz: two updates and three end packets.
fn digit(code: u8, ts: u32, seq: u16) -> Vec<Vec<u8>> {
    [
        (160u16, false),
        (480, false),
        (800, true),
        (800, true),
        (800, true),
    ]
    .iter()
    .enumerate()
    .map(|(i, &(duration, end))| {
        let payload = [
            code,
            if end { 0x80 | 10 } else { 10 },
            (duration >> 8) as u8,
            duration as u8,
        ];
        rtp(TE.pt, i == 0, seq + i as u16, ts, &payload)
    })
    .collect()
}

/// Everything `socket` receives until it is quiet.
fn drain(socket: &UdpSocket) -> Vec<Vec<u8>> {
    let mut buf = [0u8; 2048];
    let mut got = Vec::new();
    while let Ok(n) = socket.recv(&mut buf) {
        got.push(buf[..n].to_vec());
        if got.len() > 1000 {
            break;
        }
    }
    got
}

fn command(client: &mut sluice_ng::client::Client, name: &str, call: &str) {
    let req = Dict::new()
        .with("command", name)
        .with("call-id", call)
        .with("from-tag", "carrier");
    ng::expect_ok(ng::send(client, &req, name), name);
}

#[test]
fn digits_pass_are_reported_once_and_can_be_blocked() {
    if !RelayKind::MediaCore.available("dtmf_pass_through") {
        return;
    }
    let mut ports = PortBlock::new();
    let log_port = ports.take(1);
    let a_port = ports.take(2);
    let b_port = ports.take(2);
    let dtmf_log = bind(log_port);
    dtmf_log
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let opts = RelayOptions {
        extra_args: vec!["--dtmf-log-dest".into(), format!("127.0.0.1:{log_port}")],
        ..RelayOptions::default()
    };
    let relay = Relay::start(RelayKind::MediaCore, &mut ports, &opts);
    let mut client = relay.client();
    let call = call_id("dtmf_pass_through");
    let offered = ng::offer(
        &mut client,
        &call,
        "carrier",
        &audio_sdp(LOCALHOST, a_port, &[PCMU, TE], 20),
    );
    let relay_for_b = audio_endpoint(&offered).unwrap();
    let answered = ng::answer(
        &mut client,
        &call,
        "carrier",
        "platform",
        &audio_sdp(LOCALHOST, b_port, &[PCMU, TE], 20),
    );
    let relay_for_a: SocketAddr = audio_endpoint(&answered).unwrap();
    let a = bind(a_port);
    let b = bind(b_port);
    // B speaks first so the relay knows where B is.
    b.send_to(&rtp(0, true, 1, 0, &[0xff; 160]), relay_for_b)
        .unwrap();

    let events = digit(5, 16_000, 100);
    for p in &events {
        a.send_to(p, relay_for_a).unwrap();
    }
    let got = drain(&b);
    assert_eq!(got, events, "telephone-events pass unchanged");
    let mut buf = [0u8; 2048];
    let n = dtmf_log.recv(&mut buf).expect("a JSON report of digit 5");
    let json: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
    assert_eq!(json["callid"], call.as_str());
    assert_eq!(json["source_tag"], "carrier");
    assert_eq!(json["digit"], "5");
    assert_eq!(json["duration"], 100);
    assert_eq!(json["volume"], 10);

    command(&mut client, "block DTMF", &call);
    for p in digit(7, 32_000, 200) {
        a.send_to(&p, relay_for_a).unwrap();
    }
    a.send_to(&rtp(0, false, 300, 40_000, &[0xff; 160]), relay_for_a)
        .unwrap();
    let got = drain(&b);
    assert_eq!(got.len(), 1, "only the audio packet passes while blocked");
    assert_eq!(got[0][1] & 0x7f, 0);
    let query = ng::query(&mut client, &call);
    assert_eq!(
        ng::media_core_drops_for(&query, "DTMF blocked"),
        Some(5),
        "{}",
        ng::show(&query)
    );

    command(&mut client, "unblock DTMF", &call);
    let events = digit(9, 48_000, 400);
    for p in &events {
        a.send_to(p, relay_for_a).unwrap();
    }
    assert_eq!(drain(&b), events);
    let n = dtmf_log.recv(&mut buf).expect("a JSON report of digit 9");
    let json: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
    assert_eq!(
        json["digit"], "9",
        "digit 7 was blocked and is not reported; 9 is"
    );
    ng::delete(&mut client, &call, "carrier");
}

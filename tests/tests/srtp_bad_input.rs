//! Hostile SRTP: packets under a wrong key, tampered tags, replays and
//! truncated packets reach the relay on an SRTP leg while a healthy call
//! streams beside it. Valid packets are made by libsrtp (Debian's libsrtp2,
//! an implementation independent of the relay's); only they may reach the
//! plain far side, intact, and media-core counts each refusal by reason.
//! Offers with unknown suites or MKI get NG errors.
//!
//! Against rtpengine (`SLUICE_RELAY=rtpengine`, Debian's 10.5) this test
//! fails on purpose: rtpengine forwards the replayed packets.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::thread;
use std::time::Duration;

use sluice_ng::Value;
use sluice_srtp::Suite;
use sluice_srtp_compare::libsrtp::{Direction, Libsrtp};
use sluice_tests::relay::RelayKind;
use sluice_tests::rtp::{duplex_stream, rtp_packet};
use sluice_tests::sdp::{audio_endpoint, audio_sdp, savp_audio_sdp, PCMU};
use sluice_tests::{call_id, ng, PortBlock, Relay};

const TEST: &str = "srtp_bad_input";
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const SSRC: u32 = 0x7e57_0001;
/// AEAD_AES_128_GCM key || salt (16 + 12 bytes), and its base64.
const KEY: [u8; 28] = *b"0123456789abcdef0123456789ab";
const KEY_B64: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYg==";
const WRONG_KEY: [u8; 28] = *b"fedcba9876543210fedcba987654";

fn bind(port: u16) -> UdpSocket {
    let s = UdpSocket::bind((LOCALHOST, port)).expect("binding a test port");
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("setting a read timeout");
    s
}

/// An SRTP packet of sequence `seq` protected by `session`.
fn protected(session: &mut Libsrtp, seq: u16) -> Vec<u8> {
    let plain = rtp_packet(SSRC, seq, u32::from(seq) * 160, 0, 160);
    let mut buf = plain.clone();
    buf.resize(
        plain.len() + sluice_srtp_compare::libsrtp::trailer_room(),
        0,
    );
    let n = session
        .protect_rtp(&mut buf, plain.len())
        .expect("libsrtp protects");
    buf.truncate(n);
    buf
}

/// Everything `socket` receives until it is quiet for 300 ms.
fn drain(socket: &UdpSocket) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(n) = socket.recv(&mut buf) {
        got.push(buf[..n].to_vec());
    }
    got
}

#[test]
fn forged_replayed_and_truncated_srtp_is_dropped_and_counted() {
    let kind = RelayKind::from_env();
    if !kind.available(TEST) {
        return;
    }
    let mut ports = PortBlock::new();
    let relay = Relay::from_env(&mut ports);
    let mut client = relay.client();

    // Unknown suites and MKI: NG errors, no call.
    for (what, line) in [
        (
            "unknown suite",
            "1 F8_128_HMAC_SHA1_80 inline:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlh",
        ),
        (
            "MKI",
            "1 AES_CM_128_HMAC_SHA1_80 inline:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlh|2^31|1:4",
        ),
    ] {
        if kind != RelayKind::MediaCore {
            break; // rtpengine accepts both (it implements F8 and MKI).
        }
        let sdp = savp_audio_sdp(LOCALHOST, ports.take(2), &[PCMU], 20, &[line.to_owned()]);
        let req = sluice_ng::Dict::new()
            .with("command", "offer")
            .with("call-id", call_id(TEST))
            .with("from-tag", "x")
            .with("sdp", sdp);
        let reply = ng::send(&mut client, &req, what);
        ng::expect_error(&reply, what);
        eprintln!("{what}: {:?}", ng::error_reason(&reply));
    }

    // The SRTP call: A speaks AEAD_AES_128_GCM, B plain RTP.
    let (a_port, b_port) = (ports.take(2), ports.take(2));
    let call = call_id(TEST);
    let offer_sdp = savp_audio_sdp(
        LOCALHOST,
        a_port,
        &[PCMU],
        20,
        &[format!("1 AEAD_AES_128_GCM inline:{KEY_B64}")],
    );
    let to_b = ng::offer_with(
        &mut client,
        &call,
        "tag-a",
        &offer_sdp,
        &[("transport-protocol", Value::from("RTP/AVP"))],
    );
    assert!(audio_endpoint(&to_b).is_some(), "offer has an endpoint");
    let to_a = ng::answer(
        &mut client,
        &call,
        "tag-a",
        "tag-b",
        &audio_sdp(LOCALHOST, b_port, &[PCMU], 20),
    );
    let relay_for_a = audio_endpoint(&to_a).expect("answer has an endpoint");

    // A healthy plain call streams alongside the whole time.
    let (h_a, h_b) = (ports.take(2), ports.take(2));
    let healthy = call_id(TEST);
    let h_to_b = ng::offer(
        &mut client,
        &healthy,
        "h-a",
        &audio_sdp(LOCALHOST, h_a, &[PCMU], 20),
    );
    let h_to_a = ng::answer(
        &mut client,
        &healthy,
        "h-a",
        "h-b",
        &audio_sdp(LOCALHOST, h_b, &[PCMU], 20),
    );
    let (h_for_a, h_for_b) = (
        audio_endpoint(&h_to_a).expect("endpoint"),
        audio_endpoint(&h_to_b).expect("endpoint"),
    );
    let stream = thread::spawn(move || duplex_stream(h_a, h_for_a, h_b, h_for_b, 100));

    let a = bind(a_port);
    let b = bind(b_port);
    let mut good =
        Libsrtp::new(Suite::AeadAes128Gcm, &KEY, Direction::Outbound).expect("libsrtp session");
    let mut wrong = Libsrtp::new(Suite::AeadAes128Gcm, &WRONG_KEY, Direction::Outbound)
        .expect("libsrtp session");
    let send = |p: &[u8]| {
        a.send_to(p, relay_for_a).expect("sending to the relay");
        thread::sleep(Duration::from_millis(2));
    };
    let mut valid: Vec<Vec<u8>> = Vec::new();
    for seq in 1..=20 {
        let p = protected(&mut good, seq);
        send(&p);
        valid.push(p);
    }
    for seq in 21..=30 {
        send(&protected(&mut wrong, seq));
    }
    for seq in 31..=40 {
        let mut p = protected(&mut good, seq);
        let last = p.len() - 1;
        p[last] ^= 0x01;
        send(&p);
    }
    for p in &valid[..10] {
        send(p);
    }
    for seq in 41..=50 {
        let p = protected(&mut good, seq);
        send(&p[..14]);
    }
    for seq in 51..=60 {
        send(&protected(&mut good, seq));
    }

    let got = drain(&b);
    let seqs: Vec<u16> = got
        .iter()
        .map(|p| u16::from_be_bytes([p[2], p[3]]))
        .collect();
    let expected: Vec<u16> = (1..=20).chain(51..=60).collect();
    assert_eq!(
        seqs, expected,
        "only the genuine packets, once each, reach B"
    );
    for p in &got {
        let seq = u16::from_be_bytes([p[2], p[3]]);
        assert_eq!(
            p,
            &rtp_packet(SSRC, seq, u32::from(seq) * 160, 0, 160),
            "decrypted intact"
        );
    }

    let (ab, ba) = stream.join().expect("stream thread does not panic");
    assert!(
        ab.missing().is_empty() && ba.missing().is_empty(),
        "the healthy call lost packets: A->B {:?}, B->A {:?}",
        ab.missing(),
        ba.missing()
    );

    if kind == RelayKind::MediaCore {
        let q = ng::query(&mut client, &call);
        for (reason, count) in [
            ("SRTP auth failed", 20),
            ("SRTP replay", 10),
            ("SRTP error", 10),
        ] {
            assert_eq!(
                ng::media_core_drops_for(&q, reason),
                Some(count),
                "{reason} in {}",
                ng::show(&q)
            );
        }
        let (rtp, _) = ng::totals(&q);
        assert_eq!(rtp.packets, 30, "forwarded count in {}", ng::show(&q));
        let h = ng::query(&mut client, &healthy);
        assert_eq!(ng::media_core_drops(&h), Some(0), "{}", ng::show(&h));
    }
}

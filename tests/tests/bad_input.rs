//! Hostile and broken input: malformed NG requests get error replies (or,
//! without a cookie, none), and junk UDP at media ports costs a concurrent
//! healthy call nothing.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use sluice_ng::{frame, Dict};
use sluice_tests::relay::RelayKind;
use sluice_tests::rtp::{duplex_stream, rtp_packet};
use sluice_tests::sdp::{audio_endpoint, audio_sdp, sdp_without_media, PCMU};
use sluice_tests::{call_id, ng, PortBlock, Relay};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn bencode_str(s: &str) -> String {
    format!("{}:{s}", s.len())
}

/// Sends `datagram` with `cookie` and checks the reply is an NG error
/// (same cookie, `result: error`, an `error-reason`).
fn expect_error_reply(
    client: &mut sluice_ng::client::Client,
    cookie: &str,
    body: &[u8],
    what: &str,
) {
    let mut datagram = format!("{cookie} ").into_bytes();
    datagram.extend_from_slice(body);
    let reply = client
        .raw(&datagram)
        .unwrap_or_else(|e| panic!("{what}: sending: {e}"))
        .unwrap_or_else(|| {
            panic!(
                "{what}: no reply to {:?}",
                String::from_utf8_lossy(&datagram)
            )
        });
    let (got_cookie, dict) = frame::decode(&reply).unwrap_or_else(|e| {
        panic!(
            "{what}: reply does not parse ({e}): {:?}",
            String::from_utf8_lossy(&reply)
        )
    });
    assert_eq!(
        got_cookie,
        cookie.as_bytes(),
        "{what}: reply cookie differs"
    );
    ng::expect_error(&dict, what);
    eprintln!("{what}: error-reason {:?}", ng::error_reason(&dict));
}

#[test]
fn malformed_ng_requests_get_error_replies() {
    let test = "bad_input::malformed_ng_requests_get_error_replies";
    let kind = RelayKind::from_env();
    if !kind.available(test) {
        return;
    }
    let mut ports = PortBlock::new();
    let mut relay = Relay::from_env(&mut ports);
    let mut client = relay.client();
    client.retransmit_after = Duration::from_millis(1500);

    let sdp = audio_sdp(LOCALHOST, ports.take(2), &[PCMU], 20);
    let offer_without = |omit: &str| {
        let mut body = String::from("d");
        // Keys in sorted order, as bencode wants.
        for (k, v) in [
            ("call-id", "nocall@sluice.test"),
            ("command", "offer"),
            ("from-tag", "ft"),
            ("sdp", sdp.as_str()),
        ] {
            if k != omit {
                body.push_str(&bencode_str(k));
                body.push_str(&bencode_str(v));
            }
        }
        body.push('e');
        body
    };
    let no_media = sdp_without_media(LOCALHOST);
    let no_media_call = call_id("nomedia");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage after cookie", b"garbage".to_vec()),
        ("binary garbage", vec![0xff, 0x00, 0x13, 0x37, 0x80, 0x01]),
        ("truncated dict", b"d7:command".to_vec()),
        ("truncated string", b"d7:command4:pi".to_vec()),
        (
            "string length beyond datagram",
            b"d7:command99999:ping".to_vec(),
        ),
        ("list instead of dict", b"l4:pinge".to_vec()),
        ("integer instead of dict", b"i5e".to_vec()),
        ("dict without command", b"de".to_vec()),
        ("unknown command", b"d7:command10:fly-to-mooe".to_vec()),
        (
            "answer for an unknown call",
            format!(
                "d{}{}{}{}{}{}{}{}{}{}e",
                bencode_str("call-id"),
                bencode_str("no-such-call@sluice.test"),
                bencode_str("command"),
                bencode_str("answer"),
                bencode_str("from-tag"),
                bencode_str("ft"),
                bencode_str("sdp"),
                bencode_str(&sdp),
                bencode_str("to-tag"),
                bencode_str("tt"),
            )
            .into_bytes(),
        ),
        (
            "offer with SDP without media",
            format!(
                "d{}{}{}{}{}{}{}{}e",
                bencode_str("call-id"),
                bencode_str(&no_media_call),
                bencode_str("command"),
                bencode_str("offer"),
                bencode_str("from-tag"),
                bencode_str("ft"),
                bencode_str("sdp"),
                bencode_str(&no_media),
            )
            .into_bytes(),
        ),
        (
            "offer without call-id",
            offer_without("call-id").into_bytes(),
        ),
        (
            "offer without from-tag",
            offer_without("from-tag").into_bytes(),
        ),
        ("offer without sdp", offer_without("sdp").into_bytes()),
    ];
    for (i, (what, body)) in cases.iter().enumerate() {
        expect_error_reply(&mut client, &format!("bad{i}"), body, what);
    }

    // Without a cookie there is nothing to address a reply to: an error
    // reply or silence are both fine, as long as the relay keeps serving.
    for datagram in [&b""[..], b"x", b"garbage", b"\x00\x00\x00\x00", &[b'z'; 11]] {
        let reply = client
            .raw(datagram)
            .unwrap_or_else(|e| panic!("sending raw NG: {e}"));
        if let Some(r) = reply {
            eprintln!(
                "cookie-less {:?} got {:?}",
                String::from_utf8_lossy(datagram),
                String::from_utf8_lossy(&r)
            );
        }
    }
    // An oversized but valid request.
    let big = format!("big d7:command4:ping3:pad9000:{}e", "p".repeat(9000));
    let reply = client
        .raw(big.as_bytes())
        .unwrap_or_else(|e| panic!("sending 9 kB ping: {e}"));
    eprintln!(
        "9 kB ping got {:?}",
        reply
            .as_deref()
            .map(|r| String::from_utf8_lossy(&r[..r.len().min(80)]).into_owned())
    );

    relay.assert_running("after malformed NG input");
    assert!(
        ng::ping(&mut client),
        "relay stopped answering ping after malformed input"
    );
    let calls = ng::list(&mut client);
    match kind {
        // rtpengine keeps a half-made call for the media-less offer.
        RelayKind::Rtpengine => eprintln!("rtpengine lists after errors: {calls:?}"),
        RelayKind::MediaCore => assert!(
            calls.is_empty(),
            "requests that failed must not leave calls behind: {calls:?}"
        ),
    }
    // A well-formed request still works.
    let reply = ng::send(&mut client, &Dict::new().with("command", "list"), "list");
    assert_eq!(ng::result(&reply), "ok");
}

/// Sends junk at every target until `stop`: runts of 0..=11 bytes,
/// oversize datagrams, and well-formed RTP from a source the call never
/// announced. Returns the number of datagrams sent.
fn junk_sender(from: UdpSocket, targets: Vec<SocketAddr>, stop: Arc<AtomicBool>) -> u64 {
    let mut sent = 0u64;
    let big_1500 = vec![0x80u8; 1500];
    let big_1600: Vec<u8> = (0..1600u32).map(|i| (i * 7) as u8).collect();
    let big_9000: Vec<u8> = rtp_packet(0xdead_beef, 1, 1, 0, 9000 - 12);
    let mut seq = 0u16;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        for t in &targets {
            for len in 0..=11usize {
                let runt: Vec<u8> = (0..len).map(|i| 0x80u8.wrapping_add(i as u8)).collect();
                sent += u64::from(from.send_to(&runt, t).is_ok());
            }
            for big in [&big_1500, &big_1600, &big_9000] {
                sent += u64::from(from.send_to(big, t).is_ok());
            }
            let wrong = rtp_packet(0xbad0_5eed, seq, u32::from(seq) * 160, 0, 160);
            sent += u64::from(from.send_to(&wrong, t).is_ok());
        }
        seq = seq.wrapping_add(1);
        thread::sleep(Duration::from_millis(20));
    }
    sent
}

#[test]
fn junk_at_media_ports_costs_a_healthy_call_nothing() {
    let test = "bad_input::junk_at_media_ports_costs_a_healthy_call_nothing";
    let kind = RelayKind::from_env();
    if !kind.available(test) {
        return;
    }
    let mut ports = PortBlock::new();
    let mut relay = Relay::from_env(&mut ports);
    let mut client = relay.client();

    // The healthy call and a second, idle call that only junk reaches.
    let mut calls = Vec::new();
    for name in ["healthy", "victim"] {
        let a = ports.take(2);
        let b = ports.take(2);
        let id = call_id(name);
        let offered = ng::offer(
            &mut client,
            &id,
            "ta",
            &audio_sdp(LOCALHOST, a, &[PCMU], 20),
        );
        let answered = ng::answer(
            &mut client,
            &id,
            "ta",
            "tb",
            &audio_sdp(LOCALHOST, b, &[PCMU], 20),
        );
        let for_b =
            audio_endpoint(&offered).unwrap_or_else(|| panic!("no endpoint in:\n{offered}"));
        let for_a =
            audio_endpoint(&answered).unwrap_or_else(|| panic!("no endpoint in:\n{answered}"));
        calls.push((id, a, for_a, b, for_b));
    }
    let (healthy, a, for_a, b, for_b) = calls[0].clone();
    let victim_ports = [calls[1].2, calls[1].4];

    // Junk hits the victim call's RTP and RTCP ports. media-core must also
    // shrug it off at the healthy call's own ports: runts and oversize
    // datagrams must never move a latched endpoint. (rtpengine re-latches to
    // any RTP-looking source, losing a packet each time, so for the
    // reference the healthy call is only a bystander.)
    let mut hit = vec![victim_ports[0], victim_ports[1]];
    if kind == RelayKind::MediaCore {
        hit.extend([for_a, for_b]);
    }
    let mut targets = Vec::new();
    for ep in hit {
        targets.push(ep);
        targets.push(SocketAddr::new(ep.ip(), ep.port() + 1)); // RTCP
    }
    // Also the relay's other media ports, allocated or not.
    let (min, max) = relay.media_ports();
    let healthy_ports = [
        for_a.port(),
        for_a.port() + 1,
        for_b.port(),
        for_b.port() + 1,
    ];
    targets.extend(
        (min..=max)
            .step_by(7)
            .filter(|p| kind == RelayKind::MediaCore || !healthy_ports.contains(p))
            .map(|p| SocketAddr::new(LOCALHOST, p)),
    );
    targets.sort();
    targets.dedup();

    // First let the healthy call settle on its endpoints, then attack it.
    let (warm_ab, warm_ba) = duplex_stream(a, for_a, b, for_b, 25);
    assert!(
        warm_ab.missing().is_empty() && warm_ba.missing().is_empty(),
        "healthy call lost packets before any junk: A->B {:?}, B->A {:?}",
        warm_ab.missing(),
        warm_ba.missing()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let attacker = UdpSocket::bind(("127.0.0.1", ports.take(1))).expect("binding the junk sender");
    let junk = {
        let stop = stop.clone();
        thread::spawn(move || junk_sender(attacker, targets, stop))
    };
    // 200 packets each way: 4 s at 50 pps.
    let (ab, ba) = duplex_stream(a, for_a, b, for_b, 200);
    stop.store(true, Ordering::Relaxed);
    let junk_sent = junk.join().expect("junk sender does not panic");
    eprintln!(
        "junk datagrams sent: {junk_sent}; A->B got {} (foreign {}), B->A got {} (foreign {})",
        ab.received.len(),
        ab.foreign,
        ba.received.len(),
        ba.foreign
    );

    relay.assert_running("after junk at media ports");
    assert!(
        ab.missing().is_empty(),
        "healthy call A->B lost {:?} of {}",
        ab.missing(),
        ab.sent
    );
    assert!(
        ba.missing().is_empty(),
        "healthy call B->A lost {:?} of {}",
        ba.missing(),
        ba.sent
    );
    assert_eq!(ab.duplicates + ba.duplicates, 0, "relay duplicated packets");
    assert!(ng::ping(&mut client), "relay stopped answering ping");

    let q = ng::query(&mut client, &healthy);
    let (rtp, _) = ng::totals(&q);
    eprintln!("healthy call totals: {rtp:?}");
    if kind == RelayKind::MediaCore {
        let drops = ng::media_core_drops(&q);
        eprintln!("media-core drops for the healthy call: {drops:?}");
        assert!(
            drops.is_some_and(|n| n > 0),
            "media-core reports no drops for the healthy call (see ng::media_core_drops for the key): {drops:?}\n{}",
            ng::show(&q)
        );
        // A latched call never passes a stranger's RTP on, and counts it.
        assert_eq!(
            (ab.foreign, ba.foreign),
            (0, 0),
            "media-core forwarded RTP from a wrong source"
        );
        let wrong = ng::media_core_drops_for(&q, "wrong source");
        assert!(
            wrong.is_some_and(|n| n > 0),
            "no `wrong source` drops counted: {}",
            ng::show(&q)
        );
        let expected = (warm_ab.sent + warm_ba.sent + ab.sent + ba.sent) as i64;
        assert_eq!(
            rtp.packets, expected,
            "RTP totals count exactly the healthy packets"
        );
    }
    for (id, ..) in &calls {
        ng::delete(&mut client, id, "ta");
    }
}

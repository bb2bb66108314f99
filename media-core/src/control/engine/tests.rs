//! Offer/answer, legs, rtcp-mux, interfaces, limits and deletion, with
//! SDPs shaped like those SIPp, Kamailio and baresip send.

use super::*;
use crate::config::Args;
use crate::relay::Role;
use clap::Parser;
use sluice_ng::request::parse_request;
use sluice_ng::{bencode, Value};
use std::net::UdpSocket;

const SIPP_OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
const SIPP_ANSWER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 6200 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
const BARESIP_OFFER: &str = "v=0\r\no=- 1234 5678 IN IP4 10.0.0.7\r\ns=-\r\nc=IN IP4 10.0.0.7\r\nt=0 0\r\na=ice-ufrag:abcd\r\na=ice-pwd:efghijklmnopqrstuvwxyz12\r\nm=audio 10000 RTP/AVP 96 0 8 101\r\nb=AS:128\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 stereo=1;sprop-stereo=1\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=rtcp-mux\r\na=ptime:20\r\na=sendrecv\r\na=candidate:1 1 UDP 2130706431 10.0.0.7 10000 typ host\r\na=label:1\r\n";

fn config(extra: &[&str]) -> Config {
    let mut args = vec!["media-core", "--port-min", "42000", "--port-max", "42199"];
    args.extend_from_slice(extra);
    Config::load(&Args::try_parse_from(args).unwrap()).unwrap()
}

fn engine(extra: &[&str]) -> Engine {
    Engine::new(&config(extra), Box::new(super::super::ports::OsBinder))
}

fn request(pairs: &[(&str, Value)]) -> Request {
    let mut d = sluice_ng::Dict::new();
    for (k, v) in pairs {
        d.insert(k, v.clone());
    }
    // Round-trip through bencode: the engine sees what the wire carries.
    let Value::Dict(d) = bencode::decode(&Value::Dict(d).to_bytes()).unwrap() else {
        unreachable!()
    };
    parse_request(&d).unwrap()
}

fn offer(call: &str, from: &str, sdp: &str, extra: &[(&str, Value)]) -> Request {
    let mut pairs = vec![
        ("command", Value::from("offer")),
        ("call-id", call.into()),
        ("from-tag", from.into()),
        ("sdp", sdp.into()),
    ];
    pairs.extend(extra.iter().cloned());
    request(&pairs)
}

fn answer(call: &str, from: &str, to: &str, sdp: &str) -> Request {
    request(&[
        ("command", "answer".into()),
        ("call-id", call.into()),
        ("from-tag", from.into()),
        ("to-tag", to.into()),
        ("sdp", sdp.into()),
    ])
}

fn media_port(sdp: &str) -> u16 {
    SessionDescription::parse(sdp).unwrap().media()[0].port()
}

fn configs(e: &mut Engine) -> HashMap<SocketKey, crate::relay::SocketConfig> {
    e.take_commands()
        .into_iter()
        .filter_map(|(_, c)| match c {
            WorkerCommand::Configure { key, config } => Some((key, *config)),
            _ => None,
        })
        .collect()
}

#[test]
fn offer_then_answer_wires_both_legs() {
    let mut e = engine(&[]);
    let now = Instant::now();
    let out = e
        .offer_answer(&offer("c1", "A", SIPP_OFFER, &[]), true, now)
        .unwrap();
    let to_b = media_port(&out);
    assert!(out.contains("c=IN IP4 127.0.0.1\r\n"));
    assert!(out.contains("a=rtpmap:0 PCMU/8000\r\n"), "codecs kept");
    assert!(out.contains(&format!("a=rtcp:{}\r\n", to_b + 1)));
    let opened = e
        .take_commands()
        .iter()
        .filter(|(_, c)| matches!(c, WorkerCommand::Open { .. }))
        .count();
    assert_eq!(opened, 4, "RTP and RTCP for each leg");

    let back = e
        .offer_answer(&answer("c1", "A", "B", SIPP_ANSWER), false, now)
        .unwrap();
    let to_a = media_port(&back);
    assert_ne!(to_a, to_b);
    let cfg = configs(&mut e);
    let a_rtp = cfg[&SocketKey::new(0, to_a)];
    let b_rtp = cfg[&SocketKey::new(0, to_b)];
    assert_eq!(a_rtp.sdp_remote, Some("127.0.0.1:6000".parse().unwrap()));
    assert_eq!(b_rtp.sdp_remote, Some("127.0.0.2:6200".parse().unwrap()));
    assert_eq!(a_rtp.rtp_out, Some(SocketKey::new(0, to_b)));
    assert_eq!(b_rtp.rtp_out, Some(SocketKey::new(0, to_a)));
    let a_rtcp = cfg[&SocketKey::new(0, to_a + 1)];
    assert_eq!(a_rtcp.role, Role::Rtcp);
    assert_eq!(a_rtcp.sdp_remote, Some("127.0.0.1:6001".parse().unwrap()));
    assert_eq!(a_rtcp.rtcp_out, Some(SocketKey::new(0, to_b + 1)));
}

#[test]
fn swapped_tags_in_answer_are_understood() {
    let mut e = engine(&[]);
    let now = Instant::now();
    e.offer_answer(&offer("c1", "A", SIPP_OFFER, &[]), true, now)
        .unwrap();
    e.offer_answer(&answer("c1", "B", "A", SIPP_ANSWER), false, now)
        .unwrap();
    let call = e.call("c1").unwrap();
    assert_eq!(call.legs[1].tag.as_deref(), Some("B"));
    assert_eq!(
        call.media[0].sides[1].remote_rtp,
        Some("127.0.0.2:6200".parse().unwrap())
    );
}

#[test]
fn reoffer_keeps_ports_and_reinvite_from_callee_works() {
    let mut e = engine(&[]);
    let now = Instant::now();
    let first = media_port(
        &e.offer_answer(&offer("c1", "A", SIPP_OFFER, &[]), true, now)
            .unwrap(),
    );
    e.offer_answer(&answer("c1", "A", "B", SIPP_ANSWER), false, now)
        .unwrap();
    let again = media_port(
        &e.offer_answer(&offer("c1", "A", SIPP_OFFER, &[]), true, now)
            .unwrap(),
    );
    assert_eq!(first, again, "a re-offer keeps its ports");
    // The callee re-INVITEs (hold): its SDP now goes to the caller.
    let hold = SIPP_ANSWER.replace("c=IN IP4 127.0.0.2", "c=IN IP4 0.0.0.0");
    let mut req = offer("c1", "B", &hold, &[]);
    req.to_tag = Some("A".into());
    let to_a = media_port(&e.offer_answer(&req, true, now).unwrap());
    assert_eq!(to_a, e.call("c1").unwrap().media[0].sides[0].rtp.port());
    assert_eq!(
        e.call("c1").unwrap().media[0].sides[1].remote_rtp,
        None,
        "zero address means hold"
    );
}

#[test]
fn baresip_offer_keeps_everything_but_ice_and_addresses() {
    let mut e = engine(&[]);
    let out = e
        .offer_answer(
            &offer(
                "c2",
                "A",
                BARESIP_OFFER,
                &[("replace", vec![Value::from("origin")].into())],
            ),
            true,
            Instant::now(),
        )
        .unwrap();
    for kept in [
        "b=AS:128",
        "a=rtpmap:96 opus/48000/2",
        "a=fmtp:96 stereo=1;sprop-stereo=1",
        "a=fmtp:101 0-15",
        "a=ptime:20",
        "a=sendrecv",
        "a=label:1",
        "a=rtcp-mux",
        "m=audio ",
    ] {
        assert!(out.contains(kept), "lost {kept}:\n{out}");
    }
    for gone in ["candidate", "ice-ufrag", "ice-pwd", "10.0.0.7"] {
        assert!(!out.contains(gone), "kept {gone}:\n{out}");
    }
    assert!(out.contains("o=- 1234 5678 IN IP4 127.0.0.1"));
}

#[test]
fn rtcp_mux_demux_and_accept() {
    let mut e = engine(&[]);
    let now = Instant::now();
    let demux = [("rtcp-mux", Value::from(vec![Value::from("demux")]))];
    let out = e
        .offer_answer(&offer("c3", "A", BARESIP_OFFER, &demux), true, now)
        .unwrap();
    assert!(
        !out.contains("a=rtcp-mux"),
        "demux: callee is offered plain RTCP"
    );
    let back = e
        .offer_answer(&answer("c3", "A", "B", SIPP_ANSWER), false, now)
        .unwrap();
    let to_a = media_port(&back);
    assert!(back.contains("a=rtcp-mux"), "caller's mux is accepted");
    assert!(back.contains(&format!("a=rtcp:{to_a}\r\n")));
    let cfg = configs(&mut e);
    // RTCP from the callee's RTCP port goes to the caller's RTP port (muxed).
    let to_b = e.call("c3").unwrap().media[0].sides[1].rtcp;
    assert_eq!(cfg[&to_b].rtcp_out, Some(SocketKey::new(0, to_a)));
    assert_eq!(
        e.call("c3").unwrap().media[0].sides[0].remote_rtcp,
        Some("10.0.0.7:10000".parse().unwrap())
    );
}

#[test]
fn direction_picks_interfaces_by_name() {
    let mut e = engine(&[
        "--interface",
        "carrier/127.0.0.1",
        "--interface",
        "ai/127.0.0.2",
    ]);
    let dir = [(
        "direction",
        Value::from(vec![Value::from("carrier"), Value::from("ai")]),
    )];
    let now = Instant::now();
    let out = e
        .offer_answer(&offer("c4", "A", SIPP_OFFER, &dir), true, now)
        .unwrap();
    assert!(
        out.contains("c=IN IP4 127.0.0.2\r\n"),
        "the callee side gets the ai address:\n{out}"
    );
    let back = e
        .offer_answer(&answer("c4", "A", "B", SIPP_ANSWER), false, now)
        .unwrap();
    assert!(back.contains("c=IN IP4 127.0.0.1\r\n"));
    let bad = [(
        "direction",
        Value::from(vec![Value::from("nowhere"), Value::from("ai")]),
    )];
    let err = e
        .offer_answer(&offer("c5", "A", SIPP_OFFER, &bad), true, now)
        .unwrap_err();
    assert_eq!(
        err,
        Failure::Error("unknown interface in direction: nowhere".into())
    );
    assert!(e.call("c5").is_none());
}

#[test]
fn load_limit_for_sessions_and_ports() {
    let mut e = engine(&["--max-sessions", "2"]);
    let now = Instant::now();
    e.offer_answer(&offer("x1", "A", SIPP_OFFER, &[]), true, now)
        .unwrap();
    e.offer_answer(&offer("x2", "A", SIPP_OFFER, &[]), true, now)
        .unwrap();
    assert_eq!(
        e.offer_answer(&offer("x3", "A", SIPP_OFFER, &[]), true, now),
        Err(Failure::LoadLimit)
    );
    // Re-offers of existing calls still work at the limit.
    assert!(e
        .offer_answer(&offer("x1", "A", SIPP_OFFER, &[]), true, now)
        .is_ok());

    let mut small = Engine::new(
        &Config::load(
            &Args::try_parse_from(["media-core", "--port-min", "42300", "--port-max", "42303"])
                .unwrap(),
        )
        .unwrap(),
        Box::new(super::super::ports::OsBinder),
    );
    small
        .offer_answer(&offer("p1", "A", SIPP_OFFER, &[]), true, now)
        .unwrap();
    assert_eq!(
        small.offer_answer(&offer("p2", "A", SIPP_OFFER, &[]), true, now),
        Err(Failure::LoadLimit)
    );
    assert!(
        small.call("p2").is_none(),
        "a refused call leaves nothing behind"
    );
    small.take_commands();
    small
        .delete(
            &request(&[("command", "delete".into()), ("call-id", "p1".into())]),
            now,
        )
        .unwrap();
    assert!(
        small
            .offer_answer(&offer("p2", "A", SIPP_OFFER, &[]), true, now)
            .is_ok(),
        "ports came back"
    );
}

#[test]
fn bad_requests_get_reasons() {
    let mut e = engine(&[]);
    let now = Instant::now();
    let no_media = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n";
    assert_eq!(
        e.offer_answer(&offer("c", "A", no_media, &[]), true, now),
        Err(Failure::Error("SDP has no media sections".into()))
    );
    assert!(
        matches!(e.offer_answer(&offer("c", "A", "garbage", &[]), true, now), Err(Failure::Error(r)) if r.starts_with("bad SDP"))
    );
    assert_eq!(
        e.offer_answer(&answer("nope", "A", "B", SIPP_ANSWER), false, now),
        Err(Failure::Error("Unknown call-id".into()))
    );
    e.offer_answer(&offer("c", "A", SIPP_OFFER, &[]), true, now)
        .unwrap();
    assert_eq!(
        e.offer_answer(&answer("c", "X", "Y", SIPP_ANSWER), false, now),
        Err(Failure::Error("Unknown from-tag".into()))
    );
    let two = format!("{SIPP_ANSWER}m=video 7000 RTP/AVP 96\r\n");
    assert!(e
        .offer_answer(&answer("c", "A", "B", &two), false, now)
        .is_err());
    let dtls = [("transport-protocol", Value::from("UDP/TLS/RTP/SAVPF"))];
    assert!(e
        .offer_answer(&offer("c9", "A", SIPP_OFFER, &dtls), true, now)
        .is_err());
    let bad_sdes = [("SDES", Value::from(vec![Value::from("no-ROT13")]))];
    assert!(e
        .offer_answer(&offer("c9", "A", SIPP_OFFER, &bad_sdes), true, now)
        .is_err());
    assert_eq!(e.call_count(), 1);
}

#[test]
fn delete_closes_sockets_and_unknown_calls_warn_or_fail() {
    let mut e = engine(&[]);
    let now = Instant::now();
    e.offer_answer(&offer("c", "A", SIPP_OFFER, &[]), true, now)
        .unwrap();
    e.take_commands();
    let del = request(&[
        ("command", "delete".into()),
        ("call-id", "c".into()),
        ("from-tag", "A".into()),
    ]);
    assert!(e.delete(&del, now).unwrap().is_some());
    let closes = e
        .take_commands()
        .iter()
        .filter(|(_, c)| matches!(c, WorkerCommand::Close { .. }))
        .count();
    assert_eq!(closes, 4);
    assert_eq!(e.call_count(), 0);
    assert!(matches!(e.delete(&del, now), Ok(None)));
    let fatal = request(&[
        ("command", "delete".into()),
        ("call-id", "c".into()),
        ("flags", vec![Value::from("fatal")].into()),
    ]);
    assert!(e.delete(&fatal, now).is_err());
}

#[test]
fn delete_delay_and_timeouts() {
    let mut e = engine(&[]);
    let now = Instant::now();
    e.offer_answer(&offer("c", "A", SIPP_OFFER, &[]), true, now)
        .unwrap();
    let del = request(&[
        ("command", "delete".into()),
        ("call-id", "c".into()),
        ("delete delay", 5i64.into()),
    ]);
    e.delete(&del, now).unwrap();
    e.run_delayed_deletes(now + Duration::from_secs(1));
    assert_eq!(e.call_count(), 1);
    e.run_delayed_deletes(now + Duration::from_secs(6));
    assert_eq!(e.call_count(), 0);

    e.offer_answer(&offer("t", "A", SIPP_OFFER, &[]), true, now)
        .unwrap();
    let serial = e.call("t").unwrap().serial;
    e.expire(&[serial, CallSerial(999)], now);
    assert_eq!(e.call_count(), 1, "a call still ringing is kept");
    e.expire(&[serial], now + OFFER_TIMEOUT);
    assert_eq!(e.call_count(), 0);
    assert_eq!(e.counters.calls_timed_out, 1);
}

#[test]
fn latch_flags_reach_the_workers() {
    let mut e = engine(&[]);
    let flags = [(
        "flags",
        Value::from(vec![
            Value::from("strict-source"),
            Value::from("media-handover"),
        ]),
    )];
    e.offer_answer(&offer("c", "A", SIPP_OFFER, &flags), true, Instant::now())
        .unwrap();
    let cfg = configs(&mut e);
    assert!(cfg
        .values()
        .all(|c| c.latch.strict_source && c.latch.media_handover));
}

#[test]
fn sip_source_address_uses_received_from() {
    let mut e = engine(&[]);
    let extra = [
        (
            "flags",
            Value::from(vec![Value::from("SIP-source-address")]),
        ),
        (
            "received-from",
            Value::from(vec![Value::from("IP4"), Value::from("127.0.0.9")]),
        ),
    ];
    e.offer_answer(&offer("c", "A", SIPP_OFFER, &extra), true, Instant::now())
        .unwrap();
    assert_eq!(
        e.call("c").unwrap().media[0].sides[0].remote_rtp,
        Some("127.0.0.9:6000".parse().unwrap())
    );
}

#[test]
fn rtpp_flags_string_is_honoured() {
    let mut e = engine(&[]);
    let extra = [(
        "rtpp-flags",
        Value::from("replace-origin ICE=remove rtcp-mux-demux"),
    )];
    let out = e
        .offer_answer(
            &offer("c", "A", BARESIP_OFFER, &extra),
            true,
            Instant::now(),
        )
        .unwrap();
    assert!(out.contains("o=- 1234 5678 IN IP4 127.0.0.1"));
    assert!(!out.contains("a=rtcp-mux"));
}

/// Binds ephemeral ports whatever port is asked for: the engine's
/// bookkeeping is under test here, not the kernel's.
struct AnyPortBinder;

impl super::super::ports::Binder for AnyPortBinder {
    fn bind(&mut self, _addr: SocketAddr) -> std::io::Result<UdpSocket> {
        UdpSocket::bind("127.0.0.1:0")
    }
}

#[derive(Debug, Clone)]
enum Op {
    Offer { call: u8, tag: u8, media: u8 },
    Answer { call: u8, from: u8, to: u8 },
    Delete { call: u8 },
    Expire { call: u8 },
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0u8..4, 0u8..3, 1u8..3).prop_map(|(call, tag, media)| Op::Offer { call, tag, media }),
        (0u8..4, 0u8..3, 0u8..3).prop_map(|(call, from, to)| Op::Answer { call, from, to }),
        (0u8..4).prop_map(|call| Op::Delete { call }),
        (0u8..4).prop_map(|call| Op::Expire { call }),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Whatever order NG commands come in, the engine never panics, every
    /// socket it opens is closed exactly once, and every port comes back.
    #[test]
    fn any_command_sequence_keeps_sockets_and_ports_balanced(ops in proptest::collection::vec(op(), 1..24)) {
        let config = config(&["--max-sessions", "3"]);
        let mut e = Engine::new(&config, Box::new(AnyPortBinder));
        let now = Instant::now();
        let mut open = std::collections::HashSet::new();
        fn check(e: &mut Engine, open: &mut std::collections::HashSet<SocketKey>) {
            for (_, c) in e.take_commands() {
                match c {
                    WorkerCommand::Open { key, .. } => assert!(open.insert(key), "{key:?} opened twice"),
                    WorkerCommand::Close { key } => assert!(open.remove(&key), "{key:?} closed but not open"),
                    WorkerCommand::Configure { key, .. } => assert!(open.contains(&key), "{key:?} configured but not open"),
                    _ => {}
                }
            }
        }
        for op in ops {
            match op {
                Op::Offer { call, tag, media } => {
                    let mut sdp = SIPP_OFFER.to_string();
                    for _ in 1..media {
                        sdp.push_str("m=audio 6100 RTP/AVP 8\r\n");
                    }
                    let _ = e.offer_answer(&offer(&format!("c{call}"), &format!("t{tag}"), &sdp, &[]), true, now);
                }
                Op::Answer { call, from, to } => {
                    let _ = e.offer_answer(&answer(&format!("c{call}"), &format!("t{from}"), &format!("t{to}"), SIPP_ANSWER), false, now);
                }
                Op::Delete { call } => {
                    let del = request(&[("command", "delete".into()), ("call-id", format!("c{call}").as_str().into())]);
                    let _ = e.delete(&del, now);
                }
                Op::Expire { call } => {
                    if let Some(serial) = e.call(&format!("c{call}")).map(|c| c.serial) {
                        e.expire(&[serial], now + OFFER_TIMEOUT);
                    }
                }
            }
            check(&mut e, &mut open);
            let held: usize = e.calls().map(|c| c.media.len() * 4).sum();
            proptest::prop_assert_eq!(open.len(), held);
            proptest::prop_assert!(e.call_count() <= 3);
        }
        let ids: Vec<String> = e.calls().map(|c| c.call_id.clone()).collect();
        for id in ids {
            e.remove_call(&id);
        }
        check(&mut e, &mut open);
        proptest::prop_assert!(open.is_empty(), "sockets left open: {open:?}");
        proptest::prop_assert!(e.ports.iter().all(|p| p.in_use() == 0), "ports not returned");
        proptest::prop_assert!(e.pending_sockets.is_empty());
    }
}

#[test]
fn zero_address_hold_passes_through_unless_replaced() {
    let mut e = engine(&[]);
    let now = Instant::now();
    let hold = SIPP_OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
    let out = e
        .offer_answer(&offer("h", "A", &hold, &[]), true, now)
        .unwrap();
    assert!(out.contains("c=IN IP4 0.0.0.0"), "{out}");
    let replace = [("replace", Value::from(vec![Value::from("zero-address")]))];
    let out = e
        .offer_answer(&offer("h2", "A", &hold, &replace), true, now)
        .unwrap();
    assert!(!out.contains("0.0.0.0"), "{out}");
}

#[test]
fn reinvite_with_other_direction_keeps_interfaces() {
    let mut e = engine(&[
        "--interface",
        "pub/127.0.0.1",
        "--interface",
        "priv/127.0.0.2",
    ]);
    let now = Instant::now();
    let dir = |a: &str, b: &str| {
        [(
            "direction",
            Value::from(vec![Value::from(a), Value::from(b)]),
        )]
    };
    e.offer_answer(&offer("d", "A", SIPP_OFFER, &dir("pub", "priv")), true, now)
        .unwrap();
    e.offer_answer(&answer("d", "A", "B", SIPP_ANSWER), false, now)
        .unwrap();
    // The callee re-INVITEs; the proxy sends the same direction, unswapped.
    let mut req = offer("d", "B", SIPP_ANSWER, &dir("pub", "priv"));
    req.to_tag = Some("A".into());
    let to_a = e.offer_answer(&req, true, now).unwrap();
    assert!(
        to_a.contains("c=IN IP4 127.0.0.1\r\n"),
        "caller side stays on pub:\n{to_a}"
    );
    let back = e
        .offer_answer(&answer("d", "B", "A", SIPP_OFFER), false, now)
        .unwrap();
    assert!(
        back.contains("c=IN IP4 127.0.0.2\r\n"),
        "callee side stays on priv:\n{back}"
    );
}

#[test]
fn too_many_media_sections_are_refused() {
    let mut e = engine(&[]);
    let mut sdp = SIPP_OFFER.to_string();
    for _ in 0..MAX_MEDIA_PER_CALL {
        sdp.push_str("m=audio 7000 RTP/AVP 0\r\n");
    }
    assert!(e
        .offer_answer(&offer("m", "A", &sdp, &[]), true, Instant::now())
        .is_err());
    assert_eq!(e.call_count(), 0);
}

#[test]
fn delete_of_a_failed_branch_keeps_the_call_and_offers_cancel_delete_delay() {
    let mut e = engine(&[]);
    let now = Instant::now();
    e.offer_answer(&offer("f", "A", SIPP_OFFER, &[]), true, now)
        .unwrap();
    e.offer_answer(&answer("f", "A", "B", SIPP_ANSWER), false, now)
        .unwrap();
    let branch = request(&[
        ("command", "delete".into()),
        ("call-id", "f".into()),
        ("from-tag", "A".into()),
        ("to-tag", "other-branch".into()),
    ]);
    assert!(matches!(e.delete(&branch, now), Ok(None)));
    assert_eq!(e.call_count(), 1);

    let delayed = request(&[
        ("command", "delete".into()),
        ("call-id", "f".into()),
        ("delete delay", 5i64.into()),
    ]);
    e.delete(&delayed, now).unwrap();
    e.offer_answer(&offer("f", "A", SIPP_OFFER, &[]), true, now)
        .unwrap();
    e.run_delayed_deletes(now + Duration::from_secs(10));
    assert_eq!(
        e.call_count(),
        1,
        "the new offer cancelled the delete delay"
    );
}

mod codecs;
mod sdes;

use std::net::{IpAddr, Ipv4Addr};

use sluice_ng::request::IceMode;
use sluice_ng::{parse_request, Command, Dict, Value};

use super::*;

fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::from(*s)).collect())
}

fn wire(d: &Dict) -> String {
    String::from_utf8(Value::Dict(d.clone()).to_bytes()).unwrap()
}

#[test]
fn ping_is_just_the_command() {
    assert_eq!(wire(&ping()), "d7:command4:pinge");
}

#[test]
fn minimal_offer_carries_the_b2bua_defaults() {
    let p = OfferParams {
        call_id: "c1".into(),
        from_tag: "ft".into(),
        sdp: b"v=0\r\n".to_vec(),
        ..Default::default()
    };
    let expected = Dict::new()
        .with("command", "offer")
        .with("call-id", "c1")
        .with("from-tag", "ft")
        .with("sdp", "v=0\r\n")
        .with("replace", list(&["origin", "session-connection"]))
        .with("ICE", "remove")
        .with("supports", list(&["load limit"]));
    assert_eq!(offer(&p), expected);
    assert_eq!(
        wire(&offer(&p)),
        "d3:ICE6:remove7:call-id2:c17:command5:offer8:from-tag2:ft\
         7:replacel6:origin18:session-connectione3:sdp5:v=0\r\n\
         8:supportsl10:load limitee"
    );
}

fn full_options() -> SdpOptions {
    SdpOptions {
        via_branch: Some("z9hG4bK776".into()),
        received_from: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))),
        transport: TransportProtocol::RtpSavp,
        flags: vec!["inject DTMF".into(), "strict source".into()],
        codec: CodecOptions {
            strip: vec!["all".into()],
            mask: vec!["G722".into()],
            transcode: vec!["opus/48000/2".into()],
            offer: vec!["PCMU".into(), "PCMA".into()],
        },
    }
}

#[test]
fn full_offer_has_every_key() {
    let p = OfferParams {
        call_id: "c1".into(),
        from_tag: "ft".into(),
        sdp: b"v=0\r\n".to_vec(),
        direction: Some(Direction {
            from: "carrier".into(),
            to: "platform".into(),
        }),
        options: full_options(),
    };
    let expected = Dict::new()
        .with("command", "offer")
        .with("call-id", "c1")
        .with("from-tag", "ft")
        .with("sdp", "v=0\r\n")
        .with("via-branch", "z9hG4bK776")
        .with("received-from", list(&["IP4", "192.0.2.7"]))
        .with("direction", list(&["carrier", "platform"]))
        .with("transport-protocol", "RTP/SAVP")
        .with("replace", list(&["origin", "session-connection"]))
        .with("ICE", "remove")
        .with("supports", list(&["load limit"]))
        .with("flags", list(&["inject DTMF", "strict source"]))
        .with(
            "codec",
            Dict::new()
                .with("strip", list(&["all"]))
                .with("mask", list(&["G722"]))
                .with("transcode", list(&["opus/48000/2"]))
                .with("offer", list(&["PCMU", "PCMA"])),
        );
    assert_eq!(offer(&p), expected);

    // media-core's own parser reads it as meant.
    let req = parse_request(&offer(&p)).unwrap();
    assert_eq!(req.command, Command::Offer);
    assert_eq!(req.via_branch.as_deref(), Some("z9hG4bK776"));
    assert_eq!(
        req.received_from,
        Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)))
    );
    let o = &req.options;
    assert_eq!(o.direction, vec!["carrier", "platform"]);
    assert_eq!(o.transport_protocol.as_deref(), Some("RTP/SAVP"));
    assert!(o.replace.origin && o.replace.session_connection);
    assert_eq!(o.ice, Some(IceMode::Remove));
    assert!(o.supports_load_limit);
    assert!(o.flags.inject_dtmf && o.flags.strict_source);
    assert!(o.flags.unknown.is_empty(), "{:?}", o.flags.unknown);
    assert_eq!(o.codec.strip, vec!["all"]);
    assert_eq!(o.codec.mask, vec!["G722"]);
    assert_eq!(o.codec.transcode, vec!["opus/48000/2"]);
    assert_eq!(o.codec.offer, vec!["PCMU", "PCMA"]);
}

#[test]
fn answer_adds_the_to_tag_and_no_direction() {
    let p = AnswerParams {
        call_id: "c1".into(),
        from_tag: "ft".into(),
        to_tag: "tt".into(),
        sdp: b"v=0\r\n".to_vec(),
        options: SdpOptions {
            transport: TransportProtocol::RtpAvp,
            ..Default::default()
        },
    };
    let expected = Dict::new()
        .with("command", "answer")
        .with("call-id", "c1")
        .with("from-tag", "ft")
        .with("to-tag", "tt")
        .with("sdp", "v=0\r\n")
        .with("transport-protocol", "RTP/AVP")
        .with("replace", list(&["origin", "session-connection"]))
        .with("ICE", "remove");
    assert_eq!(answer(&p), expected);
    let req = parse_request(&answer(&p)).unwrap();
    assert_eq!(req.command, Command::Answer);
    assert_eq!(req.to_tag.as_deref(), Some("tt"));

    let full = answer(&AnswerParams {
        options: full_options(),
        ..p
    });
    assert!(full.get("direction").is_none());
    assert!(full.get("supports").is_none());
    assert_eq!(
        full.get("codec").and_then(Value::as_dict).map(Dict::len),
        Some(4)
    );
}

#[test]
fn empty_codec_lists_are_left_out() {
    let o = SdpOptions {
        codec: CodecOptions {
            transcode: vec!["PCMA".into()],
            ..Default::default()
        },
        ..Default::default()
    };
    let d = offer(&OfferParams {
        options: o,
        ..Default::default()
    });
    assert_eq!(
        d.get("codec"),
        Some(&Value::Dict(Dict::new().with("transcode", list(&["PCMA"]))))
    );
    assert!(d.get("flags").is_none());
    assert!(d.get("transport-protocol").is_none());
}

#[test]
fn call_commands() {
    assert_eq!(
        delete("c1", "ft", None),
        Dict::new()
            .with("command", "delete")
            .with("call-id", "c1")
            .with("from-tag", "ft")
    );
    assert_eq!(
        wire(&delete("c1", "ft", Some("tt"))),
        "d7:call-id2:c17:command6:delete8:from-tag2:ft6:to-tag2:tte"
    );
    assert_eq!(wire(&query("c1")), "d7:call-id2:c17:command5:querye");
    assert_eq!(
        wire(&block_dtmf("c1", "ft")),
        "d7:call-id2:c17:command10:block DTMF8:from-tag2:fte"
    );
    assert_eq!(
        wire(&unblock_dtmf("c1", "ft")),
        "d7:call-id2:c17:command12:unblock DTMF8:from-tag2:fte"
    );
    for (d, cmd) in [
        (delete("c1", "ft", Some("tt")), Command::Delete),
        (query("c1"), Command::Query),
        (block_dtmf("c1", "ft"), Command::BlockDtmf),
        (unblock_dtmf("c1", "ft"), Command::UnblockDtmf),
    ] {
        assert_eq!(parse_request(&d).unwrap().command, cmd);
    }
}

#[test]
fn play_dtmf_keys_and_limits() {
    let five = DtmfDigit::try_from('5').unwrap();
    assert_eq!(
        wire(&play_dtmf("c1", "ft", five, 250, 10)),
        "d7:call-id2:c14:code1:57:command9:play DTMF8:durationi250e\
         8:from-tag2:ft6:volumei10ee"
    );
    let short = play_dtmf("c1", "ft", five, 20, 0);
    assert_eq!(short.get("duration"), Some(&Value::Int(100)));
    let long = play_dtmf("c1", "ft", five, 60_000, 0);
    assert_eq!(long.get("duration"), Some(&Value::Int(5000)));

    let req = parse_request(&play_dtmf(
        "c1",
        "ft",
        DtmfDigit::try_from('#').unwrap(),
        300,
        8,
    ))
    .unwrap();
    assert_eq!(req.command, Command::PlayDtmf);
    assert_eq!(req.options.dtmf_code.as_deref(), Some("#"));
    assert_eq!(req.options.dtmf_duration_ms, Some(300));
    assert_eq!(req.options.dtmf_volume, Some(8));
}

#[test]
fn dtmf_digits() {
    for c in "0123456789*#ABCDabcd".chars() {
        let d = DtmfDigit::try_from(c).unwrap();
        assert_eq!(d.as_char(), c.to_ascii_uppercase());
    }
    for c in ['E', 'e', ' ', '!', 'é', '\0'] {
        assert!(DtmfDigit::try_from(c).is_err(), "{c:?}");
    }
}

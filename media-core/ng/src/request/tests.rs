use super::*;
use crate::frame;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

const SDP: &str = "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\n\
c=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\n\
a=rtpmap:101 telephone-event/8000\r\n";

fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::from(*s)).collect())
}

fn offer() -> Dict {
    Dict::new()
        .with("command", "offer")
        .with("call-id", "a84b4c76e66710@pc33.atlanta.example.com")
        .with("from-tag", "1928301774")
        .with("sdp", SDP)
}

fn parse(d: &Dict) -> Request {
    parse_request(d).unwrap_or_else(|e| panic!("{e} for {d:?}"))
}

fn err(d: &Dict) -> RequestError {
    match parse_request(d) {
        Ok(r) => panic!("accepted {d:?} as {r:?}"),
        Err(e) => e,
    }
}

/// Bencodes one string (test helper for hand-written datagrams).
fn b(s: &str) -> String {
    format!("{}:{}", s.len(), s)
}

#[test]
fn kamailio_5_6_offer_datagram() {
    // Keys in the order Kamailio's module writes them (not sorted).
    let body = format!(
        "d{}l{}e{}{}{}{}{}l{}{}e{}{}{}l{}e{}l{}{}e{}{}{}{}{}{}{}{}e",
        b("supports"),
        b("load limit"),
        b("sdp"),
        b(SDP),
        b("call-id"),
        b("a84b4c76e66710@pc33.atlanta.example.com"),
        b("received-from"),
        b("IP4"),
        b("127.0.0.1"),
        b("from-tag"),
        b("1928301774"),
        b("flags"),
        b("trust-address"),
        b("replace"),
        b("origin"),
        b("session-connection"),
        b("ICE"),
        b("remove"),
        b("sip-message-type"),
        b("request"),
        b("via-branch"),
        b("z9hG4bK776asdhds.0"),
        b("command"),
        b("offer"),
    );
    let datagram = format!("5_1234567_1 {body}");
    let (cookie, dict) = frame::decode(datagram.as_bytes()).unwrap();
    assert_eq!(cookie, b"5_1234567_1");
    let r = parse(&dict);
    assert_eq!(r.command, Command::Offer);
    assert_eq!(
        r.call_id.as_deref(),
        Some("a84b4c76e66710@pc33.atlanta.example.com")
    );
    assert_eq!(r.from_tag.as_deref(), Some("1928301774"));
    assert_eq!(r.to_tag, None);
    assert_eq!(r.via_branch.as_deref(), Some("z9hG4bK776asdhds.0"));
    assert_eq!(r.sdp.as_deref(), Some(SDP));
    assert_eq!(r.received_from, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    let o = &r.options;
    assert!(o.supports_load_limit);
    assert!(o.flags.trust_address);
    assert!(o.flags.unknown.is_empty());
    assert!(o.replace.origin && o.replace.session_connection);
    assert!(!o.replace.session_name);
    assert_eq!(o.ice, Some(IceMode::Remove));
}

#[test]
fn kamailio_offer_with_media_keys() {
    let d = offer()
        .with("transport-protocol", "RTP/SAVP")
        .with("direction", list(&["external", "internal"]))
        .with("rtcp-mux", list(&["demux", "offer"]))
        .with("SDES", list(&["off", "no-AES_CM_128_HMAC_SHA1_32", "pad"]))
        .with("DTLS", "passive")
        .with(
            "codec",
            Dict::new()
                .with("strip", list(&["all"]))
                .with("except", list(&["PCMA"]))
                .with("transcode", list(&["opus/48000/2", "G722"]))
                .with("mask", list(&["telephone-event"]))
                .with("consume", list(&["G729"])),
        )
        .with("ptime", 20i64)
        .with("ptime-reverse", "30")
        .with("media-address", "203.0.113.5")
        .with("address family", "IP4")
        .with("interface", "pub")
        .with(
            "flags",
            list(&["symmetric", "generate RTCP", "loop-protect"]),
        );
    let r = parse(&d);
    let o = &r.options;
    assert_eq!(o.transport_protocol.as_deref(), Some("RTP/SAVP"));
    assert_eq!(o.direction, ["external", "internal"]);
    assert!(o.rtcp_mux.demux && o.rtcp_mux.offer && !o.rtcp_mux.require);
    assert_eq!(o.sdes, ["off", "no-AES_CM_128_HMAC_SHA1_32", "pad"]);
    assert_eq!(o.dtls.as_deref(), Some("passive"));
    assert_eq!(o.codec.strip, ["all"]);
    assert_eq!(o.codec.except, ["PCMA"]);
    assert_eq!(o.codec.transcode, ["opus/48000/2", "G722"]);
    assert_eq!(o.codec.mask, ["telephone-event"]);
    assert_eq!(o.flags.unknown, ["codec-consume"]);
    assert_eq!(o.ptime, Some(20));
    assert_eq!(o.ptime_reverse, Some(30));
    assert_eq!(o.media_address, Some("203.0.113.5".parse().unwrap()));
    assert_eq!(o.address_family.as_deref(), Some("IP4"));
    assert_eq!(o.interface.as_deref(), Some("pub"));
    assert!(o.flags.symmetric && o.flags.generate_rtcp && o.flags.loop_protect);
}

#[test]
fn kamailio_answer_and_delete() {
    let answer = offer()
        .with("command", "answer")
        .with("to-tag", "as8f7d9")
        .with("received-from", list(&["IP6", "2001:db8::1"]))
        .with("sip-message-type", "reply");
    let r = parse(&answer);
    assert_eq!(r.command, Command::Answer);
    assert_eq!(r.to_tag.as_deref(), Some("as8f7d9"));
    assert_eq!(
        r.received_from,
        Some(IpAddr::V6("2001:db8::1".parse::<Ipv6Addr>().unwrap()))
    );

    let delete = Dict::new()
        .with("command", "delete")
        .with("call-id", "c1")
        .with("from-tag", "f1")
        .with("via-branch", "z9hG4bK.1")
        .with("delete delay", "0")
        .with("flags", list(&["fatal"]));
    let r = parse(&delete);
    assert_eq!(r.command, Command::Delete);
    assert_eq!(r.options.delete_delay, Some(0));
    assert!(r.options.flags.fatal);

    // rtpengine accepts a delete by call-id alone.
    let r = parse(&Dict::new().with("command", "delete").with("call-id", "c1"));
    assert_eq!(r.from_tag, None);
}

#[test]
fn kamailio_rtpp_flags_variants() {
    let d = offer().with(
        "rtpp-flags",
        "replace-origin replace-session-connection ICE=remove RTP/AVP \
         codec=[transcode=[PCMA opus/48000/2] strip=[all]] direction=[external internal] \
         SDES-off SDES-no-AES_CM_128_HMAC_SHA1_32 rtcp-mux-demux trust-address \
         label=callee via-branch=z9hG4bK.9 received-from=[IP4 10.0.0.7] \
         supports=[load-limit] flags=[symmetric early-media] ptime=20 sdes=[pad]",
    );
    let r = parse(&d);
    let o = &r.options;
    assert!(o.replace.origin && o.replace.session_connection);
    assert_eq!(o.ice, Some(IceMode::Remove));
    assert_eq!(o.transport_protocol.as_deref(), Some("RTP/AVP"));
    assert_eq!(o.codec.transcode, ["PCMA", "opus/48000/2"]);
    assert_eq!(o.codec.strip, ["all"]);
    assert_eq!(o.direction, ["external", "internal"]);
    assert_eq!(o.sdes, ["off", "no-AES_CM_128_HMAC_SHA1_32", "pad"]);
    assert!(o.rtcp_mux.demux);
    assert!(o.flags.trust_address && o.flags.symmetric && o.flags.early_media);
    assert_eq!(o.label.as_deref(), Some("callee"));
    assert_eq!(r.via_branch.as_deref(), Some("z9hG4bK.9"));
    assert_eq!(r.received_from, Some("10.0.0.7".parse().unwrap()));
    assert!(o.supports_load_limit);
    assert_eq!(o.ptime, Some(20));
    assert!(o.flags.unknown.is_empty(), "{:?}", o.flags.unknown);

    // Newer Kamailio: only the tags and SDP outside, everything else in
    // the string, including the ids.
    let d = Dict::new().with("command", "answer").with("sdp", SDP).with(
        "rtpp_flags",
        "call-id=abc@host from-tag=ft1 to-tag=tt1 ICE=force-relay",
    );
    let r = parse(&d);
    assert_eq!(r.call_id.as_deref(), Some("abc@host"));
    assert_eq!(r.from_tag.as_deref(), Some("ft1"));
    assert_eq!(r.to_tag.as_deref(), Some("tt1"));
    assert_eq!(r.options.ice, Some(IceMode::ForceRelay));

    let d = offer().with("rtpp flags", "  ");
    assert_eq!(parse(&d).options, Options::default());
}

#[test]
fn opensips_flag_shapes() {
    let d = Dict::new()
        .with("command", "offer")
        .with("call-id", "0ba2cf53-9a78-41de-8fe6-f2e5bb4d1a1e")
        .with("from-tag", "a1b2")
        .with("sdp", SDP)
        .with(
            "flags",
            list(&[
                "trust-address",
                "replace-origin",
                "replace-session-connection",
                "ICE=remove",
                "transport-protocol=RTP/AVP",
                "codec-strip-all",
                "codec-transcode-opus/48000/2",
                "codec-mask-PCMA",
                "codec-except-G722",
                "SDES-off",
                "SDES-no-AES_CM_128_HMAC_SHA1_32",
                "rtcp-mux-demux",
                "direction=external",
                "direction=internal",
                "address-family=IP6",
                "label=caller",
                "set-label=leg-a",
                "codec=[strip=[G729]]",
                "xyz-unknown",
                "frobnicate=7",
            ]),
        );
    let r = parse(&d);
    let o = &r.options;
    assert!(o.flags.trust_address);
    assert!(o.replace.origin && o.replace.session_connection);
    assert_eq!(o.ice, Some(IceMode::Remove));
    assert_eq!(o.transport_protocol.as_deref(), Some("RTP/AVP"));
    assert_eq!(o.codec.strip, ["all", "G729"]);
    assert_eq!(o.codec.transcode, ["opus/48000/2"]);
    assert_eq!(o.codec.mask, ["PCMA"]);
    assert_eq!(o.codec.except, ["G722"]);
    assert_eq!(o.sdes, ["off", "no-AES_CM_128_HMAC_SHA1_32"]);
    assert!(o.rtcp_mux.demux);
    assert_eq!(o.direction, ["external", "internal"]);
    assert_eq!(o.address_family.as_deref(), Some("IP6"));
    assert_eq!(o.label.as_deref(), Some("caller"));
    assert_eq!(o.set_label.as_deref(), Some("leg-a"));
    assert_eq!(o.flags.unknown, ["xyz-unknown", "frobnicate=7"]);
}

#[test]
fn mixed_spellings() {
    let d = Dict::new()
        .with("command", "OFFER")
        .with("call-id", "c")
        .with("from-tag", "f")
        .with("sdp", SDP)
        .with("received from", list(&["IP4", "198.51.100.1"]))
        .with("transport protocol", "RTP/AVPF")
        .with("via branch", "vb")
        .with("ptime_reverse", 40i64)
        .with("rtcp_mux", list(&["Require"]))
        .with(
            "flags",
            list(&[
                "Trust Address",
                "SIP_source_address",
                "strict source",
                "PORT-LATCHING",
                "media_handover",
                "always transcode",
                "Inject-DTMF",
                "detect dtmf",
                "record call",
                "asymmetric",
                "replace_session_name",
                "Replace-SDP-Version",
                "replace-zero address",
                "replace-username",
                "rtcp_mux_accept",
                "RTCP-mux-reject",
                "codec_strip_PCMU",
                "sdes_only_AEAD_AES_256_GCM",
            ]),
        );
    let r = parse(&d);
    assert_eq!(r.received_from, Some("198.51.100.1".parse().unwrap()));
    assert_eq!(r.via_branch.as_deref(), Some("vb"));
    let o = &r.options;
    assert_eq!(o.transport_protocol.as_deref(), Some("RTP/AVPF"));
    assert_eq!(o.ptime_reverse, Some(40));
    let f = &o.flags;
    assert!(f.trust_address && f.sip_source_address && f.strict_source && f.port_latching);
    assert!(f.media_handover && f.always_transcode && f.inject_dtmf && f.detect_dtmf);
    assert!(f.record_call && f.asymmetric);
    assert!(f.unknown.is_empty(), "{:?}", f.unknown);
    let rp = &o.replace;
    assert!(rp.session_name && rp.sdp_version && rp.zero_address && rp.username);
    assert!(o.rtcp_mux.require && o.rtcp_mux.accept && o.rtcp_mux.reject);
    // Values keep their spelling; only the prefix is normalized.
    assert_eq!(o.codec.strip, ["PCMU"]);
    assert_eq!(o.sdes, ["only_AEAD_AES_256_GCM"]);

    for k in ["rtpp-flags", "rtpp_flags", "rtpp flags", "RTPP-Flags"] {
        let r = parse(&offer().with(k, "ICE=optional"));
        assert_eq!(r.options.ice, Some(IceMode::Optional), "{k}");
    }
}

#[test]
fn dictionary_keys_win_over_flags() {
    let d = offer()
        .with("ICE", "remove")
        .with("direction", list(&["a", "b"]))
        .with(
            "flags",
            list(&["ICE=force", "call-id=other", "direction=x", "direction=y"]),
        )
        .with("rtpp-flags", "label=from-flags codec-strip-G729 SDES-off")
        .with("label", "from-key")
        .with("codec", Dict::new().with("strip", list(&["PCMU"])))
        .with("SDES", "pad");
    let r = parse(&d);
    assert_eq!(r.options.ice, Some(IceMode::Remove));
    assert_eq!(
        r.call_id.as_deref(),
        Some("a84b4c76e66710@pc33.atlanta.example.com")
    );
    assert_eq!(r.options.direction, ["a", "b"]);
    assert_eq!(r.options.label.as_deref(), Some("from-key"));
    // Lists accumulate.
    assert_eq!(r.options.codec.strip, ["G729", "PCMU"]);
    assert_eq!(r.options.sdes, ["off", "pad"]);
}

#[test]
fn flags_carrying_ids_fill_required_fields() {
    let d = Dict::new()
        .with("command", "offer")
        .with("sdp", SDP)
        .with("flags", list(&["call-id=c9", "from-tag=f9"]));
    let r = parse(&d);
    assert_eq!(r.call_id.as_deref(), Some("c9"));
    assert_eq!(r.from_tag.as_deref(), Some("f9"));
    // `from-tag=` with nothing after it is still missing.
    let d = Dict::new()
        .with("command", "offer")
        .with("sdp", SDP)
        .with("flags", list(&["call-id=c9", "from-tag="]));
    assert_eq!(err(&d), RequestError::Missing("from-tag"));
}

#[test]
fn command_spellings() {
    for (name, cmd) in [
        ("ping", Command::Ping),
        ("Ping", Command::Ping),
        ("list", Command::List),
        ("statistics", Command::Statistics),
        ("play DTMF", Command::PlayDtmf),
        ("play-DTMF", Command::PlayDtmf),
        ("play_dtmf", Command::PlayDtmf),
        ("block DTMF", Command::BlockDtmf),
        ("unblock DTMF", Command::UnblockDtmf),
        ("block media", Command::BlockMedia),
        ("unblock-media", Command::UnblockMedia),
        ("start forwarding", Command::StartForwarding),
        ("stop forwarding", Command::StopForwarding),
        ("connect", Command::Connect),
    ] {
        assert_eq!(Command::parse(name), Some(cmd), "{name}");
        assert_eq!(Command::parse(cmd.as_str()), Some(cmd));
        let d = Dict::new().with("command", name).with("call-id", "c");
        assert_eq!(parse(&d).command, cmd, "{name}");
    }
    assert_eq!(Command::PlayDtmf.to_string(), "play DTMF");
    let r = parse(&Dict::new().with("command", "ping"));
    assert_eq!(r.command, Command::Ping);
    assert_eq!(r.call_id, None);
}

#[test]
fn play_dtmf_and_list() {
    let d = Dict::new()
        .with("command", "play DTMF")
        .with("call-id", "c")
        .with("from-tag", "f")
        .with("code", 5i64)
        .with("duration", "250")
        .with("volume", -8i64);
    let r = parse(&d);
    assert_eq!(r.options.dtmf_code.as_deref(), Some("5"));
    assert_eq!(r.options.dtmf_duration_ms, Some(250));
    assert_eq!(r.options.dtmf_volume, Some(-8));
    let d = Dict::new()
        .with("command", "play-DTMF")
        .with("call-id", "c")
        .with("digit", "#");
    assert_eq!(parse(&d).options.dtmf_code.as_deref(), Some("#"));

    let r = parse(&Dict::new().with("command", "list").with("limit", "10"));
    assert_eq!(r.options.limit, Some(10));

    let r = parse(
        &Dict::new()
            .with("command", "start forwarding")
            .with("flags", list(&["all"])),
    );
    assert!(r.options.flags.all);
}

#[test]
fn missing_keys() {
    let cases: [(Dict, &str); 9] = [
        (Dict::new(), "command"),
        (Dict::new().with("command", " "), "command"),
        (Dict::new().with("command", "query"), "call-id"),
        (Dict::new().with("command", "delete"), "call-id"),
        (Dict::new().with("command", "block DTMF"), "call-id"),
        (
            Dict::new()
                .with("command", "offer")
                .with("from-tag", "f")
                .with("sdp", SDP),
            "call-id",
        ),
        (
            Dict::new()
                .with("command", "offer")
                .with("call-id", "c")
                .with("sdp", SDP),
            "from-tag",
        ),
        (offer().with("sdp", ""), "sdp"),
        (offer().with("command", "answer"), "to-tag"),
    ];
    for (d, key) in cases {
        let e = err(&d);
        assert_eq!(e, RequestError::Missing(key), "{d:?}");
        assert_eq!(e.to_string(), format!("missing key: {key}"));
    }
    let d = offer().with("call-id", "");
    assert_eq!(err(&d), RequestError::Missing("call-id"));
}

#[test]
fn unknown_command() {
    let e = err(&Dict::new().with("command", "foo"));
    assert_eq!(e, RequestError::UnknownCommand("foo".into()));
    assert_eq!(e.to_string(), "unknown command: foo");
    let long = "\u{e9}".repeat(100);
    match err(&Dict::new().with("command", long.as_str())) {
        RequestError::UnknownCommand(s) => {
            assert!(s.len() <= MAX_ECHO && s.chars().all(|c| c == '\u{e9}'));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_values() {
    let cases: Vec<(Dict, &str)> = vec![
        (Dict::new().with("command", 1i64), "command"),
        (offer().with("sdp", 42i64), "sdp"),
        (offer().with("sdp", &b"v=0\xff"[..]), "sdp"),
        (offer().with("call-id", list(&["a"])), "call-id"),
        (
            offer().with("received-from", list(&["IP4", "nope"])),
            "received-from",
        ),
        (
            offer().with("received-from", list(&["IPX", "1.2.3.4"])),
            "received-from",
        ),
        (
            offer().with("received-from", list(&["IP4", "1.2.3.4", "x"])),
            "received-from",
        ),
        (offer().with("received-from", 7i64), "received-from"),
        (
            offer().with("media-address", "example.com"),
            "media-address",
        ),
        (offer().with("ptime", "abc"), "ptime"),
        (offer().with("ptime", -1i64), "ptime"),
        (offer().with("ptime", 1i64 << 40), "ptime"),
        (offer().with("volume", 1i64 << 40), "volume"),
        (offer().with("flags", 3i64), "flags"),
        (
            offer().with("flags", Value::List(vec![Value::Int(3)])),
            "flags",
        ),
        (offer().with("flags", list(&["codec=[strip"])), "flags"),
        (offer().with("codec", "strip"), "codec"),
        (
            offer().with("codec", Dict::new().with("strip", 1i64)),
            "codec-strip",
        ),
        (offer().with("ICE", list(&["remove"])), "ICE"),
        (offer().with("direction", Dict::new()), "direction"),
        (offer().with("rtpp-flags", 1i64), "rtpp-flags"),
        (
            offer().with("rtpp-flags", "codec=[transcode=[PCMA]"),
            "rtpp-flags",
        ),
        (offer().with("rtpp-flags", "a]"), "rtpp-flags"),
        (offer().with("rtpp-flags", "[a]"), "rtpp-flags"),
        (offer().with("rtpp-flags", "ptime=x"), "ptime"),
        (offer().with("rtpp-flags", "direction=[a=[b]]"), "direction"),
    ];
    for (d, key) in cases {
        match err(&d) {
            RequestError::BadValue { key: k, reason } => {
                assert_eq!(k, key, "{d:?}: {reason}");
                assert!(!reason.is_empty());
            }
            other => panic!("{d:?}: {other:?}"),
        }
    }
    let e = err(&offer().with("sdp", 42i64));
    assert_eq!(e.to_string(), "bad value for sdp: expected a string");
}

#[test]
fn ignores_unknown_and_non_utf8_keys() {
    let d = offer()
        .with("sip-message-type", "request")
        .with("x-custom", Dict::new().with("deep", list(&["a"])))
        .with("metadata", 99i64)
        .with("record call", "yes");
    let r = parse(&d);
    let mut expected = Options::default();
    expected.flags.record_call = true;
    assert_eq!(r.options, expected);

    let (_, dict) = frame::decode(b"c d7:command4:ping2:\xff\xfei1ee").unwrap();
    assert_eq!(dict.len(), 2);
    assert_eq!(parse(&dict).command, Command::Ping);
}

#[test]
fn nested_flags_are_bounded() {
    // `flags=flags=flags=...` must not recurse without bound.
    let item = format!("{}trust-address", "flags=".repeat(10_000));
    let d = offer().with("flags", list(&[item.as_str()]));
    assert!(matches!(
        err(&d),
        RequestError::BadValue { key: "flags", .. }
    ));
    let ok = format!("{}trust-address", "flags=".repeat(3));
    assert!(
        parse(&offer().with("flags", list(&[ok.as_str()])))
            .options
            .flags
            .trust_address
    );
}

const KEYS: &[&str] = &[
    "command",
    "call-id",
    "from-tag",
    "to-tag",
    "via-branch",
    "sdp",
    "received-from",
    "received from",
    "transport-protocol",
    "replace",
    "ICE",
    "DTLS",
    "rtcp-mux",
    "direction",
    "flags",
    "rtpp-flags",
    "SDES",
    "codec",
    "ptime",
    "ptime-reverse",
    "delete delay",
    "limit",
    "supports",
    "label",
    "set-label",
    "from-label",
    "to-label",
    "interface",
    "code",
    "digit",
    "duration",
    "volume",
    "media-address",
    "address-family",
    "record call",
    "junk",
];

fn value_strategy() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::Int),
        proptest::collection::vec(any::<u8>(), 0..12).prop_map(Value::Bytes),
        "[a-zA-Z0-9 =\\[\\]/_.:-]{0,24}".prop_map(Value::from),
        prop_oneof![
            Just("offer"),
            Just("answer"),
            Just("delete"),
            Just("IP4"),
            Just("127.0.0.1"),
            Just("all"),
            Just("strip"),
            Just("trust-address"),
            Just("ICE=remove"),
            Just("codec=[strip=[all]]"),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::List),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..5).prop_map(
                |kv| {
                    let mut d = Dict::new();
                    for (k, v) in kv {
                        d.insert(k, v);
                    }
                    Value::Dict(d)
                }
            ),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_dicts_never_panic(
        entries in proptest::collection::vec(
            (proptest::sample::select(KEYS), value_strategy()),
            0..12,
        ),
        command in proptest::sample::select(&["offer", "answer", "delete", "query", "ping", "x"][..]),
    ) {
        let mut d = Dict::new().with("command", command);
        for (k, v) in entries {
            d.insert(k, v);
        }
        let _ = parse_request(&d);
    }

    #[test]
    fn arbitrary_rtpp_flags_never_panic(s in ".{0,80}") {
        let _ = parse_request(&offer().with("rtpp-flags", s.as_str()));
        let _ = parse_request(&offer().with("flags", list(&[s.as_str()])));
    }

    #[test]
    fn rtpp_flags_token_soup_never_panics(
        tokens in proptest::collection::vec(
            prop_oneof![
                proptest::sample::select(KEYS).prop_map(str::to_owned),
                "[a-zA-Z=\\[\\] /_-]{0,8}",
                Just("codec=[".to_owned()),
                Just("]".to_owned()),
                Just("=".to_owned()),
            ],
            0..16,
        ),
    ) {
        let s = tokens.join(" ");
        let _ = parse_request(&offer().with("rtpp-flags", s.as_str()));
        let glued = tokens.concat();
        let _ = parse_request(&offer().with("rtpp-flags", glued.as_str()));
    }

    #[test]
    fn arbitrary_datagrams_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        if let Ok((_, d)) = frame::decode(&bytes) {
            let _ = parse_request(&d);
        }
    }
}

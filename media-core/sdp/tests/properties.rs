//! Property tests: parse∘serialize is stable, rewrites stay parseable, and
//! no input makes the parser panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use sluice_sdp::{Direction, SessionDescription};

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9/.:+-]{1,10}",
        1 => "[!-~]{1,6}",
    ]
}

fn sep() -> impl Strategy<Value = &'static str> {
    prop_oneof![8 => Just(" "), 1 => Just("  "), 1 => Just("\t")]
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        any::<u128>().prop_map(|v| IpAddr::V6(Ipv6Addr::from(v))),
    ]
}

fn addr_text() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        3 => ip().prop_map(|ip| {
            let t = if ip.is_ipv4() { "IP4" } else { "IP6" };
            (t.to_owned(), ip.to_string())
        }),
        1 => (token(), token()),
    ]
}

fn origin_line(valid: bool) -> impl Strategy<Value = String> {
    let fields = if valid { 6..=6usize } else { 5..=7usize };
    (
        token(),
        "[0-9]{1,22}",
        "[0-9]{1,22}",
        addr_text(),
        sep(),
        fields,
    )
        .prop_map(|(user, id, ver, (at, addr), sep, fields)| {
            let all = [user, id, ver, "IN".to_owned(), at, addr, "x".to_owned()];
            format!("o={}", all[..fields].join(sep))
        })
}

fn connection_line() -> impl Strategy<Value = String> {
    (addr_text(), sep(), prop::option::of("/[0-9]{1,3}")).prop_map(|((at, addr), sep, ttl)| {
        format!("c=IN{sep}{at}{sep}{addr}{}", ttl.unwrap_or_default())
    })
}

fn media_line(valid: bool) -> impl Strategy<Value = String> {
    let (max_port, min_count, min_formats) = if valid {
        (65_536, 1, 1)
    } else {
        (70_000, 0, 0)
    };
    (
        prop_oneof![Just("audio"), Just("video"), Just("application"), Just("x")],
        0u32..max_port,
        prop::option::of(min_count..5u32),
        prop_oneof![
            Just("RTP/AVP".to_owned()),
            Just("RTP/SAVPF".to_owned()),
            Just("UDP/TLS/RTP/SAVPF".to_owned()),
            token()
        ],
        prop::collection::vec("[0-9]{1,3}|[a-z-]{1,8}", min_formats..5),
        sep(),
        prop::option::of(Just(" ")),
    )
        .prop_map(|(kind, port, count, proto, formats, sep, trailing)| {
            let count = count.map(|c| format!("/{c}")).unwrap_or_default();
            let mut line = format!("m={kind}{sep}{port}{count}{sep}{proto}");
            for f in formats {
                line.push_str(sep);
                line.push_str(&f);
            }
            line.push_str(trailing.unwrap_or(""));
            line
        })
}

fn attribute_line() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => "a=[ -~]{0,30}",
        1 => (0u8..=127, prop_oneof![Just("PCMU"), Just("opus"), Just("telephone-event")], 1u32..100_000, prop::option::of(1u8..3))
            .prop_map(|(pt, enc, rate, ch)| match ch {
                Some(ch) => format!("a=rtpmap:{pt} {enc}/{rate}/{ch}"),
                None => format!("a=rtpmap:{pt} {enc}/{rate}"),
            }),
        1 => (0u32..70_000, prop::option::of(addr_text())).prop_map(|(port, addr)| match addr {
            Some((at, a)) => format!("a=rtcp:{port} IN {at} {a}"),
            None => format!("a=rtcp:{port}"),
        }),
        1 => prop::sample::select(vec![
            "a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive", "a=rtcp-mux",
            "a=ice-ufrag:abcd", "a=ice-pwd:0123456789abcdef01234567", "a=ice-lite",
            "a=candidate:1 1 UDP 2130706431 10.0.0.1 5000 typ host", "a=end-of-candidates",
            "a=ptime:20", "a=fmtp:101 0-15",
        ]).prop_map(str::to_owned),
    ]
}

/// A line that is valid anywhere except as `o=`, `s=`, `c=`, `m=`, `v=`.
fn plain_line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => attribute_line(),
        1 => "[bdf-lnpqrt-z]=[ -~]{0,20}",
        1 => Just("i=info".to_owned()),
    ]
}

/// Any line at all, valid or not, to mutate otherwise valid bodies.
fn any_line() -> impl Strategy<Value = String> {
    prop_oneof![
        origin_line(false),
        Just("s=-".to_owned()),
        connection_line(),
        media_line(false),
        "[a-z]=[ -~]{0,20}",
        "[ -~]{0,8}",
        Just(String::new()),
        Just("v=0".to_owned()),
    ]
}

fn media_section() -> impl Strategy<Value = Vec<String>> {
    (
        media_line(true),
        prop::collection::vec(connection_line(), 0..3),
        prop::collection::vec(plain_line(), 0..8),
    )
        .prop_map(|(m, mut lines, plain)| {
            lines.insert(0, m);
            lines.extend(plain);
            lines
        })
}

fn sdp_text() -> impl Strategy<Value = String> {
    (
        prop::option::of(origin_line(true)),
        prop::option::of(Just("s=-".to_owned())),
        prop::option::of(connection_line()),
        prop::collection::vec(plain_line(), 0..6),
        prop::collection::vec(media_section(), 0..4),
        prop::collection::vec((any::<prop::sample::Index>(), any_line()), 0..2),
        prop_oneof![Just("\r\n"), Just("\n")],
        prop::option::of(prop_oneof![Just("\r\n"), Just("\n"), Just("  ")]),
    )
        .prop_map(|(o, s, c, session, media, mutations, eol, tail)| {
            let mut lines = vec!["v=0".to_owned()];
            lines.extend(o);
            lines.extend(s);
            lines.extend(c);
            lines.extend(session);
            lines.extend(media.into_iter().flatten());
            for (at, line) in mutations {
                let at = at.index(lines.len() + 1);
                lines.insert(at, line);
            }
            let mut text = lines.join(eol);
            text.push_str(eol);
            text.push_str(tail.unwrap_or(""));
            text
        })
}

/// Serializing a parse result and parsing it again gives the same result
/// and the same text.
fn assert_stable(sdp: &SessionDescription) -> Result<(), TestCaseError> {
    let text = sdp.to_sdp_string();
    let again = SessionDescription::parse(&text)
        .map_err(|e| TestCaseError::fail(format!("re-parse failed: {e}\n{text}")))?;
    prop_assert_eq!(&again, sdp);
    prop_assert_eq!(again.to_sdp_string(), text);
    Ok(())
}

#[derive(Debug, Clone)]
enum Op {
    OriginAddress(IpAddr),
    BumpVersion,
    SessionName(String),
    Connection(IpAddr),
    InsertConnection(IpAddr),
    RemoveIce,
    MediaPort(usize, u16),
    MediaProtocol(usize, String),
    MediaConnection(usize, IpAddr),
    MediaRtcp(usize, u16, Option<IpAddr>),
    MediaDirection(usize, Direction),
    MediaAddAttribute(usize, String, Option<String>),
    MediaRemove(usize, String),
    SessionAttribute(String, Option<String>),
}

fn op() -> impl Strategy<Value = Op> {
    let dir = prop::sample::select(vec![
        Direction::SendRecv,
        Direction::SendOnly,
        Direction::RecvOnly,
        Direction::Inactive,
    ]);
    prop_oneof![
        ip().prop_map(Op::OriginAddress),
        Just(Op::BumpVersion),
        "[ -~\r\n]{0,10}".prop_map(Op::SessionName),
        ip().prop_map(Op::Connection),
        ip().prop_map(Op::InsertConnection),
        Just(Op::RemoveIce),
        (0usize..4, any::<u16>()).prop_map(|(i, p)| Op::MediaPort(i, p)),
        (0usize..4, "[ -~]{0,10}").prop_map(|(i, p)| Op::MediaProtocol(i, p)),
        (0usize..4, ip()).prop_map(|(i, a)| Op::MediaConnection(i, a)),
        (0usize..4, any::<u16>(), prop::option::of(ip()))
            .prop_map(|(i, p, a)| Op::MediaRtcp(i, p, a)),
        (0usize..4, dir).prop_map(|(i, d)| Op::MediaDirection(i, d)),
        (
            0usize..4,
            "[a-z-]{1,8}",
            prop::option::of("[ -~\r\n]{0,10}")
        )
            .prop_map(|(i, n, v)| Op::MediaAddAttribute(i, n, v)),
        (
            0usize..4,
            prop::sample::select(vec!["rtpmap", "fmtp", "rtcp", "sendrecv", "candidate"])
        )
            .prop_map(|(i, n)| Op::MediaRemove(i, n.to_owned())),
        ("[a-z-]{1,8}", prop::option::of("[ -~]{0,10}"))
            .prop_map(|(n, v)| Op::SessionAttribute(n, v)),
    ]
}

fn apply(sdp: &mut SessionDescription, op: &Op) {
    let media_index = |sdp: &SessionDescription, i: usize| match sdp.media().len() {
        0 => None,
        len => Some(i % len),
    };
    match op {
        Op::OriginAddress(a) => sdp.set_origin_address(*a),
        Op::BumpVersion => sdp.bump_origin_version(),
        Op::SessionName(n) => sdp.set_session_name(n),
        Op::Connection(a) => sdp.set_connection(*a),
        Op::InsertConnection(a) => sdp.set_or_insert_connection(*a),
        Op::RemoveIce => sdp.remove_ice(),
        Op::SessionAttribute(n, v) => sdp.set_session_attribute(n, v.as_deref()),
        Op::MediaPort(i, _)
        | Op::MediaProtocol(i, _)
        | Op::MediaConnection(i, _)
        | Op::MediaRtcp(i, _, _)
        | Op::MediaDirection(i, _)
        | Op::MediaAddAttribute(i, _, _)
        | Op::MediaRemove(i, _) => {
            let Some(i) = media_index(sdp, *i) else {
                return;
            };
            let m = &mut sdp.media_mut()[i];
            match op {
                Op::MediaPort(_, p) => m.set_port(*p),
                Op::MediaProtocol(_, p) => m.set_protocol(p),
                Op::MediaConnection(_, a) => m.set_connection(*a),
                Op::MediaRtcp(_, p, a) => m.set_rtcp(*p, *a),
                Op::MediaDirection(_, d) => m.set_direction(*d),
                Op::MediaAddAttribute(_, n, v) => m.add_attribute(n, v.as_deref()),
                Op::MediaRemove(_, n) => m.remove_attributes(&[n.as_str()]),
                _ => {}
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn parse_serialize_parse_is_stable(text in sdp_text()) {
        if let Ok(sdp) = SessionDescription::parse(&text) {
            assert_stable(&sdp)?;
            // Unmodified input comes back exactly, modulo line endings and
            // trailing blank lines.
            let mut lines: Vec<&str> = text
                .split('\n')
                .map(|l| l.strip_suffix('\r').unwrap_or(l))
                .collect();
            while lines.last().is_some_and(|l| l.trim().is_empty()) {
                lines.pop();
            }
            let expected: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
            prop_assert_eq!(sdp.to_sdp_string(), expected);
        }
    }

    #[test]
    fn rewrites_stay_parseable(text in sdp_text(), ops in prop::collection::vec(op(), 0..12)) {
        if let Ok(mut sdp) = SessionDescription::parse(&text) {
            for op in &ops {
                apply(&mut sdp, op);
            }
            assert_stable(&sdp)?;
        }
    }

    #[test]
    fn relay_rewrite_touches_only_what_it_owns(text in sdp_text(), relay in ip(), port in any::<u16>()) {
        if let Ok(original) = SessionDescription::parse(&text) {
            let mut sdp = original.clone();
            sdp.set_origin_address(relay);
            sdp.set_connection(relay);
            sdp.remove_ice();
            for m in sdp.media_mut() {
                m.set_port(port);
                m.set_connection(relay);
            }
            let sdp = SessionDescription::parse(&sdp.to_sdp_string())
                .map_err(|e| TestCaseError::fail(format!("rewrite does not parse: {e}")))?;
            if let Some(origin) = sdp.origin() {
                prop_assert_eq!(origin.ip(), Some(relay));
            }
            if original.connection().is_some() {
                prop_assert_eq!(sdp.connection().and_then(|c| c.ip()), Some(relay));
            } else {
                prop_assert!(sdp.connection().is_none());
            }
            let not_ice = |a: &&sluice_sdp::Attribute| !sluice_sdp::ICE_ATTRIBUTES.contains(&a.name.as_str());
            let before: Vec<_> = original.session_attributes().iter().filter(not_ice).collect();
            let after: Vec<_> = sdp.session_attributes().iter().collect();
            prop_assert_eq!(before, after);
            prop_assert_eq!(original.media().len(), sdp.media().len());
            for (old, new) in original.media().iter().zip(sdp.media()) {
                prop_assert_eq!(new.port(), port);
                prop_assert_eq!(new.connections().count(), 1);
                prop_assert_eq!(new.connection().and_then(|c| c.ip()), Some(relay));
                prop_assert_eq!((old.kind(), old.protocol(), old.formats(), old.port_count()),
                    (new.kind(), new.protocol(), new.formats(), new.port_count()));
                let before: Vec<_> = old.attributes().iter().filter(not_ice).collect();
                let after: Vec<_> = new.attributes().iter().collect();
                prop_assert_eq!(before, after);
                prop_assert!(old.other_lines().eq(new.other_lines()));
            }
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        if let Ok(sdp) = SessionDescription::parse(&text) {
            assert_stable(&sdp)?;
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(sdp) = SessionDescription::parse(&text) {
            assert_stable(&sdp)?;
        }
    }

    #[test]
    fn accessors_never_panic(text in sdp_text()) {
        if let Ok(sdp) = SessionDescription::parse(&text) {
            let _ = (sdp.origin(), sdp.connection().and_then(|c| c.ip()), sdp.direction());
            for m in sdp.media() {
                let _ = (m.kind(), m.port(), m.port_count(), m.protocol(), m.formats());
                let _ = (m.rtcp(), m.direction(), m.is_rtcp_mux(), m.connection().and_then(|c| c.ip()));
                let _ = m.rtpmap().count();
                let _ = m.fmtp(101);
            }
        }
    }
}

/// The generator must mostly produce bodies that parse, or the properties
/// above test little.
#[test]
fn generator_mostly_produces_valid_sdp() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = sdp_text();
    let (mut ok, mut with_media) = (0, 0);
    for _ in 0..1000 {
        let text = strategy
            .new_tree(&mut runner)
            .expect("strategy has no filters")
            .current();
        if let Ok(sdp) = SessionDescription::parse(&text) {
            ok += 1;
            with_media += usize::from(!sdp.media().is_empty());
        }
    }
    assert!(
        ok > 500 && with_media > 300,
        "ok {ok}, with media {with_media}"
    );
}

//! Round-trip and rewrite tests on SDP bodies as real peers send them.

use std::net::IpAddr;

use sluice_sdp::{
    Direction, LineError, MediaLineError, RtcpAttr, RtpMap, SdpError, SessionDescription,
    MAX_MEDIA_SECTIONS, MAX_SDP_LEN,
};

/// SIPp's built-in `uac` scenario offer (LF line endings, as in the XML).
const SIPP_UAC: &str = "v=0
o=user1 53655765 2353687637 IN IP4 127.0.1.1
s=-
c=IN IP4 127.0.1.1
t=0 0
m=audio 6000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
";

/// An offer as Kamailio relays it from an Asterisk behind NAT.
const KAMAILIO_OFFER: &str = "v=0\r
o=- 1731067890 1731067890 IN IP4 192.168.1.10\r
s=Asterisk PBX 20.5.0\r
c=IN IP4 192.168.1.10\r
b=CT:384\r
t=0 0\r
m=audio 16384 RTP/AVP 8 0 18 101\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:18 G729/8000\r
a=fmtp:18 annexb=no\r
a=rtpmap:101 telephone-event/8000\r
a=fmtp:101 0-16\r
a=ptime:20\r
a=maxptime:150\r
a=sendrecv\r
a=rtcp:16385\r
a=nortpproxy:yes\r
";

/// A baresip offer: several codecs, rtcp-mux, ICE candidates.
const BARESIP_OFFER: &str = "v=0\r
o=- 3262469937 2931254880 IN IP4 192.168.1.20\r
s=-\r
c=IN IP4 192.168.1.20\r
t=0 0\r
a=tool:baresip 3.10.1\r
a=ice-options:trickle\r
m=audio 10350 RTP/AVP 96 9 0 8 101\r
b=AS:64\r
a=rtpmap:96 opus/48000/2\r
a=fmtp:96 stereo=1;sprop-stereo=1;maxaveragebitrate=28000\r
a=rtpmap:9 G722/8000\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:101 telephone-event/8000\r
a=fmtp:101 0-15\r
a=rtcp-mux\r
a=ptime:20\r
a=sendrecv\r
a=label:1\r
a=ice-ufrag:Vdtp\r
a=ice-pwd:4b0d3f53e1a32f6e1ab6c3f5\r
a=candidate:1 1 UDP 2113932031 192.168.1.20 10350 typ host\r
a=candidate:2 1 UDP 1677724415 203.0.113.20 41234 typ srflx raddr 192.168.1.20 rport 10350\r
a=end-of-candidates\r
";

/// A WebRTC-style offer (audio + video, BUNDLE, SAVPF, ICE, SDES crypto).
const WEBRTC_OFFER: &str = "v=0\r
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r
s=-\r
t=0 0\r
a=group:BUNDLE 0 1\r
a=extmap-allow-mixed\r
a=msid-semantic: WMS 3b4e2f9a\r
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 0 8 126\r
c=IN IP4 0.0.0.0\r
a=rtcp:9 IN IP4 0.0.0.0\r
a=candidate:842163049 1 udp 1677729535 198.51.100.7 51790 typ srflx raddr 10.0.0.7 rport 51790 generation 0 network-cost 999\r
a=ice-ufrag:khLS\r
a=ice-pwd:cxLzteJaJBou3DspNaPsJhlQ\r
a=ice-options:trickle\r
a=fingerprint:sha-256 FA:14:42:3B:C7:97:1B:E8:AE:0C:2E:2D:7F:F5:6F:C3:0E:DC:64:CC:75:0A:CB:A6:1E:94:4B:8C:5B:A3:7A:5F\r
a=setup:actpass\r
a=mid:0\r
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r
a=sendrecv\r
a=msid:3b4e2f9a 8f0a1c2e\r
a=rtcp-mux\r
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31|1:1\r
a=rtpmap:111 opus/48000/2\r
a=rtcp-fb:111 transport-cc\r
a=fmtp:111 minptime=10;useinbandfec=1\r
a=rtpmap:63 red/48000/2\r
a=fmtp:63 111/111\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:126 telephone-event/8000\r
a=ssrc:1001 cname:dN0Zz1Yb0yqk3Bq5\r
m=video 9 UDP/TLS/RTP/SAVPF 96 97\r
c=IN IP4 0.0.0.0\r
a=rtcp:9 IN IP4 0.0.0.0\r
a=ice-ufrag:khLS\r
a=ice-pwd:cxLzteJaJBou3DspNaPsJhlQ\r
a=ice-options:trickle\r
a=setup:actpass\r
a=mid:1\r
a=recvonly\r
a=rtcp-mux\r
a=rtcp-rsize\r
a=rtpmap:96 VP8/90000\r
a=rtcp-fb:96 nack pli\r
a=rtpmap:97 rtx/90000\r
a=fmtp:97 apt=96\r
";

/// A session without media (e.g. a hold-all or a placeholder).
const NO_MEDIA: &str = "v=0\r
o=- 0 0 IN IP4 10.1.2.3\r
s=-\r
t=0 0\r
";

/// An IPv6 offer with media-level c= and an IPv6 a=rtcp.
const IPV6_OFFER: &str = "v=0\r
o=alice 2890844526 2890844527 IN IP6 2001:db8::10\r
s=-\r
t=0 0\r
m=audio 49170 RTP/AVP 0 101\r
c=IN IP6 2001:db8::10\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:101 telephone-event/8000\r
a=fmtp:101 0-15\r
a=rtcp:49171 IN IP6 2001:db8::10\r
a=sendonly\r
";

fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

fn parse(text: &str) -> SessionDescription {
    SessionDescription::parse(text).unwrap_or_else(|e| panic!("failed to parse: {e}\n{text}"))
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address literal")
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

/// `original`'s lines with each `(old, new)` applied: `new == None` removes
/// the line, otherwise it replaces it. Every `old` must be present.
fn edited(original: &str, edits: &[(&str, Option<&str>)]) -> Vec<String> {
    let mut out = lines(original);
    for (old, new) in edits {
        let pos = out
            .iter()
            .position(|l| l == old)
            .unwrap_or_else(|| panic!("line {old:?} not in test input"));
        match new {
            Some(new) => out[pos] = (*new).to_owned(),
            None => {
                out.remove(pos);
            }
        }
    }
    out
}

const ALL: [&str; 6] = [
    SIPP_UAC,
    KAMAILIO_OFFER,
    BARESIP_OFFER,
    WEBRTC_OFFER,
    NO_MEDIA,
    IPV6_OFFER,
];

#[test]
fn unmodified_sdps_round_trip_exactly() {
    for text in ALL {
        let sdp = parse(text);
        assert_eq!(sdp.to_sdp_string(), crlf(text));
        assert_eq!(parse(&sdp.to_sdp_string()), sdp);
        // LF-only input parses to the same thing.
        assert_eq!(parse(&text.replace("\r\n", "\n")), sdp);
    }
}

#[test]
fn trailing_blank_lines_and_missing_final_newline_are_tolerated() {
    let base = crlf(SIPP_UAC);
    let sdp = parse(&base);
    for variant in [
        format!("{base}\r\n"),
        format!("{base}\n\n"),
        format!("{base} \r\n"),
        base.trim_end().to_owned(),
    ] {
        let other = parse(&variant);
        assert_eq!(other, sdp);
        assert_eq!(other.to_sdp_string(), base);
    }
}

#[test]
fn sipp_offer_fields() {
    let sdp = parse(SIPP_UAC);
    let origin = sdp.origin().expect("o= present");
    assert_eq!(origin.username, "user1");
    assert_eq!(origin.session_id, "53655765");
    assert_eq!(origin.session_version, "2353687637");
    assert_eq!(origin.ip(), Some(ip("127.0.1.1")));
    assert_eq!(sdp.session_name(), Some("-"));
    let conn = sdp.connection().expect("session c= present");
    assert_eq!(
        (conn.nettype.as_str(), conn.addrtype.as_str()),
        ("IN", "IP4")
    );
    assert_eq!(conn.ip(), Some(ip("127.0.1.1")));
    assert_eq!(sdp.media().len(), 1);
    let m = &sdp.media()[0];
    assert_eq!(m.kind(), "audio");
    assert_eq!(m.port(), 6000);
    assert_eq!(m.port_count(), None);
    assert_eq!(m.protocol(), "RTP/AVP");
    assert_eq!(m.formats(), ["0"]);
    assert_eq!(m.connection(), None);
    assert_eq!(m.direction(), None);
    assert!(!m.is_rtcp_mux());
    assert_eq!(m.rtcp(), None);
    assert_eq!(
        m.rtpmap().collect::<Vec<_>>(),
        [RtpMap {
            payload_type: 0,
            encoding: "PCMU".into(),
            clock_rate: 8000,
            channels: None
        }]
    );
}

#[test]
fn sipp_offer_full_relay_rewrite() {
    let mut sdp = parse(SIPP_UAC);
    let relay = ip("203.0.113.1");
    sdp.set_origin_address(relay);
    sdp.bump_origin_version();
    sdp.set_connection(relay);
    sdp.media_mut()[0].set_port(30000);
    assert_eq!(
        sdp.to_sdp_string(),
        "v=0\r\no=user1 53655765 2353687638 IN IP4 203.0.113.1\r\ns=-\r\n\
         c=IN IP4 203.0.113.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n\
         a=rtpmap:0 PCMU/8000\r\n"
    );
}

#[test]
fn kamailio_offer_rewrite_keeps_everything_else() {
    let mut sdp = parse(KAMAILIO_OFFER);
    let m = &sdp.media()[0];
    assert_eq!(m.formats(), ["8", "0", "18", "101"]);
    assert_eq!(m.fmtp(18), Some("annexb=no"));
    assert_eq!(m.fmtp(101), Some("0-16"));
    assert_eq!(m.fmtp(8), None);
    assert_eq!(m.direction(), Some(Direction::SendRecv));
    assert_eq!(
        m.rtcp(),
        Some(RtcpAttr {
            port: 16385,
            address: None
        })
    );
    assert_eq!(
        m.attribute("ptime").and_then(|a| a.value.as_deref()),
        Some("20")
    );

    let relay = ip("198.51.100.2");
    sdp.set_origin_address(relay);
    sdp.bump_origin_version();
    sdp.set_connection(relay);
    let m = &mut sdp.media_mut()[0];
    m.set_port(40000);
    m.set_rtcp(40001, Some(relay));
    m.remove_attributes(&["nortpproxy"]);

    let expected = edited(
        KAMAILIO_OFFER,
        &[
            (
                "o=- 1731067890 1731067890 IN IP4 192.168.1.10",
                Some("o=- 1731067890 1731067891 IN IP4 198.51.100.2"),
            ),
            ("c=IN IP4 192.168.1.10", Some("c=IN IP4 198.51.100.2")),
            (
                "m=audio 16384 RTP/AVP 8 0 18 101",
                Some("m=audio 40000 RTP/AVP 8 0 18 101"),
            ),
            ("a=rtcp:16385", Some("a=rtcp:40001 IN IP4 198.51.100.2")),
            ("a=nortpproxy:yes", None),
        ],
    );
    assert_eq!(lines(&sdp.to_sdp_string()), expected);
}

#[test]
fn baresip_offer_ice_removal_and_rewrite() {
    let mut sdp = parse(BARESIP_OFFER);
    assert_eq!(
        sdp.session_attributes()
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>(),
        ["tool", "ice-options"]
    );
    {
        let m = &sdp.media()[0];
        assert!(m.is_rtcp_mux());
        assert_eq!(m.direction(), Some(Direction::SendRecv));
        let maps: Vec<RtpMap> = m.rtpmap().collect();
        assert_eq!(maps.len(), 5);
        assert_eq!(maps[0].encoding, "opus");
        assert_eq!(maps[0].clock_rate, 48000);
        assert_eq!(maps[0].channels, Some(2));
        assert_eq!(maps[4].payload_type, 101);
        assert_eq!(maps[4].encoding, "telephone-event");
        assert_eq!(m.fmtp(101), Some("0-15"));
        assert_eq!(m.attributes_named("candidate").count(), 2);
    }

    let relay = ip("198.51.100.3");
    sdp.remove_ice();
    sdp.set_origin_address(relay);
    sdp.set_connection(relay);
    sdp.media_mut()[0].set_port(35000);

    let expected: Vec<String> = edited(
        BARESIP_OFFER,
        &[
            (
                "o=- 3262469937 2931254880 IN IP4 192.168.1.20",
                Some("o=- 3262469937 2931254880 IN IP4 198.51.100.3"),
            ),
            ("c=IN IP4 192.168.1.20", Some("c=IN IP4 198.51.100.3")),
            ("a=ice-options:trickle", None),
            (
                "m=audio 10350 RTP/AVP 96 9 0 8 101",
                Some("m=audio 35000 RTP/AVP 96 9 0 8 101"),
            ),
            ("a=ice-ufrag:Vdtp", None),
            ("a=ice-pwd:4b0d3f53e1a32f6e1ab6c3f5", None),
            (
                "a=candidate:1 1 UDP 2113932031 192.168.1.20 10350 typ host",
                None,
            ),
            (
                "a=candidate:2 1 UDP 1677724415 203.0.113.20 41234 typ srflx raddr 192.168.1.20 rport 10350",
                None,
            ),
            ("a=end-of-candidates", None),
        ],
    );
    let out = sdp.to_sdp_string();
    assert_eq!(lines(&out), expected);
    // Nothing ICE is left anywhere.
    assert!(!out.contains("ice-") && !out.contains("candidate"));
}

#[test]
fn webrtc_offer_to_plain_rtp() {
    let mut sdp = parse(WEBRTC_OFFER);
    assert_eq!(sdp.connection(), None);
    assert_eq!(sdp.media().len(), 2);
    let audio = &sdp.media()[0];
    assert_eq!(audio.protocol(), "UDP/TLS/RTP/SAVPF");
    assert_eq!(
        audio.rtcp(),
        Some(RtcpAttr {
            port: 9,
            address: Some(ip("0.0.0.0"))
        })
    );
    assert!(audio.has_attribute("crypto"));
    assert_eq!(sdp.media()[1].direction(), Some(Direction::RecvOnly));
    assert_eq!(sdp.media()[1].kind(), "video");

    let relay = ip("192.0.2.50");
    sdp.remove_ice();
    sdp.set_origin_address(relay);
    // Only replaces: there is no session-level c= here.
    sdp.set_connection(relay);
    assert_eq!(sdp.connection(), None);
    for (i, m) in sdp.media_mut().iter_mut().enumerate() {
        m.set_connection(relay);
        m.set_port(20000 + 2 * u16::try_from(i).expect("two sections"));
        m.set_protocol("RTP/AVP");
        m.remove_attributes(&["crypto", "fingerprint", "setup", "rtcp-fb"]);
        m.set_rtcp(m.port() + 1, Some(relay));
    }
    let out = sdp.to_sdp_string();
    let reparsed = parse(&out);
    assert_eq!(reparsed, sdp);
    for removed in [
        "ice-",
        "candidate",
        "crypto",
        "fingerprint",
        "setup",
        "rtcp-fb",
        "SAVPF",
    ] {
        assert!(!out.contains(removed), "{removed} left in\n{out}");
    }
    assert!(out.contains("m=audio 20000 RTP/AVP 111 63 0 8 126\r\nc=IN IP4 192.0.2.50\r\na=rtcp:20001 IN IP4 192.0.2.50\r\n"));
    assert!(out.contains(
        "m=video 20002 RTP/AVP 96 97\r\nc=IN IP4 192.0.2.50\r\na=rtcp:20003 IN IP4 192.0.2.50\r\n"
    ));

    // Every line that was not touched is still there, in the same order.
    let untouched: Vec<String> = lines(WEBRTC_OFFER)
        .into_iter()
        .filter(|l| {
            ![
                "o=",
                "m=",
                "c=",
                "a=rtcp:",
                "a=ice-",
                "a=candidate",
                "a=crypto",
                "a=fingerprint",
                "a=setup",
                "a=rtcp-fb",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .collect();
    let kept: Vec<String> = lines(&out)
        .into_iter()
        .filter(|l| untouched.contains(l))
        .collect();
    assert_eq!(kept, untouched);
}

#[test]
fn no_media_is_not_an_error() {
    let mut sdp = parse(NO_MEDIA);
    assert!(sdp.media().is_empty());
    assert_eq!(sdp.connection(), None);
    sdp.set_origin_address(ip("192.0.2.1"));
    sdp.bump_origin_version();
    sdp.set_or_insert_connection(ip("192.0.2.1"));
    assert_eq!(
        sdp.to_sdp_string(),
        "v=0\r\no=- 0 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
    );
}

#[test]
fn ipv6_offer() {
    let mut sdp = parse(IPV6_OFFER);
    assert_eq!(sdp.origin().and_then(|o| o.ip()), Some(ip("2001:db8::10")));
    let m = &sdp.media()[0];
    assert_eq!(
        m.connection().and_then(|c| c.ip()),
        Some(ip("2001:db8::10"))
    );
    assert_eq!(
        m.rtcp(),
        Some(RtcpAttr {
            port: 49171,
            address: Some(ip("2001:db8::10"))
        })
    );
    assert_eq!(m.direction(), Some(Direction::SendOnly));

    let relay6 = ip("2001:db8:ffff::1");
    sdp.set_origin_address(relay6);
    let m = &mut sdp.media_mut()[0];
    m.set_connection(relay6);
    m.set_rtcp(50001, Some(relay6));
    m.set_port(50000);
    let out = sdp.to_sdp_string();
    assert!(out.contains("o=alice 2890844526 2890844527 IN IP6 2001:db8:ffff::1\r\n"));
    assert!(out.contains("m=audio 50000 RTP/AVP 0 101\r\nc=IN IP6 2001:db8:ffff::1\r\n"));
    assert!(out.contains("a=rtcp:50001 IN IP6 2001:db8:ffff::1\r\na=sendonly\r\n"));

    // IPv6 relay in front of an IPv4 peer, and back.
    let mut sdp = parse(SIPP_UAC);
    sdp.set_connection(relay6);
    sdp.set_origin_address(relay6);
    let out = sdp.to_sdp_string();
    assert!(out.contains("o=user1 53655765 2353687637 IN IP6 2001:db8:ffff::1\r\n"));
    assert!(out.contains("\r\nc=IN IP6 2001:db8:ffff::1\r\n"));
    assert_eq!(sdp.connection().and_then(|c| c.ip()), Some(relay6));
}

#[test]
fn media_connection_is_inserted_after_m_and_i_lines() {
    let text = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
                m=audio 4000 RTP/AVP 0\r\ni=main audio\r\nb=AS:80\r\na=sendrecv\r\n\
                m=video 0 RTP/AVP 31\r\n";
    let mut sdp = parse(text);
    for m in sdp.media_mut() {
        m.set_connection(ip("192.0.2.9"));
    }
    assert_eq!(
        sdp.to_sdp_string(),
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
         m=audio 4000 RTP/AVP 0\r\ni=main audio\r\nc=IN IP4 192.0.2.9\r\nb=AS:80\r\na=sendrecv\r\n\
         m=video 0 RTP/AVP 31\r\nc=IN IP4 192.0.2.9\r\n"
    );
    assert!(sdp.media()[1].is_rejected());
}

#[test]
fn multicast_connections_collapse_to_one() {
    let text = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n\
                m=video 51372/2 RTP/AVP 99\r\nc=IN IP4 233.252.0.1/127\r\nc=IN IP4 233.252.0.2/127\r\na=rtpmap:99 h263-1998/90000\r\n";
    let mut sdp = parse(text);
    let m = &sdp.media()[0];
    assert_eq!(m.port_count(), Some(2));
    assert_eq!(m.connections().count(), 2);
    assert_eq!(m.connection().and_then(|c| c.ip()), Some(ip("233.252.0.1")));
    let m = &mut sdp.media_mut()[0];
    m.set_connection(ip("192.0.2.1"));
    m.set_port_count(None);
    assert_eq!(
        sdp.to_sdp_string(),
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n\
         m=video 51372 RTP/AVP 99\r\nc=IN IP4 192.0.2.1\r\na=rtpmap:99 h263-1998/90000\r\n"
    );
}

#[test]
fn unusual_spacing_is_kept_until_the_line_is_modified() {
    let text = "v=0\r\no=-  1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN  IP4 10.0.0.1\r\nt=0 0\r\n\
                m=audio 4000 RTP/AVP 0 8 \r\nc=IN IP4 10.0.0.1 \r\n";
    let mut sdp = parse(text);
    assert_eq!(sdp.to_sdp_string(), text);
    assert_eq!(sdp.media()[0].formats(), ["0", "8"]);
    sdp.media_mut()[0].set_port(5000);
    assert_eq!(
        sdp.to_sdp_string(),
        text.replace("m=audio 4000 RTP/AVP 0 8 ", "m=audio 5000 RTP/AVP 0 8")
    );
}

#[test]
fn session_name_and_version() {
    let mut sdp = parse(SIPP_UAC);
    sdp.set_session_name("sluice");
    assert_eq!(sdp.session_name(), Some("sluice"));
    sdp.set_session_name("bad\r\nm=audio 1 RTP/AVP 0");
    assert_eq!(sdp.session_name(), Some("bad  m=audio 1 RTP/AVP 0"));
    sdp.set_session_name("");
    assert_eq!(sdp.session_name(), Some(" "));
    assert_eq!(parse(&sdp.to_sdp_string()).media().len(), 1);

    let mut no_s =
        parse("v=0\r\no=- 18446744073709551615 18446744073709551615 IN IP4 10.0.0.1\r\nt=0 0\r\n");
    no_s.set_session_name("-");
    no_s.bump_origin_version();
    assert_eq!(
        no_s.to_sdp_string(),
        "v=0\r\no=- 18446744073709551615 0 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n"
    );
    let mut long = parse("v=0\r\no=- 1 99999999999999999999999 IN IP4 10.0.0.1\r\n");
    long.bump_origin_version();
    assert_eq!(
        long.origin().map(|o| o.session_version.as_str()),
        Some("100000000000000000000000")
    );
    let mut odd = parse("v=0\r\no=- 1 abc IN IP4 10.0.0.1\r\n");
    odd.bump_origin_version();
    assert_eq!(
        odd.origin().map(|o| o.session_version.as_str()),
        Some("abc")
    );
}

#[test]
fn attributes_edit_in_place() {
    let mut sdp = parse(KAMAILIO_OFFER);
    let m = &mut sdp.media_mut()[0];
    m.set_direction(Direction::SendOnly);
    m.add_attribute("rtcp-mux", None);
    m.add_attribute("label", Some("x\ry"));
    m.add_line("b=AS:64");
    m.add_line("c=IN IP4 1.2.3.4");
    m.add_line("garbage");
    assert_eq!(m.other_lines().collect::<Vec<_>>(), ["b=AS:64"]);
    m.remove_attributes(&["b"]);
    assert_eq!(m.direction(), Some(Direction::SendOnly));
    assert!(m.is_rtcp_mux());
    let out = sdp.to_sdp_string();
    assert!(out.contains("a=maxptime:150\r\na=sendonly\r\na=rtcp:16385\r\n"));
    assert!(out.ends_with("a=nortpproxy:yes\r\na=rtcp-mux\r\na=label:x y\r\nb=AS:64\r\n"));

    let mut sdp = parse(BARESIP_OFFER);
    sdp.set_session_attribute("tool", Some("sluice"));
    sdp.add_session_attribute("ice-lite", None);
    sdp.remove_session_attributes(&["ice-options"]);
    assert_eq!(
        sdp.session_attributes()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["tool:sluice", "ice-lite"]
    );
    let out = sdp.to_sdp_string();
    assert!(out.contains("t=0 0\r\na=tool:sluice\r\na=ice-lite\r\nm=audio"));
}

#[test]
fn rejects_malformed_input() {
    let head = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n";
    let cases: Vec<(String, SdpError)> = vec![
        (String::new(), SdpError::MissingVersion),
        (
            "o=- 1 1 IN IP4 10.0.0.1\r\n".into(),
            SdpError::MissingVersion,
        ),
        ("\r\nv=0\r\n".into(), SdpError::MissingVersion),
        ("v=1\r\n".into(), SdpError::UnsupportedVersion),
        (
            format!("{head}m=audio 70000 RTP/AVP 0\r\n"),
            SdpError::BadMediaLine {
                line: 5,
                reason: MediaLineError::BadPort,
            },
        ),
        (
            format!("{head}m=audio -1 RTP/AVP 0\r\n"),
            SdpError::BadMediaLine {
                line: 5,
                reason: MediaLineError::BadPort,
            },
        ),
        (
            format!("{head}m=audio 5000/0 RTP/AVP 0\r\n"),
            SdpError::BadMediaLine {
                line: 5,
                reason: MediaLineError::BadPortCount,
            },
        ),
        (
            format!("{head}m=audio 5000 RTP/AVP\r\n"),
            SdpError::BadMediaLine {
                line: 5,
                reason: MediaLineError::NoFormats,
            },
        ),
        (
            format!("{head}m=audio 5000\r\n"),
            SdpError::BadMediaLine {
                line: 5,
                reason: MediaLineError::MissingField,
            },
        ),
        (
            format!("{head}c=IN IP4\r\n"),
            SdpError::BadConnection { line: 5 },
        ),
        (
            format!("{head}c=IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\n"),
            SdpError::UnexpectedLine { line: 6, kind: 'c' },
        ),
        (
            "v=0\r\no=- 1 IN IP4 10.0.0.1\r\n".into(),
            SdpError::BadOrigin { line: 2 },
        ),
        (
            format!("{head}o=- 1 1 IN IP4 10.0.0.1\r\n"),
            SdpError::UnexpectedLine { line: 5, kind: 'o' },
        ),
        (
            format!("{head}v=0\r\n"),
            SdpError::UnexpectedLine { line: 5, kind: 'v' },
        ),
        (
            format!("{head}m=audio 1 RTP/AVP 0\r\ns=-\r\n"),
            SdpError::UnexpectedLine { line: 6, kind: 's' },
        ),
        (
            format!("{head}\r\na=x\r\n"),
            SdpError::BadLine {
                line: 5,
                reason: LineError::Empty,
            },
        ),
        (
            format!("{head}hello\r\n"),
            SdpError::BadLine {
                line: 5,
                reason: LineError::NotTypeValue,
            },
        ),
        (
            format!("{head}1=x\r\n"),
            SdpError::BadLine {
                line: 5,
                reason: LineError::NotTypeValue,
            },
        ),
        (
            format!("{head}a=x\ry\r\n"),
            SdpError::BadLine {
                line: 5,
                reason: LineError::ControlCharacter,
            },
        ),
        (
            format!("{head}a=x\0\r\n"),
            SdpError::BadLine {
                line: 5,
                reason: LineError::ControlCharacter,
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(
            SessionDescription::parse(&text),
            Err(expected),
            "input: {text:?}"
        );
    }
}

#[test]
fn limits() {
    let mut big = String::from("v=0\r\n");
    while big.len() <= MAX_SDP_LEN {
        big.push_str("a=padding-padding-padding-padding\r\n");
    }
    assert!(matches!(
        SessionDescription::parse(&big),
        Err(SdpError::TooLarge {
            max: MAX_SDP_LEN,
            ..
        })
    ));

    let mut many = String::from("v=0\r\n");
    for _ in 0..MAX_MEDIA_SECTIONS {
        many.push_str("m=audio 0 RTP/AVP 0\r\n");
    }
    assert_eq!(parse(&many).media().len(), MAX_MEDIA_SECTIONS);
    many.push_str("m=audio 0 RTP/AVP 0\r\n");
    assert_eq!(
        SessionDescription::parse(&many),
        Err(SdpError::TooManyMedia {
            max: MAX_MEDIA_SECTIONS
        })
    );
}

#[test]
fn odd_but_legal_lines_are_kept() {
    let text = "v=0\r\no=- 1 1 IN IP4 host.example.com\r\ns=-\r\nu=http://example.com\r\n\
                e=ops@example.com\r\nt=2873397496 2873404696\r\nr=7d 1h 0 25h\r\nz=2882844526 -1h\r\n\
                k=prompt\r\nx=unknown line\r\na=\r\na=:odd\r\na=empty:\r\n\
                m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 host.example.com\r\n\
                a=sctp-port:5000\r\nt=0 0\r\n";
    let sdp = parse(text);
    assert_eq!(sdp.to_sdp_string(), text);
    assert_eq!(sdp.origin().and_then(|o| o.ip()), None);
    let m = &sdp.media()[0];
    assert_eq!(m.formats(), ["webrtc-datachannel"]);
    assert_eq!(
        m.connection().map(|c| c.address.as_str()),
        Some("host.example.com")
    );
    assert_eq!(m.connection().and_then(|c| c.ip()), None);
    assert_eq!(m.rtpmap().count(), 0);
    let names: Vec<_> = sdp
        .session_attributes()
        .iter()
        .map(|a| (a.name.as_str(), a.value.as_deref()))
        .collect();
    assert_eq!(names, [("", None), ("", Some("odd")), ("empty", Some(""))]);
    assert_eq!(m.other_lines().collect::<Vec<_>>(), ["t=0 0"]);
}

#[test]
fn mismatched_address_families_have_no_ip() {
    let sdp = parse("v=0\r\nc=IN IP4 ::1\r\nm=audio 1 RTP/AVP 0\r\na=rtcp:2 IN IP6 10.0.0.1\r\n");
    assert_eq!(sdp.connection().and_then(|c| c.ip()), None);
    assert_eq!(
        sdp.media()[0].rtcp(),
        Some(RtcpAttr {
            port: 2,
            address: None
        })
    );
}

#[test]
fn codec_strip_removes_related_attributes() {
    let mut sdp = parse(WEBRTC_OFFER);
    let audio = &mut sdp.media_mut()[0];
    assert!(audio.retain_formats(|pt| pt == "0" || pt == "126"));
    assert_eq!(audio.formats(), ["0", "126"]);
    let names: Vec<String> = audio
        .attributes()
        .iter()
        .filter(|a| matches!(a.name.as_str(), "rtpmap" | "fmtp" | "rtcp-fb"))
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        names,
        ["rtpmap:0 PCMU/8000", "rtpmap:126 telephone-event/8000"]
    );
    // Nothing left: refused, unchanged.
    assert!(!audio.retain_formats(|_| false));
    assert_eq!(audio.formats(), ["0", "126"]);
    // Everything else in the section is untouched.
    assert!(audio.has_attribute("ssrc") && audio.has_attribute("extmap"));
    let out = sdp.to_sdp_string();
    assert!(out.contains("m=audio 9 UDP/TLS/RTP/SAVPF 0 126\r\n"));
    assert!(out.contains("a=rtcp-fb:96 nack pli\r\n"), "video untouched");
}

#[test]
fn effective_connection_and_direction() {
    let sdp = parse(IPV6_OFFER);
    assert_eq!(
        sdp.media_connection(0).and_then(|c| c.ip()),
        Some(ip("2001:db8::10"))
    );
    assert_eq!(sdp.media_direction(0), Some(Direction::SendOnly));
    assert_eq!(sdp.media_connection(1), None);
    assert_eq!(sdp.media_direction(1), None);

    let sdp = parse(SIPP_UAC);
    assert_eq!(
        sdp.media_connection(0).and_then(|c| c.ip()),
        Some(ip("127.0.1.1"))
    );
    assert_eq!(sdp.media_direction(0), Some(Direction::SendRecv));

    let sdp =
        parse("v=0\r\na=recvonly\r\nm=audio 1 RTP/AVP 0\r\nm=audio 2 RTP/AVP 0\r\na=inactive\r\n");
    assert_eq!(sdp.media_direction(0), Some(Direction::RecvOnly));
    assert_eq!(sdp.media_direction(1), Some(Direction::Inactive));
    assert_eq!(Direction::SendOnly.reversed(), Direction::RecvOnly);
    assert_eq!(Direction::Inactive.reversed(), Direction::Inactive);
}

use super::*;

fn offer_section(lines: &[&str]) -> MediaSection {
    let mut sdp = String::from(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n",
    );
    for l in lines {
        sdp.push_str(&format!("a=crypto:{l}\r\n"));
    }
    sluice_sdp::SessionDescription::parse(&sdp)
        .expect("valid SDP")
        .media()[0]
        .clone()
}

const KEY_80: &str = "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

fn policy(entries: &[&str]) -> SdesPolicy {
    let owned: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
    SdesPolicy::parse(&owned).expect("valid policy")
}

#[test]
fn policy_parses_rtpengine_words() {
    let p = policy(&[
        "no-AES_CM_128_HMAC_SHA1_32",
        "nonew",
        "pad",
        "lifetime",
        "unencrypted_srtcp",
    ]);
    assert_eq!(p.no, [Suite::AesCm128HmacSha1_32]);
    assert!(p.nonew && p.pad && p.lifetime);
    assert_eq!(p.encrypt_rtcp, Some(false));
    let p = policy(&[
        "only-AEAD_AES_128_GCM;AES_CM_128_HMAC_SHA1_80",
        "order:AEAD_AES_256_GCM",
    ]);
    assert_eq!(p.only, [Suite::AeadAes128Gcm, Suite::AesCm128HmacSha1_80]);
    assert_eq!(p.order, [Suite::AeadAes256Gcm]);
    assert!(!p.allows(Suite::AesCm128HmacSha1_32));
    assert!(SdesPolicy::parse(&["no-ROT13".to_owned()]).is_err());
    assert!(SdesPolicy::parse(&["sparkle".to_owned()]).is_err());
}

#[test]
fn reads_usable_lines_and_explains_refusals() {
    let section = offer_section(&[
        KEY_80,
        "2 F8_128_HMAC_SHA1_80 inline:AAAA",
        "3 AES_CM_128_HMAC_SHA1_32 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4",
    ]);
    let lines = received_lines(&section, 64).expect("one usable line");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].attr.tag, 1);
    let none = offer_section(&[
        "2 F8_128_HMAC_SHA1_80 inline:AAAA",
        "3 AES_CM_128_HMAC_SHA1_80 inline:short",
    ]);
    let err = received_lines(&none, 64).unwrap_err();
    assert!(
        err.contains("F8_128_HMAC_SHA1_80") && err.contains("key"),
        "{err}"
    );
    let err = received_lines(&offer_section(&[]), 64).unwrap_err();
    assert!(err.contains("DTLS"), "{err}");
}

#[test]
fn session_parameters_shape_the_key() {
    let section = offer_section(&[&format!("{KEY_80} UNENCRYPTED_SRTP WSH=256 -FUTURE")]);
    let key = received_lines(&section, 64).expect("usable")[0].key;
    assert!(!key.params.encrypt_rtp);
    assert_eq!(key.params.replay_window, 256);
    for refused in ["KDR=4", "FEC_KEY=x", "NEWTHING"] {
        let section = offer_section(&[&format!("{KEY_80} {refused}")]);
        assert!(received_lines(&section, 64).is_err(), "{refused}");
    }
}

#[test]
fn offer_copies_the_offerers_lines_then_adds_ours() {
    let received = received_lines(&offer_section(&[KEY_80]), 64).expect("usable");
    let sent = offer_lines(&received, &[], &SdesPolicy::default(), 64).expect("lines");
    assert_eq!(sent.len(), Suite::ALL.len());
    assert!(sent[0].copied);
    assert_eq!(sent[0].line, received[0]);
    let tags: Vec<u32> = sent.iter().map(|s| s.line.attr.tag).collect();
    assert_eq!(tags, [1, 2, 3, 4, 5, 6]);
    assert!(sent[1..]
        .iter()
        .all(|s| !s.copied && s.line.key != received[0].key));
    // Keys are random: two offers never share one.
    let again = offer_lines(&received, &[], &SdesPolicy::default(), 64).expect("lines");
    assert_ne!(again[1].line.key, sent[1].line.key);
    // ... unless it is a re-offer, which keeps ours.
    let reoffer = offer_lines(&received, &sent, &SdesPolicy::default(), 64).expect("lines");
    assert_eq!(reoffer, sent);
}

#[test]
fn offer_filters_and_terminates() {
    let received = received_lines(&offer_section(&[KEY_80]), 64).expect("usable");
    let sent = offer_lines(&received, &[], &policy(&["nonew"]), 64).expect("lines");
    assert_eq!(sent.len(), 1);
    let sent = offer_lines(&received, &[], &policy(&["only-AEAD_AES_128_GCM"]), 64).expect("lines");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].line.key.suite(), Suite::AeadAes128Gcm);
    assert_eq!(sent[0].line.attr.tag, 2);
    let sent = offer_lines(&received, &[], &policy(&["terminate", "nonew"]), 64).expect("lines");
    assert!(!sent[0].copied);
    assert_eq!(sent[0].line.attr.tag, 1);
    assert_ne!(sent[0].line.key, received[0].key);
    let err = offer_lines(
        &received,
        &[],
        &policy(&["nonew", "no-AES_CM_128_HMAC_SHA1_80"]),
        64,
    );
    assert!(err.is_err());
    let padded = offer_lines(
        &[],
        &[],
        &policy(&["pad", "lifetime", "only-AEAD_AES_128_GCM"]),
        64,
    )
    .expect("lines");
    let text = padded[0].line.attr.to_string();
    assert!(text.ends_with("=|2^31"), "{text}");
    let ordered = offer_lines(&[], &[], &policy(&["order:AEAD_AES_256_GCM"]), 64).expect("lines");
    assert_eq!(ordered[0].line.key.suite(), Suite::AeadAes256Gcm);
}

fn answer_line(tag: u32, suite: Suite) -> KeyLine {
    generate_line(
        tag,
        suite,
        KeyParams::default(),
        Vec::new(),
        &SdesPolicy::default(),
    )
    .expect("line")
}

#[test]
fn answer_with_offerers_line_passes_through() {
    let received = received_lines(&offer_section(&[KEY_80]), 64).expect("usable");
    let sent = offer_lines(&received, &[], &SdesPolicy::default(), 64).expect("lines");
    let offerer = SideSdes {
        received,
        ..SideSdes::default()
    };
    let chosen = answer_line(1, Suite::AesCm128HmacSha1_80);
    let s = settle(
        Some(&chosen),
        &sent,
        &offerer,
        true,
        &SdesPolicy::default(),
        64,
    )
    .expect("ok");
    assert_eq!(s.answerer, SideKeys::default());
    assert_eq!(s.offerer, SideKeys::default());
    assert_eq!(s.line_for_offerer, Some(chosen.attr));
}

#[test]
fn answer_with_our_line_reencrypts_both_ways() {
    let received = received_lines(&offer_section(&[KEY_80]), 64).expect("usable");
    let sent = offer_lines(&received, &[], &SdesPolicy::default(), 64).expect("lines");
    let offerer = SideSdes {
        received: received.clone(),
        ..SideSdes::default()
    };
    let chosen = answer_line(5, Suite::AeadAes128Gcm);
    let s = settle(
        Some(&chosen),
        &sent,
        &offerer,
        true,
        &SdesPolicy::default(),
        64,
    )
    .expect("ok");
    assert_eq!(s.answerer.rx, Some(chosen.key));
    assert_eq!(s.answerer.tx, Some(sent[4].line.key));
    assert_eq!(s.offerer.rx, Some(received[0].key));
    let tx = s.offerer.tx.expect("our key toward the offerer");
    assert_ne!(tx, received[0].key);
    let line = s.line_for_offerer.expect("line");
    assert_eq!(
        (line.tag, line.suite.as_str()),
        (1, "AES_CM_128_HMAC_SHA1_80")
    );
    // Wrong tag or suite: refused.
    assert!(settle(
        Some(&answer_line(9, Suite::AeadAes128Gcm)),
        &sent,
        &offerer,
        true,
        &SdesPolicy::default(),
        64
    )
    .is_err());
    assert!(settle(
        Some(&answer_line(5, Suite::AeadAes256Gcm)),
        &sent,
        &offerer,
        true,
        &SdesPolicy::default(),
        64
    )
    .is_err());
}

#[test]
fn plain_to_srtp_and_back() {
    // Plain offerer, SRTP answerer: keys on the answerer's side only.
    let sent = offer_lines(&[], &[], &SdesPolicy::default(), 64).expect("lines");
    let chosen = answer_line(1, Suite::AesCm128HmacSha1_80);
    let s = settle(
        Some(&chosen),
        &sent,
        &SideSdes::default(),
        false,
        &SdesPolicy::default(),
        64,
    )
    .expect("ok");
    assert!(s.answerer.rx.is_some() && s.answerer.tx.is_some());
    assert_eq!(s.offerer, SideKeys::default());
    assert_eq!(s.line_for_offerer, None);
    // SRTP offerer, plain answerer: keys on the offerer's side only.
    let received = received_lines(&offer_section(&[KEY_80]), 64).expect("usable");
    let offerer = SideSdes {
        received,
        ..SideSdes::default()
    };
    let s = settle(None, &[], &offerer, true, &SdesPolicy::default(), 64).expect("ok");
    assert_eq!(s.answerer, SideKeys::default());
    assert!(s.offerer.rx.is_some() && s.offerer.tx.is_some());
}

//! SDES through the engine: what each leg's SDP says and which keys the
//! workers get.

use super::*;
use crate::relay::SocketConfig;
use sluice_sdp::CryptoAttr;

const KEY_A: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

fn savp_offer() -> String {
    SIPP_OFFER.replace("RTP/AVP 0\r\n", "RTP/SAVP 0\r\n")
        + &format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_A}\r\n")
}

fn crypto_lines(sdp: &str) -> Vec<CryptoAttr> {
    SessionDescription::parse(sdp).unwrap().media()[0]
        .attributes_named("crypto")
        .map(|a| CryptoAttr::parse(a.value.as_deref().unwrap()).unwrap())
        .collect()
}

fn savp_answer(tag: u32, suite: &str, key: &str) -> String {
    SIPP_ANSWER.replace("RTP/AVP 0\r\n", "RTP/SAVP 0\r\n")
        + &format!("a=crypto:{tag} {suite} inline:{key}\r\n")
}

/// A 16+14 byte key of ours, base64.
const KEY_B: &str = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpbXF1e";
/// A 16+12 byte GCM key, base64.
const KEY_B_GCM: &str = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpbXA==";

fn rtp_configs(e: &mut Engine) -> Vec<SocketConfig> {
    configs(e)
        .into_iter()
        .filter(|(_, c)| c.role == Role::Rtp)
        .map(|(_, c)| c)
        .collect()
}

#[test]
fn srtp_to_srtp_reencrypts_when_the_answerer_takes_our_key() {
    let mut e = engine(&[]);
    let now = Instant::now();
    let to_b = e
        .offer_answer(&offer("s1", "A", &savp_offer(), &[]), true, now)
        .unwrap();
    assert!(to_b.contains(" RTP/SAVP 0\r\n"));
    let lines = crypto_lines(&to_b);
    assert_eq!(lines.len(), 6, "{to_b}");
    assert_eq!(lines[0].keys[0].key_salt, KEY_A, "offerer's line first");
    let gcm = lines
        .iter()
        .find(|l| l.suite == "AEAD_AES_128_GCM")
        .unwrap()
        .clone();
    e.take_commands();
    let to_a = e
        .offer_answer(
            &answer(
                "s1",
                "A",
                "B",
                &savp_answer(gcm.tag, "AEAD_AES_128_GCM", KEY_B_GCM),
            ),
            false,
            now,
        )
        .unwrap();
    let back = crypto_lines(&to_a);
    assert_eq!(back.len(), 1);
    assert_eq!(
        (back[0].tag, back[0].suite.as_str()),
        (1, "AES_CM_128_HMAC_SHA1_80")
    );
    assert_ne!(back[0].keys[0].key_salt, KEY_A);
    assert!(to_a.contains(" RTP/SAVP 0\r\n"));
    let cfgs = rtp_configs(&mut e);
    assert_eq!(cfgs.len(), 2);
    for c in cfgs {
        let (rx, tx) = (c.crypto.rx.unwrap(), c.crypto.tx.unwrap());
        assert_eq!(rx.suite(), tx.suite(), "each leg keeps its own suite");
    }
    let call = e.call("s1").unwrap();
    let sides = &call.media[0].sides;
    assert_eq!(
        sides[0].sdes.rx.unwrap().suite().name(),
        "AES_CM_128_HMAC_SHA1_80"
    );
    assert_eq!(sides[1].sdes.rx.unwrap().suite().name(), "AEAD_AES_128_GCM");
}

#[test]
fn srtp_passes_through_when_the_answerer_takes_the_offerers_key() {
    let mut e = engine(&[]);
    let now = Instant::now();
    e.offer_answer(&offer("s2", "A", &savp_offer(), &[]), true, now)
        .unwrap();
    let to_a = e
        .offer_answer(
            &answer(
                "s2",
                "A",
                "B",
                &savp_answer(1, "AES_CM_128_HMAC_SHA1_80", KEY_B),
            ),
            false,
            now,
        )
        .unwrap();
    assert_eq!(crypto_lines(&to_a)[0].keys[0].key_salt, KEY_B);
    for c in rtp_configs(&mut e) {
        assert_eq!(c.crypto, crate::relay::SocketCrypto::default());
    }
}

#[test]
fn srtp_to_plain_and_plain_to_srtp_by_transport_protocol() {
    let mut e = engine(&[]);
    let now = Instant::now();
    let avp = [("transport-protocol", Value::from("RTP/AVP"))];
    let to_b = e
        .offer_answer(&offer("s3", "A", &savp_offer(), &avp), true, now)
        .unwrap();
    assert!(to_b.contains(" RTP/AVP 0\r\n") && !to_b.contains("a=crypto"));
    let to_a = e
        .offer_answer(&answer("s3", "A", "B", SIPP_ANSWER), false, now)
        .unwrap();
    assert!(to_a.contains(" RTP/SAVP 0\r\n"), "{to_a}");
    assert_eq!(crypto_lines(&to_a).len(), 1);
    let call = e.call("s3").unwrap();
    assert!(call.media[0].sides[0].sdes.rx.is_some());
    assert!(call.media[0].sides[1].sdes.rx.is_none());

    let savp = [
        ("transport-protocol", Value::from("RTP/SAVP")),
        (
            "SDES",
            Value::from(vec![Value::from("only-AES_CM_128_HMAC_SHA1_80")]),
        ),
    ];
    let to_b = e
        .offer_answer(&offer("s4", "A", SIPP_OFFER, &savp), true, now)
        .unwrap();
    let lines = crypto_lines(&to_b);
    assert_eq!(lines.len(), 1);
    let to_a = e
        .offer_answer(
            &answer(
                "s4",
                "A",
                "B",
                &savp_answer(lines[0].tag, "AES_CM_128_HMAC_SHA1_80", KEY_B),
            ),
            false,
            now,
        )
        .unwrap();
    assert!(
        to_a.contains(" RTP/AVP 0\r\n") && !to_a.contains("a=crypto"),
        "{to_a}"
    );
}

#[test]
fn sdes_errors_change_nothing() {
    let mut e = engine(&[]);
    let now = Instant::now();
    let unknown = SIPP_OFFER.replace("RTP/AVP 0\r\n", "RTP/SAVP 0\r\n")
        + "a=crypto:1 F8_128_HMAC_SHA1_80 inline:AAAA\r\n";
    let err = e
        .offer_answer(&offer("s5", "A", &unknown, &[]), true, now)
        .unwrap_err();
    assert!(err.to_string().contains("F8_128_HMAC_SHA1_80"), "{err}");
    assert_eq!(e.call_count(), 0);

    e.offer_answer(&offer("s6", "A", &savp_offer(), &[]), true, now)
        .unwrap();
    let before = e.call("s6").unwrap().media[0].sides[1].sdes.clone();
    let err = e
        .offer_answer(
            &answer(
                "s6",
                "A",
                "B",
                &savp_answer(42, "AES_CM_128_HMAC_SHA1_80", KEY_B),
            ),
            false,
            now,
        )
        .unwrap_err();
    assert!(err.to_string().contains("tag 42"), "{err}");
    assert_eq!(e.call("s6").unwrap().media[0].sides[1].sdes, before);
}

#[test]
fn reinvite_with_same_sdp_keeps_keys() {
    let mut e = engine(&[]);
    let now = Instant::now();
    let to_b = e
        .offer_answer(&offer("s7", "A", &savp_offer(), &[]), true, now)
        .unwrap();
    let tag = crypto_lines(&to_b)[1].tag;
    let suite = crypto_lines(&to_b)[1].suite.clone();
    let answer_sdp = savp_answer(tag, &suite, KEY_B);
    let first = e
        .offer_answer(&answer("s7", "A", "B", &answer_sdp), false, now)
        .unwrap();
    let keys = e.call("s7").unwrap().media[0].sides.clone().map(|s| s.sdes);
    let again = e
        .offer_answer(&offer("s7", "A", &savp_offer(), &[]), true, now)
        .unwrap();
    assert_eq!(
        crypto_lines(&again),
        crypto_lines(&to_b),
        "same keys re-offered"
    );
    let second = e
        .offer_answer(&answer("s7", "A", "B", &answer_sdp), false, now)
        .unwrap();
    assert_eq!(crypto_lines(&first), crypto_lines(&second));
    let now_keys = e.call("s7").unwrap().media[0].sides.clone().map(|s| s.sdes);
    for (a, b) in keys.iter().zip(&now_keys) {
        assert_eq!((a.rx, a.tx), (b.rx, b.tx));
    }
}

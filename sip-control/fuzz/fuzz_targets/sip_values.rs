//! The SIP values sip-control reads itself: INFO DTMF bodies (both content
//! types), Refer-To values and their `Replaces` URI header, `Replaces`,
//! `Session-Expires`, `Min-SE` and option-tag values, SDP bodies (codec list, telephone-event) and dialled
//! numbers (E.164 normalization and DID lookup). Whatever they get, they
//! return a value or `None` (or an error), and what they return is
//! well-formed.
//!
//! Run with `cargo fuzz run sip_values` from `sip-control`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_control::config::{Did, Numbering, TransferMode};
use sip_control::signal::info_dtmf::{self, InfoFormat};
use sip_control::signal::refer::{refer_replaces, refer_target};
use sip_control::signal::replaces::Replaces;
use sip_control::signal::routing::Router;
use sip_control::signal::sdp_facts;
use sip_control::signal::session_timer::{lists_timer, parse_min_se, SessionExpires};

fuzz_target!(|data: &[u8]| {
    for format in [InfoFormat::DtmfRelay, InfoFormat::Dtmf] {
        if let Some(digit) = info_dtmf::parse(format, data) {
            assert!(matches!(digit.digit, '0'..='9' | '*' | '#' | 'A'..='D'));
            assert!((100..=5000).contains(&digit.duration_ms));
            let again = info_dtmf::parse(format, info_dtmf::body(format, digit).as_bytes());
            assert_eq!(again.map(|d| d.digit), Some(digit.digit));
        }
    }
    let _ = sdp_facts::has_telephone_event(data);
    for codec in sdp_facts::audio_codecs(data) {
        assert!(!codec.is_empty());
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = InfoFormat::from_content_type(text);
    if let Some(uri) = refer_target(text) {
        assert!(uri.starts_with("sip:") || uri.starts_with("sips:"));
        assert!(!uri.contains('>') && !uri.contains('?'));
    }
    if let Ok(Some(replaces)) = refer_replaces(text) {
        check_replaces(&replaces);
    }
    if let Ok(replaces) = Replaces::parse(text) {
        check_replaces(&replaces);
    }
    if let Some(se) = SessionExpires::parse(text) {
        assert!(se.seconds > 0);
        assert_eq!(SessionExpires::parse(&se.header_value()), Some(se));
    }
    if let Some(min_se) = parse_min_se(text) {
        assert!(min_se > 0);
    }
    let _ = lists_timer(text);
    let dids = [Did {
        number: "+1555*".to_owned(),
        platform: "ai".to_owned(),
        queues: Vec::new(),
        transfer: TransferMode::Bridge,
    }];
    let numbering = Numbering {
        country_code: Some("1".to_owned()),
        national_prefix: Some("1".to_owned()),
        international_prefix: Some("011".to_owned()),
    };
    let router = Router::new(&dids, &numbering);
    if let Some(number) = router.normalize(text) {
        assert!(number.starts_with('+'));
        assert!(number[1..].bytes().all(|b| b.is_ascii_digit()));
    }
    let _ = router.route(&[Some(text), None]);
});

/// What a parsed `Replaces` gives back parses to the same value, escaped
/// for a URI header or not.
fn check_replaces(replaces: &Replaces) {
    assert!(!replaces.call_id.is_empty() && !replaces.to_tag.is_empty());
    assert!(!replaces.from_tag.is_empty());
    assert_eq!(Replaces::parse(&replaces.header_value()).as_ref(), Ok(replaces));
    let escaped = replaces.uri_header_value();
    assert!(!escaped.contains([';', '=', '@', '&', '>']));
    assert_eq!(Replaces::parse_uri_header(&escaped).as_ref(), Ok(replaces));
}

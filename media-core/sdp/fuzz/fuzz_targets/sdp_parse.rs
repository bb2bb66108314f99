//! Fuzz target: parse arbitrary bytes as SDP; whatever parses must
//! serialize, re-parse to the same value and serialize to the same text.
//!
//! Run with `cargo +nightly fuzz run sdp_parse` from `media-core/sdp`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_sdp::{CryptoAttr, SessionDescription};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(sdp) = SessionDescription::parse(text) else {
        return;
    };
    let out = sdp.to_sdp_string();
    let again = SessionDescription::parse(&out).expect("serialized SDP must parse again");
    assert_eq!(again, sdp, "parse(serialize(x)) != x");
    assert_eq!(again.to_sdp_string(), out, "serialization is not stable");
    // Exercise the accessors too.
    for media in sdp.media() {
        let _ = (media.rtcp(), media.direction(), media.rtpmap().count());
        let _ = media.connection().and_then(|c| c.ip());
        // An a=crypto line that parses prints back to a line that parses
        // to the same value.
        for attr in media.attributes_named("crypto") {
            if let Ok(c) = CryptoAttr::parse(attr.value.as_deref().unwrap_or_default()) {
                assert_eq!(CryptoAttr::parse(&c.to_string()), Ok(c));
            }
        }
    }
});

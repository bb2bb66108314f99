//! Whole NG datagrams: framing, bencode, request parsing, error reply.
//!
//! Run with `cargo fuzz run ng_request` from `media-core/ng`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_ng::{frame, parse_request, reply};

fuzz_target!(|data: &[u8]| {
    let Ok((cookie, dict)) = frame::decode(data) else {
        return;
    };
    let reply = match parse_request(&dict) {
        Ok(_) => reply::ok(),
        Err(e) => reply::error(&e.to_string()),
    };
    let out = frame::encode(cookie, &reply);
    assert!(frame::decode(&out).is_ok(), "our own reply must parse");
});

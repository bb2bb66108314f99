//! The `rtpp-flags` string (and a `flags` entry) inside an otherwise
//! valid offer, so the tokenizer and flag interpretation get all the
//! fuzzer's attention.
//!
//! Run with `cargo fuzz run ng_rtpp_flags` from `media-core/ng`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_ng::{parse_request, Dict, Value};

fuzz_target!(|data: &[u8]| {
    let base = Dict::new()
        .with("command", "offer")
        .with("call-id", "c")
        .with("from-tag", "f")
        .with("sdp", "v=0\r\n");
    let _ = parse_request(&base.clone().with("rtpp-flags", data));
    let _ = parse_request(&base.with("flags", Value::List(vec![Value::from(data)])));
});

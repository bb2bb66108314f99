//! Arbitrary text as a configuration file: TOML parsing, deserialization,
//! error location (span to line:column and key) and the semantic checks.
//! Every input must end in a config or an error naming the file; nothing
//! may panic.
//!
//! Run with `cargo fuzz run config` from `sip-control`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_control::config::parse;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse(text, "fuzz.toml") {
        Ok(config) => {
            let _ = config.allowlist();
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(shown.starts_with("fuzz.toml"), "{shown}");
            assert!(e.key().is_some_and(|k| !k.is_empty()), "{shown}");
        }
    }
});

//! `Authorization` values: the parameter parser, then digest verification
//! (where the input says `NONCE`, a genuine nonce is spliced in so the
//! checks past the nonce are reached too).
//!
//! Run with `cargo fuzz run digest` from `sip-control`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_control::security::auth_params::{MAX_PARAMS, MAX_VALUE_LEN};
use sip_control::security::{Algorithm, AuthParams, Credentials, DigestServer};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const CREDS: Credentials<'static> = Credentials {
    realm: "trunk.example",
    username: "carrier",
    password: "s3cret",
};

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = AuthParams::parse(text) {
        assert!(p.len() <= MAX_PARAMS);
        for (k, v) in p.iter() {
            assert!(!k.is_empty() && k.len() <= MAX_VALUE_LEN && v.len() <= MAX_VALUE_LEN);
            assert_eq!(p.get(k), Some(v), "names are unique");
        }
    }
    let t0 = epoch();
    let server = DigestServer::new([7; 32], Duration::from_secs(60), t0);
    let now = t0 + Duration::from_secs(5);
    let _ = server.verify("INVITE", text, &CREDS, now);
    if text.contains("NONCE") {
        for alg in [Algorithm::Sha256, Algorithm::Md5] {
            let challenge = server.challenge(CREDS.realm, &[alg], false, t0);
            let Some(nonce) = challenge
                .first()
                .and_then(|c| AuthParams::parse(c).ok())
                .and_then(|c| c.get("nonce").map(str::to_owned))
            else {
                panic!("our own challenge must parse");
            };
            let spliced = text.replace("NONCE", &nonce);
            let _ = server.verify("INVITE", &spliced, &CREDS, now);
        }
    }
});

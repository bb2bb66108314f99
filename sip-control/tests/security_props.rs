//! Property tests: the security parsers and checks never panic on
//! arbitrary header values, and parsing agrees with quoting.

use proptest::prelude::*;
use sip_control::security::auth_params::quote;
use sip_control::security::{Algorithm, AuthParams, Credentials, DigestServer};
use std::time::{Duration, Instant};

const CREDS: Credentials<'static> = Credentials {
    realm: "trunk.example",
    username: "carrier",
    password: "s3cret",
};

/// Header-like text: the delimiters the parser cares about, often.
fn headerish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("Digest ".to_owned()),
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just(",".to_owned()),
        Just("=".to_owned()),
        Just(" ".to_owned()),
        Just("\r\n ".to_owned()),
        Just("username".to_owned()),
        Just("realm=\"trunk.example\"".to_owned()),
        Just("qop=auth".to_owned()),
        Just("nc=00000001".to_owned()),
        Just("algorithm=SHA-256".to_owned()),
        "[a-zA-Z0-9]{0,8}",
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn parser_never_panics(s in any::<String>()) {
        let _ = AuthParams::parse(&s);
    }

    #[test]
    fn parser_never_panics_on_headerish(s in headerish()) {
        if let Ok(p) = AuthParams::parse(&s) {
            prop_assert!(p.len() <= 32);
            for (k, v) in p.iter() {
                prop_assert!(!k.is_empty() && k.len() <= 1024 && v.len() <= 1024);
            }
        }
    }

    #[test]
    fn verify_never_panics(s in headerish(), method in "[A-Z]{0,8}", secs in 0u64..1000) {
        let t0 = Instant::now();
        let server = DigestServer::new([9; 32], Duration::from_secs(60), t0);
        let _ = server.verify(&method, &s, &CREDS, t0 + Duration::from_secs(secs));
    }

    #[test]
    fn verify_never_panics_with_a_real_nonce(extra in headerish()) {
        let t0 = Instant::now();
        let server = DigestServer::new([9; 32], Duration::from_secs(60), t0);
        let c = server.challenge(CREDS.realm, &[Algorithm::Sha256], false, t0).remove(0);
        let nonce = AuthParams::parse(&c).unwrap().get("nonce").unwrap().to_owned();
        let auth = format!(
            "Digest username=\"carrier\", realm=\"trunk.example\", nonce=\"{nonce}\", \
             uri=\"sip:x\", algorithm=SHA-256, {extra}"
        );
        let _ = server.verify("INVITE", &auth, &CREDS, t0);
    }

    #[test]
    fn quoted_values_round_trip(name in "[a-z]{1,10}", value in ".{0,200}") {
        let header = format!("Digest {name}={}", quote(&value));
        let p = AuthParams::parse(&header).unwrap();
        prop_assert_eq!(p.get(&name), Some(value.as_str()));
    }
}

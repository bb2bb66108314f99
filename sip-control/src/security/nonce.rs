//! Stateless nonces: the issue time and a MAC over it, so any nonce this
//! server minted can be checked without remembering it.
//!
//! Layout before base64url (no padding): 8 bytes of issue time (seconds
//! since the server's epoch, big-endian), then HMAC-SHA256 with the
//! server's secret over a domain label, that time, the algorithm and the
//! realm. Binding the algorithm keeps a client from answering a SHA-256
//! challenge with MD5; binding the realm keeps nonces from moving between
//! realms.

use super::algorithm::Algorithm;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const LABEL: &[u8] = b"sluice sip digest nonce v1\0";
const TIME_LEN: usize = 8;
const MAC_LEN: usize = 32;
/// Length of an encoded nonce: 40 bytes in base64url without padding.
const ENCODED_LEN: usize = 54;

fn mac(secret: &[u8; 32], issued: u64, algorithm: Algorithm, realm: &str) -> [u8; MAC_LEN] {
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(secret) else {
        // HMAC takes keys of any length; this arm is never taken.
        return [0; MAC_LEN];
    };
    m.update(LABEL);
    m.update(&issued.to_be_bytes());
    m.update(&[algorithm.id()]);
    m.update(realm.as_bytes());
    m.finalize().into_bytes().into()
}

/// A nonce issued `issued` seconds after the epoch.
pub(crate) fn issue(secret: &[u8; 32], issued: u64, algorithm: Algorithm, realm: &str) -> String {
    let mut raw = [0u8; TIME_LEN + MAC_LEN];
    raw[..TIME_LEN].copy_from_slice(&issued.to_be_bytes());
    raw[TIME_LEN..].copy_from_slice(&mac(secret, issued, algorithm, realm));
    URL_SAFE_NO_PAD.encode(raw)
}

/// The issue time of a nonce this secret minted for this algorithm and
/// realm; `None` for anything else.
pub(crate) fn open(
    secret: &[u8; 32],
    nonce: &str,
    algorithm: Algorithm,
    realm: &str,
) -> Option<u64> {
    if nonce.len() != ENCODED_LEN {
        return None;
    }
    let mut raw = [0u8; TIME_LEN + MAC_LEN];
    let n = URL_SAFE_NO_PAD.decode_slice(nonce, &mut raw).ok()?;
    if n != raw.len() {
        return None;
    }
    let mut time = [0u8; TIME_LEN];
    time.copy_from_slice(&raw[..TIME_LEN]);
    let issued = u64::from_be_bytes(time);
    let expected = mac(secret, issued, algorithm, realm);
    bool::from(expected.ct_eq(&raw[TIME_LEN..])).then_some(issued)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn round_trip() {
        let n = issue(&KEY, 1234, Algorithm::Sha256, "example.com");
        assert_eq!(n.len(), ENCODED_LEN);
        assert_eq!(ENCODED_LEN, 54);
        assert_eq!(open(&KEY, &n, Algorithm::Sha256, "example.com"), Some(1234));
    }

    #[test]
    fn bound_to_key_algorithm_and_realm() {
        let n = issue(&KEY, 99, Algorithm::Sha256, "a");
        assert_eq!(open(&[8; 32], &n, Algorithm::Sha256, "a"), None);
        assert_eq!(open(&KEY, &n, Algorithm::Md5, "a"), None);
        assert_eq!(open(&KEY, &n, Algorithm::Sha256, "b"), None);
    }

    #[test]
    fn tampering_rejected() {
        let n = issue(&KEY, 5, Algorithm::Md5, "r");
        // A later issue time with the old MAC.
        let mut raw = URL_SAFE_NO_PAD.decode(&n).unwrap();
        raw[7] = 6;
        let forged = URL_SAFE_NO_PAD.encode(&raw);
        assert_eq!(open(&KEY, &forged, Algorithm::Md5, "r"), None);
        for bad in ["", "x", &n[1..], &format!("{n}A"), &"!".repeat(54)] {
            assert_eq!(open(&KEY, bad, Algorithm::Md5, "r"), None, "{bad:?}");
        }
    }
}

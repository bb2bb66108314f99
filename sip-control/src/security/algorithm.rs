//! Digest hash algorithms (RFC 7616 §3.2, RFC 8760 §2.1) and the `H()`
//! of the response computation.

use md5::Md5;
use sha2::digest::Digest;
use sha2::Sha256;
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// A digest algorithm this server can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`: the RFC 2617 default, for carriers that know nothing else.
    Md5,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
}

/// An `algorithm` value that is not supported.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AlgorithmError {
    /// A `-sess` variant: those hash the client nonce into A1, which needs
    /// per-session state this server does not keep.
    #[error("session digest algorithm {0:?} is not supported")]
    Session(String),
    /// Anything else (`SHA-512-256`, `AKAv1-MD5`, garbage).
    #[error("unknown digest algorithm {0:?}")]
    Unknown(String),
}

impl Algorithm {
    /// The name used in headers: `MD5` or `SHA-256`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Higher is stronger; challenges are sent strongest first.
    pub(crate) fn strength(self) -> u8 {
        match self {
            Algorithm::Md5 => 1,
            Algorithm::Sha256 => 2,
        }
    }

    /// One byte naming the algorithm inside a nonce's MAC input.
    pub(crate) fn id(self) -> u8 {
        self.strength()
    }

    /// Lowercase hex of `H(parts[0] ":" parts[1] ":" ...)`.
    pub(crate) fn hash_hex(self, parts: &[&str]) -> String {
        match self {
            Algorithm::Md5 => joined::<Md5>(parts),
            Algorithm::Sha256 => joined::<Sha256>(parts),
        }
    }
}

fn joined<D: Digest>(parts: &[&str]) -> String {
    let mut d = D::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            d.update(b":");
        }
        d.update(part.as_bytes());
    }
    hex(&d.finalize())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = AlgorithmError;

    /// `MD5` or `SHA-256`, case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("MD5") {
            Ok(Algorithm::Md5)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Ok(Algorithm::Sha256)
        } else if s.len() > 5
            && s.get(s.len() - 5..)
                .is_some_and(|t| t.eq_ignore_ascii_case("-sess"))
        {
            Err(AlgorithmError::Session(s.to_owned()))
        } else {
            Err(AlgorithmError::Unknown(s.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names() {
        assert_eq!("MD5".parse(), Ok(Algorithm::Md5));
        assert_eq!("md5".parse(), Ok(Algorithm::Md5));
        assert_eq!("SHA-256".parse(), Ok(Algorithm::Sha256));
        assert_eq!("sha-256".parse(), Ok(Algorithm::Sha256));
        assert_eq!(
            "MD5-sess".parse::<Algorithm>(),
            Err(AlgorithmError::Session("MD5-sess".into()))
        );
        assert_eq!(
            "SHA-256-SESS".parse::<Algorithm>(),
            Err(AlgorithmError::Session("SHA-256-SESS".into()))
        );
        assert_eq!(
            "SHA-512-256".parse::<Algorithm>(),
            Err(AlgorithmError::Unknown("SHA-512-256".into()))
        );
        assert!("".parse::<Algorithm>().is_err());
        assert!("ü-sess".parse::<Algorithm>().is_err());
        assert!("éé".parse::<Algorithm>().is_err());
    }

    #[test]
    fn names_round_trip() {
        for a in [Algorithm::Md5, Algorithm::Sha256] {
            assert_eq!(a.to_string().parse(), Ok(a));
        }
    }

    #[test]
    fn known_hashes() {
        // MD5("") and SHA-256("abc") from RFC 1321 and FIPS 180-2.
        assert_eq!(
            Algorithm::Md5.hash_hex(&[""]),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(
            Algorithm::Sha256.hash_hex(&["abc"]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            Algorithm::Md5.hash_hex(&["a", "b"]),
            Algorithm::Md5.hash_hex(&["a:b"])
        );
    }
}

//! One NG datagram: `<cookie><space><bencoded dictionary>`.

use crate::bencode::{self, DecodeError, Dict, Value};

/// Longest cookie accepted; Kamailio's are about 30 bytes.
pub const MAX_COOKIE_LEN: usize = 256;

/// Why a datagram is not an NG message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// No space separates a cookie from a body.
    #[error("no cookie: datagram lacks '<cookie> <body>'")]
    NoCookie,
    /// The cookie is empty, too long or not printable.
    #[error("bad cookie")]
    BadCookie,
    /// The body is not bencode.
    #[error("body is not bencode: {0}")]
    Bencode(#[from] DecodeError),
    /// The body is bencode but not a dictionary.
    #[error("body is not a dictionary")]
    NotADict,
}

/// Splits a datagram into its cookie and body bytes.
pub fn split(datagram: &[u8]) -> Result<(&[u8], &[u8]), FrameError> {
    let space = datagram
        .iter()
        .position(|&b| b == b' ')
        .ok_or(FrameError::NoCookie)?;
    let cookie = &datagram[..space];
    if cookie.is_empty()
        || cookie.len() > MAX_COOKIE_LEN
        || !cookie.iter().all(|b| b.is_ascii_graphic())
    {
        return Err(FrameError::BadCookie);
    }
    Ok((cookie, &datagram[space + 1..]))
}

/// Splits a datagram and decodes its body as a dictionary.
pub fn decode(datagram: &[u8]) -> Result<(&[u8], Dict), FrameError> {
    let (cookie, body) = split(datagram)?;
    match bencode::decode(body)? {
        Value::Dict(d) => Ok((cookie, d)),
        _ => Err(FrameError::NotADict),
    }
}

/// Builds the datagram `<cookie> <dict>`.
pub fn encode(cookie: &[u8], dict: &Dict) -> Vec<u8> {
    let mut out = Vec::with_capacity(cookie.len() + 64);
    out.extend_from_slice(cookie);
    out.push(b' ');
    dict.encode(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let d = Dict::new().with("command", "ping");
        let bytes = encode(b"5_abc_1", &d);
        assert_eq!(bytes, b"5_abc_1 d7:command4:pinge");
        let (cookie, back) = decode(&bytes).unwrap();
        assert_eq!(cookie, b"5_abc_1");
        assert_eq!(back, d);
    }

    #[test]
    fn rejects_shapes() {
        assert_eq!(decode(b"nocookie"), Err(FrameError::NoCookie));
        assert_eq!(decode(b" d4:a1:be"), Err(FrameError::BadCookie));
        assert_eq!(decode(b"c li1ee"), Err(FrameError::NotADict));
        assert!(matches!(decode(b"c d1:a"), Err(FrameError::Bencode(_))));
    }
}

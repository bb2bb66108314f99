//! Builders for the reply dictionaries every NG server sends.
//!
//! Every reply carries `result`: `ok` (optionally with `warning`), `pong`,
//! `error` (with `error-reason` and nothing else) or `load limit`.

use crate::bencode::Dict;

/// `{result: ok}`; add command-specific keys (such as `sdp`) to it.
pub fn ok() -> Dict {
    Dict::new().with("result", "ok")
}

/// `{result: ok, warning: <w>}`: success with a remark (e.g. `delete` of
/// an unknown call without the `fatal` flag).
pub fn ok_with_warning(w: &str) -> Dict {
    ok().with("warning", w)
}

/// `{result: pong}`, the answer to `ping`.
pub fn pong() -> Dict {
    Dict::new().with("result", "pong")
}

/// `{result: error, error-reason: <reason>}`.
///
/// A [`RequestError`](crate::RequestError)'s `Display` text is suitable
/// as `reason`.
pub fn error(reason: &str) -> Dict {
    Dict::new()
        .with("result", "error")
        .with("error-reason", reason)
}

/// `{result: load limit}`: the relay is at capacity; a proxy that sent
/// `supports: [load limit]` then tries its next node.
pub fn load_limit() -> Dict {
    Dict::new().with("result", "load limit")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bencode::Value;

    fn encoded(d: Dict) -> Vec<u8> {
        Value::Dict(d).to_bytes()
    }

    #[test]
    fn shapes() {
        assert_eq!(encoded(ok()), b"d6:result2:oke");
        assert_eq!(encoded(pong()), b"d6:result4:ponge");
        assert_eq!(
            encoded(error("missing key: call-id")),
            b"d12:error-reason20:missing key: call-id6:result5:errore"
        );
        assert_eq!(encoded(load_limit()), b"d6:result10:load limite");
        assert_eq!(
            encoded(ok_with_warning("Call-ID not found")),
            b"d6:result2:ok7:warning17:Call-ID not founde"
        );
    }

    #[test]
    fn error_from_request_error() {
        let e = crate::RequestError::Missing("call-id");
        let d = error(&e.to_string());
        assert_eq!(
            d.get("error-reason").and_then(Value::as_str),
            Some("missing key: call-id")
        );
        assert_eq!(d.len(), 2);
    }
}

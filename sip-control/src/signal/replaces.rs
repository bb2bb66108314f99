//! The Replaces value of RFC 3891 (`call-id;to-tag=a;from-tag=b`, with an
//! optional `early-only`), as an INVITE header or escaped inside a
//! Refer-To URI header (`?Replaces=call%40h%3Bto-tag%3Da%3Bfrom-tag%3Db`).
//!
//! Strict: the Call-ID must be `word["@"word]`, both tags must be present
//! once as tokens, `early-only` takes no value, other parameters must be
//! `token[=token]` (they are dropped). Bounded by [`MAX_LEN`]; never panics.

use thiserror::Error;

use super::grammar::{generic_param, is_wsp};

/// Longest value accepted, in bytes, once unescaped.
pub const MAX_LEN: usize = 1024;

/// A dialog to replace: its Call-ID and tags as the recipient of the
/// INVITE sees them (`to-tag` is the recipient's own tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces {
    /// The dialog's Call-ID.
    pub call_id: String,
    /// The recipient's tag.
    pub to_tag: String,
    /// The other party's tag.
    pub from_tag: String,
    /// Replace only a dialog that is not confirmed yet.
    pub early_only: bool,
}

/// Why a Replaces value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReplacesError {
    /// Nothing but whitespace.
    #[error("empty Replaces value")]
    Empty,
    /// Longer than [`MAX_LEN`].
    #[error("Replaces value longer than {MAX_LEN} bytes")]
    TooLong,
    /// A URI header character that must be escaped, or a `%` not followed
    /// by two hex digits, or escapes that are not UTF-8.
    #[error("bad character or escape in a URI header")]
    BadEscape,
    /// The Call-ID is not `word["@"word]`.
    #[error("the Call-ID is not word[@word]")]
    BadCallId,
    /// A parameter that is not `token[=token]`, or `early-only=...`.
    #[error("a parameter is not token[=token]")]
    BadParam,
    /// No `to-tag`.
    #[error("no to-tag")]
    MissingToTag,
    /// No `from-tag`.
    #[error("no from-tag")]
    MissingFromTag,
    /// `to-tag`, `from-tag`, `early-only` or the `Replaces` URI header twice.
    #[error("a parameter appears twice")]
    Duplicate,
}

impl Replaces {
    /// Parses a header value (already unescaped).
    pub fn parse(value: &str) -> Result<Self, ReplacesError> {
        if value.len() > MAX_LEN {
            return Err(ReplacesError::TooLong);
        }
        let value = value.trim_matches(is_wsp);
        if value.is_empty() {
            return Err(ReplacesError::Empty);
        }
        let mut parts = value.split(';');
        let call_id = parts.next().unwrap_or_default().trim_matches(is_wsp);
        if !is_call_id(call_id) {
            return Err(ReplacesError::BadCallId);
        }
        let (mut to_tag, mut from_tag, mut early_only) = (None, None, false);
        for part in parts {
            let (name, value) = generic_param(part).ok_or(ReplacesError::BadParam)?;
            let slot = if name.eq_ignore_ascii_case("to-tag") {
                &mut to_tag
            } else if name.eq_ignore_ascii_case("from-tag") {
                &mut from_tag
            } else if name.eq_ignore_ascii_case("early-only") {
                if value.is_some() {
                    return Err(ReplacesError::BadParam);
                }
                if early_only {
                    return Err(ReplacesError::Duplicate);
                }
                early_only = true;
                continue;
            } else {
                continue;
            };
            let Some(value) = value else {
                return Err(ReplacesError::BadParam);
            };
            if slot.replace(value).is_some() {
                return Err(ReplacesError::Duplicate);
            }
        }
        Ok(Replaces {
            call_id: call_id.to_owned(),
            to_tag: to_tag.ok_or(ReplacesError::MissingToTag)?.to_owned(),
            from_tag: from_tag.ok_or(ReplacesError::MissingFromTag)?.to_owned(),
            early_only,
        })
    }

    /// Parses the escaped value of a `Replaces` URI header.
    pub fn parse_uri_header(escaped: &str) -> Result<Self, ReplacesError> {
        Self::parse(&unescape_uri_header(escaped)?)
    }

    /// The value of a `Replaces:` header.
    pub fn header_value(&self) -> String {
        let early = if self.early_only { ";early-only" } else { "" };
        format!(
            "{};to-tag={};from-tag={}{early}",
            self.call_id, self.to_tag, self.from_tag
        )
    }

    /// The value escaped for a URI header (`?Replaces=...`).
    pub fn uri_header_value(&self) -> String {
        escape_uri_header(&self.header_value())
    }
}

/// `%XX` escapes of a URI header value decoded; refuses characters a
/// header value may not hold unescaped (RFC 3261 `hvalue`).
pub fn unescape_uri_header(escaped: &str) -> Result<String, ReplacesError> {
    // Every byte of a value within MAX_LEN escapes to at most three.
    if escaped.len() > 3 * MAX_LEN {
        return Err(ReplacesError::TooLong);
    }
    let bytes = escaped.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(ReplacesError::BadEscape)?;
            let hex = std::str::from_utf8(hex).map_err(|_| ReplacesError::BadEscape)?;
            let byte = u8::from_str_radix(hex, 16).map_err(|_| ReplacesError::BadEscape)?;
            out.push(byte);
            i += 3;
        } else if is_hvalue_char(b) {
            out.push(b);
            i += 1;
        } else {
            return Err(ReplacesError::BadEscape);
        }
    }
    String::from_utf8(out).map_err(|_| ReplacesError::BadEscape)
}

/// Escapes every byte a URI header value may not hold as is.
pub fn escape_uri_header(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 2);
    for &b in value.as_bytes() {
        if is_hvalue_char(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// RFC 3261 `hnv-unreserved` and `unreserved`.
fn is_hvalue_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$' // hnv-unreserved
                | b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')' // mark
        )
}

/// RFC 3261 `word`.
fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.'
                        | b'!'
                        | b'%'
                        | b'*'
                        | b'_'
                        | b'+'
                        | b'`'
                        | b'\''
                        | b'~'
                        | b'('
                        | b')'
                        | b'<'
                        | b'>'
                        | b':'
                        | b'\\'
                        | b'"'
                        | b'/'
                        | b'['
                        | b']'
                        | b'?'
                        | b'{'
                        | b'}'
                )
        })
}

/// RFC 3261 `callid`: `word ["@" word]`.
fn is_call_id(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, host)) => is_word(local) && is_word(host),
        None => is_word(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replaces(call_id: &str, to: &str, from: &str) -> Replaces {
        Replaces {
            call_id: call_id.to_owned(),
            to_tag: to.to_owned(),
            from_tag: from.to_owned(),
            early_only: false,
        }
    }

    /// RFC 3891 §7's example, and the same through a Refer-To URI header
    /// (RFC 5589 §7).
    #[test]
    fn rfc_examples_parse() {
        let want = replaces("425928@bobster.example.org", "7743", "6472");
        assert_eq!(
            Replaces::parse("425928@bobster.example.org;to-tag=7743;from-tag=6472"),
            Ok(want.clone())
        );
        assert_eq!(
            Replaces::parse_uri_header(
                "425928%40bobster.example.org%3Bto-tag%3D7743%3Bfrom-tag%3D6472"
            ),
            Ok(want)
        );
        let early =
            Replaces::parse("98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff;early-only")
                .unwrap();
        assert!(early.early_only);
        assert_eq!(early.to_tag, "ff87ff");
        assert_eq!(
            early.header_value(),
            "98732@sip.example.com;to-tag=ff87ff;from-tag=r33th4x0r;early-only"
        );
    }

    #[test]
    fn whitespace_case_and_generic_params_are_tolerated() {
        let got = Replaces::parse(" a@b ; To-Tag = 1 ;x=y; FROM-TAG=2 ;flag ").unwrap();
        assert_eq!(got, replaces("a@b", "1", "2"));
    }

    #[test]
    fn malformed_values_are_refused() {
        use ReplacesError::*;
        let cases: &[(&str, ReplacesError)] = &[
            ("", Empty),
            ("  ", Empty),
            ("a@b;to-tag=1", MissingFromTag),
            ("a@b;from-tag=1", MissingToTag),
            ("a@b;to-tag=1;to-tag=2;from-tag=3", Duplicate),
            ("a@b;to-tag=1;from-tag=2;early-only;early-only", Duplicate),
            ("a@b;to-tag=1;from-tag=2;early-only=yes", BadParam),
            ("a@b;to-tag;from-tag=2", BadParam),
            ("a@b;to-tag=;from-tag=2", BadParam),
            ("a@b;;to-tag=1;from-tag=2", BadParam),
            ("a@b;to-tag=1 2;from-tag=3", BadParam),
            ("a@b;to-tag=\"1\";from-tag=3", BadParam),
            ("a@@b;to-tag=1;from-tag=2", BadCallId),
            ("@b;to-tag=1;from-tag=2", BadCallId),
            ("a b;to-tag=1;from-tag=2", BadCallId),
            (";to-tag=1;from-tag=2", BadCallId),
        ];
        for (value, error) in cases {
            assert_eq!(Replaces::parse(value), Err(*error), "{value:?}");
        }
        assert_eq!(Replaces::parse(&"a".repeat(MAX_LEN + 1)), Err(TooLong));
    }

    #[test]
    fn uri_header_escapes_are_strict() {
        assert_eq!(unescape_uri_header("a%40b%3b").as_deref(), Ok("a@b;"));
        for bad in [
            "a;to-tag=1",
            "a@b",
            "a%4",
            "a%zz",
            "%",
            "a%C3",
            "a b",
            "a%3",
        ] {
            assert_eq!(
                unescape_uri_header(bad),
                Err(ReplacesError::BadEscape),
                "{bad:?}"
            );
        }
        // `%` followed by a multi-byte character must not panic.
        assert_eq!(unescape_uri_header("%€"), Err(ReplacesError::BadEscape));
    }

    #[test]
    fn escaping_round_trips() {
        let value = replaces("x(1)@[::1]", "a.b", "c~d");
        let escaped = value.uri_header_value();
        assert!(!escaped.contains([';', '=', '@']), "{escaped}");
        assert_eq!(Replaces::parse_uri_header(&escaped), Ok(value));
        // The longest value, all escapes, still round-trips.
        let call_id = "<".repeat(MAX_LEN - ";to-tag=a;from-tag=b".len());
        let long = replaces(&call_id, "a", "b");
        assert_eq!(long.header_value().len(), MAX_LEN);
        assert_eq!(
            Replaces::parse_uri_header(&long.uri_header_value()),
            Ok(long)
        );
    }
}

//! The `scheme k=v, k="quoted"` value of `Authorization`,
//! `Proxy-Authorization` and `WWW-Authenticate` headers (RFC 3261 §25.1,
//! §20.7).
//!
//! Tolerant where peers differ (whitespace and line folding anywhere
//! between items, case-insensitive names, unquoted values that are not
//! strict tokens, empty list elements) and strict where it matters
//! (duplicate names, unterminated quotes). Bounded: at most
//! [`MAX_PARAMS`] parameters, names and values of at most
//! [`MAX_VALUE_LEN`] bytes. Runs in linear time and never panics.

use std::borrow::Cow;
use thiserror::Error;

use crate::signal::grammar::is_token_char;

/// Most parameters accepted in one header value.
pub const MAX_PARAMS: usize = 32;
/// Longest parameter name or value accepted, in bytes (a quoted value is
/// measured between its quotes, escapes included).
pub const MAX_VALUE_LEN: usize = 1024;

/// Why a header value could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// Nothing but whitespace.
    #[error("empty header value")]
    Empty,
    /// The value does not start with a scheme token followed by whitespace.
    #[error("no auth scheme")]
    BadScheme,
    /// A parameter name was expected.
    #[error("expected a parameter name at byte {0}")]
    ExpectedName(usize),
    /// A name was not followed by `=`.
    #[error("expected '=' at byte {0}")]
    ExpectedEquals(usize),
    /// A value was not followed by `,` or the end.
    #[error("expected ',' at byte {0}")]
    ExpectedComma(usize),
    /// `name=` with nothing after it.
    #[error("empty value at byte {0}")]
    EmptyValue(usize),
    /// A quoted string without its closing quote.
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    /// A name or value longer than [`MAX_VALUE_LEN`].
    #[error("parameter longer than {MAX_VALUE_LEN} bytes")]
    TooLong,
    /// More than [`MAX_PARAMS`] parameters.
    #[error("more than {MAX_PARAMS} parameters")]
    TooManyParams,
    /// The same name (compared case-insensitively) twice.
    #[error("duplicate parameter")]
    Duplicate,
}

/// A parsed header value: the scheme and its parameters, borrowed from
/// the input (a quoted value is copied only when it holds escapes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParams<'a> {
    scheme: &'a str,
    params: Vec<(&'a str, Cow<'a, str>)>,
}

impl<'a> AuthParams<'a> {
    /// Parses one header value, e.g. `Digest username="bob", nc=00000001`.
    pub fn parse(input: &'a str) -> Result<Self, ParamsError> {
        Parser { s: input, pos: 0 }.header()
    }

    /// The scheme as written (`Digest`, `Basic`, ...).
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// The value of `name` (case-insensitive), unquoted and unescaped.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// All parameters in the order written, names as written.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(k, v)| (*k, v.as_ref()))
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// True when the scheme has no parameters.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
}

/// `value` as a quoted string: `"` and `\` escaped with a backslash.
///
/// Control characters are passed through; values that reach a header must
/// not contain CR or LF (configuration checks realms).
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Linear white space, folding included.
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Characters of an unquoted value: anything visible but the delimiters.
/// Bytes of multi-byte UTF-8 characters are all >= 0x80, so slices end on
/// character boundaries.
fn is_bare_value(b: u8) -> bool {
    !is_ws(b) && !b.is_ascii_control() && b != b',' && b != b'"'
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    /// Advances over bytes matching `pred`, returning them (bounded).
    fn take(&mut self, pred: fn(u8) -> bool) -> Result<&'a str, ParamsError> {
        let start = self.pos;
        while self.peek().is_some_and(pred) {
            self.pos += 1;
            if self.pos - start > MAX_VALUE_LEN {
                return Err(ParamsError::TooLong);
            }
        }
        Ok(self.s.get(start..self.pos).unwrap_or_default())
    }

    fn header(mut self) -> Result<AuthParams<'a>, ParamsError> {
        self.skip_ws();
        if self.peek().is_none() {
            return Err(ParamsError::Empty);
        }
        let scheme = self
            .take(is_token_char)
            .map_err(|_| ParamsError::BadScheme)?;
        if scheme.is_empty() || self.peek().is_some_and(|b| !is_ws(b)) {
            return Err(ParamsError::BadScheme);
        }
        let mut params: Vec<(&'a str, Cow<'a, str>)> = Vec::new();
        loop {
            // Empty list elements (`a=1,,b=2`, a trailing comma) are skipped.
            self.skip_ws();
            match self.peek() {
                None => break,
                Some(b',') => {
                    self.pos += 1;
                    continue;
                }
                Some(_) => {}
            }
            let (name, value) = self.param()?;
            if params.iter().any(|(k, _)| k.eq_ignore_ascii_case(name)) {
                return Err(ParamsError::Duplicate);
            }
            if params.len() == MAX_PARAMS {
                return Err(ParamsError::TooManyParams);
            }
            params.push((name, value));
            self.skip_ws();
            match self.peek() {
                None => break,
                Some(b',') => self.pos += 1,
                Some(_) => return Err(ParamsError::ExpectedComma(self.pos)),
            }
        }
        Ok(AuthParams { scheme, params })
    }

    fn param(&mut self) -> Result<(&'a str, Cow<'a, str>), ParamsError> {
        let at = self.pos;
        let name = self.take(is_token_char)?;
        if name.is_empty() {
            return Err(ParamsError::ExpectedName(at));
        }
        self.skip_ws();
        if self.peek() != Some(b'=') {
            return Err(ParamsError::ExpectedEquals(self.pos));
        }
        self.pos += 1;
        self.skip_ws();
        let value = if self.peek() == Some(b'"') {
            self.quoted()?
        } else {
            let at = self.pos;
            let bare = self.take(is_bare_value)?;
            if bare.is_empty() {
                return Err(ParamsError::EmptyValue(at));
            }
            Cow::Borrowed(bare)
        };
        Ok((name, value))
    }

    /// A quoted string starting at the opening quote.
    fn quoted(&mut self) -> Result<Cow<'a, str>, ParamsError> {
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        loop {
            if self.pos - start > MAX_VALUE_LEN {
                return Err(ParamsError::TooLong);
            }
            match self.peek() {
                None => return Err(ParamsError::UnterminatedQuote),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    // The escaped byte, whatever it is; if it starts a
                    // multi-byte character its continuation bytes follow
                    // as ordinary bytes.
                    self.pos += 2;
                }
                Some(_) => self.pos += 1,
            }
        }
        let raw = self.s.get(start..self.pos).unwrap_or_default();
        self.pos += 1;
        if !escaped {
            return Ok(Cow::Borrowed(raw));
        }
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            } else {
                out.push(c);
            }
        }
        Ok(Cow::Owned(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_authorization() {
        let p = AuthParams::parse(
            "Digest username=\"bob\", realm=\"biloxi.com\",\r\n  nonce=\"dcd98b\", \
             uri=\"sip:bob@biloxi.com\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", \
             response=\"6629fae4\", opaque=\"5ccc069c\"",
        )
        .unwrap();
        assert_eq!(p.scheme(), "Digest");
        assert_eq!(p.len(), 9);
        assert_eq!(p.get("USERNAME"), Some("bob"));
        assert_eq!(p.get("qop"), Some("auth"));
        assert_eq!(p.get("nc"), Some("00000001"));
        assert_eq!(p.get("uri"), Some("sip:bob@biloxi.com"));
        assert_eq!(p.get("missing"), None);
    }

    #[test]
    fn escapes_and_commas_in_quotes() {
        let p = AuthParams::parse(r#"Digest realm="a, \"b\" \\ c", x=1"#).unwrap();
        assert_eq!(p.get("realm"), Some(r#"a, "b" \ c"#));
        assert_eq!(p.get("x"), Some("1"));
        let p = AuthParams::parse(r#"Digest realm="""#).unwrap();
        assert_eq!(p.get("realm"), Some(""));
    }

    #[test]
    fn whitespace_and_empty_elements() {
        let p = AuthParams::parse("  Digest\t a = 1 ,, b=\"2\" , ").unwrap();
        assert_eq!(p.iter().collect::<Vec<_>>(), [("a", "1"), ("b", "2")]);
        let p = AuthParams::parse("Digest").unwrap();
        assert!(p.is_empty());
        let p = AuthParams::parse("Digest nonce=7ypf/xlj9XXwfDPE=").unwrap();
        assert_eq!(p.get("nonce"), Some("7ypf/xlj9XXwfDPE="));
    }

    #[test]
    fn errors() {
        use ParamsError::*;
        let cases: &[(&str, ParamsError)] = &[
            ("", Empty),
            (" \r\n", Empty),
            ("=x", BadScheme),
            ("Digest,a=1", BadScheme),
            ("Digest a", ExpectedEquals(8)),
            ("Digest a=", EmptyValue(9)),
            ("Digest a=,b=1", EmptyValue(9)),
            ("Digest =1", ExpectedName(7)),
            ("Digest a=1 b=2", ExpectedComma(11)),
            ("Digest a=\"1\"x", ExpectedComma(12)),
            ("Digest a=\"1", UnterminatedQuote),
            ("Digest a=\"1\\", UnterminatedQuote),
            ("Digest a=\"1\\\"", UnterminatedQuote),
            ("Digest a=1, A=2", Duplicate),
        ];
        for (input, want) in cases {
            assert_eq!(AuthParams::parse(input), Err(*want), "{input:?}");
        }
    }

    #[test]
    fn bounds() {
        let long = "x".repeat(MAX_VALUE_LEN);
        assert!(AuthParams::parse(&format!("Digest a={long}")).is_ok());
        assert!(AuthParams::parse(&format!("Digest a=\"{long}\"")).is_ok());
        let longer = "x".repeat(MAX_VALUE_LEN + 1);
        for input in [
            format!("Digest a={longer}"),
            format!("Digest a=\"{longer}\""),
            format!("Digest {longer}=1"),
        ] {
            assert_eq!(AuthParams::parse(&input), Err(ParamsError::TooLong));
        }
        let many = |n: usize| {
            let list: Vec<String> = (0..n).map(|i| format!("p{i}=1")).collect();
            format!("Digest {}", list.join(", "))
        };
        assert_eq!(AuthParams::parse(&many(MAX_PARAMS)).unwrap().len(), 32);
        assert_eq!(
            AuthParams::parse(&many(MAX_PARAMS + 1)),
            Err(ParamsError::TooManyParams)
        );
    }

    #[test]
    fn multibyte_text() {
        let p = AuthParams::parse("Digest username=\"jösé\\é\", x=ü").unwrap();
        assert_eq!(p.get("username"), Some("jöséé"));
        assert_eq!(p.get("x"), Some("ü"));
    }

    #[test]
    fn quote_round_trip() {
        for v in ["plain", "", r#"a "b" \c"#, "ü, x=1"] {
            let header = format!("Digest realm={}", quote(v));
            assert_eq!(AuthParams::parse(&header).unwrap().get("realm"), Some(v));
        }
    }
}

//! Tokenizer for the `rtpp-flags` string: the NG options sent as one
//! unparsed string by proxies that leave parsing to the relay.
//!
//! Grammar (whitespace separates tokens; brackets nest):
//!
//! ```text
//! flags  := token*
//! token  := word | word '=' value
//! value  := text | '[' token* ']'
//! ```
//!
//! A `word` runs up to whitespace, `=`, `[` or `]`; a `text` value runs up
//! to whitespace, `[` or `]` and may itself contain `=`. Nesting is bounded
//! by [`MAX_NESTING`] so no input can exhaust the stack.

/// Deepest bracket nesting accepted (`codec=[transcode=[PCMA]]` is 2).
pub(crate) const MAX_NESTING: usize = 8;

/// One token of an `rtpp-flags` string, borrowing from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// A bare flag such as `trust-address` or `codec-strip-all`.
    Flag(&'a str),
    /// `key=value` or `key=[...]`.
    Pair(&'a str, TokenValue<'a>),
}

/// The value half of a [`Token::Pair`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenValue<'a> {
    /// Plain text, possibly empty (`from-tag=`).
    Str(&'a str),
    /// A bracketed list of tokens.
    List(Vec<Token<'a>>),
}

/// Why an `rtpp-flags` string does not tokenize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyntaxError {
    /// A `[` is never closed.
    Unclosed,
    /// A `]` closes nothing.
    Unmatched,
    /// A `[` that does not follow `key=`.
    StrayOpen,
    /// `=` with nothing before it.
    EmptyKey,
    /// Brackets nested deeper than [`MAX_NESTING`].
    TooDeep,
}

impl SyntaxError {
    /// Short text for an NG `error-reason`.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            SyntaxError::Unclosed => "unclosed '['",
            SyntaxError::Unmatched => "unmatched ']'",
            SyntaxError::StrayOpen => "'[' must follow 'key='",
            SyntaxError::EmptyKey => "'=' without a key",
            SyntaxError::TooDeep => "brackets nested too deeply",
        }
    }
}

/// Splits a whole `rtpp-flags` string into tokens.
pub(crate) fn tokenize(input: &str) -> Result<Vec<Token<'_>>, SyntaxError> {
    let mut lexer = Lexer { input, pos: 0 };
    lexer.tokens(0)
}

/// Parses the value of a single `key=value` item (as found in a `flags`
/// list entry): a bracketed list if it starts with `[`, plain text
/// otherwise.
pub(crate) fn parse_value(input: &str) -> Result<TokenValue<'_>, SyntaxError> {
    if !input.starts_with('[') {
        return Ok(TokenValue::Str(input));
    }
    let mut lexer = Lexer { input, pos: 1 };
    let items = lexer.tokens(1)?;
    if lexer.pos != input.len() {
        // Something after the closing bracket: `[a]b` or `[a]]`.
        return Err(if lexer.rest().starts_with(']') {
            SyntaxError::Unmatched
        } else {
            SyntaxError::StrayOpen
        });
    }
    Ok(TokenValue::List(items))
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
}

fn is_space(b: u8) -> bool {
    b.is_ascii_whitespace()
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        self.input.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<u8> {
        self.input.as_bytes().get(self.pos).copied()
    }

    /// Reads tokens until the end of input (`depth == 0`) or the `]` that
    /// closes the current list (`depth > 0`), consuming that `]`.
    fn tokens(&mut self, depth: usize) -> Result<Vec<Token<'a>>, SyntaxError> {
        if depth > MAX_NESTING {
            return Err(SyntaxError::TooDeep);
        }
        let mut out = Vec::new();
        loop {
            while self.peek().is_some_and(is_space) {
                self.pos += 1;
            }
            match self.peek() {
                None if depth == 0 => return Ok(out),
                None => return Err(SyntaxError::Unclosed),
                Some(b']') if depth > 0 => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b']') => return Err(SyntaxError::Unmatched),
                Some(b'[') => return Err(SyntaxError::StrayOpen),
                Some(_) => out.push(self.token(depth)?),
            }
        }
    }

    /// Reads a run of bytes up to (not including) one that `stop` accepts.
    /// Every stop byte is ASCII, so the slice ends on a char boundary.
    fn run(&mut self, stop: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(|b| !stop(b)) {
            self.pos += 1;
        }
        self.input.get(start..self.pos).unwrap_or("")
    }

    fn token(&mut self, depth: usize) -> Result<Token<'a>, SyntaxError> {
        let key = self.run(|b| is_space(b) || matches!(b, b'=' | b'[' | b']'));
        if self.peek() != Some(b'=') {
            // A `[` straight after a word is caught by the caller's loop.
            return Ok(Token::Flag(key));
        }
        if key.is_empty() {
            return Err(SyntaxError::EmptyKey);
        }
        self.pos += 1;
        if self.peek() == Some(b'[') {
            self.pos += 1;
            let items = self.tokens(depth + 1)?;
            // `key=[a]b`: text glued to the closing bracket.
            if self.peek().is_some_and(|b| !is_space(b) && b != b']') {
                return Err(SyntaxError::StrayOpen);
            }
            return Ok(Token::Pair(key, TokenValue::List(items)));
        }
        let value = self.run(|b| is_space(b) || matches!(b, b'[' | b']'));
        Ok(Token::Pair(key, TokenValue::Str(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use Token::{Flag, Pair};
    use TokenValue::{List, Str};

    #[test]
    fn bare_and_pairs() {
        assert_eq!(
            tokenize("  replace-origin\tICE=remove  from-tag= trust-address ").unwrap(),
            vec![
                Flag("replace-origin"),
                Pair("ICE", Str("remove")),
                Pair("from-tag", Str("")),
                Flag("trust-address"),
            ]
        );
    }

    #[test]
    fn value_may_contain_equals() {
        assert_eq!(
            tokenize("sdp-attr=a=foo:1").unwrap(),
            vec![Pair("sdp-attr", Str("a=foo:1"))]
        );
    }

    #[test]
    fn nested_lists() {
        assert_eq!(
            tokenize("codec=[transcode=[PCMA opus] strip=[all]] direction=[ext int]").unwrap(),
            vec![
                Pair(
                    "codec",
                    List(vec![
                        Pair("transcode", List(vec![Flag("PCMA"), Flag("opus")])),
                        Pair("strip", List(vec![Flag("all")])),
                    ])
                ),
                Pair("direction", List(vec![Flag("ext"), Flag("int")])),
            ]
        );
        assert_eq!(tokenize("x=[]").unwrap(), vec![Pair("x", List(vec![]))]);
        assert_eq!(
            tokenize("x=[a=]").unwrap(),
            vec![Pair("x", List(vec![Pair("a", Str(""))]))]
        );
    }

    #[test]
    fn empty_input() {
        assert_eq!(tokenize("").unwrap(), vec![]);
        assert_eq!(tokenize(" \t\n").unwrap(), vec![]);
    }

    #[test]
    fn malformed() {
        for (bad, err) in [
            ("codec=[transcode=[PCMA]", SyntaxError::Unclosed),
            ("a=[", SyntaxError::Unclosed),
            ("a]", SyntaxError::Unmatched),
            ("a=[b]]", SyntaxError::Unmatched),
            ("[a b]", SyntaxError::StrayOpen),
            ("a[b]", SyntaxError::StrayOpen),
            ("a=b[c]", SyntaxError::StrayOpen),
            ("a=[b]c", SyntaxError::StrayOpen),
            ("=x", SyntaxError::EmptyKey),
            ("a=[=x]", SyntaxError::EmptyKey),
        ] {
            assert_eq!(tokenize(bad), Err(err), "{bad:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = format!("{}{}", "a=[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        assert!(tokenize(&ok).is_ok());
        let deep = format!(
            "{}{}",
            "a=[".repeat(MAX_NESTING + 1),
            "]".repeat(MAX_NESTING + 1)
        );
        assert_eq!(tokenize(&deep), Err(SyntaxError::TooDeep));
        let huge = "a=[".repeat(100_000);
        assert_eq!(tokenize(&huge), Err(SyntaxError::TooDeep));
    }

    #[test]
    fn single_values() {
        assert_eq!(parse_value("RTP/AVP").unwrap(), Str("RTP/AVP"));
        assert_eq!(
            parse_value("[PCMA opus]").unwrap(),
            List(vec![Flag("PCMA"), Flag("opus")])
        );
        assert_eq!(parse_value("[a]]"), Err(SyntaxError::Unmatched));
        assert_eq!(parse_value("[a]b"), Err(SyntaxError::StrayOpen));
        assert_eq!(parse_value("[a"), Err(SyntaxError::Unclosed));
    }

    #[test]
    fn non_ascii_is_kept_whole() {
        assert_eq!(
            tokenize("label=caf\u{e9} \u{2603}").unwrap(),
            vec![Pair("label", Str("caf\u{e9}")), Flag("\u{2603}")]
        );
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,64}") {
            let _ = tokenize(&s);
            let _ = parse_value(&s);
        }

        #[test]
        fn bracket_soup_never_panics(s in "[\\[\\]= a=\u{e9}]{0,64}") {
            let _ = tokenize(&s);
            let _ = parse_value(&s);
        }
    }
}

//! RFC 3261 lexical pieces the header readers share.

/// A `token` character.
pub fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// A non-empty `token`.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// Blanks allowed around the items of a header value.
pub fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// One `generic-param` in its `token [ "=" token ]` form (blanks around
/// both trimmed): its name and value, or `None` if either is no token.
pub fn generic_param(part: &str) -> Option<(&str, Option<&str>)> {
    let (name, value) = match part.split_once('=') {
        Some((name, value)) => (name.trim_matches(is_wsp), Some(value.trim_matches(is_wsp))),
        None => (part.trim_matches(is_wsp), None),
    };
    (is_token(name) && value.is_none_or(is_token)).then_some((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_params_are_tokens_with_optional_token_values() {
        assert_eq!(
            generic_param(" refresher = uac "),
            Some(("refresher", Some("uac")))
        );
        assert_eq!(generic_param("\tearly-only"), Some(("early-only", None)));
        assert_eq!(generic_param("a=b=c"), None, "`=` is no token character");
        assert_eq!(generic_param("a="), None);
        assert_eq!(generic_param(""), None);
        assert_eq!(generic_param("x=\"quoted\""), None);
        assert!(is_token("z9hG4bK-~'`!%*_+."));
        assert!(!is_token("a b"));
    }
}

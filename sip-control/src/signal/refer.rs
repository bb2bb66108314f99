//! The target of a REFER: the URI inside a `Refer-To` value.

/// The URI inside a Refer-To value (`<sip:q@h>;param` or `sip:q@h`),
/// without URI headers (`?Replaces=...`); `None` unless it is a `sip:` or
/// `sips:` URI without spaces, control characters, quotes or angle brackets.
pub fn refer_target(value: &str) -> Option<String> {
    let value = value.trim();
    let inner = match value.strip_prefix('<') {
        Some(rest) => rest.split('>').next()?,
        None => value.split(';').next()?,
    };
    let uri = inner.split('?').next()?.trim();
    let scheme = uri.starts_with("sip:") || uri.starts_with("sips:");
    let clean = !uri
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '<' | '>' | '"'));
    (scheme && clean).then(|| uri.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refer_to_values_give_the_bare_uri() {
        assert_eq!(
            refer_target("<sip:queue@127.0.0.1:5100>").as_deref(),
            Some("sip:queue@127.0.0.1:5100")
        );
        assert_eq!(
            refer_target("<sip:q@h?Replaces=abc%3Bto-tag%3D1>;method=INVITE").as_deref(),
            Some("sip:q@h")
        );
        assert_eq!(
            refer_target("sip:q@h;transport=udp").as_deref(),
            Some("sip:q@h")
        );
        assert_eq!(refer_target("<tel:+15551234>"), None);
        assert_eq!(refer_target(""), None);
        // Found by the sip_values fuzz target: an unbracketed URI with `>`.
        assert_eq!(refer_target("\u{b}\u{b}sips:\u{14}2<>>s"), None);
        assert_eq!(refer_target("sip:a b@h"), None);
    }
}

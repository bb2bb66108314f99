//! The target of a REFER: the URI inside a `Refer-To` value, and the
//! `Replaces` URI header of an attended transfer (RFC 3891 §4).

use super::replaces::{Replaces, ReplacesError};

/// The URI inside a Refer-To value (`<sip:q@h>;param` or `sip:q@h`),
/// without URI headers (`?Replaces=...`); `None` unless it is a `sip:` or
/// `sips:` URI without spaces, control characters, quotes or angle brackets.
pub fn refer_target(value: &str) -> Option<String> {
    let uri = uri_part(value)?.split('?').next()?.trim();
    let scheme = uri.starts_with("sip:") || uri.starts_with("sips:");
    let clean = !uri
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '<' | '>' | '"'));
    (scheme && clean).then(|| uri.to_owned())
}

/// The `Replaces` URI header of a Refer-To value, unescaped and parsed:
/// `None` without one, an error when it is malformed or given twice.
/// Other URI headers are ignored.
pub fn refer_replaces(value: &str) -> Result<Option<Replaces>, ReplacesError> {
    let Some((_, headers)) = uri_part(value).and_then(|uri| uri.split_once('?')) else {
        return Ok(None);
    };
    let mut found = None;
    for header in headers.split('&') {
        let (name, escaped) = header.split_once('=').unwrap_or((header, ""));
        if !name.trim().eq_ignore_ascii_case("Replaces") {
            continue;
        }
        if found.is_some() {
            return Err(ReplacesError::Duplicate);
        }
        found = Some(Replaces::parse_uri_header(escaped)?);
    }
    Ok(found)
}

/// The URI of a Refer-To value: inside `<...>`, or up to the first `;`.
fn uri_part(value: &str) -> Option<&str> {
    let value = value.trim();
    match value.strip_prefix('<') {
        Some(rest) => rest.split('>').next(),
        None => value.split(';').next(),
    }
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

    #[test]
    fn replaces_uri_headers_are_read_strictly() {
        let value = "<sip:q@h?Require=replaces&Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>";
        let replaces = refer_replaces(value).unwrap().unwrap();
        assert_eq!(replaces.header_value(), "abc@h;to-tag=1;from-tag=2");
        assert_eq!(refer_target(value).as_deref(), Some("sip:q@h"));
        assert_eq!(refer_replaces("<sip:q@h>;method=INVITE"), Ok(None));
        assert_eq!(refer_replaces("<sip:q@h?Subject=x>"), Ok(None));
        assert_eq!(
            refer_replaces("<sip:q@h?replaces=abc%3Bto-tag%3D1>"),
            Err(ReplacesError::MissingFromTag)
        );
        assert_eq!(
            refer_replaces("<sip:q@h?Replaces=abc;to-tag=1;from-tag=2>"),
            Err(ReplacesError::BadEscape),
            "unescaped `;` and `=`"
        );
        assert_eq!(
            refer_replaces("<sip:q@h?Replaces=a%3Bto-tag%3D1%3Bfrom-tag%3D2&Replaces=a%3Bto-tag%3D1%3Bfrom-tag%3D2>"),
            Err(ReplacesError::Duplicate)
        );
        assert_eq!(
            refer_replaces("<sip:q@h?Replaces>"),
            Err(ReplacesError::Empty)
        );
    }
}

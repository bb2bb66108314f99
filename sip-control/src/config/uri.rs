//! A minimal shape check of `sip:`/`sips:` URIs in the configuration.
//!
//! Not a SIP parser: it only makes sure the scheme is right and a usable
//! host (and port, if any) is there, so a typo fails at start-up rather
//! than on the first call.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Checks `uri` is `sip:` or `sips:` (any case) followed by an optional
/// `user@`, a host (name, IPv4 or `[IPv6]`), an optional `:port`, then
/// optional `;params` and `?headers`. The error is the reason.
pub(crate) fn check_sip_uri(uri: &str) -> Result<(), String> {
    if let Some(c) = uri.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{uri}` contains {c:?}"));
    }
    let rest = strip_scheme(uri).ok_or_else(|| format!("`{uri}` is not a sip: or sips: URI"))?;
    // Parameters and headers follow the host part.
    let end = rest.find([';', '?']).unwrap_or(rest.len());
    let userhost = &rest[..end];
    let hostport = match userhost.rsplit_once('@') {
        Some(("", _)) => return Err(format!("`{uri}` has an empty user part before `@`")),
        Some((_, hostport)) => hostport,
        None => userhost,
    };
    let (host, port) = split_port(hostport).map_err(|r| format!("`{uri}`: {r}"))?;
    check_host(host).map_err(|r| format!("`{uri}`: {r}"))?;
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => {}
            _ => return Err(format!("`{uri}`: port `{port}` is not 1 to 65535")),
        }
    }
    Ok(())
}

/// The text after `sip:` or `sips:`, compared without case.
fn strip_scheme(uri: &str) -> Option<&str> {
    let (scheme, rest) = uri.split_once(':')?;
    (scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips")).then_some(rest)
}

/// Splits `host[:port]`, where host may be a bracketed IPv6 literal.
fn split_port(hostport: &str) -> Result<(&str, Option<&str>), String> {
    if hostport.starts_with('[') {
        let close = hostport
            .find(']')
            .ok_or_else(|| "IPv6 host has no closing `]`".to_owned())?;
        let (host, after) = hostport.split_at(close + 1);
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!("unexpected `{after}` after the host")),
            },
        };
    }
    Ok(match hostport.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (hostport, None),
    })
}

/// A bracketed IPv6 literal, an IPv4 address or a DNS name.
fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("no host".to_owned());
    }
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').unwrap_or(inner);
        return inner
            .parse::<Ipv6Addr>()
            .map(drop)
            .map_err(|_| format!("`{host}` is not an IPv6 address"));
    }
    if host.parse::<Ipv4Addr>().is_ok() {
        return Ok(());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    // A fully qualified name may end in `.`.
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(format!("`{host}` is not a host name or IP address"))
    }
}

#[cfg(test)]
mod tests {
    use super::check_sip_uri;

    #[test]
    fn accepts_usual_forms() {
        for ok in [
            "sip:agent@127.0.0.1:5090",
            "sip:registrar.carrier.example:5060",
            "SIPS:trunk123@carrier.example",
            "sip:agent@10.0.0.5:5060;transport=tcp",
            "sip:[2001:db8::1]:5060",
            "sip:q@[::1]",
            "sip:host.example.?subject=x",
            "sip:+15551230001@gw.example;user=phone",
        ] {
            assert_eq!(check_sip_uri(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_broken_forms() {
        for bad in [
            "",
            "sip:",
            "sip:agent@",
            "tel:+15551230001",
            "http://example.com",
            "agent@127.0.0.1",
            "sip:@host",
            "sip:agent@host:0",
            "sip:agent@host:99999",
            "sip:agent@host:",
            "sip:[2001:db8::1",
            "sip:[nothex]:5060",
            "sip:agent@ho st",
            "sip:agent@-host",
            "sip:agent@host..example",
            "sip:agent@host_x",
        ] {
            assert!(check_sip_uri(bad).is_err(), "{bad}");
        }
    }
}

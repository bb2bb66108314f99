//! Semantic checks after deserialization. The first failure is reported,
//! with the dotted key of the offending value.

use super::cidr::Cidr;
use super::types::{Config, Listener, Platform, SipConfig, Transport, Trunk};
use super::uri::check_sip_uri;
use super::ConfigError;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// Codec names a trunk or platform may list (compared without case).
const CODECS: [&str; 5] = ["PCMU", "PCMA", "G722", "opus", "telephone-event"];
/// Digest algorithms a trunk may offer (compared without case).
const ALGORITHMS: [&str; 2] = ["SHA-256", "MD5"];
/// Bounds of `sip.target-timeout`.
const TARGET_TIMEOUT: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(30));
/// RFC 4028's floor for `Min-SE` (§5), kept unless `short-session-timers`.
const RFC_MIN_SE: Duration = Duration::from_secs(90);
/// The longest `session-expires` accepted.
const MAX_SESSION_EXPIRES: Duration = Duration::from_secs(24 * 3600);
/// Largest certificate or key file read.
const MAX_PEM_BYTES: u64 = 1 << 20;

/// One failed check.
struct Invalid {
    key: String,
    reason: String,
}

type Check = Result<(), Invalid>;

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Invalid {
    Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// Checks `config`; `origin` names the file in the error.
pub(crate) fn validate(config: &Config, origin: &str) -> Result<(), ConfigError> {
    check(config).map_err(|Invalid { key, reason }| ConfigError::Invalid {
        file: origin.to_owned(),
        key,
        reason,
    })
}

fn check(config: &Config) -> Check {
    check_sip(&config.sip)?;
    unique_names(config.trunks.iter().map(|t| t.name.as_str()), "trunk")?;
    for (i, trunk) in config.trunks.iter().enumerate() {
        check_trunk(trunk, &format!("trunk[{i}]"))?;
    }
    unique_names(config.platforms.iter().map(|p| p.name.as_str()), "platform")?;
    for (i, platform) in config.platforms.iter().enumerate() {
        check_platform(platform, &format!("platform[{i}]"))?;
    }
    check_dids(config)?;
    check_numbering(config)?;
    check_media(config)?;
    check_security(config)
}

/// Names non-empty and unique among `[[{table}]]` entries.
fn unique_names<'a>(names: impl Iterator<Item = &'a str>, table: &str) -> Check {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, name) in names.enumerate() {
        let key = format!("{table}[{i}].name");
        if name.trim().is_empty() {
            return Err(invalid(key, "must not be empty"));
        }
        if let Some(first) = seen.insert(name, i) {
            return Err(invalid(
                key,
                format!("`{name}` is already the name of {table}[{first}]"),
            ));
        }
    }
    Ok(())
}

fn check_sip(sip: &SipConfig) -> Check {
    if sip.listen.is_empty() {
        return Err(invalid("sip.listen", "at least one listener is needed"));
    }
    let mut seen = HashMap::new();
    for (i, listener) in sip.listen.iter().enumerate() {
        let key = format!("sip.listen[{i}]");
        check_listener(listener, &key)?;
        if let Some(first) = seen.insert((transport_name(listener.transport), listener.address), i)
        {
            return Err(invalid(
                format!("{key}.address"),
                format!(
                    "`{}` over {} is already sip.listen[{first}]",
                    listener.address,
                    transport_name(listener.transport)
                ),
            ));
        }
    }
    for (i, &code) in sip.failover_codes.iter().enumerate() {
        if !(400..=699).contains(&code) {
            return Err(invalid(
                format!("sip.failover-codes[{i}]"),
                format!("{code} is not a failure response (400 to 699)"),
            ));
        }
    }
    let (low, high) = TARGET_TIMEOUT;
    if !(low..=high).contains(&sip.target_timeout) {
        return Err(invalid(
            "sip.target-timeout",
            format!("{:?} is outside {low:?} to {high:?}", sip.target_timeout),
        ));
    }
    check_session_timers(sip)
}

/// Whole seconds; `min-se` at RFC 4028's floor (unless
/// `short-session-timers`); `session-expires` from `min-se` to a day.
fn check_session_timers(sip: &SipConfig) -> Check {
    for (name, value) in [
        ("session-expires", sip.session_expires),
        ("min-se", sip.min_se),
    ] {
        if value.subsec_nanos() != 0 || value.is_zero() {
            return Err(invalid(
                format!("sip.{name}"),
                format!("{value:?} is not a whole number of seconds above 0"),
            ));
        }
    }
    if sip.min_se < RFC_MIN_SE && !sip.short_session_timers {
        return Err(invalid(
            "sip.min-se",
            format!(
                "{:?} is below RFC 4028's floor of {RFC_MIN_SE:?} \
                 (`short-session-timers = true` allows it, for tests)",
                sip.min_se
            ),
        ));
    }
    if !(sip.min_se..=MAX_SESSION_EXPIRES).contains(&sip.session_expires) {
        return Err(invalid(
            "sip.session-expires",
            format!(
                "{:?} is outside sip.min-se ({:?}) to {MAX_SESSION_EXPIRES:?}",
                sip.session_expires, sip.min_se
            ),
        ));
    }
    Ok(())
}

fn check_listener(listener: &Listener, key: &str) -> Check {
    let files = [
        ("certificate", &listener.certificate, Pem::Certificate),
        ("private-key", &listener.private_key, Pem::PrivateKey),
    ];
    for (name, path, kind) in files {
        let key = format!("{key}.{name}");
        match (listener.transport, path) {
            (Transport::Tls, None) => {
                return Err(invalid(key, format!("a tls listener needs a {name}")))
            }
            (Transport::Tls, Some(path)) => check_pem(path, kind).map_err(|r| invalid(key, r))?,
            (other, Some(_)) => {
                return Err(invalid(
                    key,
                    format!(
                        "only a tls listener takes a {name} (this one is {})",
                        transport_name(other)
                    ),
                ))
            }
            (_, None) => {}
        }
    }
    Ok(())
}

/// As written in the file.
fn transport_name(transport: Transport) -> &'static str {
    match transport {
        Transport::Udp => "udp",
        Transport::Tcp => "tcp",
        Transport::Tls => "tls",
    }
}

/// What a PEM file must hold.
#[derive(Clone, Copy)]
enum Pem {
    Certificate,
    PrivateKey,
}

/// `path` is a readable regular file holding PEM of the `kind` wanted.
fn check_pem(path: &Path, kind: Pem) -> Result<(), String> {
    let shown = path.display();
    // Look before opening: a FIFO or device would block or never end.
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    if !meta.is_file() {
        return Err(format!("`{shown}` is not a regular file"));
    }
    if meta.len() > MAX_PEM_BYTES {
        return Err(format!("`{shown}` is larger than {MAX_PEM_BYTES} bytes"));
    }
    let pem = std::fs::read(path).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    match kind {
        Pem::Certificate => {
            let mut count = 0;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                cert.map_err(|e| format!("`{shown}` is not valid PEM: {e}"))?;
                count += 1;
            }
            if count == 0 {
                return Err(format!("`{shown}` holds no PEM CERTIFICATE"));
            }
        }
        Pem::PrivateKey => {
            PrivateKeyDer::from_pem_slice(&pem)
                .map_err(|e| format!("`{shown}` holds no PEM private key: {e}"))?;
        }
    }
    Ok(())
}

fn check_trunk(trunk: &Trunk, key: &str) -> Check {
    for (j, entry) in trunk.allow.iter().enumerate() {
        entry
            .parse::<Cidr>()
            .map_err(|e| invalid(format!("{key}.allow[{j}]"), e.to_string()))?;
    }
    if trunk.allow.is_empty() && trunk.auth.is_none() {
        return Err(invalid(
            key,
            format!(
                "trunk `{}` has neither `allow` nor `auth`, so it would accept anyone",
                trunk.name
            ),
        ));
    }
    if let Some(auth) = &trunk.auth {
        if auth.algorithms.is_empty() {
            return Err(invalid(
                format!("{key}.auth.algorithms"),
                "must list at least one of SHA-256, MD5",
            ));
        }
        for (j, algorithm) in auth.algorithms.iter().enumerate() {
            if !ALGORITHMS.iter().any(|a| a.eq_ignore_ascii_case(algorithm)) {
                return Err(invalid(
                    format!("{key}.auth.algorithms[{j}]"),
                    format!("`{algorithm}` is not SHA-256 or MD5"),
                ));
            }
        }
    }
    if let Some(register) = &trunk.register {
        uri(&register.registrar, format!("{key}.register.registrar"))?;
        uri(&register.aor, format!("{key}.register.aor"))?;
    }
    if let Some(proxy) = &trunk.proxy {
        uri(proxy, format!("{key}.proxy"))?;
    }
    codecs(&trunk.codecs, key)
}

fn check_platform(platform: &Platform, key: &str) -> Check {
    if platform.targets.is_empty() {
        return Err(invalid(
            format!("{key}.targets"),
            "at least one target is needed",
        ));
    }
    for (j, target) in platform.targets.iter().enumerate() {
        uri(target, format!("{key}.targets[{j}]"))?;
    }
    let probe = platform.probe_interval;
    if !probe.is_zero() && probe < std::time::Duration::from_millis(100) {
        return Err(invalid(
            format!("{key}.probe-interval"),
            "must be 0s (off) or at least 100ms",
        ));
    }
    codecs(&platform.codecs, key)
}

fn uri(text: &str, key: String) -> Check {
    check_sip_uri(text).map_err(|reason| invalid(key, reason))
}

fn codecs(list: &[String], key: &str) -> Check {
    for (j, codec) in list.iter().enumerate() {
        if !CODECS.iter().any(|c| c.eq_ignore_ascii_case(codec)) {
            return Err(invalid(
                format!("{key}.codecs[{j}]"),
                format!("`{codec}` is not one of {}", CODECS.join(", ")),
            ));
        }
    }
    Ok(())
}

/// `+`? digits, then `*`? (a prefix).
fn is_did_number(number: &str) -> bool {
    let number = number.strip_prefix('+').unwrap_or(number);
    let number = number.strip_suffix('*').unwrap_or(number);
    !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
}

fn check_dids(config: &Config) -> Check {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, did) in config.dids.iter().enumerate() {
        let key = format!("did[{i}]");
        if !is_did_number(&did.number) {
            return Err(invalid(
                format!("{key}.number"),
                format!(
                    "`{}` is not a number (digits with an optional leading `+`, \
                     and a trailing `*` for a prefix)",
                    did.number
                ),
            ));
        }
        if let Some(first) = seen.insert(&did.number, i) {
            return Err(invalid(
                format!("{key}.number"),
                format!("`{}` is already did[{first}]", did.number),
            ));
        }
        if config.platform_by_name(&did.platform).is_none() {
            return Err(invalid(
                format!("{key}.platform"),
                format!("no [[platform]] is named `{}`", did.platform),
            ));
        }
        for (j, queue) in did.queues.iter().enumerate() {
            uri(queue, format!("{key}.queues[{j}]"))?;
        }
    }
    Ok(())
}

fn check_numbering(config: &Config) -> Check {
    let n = &config.numbering;
    let fields = [
        ("country-code", &n.country_code),
        ("national-prefix", &n.national_prefix),
        ("international-prefix", &n.international_prefix),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(
                    format!("numbering.{name}"),
                    format!("`{value}` is not digits only"),
                ));
            }
        }
    }
    Ok(())
}

fn check_media(config: &Config) -> Check {
    let media = &config.media;
    if media.nodes.is_empty() {
        return Err(invalid("media.nodes", "at least one node is needed"));
    }
    unique_names(media.nodes.iter().map(|n| n.name.as_str()), "media.nodes")?;
    let mut seen = HashMap::new();
    for (i, node) in media.nodes.iter().enumerate() {
        if let Some(first) = seen.insert(node.address, i) {
            return Err(invalid(
                format!("media.nodes[{i}].address"),
                format!("`{}` is already media.nodes[{first}]", node.address),
            ));
        }
    }
    for (name, value) in [
        ("timeout", media.timeout),
        ("ping-interval", media.ping_interval),
    ] {
        if value.is_zero() {
            return Err(invalid(format!("media.{name}"), "must be above 0"));
        }
    }
    Ok(())
}

fn check_security(config: &Config) -> Check {
    let s = &config.security;
    let numbers = [
        ("rate-per-source", s.rate_per_source == 0),
        ("burst-per-source", s.burst_per_source == 0),
        ("max-auth-failures", s.max_auth_failures == 0),
        ("lockout", s.lockout.is_zero()),
        ("nonce-lifetime", s.nonce_lifetime.is_zero()),
    ];
    match numbers.into_iter().find(|&(_, zero)| zero) {
        Some((name, _)) => Err(invalid(format!("security.{name}"), "must be above 0")),
        None => Ok(()),
    }
}

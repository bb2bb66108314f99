//! The configuration loader through its public API: every refusal names
//! the file, the key and the reason.

use sip_control::config::{load, parse, ConfigError};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The smallest file that passes every check.
const BASE: &str = r#"
[sip]
[[sip.listen]]
transport = "udp"
address = "127.0.0.1:5060"

[[trunk]]
name = "carrier"
allow = ["127.0.0.0/8"]

[[platform]]
name = "ai"
targets = ["sip:agent@127.0.0.1:5090"]

[[did]]
number = "+15551230001"
platform = "ai"

[media]
[[media.nodes]]
name = "local"
address = "127.0.0.1:2223"
"#;

/// `BASE` with `from` replaced by `to` (which must occur).
fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE has no `{from}`");
    BASE.replacen(from, to, 1)
}

/// A fresh directory under the target's test scratch space.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("config-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

const CERT_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBAA==\n-----END CERTIFICATE-----\n";
const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIBAA==\n-----END PRIVATE KEY-----\n";

/// Expects a semantic refusal of `text` at `key` whose reason has `reason`.
#[track_caller]
fn assert_invalid(text: &str, key: &str, reason: &str) {
    match parse(text, "test.toml") {
        Err(e @ ConfigError::Invalid { .. }) => {
            let shown = e.to_string();
            assert_eq!(e.key(), Some(key), "{shown}");
            assert!(shown.starts_with("test.toml: "), "{shown}");
            assert!(shown.contains(&format!("`{key}`")), "{shown}");
            assert!(shown.contains(reason), "`{reason}` not in: {shown}");
        }
        other => panic!("expected an Invalid error at `{key}`, got {other:?}"),
    }
}

/// Expects a type error (unknown/missing key, wrong type) at `key`, `line`.
#[track_caller]
fn assert_type(text: &str, key: &str, line: usize, reason: &str) -> ConfigError {
    match parse(text, "test.toml") {
        Err(e @ ConfigError::Type { .. }) => {
            let shown = e.to_string();
            assert_eq!(e.key(), Some(key), "{shown}");
            assert_eq!(e.line_column().map(|(l, _)| l), Some(line), "{shown}");
            assert!(shown.starts_with(&format!("test.toml:{line}:")), "{shown}");
            assert!(shown.contains(reason), "`{reason}` not in: {shown}");
            e
        }
        other => panic!("expected a Type error at `{key}`, got {other:?}"),
    }
}

#[test]
fn base_parses_with_defaults() {
    let config = parse(BASE, "test.toml").unwrap();
    assert_eq!(config.sip.target_timeout, Duration::from_secs(2));
    assert_eq!(config.sip.ring_timeout, None);
    assert_eq!(config.security.lockout, Duration::from_secs(300));
    assert_eq!(config.trunks[0].name, "carrier");
    assert!(config.trunk_by_name("carrier").is_some());
    assert!(config.trunk_by_name("other").is_none());
    assert_eq!(config.platform_by_name("ai").unwrap().targets.len(), 1);
    let allow = config.allowlist();
    assert_eq!(allow.len(), 1);
    assert_eq!(allow[0].0, 0);
    assert!(allow[0].1.contains("127.1.2.3".parse().unwrap()));
}

#[test]
fn durations_take_units() {
    let text = edit(
        "[sip]\n",
        "[sip]\ntarget-timeout = \"500ms\"\nring-timeout = \"2s\"\n",
    );
    let text = text + "[security]\nlockout = \"5m\"\nnonce-lifetime = \"1m 30s\"\n";
    let config = parse(&text, "test.toml").unwrap();
    assert_eq!(config.sip.target_timeout, Duration::from_millis(500));
    assert_eq!(config.sip.ring_timeout, Some(Duration::from_secs(2)));
    assert_eq!(config.security.lockout, Duration::from_secs(300));
    assert_eq!(config.security.nonce_lifetime, Duration::from_secs(90));
}

#[test]
fn bad_duration_is_a_type_error() {
    let text = edit("[sip]\n", "[sip]\ntarget-timeout = \"5 parsecs\"\n");
    assert_type(&text, "sip.target-timeout", 3, "parsecs");
}

// --- semantic checks -----------------------------------------------------

#[test]
fn needs_a_listener() {
    let text = edit(
        "[[sip.listen]]\ntransport = \"udp\"\naddress = \"127.0.0.1:5060\"\n",
        "listen = []\n",
    );
    assert_invalid(&text, "sip.listen", "at least one listener");
}

#[test]
fn duplicate_listener() {
    let text = edit(
        "[[trunk]]",
        "[[sip.listen]]\ntransport = \"udp\"\naddress = \"127.0.0.1:5060\"\n[[trunk]]",
    );
    assert_invalid(&text, "sip.listen[1].address", "already sip.listen[0]");
    // The same port over another transport is fine.
    let text = edit(
        "[[trunk]]",
        "[[sip.listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:5060\"\n[[trunk]]",
    );
    parse(&text, "test.toml").unwrap();
}

#[test]
fn tls_listener_needs_certificate_and_key() {
    let text = edit("\"udp\"", "\"tls\"");
    assert_invalid(&text, "sip.listen[0].certificate", "needs a certificate");

    let dir = scratch("tls-needs-key");
    std::fs::write(dir.join("sip.crt"), CERT_PEM).unwrap();
    let text = edit(
        "\"udp\"",
        &format!("\"tls\"\ncertificate = {:?}", dir.join("sip.crt")),
    );
    assert_invalid(&text, "sip.listen[0].private-key", "needs a private-key");
}

#[test]
fn tls_files_must_exist_and_be_pem() {
    let dir = scratch("tls-files");
    let cert = dir.join("sip.crt");
    let key = dir.join("sip.key");
    let tls = |cert: &Path, key: &Path| {
        edit(
            "\"udp\"",
            &format!("\"tls\"\ncertificate = {cert:?}\nprivate-key = {key:?}"),
        )
    };
    assert_invalid(
        &tls(&cert, &key),
        "sip.listen[0].certificate",
        "cannot read",
    );
    std::fs::write(&cert, "not a certificate\n").unwrap();
    std::fs::write(&key, KEY_PEM).unwrap();
    assert_invalid(
        &tls(&cert, &key),
        "sip.listen[0].certificate",
        "holds no PEM CERTIFICATE",
    );
    std::fs::write(&cert, CERT_PEM).unwrap();
    // A certificate where the key should be.
    assert_invalid(
        &tls(&cert, &cert),
        "sip.listen[0].private-key",
        "holds no PEM private key",
    );
    assert_invalid(
        &tls(&cert, &dir),
        "sip.listen[0].private-key",
        "not a regular file",
    );
    let config = parse(&tls(&cert, &key), "test.toml").unwrap();
    assert_eq!(config.sip.listen[0].certificate.as_deref(), Some(&*cert));
}

#[test]
fn plain_listener_takes_no_certificate() {
    let text = edit("\"udp\"", "\"udp\"\ncertificate = \"sip.crt\"");
    assert_invalid(
        &text,
        "sip.listen[0].certificate",
        "only a tls listener takes a certificate (this one is udp)",
    );
    let text = edit("\"udp\"", "\"tcp\"\nprivate-key = \"sip.key\"");
    assert_invalid(&text, "sip.listen[0].private-key", "this one is tcp");
}

#[test]
fn failover_codes_are_failures() {
    let text = edit("[sip]\n", "[sip]\nfailover-codes = [503, 399]\n");
    assert_invalid(
        &text,
        "sip.failover-codes[1]",
        "399 is not a failure response",
    );
    let text = edit("[sip]\n", "[sip]\nfailover-codes = [700]\n");
    assert_invalid(&text, "sip.failover-codes[0]", "400 to 699");
}

#[test]
fn target_timeout_bounds() {
    let text = edit("[sip]\n", "[sip]\ntarget-timeout = \"50ms\"\n");
    assert_invalid(&text, "sip.target-timeout", "50ms is outside 100ms to 30s");
    let text = edit("[sip]\n", "[sip]\ntarget-timeout = \"31s\"\n");
    assert_invalid(&text, "sip.target-timeout", "outside");
    for ok in ["100ms", "30s"] {
        let text = edit("[sip]\n", &format!("[sip]\ntarget-timeout = \"{ok}\"\n"));
        parse(&text, "test.toml").unwrap();
    }
}

#[test]
fn session_timer_defaults_and_bounds() {
    let config = parse(BASE, "test.toml").unwrap();
    assert!(config.sip.session_timers);
    assert_eq!(config.sip.session_expires, Duration::from_secs(1800));
    assert_eq!(config.sip.min_se, Duration::from_secs(90));
    let text = edit("[sip]\n", "[sip]\nmin-se = \"89s\"\n");
    assert_invalid(&text, "sip.min-se", "89s is below RFC 4028's floor of 90s");
    let text = edit("[sip]\n", "[sip]\nmin-se = \"1500ms\"\n");
    assert_invalid(&text, "sip.min-se", "not a whole number of seconds");
    let text = edit("[sip]\n", "[sip]\nsession-expires = \"0s\"\n");
    assert_invalid(&text, "sip.session-expires", "above 0");
    let text = edit("[sip]\n", "[sip]\nsession-expires = \"60s\"\n");
    assert_invalid(
        &text,
        "sip.session-expires",
        "60s is outside sip.min-se (90s)",
    );
    let text = edit("[sip]\n", "[sip]\nsession-expires = \"2d\"\n");
    assert_invalid(&text, "sip.session-expires", "outside");
    let text = edit("[sip]\n", "[sip]\nsession-expires = \"5 fortnights\"\n");
    assert_type(&text, "sip.session-expires", 3, "fortnights");
    // Below the floor only when asked for, and session-expires follows.
    let short = "[sip]\nshort-session-timers = true\nmin-se = \"2s\"\nsession-expires = \"4s\"\n";
    let config = parse(&edit("[sip]\n", short), "test.toml").unwrap();
    assert_eq!(config.sip.min_se, Duration::from_secs(2));
    assert_eq!(config.sip.session_expires, Duration::from_secs(4));
    let off = edit("[sip]\n", "[sip]\nsession-timers = false\n");
    assert!(!parse(&off, "test.toml").unwrap().sip.session_timers);
}

#[test]
fn trunk_names_unique_and_non_empty() {
    let text = edit("name = \"carrier\"", "name = \"  \"");
    assert_invalid(&text, "trunk[0].name", "must not be empty");
    let text = edit(
        "[[platform]]",
        "[[trunk]]\nname = \"carrier\"\nallow = [\"10.0.0.0/8\"]\n[[platform]]",
    );
    assert_invalid(
        &text,
        "trunk[1].name",
        "`carrier` is already the name of trunk[0]",
    );
}

#[test]
fn allow_entries_are_cidrs() {
    let text = edit(
        "[[platform]]",
        "[[trunk]]\nname = \"b\"\nallow = [\"10.0.0.0/8\", \"10.0.0.0/8x\"]\n[[platform]]",
    );
    assert_invalid(&text, "trunk[1].allow[1]", "prefix length `8x`");
    let text = edit("\"127.0.0.0/8\"", "\"10.0.0.1/8\"");
    assert_invalid(
        &text,
        "trunk[0].allow[0]",
        "host bits are set in `10.0.0.1/8`; the network is `10.0.0.0/8`",
    );
    let text = edit("\"127.0.0.0/8\"", "\"10.0.0.0/33\"");
    assert_invalid(&text, "trunk[0].allow[0]", "from 0 to 32");
    let text = edit("\"127.0.0.0/8\"", "\"carrier.example\"");
    assert_invalid(&text, "trunk[0].allow[0]", "not an IPv4 or IPv6 address");
    let text = edit("\"127.0.0.0/8\"", "\"2001:db8::/32\", \"192.0.2.1\"");
    let config = parse(&text, "test.toml").unwrap();
    assert_eq!(config.allowlist().len(), 2);
}

#[test]
fn trunk_needs_allow_or_auth() {
    let text = edit("allow = [\"127.0.0.0/8\"]", "allow = []");
    assert_invalid(&text, "trunk[0]", "neither `allow` nor `auth`");
    // auth alone is enough.
    let text = edit(
        "allow = [\"127.0.0.0/8\"]",
        "[trunk.auth]\nrealm = \"r\"\nusername = \"u\"\npassword = \"p\"",
    );
    let config = parse(&text, "test.toml").unwrap();
    let auth = config.trunks[0].auth.as_ref().unwrap();
    assert_eq!(auth.algorithms, ["SHA-256", "MD5"]);
}

#[test]
fn auth_algorithms() {
    let auth = |algorithms: &str| {
        edit(
            "allow = [\"127.0.0.0/8\"]",
            &format!(
                "[trunk.auth]\nrealm = \"r\"\nusername = \"u\"\npassword = \"p\"\n\
                 algorithms = {algorithms}"
            ),
        )
    };
    assert_invalid(&auth("[]"), "trunk[0].auth.algorithms", "at least one");
    assert_invalid(
        &auth("[\"sha-256\", \"SHA1\"]"),
        "trunk[0].auth.algorithms[1]",
        "`SHA1` is not SHA-256 or MD5",
    );
    parse(&auth("[\"md5\"]"), "test.toml").unwrap();
}

#[test]
fn register_uris() {
    let register = |registrar: &str, aor: &str| {
        edit(
            "allow = [\"127.0.0.0/8\"]",
            &format!(
                "allow = [\"127.0.0.0/8\"]\n[trunk.register]\nregistrar = \"{registrar}\"\n\
                 aor = \"{aor}\"\nusername = \"u\"\npassword = \"p\""
            ),
        )
    };
    assert_invalid(
        &register("registrar.example", "sip:t@carrier.example"),
        "trunk[0].register.registrar",
        "not a sip: or sips: URI",
    );
    assert_invalid(
        &register("sip:registrar.example:5060", "sip:t@"),
        "trunk[0].register.aor",
        "no host",
    );
    let config = parse(
        &register("sips:registrar.example", "sip:t@carrier.example"),
        "test.toml",
    )
    .unwrap();
    assert_eq!(config.trunks[0].register.as_ref().unwrap().expires, 3600);
}

#[test]
fn trunk_proxy_uri() {
    let text = edit(
        "name = \"carrier\"",
        "name = \"carrier\"\nproxy = \"tel:+1555\"",
    );
    assert_invalid(&text, "trunk[0].proxy", "not a sip: or sips: URI");
    let text = edit(
        "name = \"carrier\"",
        "name = \"carrier\"\nproxy = \"sip:gw:70000\"",
    );
    assert_invalid(&text, "trunk[0].proxy", "port `70000`");
}

#[test]
fn codec_names() {
    let text = edit(
        "name = \"carrier\"",
        "name = \"carrier\"\ncodecs = [\"pcmu\", \"G729\"]",
    );
    assert_invalid(&text, "trunk[0].codecs[1]", "`G729` is not one of PCMU");
    let text = edit("name = \"ai\"", "name = \"ai\"\ncodecs = [\"speex\"]");
    assert_invalid(&text, "platform[0].codecs[0]", "`speex`");
    let text = edit(
        "name = \"ai\"",
        "name = \"ai\"\ncodecs = [\"OPUS\", \"Telephone-Event\"]",
    );
    let config = parse(&text, "test.toml").unwrap();
    // Stored as written.
    assert_eq!(config.platforms[0].codecs, ["OPUS", "Telephone-Event"]);
}

#[test]
fn platform_targets() {
    let text = edit("targets = [\"sip:agent@127.0.0.1:5090\"]", "targets = []");
    assert_invalid(&text, "platform[0].targets", "at least one target");
    let text = edit(
        "targets = [\"sip:agent@127.0.0.1:5090\"]",
        "targets = [\"sip:agent@127.0.0.1:5090\", \"sip:agent@[::1\"]",
    );
    assert_invalid(&text, "platform[0].targets[1]", "closing `]`");
}

#[test]
fn platform_names_unique() {
    let text = edit(
        "[[did]]",
        "[[platform]]\nname = \"ai\"\ntargets = [\"sip:b@127.0.0.1\"]\n[[did]]",
    );
    assert_invalid(&text, "platform[1].name", "already the name of platform[0]");
}

#[test]
fn did_numbers() {
    for bad in ["15551230001x", "+", "*", "+1 555", "+1555**", "++1"] {
        let text = edit("\"+15551230001\"", &format!("{bad:?}"));
        assert_invalid(&text, "did[0].number", "is not a number");
    }
    for ok in ["15551230001", "+1555*", "0044*"] {
        let text = edit("\"+15551230001\"", &format!("{ok:?}"));
        parse(&text, "test.toml").unwrap();
    }
    let text = BASE.to_owned() + "[[did]]\nnumber = \"+15551230001\"\nplatform = \"ai\"\n";
    assert_invalid(&text, "did[1].number", "`+15551230001` is already did[0]");
}

#[test]
fn did_platform_exists() {
    let text = edit("platform = \"ai\"", "platform = \"bot\"");
    assert_invalid(&text, "did[0].platform", "no [[platform]] is named `bot`");
}

#[test]
fn did_queues_are_uris() {
    let text = edit(
        "platform = \"ai\"",
        "platform = \"ai\"\nqueues = [\"queue@127.0.0.1:5100\"]",
    );
    assert_invalid(&text, "did[0].queues[0]", "not a sip: or sips: URI");
}

#[test]
fn numbering_digits_only() {
    let text = BASE.to_owned() + "[numbering]\ncountry-code = \"+1\"\n";
    assert_invalid(&text, "numbering.country-code", "`+1` is not digits only");
    let text = BASE.to_owned() + "[numbering]\ninternational-prefix = \"\"\n";
    assert_invalid(&text, "numbering.international-prefix", "not digits only");
}

#[test]
fn media_nodes() {
    let text = edit(
        "[[media.nodes]]\nname = \"local\"\naddress = \"127.0.0.1:2223\"\n",
        "nodes = []\n",
    );
    assert_invalid(&text, "media.nodes", "at least one node");
    let text = BASE.to_owned() + "[[media.nodes]]\nname = \"b\"\naddress = \"127.0.0.1:2223\"\n";
    assert_invalid(
        &text,
        "media.nodes[1].address",
        "`127.0.0.1:2223` is already media.nodes[0]",
    );
    let text =
        BASE.to_owned() + "[[media.nodes]]\nname = \"local\"\naddress = \"127.0.0.1:2224\"\n";
    assert_invalid(
        &text,
        "media.nodes[1].name",
        "already the name of media.nodes[0]",
    );
    let text = edit("[media]\n", "[media]\nping-interval = \"0s\"\n");
    assert_invalid(&text, "media.ping-interval", "must be above 0");
}

#[test]
fn security_numbers_positive() {
    for key in [
        "rate-per-source = 0",
        "burst-per-source = 0",
        "max-auth-failures = 0",
        "lockout = \"0s\"",
        "nonce-lifetime = \"0s\"",
    ] {
        let text = BASE.to_owned() + "[security]\n" + key + "\n";
        let name = key.split(' ').next().unwrap();
        assert_invalid(&text, &format!("security.{name}"), "must be above 0");
    }
}

// --- TOML shape and syntax -----------------------------------------------

#[test]
fn unknown_key_is_named() {
    let text = edit("[sip]\n", "[sip]\nusr-agent = \"x\"\n");
    let e = assert_type(&text, "sip.usr-agent", 3, "unknown field `usr-agent`");
    assert_eq!(e.line_column(), Some((3, 1)));
    let text = BASE.to_owned() + "[[trunk]]\nname = \"b\"\nallow = [\"10.0.0.0/8\"]\nalow = []\n";
    assert_type(&text, "trunk[1].alow", 26, "unknown field `alow`");
    let text = edit(
        "address = \"127.0.0.1:2223\"",
        "address = \"127.0.0.1:2223\"\nweight = 2",
    );
    assert_type(&text, "media.nodes[0].weight", 23, "unknown field `weight`");
    let text = "colour = 1\n".to_owned() + BASE;
    assert_type(&text, "colour", 1, "unknown field `colour`");
}

#[test]
fn missing_key_is_named() {
    let text = edit("name = \"ai\"\n", "");
    assert_type(&text, "platform[0].name", 11, "missing field `name`");
    let text = edit(
        "[media]\n[[media.nodes]]\nname = \"local\"\naddress = \"127.0.0.1:2223\"\n",
        "",
    );
    let e = parse(&text, "test.toml").unwrap_err();
    assert!(matches!(e, ConfigError::Type { .. }), "{e}");
    assert_eq!(e.key(), Some("media"), "{e}");
    let e = parse("", "empty.toml").unwrap_err();
    assert_eq!(e.to_string(), "empty.toml:1:1: `sip`: missing field `sip`");
    let text = edit("address = \"127.0.0.1:2223\"\n", "");
    assert_type(
        &text,
        "media.nodes[0].address",
        20,
        "missing field `address`",
    );
}

#[test]
fn wrong_type_is_named() {
    let text = edit("[sip]\n", "[sip]\nfailover-codes = [503, \"x\"]\n");
    let e = assert_type(&text, "sip.failover-codes[1]", 3, "invalid type");
    assert_eq!(e.line_column(), Some((3, 24)));
    let text = edit("\"udp\"", "\"sctp\"");
    assert_type(
        &text,
        "sip.listen[0].transport",
        4,
        "unknown variant `sctp`",
    );
    let text = edit("\"127.0.0.1:5060\"", "\"localhost\"");
    assert_type(&text, "sip.listen[0].address", 5, "socket address");
    // Inline tables and arrays are located too.
    let text = edit(
        "[[sip.listen]]\ntransport = \"udp\"\naddress = \"127.0.0.1:5060\"\n",
        "listen = [\n  { transport = \"udp\", address = \"127.0.0.1:5060\" },\n  \
         { transport = \"tcp\", adress = \"127.0.0.1:5060\" },\n]\n",
    );
    assert_type(&text, "sip.listen[1].adress", 5, "unknown field `adress`");
    let text = BASE.to_owned() + "[security]\nrate-per-source = -1\n";
    assert_type(&text, "security.rate-per-source", 24, "-1");
}

#[test]
fn syntax_error_has_line_and_column() {
    let text = edit("[[platform]]\nname = \"ai\"", "[[platform]]\nname = \"ai");
    match parse(&text, "test.toml") {
        Err(e @ ConfigError::Syntax { .. }) => {
            let shown = e.to_string();
            assert_eq!(e.line_column(), Some((12, 11)), "{shown}");
            assert_eq!(e.key(), Some("platform[0].name"), "{shown}");
            assert!(
                shown.starts_with("test.toml:12:11: `platform[0].name`: "),
                "{shown}"
            );
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    let e = parse("[sip\nx = 1\n", "broken.toml").unwrap_err();
    assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
    assert_eq!(e.key(), Some("sip"), "{e}");
    assert_eq!(
        e.to_string(),
        "broken.toml:1:5: `sip`: invalid table header: expected `.`, `]`"
    );
}

// --- files -----------------------------------------------------------------

#[test]
fn relative_tls_paths_are_relative_to_the_file() {
    let dir = scratch("relative-tls");
    std::fs::create_dir(dir.join("tls")).unwrap();
    std::fs::write(dir.join("tls/sip.crt"), CERT_PEM).unwrap();
    std::fs::write(dir.join("tls/sip.key"), KEY_PEM).unwrap();
    let text = edit(
        "\"udp\"",
        "\"tls\"\ncertificate = \"tls/sip.crt\"\nprivate-key = \"./tls/sip.key\"",
    );
    let file = dir.join("sip.toml");
    std::fs::write(&file, text).unwrap();
    let config = load(&file).unwrap();
    let listener = &config.sip.listen[0];
    assert_eq!(
        listener.certificate.as_deref(),
        Some(&*dir.join("tls/sip.crt"))
    );
    assert_eq!(
        listener.private_key.as_deref(),
        Some(&*dir.join("./tls/sip.key"))
    );
    assert!(listener.certificate.as_ref().unwrap().is_absolute());
    // The same file read from elsewhere misses its certificate.
    let other = scratch("relative-tls-elsewhere").join("sip.toml");
    std::fs::copy(&file, &other).unwrap();
    let e = load(&other).unwrap_err();
    assert_eq!(e.key(), Some("sip.listen[0].certificate"), "{e}");
    assert!(
        e.to_string().starts_with(&other.display().to_string()),
        "{e}"
    );
}

#[test]
fn unreadable_file_is_io() {
    let missing = scratch("missing").join("nope.toml");
    let e = load(&missing).unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }), "{e}");
    assert_eq!(e.file(), missing.display().to_string());
    assert!(e.to_string().contains("nope.toml: cannot read"), "{e}");
}

#[test]
fn example_loads_from_disk() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sluice-sip.example.toml");
    let config = load(&path).unwrap();
    assert_eq!(config.platforms[0].targets.len(), 2);
}

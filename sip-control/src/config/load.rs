//! Reading the file: TOML to [`Config`], relative paths made absolute, then
//! the semantic checks.

use super::locate::{key_in_document, key_near, line_column, TOP_LEVEL};
use super::types::Config;
use super::validate::validate;
use super::ConfigError;
use std::path::{Path, PathBuf};

/// Reads, parses and checks the configuration file at `path`.
///
/// Relative `certificate` and `private-key` paths are taken relative to the
/// file's directory, and stored absolute.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let io = |error| ConfigError::Io {
        file: file.clone(),
        error,
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let base = std::path::absolute(dir).map_err(io)?;
    parse_relative_to(&text, &file, &base)
}

/// Parses and checks configuration text; `origin` names it in errors.
///
/// Relative `certificate` and `private-key` paths are taken relative to the
/// working directory (use [`load`] for paths relative to the file).
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    // Without a working directory, relative paths stay relative.
    let base = std::env::current_dir().unwrap_or_default();
    parse_relative_to(text, origin, &base)
}

fn parse_relative_to(text: &str, origin: &str, base: &Path) -> Result<Config, ConfigError> {
    let mut config = deserialize(text, origin)?;
    resolve_paths(&mut config, base);
    validate(&config, origin)?;
    Ok(config)
}

/// TOML syntax first (so the two kinds of error stay apart), then the shape.
fn deserialize(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let doc = match toml_edit::ImDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let offset = e.span().map_or(0, |s| s.start);
            let (line, column) = line_column(text, offset);
            return Err(ConfigError::Syntax {
                file: origin.to_owned(),
                line,
                column,
                key: key_near(text, offset),
                reason: one_line(e.message()),
            });
        }
    };
    toml::from_str(text).map_err(|e: toml::de::Error| {
        let reason = one_line(e.message());
        let offset = e.span().map_or(0, |s| s.start);
        let (line, column) = line_column(text, offset);
        let place = e.span().and_then(|span| key_in_document(&doc, span));
        let key = match (place, missing_field(&reason)) {
            (Some(place), Some(field)) => format!("{place}.{field}"),
            (Some(place), None) => place,
            (None, Some(field)) => field.to_owned(),
            (None, None) => TOP_LEVEL.to_owned(),
        };
        ConfigError::Type {
            file: origin.to_owned(),
            line,
            column,
            key,
            reason,
        }
    })
}

/// The parser's message, whose lines may be a headline and an
/// `expected ...` detail, as one line.
fn one_line(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(": ")
}

/// `name` out of serde's "missing field `name`".
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")?
        .split('`')
        .next()
        .filter(|f| !f.is_empty())
}

/// Makes the TLS file paths absolute against `base`.
fn resolve_paths(config: &mut Config, base: &Path) {
    let absolute = |p: &mut Option<PathBuf>| {
        if let Some(path) = p.as_mut().filter(|p| p.is_relative()) {
            *path = base.join(&*path);
        }
    };
    for listener in &mut config.sip.listen {
        absolute(&mut listener.certificate);
        absolute(&mut listener.private_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::types::Transport;
    use std::time::Duration;

    #[test]
    fn example_parses() {
        let text = include_str!("../../sluice-sip.example.toml");
        let config = parse(text, "sluice-sip.example.toml").unwrap();
        let transports: Vec<_> = config.sip.listen.iter().map(|l| l.transport).collect();
        assert_eq!(transports, [Transport::Udp, Transport::Tcp]);
        assert_eq!(config.sip.target_timeout, Duration::from_secs(2));
        assert!(config.sip.session_timers);
        assert_eq!(config.sip.session_expires, Duration::from_secs(1800));
        assert_eq!(config.sip.min_se, Duration::from_secs(90));
        assert!(!config.sip.short_session_timers);
        let carrier = config.trunk_by_name("carrier").unwrap();
        assert!(carrier.auth.is_none());
        let allow = config.allowlist();
        assert_eq!(allow.len(), 1);
        assert_eq!(allow[0].1.to_string(), "127.0.0.0/8");
        let ai = config.platform_by_name("ai").unwrap();
        assert_eq!(
            ai.targets,
            ["sip:agent@127.0.0.1:5090", "sip:agent@127.0.0.1:5091"]
        );
        assert_eq!(config.dids[0].number, "+15551230001");
        assert_eq!(config.dids[0].queues, ["sip:queue@127.0.0.1:5100"]);
        assert_eq!(config.media.nodes[0].address.to_string(), "127.0.0.1:2223");
        assert_eq!(config.media.timeout, Duration::from_millis(1500));
        assert_eq!(
            config
                .observability
                .metrics
                .map(|a| a.to_string())
                .as_deref(),
            Some("127.0.0.1:9560")
        );
    }

    #[test]
    fn example_with_auth_uncommented_parses() {
        let text = include_str!("../../sluice-sip.example.toml")
            .replace("# [trunk.auth]", "[trunk.auth]")
            .replace("# realm", "realm")
            .replace("# username = \"carrier\"", "username = \"carrier\"")
            .replace(
                "# password = \"change-me\"\n# algorithms",
                "password = \"change-me\"\nalgorithms",
            );
        let config = parse(&text, "example").unwrap();
        let auth = config.trunks[0].auth.as_ref().unwrap();
        assert_eq!(auth.realm, "sluice");
        assert_eq!(auth.algorithms, ["SHA-256", "MD5"]);
    }

    #[test]
    fn missing_field_name() {
        assert_eq!(missing_field("missing field `name`"), Some("name"));
        assert_eq!(missing_field("invalid type"), None);
    }

    #[test]
    fn reasons_are_one_line() {
        assert_eq!(
            one_line("invalid table header\nexpected `.`, `]`\n"),
            "invalid table header: expected `.`, `]`"
        );
    }
}

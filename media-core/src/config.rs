//! Daemon configuration: command-line flags named like rtpengine's, an
//! optional TOML file with the same keys, and an embedded default that
//! runs on loopback.
//!
//! Precedence: built-in defaults, then the TOML file, then flags.
//! Validation names the key (and the file) that is wrong and why.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

/// The configuration media-core runs with when given nothing else.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// Command-line flags. Every flag may also be set in the `--config` file
/// under the same name with `-` written as `_` or `-`.
#[derive(Debug, Parser, Default)]
#[command(
    name = "media-core",
    version,
    about = "sluice media-core: an NG-controlled RTP relay on pinned io_uring workers"
)]
pub struct Args {
    /// TOML file with the same keys as these flags (e.g. `listen-ng = "127.0.0.1:2223"`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Local media address, optionally named: `[NAME/]ADDR`. Repeat for
    /// several networks (e.g. `--interface carrier/10.0.0.5 --interface ai/192.168.1.5`);
    /// NG `direction` picks them by name. The first is the default.
    #[arg(long = "interface", value_name = "[NAME/]ADDR")]
    pub interfaces: Vec<String>,
    /// UDP address the NG control protocol listens on.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen_ng: Option<String>,
    /// Lowest media port to allocate.
    #[arg(long, value_name = "PORT")]
    pub port_min: Option<u16>,
    /// Highest media port to allocate.
    #[arg(long, value_name = "PORT")]
    pub port_max: Option<u16>,
    /// Number of data-path worker threads, each pinned to its own core.
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Seconds without any media before a call is removed.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Most concurrent calls; further offers get `load limit`.
    #[arg(long, value_name = "N")]
    pub max_sessions: Option<usize>,
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `media_core=debug`.
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// SRTP replay window in packets (64 to 1024); an `a=crypto` WSH hint
    /// can raise it per stream.
    #[arg(long, value_name = "PACKETS")]
    pub srtp_replay_window: Option<u16>,
    /// Network interface to attach the XDP fast path to (repeatable).
    /// Streams that need no payload change are then forwarded in the
    /// kernel's driver hook; the interface needs
    /// `net.ipv4.conf.IFACE.forwarding=1` for the next-hop lookup.
    #[arg(long = "xdp", value_name = "IFACE")]
    pub xdp: Vec<String>,
    /// How the XDP program attaches: `native` (driver), `generic` (SKB),
    /// or `auto` (native, else generic).
    #[arg(long, value_name = "MODE")]
    pub xdp_mode: Option<String>,
    /// Most streams the XDP fast path holds at once; later ones stay in
    /// userspace.
    #[arg(long, value_name = "N")]
    pub xdp_max_flows: Option<u32>,
    /// Threads that transcode streams whose legs share no codec, beside
    /// the workers (which then never wait for a codec); 0 makes each
    /// worker transcode its own calls, a bounded batch per loop turn
    /// (least CPU when worker and transcoder would share one core).
    #[arg(long, value_name = "N")]
    pub transcode_threads: Option<usize>,
    /// Opus encoder complexity, 0 (cheapest) to 10 (best).
    #[arg(long, value_name = "0-10")]
    pub opus_complexity: Option<u8>,
    /// Opus bit rate in bit/s when the far end's fmtp sets none.
    #[arg(long, value_name = "BPS")]
    pub opus_bitrate: Option<u32>,
    /// Longest wait, in ms, of the jitter buffer on transcoded streams
    /// for a missing packet before concealing it.
    #[arg(long, value_name = "MS")]
    pub jitter_buffer_max: Option<u64>,
    /// Send each DTMF digit seen as a JSON datagram to this address.
    #[arg(long, value_name = "ADDR:PORT")]
    pub dtmf_log_dest: Option<String>,
}

/// The keys of the TOML file (all optional; unknown keys are an error).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    #[serde(alias = "interfaces")]
    interface: Option<Vec<String>>,
    #[serde(alias = "listen_ng")]
    listen_ng: Option<String>,
    #[serde(alias = "port_min")]
    port_min: Option<u16>,
    #[serde(alias = "port_max")]
    port_max: Option<u16>,
    workers: Option<usize>,
    timeout: Option<u64>,
    #[serde(alias = "max_sessions")]
    max_sessions: Option<usize>,
    #[serde(alias = "log_level")]
    log_level: Option<String>,
    #[serde(alias = "srtp_replay_window")]
    srtp_replay_window: Option<u16>,
    xdp: Option<Vec<String>>,
    #[serde(alias = "xdp_mode")]
    xdp_mode: Option<String>,
    #[serde(alias = "xdp_max_flows")]
    xdp_max_flows: Option<u32>,
    #[serde(alias = "transcode_threads")]
    transcode_threads: Option<usize>,
    #[serde(alias = "opus_complexity")]
    opus_complexity: Option<u8>,
    #[serde(alias = "opus_bitrate")]
    opus_bitrate: Option<u32>,
    #[serde(alias = "jitter_buffer_max")]
    jitter_buffer_max: Option<u64>,
    #[serde(alias = "dtmf_log_dest")]
    dtmf_log_dest: Option<String>,
}

/// A named local media address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Name used by NG `direction` (defaults to the address text).
    pub name: String,
    /// Address media sockets bind to and SDP advertises.
    pub address: IpAddr,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Local media interfaces; never empty.
    pub interfaces: Vec<Interface>,
    /// NG control socket.
    pub listen_ng: SocketAddr,
    /// Lowest media port (even).
    pub port_min: u16,
    /// Highest media port.
    pub port_max: u16,
    /// Data-path worker threads.
    pub workers: usize,
    /// Media inactivity before a call is removed.
    pub timeout: Duration,
    /// Most concurrent calls.
    pub max_sessions: usize,
    /// Log filter.
    pub log_level: String,
    /// SRTP replay window in packets.
    pub srtp_replay_window: u16,
    /// The XDP fast path: where and how to attach it.
    pub xdp: XdpConfig,
    /// The transcoder pool.
    pub transcode: TranscodeConfig,
}

/// The transcoder pool's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscodeConfig {
    /// Pool threads; 0: workers transcode themselves.
    pub threads: usize,
    /// Opus encoder complexity (0-10).
    pub opus_complexity: u8,
    /// Opus bit rate when the far end sets none.
    pub opus_bitrate: Option<u32>,
    /// The jitter buffer's longest wait for a missing packet.
    pub jitter_buffer_max: Duration,
    /// Where DTMF digit reports go as JSON.
    pub dtmf_log_dest: Option<SocketAddr>,
}

/// How the XDP program attaches to an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpMode {
    /// Native (driver) mode, else generic.
    Auto,
    /// Native (driver) mode only.
    Native,
    /// Generic (SKB) mode.
    Generic,
}

/// The XDP fast path's settings; no interfaces means it is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdpConfig {
    /// Interfaces to attach to.
    pub interfaces: Vec<String>,
    /// Attach mode.
    pub mode: XdpMode,
    /// Most offloaded streams at once.
    pub max_flows: u32,
}

/// A configuration problem: where, which key, and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown key or wrong type.
    #[error("{file}: {reason}")]
    Parse {
        /// The file (or `<embedded default>`).
        file: PathBuf,
        /// What the TOML parser said, naming the key.
        reason: String,
    },
    /// A value is out of range or malformed.
    #[error("{origin}: key `{key}`: {reason}")]
    Invalid {
        /// `command line`, a file name, or `<embedded default>`.
        origin: String,
        /// The offending key.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

impl Config {
    /// Builds the configuration from defaults, the optional file and flags.
    pub fn load(args: &Args) -> Result<Self, ConfigError> {
        let default_path = PathBuf::from("<embedded default>");
        let mut merged = parse_toml(DEFAULT_TOML, &default_path)?;
        let file_origin = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    file: path.clone(),
                    source,
                })?;
                let file = parse_toml(&text, path)?;
                merged = overlay(merged, file);
                path.display().to_string()
            }
            None => default_path.display().to_string(),
        };
        let from_flags = FileConfig {
            interface: (!args.interfaces.is_empty()).then(|| args.interfaces.clone()),
            listen_ng: args.listen_ng.clone(),
            port_min: args.port_min,
            port_max: args.port_max,
            workers: args.workers,
            timeout: args.timeout,
            max_sessions: args.max_sessions,
            log_level: args.log_level.clone(),
            srtp_replay_window: args.srtp_replay_window,
            xdp: (!args.xdp.is_empty()).then(|| args.xdp.clone()),
            xdp_mode: args.xdp_mode.clone(),
            xdp_max_flows: args.xdp_max_flows,
            transcode_threads: args.transcode_threads,
            opus_complexity: args.opus_complexity,
            opus_bitrate: args.opus_bitrate,
            jitter_buffer_max: args.jitter_buffer_max,
            dtmf_log_dest: args.dtmf_log_dest.clone(),
        };
        let merged = overlay(merged, from_flags);
        validate(merged, &file_origin, args)
    }
}

fn parse_toml(text: &str, file: &Path) -> Result<FileConfig, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        file: file.to_path_buf(),
        reason: e.to_string().trim_end().replace('\n', " "),
    })
}

fn overlay(base: FileConfig, top: FileConfig) -> FileConfig {
    FileConfig {
        interface: top.interface.or(base.interface),
        listen_ng: top.listen_ng.or(base.listen_ng),
        port_min: top.port_min.or(base.port_min),
        port_max: top.port_max.or(base.port_max),
        workers: top.workers.or(base.workers),
        timeout: top.timeout.or(base.timeout),
        max_sessions: top.max_sessions.or(base.max_sessions),
        log_level: top.log_level.or(base.log_level),
        srtp_replay_window: top.srtp_replay_window.or(base.srtp_replay_window),
        xdp: top.xdp.or(base.xdp),
        xdp_mode: top.xdp_mode.or(base.xdp_mode),
        xdp_max_flows: top.xdp_max_flows.or(base.xdp_max_flows),
        transcode_threads: top.transcode_threads.or(base.transcode_threads),
        opus_complexity: top.opus_complexity.or(base.opus_complexity),
        opus_bitrate: top.opus_bitrate.or(base.opus_bitrate),
        jitter_buffer_max: top.jitter_buffer_max.or(base.jitter_buffer_max),
        dtmf_log_dest: top.dtmf_log_dest.or(base.dtmf_log_dest),
    }
}

fn validate(c: FileConfig, file_origin: &str, args: &Args) -> Result<Config, ConfigError> {
    // A value set on the command line is reported as such; otherwise it
    // came from the file (or the embedded default).
    let origin = |set_by_flag: bool| {
        if set_by_flag {
            "command line".to_string()
        } else {
            file_origin.to_string()
        }
    };
    let invalid = |by_flag: bool, key: &'static str, reason: String| ConfigError::Invalid {
        origin: origin(by_flag),
        key,
        reason,
    };
    let missing = |key: &'static str| invalid(false, key, "missing".into());

    let xdp =
        validate_xdp(&c, args).map_err(|(by_flag, key, reason)| invalid(by_flag, key, reason))?;
    let transcode = validate_transcode(&c, args)
        .map_err(|(by_flag, key, reason)| invalid(by_flag, key, reason))?;
    let interface_texts = c.interface.ok_or_else(|| missing("interface"))?;
    if interface_texts.is_empty() {
        return Err(invalid(
            !args.interfaces.is_empty(),
            "interface",
            "no interface given".into(),
        ));
    }
    let mut interfaces: Vec<Interface> = Vec::with_capacity(interface_texts.len());
    for text in &interface_texts {
        let iface = parse_interface(text)
            .map_err(|reason| invalid(!args.interfaces.is_empty(), "interface", reason))?;
        if interfaces.iter().any(|i| i.name == iface.name) {
            return Err(invalid(
                !args.interfaces.is_empty(),
                "interface",
                format!("name `{}` used twice", iface.name),
            ));
        }
        interfaces.push(iface);
    }

    let listen_text = c.listen_ng.ok_or_else(|| missing("listen-ng"))?;
    let listen_ng = parse_listen(&listen_text)
        .map_err(|reason| invalid(args.listen_ng.is_some(), "listen-ng", reason))?;

    let port_min = c.port_min.ok_or_else(|| missing("port-min"))?;
    let port_max = c.port_max.ok_or_else(|| missing("port-max"))?;
    if port_min < 1024 {
        return Err(invalid(
            args.port_min.is_some(),
            "port-min",
            format!("{port_min} is below 1024"),
        ));
    }
    let first_even = port_min + (port_min & 1);
    if port_max <= first_even || port_max - first_even < 3 {
        return Err(invalid(
            args.port_max.is_some(),
            "port-max",
            format!("{port_max} leaves no room above port-min {port_min} (a call needs 4 ports)"),
        ));
    }

    let workers = c.workers.unwrap_or(1);
    if workers == 0 || workers > 256 {
        return Err(invalid(
            args.workers.is_some(),
            "workers",
            format!("{workers} is not in 1..=256"),
        ));
    }

    let timeout = c.timeout.ok_or_else(|| missing("timeout"))?;
    if timeout == 0 {
        return Err(invalid(
            args.timeout.is_some(),
            "timeout",
            "must be at least 1 second".into(),
        ));
    }
    let max_sessions = c.max_sessions.ok_or_else(|| missing("max-sessions"))?;
    if max_sessions == 0 {
        return Err(invalid(
            args.max_sessions.is_some(),
            "max-sessions",
            "must be at least 1".into(),
        ));
    }
    let srtp_replay_window = c.srtp_replay_window.unwrap_or(64);
    if !(64..=sluice_srtp::MAX_REPLAY_WINDOW).contains(&srtp_replay_window) {
        return Err(invalid(
            args.srtp_replay_window.is_some(),
            "srtp-replay-window",
            format!(
                "{srtp_replay_window} is not in 64..={}",
                sluice_srtp::MAX_REPLAY_WINDOW
            ),
        ));
    }
    Ok(Config {
        interfaces,
        listen_ng,
        port_min: first_even,
        port_max,
        workers,
        timeout: Duration::from_secs(timeout),
        max_sessions,
        log_level: c.log_level.unwrap_or_else(|| "info".into()),
        srtp_replay_window,
        xdp,
        transcode,
    })
}

/// The transcoder keys; errors carry (set by flag, key, reason).
fn validate_transcode(
    c: &FileConfig,
    args: &Args,
) -> Result<TranscodeConfig, (bool, &'static str, String)> {
    let threads = c.transcode_threads.unwrap_or(1);
    if threads > 64 {
        return Err((
            args.transcode_threads.is_some(),
            "transcode-threads",
            format!("{threads} is not in 0..=64"),
        ));
    }
    let opus_complexity = c.opus_complexity.unwrap_or(5);
    if opus_complexity > 10 {
        return Err((
            args.opus_complexity.is_some(),
            "opus-complexity",
            format!("{opus_complexity} is not in 0..=10"),
        ));
    }
    if let Some(bps) = c.opus_bitrate.filter(|b| !(6000..=510_000).contains(b)) {
        return Err((
            args.opus_bitrate.is_some(),
            "opus-bitrate",
            format!("{bps} is not in 6000..=510000"),
        ));
    }
    let jitter_ms = c.jitter_buffer_max.unwrap_or(60);
    if jitter_ms > 500 {
        return Err((
            args.jitter_buffer_max.is_some(),
            "jitter-buffer-max",
            format!("{jitter_ms} ms is more than 500"),
        ));
    }
    let dtmf_log_dest = match c.dtmf_log_dest.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(text) => Some(text.parse::<SocketAddr>().map_err(|_| {
            (
                args.dtmf_log_dest.is_some(),
                "dtmf-log-dest",
                format!("`{text}` is not ADDR:PORT"),
            )
        })?),
    };
    Ok(TranscodeConfig {
        threads,
        opus_complexity,
        opus_bitrate: c.opus_bitrate,
        jitter_buffer_max: Duration::from_millis(jitter_ms),
        dtmf_log_dest,
    })
}

/// The XDP keys; errors carry (set by flag, key, reason).
fn validate_xdp(c: &FileConfig, args: &Args) -> Result<XdpConfig, (bool, &'static str, String)> {
    let interfaces = c.xdp.clone().unwrap_or_default();
    for name in &interfaces {
        if name.is_empty() || name.len() >= libc::IF_NAMESIZE || name.contains(['/', ' ']) {
            return Err((
                !args.xdp.is_empty(),
                "xdp",
                format!("`{name}` is not an interface name"),
            ));
        }
    }
    let mode = match c.xdp_mode.as_deref().unwrap_or("auto") {
        "auto" => XdpMode::Auto,
        "native" | "driver" => XdpMode::Native,
        "generic" | "skb" => XdpMode::Generic,
        other => {
            return Err((
                args.xdp_mode.is_some(),
                "xdp-mode",
                format!("`{other}` is not one of auto, native, generic"),
            ))
        }
    };
    let max_flows = c
        .xdp_max_flows
        .unwrap_or(sluice_ebpf_common::DEFAULT_MAX_FLOWS);
    if !(1..=(1 << 24)).contains(&max_flows) {
        return Err((
            args.xdp_max_flows.is_some(),
            "xdp-max-flows",
            format!("{max_flows} is not in 1..=16777216"),
        ));
    }
    Ok(XdpConfig {
        interfaces,
        mode,
        max_flows,
    })
}

fn parse_interface(text: &str) -> Result<Interface, String> {
    let (name, addr) = match text.split_once('/') {
        Some((name, addr)) if !name.is_empty() => (name.to_string(), addr),
        Some(_) => return Err(format!("`{text}`: empty name before `/`")),
        None => (text.to_string(), text),
    };
    let address: IpAddr = addr
        .parse()
        .map_err(|_| format!("`{addr}` is not an IP address"))?;
    if address.is_unspecified() {
        return Err(format!(
            "`{addr}`: a media interface needs a concrete address, not a wildcard"
        ));
    }
    Ok(Interface { name, address })
}

fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    // rtpengine also accepts a bare port, meaning loopback.
    text.parse::<u16>()
        .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
        .map_err(|_| format!("`{text}` is not ADDR:PORT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("media-core").chain(list.iter().copied())).unwrap()
    }

    #[test]
    fn embedded_default_runs_on_loopback() {
        let c = Config::load(&Args::default()).unwrap();
        assert_eq!(c.listen_ng, "127.0.0.1:2223".parse().unwrap());
        assert_eq!(
            c.interfaces[0].address,
            "127.0.0.1".parse::<IpAddr>().unwrap()
        );
        assert!(c.port_min < c.port_max);
    }

    #[test]
    fn xdp_keys_are_checked_and_named() {
        let c = Config::load(&args(&[
            "--xdp",
            "eth1",
            "--xdp",
            "eth2",
            "--xdp-mode",
            "generic",
        ]))
        .unwrap();
        assert_eq!(c.xdp.interfaces, ["eth1", "eth2"]);
        assert_eq!(c.xdp.mode, XdpMode::Generic);
        assert_eq!(c.xdp.max_flows, sluice_ebpf_common::DEFAULT_MAX_FLOWS);
        assert!(Config::load(&Args::default())
            .unwrap()
            .xdp
            .interfaces
            .is_empty());
        for (flags, key) in [
            (&["--xdp-mode", "turbo"][..], "key `xdp-mode`"),
            (&["--xdp", "a/b"][..], "key `xdp`"),
            (&["--xdp", "a-name-far-too-long-for-linux"][..], "key `xdp`"),
            (&["--xdp-max-flows", "0"][..], "key `xdp-max-flows`"),
        ] {
            let e = Config::load(&args(flags)).unwrap_err().to_string();
            assert!(
                e.contains(key) && e.contains("command line"),
                "{flags:?}: {e}"
            );
        }
    }

    #[test]
    fn flags_override_and_name_interfaces() {
        let c = Config::load(&args(&[
            "--interface",
            "carrier/10.0.0.5",
            "--interface",
            "ai/192.168.1.5",
            "--listen-ng",
            "127.0.0.1:9999",
            "--workers",
            "2",
        ]))
        .unwrap();
        assert_eq!(c.interfaces.len(), 2);
        assert_eq!(c.interfaces[1].name, "ai");
        assert_eq!(c.workers, 2);
        assert_eq!(c.listen_ng.port(), 9999);
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = Config::load(&args(&["--port-min", "40000", "--port-max", "30000"])).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("port-max") && text.contains("command line"),
            "{text}"
        );
        let e = Config::load(&args(&["--interface", "nope"])).unwrap_err();
        assert!(e.to_string().contains("`interface`"), "{e}");
        let e = Config::load(&args(&["--listen-ng", "x:y"])).unwrap_err();
        assert!(e.to_string().contains("listen-ng"), "{e}");
    }

    #[test]
    fn file_errors_name_file_and_key() {
        let dir = std::env::temp_dir().join(format!("mc-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "port-min = \"low\"\n").unwrap();
        let e = Config::load(&args(&["--config", path.to_str().unwrap()])).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("bad.toml") && text.contains("port-min"),
            "{text}"
        );
        std::fs::write(&path, "no-such-key = 1\n").unwrap();
        let e = Config::load(&args(&["--config", path.to_str().unwrap()])).unwrap_err();
        assert!(e.to_string().contains("no-such-key"), "{e}");
        std::fs::write(&path, "srtp-replay-window = 16\n").unwrap();
        let e = Config::load(&args(&["--config", path.to_str().unwrap()])).unwrap_err();
        assert!(e.to_string().contains("key `srtp-replay-window`"), "{e}");
        std::fs::write(&path, "timeout = 0\n").unwrap();
        let e = Config::load(&args(&["--config", path.to_str().unwrap()])).unwrap_err();
        assert!(e.to_string().contains("bad.toml: key `timeout`"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

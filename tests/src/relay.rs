//! The relay under test: sluice's media-core or rtpengine, on loopback
//! ports of the test's own block, stopped by PID when dropped.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use sluice_ng::client::Client;

use crate::ports::PortBlock;
use crate::proc::{Proc, TempDir};
use crate::{ng, peers};

/// Which relay implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayKind {
    /// sluice's own daemon.
    MediaCore,
    /// rtpengine (Debian `rtpengine-daemon`), the reference.
    Rtpengine,
}

impl RelayKind {
    /// `SLUICE_RELAY=rtpengine` selects rtpengine; anything else (or unset)
    /// media-core.
    pub fn from_env() -> Self {
        match std::env::var("SLUICE_RELAY").as_deref() {
            Ok("rtpengine") => Self::Rtpengine,
            Ok("media-core") | Ok("") | Err(_) => Self::MediaCore,
            Ok(other) => panic!("SLUICE_RELAY={other}: expected `media-core` or `rtpengine`"),
        }
    }

    /// Whether this relay can run here; prints a SKIP line (or panics in CI)
    /// when rtpengine is missing. media-core is always built on demand.
    pub fn available(self, test: &str) -> bool {
        match self {
            Self::MediaCore => true,
            Self::Rtpengine => peers::require(test, "rtpengine"),
        }
    }
}

/// Options for starting a relay.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// Address media is relayed on (`--interface`).
    pub interface: Ipv4Addr,
    /// Media ports to reserve from the test's block (`--port-min..=--port-max`).
    pub media_ports: u16,
    /// Idle call timeout (`--timeout`), seconds.
    pub timeout_secs: u32,
    /// Worker threads (`--workers` / rtpengine `--num-threads`).
    pub workers: u32,
    /// media-core only: `--max-sessions`.
    pub max_sessions: Option<u32>,
    /// media-core only: `--config FILE`.
    pub config: Option<PathBuf>,
    /// media-core only: further flags (e.g. `--xdp IFACE`).
    pub extra_args: Vec<String>,
    /// media-core only: a command that runs it (e.g. `setpriv` with its
    /// arguments, to drop privileges).
    pub wrapper: Vec<String>,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            interface: Ipv4Addr::LOCALHOST,
            media_ports: 40,
            timeout_secs: 60,
            workers: 2,
            max_sessions: None,
            config: None,
            extra_args: Vec::new(),
            wrapper: Vec::new(),
        }
    }
}

/// A running relay.
#[derive(Debug)]
pub struct Relay {
    kind: RelayKind,
    ng: SocketAddr,
    port_min: u16,
    port_max: u16,
    // Field order matters: the process stops before its directory goes.
    proc: Proc,
    _dir: TempDir,
}

impl Relay {
    /// Starts the relay chosen by `SLUICE_RELAY` with default options,
    /// taking its ports from `ports`.
    pub fn from_env(ports: &mut PortBlock) -> Self {
        Self::start(RelayKind::from_env(), ports, &RelayOptions::default())
    }

    /// Starts `kind` with `opts`, waits until NG `ping` answers `pong`.
    pub fn start(kind: RelayKind, ports: &mut PortBlock, opts: &RelayOptions) -> Self {
        let ng_port = ports.take(2);
        let (port_min, port_max) = ports.take_range(opts.media_ports);
        let ng = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), ng_port);
        let dir = TempDir::new("relay");
        let cmd = match kind {
            RelayKind::MediaCore => {
                let mut c = match opts.wrapper.split_first() {
                    Some((program, args)) => {
                        let mut c = Command::new(program);
                        c.args(args).arg(media_core_binary());
                        c
                    }
                    None => Command::new(media_core_binary()),
                };
                c.arg("--interface")
                    .arg(opts.interface.to_string())
                    .arg("--listen-ng")
                    .arg(ng.to_string())
                    .arg("--port-min")
                    .arg(port_min.to_string())
                    .arg("--port-max")
                    .arg(port_max.to_string())
                    .arg("--workers")
                    .arg(opts.workers.to_string())
                    .arg("--timeout")
                    .arg(opts.timeout_secs.to_string());
                if let Some(n) = opts.max_sessions {
                    c.arg("--max-sessions").arg(n.to_string());
                }
                if let Some(cfg) = &opts.config {
                    c.arg("--config").arg(cfg);
                }
                c.args(&opts.extra_args);
                c.env("RUST_BACKTRACE", "1");
                c
            }
            RelayKind::Rtpengine => {
                let mut c = Command::new("rtpengine");
                c.args([
                    "--config-file=none",
                    "--foreground",
                    "--log-stderr",
                    "--table=-1",
                    "--delete-delay=0",
                ])
                .arg(format!("--interface={}", opts.interface))
                .arg(format!("--listen-ng={ng}"))
                .arg(format!("--port-min={port_min}"))
                .arg(format!("--port-max={port_max}"))
                .arg(format!("--num-threads={}", opts.workers))
                .arg(format!("--timeout={}", opts.timeout_secs));
                c
            }
        };
        let name = match kind {
            RelayKind::MediaCore => "media-core",
            RelayKind::Rtpengine => "rtpengine",
        };
        let proc = Proc::spawn(name, cmd, dir.join("relay.log"));
        let mut relay = Self {
            kind,
            ng,
            port_min,
            port_max,
            proc,
            _dir: dir,
        };
        relay.wait_ready(Duration::from_secs(20));
        relay
    }

    fn wait_ready(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut client = Client::new(self.ng).expect("binding an NG client socket on loopback");
        client.retransmit_after = Duration::from_millis(200);
        client.tries = 1;
        loop {
            if let Some(status) = self.proc.try_status() {
                panic!(
                    "{} exited during start-up ({status}); log:\n{}",
                    self.proc.name(),
                    self.proc.log_tail(60)
                );
            }
            if ng::ping(&mut client) {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{} did not answer NG ping on {} within {limit:?}; log:\n{}",
                    self.proc.name(),
                    self.ng,
                    self.proc.log_tail(60)
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Which implementation this is.
    pub fn kind(&self) -> RelayKind {
        self.kind
    }

    /// The NG control address.
    pub fn ng_addr(&self) -> SocketAddr {
        self.ng
    }

    /// The media port range handed to the relay.
    pub fn media_ports(&self) -> (u16, u16) {
        (self.port_min, self.port_max)
    }

    /// A fresh NG client for this relay (1 s retransmit, 3 tries).
    pub fn client(&self) -> Client {
        Client::new(self.ng).expect("binding an NG client socket on loopback")
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.proc.try_status().is_none()
    }

    /// Panics (with the relay's log) unless the process is still running.
    pub fn assert_running(&mut self, context: &str) {
        if let Some(status) = self.proc.try_status() {
            panic!(
                "{context}: {} died ({status}); log:\n{}",
                self.proc.name(),
                self.proc.log_tail(60)
            );
        }
    }

    /// The relay's log so far.
    pub fn log_tail(&self, lines: usize) -> String {
        self.proc.log_tail(lines)
    }

    /// Sends `signal` and waits up to `grace` for the process to exit
    /// (killing it after that); returns how it exited.
    pub fn stop_with(&mut self, signal: &str, grace: Duration) -> Option<std::process::ExitStatus> {
        self.proc.stop_with(signal, grace)
    }
}

/// Path of the media-core binary for this test run: `SLUICE_MEDIA_CORE` if
/// set, else built once per process (see [`workspace_binary`]).
pub fn media_core_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_binary("media-core", "SLUICE_MEDIA_CORE"))
        .clone()
}

/// A binary of the workspace package of the same name: `env_override` if
/// set, else built with cargo in the same profile as the running test
/// binary and found next to it in the target directory.
///
/// media-core and sip-control are always built together, so that one
/// feature resolution serves both and neither build undoes the other's.
pub fn workspace_binary(package: &str, env_override: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env_override) {
        return PathBuf::from(p);
    }
    // The test binary lives in <target>/<profile>/deps/<name>-<hash>.
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary sits in <target>/<profile>/deps")
        .to_path_buf();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let target_dir = profile_dir
        .parent()
        .expect("profile dir has a parent target dir")
        .to_path_buf();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .args(["build", "--quiet", "-p", "media-core", "-p", "sip-control"])
        .args(["--bin", "media-core", "--bin", "sip-control"])
        .env("CARGO_TARGET_DIR", &target_dir);
    // What cargo sets for the running test, which `cargo test` itself ran
    // without. Build scripts watch some of these (ring: CARGO_PKG_NAME,
    // CARGO_MANIFEST_DIR, OUT_DIR, ...): inherited, they would rebuild
    // ring, rustls and everything above here, and the next `cargo test`
    // would rebuild them back.
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if key == "OUT_DIR"
            || key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || key.starts_with("CARGO_BIN_")
            || matches!(
                key,
                "CARGO_CRATE_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
            )
        {
            cmd.env_remove(key);
        }
    }
    if release {
        cmd.arg("--release");
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("running cargo to build {package}: {e}"));
    assert!(
        status.success(),
        "cargo build -p {package} failed ({status})"
    );
    let bin = profile_dir.join(package);
    assert!(
        bin.is_file(),
        "{package} not found at {} after building",
        bin.display()
    );
    bin
}

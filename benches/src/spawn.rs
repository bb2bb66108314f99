//! Starting a relay on loopback (or the netns relay address), waiting for
//! its `pong`, and stopping it again by pid.

use std::fs::File;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use sluice_ng::client::Client;

use crate::{ng, sys};

/// Which relay to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayKind {
    /// Our own relay (io_uring userspace path).
    MediaCore,
    /// Our own relay with the XDP fast path on the topology's root veth
    /// ends (`--xdp IF --xdp IF --xdp-mode MODE`).
    MediaCoreXdp,
    /// The reference.
    Rtpengine,
}

impl RelayKind {
    /// Name used in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::MediaCore => "media-core",
            Self::MediaCoreXdp => "media-core-xdp",
            Self::Rtpengine => "rtpengine",
        }
    }
}

/// How to start one relay.
#[derive(Debug, Clone)]
pub struct RelaySpec {
    /// Which relay.
    pub kind: RelayKind,
    /// Its binary.
    pub bin: PathBuf,
    /// NG listen address.
    pub ng: SocketAddr,
    /// Media port range.
    pub port_min: u16,
    /// Media port range.
    pub port_max: u16,
    /// Worker / relay threads.
    pub threads: usize,
    /// Media interface address.
    pub interface: String,
    /// Optional `taskset -c` CPU list.
    pub cpus: Option<String>,
    /// Interfaces for the XDP fast path (media-core only; empty: off).
    pub xdp_interfaces: Vec<String>,
    /// `--xdp-mode` for those interfaces.
    pub xdp_mode: String,
    /// More arguments for the relay (e.g. media-core `--opus-complexity 10`).
    pub extra_args: Vec<String>,
    /// Its name in reports when not the kind's (a variant, e.g. `media-core c10`).
    pub label: Option<String>,
}

impl RelaySpec {
    /// Its name in reports.
    pub fn name(&self) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| self.kind.name().into())
    }

    /// The relay's command line, as argv.
    pub fn argv(&self) -> Vec<String> {
        let mut argv = Vec::new();
        if let Some(cpus) = &self.cpus {
            argv.extend(["taskset".into(), "-c".into(), cpus.clone()]);
        }
        argv.push(self.bin.display().to_string());
        match self.kind {
            RelayKind::Rtpengine => {
                let cli = SocketAddr::new(self.ng.ip(), self.ng.port().wrapping_add(1));
                argv.extend([
                    "--config-file=none".into(),
                    "--foreground".into(),
                    "--log-stderr".into(),
                    "--table=-1".into(),
                    format!("--interface={}", self.interface),
                    format!("--listen-ng={}", self.ng),
                    format!("--listen-cli={cli}"),
                    format!("--port-min={}", self.port_min),
                    format!("--port-max={}", self.port_max),
                    format!("--num-threads={}", self.threads),
                    "--timeout=60".into(),
                    "--delete-delay=0".into(),
                ]);
            }
            RelayKind::MediaCore | RelayKind::MediaCoreXdp => {
                argv.extend([
                    "--interface".into(),
                    self.interface.clone(),
                    "--listen-ng".into(),
                    self.ng.to_string(),
                    "--port-min".into(),
                    self.port_min.to_string(),
                    "--port-max".into(),
                    self.port_max.to_string(),
                    "--workers".into(),
                    self.threads.to_string(),
                    "--timeout".into(),
                    "60".into(),
                ]);
                if self.kind == RelayKind::MediaCoreXdp {
                    for interface in &self.xdp_interfaces {
                        argv.extend(["--xdp".into(), interface.clone()]);
                    }
                    argv.extend(["--xdp-mode".into(), self.xdp_mode.clone()]);
                }
            }
        }
        argv.extend(self.extra_args.iter().cloned());
        argv
    }
}

/// A running relay; terminated (SIGTERM, then SIGKILL) on drop.
#[derive(Debug)]
pub struct Spawned {
    child: Child,
    /// Its process id.
    pub pid: u32,
    /// Where its stderr goes.
    pub log: PathBuf,
    /// The command line it was started with.
    pub command: String,
}

impl Spawned {
    /// Starts the relay and waits (bounded) until it answers `ping`.
    pub fn start(spec: &RelaySpec, stop: &AtomicBool) -> Result<Self> {
        let argv = spec.argv();
        let log = std::env::temp_dir().join(format!(
            "loadgen-{}-{}.log",
            spec.kind.name(),
            std::process::id()
        ));
        let log_file = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", argv[0]))?;
        let mut me = Self {
            pid: child.id(),
            child,
            log,
            command: argv.join(" "),
        };
        let mut client = Client::new(spec.ng)?;
        client.retransmit_after = Duration::from_millis(200);
        client.tries = 1;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = me.child.try_wait()? {
                bail!(
                    "{} exited with {status} before answering ping; see {}",
                    spec.kind.name(),
                    me.log.display()
                );
            }
            if ng::ping(&mut client) {
                return Ok(me);
            }
            if Instant::now() >= deadline || stop.load(Ordering::Relaxed) {
                bail!(
                    "{} did not answer ping on {} within 15 s; see {}",
                    spec.kind.name(),
                    spec.ng,
                    me.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = sys::terminate(self.pid);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: RelayKind) -> RelaySpec {
        RelaySpec {
            kind,
            bin: "media-core".into(),
            ng: "127.0.0.1:11300".parse().expect("literal"),
            port_min: 12000,
            port_max: 19999,
            threads: 1,
            interface: "10.0.0.1".into(),
            cpus: Some("1".into()),
            xdp_interfaces: vec!["sb1a0".into(), "sb1b0".into()],
            xdp_mode: "native".into(),
            extra_args: Vec::new(),
            label: None,
        }
    }

    #[test]
    fn xdp_variant_adds_interfaces_and_mode() {
        let argv = spec(RelayKind::MediaCoreXdp).argv().join(" ");
        assert!(argv.starts_with("taskset -c 1 media-core --interface 10.0.0.1 "));
        assert!(argv.ends_with(" --xdp sb1a0 --xdp sb1b0 --xdp-mode native"));
        let plain = spec(RelayKind::MediaCore).argv().join(" ");
        assert!(!plain.contains("--xdp"));
    }
}

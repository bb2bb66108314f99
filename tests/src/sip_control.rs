//! sip-control under test: a config written for the test's own ports, the
//! process started from the workspace build, its metrics and CDR lines read.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::peers;
use crate::ports::{udp_port_bound, PortBlock};
use crate::proc::{Proc, TempDir};
use crate::relay::{workspace_binary, Relay, RelayKind, RelayOptions};
use crate::sipp::Sipp;

/// What a test's sip-control config contains.
#[derive(Debug, Clone)]
pub struct ControlConfig {
    /// SIP port on 127.0.0.1 (UDP and TCP).
    pub sip_port: u16,
    /// Metrics port on 127.0.0.1.
    pub metrics_port: u16,
    /// The trunk's allowlist (CIDRs).
    pub allow: Vec<String>,
    /// Inbound digest credentials (user, password), if any.
    pub auth: Option<(String, String)>,
    /// The digest `algorithms` of `[trunk.auth]` (empty: sip-control's
    /// default, SHA-256 then MD5). SIPp answers MD5 only: `["MD5"]`.
    pub auth_algorithms: Vec<String>,
    /// The platform's targets in order.
    pub targets: Vec<String>,
    /// Human queues of the DID.
    pub queues: Vec<String>,
    /// NG nodes.
    pub nodes: Vec<SocketAddr>,
    /// The DID (E.164).
    pub did: String,
    /// Codecs the platform takes (empty: whatever the carrier offers).
    pub platform_codecs: Vec<String>,
    /// Extra lines for the `[sip]` table (`target-timeout = "1s"`).
    pub sip_extra: Vec<String>,
    /// Extra lines for the `[[platform]]` table (`probe-interval = "0s"`).
    pub platform_extra: Vec<String>,
    /// Extra lines for the `[[trunk]]` table (`refer-pass-through = true`).
    pub trunk_extra: Vec<String>,
    /// Extra lines for the `[[did]]` table (`transfer = "refer"`).
    pub did_extra: Vec<String>,
    /// Extra lines for the `[security]` table.
    pub security_extra: Vec<String>,
    /// A TLS listener: port, certificate and key (PEM files).
    pub tls: Option<(u16, PathBuf, PathBuf)>,
    /// Outbound registration of the trunk: (registrar URI, AOR, username,
    /// password), rendered as `[trunk.register]`.
    pub register: Option<(String, String, String, String)>,
}

impl ControlConfig {
    /// A config for one trunk allowlisting 127.0.0.0/8, one DID.
    pub fn new(
        sip_port: u16,
        metrics_port: u16,
        targets: Vec<String>,
        nodes: Vec<SocketAddr>,
    ) -> Self {
        ControlConfig {
            sip_port,
            metrics_port,
            allow: vec!["127.0.0.0/8".to_owned()],
            auth: None,
            auth_algorithms: Vec::new(),
            targets,
            queues: Vec::new(),
            nodes,
            did: "+15551230001".to_owned(),
            platform_codecs: Vec::new(),
            sip_extra: Vec::new(),
            platform_extra: Vec::new(),
            trunk_extra: Vec::new(),
            did_extra: Vec::new(),
            security_extra: Vec::new(),
            tls: None,
            register: None,
        }
    }

    /// The TOML text; `cdr` is the CDR file.
    pub fn render(&self, cdr: &std::path::Path) -> String {
        let list = |items: &[String]| {
            items
                .iter()
                .map(|i| format!("{i:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut text = format!(
            "[sip]\nlisten = [\n  {{ transport = \"udp\", address = \"127.0.0.1:{port}\" }},\n  {{ transport = \"tcp\", address = \"127.0.0.1:{port}\" }},\n",
            port = self.sip_port
        );
        if let Some((port, cert, key)) = &self.tls {
            text.push_str(&format!(
                "  {{ transport = \"tls\", address = \"127.0.0.1:{port}\", certificate = {:?}, private-key = {:?} }},\n",
                cert.display().to_string(),
                key.display().to_string()
            ));
        }
        text.push_str("]\n");
        for line in &self.sip_extra {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&format!(
            "\n[[trunk]]\nname = \"carrier\"\nallow = [{}]\n",
            list(&self.allow)
        ));
        for line in &self.trunk_extra {
            text.push_str(line);
            text.push('\n');
        }
        if let Some((user, password)) = &self.auth {
            text.push_str(&format!(
                "[trunk.auth]\nrealm = \"sluice\"\nusername = {user:?}\npassword = {password:?}\n"
            ));
            if !self.auth_algorithms.is_empty() {
                text.push_str(&format!("algorithms = [{}]\n", list(&self.auth_algorithms)));
            }
        }
        if let Some((registrar, aor, user, password)) = &self.register {
            text.push_str(&format!(
                "[trunk.register]\nregistrar = {registrar:?}\naor = {aor:?}\nusername = {user:?}\npassword = {password:?}\n"
            ));
        }
        text.push_str(&format!(
            "\n[[platform]]\nname = \"ai\"\ntargets = [{}]\ncodecs = [{}]\n",
            list(&self.targets),
            list(&self.platform_codecs)
        ));
        for line in &self.platform_extra {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&format!(
            "\n[[did]]\nnumber = {:?}\nplatform = \"ai\"\nqueues = [{}]\n",
            self.did,
            list(&self.queues)
        ));
        for line in &self.did_extra {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str("\n[media]\nnodes = [\n");
        for (i, node) in self.nodes.iter().enumerate() {
            text.push_str(&format!(
                "  {{ name = \"node{i}\", address = \"{node}\" }},\n"
            ));
        }
        text.push_str("]\nping-interval = \"500ms\"\n\n[security]\n");
        for line in &self.security_extra {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&format!(
            "\n[observability]\nmetrics = \"127.0.0.1:{}\"\ncdr = {:?}\n",
            self.metrics_port,
            cdr.display().to_string()
        ));
        text
    }
}

/// A running sip-control.
#[derive(Debug)]
pub struct SipControl {
    proc: Proc,
    sip_port: u16,
    metrics: SocketAddr,
    config_path: PathBuf,
    cdr: PathBuf,
}

impl SipControl {
    /// Fails the test unless every call of `party`'s SIPp run succeeded,
    /// showing SIPp's diagnostics and the end of this sip-control's log.
    #[track_caller]
    pub fn assert_all_ok(&self, run: &crate::sipp::SippRun, party: &str) {
        assert!(
            run.all_ok(),
            "{party}:\n{}\n{}",
            run.diagnostics(),
            self.log_tail(40)
        );
    }

    /// Writes the config into `dir`, starts sip-control and waits until
    /// its SIP port is bound.
    pub fn start(dir: &TempDir, config: &ControlConfig) -> Self {
        let cdr = dir.join(&format!("cdr-{}.jsonl", config.sip_port));
        let config_path = dir.write(
            &format!("sip-control-{}.toml", config.sip_port),
            config.render(&cdr),
        );
        let mut cmd = Command::new(workspace_binary("sip-control", "SLUICE_SIP_CONTROL"));
        cmd.arg("--config")
            .arg(&config_path)
            .args(["--shutdown-grace", "2s"])
            .env("SLUICE_LOG", "info,rsipstack=warn");
        let mut proc = Proc::spawn(
            "sip-control",
            cmd,
            dir.join(&format!("sip-control-{}.log", config.sip_port)),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while !udp_port_bound(config.sip_port) {
            if let Some(status) = proc.try_status() {
                panic!(
                    "sip-control exited at start-up ({status}):\n{}",
                    proc.log_tail(40)
                );
            }
            assert!(
                Instant::now() < deadline,
                "sip-control did not listen within 20 s"
            );
            thread::sleep(Duration::from_millis(20));
        }
        SipControl {
            proc,
            sip_port: config.sip_port,
            metrics: SocketAddr::from(([127, 0, 0, 1], config.metrics_port)),
            config_path,
            cdr,
        }
    }

    /// The SIP port (UDP and TCP on 127.0.0.1).
    pub fn sip_port(&self) -> u16 {
        self.sip_port
    }

    /// The config file (rewrite it and call [`SipControl::reload`]).
    pub fn config_path(&self) -> &std::path::Path {
        &self.config_path
    }

    /// Sends SIGHUP.
    pub fn reload(&mut self) {
        self.proc.signal("HUP");
    }

    /// Sends a signal (`TERM`, `INT`) without waiting.
    pub fn signal(&mut self, signal: &str) {
        self.proc.signal(signal);
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        self.proc.wait_timeout(timeout)
    }

    /// The `/metrics` text.
    pub fn metrics_text(&self) -> String {
        let Ok(mut stream) = TcpStream::connect_timeout(&self.metrics, Duration::from_secs(2))
        else {
            return String::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        text
    }

    /// Sum of the samples of a metric whose line starts with `prefix`
    /// (name plus, optionally, the start of its label set).
    pub fn metric(&self, prefix: &str) -> f64 {
        self.metrics_text()
            .lines()
            .filter(|l| !l.starts_with('#') && l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Sum of the samples of metric `name` whose label set contains every
    /// one of `labels` (`cause="carrier-cancel"`), in any order.
    pub fn metric_with(&self, name: &str, labels: &[&str]) -> f64 {
        self.metrics_text()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
            })
            .filter(|l| labels.iter().all(|label| l.contains(label)))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// CDR lines written so far, parsed.
    pub fn cdrs(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.cdr)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits until `n` CDR lines exist (or `timeout` passes); returns them.
    pub fn wait_cdrs(&self, n: usize, timeout: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let cdrs = self.cdrs();
            if cdrs.len() >= n || Instant::now() >= deadline {
                return cdrs;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        self.proc.try_status().is_none()
    }

    /// The log tail.
    pub fn log_tail(&self, lines: usize) -> String {
        self.proc.log_tail(lines)
    }

    /// SIGTERM and wait up to `grace`.
    pub fn stop(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        self.proc.stop_with("TERM", grace)
    }
}

/// sip-control on the ports of a block of the test's own, with a relay
/// (media-core or rtpengine) as its media node or none at all, and the
/// SIPp peers around it.
///
/// ```no_run
/// # use sluice_tests::sip_control::{ControlBed, target_uris};
/// # use sluice_tests::RelayKind;
/// let mut target = 0;
/// let Some(mut bed) = ControlBed::start(
///     "my_test",
///     Some(RelayKind::MediaCore),
///     &["sipp"],
///     |ports| {
///         let (list, uris) = target_uris(ports, 1);
///         target = list[0];
///         uris
///     },
///     |config| config.sip_extra.push("target-timeout = \"1s\"".to_owned()),
/// ) else {
///     return; // a peer is missing (SKIP printed)
/// };
/// ```
#[derive(Debug)]
pub struct ControlBed {
    /// Config, logs, SIPp runs.
    pub dir: TempDir,
    /// The rest of the test's port block.
    pub ports: PortBlock,
    // Field order: sip-control stops before the relay.
    /// sip-control.
    pub control: SipControl,
    relay: Option<Relay>,
}

impl ControlBed {
    /// Checks `tools` (a SKIP line, or a panic where peers are required,
    /// when one is missing: `None`), starts `relay` (none: the config names
    /// an NG port where nothing listens, fine for tests whose requests
    /// never become calls), then sip-control with the targets `targets`
    /// builds from the bed's ports and whatever `tweak` changes.
    pub fn start(
        test: &str,
        relay: Option<RelayKind>,
        tools: &[&str],
        targets: impl FnOnce(&mut PortBlock) -> Vec<String>,
        tweak: impl FnOnce(&mut ControlConfig),
    ) -> Option<ControlBed> {
        if relay.is_some_and(|kind| !kind.available(test)) || !peers::require_all(test, tools) {
            return None;
        }
        let dir = TempDir::new(test);
        let mut ports = PortBlock::new();
        let relay = relay.map(|kind| Relay::start(kind, &mut ports, &RelayOptions::default()));
        let node = match &relay {
            Some(relay) => relay.ng_addr(),
            None => SocketAddr::new(LOCALHOST, ports.take(2)),
        };
        let sip_port = ports.take(2);
        let metrics_port = ports.take(2);
        let targets = targets(&mut ports);
        let mut config = ControlConfig::new(sip_port, metrics_port, targets, vec![node]);
        tweak(&mut config);
        let control = SipControl::start(&dir, &config);
        Some(ControlBed {
            dir,
            ports,
            control,
            relay,
        })
    }

    /// A bed with one platform target on a port of the bed's, the
    /// platform's probes off and `target-timeout = "1s"` (SIPp UASes count
    /// probes as calls), and whatever `tweak` changes; gives the target's
    /// SIP port too.
    pub fn one_target(
        test: &str,
        relay: Option<RelayKind>,
        tools: &[&str],
        tweak: impl FnOnce(&mut ControlConfig),
    ) -> Option<(ControlBed, u16)> {
        let mut target = 0;
        let bed = ControlBed::start(
            test,
            relay,
            tools,
            |ports| {
                let (list, uris) = target_uris(ports, 1);
                target = list[0];
                uris
            },
            |config| {
                config.sip_extra.push("target-timeout = \"1s\"".to_owned());
                config
                    .platform_extra
                    .push("probe-interval = \"0s\"".to_owned());
                tweak(config);
            },
        )?;
        Some((bed, target))
    }

    /// sip-control's SIP address (UDP and TCP).
    pub fn sip(&self) -> SocketAddr {
        SocketAddr::new(LOCALHOST, self.control.sip_port())
    }

    /// The relay, if the bed has one.
    pub fn relay(&mut self) -> Option<&mut Relay> {
        self.relay.as_mut()
    }

    /// A UAC running `scenario` toward sip-control from `source` (a SIP
    /// port and four media ports of the bed's), dialling `number`, one
    /// call, SIPp's `-timeout` 30 s; returns it with its media port.
    pub fn uac_from(&mut self, scenario: &str, source: IpAddr, number: &str) -> (Sipp, u16) {
        let sip = self.ports.take(2);
        let media = self.ports.take(4);
        let uac = Sipp::uac(scenario, self.sip(), SocketAddr::new(source, sip), media)
            .service(number)
            .calls(1)
            .timeout(Duration::from_secs(30));
        (uac, media)
    }

    /// A UAS running `scenario` on `port` of 127.0.0.1 (four media ports
    /// of the bed's), not started.
    pub fn uas(&mut self, scenario: &str, port: u16) -> Sipp {
        let media = self.ports.take(4);
        Sipp::uas(scenario, SocketAddr::new(LOCALHOST, port), media)
    }
}

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// `n` platform targets `sip:agent@127.0.0.1:PORT` on ports taken from
/// `ports` in order: the ports and the URIs.
pub fn target_uris(ports: &mut PortBlock, n: usize) -> (Vec<u16>, Vec<String>) {
    let list: Vec<u16> = (0..n).map(|_| ports.take(2)).collect();
    let uris = list
        .iter()
        .map(|p| format!("sip:agent@127.0.0.1:{p}"))
        .collect();
    (list, uris)
}

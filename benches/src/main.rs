//! loadgen: per-packet latency, loss and relay CPU through any NG-speaking
//! relay, side by side for media-core and rtpengine.
//!
//! ```text
//! cargo run --release -p sluice-bench --bin loadgen -- --spawn both --calls 100,1000 --duration 10s --json out.json --plot out.svg
//! cargo run --release -p sluice-bench --bin loadgen -- --relay ng=127.0.0.1:2223 --relay-pid 1234 --calls 500
//! cargo run --release -p sluice-bench --bin loadgen -- --spawn rtpengine --calls 2000 --find-ceiling pps
//! cargo run --release -p sluice-bench --bin loadgen -- --spawn both --srtp --calls 100,1000 --duration 5s
//! cargo run --release -p sluice-bench --bin loadgen -- --spawn all --netns --direct --calls 100,500 --json xdp.json --plot xdp.svg
//! cargo run --release -p sluice-bench --bin loadgen -- --spawn both --transcode --opus-complexity 5,10 --threads 1 --loadgen-cpus 0 --relay-cpus 1 --calls 50,100,200
//! ```
#![deny(unsafe_code)]

mod cpu;
mod host;
mod netns;
mod ng;
mod pacing;
mod plot;
mod report;
mod rtp;
mod run;
mod spawn;
mod srtp;
mod stats;
mod sys;
mod traffic;
mod transcode;
mod udp;
mod xdp;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use sluice_srtp::Suite;

use crate::report::{Ceiling, PointResult, Report};
use crate::run::{Legs, Load, Target};
use crate::spawn::{RelayKind, RelaySpec, Spawned};
use crate::srtp::SrtpMode;

/// Which relays `--spawn` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SpawnWhich {
    /// Only media-core.
    MediaCore,
    /// Only media-core with the XDP fast path on the veth root ends (needs --netns).
    MediaCoreXdp,
    /// Only rtpengine.
    Rtpengine,
    /// media-core and rtpengine, in turns (media-core first).
    Both,
    /// media-core-xdp, media-core and rtpengine, in turns, over the same
    /// links (needs --netns).
    All,
}

/// `media-core --xdp-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum XdpModeArg {
    /// Driver mode (veth supports it).
    Native,
    /// SKB mode.
    Generic,
    /// Native, else generic.
    Auto,
}

impl XdpModeArg {
    fn as_str(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::Generic => "generic",
            Self::Auto => "auto",
        }
    }
}

/// Where receive times come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RxClockArg {
    /// Kernel SO_TIMESTAMPNS.
    Kernel,
    /// CLOCK_MONOTONIC in the receiver thread.
    User,
}

/// What `--find-ceiling` raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CeilingVar {
    /// Per-stream packets per second at the first `--calls`.
    Pps,
    /// Calls at `--pps`.
    Calls,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("bad duration {s:?} (use e.g. 10s, 500ms, 200us)"))?;
    if !(0.0..=3600.0 * 24.0).contains(&(v * scale)) {
        return Err(format!("duration {s:?} out of range"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

fn parse_ng(s: &str) -> Result<SocketAddr, String> {
    let addr = s.strip_prefix("ng=").unwrap_or(s);
    addr.parse()
        .map_err(|_| format!("bad relay address {s:?} (use ng=127.0.0.1:2223)"))
}

fn parse_range(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("bad port range {s:?} (use MIN-MAX)"))?;
    let a: u16 = a.parse().map_err(|_| format!("bad port {a:?}"))?;
    let b: u16 = b.parse().map_err(|_| format!("bad port {b:?}"))?;
    if a >= b {
        return Err(format!("empty port range {s:?}"));
    }
    Ok((a, b))
}

/// A list of CPU numbers.
#[derive(Debug, Clone)]
struct CpuList(Vec<usize>);

fn parse_cpus(s: &str) -> Result<CpuList, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let bad = || format!("bad CPU list {s:?} (use e.g. 0 or 0-1,3)");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b || b >= 1024 {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    Ok(CpuList(out))
}

fn parse_suite(s: &str) -> Result<Suite, String> {
    s.parse().map_err(|_| {
        let names: Vec<&str> = Suite::ALL.iter().map(|s| s.name()).collect();
        format!("unknown SRTP suite {s:?} (one of {})", names.join(", "))
    })
}

fn parse_subnet(s: &str) -> Result<[u8; 3], String> {
    let parts: Vec<u8> = s
        .trim_end_matches(".0/24")
        .split('.')
        .map(|p| p.parse::<u8>().map_err(|_| format!("bad subnet {s:?}")))
        .collect::<Result<_, _>>()?;
    <[u8; 3]>::try_from(parts)
        .map_err(|_| format!("subnet {s:?}: give three octets, e.g. 10.213.77"))
}

/// Load generator for NG media relays: sets up calls, sends paced RTP
/// both ways, and measures one-way latency, loss and relay CPU per packet.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version)]
struct Args {
    /// An already running relay: `ng=ADDR:PORT`.
    #[arg(long, value_parser = parse_ng, conflicts_with = "spawn")]
    relay: Option<SocketAddr>,
    /// Name of the external relay in the report.
    #[arg(long, default_value = "relay")]
    relay_name: String,
    /// Pid of the external relay, for CPU accounting.
    #[arg(long)]
    relay_pid: Option<u32>,
    /// Start the relay(s) here, on loopback (or the netns address).
    #[arg(long, value_enum)]
    spawn: Option<SpawnWhich>,
    /// How the spawned media-core-xdp attaches its XDP program.
    #[arg(long, value_enum, default_value = "native")]
    xdp_mode: XdpModeArg,
    /// Also run a baseline without a relay, first at each load: each leg
    /// sends straight to the other (with --netns through the root
    /// namespace's kernel IP forwarding), for added latency and CPU.
    #[arg(long)]
    direct: bool,
    /// Turn `kernel.bpf_stats_enabled` on for the run (restored at the end)
    /// and report the XDP program's own run time per packet (the kernel
    /// then reads the clock twice per program run: a small cost of its own).
    #[arg(long)]
    bpf_stats: bool,
    /// Run a point again (up to this many times) when its window was
    /// noisy: other processes used the CPU or started during it.
    #[arg(long, default_value_t = 0)]
    retry_noisy: usize,
    /// Calls per point; repeat or give a list to sweep (100,1000,2000).
    #[arg(long, value_delimiter = ',', default_value = "100")]
    calls: Vec<usize>,
    /// Packets per second per stream (each call has two streams).
    #[arg(long, default_value_t = 50.0)]
    pps: f64,
    /// Measuring window per point.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    duration: Duration,
    /// Traffic before the window (not counted).
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    warmup: Duration,
    /// Receive time after the window before counting loss.
    #[arg(long, value_parser = parse_duration, default_value = "500ms")]
    drain: Duration,
    /// Write every result as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Draw p50/p99/p99.9 latency vs calls per relay as SVG here.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Raise the load stepwise until loss > 0; report the highest zero-loss pkt/s.
    #[arg(long, value_enum)]
    find_ceiling: Option<CeilingVar>,
    /// Multiply the varied quantity by this per ceiling step.
    #[arg(long, default_value_t = 1.25)]
    ceiling_factor: f64,
    /// Loss (%) a ceiling step may show and still count as lossless.
    #[arg(long, default_value_t = 0.0)]
    loss_tolerance: f64,
    /// At most this many ceiling steps.
    #[arg(long, default_value_t = 10)]
    ceiling_steps: usize,
    /// Put callers and callees in their own network namespaces (veth to the relay).
    #[arg(long)]
    netns: bool,
    /// The private /24 for --netns (first three octets).
    #[arg(long, value_parser = parse_subnet, default_value = "10.213.77")]
    netns_subnet: [u8; 3],
    /// Worker threads of spawned relays (media-core --workers, rtpengine --num-threads).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Pin spawned relays with `taskset -c LIST`.
    #[arg(long)]
    relay_cpus: Option<String>,
    /// Pin this tool (all its threads) to these CPUs, e.g. `0` (with
    /// `--relay-cpus 1` the two never share a core).
    #[arg(long, value_parser = parse_cpus)]
    loadgen_cpus: Option<CpuList>,
    /// Sender threads of this tool.
    #[arg(long, default_value_t = 1)]
    tx_threads: usize,
    /// Receiver threads of this tool.
    #[arg(long, default_value_t = 1)]
    rx_threads: usize,
    /// Sender wake-up granularity (packets due within a tick go together).
    #[arg(long, value_parser = parse_duration, default_value = "200us")]
    tick: Duration,
    /// Receive timestamps: `kernel` (SO_TIMESTAMPNS; the receiver may then
    /// poll lazily, see --rx-poll) or `user` (clock read per recvmmsg batch).
    #[arg(long, value_enum, default_value = "kernel")]
    rx_clock: RxClockArg,
    /// With --rx-clock kernel: pause between receive passes (batches
    /// receives, costs no latency accuracy).
    #[arg(long, value_parser = parse_duration, default_value = "1ms")]
    rx_poll: Duration,
    /// media-core binary for --spawn.
    #[arg(long, default_value = "target/release/media-core")]
    media_core_bin: PathBuf,
    /// rtpengine binary for --spawn.
    #[arg(long, default_value = "rtpengine")]
    rtpengine_bin: PathBuf,
    /// NG address of a spawned media-core.
    #[arg(long, value_parser = parse_ng, default_value = "127.0.0.1:11300")]
    media_core_ng: SocketAddr,
    /// NG address of a spawned rtpengine (its CLI takes the next port).
    #[arg(long, value_parser = parse_ng, default_value = "127.0.0.1:11310")]
    rtpengine_ng: SocketAddr,
    /// Media ports of a spawned media-core (below the kernel's ephemeral
    /// range, where loadgen's own sockets would take ports from it).
    #[arg(long, value_parser = parse_range, default_value = "12000-19999")]
    media_core_ports: (u16, u16),
    /// Media ports of a spawned rtpengine.
    #[arg(long, value_parser = parse_range, default_value = "20000-27999")]
    rtpengine_ports: (u16, u16),
    /// SRTP (SDES) on both legs: the relay decrypts the caller's
    /// `--srtp-offer` suite and key and re-encrypts to the callee's
    /// `--srtp-answer` suite and its own key, both ways.
    #[arg(long)]
    srtp: bool,
    /// With --srtp: the caller's single offered suite.
    #[arg(long, value_parser = parse_suite, default_value = "AES_CM_128_HMAC_SHA1_32", requires = "srtp")]
    srtp_offer: Suite,
    /// With --srtp: the suite the callee picks among the relay's own lines.
    #[arg(long, value_parser = parse_suite, default_value = "AES_CM_128_HMAC_SHA1_80", requires = "srtp")]
    srtp_answer: Suite,
    /// Full-duplex transcoding: callers send PCMU, offered with NG `codec:
    /// {transcode: [opus]}`; callees answer Opus only and send Opus. Latency
    /// per direction from the RTP timestamps (see the `transcode` module).
    #[arg(long, conflicts_with_all = ["srtp", "direct"])]
    transcode: bool,
    /// With --transcode: run media-core once per value with
    /// `--opus-complexity N` (reported as `media-core cN`); empty: its default.
    #[arg(long, value_delimiter = ',', requires = "transcode")]
    opus_complexity: Vec<u8>,
    /// With --transcode: media-core `--transcode-threads N`.
    #[arg(long, requires = "transcode")]
    transcode_threads: Option<usize>,
    /// With --transcode: an `a=fmtp` value for the callees' Opus answer
    /// (e.g. `stereo=0;sprop-stereo=0;maxplaybackrate=8000`); none by default.
    #[arg(long, requires = "transcode")]
    opus_fmtp: Option<String>,
}

impl Args {
    fn load(&self, calls: usize, pps: f64) -> Load {
        Load {
            calls,
            pps,
            duration: self.duration,
            warmup: self.warmup,
            drain: self.drain,
            tx_threads: self.tx_threads.max(1),
            rx_threads: self.rx_threads.max(1),
            tick: self.tick,
            kernel_rx_poll: (self.rx_clock == RxClockArg::Kernel).then_some(self.rx_poll),
            srtp: self.srtp.then_some(SrtpMode {
                offer: self.srtp_offer,
                answer: self.srtp_answer,
            }),
            // The payload type is the relay's choice, learned at set-up.
            transcode: self.transcode.then_some(96),
        }
    }

    /// The report's mode label.
    fn mode_label(&self) -> String {
        self.load(0, self.pps).mode_label()
    }

    fn check(&self) -> Result<()> {
        if self.relay.is_none() && self.spawn.is_none() {
            bail!("give --relay ng=ADDR or --spawn media-core|media-core-xdp|rtpengine|both|all");
        }
        if self.kinds().contains(&RelayKind::MediaCoreXdp) && !self.netns {
            bail!("media-core-xdp attaches XDP to the veth links of --netns: add --netns");
        }
        if self.bpf_stats && !self.kinds().contains(&RelayKind::MediaCoreXdp) {
            bail!("--bpf-stats reads media-core-xdp's program: use --spawn media-core-xdp or all");
        }
        if self.direct && self.srtp {
            bail!("--direct sends plain RTP between the legs: not with --srtp");
        }
        if self.calls.is_empty() || self.calls.iter().any(|&c| c == 0 || c > 20_000) {
            bail!("--calls must be 1..=20000");
        }
        if !(0.1..=10_000.0).contains(&self.pps) {
            bail!("--pps must be 0.1..=10000");
        }
        if self.duration.is_zero() || self.duration > Duration::from_secs(600) {
            bail!("--duration must be above 0 and at most 10m");
        }
        if self.find_ceiling.is_some() && !(1.01..=4.0).contains(&self.ceiling_factor) {
            bail!("--ceiling-factor must be 1.01..=4");
        }
        if self.opus_complexity.iter().any(|&c| c > 10) {
            bail!("--opus-complexity must be 0..=10");
        }
        if self.ceiling_steps == 0 || self.ceiling_steps > 40 {
            bail!("--ceiling-steps must be 1..=40");
        }
        Ok(())
    }

    fn spec(&self, kind: RelayKind, interface: IpAddr, xdp_interfaces: &[&str]) -> RelaySpec {
        let (bin, ng, (port_min, port_max)) = match kind {
            RelayKind::MediaCore | RelayKind::MediaCoreXdp => (
                &self.media_core_bin,
                self.media_core_ng,
                self.media_core_ports,
            ),
            RelayKind::Rtpengine => (&self.rtpengine_bin, self.rtpengine_ng, self.rtpengine_ports),
        };
        RelaySpec {
            kind,
            bin: bin.clone(),
            ng,
            port_min,
            port_max,
            threads: self.threads,
            interface: interface.to_string(),
            cpus: self
                .relay_cpus
                .clone()
                .or_else(|| self.default_relay_cpus()),
            xdp_interfaces: if kind == RelayKind::MediaCoreXdp {
                xdp_interfaces.iter().map(ToString::to_string).collect()
            } else {
                Vec::new()
            },
            xdp_mode: self.xdp_mode.as_str().into(),
            extra_args: match (kind, self.transcode_threads) {
                (RelayKind::MediaCore | RelayKind::MediaCoreXdp, Some(n)) => {
                    vec!["--transcode-threads".into(), n.to_string()]
                }
                _ => Vec::new(),
            },
            label: None,
        }
    }

    /// The relays to start: with `--opus-complexity`, one media-core per value.
    fn specs(&self, interface: IpAddr, xdp_interfaces: &[&str]) -> Vec<RelaySpec> {
        let mut out = Vec::new();
        for kind in self.kinds() {
            let base = self.spec(kind, interface, xdp_interfaces);
            if kind == RelayKind::Rtpengine || self.opus_complexity.is_empty() {
                out.push(base);
                continue;
            }
            for &c in &self.opus_complexity {
                let mut spec = base.clone();
                spec.extra_args
                    .extend(["--opus-complexity".into(), c.to_string()]);
                spec.label = Some(format!("{} c{c}", kind.name()));
                out.push(spec);
            }
        }
        out
    }

    /// With only `--loadgen-cpus`, relays get the other CPUs (or all):
    /// children would otherwise inherit this tool's pinning.
    fn default_relay_cpus(&self) -> Option<String> {
        let mine = &self.loadgen_cpus.as_ref()?.0;
        let online = host::online_cpus();
        let mut rest: Vec<usize> = online
            .iter()
            .copied()
            .filter(|c| !mine.contains(c))
            .collect();
        if rest.is_empty() {
            rest = online;
        }
        Some(
            rest.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )
    }

    fn kinds(&self) -> Vec<RelayKind> {
        match self.spawn {
            Some(SpawnWhich::MediaCore) => vec![RelayKind::MediaCore],
            Some(SpawnWhich::MediaCoreXdp) => vec![RelayKind::MediaCoreXdp],
            Some(SpawnWhich::Rtpengine) => vec![RelayKind::Rtpengine],
            Some(SpawnWhich::Both) => vec![RelayKind::MediaCore, RelayKind::Rtpengine],
            Some(SpawnWhich::All) => vec![
                RelayKind::MediaCoreXdp,
                RelayKind::MediaCore,
                RelayKind::Rtpengine,
            ],
            None => Vec::new(),
        }
    }
}

/// A relay to run points against: external, or started on demand, or
/// none at all (the direct baseline).
enum Subject {
    External(Target),
    /// A relay to start, and whether to read its XDP program's statistics.
    Spawn(RelaySpec, bool),
    Direct,
}

impl Subject {
    fn name(&self) -> String {
        match self {
            Self::External(t) => t.name.clone(),
            Self::Spawn(s, _) => s.name(),
            Self::Direct => report::DIRECT.into(),
        }
    }

    /// Runs `f` with the relay up (started and stopped around it if
    /// spawned). After an XDP relay, makes sure no program stays attached
    /// to the links the next relay uses.
    fn with<T>(
        &self,
        stop: &AtomicBool,
        topology: Option<&netns::Topology>,
        f: impl FnOnce(&Target) -> T,
    ) -> Result<T> {
        match self {
            Self::External(t) => Ok(f(t)),
            Self::Direct => Ok(f(&Target {
                name: report::DIRECT.into(),
                ng: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                pid: None,
                threads: None,
                command: None,
                direct: true,
                xdp_check: false,
                bpf_stats: false,
            })),
            Self::Spawn(spec, bpf_stats) => {
                let xdp = spec.kind == RelayKind::MediaCoreXdp;
                if let (true, Some(t)) = (xdp, topology) {
                    let left = t.xdp_attached();
                    if !left.is_empty() {
                        bail!(
                            "XDP already attached to {} before media-core-xdp started",
                            left.join(", ")
                        );
                    }
                }
                let relay = Spawned::start(spec, stop)?;
                let target = Target {
                    name: spec.name(),
                    ng: spec.ng,
                    pid: Some(relay.pid),
                    threads: Some(spec.threads),
                    command: Some(relay.command.clone()),
                    direct: false,
                    xdp_check: xdp,
                    bpf_stats: xdp && *bpf_stats,
                };
                let out = f(&target);
                drop(relay);
                if let Some(t) = topology {
                    let left = t.xdp_attached();
                    if !left.is_empty() {
                        eprintln!(
                            "warning: {} left XDP attached to {}; detaching it so the next relay sees plain links",
                            spec.kind.name(),
                            left.join(", ")
                        );
                        t.detach_xdp();
                    }
                }
                Ok(out)
            }
        }
    }
}

/// Runs one point; while it comes out noisy (someone else used the
/// machine during the window) and `--retry-noisy` allows, runs it again.
fn point_retrying_noise(
    args: &Args,
    target: &Target,
    legs: &Legs,
    load: run::Load,
    stop: &AtomicBool,
) -> Result<PointResult> {
    let mut discarded = 0;
    loop {
        let mut p = run::run_point(target, legs, load, stop)?;
        p.noisy_attempts_discarded = discarded;
        if !report::noisy(&p) || discarded >= args.retry_noisy || stop.load(Ordering::Relaxed) {
            return Ok(p);
        }
        discarded += 1;
        eprintln!(
            "{}: {} calls: noisy window (other processes {}% of a core, {} forks); running it again ({discarded}/{})",
            p.relay,
            p.calls,
            p.foreign_cpu_pct.map_or_else(|| "?".into(), |v| format!("{v:.0}")),
            p.forks_in_window.map_or_else(|| "?".into(), |v| v.to_string()),
            args.retry_noisy
        );
    }
}

fn ceiling_search(
    args: &Args,
    subject: &Subject,
    legs: &Legs,
    var: CeilingVar,
    stop: &AtomicBool,
    topology: Option<&netns::Topology>,
    points: &mut Vec<PointResult>,
) -> Result<Ceiling> {
    let mut ceiling = Ceiling {
        relay: subject.name(),
        varied: format!("{var:?}").to_lowercase(),
        zero_loss_offered_pps: None,
        zero_loss_sent_pps: None,
        calls: None,
        pps_per_stream: None,
        first_loss_offered_pps: None,
    };
    let (mut calls, mut pps) = (args.calls[0], args.pps);
    subject.with(stop, topology, |target| -> Result<()> {
        for step in 0..args.ceiling_steps {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            eprintln!(
                "{}: ceiling step {}: {calls} calls x {pps:.1} pps",
                target.name,
                step + 1
            );
            let p = point_retrying_noise(args, target, legs, args.load(calls, pps), stop)?;
            let lossless = p.loss_pct <= args.loss_tolerance && p.send_errors == 0;
            let offered = p.offered_pps;
            let sent = p.sent_pps;
            points.push(p);
            if !lossless {
                ceiling.first_loss_offered_pps = Some(offered);
                break;
            }
            ceiling.zero_loss_offered_pps = Some(offered);
            ceiling.zero_loss_sent_pps = Some(sent);
            ceiling.calls = Some(calls);
            ceiling.pps_per_stream = Some(pps);
            match var {
                CeilingVar::Pps => pps *= args.ceiling_factor,
                CeilingVar::Calls => {
                    calls = ((calls as f64 * args.ceiling_factor).ceil() as usize).min(20_000);
                }
            }
        }
        Ok(())
    })??;
    Ok(ceiling)
}

fn main() -> Result<()> {
    let args = Args::parse();
    args.check()?;
    if let Some(fmtp) = &args.opus_fmtp {
        transcode::set_answer_fmtp(fmtp);
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("installing signal handler")?;
    }
    if let Some(cpus) = &args.loadgen_cpus {
        // Before any thread starts, so all inherit it.
        sys::pin_to_cpus(&cpus.0).context("pinning loadgen (--loadgen-cpus)")?;
    }
    if let Err(e) = sys::raise_nofile_limit() {
        eprintln!("warning: cannot raise the open-file limit: {e}");
    }

    // Restored when it drops, after every relay has stopped.
    let bpf_stats = if args.bpf_stats {
        Some(xdp::BpfStats::enable().context("--bpf-stats")?)
    } else {
        None
    };
    // Namespaces first: spawned relays need the address on their interface.
    let topology = if args.netns {
        Some(netns::Topology::create(args.netns_subnet).context("creating network namespaces")?)
    } else {
        None
    };
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let legs = match &topology {
        Some(t) => Legs {
            caller_ip: t.caller_ip,
            callee_ip: t.callee_ip,
            caller_ns: Some(t.caller_ns_path()),
            callee_ns: Some(t.callee_ns_path()),
        },
        None => Legs {
            caller_ip: loopback,
            callee_ip: loopback,
            caller_ns: None,
            callee_ns: None,
        },
    };
    let relay_ip = topology.as_ref().map_or(loopback, |t| t.relay_ip);
    let links_before = topology.as_ref().map(netns::Topology::describe);
    if let Some(links) = &links_before {
        eprintln!("links: {links}");
    }
    let xdp_links = topology
        .as_ref()
        .map_or([""; 2], netns::Topology::root_links);

    let mut subjects: Vec<Subject> = Vec::new();
    if args.direct {
        subjects.push(Subject::Direct);
    }
    match args.relay {
        Some(ng) => subjects.push(Subject::External(Target {
            name: args.relay_name.clone(),
            ng,
            pid: args.relay_pid,
            threads: None,
            command: None,
            direct: false,
            xdp_check: false,
            bpf_stats: false,
        })),
        None => subjects.extend(
            args.specs(relay_ip, &xdp_links)
                .into_iter()
                .map(|s| Subject::Spawn(s, args.bpf_stats)),
        ),
    }

    let mut points = Vec::new();
    let mut ceilings = Vec::new();
    let mut failure = None;
    if let Some(var) = args.find_ceiling {
        for subject in &subjects {
            match ceiling_search(
                &args,
                subject,
                &legs,
                var,
                &stop,
                topology.as_ref(),
                &mut points,
            ) {
                Ok(c) => ceilings.push(c),
                Err(e) => {
                    failure = Some(e.context(format!("ceiling search on {}", subject.name())));
                    break;
                }
            }
        }
    } else {
        'points: for &calls in &args.calls {
            for subject in &subjects {
                if stop.load(Ordering::Relaxed) {
                    break 'points;
                }
                let r = subject
                    .with(&stop, topology.as_ref(), |t| {
                        point_retrying_noise(&args, t, &legs, args.load(calls, args.pps), &stop)
                    })
                    .and_then(|r| r);
                match r {
                    Ok(p) => {
                        let us =
                            |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.2}"));
                        eprintln!(
                            "{}: {} calls, {}: loss {:.4}% srtp errors {} p50 {:.0} us p99 {:.0} us cpu/pkt relay {} us, machine less loadgen {} us, whole machine {} us",
                            p.relay,
                            p.calls,
                            p.mode,
                            p.loss_pct,
                            p.srtp_errors,
                            p.latency.p50_us,
                            p.latency.p99_us,
                            us(p.relay_cpu_us_per_pkt),
                            us(p.machine_cpu_us_per_pkt),
                            us(p.machine_total_cpu_us_per_pkt),
                        );
                        if let Some(t) = &p.transcode {
                            for d in &t.directions {
                                eprintln!(
                                    "    {}: loss {:.4}% p50 {:.0} us p99 {:.0} us p99.9 {:.0} us",
                                    d.name,
                                    d.loss_pct,
                                    d.latency.p50_us,
                                    d.latency.p99_us,
                                    d.latency.p999_us
                                );
                            }
                            eprintln!(
                                "    relay CPU {} ms per call-second; opus to callee: {}; unanchored streams {}",
                                t.relay_cpu_ms_per_call_s.map_or_else(|| "-".into(), |v| format!("{v:.3}")),
                                t.opus_to_callee,
                                t.unanchored_streams
                            );
                        }
                        points.push(p);
                    }
                    Err(e) => {
                        failure = Some(e.context(format!("{} calls on {}", calls, subject.name())));
                        break 'points;
                    }
                }
            }
        }
    }
    if let Some(t) = &topology {
        let now = t.describe();
        if links_before.as_deref() != Some(now.as_str()) {
            eprintln!("warning: the links changed during the run: now {now}");
        }
    }
    drop(topology);
    drop(bpf_stats);

    let report = Report {
        command,
        host: host::HostInfo::read(),
        netns: args.netns,
        topology: links_before,
        cpu_note: report::CPU_NOTE.into(),
        mode: args.mode_label(),
        ratios: report::ratios(&points),
        over_direct: report::over_direct(&points),
        transcode_capacity: transcode::capacities(&points),
        points,
        ceilings,
    };
    println!("{}", report::table(&report));
    if let Some(path) = &args.json {
        report::write_json(&report, path)?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &args.plot {
        plot::write_svg(&report.points, path)?;
        eprintln!("wrote {}", path.display());
    }
    if stop.load(Ordering::Relaxed) {
        // Everything that needed cleaning up (namespaces, relays) is dropped by now.
        eprintln!("interrupted; partial results above");
        std::process::exit(130);
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

//! Results: one record per point, the side-by-side table with ratios, and
//! the JSON document.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::host::HostInfo;
use crate::stats::Latency;
use crate::xdp::XdpCheck;

/// The reference every other relay is compared with.
pub const REFERENCE: &str = "rtpengine";
/// Other processes' CPU (% of one core) above which a point is flagged noisy.
pub const NOISY_PCT: f64 = 5.0;
/// Processes started during a window above which a point is flagged noisy.
pub const NOISY_FORKS: u64 = 10;
/// The no-relay baseline's name.
pub const DIRECT: &str = "direct";

/// What the CPU columns mean, printed under the table and kept in the JSON.
pub const CPU_NOTE: &str = "\
CPU per packet, three ways (all divided by probes received in the window):
  relay us/pkt: the relay process's CPU (/proc/PID/stat). Kernel work done in softirq
    context on the relay's behalf but raised by another task's syscall (the XDP fast
    path, delivery to the relay's sockets) is charged to that other task, so this
    says nothing about media-core-xdp.
  mach us/pkt: busy CPU of the whole machine (CPUs x wall time - idle, /proc/stat)
    minus this tool's process CPU minus other userspace processes seen in both
    readings (noise). No IRQ_TIME_ACCOUNTING here: a softirq runs on the clock of
    the task it interrupts, so the veth receive after this tool's send and, with
    XDP, the whole in-kernel forwarding and delivery to the far leg are charged to
    this tool and are NOT in this figure.
  all us/pkt: the same without subtracting this tool: generator + relay + kernel,
    the machine's whole cost per relayed packet. Minus the `direct` baseline's
    (legs send straight to each other, routed by the root namespace's kernel, no
    relay) it is the CPU a relay adds over plain kernel forwarding (`added`),
    whoever the kernel charges it to.";

/// What each latency / CPU figure is relative to the `direct` baseline.
#[derive(Debug, Clone, Serialize)]
pub struct OverDirect {
    /// Relay.
    pub relay: String,
    /// Calls.
    pub calls: usize,
    /// Packets per second per stream.
    pub pps_per_stream: f64,
    /// Whole-machine CPU per packet minus the baseline's, µs.
    pub added_cpu_us_per_pkt: Option<f64>,
    /// p50 minus the baseline's p50, µs (a difference of percentiles).
    pub added_p50_us: f64,
    /// p99 minus the baseline's p99, µs.
    pub added_p99_us: f64,
    /// p99.9 minus the baseline's p99.9, µs.
    pub added_p999_us: f64,
}

/// Everything measured at one point against one relay.
#[derive(Debug, Clone, Serialize)]
pub struct PointResult {
    /// Relay name.
    pub relay: String,
    /// Its worker threads, if known.
    pub relay_threads: Option<usize>,
    /// Its pid, if known.
    pub relay_pid: Option<u32>,
    /// CPUs it may run on (core pinning).
    pub relay_cpus: Option<String>,
    /// How it was started, if we started it.
    pub relay_command: Option<String>,
    /// What the legs speak: `plain` RTP, or `srtp OFFER->ANSWER` (the
    /// relay re-encrypts from the caller's suite and key to the callee's).
    pub mode: String,
    /// Calls.
    pub calls: usize,
    /// Streams (two per call).
    pub streams: usize,
    /// Packets per second per stream.
    pub pps_per_stream: f64,
    /// Offered packets per second in total.
    pub offered_pps: f64,
    /// Measuring window, s.
    pub duration_s: f64,
    /// Warm-up before it, s.
    pub warmup_s: f64,
    /// Packets sent in the window.
    pub sent: u64,
    /// Of those, received.
    pub received: u64,
    /// `sent - received` (negative: duplicates).
    pub lost: i64,
    /// Loss in percent.
    pub loss_pct: f64,
    /// Streams that lost at least one packet.
    pub streams_with_loss: u64,
    /// Probes that arrived on the wrong leg.
    pub misrouted: u64,
    /// Datagrams that were not our probes.
    pub foreign: u64,
    /// Datagrams that failed SRTP unprotect, whole run (not received).
    pub srtp_errors: u64,
    /// Sends the kernel refused.
    pub send_errors: u64,
    /// Datagrams still unread at this tool's sockets when the drain ended
    /// (this tool fell behind; they still count as received).
    pub loadgen_backlog: u64,
    /// Packets actually sent per second in the window (vs offered).
    pub sent_pps: f64,
    /// Worst lateness of a send behind schedule, µs.
    pub max_send_lag_us: f64,
    /// Relay CPU over the window, % of one core.
    pub relay_cpu_pct: Option<f64>,
    /// Relay CPU per forwarded packet, µs.
    pub relay_cpu_us_per_pkt: Option<f64>,
    /// Busy CPU of the whole machine less this tool's process and other
    /// visible userspace processes, per received packet, µs.
    pub machine_cpu_us_per_pkt: Option<f64>,
    /// Busy CPU of the whole machine less other visible userspace
    /// processes (this tool included), per received packet, µs.
    pub machine_total_cpu_us_per_pkt: Option<f64>,
    /// This tool's process CPU per received packet, µs.
    pub loadgen_cpu_us_per_pkt: Option<f64>,
    /// This tool's CPU over the window, % of one core.
    pub loadgen_cpu_pct: Option<f64>,
    /// Busy CPU of everything else on the machine over the window
    /// (other processes, interrupts, steal), % of one core: noise.
    pub other_cpu_pct: Option<f64>,
    /// Userspace processes other than this tool and the relay (alive at
    /// both readings; a lower bound of the noise), % of one core.
    pub foreign_cpu_pct: Option<f64>,
    /// Busy CPU of the whole machine, % of one core.
    pub system_cpu_pct: Option<f64>,
    /// irq + softirq time of the whole machine, % of one core (with tick
    /// accounting also inside the processes' figures).
    pub softirq_cpu_pct: Option<f64>,
    /// Processes forked on the machine during the window (by someone
    /// else: a sign of noise the process scan cannot see).
    pub forks_in_window: Option<u64>,
    /// Earlier runs of this point thrown away as noisy (`--retry-noisy`).
    pub noisy_attempts_discarded: usize,
    /// The XDP relay's own account of what it offloaded.
    pub xdp: Option<XdpCheck>,
    /// Receive-queue drops at this tool's sockets (it fell behind).
    pub loadgen_socket_drops: Option<u64>,
    /// Receive-queue drops at the relay's sockets (the relay fell behind).
    pub relay_socket_drops: Option<u64>,
    /// One-way latency through the relay.
    pub latency: Latency,
    /// Time to set up all calls (offer + answer each), s.
    pub setup_s: f64,
    /// Calls set up per second.
    pub setup_rate: f64,
    /// Time to delete all calls, s.
    pub teardown_s: f64,
    /// Sender threads of this tool.
    pub tx_threads: usize,
    /// Receiver threads of this tool.
    pub rx_threads: usize,
    /// How receive times were taken.
    pub rx_clock: String,
    /// Per-direction loss and latency, CPU per call and what the relay
    /// sent the callee (`--transcode` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcode: Option<crate::transcode::Summary>,
}

/// One relay / another at one load (lower is better).
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// The numerator.
    pub relay: String,
    /// The denominator.
    pub versus: String,
    /// Calls.
    pub calls: usize,
    /// Packets per second per stream.
    pub pps_per_stream: f64,
    /// Relay-process CPU per packet ratio.
    pub cpu_per_pkt: Option<f64>,
    /// Machine-wide (less this tool) CPU per packet ratio.
    pub machine_cpu_per_pkt: Option<f64>,
    /// Ratio of the CPU per packet added over the direct baseline.
    pub added_cpu_per_pkt: Option<f64>,
    /// p50 ratio.
    pub p50: Option<f64>,
    /// p99 ratio.
    pub p99: Option<f64>,
    /// p99.9 ratio.
    pub p999: Option<f64>,
    /// Loss of the numerator, %.
    pub loss_pct_relay: f64,
    /// Loss of the denominator, %.
    pub loss_pct_versus: f64,
}

/// The highest offered load that ran without loss.
#[derive(Debug, Clone, Serialize)]
pub struct Ceiling {
    /// Relay name.
    pub relay: String,
    /// What was raised: `pps` or `calls`.
    pub varied: String,
    /// Highest zero-loss offered pkt/s, if any step had zero loss.
    pub zero_loss_offered_pps: Option<f64>,
    /// What this tool actually sent at that step, pkt/s.
    pub zero_loss_sent_pps: Option<f64>,
    /// Calls at that step.
    pub calls: Option<usize>,
    /// Per-stream pps at that step.
    pub pps_per_stream: Option<f64>,
    /// First offered pkt/s with loss, if reached.
    pub first_loss_offered_pps: Option<f64>,
}

/// The whole output document.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The exact command line.
    pub command: String,
    /// Machine facts.
    pub host: HostInfo,
    /// Whether the legs ran in network namespaces.
    pub netns: bool,
    /// The veth links' settings, read back at the start of the run.
    pub topology: Option<String>,
    /// What the CPU figures mean.
    pub cpu_note: String,
    /// `plain` or `srtp OFFER->ANSWER`, as in every point.
    pub mode: String,
    /// Every point, in the order run.
    pub points: Vec<PointResult>,
    /// Relay / relay where both ran the same load.
    pub ratios: Vec<Ratio>,
    /// Each relay over the direct baseline at the same load.
    pub over_direct: Vec<OverDirect>,
    /// Ceiling searches, if any.
    pub ceilings: Vec<Ceiling>,
    /// Transcoded calls per core of each relay (`--transcode` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transcode_capacity: Vec<crate::transcode::Capacity>,
}

fn div(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// Whether someone else visibly used the machine during the point's window.
pub fn noisy(p: &PointResult) -> bool {
    p.foreign_cpu_pct.is_some_and(|f| f > NOISY_PCT)
        || p.forks_in_window.is_some_and(|f| f > NOISY_FORKS)
}

fn same_load(a: &PointResult, b: &PointResult) -> bool {
    a.mode == b.mode && a.calls == b.calls && a.pps_per_stream == b.pps_per_stream
}

/// The pairs compared: every relay against rtpengine, and the XDP path
/// against media-core's userspace path.
const PAIRS: [(&str, &str); 3] = [
    ("media-core-xdp", REFERENCE),
    ("media-core", REFERENCE),
    ("media-core-xdp", "media-core"),
];

/// Pairs up points of equal load (see [`PAIRS`]).
pub fn ratios(points: &[PointResult]) -> Vec<Ratio> {
    let over = over_direct(points);
    let added = |p: &PointResult| {
        over.iter()
            .find(|o| {
                o.relay == p.relay && o.calls == p.calls && o.pps_per_stream == p.pps_per_stream
            })
            .and_then(|o| o.added_cpu_us_per_pkt)
    };
    let mut out = Vec::new();
    for m in points {
        for r in points.iter().filter(|r| same_load(m, r)) {
            if !PAIRS.contains(&(m.relay.as_str(), r.relay.as_str())) {
                continue;
            }
            out.push(Ratio {
                relay: m.relay.clone(),
                versus: r.relay.clone(),
                calls: m.calls,
                pps_per_stream: m.pps_per_stream,
                cpu_per_pkt: div(m.relay_cpu_us_per_pkt, r.relay_cpu_us_per_pkt),
                machine_cpu_per_pkt: div(m.machine_cpu_us_per_pkt, r.machine_cpu_us_per_pkt),
                added_cpu_per_pkt: div(added(m), added(r)),
                p50: div(Some(m.latency.p50_us), Some(r.latency.p50_us)),
                p99: div(Some(m.latency.p99_us), Some(r.latency.p99_us)),
                p999: div(Some(m.latency.p999_us), Some(r.latency.p999_us)),
                loss_pct_relay: m.loss_pct,
                loss_pct_versus: r.loss_pct,
            });
        }
    }
    out
}

/// Every relay point over the direct baseline point of the same load.
pub fn over_direct(points: &[PointResult]) -> Vec<OverDirect> {
    let mut out = Vec::new();
    for d in points.iter().filter(|p| p.relay == DIRECT) {
        for p in points
            .iter()
            .filter(|p| p.relay != DIRECT && same_load(p, d))
        {
            out.push(OverDirect {
                relay: p.relay.clone(),
                calls: p.calls,
                pps_per_stream: p.pps_per_stream,
                added_cpu_us_per_pkt: match (
                    p.machine_total_cpu_us_per_pkt,
                    d.machine_total_cpu_us_per_pkt,
                ) {
                    (Some(a), Some(b)) => Some(a - b),
                    _ => None,
                },
                added_p50_us: p.latency.p50_us - d.latency.p50_us,
                added_p99_us: p.latency.p99_us - d.latency.p99_us,
                added_p999_us: p.latency.p999_us - d.latency.p999_us,
            });
        }
    }
    out
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

/// The human-readable summary.
pub fn table(report: &Report) -> String {
    let mut s = String::new();
    let h = &report.host;
    let _ = writeln!(
        s,
        "host: {} ({} CPUs), kernel {}, loadgen CPUs {}, netns {}",
        h.cpu_model,
        h.cpus,
        h.kernel,
        h.loadgen_cpus.as_deref().unwrap_or("?"),
        report.netns
    );
    if let Some(t) = &report.topology {
        let _ = writeln!(s, "links: {t}");
    }
    let _ = writeln!(s, "command: {}", report.command);
    let _ = writeln!(s, "mode: {}", report.mode);
    let _ = writeln!(
        s,
        "{:<14} {:>3} {:>6} {:>6} {:>8} {:>8} {:>7} {:>6} {:>7} {:>6} {:>7} {:>8} {:>8} {:>9} {:>9} {:>8} {:>7}",
        "relay", "thr", "calls", "pps", "offered", "loss%", "cpu%", "us/pkt", "mach_us", "all_us",
        "p50us", "p99us", "p99.9us", "max_us", "setup/s", "lg_cpu%", "cpus"
    );
    let mut notes = String::new();
    for p in &report.points {
        let _ = writeln!(
            s,
            "{:<14} {:>3} {:>6} {:>6.0} {:>8.0} {:>8.4} {:>7} {:>6} {:>7} {:>6} {:>7.0} {:>8.0} {:>8.0} {:>9.0} {:>9.0} {:>8} {:>7}",
            p.relay,
            p.relay_threads.map_or_else(|| "-".into(), |t| t.to_string()),
            p.calls,
            p.pps_per_stream,
            p.offered_pps,
            p.loss_pct,
            opt(p.relay_cpu_pct, 1),
            opt(p.relay_cpu_us_per_pkt, 2),
            opt(p.machine_cpu_us_per_pkt, 2),
            opt(p.machine_total_cpu_us_per_pkt, 2),
            p.latency.p50_us,
            p.latency.p99_us,
            p.latency.p999_us,
            p.latency.max_us,
            p.setup_rate,
            opt(p.loadgen_cpu_pct, 1),
            p.relay_cpus.as_deref().unwrap_or("-"),
        );
        if noisy(p) {
            let _ = writeln!(
                s,
                "    ! noisy: other processes used {}% of a core and {} processes started during the window; rerun this point",
                opt(p.foreign_cpu_pct, 0),
                p.forks_in_window.map_or_else(|| "?".into(), |v| v.to_string())
            );
        }
        if p.misrouted + p.foreign + p.send_errors + p.srtp_errors > 0 {
            let _ = writeln!(
                s,
                "    ! misrouted {} foreign {} send errors {} srtp errors {}",
                p.misrouted, p.foreign, p.send_errors, p.srtp_errors
            );
        }
        let _ = writeln!(
            notes,
            "  {} {} calls, {} (srtp errors {}): sent {:.0}/s; socket drops relay {} loadgen {}; loadgen backlog {}; machine busy {}% (irq+softirq, tick-sampled, {}%), loadgen {} us/pkt, other processes {}%, {} forks{}; max send lag {:.0} us; setup {:.2} s",
            p.relay,
            p.calls,
            p.mode,
            p.srtp_errors,
            p.sent_pps,
            p.relay_socket_drops.map_or_else(|| "?".into(), |v| v.to_string()),
            p.loadgen_socket_drops.map_or_else(|| "?".into(), |v| v.to_string()),
            p.loadgen_backlog,
            opt(p.system_cpu_pct, 1),
            opt(p.softirq_cpu_pct, 1),
            opt(p.loadgen_cpu_us_per_pkt, 2),
            opt(p.foreign_cpu_pct, 1),
            p.forks_in_window.map_or_else(|| "?".into(), |v| v.to_string()),
            if p.noisy_attempts_discarded > 0 {
                format!(" ({} noisy runs of this point discarded)", p.noisy_attempts_discarded)
            } else {
                String::new()
            },
            p.max_send_lag_us,
            p.setup_s,
        );
        if let Some(x) = &p.xdp {
            let _ = writeln!(
                notes,
                "    {}{}",
                x.summary(),
                if x.offloaded_nothing() {
                    "  <-- WARNING: nothing offloaded, this is the userspace path"
                } else {
                    ""
                }
            );
            if let Some(prog) = &x.program {
                let _ = writeln!(
                    notes,
                    "    XDP program (kernel.bpf_stats_enabled): {} runs in {:.1} ms, {} ns per run",
                    prog.runs,
                    prog.run_time_ns as f64 / 1e6,
                    opt(prog.ns_per_run, 0)
                );
            }
        }
    }
    s.push_str(&notes);
    if !report.ratios.is_empty() {
        let _ = writeln!(s, "\nratios (lower is better; cpu = relay process, mach = machine less loadgen, added = over direct):");
        let _ = writeln!(
            s,
            "{:<30} {:>6} {:>6} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>9} {:>9}",
            "relay / versus",
            "calls",
            "pps",
            "cpu/pkt",
            "mach/pkt",
            "added",
            "p50",
            "p99",
            "p99.9",
            "loss%",
            "loss% vs"
        );
        for r in &report.ratios {
            let _ = writeln!(
                s,
                "{:<30} {:>6} {:>6.0} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>9.4} {:>9.4}",
                format!("{} / {}", r.relay, r.versus),
                r.calls,
                r.pps_per_stream,
                opt(r.cpu_per_pkt, 3),
                opt(r.machine_cpu_per_pkt, 3),
                opt(r.added_cpu_per_pkt, 3),
                opt(r.p50, 2),
                opt(r.p99, 2),
                opt(r.p999, 2),
                r.loss_pct_relay,
                r.loss_pct_versus
            );
        }
    }
    if !report.over_direct.is_empty() {
        let _ = writeln!(
            s,
            "\nover the direct baseline (kernel-routed, no relay; percentile differences):"
        );
        let _ = writeln!(
            s,
            "{:<14} {:>6} {:>6} {:>12} {:>10} {:>10} {:>10}",
            "relay", "calls", "pps", "+cpu us/pkt", "+p50 us", "+p99 us", "+p99.9 us"
        );
        for o in &report.over_direct {
            let _ = writeln!(
                s,
                "{:<14} {:>6} {:>6.0} {:>12} {:>10.0} {:>10.0} {:>10.0}",
                o.relay,
                o.calls,
                o.pps_per_stream,
                opt(o.added_cpu_us_per_pkt, 2),
                o.added_p50_us,
                o.added_p99_us,
                o.added_p999_us
            );
        }
    }
    for c in &report.ceilings {
        let _ = writeln!(
            s,
            "\nceiling {} (raising {}): highest zero-loss offered {} pkt/s (sent {}; calls {}, {} pps/stream); first loss at {} pkt/s",
            c.relay,
            c.varied,
            opt(c.zero_loss_offered_pps, 0),
            opt(c.zero_loss_sent_pps, 0),
            c.calls.map_or_else(|| "-".into(), |v| v.to_string()),
            opt(c.pps_per_stream, 1),
            opt(c.first_loss_offered_pps, 0),
        );
    }
    s.push_str(&crate::transcode::table(
        &report.points,
        &report.transcode_capacity,
    ));
    let _ = writeln!(s, "\n{}", report.cpu_note);
    s
}

/// Writes the JSON document.
pub fn write_json(report: &Report, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

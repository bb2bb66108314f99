//! Results: one record per point, the side-by-side table with ratios, and
//! the JSON document.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::host::HostInfo;
use crate::stats::Latency;

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
    /// This tool's CPU over the window, % of one core.
    pub loadgen_cpu_pct: Option<f64>,
    /// Busy CPU of everything else on the machine over the window
    /// (other processes, interrupts, steal), % of one core: noise.
    pub other_cpu_pct: Option<f64>,
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
}

/// media-core / rtpengine at one load.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// Calls.
    pub calls: usize,
    /// Packets per second per stream.
    pub pps_per_stream: f64,
    /// CPU per packet ratio.
    pub cpu_per_pkt: Option<f64>,
    /// p50 ratio.
    pub p50: Option<f64>,
    /// p99 ratio.
    pub p99: Option<f64>,
    /// p99.9 ratio.
    pub p999: Option<f64>,
    /// Loss of media-core, %.
    pub loss_pct_media_core: f64,
    /// Loss of rtpengine, %.
    pub loss_pct_rtpengine: f64,
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
    /// `plain` or `srtp OFFER->ANSWER`, as in every point.
    pub mode: String,
    /// Every point, in the order run.
    pub points: Vec<PointResult>,
    /// media-core / rtpengine where both ran the same load.
    pub ratios: Vec<Ratio>,
    /// Ceiling searches, if any.
    pub ceilings: Vec<Ceiling>,
}

fn div(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// Pairs up media-core and rtpengine points of equal load.
pub fn ratios(points: &[PointResult]) -> Vec<Ratio> {
    let mut out = Vec::new();
    for m in points.iter().filter(|p| p.relay == "media-core") {
        let Some(r) = points.iter().find(|p| {
            p.relay == "rtpengine"
                && p.mode == m.mode
                && p.calls == m.calls
                && p.pps_per_stream == m.pps_per_stream
        }) else {
            continue;
        };
        out.push(Ratio {
            calls: m.calls,
            pps_per_stream: m.pps_per_stream,
            cpu_per_pkt: div(m.relay_cpu_us_per_pkt, r.relay_cpu_us_per_pkt),
            p50: div(Some(m.latency.p50_us), Some(r.latency.p50_us)),
            p99: div(Some(m.latency.p99_us), Some(r.latency.p99_us)),
            p999: div(Some(m.latency.p999_us), Some(r.latency.p999_us)),
            loss_pct_media_core: m.loss_pct,
            loss_pct_rtpengine: r.loss_pct,
        });
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
    let _ = writeln!(s, "command: {}", report.command);
    let _ = writeln!(s, "mode: {}", report.mode);
    let _ = writeln!(
        s,
        "{:<11} {:>3} {:>6} {:>6} {:>8} {:>8} {:>7} {:>6} {:>7} {:>8} {:>8} {:>9} {:>9} {:>8} {:>7}",
        "relay", "thr", "calls", "pps", "offered", "loss%", "cpu%", "us/pkt", "p50us", "p99us",
        "p99.9us", "max_us", "setup/s", "lg_cpu%", "cpus"
    );
    let mut notes = String::new();
    for p in &report.points {
        let _ = writeln!(
            s,
            "{:<11} {:>3} {:>6} {:>6.0} {:>8.0} {:>8.4} {:>7} {:>6} {:>7.0} {:>8.0} {:>8.0} {:>9.0} {:>9.0} {:>8} {:>7}",
            p.relay,
            p.relay_threads.map_or_else(|| "-".into(), |t| t.to_string()),
            p.calls,
            p.pps_per_stream,
            p.offered_pps,
            p.loss_pct,
            opt(p.relay_cpu_pct, 1),
            opt(p.relay_cpu_us_per_pkt, 2),
            p.latency.p50_us,
            p.latency.p99_us,
            p.latency.p999_us,
            p.latency.max_us,
            p.setup_rate,
            opt(p.loadgen_cpu_pct, 1),
            p.relay_cpus.as_deref().unwrap_or("-"),
        );
        if p.misrouted + p.foreign + p.send_errors + p.srtp_errors > 0 {
            let _ = writeln!(
                s,
                "    ! misrouted {} foreign {} send errors {} srtp errors {}",
                p.misrouted, p.foreign, p.send_errors, p.srtp_errors
            );
        }
        let _ = writeln!(
            notes,
            "  {} {} calls, {} (srtp errors {}): sent {:.0}/s; socket drops relay {} loadgen {}; loadgen backlog {}; other CPU {}%; max send lag {:.0} us; setup {:.2} s",
            p.relay,
            p.calls,
            p.mode,
            p.srtp_errors,
            p.sent_pps,
            p.relay_socket_drops.map_or_else(|| "?".into(), |v| v.to_string()),
            p.loadgen_socket_drops.map_or_else(|| "?".into(), |v| v.to_string()),
            p.loadgen_backlog,
            opt(p.other_cpu_pct, 1),
            p.max_send_lag_us,
            p.setup_s,
        );
    }
    s.push_str(&notes);
    if !report.ratios.is_empty() {
        let _ = writeln!(s, "\nmedia-core / rtpengine (lower is better):");
        let _ = writeln!(
            s,
            "{:>6} {:>6} {:>10} {:>7} {:>7} {:>7} {:>10} {:>10}",
            "calls", "pps", "cpu/pkt", "p50", "p99", "p99.9", "loss% mc", "loss% rtpe"
        );
        for r in &report.ratios {
            let _ = writeln!(
                s,
                "{:>6} {:>6.0} {:>10} {:>7} {:>7} {:>7} {:>10.4} {:>10.4}",
                r.calls,
                r.pps_per_stream,
                opt(r.cpu_per_pkt, 2),
                opt(r.p50, 2),
                opt(r.p99, 2),
                opt(r.p999, 2),
                r.loss_pct_media_core,
                r.loss_pct_rtpengine
            );
        }
    }
    for c in &report.ceilings {
        let _ = writeln!(
            s,
            "\nceiling {} (raising {}): highest zero-loss offered {} pkt/s (calls {}, {} pps/stream); first loss at {} pkt/s",
            c.relay,
            c.varied,
            opt(c.zero_loss_offered_pps, 0),
            c.calls.map_or_else(|| "-".into(), |v| v.to_string()),
            opt(c.pps_per_stream, 1),
            opt(c.first_loss_offered_pps, 0),
        );
    }
    s
}

/// Writes the JSON document.
pub fn write_json(report: &Report, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

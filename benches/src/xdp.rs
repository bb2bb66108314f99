//! Did the XDP relay really offload? NG `query` per call, reading the
//! `XDP` dictionary media-core adds to each offloaded stream
//! (`{active, packets, bytes}`).

use anyhow::{Context, Result};
use serde::Serialize;
use sluice_ng::client::Client;
use sluice_ng::{Dict, Value};

use crate::ng::CallIds;

/// XDP state summed over some calls' RTP streams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct XdpCount {
    /// Calls queried.
    pub calls: usize,
    /// Calls whose query failed (not counted below).
    pub query_errors: usize,
    /// RTP streams in the replies (two per call: one per leg's socket).
    pub rtp_streams: u64,
    /// Of those, with `XDP.active` set.
    pub active: u64,
    /// `XDP.packets` summed: packets the kernel forwarded for them.
    pub xdp_packets: u64,
    /// `stats.packets` of the same streams (as the relay reports them).
    pub stats_packets: u64,
}

impl XdpCount {
    fn add(&mut self, other: Self) {
        self.calls += other.calls;
        self.query_errors += other.query_errors;
        self.rtp_streams += other.rtp_streams;
        self.active += other.active;
        self.xdp_packets += other.xdp_packets;
        self.stats_packets += other.stats_packets;
    }
}

/// The two readings of one point.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct XdpCheck {
    /// A sample of calls just before the measuring window (after warm-up).
    pub at_window_start: XdpCount,
    /// Every call after the drain, before tear-down (whole-run counters).
    pub after_run: XdpCount,
    /// The XDP program's own run time between the two readings, with
    /// `--bpf-stats` (kernel.bpf_stats_enabled).
    pub program: Option<ProgRuns>,
}

impl XdpCheck {
    /// Whether nothing was offloaded: the point measured the userspace
    /// path.
    pub fn offloaded_nothing(&self) -> bool {
        let (w, r) = (&self.at_window_start, &self.after_run);
        w.active == 0 && r.active == 0 && r.xdp_packets == 0
    }

    /// One line on what the two readings found (no program figures).
    pub fn summary(&self) -> String {
        let (w, r) = (&self.at_window_start, &self.after_run);
        let failed = w.query_errors + r.query_errors;
        format!(
            "XDP active in {}/{} RTP streams of {} sampled calls before the window; after the run {}/{} of {} calls, {} packets forwarded in XDP ({} counted by the relay){}",
            w.active,
            w.rtp_streams,
            w.calls,
            r.active,
            r.rtp_streams,
            r.calls,
            r.xdp_packets,
            r.stats_packets,
            if failed > 0 {
                format!(" ({failed} queries failed)")
            } else {
                String::new()
            }
        )
    }
}

/// Run count and time of the relay's XDP programs (`/proc/PID/fdinfo`,
/// filled by the kernel while `kernel.bpf_stats_enabled` is 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ProgRuns {
    /// Program runs (one per packet the hook saw, ours or not).
    pub runs: u64,
    /// Time inside the program, ns.
    pub run_time_ns: u64,
    /// `run_time_ns / runs`.
    pub ns_per_run: Option<f64>,
}

impl ProgRuns {
    /// The runs between `before` and `self`.
    pub fn since(&self, before: &Self) -> Self {
        let runs = self.runs.saturating_sub(before.runs);
        let run_time_ns = self.run_time_ns.saturating_sub(before.run_time_ns);
        Self {
            runs,
            run_time_ns,
            ns_per_run: (runs > 0).then(|| run_time_ns as f64 / runs as f64),
        }
    }
}

/// `(prog_id, run_time_ns, run_cnt)` of an fdinfo text, if it is an XDP
/// program (`prog_type` 6).
fn parse_fdinfo(text: &str) -> Option<(u64, u64, u64)> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    (field("prog_type")? == 6).then_some(())?;
    Some((field("prog_id")?, field("run_time_ns")?, field("run_cnt")?))
}

/// The XDP programs process `pid` holds, summed once per program id.
pub fn prog_runs(pid: u32) -> Option<ProgRuns> {
    let mut seen = std::collections::HashSet::new();
    let mut total = ProgRuns::default();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fdinfo"))
        .ok()?
        .flatten()
    {
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        if let Some((id, time, runs)) = parse_fdinfo(&text) {
            if seen.insert(id) {
                total.runs += runs;
                total.run_time_ns += time;
            }
        }
    }
    (!seen.is_empty()).then_some(total)
}

/// Turns `kernel.bpf_stats_enabled` on; puts the old value back on drop.
#[derive(Debug)]
pub struct BpfStats {
    old: String,
}

const BPF_STATS: &str = "/proc/sys/kernel/bpf_stats_enabled";

impl BpfStats {
    /// Enables the kernel's per-program run-time statistics.
    pub fn enable() -> Result<Self> {
        let old =
            std::fs::read_to_string(BPF_STATS).with_context(|| format!("reading {BPF_STATS}"))?;
        std::fs::write(BPF_STATS, "1\n").with_context(|| format!("writing {BPF_STATS}"))?;
        Ok(Self {
            old: old.trim().to_string(),
        })
    }
}

impl Drop for BpfStats {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(BPF_STATS, format!("{}\n", self.old)) {
            eprintln!(
                "warning: could not restore {BPF_STATS} to {}: {e}",
                self.old
            );
        }
    }
}

fn int(d: &Dict, key: &str) -> u64 {
    d.get(key)
        .and_then(Value::as_int)
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(0)
}

/// Counts the RTP streams of one `query` reply and their XDP state.
pub fn count_reply(reply: &Dict) -> XdpCount {
    let mut c = XdpCount {
        calls: 1,
        ..XdpCount::default()
    };
    let Some(tags) = reply.get("tags").and_then(Value::as_dict) else {
        return c;
    };
    for (_, leg) in tags.iter() {
        let medias = leg
            .as_dict()
            .and_then(|l| l.get("medias"))
            .and_then(Value::as_list)
            .unwrap_or(&[]);
        for media in medias {
            let streams = media
                .as_dict()
                .and_then(|m| m.get("streams"))
                .and_then(Value::as_list)
                .unwrap_or(&[]);
            for stream in streams.iter().filter_map(Value::as_dict) {
                let is_rtp = stream
                    .get("flags")
                    .and_then(Value::as_list)
                    .is_some_and(|f| f.iter().any(|v| v.as_str() == Some("RTP")));
                if !is_rtp {
                    continue;
                }
                c.rtp_streams += 1;
                if let Some(stats) = stream.get("stats").and_then(Value::as_dict) {
                    c.stats_packets += int(stats, "packets");
                }
                if let Some(x) = stream.get("XDP").and_then(Value::as_dict) {
                    c.active += u64::from(int(x, "active") != 0);
                    c.xdp_packets += int(x, "packets");
                }
            }
        }
    }
    c
}

fn query(client: &mut Client, call: &CallIds) -> Result<Dict> {
    let req = Dict::new()
        .with("command", "query")
        .with("call-id", call.call_id.as_str());
    let reply = client.request(&req).context("query")?;
    match reply.get("result").and_then(Value::as_str) {
        Some("ok") => Ok(reply),
        other => anyhow::bail!("query: result {other:?}"),
    }
}

/// Queries `calls` one after another and sums their XDP state.
pub fn count(client: &mut Client, calls: &[&CallIds]) -> XdpCount {
    let mut total = XdpCount::default();
    for call in calls {
        match query(client, call) {
            Ok(reply) => total.add(count_reply(&reply)),
            Err(_) => {
                total.calls += 1;
                total.query_errors += 1;
            }
        }
    }
    total
}

/// Up to `n` calls spread evenly over `ids`.
pub fn sample(ids: &[CallIds], n: usize) -> Vec<&CallIds> {
    if ids.len() <= n {
        return ids.iter().collect();
    }
    (0..n).map(|k| &ids[k * ids.len() / n]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(flags: &[&str], packets: i64, xdp: Option<(i64, i64)>) -> Value {
        let flags: Vec<Value> = flags.iter().map(|&f| f.into()).collect();
        let mut d = Dict::new().with("flags", flags).with(
            "stats",
            Dict::new().with("packets", packets).with("bytes", 0i64),
        );
        if let Some((active, p)) = xdp {
            d.insert(
                "XDP",
                Dict::new()
                    .with("active", active)
                    .with("packets", p)
                    .with("bytes", p * 172),
            );
        }
        d.into()
    }

    fn leg(streams: Vec<Value>) -> Dict {
        let media: Value = Dict::new().with("streams", streams).into();
        Dict::new().with("medias", vec![media])
    }

    #[test]
    fn counts_active_rtp_streams() {
        let a = leg(vec![
            stream(&["RTP", "RTCP-mux"], 600, Some((1, 599))),
            stream(&["RTCP"], 0, None),
        ]);
        let b = leg(vec![
            stream(&["RTP"], 600, None),
            stream(&["RTCP"], 0, None),
        ]);
        let reply = Dict::new()
            .with("result", "ok")
            .with("tags", Dict::new().with("a0", a).with("b0", b));
        assert_eq!(
            count_reply(&reply),
            XdpCount {
                calls: 1,
                query_errors: 0,
                rtp_streams: 2,
                active: 1,
                xdp_packets: 599,
                stats_packets: 1200,
            }
        );
    }

    #[test]
    fn reads_xdp_program_fdinfo() {
        let xdp = "pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1039\nprog_type:\t6\nprog_jited:\t1\nprog_tag:\tfa0ff4148c6ad1a9\nmemlock:\t8192\nprog_id:\t252\nrun_time_ns:\t1500\nrun_cnt:\t10\nrecursion_misses:\t0\nverified_insns:\t960\n";
        assert_eq!(parse_fdinfo(xdp), Some((252, 1500, 10)));
        let socket_filter = xdp.replace("prog_type:\t6", "prog_type:\t1");
        assert_eq!(parse_fdinfo(&socket_filter), None);
        assert_eq!(parse_fdinfo("pos:\t0\nflags:\t02\n"), None);
        let before = ProgRuns {
            runs: 10,
            run_time_ns: 1500,
            ns_per_run: None,
        };
        let after = ProgRuns {
            runs: 30,
            run_time_ns: 5500,
            ns_per_run: None,
        };
        assert_eq!(after.since(&before).ns_per_run, Some(200.0));
    }

    #[test]
    fn samples_spread_calls() {
        let ids: Vec<CallIds> = (0..10).map(|i| CallIds::new(0, i)).collect();
        let s: Vec<&str> = sample(&ids, 3).iter().map(|c| c.to_tag.as_str()).collect();
        assert_eq!(s, ["b0", "b3", "b6"]);
        assert_eq!(sample(&ids, 20).len(), 10);
    }
}

//! Process CPU time from `/proc/<pid>/stat` (utime + stime, all threads).

use std::time::Duration;

use anyhow::{Context, Result};

use crate::sys;

/// CPU time a process has used so far (user + system, all threads).
pub fn process_cpu(pid: u32) -> Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_stat(&text, sys::clock_ticks_per_sec()).with_context(|| format!("parsing {path}"))
}

/// utime + stime of a `/proc/<pid>/stat` line, converted from ticks.
fn parse_stat(text: &str, ticks_per_sec: u64) -> Option<Duration> {
    // The command name (field 2) may contain spaces and parentheses: skip past the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After ')' come field 3 (state) ... utime is field 14, stime field 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_nanos(
        ticks * 1_000_000_000 / ticks_per_sec.max(1),
    ))
}

/// Non-idle CPU time of the whole machine (`/proc/stat` line `cpu`:
/// everything but idle and iowait; guest time is already in user).
pub fn system_busy() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let busy: u64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| v.get(i)).sum();
    let tps = sys::clock_ticks_per_sec().max(1);
    Some(Duration::from_nanos(busy * 1_000_000_000 / tps))
}

/// The CPUs a process may run on (`Cpus_allowed_list`), for the record.
pub fn cpus_allowed(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|v| v.trim().to_string())
}

/// A CPU-time reading of the relay and of this process at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Relay CPU so far, if a relay pid is known.
    pub relay: Option<Duration>,
    /// This process's CPU so far.
    pub own: Option<Duration>,
    /// Busy CPU of the whole machine so far (all processes, irq, steal).
    pub system: Option<Duration>,
    /// CLOCK_MONOTONIC at the reading.
    pub at_ns: u64,
}

impl Sample {
    /// Reads both counters now.
    pub fn take(relay_pid: Option<u32>) -> Self {
        Self {
            relay: relay_pid.and_then(|p| process_cpu(p).ok()),
            own: process_cpu(std::process::id()).ok(),
            system: system_busy(),
            at_ns: sys::now_ns(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_name() {
        let line =
            "1234 (my (od) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1 2 3";
        assert_eq!(parse_stat(line, 100), Some(Duration::from_secs(3)));
    }
}

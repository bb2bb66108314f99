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

/// The `cpu` line of `/proc/stat` (user nice system idle iowait irq
/// softirq steal ..., in ticks) and its `processes` counter (forks since
/// boot).
fn parse_proc_stat(text: &str) -> (Option<Vec<u64>>, Option<u64>) {
    let columns = text.lines().find(|l| l.starts_with("cpu ")).map(|line| {
        line.split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect()
    });
    let forks = text
        .lines()
        .find_map(|l| l.strip_prefix("processes "))
        .and_then(|v| v.trim().parse().ok());
    (columns, forks)
}

/// Idle time of the whole machine: idle + iowait. With NO_HZ (this VM's
/// kernel) the kernel reads idle from its precise idle-sleep clocks, while
/// the busy columns (user, system, softirq, ...) are sampled at the tick
/// (250 Hz here, no `CONFIG_IRQ_TIME_ACCOUNTING`): a workload that wakes
/// for microseconds at a time escapes ticks and is undercounted there.
/// Busy time is therefore taken as CPUs x wall time minus this.
const IDLE: [usize; 2] = [3, 4];
/// Time the whole machine spent in hard and soft interrupts (`irq` +
/// `softirq`). With tick-based accounting (this VM's kernel: no
/// `CONFIG_IRQ_TIME_ACCOUNTING`) a tick that lands in a softirq raised by
/// a process's own syscall counts here *and* in that process's stime.
const IRQ: [usize; 2] = [5, 6];

fn ticks(columns: &[u64], which: &[usize]) -> Duration {
    let busy: u64 = which.iter().filter_map(|&i| columns.get(i)).sum();
    let tps = sys::clock_ticks_per_sec().max(1);
    Duration::from_nanos(busy * 1_000_000_000 / tps)
}

/// `PF_KTHREAD` in the `flags` field of `/proc/<pid>/stat`.
const PF_KTHREAD: u64 = 0x0020_0000;

/// One userspace process's own CPU so far (not its reaped children's:
/// `cutime` jumps at reap time by the child's whole life, most of it
/// possibly before the window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProcCpu {
    /// Start time in ticks since boot (tells a reused pid apart).
    start: u64,
    /// utime + stime, ticks.
    ticks: u64,
}

/// `(is kernel thread, ProcCpu)` of a `/proc/<pid>/stat` line.
fn parse_proc(text: &str) -> Option<(bool, ProcCpu)> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Index k here is field k + 3 of proc(5).
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    let flags = num(6)?;
    let ticks = num(11)? + num(12)?;
    Some((
        flags & PF_KTHREAD != 0,
        ProcCpu {
            start: num(19)?,
            ticks,
        },
    ))
}

/// CPU so far of every userspace process but those in `exclude` (this
/// tool, the relay); kernel threads (ksoftirqd, kworkers) are left out
/// because they do the kernel's network work.
pub fn foreign_processes(exclude: &[u32]) -> Option<Foreign> {
    let mut out = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if exclude.contains(&pid) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some((false, cpu)) = parse_proc(&text) {
            out.insert(pid, cpu);
        }
    }
    Some(Foreign(out))
}

/// Userspace processes other than this tool and the relay, read at one
/// moment (see [`foreign_processes`]).
#[derive(Debug, Clone, Default)]
pub struct Foreign(std::collections::HashMap<u32, ProcCpu>);

impl Foreign {
    /// CPU the processes present in both readings used in between.
    /// Processes that started or ended between the readings escape it: a
    /// lower bound of the noise.
    pub fn used_since(&self, before: &Self) -> Duration {
        let ticks: u64 = self
            .0
            .iter()
            .filter_map(|(pid, now)| {
                let then = before.0.get(pid)?;
                (then.start == now.start).then(|| now.ticks.saturating_sub(then.ticks))
            })
            .sum();
        let tps = sys::clock_ticks_per_sec().max(1);
        Duration::from_nanos(ticks * 1_000_000_000 / tps)
    }
}

/// The CPUs a process may run on (`Cpus_allowed_list`), for the record.
pub fn cpus_allowed(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|v| v.trim().to_string())
}

/// A CPU-time reading of the relay and of this process at one moment.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Relay CPU so far, if a relay pid is known.
    pub relay: Option<Duration>,
    /// This process's CPU so far.
    pub own: Option<Duration>,
    /// Idle + iowait time of the whole machine so far (precise, see
    /// [`IDLE`]); busy = CPUs x wall - idle.
    pub idle: Option<Duration>,
    /// Interrupt and softirq time of the whole machine so far.
    pub softirq: Option<Duration>,
    /// Processes forked on the machine since boot (neither this tool nor
    /// the relay forks during a window: anything here is someone else).
    pub forks: Option<u64>,
    /// Other userspace processes (noise, e.g. a compiler running meanwhile).
    pub foreign: Option<Foreign>,
    /// CLOCK_MONOTONIC at the reading.
    pub at_ns: u64,
}

/// Busy CPU time of the whole machine between two samples: online CPUs
/// times the wall time between them, less the idle time (all processes,
/// kernel threads, irq, softirq, steal).
pub fn machine_busy(before: &Sample, after: &Sample, cpus: usize) -> Option<Duration> {
    let (b, a) = (before.idle?, after.idle?);
    let wall = Duration::from_nanos(after.at_ns.saturating_sub(before.at_ns));
    Some((wall * u32::try_from(cpus).ok()?).saturating_sub(a.saturating_sub(b)))
}

impl Sample {
    /// Reads the counters now (the cheap ones first, close together).
    pub fn take(relay_pid: Option<u32>) -> Self {
        let own_pid = std::process::id();
        let at_ns = sys::now_ns();
        let relay = relay_pid.and_then(|p| process_cpu(p).ok());
        let own = process_cpu(own_pid).ok();
        let (columns, forks) =
            std::fs::read_to_string("/proc/stat").map_or((None, None), |t| parse_proc_stat(&t));
        let idle = columns.as_deref().map(|v| ticks(v, &IDLE));
        let softirq = columns.as_deref().map(|v| ticks(v, &IRQ));
        let exclude: Vec<u32> = [Some(own_pid), relay_pid].into_iter().flatten().collect();
        Self {
            relay,
            own,
            idle,
            softirq,
            forks,
            foreign: foreign_processes(&exclude),
            at_ns,
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

    #[test]
    fn parses_proc_stat() {
        let text = "cpu  10 0 20 300 4 0 5 1 0 0\ncpu0 5 0 10 150 2 0 3 1 0 0\nintr 1 2\nctxt 99\nbtime 1\nprocesses 4242\nprocs_running 1\n";
        let (columns, forks) = parse_proc_stat(text);
        let columns = columns.expect("cpu line");
        assert_eq!(columns[3], 300);
        assert_eq!(forks, Some(4242));
    }

    #[test]
    fn parses_process_and_kernel_thread() {
        // flags 4194560 = 0x400100: a userspace process.
        let user = "1234 (cargo) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 3 0 999 2 3";
        assert_eq!(
            parse_proc(user),
            Some((
                false,
                ProcCpu {
                    start: 999,
                    ticks: 300
                }
            ))
        );
        // flags 0x208040: PF_KTHREAD set (ksoftirqd).
        let kthread = "14 (ksoftirqd/0) S 2 0 0 0 -1 2129984 0 0 0 0 0 900 0 0 20 0 1 0 5 0 0";
        assert_eq!(parse_proc(kthread).map(|(k, _)| k), Some(true));
    }

    #[test]
    fn foreign_delta_skips_reused_pids() {
        let mk = |v: &[(u32, u64, u64)]| {
            Foreign(
                v.iter()
                    .map(|&(pid, start, ticks)| (pid, ProcCpu { start, ticks }))
                    .collect(),
            )
        };
        let before = mk(&[(1, 10, 100), (2, 20, 50), (3, 30, 5)]);
        let after = mk(&[(1, 10, 150), (2, 99, 70), (4, 40, 10)]);
        let tps = sys::clock_ticks_per_sec().max(1);
        assert_eq!(
            after.used_since(&before),
            Duration::from_nanos(50 * 1_000_000_000 / tps)
        );
    }
}

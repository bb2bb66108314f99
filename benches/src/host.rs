//! What machine a result came from: CPU model, core count, kernel.

use serde::Serialize;

/// Facts about the host recorded with every run.
#[derive(Debug, Clone, Serialize)]
pub struct HostInfo {
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Logical CPUs online.
    pub cpus: usize,
    /// `uname -r`.
    pub kernel: String,
    /// CPUs this load generator may run on.
    pub loadgen_cpus: Option<String>,
}

impl HostInfo {
    /// Reads the facts from `/proc`.
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|v| v.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        Self {
            cpu_model,
            cpus: online_cpus().len(),
            kernel,
            loadgen_cpus: crate::cpu::cpus_allowed(std::process::id()),
        }
    }
}

/// The online CPUs (`/sys/devices/system/cpu/online`), regardless of this
/// process's own pinning.
pub fn online_cpus() -> Vec<usize> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    out.extend(a..=b.min(a + 4096));
                }
            }
            None => out.extend(part.parse::<usize>().ok()),
        }
    }
    if out.is_empty() {
        out = (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect();
    }
    out
}

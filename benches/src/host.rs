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
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            kernel,
            loadgen_cpus: crate::cpu::cpus_allowed(std::process::id()),
        }
    }
}

//! Whether the real peers a test needs are installed.

use std::path::{Path, PathBuf};

/// Where `tool` is, searching `PATH` plus the sbin directories (Kamailio
/// installs to `/usr/sbin`).
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            ["/usr/local/sbin", "/usr/sbin", "/sbin"]
                .iter()
                .map(PathBuf::from),
        )
        .map(|d| d.join(tool))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Whether missing peers are a failure (in CI, or `SLUICE_REQUIRE_PEERS=1`)
/// rather than a skip.
pub fn peers_required() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
        || std::env::var("SLUICE_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// Checks that `tool` is installed. Missing: panics when peers are
/// required, otherwise prints `SKIP: <test>: <tool> not installed` to stderr
/// and returns false (the caller then returns early).
pub fn require(test: &str, tool: &str) -> bool {
    if which(tool).is_some() {
        return true;
    }
    if peers_required() {
        panic!("{test}: {tool} not installed (run scripts/setup.sh); peers are required here");
    }
    eprintln!("SKIP: {test}: {tool} not installed");
    false
}

/// [`require`] for several tools; reports every missing one.
pub fn require_all(test: &str, tools: &[&str]) -> bool {
    let missing = tools.iter().filter(|t| !require(test, t)).count();
    missing == 0
}

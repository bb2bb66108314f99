//! Network namespaces a test creates (and removes on drop, even when the
//! test fails), veth links into them, and sockets bound inside them.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::{Command, Output};

/// Whether this process runs as root (namespaces and XDP need it).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Runs `cmd args` and panics with its stderr if it fails.
pub fn run(cmd: &str, args: &[&str]) -> Output {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out
}

/// A named network namespace; deleted on drop.
#[derive(Debug)]
pub struct Namespace {
    name: String,
}

impl Namespace {
    /// Creates namespace `name` with its loopback up.
    pub fn create(name: &str) -> Self {
        // A namespace left by a crashed earlier run of the same name.
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        run("ip", &["netns", "add", name]);
        let ns = Self {
            name: name.to_string(),
        };
        ns.exec("ip", &["link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs a command inside the namespace; panics if it fails.
    pub fn exec(&self, cmd: &str, args: &[&str]) -> Output {
        let mut full = vec!["netns", "exec", self.name.as_str(), cmd];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// A UDP socket bound to `addr` inside the namespace (usable from any
    /// thread afterwards: a socket stays in the namespace it was made in).
    pub fn bind_udp(&self, addr: SocketAddr) -> UdpSocket {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            #[allow(unsafe_code, reason = "setns(2) has no safe wrapper in std")]
            // SAFETY: setns only moves this short-lived thread into the
            // namespace behind a descriptor we hold open; no memory is
            // shared with the call.
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            UdpSocket::bind(addr).unwrap_or_else(|e| panic!("binding {addr} in {path}: {e}"))
        })
        .join()
        .expect("namespace thread")
    }

    /// A counter from the namespace's `/proc/net/snmp6` (e.g.
    /// `Udp6InCsumErrors`).
    pub fn snmp6(&self, field: &str) -> u64 {
        let out = self.exec("cat", &["/proc/net/snmp6"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| {
                let mut f = l.split_whitespace();
                (f.next() == Some(field)).then(|| f.next()?.parse().ok())?
            })
            .unwrap_or_else(|| panic!("no {field} in /proc/net/snmp6"))
    }

    /// A counter from the namespace's `/proc/net/snmp` (e.g. `Udp`,
    /// `InCsumErrors`).
    pub fn snmp(&self, group: &str, field: &str) -> u64 {
        let out = self.exec("cat", &["/proc/net/snmp"]);
        snmp_value(&String::from_utf8_lossy(&out.stdout), group, field)
            .unwrap_or_else(|| panic!("no {group} {field} in /proc/net/snmp"))
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Reads `field` of `group` from `/proc/net/snmp` text (a header line of
/// names followed by a line of values).
pub fn snmp_value(text: &str, group: &str, field: &str) -> Option<u64> {
    let prefix = format!("{group}:");
    let mut lines = text.lines().filter(|l| l.starts_with(&prefix));
    let names = lines.next()?;
    let values = lines.next()?;
    let index = names.split_whitespace().position(|n| n == field)?;
    values.split_whitespace().nth(index)?.parse().ok()
}

/// A veth pair from the root namespace into `ns`; deleted on drop.
#[derive(Debug)]
pub struct Veth {
    root_end: String,
}

impl Veth {
    /// Creates `root_end` here and `ns_end` inside `ns`, addresses them
    /// (`root_cidr`, `ns_cidr`), brings both up, and routes everything in
    /// `ns` through `root_ip`.
    pub fn create(
        ns: &Namespace,
        root_end: &str,
        ns_end: &str,
        root_cidr: &str,
        ns_cidr: &str,
    ) -> Self {
        let _ = Command::new("ip").args(["link", "del", root_end]).output();
        run(
            "ip",
            &[
                "link",
                "add",
                root_end,
                "type",
                "veth",
                "peer",
                "name",
                ns_end,
                "netns",
                ns.name(),
            ],
        );
        let veth = Self {
            root_end: root_end.to_string(),
        };
        run("ip", &["addr", "add", root_cidr, "dev", root_end]);
        run("ip", &["link", "set", root_end, "up"]);
        ns.exec("ip", &["addr", "add", ns_cidr, "dev", ns_end]);
        ns.exec("ip", &["link", "set", ns_end, "up"]);
        let root_ip = root_cidr.split('/').next().unwrap_or(root_cidr);
        ns.exec("ip", &["route", "add", "default", "via", root_ip]);
        veth
    }

    /// Adds IPv6 addresses to both ends (no duplicate address detection,
    /// so they work at once) and routes IPv6 in `ns` through `root_ip6`.
    pub fn add_ipv6(&self, ns: &Namespace, ns_end: &str, root_cidr6: &str, ns_cidr6: &str) {
        run(
            "ip",
            &[
                "-6",
                "addr",
                "add",
                root_cidr6,
                "dev",
                &self.root_end,
                "nodad",
            ],
        );
        ns.exec(
            "ip",
            &["-6", "addr", "add", ns_cidr6, "dev", ns_end, "nodad"],
        );
        let root_ip6 = root_cidr6.split('/').next().unwrap_or(root_cidr6);
        ns.exec("ip", &["-6", "route", "add", "default", "via", root_ip6]);
    }

    /// The end in the root namespace.
    pub fn root_end(&self) -> &str {
        &self.root_end
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.root_end])
            .output();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_field_of_proc_net_snmp() {
        let text = "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors\n\
                    Udp: 10 2 3 4 0 0 7\n";
        assert_eq!(snmp_value(text, "Udp", "InCsumErrors"), Some(7));
        assert_eq!(snmp_value(text, "Udp", "NoPorts"), Some(2));
        assert_eq!(snmp_value(text, "Tcp", "InSegs"), None);
    }
}

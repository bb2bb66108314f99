//! Callers and callees in their own network namespaces, each joined to
//! the root namespace (where the relay runs) by a veth pair.
//!
//! ```text
//!  ns callers              root (relay)                ns callees
//!  <a1> X.2/26 ---veth--- <a0> X.1/26   <b0> X.65/26 ---veth--- <b1> X.66/26
//! ```
//! The relay binds `X.1`; the callees reach it through `X.65` (the root
//! namespace delivers locally to any of its addresses). Everything is
//! created by [`Topology::create`] and removed when the value drops.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The namespaces and links of one run; removed on drop.
#[derive(Debug)]
pub struct Topology {
    caller_ns: String,
    callee_ns: String,
    root_links: [String; 2],
    /// Address the callers bind.
    pub caller_ip: IpAddr,
    /// Address the callees bind.
    pub callee_ip: IpAddr,
    /// Address the relay must use as its media interface.
    pub relay_ip: IpAddr,
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .with_context(|| format!("running ip {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Best effort: failures are expected when there is nothing to remove.
fn ip_quiet(args: &[&str]) {
    let _ = Command::new("ip").args(args).output();
}

impl Topology {
    /// Creates the namespaces in `subnet` (the first three octets of a
    /// private /24, e.g. `[10, 213, 77]`), named after this process.
    pub fn create(subnet: [u8; 3]) -> Result<Self> {
        let pid = std::process::id();
        let [o1, o2, o3] = subnet;
        let addr = |last: u8| Ipv4Addr::new(o1, o2, o3, last);
        let topo = Self {
            caller_ns: format!("slcbench-{pid}-a"),
            callee_ns: format!("slcbench-{pid}-b"),
            root_links: [format!("sb{pid}a0"), format!("sb{pid}b0")],
            caller_ip: IpAddr::V4(addr(2)),
            callee_ip: IpAddr::V4(addr(66)),
            relay_ip: IpAddr::V4(addr(1)),
        };
        // From here on, drop removes whatever part was built.
        topo.build(addr(1), addr(2), addr(65), addr(66))?;
        Ok(topo)
    }

    fn build(&self, a0: Ipv4Addr, a1: Ipv4Addr, b0: Ipv4Addr, b1: Ipv4Addr) -> Result<()> {
        let pid = std::process::id();
        let sides = [
            (
                &self.caller_ns,
                &self.root_links[0],
                format!("sb{pid}a1"),
                a0,
                a1,
            ),
            (
                &self.callee_ns,
                &self.root_links[1],
                format!("sb{pid}b1"),
                b0,
                b1,
            ),
        ];
        for (ns, root_if, ns_if, root_ip, ns_ip) in sides {
            ip(&["netns", "add", ns])?;
            ip(&[
                "link", "add", root_if, "type", "veth", "peer", "name", &ns_if, "netns", ns,
            ])?;
            ip(&["addr", "add", &format!("{root_ip}/26"), "dev", root_if])?;
            ip(&["link", "set", root_if, "up"])?;
            let in_ns = |args: &[&str]| {
                let mut full = vec!["-n", ns.as_str()];
                full.extend_from_slice(args);
                ip(&full)
            };
            in_ns(&["link", "set", "lo", "up"])?;
            in_ns(&["addr", "add", &format!("{ns_ip}/26"), "dev", &ns_if])?;
            in_ns(&["link", "set", &ns_if, "up"])?;
            in_ns(&["route", "add", "default", "via", &root_ip.to_string()])?;
        }
        Ok(())
    }

    /// The namespace file of the callers, for `setns`.
    pub fn caller_ns_path(&self) -> PathBuf {
        PathBuf::from(format!("/var/run/netns/{}", self.caller_ns))
    }

    /// The namespace file of the callees, for `setns`.
    pub fn callee_ns_path(&self) -> PathBuf {
        PathBuf::from(format!("/var/run/netns/{}", self.callee_ns))
    }

    /// Removes everything; safe to call more than once.
    pub fn cleanup(&self) {
        // Deleting a namespace destroys its veth end and so the pair.
        ip_quiet(&["netns", "del", &self.caller_ns]);
        ip_quiet(&["netns", "del", &self.callee_ns]);
        for link in &self.root_links {
            ip_quiet(&["link", "del", link]);
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.cleanup();
    }
}

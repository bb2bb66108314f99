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
//!
//! Every relay of a run sees the same links, prepared once for the XDP
//! fast path (see the platform guide's veth notes):
//! - `net.ipv4.conf.<root end>.forwarding=1` on both root ends (the
//!   kernel's `bpf_fib_lookup` refuses otherwise; it also lets the root
//!   namespace route between the two sides, which the `direct` baseline
//!   uses);
//! - `tx off` on the namespace ends: local sockets would otherwise hand a
//!   native-mode XDP program frames with a partial UDP checksum;
//! - `gro on` on the namespace ends: a frame redirected into a veth is
//!   only delivered if the peer has GRO (or an XDP program).

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
    ns_links: [String; 2],
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

/// Runs `ethtool ARGS` inside namespace `ns`.
fn ethtool_in(ns: &str, args: &[&str]) -> Result<()> {
    let mut full = vec!["netns", "exec", ns, "ethtool"];
    full.extend_from_slice(args);
    let out = Command::new("ip")
        .args(&full)
        .output()
        .with_context(|| format!("running ip {}", full.join(" ")))?;
    if !out.status.success() {
        bail!(
            "ethtool {} in {ns} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Whether `ip -d link show` output lists an attached XDP program
/// (`xdp`, `xdpgeneric`, `xdpdrv` or `xdpoffload` followed by `prog/xdp`
/// or an `id`).
fn has_xdp(text: &str) -> bool {
    text.contains("prog/xdp")
        || text.split_whitespace().any(|w| {
            matches!(
                w,
                "xdp" | "xdpgeneric" | "xdpdrv" | "xdpoffload" | "xdpmulti"
            )
        })
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
            ns_links: [format!("sb{pid}a1"), format!("sb{pid}b1")],
            caller_ip: IpAddr::V4(addr(2)),
            callee_ip: IpAddr::V4(addr(66)),
            relay_ip: IpAddr::V4(addr(1)),
        };
        // From here on, drop removes whatever part was built.
        topo.build(addr(1), addr(2), addr(65), addr(66))?;
        Ok(topo)
    }

    fn build(&self, a0: Ipv4Addr, a1: Ipv4Addr, b0: Ipv4Addr, b1: Ipv4Addr) -> Result<()> {
        let sides = [
            (
                &self.caller_ns,
                &self.root_links[0],
                &self.ns_links[0],
                a0,
                a1,
            ),
            (
                &self.callee_ns,
                &self.root_links[1],
                &self.ns_links[1],
                b0,
                b1,
            ),
        ];
        for (ns, root_if, ns_if, root_ip, ns_ip) in sides {
            ip(&["netns", "add", ns])?;
            ip(&[
                "link", "add", root_if, "type", "veth", "peer", "name", ns_if, "netns", ns,
            ])?;
            ip(&["addr", "add", &format!("{root_ip}/26"), "dev", root_if])?;
            ip(&["link", "set", root_if, "up"])?;
            let in_ns = |args: &[&str]| {
                let mut full = vec!["-n", ns.as_str()];
                full.extend_from_slice(args);
                ip(&full)
            };
            in_ns(&["link", "set", "lo", "up"])?;
            in_ns(&["addr", "add", &format!("{ns_ip}/26"), "dev", ns_if])?;
            in_ns(&["link", "set", ns_if, "up"])?;
            in_ns(&["route", "add", "default", "via", &root_ip.to_string()])?;
            // The XDP fast path's prerequisites, for every relay alike.
            std::fs::write(
                format!("/proc/sys/net/ipv4/conf/{root_if}/forwarding"),
                "1\n",
            )
            .with_context(|| format!("setting net.ipv4.conf.{root_if}.forwarding=1"))?;
            ethtool_in(ns, &["-K", ns_if, "tx", "off"])?;
            ethtool_in(ns, &["-K", ns_if, "gro", "on"])?;
        }
        Ok(())
    }

    /// The two veth ends in the root namespace (callers' side first): the
    /// interfaces the XDP fast path attaches to.
    pub fn root_links(&self) -> [&str; 2] {
        [&self.root_links[0], &self.root_links[1]]
    }

    /// One line describing the links' settings as they are now (read
    /// back, not assumed), for the report.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (root_if, ns_if, ns) in [
            (&self.root_links[0], &self.ns_links[0], &self.caller_ns),
            (&self.root_links[1], &self.ns_links[1], &self.callee_ns),
        ] {
            let fwd =
                std::fs::read_to_string(format!("/proc/sys/net/ipv4/conf/{root_if}/forwarding"))
                    .map_or_else(|_| "?".into(), |s| s.trim().to_string());
            let features = Command::new("ip")
                .args(["netns", "exec", ns, "ethtool", "-k", ns_if])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            let feature = |name: &str| {
                features
                    .lines()
                    .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
                    .map_or("?", |v| v.split_whitespace().next().unwrap_or("?"))
                    .to_string()
            };
            parts.push(format!(
                "{root_if} forwarding={fwd}, {ns_if} tx-checksumming {} generic-receive-offload {}",
                feature("tx-checksumming"),
                feature("generic-receive-offload")
            ));
        }
        parts.join("; ")
    }

    /// Root ends that still carry an XDP program (a relay that died
    /// without detaching would leave one behind for the next relay).
    pub fn xdp_attached(&self) -> Vec<String> {
        self.root_links
            .iter()
            .filter(|link| {
                Command::new("ip")
                    .args(["-d", "link", "show", "dev", link])
                    .output()
                    .is_ok_and(|o| has_xdp(&String::from_utf8_lossy(&o.stdout)))
            })
            .cloned()
            .collect()
    }

    /// Detaches any XDP program from the root ends (all modes).
    pub fn detach_xdp(&self) {
        for link in &self.root_links {
            for mode in ["xdp", "xdpgeneric", "xdpdrv"] {
                ip_quiet(&["link", "set", "dev", link, mode, "off"]);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_attached_xdp() {
        let plain = "5: sb1a0@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\n    link/ether 1a:2b:3c:4d:5e:6f brd ff:ff:ff:ff:ff:ff link-netns slcbench-1-a\n    veth addrgenmode eui64";
        assert!(!has_xdp(plain));
        let native = "5: sb1a0@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 xdp qdisc noqueue state UP\n    link/ether 1a:2b:3c:4d:5e:6f brd ff:ff:ff:ff:ff:ff\n    prog/xdp id 42 name sluice_xdp tag 0123456789abcdef jited";
        assert!(has_xdp(native));
        let generic = "5: sb1a0@if4: <UP> mtu 1500 xdpgeneric qdisc noqueue";
        assert!(has_xdp(generic));
    }
}

//! Per-socket UDP receive-queue drops from `/proc/net/udp`, to tell a
//! relay that dropped packets from a load tool that could not keep up.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use anyhow::{anyhow, Context, Result};

use crate::sys;

/// Parses `0100007F:1F90` (little-endian IPv4 hex : port hex).
fn parse_addr(field: &str) -> Option<SocketAddr> {
    let (ip, port) = field.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::from(u32::from_be(ip))),
        port,
    ))
}

/// Sums the `drops` column over sockets bound to any of `addrs`.
fn sum_drops(table: &str, addrs: &HashSet<SocketAddr>) -> u64 {
    let ports: HashSet<u16> = addrs.iter().map(SocketAddr::port).collect();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local = parse_addr(f.get(1)?)?;
            let drops: u64 = f.last()?.parse().ok()?;
            let hit = addrs.contains(&local)
                || (local.ip().is_unspecified() && ports.contains(&local.port()));
            hit.then_some(drops)
        })
        .sum()
}

/// Drops of the UDP sockets bound to `addrs` in the network namespace
/// `ns` (the caller's own when `None`).
pub fn drops(addrs: &HashSet<SocketAddr>, ns: Option<&Path>) -> Result<u64> {
    let read = || -> Result<u64> {
        if let Some(path) = ns {
            sys::enter_netns(path).with_context(|| format!("setns {}", path.display()))?;
        }
        // thread-self: the table of the namespace this thread is in.
        let table = std::fs::read_to_string("/proc/thread-self/net/udp")?;
        Ok(sum_drops(&table, addrs))
    };
    std::thread::scope(|s| {
        s.spawn(read)
            .join()
            .map_err(|_| anyhow!("reader panicked"))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_matching_sockets() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
   1: 0100007F:1F90 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 5\n\
   2: 0100007F:1F91 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 7\n";
        let addrs: HashSet<SocketAddr> = ["127.0.0.1:8080".parse().expect("literal")].into();
        assert_eq!(sum_drops(table, &addrs), 5);
    }
}

//! Loopback UDP port blocks that do not collide between tests running in
//! parallel threads of one process, or in concurrent test processes.
//!
//! Blocks come from 10000..32000, below Linux's ephemeral range
//! (32768..60999) so that kernel-chosen ports never land inside them.

use std::collections::HashSet;
use std::fs;
use std::sync::atomic::{AtomicU32, Ordering};

const FIRST: u32 = 10_000;
const END: u32 = 32_000;
/// Size of every block handed out.
pub const BLOCK: u16 = 200;

/// A contiguous range of UDP ports reserved for one test.
#[derive(Debug, Clone, Copy)]
pub struct PortBlock {
    base: u16,
    next: u16,
}

impl PortBlock {
    /// Reserves a fresh block of [`BLOCK`] ports not bound by anything now.
    pub fn new() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let blocks = (END - FIRST) / u32::from(BLOCK);
        // Different processes start at different blocks; threads in one
        // process take consecutive ones.
        let start = std::process::id().wrapping_mul(7919) % blocks;
        for _ in 0..blocks {
            let i = (start + COUNTER.fetch_add(1, Ordering::Relaxed)) % blocks;
            let base = u16::try_from(FIRST + i * u32::from(BLOCK))
                .expect("blocks end below 32000, which fits u16");
            let bound = bound_udp_ports();
            if (base..base + BLOCK).all(|p| !bound.contains(&p)) {
                return Self { base, next: base };
            }
        }
        panic!("no free block of {BLOCK} UDP ports in {FIRST}..{END}");
    }

    /// First port of the block.
    pub fn base(&self) -> u16 {
        self.base
    }

    /// Last port of the block.
    pub fn last(&self) -> u16 {
        self.base + BLOCK - 1
    }

    /// Takes the next `n` consecutive ports, starting at an even port (RTP
    /// convention: RTP even, RTCP odd); returns the first.
    pub fn take(&mut self, n: u16) -> u16 {
        if self.next % 2 == 1 {
            self.next += 1;
        }
        let p = self.next;
        assert!(
            p + n <= self.base + BLOCK,
            "port block {}..{} exhausted",
            self.base,
            self.base + BLOCK
        );
        self.next += n;
        p
    }

    /// Takes a range of `n` ports for a relay's media (`--port-min`, `--port-max`).
    pub fn take_range(&mut self, n: u16) -> (u16, u16) {
        let p = self.take(n);
        (p, p + n - 1)
    }
}

impl Default for PortBlock {
    fn default() -> Self {
        Self::new()
    }
}

/// Local UDP ports currently bound on this host (IPv4 and IPv6).
pub fn bound_udp_ports() -> HashSet<u16> {
    let mut set = HashSet::new();
    for file in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            // "  sl  local_address rem_address ..." with local as HEXIP:HEXPORT
            let Some(local) = line.split_whitespace().nth(1) else {
                continue;
            };
            if let Some((_, port)) = local.rsplit_once(':') {
                if let Ok(p) = u16::from_str_radix(port, 16) {
                    set.insert(p);
                }
            }
        }
    }
    set
}

/// Whether some socket on this host has bound UDP `port`.
pub fn udp_port_bound(port: u16) -> bool {
    bound_udp_ports().contains(&port)
}

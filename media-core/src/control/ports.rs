//! Media port allocation: even RTP ports with the odd RTCP port above,
//! per interface, handed out round-robin so a port just freed is not
//! reused at once (late packets of an old call must not reach a new one).

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};

/// A bound RTP/RTCP socket pair on consecutive ports.
#[derive(Debug)]
pub struct BoundPair {
    /// The even port.
    pub rtp_port: u16,
    /// Socket on the even port.
    pub rtp: UdpSocket,
    /// Socket on the odd port above.
    pub rtcp: UdpSocket,
}

/// Binds sockets; the seam between the allocator and the OS.
pub trait Binder {
    /// Binds a UDP socket on `addr`.
    fn bind(&mut self, addr: SocketAddr) -> io::Result<UdpSocket>;
}

/// Binds real sockets.
#[derive(Debug, Default)]
pub struct OsBinder;

impl Binder for OsBinder {
    fn bind(&mut self, addr: SocketAddr) -> io::Result<UdpSocket> {
        UdpSocket::bind(addr)
    }
}

/// Which ports of one interface are taken.
#[derive(Debug)]
pub struct PortAllocator {
    min: u16,
    max: u16,
    next: u16,
    used: BTreeSet<u16>,
}

impl PortAllocator {
    /// Ports `min..=max`; `min` is rounded up to even.
    pub fn new(min: u16, max: u16) -> Self {
        let min = min + (min & 1);
        Self {
            min,
            max,
            next: min,
            used: BTreeSet::new(),
        }
    }

    /// How many pairs the range holds.
    pub fn capacity(&self) -> usize {
        usize::from(self.max.saturating_sub(self.min).saturating_add(1) / 2)
    }

    /// Pairs in use.
    pub fn in_use(&self) -> usize {
        self.used.len()
    }

    /// Binds the next free pair on `ip`. Ports some other program holds
    /// are skipped. `None` when the range is exhausted.
    pub fn allocate(&mut self, ip: IpAddr, binder: &mut dyn Binder) -> Option<BoundPair> {
        for _ in 0..self.capacity() {
            let port = self.next;
            self.next = if port.saturating_add(2) > self.max.saturating_sub(1) {
                self.min
            } else {
                port + 2
            };
            if self.used.contains(&port) {
                continue;
            }
            let Ok(rtp) = binder.bind(SocketAddr::new(ip, port)) else {
                continue;
            };
            let Ok(rtcp) = binder.bind(SocketAddr::new(ip, port + 1)) else {
                continue;
            };
            self.used.insert(port);
            return Some(BoundPair {
                rtp_port: port,
                rtp,
                rtcp,
            });
        }
        None
    }

    /// Returns a pair (by its even port) to the pool.
    pub fn release(&mut self, rtp_port: u16) {
        self.used.remove(&rtp_port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LO: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn hands_out_even_pairs_round_robin_and_runs_out() {
        let mut ports = PortAllocator::new(41001, 41009);
        assert_eq!(ports.capacity(), 4);
        let a = ports.allocate(LO, &mut OsBinder).unwrap();
        assert_eq!(a.rtp_port, 41002);
        assert_eq!(a.rtcp.local_addr().unwrap().port(), 41003);
        let b = ports.allocate(LO, &mut OsBinder).unwrap();
        assert_eq!(b.rtp_port, 41004);
        ports.release(a.rtp_port);
        drop(a);
        // Round robin: the freed pair is not the next one handed out.
        assert_eq!(ports.allocate(LO, &mut OsBinder).unwrap().rtp_port, 41006);
        assert_eq!(ports.allocate(LO, &mut OsBinder).unwrap().rtp_port, 41008);
        assert_eq!(ports.allocate(LO, &mut OsBinder).unwrap().rtp_port, 41002);
        assert!(ports.allocate(LO, &mut OsBinder).is_none());
        assert_eq!(ports.in_use(), 4);
    }

    #[test]
    fn skips_ports_held_by_others() {
        let _squatter = UdpSocket::bind((LO, 41102)).unwrap();
        let mut ports = PortAllocator::new(41102, 41105);
        assert_eq!(ports.allocate(LO, &mut OsBinder).unwrap().rtp_port, 41104);
    }
}

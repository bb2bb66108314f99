//! Socket addresses to and from the kernel's byte layouts, without unsafe.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Reads a `sockaddr_in` / `sockaddr_in6` the kernel wrote as bytes.
pub fn from_bytes(name: &[u8]) -> Option<SocketAddr> {
    let family = i32::from(u16::from_ne_bytes([*name.first()?, *name.get(1)?]));
    let port = u16::from_be_bytes([*name.get(2)?, *name.get(3)?]);
    match family {
        libc::AF_INET => {
            let ip: [u8; 4] = name.get(4..8)?.try_into().ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
        }
        libc::AF_INET6 => {
            let flow = u32::from_be_bytes(name.get(4..8)?.try_into().ok()?);
            let ip: [u8; 16] = name.get(8..24)?.try_into().ok()?;
            let scope = u32::from_ne_bytes(name.get(24..28)?.try_into().ok()?);
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                flow,
                scope,
            )))
        }
        _ => None,
    }
}

/// Storage for a destination address handed to `sendmsg`.
#[derive(Clone, Copy)]
pub struct RawAddr {
    /// IPv4 form.
    pub v4: libc::sockaddr_in,
    /// IPv6 form.
    pub v6: libc::sockaddr_in6,
}

impl Default for RawAddr {
    fn default() -> Self {
        Self {
            v4: libc::sockaddr_in {
                sin_family: 0,
                sin_port: 0,
                sin_addr: libc::in_addr { s_addr: 0 },
                sin_zero: [0; 8],
            },
            v6: libc::sockaddr_in6 {
                sin6_family: 0,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr { s6_addr: [0; 16] },
                sin6_scope_id: 0,
            },
        }
    }
}

impl RawAddr {
    /// Stores `addr`; returns a pointer to the right form and its length.
    pub fn set(&mut self, addr: SocketAddr) -> (*mut libc::c_void, libc::socklen_t) {
        match addr {
            SocketAddr::V4(a) => {
                self.v4.sin_family = libc::AF_INET as libc::sa_family_t;
                self.v4.sin_port = a.port().to_be();
                self.v4.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
                (
                    (&raw mut self.v4).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
            SocketAddr::V6(a) => {
                self.v6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                self.v6.sin6_port = a.port().to_be();
                self.v6.sin6_flowinfo = a.flowinfo().to_be();
                self.v6.sin6_addr.s6_addr = a.ip().octets();
                self.v6.sin6_scope_id = a.scope_id();
                (
                    (&raw mut self.v6).cast(),
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_layouts() {
        let mut v4 = vec![0u8; 28];
        v4[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        v4[2..4].copy_from_slice(&5004u16.to_be_bytes());
        v4[4..8].copy_from_slice(&[10, 1, 2, 3]);
        assert_eq!(from_bytes(&v4), Some("10.1.2.3:5004".parse().unwrap()));
        let mut v6 = vec![0u8; 28];
        v6[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
        v6[2..4].copy_from_slice(&6000u16.to_be_bytes());
        v6[23] = 1;
        assert_eq!(from_bytes(&v6), Some("[::1]:6000".parse().unwrap()));
        assert_eq!(from_bytes(&[0u8; 3]), None);
        assert_eq!(from_bytes(&[0u8; 28]), None);
    }
}

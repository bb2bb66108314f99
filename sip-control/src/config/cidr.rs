//! IPv4/IPv6 network prefixes (`10.0.0.0/8`, `2001:db8::/32`) for trunk
//! allowlists.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A network prefix: an address whose host bits are all zero and a prefix
/// length (at most 32 for IPv4, 128 for IPv6).
///
/// A bare address parses as a single-host prefix (`/32` or `/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a string is not a [`Cidr`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CidrError {
    /// The part before `/` is not an IPv4 or IPv6 address.
    #[error("`{0}` is not an IPv4 or IPv6 address")]
    Address(String),
    /// The part after `/` is not a number within the family's width.
    #[error("prefix length `{given}` is not a number from 0 to {max}")]
    Prefix {
        /// The text after `/`.
        given: String,
        /// 32 or 128.
        max: u8,
    },
    /// Bits beyond the prefix length are set (`10.0.0.1/8`).
    #[error("host bits are set in `{given}`; the network is `{network}`")]
    HostBits {
        /// The text as written.
        given: String,
        /// The same prefix with its host bits cleared.
        network: Cidr,
    },
}

impl Cidr {
    /// The network address (host bits zero).
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is inside this prefix. An IPv4-mapped IPv6 address
    /// (`::ffff:10.1.2.3`, as a dual-stack socket reports IPv4 peers)
    /// matches IPv4 prefixes.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) if self.network.is_ipv4() => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            other => other,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask_v4(self.prefix);
                u32::from(ip) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask_v6(self.prefix);
                u128::from(ip) & mask == u128::from(net)
            }
            _ => false,
        }
    }
}

fn mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr_text, prefix_text) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| CidrError::Address(addr_text.to_owned()))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) => {
                // `u8::from_str` takes a leading `+`; a prefix length does not.
                let digits = !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
                match p.parse::<u8>() {
                    Ok(n) if digits && n <= max => n,
                    _ => {
                        return Err(CidrError::Prefix {
                            given: p.to_owned(),
                            max,
                        })
                    }
                }
            }
        };
        let network = match addr {
            IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & mask_v4(prefix)).into()),
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & mask_v6(prefix)).into()),
        };
        let cidr = Cidr { network, prefix };
        if network != addr {
            return Err(CidrError::HostBits {
                given: s.to_owned(),
                network: cidr,
            });
        }
        Ok(cidr)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v4_prefix_contains() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains(ip("10.255.1.2")));
        assert!(!c.contains(ip("11.0.0.0")));
        assert!(c.contains(ip("::ffff:10.1.2.3")));
        assert!(!c.contains(ip("2001:db8::1")));
        assert_eq!(c.to_string(), "10.0.0.0/8");
    }

    #[test]
    fn bare_address_is_single_host() {
        let c: Cidr = "192.0.2.7".parse().unwrap();
        assert_eq!(c.prefix_len(), 32);
        assert!(c.contains(ip("192.0.2.7")));
        assert!(!c.contains(ip("192.0.2.8")));
        let c: Cidr = "2001:db8::1".parse().unwrap();
        assert_eq!(c.prefix_len(), 128);
        assert!(c.contains(ip("2001:db8::1")));
    }

    #[test]
    fn zero_prefix_matches_family() {
        let c: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(c.contains(ip("203.0.113.9")));
        assert!(!c.contains(ip("2001:db8::1")));
        let c: Cidr = "::/0".parse().unwrap();
        assert!(c.contains(ip("2001:db8::1")));
        assert!(!c.contains(ip("203.0.113.9")));
    }

    #[test]
    fn v6_prefix_contains() {
        let c: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(c.contains(ip("2001:db8:ffff::1")));
        assert!(!c.contains(ip("2001:db9::1")));
        assert!(!c.contains(ip("10.0.0.1")));
    }

    #[test]
    fn rejects_host_bits() {
        let err = "10.0.0.1/8".parse::<Cidr>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "host bits are set in `10.0.0.1/8`; the network is `10.0.0.0/8`"
        );
        assert!(matches!(
            "2001:db8::1/64".parse::<Cidr>(),
            Err(CidrError::HostBits { .. })
        ));
    }

    #[test]
    fn rejects_bad_prefix_and_address() {
        for bad in [
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "::/129",
            "10.0.0.0/x",
        ] {
            assert!(
                matches!(bad.parse::<Cidr>(), Err(CidrError::Prefix { .. })),
                "{bad}"
            );
        }
        for bad in ["", "10.0.0", "host.example/8", "10.0.0.0 /8", "/8"] {
            assert!(
                matches!(bad.parse::<Cidr>(), Err(CidrError::Address(_))),
                "{bad}"
            );
        }
    }
}

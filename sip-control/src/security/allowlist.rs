//! Which trunk a source address belongs to: the longest matching prefix
//! among every trunk's networks.
//!
//! IPv4-mapped IPv6 sources (`::ffff:a.b.c.d`, seen on dual-stack sockets)
//! are looked up as IPv4, and IPv4-mapped IPv6 networks
//! (`::ffff:10.0.0.0/104`) are stored as IPv4 ones. Other IPv6 networks,
//! `::/0` included, match only IPv6 sources.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use thiserror::Error;

/// Why an allowlist could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AllowlistError {
    /// A prefix length beyond the address width.
    #[error("prefix length {prefix} is too long for {network}")]
    PrefixTooLong {
        /// The network as given.
        network: IpAddr,
        /// The prefix length as given.
        prefix: u8,
    },
    /// The same network listed for two trunks: which one a source belongs
    /// to would be ambiguous.
    #[error("{network}/{prefix} is listed for trunks {first} and {second}")]
    Conflict {
        /// The network, host bits cleared.
        network: IpAddr,
        /// Its prefix length.
        prefix: u8,
        /// The trunk listed first.
        first: usize,
        /// The other trunk.
        second: usize,
    },
}

/// Networks of one address family, grouped by prefix length, longest first.
/// Addresses are right-aligned integers (IPv4 in the low 32 bits).
#[derive(Debug, Clone, Default)]
struct Table {
    by_len: Vec<(u8, BTreeMap<u128, usize>)>,
}

impl Table {
    /// Adds a network whose host bits are clear; `Err` names the other
    /// trunk already holding it.
    fn insert(&mut self, net: u128, len: u8, trunk: usize) -> Result<(), usize> {
        let at = match self.by_len.binary_search_by(|(l, _)| len.cmp(l)) {
            Ok(i) => i,
            Err(i) => {
                self.by_len.insert(i, (len, BTreeMap::new()));
                i
            }
        };
        let Some((_, map)) = self.by_len.get_mut(at) else {
            return Ok(());
        };
        match map.get(&net) {
            Some(&first) if first != trunk => Err(first),
            _ => {
                map.insert(net, trunk);
                Ok(())
            }
        }
    }

    fn lookup(&self, bits: u8, addr: u128) -> Option<usize> {
        self.by_len
            .iter()
            .find_map(|(len, map)| map.get(&(addr & mask(bits, *len))).copied())
    }

    fn len(&self) -> usize {
        self.by_len.iter().map(|(_, m)| m.len()).sum()
    }
}

/// The top `len` of the low `bits` bits set.
fn mask(bits: u8, len: u8) -> u128 {
    let width = u128::MAX >> (128 - u32::from(bits));
    let host = width.checked_shr(u32::from(len)).unwrap_or(0);
    width & !host
}

/// Trunk networks, queried per source address.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    v4: Table,
    v6: Table,
}

impl Allowlist {
    /// Builds the list from `(trunk index, network, prefix length)`
    /// entries. Host bits of a network are ignored; a network listed twice
    /// for one trunk is fine, for two trunks an error.
    pub fn new(
        entries: impl IntoIterator<Item = (usize, IpAddr, u8)>,
    ) -> Result<Self, AllowlistError> {
        let mut list = Allowlist::default();
        for (trunk, network, prefix) in entries {
            let (net, len) = canonical(network, prefix)
                .ok_or(AllowlistError::PrefixTooLong { network, prefix })?;
            let (table, bits, value) = match net {
                IpAddr::V4(a) => (&mut list.v4, 32, u128::from(u32::from(a))),
                IpAddr::V6(a) => (&mut list.v6, 128, u128::from(a)),
            };
            let masked = value & mask(bits, len);
            table
                .insert(masked, len, trunk)
                .map_err(|first| AllowlistError::Conflict {
                    network: to_ip(bits, masked),
                    prefix: len,
                    first,
                    second: trunk,
                })?;
        }
        Ok(list)
    }

    /// The trunk whose most specific network holds `ip`.
    pub fn trunk_for(&self, ip: IpAddr) -> Option<usize> {
        match unmap(ip) {
            IpAddr::V4(a) => self.v4.lookup(32, u128::from(u32::from(a))),
            IpAddr::V6(a) => self.v6.lookup(128, u128::from(a)),
        }
    }

    /// Number of distinct networks.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// True when no network is listed (no source belongs to any trunk).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `::ffff:a.b.c.d` as `a.b.c.d`; anything else unchanged.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A valid network with IPv4-mapped IPv6 networks turned into IPv4.
fn canonical(network: IpAddr, prefix: u8) -> Option<(IpAddr, u8)> {
    match network {
        IpAddr::V4(_) => (prefix <= 32).then_some((network, prefix)),
        IpAddr::V6(_) if prefix > 128 => None,
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) if prefix >= 96 => Some((IpAddr::V4(v4), prefix - 96)),
            _ => Some((IpAddr::V6(a), prefix)),
        },
    }
}

/// The address a right-aligned integer of `bits` bits stands for.
fn to_ip(bits: u8, value: u128) -> IpAddr {
    match u32::try_from(value) {
        Ok(v4) if bits == 32 => IpAddr::V4(Ipv4Addr::from(v4)),
        _ => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(a: [u8; 4]) -> IpAddr {
        IpAddr::V6(Ipv4Addr::from(a).to_ipv6_mapped())
    }

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn list(entries: &[(usize, &str, u8)]) -> Allowlist {
        Allowlist::new(entries.iter().map(|(t, n, p)| (*t, v4(n), *p))).unwrap()
    }

    #[test]
    fn empty_matches_nothing() {
        let l = Allowlist::new([]).unwrap();
        assert!(l.is_empty());
        assert_eq!(l.trunk_for(v4("10.0.0.1")), None);
        assert_eq!(l.trunk_for(v4("::1")), None);
    }

    #[test]
    fn ipv4_longest_prefix_wins() {
        let l = list(&[
            (0, "10.0.0.0", 8),
            (1, "10.1.0.0", 16),
            (2, "10.1.2.3", 32),
            (3, "0.0.0.0", 0),
        ]);
        assert_eq!(l.len(), 4);
        assert_eq!(l.trunk_for(v4("10.1.2.3")), Some(2));
        assert_eq!(l.trunk_for(v4("10.1.2.4")), Some(1));
        assert_eq!(l.trunk_for(v4("10.2.0.0")), Some(0));
        assert_eq!(l.trunk_for(v4("192.0.2.1")), Some(3));
        // An IPv4 default route says nothing about IPv6 sources.
        assert_eq!(l.trunk_for(v4("2001:db8::1")), None);
    }

    #[test]
    fn host_bits_are_ignored() {
        let l = list(&[(5, "192.0.2.77", 24)]);
        assert_eq!(l.trunk_for(v4("192.0.2.1")), Some(5));
        assert_eq!(l.trunk_for(v4("192.0.3.1")), None);
    }

    #[test]
    fn ipv6() {
        let l = list(&[
            (0, "2001:db8::", 32),
            (1, "2001:db8:1::", 48),
            (2, "2001:db8:1::5", 128),
            (3, "::", 0),
        ]);
        assert_eq!(l.trunk_for(v4("2001:db8:1::5")), Some(2));
        assert_eq!(l.trunk_for(v4("2001:db8:1::6")), Some(1));
        assert_eq!(l.trunk_for(v4("2001:db8:2::")), Some(0));
        assert_eq!(l.trunk_for(v4("fe80::1")), Some(3));
        assert_eq!(l.trunk_for(v4("10.0.0.1")), None);
        assert_eq!(l.trunk_for(mapped([10, 0, 0, 1])), None);
    }

    #[test]
    fn mapped_addresses_match_ipv4_networks() {
        let l = list(&[(0, "203.0.113.0", 24), (1, "::ffff:198.51.100.0", 120)]);
        assert_eq!(l.trunk_for(mapped([203, 0, 113, 9])), Some(0));
        assert_eq!(l.trunk_for(v4("::ffff:203.0.113.9")), Some(0));
        assert_eq!(l.trunk_for(v4("198.51.100.7")), Some(1));
        assert_eq!(l.trunk_for(mapped([198, 51, 100, 7])), Some(1));
        // IPv4-compatible (deprecated) addresses are not mapped ones.
        assert_eq!(l.trunk_for(v4("::203.0.113.9")), None);
    }

    #[test]
    fn overlapping_across_families_and_trunks() {
        let l = list(&[
            (0, "0.0.0.0", 0),
            (1, "10.0.0.0", 8),
            (1, "10.0.0.0", 8),
            (2, "10.0.0.0", 9),
            (3, "10.128.0.0", 9),
        ]);
        assert_eq!(l.len(), 4);
        assert_eq!(l.trunk_for(v4("10.1.1.1")), Some(2));
        assert_eq!(l.trunk_for(v4("10.200.1.1")), Some(3));
        assert_eq!(l.trunk_for(v4("11.0.0.0")), Some(0));
    }

    #[test]
    fn errors() {
        assert_eq!(
            Allowlist::new([(0, v4("10.0.0.0"), 33)]).unwrap_err(),
            AllowlistError::PrefixTooLong {
                network: v4("10.0.0.0"),
                prefix: 33
            }
        );
        assert!(Allowlist::new([(0, v4("::"), 129)]).is_err());
        assert_eq!(
            Allowlist::new([(0, v4("10.0.0.0"), 8), (1, v4("10.9.9.9"), 8)]).unwrap_err(),
            AllowlistError::Conflict {
                network: v4("10.0.0.0"),
                prefix: 8,
                first: 0,
                second: 1
            }
        );
        assert!(matches!(
            Allowlist::new([(0, v4("2001:db8::"), 32), (1, v4("2001:db8::1"), 32)]),
            Err(AllowlistError::Conflict {
                first: 0,
                second: 1,
                ..
            })
        ));
        // The same network as IPv4 and as mapped IPv6.
        assert!(Allowlist::new([(0, v4("10.0.0.0"), 8), (1, v4("::ffff:10.0.0.0"), 104)]).is_err());
    }

    #[test]
    fn masks() {
        assert_eq!(mask(32, 0), 0);
        assert_eq!(mask(32, 8), 0xff00_0000);
        assert_eq!(mask(32, 32), 0xffff_ffff);
        assert_eq!(mask(128, 0), 0);
        assert_eq!(mask(128, 1), 1 << 127);
        assert_eq!(mask(128, 128), u128::MAX);
    }
}

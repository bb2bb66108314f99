//! Per-source entries kept in the order they were (re)inserted, so the
//! oldest can be found and evicted in logarithmic time.
//!
//! B-trees rather than hash maps: source addresses are attacker-chosen, and
//! a B-tree needs neither a random hash seed nor luck to stay balanced.

use std::collections::BTreeMap;
use std::net::IpAddr;

pub(crate) struct SourceTable<V> {
    entries: BTreeMap<IpAddr, (u64, V)>,
    order: BTreeMap<u64, IpAddr>,
    next_seq: u64,
}

impl<V> SourceTable<V> {
    pub(crate) fn new() -> Self {
        SourceTable {
            entries: BTreeMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn get(&self, ip: &IpAddr) -> Option<&V> {
        self.entries.get(ip).map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, ip: &IpAddr) -> Option<&mut V> {
        self.entries.get_mut(ip).map(|(_, v)| v)
    }

    /// Inserts or replaces `ip`'s entry and makes it the newest.
    pub(crate) fn push_back(&mut self, ip: IpAddr, value: V) {
        let seq = self.bump();
        if let Some((old, _)) = self.entries.insert(ip, (seq, value)) {
            self.order.remove(&old);
        }
        self.order.insert(seq, ip);
    }

    /// Makes `ip`'s entry the newest, if there is one.
    pub(crate) fn move_to_back(&mut self, ip: &IpAddr) {
        let seq = self.bump();
        if let Some((slot, _)) = self.entries.get_mut(ip) {
            self.order.remove(slot);
            *slot = seq;
            self.order.insert(seq, *ip);
        }
    }

    pub(crate) fn remove(&mut self, ip: &IpAddr) -> Option<V> {
        let (seq, v) = self.entries.remove(ip)?;
        self.order.remove(&seq);
        Some(v)
    }

    /// The oldest entry.
    pub(crate) fn front(&self) -> Option<(IpAddr, &V)> {
        let (_, ip) = self.order.first_key_value()?;
        self.get(ip).map(|v| (*ip, v))
    }

    pub(crate) fn pop_front(&mut self) -> Option<(IpAddr, V)> {
        let (_, ip) = self.order.pop_first()?;
        self.entries.remove(&ip).map(|(_, v)| (ip, v))
    }

    /// Drops entries from the front while `expired` says so.
    pub(crate) fn pop_expired(&mut self, mut expired: impl FnMut(&V) -> bool) {
        while self.front().is_some_and(|(_, v)| expired(v)) {
            self.pop_front();
        }
    }

    fn bump(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn order_follows_insertion_and_moves() {
        let mut t = SourceTable::new();
        for n in 1..=3 {
            t.push_back(ip(n), n);
        }
        t.move_to_back(&ip(1));
        t.push_back(ip(2), 20);
        assert_eq!(t.len(), 3);
        assert_eq!(t.get(&ip(2)), Some(&20));
        *t.get_mut(&ip(3)).unwrap() += 1;
        assert_eq!(t.pop_front(), Some((ip(3), 4)));
        assert_eq!(t.front(), Some((ip(1), &1)));
        assert_eq!(t.remove(&ip(1)), Some(1));
        assert_eq!(t.remove(&ip(1)), None);
        t.move_to_back(&ip(9));
        assert_eq!(t.len(), 1);
        t.pop_expired(|v| *v == 20);
        assert_eq!(t.len(), 0);
        assert_eq!(t.pop_front(), None);
    }
}

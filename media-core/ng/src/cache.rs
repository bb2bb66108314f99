//! A cache of sent replies keyed by cookie, so that a retransmitted
//! request is answered with the very same reply instead of being run
//! twice (a second `offer` would allocate ports again).
//!
//! Sans-IO: time is passed in as `now`; the cache never reads the clock.
//! Memory is bounded by `max_entries`; expired entries are dropped a few
//! at a time on every call, so the cost is amortized O(log n).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// How long rtpengine-compatible servers keep a reply: proxies retransmit
/// for about five seconds, so 30 s leaves a wide margin.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

/// Replies already sent, by request cookie, for answering retransmissions.
///
/// A `BTreeMap` rather than a `HashMap`: cookies come from the network,
/// and an ordered map needs no random hash seed to resist collisions.
#[derive(Debug, Clone)]
pub struct ReplyCache {
    ttl: Duration,
    max_entries: usize,
    entries: BTreeMap<Box<[u8]>, Entry>,
    /// Cookies in insertion order, with the generation they were stored
    /// under; a record whose generation no longer matches its entry is
    /// stale (the cookie was stored again or evicted) and is skipped.
    order: VecDeque<(u64, Box<[u8]>)>,
    next_generation: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    reply: Vec<u8>,
    stored: Instant,
    generation: u64,
}

impl ReplyCache {
    /// A cache that keeps each reply for `ttl` and at most `max_entries`
    /// replies, evicting the oldest when full. `max_entries == 0` keeps
    /// nothing.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries,
            entries: BTreeMap::new(),
            order: VecDeque::new(),
            next_generation: 0,
        }
    }

    /// The stored reply datagram for `cookie`, if one was inserted less
    /// than `ttl` before `now`.
    pub fn get(&mut self, cookie: &[u8], now: Instant) -> Option<&[u8]> {
        self.expire(now);
        let expired = self.is_expired(self.entries.get(cookie)?, now);
        if expired {
            // Only reachable when `now` went backwards between calls and
            // the entry is out of insertion order; drop it directly.
            self.entries.remove(cookie);
            return None;
        }
        self.entries.get(cookie).map(|e| e.reply.as_slice())
    }

    /// Stores the full reply datagram sent for `cookie` (replacing any
    /// earlier one), evicting the oldest entry if the cache is full.
    pub fn insert(&mut self, cookie: &[u8], reply: Vec<u8>, now: Instant) {
        self.expire(now);
        if self.max_entries == 0 {
            return;
        }
        if !self.entries.contains_key(cookie) {
            while self.entries.len() >= self.max_entries {
                if !self.evict_oldest() {
                    break;
                }
            }
        }
        let generation = self.next_generation;
        self.next_generation = self.next_generation.wrapping_add(1);
        self.entries.insert(
            cookie.into(),
            Entry {
                reply,
                stored: now,
                generation,
            },
        );
        self.order.push_back((generation, cookie.into()));
        if self.order.len() > self.max_entries.saturating_mul(2).saturating_add(16) {
            self.compact();
        }
    }

    /// Number of replies held (some may have expired but not yet been
    /// dropped).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no replies are held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How long each reply is kept.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn is_expired(&self, e: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(e.stored) >= self.ttl
    }

    /// Whether the oldest order record still names a live entry.
    fn front_is_live(&self) -> Option<(bool, &Entry)> {
        let (generation, cookie) = self.order.front()?;
        match self.entries.get(cookie) {
            Some(e) if e.generation == *generation => Some((true, e)),
            Some(e) => Some((false, e)),
            None => None,
        }
    }

    /// Drops entries older than `ttl` from the front of the order queue.
    fn expire(&mut self, now: Instant) {
        while !self.order.is_empty() {
            match self.front_is_live() {
                Some((true, e)) if !self.is_expired(e, now) => break,
                Some((true, _)) => {
                    if let Some((_, cookie)) = self.order.pop_front() {
                        self.entries.remove(&cookie);
                    }
                }
                // Stale record: the entry was replaced or removed.
                _ => {
                    self.order.pop_front();
                }
            }
        }
    }

    /// Removes the oldest live entry; false if there is none.
    fn evict_oldest(&mut self) -> bool {
        while let Some((generation, cookie)) = self.order.pop_front() {
            if self
                .entries
                .get(&cookie)
                .is_some_and(|e| e.generation == generation)
            {
                self.entries.remove(&cookie);
                return true;
            }
        }
        // No order records left: entries can only be empty here, but
        // never loop forever if that invariant were broken.
        if let Some(key) = self.entries.keys().next().cloned() {
            self.entries.remove(&key);
            return true;
        }
        false
    }

    /// Drops stale order records so the queue stays O(max_entries).
    fn compact(&mut self) {
        let entries = &self.entries;
        self.order.retain(|(generation, cookie)| {
            entries
                .get(cookie)
                .is_some_and(|e| e.generation == *generation)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn answers_retransmissions_until_ttl() {
        let t0 = Instant::now();
        let mut c = ReplyCache::new(DEFAULT_TTL, 16);
        assert_eq!(c.get(b"1_a_1", t0), None);
        c.insert(b"1_a_1", b"1_a_1 d6:result4:ponge".to_vec(), t0);
        assert_eq!(
            c.get(b"1_a_1", t0 + secs(5)),
            Some(&b"1_a_1 d6:result4:ponge"[..])
        );
        assert_eq!(c.get(b"1_a_2", t0 + secs(5)), None);
        assert_eq!(c.get(b"1_a_1", t0 + secs(30)), None);
        assert!(c.is_empty());
    }

    #[test]
    fn expiry_is_amortized_on_insert() {
        let t0 = Instant::now();
        let mut c = ReplyCache::new(secs(10), 1000);
        for i in 0..100u32 {
            c.insert(&i.to_be_bytes(), vec![0; 10], t0);
        }
        assert_eq!(c.len(), 100);
        c.insert(b"late", vec![1], t0 + secs(11));
        assert_eq!(c.len(), 1);
        assert_eq!(c.get(b"late", t0 + secs(11)), Some(&[1u8][..]));
    }

    #[test]
    fn evicts_oldest_when_full() {
        let t0 = Instant::now();
        let mut c = ReplyCache::new(DEFAULT_TTL, 3);
        for (i, k) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
            c.insert(*k, vec![i as u8], t0 + secs(i as u64));
        }
        assert_eq!(c.len(), 3);
        let now = t0 + secs(4);
        assert_eq!(c.get(b"a", now), None);
        assert_eq!(c.get(b"b", now), Some(&[1u8][..]));
        assert_eq!(c.get(b"d", now), Some(&[3u8][..]));
    }

    #[test]
    fn reinsert_refreshes_and_does_not_leak_order_records() {
        let t0 = Instant::now();
        let mut c = ReplyCache::new(secs(10), 2);
        for i in 0..10_000u64 {
            c.insert(b"same", vec![1], t0 + Duration::from_millis(i));
        }
        assert_eq!(c.len(), 1);
        assert!(c.order.len() <= 2 * 2 + 16 + 1);
        // Replaced entry keeps its newest timestamp.
        assert!(c.get(b"same", t0 + secs(15)).is_some());
        c.insert(b"other", vec![2], t0 + secs(15));
        c.insert(b"third", vec![3], t0 + secs(15));
        assert_eq!(c.get(b"same", t0 + secs(15)), None, "oldest evicted");
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn zero_capacity_keeps_nothing() {
        let t0 = Instant::now();
        let mut c = ReplyCache::new(DEFAULT_TTL, 0);
        c.insert(b"a", vec![1], t0);
        assert_eq!(c.get(b"a", t0), None);
        assert!(c.is_empty());
    }

    #[test]
    fn time_going_backwards_is_harmless() {
        let t0 = Instant::now() + secs(100);
        let mut c = ReplyCache::new(secs(10), 4);
        c.insert(b"new", vec![1], t0);
        c.insert(b"old", vec![2], t0 - secs(50));
        assert_eq!(c.get(b"new", t0), Some(&[1u8][..]));
        assert_eq!(c.get(b"old", t0), None);
        assert_eq!(c.get(b"new", t0 - secs(60)), Some(&[1u8][..]));
    }

    proptest! {
        #[test]
        fn stays_bounded_and_consistent(
            ops in proptest::collection::vec((0u8..3, 0u8..8, 0u64..20), 0..200),
            max in 0usize..6,
        ) {
            let t0 = Instant::now();
            let mut c = ReplyCache::new(secs(5), max);
            let mut now = t0;
            for (op, key, step) in ops {
                now += Duration::from_millis(step * 100);
                match op {
                    0 | 1 => c.insert(&[key], vec![key], now),
                    _ => {
                        if let Some(r) = c.get(&[key], now) {
                            prop_assert_eq!(r, &[key][..]);
                        }
                    }
                }
                prop_assert!(c.len() <= max);
                prop_assert!(c.order.len() <= max * 2 + 17);
            }
        }
    }
}

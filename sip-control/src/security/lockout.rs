//! Lock-out of source addresses after repeated failed authentication.
//!
//! Failures are counted in a window that opens at a source's first failure
//! and lasts as long as a lock-out; reaching the limit inside it locks the
//! source for the lock-out duration. Memory is bounded: when the table is
//! full, expired entries go first, then the oldest unlocked source, and
//! only when every entry is locked the oldest lock. Locks are thus hard to
//! flush by failing from many spoofed addresses.

use super::source_table::SourceTable;
use super::DEFAULT_MAX_SOURCES;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failures of one source inside its current window.
struct Window {
    opened: Instant,
    failures: u32,
}

/// Failure counts and locks per source address.
pub struct Lockout {
    max_failures: u32,
    duration: Duration,
    capacity: usize,
    /// Unlocked sources with failures, oldest window first.
    counting: SourceTable<Window>,
    /// Locked sources and when they were locked, oldest first.
    locked: SourceTable<Instant>,
}

impl Lockout {
    /// Locks a source for `duration` after `max_failures` failures within
    /// `duration` (a limit of 0 is taken as 1); tracks up to
    /// [`DEFAULT_MAX_SOURCES`] sources.
    pub fn new(max_failures: u32, duration: Duration) -> Self {
        Self::with_capacity(max_failures, duration, DEFAULT_MAX_SOURCES)
    }

    /// As [`Lockout::new`], tracking at most `capacity` sources (at least 1).
    pub fn with_capacity(max_failures: u32, duration: Duration, capacity: usize) -> Self {
        Lockout {
            max_failures: max_failures.max(1),
            duration,
            capacity: capacity.max(1),
            counting: SourceTable::new(),
            locked: SourceTable::new(),
        }
    }

    /// Whether `source` is locked out at `now`.
    pub fn is_locked(&mut self, source: IpAddr, now: Instant) -> bool {
        self.expire(now);
        match self.locked.get(&source) {
            Some(at) if self.running(*at, now) => true,
            Some(_) => {
                self.locked.remove(&source);
                false
            }
            None => false,
        }
    }

    /// Counts a failed attempt; true when this failure locks the source.
    /// Failures of an already locked source change nothing.
    pub fn record_failure(&mut self, source: IpAddr, now: Instant) -> bool {
        if self.is_locked(source, now) {
            return false;
        }
        let failures = match self.counting.get_mut(&source) {
            Some(w) if self.duration > now.saturating_duration_since(w.opened) => {
                w.failures = w.failures.saturating_add(1);
                w.failures
            }
            Some(_) => {
                // The window ran out: this failure opens a new one.
                self.counting.push_back(
                    source,
                    Window {
                        opened: now,
                        failures: 1,
                    },
                );
                1
            }
            None => {
                self.make_room();
                self.counting.push_back(
                    source,
                    Window {
                        opened: now,
                        failures: 1,
                    },
                );
                1
            }
        };
        if failures < self.max_failures {
            return false;
        }
        self.counting.remove(&source);
        self.locked.push_back(source, now);
        true
    }

    /// Forgets `source`'s failures after a successful attempt. An active
    /// lock stays until it runs out.
    pub fn record_success(&mut self, source: IpAddr) {
        self.counting.remove(&source);
    }

    /// Sources locked as of the last call given a time (see
    /// [`Lockout::expire`] to bring it up to date).
    pub fn locked_count(&self) -> usize {
        self.locked.len()
    }

    /// Sources tracked, locked or counting.
    pub fn len(&self) -> usize {
        self.counting.len() + self.locked.len()
    }

    /// True when no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops windows and locks that ran out by `now`.
    pub fn expire(&mut self, now: Instant) {
        let d = self.duration;
        let over = |since: Instant| now.saturating_duration_since(since) >= d;
        self.counting.pop_expired(|w| over(w.opened));
        self.locked.pop_expired(|at| over(*at));
    }

    fn running(&self, since: Instant, now: Instant) -> bool {
        now.saturating_duration_since(since) < self.duration
    }

    /// Frees one slot if the table is full (expired entries are gone
    /// already): the oldest unlocked source, else the oldest lock.
    fn make_room(&mut self) {
        if self.len() < self.capacity {
            return;
        }
        if self.counting.pop_front().is_none() {
            self.locked.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn locks_on_the_nth_failure_and_unlocks_after_duration() {
        let t0 = Instant::now();
        let mut l = Lockout::new(3, MIN);
        assert!(!l.record_failure(ip(1), t0));
        assert!(!l.record_failure(ip(1), t0 + Duration::from_secs(1)));
        assert!(!l.is_locked(ip(1), t0 + Duration::from_secs(2)));
        let locked_at = t0 + Duration::from_secs(3);
        assert!(l.record_failure(ip(1), locked_at));
        assert!(l.is_locked(ip(1), locked_at));
        assert!(!l.is_locked(ip(2), locked_at));
        assert_eq!(l.locked_count(), 1);
        // More failures while locked neither re-lock nor extend.
        assert!(!l.record_failure(ip(1), locked_at + Duration::from_secs(30)));
        assert!(l.is_locked(ip(1), locked_at + MIN - Duration::from_millis(1)));
        assert!(!l.is_locked(ip(1), locked_at + MIN));
        assert_eq!(l.locked_count(), 0);
        assert!(l.is_empty());
        // A fresh start afterwards.
        assert!(!l.record_failure(ip(1), locked_at + MIN));
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let t0 = Instant::now();
        let mut l = Lockout::new(2, MIN);
        assert!(!l.record_failure(ip(1), t0));
        assert!(!l.record_failure(ip(1), t0 + MIN));
        assert!(l.record_failure(ip(1), t0 + MIN + Duration::from_secs(59)));
    }

    #[test]
    fn success_resets_the_count_but_not_a_lock() {
        let t0 = Instant::now();
        let mut l = Lockout::new(2, MIN);
        assert!(!l.record_failure(ip(1), t0));
        l.record_success(ip(1));
        assert!(!l.record_failure(ip(1), t0));
        assert!(l.record_failure(ip(1), t0));
        l.record_success(ip(1));
        assert!(l.is_locked(ip(1), t0));
    }

    #[test]
    fn zero_limit_means_one() {
        let t0 = Instant::now();
        let mut l = Lockout::new(0, MIN);
        assert!(l.record_failure(ip(1), t0));
        assert!(l.is_locked(ip(1), t0));
    }

    #[test]
    fn full_table_evicts_unlocked_before_locked() {
        let t0 = Instant::now();
        let mut l = Lockout::with_capacity(2, MIN, 3);
        for n in 1..=3 {
            l.record_failure(ip(n), t0);
        }
        assert!(l.record_failure(ip(1), t0));
        // Full (1 locked, 2 counting): a newcomer pushes out the oldest
        // unlocked source, never the lock.
        l.record_failure(ip(4), t0);
        assert_eq!(l.len(), 3);
        assert!(l.is_locked(ip(1), t0));
        assert!(l.record_failure(ip(3), t0), "ip 3 kept its count");
        assert!(!l.record_failure(ip(2), t0), "ip 2 was forgotten");
    }

    #[test]
    fn full_of_locks_evicts_expired_then_oldest_lock() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut l = Lockout::with_capacity(1, MIN, 3);
        for n in 1..=3 {
            assert!(l.record_failure(ip(n), t0 + s(u64::from(n))));
        }
        assert!(l.record_failure(ip(4), t0 + s(4)));
        assert_eq!(l.len(), 3);
        assert!(!l.is_locked(ip(1), t0 + s(4)));
        assert!(l.is_locked(ip(2), t0 + s(4)));
        // At 62 s the lock of ip 2 (taken at 2 s) has run out: it makes
        // room, the younger locks stay.
        let later = t0 + s(62);
        assert!(l.record_failure(ip(5), later));
        assert_eq!(l.locked_count(), 3);
        assert!(!l.is_locked(ip(2), later));
        for n in 3..=5 {
            assert!(l.is_locked(ip(n), later), "{n}");
        }
    }

    #[test]
    fn memory_stays_bounded() {
        let t0 = Instant::now();
        let mut l = Lockout::with_capacity(5, MIN, 100);
        for n in 0..10_000u32 {
            l.record_failure(IpAddr::from(n.to_be_bytes()), t0);
            assert!(l.len() <= 100);
        }
    }
}

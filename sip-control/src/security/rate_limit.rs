//! Per-source token buckets: `burst` requests at once, refilled at `rate`
//! per second.
//!
//! Tokens are kept in billionths so refills are exact integer arithmetic.
//! Memory is bounded: a full table first drops buckets that have refilled
//! completely (they behave like absent ones), then the least recently
//! seen source, which at worst grants that source a fresh burst.

use super::source_table::SourceTable;
use super::DEFAULT_MAX_SOURCES;
use std::net::IpAddr;
use std::time::Instant;

/// Units of one token.
const UNIT: u64 = 1_000_000_000;

struct Bucket {
    units: u64,
    last: Instant,
}

/// Token buckets keyed by source address.
pub struct RateLimiter {
    /// Tokens per second, which is units per nanosecond.
    rate: u32,
    /// Capacity in units.
    capacity: u64,
    max_sources: usize,
    /// Least recently seen first.
    buckets: SourceTable<Bucket>,
}

impl RateLimiter {
    /// `rate_per_sec` requests per second with bursts of `burst` (at least
    /// 1) per source; tracks up to [`DEFAULT_MAX_SOURCES`] sources.
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        Self::with_capacity(rate_per_sec, burst, DEFAULT_MAX_SOURCES)
    }

    /// As [`RateLimiter::new`], tracking at most `max_sources` (at least 1).
    pub fn with_capacity(rate_per_sec: u32, burst: u32, max_sources: usize) -> Self {
        RateLimiter {
            rate: rate_per_sec,
            capacity: u64::from(burst.max(1)) * UNIT,
            max_sources: max_sources.max(1),
            buckets: SourceTable::new(),
        }
    }

    /// Takes a token from `source`'s bucket; false when it is empty.
    pub fn allow(&mut self, source: IpAddr, now: Instant) -> bool {
        let (rate, capacity) = (self.rate, self.capacity);
        if let Some(b) = self.buckets.get_mut(&source) {
            refill(b, rate, capacity, now);
            let allowed = b.units >= UNIT;
            if allowed {
                b.units -= UNIT;
            }
            self.buckets.move_to_back(&source);
            return allowed;
        }
        self.make_room(now);
        self.buckets.push_back(
            source,
            Bucket {
                units: capacity - UNIT,
                last: now,
            },
        );
        true
    }

    /// Sources tracked.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// True when no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    fn make_room(&mut self, now: Instant) {
        if self.buckets.len() < self.max_sources {
            return;
        }
        let (rate, capacity) = (self.rate, self.capacity);
        self.buckets
            .pop_expired(|b| units_at(b, rate, capacity, now) == capacity);
        if self.buckets.len() >= self.max_sources {
            self.buckets.pop_front();
        }
    }
}

/// The bucket's content at `now` (time never runs backwards for it).
fn units_at(b: &Bucket, rate: u32, capacity: u64, now: Instant) -> u64 {
    let elapsed = now.saturating_duration_since(b.last).as_nanos();
    let added = elapsed.saturating_mul(u128::from(rate));
    let total = u128::from(b.units).saturating_add(added);
    u64::try_from(total.min(u128::from(capacity))).unwrap_or(capacity)
}

fn refill(b: &mut Bucket, rate: u32, capacity: u64, now: Instant) {
    b.units = units_at(b, rate, capacity, now);
    b.last = b.last.max(now);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([198, 51, 100, n])
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(10, 3);
        for _ in 0..3 {
            assert!(r.allow(ip(1), t0));
        }
        assert!(!r.allow(ip(1), t0));
        // Another source has its own bucket.
        assert!(r.allow(ip(2), t0));
        // One token per 100 ms.
        assert!(!r.allow(ip(1), t0 + ms(99)));
        assert!(r.allow(ip(1), t0 + ms(100)));
        assert!(!r.allow(ip(1), t0 + ms(150)));
        assert!(r.allow(ip(1), t0 + ms(200)));
        // A long pause refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(r.allow(ip(1), later));
        }
        assert!(!r.allow(ip(1), later));
    }

    #[test]
    fn sustained_rate_is_exact() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(50, 1);
        let allowed = (0..10_000u64)
            .filter(|i| r.allow(ip(1), t0 + ms(*i)))
            .count();
        // 1 initial token + 50/s over 9.999 s.
        assert_eq!(allowed, 500);
    }

    #[test]
    fn edge_settings() {
        let t0 = Instant::now();
        let mut none = RateLimiter::new(0, 2);
        assert!(none.allow(ip(1), t0));
        assert!(none.allow(ip(1), t0));
        assert!(!none.allow(ip(1), t0 + Duration::from_secs(1000)));
        let mut zero_burst = RateLimiter::new(1, 0);
        assert!(zero_burst.allow(ip(1), t0));
        assert!(!zero_burst.allow(ip(1), t0));
        assert!(zero_burst.allow(ip(1), t0 + Duration::from_secs(1)));
        let mut huge = RateLimiter::new(u32::MAX, u32::MAX);
        assert!(huge.allow(ip(1), t0));
        assert!(huge.allow(ip(1), t0 + Duration::from_secs(u64::from(u32::MAX))));
    }

    #[test]
    fn time_going_backwards_is_harmless() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut r = RateLimiter::new(1, 1);
        assert!(r.allow(ip(1), t0));
        assert!(!r.allow(ip(1), t0 - Duration::from_secs(5)));
        assert!(!r.allow(ip(1), t0 + ms(999)));
        assert!(r.allow(ip(1), t0 + Duration::from_secs(1)));
    }

    #[test]
    fn full_table_drops_refilled_buckets_then_least_recent() {
        let t0 = Instant::now();
        let s1 = t0 + Duration::from_secs(1);
        let mut r = RateLimiter::with_capacity(1, 2, 3);
        assert!(r.allow(ip(1), t0));
        assert!(r.allow(ip(2), t0));
        assert!(r.allow(ip(3), t0 + ms(500)));
        assert!(r.allow(ip(3), t0 + ms(500)));
        // At 1 s the buckets of ip 1 and 2 are full again: both go to make
        // room, ip 3's (half full) stays.
        assert!(r.allow(ip(4), s1));
        assert_eq!(r.len(), 2);
        assert!(!r.allow(ip(3), s1), "ip 3 kept its bucket");
        // Nothing refilled: the least recently seen source goes.
        let mut r = RateLimiter::with_capacity(0, 1, 2);
        assert!(r.allow(ip(1), t0));
        assert!(r.allow(ip(2), t0));
        assert!(!r.allow(ip(1), t0));
        assert!(r.allow(ip(3), t0));
        assert_eq!(r.len(), 2);
        assert!(r.allow(ip(2), t0), "ip 2 was dropped and starts afresh");
        assert!(!r.allow(ip(3), t0));
    }

    #[test]
    fn memory_stays_bounded() {
        let t0 = Instant::now();
        let mut r = RateLimiter::with_capacity(10, 10, 1000);
        for n in 0..50_000u32 {
            assert!(r.allow(IpAddr::from(n.to_be_bytes()), t0 + ms(u64::from(n))));
            assert!(r.len() <= 1000);
        }
    }
}

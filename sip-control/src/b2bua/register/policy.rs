//! Sans-IO registration policy: what a REGISTER's final status means and
//! when the next REGISTER is due. Time is passed in; jitter is derived
//! deterministically from the trunk name, so tests need no clock or RNG.

use std::time::{Duration, Instant};

/// Refreshes never come closer together than this.
pub const MIN_REFRESH: Duration = Duration::from_secs(5);
/// First retry delay after a failure; doubles per consecutive failure.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// Largest retry delay.
pub const MAX_RETRY: Duration = Duration::from_secs(60);
/// Longer granted lifetimes are treated as this one.
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The result of one REGISTER attempt, as counted in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx: the binding exists.
    Ok,
    /// Credentials refused (401/407 after answering, or 403).
    AuthFailed,
    /// Anything else: another final status, timeout, transport error.
    Failed,
}

impl Outcome {
    /// The `result` label of `sluice_sip_registrations_total`.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::AuthFailed => "auth-failed",
            Outcome::Failed => "failed",
        }
    }

    /// The outcome of a final status code.
    pub fn of_status(code: u16) -> Outcome {
        match code {
            200..=299 => Outcome::Ok,
            401 | 403 | 407 => Outcome::AuthFailed,
            _ => Outcome::Failed,
        }
    }
}

/// When the next REGISTER of one trunk is due.
#[derive(Debug, Clone)]
pub struct Schedule {
    seed: u64,
    draws: u64,
    failures: u32,
}

impl Schedule {
    /// A schedule whose jitter derives from `name` (the trunk).
    pub fn new(name: &str) -> Self {
        // FNV-1a: stable across runs and platforms.
        let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        Schedule {
            seed,
            draws: 0,
            failures: 0,
        }
    }

    /// Consecutive failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// After a success granting `granted`: the refresh, at 60–70 % of the
    /// lifetime (at most [`MAX_LIFETIME`]) and never sooner than
    /// [`MIN_REFRESH`].
    pub fn registered(&mut self, now: Instant, granted: Duration) -> Instant {
        self.failures = 0;
        let fraction = 0.6 + 0.1 * self.unit();
        now + granted.min(MAX_LIFETIME).mul_f64(fraction).max(MIN_REFRESH)
    }

    /// After a failure: the retry, [`FIRST_RETRY`] doubling per consecutive
    /// failure up to [`MAX_RETRY`], shortened by up to 10 % of jitter.
    pub fn failed(&mut self, now: Instant) -> Instant {
        let doublings = self.failures.min(6);
        self.failures = self.failures.saturating_add(1);
        let base = (FIRST_RETRY * (1u32 << doublings)).min(MAX_RETRY);
        now + base.mul_f64(1.0 - 0.1 * self.unit())
    }

    /// The next jitter draw in `[0, 1)` (splitmix64 of seed and counter).
    fn unit(&mut self) -> f64 {
        self.draws = self.draws.wrapping_add(1);
        let mut z = self
            .seed
            .wrapping_add(self.draws.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // The top 53 bits fill an f64 mantissa exactly.
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn refresh_is_60_to_70_percent_of_the_granted_lifetime() {
        let now = Instant::now();
        let mut schedule = Schedule::new("carrier");
        for _ in 0..100 {
            let after = secs(schedule.registered(now, Duration::from_secs(3600)) - now);
            assert!((2160.0..2520.0).contains(&after), "{after}");
        }
    }

    #[test]
    fn refresh_is_never_sooner_than_five_seconds() {
        let now = Instant::now();
        let mut schedule = Schedule::new("carrier");
        for granted in [0, 1, 4, 7] {
            let due = schedule.registered(now, Duration::from_secs(granted));
            assert_eq!(due - now, MIN_REFRESH, "granted {granted}");
        }
        let huge = schedule.registered(now, Duration::from_secs(u64::from(u32::MAX)));
        assert!(huge - now < MAX_LIFETIME);
        // 10 s granted: refreshed after 6-7 s, before it lapses.
        let after = secs(schedule.registered(now, Duration::from_secs(10)) - now);
        assert!((6.0..7.0).contains(&after), "{after}");
    }

    #[test]
    fn retries_double_from_one_second_to_a_minute_with_jitter() {
        let now = Instant::now();
        let mut schedule = Schedule::new("carrier");
        let expected = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0];
        for base in expected {
            let after = secs(schedule.failed(now) - now);
            assert!(after <= base && after > base * 0.9, "{after} for {base}");
        }
        assert_eq!(schedule.failures(), 9);
    }

    #[test]
    fn success_resets_the_backoff() {
        let now = Instant::now();
        let mut schedule = Schedule::new("carrier");
        schedule.failed(now);
        schedule.failed(now);
        schedule.registered(now, Duration::from_secs(60));
        assert_eq!(schedule.failures(), 0);
        assert!(schedule.failed(now) - now <= FIRST_RETRY);
    }

    #[test]
    fn jitter_is_deterministic_per_trunk_and_differs_between_trunks() {
        let now = Instant::now();
        let run = |name: &str| {
            let mut schedule = Schedule::new(name);
            (0..5).map(|_| schedule.failed(now)).collect::<Vec<_>>()
        };
        assert_eq!(run("a"), run("a"));
        assert_ne!(run("a"), run("b"));
    }

    #[test]
    fn statuses_map_to_outcomes() {
        assert_eq!(Outcome::of_status(200), Outcome::Ok);
        assert_eq!(Outcome::of_status(202), Outcome::Ok);
        assert_eq!(Outcome::of_status(401), Outcome::AuthFailed);
        assert_eq!(Outcome::of_status(407), Outcome::AuthFailed);
        assert_eq!(Outcome::of_status(403), Outcome::AuthFailed);
        assert_eq!(Outcome::of_status(423), Outcome::Failed);
        assert_eq!(Outcome::of_status(503), Outcome::Failed);
        assert_eq!(Outcome::AuthFailed.label(), "auth-failed");
    }
}

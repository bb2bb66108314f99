//! RFC 4028 session timers, sans-IO: the `Session-Expires` and `Min-SE`
//! values, what a UAS answers a request (INVITE, re-INVITE, UPDATE), what
//! a UAC takes from a 2xx, and one leg's clock (when to refresh, when the
//! peer's refresh is overdue). Time comes in as `now`.

use std::time::{Duration, Instant};

use super::grammar::generic_param;

/// Longest value read, in bytes.
const MAX_LEN: usize = 256;
/// The most a non-refresher waits past half the interval (RFC 4028 §10).
const EXPIRY_MARGIN: Duration = Duration::from_secs(32);

/// Who sends the refreshes, as the transaction that set it names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    /// The party that sent the request.
    Uac,
    /// The party that answered it.
    Uas,
}

/// A `Session-Expires` value: `delta-seconds [;refresher=uac|uas]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires {
    /// The session interval in seconds (at least 1).
    pub seconds: u32,
    /// Who refreshes, when the value says so.
    pub refresher: Option<Refresher>,
}

impl SessionExpires {
    /// Parses a header value; other parameters (`token[=token]`) are
    /// ignored, anything else is refused.
    pub fn parse(value: &str) -> Option<Self> {
        let (seconds, params) = delta_and_params(value)?;
        let mut refresher = None;
        for (name, value) in params {
            if !name.eq_ignore_ascii_case("refresher") {
                continue;
            }
            let value = value?;
            let which = if value.eq_ignore_ascii_case("uac") {
                Refresher::Uac
            } else if value.eq_ignore_ascii_case("uas") {
                Refresher::Uas
            } else {
                return None;
            };
            if refresher.replace(which).is_some() {
                return None;
            }
        }
        Some(SessionExpires { seconds, refresher })
    }

    /// The header value.
    pub fn header_value(&self) -> String {
        match self.refresher {
            Some(Refresher::Uac) => format!("{};refresher=uac", self.seconds),
            Some(Refresher::Uas) => format!("{};refresher=uas", self.seconds),
            None => self.seconds.to_string(),
        }
    }
}

/// A `Min-SE` value (`delta-seconds *(;generic-param)`) in seconds.
pub fn parse_min_se(value: &str) -> Option<u32> {
    delta_and_params(value).map(|(seconds, _)| seconds)
}

/// Whether an option-tag list (`Supported`, `Require`) names `timer`.
pub fn lists_timer(value: &str) -> bool {
    value
        .split(',')
        .any(|tag| tag.trim().eq_ignore_ascii_case("timer"))
}

/// Generic parameters: names and optional values.
type Params<'a> = Vec<(&'a str, Option<&'a str>)>;

/// `1*DIGIT *( ";" token ["=" token] )`, blanks allowed around items.
fn delta_and_params(value: &str) -> Option<(u32, Params<'_>)> {
    if value.len() > MAX_LEN {
        return None;
    }
    let mut parts = value.split(';');
    let delta = parts.next()?.trim();
    if delta.is_empty() || !delta.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds = delta.parse::<u32>().ok().filter(|&s| s > 0)?;
    let mut params = Vec::new();
    for part in parts {
        params.push(generic_param(part)?);
    }
    Some((seconds, params))
}

/// Our numbers, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerPolicy {
    /// The interval we ask for.
    pub session_expires: u32,
    /// The shortest interval we accept.
    pub min_se: u32,
}

/// The timer facts of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimerRequest {
    /// Its `Session-Expires`, if any.
    pub session_expires: Option<SessionExpires>,
    /// Its `Min-SE`, if any.
    pub min_se: Option<u32>,
    /// Whether its sender lists `timer` in `Supported` (or `Require`).
    pub supports_timer: bool,
}

/// What a UAS answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UasAnswer {
    /// 422 Session Interval Too Small, with this `Min-SE`.
    TooSmall {
        /// Our `Min-SE`.
        min_se: u32,
    },
    /// A 2xx with `Session-Expires` (and `Require: timer` when `require`).
    Run {
        /// The interval settled.
        session_expires: SessionExpires,
        /// Whether the 2xx says `Require: timer` (the UAC supports it).
        require: bool,
    },
}

/// RFC 4028 §9: refuses an interval below our `Min-SE` from a UAC that
/// supports timers (one that does not gets our `Min-SE` instead); may
/// shorten a longer one to ours, never below the request's `Min-SE`. The
/// refresher is the request's choice, else the UAC when it supports timers
/// (it asked for them), else us. A request without `Session-Expires` gets
/// our interval.
pub fn uas_answer(request: &TimerRequest, policy: &TimerPolicy) -> UasAnswer {
    let floor = policy.min_se.max(request.min_se.unwrap_or(0));
    let supports = request.supports_timer;
    let (seconds, asked) = match request.session_expires {
        Some(se) if se.seconds < policy.min_se && supports => {
            return UasAnswer::TooSmall {
                min_se: policy.min_se,
            }
        }
        Some(se) => (se.seconds.min(policy.session_expires), se.refresher),
        None => (policy.session_expires, None),
    };
    let refresher = match (supports, asked) {
        (false, _) => Refresher::Uas,
        (true, Some(asked)) => asked,
        (true, None) => Refresher::Uac,
    };
    UasAnswer::Run {
        session_expires: SessionExpires {
            seconds: seconds.max(floor),
            refresher: Some(refresher),
        },
        require: supports,
    }
}

/// RFC 4028 §7.2: what a 2xx to our request settles. `None` (no timer on
/// this leg) when it has no `Session-Expires`; a missing refresher makes us
/// (the UAC) the refresher.
pub fn uac_settle(response: Option<SessionExpires>) -> Option<SessionExpires> {
    response.map(|se| SessionExpires {
        seconds: se.seconds,
        refresher: Some(se.refresher.unwrap_or(Refresher::Uac)),
    })
}

/// What a leg's clock asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerDue {
    /// Send a session refresh now.
    Refresh,
    /// The peer's refresh did not come: end the session.
    Expired,
}

/// One leg's session timer: its interval, who refreshes, when it was last
/// refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegClock {
    interval: Duration,
    we_refresh: bool,
    refreshed_at: Instant,
    retry_at: Option<Instant>,
}

impl LegClock {
    /// A timer refreshed at `now`.
    pub fn new(seconds: u32, we_refresh: bool, now: Instant) -> Self {
        LegClock {
            interval: Duration::from_secs(u64::from(seconds.max(1))),
            we_refresh,
            refreshed_at: now,
            retry_at: None,
        }
    }

    /// The session interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Whether we send the refreshes.
    pub fn we_refresh(&self) -> bool {
        self.we_refresh
    }

    /// When [`LegClock::poll`] has something to say: half the interval
    /// after the last refresh when we refresh (or the retry of a failed
    /// one); otherwise the expiry less min(32 s, interval / 3) (§10).
    pub fn deadline(&self) -> Instant {
        if self.we_refresh {
            self.retry_at
                .unwrap_or(self.refreshed_at + self.interval / 2)
        } else {
            let margin = EXPIRY_MARGIN.min(self.interval / 3);
            self.refreshed_at + self.interval - margin
        }
    }

    /// What is due at `now`, if anything. Our own refreshes failing until
    /// the interval ends expire the session too.
    pub fn poll(&self, now: Instant) -> Option<TimerDue> {
        if now < self.deadline() {
            None
        } else if self.we_refresh && now < self.refreshed_at + self.interval {
            Some(TimerDue::Refresh)
        } else {
            Some(TimerDue::Expired)
        }
    }

    /// A refresh succeeded at `now`, settling a new interval and refresher.
    pub fn refreshed(&mut self, seconds: u32, we_refresh: bool, now: Instant) {
        *self = LegClock::new(seconds, we_refresh, now);
    }

    /// Our refresh failed without ending the dialog (491, 5xx): try again
    /// at `at`, unless that is past the interval's end.
    pub fn retry_at(&mut self, at: Instant) {
        let end = self.refreshed_at + self.interval;
        self.retry_at = Some(at.min(end));
    }

    /// The `Session-Expires` of a refresh request we send.
    pub fn request_value(&self) -> SessionExpires {
        SessionExpires {
            seconds: u32::try_from(self.interval.as_secs()).unwrap_or(u32::MAX),
            refresher: Some(if self.we_refresh {
                Refresher::Uac
            } else {
                Refresher::Uas
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: TimerPolicy = TimerPolicy {
        session_expires: 1800,
        min_se: 90,
    };

    fn se(seconds: u32, refresher: Option<Refresher>) -> SessionExpires {
        SessionExpires { seconds, refresher }
    }

    #[test]
    fn header_values_parse_strictly() {
        let uac = Some(Refresher::Uac);
        assert_eq!(SessionExpires::parse("1800"), Some(se(1800, None)));
        assert_eq!(
            SessionExpires::parse(" 4000 ; refresher = UAC "),
            Some(se(4000, uac))
        );
        assert_eq!(
            SessionExpires::parse("90;x=y;refresher=uas;flag"),
            Some(se(90, Some(Refresher::Uas)))
        );
        for bad in [
            "",
            "0",
            "-5",
            "+90",
            "9a",
            "1 800",
            "99999999999",
            "90;refresher=both",
            "90;refresher",
            "90;refresher=uac;refresher=uas",
            "90;;x",
            "90;a=\"b\"",
        ] {
            assert_eq!(SessionExpires::parse(bad), None, "{bad:?}");
        }
        assert_eq!(
            SessionExpires::parse(&format!("90;{}", "x".repeat(300))),
            None
        );
        assert_eq!(se(4000, uac).header_value(), "4000;refresher=uac");
        assert_eq!(se(90, None).header_value(), "90");
        assert_eq!(parse_min_se("90"), Some(90));
        assert_eq!(parse_min_se(" 120 ;ext"), Some(120));
        assert_eq!(parse_min_se("x"), None);
        assert!(lists_timer("100rel, Timer ,replaces"));
        assert!(!lists_timer("100rel, timers"));
    }

    /// RFC 4028 §9 and the examples of §7 (Alice and Bob).
    #[test]
    fn a_uas_refuses_short_intervals_of_timer_aware_uacs_only() {
        let short = TimerRequest {
            session_expires: Some(se(60, None)),
            min_se: None,
            supports_timer: true,
        };
        assert_eq!(
            uas_answer(&short, &POLICY),
            UasAnswer::TooSmall { min_se: 90 }
        );
        // A proxy inserted the header for a UAC without timers: raised, we refresh.
        let proxied = TimerRequest {
            supports_timer: false,
            ..short
        };
        assert_eq!(
            uas_answer(&proxied, &POLICY),
            UasAnswer::Run {
                session_expires: se(90, Some(Refresher::Uas)),
                require: false
            }
        );
    }

    #[test]
    fn a_uas_settles_interval_and_refresher() {
        let run = |request: TimerRequest| match uas_answer(&request, &POLICY) {
            UasAnswer::Run {
                session_expires,
                require,
            } => (session_expires, require),
            other => panic!("{other:?}"),
        };
        let aware = |se, min_se| TimerRequest {
            session_expires: se,
            min_se,
            supports_timer: true,
        };
        // Longer than ours: shortened; the UAC refreshes unless it chose.
        assert_eq!(
            run(aware(Some(se(3600, None)), None)),
            (se(1800, Some(Refresher::Uac)), true)
        );
        assert_eq!(
            run(aware(Some(se(900, Some(Refresher::Uas))), None)),
            (se(900, Some(Refresher::Uas)), true)
        );
        // Never below the request's own Min-SE.
        let strict = TimerPolicy {
            session_expires: 100,
            min_se: 90,
        };
        let answer = uas_answer(&aware(Some(se(4000, None)), Some(300)), &strict);
        assert_eq!(
            answer,
            UasAnswer::Run {
                session_expires: se(300, Some(Refresher::Uac)),
                require: true
            }
        );
        // No Session-Expires: ours, and we refresh a UAC without timers.
        assert_eq!(
            run(aware(None, None)),
            (se(1800, Some(Refresher::Uac)), true)
        );
        assert_eq!(
            run(TimerRequest::default()),
            (se(1800, Some(Refresher::Uas)), false)
        );
    }

    #[test]
    fn a_uac_takes_the_2xx_or_no_timer() {
        assert_eq!(uac_settle(None), None);
        assert_eq!(
            uac_settle(Some(se(90, None))),
            Some(se(90, Some(Refresher::Uac)))
        );
        let uas = Some(se(120, Some(Refresher::Uas)));
        assert_eq!(uac_settle(uas), uas);
    }

    #[test]
    fn the_refresher_refreshes_at_half_the_interval() {
        let t0 = Instant::now();
        let mut clock = LegClock::new(1800, true, t0);
        assert_eq!(clock.deadline(), t0 + Duration::from_secs(900));
        assert_eq!(clock.poll(t0 + Duration::from_secs(899)), None);
        assert_eq!(
            clock.poll(t0 + Duration::from_secs(900)),
            Some(TimerDue::Refresh)
        );
        assert_eq!(clock.request_value(), se(1800, Some(Refresher::Uac)));
        // A failed refresh is retried, never past the interval's end.
        clock.retry_at(t0 + Duration::from_secs(910));
        assert_eq!(clock.deadline(), t0 + Duration::from_secs(910));
        clock.retry_at(t0 + Duration::from_secs(4000));
        assert_eq!(clock.deadline(), t0 + Duration::from_secs(1800));
        assert_eq!(clock.poll(t0 + Duration::from_secs(1799)), None);
        assert_eq!(
            clock.poll(t0 + Duration::from_secs(1800)),
            Some(TimerDue::Expired)
        );
        // A refresh restarts the clock with what it settled.
        let t1 = t0 + Duration::from_secs(905);
        clock.refreshed(90, false, t1);
        assert!(!clock.we_refresh());
        assert_eq!(clock.request_value(), se(90, Some(Refresher::Uas)));
        assert_eq!(clock.deadline(), t1 + Duration::from_secs(60));
    }

    /// §10: the non-refresher ends the session min(32 s, interval / 3)
    /// before it expires.
    #[test]
    fn the_other_side_expires_before_the_interval_ends() {
        let t0 = Instant::now();
        let long = LegClock::new(1800, false, t0);
        assert_eq!(long.deadline(), t0 + Duration::from_secs(1800 - 32));
        assert_eq!(long.poll(t0 + Duration::from_secs(1767)), None);
        assert_eq!(
            long.poll(t0 + Duration::from_secs(1768)),
            Some(TimerDue::Expired)
        );
        let short = LegClock::new(90, false, t0);
        assert_eq!(short.deadline(), t0 + Duration::from_secs(60));
        let tiny = LegClock::new(3, false, t0);
        assert_eq!(tiny.deadline(), t0 + Duration::from_secs(2));
        assert_eq!(
            LegClock::new(0, true, t0).interval(),
            Duration::from_secs(1)
        );
    }
}

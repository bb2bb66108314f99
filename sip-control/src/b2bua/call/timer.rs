//! RFC 4028 session timers on a call's legs, each leg on its own (a
//! B2BUA): the headers INVITEs carry, the timer a 2xx or an answered
//! request settles, the refreshes sip-control sends (UPDATE when the peer
//! allows it, else a re-INVITE with the SDP the peer last got), and the
//! end of a leg whose refreshes stopped. The rules are in
//! [`crate::signal::session_timer`].

use std::time::{Duration, Instant};

use rsipstack::dialog::dialog::DialogState;
use rsipstack::sip::{Header, Request, Response, StatusCodeKind};

use super::leg::{sdp_body, sdp_headers, Leg};
use super::ng::CallMedia;
use crate::config::SipConfig;
use crate::signal::session_timer::{
    lists_timer, parse_min_se, uac_settle, uas_answer, LegClock, Refresher, SessionExpires,
    TimerDue, TimerPolicy, TimerRequest, UasAnswer,
};

/// How long after a refresh that failed without ending the dialog (491,
/// 5xx, another transaction in progress) it is tried again.
const RETRY: Duration = Duration::from_secs(2);

/// Why a call ends on a timer.
pub(super) const EXPIRED: &str = "session-expired";
/// Why a call ends when our refresh got 408, 481 or no answer.
pub(super) const REFRESH_FAILED: &str = "session-refresh-failed";

/// A leg's session timer.
#[derive(Debug, Clone)]
pub(crate) struct SessionTimer {
    clock: LegClock,
    /// The peer allows UPDATE: refreshes go without SDP.
    allow_update: bool,
    /// The peer said `Supported: timer`.
    peer_supports: bool,
    /// The `Min-SE` our refresh requests carry.
    min_se: u32,
}

/// Why a request's timer was refused.
pub(super) enum Refusal {
    /// 400: a `Session-Expires` or `Min-SE` that does not parse, or twice.
    Malformed,
    /// 422 with our `Min-SE`.
    TooSmall(u32),
}

/// The 2xx headers and the timer a request settles, applied once the 2xx
/// is sent.
pub(super) struct Settled {
    headers: Vec<Header>,
    timer: Option<SessionTimer>,
}

impl Settled {
    /// Headers for the 2xx.
    pub fn headers(&self) -> Vec<Header> {
        self.headers.clone()
    }

    /// The 2xx went out: the leg's timer restarts.
    pub fn apply(self, leg: &mut Leg) {
        if self.timer.is_some() {
            leg.timer = self.timer;
        }
    }
}

/// The configured timer numbers; `None` with `session-timers = false`.
pub(super) fn policy(sip: &SipConfig) -> Option<TimerPolicy> {
    let seconds = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
    sip.session_timers.then(|| TimerPolicy {
        session_expires: seconds(sip.session_expires),
        min_se: seconds(sip.min_se),
    })
}

/// `Supported: timer`, `Session-Expires` and `Min-SE` for an INVITE.
pub(super) fn invite_headers(policy: Option<&TimerPolicy>) -> Vec<Header> {
    let Some(policy) = policy else {
        return Vec::new();
    };
    let se = SessionExpires {
        seconds: policy.session_expires,
        refresher: None,
    };
    timer_request_headers(se, policy.min_se)
}

/// The `Min-SE` of a 422 answer to our INVITE, when it asks for more
/// than `asked` (RFC 4028 §7.4: then the INVITE is sent again).
pub(super) fn retry_interval(response: &Response, asked: u32) -> Option<u32> {
    if response.status_code.code() != 422 {
        return None;
    }
    let min_se = single(&response.headers, "Min-SE").ok()??;
    parse_min_se(min_se).filter(|&m| m > asked && m <= 24 * 3600)
}

/// What we answer a request (the carrier's INVITE, a re-INVITE or UPDATE
/// of either leg's peer): the 2xx headers and the timer, or a refusal.
/// Without a policy there is nothing to settle.
pub(super) fn answer_request(
    request: &Request,
    policy: Option<&TimerPolicy>,
    now: Instant,
) -> Result<Settled, Refusal> {
    let Some(policy) = policy else {
        return Ok(Settled {
            headers: Vec::new(),
            timer: None,
        });
    };
    let facts = request_facts(request).ok_or(Refusal::Malformed)?;
    let (session_expires, require) = match uas_answer(&facts, policy) {
        UasAnswer::TooSmall { min_se } => return Err(Refusal::TooSmall(min_se)),
        UasAnswer::Run {
            session_expires,
            require,
        } => (session_expires, require),
    };
    let mut headers = vec![
        Header::Supported("timer".into()),
        Header::SessionExpires(session_expires.header_value().into()),
    ];
    if require {
        headers.push(Header::Require("timer".into()));
    }
    let timer = SessionTimer {
        clock: LegClock::new(
            session_expires.seconds,
            session_expires.refresher == Some(Refresher::Uas),
            now,
        ),
        allow_update: allows_update(&request.headers),
        peer_supports: facts.supports_timer,
        min_se: policy.min_se.max(facts.min_se.unwrap_or(0)),
    };
    Ok(Settled {
        headers,
        timer: Some(timer),
    })
}

/// The timer the 2xx to our INVITE settles on a new leg (none when the
/// 2xx has no `Session-Expires`, or timers are off).
pub(super) fn from_answer(
    response: &Response,
    policy: Option<&TimerPolicy>,
    now: Instant,
) -> Option<SessionTimer> {
    let policy = policy?;
    let settled = uac_settle(response_session_expires(response))?;
    Some(SessionTimer {
        clock: LegClock::new(
            settled.seconds,
            settled.refresher == Some(Refresher::Uac),
            now,
        ),
        allow_update: allows_update(&response.headers),
        peer_supports: true,
        min_se: policy.min_se,
    })
}

/// The headers a request we send in `leg`'s dialog carries so that it
/// refreshes the leg's timer too (none without a timer).
pub(super) fn refresh_headers(leg: &Leg) -> Vec<Header> {
    leg.timer
        .as_ref()
        .map(|t| timer_request_headers(t.clock.request_value(), t.min_se))
        .unwrap_or_default()
}

/// A 2xx to a request we sent in `leg`'s dialog (a refresh, a forwarded
/// re-INVITE) restarts its timer. A peer that supports timers and answers
/// without `Session-Expires` turns it off (§7.2); one that does not
/// support them keeps us refreshing.
pub(super) fn after_our_request(leg: &mut Leg, response: &Response, now: Instant) {
    let Some(timer) = leg.timer.as_mut() else {
        return;
    };
    match uac_settle(response_session_expires(response)) {
        Some(se) => {
            let we_refresh = se.refresher == Some(Refresher::Uac);
            timer.clock.refreshed(se.seconds, we_refresh, now);
        }
        None if timer.peer_supports => leg.timer = None,
        None => {
            let (interval, we_refresh) = (timer.clock.interval(), timer.clock.we_refresh());
            let seconds = u32::try_from(interval.as_secs()).unwrap_or(u32::MAX);
            timer.clock.refreshed(seconds, we_refresh, now);
        }
    }
}

/// When either leg's timer next has something to do.
pub(super) fn next_wake(legs: [&Leg; 2]) -> Option<Instant> {
    legs.iter()
        .filter_map(|leg| leg.timer.as_ref().map(|t| t.clock.deadline()))
        .min()
}

/// Sleeps until `at`; forever without one.
pub(super) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Does what `leg`'s timer asks at `now`: a refresh, or the end of the
/// call (`Err` with its cause) when the peer's refresh did not come or
/// ours failed for good.
pub(super) async fn service(
    leg: &mut Leg,
    media: &CallMedia,
    now: Instant,
) -> Result<(), &'static str> {
    let Some(timer) = leg.timer.as_ref() else {
        return Ok(());
    };
    match timer.clock.poll(now) {
        None => Ok(()),
        Some(TimerDue::Expired) => {
            tracing::info!(leg = leg.role, "session timer expired");
            Err(EXPIRED)
        }
        Some(TimerDue::Refresh) => refresh(leg, media).await,
    }
}

/// Sends one refresh and settles the leg's timer from its answer.
async fn refresh(leg: &mut Leg, media: &CallMedia) -> Result<(), &'static str> {
    let Some(timer) = leg.timer.as_mut() else {
        return Ok(());
    };
    if !matches!(leg.dialog.state(), DialogState::Confirmed(..)) {
        // Another transaction of this dialog is in progress.
        timer.clock.retry_at(Instant::now() + RETRY);
        return Ok(());
    }
    let mut headers = timer_request_headers(timer.clock.request_value(), timer.min_se);
    let result = if timer.allow_update {
        leg.dialog.update(Some(headers), None).await
    } else {
        headers.extend(sdp_headers());
        let offer = media.last_sdp_for(&leg.ng_tag);
        leg.dialog.reinvite(Some(headers), Some(offer)).await
    };
    let now = Instant::now();
    let response = match result {
        Ok(Some(response)) => response,
        Ok(None) | Err(_) => {
            tracing::info!(leg = leg.role, "session refresh got no answer");
            return Err(REFRESH_FAILED);
        }
    };
    let code = response.status_code.code();
    if response.status_code.kind() == StatusCodeKind::Successful {
        if sdp_body(&response).is_some_and(|sdp| !media.was_sent_by(&leg.ng_tag, sdp)) {
            tracing::info!(
                leg = leg.role,
                "a refresh answer changed the SDP; the media node keeps the last one"
            );
        }
        after_our_request(leg, &response, now);
        return Ok(());
    }
    tracing::info!(leg = leg.role, code, "session refresh refused");
    match code {
        408 | 481 => Err(REFRESH_FAILED),
        422 => {
            let asked = timer.clock.request_value().seconds;
            if let Some(min_se) = retry_interval(&response, asked) {
                timer.min_se = timer.min_se.max(min_se);
                timer.clock.refreshed(min_se, true, now);
                timer.clock.retry_at(now);
            } else {
                timer.clock.retry_at(now + RETRY);
            }
            Ok(())
        }
        _ => {
            timer.clock.retry_at(now + RETRY);
            Ok(())
        }
    }
}

fn timer_request_headers(se: SessionExpires, min_se: u32) -> Vec<Header> {
    vec![
        Header::Supported("timer".into()),
        Header::SessionExpires(se.header_value().into()),
        Header::MinSE(min_se.to_string().into()),
    ]
}

/// The request's timer facts; `None` when a header is malformed or given
/// twice.
fn request_facts(request: &Request) -> Option<TimerRequest> {
    let headers = &request.headers;
    let session_expires = match single(headers, "Session-Expires").ok()? {
        Some(value) => Some(SessionExpires::parse(value)?),
        None => None,
    };
    let min_se = match single(headers, "Min-SE").ok()? {
        Some(value) => Some(parse_min_se(value)?),
        None => None,
    };
    let supports_timer = headers.iter().any(|h| {
        (h.name().eq_ignore_ascii_case("Supported") || h.name().eq_ignore_ascii_case("Require"))
            && lists_timer(h.value())
    });
    Some(TimerRequest {
        session_expires,
        min_se,
        supports_timer,
    })
}

/// A response's `Session-Expires`; `None` when absent or malformed.
fn response_session_expires(response: &Response) -> Option<SessionExpires> {
    SessionExpires::parse(single(&response.headers, "Session-Expires").ok()??)
}

/// The value of a header that may appear once: `Err` when it appears twice.
fn single<'a>(headers: &'a rsipstack::sip::Headers, name: &str) -> Result<Option<&'a str>, ()> {
    let mut values = headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(name))
        .map(|h| h.value());
    let first = values.next();
    match values.next() {
        Some(_) => Err(()),
        None => Ok(first),
    }
}

/// Whether an `Allow` header lists UPDATE.
fn allows_update(headers: &rsipstack::sip::Headers) -> bool {
    headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case("Allow"))
        .any(|h| {
            h.value()
                .split(',')
                .any(|m| m.trim().eq_ignore_ascii_case("UPDATE"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: TimerPolicy = TimerPolicy {
        session_expires: 1800,
        min_se: 90,
    };

    fn invite(extra: &str) -> Request {
        let text = format!(
            "INVITE sip:+15551230001@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n\
             From: <sip:a@127.0.0.1>;tag=a1\r\n\
             To: <sip:b@127.0.0.1>\r\n\
             Call-ID: c1@127.0.0.1\r\n\
             CSeq: 1 INVITE\r\n\
             {extra}Content-Length: 0\r\n\r\n"
        );
        Request::try_from(text.as_str()).expect("a valid INVITE")
    }

    fn ok(extra: &str) -> Response {
        let text = format!(
            "SIP/2.0 200 OK\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n\
             From: <sip:a@127.0.0.1>;tag=a1\r\n\
             To: <sip:b@127.0.0.1>;tag=b1\r\n\
             Call-ID: c1@127.0.0.1\r\n\
             CSeq: 1 INVITE\r\n\
             {extra}Content-Length: 0\r\n\r\n"
        );
        Response::try_from(text.as_str()).expect("a valid 200")
    }

    fn shown(headers: &[Header]) -> Vec<String> {
        headers.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn invites_ask_for_timers_unless_they_are_off() {
        assert_eq!(
            shown(&invite_headers(Some(&POLICY))),
            ["Supported: timer", "Session-Expires: 1800", "Min-SE: 90"]
        );
        assert!(invite_headers(None).is_empty());
    }

    #[test]
    fn a_carrier_invite_is_refused_or_settled() {
        let now = Instant::now();
        let short = invite("Supported: timer\r\nSession-Expires: 60\r\n");
        assert!(matches!(
            answer_request(&short, Some(&POLICY), now),
            Err(Refusal::TooSmall(90))
        ));
        for bad in [
            "Session-Expires: soon\r\n",
            "Session-Expires: 1800\r\nSession-Expires: 900\r\n",
            "Min-SE: -1\r\n",
        ] {
            assert!(
                matches!(
                    answer_request(&invite(bad), Some(&POLICY), now),
                    Err(Refusal::Malformed)
                ),
                "{bad:?}"
            );
        }
        let aware = invite("Supported: timer\r\nx: 900\r\nAllow: INVITE, UPDATE\r\n");
        let settled = answer_request(&aware, Some(&POLICY), now)
            .ok()
            .expect("settled");
        assert_eq!(
            shown(&settled.headers()),
            [
                "Supported: timer",
                "Session-Expires: 900;refresher=uac",
                "Require: timer"
            ]
        );
        let timer = settled.timer.expect("a timer");
        assert!(timer.allow_update && timer.peer_supports);
        assert!(!timer.clock.we_refresh(), "the carrier refreshes");
        // Timers off: nothing to say, nothing refused.
        let off = answer_request(&short, None, now).ok().expect("no refusal");
        assert!(off.headers().is_empty() && off.timer.is_none());
    }

    #[test]
    fn a_2xx_settles_the_leg_or_leaves_it_without_a_timer() {
        let now = Instant::now();
        let answer = ok("Session-Expires: 120;refresher=uas\r\nAllow: INVITE\r\n");
        let timer = from_answer(&answer, Some(&POLICY), now).expect("a timer");
        assert!(!timer.clock.we_refresh() && !timer.allow_update);
        assert_eq!(timer.clock.interval(), Duration::from_secs(120));
        assert!(from_answer(&ok(""), Some(&POLICY), now).is_none());
        assert!(from_answer(&answer, None, now).is_none());
    }

    #[test]
    fn a_422_is_retried_with_a_larger_interval_only() {
        let too_brief = |min_se: &str| {
            let text = format!(
                "SIP/2.0 422 Session Interval Too Small\r\n\
                 Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n\
                 From: <sip:a@127.0.0.1>;tag=a1\r\nTo: <sip:b@127.0.0.1>;tag=b1\r\n\
                 Call-ID: c1@127.0.0.1\r\nCSeq: 1 INVITE\r\n{min_se}Content-Length: 0\r\n\r\n"
            );
            Response::try_from(text.as_str()).expect("a valid 422")
        };
        assert_eq!(
            retry_interval(&too_brief("Min-SE: 3600\r\n"), 1800),
            Some(3600)
        );
        assert_eq!(retry_interval(&too_brief("Min-SE: 900\r\n"), 1800), None);
        assert_eq!(retry_interval(&too_brief(""), 1800), None);
        assert_eq!(retry_interval(&too_brief("Min-SE: 999999\r\n"), 1800), None);
        assert_eq!(
            retry_interval(&ok("Min-SE: 3600\r\n"), 1800),
            None,
            "not a 422"
        );
    }
}

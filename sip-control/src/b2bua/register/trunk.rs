//! One trunk's registration: REGISTER the AOR with digest credentials,
//! refresh before the granted lifetime ends, retry failures with backoff,
//! and un-REGISTER when stopped.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::registration::Registration as Client;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{typed, Header, Uri};
use rsipstack::transaction::make_tag;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::policy::{Outcome, Schedule, MAX_LIFETIME};
use crate::b2bua::{uri, Shared};
use crate::config::Registration;

/// Counter of REGISTER results by trunk and result.
const TOTAL: &str = "sluice_sip_registrations_total";
/// Gauge: 1 while the trunk's last REGISTER succeeded and has not lapsed.
const REGISTERED: &str = "sluice_sip_trunk_registered";
/// Bound of one REGISTER with its authenticated retry (Timer F is 32 s).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(32);
/// Bound of the un-REGISTER when stopping.
const UNREGISTER_TIMEOUT: Duration = Duration::from_secs(2);

/// What one REGISTER attempt came to.
struct Attempt {
    outcome: Outcome,
    /// Status line or error, for the log.
    detail: String,
    /// Lifetime granted by a 2xx, in seconds.
    granted: u32,
    /// Min-Expires of a 423.
    min_expires: Option<u32>,
}

/// Keeps `trunk` registered per `config` until `cancel`, then un-REGISTERs
/// (if a binding may exist). Waits for `previous` (the task this one
/// replaces) first: both may bind the same Contact.
pub(super) async fn run(
    shared: Arc<Shared>,
    trunk: String,
    config: Registration,
    cancel: CancellationToken,
    previous: Option<JoinHandle<()>>,
) {
    if let Some(previous) = previous {
        let _ = previous.await;
    }
    let gauge = [("trunk", trunk.as_str())];
    shared.metrics.set(REGISTERED, &gauge, 0.0);
    let (Some(registrar), Some(aor)) = (uri::parse(&config.registrar), uri::parse(&config.aor))
    else {
        tracing::error!(%trunk, "registrar or aor is not a SIP URI; not registering");
        return;
    };
    let credential = Credential {
        username: config.username.clone(),
        password: config.password.clone(),
        realm: None,
        auth_username: None,
    };
    let mut client = Client::new(shared.dialogs.endpoint.clone(), Some(credential));
    let mut schedule = Schedule::new(&trunk);
    let mut expires = config.expires;
    let mut last: Option<Outcome> = None;
    // Whether the registrar may hold a binding of ours.
    let mut bound = false;
    // When the current binding runs out, if one is current.
    let mut lapses: Option<Instant> = None;
    let lapsed = || shared.metrics.set(REGISTERED, &gauge, 0.0);
    while !cancel.is_cancelled() {
        let sent = register(&mut client, &registrar, &aor, expires);
        let Some(attempt) = watching(sent, &cancel, &mut lapses, &lapsed).await else {
            // A REGISTER in flight may have created a binding.
            bound = true;
            break;
        };
        let outcome = attempt.outcome;
        shared.metrics.inc(
            TOTAL,
            &[("trunk", trunk.as_str()), ("result", outcome.label())],
        );
        let ok = outcome == Outcome::Ok;
        shared
            .metrics
            .set(REGISTERED, &gauge, if ok { 1.0 } else { 0.0 });
        let now = Instant::now();
        let due = if ok {
            bound = true;
            let granted = Duration::from_secs(attempt.granted.into()).min(MAX_LIFETIME);
            lapses = Some(now + granted);
            schedule.registered(now.into_std(), granted)
        } else {
            lapses = None;
            if let Some(min) = attempt.min_expires {
                expires = expires.max(min);
            }
            schedule.failed(now.into_std())
        };
        if last != Some(outcome) {
            log_change(&trunk, &config.registrar, &attempt);
            last = Some(outcome);
        } else if !ok {
            let failures = schedule.failures();
            tracing::debug!(%trunk, detail = %attempt.detail, failures, "REGISTER failed again");
        }
        let wait = tokio::time::sleep_until(Instant::from_std(due));
        if watching(wait, &cancel, &mut lapses, &lapsed)
            .await
            .is_none()
        {
            break;
        }
    }
    shared.metrics.set(REGISTERED, &gauge, 0.0);
    if bound {
        unregister(&mut client, &registrar, &aor, &trunk).await;
    }
}

/// Runs `work` to completion, or until `cancel` (then `None`). Should the
/// binding lapse meanwhile, calls `lapsed` once.
async fn watching<T>(
    work: impl Future<Output = T>,
    cancel: &CancellationToken,
    lapses: &mut Option<Instant>,
    lapsed: &impl Fn(),
) -> Option<T> {
    tokio::pin!(work);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return None,
            () = sleep_until_some(*lapses) => {
                lapsed();
                *lapses = None;
            }
            out = &mut work => return Some(out),
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// One REGISTER asking for `expires` seconds, answering a digest challenge.
async fn register(client: &mut Client, registrar: &Uri, aor: &Uri, expires: u32) -> Attempt {
    client.extra_headers = aor_headers(aor);
    client.granted_expires = None;
    let sent = client.register(registrar.clone(), Some(expires));
    let response = match tokio::time::timeout(ATTEMPT_TIMEOUT, sent).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => return Attempt::failed(error.to_string()),
        Err(_) => return Attempt::failed("no final response".to_owned()),
    };
    let code = response.status_code.code();
    let min_expires = (code == 423)
        .then(|| response.min_expires_header())
        .flatten()
        .and_then(|h| h.value().trim().parse().ok());
    Attempt {
        outcome: Outcome::of_status(code),
        detail: response.status_code.to_string(),
        // rsipstack reads it from our Contact's expires or the Expires header.
        granted: client.granted_expires.filter(|g| *g > 0).unwrap_or(expires),
        min_expires,
    }
}

impl Attempt {
    fn failed(detail: String) -> Self {
        Attempt {
            outcome: Outcome::Failed,
            detail,
            granted: 0,
            min_expires: None,
        }
    }
}

/// REGISTER with expires 0, bounded by [`UNREGISTER_TIMEOUT`].
async fn unregister(client: &mut Client, registrar: &Uri, aor: &Uri, trunk: &str) {
    client.extra_headers = aor_headers(aor);
    let sent = client.register(registrar.clone(), Some(0));
    match tokio::time::timeout(UNREGISTER_TIMEOUT, sent).await {
        Ok(Ok(response)) if Outcome::of_status(response.status_code.code()) == Outcome::Ok => {
            tracing::info!(%trunk, "unregistered");
        }
        Ok(Ok(response)) => {
            tracing::warn!(%trunk, status = %response.status_code, "un-REGISTER refused");
        }
        Ok(Err(error)) => tracing::warn!(%trunk, %error, "un-REGISTER failed"),
        Err(_) => tracing::warn!(%trunk, "un-REGISTER unanswered within 2 s"),
    }
}

/// From and To naming the AOR (rsipstack would use the registrar's URI).
fn aor_headers(aor: &Uri) -> Vec<Header> {
    let from = typed::From {
        display_name: None,
        uri: aor.clone(),
        params: vec![],
    }
    .with_tag(make_tag());
    let to = typed::To {
        display_name: None,
        uri: aor.clone(),
        params: vec![],
    };
    vec![from.into(), to.into()]
}

/// Logs a change of registration state (repeats go to debug).
fn log_change(trunk: &str, registrar: &str, attempt: &Attempt) {
    let detail = &attempt.detail;
    match attempt.outcome {
        Outcome::Ok => {
            tracing::info!(%trunk, %registrar, expires = attempt.granted, "registered");
        }
        Outcome::AuthFailed => {
            tracing::warn!(%trunk, %registrar, %detail, "registration refused; check the credentials");
        }
        Outcome::Failed => {
            tracing::warn!(%trunk, %registrar, %detail, "registration failed; retrying with backoff");
        }
    }
}

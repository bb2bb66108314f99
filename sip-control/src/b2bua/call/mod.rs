//! One call: the carrier's INVITE, the media offer, the platform targets in
//! order until one answers, then both legs until either hangs up.
//!
//! - [`setup`]: targets in order with failover (timeout, transport error,
//!   configured final codes), early media, CANCEL from the carrier.
//! - [`session`]: the established call: BYE, INFO DTMF, re-INVITE, UPDATE.
//! - [`transfer`]: REFER from the platform, bridged to a human queue.
//! - [`ng`]: the NG requests of a call, built from the trunk and platform policy.
//! - [`leg`]: helpers shared by both legs (headers, SDP bodies).
//! - [`precheck`]: INVITEs refused before they become calls (`Replaces`,
//!   a session interval below our `Min-SE`).
//! - [`timer`]: RFC 4028 session timers on each leg.

mod leg;
mod ng;
mod precheck;
mod session;
mod setup;
mod timer;
mod transfer;

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::StatusCode;
use rsipstack::transaction::transaction::Transaction;

use super::{ActiveCall, Runtime, Shared};
use crate::ops::Cdr;

/// Everything a call needs about where it came from and where it goes.
pub(crate) struct CallContext {
    pub shared: Arc<Shared>,
    pub runtime: Arc<Runtime>,
    pub trunk: usize,
    pub did: usize,
    pub started: Instant,
    pub cdr: Cdr,
}

/// Runs one call from its INVITE transaction to the end.
pub async fn run(shared: Arc<Shared>, runtime: Arc<Runtime>, mut tx: Transaction, trunk: usize) {
    if precheck::refused(&shared, &runtime, &mut tx).await {
        return;
    }
    let _active = ActiveCall::new(shared.clone());
    let started = Instant::now();
    let trunk_name = runtime.config.trunks[trunk].name.clone();
    shared
        .metrics
        .inc("sluice_sip_calls_total", &[("trunk", trunk_name.as_str())]);
    let request = tx.original.clone();
    let mut cdr = Cdr {
        call_id: request
            .call_id_header()
            .map(|c| c.value().to_owned())
            .unwrap_or_default(),
        trunk: trunk_name,
        from: request
            .from_header()
            .ok()
            .and_then(|f| f.uri().ok())
            .and_then(|u| u.user().map(str::to_owned))
            .unwrap_or_default(),
        start_ms: unix_ms(),
        ..Cdr::default()
    };
    let ruri_user = request.uri.user().map(str::to_owned);
    let to_user = request
        .to_header()
        .ok()
        .and_then(|t| t.uri().ok())
        .and_then(|u| u.user().map(str::to_owned));
    let Some((did, number)) = runtime
        .router
        .route(&[ruri_user.as_deref(), to_user.as_deref()])
    else {
        let _ = tx.reply(StatusCode::NotFound).await;
        finish_unanswered(&shared, &mut cdr, "no-route", 404);
        return;
    };
    cdr.did = number;
    if request.body.is_empty() || !crate::signal::sdp_facts::is_valid(&request.body) {
        // Late offer (an INVITE without SDP) is not supported yet.
        let _ = tx.reply(StatusCode::NotAcceptableHere).await;
        finish_unanswered(&shared, &mut cdr, "no-sdp", 488);
        return;
    }
    let context = CallContext {
        shared,
        runtime,
        trunk,
        did,
        started,
        cdr,
    };
    setup::run(context, tx).await;
}

/// Records a call that never reached a platform.
pub(crate) fn finish_unanswered(shared: &Shared, cdr: &mut Cdr, cause: &str, status: u16) {
    cdr.end = cause.to_owned();
    cdr.status = Some(status);
    shared.metrics.inc(
        "sluice_sip_call_failures_total",
        &[("trunk", cdr.trunk.as_str()), ("cause", cause)],
    );
    write_cdr(shared, cdr);
}

/// Writes the CDR (and a log line) of a finished call.
pub(crate) fn write_cdr(shared: &Shared, cdr: &Cdr) {
    tracing::info!(
        call_id = %cdr.call_id,
        trunk = %cdr.trunk,
        did = %cdr.did,
        end = %cdr.end,
        target = cdr.target.as_deref().unwrap_or("-"),
        "call ended"
    );
    if let Some(writer) = &shared.cdr {
        writer.write(cdr);
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

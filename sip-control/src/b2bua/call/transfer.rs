//! REFER from the platform leg (RFC 3515): the caller goes to a human queue.
//!
//! The Refer-To must be one of the DID's configured queues (a platform
//! cannot make sip-control dial anything else). sip-control answers 202,
//! calls the queue with a fresh offer of the carrier's media, keeps the
//! carrier connected to the platform while the queue rings, and on answer
//! moves the carrier's media to the queue, reports `200` in a NOTIFY and
//! releases the platform leg. A failed attempt restores the platform's
//! media and reports the failure in the NOTIFY; the call goes on.
//! `transfer = "warm"` behaves the same way: the platform stays on the call
//! until the human answers.
//!
//! With `transfer = "refer"` on the DID and `refer-pass-through` on the
//! trunk, the REFER goes to the carrier instead; the carrier's NOTIFYs are
//! relayed to the platform and the carrier ends the call when done.
//!
//! An attended transfer (RFC 5589) names the platform's consultation call
//! with the human in a `Replaces` URI header of the Refer-To. The target
//! must still be a configured queue; the INVITE to it (or the REFER passed
//! to the carrier) carries that `Replaces`, so the human's phone swaps its
//! consultation call for the caller. A malformed `Replaces` gets 400.
//!
//! The queue's INVITE asks for a session timer as the platform's does; its
//! 2xx settles the timer of the leg that replaces the platform's.

use std::time::{Duration, Instant};

use rsipstack::dialog::dialog::{DialogState, TransactionHandle};
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Request, StatusCode, StatusCodeKind};

use super::leg::{sdp_body, to_tag, Leg};
use super::ng::CallMedia;
use super::{timer, CallContext};
use crate::b2bua::uri;
use crate::config::TransferMode;
use crate::signal::refer::{refer_replaces, refer_target};
use crate::signal::replaces::Replaces;
use crate::signal::sdp_facts;

/// How long a queue may ring when `ring-timeout` is not set.
const DEFAULT_QUEUE_RING: Duration = Duration::from_secs(60);

/// What a REFER led to.
pub(super) enum TransferOutcome {
    /// The queue answered: it replaces the platform leg.
    Completed(Leg),
    /// The call goes on with the platform.
    Failed,
    /// The carrier took the REFER (pass-through): its NOTIFYs go to the
    /// platform, and it ends the call when its transfer completes.
    HandedToCarrier,
    /// The call ended meanwhile (the carrier hung up, or the platform hung
    /// up and the queue did not answer).
    Ended(&'static str),
}

/// Handles a REFER from the platform.
pub(super) async fn refer(
    ctx: &mut CallContext,
    media: &CallMedia,
    carrier: &mut Leg,
    platform: &mut Leg,
    request: Request,
    handle: TransactionHandle,
) -> TransferOutcome {
    let metrics = ctx.shared.metrics.clone();
    let refer_to = request.headers.iter().find_map(|h| match h {
        Header::ReferTo(value) => Some(value.value().to_owned()),
        _ => None,
    });
    let Some(target) = refer_to.as_deref().and_then(refer_target) else {
        let _ = handle.reply(StatusCode::BadRequest).await;
        return TransferOutcome::Failed;
    };
    let replaces = match refer_replaces(refer_to.as_deref().unwrap_or_default()) {
        Ok(replaces) => replaces,
        Err(error) => {
            tracing::info!(call_id = %ctx.cdr.call_id, %target, %error, "REFER with a malformed Replaces");
            metrics.inc(
                "sluice_sip_transfers_total",
                &[("mode", "bridge"), ("result", "bad-replaces")],
            );
            let _ = handle.reply(StatusCode::BadRequest).await;
            return TransferOutcome::Failed;
        }
    };
    let did = &ctx.runtime.config.dids[ctx.did];
    let allowed = did.queues.iter().any(|queue| same_target(queue, &target));
    if !allowed {
        tracing::info!(call_id = %ctx.cdr.call_id, %target, "REFER to a target that is not a configured queue");
        metrics.inc(
            "sluice_sip_transfers_total",
            &[("mode", "bridge"), ("result", "forbidden")],
        );
        let _ = handle.reply(StatusCode::Forbidden).await;
        return TransferOutcome::Failed;
    }
    let trunk = &ctx.runtime.config.trunks[ctx.trunk];
    if did.transfer == TransferMode::Refer && trunk.refer_pass_through {
        let outcome = pass_through(carrier, &request, handle, &target, replaces.as_ref()).await;
        let result = match outcome {
            TransferOutcome::HandedToCarrier => "accepted",
            _ => "refused",
        };
        ctx.cdr.transfer = Some(format!("{target}: carrier {result}"));
        metrics.inc(
            "sluice_sip_transfers_total",
            &[("mode", "refer"), ("result", result)],
        );
        return outcome;
    }
    reply_before_notify(handle, StatusCode::Other(202, "Accepted".into())).await;
    notify(platform, 100, "Trying", false).await;

    let outcome = bridge(ctx, media, carrier, platform, &target, replaces.as_ref()).await;
    let result = match &outcome {
        TransferOutcome::Completed(_) => "completed",
        TransferOutcome::Failed | TransferOutcome::HandedToCarrier => "failed",
        TransferOutcome::Ended(_) => "ended",
    };
    let attended = if replaces.is_some() {
        " (attended)"
    } else {
        ""
    };
    ctx.cdr.transfer = Some(format!("{target}: {result}{attended}"));
    metrics.inc(
        "sluice_sip_transfers_total",
        &[("mode", "bridge"), ("result", result)],
    );
    outcome
}

/// Sends the REFER on to the carrier (with the `Replaces` of an attended
/// transfer) and answers the platform with the carrier's answer.
async fn pass_through(
    carrier: &Leg,
    request: &Request,
    handle: TransactionHandle,
    target: &str,
    replaces: Option<&Replaces>,
) -> TransferOutcome {
    if uri::parse(target).is_none() {
        let _ = handle.reply(StatusCode::BadRequest).await;
        return TransferOutcome::Failed;
    }
    let refer_to = match replaces {
        Some(replaces) => format!("<{target}?Replaces={}>", replaces.uri_header_value()),
        None => format!("<{target}>"),
    };
    let referred_by: Vec<Header> = request
        .headers
        .iter()
        .filter(|h| matches!(h, Header::ReferredBy(_)))
        .cloned()
        .collect();
    match carrier
        .dialog
        .refer(
            rsipstack::sip::ReferTo::new(refer_to),
            Some(referred_by),
            None,
        )
        .await
    {
        Ok(Some(response)) => {
            let accepted = response.status_code.code() < 300;
            reply_before_notify(handle, response.status_code).await;
            if accepted {
                TransferOutcome::HandedToCarrier
            } else {
                TransferOutcome::Failed
            }
        }
        Ok(None) => {
            let _ = handle.reply(StatusCode::CallTransactionDoesNotExist).await;
            TransferOutcome::Failed
        }
        Err(_) => {
            let _ = handle.reply(StatusCode::RequestTimeout).await;
            TransferOutcome::Failed
        }
    }
}

/// Calls the queue (replacing the human's consultation call when the REFER
/// named one) and, when it answers, moves the carrier's media to it.
async fn bridge(
    ctx: &mut CallContext,
    media: &CallMedia,
    carrier: &mut Leg,
    platform: &mut Leg,
    target: &str,
    replaces: Option<&Replaces>,
) -> TransferOutcome {
    let shared = ctx.shared.clone();
    let Some(callee) = uri::parse(target) else {
        notify(platform, 400, "Bad Request", true).await;
        return TransferOutcome::Failed;
    };
    let offer = match media.reoffer_to_new_party(&carrier.ng_tag).await {
        Ok(sdp) => sdp,
        Err(error) => {
            tracing::warn!(%error, "media node refused the transfer offer");
            notify(platform, 503, "Service Unavailable", true).await;
            return TransferOutcome::Failed;
        }
    };
    let initial = carrier.dialog.initial_request();
    let caller = initial
        .from_header()
        .ok()
        .and_then(|f| f.uri().ok())
        .unwrap_or_else(|| shared.contact.clone());
    let policy = timer::policy(&ctx.runtime.config.sip);
    let mut headers = timer::invite_headers(policy.as_ref());
    if let Some(replaces) = replaces {
        headers.push(Header::Replaces(replaces.header_value().into()));
    }
    let option = InviteOption {
        caller,
        callee,
        content_type: Some("application/sdp".to_owned()),
        offer: Some(offer),
        contact: shared.contact.clone(),
        headers: Some(headers),
        ..InviteOption::default()
    };
    let (sender, states) = shared.dialogs.new_dialog_state_channel();
    let (dialog, mut invite) = match shared.dialogs.do_invite_async(option, sender) {
        Ok(started) => started,
        Err(error) => {
            tracing::info!(%error, %target, "cannot call the queue");
            media.restore(&carrier.ng_tag, &platform.ng_tag).await;
            notify(platform, 503, "Service Unavailable", true).await;
            return TransferOutcome::Failed;
        }
    };
    let mut queue = Leg {
        dialog,
        states,
        ng_tag: String::new(),
        telephone_event: false,
        role: "queue",
        timer: None,
    };
    let ring = ctx
        .runtime
        .config
        .sip
        .ring_timeout
        .unwrap_or(DEFAULT_QUEUE_RING);
    let deadline = Instant::now() + ring;
    let mut platform_gone = false;
    let status = loop {
        tokio::select! {
            result = &mut invite => {
                break match result {
                    Ok(Ok((_, Some(response)))) if response.status_code.kind() == StatusCodeKind::Successful => {
                        let tag = to_tag(&response).unwrap_or_default();
                        let answered = match sdp_body(&response) {
                            Some(sdp) => media.answer(&carrier.ng_tag, &tag, sdp).await.map(|_| ()),
                            None => Err("the queue answered without SDP".to_owned()),
                        };
                        match answered {
                            Ok(()) => {
                                queue.ng_tag = tag;
                                queue.telephone_event =
                                    sdp_body(&response).is_some_and(sdp_facts::has_telephone_event);
                                queue.timer = timer::from_answer(&response, policy.as_ref(), Instant::now());
                                if !platform_gone {
                                    notify(platform, 200, "OK", true).await;
                                }
                                return TransferOutcome::Completed(queue);
                            }
                            Err(error) => {
                                tracing::warn!(%error, "media answer for the queue failed");
                                let _ = queue.dialog.bye().await;
                                500
                            }
                        }
                    }
                    Ok(Ok((_, Some(response)))) => response.status_code.code(),
                    Ok(Ok((_, None))) | Ok(Err(_)) | Err(_) => 408,
                };
            }
            event = carrier.next() => {
                if matches!(event, None | Some(DialogState::Terminated(..))) {
                    let _ = queue.dialog.cancel().await;
                    tokio::spawn(async move { let _ = invite.await; });
                    if !platform_gone {
                        notify(platform, 487, "Request Terminated", true).await;
                        let _ = platform.dialog.bye().await;
                    }
                    return TransferOutcome::Ended("carrier-bye");
                }
            }
            event = platform.next(), if !platform_gone => {
                // A blind-transferring platform may hang up right after 202.
                if matches!(event, None | Some(DialogState::Terminated(..))) {
                    platform_gone = true;
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => {
                let _ = queue.dialog.cancel().await;
                tokio::spawn(async move { let _ = invite.await; });
                break 408;
            }
        }
    };
    tracing::info!(call_id = %ctx.cdr.call_id, %target, status, "transfer failed");
    if platform_gone {
        let _ = carrier.dialog.bye().await;
        return TransferOutcome::Ended("transfer-failed");
    }
    media.restore(&carrier.ng_tag, &platform.ng_tag).await;
    notify(platform, status, reason(status), true).await;
    TransferOutcome::Failed
}

/// Answers the REFER and returns once the answer is on the wire, so that the
/// NOTIFYs that follow cannot overtake it (a referrer such as SIPp expects
/// the 202 first).
///
/// rsipstack sends the answer from the dialog's own task and drops the
/// command channel right after a final answer; commands queued behind the
/// final one are never read. Filling the channel (4 slots) therefore blocks
/// until that task has sent the answer and closed the channel.
async fn reply_before_notify(handle: TransactionHandle, status: StatusCode) {
    if handle.reply(status.clone()).await.is_err() {
        return;
    }
    let closed = async { while handle.reply(status.clone()).await.is_ok() {} };
    if tokio::time::timeout(Duration::from_secs(1), closed)
        .await
        .is_err()
    {
        tracing::debug!("the REFER's answer was not seen sent within 1 s");
    }
}

/// A NOTIFY of the REFER's implicit subscription with a sipfrag status.
async fn notify(leg: &Leg, code: u16, reason: &str, last: bool) {
    let state = if last {
        "terminated;reason=noresource"
    } else {
        "active;expires=60"
    };
    let headers = vec![
        Header::Event("refer".into()),
        Header::SubscriptionState(state.into()),
        Header::ContentType("message/sipfrag;version=2.0".into()),
    ];
    let body = format!("SIP/2.0 {code} {reason}\r\n").into_bytes();
    if let Err(error) = leg.dialog.notify(Some(headers), Some(body)).await {
        tracing::debug!(%error, "NOTIFY to the referrer failed");
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        486 => "Busy Here",
        487 => "Request Terminated",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        603 => "Decline",
        _ => "Failed",
    }
}

/// Whether two SIP URIs name the same user at the same host and port.
fn same_target(configured: &str, requested: &str) -> bool {
    let (Some(a), Some(b)) = (uri::parse(configured), uri::parse(requested)) else {
        return false;
    };
    a.user() == b.user() && a.host_with_port.to_string() == b.host_with_port.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_match_by_user_host_and_port() {
        assert!(same_target(
            "sip:queue@127.0.0.1:5100",
            "sip:queue@127.0.0.1:5100"
        ));
        assert!(!same_target(
            "sip:queue@127.0.0.1:5100",
            "sip:other@127.0.0.1:5100"
        ));
        assert!(!same_target(
            "sip:queue@127.0.0.1:5100",
            "sip:queue@127.0.0.1:5101"
        ));
        assert!(!same_target("sip:queue@127.0.0.1:5100", "garbage"));
    }
}

//! From the carrier's INVITE to an answered call: the media offer, then the
//! platform's targets in order (healthy ones first) until one answers.
//! A target is given up on when it stays silent past `target-timeout`,
//! rings past `ring-timeout`, fails at the transport, or answers with one of
//! `failover-codes`; any other final response goes back to the carrier.

use std::time::{Duration, Instant};

use rsipstack::dialog::dialog::DialogState;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Response, StatusCode, StatusCodeKind};
use rsipstack::transaction::transaction::Transaction;

use super::leg::{sdp_body, sdp_headers, to_tag, Leg};
use super::ng::CallMedia;
use super::{finish_unanswered, session, timer, CallContext};
use crate::b2bua::uri;
use crate::signal::sdp_facts;
use crate::signal::session_timer::TimerPolicy;

/// How one target attempt ended.
enum Attempt {
    /// 2xx: the new leg and its final response.
    Answered(Box<Leg>, Response),
    /// 422: the target wants at least this session interval.
    TooBrief(u32),
    /// Try the next target, for this cause.
    Failover(String),
    /// A final response the carrier gets as is.
    Final(u16),
    /// The carrier cancelled (or its transaction died) meanwhile.
    CarrierGone,
}

/// Sets the call up and, once answered, hands it to [`session::run`].
pub(super) async fn run(mut ctx: CallContext, tx: Transaction) {
    let shared = ctx.shared.clone();
    let request = tx.original.clone();
    let carrier_tag = request
        .from_header()
        .ok()
        .and_then(|f| f.tag().ok().flatten())
        .map(|t| t.value().to_owned())
        .unwrap_or_default();
    let (sender, states) = shared.dialogs.new_dialog_state_channel();
    let dialog = match shared.dialogs.get_or_create_server_invite(
        &tx,
        sender,
        None,
        Some(shared.contact.clone()),
    ) {
        Ok(dialog) => dialog,
        Err(error) => {
            tracing::warn!(%error, "cannot create the carrier dialog");
            finish_unanswered(&shared, &mut ctx.cdr, "bad-request", 400);
            return;
        }
    };
    let mut carrier = Leg {
        dialog: dialog.clone(),
        states,
        ng_tag: carrier_tag,
        telephone_event: sdp_facts::has_telephone_event(&request.body),
        role: "carrier",
        timer: None,
    };
    {
        let mut dialog = dialog.clone();
        let mut tx = tx;
        tokio::spawn(async move {
            if let Err(error) = dialog.handle(&mut tx).await {
                tracing::debug!(%error, "carrier INVITE transaction ended");
            }
        });
    }

    let platform_index = ctx
        .runtime
        .config
        .platforms
        .iter()
        .position(|p| p.name == ctx.runtime.config.dids[ctx.did].platform);
    let Some(platform_index) = platform_index else {
        // Validation makes this unreachable; answer sanely anyway.
        let _ = carrier.dialog.reject(Some(StatusCode::NotFound), None);
        finish_unanswered(&shared, &mut ctx.cdr, "no-route", 404);
        return;
    };
    let media = match CallMedia::offer(&ctx, platform_index, &carrier.ng_tag, &request.body).await {
        Ok(media) => media,
        Err(error) => {
            tracing::warn!(call_id = %ctx.cdr.call_id, %error, "no media node took the offer");
            let _ = carrier
                .dialog
                .reject(Some(StatusCode::ServiceUnavailable), None);
            finish_unanswered(&shared, &mut ctx.cdr, "media-unavailable", 503);
            return;
        }
    };
    ctx.cdr.media_node = Some(media.node_name());

    let platform = &ctx.runtime.config.platforms[platform_index];
    let targets = shared.health.in_order(&platform.targets);
    let policy = timer::policy(&ctx.runtime.config.sip);
    for target in targets {
        let mut outcome = attempt(&ctx, &mut carrier, &media, &target, policy.as_ref()).await;
        if let (Attempt::TooBrief(min_se), Some(policy)) = (&outcome, policy) {
            // RFC 4028 §7.4: once more, asking for the target's Min-SE.
            let raised = TimerPolicy {
                session_expires: *min_se,
                min_se: policy.min_se.max(*min_se),
            };
            outcome = attempt(&ctx, &mut carrier, &media, &target, Some(&raised)).await;
        }
        match outcome {
            Attempt::Answered(leg, response) => {
                ctx.cdr.target = Some(target);
                session::answered(ctx, carrier, *leg, response, media).await;
                return;
            }
            Attempt::TooBrief(_) => {
                tracing::info!(call_id = %ctx.cdr.call_id, %target, "422 twice; trying the next");
                ctx.cdr.failovers += 1;
                shared.metrics.inc(
                    "sluice_sip_target_failovers_total",
                    &[("target", target.as_str()), ("cause", "422")],
                );
            }
            Attempt::Failover(cause) => {
                tracing::info!(call_id = %ctx.cdr.call_id, %target, %cause, "target failed; trying the next");
                ctx.cdr.failovers += 1;
                shared.metrics.inc(
                    "sluice_sip_target_failovers_total",
                    &[("target", target.as_str()), ("cause", cause.as_str())],
                );
            }
            Attempt::Final(code) => {
                let _ = carrier.dialog.reject(Some(StatusCode::from(code)), None);
                media.delete().await;
                finish_unanswered(&shared, &mut ctx.cdr, "rejected", code);
                return;
            }
            Attempt::CarrierGone => {
                media.delete().await;
                finish_unanswered(&shared, &mut ctx.cdr, "carrier-cancel", 487);
                return;
            }
        }
    }
    let _ = carrier
        .dialog
        .reject(Some(StatusCode::ServiceUnavailable), None);
    media.delete().await;
    finish_unanswered(&shared, &mut ctx.cdr, "all-targets-failed", 503);
}

/// One INVITE to one target (asking for a session timer under `policy`),
/// relaying its provisional responses (with early media) to the carrier.
async fn attempt(
    ctx: &CallContext,
    carrier: &mut Leg,
    media: &CallMedia,
    target: &str,
    policy: Option<&TimerPolicy>,
) -> Attempt {
    let shared = &ctx.shared;
    let sip = &ctx.runtime.config.sip;
    let Some(mut callee) = uri::parse(target) else {
        return Attempt::Failover("bad-uri".to_owned());
    };
    if callee.auth.is_none() {
        // A target without a user part gets the dialed number.
        callee.auth = Some(rsipstack::sip::Auth {
            user: ctx.cdr.did.clone(),
            password: None,
        });
    }
    let initial = carrier.dialog.initial_request();
    let from = initial.from_header().ok().and_then(|f| f.uri().ok());
    let max_forwards = initial
        .headers
        .iter()
        .find_map(|h| match h {
            Header::MaxForwards(m) => m.value().trim().parse::<u32>().ok(),
            _ => None,
        })
        .unwrap_or(70);
    if max_forwards == 0 {
        return Attempt::Final(483);
    }
    let mut headers = vec![
        Header::MaxForwards((max_forwards - 1).into()),
        // RFC 3455: the number the carrier dialled, for the platform.
        Header::Other(
            "P-Called-Party-ID".into(),
            format!("<sip:{}@{}>", ctx.cdr.did, shared.contact.host_with_port),
        ),
    ];
    headers.extend(timer::invite_headers(policy));
    let option = InviteOption {
        caller: from.unwrap_or_else(|| shared.contact.clone()),
        callee,
        content_type: Some("application/sdp".to_owned()),
        offer: Some(media.platform_sdp().to_vec()),
        contact: shared.contact.clone(),
        headers: Some(headers),
        ..InviteOption::default()
    };
    let (sender, states) = shared.dialogs.new_dialog_state_channel();
    let (dialog, mut invite) = match shared.dialogs.do_invite_async(option, sender) {
        Ok(started) => started,
        Err(error) => {
            tracing::debug!(%target, %error, "cannot send INVITE");
            return Attempt::Failover("transport".to_owned());
        }
    };
    let mut leg = Leg {
        dialog,
        states,
        ng_tag: String::new(),
        telephone_event: false,
        role: "platform",
        timer: None,
    };
    let mut deadline = Instant::now() + sip.target_timeout;
    let mut heard = false;
    loop {
        tokio::select! {
            result = &mut invite => {
                let response = match result {
                    Ok(Ok((_, Some(response)))) => response,
                    Ok(Ok((_, None))) => return Attempt::Failover("no-response".to_owned()),
                    Ok(Err(error)) => {
                        tracing::debug!(%target, %error, "INVITE failed");
                        return Attempt::Failover("transport".to_owned());
                    }
                    Err(_) => return Attempt::Failover("internal".to_owned()),
                };
                let code = response.status_code.code();
                if response.status_code.kind() == StatusCodeKind::Successful {
                    leg.ng_tag = to_tag(&response).unwrap_or_default();
                    leg.telephone_event = sdp_body(&response).is_some_and(sdp_facts::has_telephone_event);
                    leg.timer = timer::from_answer(&response, policy, Instant::now());
                    return Attempt::Answered(Box::new(leg), response);
                }
                let asked = policy.map(|p| p.session_expires);
                if let Some(min_se) = asked.and_then(|a| timer::retry_interval(&response, a)) {
                    return Attempt::TooBrief(min_se);
                }
                if sip.failover_codes.contains(&code) {
                    return Attempt::Failover(code.to_string());
                }
                return Attempt::Final(code);
            }
            Some(state) = leg.states.recv() => match state {
                DialogState::Trying(_) if !heard => {
                    heard = true;
                    deadline = ring_deadline(sip.ring_timeout);
                }
                DialogState::Early(_, response) => {
                    if !heard {
                        heard = true;
                        deadline = ring_deadline(sip.ring_timeout);
                    }
                    early(carrier, &mut leg, media, &response).await;
                }
                _ => {}
            },
            Some(state) = carrier.states.recv() => {
                if matches!(state, DialogState::Terminated(..)) {
                    let _ = leg.dialog.cancel().await;
                    tokio::spawn(async move { let _ = invite.await; });
                    return Attempt::CarrierGone;
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => {
                if heard {
                    let _ = leg.dialog.cancel().await;
                    tokio::spawn(async move { let _ = invite.await; });
                } else {
                    // Silent target: no provisional, so no CANCEL yet; the
                    // dropped INVITE stops retransmitting (and is CANCELed
                    // should a provisional still arrive).
                    invite.abort();
                }
                return Attempt::Failover(if heard { "ring-timeout" } else { "timeout" }.to_owned());
            }
        }
    }
}

/// No ring limit means "until the target gives up".
fn ring_deadline(limit: Option<Duration>) -> Instant {
    Instant::now() + limit.unwrap_or(Duration::from_secs(24 * 3600))
}

/// Relays a provisional response: 183 with the media node's SDP when the
/// target sent early media, 180 otherwise.
async fn early(carrier: &Leg, leg: &mut Leg, media: &CallMedia, response: &Response) {
    let code = response.status_code.code();
    if code == 100 {
        return;
    }
    match sdp_body(response) {
        Some(sdp) => {
            let tag = to_tag(response).unwrap_or_default();
            match media.answer(&carrier.ng_tag, &tag, sdp).await {
                Ok(carrier_sdp) => {
                    leg.ng_tag = tag;
                    let _ = carrier
                        .dialog
                        .ringing(Some(sdp_headers()), Some(carrier_sdp));
                }
                Err(error) => {
                    tracing::warn!(%error, "early media answer failed; relaying 180");
                    let _ = carrier.dialog.ringing(None, None);
                }
            }
        }
        None => {
            let _ = carrier.dialog.ringing(None, None);
        }
    }
}

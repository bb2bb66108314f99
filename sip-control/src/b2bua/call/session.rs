//! The answered call: both legs until either hangs up. INFO DTMF is
//! converted to RFC 4733 through the media node (or relayed), re-INVITEs go
//! through NG offer/answer, REFER from the platform starts a transfer.
//! Each leg's session timer (RFC 4028) is refreshed by the requests either
//! side sends; one that expires ends the call on both legs.

use std::time::{Duration, Instant};

use rsipstack::dialog::dialog::{DialogState, TransactionHandle};
use rsipstack::sip::{Header, Method, Request, Response, StatusCode};
use tokio::sync::oneshot;

use super::leg::{sdp_body, sdp_headers, Leg};
use super::ng::CallMedia;
use super::timer::{self, Refusal};
use super::transfer::{self, TransferOutcome};
use super::{write_cdr, CallContext};
use crate::signal::info_dtmf::{self, InfoFormat};
use crate::signal::sdp_facts;
use crate::signal::session_timer::TimerPolicy;

/// How often the media node is first asked for the platform's first packet.
const TTFA_POLL: Duration = Duration::from_millis(20);
/// The longest wait between two of those queries.
const TTFA_POLL_MAX: Duration = Duration::from_secs(1);
/// How long after the answer the platform's first packet is looked for.
const TTFA_LIMIT: Duration = Duration::from_secs(10);

/// Answers the carrier with the media node's SDP, then runs the call.
pub(super) async fn answered(
    mut ctx: CallContext,
    mut carrier: Leg,
    mut platform: Leg,
    response: Response,
    media: CallMedia,
) {
    let shared = ctx.shared.clone();
    let answer = match sdp_body(&response) {
        Some(sdp) => media.answer(&carrier.ng_tag, &platform.ng_tag, sdp).await,
        None => Err("the platform answered without SDP".to_owned()),
    };
    let carrier_sdp = match answer {
        Ok(sdp) => sdp,
        Err(error) => {
            tracing::warn!(call_id = %ctx.cdr.call_id, %error, "media answer failed");
            let _ = platform.dialog.bye().await;
            let _ = carrier
                .dialog
                .reject(Some(StatusCode::ServiceUnavailable), None);
            media.delete().await;
            super::finish_unanswered(&shared, &mut ctx.cdr, "media-answer-failed", 503);
            return;
        }
    };
    // The INVITE passed this check before it became a call.
    let policy = timer::policy(&ctx.runtime.config.sip);
    let initial = carrier.dialog.initial_request();
    let settled = timer::answer_request(&initial, policy.as_ref(), Instant::now()).ok();
    let mut headers = sdp_headers();
    headers.extend(settled.as_ref().map(|s| s.headers()).unwrap_or_default());
    if let Err(error) = carrier.dialog.accept(Some(headers), Some(carrier_sdp)) {
        tracing::warn!(call_id = %ctx.cdr.call_id, %error, "cannot answer the carrier");
    }
    if let Some(settled) = settled {
        settled.apply(&mut carrier);
    }
    platform.telephone_event = sdp_body(&response).is_some_and(sdp_facts::has_telephone_event);
    let answered_at = Instant::now();
    ctx.cdr.answer_after_ms = Some(ctx.started.elapsed().as_millis() as u64);
    shared.metrics.inc(
        "sluice_sip_calls_answered_total",
        &[("trunk", ctx.cdr.trunk.as_str())],
    );
    let ttfa = watch_first_audio(&ctx, &media, &platform.ng_tag);
    run(ctx, carrier, platform, media, answered_at, ttfa).await;
}

async fn run(
    mut ctx: CallContext,
    mut carrier: Leg,
    mut platform: Leg,
    media: CallMedia,
    answered_at: Instant,
    mut ttfa: oneshot::Receiver<Duration>,
) {
    let shared = ctx.shared.clone();
    let policy = timer::policy(&ctx.runtime.config.sip);
    let mut relay_notifies = false;
    let end = loop {
        let wake = timer::next_wake([&carrier, &platform]);
        tokio::select! {
            event = carrier.next() => match event {
                None | Some(DialogState::Terminated(..)) => {
                    let _ = platform.dialog.bye().await;
                    break "carrier-bye";
                }
                Some(DialogState::Info(_, request, handle)) => {
                    relay_info(&mut ctx, &media, &carrier, &platform, request, handle).await;
                }
                Some(DialogState::Updated(_, request, handle)) => {
                    reinvite(&media, &mut carrier, &mut platform, request, handle, policy.as_ref()).await;
                }
                Some(DialogState::Refer(_, _, handle)) => {
                    let _ = handle.reply(StatusCode::Forbidden).await;
                }
                Some(DialogState::Options(_, _, handle)) => {
                    let _ = handle.reply(StatusCode::OK).await;
                }
                Some(DialogState::Notify(_, request, handle)) if relay_notifies => {
                    // Progress of a REFER the carrier took: to the referrer.
                    let status = forward_request(&platform, &request).await;
                    let _ = handle.reply(status).await;
                }
                Some(DialogState::Notify(_, _, handle) | DialogState::Message(_, _, handle)) => {
                    let _ = handle.reply(StatusCode::OK).await;
                }
                Some(_) => {}
            },
            event = platform.next() => match event {
                None | Some(DialogState::Terminated(..)) => {
                    let _ = carrier.dialog.bye().await;
                    break "platform-bye";
                }
                Some(DialogState::Info(_, request, handle)) => {
                    relay_info(&mut ctx, &media, &platform, &carrier, request, handle).await;
                }
                Some(DialogState::Updated(_, request, handle)) => {
                    reinvite(&media, &mut platform, &mut carrier, request, handle, policy.as_ref()).await;
                }
                Some(DialogState::Refer(_, request, handle)) => {
                    match transfer::refer(&mut ctx, &media, &mut carrier, &mut platform, request, handle).await {
                        TransferOutcome::Completed(new_leg) => {
                            let _ = platform.dialog.bye().await;
                            platform = new_leg;
                        }
                        TransferOutcome::Failed => {}
                        TransferOutcome::HandedToCarrier => relay_notifies = true,
                        TransferOutcome::Ended(cause) => break cause,
                    }
                }
                Some(DialogState::Options(_, _, handle)) => {
                    let _ = handle.reply(StatusCode::OK).await;
                }
                Some(DialogState::Notify(_, _, handle) | DialogState::Message(_, _, handle)) => {
                    let _ = handle.reply(StatusCode::OK).await;
                }
                Some(_) => {}
            },
            first = &mut ttfa, if !ttfa.is_terminated() => {
                if let Ok(elapsed) = first {
                    ctx.cdr.ttfa_ms = Some(elapsed.as_millis() as u64);
                }
            }
            () = timer::sleep_until(wake) => {
                let now = Instant::now();
                let mut due = timer::service(&mut carrier, &media, now).await;
                if due.is_ok() {
                    due = timer::service(&mut platform, &media, now).await;
                }
                if let Err(cause) = due {
                    tokio::join!(end_leg(&carrier), end_leg(&platform));
                    break cause;
                }
            }
        }
    };
    tracing::debug!(call_id = %ctx.cdr.call_id, end, peer = platform.role, "call over");
    media.delete().await;
    ctx.cdr.end = end.to_owned();
    ctx.cdr.talk_ms = Some(answered_at.elapsed().as_millis() as u64);
    write_cdr(&shared, &ctx.cdr);
}

/// Polls the media node until the platform's first packet shows, then
/// records time to first audio (from the carrier's INVITE). The polls
/// thin out while nothing arrives ([`ttfa_poll_delay`]), so a slow
/// platform or a loaded node does not bring a flood of queries.
fn watch_first_audio(
    ctx: &CallContext,
    media: &CallMedia,
    tag: &str,
) -> oneshot::Receiver<Duration> {
    let (sender, receiver) = oneshot::channel();
    let media = media.clone();
    let tag = tag.to_owned();
    let started = ctx.started;
    let metrics = ctx.shared.metrics.clone();
    let route = ctx.cdr.did.clone();
    tokio::spawn(async move {
        let limit = Instant::now() + TTFA_LIMIT;
        let mut polls = 0;
        while Instant::now() < limit && !sender.is_closed() {
            if let Some(first) = media.first_audio(&tag).await {
                let elapsed = first.saturating_duration_since(started);
                metrics.observe(
                    "sluice_sip_ttfa_seconds",
                    &[("route", route.as_str())],
                    elapsed,
                );
                let _ = sender.send(elapsed);
                return;
            }
            tokio::time::sleep(ttfa_poll_delay(polls)).await;
            polls += 1;
        }
    });
    receiver
}

/// An INFO from `from` carrying DTMF: played as RFC 4733 toward `to` when
/// `to` negotiated telephone-event, otherwise sent to `to` as INFO.
async fn relay_info(
    ctx: &mut CallContext,
    media: &CallMedia,
    from: &Leg,
    to: &Leg,
    request: Request,
    handle: TransactionHandle,
) {
    let format = request.headers.iter().find_map(|h| match h {
        Header::ContentType(ct) => InfoFormat::from_content_type(ct.value()),
        _ => None,
    });
    let digit = format.and_then(|f| info_dtmf::parse(f, &request.body));
    let (Some(format), Some(digit)) = (format, digit) else {
        // Not DTMF (or unreadable): pass it on unchanged.
        let response = forward_request(to, &request).await;
        let _ = handle.reply(response).await;
        return;
    };
    let metrics = &ctx.shared.metrics;
    if to.telephone_event {
        match media
            .play_dtmf(&from.ng_tag, digit.digit, digit.duration_ms)
            .await
        {
            Ok(()) => {
                ctx.cdr.dtmf_digits += 1;
                metrics.inc("sluice_sip_dtmf_total", &[("via", "info-to-rfc4733")]);
                let _ = handle.reply(StatusCode::OK).await;
                return;
            }
            Err(error) => {
                tracing::info!(%error, "play DTMF failed; relaying the INFO instead");
            }
        }
    }
    let body = info_dtmf::body(format, digit).into_bytes();
    let headers = vec![Header::ContentType(format.content_type().into())];
    let status = match to.dialog.info(Some(headers), Some(body)).await {
        Ok(Some(response)) => response.status_code,
        Ok(None) => StatusCode::CallTransactionDoesNotExist,
        Err(_) => StatusCode::RequestTimeout,
    };
    if status.code() < 300 {
        ctx.cdr.dtmf_digits += 1;
        metrics.inc("sluice_sip_dtmf_total", &[("via", "info-relay")]);
    }
    let _ = handle.reply(status).await;
}

/// Sends a copy of an in-dialog request (its body and the headers that give
/// the body its meaning) to the other leg; gives back the status to answer with.
async fn forward_request(to: &Leg, request: &Request) -> StatusCode {
    let headers: Vec<Header> = request
        .headers
        .iter()
        .filter(|h| match h {
            Header::ContentType(_) | Header::Event(_) | Header::SubscriptionState(_) => true,
            Header::Other(name, _) => name.eq_ignore_ascii_case("Info-Package"),
            _ => false,
        })
        .cloned()
        .collect();
    let body = (!request.body.is_empty()).then(|| request.body.clone());
    match to.dialog.request(request.method, Some(headers), body).await {
        Ok(Some(response)) => response.status_code,
        Ok(None) => StatusCode::CallTransactionDoesNotExist,
        Err(_) => StatusCode::RequestTimeout,
    }
}

/// Sends a BYE on a leg whose session ended on a timer.
async fn end_leg(leg: &Leg) {
    if let Err(error) = leg.dialog.bye().await {
        tracing::debug!(leg = leg.role, %error, "BYE failed");
    }
}

/// A re-INVITE or UPDATE from `from` (hold, resume, codec change, session
/// refresh): new offer through the media node, re-INVITE of `to`, its
/// answer back through the media node. Without SDP it is a session
/// refresh, answered here: a re-INVITE with the current media unchanged,
/// an UPDATE without a body. Either way the 2xx settles `from`'s session
/// timer (a `Session-Expires` below our `Min-SE` gets 422), and the
/// re-INVITE of `to` refreshes `to`'s.
async fn reinvite(
    media: &CallMedia,
    from: &mut Leg,
    to: &mut Leg,
    request: Request,
    handle: TransactionHandle,
    policy: Option<&TimerPolicy>,
) {
    let settled = match timer::answer_request(&request, policy, Instant::now()) {
        Ok(settled) => settled,
        Err(Refusal::Malformed) => {
            let _ = handle.reply(StatusCode::BadRequest).await;
            return;
        }
        Err(Refusal::TooSmall(min_se)) => {
            let headers = vec![Header::MinSE(min_se.to_string().into())];
            let _ = handle
                .respond(StatusCode::SessionIntervalTooSmall, Some(headers), None)
                .await;
            return;
        }
    };
    if request.body.is_empty() {
        let (mut headers, body) = if request.method == Method::Update {
            (Vec::new(), None)
        } else {
            (sdp_headers(), Some(media.last_sdp_for(&from.ng_tag)))
        };
        headers.extend(settled.headers());
        if handle
            .respond(StatusCode::OK, Some(headers), body)
            .await
            .is_ok()
        {
            settled.apply(from);
        }
        return;
    }
    let offer = match media.reoffer(&from.ng_tag, &to.ng_tag, &request.body).await {
        Ok(sdp) => sdp,
        Err(error) => {
            tracing::info!(%error, "re-INVITE offer refused by the media node");
            let _ = handle.reply(StatusCode::NotAcceptableHere).await;
            return;
        }
    };
    let mut headers = sdp_headers();
    headers.extend(timer::refresh_headers(to));
    let response = match to.dialog.reinvite(Some(headers), Some(offer)).await {
        Ok(Some(response)) => response,
        Ok(None) => {
            let _ = handle.reply(StatusCode::ServerInternalError).await;
            return;
        }
        Err(_) => {
            let _ = handle.reply(StatusCode::RequestTimeout).await;
            return;
        }
    };
    if response.status_code.code() >= 300 {
        let _ = handle.reply(response.status_code).await;
        return;
    }
    timer::after_our_request(to, &response, Instant::now());
    let Some(sdp) = sdp_body(&response) else {
        let _ = handle.reply(StatusCode::ServerInternalError).await;
        return;
    };
    match media.reanswer(&from.ng_tag, &to.ng_tag, sdp).await {
        Ok(answer) => {
            let mut headers = sdp_headers();
            headers.extend(settled.headers());
            if handle
                .respond(StatusCode::OK, Some(headers), Some(answer))
                .await
                .is_ok()
            {
                settled.apply(from);
            }
        }
        Err(error) => {
            tracing::info!(%error, "re-INVITE answer refused by the media node");
            let _ = handle.reply(StatusCode::NotAcceptableHere).await;
        }
    }
}

/// The wait after the `polls`-th query that found no audio: 20 ms for the
/// first 100 ms, then doubling up to 1 s: about 20 queries in 10 s.
fn ttfa_poll_delay(polls: u32) -> Duration {
    const FAST_POLLS: u32 = 5;
    let doublings = polls.saturating_sub(FAST_POLLS - 1).min(6);
    (TTFA_POLL * 2u32.pow(doublings)).min(TTFA_POLL_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttfa_polls_thin_out_to_one_a_second() {
        let delays: Vec<u64> = (0..13)
            .map(|n| ttfa_poll_delay(n).as_millis() as u64)
            .collect();
        assert_eq!(
            delays,
            [20, 20, 20, 20, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]
        );
        let mut waited = Duration::ZERO;
        let mut polls = 0;
        while waited < TTFA_LIMIT {
            waited += ttfa_poll_delay(polls);
            polls += 1;
        }
        assert!(polls <= 20, "{polls} queries in {TTFA_LIMIT:?}");
        assert_eq!(ttfa_poll_delay(u32::MAX), TTFA_POLL_MAX);
    }
}

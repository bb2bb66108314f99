//! The first thing every SIP message meets: per-source rate limits,
//! lock-outs, size limits and the allowlist, before rsipstack's transaction
//! layer sees it. A request the gate stops creates no transaction, no
//! dialog and (unless `unknown-source = "forbidden"`) no reply at all.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use async_trait::async_trait;
use rsipstack::sip::{Header, Method, Request, Response, SipMessage, StatusCode};
use rsipstack::transaction::endpoint::TransportEventInspector;
use rsipstack::transport::{SipConnection, TransportEvent};

use super::runtime::Source;
use super::Shared;
use crate::config::RejectMode;

/// The transport inspector installed in front of the endpoint.
#[derive(Default)]
pub struct Gate {
    shared: OnceLock<Arc<Shared>>,
}

impl Gate {
    /// Connects the gate to the running server; until then it drops all.
    pub fn attach(&self, shared: Arc<Shared>) {
        let _ = self.shared.set(shared);
    }
}

/// Why the gate stopped a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    RateLimited,
    LockedOut,
    Oversize,
    UnknownSource,
}

#[async_trait]
impl TransportEventInspector for Gate {
    async fn handle(&self, event: TransportEvent) -> Option<TransportEvent> {
        let TransportEvent::Incoming(msg, connection, from) = event else {
            return Some(event);
        };
        let shared = self.shared.get()?;
        let ip = from.get_socketaddr().ok()?.ip();
        match check(shared, &msg, ip, Instant::now()) {
            Ok(()) => Some(TransportEvent::Incoming(msg, connection, from)),
            Err(stop) => {
                let reason = match stop {
                    Stop::RateLimited => "rate-limited",
                    Stop::LockedOut => "locked-out",
                    Stop::Oversize => "oversize",
                    Stop::UnknownSource => "unknown-source",
                };
                tracing::debug!(%ip, reason, "message stopped at the gate");
                if stop == Stop::UnknownSource {
                    shared.metrics.inc("sluice_sip_allowlist_drops_total", &[]);
                    let mode = shared.runtime().config.sip.unknown_source;
                    if let (RejectMode::Forbidden, SipMessage::Request(req)) = (mode, &msg) {
                        bare_forbidden(req, &connection, &from).await;
                    }
                } else {
                    shared
                        .metrics
                        .inc("sluice_sip_rate_limited_total", &[("reason", reason)]);
                }
                None
            }
        }
    }
}

fn check(shared: &Shared, msg: &SipMessage, ip: IpAddr, now: Instant) -> Result<(), Stop> {
    let runtime = shared.runtime();
    let source = runtime.classify(ip);
    if source == Source::Unknown {
        return Err(Stop::UnknownSource);
    }
    let body_len = match msg {
        SipMessage::Request(r) => r.body.len(),
        SipMessage::Response(r) => r.body.len(),
    };
    if body_len > runtime.config.sip.max_message_size {
        return Err(Stop::Oversize);
    }
    // Responses are answers to what sip-control sent: no rate limit.
    if matches!(msg, SipMessage::Response(_)) {
        return Ok(());
    }
    let mut guard = shared.guard();
    if guard.lockout.is_locked(ip, now) {
        return Err(Stop::LockedOut);
    }
    if !guard.rate.allow(ip, now) {
        return Err(Stop::RateLimited);
    }
    Ok(())
}

/// A 403 that says nothing about who answers: no User-Agent, no Server, no
/// Allow, no Contact. ACKs and CANCELs get nothing.
async fn bare_forbidden(
    req: &Request,
    connection: &SipConnection,
    from: &rsipstack::transport::SipAddr,
) {
    if matches!(req.method, Method::Ack | Method::Cancel) {
        return;
    }
    let mut headers: Vec<Header> = req
        .headers
        .iter()
        .filter(|h| {
            matches!(
                h,
                Header::Via(_)
                    | Header::CallId(_)
                    | Header::From(_)
                    | Header::To(_)
                    | Header::CSeq(_)
            )
        })
        .cloned()
        .collect();
    headers.push(Header::ContentLength(0u32.into()));
    let response = Response {
        status_code: StatusCode::Forbidden,
        wire_reason: None,
        version: req.version,
        headers: headers.into(),
        body: Vec::new(),
    };
    let _ = connection
        .send(SipMessage::Response(response), Some(from))
        .await;
}

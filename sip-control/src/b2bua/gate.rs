//! The first thing every SIP message meets: per-source rate limits,
//! lock-outs, size limits and the allowlist, before rsipstack's transaction
//! layer sees it. A request the gate stops creates no transaction, no
//! dialog and (unless `unknown-source = "forbidden"`) no reply at all.
//!
//! With `unknown-source = "drop"` a source outside every allowlist is
//! stopped even earlier, by [`Gate::admits_source`] as rsipstack's
//! transport whitelist: its datagrams are not parsed and its TCP/TLS
//! connections are closed at once. Otherwise rsipstack's transport would
//! answer its CRLF keepalives (`\r\n\r\n` gets `\r\n`) on its own,
//! telling a scanner that something listens.

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

    /// Whether the transport hands on what `ip` sends (each UDP datagram,
    /// each new TCP/TLS connection). False only for a source outside every
    /// allowlist when such sources get no reply anyway; it is counted as an
    /// allowlist drop. With `unknown-source = "forbidden"` the message goes
    /// on to [`Gate::handle`], which answers 403.
    pub fn admits_source(&self, ip: IpAddr) -> bool {
        let Some(shared) = self.shared.get() else {
            return false;
        };
        let runtime = shared.runtime();
        if transport_admits(runtime.classify(ip), runtime.config.sip.unknown_source) {
            return true;
        }
        tracing::debug!(%ip, reason = "unknown-source", "source stopped at the transport");
        shared.metrics.inc("sluice_sip_allowlist_drops_total", &[]);
        false
    }
}

/// Whether the transport lets a source of this kind through to the gate.
fn transport_admits(source: Source, mode: RejectMode) -> bool {
    source != Source::Unknown || mode == RejectMode::Forbidden
}

/// Why the gate stopped a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    RateLimited,
    LockedOut,
    Oversize,
    Malformed,
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
                    Stop::Malformed => "malformed",
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
    if !body_complete(msg) {
        return Err(Stop::Malformed);
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

/// Whether the body is as long as `Content-Length` says, which is a
/// number, the same in every such header.
///
/// rsipstack parses a datagram whose body falls short of its
/// Content-Length with the bytes that are there (and an unreadable value
/// as 0), and reads at most 8 KB of a datagram: a 60 KB OPTIONS arrives
/// cut short, an INVITE claiming 4 GB of SDP carries a few lines. RFC 3261
/// §18.3 calls such a message an error (a request SHOULD get 400, a
/// response MUST be discarded); the gate drops both. Stream transports
/// frame by Content-Length, so there it always matches.
fn body_complete(msg: &SipMessage) -> bool {
    let (headers, body) = match msg {
        SipMessage::Request(r) => (&r.headers, &r.body),
        SipMessage::Response(r) => (&r.headers, &r.body),
    };
    let mut declared = None;
    for header in headers.iter() {
        let Header::ContentLength(value) = header else {
            continue;
        };
        let Ok(length) = value.value().trim().parse::<usize>() else {
            return false;
        };
        if declared.is_some_and(|d| d != length) {
            return false;
        }
        declared = Some(length);
    }
    declared.is_none_or(|length| length <= body.len())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> SipMessage {
        SipMessage::try_from(text).expect("the test message parses")
    }

    fn options(extra: &str, body: &str) -> SipMessage {
        parse(&format!(
            "OPTIONS sip:100@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-1\r\n\
             From: <sip:a@127.0.0.2>;tag=1\r\nTo: <sip:100@127.0.0.1>\r\n\
             Call-ID: c1\r\nCSeq: 1 OPTIONS\r\n{extra}\r\n{body}"
        ))
    }

    #[test]
    fn a_body_as_long_as_declared_passes() {
        assert!(body_complete(&options("Content-Length: 4\r\n", "abcd")));
        assert!(body_complete(&options("Content-Length: 0\r\n", "")));
        assert!(body_complete(&options("l: 2\r\n", "ab")));
        // No Content-Length: nothing to compare.
        assert!(body_complete(&options("", "")));
    }

    #[test]
    fn a_body_shorter_than_declared_is_malformed() {
        assert!(!body_complete(&options("Content-Length: 5\r\n", "abcd")));
        assert!(!body_complete(&options(
            "Content-Length: 4294967295\r\n",
            "v=0\r\n"
        )));
        let response = parse(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1\r\n\
             From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.2>;tag=2\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 300\r\n\r\nv=0\r\n",
        );
        assert!(!body_complete(&response));
    }

    #[test]
    fn an_unreadable_or_conflicting_length_is_malformed() {
        for value in ["99999999999999999999999", "-1", "ten", ""] {
            let msg = options(&format!("Content-Length: {value}\r\n"), "");
            assert!(!body_complete(&msg), "{value:?}");
        }
        let twice = options("Content-Length: 4\r\nContent-Length: 2\r\n", "abcd");
        assert!(!body_complete(&twice));
        let same = options("Content-Length: 4\r\nContent-Length: 4\r\n", "abcd");
        assert!(body_complete(&same));
    }

    #[test]
    fn only_unknown_sources_in_drop_mode_stop_at_the_transport() {
        use RejectMode::{Drop, Forbidden};
        assert!(!transport_admits(Source::Unknown, Drop));
        assert!(transport_admits(Source::Unknown, Forbidden));
        for source in [Source::Trunk(0), Source::Peer, Source::AuthCandidate] {
            assert!(transport_admits(source, Drop), "{source:?}");
            assert!(transport_admits(source, Forbidden), "{source:?}");
        }
    }
}

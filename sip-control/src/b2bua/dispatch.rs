//! Every transaction that passed the gate: in-dialog requests go to their
//! dialog, OPTIONS is answered, an INVITE is admitted (digest where the
//! trunk wants it) and becomes a [`call`](super::call).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Method, StatusCode};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transaction::TransactionReceiver;

use super::runtime::Source;
use super::{call, Runtime, Shared};
use crate::security::{AuthError, Credentials};

/// Methods sip-control answers, for `Allow`.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE";

/// Takes transactions off rsipstack's queue until it closes.
pub async fn run(shared: Arc<Shared>, mut incoming: TransactionReceiver) {
    while let Some(tx) = incoming.recv().await {
        tokio::spawn(handle(shared.clone(), tx));
    }
}

async fn handle(shared: Arc<Shared>, mut tx: Transaction) {
    let in_dialog = tx
        .original
        .to_header()
        .ok()
        .and_then(|to| to.tag().ok().flatten())
        .is_some();
    if in_dialog {
        match shared.dialogs.match_dialog(&tx) {
            Some(mut dialog) => {
                if let Err(error) = dialog.handle(&mut tx).await {
                    tracing::debug!(%error, "in-dialog request failed");
                }
            }
            None => {
                let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
            }
        }
        return;
    }
    let Some(ip) = source_ip(&tx) else {
        return;
    };
    let runtime = shared.runtime();
    match tx.original.method {
        Method::Options => {
            let headers = vec![
                Header::Other("Allow".into(), ALLOW.into()),
                Header::Other("Accept".into(), "application/sdp".into()),
            ];
            let _ = tx.reply_with(StatusCode::OK, headers, None).await;
        }
        Method::Invite => {
            if shared.draining() {
                let _ = tx.reply(StatusCode::ServiceUnavailable).await;
                return;
            }
            if let Some(trunk) = admit(&shared, &runtime, &mut tx, ip).await {
                call::run(shared, runtime, tx, trunk).await;
            }
        }
        Method::Register => {
            // Not a registrar, but a trunk with credentials still checks them
            // so that guessing passwords by REGISTER locks the source out.
            if admit(&shared, &runtime, &mut tx, ip).await.is_some() {
                let headers = vec![Header::Other("Allow".into(), ALLOW.into())];
                let _ = tx
                    .reply_with(StatusCode::MethodNotAllowed, headers, None)
                    .await;
            }
        }
        Method::Ack | Method::Cancel => {}
        Method::Bye | Method::Info | Method::Refer | Method::Notify | Method::Update => {
            let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
        }
        _ => {
            let headers = vec![Header::Other("Allow".into(), ALLOW.into())];
            let _ = tx
                .reply_with(StatusCode::MethodNotAllowed, headers, None)
                .await;
        }
    }
}

/// The source address of a request as the transport saw it.
pub fn source_ip(tx: &Transaction) -> Option<IpAddr> {
    let connection = tx.connection.as_ref()?;
    let remote = connection.get_remote_addr()?;
    remote.get_socketaddr().ok().map(|a| a.ip())
}

/// Which trunk a new request belongs to, after its digest credentials are
/// checked where the trunk has them. `None` once a reply has been sent
/// (challenge, 403) or the request was dropped.
async fn admit(
    shared: &Shared,
    runtime: &Runtime,
    tx: &mut Transaction,
    ip: IpAddr,
) -> Option<usize> {
    let candidates: Vec<usize> = match runtime.classify(ip) {
        Source::Trunk(trunk) => vec![trunk],
        Source::AuthCandidate => runtime.auth_only_trunks.clone(),
        Source::Peer | Source::Unknown => {
            // Targets and queues never start calls toward the carrier here.
            let _ = tx.reply(StatusCode::Forbidden).await;
            return None;
        }
    };
    let first = *candidates.first()?;
    if runtime.config.trunks[first].auth.is_none() {
        return Some(first);
    }
    let method = tx.original.method.to_string();
    let authorization = tx.original.headers.iter().find_map(|h| match h {
        Header::Authorization(value) => Some(value.value().to_owned()),
        Header::ProxyAuthorization(value) => Some(value.value().to_owned()),
        _ => None,
    });
    let now = Instant::now();
    let Some(authorization) = authorization else {
        challenge(shared, runtime, tx, first, false).await;
        return None;
    };
    let mut last_error = AuthError::UnknownUser;
    for &trunk in &candidates {
        let Some(auth) = runtime.config.trunks[trunk].auth.as_ref() else {
            continue;
        };
        let credentials = Credentials {
            realm: &auth.realm,
            username: &auth.username,
            password: &auth.password,
        };
        match shared
            .digest
            .verify(&method, &authorization, &credentials, now)
        {
            Ok(_) => {
                shared.guard().lockout.record_success(ip);
                return Some(trunk);
            }
            Err(error) => last_error = error,
        }
    }
    let trunk_name = runtime.config.trunks[first].name.as_str();
    if matches!(last_error, AuthError::StaleNonce) {
        challenge(shared, runtime, tx, first, true).await;
        return None;
    }
    let reason = format!("{last_error:?}");
    shared.metrics.inc(
        "sluice_sip_auth_failures_total",
        &[("trunk", trunk_name), ("reason", reason.as_str())],
    );
    let locked = shared.guard().lockout.record_failure(ip, now);
    if locked {
        tracing::warn!(%ip, trunk = trunk_name, "source locked out after repeated digest failures");
        shared
            .metrics
            .inc("sluice_sip_lockouts_total", &[("trunk", trunk_name)]);
    }
    let _ = tx.reply(StatusCode::Forbidden).await;
    None
}

/// Answers 401 with one challenge per configured algorithm.
async fn challenge(
    shared: &Shared,
    runtime: &Runtime,
    tx: &mut Transaction,
    trunk: usize,
    stale: bool,
) {
    let Some(auth) = runtime.config.trunks[trunk].auth.as_ref() else {
        return;
    };
    let algorithms: Vec<_> = auth
        .algorithms
        .iter()
        .filter_map(|a| a.parse().ok())
        .collect();
    let headers = shared
        .digest
        .challenge(&auth.realm, &algorithms, stale, Instant::now())
        .into_iter()
        .map(|value| Header::WwwAuthenticate(value.into()))
        .collect();
    let _ = tx.reply_with(StatusCode::Unauthorized, headers, None).await;
}

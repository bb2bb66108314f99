//! A carrier's INVITE refused before it becomes a call (no CDR, like a
//! digest challenge): a `Replaces` header (RFC 3891 §3) that is malformed
//! or given twice (400), names no dialog sip-control holds (481), or names
//! one it holds (403: sip-control never hands a leg to a new INVITE); a
//! session interval below our `Min-SE` (422 with it, RFC 4028 §9) or a
//! malformed `Session-Expires`/`Min-SE` (400).

use std::time::Instant;

use rsipstack::dialog::DialogId;
use rsipstack::sip::{Header, StatusCode};
use rsipstack::transaction::transaction::Transaction;

use super::timer::{self, Refusal};
use crate::b2bua::{Runtime, Shared};
use crate::signal::replaces::Replaces;

/// Answers and returns `true` when the INVITE must not become a call.
pub(super) async fn refused(shared: &Shared, runtime: &Runtime, tx: &mut Transaction) -> bool {
    if let Some(status) = replaces_status(shared, tx) {
        let _ = tx.reply(status).await;
        return true;
    }
    let policy = timer::policy(&runtime.config.sip);
    match timer::answer_request(&tx.original, policy.as_ref(), Instant::now()) {
        Ok(_) => false,
        Err(Refusal::Malformed) => {
            let _ = tx.reply(StatusCode::BadRequest).await;
            true
        }
        Err(Refusal::TooSmall(min_se)) => {
            let headers = vec![Header::MinSE(min_se.to_string().into())];
            let _ = tx
                .reply_with(StatusCode::SessionIntervalTooSmall, headers, None)
                .await;
            true
        }
    }
}

/// The answer an INVITE with `Replaces` gets; `None` without one.
fn replaces_status(shared: &Shared, tx: &Transaction) -> Option<StatusCode> {
    let mut values = tx.original.headers.iter().filter_map(|h| match h {
        Header::Replaces(value) => Some(value.value()),
        _ => None,
    });
    let first = values.next()?;
    if values.next().is_some() {
        return Some(StatusCode::BadRequest);
    }
    let replaces = match Replaces::parse(first) {
        Ok(replaces) => replaces,
        Err(error) => {
            tracing::info!(%error, "INVITE with a malformed Replaces");
            return Some(StatusCode::BadRequest);
        }
    };
    // The INVITE's recipient is the dialog's local side: its tag is to-tag.
    let id = DialogId {
        call_id: replaces.call_id,
        local_tag: replaces.to_tag,
        remote_tag: replaces.from_tag,
    };
    let known = shared.dialogs.get_dialog(&id).is_some();
    tracing::info!(dialog = %id, known, "INVITE with Replaces refused");
    Some(if known {
        StatusCode::Forbidden
    } else {
        StatusCode::CallTransactionDoesNotExist
    })
}

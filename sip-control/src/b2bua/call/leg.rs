//! One side of a call: its rsipstack dialog, the events it raises, and what
//! the media node knows it by.

use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver};
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Response};

use super::timer::SessionTimer;

/// A SIP leg of a call.
pub(crate) struct Leg {
    /// The dialog (server role toward the carrier, client role elsewhere).
    pub dialog: InviteDialog,
    /// Its state events: provisional and final responses, in-dialog
    /// requests, termination.
    pub states: DialogStateReceiver,
    /// The tag this leg's party has in NG (`from-tag` of the carrier,
    /// `to-tag` of the answering party).
    pub ng_tag: String,
    /// Whether this party's SDP offered or answered telephone-event.
    pub telephone_event: bool,
    /// `carrier`, `platform` or `queue`: for logs and metrics.
    pub role: &'static str,
    /// Its RFC 4028 session timer, once one is settled.
    pub timer: Option<SessionTimer>,
}

impl Leg {
    /// Waits for the next event of this leg; `None` when its dialog is gone.
    pub async fn next(&mut self) -> Option<DialogState> {
        self.states.recv().await
    }
}

/// `Content-Type: application/sdp`.
pub(crate) fn sdp_headers() -> Vec<Header> {
    vec![Header::ContentType("application/sdp".into())]
}

/// The To tag of a response (the answering party's tag).
pub(crate) fn to_tag(response: &Response) -> Option<String> {
    response
        .to_header()
        .ok()
        .and_then(|to| to.tag().ok().flatten())
        .map(|tag| tag.value().to_owned())
}

/// The body of a response when it is an SDP.
pub(crate) fn sdp_body(response: &Response) -> Option<&[u8]> {
    let is_sdp = response.headers.iter().any(|h| match h {
        Header::ContentType(ct) => ct
            .value()
            .to_ascii_lowercase()
            .starts_with("application/sdp"),
        _ => false,
    });
    (is_sdp && !response.body.is_empty()).then_some(response.body.as_slice())
}

//! Codec negotiation: what each leg is offered and answered, and whether
//! a media section is transcoded.
//!
//! An offer from leg A is rewritten by the NG codec options
//! ([`options`]) before it goes to leg B ([`offer`]); what A offered and
//! what B was offered (with codecs we added for transcoding) are kept in
//! the section's [`Negotiation`]. B's answer then decides ([`answer`]):
//! when B picks a codec A offered, packets pass unchanged and B's answer
//! goes back to A (minus the codecs we added); otherwise, or when
//! `always transcode`, `ptime` or `inject DTMF` ask for it, the section
//! gets a [`MediaPlan`] for the transcoder and A's answer lists A's own
//! codec.
//!
//! Like [`super::crypto_plan`], everything is decided for every section
//! before the call changes ([`plan`]), then applied ([`apply`]), so a
//! refused SDP leaves the call as it was.

pub mod answer;
pub mod offer;
pub mod options;
pub mod sdp_codecs;

use sluice_sdp::MediaSection;
use sluice_transcode::{DtmfFormat, MediaPlan};

use super::call::MediaPair;
pub use options::{CodecPolicy, CodecSpec};
use sdp_codecs::{Format, Listed};

/// A format the offerer offered and may use toward us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    /// As the offerer wrote it.
    pub format: Format,
    /// `mask`ed: hidden from the answerer, still usable toward the
    /// offerer (through the transcoder).
    pub masked: bool,
}

/// A format the answerer was offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// As written in the offer to the answerer.
    pub format: Format,
    /// Added by us for transcoding (`transcode`), not the offerer's.
    pub added: bool,
}

/// The codec state of one audio section between an offer and its answer
/// (and after): kept on the [`MediaPair`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Negotiation {
    /// The leg that made the latest offer; `None` until an audio offer.
    pub offerer: Option<usize>,
    /// What the offerer offered, less what was stripped.
    pub offered: Vec<Offered>,
    /// The offerer's `a=ptime`.
    pub offerer_ptime: Option<u32>,
    /// What the answerer was offered, in order.
    pub sent: Vec<Sent>,
    /// Packet time forced toward leg `i` (`ptime`, `ptime-reverse`).
    pub ptime_to: [Option<u32>; 2],
    /// `accept` entries of the offer.
    pub accept: Vec<CodecSpec>,
    /// `set` and `transcode` entries that carry a bitrate.
    pub bitrates: Vec<CodecSpec>,
    /// `always transcode` in the offer.
    pub always_transcode: bool,
    /// `inject DTMF` in the offer.
    pub inject_dtmf: bool,
}

/// What happens to one media section's codecs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecPlan {
    /// Not ours to touch: non-audio, non-RTP, rejected in an offer.
    Untouched,
    /// An offer: the new negotiation state and the formats for the
    /// answerer.
    Offer {
        /// State to keep until the answer.
        negotiation: Box<Negotiation>,
        /// Formats toward the answerer (`None`: the offer's, unchanged).
        list: Option<Vec<Listed>>,
        /// `a=ptime` toward the answerer.
        ptime: Option<u32>,
    },
    /// An answer: formats toward the offerer, the plan, DTMF formats.
    Answer(Box<answer::Outcome>),
    /// A rejected answer (`m=` port 0): nothing is transcoded.
    Rejected,
}

fn is_negotiated(section: &MediaSection) -> bool {
    section.kind() == "audio" && section.protocol().contains("RTP")
}

/// Decides the codecs of `section`, sent by leg `from`; `pair` is the
/// section's existing state (`None` for a section new in this offer).
pub fn plan(
    pair: Option<&MediaPair>,
    section: &MediaSection,
    from: usize,
    is_offer: bool,
    policy: &CodecPolicy,
) -> Result<CodecPlan, String> {
    let index = pair.map_or(0, |p| p.index);
    let fail = |why: String| format!("media section {}: {why}", index + 1);
    if !is_negotiated(section) {
        return Ok(CodecPlan::Untouched);
    }
    if is_offer {
        if section.is_rejected() {
            return Ok(CodecPlan::Untouched);
        }
        let previous = pair.map(|p| &p.codecs);
        return offer::plan(section, from, policy, previous).map_err(fail);
    }
    let Some(negotiation) = pair
        .map(|p| &p.codecs)
        .filter(|n| n.offerer == Some(1 - from))
    else {
        return Ok(CodecPlan::Untouched);
    };
    if section.is_rejected() {
        return Ok(CodecPlan::Rejected);
    }
    answer::plan(negotiation, section, from, policy)
        .map(|o| CodecPlan::Answer(Box::new(o)))
        .map_err(fail)
}

fn write(section: &mut MediaSection, list: Option<&[Listed]>, ptime: Option<u32>) {
    if let Some(list) = list {
        sdp_codecs::write_formats(section, list);
    }
    if let Some(ms) = ptime {
        section.set_attribute("ptime", Some(&ms.to_string()));
    }
}

/// Applies `plan` to the call's state and to the outgoing `section`.
pub fn apply(plan: CodecPlan, pair: &mut MediaPair, section: &mut MediaSection) {
    match plan {
        CodecPlan::Untouched => {}
        CodecPlan::Offer {
            negotiation,
            list,
            ptime,
        } => {
            write(section, list.as_deref(), ptime);
            pair.codecs = *negotiation;
        }
        CodecPlan::Answer(outcome) => {
            let answer::Outcome {
                list,
                ptime,
                transcode,
                telephone_event,
                ptime_to,
            } = *outcome;
            write(section, list.as_deref(), ptime);
            pair.codecs.ptime_to = ptime_to;
            set_media(pair, transcode, telephone_event);
        }
        CodecPlan::Rejected => set_media(pair, None, [None, None]),
    }
}

fn set_media(pair: &mut MediaPair, plan: Option<MediaPlan>, te: [Option<DtmfFormat>; 2]) {
    pair.transcode = plan;
    for (side, te) in pair.sides.iter_mut().zip(te) {
        side.telephone_event = te;
    }
}

#[cfg(test)]
mod tests;

//! SDES decisions for every media section of one offer or answer, made
//! before anything about the call changes (so a refused SDP changes
//! nothing), then applied section by section.

use sluice_sdp::{CryptoAttr, MediaSection};

use super::call::MediaPair;
use super::sdes::{self, KeyLine, SdesPolicy, SentLine, Settled};

/// What happens to one media section's SDES.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoPlan {
    /// Not ours to touch: rejected sections, DTLS-SRTP passed end to end.
    Untouched,
    /// An offer: the offerer's usable lines, and what we offer the other leg.
    Offer {
        /// Usable lines of the offerer.
        received: Vec<KeyLine>,
        /// Lines toward the answerer (empty: plain RTP).
        sent: Vec<SentLine>,
    },
    /// An answer: the answerer's usable lines and the keys settled.
    Answer {
        /// Usable lines of the answerer.
        received: Vec<KeyLine>,
        /// Keys for both sides and the line for the offerer.
        settled: Box<Settled>,
    },
}

fn is_dtls(protocol: &str) -> bool {
    protocol.starts_with("UDP/TLS") || protocol.starts_with("UDP/DTLS")
}

/// Decides SDES for `section`, sent by leg `from`; `pair` is the section's
/// existing state (`None` for a section new in this offer).
pub fn plan(
    pair: Option<&MediaPair>,
    section: &MediaSection,
    from: usize,
    is_offer: bool,
    transport_protocol: Option<&str>,
    policy: &SdesPolicy,
    replay_window: u16,
) -> Result<CryptoPlan, String> {
    let index = pair.map_or(0, |p| p.index);
    let fail = |why: String| format!("media section {}: {why}", index + 1);
    let proto = section.protocol();
    if section.is_rejected() {
        return Ok(CryptoPlan::Untouched);
    }
    if is_dtls(proto) {
        return match transport_protocol {
            Some(out) if out != proto => Err(fail(format!(
                "{proto} (DTLS-SRTP) cannot be converted: DTLS is not supported"
            ))),
            _ => Ok(CryptoPlan::Untouched),
        };
    }
    let received = if sdes::is_srtp(proto) {
        sdes::received_lines(section, replay_window).map_err(fail)?
    } else {
        Vec::new()
    };
    let to = 1 - from;
    if is_offer {
        let out_proto = transport_protocol.unwrap_or(proto);
        let sent = if sdes::is_srtp(out_proto) {
            if policy.off {
                return Err(fail(format!(
                    "SDES is off but {out_proto} needs keys (DTLS is not supported)"
                )));
            }
            let previous = pair.map_or(&[][..], |p| &p.sides[to].sdes.sent);
            sdes::offer_lines(&received, previous, policy, replay_window).map_err(fail)?
        } else {
            Vec::new()
        };
        return Ok(CryptoPlan::Offer { received, sent });
    }
    let Some(pair) = pair else {
        return Err(fail(
            "answer for a section that was never offered".to_owned(),
        ));
    };
    let offerer = &pair.sides[to];
    let offerer_srtp = sdes::is_srtp(&offerer.protocol) && !offerer.sdes.received.is_empty();
    let settled = sdes::settle(
        received.first(),
        &pair.sides[from].sdes.sent,
        &offerer.sdes,
        offerer_srtp,
        policy,
        replay_window,
    )
    .map_err(fail)?;
    Ok(CryptoPlan::Answer {
        received,
        settled: Box::new(settled),
    })
}

/// Applies `plan` to the call's state and to the outgoing `section`.
pub fn apply(plan: CryptoPlan, pair: &mut MediaPair, section: &mut MediaSection, from: usize) {
    let to = 1 - from;
    match plan {
        CryptoPlan::Untouched => {}
        CryptoPlan::Offer { received, sent } => {
            sdes::write_lines(section, sent.iter().map(|s| &s.line.attr));
            pair.sides[from].sdes.received = received;
            pair.sides[to].sdes.sent = sent;
        }
        CryptoPlan::Answer { received, settled } => {
            let line: Option<&CryptoAttr> = settled.line_for_offerer.as_ref();
            sdes::write_lines(section, line);
            let answerer = &mut pair.sides[from].sdes;
            answerer.received = received;
            answerer.rx = settled.answerer.rx;
            answerer.tx = settled.answerer.tx;
            let offerer = &mut pair.sides[to].sdes;
            offerer.rx = settled.offerer.rx;
            offerer.tx = settled.offerer.tx;
        }
    }
}

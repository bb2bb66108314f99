//! Offer processing: the offerer's formats through `strip`, `mask`,
//! `except`, `offer` and `transcode`, and what the answerer is offered.

use sluice_sdp::MediaSection;

use super::options::{CodecPolicy, CodecSpec};
use super::sdp_codecs::{self, Format, Listed};
use super::{CodecPlan, Negotiation, Offered, Sent};

/// The `a=fmtp` of telephone-events we add (the 16 DTMF events).
const DTMF_FMTP: &str = "0-15";

/// A payload type for an added format: the static one for G.711 when
/// free, the previous offer's when still free, else the first free
/// dynamic one.
fn pick_pt(format: &Format, used: &[u8], previous: Option<&Negotiation>) -> Option<u8> {
    let free = |pt: u8| !used.contains(&pt);
    let fixed = if format.name == "PCMU" {
        Some(0)
    } else if format.name == "PCMA" {
        Some(8)
    } else {
        None
    };
    if let Some(pt) = fixed.filter(|pt| free(*pt)) {
        return Some(pt);
    }
    let reused = previous.and_then(|p| {
        p.sent
            .iter()
            .find(|s| s.added && s.format.same_codec(format))
            .map(|s| s.format.pt)
    });
    if let Some(pt) = reused.filter(|pt| free(*pt) && *pt >= 96) {
        return Some(pt);
    }
    (96..=127).find(|pt| free(*pt))
}

/// Which of the offerer's formats survive the options, and whether they
/// are masked.
fn filter(formats: &[Format], p: &CodecPolicy) -> Vec<Offered> {
    let mut offered = Vec::new();
    for f in formats {
        let exempt = CodecPolicy::any(&p.except, f) || CodecPolicy::any(&p.offer, f);
        let named_strip = CodecPolicy::any(&p.strip, f);
        let named_mask = CodecPolicy::any(&p.mask, f);
        // `transcode` naming an offered codec restores it from `all`,
        // not from a strip or mask by name.
        let restored = exempt || (CodecPolicy::any(&p.transcode, f) && !named_strip && !named_mask);
        if (named_strip && !exempt) || (p.strip_all && !restored) {
            continue;
        }
        let masked = (named_mask && !exempt) || (p.mask_all && !restored);
        offered.push(Offered {
            format: f.clone(),
            masked,
        });
    }
    offered
}

/// `offer`: the named codecs first, in the order named.
fn reorder(sent: Vec<Format>, order: &[CodecSpec]) -> Vec<Format> {
    let mut rest = sent;
    let mut front = Vec::new();
    for spec in order {
        while let Some(i) = rest.iter().position(|f| spec.matches(f)) {
            front.push(rest.remove(i));
        }
    }
    front.extend(rest);
    front
}

/// Codecs (and telephone-events beside them) `transcode` adds.
fn additions(
    formats: &[Format],
    offered: &[Offered],
    sent: &[Format],
    p: &CodecPolicy,
    previous: Option<&Negotiation>,
) -> (Vec<Format>, Vec<Format>) {
    let mut used: Vec<u8> = formats.iter().map(|f| f.pt).collect();
    let mut added: Vec<Format> = Vec::new();
    // Nothing can be transcoded from an offerer whose codecs we cannot
    // decode.
    if !offered.iter().any(|o| o.format.audio_codec().is_some()) {
        return (added, Vec::new());
    }
    for spec in &p.transcode {
        let Some(mut f) = spec.transcodable() else {
            continue;
        };
        if sent.iter().any(|s| spec.matches(s)) || added.iter().any(|a| a.same_codec(&f)) {
            continue;
        }
        let Some(pt) = pick_pt(&f, &used, previous) else {
            continue;
        };
        f.pt = pt;
        used.push(pt);
        added.push(f);
    }
    let mut added_te: Vec<Format> = Vec::new();
    if sent.iter().any(Format::is_dtmf) {
        for clock in added.iter().map(|a| a.clock) {
            let have = |f: &Format| f.is_dtmf() && f.clock == clock;
            if sent.iter().any(have) || added_te.iter().any(have) {
                continue;
            }
            let mut te = Format::new(0, "telephone-event", clock, 1, Some(DTMF_FMTP));
            let Some(pt) = pick_pt(&te, &used, previous) else {
                continue;
            };
            te.pt = pt;
            used.push(pt);
            added_te.push(te);
        }
    }
    (added, added_te)
}

/// Plans the codecs of an offer from leg `from`.
pub fn plan(
    section: &MediaSection,
    from: usize,
    p: &CodecPolicy,
    previous: Option<&Negotiation>,
) -> Result<CodecPlan, String> {
    let formats = sdp_codecs::read(section);
    if formats.is_empty() {
        return Ok(CodecPlan::Untouched);
    }
    let offered = filter(&formats, p);
    if offered.is_empty() {
        return Err("the codec options strip every codec of the offer".to_owned());
    }
    let sent: Vec<Format> = offered
        .iter()
        .filter(|o| !o.masked)
        .map(|o| o.format.clone())
        .collect();
    let sent = reorder(sent, &p.offer);
    let (added, added_te) = additions(&formats, &offered, &sent, p, previous);
    let mut list: Vec<Sent> = Vec::new();
    if added.is_empty() {
        list.extend(sent.into_iter().map(|format| Sent {
            format,
            added: false,
        }));
    } else {
        // Added codecs go after the offerer's codecs, and their
        // telephone-events before the offerer's supplementary formats.
        let (supp, main): (Vec<Format>, Vec<Format>) =
            sent.into_iter().partition(Format::is_supplementary);
        let own = |format| Sent {
            format,
            added: false,
        };
        let new = |format| Sent {
            format,
            added: true,
        };
        list.extend(main.into_iter().map(own));
        list.extend(added.into_iter().chain(added_te).map(new));
        list.extend(supp.into_iter().map(own));
    }
    if list.is_empty() {
        return Err("the codec options leave no codec to offer".to_owned());
    }
    let unchanged = list.len() == formats.len()
        && list
            .iter()
            .zip(&formats)
            .all(|(s, f)| !s.added && s.format.pt == f.pt);
    let listed = (!unchanged).then(|| {
        list.iter()
            .map(|s| Listed {
                format: s.format.clone(),
                own: !s.added,
            })
            .collect()
    });
    let mut ptime_to = [None, None];
    ptime_to[1 - from] = p.ptime;
    ptime_to[from] = p.ptime_reverse;
    let bitrates = p
        .set
        .iter()
        .chain(&p.transcode)
        .filter(|s| s.bitrate.is_some())
        .cloned()
        .collect();
    let negotiation = Negotiation {
        offerer: Some(from),
        offered,
        offerer_ptime: sdp_codecs::ptime(section),
        sent: list,
        ptime_to,
        accept: p.accept.clone(),
        bitrates,
        always_transcode: p.always_transcode,
        inject_dtmf: p.inject_dtmf,
    };
    Ok(CodecPlan::Offer {
        negotiation: Box::new(negotiation),
        list: listed,
        ptime: p.ptime,
    })
}

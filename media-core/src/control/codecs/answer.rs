//! Answer processing: does the answerer share a codec with the offerer,
//! and if not (or if asked to anyway), the transcoder's plan and the
//! answer the offerer gets instead.

use sluice_sdp::MediaSection;
use sluice_transcode::{AudioCodec, DirectionPlan, DtmfFormat, InputCodec, MediaPlan, OutputCodec};

use super::options::CodecPolicy;
use super::sdp_codecs::{self, Format, Listed};
use super::{Negotiation, Sent};

/// Packet time when nobody says otherwise.
const DEFAULT_PTIME_MS: u32 = 20;

/// What an answer does to its section and the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Formats toward the offerer (`None`: the answer's, unchanged).
    pub list: Option<Vec<Listed>>,
    /// `a=ptime` toward the offerer.
    pub ptime: Option<u32>,
    /// The transcoder's plan; `None` passes packets unchanged.
    pub transcode: Option<MediaPlan>,
    /// Each leg's negotiated telephone-event.
    pub telephone_event: [Option<DtmfFormat>; 2],
    /// Packet time forced toward each leg, after this answer's options.
    pub ptime_to: [Option<u32>; 2],
}

/// The format the answerer was offered that `f` (from the answer) is:
/// same payload type and codec, else the same codec under another
/// payload type.
fn offered_as<'a>(neg: &'a Negotiation, f: &Format) -> Option<&'a Sent> {
    neg.sent
        .iter()
        .find(|s| {
            s.format.pt == f.pt
                && (f.name.is_empty() || s.format.name.is_empty() || s.format.same_codec(f))
        })
        .or_else(|| neg.sent.iter().find(|s| s.format.same_codec(f)))
}

fn describe(f: &Format) -> String {
    if f.name.is_empty() {
        format!("payload type {}", f.pt)
    } else {
        format!("{}/{} (payload type {})", f.name, f.clock, f.pt)
    }
}

/// The codec to encode into `format`, with `set`/`transcode` bitrates.
fn output_codec(neg: &Negotiation, format: &Format, ptime_ms: u32) -> Option<OutputCodec> {
    let mut codec = format.audio_codec()?;
    if let AudioCodec::Opus(params) = &mut codec {
        let exact = neg.bitrates.iter().find(|s| s.matches(format));
        let named = || neg.bitrates.iter().find(|s| s.matches_name(format));
        if let Some(rate) = exact.or_else(named).and_then(|s| s.bitrate) {
            params.max_average_bitrate = Some(rate);
        }
    }
    Some(OutputCodec {
        payload_type: format.pt,
        ptime_ms: sendable_ptime(codec, ptime_ms),
        codec,
    })
}

/// The packet time we can send closest to `ms`: 10 to 120 ms in 10 ms
/// steps, and for Opus one frame of 10, 20, 40 or 60 ms or two to six 20
/// ms frames (80-120 ms); an SDP `a=ptime` of 30 toward Opus gets 20.
fn sendable_ptime(codec: AudioCodec, ms: u32) -> u32 {
    let stepped = (ms.clamp(10, 120) + 5) / 10 * 10;
    match codec {
        AudioCodec::Opus(_) => [120, 100, 80, 60, 40, 20, 10]
            .into_iter()
            .find(|&p| p <= stepped)
            .unwrap_or(10),
        AudioCodec::Pcmu | AudioCodec::Pcma => stepped,
    }
}

fn inputs<'a>(formats: impl IntoIterator<Item = &'a Format>) -> Vec<InputCodec> {
    formats
        .into_iter()
        .filter_map(|f| {
            f.audio_codec().map(|codec| InputCodec {
                payload_type: f.pt,
                codec,
            })
        })
        .collect()
}

/// The telephone-event among `formats` at `clock`, else any.
fn dtmf_beside<'a>(
    formats: impl Iterator<Item = &'a Format> + Clone,
    clock: u32,
) -> Option<&'a Format> {
    formats
        .clone()
        .find(|f| f.dtmf().is_some_and(|d| d.clock_rate == clock))
        .or_else(|| formats.into_iter().find(|f| f.dtmf().is_some()))
}

/// Plans the codecs of an answer from leg `from` to the offer recorded in
/// `neg`.
pub fn plan(
    neg: &Negotiation,
    section: &MediaSection,
    from: usize,
    p: &CodecPolicy,
) -> Result<Outcome, String> {
    let to = 1 - from;
    let answered = sdp_codecs::read(section);
    let mut ptime_to = neg.ptime_to;
    if p.ptime.is_some() {
        ptime_to[to] = p.ptime;
    }
    if p.ptime_reverse.is_some() {
        ptime_to[from] = p.ptime_reverse;
    }
    let mut out = Outcome {
        list: None,
        ptime: None,
        transcode: None,
        telephone_event: [None, None],
        ptime_to,
    };
    // A codec B was never offered but that the transcoder handles is
    // taken as if we had added it (rtpengine transcodes it unasked too);
    // anything else never offered is refused.
    let unoffered = |f: &&Format| {
        offered_as(neg, f).is_none() && (f.audio_codec().is_some() || f.dtmf().is_some())
    };
    let widened;
    let neg = if answered.iter().any(|f| unoffered(&f)) {
        let mut n = neg.clone();
        n.sent
            .extend(answered.iter().filter(unoffered).map(|f| Sent {
                format: f.clone(),
                added: true,
            }));
        widened = n;
        &widened
    } else {
        neg
    };
    if let Some(first) = answered.iter().find(|f| !f.is_supplementary()) {
        if offered_as(neg, first).is_none() {
            return Err(format!(
                "the answer picks {}, which was not offered and cannot be transcoded",
                describe(first)
            ));
        }
    }
    // The answer's formats we know, with what they were offered as.
    let known: Vec<(&Format, &Sent)> = answered
        .iter()
        .filter_map(|f| offered_as(neg, f).map(|s| (f, s)))
        .collect();
    let Some(&(primary, primary_sent)) = known.iter().find(|(f, _)| !f.is_supplementary()) else {
        return Ok(out);
    };
    let b_te = dtmf_beside(
        known
            .iter()
            .filter(|(_, s)| !s.added || s.format.is_dtmf())
            .map(|(f, _)| *f),
        primary.clock,
    );
    let offerer_formats = || neg.offered.iter().map(|o| &o.format);
    let decodable_main = |f: &&Format| !f.is_supplementary() && f.audio_codec().is_some();
    let common = !primary_sent.added;
    let answered_pts: Vec<u8> = known
        .iter()
        .filter(|(_, s)| !s.added)
        .map(|(_, s)| s.format.pt)
        .collect();
    let accepted = offerer_formats()
        .filter(decodable_main)
        .find(|f| CodecPolicy::any(&neg.accept, f) && !answered_pts.contains(&f.pt));
    let always = neg.always_transcode || p.always_transcode;
    let inject = neg.inject_dtmf || p.inject_dtmf;
    let offerer_first = accepted.or_else(|| offerer_formats().find(decodable_main));
    let full = (!common || always || accepted.is_some())
        && primary.audio_codec().is_some()
        && offerer_first.is_some();
    if !common && !full {
        return Err(format!(
            "the answer picks {}, but no codec of the offer can be transcoded to it",
            describe(primary)
        ));
    }

    if !full {
        // Pass-through (or a copy for DTMF injection or repacketization):
        // the offerer gets the answer without the codecs we added.
        let kept: Vec<Listed> = known
            .iter()
            .filter(|(_, s)| !s.added)
            .map(|(f, _)| Listed {
                format: (*f).clone(),
                own: true,
            })
            .collect();
        if kept.len() != answered.len() {
            out.list = Some(kept.clone());
        }
        let common_te = b_te
            .filter(|f| offered_as(neg, f).is_some_and(|s| !s.added))
            .and_then(Format::dtmf);
        out.telephone_event[to] = common_te;
        out.telephone_event[from] = b_te.and_then(Format::dtmf);
        out.ptime = ptime_to[to];
        let copy = primary.audio_codec().is_some()
            && (inject || ptime_to[0].is_some() || ptime_to[1].is_some());
        if copy {
            let offerer_common = offerer_formats()
                .find(|f| f.pt == primary_sent.format.pt)
                .unwrap_or(&primary_sent.format);
            let mut plan = MediaPlan::default();
            if inject || ptime_to[from].is_some() {
                let ptime = ptime_to[from]
                    .or(sdp_codecs::ptime(section))
                    .unwrap_or(DEFAULT_PTIME_MS);
                plan.directions[to] =
                    output_codec(neg, primary, ptime).map(|output| DirectionPlan {
                        inputs: inputs(kept.iter().map(|l| {
                            offerer_formats()
                                .find(|f| f.pt == l.format.pt)
                                .unwrap_or(&l.format)
                        })),
                        output,
                        input_dtmf: out.telephone_event[to],
                        output_dtmf: out.telephone_event[from],
                    });
            }
            if inject || ptime_to[to].is_some() {
                let ptime = ptime_to[to]
                    .or(neg.offerer_ptime)
                    .unwrap_or(DEFAULT_PTIME_MS);
                plan.directions[from] =
                    output_codec(neg, offerer_common, ptime).map(|output| DirectionPlan {
                        inputs: inputs(kept.iter().map(|l| &l.format)),
                        output,
                        input_dtmf: out.telephone_event[from],
                        output_dtmf: out.telephone_event[to],
                    });
            }
            out.transcode = plan.directions.iter().any(Option::is_some).then_some(plan);
        }
        return Ok(out);
    }

    // Transcoding: the offerer is answered with its own codec.
    let a_out = offerer_first.expect("checked by `full`");
    let a_te = dtmf_beside(offerer_formats(), a_out.clock).filter(|_| b_te.is_some() || inject);
    let mut list = vec![Listed {
        format: a_out.clone(),
        own: false,
    }];
    list.extend(a_te.map(|f| Listed {
        format: f.clone(),
        own: false,
    }));
    out.list = Some(list);
    out.telephone_event[to] = a_te.and_then(Format::dtmf);
    out.telephone_event[from] = b_te.and_then(Format::dtmf);
    out.ptime = ptime_to[to];
    let to_answerer = ptime_to[from]
        .or(sdp_codecs::ptime(section))
        .unwrap_or(DEFAULT_PTIME_MS);
    let to_offerer = ptime_to[to]
        .or(neg.offerer_ptime)
        .unwrap_or(DEFAULT_PTIME_MS);
    let mut plan = MediaPlan::default();
    plan.directions[to] = output_codec(neg, primary, to_answerer).map(|output| DirectionPlan {
        inputs: inputs(offerer_formats().filter(decodable_main)),
        output,
        input_dtmf: out.telephone_event[to],
        output_dtmf: out.telephone_event[from],
    });
    plan.directions[from] = output_codec(neg, a_out, to_offerer).map(|output| DirectionPlan {
        inputs: inputs(known.iter().map(|(f, _)| *f).filter(decodable_main)),
        output,
        input_dtmf: out.telephone_event[from],
        output_dtmf: out.telephone_event[to],
    });
    out.transcode = Some(plan);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::sendable_ptime;
    use sluice_transcode::{AudioCodec, OpusParams};

    #[test]
    fn packet_times_we_can_send() {
        let opus = AudioCodec::Opus(OpusParams::default());
        for (asked, g711, opus_ms) in [
            (1, 10, 10),
            (20, 20, 20),
            (25, 30, 20),
            (30, 30, 20),
            (50, 50, 40),
            (60, 60, 60),
            (90, 90, 80),
            (1000, 120, 120),
        ] {
            assert_eq!(sendable_ptime(AudioCodec::Pcmu, asked), g711, "{asked}");
            assert_eq!(sendable_ptime(opus, asked), opus_ms, "{asked}");
        }
    }
}

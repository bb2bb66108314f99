//! The payload types of one media section: `m=` formats with their
//! `a=rtpmap`/`a=fmtp` (or the RFC 3551 static defaults), `a=ptime`, and
//! writing a new format list back.

use sluice_sdp::MediaSection;
use sluice_transcode::{AudioCodec, DtmfFormat, OpusParams};

/// One payload type of a media section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    /// RTP payload type.
    pub pt: u8,
    /// Encoding name as written (`PCMU`, `opus`, ...); empty when a
    /// dynamic payload type has no `a=rtpmap`.
    pub name: String,
    /// Clock rate in Hz (0 when unknown).
    pub clock: u32,
    /// Channels (1 unless the `a=rtpmap` says otherwise).
    pub channels: u8,
    /// The `a=fmtp` parameters, if any.
    pub fmtp: Option<String>,
}

/// RFC 3551 static audio payload types a section may use without
/// `a=rtpmap`.
fn static_format(pt: u8) -> Option<(&'static str, u32)> {
    Some(match pt {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        13 => ("CN", 8000),
        18 => ("G729", 8000),
        _ => return None,
    })
}

impl Format {
    /// A format with the given rtpmap fields.
    pub fn new(pt: u8, name: &str, clock: u32, channels: u8, fmtp: Option<&str>) -> Self {
        Self {
            pt,
            name: name.to_owned(),
            clock,
            channels,
            fmtp: fmtp.map(str::to_owned),
        }
    }

    /// Whether this is `telephone-event` (RFC 4733).
    pub fn is_dtmf(&self) -> bool {
        self.name.eq_ignore_ascii_case("telephone-event")
    }

    /// Telephone-event or comfort noise: formats that ride beside a codec
    /// rather than being one.
    pub fn is_supplementary(&self) -> bool {
        self.is_dtmf() || self.name.eq_ignore_ascii_case("CN")
    }

    /// The codec the transcoder can decode and encode, if it is one.
    pub fn audio_codec(&self) -> Option<AudioCodec> {
        let n = &self.name;
        match (self.clock, self.channels) {
            (8000, 1) if n.eq_ignore_ascii_case("PCMU") => Some(AudioCodec::Pcmu),
            (8000, 1) if n.eq_ignore_ascii_case("PCMA") => Some(AudioCodec::Pcma),
            (48000, 1 | 2) if n.eq_ignore_ascii_case("opus") => {
                Some(AudioCodec::Opus(opus_params(self.fmtp.as_deref())))
            }
            _ => None,
        }
    }

    /// The telephone-event format, if this is one at a rate the
    /// transcoder handles.
    pub fn dtmf(&self) -> Option<DtmfFormat> {
        (self.is_dtmf() && matches!(self.clock, 8000 | 48000)).then_some(DtmfFormat {
            payload_type: self.pt,
            clock_rate: self.clock,
        })
    }

    /// Same codec (name, clock rate, channels), whatever the payload type.
    pub fn same_codec(&self, other: &Format) -> bool {
        !self.name.is_empty()
            && self.name.eq_ignore_ascii_case(&other.name)
            && self.clock == other.clock
            && self.channels == other.channels
    }

    /// The `a=rtpmap` value: `PT name/clock[/channels]`.
    pub fn rtpmap_value(&self) -> String {
        if self.channels > 1 {
            format!("{} {}/{}/{}", self.pt, self.name, self.clock, self.channels)
        } else {
            format!("{} {}/{}", self.pt, self.name, self.clock)
        }
    }
}

/// The RTP payload types of `section`, in `m=` order. Formats that are
/// not payload type numbers are skipped; a malformed `a=rtpmap` counts as
/// absent.
pub fn read(section: &MediaSection) -> Vec<Format> {
    let maps: Vec<_> = section.rtpmap().collect();
    section
        .formats()
        .iter()
        .filter_map(|f| f.parse::<u8>().ok().filter(|pt| *pt < 128))
        .map(|pt| {
            let fmtp = section.fmtp(pt).map(str::to_owned);
            match maps.iter().find(|m| m.payload_type == pt) {
                Some(m) => Format {
                    pt,
                    name: m.encoding.clone(),
                    clock: m.clock_rate,
                    channels: m.channels.unwrap_or(1).max(1),
                    fmtp,
                },
                None => {
                    let (name, clock) = static_format(pt).unwrap_or(("", 0));
                    Format {
                        pt,
                        name: name.to_owned(),
                        clock,
                        channels: 1,
                        fmtp,
                    }
                }
            }
        })
        .collect()
}

/// The section's `a=ptime` in ms, if present and sane.
pub fn ptime(section: &MediaSection) -> Option<u32> {
    section
        .attribute("ptime")
        .and_then(|a| a.value.as_deref())
        .and_then(|v| v.trim().parse::<f32>().ok())
        .filter(|v| v.is_finite() && *v >= 1.0 && *v <= 1000.0)
        .map(|v| v.round() as u32)
}

/// Opus parameters from an `a=fmtp` (RFC 7587 §6.1); anything malformed
/// keeps its default.
pub fn opus_params(fmtp: Option<&str>) -> OpusParams {
    let mut p = OpusParams::default();
    let Some(fmtp) = fmtp else { return p };
    for item in fmtp.split(';') {
        let Some((key, value)) = item.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let flag = value == "1";
        let number = value.parse::<u32>().ok();
        match key.trim().to_ascii_lowercase().as_str() {
            "maxplaybackrate" => p.max_playback_rate = number.unwrap_or(p.max_playback_rate),
            "sprop-maxcapturerate" => {
                p.sprop_max_capture_rate = number.unwrap_or(p.sprop_max_capture_rate);
            }
            "stereo" => p.stereo = flag,
            "useinbandfec" => p.use_inband_fec = flag,
            "usedtx" => p.use_dtx = flag,
            "maxaveragebitrate" => p.max_average_bitrate = number.filter(|b| *b > 0),
            _ => {}
        }
    }
    p
}

/// One entry of a format list to write: the format, and whether its
/// `a=rtpmap`/`a=fmtp` lines are already in the section (formats of the
/// SDP being rewritten) or must be written (formats from the other leg or
/// added by us).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The format.
    pub format: Format,
    /// Its lines are in the section already.
    pub own: bool,
}

/// Replaces the section's format list with `list`: lines of formats no
/// longer listed (or listed with new lines) go, lines of new formats are
/// appended. Does nothing for an empty list.
pub fn write_formats(section: &mut MediaSection, list: &[Listed]) {
    if list.is_empty() {
        return;
    }
    let pts: Vec<String> = list.iter().map(|l| l.format.pt.to_string()).collect();
    section.set_formats(&pts);
    section.retain_attributes(|a| {
        if !matches!(a.name.as_str(), "rtpmap" | "fmtp" | "rtcp-fb") {
            return true;
        }
        let pt = a
            .value
            .as_deref()
            .and_then(|v| v.split_ascii_whitespace().next());
        match pt {
            Some("*") | None => true,
            Some(pt) => list.iter().any(|l| l.own && l.format.pt.to_string() == pt),
        }
    });
    for l in list.iter().filter(|l| !l.own && !l.format.name.is_empty()) {
        section.add_attribute("rtpmap", Some(&l.format.rtpmap_value()));
        if let Some(fmtp) = &l.format.fmtp {
            section.add_attribute("fmtp", Some(&format!("{} {fmtp}", l.format.pt)));
        }
    }
}

//! The NG codec options (`codec: {strip, offer, transcode, mask, accept,
//! except, set}`, the `codec-...` flags, `always transcode`, `inject
//! DTMF`, `ptime`, `ptime-reverse`) in the shape offer and answer
//! processing use.

use sluice_ng::request::Options;

use super::sdp_codecs::Format;

/// One entry of a codec list: `name[/clock[/channels[/bitrate]]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecSpec {
    /// Encoding name, compared ASCII-case-insensitively.
    pub name: String,
    /// Clock rate, when given.
    pub clock: Option<u32>,
    /// Channels, when given.
    pub channels: Option<u8>,
    /// Bitrate in bit/s, when given.
    pub bitrate: Option<u32>,
}

impl CodecSpec {
    /// Parses one list entry; empty or unparsable numeric parts count as
    /// not given.
    pub fn parse(text: &str) -> Self {
        let mut parts = text.trim().split('/');
        let name = parts.next().unwrap_or_default().trim().to_owned();
        let mut num = || parts.next().and_then(|p| p.trim().parse::<u32>().ok());
        let clock = num();
        let channels = num().and_then(|c| u8::try_from(c).ok());
        let bitrate = num().filter(|b| *b > 0);
        Self {
            name,
            clock,
            channels,
            bitrate,
        }
    }

    /// Whether `format` is this codec: same name, and the same clock rate
    /// and channels where given.
    pub fn matches(&self, format: &Format) -> bool {
        !format.name.is_empty()
            && self.name.eq_ignore_ascii_case(&format.name)
            && self.clock.is_none_or(|c| c == format.clock)
            && self.channels.is_none_or(|c| c == format.channels)
    }

    /// Whether `format` has this name and clock rate (channels aside).
    pub fn matches_name(&self, format: &Format) -> bool {
        !format.name.is_empty()
            && self.name.eq_ignore_ascii_case(&format.name)
            && self.clock.is_none_or(|c| c == format.clock)
    }

    /// The keyword `all` (or `full`, treated the same).
    fn is_all(&self) -> bool {
        self.name.eq_ignore_ascii_case("all") || self.name.eq_ignore_ascii_case("full")
    }

    /// The format we add for `transcode`, when the transcoder supports
    /// the codec: PCMU, PCMA or Opus (always `opus/48000/2`, RFC 7587).
    pub fn transcodable(&self) -> Option<Format> {
        let n = self.name.to_ascii_lowercase();
        let (name, clock, channels, fmtp) = match n.as_str() {
            "pcmu" => ("PCMU", 8000, 1, None),
            "pcma" => ("PCMA", 8000, 1, None),
            "opus" => ("opus", 48000, 2, Some("useinbandfec=1")),
            _ => return None,
        };
        if self.clock.is_some_and(|c| c != clock)
            || self
                .channels
                .is_some_and(|c| c != channels && !(n == "opus" && c == 1))
        {
            return None;
        }
        Some(Format::new(0, name, clock, channels, fmtp))
    }
}

/// The codec options of one offer or answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodecPolicy {
    /// `strip: [all]`.
    pub strip_all: bool,
    /// `strip` by name.
    pub strip: Vec<CodecSpec>,
    /// `mask: [all]`.
    pub mask_all: bool,
    /// `mask` by name.
    pub mask: Vec<CodecSpec>,
    /// `offer`: kept despite `all`, and moved to the front in this order.
    pub offer: Vec<CodecSpec>,
    /// `except`: kept despite `all`.
    pub except: Vec<CodecSpec>,
    /// `transcode`: added when absent.
    pub transcode: Vec<CodecSpec>,
    /// `accept`: offered as is, and used toward the offerer if the
    /// answerer rejects it.
    pub accept: Vec<CodecSpec>,
    /// `set`: encoder settings (bitrate).
    pub set: Vec<CodecSpec>,
    /// `always transcode`.
    pub always_transcode: bool,
    /// `inject DTMF`.
    pub inject_dtmf: bool,
    /// `ptime`: toward the leg the SDP goes to.
    pub ptime: Option<u32>,
    /// `ptime-reverse`: toward the leg that sent the SDP.
    pub ptime_reverse: Option<u32>,
}

fn specs(list: &[String]) -> (bool, Vec<CodecSpec>) {
    let all: Vec<CodecSpec> = list.iter().map(|s| CodecSpec::parse(s)).collect();
    let has_all = all.iter().any(CodecSpec::is_all);
    (has_all, all.into_iter().filter(|s| !s.is_all()).collect())
}

fn sane_ptime(ms: Option<u32>) -> Option<u32> {
    ms.filter(|ms| (1..=1000).contains(ms))
}

impl CodecPolicy {
    /// The codec options of an NG request.
    pub fn from_options(opts: &Options) -> Self {
        let c = &opts.codec;
        let (strip_all, strip) = specs(&c.strip);
        let (mask_all, mask) = specs(&c.mask);
        Self {
            strip_all,
            strip,
            mask_all,
            mask,
            offer: specs(&c.offer).1,
            except: specs(&c.except).1,
            transcode: specs(&c.transcode).1,
            accept: specs(&c.accept).1,
            set: specs(&c.set).1,
            always_transcode: opts.flags.always_transcode,
            inject_dtmf: opts.flags.inject_dtmf,
            ptime: sane_ptime(opts.ptime),
            ptime_reverse: sane_ptime(opts.ptime_reverse),
        }
    }

    /// Whether any entry of `list` names `format`.
    pub fn any(list: &[CodecSpec], format: &Format) -> bool {
        list.iter().any(|s| s.matches(format))
    }
}

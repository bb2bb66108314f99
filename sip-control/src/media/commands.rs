//! The NG requests sip-control sends, built from typed parameters.
//!
//! Keys are spelled as rtpengine documents them (`call-id`, `from-tag`,
//! `transport-protocol`, `play DTMF`), which media-core reads too.

use std::net::IpAddr;

use sluice_ng::{Dict, Value};

use super::error::ParamError;

/// `transport-protocol` toward the party that receives the SDP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TransportProtocol {
    /// Send no key: keep the profile of the SDP as it came.
    #[default]
    Keep,
    /// `RTP/AVP`: plain RTP.
    RtpAvp,
    /// `RTP/SAVP`: SDES-keyed SRTP.
    RtpSavp,
}

impl TransportProtocol {
    /// The NG value, or `None` for [`TransportProtocol::Keep`].
    pub fn as_ng(self) -> Option<&'static str> {
        match self {
            Self::Keep => None,
            Self::RtpAvp => Some("RTP/AVP"),
            Self::RtpSavp => Some("RTP/SAVP"),
        }
    }
}

/// `codec` manipulations; entries are `name[/rate[/channels]]` (`all`
/// works for strip and mask). Empty lists are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodecOptions {
    /// Remove these codecs from the SDP.
    pub strip: Vec<String>,
    /// Hide these from the receiver but accept them from the sender.
    pub mask: Vec<String>,
    /// Offer these to the receiver, transcoding when it picks one.
    pub transcode: Vec<String>,
    /// Keep these of the sender's codecs despite `strip` (`strip: [all]`
    /// with `offer: [PCMU]` leaves only PCMU).
    pub offer: Vec<String>,
}

impl CodecOptions {
    /// Whether no list has an entry.
    pub fn is_empty(&self) -> bool {
        self.strip.is_empty()
            && self.mask.is_empty()
            && self.transcode.is_empty()
            && self.offer.is_empty()
    }

    fn to_dict(&self) -> Dict {
        let mut d = Dict::new();
        for (key, list) in [
            ("strip", &self.strip),
            ("mask", &self.mask),
            ("transcode", &self.transcode),
            ("offer", &self.offer),
        ] {
            if !list.is_empty() {
                d.insert(key, strings(list));
            }
        }
        d
    }
}

/// Options shared by `offer` and `answer`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SdpOptions {
    /// Top Via branch of the SIP message (tells forks apart).
    pub via_branch: Option<String>,
    /// Where the SIP message came from (`received-from`).
    pub received_from: Option<IpAddr>,
    /// Profile toward the receiver.
    pub transport: TransportProtocol,
    /// `flags` beyond the defaults, e.g. `inject DTMF`, `strict source`.
    pub flags: Vec<String>,
    /// Codec manipulations.
    pub codec: CodecOptions,
}

/// An `offer`: the SDP of `from_tag`'s party, to be rewritten for the
/// other party.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferParams {
    /// SIP Call-ID.
    pub call_id: String,
    /// Tag of the party whose SDP this is.
    pub from_tag: String,
    /// The SDP body.
    pub sdp: Vec<u8>,
    /// `direction`: the relay interfaces facing the sender and the
    /// receiver of this SDP (only needed in the first offer).
    pub direction: Option<Direction>,
    /// Everything else.
    pub options: SdpOptions,
}

/// The two interface names of `direction`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Direction {
    /// Interface facing the party that sent the SDP.
    pub from: String,
    /// Interface facing the party that receives it.
    pub to: String,
}

/// An `answer`: the SDP of `to_tag`'s party, answering `from_tag`'s offer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerParams {
    /// SIP Call-ID.
    pub call_id: String,
    /// Tag of the party that made the offer.
    pub from_tag: String,
    /// Tag of the party whose answer SDP this is.
    pub to_tag: String,
    /// The SDP body.
    pub sdp: Vec<u8>,
    /// Everything else.
    pub options: SdpOptions,
}

/// A DTMF digit `play DTMF` can send: `0`-`9`, `*`, `#`, `A`-`D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfDigit(char);

impl DtmfDigit {
    /// The digit as sent (`A`-`D` upper case).
    pub fn as_char(self) -> char {
        self.0
    }
}

impl TryFrom<char> for DtmfDigit {
    type Error = ParamError;

    fn try_from(c: char) -> Result<Self, ParamError> {
        match c.to_ascii_uppercase() {
            d @ ('0'..='9' | '*' | '#' | 'A'..='D') => Ok(Self(d)),
            _ => Err(ParamError::DtmfDigit(c)),
        }
    }
}

/// Shortest and longest `play DTMF` duration both relays accept (ms).
pub const DTMF_DURATION_MS: (u32, u32) = (100, 5000);

/// `ping`.
pub fn ping() -> Dict {
    command("ping")
}

/// `offer`, with the defaults a B2BUA wants: `replace` of the origin and
/// session connection (the SDP then names only the relay), `ICE: remove`
/// (neither leg does ICE through a trunk), and `supports: [load limit]`
/// so that a full node says so instead of failing the call.
pub fn offer(p: &OfferParams) -> Dict {
    let mut d = sdp_request("offer", &p.call_id, &p.from_tag, &p.sdp, &p.options)
        .with("supports", strings(&["load limit"]));
    if let Some(dir) = &p.direction {
        d.insert("direction", strings(&[&dir.from, &dir.to]));
    }
    d
}

/// `answer`, with the same defaults as [`offer`].
pub fn answer(p: &AnswerParams) -> Dict {
    sdp_request("answer", &p.call_id, &p.from_tag, &p.sdp, &p.options)
        .with("to-tag", p.to_tag.as_str())
}

/// `delete` of the whole call (`to_tag` narrows it to one dialogue).
pub fn delete(call_id: &str, from_tag: &str, to_tag: Option<&str>) -> Dict {
    let mut d = call(command("delete"), call_id).with("from-tag", from_tag);
    if let Some(t) = to_tag {
        d.insert("to-tag", t);
    }
    d
}

/// `query`: the call's parties, streams and counters.
pub fn query(call_id: &str) -> Dict {
    call(command("query"), call_id)
}

/// `play DTMF`: `digit` played on behalf of `from_tag`'s party (the other
/// party hears it), for `duration_ms` (clamped to [`DTMF_DURATION_MS`]),
/// `volume_db` below full scale. The call needs the `inject DTMF` flag in
/// its offer and answer, unless it is transcoded anyway.
pub fn play_dtmf(
    call_id: &str,
    from_tag: &str,
    digit: DtmfDigit,
    duration_ms: u32,
    volume_db: u8,
) -> Dict {
    let duration = duration_ms.clamp(DTMF_DURATION_MS.0, DTMF_DURATION_MS.1);
    call(command("play DTMF"), call_id)
        .with("from-tag", from_tag)
        .with("code", digit.as_char().to_string())
        .with("duration", duration)
        .with("volume", u32::from(volume_db))
}

/// `block DTMF`: `from_tag`'s party's DTMF events are not forwarded.
pub fn block_dtmf(call_id: &str, from_tag: &str) -> Dict {
    call(command("block DTMF"), call_id).with("from-tag", from_tag)
}

/// `unblock DTMF`: undoes [`block_dtmf`].
pub fn unblock_dtmf(call_id: &str, from_tag: &str) -> Dict {
    call(command("unblock DTMF"), call_id).with("from-tag", from_tag)
}

fn command(name: &str) -> Dict {
    Dict::new().with("command", name)
}

fn call(d: Dict, call_id: &str) -> Dict {
    d.with("call-id", call_id)
}

fn sdp_request(name: &str, call_id: &str, from_tag: &str, sdp: &[u8], o: &SdpOptions) -> Dict {
    let mut d = call(command(name), call_id)
        .with("from-tag", from_tag)
        .with("sdp", sdp)
        .with("replace", strings(&["origin", "session-connection"]))
        .with("ICE", "remove");
    if let Some(b) = &o.via_branch {
        d.insert("via-branch", b.as_str());
    }
    if let Some(ip) = o.received_from {
        let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
        d.insert("received-from", strings(&[family, &ip.to_string()]));
    }
    if let Some(t) = o.transport.as_ng() {
        d.insert("transport-protocol", t);
    }
    if !o.flags.is_empty() {
        d.insert("flags", strings(&o.flags));
    }
    if !o.codec.is_empty() {
        d.insert("codec", o.codec.to_dict());
    }
    d
}

fn strings<S: AsRef<str>>(items: &[S]) -> Value {
    Value::List(items.iter().map(|s| Value::from(s.as_ref())).collect())
}

#[cfg(test)]
#[path = "commands_tests.rs"]
mod tests;

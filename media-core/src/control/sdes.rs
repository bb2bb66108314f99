//! SDES (RFC 4568) for one media section: which `a=crypto` lines go to
//! each leg and, once the answer names one, which keys the workers use.
//!
//! The rules follow rtpengine, so proxies see the same behaviour:
//! - Offer toward an SRTP leg: the offerer's own lines first (same tag,
//!   same key), then a line with a fresh key of ours for every other suite
//!   we support (unless `nonew`), all filtered by `no-`/`only-`.
//! - If the answerer picks one of the offerer's own lines, both ends
//!   already share keys: the relay passes SRTP through untouched. If it
//!   picks one of ours, the relay decrypts and re-encrypts per leg.
//! - `terminate` (a sluice extension) never forwards the offerer's keys:
//!   the relay always re-encrypts.

use std::fmt;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use sluice_sdp::{CryptoAttr, KeyParam, MediaSection};
use sluice_srtp::{Suite, MAX_REPLAY_WINDOW};

use crate::relay::{KeyParams, SrtpKey};

/// What the NG `SDES` option (and `SDES-...` flags) ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SdesPolicy {
    /// `off`: no SDES toward the recipient.
    pub off: bool,
    /// `nonew`: offer only what the offerer offered.
    pub nonew: bool,
    /// `pad`: base64 keys with `=` padding.
    pub pad: bool,
    /// `lifetime`: add `|2^31` to our keys.
    pub lifetime: bool,
    /// `terminate`: never pass the offerer's keys on (always re-encrypt).
    pub terminate: bool,
    /// `only-SUITE`: offer these suites and no others.
    pub only: Vec<Suite>,
    /// `no-SUITE`: never offer these suites.
    pub no: Vec<Suite>,
    /// `order:A;B`: suites put first in our offer, in this order.
    pub order: Vec<Suite>,
    /// `unencrypted_srtp` / `encrypted_srtp` on our lines.
    pub encrypt_rtp: Option<bool>,
    /// `unencrypted_srtcp` / `encrypted_srtcp` on our lines.
    pub encrypt_rtcp: Option<bool>,
    /// `unauthenticated_srtp` / `authenticated_srtp` on our lines.
    pub authenticate_rtp: Option<bool>,
}

impl SdesPolicy {
    /// Reads the raw `SDES` entries of an NG request.
    ///
    /// # Errors
    /// The entry that is not understood, or an unknown suite name.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut p = Self::default();
        for entry in entries {
            let lower = entry.to_ascii_lowercase();
            let suites = |list: &str| -> Result<Vec<Suite>, String> {
                list.split([';', ','])
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        s.parse::<Suite>()
                            .map_err(|_| format!("SDES: unknown crypto suite {s}"))
                    })
                    .collect()
            };
            match lower.as_str() {
                "off" | "no" | "disable" => p.off = true,
                "on" | "static" => {}
                "nonew" => p.nonew = true,
                "pad" => p.pad = true,
                "lifetime" => p.lifetime = true,
                "terminate" => p.terminate = true,
                "unencrypted_srtp" => p.encrypt_rtp = Some(false),
                "encrypted_srtp" => p.encrypt_rtp = Some(true),
                "unencrypted_srtcp" => p.encrypt_rtcp = Some(false),
                "encrypted_srtcp" => p.encrypt_rtcp = Some(true),
                "unauthenticated_srtp" => p.authenticate_rtp = Some(false),
                "authenticated_srtp" => p.authenticate_rtp = Some(true),
                _ => {
                    if let Some(list) = entry.get(3..).filter(|_| lower.starts_with("no-")) {
                        p.no.extend(suites(list)?);
                    } else if let Some(list) = entry.get(5..).filter(|_| lower.starts_with("only-"))
                    {
                        p.only.extend(suites(list)?);
                    } else if let Some(list) =
                        entry.get(6..).filter(|_| lower.starts_with("order:"))
                    {
                        p.order = suites(list)?;
                    } else if lower.starts_with("offerer_pref:") {
                        // Accepted for compatibility; the first usable
                        // suite of the offerer is used.
                    } else {
                        return Err(format!("SDES: unknown option {entry}"));
                    }
                }
            }
        }
        Ok(p)
    }

    /// Whether `suite` may appear in what we send.
    pub fn allows(&self, suite: Suite) -> bool {
        !self.no.contains(&suite) && (self.only.is_empty() || self.only.contains(&suite))
    }
}

/// A usable `a=crypto` line: its text and the key it carries.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyLine {
    /// The attribute as it goes into SDP.
    pub attr: CryptoAttr,
    /// The key, decoded and checked.
    pub key: SrtpKey,
}

impl fmt::Debug for KeyLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyLine")
            .field("tag", &self.attr.tag)
            .field("key", &self.key)
            .finish()
    }
}

/// A line we put in an offer toward a leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentLine {
    /// The line.
    pub line: KeyLine,
    /// Copied from the other leg's offer (its key, not ours).
    pub copied: bool,
}

/// What SDES knows about the leg one side of a media pair faces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideSdes {
    /// Usable lines from this leg's latest SDP.
    pub received: Vec<KeyLine>,
    /// Lines we offered to this leg.
    pub sent: Vec<SentLine>,
    /// The key this leg sends with (workers unprotect with it).
    pub rx: Option<SrtpKey>,
    /// The key we send to this leg with.
    pub tx: Option<SrtpKey>,
}

/// Whether a transport protocol carries SRTP (`RTP/SAVP`, `RTP/SAVPF`).
pub fn is_srtp(protocol: &str) -> bool {
    protocol.contains("SAVP")
}

/// Reads the usable `a=crypto` lines of `section`. Lines with unknown
/// suites, MKI, key derivation rates or unknown mandatory session
/// parameters are skipped; if none is left, the error lists why.
pub fn received_lines(section: &MediaSection, replay_window: u16) -> Result<Vec<KeyLine>, String> {
    let mut usable = Vec::new();
    let mut refused = Vec::new();
    for attr in section.attributes_named("crypto") {
        let value = attr.value.as_deref().unwrap_or_default();
        match parse_line(value, replay_window) {
            Ok(line) => usable.push(line),
            Err(why) => refused.push(why),
        }
    }
    if usable.is_empty() {
        return Err(if refused.is_empty() {
            "no a=crypto line (DTLS-SRTP is not supported)".to_owned()
        } else {
            format!("no usable a=crypto line ({})", refused.join("; "))
        });
    }
    Ok(usable)
}

fn parse_line(value: &str, replay_window: u16) -> Result<KeyLine, String> {
    let attr = CryptoAttr::parse(value).map_err(|e| e.to_string())?;
    let suite: Suite = attr
        .suite
        .parse()
        .map_err(|_| format!("crypto suite {} is not supported", attr.suite))?;
    let [key] = attr.keys.as_slice() else {
        return Err(format!(
            "{} keys in one line need MKI, which is not supported",
            attr.keys.len()
        ));
    };
    if key.mki.is_some() {
        return Err("MKI is not supported".to_owned());
    }
    let params = session_params(&attr.session_params, replay_window)?;
    let material = decode_key(&key.key_salt)?;
    let key = SrtpKey::new(suite, &material, params).map_err(|e| format!("{}: {e}", attr.suite))?;
    Ok(KeyLine { attr, key })
}

/// The transform-relevant session parameters of a line.
fn session_params(params: &[String], replay_window: u16) -> Result<KeyParams, String> {
    let mut p = KeyParams {
        replay_window,
        ..KeyParams::default()
    };
    for param in params {
        match param.as_str() {
            "UNENCRYPTED_SRTP" => p.encrypt_rtp = false,
            "UNENCRYPTED_SRTCP" => p.encrypt_rtcp = false,
            "UNAUTHENTICATED_SRTP" => p.authenticate_rtp = false,
            "KDR=0" | "FEC_ORDER=FEC_SRTP" => {}
            other if other.starts_with("KDR=") => {
                return Err("key derivation rates are not supported".to_owned())
            }
            other if other.starts_with("WSH=") => {
                let hint: u16 = other[4..]
                    .parse()
                    .map_err(|_| format!("bad session parameter {other}"))?;
                p.replay_window = p.replay_window.max(hint.min(MAX_REPLAY_WINDOW));
            }
            // RFC 4568 section 6.3: an unknown parameter makes the line
            // unusable, unless its name starts with '-' (optional).
            other if other.starts_with('-') => {}
            other => return Err(format!("session parameter {other} is not supported")),
        }
    }
    Ok(p)
}

fn decode_key(text: &str) -> Result<Vec<u8>, String> {
    let engine = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    engine
        .decode(text)
        .map_err(|_| "key is not valid base64".to_owned())
}

fn encode_key(bytes: &[u8], pad: bool) -> String {
    let engine = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_encode_padding(pad),
    );
    engine.encode(bytes)
}

/// A line with a fresh random key for `suite`.
pub fn generate_line(
    tag: u32,
    suite: Suite,
    params: KeyParams,
    session_params: Vec<String>,
    policy: &SdesPolicy,
) -> Result<KeyLine, String> {
    let mut material = [0u8; crate::relay::crypto::MAX_KEY_SALT];
    let material = &mut material[..suite.key_salt_len()];
    getrandom::fill(material).map_err(|e| format!("no randomness for SRTP keys: {e}"))?;
    let key = SrtpKey::new(suite, material, params).map_err(|e| e.to_string())?;
    let attr = CryptoAttr {
        tag,
        suite: suite.name().to_owned(),
        keys: vec![KeyParam {
            key_salt: encode_key(material, policy.pad),
            lifetime: policy.lifetime.then(|| "2^31".to_owned()),
            mki: None,
        }],
        session_params,
    };
    Ok(KeyLine { attr, key })
}

/// The session parameters `policy` puts on lines we generate.
fn our_params(policy: &SdesPolicy, replay_window: u16) -> (KeyParams, Vec<String>) {
    let mut params = KeyParams {
        replay_window,
        ..KeyParams::default()
    };
    let mut text = Vec::new();
    if policy.encrypt_rtp == Some(false) {
        params.encrypt_rtp = false;
        text.push("UNENCRYPTED_SRTP".to_owned());
    }
    if policy.encrypt_rtcp == Some(false) {
        params.encrypt_rtcp = false;
        text.push("UNENCRYPTED_SRTCP".to_owned());
    }
    if policy.authenticate_rtp == Some(false) {
        params.authenticate_rtp = false;
        text.push("UNAUTHENTICATED_SRTP".to_owned());
    }
    (params, text)
}

/// The lines to offer a leg: the offerer's `received` lines (copied, or
/// re-keyed under `terminate`), then ours for other suites. `previous`
/// (what we offered this leg before) keeps our keys stable across
/// re-offers.
pub fn offer_lines(
    received: &[KeyLine],
    previous: &[SentLine],
    policy: &SdesPolicy,
    replay_window: u16,
) -> Result<Vec<SentLine>, String> {
    let mut out: Vec<SentLine> = Vec::new();
    let mut next_tag = received.iter().map(|l| l.attr.tag).max().unwrap_or(0) + 1;
    let (params, text) = our_params(policy, replay_window);
    let reuse_or_generate =
        |tag: u32, suite: Suite, params: KeyParams, text: Vec<String>| match previous.iter().find(
            |s| {
                !s.copied
                    && s.line.attr.tag == tag
                    && s.line.key.suite() == suite
                    && s.line.key.params == params
            },
        ) {
            Some(prev) => Ok(prev.line.clone()),
            None => generate_line(tag, suite, params, text, policy),
        };
    for line in received {
        let suite = line.key.suite();
        if !policy.allows(suite) || out.iter().any(|s| s.line.key.suite() == suite) {
            continue;
        }
        let sent = if policy.terminate {
            SentLine {
                line: reuse_or_generate(
                    line.attr.tag,
                    suite,
                    line.key.params,
                    line.attr.session_params.clone(),
                )?,
                copied: false,
            }
        } else {
            SentLine {
                line: line.clone(),
                copied: true,
            }
        };
        out.push(sent);
    }
    if !policy.nonew {
        for suite in Suite::ALL {
            if !policy.allows(suite) || out.iter().any(|s| s.line.key.suite() == suite) {
                continue;
            }
            let tag = previous
                .iter()
                .find(|s| !s.copied && s.line.key.suite() == suite && s.line.attr.tag >= next_tag)
                .map_or(next_tag, |s| s.line.attr.tag);
            next_tag = next_tag.max(tag) + 1;
            out.push(SentLine {
                line: reuse_or_generate(tag, suite, params, text.clone())?,
                copied: false,
            });
        }
    }
    if !policy.order.is_empty() {
        let rank = |s: &SentLine| {
            policy
                .order
                .iter()
                .position(|o| *o == s.line.key.suite())
                .unwrap_or(usize::MAX)
        };
        out.sort_by_key(rank);
    }
    if out.is_empty() {
        return Err("no crypto suite left to offer (check SDES no-/only-)".to_owned());
    }
    Ok(out)
}

/// What an answer settles for one media pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// The answerer's side.
    pub answerer: SideKeys,
    /// The offerer's side.
    pub offerer: SideKeys,
    /// The line to put in the answer toward the offerer, if it uses SRTP.
    pub line_for_offerer: Option<CryptoAttr>,
}

/// The worker keys of one side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SideKeys {
    /// Unprotect what the leg sends.
    pub rx: Option<SrtpKey>,
    /// Protect what we send the leg.
    pub tx: Option<SrtpKey>,
}

/// Settles keys from the answerer's chosen line (`None` when it answered
/// plain RTP). `offerer` is the offerer's side state; `sent` what we
/// offered the answerer; `offerer_srtp` whether the offerer uses SRTP.
pub fn settle(
    chosen: Option<&KeyLine>,
    sent: &[SentLine],
    offerer: &SideSdes,
    offerer_srtp: bool,
    policy: &SdesPolicy,
    replay_window: u16,
) -> Result<Settled, String> {
    let mut answerer = SideKeys::default();
    if let Some(chosen) = chosen {
        let ours = sent
            .iter()
            .find(|s| s.line.attr.tag == chosen.attr.tag)
            .ok_or_else(|| {
                format!(
                    "answer chose a=crypto tag {} which was not offered",
                    chosen.attr.tag
                )
            })?;
        if ours.line.key.suite() != chosen.key.suite() {
            return Err(format!(
                "answer's a=crypto tag {} names {} but {} was offered",
                chosen.attr.tag, chosen.attr.suite, ours.line.attr.suite
            ));
        }
        if ours.copied && offerer_srtp {
            // Both ends hold each other's keys: pass SRTP through.
            return Ok(Settled {
                answerer,
                offerer: SideKeys::default(),
                line_for_offerer: Some(chosen.attr.clone()),
            });
        }
        answerer = SideKeys {
            rx: Some(chosen.key),
            tx: Some(ours.line.key),
        };
    }
    if !offerer_srtp {
        return Ok(Settled {
            answerer,
            offerer: SideKeys::default(),
            line_for_offerer: None,
        });
    }
    let theirs = offerer
        .received
        .iter()
        .find(|l| policy.allows(l.key.suite()))
        .or_else(|| offerer.received.first())
        .ok_or("the offer had no usable a=crypto line")?;
    // Keep our previous key toward the offerer if nothing changed.
    let ours = match offerer.tx {
        Some(tx)
            if tx.suite() == theirs.key.suite() && tx.params.same_session(&theirs.key.params) =>
        {
            KeyLine {
                attr: our_attr(theirs, &tx, policy),
                key: tx,
            }
        }
        _ => generate_line(
            theirs.attr.tag,
            theirs.key.suite(),
            KeyParams {
                replay_window,
                ..theirs.key.params
            },
            theirs.attr.session_params.clone(),
            policy,
        )?,
    };
    Ok(Settled {
        answerer,
        offerer: SideKeys {
            rx: Some(theirs.key),
            tx: Some(ours.key),
        },
        line_for_offerer: Some(ours.attr),
    })
}

fn our_attr(theirs: &KeyLine, key: &SrtpKey, policy: &SdesPolicy) -> CryptoAttr {
    CryptoAttr {
        tag: theirs.attr.tag,
        suite: theirs.attr.suite.clone(),
        keys: vec![KeyParam {
            key_salt: encode_key(key.key_salt(), policy.pad),
            lifetime: policy.lifetime.then(|| "2^31".to_owned()),
            mki: None,
        }],
        session_params: theirs.attr.session_params.clone(),
    }
}

/// Replaces the `a=crypto` lines of `section` with `lines`.
pub fn write_lines<'a>(
    section: &mut MediaSection,
    lines: impl IntoIterator<Item = &'a CryptoAttr>,
) {
    section.remove_attributes(&["crypto"]);
    for attr in lines {
        section.add_attribute("crypto", Some(&attr.to_string()));
    }
}

#[cfg(test)]
mod tests;

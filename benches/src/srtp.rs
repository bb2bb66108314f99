//! The SRTP re-encryption mode (`--srtp`): SDES (RFC 4568) keys for the
//! SDPs, the choice among the relay's `a=crypto` lines, and the SRTP
//! contexts of each leg.
//!
//! The caller offers one suite with its own key. The relay's offer to the
//! callee repeats the caller's line(s) (same tag, same key: choosing one
//! would let the relay pass SRTP through untouched) and adds lines of its
//! own, with its own keys, for other suites. The callee picks the relay's
//! line of the `--srtp-answer` suite, so the relay has to decrypt with one
//! key and suite and encrypt with another in both directions:
//!
//! ```text
//! caller --(offer suite, caller key)--> relay --(answer suite, relay key B)--> callee
//! caller <--(offer suite, relay key A)-- relay <--(answer suite, callee key)-- callee
//! ```
//!
//! Relay key B comes from the chosen line of the offer reply, relay key A
//! from the single line of the answer reply.

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use sluice_sdp::CryptoAttr;
use sluice_srtp::{SrtpContext, SrtpOptions, Suite};

/// The largest SRTP tag a suite appends (AES-GCM), i.e. the tailroom a
/// packet buffer needs for `protect_rtp`.
pub const MAX_TAG_LEN: usize = 16;

/// The tag of the caller's single `a=crypto` line.
pub const OFFER_TAG: u32 = 1;

/// Encodes with padding (none is needed for 30-byte keys) and decodes
/// padded and unpadded keys alike.
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Which suites a run uses: the caller's offer and the callee's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpMode {
    /// The caller's single offered suite (`--srtp-offer`).
    pub offer: Suite,
    /// The suite the callee picks among the relay's lines (`--srtp-answer`).
    pub answer: Suite,
}

impl SrtpMode {
    /// The mode label in reports, e.g.
    /// `srtp AES_CM_128_HMAC_SHA1_32->AES_CM_128_HMAC_SHA1_80`.
    pub fn label(&self) -> String {
        format!("srtp {}->{}", self.offer, self.answer)
    }
}

/// The mode label of a run: `plain`, or [`SrtpMode::label`].
pub fn mode_label(mode: Option<SrtpMode>) -> String {
    mode.map_or_else(|| "plain".into(), |m| m.label())
}

/// An SDES master key and salt (`inline:` key material) with its suite.
#[derive(Clone, PartialEq, Eq)]
pub struct Keying {
    /// The suite.
    pub suite: Suite,
    /// Master key followed by master salt ([`Suite::key_salt_len`] bytes).
    pub key_salt: Vec<u8>,
}

impl std::fmt::Debug for Keying {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys stay out of logs and error messages.
        f.debug_struct("Keying")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl Keying {
    /// A fresh random master key and salt for `suite`.
    pub fn random(suite: Suite) -> Result<Self> {
        let mut key_salt = vec![0u8; suite.key_salt_len()];
        getrandom::fill(&mut key_salt).map_err(|e| anyhow::anyhow!("getrandom: {e}"))?;
        Ok(Self { suite, key_salt })
    }

    /// The SDP attribute line `a=crypto:<tag> <suite> inline:<key>` with CRLF.
    pub fn attribute(&self, tag: u32) -> String {
        format!(
            "a=crypto:{tag} {} inline:{}\r\n",
            self.suite,
            B64.encode(&self.key_salt)
        )
    }

    /// A fresh context for one direction.
    pub fn context(&self) -> Result<SrtpContext> {
        SrtpContext::from_key_salt(self.suite, &self.key_salt, SrtpOptions::default())
            .with_context(|| format!("SRTP context for {}", self.suite))
    }
}

/// One `a=crypto` line as read from an SDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoLine {
    /// The tag.
    pub tag: u32,
    /// The suite name as written (possibly one `sluice-srtp` lacks).
    pub suite: String,
    /// The decoded key material of the first `inline:` key parameter
    /// (lifetime and MKI cut off); `None` if it is not valid base64.
    pub key_salt: Option<Vec<u8>>,
}

impl CryptoLine {
    /// `TAG SUITE` for messages.
    fn describe(&self, caller: &Keying) -> String {
        let whose = match &self.key_salt {
            Some(k) if *k == caller.key_salt => "caller's key",
            Some(_) => "relay key",
            None => "undecodable key",
        };
        format!("{} {} ({whose})", self.tag, self.suite)
    }
}

/// The `a=crypto` lines of an SDP, in order; malformed ones are skipped.
pub fn crypto_lines(sdp: &str) -> Vec<CryptoLine> {
    sdp.lines()
        .filter_map(|l| l.trim_end().strip_prefix("a=crypto:"))
        .filter_map(|value| CryptoAttr::parse(value).ok())
        .map(|attr| CryptoLine {
            tag: attr.tag,
            key_salt: attr.keys.first().and_then(|k| B64.decode(&k.key_salt).ok()),
            suite: attr.suite,
        })
        .collect()
}

/// Picks, from the relay's offer to the callee, the relay-generated line
/// of suite `want`: one whose key is not the caller's. Returns its tag and
/// the relay's key for the callee to unprotect with.
pub fn choose_relay_line(
    lines: &[CryptoLine],
    caller: &Keying,
    want: Suite,
) -> Result<(u32, Keying)> {
    let chosen = lines.iter().find_map(|l| {
        let key = l.key_salt.as_ref()?;
        (l.suite == want.name() && *key != caller.key_salt && key.len() == want.key_salt_len())
            .then(|| (l.tag, key.clone()))
    });
    match chosen {
        Some((tag, key_salt)) => Ok((
            tag,
            Keying {
                suite: want,
                key_salt,
            },
        )),
        None => {
            let found: Vec<String> = lines.iter().map(|l| l.describe(caller)).collect();
            bail!(
                "the relay's offer has no {want} a=crypto line with a key of its own \
                 (re-encryption impossible); lines found: [{}]",
                found.join(", ")
            )
        }
    }
}

/// The relay's key toward the caller from its answer reply: exactly one
/// line, answering the caller's tag and suite.
pub fn answer_line(lines: &[CryptoLine], offered: Suite) -> Result<Keying> {
    let [line] = lines else {
        let found: Vec<String> = lines
            .iter()
            .map(|l| format!("{} {}", l.tag, l.suite))
            .collect();
        bail!(
            "the relay's answer has {} a=crypto lines, expected one: [{}]",
            lines.len(),
            found.join(", ")
        );
    };
    if line.tag != OFFER_TAG || line.suite != offered.name() {
        bail!(
            "the relay's answer a=crypto:{} {} does not answer the offered {OFFER_TAG} {offered}",
            line.tag,
            line.suite
        );
    }
    match &line.key_salt {
        Some(k) if k.len() == offered.key_salt_len() => Ok(Keying {
            suite: offered,
            key_salt: k.clone(),
        }),
        _ => bail!("the relay's answer a=crypto line has no valid {offered} key"),
    }
}

/// Both directions of one leg: fresh contexts that the sender and the
/// receiver thread each clone at start (one context per direction).
#[derive(Debug, Clone)]
pub struct LegSrtp {
    /// Protects what this leg sends (its own key).
    pub tx: SrtpContext,
    /// Unprotects what this leg receives (the relay's key).
    pub rx: SrtpContext,
}

impl LegSrtp {
    /// Contexts from the leg's own key and the relay's key toward it.
    pub fn new(own: &Keying, relay: &Keying) -> Result<Self> {
        Ok(Self {
            tx: own.context()?,
            rx: relay.context()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA1_80: Suite = Suite::AesCm128HmacSha1_80;
    const SHA1_32: Suite = Suite::AesCm128HmacSha1_32;

    fn keying(suite: Suite, byte: u8) -> Keying {
        Keying {
            suite,
            key_salt: vec![byte; suite.key_salt_len()],
        }
    }

    /// What rtpengine offers the callee: the caller's line first, then its own.
    fn relay_offer(caller: &Keying) -> String {
        let relay_80 = B64.encode([7u8; 30]);
        let relay_32 = B64.encode([8u8; 30]);
        format!(
            "v=0\r\nm=audio 2000 RTP/SAVP 0\r\n{}\
             a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{relay_80}|2^31\r\n\
             a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:{relay_32}\r\n\
             a=crypto:4 F8_128_HMAC_SHA1_80 inline:{relay_32}\r\n",
            caller.attribute(1)
        )
    }

    #[test]
    fn attribute_roundtrips_without_padding() {
        let k = keying(SHA1_32, 0xA5);
        let line = k.attribute(1);
        let key = line.split("inline:").nth(1).expect("an inline key");
        assert!(!key.contains('='), "30-byte keys need no padding: {line}");
        let parsed = crypto_lines(&line);
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].tag, 1);
        assert_eq!(parsed[0].suite, SHA1_32.name());
        assert_eq!(parsed[0].key_salt.as_deref(), Some(&k.key_salt[..]));
    }

    #[test]
    fn decodes_padded_and_unpadded_keys() {
        let key = [3u8; 46]; // AES-256: base64 needs padding
        let padded = base64::engine::general_purpose::STANDARD.encode(key);
        assert!(padded.ends_with('='));
        for k in [padded.clone(), padded.trim_end_matches('=').to_owned()] {
            let sdp = format!("a=crypto:5 AES_256_CM_HMAC_SHA1_80 inline:{k}|2^20|1:4\r\n");
            assert_eq!(crypto_lines(&sdp)[0].key_salt.as_deref(), Some(&key[..]));
        }
    }

    #[test]
    fn picks_the_relay_line_of_the_answer_suite() {
        let caller = keying(SHA1_32, 1);
        let lines = crypto_lines(&relay_offer(&caller));
        assert_eq!(lines.len(), 4);
        let (tag, relay) = choose_relay_line(&lines, &caller, SHA1_80).expect("line 2");
        assert_eq!(tag, 2);
        assert_eq!(relay.key_salt, vec![7u8; 30]);
        // Same suite as the caller: the relay's line 3, never the caller's line 1.
        let (tag, relay) = choose_relay_line(&lines, &caller, SHA1_32).expect("line 3");
        assert_eq!(tag, 3);
        assert_eq!(relay.key_salt, vec![8u8; 30]);
    }

    #[test]
    fn refuses_pass_through_and_names_the_suites() {
        let caller = keying(SHA1_80, 1);
        // Only the caller's own line comes back.
        let lines = crypto_lines(&caller.attribute(1));
        let err = choose_relay_line(&lines, &caller, SHA1_80).expect_err("pass-through only");
        let msg = err.to_string();
        assert!(
            msg.contains("1 AES_CM_128_HMAC_SHA1_80 (caller's key)"),
            "{msg}"
        );
        let err = choose_relay_line(&lines, &caller, Suite::AeadAes128Gcm).expect_err("no GCM");
        assert!(err.to_string().contains("AEAD_AES_128_GCM"), "{err}");
    }

    #[test]
    fn answer_must_match_the_offer() {
        let relay = keying(SHA1_32, 9);
        let k = answer_line(&crypto_lines(&relay.attribute(1)), SHA1_32).expect("one line");
        assert_eq!(k, relay);
        assert!(answer_line(&crypto_lines(&relay.attribute(2)), SHA1_32).is_err());
        assert!(answer_line(&[], SHA1_32).is_err());
        let two = format!("{}{}", relay.attribute(1), relay.attribute(1));
        assert!(answer_line(&crypto_lines(&two), SHA1_32).is_err());
    }

    #[test]
    fn legs_reencrypt_end_to_end() {
        // Caller protects, "relay" unprotects and re-protects with its key
        // toward the callee, the callee unprotects: the plaintext survives.
        let (caller, relay_b) = (keying(SHA1_32, 1), keying(SHA1_80, 2));
        let (mut a_tx, mut r_in) = (caller.context().expect("a"), caller.context().expect("r"));
        let (mut r_out, mut b_rx) = (relay_b.context().expect("r"), relay_b.context().expect("b"));
        let mut stream = crate::rtp::Stream::new(4);
        let mut buf = [0u8; crate::rtp::PACKET_LEN + MAX_TAG_LEN];
        buf[..crate::rtp::PACKET_LEN].copy_from_slice(stream.next_packet(42));
        let n = a_tx
            .protect_rtp(&mut buf, crate::rtp::PACKET_LEN)
            .expect("protect");
        assert_eq!(
            crate::rtp::parse(&buf[..n - 4]),
            None,
            "payload is encrypted"
        );
        let n = r_in.unprotect_rtp(&mut buf, n).expect("relay in");
        let n = r_out.protect_rtp(&mut buf, n).expect("relay out");
        let n = b_rx.unprotect_rtp(&mut buf, n).expect("callee");
        let probe = crate::rtp::parse(&buf[..n]).expect("a probe");
        assert_eq!((probe.stream, probe.send_ns), (4, 42));
    }
}

//! The media side of one call: which node holds it, the NG requests its
//! SIP events turn into (with the trunk's and platform's SRTP and codec
//! policy), and the SDPs each party last sent and was given.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::config::{Config, SrtpPolicy};
use crate::media::commands::{
    self, AnswerParams, CodecOptions, Direction, DtmfDigit, OfferParams, SdpOptions,
    TransportProtocol,
};
use crate::media::nodes::call_hash;
use crate::media::replies::{first_packet_after_created, packets_from, reply_sdp};
use crate::media::{MediaNodes, NodeId};
use crate::signal::sdp_facts;

use super::CallContext;

/// Flags every offer and answer carries: the media node's addresses go
/// into the SDP, ICE candidates are not passed between legs.
const BASE_FLAGS: [&str; 0] = [];

/// The media of one call, shared by its tasks.
#[derive(Clone)]
pub(crate) struct CallMedia {
    inner: Arc<Inner>,
}

struct Inner {
    nodes: Arc<MediaNodes>,
    node: NodeId,
    call_id: String,
    carrier_tag: String,
    /// Options for SDP going toward the platform side and the carrier side.
    toward_platform: SdpOptions,
    toward_carrier: SdpOptions,
    direction: Option<Direction>,
    /// When the node's offer reply arrived: no earlier than the node
    /// created the call.
    offered_at: Instant,
    sdps: Mutex<Sdps>,
}

#[derive(Default)]
struct Sdps {
    /// What each party (by NG tag) last sent.
    sent_by: HashMap<String, Vec<u8>>,
    /// What each party (by NG tag, empty for a party not known yet) was last given.
    given_to: HashMap<String, Vec<u8>>,
}

impl CallMedia {
    /// Offers the carrier's SDP to a media node (failing over between
    /// nodes); the result holds the SDP for the platform.
    pub async fn offer(
        ctx: &CallContext,
        platform_index: usize,
        carrier_tag: &str,
        sdp: &[u8],
    ) -> Result<CallMedia, String> {
        let config = &ctx.runtime.config;
        let trunk = &config.trunks[ctx.trunk];
        let platform = &config.platforms[platform_index];
        let mut toward_platform = options(config, platform.srtp);
        toward_platform.codec = codec_policy(&sdp_facts::audio_codecs(sdp), &platform.codecs);
        let toward_carrier = options(config, trunk.srtp);
        let direction = match (&trunk.media_interface, &platform.media_interface) {
            (Some(from), Some(to)) => Some(Direction {
                from: from.clone(),
                to: to.clone(),
            }),
            _ => None,
        };
        let call_id = ctx.cdr.call_id.clone();
        let params = OfferParams {
            call_id: call_id.clone(),
            from_tag: carrier_tag.to_owned(),
            sdp: sdp.to_vec(),
            direction: direction.clone(),
            options: toward_platform.clone(),
        };
        let nodes = ctx.runtime.media.clone();
        let (node, reply) = nodes
            .offer(&params, call_hash(&call_id))
            .await
            .map_err(|e| e.to_string())?;
        let offered_at = Instant::now();
        let platform_sdp = reply_sdp(&reply).map_err(|e| e.to_string())?;
        let mut sdps = Sdps::default();
        sdps.sent_by.insert(carrier_tag.to_owned(), sdp.to_vec());
        sdps.given_to.insert(String::new(), platform_sdp);
        Ok(CallMedia {
            inner: Arc::new(Inner {
                nodes,
                node,
                call_id,
                carrier_tag: carrier_tag.to_owned(),
                toward_platform,
                toward_carrier,
                direction,
                offered_at,
                sdps: Mutex::new(sdps),
            }),
        })
    }

    /// The node's name, for CDRs.
    pub fn node_name(&self) -> String {
        self.inner
            .nodes
            .name(self.inner.node)
            .unwrap_or_default()
            .to_owned()
    }

    /// The SDP offered to the platform side.
    pub fn platform_sdp(&self) -> Vec<u8> {
        self.sdps().given_to.get("").cloned().unwrap_or_default()
    }

    /// The SDP a party was last given (for a re-INVITE without SDP).
    pub fn last_sdp_for(&self, tag: &str) -> Vec<u8> {
        let sdps = self.sdps();
        sdps.given_to
            .get(tag)
            .or_else(|| sdps.given_to.get(""))
            .cloned()
            .unwrap_or_default()
    }

    /// Whether `sdp` is what the party with this tag last sent.
    pub fn was_sent_by(&self, tag: &str, sdp: &[u8]) -> bool {
        self.sdps().sent_by.get(tag).is_some_and(|last| last == sdp)
    }

    /// The answer of `to_tag` to `from_tag`'s offer; returns the SDP for
    /// `from_tag`'s party.
    pub async fn answer(
        &self,
        from_tag: &str,
        to_tag: &str,
        sdp: &[u8],
    ) -> Result<Vec<u8>, String> {
        let options = self.options_toward(from_tag);
        let params = AnswerParams {
            call_id: self.inner.call_id.clone(),
            from_tag: from_tag.to_owned(),
            to_tag: to_tag.to_owned(),
            sdp: sdp.to_vec(),
            options: SdpOptions {
                transport: TransportProtocol::Keep,
                codec: CodecOptions::default(),
                ..options
            },
        };
        let reply = self.request(commands::answer(&params)).await?;
        let answer = reply_sdp(&reply).map_err(|e| e.to_string())?;
        let mut sdps = self.sdps();
        sdps.sent_by.insert(to_tag.to_owned(), sdp.to_vec());
        sdps.given_to.insert(from_tag.to_owned(), answer.clone());
        Ok(answer)
    }

    /// A new offer from an established party (re-INVITE); returns the SDP
    /// for the other party.
    pub async fn reoffer(
        &self,
        from_tag: &str,
        to_tag: &str,
        sdp: &[u8],
    ) -> Result<Vec<u8>, String> {
        let options = self.options_toward(to_tag);
        let params = OfferParams {
            call_id: self.inner.call_id.clone(),
            from_tag: from_tag.to_owned(),
            sdp: sdp.to_vec(),
            direction: self.inner.direction.clone(),
            options,
        };
        let reply = self.request(commands::offer(&params)).await?;
        let offer = reply_sdp(&reply).map_err(|e| e.to_string())?;
        let mut sdps = self.sdps();
        sdps.sent_by.insert(from_tag.to_owned(), sdp.to_vec());
        sdps.given_to.insert(to_tag.to_owned(), offer.clone());
        Ok(offer)
    }

    /// The answer to a re-INVITE offer.
    pub async fn reanswer(
        &self,
        from_tag: &str,
        to_tag: &str,
        sdp: &[u8],
    ) -> Result<Vec<u8>, String> {
        self.answer(from_tag, to_tag, sdp).await
    }

    /// The carrier's media offered again, for a new party (a transfer).
    pub async fn reoffer_to_new_party(&self, carrier_tag: &str) -> Result<Vec<u8>, String> {
        let sdp = self
            .sdps()
            .sent_by
            .get(carrier_tag)
            .cloned()
            .ok_or_else(|| "no SDP from the carrier".to_owned())?;
        self.reoffer(carrier_tag, "", &sdp).await
    }

    /// Puts the platform's media back after a failed transfer attempt.
    pub async fn restore(&self, carrier_tag: &str, platform_tag: &str) {
        let sdp = self.sdps().sent_by.get(platform_tag).cloned();
        let Some(sdp) = sdp else {
            return;
        };
        if let Err(error) = self.answer(carrier_tag, platform_tag, &sdp).await {
            tracing::warn!(%error, "could not restore the platform's media");
        }
    }

    /// Plays a digit to the party opposite `from_tag`.
    pub async fn play_dtmf(
        &self,
        from_tag: &str,
        digit: char,
        duration_ms: u32,
    ) -> Result<(), String> {
        let digit = DtmfDigit::try_from(digit).map_err(|e| e.to_string())?;
        let dict = commands::play_dtmf(&self.inner.call_id, from_tag, digit, duration_ms, 8);
        self.request(dict).await.map(|_| ())
    }

    /// When the node received the first packet from the party with this
    /// tag, if it has. A node that times it (media-core) gives the time on
    /// its own clock after it created the call, so no clock needs to agree
    /// with the node's; otherwise it is the time of this query.
    pub async fn first_audio(&self, tag: &str) -> Option<Instant> {
        let reply = self
            .request(commands::query(&self.inner.call_id))
            .await
            .ok()?;
        if packets_from(&reply, tag).unwrap_or(0) == 0 {
            return None;
        }
        let at = match first_packet_after_created(&reply, tag) {
            Some(after) => self.inner.offered_at + after,
            None => Instant::now(),
        };
        Some(at)
    }

    /// Removes the call from the node.
    pub async fn delete(&self) {
        let dict = commands::delete(&self.inner.call_id, &self.inner.carrier_tag, None);
        if let Err(error) = self.request(dict).await {
            tracing::info!(call_id = %self.inner.call_id, %error, "NG delete failed");
        }
    }

    async fn request(&self, dict: sluice_ng::Dict) -> Result<sluice_ng::Dict, String> {
        self.inner
            .nodes
            .request_on(self.inner.node, dict)
            .await
            .map_err(|e| e.to_string())
    }

    /// The options for SDP going to the party with this tag.
    fn options_toward(&self, tag: &str) -> SdpOptions {
        if tag == self.inner.carrier_tag {
            self.inner.toward_carrier.clone()
        } else {
            SdpOptions {
                codec: CodecOptions::default(),
                ..self.inner.toward_platform.clone()
            }
        }
    }

    fn sdps(&self) -> std::sync::MutexGuard<'_, Sdps> {
        self.inner.sdps.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// NG options for SDP sent to a side with this SRTP policy.
fn options(config: &Config, srtp: SrtpPolicy) -> SdpOptions {
    let mut flags: Vec<String> = BASE_FLAGS.iter().map(|f| (*f).to_owned()).collect();
    if config.sip.inject_dtmf {
        flags.push("inject DTMF".to_owned());
    }
    SdpOptions {
        transport: match srtp {
            SrtpPolicy::Off => TransportProtocol::RtpAvp,
            SrtpPolicy::Sdes => TransportProtocol::RtpSavp,
            SrtpPolicy::Pass => TransportProtocol::Keep,
        },
        flags,
        ..SdpOptions::default()
    }
}

/// Pass-through when the carrier offered a codec the platform takes (the
/// others are masked from the platform's offer); transcoding to the
/// platform's codecs only when there is none in common.
pub(crate) fn codec_policy(offered: &[String], platform: &[String]) -> CodecOptions {
    if platform.is_empty() {
        return CodecOptions::default();
    }
    let takes = |name: &String| platform.iter().any(|p| p.eq_ignore_ascii_case(name));
    let unwanted: Vec<String> = offered.iter().filter(|c| !takes(c)).cloned().collect();
    let common = offered.iter().any(takes);
    CodecOptions {
        mask: unwanted,
        transcode: if common {
            Vec::new()
        } else {
            platform.to_vec()
        },
        ..CodecOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_common_codec_passes_through_with_the_rest_masked() {
        let policy = codec_policy(&names(&["PCMA", "PCMU", "G729"]), &names(&["pcmu", "opus"]));
        assert_eq!(policy.mask, names(&["PCMA", "G729"]));
        assert!(policy.transcode.is_empty());
    }

    #[test]
    fn no_common_codec_transcodes_to_the_platform_codecs() {
        let policy = codec_policy(&names(&["PCMA"]), &names(&["opus", "PCMU"]));
        assert_eq!(policy.mask, names(&["PCMA"]));
        assert_eq!(policy.transcode, names(&["opus", "PCMU"]));
    }

    #[test]
    fn no_platform_preference_changes_nothing() {
        assert!(codec_policy(&names(&["PCMA"]), &[]).is_empty());
    }
}

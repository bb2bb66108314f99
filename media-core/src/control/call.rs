//! What the control thread knows about a call: its two legs, the media
//! streams between them, and the relay sockets that face each leg.
//! Counters live in the workers; this is metadata only.

use std::net::SocketAddr;
use std::time::Instant;

use super::codecs::Negotiation;
use super::sdes::SideSdes;
use crate::relay::{
    CallSerial, LatchPolicy, MediaHandling, Role, SocketConfig, SocketCrypto, SocketKey,
    TranscodeRoute,
};
use sluice_transcode::{DtmfFormat, MediaPlan};

/// One party of a call, named by its SIP tag.
#[derive(Debug, Clone, Default)]
pub struct Leg {
    /// The From or To tag; `None` until the party has spoken.
    pub tag: Option<String>,
    /// Index of the local interface this leg's media uses.
    pub interface: usize,
    /// When this leg's tag was first seen.
    pub created: Option<Instant>,
    /// `block DTMF`: telephone-events and in-band digits from this leg
    /// are not passed on.
    pub block_dtmf: bool,
}

/// A relay socket pair facing one leg in one media section.
#[derive(Debug, Clone)]
pub struct Side {
    /// Socket for RTP (and muxed RTCP).
    pub rtp: SocketKey,
    /// Socket for RTCP when not muxed.
    pub rtcp: SocketKey,
    /// Where this leg's SDP says it receives RTP.
    pub remote_rtp: Option<SocketAddr>,
    /// Where this leg's SDP says it receives RTCP.
    pub remote_rtcp: Option<SocketAddr>,
    /// This leg multiplexes RTCP on its RTP port.
    pub rtcp_mux: bool,
    /// The transport protocol this leg uses (`RTP/AVP`, ...).
    pub protocol: String,
    /// SDES lines and keys toward this leg.
    pub sdes: SideSdes,
    /// The telephone-event format this leg negotiated, if any.
    pub telephone_event: Option<DtmfFormat>,
}

impl Side {
    /// The SRTP keys of this side's sockets.
    pub fn crypto(&self) -> SocketCrypto {
        SocketCrypto {
            rx: self.sdes.rx,
            tx: self.sdes.tx,
        }
    }
}

/// One `m=` section relayed between the two legs.
#[derive(Debug, Clone)]
pub struct MediaPair {
    /// Position in the SDP (0-based).
    pub index: usize,
    /// `audio`, `video`, ...
    pub kind: String,
    /// `sides[i]` faces leg `i`.
    pub sides: [Side; 2],
    /// The transcoder's plan when the legs share no codec (or `ptime`,
    /// `always transcode` or `inject DTMF` asked for one); `None` relays
    /// packets unchanged.
    pub transcode: Option<MediaPlan>,
    /// What the latest offer and answer said about codecs.
    pub codecs: Negotiation,
}

impl MediaPair {
    /// The worker configuration of the two sockets facing leg `leg`;
    /// `block_dtmf` is that leg's `block DTMF` state.
    pub fn socket_configs(
        &self,
        leg: usize,
        call: CallSerial,
        latch: LatchPolicy,
        block_dtmf: bool,
    ) -> [(SocketKey, SocketConfig); 2] {
        let this = &self.sides[leg];
        let other = &self.sides[1 - leg];
        let media = MediaHandling {
            transcode: self.transcode.as_ref().map(|plan| TranscodeRoute {
                media: u16::try_from(self.index).unwrap_or(u16::MAX),
                leg: u8::from(leg == 1),
                rtp: plan.directions[leg].is_some(),
            }),
            dtmf_payload_type: this.telephone_event.map(|f| f.payload_type),
            block_dtmf,
        };
        let rtcp_out = if other.rtcp_mux {
            other.rtp
        } else {
            other.rtcp
        };
        [
            (
                this.rtp,
                SocketConfig {
                    call,
                    role: Role::Rtp,
                    sdp_remote: this.remote_rtp,
                    rtp_out: Some(other.rtp),
                    rtcp_out: Some(rtcp_out),
                    latch,
                    crypto: this.crypto(),
                    media,
                },
            ),
            (
                this.rtcp,
                SocketConfig {
                    call,
                    role: Role::Rtcp,
                    sdp_remote: this.remote_rtcp,
                    rtp_out: None,
                    rtcp_out: Some(rtcp_out),
                    latch,
                    crypto: this.crypto(),
                    media,
                },
            ),
        ]
    }
}

/// A call: two legs and the media between them.
#[derive(Debug, Clone)]
pub struct Call {
    /// The number workers know it by.
    pub serial: CallSerial,
    /// SIP Call-ID.
    pub call_id: String,
    /// The worker that owns all its sockets.
    pub worker: usize,
    /// `legs[0]` made the first offer.
    pub legs: [Leg; 2],
    /// Which leg sent the latest offer.
    pub last_offerer: usize,
    /// Media sections, by SDP position.
    pub media: Vec<MediaPair>,
    /// Latching for all its sockets.
    pub latch: LatchPolicy,
    /// When the first offer arrived.
    pub created: Instant,
    /// When the latest NG command about it arrived.
    pub last_signal: Instant,
    /// Whether an answer has been seen.
    pub answered: bool,
    /// A `delete delay` in progress: removed at this time.
    pub delete_at: Option<Instant>,
}

impl Call {
    /// The leg whose tag is `tag`.
    pub fn leg_of(&self, tag: &str) -> Option<usize> {
        self.legs.iter().position(|l| l.tag.as_deref() == Some(tag))
    }

    /// Every socket key the call holds.
    pub fn socket_keys(&self) -> impl Iterator<Item = SocketKey> + '_ {
        self.media
            .iter()
            .flat_map(|m| m.sides.iter().flat_map(|s| [s.rtp, s.rtcp]))
    }
}

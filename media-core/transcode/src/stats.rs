//! Counters of one direction (what one leg sent, and what we made of it).

use crate::error::DropCause;

/// Drops by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// [`DropCause::Malformed`].
    pub malformed: u64,
    /// [`DropCause::UnknownPayloadType`].
    pub unknown_payload_type: u64,
    /// [`DropCause::Undecodable`].
    pub undecodable: u64,
    /// [`DropCause::BadDtmf`].
    pub bad_dtmf: u64,
    /// [`DropCause::DtmfBlocked`].
    pub dtmf_blocked: u64,
    /// [`DropCause::TooLate`].
    pub too_late: u64,
    /// [`DropCause::Duplicate`].
    pub duplicate: u64,
    /// [`DropCause::NoDirection`].
    pub no_direction: u64,
    /// [`DropCause::RtcpMalformed`].
    pub rtcp_malformed: u64,
    /// [`DropCause::Overflow`].
    pub overflow: u64,
}

impl DropCounts {
    /// Counts one drop.
    pub fn count(&mut self, cause: DropCause) {
        let c = match cause {
            DropCause::Malformed => &mut self.malformed,
            DropCause::UnknownPayloadType => &mut self.unknown_payload_type,
            DropCause::Undecodable => &mut self.undecodable,
            DropCause::BadDtmf => &mut self.bad_dtmf,
            DropCause::DtmfBlocked => &mut self.dtmf_blocked,
            DropCause::TooLate => &mut self.too_late,
            DropCause::Duplicate => &mut self.duplicate,
            DropCause::NoDirection => &mut self.no_direction,
            DropCause::RtcpMalformed => &mut self.rtcp_malformed,
            DropCause::Overflow => &mut self.overflow,
        };
        *c += 1;
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.malformed
            + self.unknown_payload_type
            + self.undecodable
            + self.bad_dtmf
            + self.dtmf_blocked
            + self.too_late
            + self.duplicate
            + self.no_direction
            + self.rtcp_malformed
            + self.overflow
    }
}

/// Counters of the direction whose sender is one leg.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionStats {
    /// RTP packets received from the sender (all, before any drop).
    pub received: u64,
    /// Audio packets decoded.
    pub decoded_frames: u64,
    /// Audio packets copied or translated code by code (no decode).
    pub copied_frames: u64,
    /// Lost packets concealed (PLC), FEC recoveries not included.
    pub concealed: u64,
    /// Lost packets recovered from the next packet's in-band FEC.
    pub fec_recovered: u64,
    /// Packets given up as lost by the jitter buffer.
    pub lost: u64,
    /// Encoded packets not sent because Opus DTX said silence.
    pub dtx_suppressed: u64,
    /// Audio packets muted while an injected DTMF event played.
    pub muted: u64,
    /// RTP packets sent to the receiver (audio and events).
    pub sent_packets: u64,
    /// Payload octets sent to the receiver.
    pub sent_octets: u64,
    /// Telephone-event packets forwarded (mapped) to the receiver.
    pub dtmf_events_forwarded: u64,
    /// Telephone-event packets generated (from detected tones or
    /// `play_dtmf`).
    pub dtmf_events_generated: u64,
    /// DTMF digits seen from the sender (events and in-band).
    pub dtmf_digits: u64,
    /// Audio frames made of a sender's event tone where no audio carried
    /// it (the sender sent only event packets during the digit).
    pub tone_frames: u64,
    /// Times the sender's timestamps jumped (restarted) under one SSRC and
    /// the output timeline was re-anchored.
    pub timeline_breaks: u64,
    /// RTCP compound packets received from the sender.
    pub rtcp_received: u64,
    /// RTCP compound packets sent to the sender.
    pub rtcp_sent: u64,
    /// Interarrival jitter of the sender's stream, in its clock's units.
    pub jitter: u32,
    /// Drops by cause.
    pub drops: DropCounts,
}

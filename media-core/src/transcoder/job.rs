//! Messages between workers and pool threads. Packets travel inline (no
//! allocation per packet); set-up travels boxed.

use std::sync::Arc;
use std::time::Instant;

use crossbeam_queue::ArrayQueue;
use sluice_transcode::MediaPlan;

use crate::relay::{CallSerial, DropReason, SocketKey, SRTP_TAILROOM};
use crate::worker::Doorbell;

/// Largest RTP/RTCP packet a transcoded stream carries (an Ethernet
/// MTU's UDP payload); larger ones are dropped as oversize.
pub const MAX_PACKET: usize = 1472;

/// A transcoded media section: its call and its position in the SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MediaKey {
    /// The call.
    pub call: CallSerial,
    /// The `m=` section index.
    pub media: u16,
}

/// The sockets facing one leg of a transcoded section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegSockets {
    /// Where RTP to (and from) the leg goes.
    pub rtp: SocketKey,
    /// Where RTCP to the leg leaves from (`rtp` when the leg muxes).
    pub rtcp: SocketKey,
}

/// Names for digit reports: what the control plane knows the call by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallLabels {
    /// SIP Call-ID.
    pub call_id: String,
    /// Each leg's tag (`tags[i]` is leg `i`).
    pub tags: [String; 2],
}

/// Everything a pool thread needs to run one section.
#[derive(Debug, Clone)]
pub struct TranscodeSetup {
    /// The worker that owns the section's sockets (and gets its output).
    pub worker: usize,
    /// The negotiated plan.
    pub plan: MediaPlan,
    /// `sockets[i]` faces leg `i`.
    pub sockets: [LegSockets; 2],
    /// For digit reports.
    pub labels: CallLabels,
    /// `block DTMF` per sending leg.
    pub block_dtmf: [bool; 2],
}

/// What the control thread asks of a section's transcoder; travels
/// through the owning worker so that it stays in order with the packets.
#[derive(Debug)]
pub enum PoolCommand {
    /// Start the section or follow a new plan.
    Setup(Box<TranscodeSetup>),
    /// Stop the section.
    Remove,
    /// NG `play DTMF` toward leg `to_leg`.
    PlayDtmf {
        /// The leg that hears the digit.
        to_leg: u8,
        /// Event code 0-15.
        code: u8,
        /// Duration in ms.
        duration_ms: u32,
        /// RFC 4733 volume (0 to 63, -dBm0).
        volume: u8,
    },
    /// NG `block DTMF` / `unblock DTMF` for digits sent by `from_leg`.
    BlockDtmf {
        /// The sending leg.
        from_leg: u8,
        /// Block (true) or pass (false).
        blocked: bool,
    },
}

/// Work for a pool thread.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "packets travel inline so that the packet path never allocates"
)]
pub enum Job {
    /// A command for one section.
    Control {
        /// The section.
        key: MediaKey,
        /// What to do.
        command: PoolCommand,
    },
    /// A packet received from leg `from_leg`, SRTP already removed.
    Packet {
        /// The section.
        key: MediaKey,
        /// The sending leg.
        from_leg: u8,
        /// RTCP rather than RTP.
        rtcp: bool,
        /// When the worker received it.
        arrival: Instant,
        /// Valid bytes in `data`.
        len: u16,
        /// The packet.
        data: [u8; MAX_PACKET],
    },
    /// End the thread.
    Shutdown,
}

/// What a pool thread hands back to the worker owning the sockets.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "packets travel inline so that the packet path never allocates"
)]
pub enum Output {
    /// Send this plain packet out of `out` (the worker adds SRTP, hence
    /// the tail room).
    Packet {
        /// The call it belongs to (a socket key may meanwhile belong to
        /// another call: then the packet is not sent).
        call: CallSerial,
        /// The socket to send from (its latched or SDP peer is the
        /// destination).
        out: SocketKey,
        /// RTCP rather than RTP.
        rtcp: bool,
        /// Valid bytes in `data`.
        len: u16,
        /// The packet, with room for an SRTP tag.
        data: [u8; MAX_PACKET + SRTP_TAILROOM],
    },
    /// The transcoder refused a packet received on `origin`.
    Dropped {
        /// The call it belongs to.
        call: CallSerial,
        /// The receiving socket.
        origin: SocketKey,
        /// Why.
        reason: DropReason,
    },
}

/// A worker's inbox for pool output, with the doorbell that wakes it.
#[derive(Debug, Clone)]
pub struct OutputQueue {
    /// Finished packets and drops.
    pub queue: Arc<ArrayQueue<Output>>,
    /// Rung after a batch is queued.
    pub doorbell: Arc<Doorbell>,
}

//! Per-socket counters kept by the worker that owns the socket.

use std::net::SocketAddr;
use std::time::Instant;

/// Why a packet was not forwarded. `Copy`, no payload: dropping a packet
/// costs one counter increment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
#[non_exhaustive]
pub enum DropReason {
    /// Neither RTP nor RTCP (runt, wrong version, garbage).
    Malformed = 0,
    /// Larger than a receive buffer; the kernel truncated it.
    Oversize = 1,
    /// The other leg has no address yet (no answer, zero address).
    NoDestination = 2,
    /// Sent from an address other than the latched one under `strict source`.
    WrongSource = 3,
    /// The kernel refused the send.
    SendFailed = 4,
    /// RTP arriving on a port negotiated for RTCP only.
    RtpOnRtcpPort = 5,
    /// SRTP/SRTCP authentication failed (wrong key, tampering, junk).
    SrtpAuth = 6,
    /// An SRTP/SRTCP packet seen before or older than the replay window.
    SrtpReplay = 7,
    /// SRTP could not process the packet (too short for its tag, key
    /// lifetime reached, too many SSRCs).
    SrtpError = 8,
    /// A payload type the sender did not negotiate (transcoded streams).
    PayloadType = 9,
    /// The codec could not decode the payload (e.g. Opus garbage).
    Undecodable = 10,
    /// A telephone-event that makes no sense (absurd duration, bad code).
    BadDtmf = 11,
    /// `block DTMF`: a telephone-event from a blocked leg.
    DtmfBlocked = 12,
    /// Arrived after the jitter buffer gave up on it, or a duplicate.
    Late = 13,
    /// The transcoder pool's queue was full.
    TranscoderBusy = 14,
}

impl DropReason {
    /// Number of reasons (size of the counter array).
    pub const COUNT: usize = 15;
    /// Every reason, in counter-array order.
    pub const ALL: [DropReason; Self::COUNT] = [
        DropReason::Malformed,
        DropReason::Oversize,
        DropReason::NoDestination,
        DropReason::WrongSource,
        DropReason::SendFailed,
        DropReason::RtpOnRtcpPort,
        DropReason::SrtpAuth,
        DropReason::SrtpReplay,
        DropReason::SrtpError,
        DropReason::PayloadType,
        DropReason::Undecodable,
        DropReason::BadDtmf,
        DropReason::DtmfBlocked,
        DropReason::Late,
        DropReason::TranscoderBusy,
    ];

    /// The name NG replies use for this reason.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::Oversize => "oversize",
            DropReason::NoDestination => "no destination",
            DropReason::WrongSource => "wrong source",
            DropReason::SendFailed => "send failed",
            DropReason::RtpOnRtcpPort => "RTP on RTCP port",
            DropReason::SrtpAuth => "SRTP auth failed",
            DropReason::SrtpReplay => "SRTP replay",
            DropReason::SrtpError => "SRTP error",
            DropReason::PayloadType => "unknown payload type",
            DropReason::Undecodable => "undecodable",
            DropReason::BadDtmf => "bad DTMF",
            DropReason::DtmfBlocked => "DTMF blocked",
            DropReason::Late => "late or duplicate",
            DropReason::TranscoderBusy => "transcoder busy",
        }
    }
}

/// Packets and bytes of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counter {
    /// Packets forwarded.
    pub packets: u64,
    /// Bytes forwarded (UDP payload).
    pub bytes: u64,
}

impl Counter {
    /// Counts one packet of `len` bytes.
    #[inline]
    pub fn add(&mut self, len: usize) {
        self.packets += 1;
        self.bytes += len as u64;
    }

    /// Sum of two counters.
    pub fn plus(self, other: Counter) -> Counter {
        Counter {
            packets: self.packets + other.packets,
            bytes: self.bytes + other.bytes,
        }
    }
}

/// Everything counted for one local socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// RTP received on this socket and forwarded.
    pub rtp: Counter,
    /// RTCP received on this socket and forwarded.
    pub rtcp: Counter,
    /// Packets received and not forwarded, by [`DropReason`].
    pub drops: [u64; DropReason::COUNT],
    /// When the first accepted packet arrived (time to first audio).
    pub first_packet: Option<Instant>,
    /// When the last packet arrived (forwarded or not).
    pub last_packet: Option<Instant>,
    /// The remote address media is sent to, once learned.
    pub latched: Option<SocketAddr>,
    /// The part of `rtp` the XDP fast path forwarded in the kernel.
    pub xdp: Counter,
    /// The XDP fast path holds this stream now.
    pub xdp_active: bool,
    /// Packets the transcoder produced and this socket sent (RTP and RTCP
    /// toward the leg it faces).
    pub transcoded: Counter,
}

impl StreamStats {
    /// Notes a packet from the leg at `now`: the first one's time is kept.
    #[inline]
    pub fn note_packet(&mut self, now: Instant) {
        self.first_packet.get_or_insert(now);
        self.last_packet = Some(now);
    }

    /// Counts one dropped packet.
    #[inline]
    pub fn drop(&mut self, reason: DropReason) {
        self.drops[reason as usize] += 1;
    }

    /// All drops, whatever the reason (NG's `errors`).
    pub fn errors(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// Drops for one reason.
    pub fn drops_for(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }
}

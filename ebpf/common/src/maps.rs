//! Map keys and values. Addresses and ports are stored as they appear on
//! the wire (network byte order, as byte arrays), so neither side ever
//! converts them.

use core::mem::size_of;

/// Bumped whenever a type below changes shape.
pub const LAYOUT_VERSION: u32 = 3;

/// The XDP program's name in the object; carries [`LAYOUT_VERSION`].
pub const PROGRAM_NAME: &str = "sluice_xdp_v3";

/// `HashMap<FlowKey, FlowAction>`: the offloaded IPv4 streams.
pub const FLOWS_MAP: &str = "FLOWS";
/// `HashMap<FlowKey6, FlowAction6>`: the offloaded IPv6 streams.
pub const FLOWS6_MAP: &str = "FLOWS6";
/// `PerCpuArray<FlowCounters>`: per-stream counters, indexed by
/// [`FlowAction::counter`].
pub const COUNTERS_MAP: &str = "COUNTERS";
/// `DevMapHash`: interfaces the program may redirect to (key = value =
/// ifindex).
pub const EGRESS_MAP: &str = "EGRESS";
/// `PerCpuArray<u64>`: packets per [`Outcome`].
pub const OUTCOMES_MAP: &str = "OUTCOMES";

/// Entries the program's maps are built with; the loader may resize them.
pub const DEFAULT_MAX_FLOWS: u32 = 65_536;
/// Most interfaces in [`EGRESS_MAP`].
pub const MAX_EGRESS: u32 = 64;

/// Which local IPv4 socket a packet is for: its destination address and
/// port.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlowKey {
    /// Local IPv4 address, network order.
    pub addr: [u8; 4],
    /// Local UDP port, network order.
    pub port: [u8; 2],
    /// Always zero.
    pub pad: [u8; 2],
}

impl FlowKey {
    /// The key of local `addr`:`port` (both in host order).
    pub const fn new(addr: [u8; 4], port: u16) -> Self {
        Self {
            addr,
            port: port.to_be_bytes(),
            pad: [0; 2],
        }
    }
}

/// Accept the stream from any source (asymmetric, not strict).
pub const FLOW_ANY_SOURCE: u16 = 1;

/// Pass RTP packets of one payload type, held in bits 8..14 of the flags,
/// to userspace instead of forwarding them (the sender's telephone-events,
/// which the worker reports and may block). Set and read it with
/// [`flags_with_punt`] and [`punt_payload_type`].
pub const FLOW_PUNT_PAYLOAD_TYPE: u16 = 1 << 1;

/// Where the punted payload type sits in the flags.
const PUNT_SHIFT: u32 = 8;
/// The bits of the punted payload type (7 bits, as in the RTP header).
const PUNT_MASK: u16 = 0x7f << PUNT_SHIFT;

/// `flags` with [`FLOW_PUNT_PAYLOAD_TYPE`] set for RTP payload type
/// `payload_type` (its low 7 bits; a marker bit is ignored), replacing
/// any punted type already there.
#[inline(always)]
pub const fn flags_with_punt(flags: u16, payload_type: u8) -> u16 {
    (flags & !PUNT_MASK) | FLOW_PUNT_PAYLOAD_TYPE | (((payload_type & 0x7f) as u16) << PUNT_SHIFT)
}

/// The payload type `flags` punts to userspace, if any.
#[inline(always)]
pub const fn punt_payload_type(flags: u16) -> Option<u8> {
    if flags & FLOW_PUNT_PAYLOAD_TYPE == 0 {
        None
    } else {
        Some(((flags & PUNT_MASK) >> PUNT_SHIFT) as u8)
    }
}

/// Whether `flags` punt an RTP packet whose second header byte (marker
/// bit and payload type) is `rtp_byte1`.
#[inline(always)]
pub const fn punts(flags: u16, rtp_byte1: u8) -> bool {
    flags & FLOW_PUNT_PAYLOAD_TYPE != 0
        && (rtp_byte1 & 0x7f) as u16 == (flags & PUNT_MASK) >> PUNT_SHIFT
}

/// What to do with a packet of an offloaded stream.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowAction {
    /// Only packets from this address are forwarded (others go to
    /// userspace, which applies the latching rules), unless
    /// [`FLOW_ANY_SOURCE`] is set.
    pub expect_addr: [u8; 4],
    /// Only packets from this port are forwarded.
    pub expect_port: [u8; 2],
    /// `FLOW_*` bits, and the punted payload type (see
    /// [`FLOW_PUNT_PAYLOAD_TYPE`]).
    pub flags: u16,
    /// New source address: the outbound leg's local address.
    pub src_addr: [u8; 4],
    /// New destination address: the outbound leg's remote.
    pub dst_addr: [u8; 4],
    /// New source port: the outbound leg's local port.
    pub src_port: [u8; 2],
    /// New destination port: the outbound leg's remote port.
    pub dst_port: [u8; 2],
    /// Index into [`COUNTERS_MAP`].
    pub counter: u32,
}

/// Which local IPv6 socket a packet is for: its destination address and
/// port.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlowKey6 {
    /// Local IPv6 address, network order.
    pub addr: [u8; 16],
    /// Local UDP port, network order.
    pub port: [u8; 2],
    /// Always zero.
    pub pad: [u8; 2],
}

impl FlowKey6 {
    /// The key of local `addr`:`port` (port in host order).
    pub const fn new(addr: [u8; 16], port: u16) -> Self {
        Self {
            addr,
            port: port.to_be_bytes(),
            pad: [0; 2],
        }
    }
}

/// [`FlowAction`] for an IPv6 stream.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowAction6 {
    /// Only packets from this address are forwarded, unless
    /// [`FLOW_ANY_SOURCE`] is set.
    pub expect_addr: [u8; 16],
    /// New source address: the outbound leg's local address.
    pub src_addr: [u8; 16],
    /// New destination address: the outbound leg's remote.
    pub dst_addr: [u8; 16],
    /// Only packets from this port are forwarded.
    pub expect_port: [u8; 2],
    /// New source port.
    pub src_port: [u8; 2],
    /// New destination port.
    pub dst_port: [u8; 2],
    /// `FLOW_*` bits, and the punted payload type (see
    /// [`FLOW_PUNT_PAYLOAD_TYPE`]).
    pub flags: u16,
    /// Index into [`COUNTERS_MAP`] (shared with IPv4 flows).
    pub counter: u32,
}

/// What the program forwarded for one stream, on one CPU.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowCounters {
    /// Packets forwarded.
    pub packets: u64,
    /// UDP payload bytes forwarded (as userspace counts them).
    pub bytes: u64,
}

/// Why the program forwarded a packet or left it to the kernel. Indexes
/// [`OUTCOMES_MAP`].
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Forwarded out of another interface (`XDP_REDIRECT`).
    Redirected = 0,
    /// Forwarded back out of the interface it came in on (`XDP_TX`).
    Transmitted = 1,
    /// Shorter than Ethernet + IPv4 + UDP + RTP headers.
    Short = 2,
    /// Neither IPv4 nor IPv6 (ARP, VLAN-tagged...).
    NotIp = 3,
    /// IPv4 with options (IHL > 5), or IPv6 with extension headers.
    IpOptions = 4,
    /// A fragment.
    Fragment = 5,
    /// Not UDP.
    NotUdp = 6,
    /// IPv4 header checksum wrong, lengths inconsistent, or an IPv6 UDP
    /// packet without a checksum.
    BadHeader = 7,
    /// No offloaded stream for the destination.
    NoFlow = 8,
    /// From a source other than the one the stream latched.
    WrongSource = 9,
    /// RTCP (always handled in userspace) or not RTP version 2.
    NotRtp = 10,
    /// The kernel has no route or no neighbour entry for the next hop yet.
    NoNextHop = 11,
    /// The next hop is behind an interface the program may not use.
    EgressNotAllowed = 12,
    /// An RTP packet of the payload type the flow punts (the sender's
    /// telephone-events): left to the worker, which reports and may
    /// block DTMF.
    Punted = 13,
}

impl Outcome {
    /// Number of outcomes (size of [`OUTCOMES_MAP`]).
    pub const COUNT: u32 = 14;
    /// Every outcome, in index order.
    pub const ALL: [Outcome; Self::COUNT as usize] = [
        Outcome::Redirected,
        Outcome::Transmitted,
        Outcome::Short,
        Outcome::NotIp,
        Outcome::IpOptions,
        Outcome::Fragment,
        Outcome::NotUdp,
        Outcome::BadHeader,
        Outcome::NoFlow,
        Outcome::WrongSource,
        Outcome::NotRtp,
        Outcome::NoNextHop,
        Outcome::EgressNotAllowed,
        Outcome::Punted,
    ];

    /// A short name for reports.
    pub const fn name(self) -> &'static str {
        match self {
            Outcome::Redirected => "redirected",
            Outcome::Transmitted => "transmitted",
            Outcome::Short => "short",
            Outcome::NotIp => "not IP",
            Outcome::IpOptions => "IP options",
            Outcome::Fragment => "fragment",
            Outcome::NotUdp => "not UDP",
            Outcome::BadHeader => "bad header",
            Outcome::NoFlow => "no flow",
            Outcome::WrongSource => "wrong source",
            Outcome::NotRtp => "not RTP",
            Outcome::NoNextHop => "no next hop",
            Outcome::EgressNotAllowed => "egress not allowed",
            Outcome::Punted => "DTMF to userspace",
        }
    }
}

const _: () = assert!(size_of::<FlowKey>() == 8);
const _: () = assert!(size_of::<FlowAction>() == 24);
const _: () = assert!(size_of::<FlowCounters>() == 16);
const _: () = assert!(size_of::<FlowKey6>() == 20);
const _: () = assert!(size_of::<FlowAction6>() == 60);
const _: () = assert!(core::mem::align_of::<FlowAction6>() == 4);
const _: () = assert!(core::mem::align_of::<FlowAction>() == 4);

#[cfg(feature = "user")]
mod pod {
    #![allow(unsafe_code, reason = "aya::Pod is an unsafe marker trait")]
    use super::{FlowAction, FlowAction6, FlowCounters, FlowKey, FlowKey6};

    // SAFETY: repr(C), only integer arrays and integers, no implicit
    // padding (sizes asserted above): every bit pattern is valid.
    unsafe impl aya::Pod for FlowKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for FlowAction {}
    // SAFETY: as above.
    unsafe impl aya::Pod for FlowCounters {}
    // SAFETY: as above.
    unsafe impl aya::Pod for FlowKey6 {}
    // SAFETY: as above.
    unsafe impl aya::Pod for FlowAction6 {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punt_bits_round_trip_and_leave_other_flags_alone() {
        assert_eq!(punt_payload_type(0), None);
        assert_eq!(punt_payload_type(FLOW_ANY_SOURCE), None);
        for pt in [0u8, 8, 96, 101, 127] {
            let flags = flags_with_punt(FLOW_ANY_SOURCE, pt);
            assert_eq!(punt_payload_type(flags), Some(pt));
            assert_ne!(flags & FLOW_ANY_SOURCE, 0, "other bits kept");
            assert_ne!(flags & FLOW_PUNT_PAYLOAD_TYPE, 0);
            assert_eq!(punt_payload_type(flags_with_punt(0, pt)), Some(pt));
        }
        // Bits 8..14, nothing else.
        assert_eq!(flags_with_punt(0, 101), FLOW_PUNT_PAYLOAD_TYPE | (101 << 8));
        assert_eq!(flags_with_punt(0, 127) & 0x80fc, 0);
        // The marker bit of a payload type byte is dropped.
        assert_eq!(punt_payload_type(flags_with_punt(0, 0x80 | 101)), Some(101));
        // A new type replaces the old one.
        assert_eq!(
            punt_payload_type(flags_with_punt(flags_with_punt(0, 127), 96)),
            Some(96)
        );
    }

    #[test]
    fn punts_matches_the_payload_type_whatever_the_marker() {
        let flags = flags_with_punt(0, 101);
        assert!(punts(flags, 101));
        assert!(punts(flags, 0x80 | 101));
        assert!(!punts(flags, 100));
        assert!(!punts(flags, 0));
        assert!(!punts(flags, 0x80));
        // Without the flag bit, bits 8..14 mean nothing: PT 0 is not punted.
        assert!(!punts(0, 0));
        assert!(!punts(FLOW_ANY_SOURCE, 0x80));
        assert!(punts(flags_with_punt(0, 0), 0x80), "PT 0 can be punted");
        for byte1 in 0..=u8::MAX {
            assert_eq!(
                punts(flags_with_punt(0, 13), byte1),
                byte1 & 0x7f == 13,
                "{byte1:#04x}"
            );
        }
    }
}

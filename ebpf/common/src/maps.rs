//! Map keys and values. Addresses and ports are stored as they appear on
//! the wire (network byte order, as byte arrays), so neither side ever
//! converts them.

use core::mem::size_of;

/// Bumped whenever a type below changes shape.
pub const LAYOUT_VERSION: u32 = 2;

/// The XDP program's name in the object; carries [`LAYOUT_VERSION`].
pub const PROGRAM_NAME: &str = "sluice_xdp_v2";

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
    /// `FLOW_*` bits.
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
    /// `FLOW_*` bits.
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
}

impl Outcome {
    /// Number of outcomes (size of [`OUTCOMES_MAP`]).
    pub const COUNT: u32 = 13;
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

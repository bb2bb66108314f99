//! sluice's XDP fast path: forwards the packets of offloaded RTP streams
//! in the kernel, before the network stack sees them.
//!
//! For every frame the program copies the first [`HEADER_LEN`] (IPv4) or
//! [`HEADER6_LEN`] (IPv6) bytes to the stack and runs the pure helpers of
//! `sluice-ebpf-common` on them ([`inspect`]/[`rewrite`],
//! [`inspect6`]/[`rewrite6`], tested on the host). A plain IPv4 (no
//! options, not fragmented) or IPv6 (no extension headers) UDP packet
//! carrying RTP (not RTCP) whose destination is an offloaded stream in
//! `FLOWS`/`FLOWS6`, and which comes from the source that stream expects,
//! is rewritten for the outbound leg (MACs of the next hop as the kernel's
//! FIB reports them, addresses, ports, TTL or hop limit, checksums) and
//! sent out with `XDP_TX` (same interface) or `XDP_REDIRECT` through
//! `EGRESS` (another interface userspace allowed). A packet of the payload
//! type the stream punts (`FLOW_PUNT_PAYLOAD_TYPE`: the sender's
//! telephone-events, which the worker reports and may block) passes to
//! userspace instead, counted as `Outcome::Punted`.
//! Per-stream packet and byte counters go to `COUNTERS`, and every frame's
//! fate to `OUTCOMES`.
//!
//! Everything else goes `XDP_PASS`, untouched, to the kernel and the
//! userspace relay, which is complete without this program. Left to
//! userspace: deciding which streams to offload and filling `FLOWS`
//! (latching, SRTP, RTCP, timeouts are never done here), allowing egress
//! interfaces in `EGRESS`, enabling `net.ipv4.conf.<ingress>.forwarding`
//! (and `net.ipv6.conf.<ingress>.forwarding` for IPv6; without it the FIB lookup answers "forwarding disabled" and every
//! packet passes), and reading the counters.
//!
//! The UDP checksum is updated incrementally, never verified or computed
//! from scratch: a frame whose checksum is only partial (sent by a local
//! socket over veth with tx checksum offload on; real NICs deliver
//! complete ones) is forwarded still partial and dropped by the receiver.
//! Tests on veth turn that offload off on the sender.
#![no_std]
#![no_main]

use aya_ebpf::{
    bindings::{
        bpf_fib_lookup as FibParams, bpf_fib_lookup__bindgen_ty_1, bpf_fib_lookup__bindgen_ty_2,
        bpf_fib_lookup__bindgen_ty_3, bpf_fib_lookup__bindgen_ty_4, bpf_fib_lookup__bindgen_ty_5,
        xdp_action, BPF_FIB_LKUP_RET_SUCCESS,
    },
    helpers::bpf_fib_lookup,
    macros::{map, xdp},
    maps::{DevMapHash, HashMap, PerCpuArray},
    programs::XdpContext,
    EbpfContext,
};
use sluice_ebpf_common::{
    packet::{inspect, rewrite, HEADER_LEN, REWRITE_LEN},
    packet6::{inspect6, rewrite6, ETHERTYPE_IPV6, HEADER6_LEN, REWRITE6_LEN},
    FlowAction, FlowAction6, FlowCounters, FlowKey, FlowKey6, Outcome, DEFAULT_MAX_FLOWS,
    MAX_EGRESS,
};

/// The offloaded IPv4 streams, by local destination address and port.
#[map(name = "FLOWS")]
static FLOWS: HashMap<FlowKey, FlowAction> = HashMap::with_max_entries(DEFAULT_MAX_FLOWS, 0);

/// The offloaded IPv6 streams, by local destination address and port.
#[map(name = "FLOWS6")]
static FLOWS6: HashMap<FlowKey6, FlowAction6> = HashMap::with_max_entries(DEFAULT_MAX_FLOWS, 0);

/// Per-stream counters, indexed by [`FlowAction::counter`].
#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<FlowCounters> = PerCpuArray::with_max_entries(DEFAULT_MAX_FLOWS, 0);

/// Interfaces the program may redirect to (key = ifindex).
#[map(name = "EGRESS")]
static EGRESS: DevMapHash = DevMapHash::with_max_entries(MAX_EGRESS, 0);

/// Working memory for one frame, per CPU: the header copy and the FIB
/// query are too large for the 512-byte BPF stack together with the
/// IPv6 path's other values. XDP runs to completion on a CPU without
/// nesting, so each CPU's entry belongs to the frame in hand.
#[repr(C)]
struct Scratch {
    header4: [u8; HEADER_LEN],
    header6: [u8; HEADER6_LEN],
    fib: FibParams,
}

#[map(name = "SCRATCH")]
static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

/// This CPU's scratch entry; `None` only if the map is broken.
#[inline(always)]
fn scratch() -> Option<&'static mut Scratch> {
    let ptr = SCRATCH.get_ptr_mut(0)?;
    // SAFETY: this CPU's element of a per-CPU array, valid while the
    // program runs; XDP does not nest on a CPU, so no other reference to
    // it exists meanwhile.
    Some(unsafe { &mut *ptr })
}

/// Frames per [`Outcome`].
#[map(name = "OUTCOMES")]
static OUTCOMES: PerCpuArray<u64> = PerCpuArray::with_max_entries(Outcome::COUNT, 0);

/// `bpf_fib_lookup` is a GPL-only helper, so the kernel loads this program
/// only with a GPL-compatible license string (this crate is dual-licensed,
/// Apache-2.0 or GPL-2.0-or-later, see Cargo.toml).
// SAFETY: the symbol name `LICENSE` and the `license` section are what
// the loader reads and nothing else in the object uses them, so exporting
// this plain byte array under that name cannot clash.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const ETH_HLEN: usize = 14;
const IPPROTO_UDP: u8 = 17;
/// IPv4 + UDP header bytes in front of the UDP payload ([`inspect`]
/// accepts only 20-byte IPv4 headers).
const IPV4_UDP_HEADERS: u16 = 20 + 8;
/// IPv6 + UDP header bytes in front of the UDP payload (no extension
/// headers, see [`inspect6`]).
const IPV6_UDP_HEADERS: u16 = 40 + 8;

/// The program; its name is `sluice_ebpf_common::PROGRAM_NAME`. Not `pub`:
/// the `#[xdp]` macro drops this doc comment from the exported function it
/// generates (`#[no_mangle]` exports it either way).
#[xdp]
fn sluice_xdp_v3(ctx: XdpContext) -> u32 {
    let data = ctx.data();
    if data + ETH_HLEN > ctx.data_end() {
        count(Outcome::Short);
        return xdp_action::XDP_PASS;
    }
    // SAFETY: the Ethernet header lies within the packet (checked just
    // above); an unaligned read of a byte array is always valid.
    let ethertype: [u8; 2] = unsafe { core::ptr::read_unaligned((data + 12) as *const _) };
    if u16::from_be_bytes(ethertype) == ETHERTYPE_IPV6 {
        path6(&ctx)
    } else {
        path4(&ctx)
    }
}

/// The IPv4 path, a function of its own: each path's stack frame then
/// counts alone against the verifier's 512-byte limit.
#[inline(never)]
fn path4(ctx: &XdpContext) -> u32 {
    verdict(forward4(ctx))
}

/// The IPv6 path (see [`path4`]).
#[inline(never)]
fn path6(ctx: &XdpContext) -> u32 {
    verdict(forward6(ctx))
}

/// Counts the outcome; a frame the path did not forward passes.
#[inline(always)]
fn verdict(result: Result<(Outcome, u32), Outcome>) -> u32 {
    let (outcome, verdict) = match result {
        Ok(done) => done,
        Err(outcome) => (outcome, xdp_action::XDP_PASS),
    };
    count(outcome);
    verdict
}

/// The IPv4 path.
#[inline(always)]
fn forward4(ctx: &XdpContext) -> Result<(Outcome, u32), Outcome> {
    let data = ctx.data();
    let data_end = ctx.data_end();
    if data + HEADER_LEN > data_end {
        return Err(Outcome::Short);
    }
    let frame_len = data_end - data;
    let Scratch {
        header4: h, fib, ..
    } = scratch().ok_or(Outcome::NoFlow)?;
    // SAFETY: `data..data + HEADER_LEN` lies within the packet (checked
    // just above); `h` is map memory of the same size, apart from it.
    unsafe { core::ptr::copy_nonoverlapping(data as *const u8, h.as_mut_ptr(), HEADER_LEN) };

    let udp = inspect(h, frame_len)?;
    let action = FLOWS.get_ptr(udp.key()).ok_or(Outcome::NoFlow)?;
    // SAFETY: a hash map value the kernel just handed out, valid for the
    // rest of this run (RCU). Userspace replaces entries whole; a packet
    // racing a replacement is judged by old and new fields at worst,
    // each of them a valid forward for that moment.
    let action: &FlowAction = unsafe { &*action };
    if !udp.from_expected(action) {
        return Err(Outcome::WrongSource);
    }
    if udp.punted(action) {
        return Err(Outcome::Punted);
    }

    *fib = fib_params(
        ctx,
        AF_INET,
        (action.src_port, action.dst_port),
        udp.payload_len + IPV4_UDP_HEADERS,
    );
    fib.__bindgen_anon_3.ipv6_src = [u32::from_ne_bytes(action.src_addr), 0, 0, 0];
    fib.__bindgen_anon_4.ipv6_dst = [u32::from_ne_bytes(action.dst_addr), 0, 0, 0];
    let egress = next_hop(ctx, fib)?;
    rewrite(h, action, fib.smac, fib.dmac);
    // SAFETY: the first REWRITE_LEN (< HEADER_LEN) bytes of the packet are
    // in bounds (checked above; no helper called since resizes the
    // packet), and `h` is map memory apart from it.
    unsafe { core::ptr::copy_nonoverlapping(h.as_ptr(), data as *mut u8, REWRITE_LEN) };
    Ok(send(ctx, egress, action.counter, udp.payload_len))
}

/// The IPv6 path: the same steps with the IPv6 helpers and map.
#[inline(always)]
fn forward6(ctx: &XdpContext) -> Result<(Outcome, u32), Outcome> {
    let data = ctx.data();
    let data_end = ctx.data_end();
    if data + HEADER6_LEN > data_end {
        return Err(Outcome::Short);
    }
    let frame_len = data_end - data;
    let Scratch {
        header6: h, fib, ..
    } = scratch().ok_or(Outcome::NoFlow)?;
    // SAFETY: `data..data + HEADER6_LEN` lies within the packet (checked
    // just above); `h` is map memory of the same size, apart from it.
    unsafe { core::ptr::copy_nonoverlapping(data as *const u8, h.as_mut_ptr(), HEADER6_LEN) };

    let udp = inspect6(h, frame_len)?;
    let payload_len = udp.payload_len;
    let action = FLOWS6.get_ptr(&udp.key()).ok_or(Outcome::NoFlow)?;
    // SAFETY: as in `forward4`: a live map value.
    let action: &FlowAction6 = unsafe { &*action };
    if !udp.from_expected(action) {
        return Err(Outcome::WrongSource);
    }
    if udp.punted(action) {
        return Err(Outcome::Punted);
    }

    *fib = fib_params(
        ctx,
        AF_INET6,
        (action.src_port, action.dst_port),
        payload_len + IPV6_UDP_HEADERS,
    );
    fib.__bindgen_anon_3.ipv6_src = words(&action.src_addr);
    fib.__bindgen_anon_4.ipv6_dst = words(&action.dst_addr);
    let egress = next_hop(ctx, fib)?;
    rewrite6(h, action, fib.smac, fib.dmac);
    // SAFETY: the first REWRITE6_LEN (< HEADER6_LEN) bytes of the packet
    // are in bounds (checked above), and `h` is map memory apart from it.
    unsafe { core::ptr::copy_nonoverlapping(h.as_ptr(), data as *mut u8, REWRITE6_LEN) };
    Ok(send(ctx, egress, action.counter, payload_len))
}

/// An IPv6 address as the FIB lookup's four network-order words.
#[inline(always)]
fn words(addr: &[u8; 16]) -> [u32; 4] {
    [
        u32::from_ne_bytes([addr[0], addr[1], addr[2], addr[3]]),
        u32::from_ne_bytes([addr[4], addr[5], addr[6], addr[7]]),
        u32::from_ne_bytes([addr[8], addr[9], addr[10], addr[11]]),
        u32::from_ne_bytes([addr[12], addr[13], addr[14], addr[15]]),
    ]
}

/// A FIB query from this frame's ingress interface for a `family` UDP
/// packet with `ports` (network order) and `tot_len` bytes of IP (host
/// order); the caller sets the addresses. Every byte is set, without
/// `unsafe`: unions through their widest member, unused inputs zero as
/// the kernel expects.
#[inline(always)]
fn fib_params(ctx: &XdpContext, family: u8, ports: ([u8; 2], [u8; 2]), tot_len: u16) -> FibParams {
    FibParams {
        family,
        l4_protocol: IPPROTO_UDP,
        sport: u16::from_ne_bytes(ports.0),
        dport: u16::from_ne_bytes(ports.1),
        __bindgen_anon_1: bpf_fib_lookup__bindgen_ty_1 { tot_len },
        ifindex: ctx.ingress_ifindex() as u32,
        __bindgen_anon_2: bpf_fib_lookup__bindgen_ty_2 { flowinfo: 0 },
        __bindgen_anon_3: bpf_fib_lookup__bindgen_ty_3 { ipv6_src: [0; 4] },
        __bindgen_anon_4: bpf_fib_lookup__bindgen_ty_4 { ipv6_dst: [0; 4] },
        __bindgen_anon_5: bpf_fib_lookup__bindgen_ty_5 { tbid: 0 },
        smac: [0; 6],
        dmac: [0; 6],
    }
}

/// Asks the kernel's FIB for the next hop of `fib` and returns the egress
/// interface, with `fib`'s MACs filled in, provided the program may send
/// there. `NoNextHop` without a usable route or neighbour entry, with
/// forwarding disabled on the ingress interface, or when the packet
/// exceeds the egress MTU.
#[inline(always)]
fn next_hop(ctx: &XdpContext, fib: &mut FibParams) -> Result<u32, Outcome> {
    let ingress = fib.ifindex;
    // SAFETY: `fib` is a valid, initialised `bpf_fib_lookup` on the stack
    // and the size passed is its own; the context is this program's.
    let ret = unsafe {
        bpf_fib_lookup(
            ctx.as_ptr(),
            fib,
            core::mem::size_of::<FibParams>() as i32,
            0,
        )
    };
    if ret != i64::from(BPF_FIB_LKUP_RET_SUCCESS) {
        return Err(Outcome::NoNextHop);
    }
    let egress = fib.ifindex;
    if egress != ingress && EGRESS.get_ifindex(egress).is_none() {
        return Err(Outcome::EgressNotAllowed);
    }
    Ok(egress)
}

/// Sends the rewritten frame out of `egress` (back out with `XDP_TX` when
/// it is the interface the frame came in on) and counts it.
#[inline(always)]
fn send(ctx: &XdpContext, egress: u32, counter: u32, payload_len: u16) -> (Outcome, u32) {
    if egress == ctx.ingress_ifindex() as u32 {
        count_flow(counter, payload_len);
        return (Outcome::Transmitted, xdp_action::XDP_TX);
    }
    // The entry was there a moment ago; should userspace remove it in
    // between, the packet is already rewritten and cannot go to the local
    // stack as it was, so it is dropped (the low bits of the flags are
    // the verdict on failure).
    match EGRESS.redirect(egress, u64::from(xdp_action::XDP_DROP)) {
        Ok(verdict) => {
            count_flow(counter, payload_len);
            (Outcome::Redirected, verdict)
        }
        Err(verdict) => (Outcome::EgressNotAllowed, verdict),
    }
}

/// Adds one packet of `payload_len` bytes to the stream's counters (none
/// if its counter index is out of range).
#[inline(always)]
fn count_flow(counter: u32, payload_len: u16) {
    if let Some(c) = COUNTERS.get_ptr_mut(counter) {
        // SAFETY: this CPU's slot of a per-CPU array element; XDP runs with
        // migration disabled and does not nest on one CPU, so nothing else
        // writes it meanwhile (userspace only reads or resets it).
        unsafe {
            (*c).packets += 1;
            (*c).bytes += u64::from(payload_len);
        }
    }
}

/// Counts one frame with this outcome.
#[inline(always)]
fn count(outcome: Outcome) {
    if let Some(n) = OUTCOMES.get_ptr_mut(outcome as u32) {
        // SAFETY: as in `count_flow`, this CPU's own slot.
        unsafe { *n += 1 };
    }
}

/// Never reached: the verifier rejects a program with a reachable panic
/// path (this loop is unbounded), so any that survived would fail to load.
#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

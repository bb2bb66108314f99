//! sluice's XDP fast path: forwards the packets of offloaded RTP streams
//! in the kernel, before the network stack sees them.
//!
//! For every frame the program copies the first [`HEADER_LEN`] bytes to
//! the stack and runs the pure helpers of `sluice-ebpf-common` on them
//! ([`inspect`], [`rewrite`], tested on the host). A plain IPv4 (no
//! options, not fragmented) UDP packet carrying RTP (not RTCP) whose
//! destination is an offloaded stream in `FLOWS`, and which comes from the
//! source that stream expects, is rewritten for the outbound leg (MACs of
//! the next hop as the kernel's FIB reports them, addresses, ports, TTL,
//! checksums) and sent out with `XDP_TX` (same interface) or
//! `XDP_REDIRECT` through `EGRESS` (another interface userspace allowed).
//! Per-stream packet and byte counters go to `COUNTERS`, and every frame's
//! fate to `OUTCOMES`.
//!
//! Everything else goes `XDP_PASS`, untouched, to the kernel and the
//! userspace relay, which is complete without this program. Left to
//! userspace: deciding which streams to offload and filling `FLOWS`
//! (latching, SRTP, RTCP, timeouts are never done here), allowing egress
//! interfaces in `EGRESS`, enabling `net.ipv4.conf.<ingress>.forwarding`
//! (without it the FIB lookup answers "forwarding disabled" and every
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
    FlowAction, FlowCounters, FlowKey, Outcome, DEFAULT_MAX_FLOWS, MAX_EGRESS,
};

/// The offloaded streams, by local destination address and port.
#[map(name = "FLOWS")]
static FLOWS: HashMap<FlowKey, FlowAction> = HashMap::with_max_entries(DEFAULT_MAX_FLOWS, 0);

/// Per-stream counters, indexed by [`FlowAction::counter`].
#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<FlowCounters> = PerCpuArray::with_max_entries(DEFAULT_MAX_FLOWS, 0);

/// Interfaces the program may redirect to (key = ifindex).
#[map(name = "EGRESS")]
static EGRESS: DevMapHash = DevMapHash::with_max_entries(MAX_EGRESS, 0);

/// Frames per [`Outcome`].
#[map(name = "OUTCOMES")]
static OUTCOMES: PerCpuArray<u64> = PerCpuArray::with_max_entries(Outcome::COUNT, 0);

/// `bpf_fib_lookup` is a GPL-only helper, so the kernel loads this program
/// only with a GPL-compatible license string (this crate is dual-licensed,
/// Apache-2.0 or GPL-2.0-or-later, see Cargo.toml).
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";

const AF_INET: u8 = 2;
const IPPROTO_UDP: u8 = 17;
/// IPv4 + UDP header bytes in front of the UDP payload ([`inspect`]
/// accepts only 20-byte IPv4 headers).
const IPV4_UDP_HEADERS: u16 = 20 + 8;

/// The program; its name is `sluice_ebpf_common::PROGRAM_NAME`. Not `pub`:
/// the `#[xdp]` macro drops this doc comment from the exported function it
/// generates (`#[no_mangle]` exports it either way).
#[xdp]
fn sluice_xdp_v1(ctx: XdpContext) -> u32 {
    let (outcome, verdict) = match try_forward(&ctx) {
        Ok(done) => done,
        Err(outcome) => (outcome, xdp_action::XDP_PASS),
    };
    count(outcome);
    verdict
}

/// Forwards the frame if it belongs to an offloaded stream; says why not
/// otherwise (the frame is then untouched).
#[inline(always)]
fn try_forward(ctx: &XdpContext) -> Result<(Outcome, u32), Outcome> {
    let data = ctx.data();
    let data_end = ctx.data_end();
    if data + HEADER_LEN > data_end {
        return Err(Outcome::Short);
    }
    let frame_len = data_end - data;
    // SAFETY: `data..data + HEADER_LEN` lies within the packet (checked
    // just above); an unaligned read of a byte array is always valid.
    let mut h: [u8; HEADER_LEN] = unsafe { core::ptr::read_unaligned(data as *const _) };

    let udp = inspect(&h, frame_len)?;
    let action = FLOWS.get_ptr(udp.key()).ok_or(Outcome::NoFlow)?;
    // SAFETY: a hash map value the kernel just handed out, valid for the
    // rest of this run (RCU). Copied at once: userspace may replace the
    // entry concurrently, and the copy is what this packet is judged by.
    let action: FlowAction = unsafe { core::ptr::read(action) };
    if !udp.from_expected(&action) {
        return Err(Outcome::WrongSource);
    }

    let ingress = ctx.ingress_ifindex() as u32;
    let fib = next_hop(ctx, &action, udp.payload_len + IPV4_UDP_HEADERS, ingress)
        .ok_or(Outcome::NoNextHop)?;
    let egress = fib.ifindex;
    if egress != ingress && EGRESS.get_ifindex(egress).is_none() {
        return Err(Outcome::EgressNotAllowed);
    }

    rewrite(&mut h, &action, fib.smac, fib.dmac);
    // SAFETY: the first REWRITE_LEN (< HEADER_LEN) bytes of the packet are
    // in bounds (checked above; no helper called since resizes the
    // packet), and `h` is a distinct stack array.
    unsafe { core::ptr::copy_nonoverlapping(h.as_ptr(), data as *mut u8, REWRITE_LEN) };

    if egress == ingress {
        count_flow(&action, udp.payload_len);
        return Ok((Outcome::Transmitted, xdp_action::XDP_TX));
    }
    // The entry was there a moment ago; should userspace remove it in
    // between, the packet is already rewritten and cannot go to the local
    // stack as it was, so it is dropped (the low bits of the flags are
    // the verdict on failure).
    match EGRESS.redirect(egress, u64::from(xdp_action::XDP_DROP)) {
        Ok(verdict) => {
            count_flow(&action, udp.payload_len);
            Ok((Outcome::Redirected, verdict))
        }
        Err(verdict) => Ok((Outcome::EgressNotAllowed, verdict)),
    }
}

/// The interface and MAC addresses the kernel would forward a packet
/// from `action.src_addr` to `action.dst_addr` with (`tot_len` bytes of
/// IPv4, arriving on `ingress`), or `None` without a usable route or
/// neighbour entry, with forwarding disabled on `ingress`, or when the
/// packet exceeds the egress MTU.
#[inline(always)]
fn next_hop(
    ctx: &XdpContext,
    action: &FlowAction,
    tot_len: u16,
    ingress: u32,
) -> Option<FibParams> {
    // Every byte set, without `unsafe`: unions through their widest member
    // (an IPv4 address is the first word of the IPv6 one), unused inputs
    // zero as the kernel expects. Ports and addresses are in network
    // order, as stored in the action; `tot_len` is in host order.
    let mut fib = FibParams {
        family: AF_INET,
        l4_protocol: IPPROTO_UDP,
        sport: u16::from_ne_bytes(action.src_port),
        dport: u16::from_ne_bytes(action.dst_port),
        __bindgen_anon_1: bpf_fib_lookup__bindgen_ty_1 { tot_len },
        ifindex: ingress,
        __bindgen_anon_2: bpf_fib_lookup__bindgen_ty_2 { flowinfo: 0 },
        __bindgen_anon_3: bpf_fib_lookup__bindgen_ty_3 {
            ipv6_src: [u32::from_ne_bytes(action.src_addr), 0, 0, 0],
        },
        __bindgen_anon_4: bpf_fib_lookup__bindgen_ty_4 {
            ipv6_dst: [u32::from_ne_bytes(action.dst_addr), 0, 0, 0],
        },
        __bindgen_anon_5: bpf_fib_lookup__bindgen_ty_5 { tbid: 0 },
        smac: [0; 6],
        dmac: [0; 6],
    };
    // SAFETY: `fib` is a valid, initialised `bpf_fib_lookup` on the stack
    // and the size passed is its own; the context is this program's.
    let ret = unsafe {
        bpf_fib_lookup(
            ctx.as_ptr(),
            &mut fib,
            core::mem::size_of::<FibParams>() as i32,
            0,
        )
    };
    (ret == i64::from(BPF_FIB_LKUP_RET_SUCCESS)).then_some(fib)
}

/// Adds one packet of `payload_len` bytes to the stream's counters (none
/// if its counter index is out of range).
#[inline(always)]
fn count_flow(action: &FlowAction, payload_len: u16) {
    if let Some(c) = COUNTERS.get_ptr_mut(action.counter) {
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

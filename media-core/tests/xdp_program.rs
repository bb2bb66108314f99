//! The XDP program itself, run by the kernel on crafted frames with
//! `BPF_PROG_TEST_RUN`: hits are rewritten (addresses, ports, MACs, TTL,
//! checksums) and redirected or transmitted; everything it must leave to
//! userspace (telephone-events of a stream that punts them included)
//! passes untouched and is counted by reason.
//!
//! The next-hop lookup needs real interfaces and neighbour entries, so the
//! test thread moves into a network namespace of its own (gone when the
//! thread ends, whatever happens) with two veth pairs. Needs root.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any setup error")]

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;

use aya::maps::{DevMapHash, HashMap, MapData, PerCpuArray};
use aya::programs::{TestRun, TestRunOptions, Xdp};
use aya::{Ebpf, EbpfLoader};
use sluice_ebpf_common::{
    flags_with_punt, FlowAction, FlowAction6, FlowCounters, FlowKey, FlowKey6, Outcome,
    COUNTERS_MAP, EGRESS_MAP, FLOWS6_MAP, FLOWS_MAP, FLOW_ANY_SOURCE, OUTCOMES_MAP, PROGRAM_NAME,
};

const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;
const XDP_REDIRECT: u32 = 4;

/// In the test namespace: `x0` (10.99.0.1/24) faces the carrier, `y0`
/// (10.99.1.1/24) the platform; their peers stay down-stream.
const X0: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const CALLER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
const HAIRPIN_PEER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 3);
const Y0: Ipv4Addr = Ipv4Addr::new(10, 99, 1, 1);
const CALLEE: Ipv4Addr = Ipv4Addr::new(10, 99, 1, 2);
const UNRESOLVED: Ipv4Addr = Ipv4Addr::new(10, 99, 1, 9);
const CALLEE_MAC: [u8; 6] = [0x02, 0, 0, 0, 1, 2];
const X0_6: Ipv6Addr = Ipv6Addr::new(0xfd99, 0, 0, 0, 0, 0, 0, 1);
const CALLER6: Ipv6Addr = Ipv6Addr::new(0xfd99, 0, 0, 0, 0, 0, 0, 2);
const Y0_6: Ipv6Addr = Ipv6Addr::new(0xfd99, 1, 0, 0, 0, 0, 0, 1);
const CALLEE6: Ipv6Addr = Ipv6Addr::new(0xfd99, 1, 0, 0, 0, 0, 0, 2);
const HAIRPIN_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 3];

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ip -o link show NAME` of this thread's namespace (sysfs would show
/// the namespace it was mounted in).
fn link_line(name: &str) -> String {
    let out = Command::new("ip")
        .args(["-o", "link", "show", "dev", name])
        .output()
        .expect("ip link show");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ifindex(name: &str) -> u32 {
    let line = link_line(name);
    line.split(':')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ifindex for {name} in {line:?}"))
}

fn mac(name: &str) -> [u8; 6] {
    let line = link_line(name);
    let text = line
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .unwrap_or_else(|| panic!("no MAC for {name} in {line:?}"));
    let mut out = [0u8; 6];
    for (o, part) in out.iter_mut().zip(text.split(':')) {
        *o = u8::from_str_radix(part, 16).unwrap();
    }
    out
}

/// Moves this thread into a fresh network namespace and builds the
/// interfaces there.
fn enter_test_namespace() {
    #[allow(unsafe_code, reason = "unshare(2) has no safe wrapper in std")]
    // SAFETY: unshare only changes this thread's namespace membership; it
    // touches no memory of ours.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "unshare: {}", std::io::Error::last_os_error());
    run("ip", &["link", "set", "lo", "up"]);
    for (a, b, addr, addr6) in [
        ("x0", "x1", "10.99.0.1/24", "fd99::1/64"),
        ("y0", "y1", "10.99.1.1/24", "fd99:1::1/64"),
    ] {
        run("ip", &["link", "add", a, "type", "veth", "peer", "name", b]);
        run("ip", &["addr", "add", addr, "dev", a]);
        run("ip", &["-6", "addr", "add", addr6, "dev", a, "nodad"]);
        run("ip", &["link", "set", a, "up"]);
        run("ip", &["link", "set", b, "up"]);
    }
    let lladdr = |m: [u8; 6]| {
        m.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    run(
        "ip",
        &[
            "neigh",
            "replace",
            &CALLEE.to_string(),
            "lladdr",
            &lladdr(CALLEE_MAC),
            "dev",
            "y0",
            "nud",
            "permanent",
        ],
    );
    run(
        "ip",
        &[
            "neigh",
            "replace",
            &HAIRPIN_PEER.to_string(),
            "lladdr",
            &lladdr(HAIRPIN_MAC),
            "dev",
            "x0",
            "nud",
            "permanent",
        ],
    );
    run(
        "ip",
        &[
            "-6",
            "neigh",
            "replace",
            &CALLEE6.to_string(),
            "lladdr",
            &lladdr(CALLEE_MAC),
            "dev",
            "y0",
            "nud",
            "permanent",
        ],
    );
    set_forwarding("ipv4", "x0", true);
    set_forwarding("ipv6", "x0", true);
}

fn set_forwarding(family: &str, iface: &str, on: bool) {
    let key = format!("net.{family}.conf.{iface}.forwarding={}", u8::from(on));
    run("sysctl", &["-qw", &key]);
}

fn checksum(bytes: &[u8], initial: u32) -> u16 {
    let mut sum = initial;
    for chunk in bytes.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The UDP checksum a receiver computes over pseudo-header, header and
/// payload of `frame` (with the checksum field zeroed).
fn udp_checksum(frame: &[u8]) -> u16 {
    let ip = &frame[14..34];
    let mut udp = frame[34..].to_vec();
    udp[6] = 0;
    udp[7] = 0;
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&ip[12..20]);
    pseudo.extend_from_slice(&[0, 17]);
    pseudo.extend_from_slice(&(udp.len() as u16).to_be_bytes());
    let mut all = pseudo;
    all.extend_from_slice(&udp);
    match checksum(&all, 0) {
        0 => 0xffff,
        c => c,
    }
}

/// An Ethernet/IPv4/UDP/RTP frame from `src` to `dst` with 160 bytes of
/// payload and correct checksums.
fn frame(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16)) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0xaa]); // to x0 (any MAC: test run)
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0xbb]);
    f.extend_from_slice(&[0x08, 0x00]);
    let udp_len = 8 + 12 + 160u16;
    let mut ip = vec![0x45, 0xb8];
    ip.extend_from_slice(&(20 + udp_len).to_be_bytes());
    ip.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 17, 17, 0, 0]);
    ip.extend_from_slice(&src.0.octets());
    ip.extend_from_slice(&dst.0.octets());
    let c = checksum(&ip, 0);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&src.1.to_be_bytes());
    f.extend_from_slice(&dst.1.to_be_bytes());
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&[
        0x80, 0x00, 0x12, 0x34, 0, 0, 0x0f, 0xa0, 0xde, 0xad, 0xbe, 0xef,
    ]);
    f.extend((0..160u16).map(|i| (i * 7) as u8));
    let c = udp_checksum(&f);
    f[40..42].copy_from_slice(&c.to_be_bytes());
    f
}

/// The UDP checksum a receiver computes over an IPv6 `frame`.
fn udp6_checksum(frame: &[u8]) -> u16 {
    let mut all = frame[22..54].to_vec();
    let udp = &frame[54..];
    all.extend_from_slice(&(udp.len() as u32).to_be_bytes());
    all.extend_from_slice(&[0, 0, 0, 17]);
    let mut udp = udp.to_vec();
    udp[6] = 0;
    udp[7] = 0;
    all.extend_from_slice(&udp);
    match checksum(&all, 0) {
        0 => 0xffff,
        c => c,
    }
}

/// An Ethernet/IPv6/UDP/RTP frame with 160 bytes of payload.
fn frame6(src: (Ipv6Addr, u16), dst: (Ipv6Addr, u16)) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0xaa, 0x02, 0, 0, 0, 0, 0xbb, 0x86, 0xdd];
    let udp_len = 8 + 12 + 160u16;
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&[17, 17]);
    f.extend_from_slice(&src.0.octets());
    f.extend_from_slice(&dst.0.octets());
    f.extend_from_slice(&src.1.to_be_bytes());
    f.extend_from_slice(&dst.1.to_be_bytes());
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&[
        0x80, 0x00, 0x12, 0x34, 0, 0, 0x0f, 0xa0, 0xde, 0xad, 0xbe, 0xef,
    ]);
    f.extend((0..160u16).map(|i| (i * 3) as u8));
    let c = udp6_checksum(&f);
    f[60..62].copy_from_slice(&c.to_be_bytes());
    f
}

/// `frame` (IPv4) with the RTP header's second byte (marker bit and
/// payload type) set to `byte1`, UDP checksum fixed.
fn with_rtp_byte1(frame: &[u8], byte1: u8) -> Vec<u8> {
    let mut f = frame.to_vec();
    f[43] = byte1;
    let c = udp_checksum(&f);
    f[40..42].copy_from_slice(&c.to_be_bytes());
    f
}

/// [`with_rtp_byte1`] for an IPv6 frame.
fn with_rtp_byte1_6(frame: &[u8], byte1: u8) -> Vec<u8> {
    let mut f = frame.to_vec();
    f[63] = byte1;
    let c = udp6_checksum(&f);
    f[60..62].copy_from_slice(&c.to_be_bytes());
    f
}

/// Fixes the IPv4 header checksum after a test edited the header.
fn reseal_ip(f: &mut [u8]) {
    f[24] = 0;
    f[25] = 0;
    let c = checksum(&f[14..34], 0);
    f[24..26].copy_from_slice(&c.to_be_bytes());
}

struct Fixture {
    ebpf: Ebpf,
    ingress: u32,
}

impl Fixture {
    fn program(&self) -> &Xdp {
        self.ebpf.program(PROGRAM_NAME).unwrap().try_into().unwrap()
    }

    fn flows(&mut self) -> HashMap<&mut MapData, FlowKey, FlowAction> {
        HashMap::try_from(self.ebpf.map_mut(FLOWS_MAP).unwrap()).unwrap()
    }

    fn flows6(&mut self) -> HashMap<&mut MapData, FlowKey6, FlowAction6> {
        HashMap::try_from(self.ebpf.map_mut(FLOWS6_MAP).unwrap()).unwrap()
    }

    fn egress(&mut self) -> DevMapHash<&mut MapData> {
        DevMapHash::try_from(self.ebpf.map_mut(EGRESS_MAP).unwrap()).unwrap()
    }

    fn counter(&self, index: u32) -> FlowCounters {
        let map: PerCpuArray<&MapData, FlowCounters> =
            PerCpuArray::try_from(self.ebpf.map(COUNTERS_MAP).unwrap()).unwrap();
        map.get(&index, 0)
            .unwrap()
            .iter()
            .fold(FlowCounters::default(), |s, c| FlowCounters {
                packets: s.packets + c.packets,
                bytes: s.bytes + c.bytes,
            })
    }

    fn outcome(&self, outcome: Outcome) -> u64 {
        let map: PerCpuArray<&MapData, u64> =
            PerCpuArray::try_from(self.ebpf.map(OUTCOMES_MAP).unwrap()).unwrap();
        map.get(&(outcome as u32), 0).unwrap().iter().sum()
    }

    /// Runs the program on `frame` as if it arrived on `x0`; returns the
    /// verdict and the frame as the program left it.
    fn run(&self, frame: &[u8]) -> (u32, Vec<u8>) {
        let mut out = vec![0u8; frame.len() + 256];
        // struct xdp_md: data, data_end, data_meta, ingress_ifindex,
        // rx_queue_index, egress_ifindex.
        let mut ctx = [0u8; 24];
        ctx[4..8].copy_from_slice(&(frame.len() as u32).to_ne_bytes());
        ctx[12..16].copy_from_slice(&self.ingress.to_ne_bytes());
        let result = self
            .program()
            .test_run(TestRunOptions {
                data_in: Some(frame),
                data_out: Some(&mut out),
                ctx_in: Some(&ctx),
                ..TestRunOptions::new()
            })
            .expect("BPF_PROG_TEST_RUN");
        out.truncate(result.data_size_out as usize);
        (result.return_value, out)
    }

    /// Runs `frame` and checks it was left to the kernel untouched and
    /// counted as `why`.
    fn expect_pass(&self, what: &str, frame: &[u8], why: Outcome) {
        let before = self.outcome(why);
        let (verdict, out) = self.run(frame);
        assert_eq!(verdict, XDP_PASS, "{what}: verdict");
        assert_eq!(out, frame, "{what}: a passed frame must be untouched");
        assert_eq!(
            self.outcome(why),
            before + 1,
            "{what}: counted as {}",
            why.name()
        );
    }
}

/// The IPv6 path: a hit is rewritten and redirected; the rest passes.
fn ipv6_cases(fx: &mut Fixture, y0: u32) {
    let forward = FlowAction6 {
        expect_addr: CALLER6.octets(),
        src_addr: Y0_6.octets(),
        dst_addr: CALLEE6.octets(),
        expect_port: 4000u16.to_be_bytes(),
        src_port: 30002u16.to_be_bytes(),
        dst_port: 5000u16.to_be_bytes(),
        flags: 0,
        counter: 11,
    };
    fx.flows6()
        .insert(FlowKey6::new(X0_6.octets(), 30000), forward, 0)
        .unwrap();
    let input = frame6((CALLER6, 4000), (X0_6, 30000));
    let (verdict, out) = fx.run(&input);
    assert_eq!(verdict, XDP_REDIRECT, "an IPv6 hit is redirected");
    assert_eq!(
        &out[0..6],
        &CALLEE_MAC,
        "destination MAC from the IPv6 neighbour table"
    );
    assert_eq!(&out[6..12], &mac("y0"));
    assert_eq!(out[21], 64, "hop limit of a fresh packet");
    assert_eq!(&out[22..38], &Y0_6.octets());
    assert_eq!(&out[38..54], &CALLEE6.octets());
    assert_eq!(&out[54..56], &30002u16.to_be_bytes());
    assert_eq!(&out[56..58], &5000u16.to_be_bytes());
    assert_eq!(
        u16::from_be_bytes([out[60], out[61]]),
        udp6_checksum(&out),
        "IPv6 UDP checksum equals a full recomputation"
    );
    assert_eq!(&out[62..], &input[62..], "RTP untouched");
    assert_eq!(
        fx.counter(11),
        FlowCounters {
            packets: 1,
            bytes: 172
        }
    );

    // Telephone-events of an IPv6 stream go to userspace too.
    let punting = FlowAction6 {
        flags: flags_with_punt(0, 101),
        counter: 12,
        ..forward
    };
    fx.flows6()
        .insert(FlowKey6::new(X0_6.octets(), 30000), punting, 0)
        .unwrap();
    fx.expect_pass(
        "IPv6 telephone-event",
        &with_rtp_byte1_6(&input, 0x80 | 101),
        Outcome::Punted,
    );
    let (verdict, _) = fx.run(&input);
    assert_eq!(verdict, XDP_REDIRECT, "IPv6 audio of a punting flow");
    assert_eq!(fx.counter(12).packets, 1, "only the audio is counted");
    fx.flows6()
        .insert(FlowKey6::new(X0_6.octets(), 30000), forward, 0)
        .unwrap();

    fx.expect_pass(
        "IPv6 no flow",
        &frame6((CALLER6, 4000), (X0_6, 31000)),
        Outcome::NoFlow,
    );
    fx.expect_pass(
        "IPv6 wrong source",
        &frame6((CALLER6, 4001), (X0_6, 30000)),
        Outcome::WrongSource,
    );
    let mut hop_by_hop = input.clone();
    hop_by_hop[20] = 0;
    fx.expect_pass("IPv6 extension header", &hop_by_hop, Outcome::IpOptions);
    let mut no_checksum = input.clone();
    no_checksum[60] = 0;
    no_checksum[61] = 0;
    fx.expect_pass(
        "IPv6 UDP without checksum",
        &no_checksum,
        Outcome::BadHeader,
    );
    fx.expect_pass("IPv6 runt", &input[..70], Outcome::Short);
    fx.egress().remove(y0).unwrap();
    fx.expect_pass("IPv6 egress not allowed", &input, Outcome::EgressNotAllowed);
    fx.egress().insert(y0, y0, None, 0).unwrap();
    set_forwarding("ipv6", "x0", false);
    fx.expect_pass("IPv6 forwarding off", &input, Outcome::NoNextHop);
    set_forwarding("ipv6", "x0", true);
}

fn action(
    expect: (Ipv4Addr, u16),
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    counter: u32,
) -> FlowAction {
    FlowAction {
        expect_addr: expect.0.octets(),
        expect_port: expect.1.to_be_bytes(),
        flags: 0,
        src_addr: src.0.octets(),
        dst_addr: dst.0.octets(),
        src_port: src.1.to_be_bytes(),
        dst_port: dst.1.to_be_bytes(),
        counter,
    }
}

fn can_run() -> bool {
    if media_core::xdp::object().is_none() {
        println!(
            "SKIPPED: no XDP object in this build ({})",
            media_core::xdp::build_status()
        );
        return false;
    }
    if !is_root() {
        println!("SKIPPED: BPF_PROG_TEST_RUN and network namespaces need root");
        return false;
    }
    true
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn the_program_rewrites_hits_and_passes_everything_else_untouched() {
    if !can_run() {
        return;
    }
    // Its own thread: the namespace dies with it.
    std::thread::spawn(program_cases)
        .join()
        .expect("test thread");
}

fn program_cases() {
    enter_test_namespace();
    let mut ebpf = EbpfLoader::new()
        .load(media_core::xdp::object().unwrap())
        .expect("load object");
    let prog: &mut Xdp = ebpf.program_mut(PROGRAM_NAME).unwrap().try_into().unwrap();
    prog.load().expect("the verifier accepts the program");
    let mut fx = Fixture {
        ebpf,
        ingress: ifindex("x0"),
    };
    let y0 = ifindex("y0");
    fx.egress().insert(y0, y0, None, 0).unwrap();

    // A stream latched from the caller, forwarded to the callee.
    let forward = action((CALLER, 4000), (Y0, 30002), (CALLEE, 5000), 7);
    fx.flows()
        .insert(FlowKey::new(X0.octets(), 30000), forward, 0)
        .unwrap();
    let input = frame((CALLER, 4000), (X0, 30000));
    let (verdict, out) = fx.run(&input);
    assert_eq!(
        verdict, XDP_REDIRECT,
        "a hit to another interface is redirected"
    );
    assert_eq!(
        &out[0..6],
        &CALLEE_MAC,
        "destination MAC from the neighbour table"
    );
    assert_eq!(
        &out[6..12],
        &mac("y0"),
        "source MAC of the egress interface"
    );
    assert_eq!(&out[26..30], &Y0.octets());
    assert_eq!(&out[30..34], &CALLEE.octets());
    assert_eq!(out[22], 64, "TTL of a fresh packet");
    assert_eq!(
        checksum(&out[14..34], 0),
        0,
        "IPv4 header checksum verifies"
    );
    assert_eq!(&out[34..36], &30002u16.to_be_bytes());
    assert_eq!(&out[36..38], &5000u16.to_be_bytes());
    assert_eq!(
        u16::from_be_bytes([out[40], out[41]]),
        udp_checksum(&out),
        "UDP checksum equals a full recomputation"
    );
    assert_eq!(&out[42..], &input[42..], "RTP header and payload untouched");
    assert_eq!(
        fx.counter(7),
        FlowCounters {
            packets: 1,
            bytes: 172
        }
    );
    assert_eq!(fx.outcome(Outcome::Redirected), 1);

    // No UDP checksum (legal over IPv4) stays none.
    let mut bare = input.clone();
    bare[40] = 0;
    bare[41] = 0;
    let (verdict, out) = fx.run(&bare);
    assert_eq!(verdict, XDP_REDIRECT);
    assert_eq!(&out[40..42], &[0, 0], "a zero UDP checksum stays zero");
    assert_eq!(fx.counter(7).packets, 2);

    // Back out of the interface it came in on: XDP_TX.
    let hairpin = action((CALLER, 4002), (X0, 30006), (HAIRPIN_PEER, 6000), 8);
    fx.flows()
        .insert(FlowKey::new(X0.octets(), 30004), hairpin, 0)
        .unwrap();
    let (verdict, out) = fx.run(&frame((CALLER, 4002), (X0, 30004)));
    assert_eq!(verdict, XDP_TX, "same interface in and out is transmitted");
    assert_eq!(&out[0..6], &HAIRPIN_MAC);
    assert_eq!(&out[6..12], &mac("x0"));
    assert_eq!(u16::from_be_bytes([out[40], out[41]]), udp_checksum(&out));
    assert_eq!(fx.outcome(Outcome::Transmitted), 1);

    // Any source, for asymmetric legs.
    let any = FlowAction {
        flags: FLOW_ANY_SOURCE,
        counter: 9,
        ..action((CALLER, 1), (Y0, 30010), (CALLEE, 5002), 9)
    };
    fx.flows()
        .insert(FlowKey::new(X0.octets(), 30008), any, 0)
        .unwrap();
    let (verdict, _) = fx.run(&frame((Ipv4Addr::new(10, 99, 0, 77), 9999), (X0, 30008)));
    assert_eq!(verdict, XDP_REDIRECT, "FLOW_ANY_SOURCE accepts any sender");

    // Telephone-events (PT 101) of a stream go to userspace, with or
    // without the marker bit; its audio (PT 0) is still forwarded.
    let punting = FlowAction {
        flags: flags_with_punt(0, 101),
        ..action((CALLER, 4006), (Y0, 30018), (CALLEE, 5006), 13)
    };
    fx.flows()
        .insert(FlowKey::new(X0.octets(), 30016), punting, 0)
        .unwrap();
    let audio = frame((CALLER, 4006), (X0, 30016));
    let punted_before = fx.outcome(Outcome::Punted);
    fx.expect_pass(
        "telephone-event",
        &with_rtp_byte1(&audio, 101),
        Outcome::Punted,
    );
    fx.expect_pass(
        "telephone-event with the marker bit",
        &with_rtp_byte1(&audio, 0x80 | 101),
        Outcome::Punted,
    );
    assert_eq!(fx.outcome(Outcome::Punted), punted_before + 2);
    let redirected = fx.outcome(Outcome::Redirected);
    let (verdict, out) = fx.run(&audio);
    assert_eq!(verdict, XDP_REDIRECT, "PT 0 of a punting flow is forwarded");
    assert_eq!(u16::from_be_bytes([out[40], out[41]]), udp_checksum(&out));
    let (verdict, _) = fx.run(&with_rtp_byte1(&audio, 0x80 | 100));
    assert_eq!(verdict, XDP_REDIRECT, "another payload type is forwarded");
    assert_eq!(fx.outcome(Outcome::Redirected), redirected + 2);
    assert_eq!(
        fx.counter(13),
        FlowCounters {
            packets: 2,
            bytes: 2 * 172
        },
        "punted packets are not the flow's: userspace counts them"
    );
    // A punting flow from another source: the source check comes first.
    fx.expect_pass(
        "telephone-event from a stranger",
        &with_rtp_byte1(&frame((CALLER, 4007), (X0, 30016)), 101),
        Outcome::WrongSource,
    );

    // Everything below is left to userspace, untouched.
    fx.expect_pass(
        "no flow",
        &frame((CALLER, 4000), (X0, 31000)),
        Outcome::NoFlow,
    );
    fx.expect_pass(
        "wrong source port",
        &frame((CALLER, 4001), (X0, 30000)),
        Outcome::WrongSource,
    );
    fx.expect_pass(
        "wrong source address",
        &frame((Ipv4Addr::new(10, 99, 0, 66), 4000), (X0, 30000)),
        Outcome::WrongSource,
    );
    fx.expect_pass("short frame", &input[..40], Outcome::Short);
    fx.expect_pass("runt RTP", &input[..50], Outcome::Short);

    let mut options = input.clone();
    // IHL 6: one option word (NOP padding) inserted after the header.
    options[14] = 0x46;
    options.splice(34..34, [1, 1, 1, 0]);
    let tot = u16::from_be_bytes([options[16], options[17]]) + 4;
    options[16..18].copy_from_slice(&tot.to_be_bytes());
    reseal_ip(&mut options);
    fx.expect_pass("IP options", &options, Outcome::IpOptions);

    let mut fragment = input.clone();
    fragment[20] = 0x20; // more fragments
    reseal_ip(&mut fragment);
    fx.expect_pass("first fragment", &fragment, Outcome::Fragment);
    let mut later = input.clone();
    later[20] = 0x00;
    later[21] = 0x10; // offset 128 bytes
    reseal_ip(&mut later);
    fx.expect_pass("later fragment", &later, Outcome::Fragment);

    let mut bad_ip = input.clone();
    bad_ip[24] ^= 0xff;
    fx.expect_pass("wrong IPv4 checksum", &bad_ip, Outcome::BadHeader);
    let mut bad_len = input.clone();
    bad_len[38] ^= 0x01; // UDP length disagrees with the IP length
    fx.expect_pass("inconsistent UDP length", &bad_len, Outcome::BadHeader);

    let mut rtcp = input.clone();
    rtcp[43] = 200; // sender report
    fx.expect_pass("RTCP", &rtcp, Outcome::NotRtp);
    let mut v1 = input.clone();
    v1[42] = 0x40;
    fx.expect_pass("not RTP version 2", &v1, Outcome::NotRtp);

    let mut tcp = input.clone();
    tcp[23] = 6;
    reseal_ip(&mut tcp);
    fx.expect_pass("TCP", &tcp, Outcome::NotUdp);
    let mut ipv6 = input.clone();
    ipv6[12..14].copy_from_slice(&[0x86, 0xdd]);
    fx.expect_pass(
        "IPv4 header under the IPv6 ethertype",
        &ipv6,
        Outcome::NotIp,
    );
    let mut vlan = input.clone();
    vlan[12..14].copy_from_slice(&[0x81, 0x00]);
    fx.expect_pass("VLAN tag", &vlan, Outcome::NotIp);

    // Next hop not resolved yet: the kernel path resolves it.
    let unresolved = action((CALLER, 4004), (Y0, 30014), (UNRESOLVED, 5004), 10);
    fx.flows()
        .insert(FlowKey::new(X0.octets(), 30012), unresolved, 0)
        .unwrap();
    fx.expect_pass(
        "no neighbour entry",
        &frame((CALLER, 4004), (X0, 30012)),
        Outcome::NoNextHop,
    );

    // Egress not allowed: the redirect target left the map.
    fx.egress().remove(y0).unwrap();
    fx.expect_pass("egress not allowed", &input, Outcome::EgressNotAllowed);
    fx.egress().insert(y0, y0, None, 0).unwrap();

    // A host that does not forward gets no next hop from the kernel.
    set_forwarding("ipv4", "x0", false);
    fx.expect_pass("forwarding off", &input, Outcome::NoNextHop);
    set_forwarding("ipv4", "x0", true);

    ipv6_cases(&mut fx, y0);

    // Removing the flow ends forwarding.
    fx.flows()
        .remove(&FlowKey::new(X0.octets(), 30000))
        .unwrap();
    fx.expect_pass("flow removed", &input, Outcome::NoFlow);
    assert_eq!(
        fx.counter(7).packets,
        2,
        "only forwarded packets are counted"
    );
}

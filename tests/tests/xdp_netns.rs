//! The XDP fast path end to end, in network namespaces this test creates:
//!
//! ```text
//!  ns carrier                  root: media-core                 ns platform
//!  c1 X.0.2 ---veth--- c0 X.0.1 [XDP]     [XDP] p0 X.1.1 ---veth--- p1 X.1.2
//! ```
//! A call is set up over NG with one leg per interface. After the first
//! packet of each direction latches in userspace, the streams move into
//! the kernel: the receivers get every packet with valid checksums (their
//! kernels count no checksum errors), `query` totals equal what was sent
//! while media-core's own workers handled only the latching packets, XDP
//! traffic keeps the call alive past the idle timeout, and `delete` stops
//! forwarding. The same holds for a call with SRTP passed end to end
//! (SDES, the answerer takes the offerer's key) and for an IPv6 call (the
//! program's IPv6 path). Run in native (driver) and generic (SKB) mode; in
//! generic mode one more call has both legs behind one interface, so the
//! program transmits back out of it (`XDP_TX`). The plain call negotiates
//! telephone-events: with its audio in the kernel, its DTMF events still
//! reach the far side through userspace (the program punts them), `block
//! DTMF` makes them disappear while the audio keeps flowing through XDP,
//! and `unblock DTMF` brings them back. Needs root.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any setup error")]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use sluice_ng::{Dict, Value};
use sluice_tests::netns::{is_root, Namespace, Veth};
use sluice_tests::ng::{self, media_core_xdp, totals};
use sluice_tests::rtp::rtp_packet;
use sluice_tests::sdp::{audio_endpoint, audio_sdp, savp_audio_sdp, Codec, PCMU};
use sluice_tests::{call_id, PortBlock, Relay, RelayKind, RelayOptions};

struct Topology {
    // Links go before namespaces (drop order is declaration order).
    _links: [Veth; 2],
    carrier: Namespace,
    platform: Namespace,
    carrier_ip: Ipv4Addr,
    platform_ip: Ipv4Addr,
    relay_carrier_ip: Ipv4Addr,
    relay_platform_ip: Ipv4Addr,
    /// IPv6 of the carrier, the platform, and the relay on each side.
    carrier_ip6: Ipv6Addr,
    platform_ip6: Ipv6Addr,
    relay_carrier_ip6: Ipv6Addr,
    relay_platform_ip6: Ipv6Addr,
    ifaces: [String; 2],
}

impl Topology {
    /// Builds the namespaces in 10.`octet`.0.0/16 and fd00:`octet`::/32.
    fn create(tag: char, octet: u8) -> Self {
        let pid = std::process::id() % 100_000;
        let carrier = Namespace::create(&format!("slx{pid}{tag}c"));
        let platform = Namespace::create(&format!("slx{pid}{tag}p"));
        let c0 = format!("sx{pid}{tag}c0");
        let p0 = format!("sx{pid}{tag}p0");
        let ip = |third: u8, last: u8| Ipv4Addr::new(10, octet, third, last);
        let links = [
            Veth::create(
                &carrier,
                &c0,
                "c1",
                &format!("{}/24", ip(0, 1)),
                &format!("{}/24", ip(0, 2)),
            ),
            Veth::create(
                &platform,
                &p0,
                "p1",
                &format!("{}/24", ip(1, 1)),
                &format!("{}/24", ip(1, 2)),
            ),
        ];
        let ip6 =
            |side: u16, last: u16| Ipv6Addr::new(0xfd00, octet.into(), side, 0, 0, 0, 0, last);
        links[0].add_ipv6(
            &carrier,
            "c1",
            &format!("{}/64", ip6(0, 1)),
            &format!("{}/64", ip6(0, 2)),
        );
        links[1].add_ipv6(
            &platform,
            "p1",
            &format!("{}/64", ip6(1, 1)),
            &format!("{}/64", ip6(1, 2)),
        );
        for (ns, end) in [(&carrier, "c1"), (&platform, "p1")] {
            // Senders here stand in for hosts on a wire: full checksums
            // (no offload), and GRO so redirected frames are delivered.
            ns.exec("ethtool", &["-K", end, "tx", "off", "gro", "on"]);
        }
        for root_end in [&c0, &p0] {
            // The kernel's next-hop lookup for XDP needs forwarding.
            for family in ["ipv4", "ipv6"] {
                sluice_tests::netns::run(
                    "sysctl",
                    &["-qw", &format!("net.{family}.conf.{root_end}.forwarding=1")],
                );
            }
        }
        Self {
            _links: links,
            carrier,
            platform,
            carrier_ip: ip(0, 2),
            platform_ip: ip(1, 2),
            relay_carrier_ip: ip(0, 1),
            relay_platform_ip: ip(1, 1),
            carrier_ip6: ip6(0, 2),
            platform_ip6: ip6(1, 2),
            relay_carrier_ip6: ip6(0, 1),
            relay_platform_ip6: ip6(1, 1),
            ifaces: [c0, p0],
        }
    }
}

/// Sends `count` RTP packets from `from` to `to` at 1 kHz, sequence
/// numbers from `first_seq`.
fn send(from: &UdpSocket, to: SocketAddr, ssrc: u32, first_seq: u16, count: u16) {
    let start = Instant::now();
    for i in 0..count {
        let due = start + Duration::from_millis(1) * u32::from(i);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        let seq = first_seq.wrapping_add(i);
        let packet = rtp_packet(ssrc, seq, u32::from(seq) * 160, 0, 160);
        from.send_to(&packet, to)
            .unwrap_or_else(|e| panic!("sending to {to}: {e}"));
    }
}

/// Receives until `quiet` passes without a packet; checks every packet
/// is ours, intact and from `relay`; returns how many arrived.
fn receive(sock: &UdpSocket, ssrc: u32, relay: SocketAddr, quiet: Duration) -> usize {
    sock.set_read_timeout(Some(quiet)).unwrap();
    let mut buf = [0u8; 2048];
    let mut n = 0;
    while let Ok((len, from)) = sock.recv_from(&mut buf) {
        assert_eq!(
            from, relay,
            "media comes from the relay's port for this leg"
        );
        assert_eq!(len, 172, "RTP length unchanged");
        assert_eq!(&buf[8..12], &ssrc.to_be_bytes(), "our SSRC");
        let seq = u16::from_be_bytes([buf[2], buf[3]]);
        let expected = rtp_packet(ssrc, seq, u32::from(seq) * 160, 0, 160);
        assert_eq!(&buf[..len], &expected[..], "payload intact");
        n += 1;
    }
    n
}

fn xdp_view(client: &mut sluice_ng::client::Client, call: &str) -> Vec<(bool, i64)> {
    media_core_xdp(&ng::query(client, call))
}

/// RFC 4733 events at payload type 101, as the plain call negotiates.
const TELEPHONE_EVENT: Codec = Codec {
    pt: 101,
    rtpmap: "telephone-event/8000",
};

/// One DTMF digit (`event`) as RFC 4733 packets from sequence number
/// `seq`: a first packet with the marker bit, growing durations, and the
/// end packet sent three times.
fn digit(ssrc: u32, seq: u16, timestamp: u32, event: u8) -> Vec<Vec<u8>> {
    (0..6u16)
        .map(|i| {
            let mut p = rtp_packet(ssrc, seq + i, timestamp, TELEPHONE_EVENT.pt, 0);
            if i == 0 {
                p[1] |= 0x80;
            }
            let end = i >= 3;
            p.push(event);
            p.push(if end { 0x80 | 10 } else { 10 });
            p.extend_from_slice(&(160 * (i.min(3) + 1)).to_be_bytes());
            p
        })
        .collect()
}

/// Sends `packets` from `from` to `to` at 1 kHz.
fn send_packets(from: &UdpSocket, to: SocketAddr, packets: &[Vec<u8>]) {
    for p in packets {
        from.send_to(p, to)
            .unwrap_or_else(|e| panic!("sending to {to}: {e}"));
        thread::sleep(Duration::from_millis(1));
    }
}

/// Receives until `quiet` passes without a packet; checks every packet
/// comes from `relay` and is, byte for byte, the one of `sent` with its
/// sequence number; returns the second RTP byte of each, in order.
fn receive_sent(sock: &UdpSocket, relay: SocketAddr, sent: &[Vec<u8>], quiet: Duration) -> Vec<u8> {
    let by_seq: BTreeMap<u16, &Vec<u8>> = sent
        .iter()
        .map(|p| (u16::from_be_bytes([p[2], p[3]]), p))
        .collect();
    sock.set_read_timeout(Some(quiet)).unwrap();
    let mut buf = [0u8; 2048];
    let mut got = Vec::new();
    while let Ok((len, from)) = sock.recv_from(&mut buf) {
        assert_eq!(
            from, relay,
            "media comes from the relay's port for this leg"
        );
        assert!(len >= 12, "an RTP packet: {len} bytes");
        let seq = u16::from_be_bytes([buf[2], buf[3]]);
        let want = by_seq
            .get(&seq)
            .unwrap_or_else(|| panic!("sequence number {seq} was not sent"));
        assert_eq!(&buf[..len], &want[..], "packet {seq} intact");
        got.push(buf[1]);
    }
    got
}

/// Packets forwarded by the XDP program for `call`, as `query` reports.
fn xdp_packets(query_reply: &Dict) -> i64 {
    media_core_xdp(query_reply).iter().map(|(_, p)| p).sum()
}

/// `block DTMF` (`blocked`) or `unblock DTMF` for the caller's digits.
fn block_dtmf(client: &mut sluice_ng::client::Client, call: &str, blocked: bool) {
    let command = if blocked {
        "block DTMF"
    } else {
        "unblock DTMF"
    };
    let req = Dict::new()
        .with("command", command)
        .with("call-id", call)
        .with("from-tag", "carrier");
    ng::expect_ok(ng::send(client, &req, command), command);
}

/// With both streams of `call` offloaded: the caller's DTMF events reach
/// the callee through userspace (the program punts them, so the query's
/// XDP share does not count them); blocked, they vanish while the audio
/// keeps flowing through XDP; unblocked, they are back.
fn dtmf_takes_the_userspace_path(
    client: &mut sluice_ng::client::Client,
    call: &str,
    ends: &Endpoints,
    relayed: &Relayed,
) {
    let (to_relay, from_relay) = (relayed.for_caller, relayed.for_callee);
    let events_of = |got: &[u8]| got.iter().filter(|b| *b & 0x7f == 101).count();
    let audio_of = |got: &[u8]| got.iter().filter(|b| *b & 0x7f == 0).count();

    let before = xdp_packets(&ng::query(client, call));
    let digit_5 = digit(UP, 3000, 480_000, 5);
    send_packets(&ends.caller, to_relay, &digit_5);
    let got = receive_sent(
        &ends.callee,
        from_relay,
        &digit_5,
        Duration::from_millis(500),
    );
    assert_eq!(events_of(&got), 6, "every event arrives: {got:?}");
    assert_eq!(got[0], 0x80 | 101, "marker bit kept");
    let reply = ng::query(client, call);
    assert_eq!(
        xdp_packets(&reply),
        before,
        "events went through userspace, not XDP: {}",
        ng::show(&reply)
    );

    // Blocked: events are dropped by the worker, the audio between them
    // is still forwarded by the kernel. The query after the command also
    // orders the worker's reconfiguration before the packets below (one
    // command queue per worker).
    block_dtmf(client, call, true);
    let reply = ng::query(client, call);
    let before = xdp_packets(&reply);
    let blocked_before = ng::media_core_drops_for(&reply, "DTMF blocked").unwrap_or(0);
    let mut mixed: Vec<Vec<u8>> = (0..40u16)
        .map(|i| rtp_packet(UP, 3100 + i, 500_000 + 160 * u32::from(i), 0, 160))
        .collect();
    let digit_7 = digit(UP, 3200, 501_600, 7);
    for (at, event) in digit_7.into_iter().enumerate() {
        mixed.insert(10 + 2 * at, event);
    }
    send_packets(&ends.caller, to_relay, &mixed);
    let got = receive_sent(&ends.callee, from_relay, &mixed, Duration::from_millis(500));
    assert_eq!(events_of(&got), 0, "blocked events are dropped: {got:?}");
    assert_eq!(audio_of(&got), 40, "the audio keeps flowing");
    let reply = ng::query(client, call);
    assert_eq!(
        xdp_packets(&reply),
        before + 40,
        "the audio went through XDP: {}",
        ng::show(&reply)
    );
    assert_eq!(
        ng::media_core_drops_for(&reply, "DTMF blocked").unwrap_or(0),
        blocked_before + 6,
        "the worker dropped the events: {}",
        ng::show(&reply)
    );

    // Unblocked: the events are back, still through userspace.
    block_dtmf(client, call, false);
    let before = xdp_packets(&ng::query(client, call));
    let digit_9 = digit(UP, 3300, 520_000, 9);
    send_packets(&ends.caller, to_relay, &digit_9);
    let got = receive_sent(
        &ends.callee,
        from_relay,
        &digit_9,
        Duration::from_millis(500),
    );
    assert_eq!(events_of(&got), 6, "unblocked events arrive: {got:?}");
    assert_eq!(xdp_packets(&ng::query(client, call)), before);
}

fn fast_path_end_to_end(mode: &str, tag: char, octet: u8) {
    if !is_root() {
        println!("SKIPPED: network namespaces and XDP need root");
        return;
    }
    if !sluice_tests::require("xdp_netns", "ethtool") {
        return;
    }
    let topo = Topology::create(tag, octet);
    let mut ports = PortBlock::new();
    let relay = Relay::start(
        RelayKind::MediaCore,
        &mut ports,
        &RelayOptions {
            interface: topo.relay_carrier_ip,
            timeout_secs: 3,
            extra_args: vec![
                "--interface".into(),
                format!("platform/{}", topo.relay_platform_ip),
                "--interface".into(),
                format!("carrier6/{}", topo.relay_carrier_ip6),
                "--interface".into(),
                format!("platform6/{}", topo.relay_platform_ip6),
                "--xdp".into(),
                topo.ifaces[0].clone(),
                "--xdp".into(),
                topo.ifaces[1].clone(),
                "--xdp-mode".into(),
                mode.into(),
                "--log-level".into(),
                "info".into(),
            ],
            ..RelayOptions::default()
        },
    );
    let log = relay.log_tail(40);
    assert!(
        log.contains("XDP fast path attached") && log.contains(&format!("mode=\"{mode}\"")),
        "media-core attached XDP in {mode} mode; log:\n{log}"
    );

    let mut client = relay.client();
    let carrier_side = topo.relay_carrier_ip.to_string();
    let across = [carrier_side.as_str(), "platform"];
    let plain = Endpoints::bind(
        (
            &topo.carrier,
            SocketAddr::new(topo.carrier_ip.into(), 40_000),
        ),
        (
            &topo.platform,
            SocketAddr::new(topo.platform_ip.into(), 42_000),
        ),
    );
    let call = call_id("xdp");
    let with_dtmf = [plain.caller_addr, plain.callee_addr]
        .map(|a| audio_sdp(a.ip(), a.port(), &[PCMU, TELEPHONE_EVENT], 20));
    let relayed = plain.set_up(&mut client, &call, across, &with_dtmf);
    assert_eq!(relayed.for_caller.ip(), IpAddr::V4(topo.relay_carrier_ip));
    assert_eq!(relayed.for_callee.ip(), IpAddr::V4(topo.relay_platform_ip));
    plain.offload_and_count(&mut client, &topo, &call, &relayed);
    dtmf_takes_the_userspace_path(&mut client, &call, &plain, &relayed);

    // XDP traffic is activity: 4 s of it outlive a 3 s idle timeout.
    for i in 0..80u16 {
        send(&plain.caller, relayed.for_caller, UP, 2000 + i, 1);
        thread::sleep(Duration::from_millis(50));
    }
    let _ = receive(
        &plain.callee,
        UP,
        relayed.for_callee,
        Duration::from_millis(100),
    );
    assert!(
        ng::list(&mut client).contains(&call),
        "the call lives while XDP forwards its media"
    );

    // Delete: forwarding stops.
    ng::delete(&mut client, &call, "carrier");
    send(&plain.caller, relayed.for_caller, UP, 5000, 20);
    assert_eq!(
        receive(
            &plain.callee,
            UP,
            relayed.for_callee,
            Duration::from_millis(500)
        ),
        0,
        "nothing is forwarded after delete"
    );

    // SRTP passed end to end (the answerer takes the offerer's key) needs
    // no payload change either: the kernel forwards it too.
    let srtp = Endpoints::bind(
        (
            &topo.carrier,
            SocketAddr::new(topo.carrier_ip.into(), 40_010),
        ),
        (
            &topo.platform,
            SocketAddr::new(topo.platform_ip.into(), 42_010),
        ),
    );
    let call = call_id("xdp-srtp");
    let line =
        ["1 AES_CM_128_HMAC_SHA1_80 inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk".to_string()];
    let relayed = srtp.set_up(&mut client, &call, across, &srtp.sdp(&line));
    let reply = ng::query(&mut client, &call);
    assert!(
        ng::show(&reply).contains("pass-through"),
        "SDES pass-through negotiated: {}",
        ng::show(&reply)
    );
    srtp.offload_and_count(&mut client, &topo, &call, &relayed);
    ng::delete(&mut client, &call, "carrier");

    // IPv6 on both legs takes the program's IPv6 path.
    let v6 = Endpoints::bind(
        (
            &topo.carrier,
            SocketAddr::new(topo.carrier_ip6.into(), 40_040),
        ),
        (
            &topo.platform,
            SocketAddr::new(topo.platform_ip6.into(), 42_040),
        ),
    );
    let call = call_id("xdp-ipv6");
    let relayed = v6.set_up(&mut client, &call, ["carrier6", "platform6"], &v6.sdp(&[]));
    assert_eq!(relayed.for_caller.ip(), IpAddr::V6(topo.relay_carrier_ip6));
    assert_eq!(relayed.for_callee.ip(), IpAddr::V6(topo.relay_platform_ip6));
    v6.offload_and_count(&mut client, &topo, &call, &relayed);
    ng::delete(&mut client, &call, "carrier");

    if mode == "generic" {
        // Both legs behind the same interface: the program sends the
        // packet back out where it came in (XDP_TX). On veth, native-mode
        // XDP_TX needs a program on the peer too, so only generic mode
        // runs this here.
        let hairpin = Endpoints::bind(
            (
                &topo.carrier,
                SocketAddr::new(topo.carrier_ip.into(), 40_020),
            ),
            (
                &topo.carrier,
                SocketAddr::new(topo.carrier_ip.into(), 40_030),
            ),
        );
        let call = call_id("xdp-hairpin");
        let same = [carrier_side.as_str(), carrier_side.as_str()];
        let relayed = hairpin.set_up(&mut client, &call, same, &hairpin.sdp(&[]));
        hairpin.offload_and_count(&mut client, &topo, &call, &relayed);
        ng::delete(&mut client, &call, "carrier");
    }
}

const UP: u32 = 0x0000_c0de;
const DOWN: u32 = 0x0000_beef;
/// Packets per direction once a stream is offloaded.
const N: u16 = 1000;

/// The relay's addresses for each party of one call.
struct Relayed {
    for_caller: SocketAddr,
    for_callee: SocketAddr,
}

/// One call's parties: a socket each, in their namespaces.
struct Endpoints {
    caller: UdpSocket,
    callee: UdpSocket,
    caller_addr: SocketAddr,
    callee_addr: SocketAddr,
}

impl Endpoints {
    fn bind(caller: (&Namespace, SocketAddr), callee: (&Namespace, SocketAddr)) -> Self {
        Self {
            caller: caller.0.bind_udp(caller.1),
            callee: callee.0.bind_udp(callee.1),
            caller_addr: caller.1,
            callee_addr: callee.1,
        }
    }

    /// The caller's and the callee's SDP (RTP/SAVP with `crypto` lines
    /// if any).
    fn sdp(&self, crypto: &[String]) -> [String; 2] {
        [self.caller_addr, self.callee_addr].map(|a| {
            if crypto.is_empty() {
                audio_sdp(a.ip(), a.port(), &[PCMU], 20)
            } else {
                savp_audio_sdp(a.ip(), a.port(), &[PCMU], 20, crypto)
            }
        })
    }

    /// Offer from the caller, answer from the callee, each leg on the
    /// named interface; returns where the relay wants each party's media.
    fn set_up(
        &self,
        client: &mut sluice_ng::client::Client,
        call: &str,
        direction: [&str; 2],
        [offer, answer]: &[String; 2],
    ) -> Relayed {
        let direction = Value::List(direction.iter().map(|d| (*d).into()).collect());
        let to_callee = ng::offer_with(client, call, "carrier", offer, &[("direction", direction)]);
        let to_caller = ng::answer(client, call, "carrier", "platform", answer);
        Relayed {
            for_callee: audio_endpoint(&to_callee).expect("offer has an endpoint"),
            for_caller: audio_endpoint(&to_caller).expect("answer has an endpoint"),
        }
    }

    /// One packet each way latches both legs in userspace; then both
    /// streams must move into the kernel and carry N packets each way,
    /// intact, with valid checksums, counted exactly.
    fn offload_and_count(
        &self,
        client: &mut sluice_ng::client::Client,
        topo: &Topology,
        call: &str,
        relayed: &Relayed,
    ) {
        let namespaces = [&topo.carrier, &topo.platform];
        let csum_errors =
            |ns: &Namespace| (ns.snmp("Udp", "InCsumErrors"), ns.snmp6("Udp6InCsumErrors"));
        let csum_errors_before = namespaces.map(csum_errors);
        let (for_caller, for_callee) = (relayed.for_caller, relayed.for_callee);
        send(&self.caller, for_caller, UP, 0, 1);
        send(&self.callee, for_callee, DOWN, 0, 1);
        assert_eq!(
            receive(&self.callee, UP, for_callee, Duration::from_millis(500)),
            1
        );
        assert_eq!(
            receive(&self.caller, DOWN, for_caller, Duration::from_millis(500)),
            1
        );
        let deadline = Instant::now() + Duration::from_secs(3);
        while xdp_view(client, call)
            .iter()
            .filter(|(active, _)| *active)
            .count()
            < 2
        {
            assert!(
                Instant::now() < deadline,
                "both streams offloaded after latching: {}",
                ng::show(&ng::query(client, call))
            );
            thread::sleep(Duration::from_millis(20));
        }

        let up = {
            let callee = self.callee.try_clone().unwrap();
            thread::spawn(move || receive(&callee, UP, for_callee, Duration::from_millis(700)))
        };
        let down = {
            let caller = self.caller.try_clone().unwrap();
            thread::spawn(move || receive(&caller, DOWN, for_caller, Duration::from_millis(700)))
        };
        let sender = {
            let callee = self.callee.try_clone().unwrap();
            thread::spawn(move || send(&callee, for_callee, DOWN, 1, N))
        };
        send(&self.caller, for_caller, UP, 1, N);
        sender.join().unwrap();
        assert_eq!(
            up.join().unwrap(),
            usize::from(N),
            "caller -> callee: every packet arrives"
        );
        assert_eq!(
            down.join().unwrap(),
            usize::from(N),
            "callee -> caller: every packet arrives"
        );
        for (ns, before) in namespaces.into_iter().zip(csum_errors_before) {
            assert_eq!(
                csum_errors(ns),
                before,
                "{}: no UDP checksum errors",
                ns.name()
            );
        }

        let reply = ng::query(client, call);
        let (rtp, _) = totals(&reply);
        assert_eq!(
            rtp.packets,
            2 * (i64::from(N) + 1),
            "query totals count every packet: {}",
            ng::show(&reply)
        );
        assert_eq!(rtp.bytes, 2 * (i64::from(N) + 1) * 172);
        assert_eq!(
            media_core_xdp(&reply).iter().map(|(_, p)| p).sum::<i64>(),
            2 * i64::from(N),
            "after latching the workers saw no packet of either stream: {}",
            ng::show(&reply)
        );
    }
}

/// The two modes run one after the other. Side by side on a 2-core
/// machine (two relays, four paced senders), one clean-clone run lost 129
/// of 1,000 packets in generic mode; three reruns passed. The cause is
/// not established; running them apart removes the contention.
static ONE_TOPOLOGY_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn xdp_native_mode_forwards_offloaded_streams_in_the_kernel() {
    let _one = ONE_TOPOLOGY_AT_A_TIME
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    fast_path_end_to_end("native", 'n', 231);
}

#[test]
fn xdp_generic_mode_forwards_offloaded_streams_in_the_kernel() {
    let _one = ONE_TOPOLOGY_AT_A_TIME
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    fast_path_end_to_end("generic", 'g', 232);
}

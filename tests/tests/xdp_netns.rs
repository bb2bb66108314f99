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
//! forwarding. A second call, SRTP passed end to end (SDES, the answerer
//! takes the offerer's key), is offloaded the same way. Run in native
//! (driver) and generic (SKB) mode. Needs root.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any setup error")]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use sluice_ng::Value;
use sluice_tests::netns::{is_root, Namespace, Veth};
use sluice_tests::ng::{self, media_core_xdp, totals};
use sluice_tests::rtp::rtp_packet;
use sluice_tests::sdp::{audio_endpoint, audio_sdp, savp_audio_sdp, PCMU};
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
    ifaces: [String; 2],
}

impl Topology {
    /// Builds the namespaces in 10.`octet`.0.0/16.
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
        for (ns, end) in [(&carrier, "c1"), (&platform, "p1")] {
            // Senders here stand in for hosts on a wire: full checksums
            // (no offload), and GRO so redirected frames are delivered.
            ns.exec("ethtool", &["-K", end, "tx", "off", "gro", "on"]);
        }
        for root_end in [&c0, &p0] {
            // The kernel's next-hop lookup for XDP needs forwarding.
            sluice_tests::netns::run(
                "sysctl",
                &["-qw", &format!("net.ipv4.conf.{root_end}.forwarding=1")],
            );
        }
        Self {
            _links: links,
            carrier,
            platform,
            carrier_ip: ip(0, 2),
            platform_ip: ip(1, 2),
            relay_carrier_ip: ip(0, 1),
            relay_platform_ip: ip(1, 1),
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
    let plain = Endpoints::new(&topo, 40_000, 42_000);
    let call = call_id("xdp");
    let offer = audio_sdp(IpAddr::V4(topo.carrier_ip), plain.carrier_port, &[PCMU], 20);
    let answer = audio_sdp(
        IpAddr::V4(topo.platform_ip),
        plain.platform_port,
        &[PCMU],
        20,
    );
    let relayed = plain.set_up(&mut client, &topo, &call, &offer, &answer);
    plain.offload_and_count(&mut client, &topo, &call, &relayed);

    // XDP traffic is activity: 4 s of it outlive a 3 s idle timeout.
    for i in 0..80u16 {
        send(&plain.carrier, relayed.for_carrier, UP, 2000 + i, 1);
        thread::sleep(Duration::from_millis(50));
    }
    let _ = receive(
        &plain.platform,
        UP,
        relayed.for_platform,
        Duration::from_millis(100),
    );
    assert!(
        ng::list(&mut client).contains(&call),
        "the call lives while XDP forwards its media"
    );

    // Delete: forwarding stops.
    ng::delete(&mut client, &call, "carrier");
    send(&plain.carrier, relayed.for_carrier, UP, 5000, 20);
    assert_eq!(
        receive(
            &plain.platform,
            UP,
            relayed.for_platform,
            Duration::from_millis(500)
        ),
        0,
        "nothing is forwarded after delete"
    );

    // SRTP passed end to end (the answerer takes the offerer's key) needs
    // no payload change either: the kernel forwards it too.
    let srtp = Endpoints::new(&topo, 40_010, 42_010);
    let call = call_id("xdp-srtp");
    let line = vec![
        "1 AES_CM_128_HMAC_SHA1_80 inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk".to_string(),
    ];
    let offer = savp_audio_sdp(
        IpAddr::V4(topo.carrier_ip),
        srtp.carrier_port,
        &[PCMU],
        20,
        &line,
    );
    let answer = savp_audio_sdp(
        IpAddr::V4(topo.platform_ip),
        srtp.platform_port,
        &[PCMU],
        20,
        &line,
    );
    let relayed = srtp.set_up(&mut client, &topo, &call, &offer, &answer);
    let reply = ng::query(&mut client, &call);
    assert!(
        ng::show(&reply).contains("pass-through"),
        "SDES pass-through negotiated: {}",
        ng::show(&reply)
    );
    srtp.offload_and_count(&mut client, &topo, &call, &relayed);
    ng::delete(&mut client, &call, "carrier");
}

const UP: u32 = 0x0000_c0de;
const DOWN: u32 = 0x0000_beef;
/// Packets per direction once a stream is offloaded.
const N: u16 = 1000;

/// The relay's addresses for each side of one call.
struct Relayed {
    for_carrier: SocketAddr,
    for_platform: SocketAddr,
}

/// One call's endpoints: a socket in each namespace.
struct Endpoints {
    carrier_port: u16,
    platform_port: u16,
    carrier: UdpSocket,
    platform: UdpSocket,
}

impl Endpoints {
    fn new(topo: &Topology, carrier_port: u16, platform_port: u16) -> Self {
        Self {
            carrier_port,
            platform_port,
            carrier: topo
                .carrier
                .bind_udp(SocketAddr::new(topo.carrier_ip.into(), carrier_port)),
            platform: topo
                .platform
                .bind_udp(SocketAddr::new(topo.platform_ip.into(), platform_port)),
        }
    }

    /// Offer from the carrier (one leg per interface), answer from the
    /// platform; returns where the relay wants each side's media.
    fn set_up(
        &self,
        client: &mut sluice_ng::client::Client,
        topo: &Topology,
        call: &str,
        offer: &str,
        answer: &str,
    ) -> Relayed {
        let direction = Value::List(vec![
            topo.relay_carrier_ip.to_string().into(),
            "platform".into(),
        ]);
        let to_platform =
            ng::offer_with(client, call, "carrier", offer, &[("direction", direction)]);
        let to_carrier = ng::answer(client, call, "carrier", "platform", answer);
        let relayed = Relayed {
            for_platform: audio_endpoint(&to_platform).expect("offer has an endpoint"),
            for_carrier: audio_endpoint(&to_carrier).expect("answer has an endpoint"),
        };
        assert_eq!(
            relayed.for_platform.ip(),
            IpAddr::V4(topo.relay_platform_ip)
        );
        assert_eq!(relayed.for_carrier.ip(), IpAddr::V4(topo.relay_carrier_ip));
        relayed
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
        let csum_errors_before =
            [&topo.carrier, &topo.platform].map(|ns| ns.snmp("Udp", "InCsumErrors"));
        send(&self.carrier, relayed.for_carrier, UP, 0, 1);
        send(&self.platform, relayed.for_platform, DOWN, 0, 1);
        assert_eq!(
            receive(
                &self.platform,
                UP,
                relayed.for_platform,
                Duration::from_millis(500)
            ),
            1
        );
        assert_eq!(
            receive(
                &self.carrier,
                DOWN,
                relayed.for_carrier,
                Duration::from_millis(500)
            ),
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

        let (for_carrier, for_platform) = (relayed.for_carrier, relayed.for_platform);
        let up = {
            let platform = self.platform.try_clone().unwrap();
            thread::spawn(move || receive(&platform, UP, for_platform, Duration::from_millis(700)))
        };
        let down = {
            let carrier = self.carrier.try_clone().unwrap();
            thread::spawn(move || receive(&carrier, DOWN, for_carrier, Duration::from_millis(700)))
        };
        let sender = {
            let platform = self.platform.try_clone().unwrap();
            thread::spawn(move || send(&platform, for_platform, DOWN, 1, N))
        };
        send(&self.carrier, for_carrier, UP, 1, N);
        sender.join().unwrap();
        assert_eq!(
            up.join().unwrap(),
            usize::from(N),
            "carrier -> platform: every packet arrives"
        );
        assert_eq!(
            down.join().unwrap(),
            usize::from(N),
            "platform -> carrier: every packet arrives"
        );
        for (ns, before) in [&topo.carrier, &topo.platform]
            .into_iter()
            .zip(csum_errors_before)
        {
            assert_eq!(
                ns.snmp("Udp", "InCsumErrors"),
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

#[test]
fn xdp_native_mode_forwards_offloaded_streams_in_the_kernel() {
    fast_path_end_to_end("native", 'n', 231);
}

#[test]
fn xdp_generic_mode_forwards_offloaded_streams_in_the_kernel() {
    fast_path_end_to_end("generic", 'g', 232);
}

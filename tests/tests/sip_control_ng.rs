//! sip-control's media side against the real relays: `MediaNodes` pings,
//! places a PCMU call's offer, answers it, plays and blocks DTMF, reads
//! the packets one party sent from `query`, and deletes the call, once
//! against media-core and once against rtpengine (when installed). The
//! same client code, and the same assertions, for both.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use sip_control::config::{MediaConfig, MediaNode};
use sip_control::media::commands::{self, AnswerParams, DtmfDigit, OfferParams, SdpOptions};
use sip_control::media::{
    call_hash, packets_from, replies, reply_sdp, MediaError, MediaNodes, NgError, NodeId,
    TransportProtocol,
};
use sluice_tests::relay::{RelayKind, RelayOptions};
use sluice_tests::rtp::rtp_packet;
use sluice_tests::sdp::{audio_endpoint, audio_payload_types, audio_sdp, Codec, PCMU};
use sluice_tests::{call_id, PortBlock, Relay};
use tokio::net::UdpSocket;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const TE: Codec = Codec {
    pt: 101,
    rtpmap: "telephone-event/8000",
};
/// Packets the platform sends before the query.
const PLATFORM_PACKETS: u16 = 25;

#[test]
fn media_core_speaks_sip_controls_ng() {
    run(RelayKind::MediaCore);
}

#[test]
fn rtpengine_speaks_sip_controls_ng() {
    if !RelayKind::Rtpengine.available("sip_control_ng::rtpengine_speaks_sip_controls_ng") {
        return;
    }
    run(RelayKind::Rtpengine);
}

fn run(kind: RelayKind) {
    let mut ports = PortBlock::new();
    let mut relay = Relay::start(kind, &mut ports, &RelayOptions::default());
    let (carrier_port, platform_port) = (ports.take(2), ports.take(2));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(scenario(&relay, kind, carrier_port, platform_port));
    relay.assert_running("after the scenario");
}

fn label(kind: RelayKind) -> &'static str {
    match kind {
        RelayKind::MediaCore => "media-core",
        RelayKind::Rtpengine => "rtpengine",
    }
}

fn sdp_options() -> SdpOptions {
    SdpOptions {
        via_branch: Some("z9hG4bK-sluice-1".into()),
        transport: TransportProtocol::RtpAvp,
        // `play DTMF` needs the call's audio to run through a transcoder.
        flags: vec!["inject DTMF".into()],
        ..Default::default()
    }
}

async fn bind(port: u16) -> UdpSocket {
    UdpSocket::bind((LOCALHOST, port))
        .await
        .unwrap_or_else(|e| panic!("binding 127.0.0.1:{port}: {e}"))
}

/// Sends PCMU packets `seqs` (sequence numbers, timestamps following)
/// 20 ms apart from `from` to `to`.
async fn send_audio(from: &UdpSocket, to: SocketAddr, ssrc: u32, seqs: std::ops::Range<u16>) {
    for seq in seqs {
        let p = rtp_packet(ssrc, seq, u32::from(seq) * 160, PCMU.pt, 160);
        from.send_to(&p, to)
            .await
            .unwrap_or_else(|e| panic!("sending RTP to {to}: {e}"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Everything `socket` receives until it is quiet for 300 ms.
async fn drain(socket: &UdpSocket) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_millis(300), socket.recv(&mut buf)).await
    {
        got.push(buf[..n].to_vec());
        if got.len() > 2000 {
            break;
        }
    }
    got
}

async fn query(nodes: &MediaNodes, node: NodeId, call: &str) -> sluice_ng::Dict {
    nodes
        .request_on(node, commands::query(call))
        .await
        .unwrap_or_else(|e| panic!("query: {e}"))
}

async fn scenario(relay: &Relay, kind: RelayKind, carrier_port: u16, platform_port: u16) {
    let name = label(kind);
    let cfg = MediaConfig {
        nodes: vec![MediaNode {
            name: name.into(),
            address: relay.ng_addr(),
        }],
        timeout: Duration::from_secs(2),
        ping_interval: Duration::from_secs(1),
    };
    let nodes = MediaNodes::new(&cfg).expect("NG client sockets");
    let id = nodes.ids().next().expect("one node");

    // ping
    let rtt = nodes.ping(id).await;
    assert!(rtt.is_some(), "{name}: no pong");
    let status = &nodes.snapshot()[0];
    assert!(status.up && status.rtt.is_some(), "{name}: {status:?}");

    // offer, from the carrier
    let call = call_id("sip_control_ng");
    let carrier = bind(carrier_port).await;
    let platform = bind(platform_port).await;
    let offer = OfferParams {
        call_id: call.clone(),
        from_tag: "carrier".into(),
        sdp: audio_sdp(LOCALHOST, carrier_port, &[PCMU, TE], 20).into_bytes(),
        options: sdp_options(),
        ..Default::default()
    };
    let (node, reply) = nodes
        .offer(&offer, call_hash(&call))
        .await
        .unwrap_or_else(|e| panic!("{name}: offer: {e}"));
    assert_eq!(node, id);
    let to_platform =
        String::from_utf8(reply_sdp(&reply).expect("offer reply has sdp")).expect("SDP is text");
    let relay_for_platform = audio_endpoint(&to_platform)
        .unwrap_or_else(|| panic!("{name}: no audio endpoint in\n{to_platform}"));
    let (lo, hi) = relay.media_ports();
    assert!(
        (lo..=hi).contains(&relay_for_platform.port()),
        "{name}: {relay_for_platform} outside {lo}..={hi}"
    );
    assert!(
        audio_payload_types(&to_platform).starts_with(&[PCMU.pt]),
        "{name}: {to_platform}"
    );
    assert!(!to_platform.contains("a=ice-"), "{name}: ICE removed");

    // answer, from the platform
    let answer = AnswerParams {
        call_id: call.clone(),
        from_tag: "carrier".into(),
        to_tag: "platform".into(),
        sdp: audio_sdp(LOCALHOST, platform_port, &[PCMU, TE], 20).into_bytes(),
        options: sdp_options(),
    };
    let reply = nodes
        .request_on(node, commands::answer(&answer))
        .await
        .unwrap_or_else(|e| panic!("{name}: answer: {e}"));
    let to_carrier =
        String::from_utf8(reply_sdp(&reply).expect("answer reply has sdp")).expect("SDP is text");
    let relay_for_carrier = audio_endpoint(&to_carrier)
        .unwrap_or_else(|| panic!("{name}: no audio endpoint in\n{to_carrier}"));

    // Nothing sent yet.
    let q = query(&nodes, node, &call).await;
    assert_eq!(packets_from(&q, "platform"), Some(0), "{name}: {q:?}");
    assert_eq!(packets_from(&q, "carrier"), Some(0), "{name}: {q:?}");
    assert_eq!(packets_from(&q, "nobody"), None);

    // The platform speaks first: time to first audio is read from its count.
    send_audio(
        &platform,
        relay_for_platform,
        0x0b0b_0b0b,
        0..PLATFORM_PACKETS,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(3);
    let from_platform = loop {
        let q = query(&nodes, node, &call).await;
        let n = packets_from(&q, "platform");
        if n >= Some(u64::from(PLATFORM_PACKETS)) || Instant::now() >= deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        from_platform,
        Some(u64::from(PLATFORM_PACKETS)),
        "{name}: packets counted from the platform"
    );
    let q = query(&nodes, node, &call).await;
    assert_eq!(packets_from(&q, "carrier"), Some(0), "{name}: {q:?}");
    let at_carrier = drain(&carrier).await;
    assert!(
        !at_carrier.is_empty(),
        "{name}: the platform's audio reached the carrier"
    );

    // `play DTMF` on behalf of the carrier, while the carrier's audio
    // flows: the platform hears telephone-events for 5. rtpengine refuses
    // it ("No SSRC context present for DTMF injection") until the party
    // the digit comes from has sent RTP, so the carrier speaks first.
    send_audio(&carrier, relay_for_carrier, 0x0a0a_0a0a, 0..10).await;
    let digit = DtmfDigit::try_from('5').expect("a digit");
    let play = commands::play_dtmf(&call, "carrier", digit, 200, 10);
    nodes
        .request_on(node, play)
        .await
        .unwrap_or_else(|e| panic!("{name}: play DTMF: {e}"));
    send_audio(&carrier, relay_for_carrier, 0x0a0a_0a0a, 10..40).await;
    let at_platform = drain(&platform).await;
    let events: Vec<&Vec<u8>> = at_platform
        .iter()
        .filter(|p| p.len() >= 16 && p[1] & 0x7f == TE.pt)
        .collect();
    assert!(
        !events.is_empty() && events.iter().all(|p| p[12] == 5),
        "{name}: telephone-events at the platform: {events:?} (of {} packets)",
        at_platform.len()
    );

    for cmd in [
        commands::block_dtmf(&call, "carrier"),
        commands::unblock_dtmf(&call, "carrier"),
    ] {
        nodes
            .request_on(node, cmd.clone())
            .await
            .unwrap_or_else(|e| panic!("{name}: {cmd:?}: {e}"));
    }

    // delete
    let deleted = nodes
        .request_on(node, commands::delete(&call, "carrier", None))
        .await
        .unwrap_or_else(|e| panic!("{name}: delete: {e}"));
    // Both relays report the call's counters in the delete reply too.
    assert_eq!(
        packets_from(&deleted, "platform"),
        Some(u64::from(PLATFORM_PACKETS)),
        "{name}: delete reply {deleted:?}"
    );
    match nodes.request_on(node, commands::query(&call)).await {
        Err(NgError::Error { reason }) => assert!(!reason.is_empty(), "{name}"),
        other => panic!("{name}: query after delete: {other:?}"),
    }
    // A second delete is `ok` with a warning (no `fatal` flag).
    let again = nodes
        .request_on(node, commands::delete(&call, "carrier", None))
        .await
        .unwrap_or_else(|e| panic!("{name}: second delete: {e}"));
    assert!(
        replies::warning(&again).is_some_and(|w| !w.is_empty()),
        "{name}: second delete {again:?}"
    );

    // An offer the relay cannot parse is refused, not failed over.
    let broken = OfferParams {
        call_id: call_id("sip_control_ng"),
        from_tag: "carrier".into(),
        sdp: b"this is not SDP".to_vec(),
        ..Default::default()
    };
    match nodes.offer(&broken, 0).await {
        Err(MediaError::Node {
            node: n,
            source: NgError::Error { reason },
        }) => {
            assert_eq!(n, id);
            assert!(!reason.is_empty(), "{name}");
        }
        other => panic!("{name}: broken offer: {other:?}"),
    }
    let status = &nodes.snapshot()[0];
    assert!(status.up, "{name}: {status:?}");
    assert_eq!(status.failures, 0, "{name}: {status:?}");
}

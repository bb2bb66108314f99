//! A call through the relay carrying real audio: ffmpeg sends a 1 kHz PCMU
//! sine in 20 ms packets, ffmpeg on the far side records it, sox checks
//! that length, pitch and level survived; then the other direction; RTCP
//! passes; `delete` removes the call.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::thread;
use std::time::{Duration, Instant};

use sluice_tests::media::{check_sine, reference_pcmu_sine, sine_through, SoxStat};
use sluice_tests::relay::RelayKind;
use sluice_tests::sdp::{audio_endpoint, audio_sdp, PCMU};
use sluice_tests::{call_id, ng, peers, PortBlock, Relay, TempDir};

const TEST: &str = "ffmpeg_audio";
const SECS: u32 = 4;
const FREQ: u32 = 1000;
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn one_direction(dir: &TempDir, from_port: u16, relay_port: SocketAddr, to_port: u16) -> SoxStat {
    sine_through(
        dir,
        from_port,
        relay_port,
        to_port,
        (SECS, FREQ),
        None,
        None,
    )
}

fn check_audio(what: &str, got: SoxStat, reference: SoxStat) {
    check_sine(what, got, reference, SECS, FREQ);
}

#[test]
fn pcmu_both_directions_rtcp_and_delete() {
    let kind = RelayKind::from_env();
    if !kind.available(TEST) || !peers::require_all(TEST, &["ffmpeg", "sox"]) {
        return;
    }
    let dir = TempDir::new(TEST);
    let mut ports = PortBlock::new();
    let relay = Relay::from_env(&mut ports);
    let mut ng_client = relay.client();
    let a_port = ports.take(2);
    let b_port = ports.take(2);
    let call = call_id(TEST);

    let offered = ng::offer(
        &mut ng_client,
        &call,
        "tag-a",
        &audio_sdp(LOCALHOST, a_port, &[PCMU], 20),
    );
    let relay_for_b = audio_endpoint(&offered)
        .unwrap_or_else(|| panic!("no audio endpoint in the relay's offer:\n{offered}"));
    let answered = ng::answer(
        &mut ng_client,
        &call,
        "tag-a",
        "tag-b",
        &audio_sdp(LOCALHOST, b_port, &[PCMU], 20),
    );
    let relay_for_a = audio_endpoint(&answered)
        .unwrap_or_else(|| panic!("no audio endpoint in the relay's answer:\n{answered}"));
    for (side, ep) in [("A", relay_for_a), ("B", relay_for_b)] {
        let (min, max) = relay.media_ports();
        assert!(
            ep.ip().is_loopback(),
            "relay's {side}-facing address {ep} is not loopback"
        );
        assert!(
            (min..=max).contains(&ep.port()),
            "relay's {side}-facing port {} outside --port-min/max {min}..{max}",
            ep.port()
        );
    }
    assert_ne!(
        relay_for_a, relay_for_b,
        "both legs got the same relay port"
    );

    let reference = reference_pcmu_sine(&dir, SECS, FREQ);

    let ab = one_direction(&dir, a_port, relay_for_a, b_port);
    check_audio("A->B", ab, reference);

    // ffmpeg sends an RTCP sender report at start and a BYE at the end,
    // both to the relay's port + 1.
    let (rtp, rtcp) = ng::totals(&ng::query(&mut ng_client, &call));
    eprintln!("after A->B: RTP {rtp:?}, RTCP {rtcp:?}");
    let expected = i64::from(SECS) * 50;
    assert!(
        rtp.packets >= expected - 2,
        "relay counted {} RTP packets, ffmpeg sent about {expected}",
        rtp.packets
    );
    assert!(rtcp.packets > 0, "relay counted no RTCP packets: {rtcp:?}");

    let ba = one_direction(&dir, b_port, relay_for_b, a_port);
    check_audio("B->A", ba, reference);

    let (rtp2, _) = ng::totals(&ng::query(&mut ng_client, &call));
    assert!(
        rtp2.packets >= rtp.packets + expected - 2,
        "relay's RTP total went from {} to {} over the B->A stream of about {expected}",
        rtp.packets,
        rtp2.packets
    );

    ng::delete(&mut ng_client, &call, "tag-a");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let calls = ng::list(&mut ng_client);
        if !calls.contains(&call) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "call still listed after delete: {calls:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

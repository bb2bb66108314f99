//! The relay behind a real SIP proxy: SIPp UAC -> Kamailio (rtpengine
//! module, NG to the relay under test) -> SIPp UAS, with media from
//! SIPp's pcap player.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use sluice_ng::client::Client;
use sluice_tests::proc::run_bounded;
use sluice_tests::relay::RelayKind;
use sluice_tests::sip::{uac_pcap_scenario, Kamailio, SippUac, SippUas, UacParams, SIPP_PCAP_DIR};
use sluice_tests::{ng, peers, PortBlock, Relay, TempDir};

const TEST: &str = "kamailio_sipp";
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Packets in a pcap file, counted by tshark.
fn pcap_packets(dir: &TempDir, pcap: &Path) -> i64 {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(pcap)
        .args(["-T", "fields", "-e", "frame.number"]);
    let (status, out) = run_bounded("tshark-count", cmd, dir, Duration::from_secs(60));
    assert!(
        status.success(),
        "tshark -r {} failed ({status}):\n{out}",
        pcap.display()
    );
    let n = out
        .lines()
        .filter(|l| l.trim().parse::<u64>().is_ok())
        .count();
    i64::try_from(n).expect("a pcap's packet count fits i64")
}

fn wait_until_no_calls(client: &mut Client, context: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let calls = ng::list(client);
        if calls.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{context}: relay still lists {calls:?}"
        );
        thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn calls_through_kamailio_with_media() {
    let kind = RelayKind::from_env();
    if !kind.available(TEST) || !peers::require_all(TEST, &["kamailio", "sipp", "tshark"]) {
        return;
    }
    let pcap = Path::new(SIPP_PCAP_DIR).join("g711a.pcap");
    assert!(
        pcap.is_file(),
        "{} missing (package sip-tester)",
        pcap.display()
    );
    let dir = TempDir::new(TEST);
    let mut ports = PortBlock::new();
    let mut relay = Relay::from_env(&mut ports);
    let mut client = relay.client();

    let kamailio_port = ports.take(2);
    let kamailio = Kamailio::start(kamailio_port, relay.ng_addr());
    let proxy = SocketAddr::new(LOCALHOST, kamailio_port);

    // One UAS echoes media back through the relay, one stays quiet so the
    // relay's packet count is exactly what the UAC played.
    let echo_uas = SippUas::start(&dir, ports.take(2), ports.take(4), true);
    let quiet_uas = SippUas::start(&dir, ports.take(2), ports.take(4), false);

    // Phase 1: three concurrent calls, each playing part of the pcap.
    let mut uac = SippUac::start(
        &dir,
        &uac_pcap_scenario(&pcap, 2000),
        UacParams {
            proxy,
            uas_port: echo_uas.port(),
            sip_port: ports.take(2),
            media_port: ports.take(4),
            calls: 3,
            concurrent: 3,
        },
    );
    let status = uac.wait(Duration::from_secs(60));
    assert!(
        status.success(),
        "sipp UAC: calls failed ({status});\n{}\nkamailio:\n{}\nrelay:\n{}",
        uac.diagnostics(),
        kamailio.log_tail(30),
        relay.log_tail(30)
    );
    wait_until_no_calls(&mut client, "after three calls ended with BYE");

    // Phase 2: one call that plays the whole pcap and then holds; query the
    // relay mid-call once the stream has ended.
    let expected = pcap_packets(&dir, &pcap);
    let mut uac = SippUac::start(
        &dir,
        &uac_pcap_scenario(&pcap, 12_000),
        UacParams {
            proxy,
            uas_port: quiet_uas.port(),
            sip_port: ports.take(2),
            media_port: ports.take(4),
            calls: 1,
            concurrent: 1,
        },
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let call = loop {
        if let Some(c) = ng::list(&mut client).into_iter().next() {
            break c;
        }
        assert!(
            uac.running(),
            "sipp UAC ended before its call showed up:\n{}",
            uac.diagnostics()
        );
        assert!(
            Instant::now() < deadline,
            "no call on the relay 10 s after the UAC started"
        );
        thread::sleep(Duration::from_millis(100));
    };
    // The pcap lasts about 7 s; wait until the count stops moving.
    let deadline = Instant::now() + Duration::from_secs(11);
    let mut last = -1;
    let mut stable_since = Instant::now();
    let rtp = loop {
        let (rtp, _) = ng::totals(&ng::query(&mut client, &call));
        if rtp.packets != last {
            last = rtp.packets;
            stable_since = Instant::now();
        } else if rtp.packets > 0 && stable_since.elapsed() >= Duration::from_millis(1500) {
            break rtp;
        }
        assert!(
            Instant::now() < deadline,
            "relay's RTP count never settled (last {last}, pcap has {expected})"
        );
        thread::sleep(Duration::from_millis(250));
    };
    eprintln!("mid-call totals: {rtp:?}; pcap packets: {expected}");
    assert_eq!(
        rtp.packets, expected,
        "relay counted {} RTP packets for a call that played {expected}",
        rtp.packets
    );
    assert_eq!(rtp.errors, 0, "relay counted RTP errors: {rtp:?}");

    let status = uac.wait(Duration::from_secs(30));
    assert!(
        status.success(),
        "sipp UAC: held call failed ({status});\n{}\nkamailio:\n{}",
        uac.diagnostics(),
        kamailio.log_tail(30)
    );
    wait_until_no_calls(&mut client, "after the held call's BYE");
    relay.assert_running("after the SIP calls");
    drop((echo_uas, quiet_uas, kamailio));
}

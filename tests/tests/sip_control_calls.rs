//! sip-control between real SIPp peers, with the media anchored on the
//! relay under test: media-core, and the same calls with rtpengine as the
//! media node (protocol fidelity). Media is checked by tshark on the
//! parties' own ports, digits by tshark's RFC 4733 decoder, call records
//! by sip-control's CDR lines and metrics.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use serde_json::Value;
use sluice_tests::dtmf::{digit_char, digits, Capture};
use sluice_tests::relay::{RelayKind, RelayOptions};
use sluice_tests::sip_control::{ControlConfig, SipControl};
use sluice_tests::sipp::Sipp;
use sluice_tests::{peers, PortBlock, Relay, TempDir};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const DID: &str = "+15551230001";
/// telephone-event payload type of every scenario's SDP.
const EVENT_PT: u8 = 101;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::new(LOCALHOST, port)
}

/// The relay, sip-control in front of it, and the test's ports.
struct Bed {
    dir: TempDir,
    ports: PortBlock,
    // Field order: sip-control stops before the relay.
    control: SipControl,
    _relay: Relay,
}

impl Bed {
    /// Starts `kind` and sip-control with `targets` (built from the bed's
    /// own ports by `targets`) and whatever `tweak` changes in the config.
    fn start(
        test: &str,
        kind: RelayKind,
        targets: impl FnOnce(&mut PortBlock) -> Vec<String>,
        tweak: impl FnOnce(&mut ControlConfig, &mut PortBlock),
    ) -> Option<Bed> {
        if !kind.available(test) || !peers::require_all(test, &["sipp", "tshark"]) {
            return None;
        }
        let dir = TempDir::new(test);
        let mut ports = PortBlock::new();
        let relay = Relay::start(kind, &mut ports, &RelayOptions::default());
        let sip_port = ports.take(2);
        let metrics_port = ports.take(2);
        let targets = targets(&mut ports);
        let mut config = ControlConfig::new(sip_port, metrics_port, targets, vec![relay.ng_addr()]);
        // SIPp UASes count probes as calls; tests that want probes say so.
        config.sip_extra.push("target-timeout = \"1s\"".to_owned());
        tweak(&mut config, &mut ports);
        let control = SipControl::start(&dir, &config);
        Some(Bed {
            dir,
            ports,
            control,
            _relay: relay,
        })
    }

    fn sip(&self) -> SocketAddr {
        addr(self.control_port())
    }

    fn control_port(&self) -> u16 {
        self.control.sip_port()
    }

    /// The carrier calling the DID with `scenario`.
    fn carrier(&mut self, scenario: &str) -> (Sipp, u16) {
        self.carrier_dialling(scenario, DID)
    }

    /// The carrier calling `number` with `scenario`.
    fn carrier_dialling(&mut self, scenario: &str, number: &str) -> (Sipp, u16) {
        let sip = self.ports.take(2);
        let media = self.ports.take(4);
        let uac = Sipp::uac(scenario, self.sip(), addr(sip), media)
            .service(number)
            .calls(1)
            .timeout(Duration::from_secs(30));
        (uac, media)
    }

    fn one_cdr(&self) -> Value {
        let cdrs = self.control.wait_cdrs(1, Duration::from_secs(10));
        assert_eq!(
            cdrs.len(),
            1,
            "CDRs: {cdrs:?}\n{}",
            self.control.log_tail(40)
        );
        cdrs[0].clone()
    }
}

/// A bed whose platform has one target, with probes off and `tweak`
/// applied; gives the target's SIP port too.
fn one_target(
    test: &str,
    kind: RelayKind,
    tweak: impl FnOnce(&mut ControlConfig, &mut PortBlock),
) -> Option<(Bed, u16)> {
    let mut platform_port = 0;
    let bed = Bed::start(
        test,
        kind,
        |ports| {
            let (list, uris) = target_ports(ports, 1);
            platform_port = list[0];
            uris
        },
        |config, ports| {
            no_probes(config, ports);
            tweak(config, ports);
        },
    )?;
    Some((bed, platform_port))
}

/// Targets on ports taken in order: `n` of them.
fn target_ports(ports: &mut PortBlock, n: usize) -> (Vec<u16>, Vec<String>) {
    let list: Vec<u16> = (0..n).map(|_| ports.take(2)).collect();
    let uris = list
        .iter()
        .map(|p| format!("sip:agent@127.0.0.1:{p}"))
        .collect();
    (list, uris)
}

fn no_probes(config: &mut ControlConfig, _: &mut PortBlock) {
    config
        .platform_extra
        .push("probe-interval = \"0s\"".to_owned());
}

fn two_way_media(test: &str, kind: RelayKind) {
    let Some((mut bed, platform_port)) = one_target(test, kind, |_, _| {}) else {
        return;
    };
    let platform_media = bed.ports.take(4);
    let platform = Sipp::uas("platform_uas", addr(platform_port), platform_media).start(&bed.dir);
    let (carrier, carrier_media) = bed.carrier("carrier_uac");
    let to_platform = Capture::start(&bed.dir, platform_media, Duration::from_secs(20));
    let to_carrier = Capture::start(&bed.dir, carrier_media, Duration::from_secs(20));
    let started = Instant::now();
    let run = carrier.hold(Duration::from_secs(3)).run(&bed.dir);
    bed.control.assert_all_ok(&run, "carrier");
    let at_platform = to_platform.finish(&bed.dir, EVENT_PT);
    let at_carrier = to_carrier.finish(&bed.dir, EVENT_PT);
    let platform_run = platform.finish(Duration::from_secs(5));
    assert!(
        platform_run.all_ok(),
        "platform:\n{}",
        platform_run.diagnostics()
    );

    // 3 s of 30 ms PCMA each way, through the relay.
    for (side, packets) in [("platform", &at_platform), ("carrier", &at_carrier)] {
        let audio = packets.iter().filter(|p| p.pt == 8).count();
        assert!(audio >= 80, "{side} got {audio} PCMA packets in ~3 s");
    }
    let cdr = bed.one_cdr();
    assert_eq!(cdr["end"], "carrier-bye", "{cdr}");
    assert_eq!(
        cdr["target"],
        format!("sip:agent@127.0.0.1:{platform_port}")
    );
    assert_eq!(cdr["failovers"], 0);
    let ttfa = cdr["ttfa_ms"].as_u64().expect("TTFA measured");
    assert!(ttfa <= started.elapsed().as_millis() as u64, "{cdr}");
    let control = &bed.control;
    assert_eq!(control.metric("sluice_sip_calls_total"), 1.0);
    assert_eq!(control.metric("sluice_sip_calls_answered_total"), 1.0);
    assert_eq!(control.metric("sluice_sip_active_calls"), 0.0);
    assert_eq!(control.metric("sluice_sip_ttfa_seconds_count"), 1.0);
}

#[test]
fn a_carrier_call_reaches_the_platform_with_two_way_media() {
    two_way_media("sip_control_media_core", RelayKind::MediaCore);
}

#[test]
fn the_same_call_with_rtpengine_as_the_media_node() {
    two_way_media("sip_control_rtpengine", RelayKind::Rtpengine);
}

fn info_dtmf_becomes_rfc4733(test: &str, kind: RelayKind) {
    let Some((mut bed, platform_port)) = one_target(test, kind, |_, _| {}) else {
        return;
    };
    let platform_media = bed.ports.take(4);
    // The INFOs come 1 s into the call, once both sides send audio
    // (rtpengine plays DTMF only into a stream it has seen).
    let platform = Sipp::uas(
        "platform_uas_info_dtmf",
        addr(platform_port),
        platform_media,
    )
    .hold(Duration::from_secs(1))
    .start(&bed.dir);
    let (carrier, carrier_media) = bed.carrier("carrier_uac");
    let to_carrier = Capture::start(&bed.dir, carrier_media, Duration::from_secs(20));
    let run = carrier.hold(Duration::from_secs(3)).run(&bed.dir);
    bed.control.assert_all_ok(&run, "carrier");
    let at_carrier = to_carrier.finish(&bed.dir, EVENT_PT);
    let platform_run = platform.finish(Duration::from_secs(5));
    assert!(
        platform_run.all_ok(),
        "platform:\n{}",
        platform_run.diagnostics()
    );
    assert_eq!(
        platform_run.counter("infos_ok"),
        2,
        "both INFOs answered 200"
    );
    let got: Vec<char> = digits(&at_carrier)
        .iter()
        .map(|d| digit_char(d.event))
        .collect();
    assert_eq!(got, ['5', '7'], "RFC 4733 digits at the carrier");
    let cdr = bed.one_cdr();
    assert_eq!(cdr["dtmf_digits"], 2, "{cdr}");
    assert_eq!(
        bed.control
            .metric("sluice_sip_dtmf_total{via=\"info-to-rfc4733\"}"),
        2.0
    );
}

#[test]
fn platform_info_digits_reach_the_carrier_as_rfc4733() {
    info_dtmf_becomes_rfc4733("sip_control_info_media_core", RelayKind::MediaCore);
}

#[test]
fn platform_info_digits_reach_the_carrier_as_rfc4733_with_rtpengine() {
    info_dtmf_becomes_rfc4733("sip_control_info_rtpengine", RelayKind::Rtpengine);
}

#[test]
fn carrier_rfc4733_digits_reach_the_platform() {
    let test = "sip_control_rfc4733";
    let Some((mut bed, platform_port)) = one_target(test, RelayKind::MediaCore, |_, _| {}) else {
        return;
    };
    let platform_media = bed.ports.take(4);
    let platform = Sipp::uas("platform_uas", addr(platform_port), platform_media).start(&bed.dir);
    let (carrier, _) = bed.carrier("carrier_uac_dtmf");
    let to_platform = Capture::start(&bed.dir, platform_media, Duration::from_secs(20));
    let run = carrier.hold(Duration::from_millis(500)).run(&bed.dir);
    bed.control.assert_all_ok(&run, "carrier");
    let at_platform = to_platform.finish(&bed.dir, EVENT_PT);
    let _ = platform.finish(Duration::from_secs(5));
    let got: Vec<char> = digits(&at_platform)
        .iter()
        .map(|d| digit_char(d.event))
        .collect();
    assert_eq!(got, ['1'], "the carrier's digit at the platform");
}

#[test]
fn failover_passes_a_silent_target_and_a_503_target() {
    let test = "sip_control_failover";
    let mut ports_of_targets = Vec::new();
    let Some(mut bed) = Bed::start(
        test,
        RelayKind::MediaCore,
        |ports| {
            let (list, uris) = target_ports(ports, 3);
            ports_of_targets = list;
            uris
        },
        no_probes,
    ) else {
        return;
    };
    // Target 1: nobody there. Target 2: 503. Target 3: answers.
    let refusing = Sipp::uas("platform_uas_503", addr(ports_of_targets[1]), 0).start(&bed.dir);
    let media = bed.ports.take(4);
    let platform = Sipp::uas("platform_uas", addr(ports_of_targets[2]), media).start(&bed.dir);
    let (carrier, _) = bed.carrier("carrier_uac");
    let started = Instant::now();
    let run = carrier.hold(Duration::from_millis(500)).run(&bed.dir);
    bed.control.assert_all_ok(&run, "carrier");
    let cdr = bed.one_cdr();
    assert_eq!(
        cdr["target"],
        format!("sip:agent@127.0.0.1:{}", ports_of_targets[2]),
        "{cdr}"
    );
    assert_eq!(cdr["failovers"], 2, "{cdr}");
    // One target-timeout (1 s) for the silent target, not Timer B (32 s).
    let answer = cdr["answer_after_ms"].as_u64().expect("answered");
    assert!(answer < 3000, "answered after {answer} ms");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(
        refusing.finish(Duration::from_secs(5)).counter("refused"),
        1
    );
    assert!(platform.finish(Duration::from_secs(5)).all_ok());
    let failovers = bed.control.metric("sluice_sip_target_failovers_total");
    assert_eq!(failovers, 2.0);
}

#[test]
fn all_targets_failing_gives_the_carrier_503_and_an_unknown_did_404() {
    let test = "sip_control_rejects";
    let mut target = 0;
    let Some(mut bed) = Bed::start(
        test,
        RelayKind::MediaCore,
        |ports| {
            let (list, uris) = target_ports(ports, 1);
            target = list[0];
            uris
        },
        no_probes,
    ) else {
        return;
    };
    let refusing = Sipp::uas("platform_uas_503", addr(target), 0).start(&bed.dir);
    let (carrier, _) = bed.carrier("carrier_uac_reject");
    let run = carrier.run(&bed.dir);
    assert!(run.all_ok(), "{}", run.diagnostics());
    assert_eq!(run.counter("r503"), 1, "{}", run.diagnostics());
    let (carrier, _) = bed.carrier_dialling("carrier_uac_reject", "+19995550000");
    let run = carrier.run(&bed.dir);
    assert_eq!(run.counter("r404"), 1, "{}", run.diagnostics());
    let cdrs = bed.control.wait_cdrs(2, Duration::from_secs(5));
    let ends: Vec<&str> = cdrs.iter().filter_map(|c| c["end"].as_str()).collect();
    assert_eq!(ends, ["all-targets-failed", "no-route"]);
    let _ = refusing.finish(Duration::from_secs(5));
    let failures = bed.control.metric("sluice_sip_call_failures_total");
    assert_eq!(failures, 2.0);
}

#[test]
fn a_platform_refer_bridges_the_carrier_to_the_human_queue() {
    let test = "sip_control_transfer";
    let mut queue_port = 0;
    let Some((mut bed, platform_port)) = one_target(test, RelayKind::MediaCore, |config, ports| {
        queue_port = ports.take(2);
        config.queues = vec![format!("sip:queue@127.0.0.1:{queue_port}")];
    }) else {
        return;
    };
    let platform_media = bed.ports.take(4);
    let queue_media = bed.ports.take(4);
    let queue_uri = format!("sip:queue@127.0.0.1:{queue_port}");
    let platform = Sipp::uas("platform_uas_refer", addr(platform_port), platform_media)
        .key("queue_uri", &queue_uri)
        .hold(Duration::from_secs(1))
        .start(&bed.dir);
    let queue = Sipp::uas("queue_uas", addr(queue_port), queue_media).start(&bed.dir);
    let (carrier, _) = bed.carrier("carrier_uac");
    let at_queue = Capture::start(&bed.dir, queue_media, Duration::from_secs(20));
    let run = carrier.hold(Duration::from_secs(4)).run(&bed.dir);
    bed.control.assert_all_ok(&run, "carrier");
    let at_queue = at_queue.finish(&bed.dir, EVENT_PT);
    let platform_run = platform.finish(Duration::from_secs(5));
    assert_eq!(
        platform_run.counter("transferred"),
        1,
        "{}",
        platform_run.diagnostics()
    );
    assert_eq!(
        platform_run.counter("completed"),
        1,
        "the B2BUA released the platform leg"
    );
    let queue_run = queue.finish(Duration::from_secs(5));
    assert_eq!(
        queue_run.counter("completed"),
        1,
        "{}",
        queue_run.diagnostics()
    );
    // The carrier's audio reached the queue through the relay after the
    // transfer (about 3 s of 30 ms packets).
    let audio = at_queue.iter().filter(|p| p.pt == 8).count();
    assert!(audio >= 50, "the queue got {audio} PCMA packets");
    let cdr = bed.one_cdr();
    assert_eq!(cdr["transfer"], format!("{queue_uri}: completed"), "{cdr}");
    assert_eq!(cdr["end"], "carrier-bye");
    let done = bed
        .control
        .metric("sluice_sip_transfers_total{mode=\"bridge\",result=\"completed\"}");
    assert_eq!(done, 1.0);
}

#[test]
fn calls_move_to_the_next_media_node_when_one_is_down_or_killed() {
    let test = "sip_control_media_failover";
    if !peers::require_all(test, &["sipp"]) {
        return;
    }
    let dir = TempDir::new(test);
    let mut ports = PortBlock::new();
    let mut first = Relay::start(RelayKind::MediaCore, &mut ports, &RelayOptions::default());
    let second = Relay::start(RelayKind::MediaCore, &mut ports, &RelayOptions::default());
    // Nobody answers NG on `dead`.
    let dead = addr(ports.take(2));
    let sip_port = ports.take(2);
    let metrics_port = ports.take(2);
    let platform_port = ports.take(2);
    let target = vec![format!("sip:agent@127.0.0.1:{platform_port}")];
    let nodes = vec![dead, first.ng_addr(), second.ng_addr()];
    let mut config = ControlConfig::new(sip_port, metrics_port, target, nodes);
    no_probes(&mut config, &mut ports);
    let control = SipControl::start(&dir, &config);
    let platform_media = ports.take(4);
    let platform = Sipp::uas("platform_uas", addr(platform_port), platform_media).start(&dir);
    let call = |ports: &mut PortBlock| {
        let sip = ports.take(2);
        let media = ports.take(4);
        Sipp::uac("carrier_uac", addr(sip_port), addr(sip), media)
            .service(DID)
            .calls(1)
            .hold(Duration::from_millis(300))
            .timeout(Duration::from_secs(30))
            .run(&dir)
    };
    // Let a health check mark the dead node down, then call: every call
    // lands on a live node.
    std::thread::sleep(Duration::from_secs(2));
    let mut nodes_used = Vec::new();
    for n in 0..4 {
        let run = call(&mut ports);
        assert!(
            run.all_ok(),
            "call {n}:\n{}\n{}",
            run.diagnostics(),
            control.log_tail(40)
        );
        let cdrs = control.wait_cdrs(n + 1, Duration::from_secs(5));
        nodes_used.push(
            cdrs[n]["media_node"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert!(
        nodes_used.iter().all(|n| n == "node1" || n == "node2"),
        "{nodes_used:?}"
    );
    assert_eq!(
        control.metric("sluice_sip_media_node_up{node=\"node0\"}"),
        0.0
    );
    // Kill node1 mid-test: new calls go to node2.
    first.stop_with("KILL", Duration::from_secs(5));
    for n in 4..7 {
        let run = call(&mut ports);
        assert!(
            run.all_ok(),
            "call {n} after the kill:\n{}\n{}",
            run.diagnostics(),
            control.log_tail(40)
        );
        let cdrs = control.wait_cdrs(n + 1, Duration::from_secs(5));
        assert_eq!(cdrs[n]["media_node"], "node2", "{}", cdrs[n]);
    }
    let _ = platform.finish(Duration::from_secs(5));
    drop(second);
}

#[test]
fn a_platform_refer_passes_through_to_a_carrier_that_takes_it() {
    let test = "sip_control_refer_pass_through";
    let mut queue_uri = String::new();
    let Some((mut bed, platform_port)) = one_target(test, RelayKind::MediaCore, |config, ports| {
        queue_uri = format!("sip:queue@127.0.0.1:{}", ports.take(2));
        config.queues = vec![queue_uri.clone()];
        config
            .trunk_extra
            .push("refer-pass-through = true".to_owned());
        config.did_extra.push("transfer = \"refer\"".to_owned());
    }) else {
        return;
    };
    let platform_media = bed.ports.take(4);
    let platform = Sipp::uas("platform_uas_refer", addr(platform_port), platform_media)
        .key("queue_uri", &queue_uri)
        .hold(Duration::from_millis(500))
        .start(&bed.dir);
    let (carrier, _) = bed.carrier("carrier_uac_refer");
    let run = carrier.run(&bed.dir);
    bed.control.assert_all_ok(&run, "carrier");
    assert_eq!(run.counter("refers"), 1);
    assert!(
        run.message_log()
            .contains(&format!("Refer-To: <{queue_uri}>")),
        "the carrier got the platform's Refer-To"
    );
    let platform_run = platform.finish(Duration::from_secs(5));
    assert_eq!(
        platform_run.counter("transferred"),
        1,
        "{}",
        platform_run.diagnostics()
    );
    assert_eq!(platform_run.counter("completed"), 1);
    let cdr = bed.one_cdr();
    assert_eq!(
        cdr["transfer"],
        format!("{queue_uri}: carrier accepted"),
        "{cdr}"
    );
    assert_eq!(cdr["end"], "carrier-bye");
}

#[test]
fn platform_hold_and_resume_reach_the_carrier_through_the_media_node() {
    let test = "sip_control_reinvite";
    let Some((mut bed, platform_port)) = one_target(test, RelayKind::MediaCore, |_, _| {}) else {
        return;
    };
    let platform_media = bed.ports.take(4);
    let platform = Sipp::uas("platform_uas_reinvite", addr(platform_port), platform_media)
        .hold(Duration::from_millis(500))
        .start(&bed.dir);
    let (carrier, _) = bed.carrier("carrier_uac_wait_bye");
    let run = carrier.run(&bed.dir);
    bed.control.assert_all_ok(&run, "carrier");
    assert_eq!(
        run.counter("reinvites"),
        2,
        "hold and resume reached the carrier"
    );
    let log = run.message_log();
    assert!(log.contains("a=sendonly"), "the hold offer says sendonly");
    let platform_run = platform.finish(Duration::from_secs(5));
    assert_eq!(
        platform_run.counter("held"),
        1,
        "{}",
        platform_run.diagnostics()
    );
    assert_eq!(platform_run.counter("resumed"), 1);
    assert_eq!(platform_run.counter("completed"), 1);
    let cdr = bed.one_cdr();
    assert_eq!(cdr["end"], "platform-bye", "{cdr}");
}

//! sip-control's life as an operator sees it: SIGHUP reloads the file
//! without touching calls in progress (and keeps the running configuration
//! when the new file is bad); SIGTERM stops taking calls, lets the calls in
//! progress finish, then exits.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::thread;
use std::time::{Duration, Instant};

use sluice_tests::relay::{RelayKind, RelayOptions};
use sluice_tests::sip_control::{ControlConfig, SipControl};
use sluice_tests::sipp::Sipp;
use sluice_tests::{peers, PortBlock, Relay, TempDir};

const DID: &str = "+15551230001";
const NEW_DID: &str = "+15551230002";

fn addr(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

struct Bed {
    dir: TempDir,
    ports: PortBlock,
    control: SipControl,
    _platform: sluice_tests::sipp::SippPeer,
    _relay: Relay,
}

fn bed(test: &str) -> Option<Bed> {
    if !peers::require_all(test, &["sipp"]) {
        return None;
    }
    let dir = TempDir::new(test);
    let mut ports = PortBlock::new();
    let relay = Relay::start(RelayKind::MediaCore, &mut ports, &RelayOptions::default());
    let sip_port = ports.take(2);
    let metrics_port = ports.take(2);
    let platform_port = ports.take(2);
    let target = vec![format!("sip:agent@127.0.0.1:{platform_port}")];
    let mut config = ControlConfig::new(sip_port, metrics_port, target, vec![relay.ng_addr()]);
    config
        .platform_extra
        .push("probe-interval = \"0s\"".to_owned());
    let control = SipControl::start(&dir, &config);
    let media = ports.take(4);
    let platform = Sipp::uas("platform_uas", addr(platform_port), media).start(&dir);
    Some(Bed {
        dir,
        ports,
        control,
        _platform: platform,
        _relay: relay,
    })
}

/// A carrier UAC calling `number` through sip-control on `sip_port`.
fn call(
    ports: &mut PortBlock,
    sip_port: u16,
    scenario: &str,
    number: &str,
    hold: Duration,
) -> Sipp {
    let sip = ports.take(2);
    let media = ports.take(4);
    Sipp::uac(scenario, addr(sip_port), addr(sip), media)
        .service(number)
        .calls(1)
        .hold(hold)
        .timeout(Duration::from_secs(20))
}

#[test]
fn sighup_reloads_new_dids_and_keeps_calls_and_a_good_config() {
    let Some(mut bed) = bed("sip_control_reload") else {
        return;
    };
    let Bed {
        dir,
        ports,
        control,
        ..
    } = &mut bed;
    let sip_port = control.sip_port();
    let run = call(
        ports,
        sip_port,
        "carrier_uac_reject",
        NEW_DID,
        Duration::ZERO,
    )
    .run(dir);
    assert_eq!(
        run.counter("r404"),
        1,
        "before the reload: {}",
        run.diagnostics()
    );

    // A call in progress across two reloads.
    let long = call(ports, sip_port, "carrier_uac", DID, Duration::from_secs(3));
    let dir = &*dir;
    let long = thread::scope(|scope| {
        let long = scope.spawn(|| long.run(dir));
        thread::sleep(Duration::from_millis(800));
        let path = control.config_path().to_owned();
        let good = std::fs::read_to_string(&path).expect("config");
        std::fs::write(&path, "[sip]\nlisten = \"not a list\"\n").expect("write");
        control.reload();
        thread::sleep(Duration::from_millis(300));
        assert!(control.running(), "a bad file must not stop sip-control");
        let with_new_did = good.replacen(
            "[[did]]",
            &format!("[[did]]\nnumber = {NEW_DID:?}\nplatform = \"ai\"\n\n[[did]]"),
            1,
        );
        std::fs::write(&path, with_new_did).expect("write");
        control.reload();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let run = call(
                ports,
                sip_port,
                "carrier_uac",
                NEW_DID,
                Duration::from_millis(200),
            )
            .run(dir);
            if run.all_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the new DID never routed: {}",
                run.diagnostics()
            );
            thread::sleep(Duration::from_millis(200));
        }
        long.join().expect("thread")
    });
    assert!(
        long.all_ok(),
        "the call in progress: {}",
        long.diagnostics()
    );
    let log = control.log_tail(200);
    assert!(log.contains("reload refused"), "{log}");
    assert!(log.contains("sip.listen"), "the bad key is named: {log}");
}

#[test]
fn sigterm_lets_calls_in_progress_finish_and_refuses_new_ones() {
    let Some(mut bed) = bed("sip_control_shutdown") else {
        return;
    };
    let Bed {
        dir,
        ports,
        control,
        ..
    } = &mut bed;
    let sip_port = control.sip_port();
    let long = call(
        ports,
        sip_port,
        "carrier_uac",
        DID,
        Duration::from_millis(1500),
    );
    let refused = call(ports, sip_port, "carrier_uac_reject", DID, Duration::ZERO);
    let dir = &*dir;
    let long = thread::scope(|scope| {
        let long = scope.spawn(|| long.run(dir));
        let deadline = Instant::now() + Duration::from_secs(5);
        while control.metric("sluice_sip_active_calls") < 1.0 {
            assert!(Instant::now() < deadline, "the call never started");
            thread::sleep(Duration::from_millis(20));
        }
        control.signal("TERM");
        thread::sleep(Duration::from_millis(100));
        let refused = refused.run(dir);
        assert_eq!(
            refused.counter("r503"),
            1,
            "a new call while draining: {}",
            refused.diagnostics()
        );
        long.join().expect("thread")
    });
    assert!(
        long.all_ok(),
        "the call in progress: {}",
        long.diagnostics()
    );
    let status = control.wait_exit(Duration::from_secs(5));
    assert!(status.is_some_and(|s| s.success()), "exit: {status:?}");
    let cdrs = control.cdrs();
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(cdrs[0]["end"], "carrier-bye");
}

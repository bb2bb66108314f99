//! sip-control registering its trunk with a registrar that demands digest
//! authentication (SIPp running `sipp/registrar_digest.xml`, which grants
//! 10 s bindings): the refresh comes before the binding lapses, shutdown
//! un-REGISTERs, and a wrong password counts as `auth-failed` and leaves
//! the trunk unregistered, logged once.

use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use sluice_tests::ports::udp_port_bound;
use sluice_tests::relay::workspace_binary;
use sluice_tests::sip_control::{ControlConfig, SipControl};
use sluice_tests::{require, PortBlock, Proc, TempDir};

/// The registrar scenario; it accepts only [`USER`] / [`PASSWORD`].
const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sipp/registrar_digest.xml");
const USER: &str = "trunk123";
const PASSWORD: &str = "s3cret";
const AOR: &str = "sip:trunk123@carrier.example";
/// The binding lifetime the scenario grants.
const GRANTED: Duration = Duration::from_secs(10);

const OK: &str = "sluice_sip_registrations_total{trunk=\"carrier\",result=\"ok\"}";
const AUTH_FAILED: &str =
    "sluice_sip_registrations_total{trunk=\"carrier\",result=\"auth-failed\"}";
const REGISTERED: &str = "sluice_sip_trunk_registered{trunk=\"carrier\"}";

/// SIPp as the registrar, stopped by PID on drop.
struct Registrar {
    proc: Proc,
    messages: PathBuf,
}

impl Registrar {
    fn start(dir: &TempDir, port: u16) -> Self {
        let messages = dir.join(&format!("registrar-{port}-messages.log"));
        let mut cmd = Command::new("sipp");
        cmd.current_dir(dir.path())
            .args(["-sf", SCENARIO, "-i", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .args(["-m", "1", "-nostdin", "-timeout", "40s", "-trace_msg"])
            .arg("-message_file")
            .arg(&messages)
            .arg("-trace_err")
            .arg("-error_file")
            .arg(dir.join(&format!("registrar-{port}-errors.log")));
        let mut proc = Proc::spawn("sipp-registrar", cmd, dir.join("registrar.log"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !udp_port_bound(port) {
            if let Some(status) = proc.try_status() {
                panic!("sipp registrar exited ({status}):\n{}", proc.log_tail(40));
            }
            assert!(Instant::now() < deadline, "sipp did not listen on {port}");
            thread::sleep(Duration::from_millis(20));
        }
        Registrar { proc, messages }
    }

    /// SIP messages SIPp received and sent so far.
    fn messages(&self) -> String {
        std::fs::read_to_string(&self.messages).unwrap_or_default()
    }
}

/// A registrar and a sip-control registering with it using `password`.
struct Setup {
    registrar: Registrar,
    control: SipControl,
    // Dropped last: the processes write into it.
    _dir: TempDir,
}

fn start(password: &str) -> Setup {
    let dir = TempDir::new("register");
    let mut ports = PortBlock::new();
    let sip = ports.take(1);
    let metrics = ports.take(1);
    let registrar_port = ports.take(1);
    // Nobody listens here: registration needs neither a target nor media.
    let target = format!("sip:agent@127.0.0.1:{}", ports.take(1));
    let node = std::net::SocketAddr::from(([127, 0, 0, 1], ports.take(1)));
    // Built before SIPp starts, whose -timeout runs from its own start.
    workspace_binary("sip-control", "SLUICE_SIP_CONTROL");
    let registrar = Registrar::start(&dir, registrar_port);
    let mut config = ControlConfig::new(sip, metrics, vec![target], vec![node]);
    config.register = Some((
        format!("sip:127.0.0.1:{registrar_port}"),
        AOR.to_owned(),
        USER.to_owned(),
        password.to_owned(),
    ));
    let control = SipControl::start(&dir, &config);
    Setup {
        registrar,
        control,
        _dir: dir,
    }
}

/// Waits until `metric` reaches `at_least`; the instant it was seen.
fn wait_for(setup: &Setup, metric: &str, at_least: f64, timeout: Duration) -> Instant {
    let deadline = Instant::now() + timeout;
    loop {
        if setup.control.metric(metric) >= at_least {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "{metric} < {at_least} after {timeout:?}\nsip-control:\n{}\nregistrar:\n{}",
            setup.control.log_tail(30),
            setup.registrar.proc.log_tail(30)
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn registers_with_digest_refreshes_before_expiry_and_unregisters() {
    if !require("sip_control_register::registers_with_digest", "sipp") {
        return;
    }
    let mut setup = start(PASSWORD);
    let started = Instant::now();
    let first = wait_for(&setup, OK, 1.0, Duration::from_secs(10));
    assert_eq!(setup.control.metric(REGISTERED), 1.0);
    let second = wait_for(&setup, OK, 2.0, Duration::from_secs(15));
    let refresh = second - first;
    assert!(
        refresh < GRANTED,
        "refreshed {refresh:?} after registering, the binding lasts {GRANTED:?}"
    );
    assert_eq!(setup.control.metric(REGISTERED), 1.0);
    assert_eq!(setup.control.metric(AUTH_FAILED), 0.0);
    eprintln!(
        "registered after {:?}, refreshed {refresh:?} later",
        first - started
    );

    let messages = setup.registrar.messages();
    assert!(
        messages.contains(&format!("To: <{AOR}>")),
        "REGISTER names the AOR:\n{messages}"
    );
    assert!(
        messages.contains("Authorization: Digest username=\"trunk123\""),
        "{messages}"
    );

    setup.control.stop(Duration::from_secs(5));
    let deadline = Instant::now() + Duration::from_secs(3);
    while !setup.registrar.messages().contains("Expires: 0") {
        assert!(
            Instant::now() < deadline,
            "no un-REGISTER on shutdown:\n{}",
            setup.registrar.messages()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn wrong_password_is_auth_failed_unregistered_and_logged_once() {
    if !require("sip_control_register::wrong_password", "sipp") {
        return;
    }
    let setup = start("not-the-password");
    // The first attempt and two backoff retries (1 s, then 2 s).
    wait_for(&setup, AUTH_FAILED, 3.0, Duration::from_secs(10));
    assert_eq!(setup.control.metric(REGISTERED), 0.0);
    assert_eq!(setup.control.metric(OK), 0.0);
    let log = setup.control.log_tail(1000);
    assert_eq!(
        log.matches("registration refused").count(),
        1,
        "the refusal is logged once:\n{log}"
    );
}

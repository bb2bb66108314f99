//! sip-control's defences, against the real binary and real attack tools:
//! sipvicious (svmap, svwar, svcrack) and SIPp from sources outside and
//! inside the trunk allowlist, digest admission, lock-out after repeated
//! failures, malformed and oversize datagrams, per-source rate limits.
//!
//! Evidence comes from the tools' own output, tshark on loopback, and
//! sip-control's metrics and CDRs. Every source is an address of its own
//! in 127.0.0.0/8 (sipvicious `-b`, SIPp `-i`, sockets bound to it), one
//! per test, so that captures of concurrent tests do not mix. (svwar and
//! svcrack 0.3.3 ignore their `-b`; see [`Scan::start`].)

use std::fs::{self, File};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use sluice_tests::proc::run_bounded;
use sluice_tests::sip_control::{target_uris, ControlBed, ControlConfig};
use sluice_tests::sipp::SippRun;
use sluice_tests::{Proc, RelayKind, TempDir};

const DID: &str = "+15551230001";
const SCANNERS: &[&str] = &["svmap", "svwar", "svcrack"];

const fn local(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// The carrier of tests whose trunk allowlists 127.0.0.0/8.
const CARRIER: IpAddr = local(1);

fn no_probes(config: &mut ControlConfig) {
    config
        .platform_extra
        .push("probe-interval = \"0s\"".to_owned());
}

/// A trunk that takes only 127.0.0.2 (the carrier), nobody else.
fn carrier_only(config: &mut ControlConfig) {
    config.allow = vec!["127.0.0.2/32".to_owned()];
    no_probes(config);
}

/// Digest on the trunk, MD5 only (what SIPp and sipvicious answer).
fn with_digest(config: &mut ControlConfig, password: &str) {
    config.auth = Some(("carrier".to_owned(), password.to_owned()));
    config.auth_algorithms = vec!["MD5".to_owned()];
}

// ---------------------------------------------------------------------
// Peers: sipvicious runs, tshark captures, plain UDP sockets.

/// One sipvicious tool running in the background, stdout and stderr in
/// files of their own, `HOME` in the test's directory (session files).
/// Killed by its PID if it is still running when dropped.
struct Scan {
    tool: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    started: Instant,
}

/// Python run at interpreter start-up (`sitecustomize`): a socket bound to
/// the wildcard address binds `SLUICE_BIND_IP` instead.
const BIND_SHIM: &str = "\
import os, socket
_ip = os.environ.get('SLUICE_BIND_IP')
if _ip:
    _bind = socket.socket.bind
    def _bind_source(self, address):
        if isinstance(address, tuple) and address[0] in ('', '0.0.0.0'):
            address = (_ip,) + tuple(address[1:])
        return _bind(self, address)
    socket.socket.bind = _bind_source
";

/// What a sipvicious tool printed.
#[derive(Debug)]
struct Scanned {
    tool: String,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Scan {
    /// Runs `tool` against sip-control at `target` from `source`, its own
    /// source `port`, with the tool's own `args` after those.
    ///
    /// svwar and svcrack 0.3.3 take `-b` but never pass it to their
    /// socket (they bind every address and the kernel sends from
    /// 127.0.0.1); a `sitecustomize` in the test's directory makes their
    /// wildcard bind use `source`, as `-b` says it does.
    fn start(
        dir: &TempDir,
        tool: &str,
        target: SocketAddr,
        source: IpAddr,
        port: u16,
        args: &[&str],
    ) -> Scan {
        let shim = dir.join("python-bind");
        fs::create_dir_all(&shim).expect("creating the python shim directory");
        fs::write(shim.join("sitecustomize.py"), BIND_SHIM).expect("writing the python shim");
        let stdout = dir.join(&format!("{tool}-{port}.out"));
        let stderr = stdout.with_extension("err");
        let (ip, source) = (target.ip().to_string(), source.to_string());
        let child = Command::new(tool)
            .arg(&ip)
            .args(["-p", &target.port().to_string(), "-P", &port.to_string()])
            .args(["-b", &source, "-x", &source])
            .args(args)
            .env("HOME", dir.path())
            .env("PYTHONPATH", &shim)
            .env("SLUICE_BIND_IP", &source)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).expect("creating the scan's stdout"))
            .stderr(File::create(&stderr).expect("creating the scan's stderr"))
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {tool}: {e}"));
        Scan {
            tool: tool.to_owned(),
            child,
            stdout,
            stderr,
            started: Instant::now(),
        }
    }

    /// Waits for the tool to end by itself, at most `bound` after it
    /// started (then it is killed and the test fails).
    fn finish(mut self, bound: Duration) -> Scanned {
        let deadline = self.started + bound;
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{} still running after {bound:?}:\n{}",
                    self.tool,
                    fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
        Scanned {
            tool: self.tool.clone(),
            stdout: fs::read_to_string(&self.stdout).unwrap_or_default(),
            stderr: fs::read_to_string(&self.stderr).unwrap_or_default(),
            took: self.started.elapsed(),
        }
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Scanned {
    /// Whether the tool printed a result table (a device, an extension,
    /// a password): anything it learned.
    fn found_something(&self) -> bool {
        self.stdout.contains('|') || self.stdout.contains("+--")
    }
}

/// A tshark capture on loopback, bounded in time by tshark itself.
struct Sniffer {
    proc: Proc,
    file: PathBuf,
}

/// One captured packet as tshark decoded it.
#[derive(Debug, Clone)]
struct Packet {
    /// Seconds since the capture's first packet.
    time: f64,
    src: IpAddr,
    dst: IpAddr,
    /// UDP ports (0 for anything else).
    sport: u16,
    dport: u16,
    /// SIP status code of a response.
    status: Option<u16>,
    /// SIP method of a request.
    method: Option<String>,
}

impl Sniffer {
    fn start(dir: &TempDir, name: &str, filter: &str, limit: Duration) -> Sniffer {
        let file = dir.join(&format!("{name}.pcapng"));
        let mut cmd = Command::new("tshark");
        cmd.args(["-i", "lo", "-q", "-f", filter])
            .arg("-a")
            .arg(format!("duration:{}", limit.as_secs().max(1)))
            .arg("-w")
            .arg(&file);
        let mut proc = Proc::spawn("tshark", cmd, dir.join(&format!("{name}-tshark.log")));
        let deadline = Instant::now() + Duration::from_secs(15);
        while !proc.log().contains("Capturing on") {
            if let Some(s) = proc.try_status() {
                panic!("tshark exited during start-up ({s}):\n{}", proc.log());
            }
            assert!(
                Instant::now() < deadline,
                "tshark did not start capturing within 15 s:\n{}",
                proc.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
        // dumpcap says so before the filter is attached on some kernels.
        thread::sleep(Duration::from_millis(200));
        Sniffer { proc, file }
    }

    /// Stops the capture and decodes it, UDP `sip_port` as SIP.
    fn finish(mut self, dir: &TempDir, sip_port: u16) -> Vec<Packet> {
        thread::sleep(Duration::from_millis(300));
        self.proc.stop_with("INT", Duration::from_secs(10));
        assert!(
            self.file.is_file(),
            "tshark wrote no capture:\n{}",
            self.proc.log()
        );
        let mut cmd = Command::new("tshark");
        cmd.arg("-r")
            .arg(&self.file)
            .arg("-d")
            .arg(format!("udp.port=={sip_port},sip"))
            .args(["-T", "fields", "-E", "separator=;", "-E", "occurrence=f"])
            .args(["-e", "frame.time_relative", "-e", "ip.src", "-e", "ip.dst"])
            .args(["-e", "udp.srcport", "-e", "udp.dstport"])
            .args(["-e", "sip.Status-Code", "-e", "sip.Method"]);
        let (status, out) = run_bounded("tshark-read", cmd, dir, Duration::from_secs(60));
        assert!(status.success(), "tshark -r failed ({status}):\n{out}");
        out.lines().filter_map(parse_packet).collect()
    }
}

fn parse_packet(line: &str) -> Option<Packet> {
    let f: Vec<&str> = line.split(';').collect();
    if f.len() < 7 {
        return None;
    }
    Some(Packet {
        time: f[0].parse().ok()?,
        src: f[1].parse().ok()?,
        dst: f[2].parse().ok()?,
        sport: f[3].parse().unwrap_or(0),
        dport: f[4].parse().unwrap_or(0),
        status: f[5].parse().ok(),
        method: Some(f[6].to_owned()).filter(|m| !m.is_empty()),
    })
}

/// A UDP socket on `ip` (a port the kernel picks), reads bounded.
fn udp_on(ip: IpAddr) -> UdpSocket {
    let sock = UdpSocket::bind(SocketAddr::new(ip, 0)).expect("binding a loopback UDP socket");
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("setting a read timeout");
    sock
}

/// An out-of-dialog OPTIONS from `sock` to `to`; `n` makes it unique.
fn options(sock: &UdpSocket, to: SocketAddr, n: usize) -> Vec<u8> {
    request(sock, "OPTIONS", to, n, "", "")
}

/// A request from `sock` to `to` with extra header lines and a body
/// (Content-Length is the body's unless `extra` has one).
fn request(
    sock: &UdpSocket,
    method: &str,
    to: SocketAddr,
    n: usize,
    extra: &str,
    body: &str,
) -> Vec<u8> {
    let from = sock.local_addr().expect("a bound socket has an address");
    let length = if extra.contains("Content-Length") {
        String::new()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    format!(
        "{method} sip:{DID}@{to} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {from};branch=z9hG4bK-sec-{n}-{port}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:tester@{from}>;tag=sec{n}\r\n\
         To: <sip:{DID}@{to}>\r\n\
         Call-ID: sec-{n}-{port}@{ip}\r\n\
         CSeq: 1 {method}\r\n\
         Contact: <sip:tester@{from}>\r\n\
         {extra}{length}\r\n{body}",
        port = from.port(),
        ip = from.ip(),
    )
    .into_bytes()
}

/// Every datagram `sock` receives until it has been quiet for `quiet`
/// (at most `bound` in all).
fn receive_all(sock: &UdpSocket, quiet: Duration, bound: Duration) -> Vec<String> {
    let start = Instant::now();
    let mut last = Instant::now();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    while last.elapsed() < quiet && start.elapsed() < bound {
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            last = Instant::now();
        }
    }
    got
}

fn status_line(message: &str) -> &str {
    message.lines().next().unwrap_or_default()
}

/// The SIP messages SIPp received, from its message log (`-trace_msg`).
fn received_by(run: &SippRun) -> Vec<String> {
    let log = run.message_log();
    log.split("----------------------------------------------- ")
        .filter(|entry| entry.contains("message received"))
        .map(|entry| {
            // The message starts after the "... message received [N] bytes :" line.
            entry
                .split_once(" bytes :")
                .map_or(entry, |(_, message)| message)
                .trim_start()
                .to_owned()
        })
        .collect()
}

/// The header names of a SIP message, lower case.
fn header_names(message: &str) -> Vec<String> {
    message
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(name, _)| name.trim().to_ascii_lowercase())
        .collect()
}

fn wait_metric(bed: &ControlBed, name: &str, at_least: f64, timeout: Duration) -> f64 {
    let deadline = Instant::now() + timeout;
    loop {
        let value = bed.control.metric(name);
        if value >= at_least || Instant::now() >= deadline {
            return value;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------
// 1. Sources outside the allowlist.

/// svmap, svwar and svcrack from 127.0.0.3 (the trunk takes 127.0.0.2
/// only) learn nothing, a SIPp carrier there gets no answer, and tshark
/// sees not one packet toward 127.0.0.3.
#[test]
fn sources_outside_the_allowlist_learn_nothing() {
    let test = "sec_outside";
    let outsider = local(3);
    let mut tools = vec!["sipp", "tshark"];
    tools.extend_from_slice(SCANNERS);
    let Some(mut bed) = ControlBed::start(
        test,
        None,
        &tools,
        |ports| target_uris(ports, 1).1,
        carrier_only,
    ) else {
        return;
    };
    let sip = bed.sip();
    let capture = Sniffer::start(
        &bed.dir,
        "outside",
        &format!("host {outsider}"),
        Duration::from_secs(60),
    );
    let drops_before = bed.control.metric("sluice_sip_allowlist_drops_total");

    // The three scanners at once (each on a source port of its own).
    let scans: Vec<Scan> = SCANNERS
        .iter()
        .map(|tool| {
            let args: &[&str] = match *tool {
                "svwar" => &["-e", "1000-1003"],
                "svcrack" => &["-u", "carrier", "-r", "1000-1100"],
                _ => &[],
            };
            let port = bed.ports.take(2);
            Scan::start(&bed.dir, tool, sip, outsider, port, args)
        })
        .collect();

    // A CRLF keepalive: nothing comes back either.
    let sock = udp_on(outsider);
    sock.send_to(b"\r\n\r\n", sip).expect("sending a keepalive");
    // An INVITE from a SIPp carrier there: no answer at all.
    let (carrier, _) = bed.uac_from("carrier_uac_reject", outsider, DID);
    let run = carrier
        .recv_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .run(&bed.dir);
    assert!(!run.all_ok(), "an outsider's INVITE was answered");
    assert_eq!(run.failed(), 1, "{}", run.diagnostics());
    assert_eq!(
        run.counter("FailedTimeoutOnRecv"),
        1,
        "{}",
        run.diagnostics()
    );
    assert_eq!(received_by(&run), Vec::<String>::new(), "SIPp got answers");
    let keepalive_answers = receive_all(&sock, Duration::from_millis(200), Duration::from_secs(1));
    assert!(
        keepalive_answers.is_empty(),
        "the keepalive was answered: {keepalive_answers:?}"
    );

    // svmap and svwar wait 3 s, svcrack 10 s after their last packet.
    for scan in scans {
        let out = scan.finish(Duration::from_secs(20));
        eprintln!("{} took {:?}", out.tool, out.took);
        assert!(!out.found_something(), "{out:#?}");
        assert!(out.stderr.contains("found nothing"), "{out:#?}");
        match out.tool.as_str() {
            "svwar" => assert!(out.stderr.contains("timed out"), "{out:#?}"),
            "svcrack" => assert!(out.stderr.contains("no server response"), "{out:#?}"),
            _ => {}
        }
    }

    let packets = capture.finish(&bed.dir, sip.port());
    let toward: Vec<&Packet> = packets.iter().filter(|p| p.dst == outsider).collect();
    assert!(toward.is_empty(), "packets sent to {outsider}: {toward:#?}");
    let sent = |method: &str| {
        packets
            .iter()
            .filter(|p| p.src == outsider && p.dport == sip.port())
            .filter(|p| p.method.as_deref() == Some(method))
            .count()
    };
    // From the outsider's address: svmap's OPTIONS, svwar's and svcrack's
    // REGISTERs, the INVITE and its retransmissions (0.5 s, 1 s).
    let (probes, registers, invites) = (sent("OPTIONS"), sent("REGISTER"), sent("INVITE"));
    assert!(
        probes >= 1 && registers >= 2 && invites >= 3,
        "{probes} OPTIONS, {registers} REGISTERs, {invites} INVITEs: {packets:#?}"
    );
    let requests = probes + registers + invites;
    let drops = bed.control.metric("sluice_sip_allowlist_drops_total") - drops_before;
    assert!(
        drops >= requests as f64,
        "{drops} drops for {requests} requests"
    );
    let control = &bed.control;
    assert_eq!(control.metric("sluice_sip_calls_total"), 0.0);
    assert_eq!(control.metric("sluice_sip_active_calls"), 0.0);
    assert!(control.cdrs().is_empty(), "{:?}", control.cdrs());

    // Not silence for all: the carrier's own address is answered.
    let carrier = udp_on(local(2));
    carrier
        .send_to(&options(&carrier, sip, 1), sip)
        .expect("sending OPTIONS");
    let answers = receive_all(&carrier, Duration::from_millis(300), Duration::from_secs(3));
    assert!(
        answers
            .iter()
            .any(|m| status_line(m).starts_with("SIP/2.0 200")),
        "the carrier got {answers:#?}"
    );
}

/// With `unknown-source = "forbidden"` an outsider's INVITE gets a 403
/// that names nothing: no User-Agent, no Server.
#[test]
fn an_outsider_gets_a_bare_403_when_the_config_says_so() {
    let test = "sec_forbidden";
    let outsider = local(9);
    let Some(mut bed) = ControlBed::start(
        test,
        None,
        &["sipp"],
        |ports| target_uris(ports, 1).1,
        |config| {
            carrier_only(config);
            config
                .sip_extra
                .push("unknown-source = \"forbidden\"".to_owned());
        },
    ) else {
        return;
    };
    let (carrier, _) = bed.uac_from("carrier_uac_reject", outsider, DID);
    let run = carrier
        .recv_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .run(&bed.dir);
    assert!(run.all_ok(), "{}", run.diagnostics());
    assert_eq!(run.counter("r403"), 1, "{}", run.diagnostics());
    let answers = received_by(&run);
    assert_eq!(answers.len(), 1, "{answers:#?}");
    let forbidden = &answers[0];
    assert!(
        status_line(forbidden).starts_with("SIP/2.0 403"),
        "{forbidden}"
    );
    let names = header_names(forbidden);
    for name in ["user-agent", "server", "allow", "contact", "supported"] {
        assert!(!names.contains(&name.to_owned()), "{name} in:\n{forbidden}");
    }
    assert!(bed.control.metric("sluice_sip_allowlist_drops_total") >= 1.0);
    assert_eq!(bed.control.metric("sluice_sip_calls_total"), 0.0);
}

// ---------------------------------------------------------------------
// 2. Digest admission.

/// The right password gets a call through media-core to the platform; a
/// wrong one gets 403 and counts as a failure.
#[test]
fn digest_admits_the_right_password_and_refuses_a_wrong_one() {
    let test = "sec_digest";
    let mut target = 0;
    let Some(mut bed) = ControlBed::start(
        test,
        Some(RelayKind::MediaCore),
        &["sipp"],
        |ports| {
            let (list, uris) = target_uris(ports, 1);
            target = list[0];
            uris
        },
        |config| {
            no_probes(config);
            with_digest(config, "s3cret");
            config.sip_extra.push("target-timeout = \"1s\"".to_owned());
        },
    ) else {
        return;
    };
    let auth_uri = format!("{DID}@{}", bed.sip());
    let platform = bed.uas("platform_uas", target).start(&bed.dir);

    let (carrier, _) = bed.uac_from("carrier_uac_auth", CARRIER, DID);
    let run = carrier
        .credentials("carrier", "s3cret")
        .auth_uri(&auth_uri)
        .hold(Duration::from_millis(500))
        .run(&bed.dir);
    bed.control.assert_all_ok(&run, "carrier");
    assert_eq!(run.counter("challenged"), 1);
    assert_eq!(run.counter("completed"), 1);
    let cdrs = bed.control.wait_cdrs(1, Duration::from_secs(10));
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(cdrs[0]["end"], "carrier-bye", "{}", cdrs[0]);

    let failures_before = bed.control.metric("sluice_sip_auth_failures_total");
    let (carrier, _) = bed.uac_from("carrier_uac_auth", CARRIER, DID);
    let run = carrier
        .credentials("carrier", "not-the-password")
        .auth_uri(&auth_uri)
        .recv_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .run(&bed.dir);
    assert!(!run.all_ok(), "a wrong password was admitted");
    assert_eq!(run.counter("challenged"), 1, "{}", run.diagnostics());
    assert_eq!(run.counter("answered"), 0, "{}", run.diagnostics());
    let statuses: Vec<String> = received_by(&run)
        .iter()
        .map(|m| status_line(m).to_owned())
        .collect();
    assert!(
        statuses.iter().any(|s| s.starts_with("SIP/2.0 403")),
        "{statuses:?}"
    );
    let failures = bed.control.metric("sluice_sip_auth_failures_total") - failures_before;
    assert_eq!(failures, 1.0);

    let platform = platform.finish(Duration::from_secs(5));
    assert_eq!(platform.counter("invites"), 1, "{}", platform.diagnostics());
    assert_eq!(bed.control.metric("sluice_sip_calls_total"), 1.0);
    assert_eq!(
        bed.control.wait_cdrs(2, Duration::from_millis(500)).len(),
        1
    );
}

// ---------------------------------------------------------------------
// 3. Password guessing.

/// svcrack from an allowlisted source guesses REGISTER passwords (each
/// guess answers a fresh 401 challenge): it finds nothing, and after
/// `max-auth-failures` the source is locked out: nothing it sends is
/// answered, while another source still is.
///
/// svcrack's "found nothing" alone proves little here: a right guess gets
/// 405 (sip-control checks REGISTER credentials but is no registrar),
/// which svcrack reports as "We got an unknown response" and no password.
/// The password is therefore in the range but beyond the guesses the
/// lock-out allows, and the capture shows no 405.
#[test]
fn svcrack_finds_nothing_and_its_source_is_locked_out() {
    let test = "sec_svcrack";
    let cracker = local(4);
    let neighbour = local(5);
    let Some(mut bed) = ControlBed::start(
        test,
        None,
        &["sipp", "tshark", "svcrack"],
        |ports| target_uris(ports, 1).1,
        |config| {
            no_probes(config);
            // In svcrack's range, but past its first five guesses (the
            // username, then 1000 up).
            with_digest(config, "1050");
            config.security_extra.extend([
                "max-auth-failures = 5".to_owned(),
                "lockout = \"60s\"".to_owned(),
            ]);
        },
    ) else {
        return;
    };
    let sip = bed.sip();
    let capture = Sniffer::start(
        &bed.dir,
        "svcrack",
        &format!("host {cracker} and udp port {}", sip.port()),
        Duration::from_secs(60),
    );
    let port = bed.ports.take(2);
    // --maximumtime 1: stop 1 s (not 10 s) after the last response;
    // svcrack then still waits out its fixed 10 s socket timeout.
    let args = ["-u", "carrier", "-r", "1000-1100", "--maximumtime", "1"];
    let scan = Scan::start(&bed.dir, "svcrack", sip, cracker, port, &args);
    let locked = wait_metric(
        &bed,
        "sluice_sip_lockouts_total",
        1.0,
        Duration::from_secs(10),
    );
    assert_eq!(locked, 1.0, "{}", bed.control.log_tail(40));

    // The locked source: no answer. Another allowlisted one: 200.
    let (probe, _) = bed.uac_from("uac_options", cracker, "probe");
    let locked_probe = probe
        .recv_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .run(&bed.dir);
    assert_eq!(
        locked_probe.counter("FailedTimeoutOnRecv"),
        1,
        "{}",
        locked_probe.diagnostics()
    );
    assert!(received_by(&locked_probe).is_empty());
    let (probe, _) = bed.uac_from("uac_options", neighbour, "probe");
    let other_probe = probe
        .recv_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .run(&bed.dir);
    assert!(other_probe.all_ok(), "{}", other_probe.diagnostics());
    let answers = received_by(&other_probe);
    assert!(
        answers
            .iter()
            .any(|m| status_line(m).starts_with("SIP/2.0 200")),
        "{answers:#?}"
    );

    let out = scan.finish(Duration::from_secs(30));
    eprintln!("svcrack took {:?}", out.took);
    assert!(!out.found_something(), "{out:#?}");
    assert!(out.stderr.contains("found nothing"), "{out:#?}");

    let packets = capture.finish(&bed.dir, sip.port());
    let responses: Vec<&Packet> = packets
        .iter()
        .filter(|p| p.sport == sip.port() && p.dst == cracker)
        .collect();
    let requests = packets
        .iter()
        .filter(|p| p.src == cracker && p.dport == sip.port())
        .count();
    let challenges = responses.iter().filter(|p| p.status == Some(401)).count();
    let refusals: Vec<&&Packet> = responses.iter().filter(|p| p.status == Some(403)).collect();
    eprintln!(
        "svcrack: {requests} requests, {} responses ({challenges} challenges, {} refusals)",
        responses.len(),
        refusals.len()
    );
    // It got challenges and answered them with guesses: the lock-out, not
    // a failure to talk digest, is what stopped it.
    assert!(challenges >= 5, "{responses:#?}");
    assert!(refusals.len() >= 5, "{responses:#?}");
    // The right password never came: it would have got 405 (sip-control
    // is no registrar), which svcrack does not recognise as success.
    assert!(
        responses
            .iter()
            .all(|p| matches!(p.status, Some(401 | 403))),
        "{responses:#?}"
    );
    let failures = bed.control.metric("sluice_sip_auth_failures_total");
    assert!(failures >= 5.0, "{failures} failures");
    // Nothing answered it once the lock took. Requests that were past the
    // gate as the fifth failure locked the source may still be answered
    // right after it; from half a second on, svcrack's flood (it keeps
    // sending for --maximumtime) and the OPTIONS probe get nothing.
    let settled = refusals[4].time + 0.5;
    let later_requests = packets
        .iter()
        .filter(|p| p.src == cracker && p.time > settled)
        .count();
    let later_responses = responses.iter().filter(|p| p.time > settled).count();
    assert!(
        later_requests >= 10,
        "{later_requests} requests after the lock"
    );
    assert_eq!(later_responses, 0, "{responses:#?}");
    assert!(
        bed.control
            .metric("sluice_sip_rate_limited_total{reason=\"locked-out\"}")
            >= 1.0
    );
}

// ---------------------------------------------------------------------
// 4. Malformed and oversize input.

/// Garbage, a 60 KB datagram and a lying Content-Length from an
/// allowlisted source: sip-control keeps running and the next call works.
#[test]
fn malformed_and_oversize_datagrams_leave_calls_working() {
    let test = "sec_malformed";
    let source = local(6);
    let mut target = 0;
    let Some(mut bed) = ControlBed::start(
        test,
        Some(RelayKind::MediaCore),
        &["sipp"],
        |ports| {
            let (list, uris) = target_uris(ports, 1);
            target = list[0];
            uris
        },
        |config| {
            no_probes(config);
            config.sip_extra.push("target-timeout = \"1s\"".to_owned());
        },
    ) else {
        return;
    };
    let sip = bed.sip();
    let platform = bed.uas("platform_uas", target).start(&bed.dir);
    let sock = udp_on(source);
    for datagram in garbage(20) {
        sock.send_to(&datagram, sip).expect("sending garbage");
    }
    // 60 KB: a well-formed OPTIONS whose body is far above
    // max-message-size (16 KB).
    let big_body = "x".repeat(60 * 1024 - 400);
    let big = request(
        &sock,
        "OPTIONS",
        sip,
        1,
        "Content-Type: text/plain\r\n",
        &big_body,
    );
    assert!(big.len() > 60_000 && big.len() < 65_000);
    sock.send_to(&big, sip).expect("sending 60 KB");
    // Content-Length far beyond the datagram, and beyond any integer.
    let sdp = "v=0\r\no=x 1 1 IN IP4 127.0.0.6\r\ns=-\r\nc=IN IP4 127.0.0.6\r\nt=0 0\r\nm=audio 9 RTP/AVP 8\r\n";
    for (n, length) in [(2, "4294967295"), (3, "99999999999999999999999")] {
        let lying = request(
            &sock,
            "INVITE",
            sip,
            n,
            &format!("Content-Type: application/sdp\r\nContent-Length: {length}\r\n"),
            sdp,
        );
        sock.send_to(&lying, sip).expect("sending a lying INVITE");
    }
    // None of it is a request sip-control takes: the 60 KB datagram
    // arrives cut short (rsipstack reads 8 KB of a datagram) and, like the
    // INVITEs, has less body than its Content-Length: the gate drops them.
    let answers = receive_all(&sock, Duration::from_millis(500), Duration::from_secs(3));
    let statuses: Vec<&str> = answers.iter().map(|m| status_line(m)).collect();
    assert!(statuses.is_empty(), "bad datagrams answered: {statuses:?}");
    let malformed = bed
        .control
        .metric("sluice_sip_rate_limited_total{reason=\"malformed\"}");
    assert!(malformed >= 3.0, "{malformed} malformed messages counted");
    assert!(bed.control.running(), "{}", bed.control.log_tail(40));

    // The same source is still served, and a call goes through.
    sock.send_to(&options(&sock, sip, 4), sip)
        .expect("sending OPTIONS");
    let answers = receive_all(&sock, Duration::from_millis(300), Duration::from_secs(3));
    assert!(
        answers
            .iter()
            .any(|m| status_line(m).starts_with("SIP/2.0 200")),
        "{answers:#?}"
    );
    let (carrier, _) = bed.uac_from("carrier_uac", CARRIER, DID);
    let run = carrier.hold(Duration::from_millis(500)).run(&bed.dir);
    bed.control.assert_all_ok(&run, "carrier");
    let platform = platform.finish(Duration::from_secs(5));
    assert_eq!(platform.counter("invites"), 1, "{}", platform.diagnostics());
    assert_eq!(bed.control.metric("sluice_sip_calls_total"), 1.0);
    let cdrs = bed.control.wait_cdrs(1, Duration::from_secs(5));
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(cdrs[0]["end"], "carrier-bye", "{}", cdrs[0]);
    assert!(bed.control.running());
}

/// `n` datagrams that are not SIP, or are broken SIP: random bytes
/// (a fixed sequence), and hand-made breakage.
fn garbage(n: usize) -> Vec<Vec<u8>> {
    let mut made: Vec<Vec<u8>> = vec![
        b"INVITE\r\n\r\n".to_vec(),
        b"SIP/2.0 200 OK\r\n\r\n".to_vec(),
        b"OPTIONS sip:x SIP/2.0\r\nVia SIP/2.0/UDP nowhere\r\n\r\n".to_vec(),
        b"OPTIONS sip:x SIP/3.0\r\nCSeq: x OPTIONS\r\n\r\n".to_vec(),
        format!("OPTIONS sip:x SIP/2.0\r\nX: {}\r\n\r\n", "a".repeat(6000)).into_bytes(),
        b"\0\0\0\0\xff\xfe\xfd".to_vec(),
        b"OPTIONS sip:\xff\xfe@127.0.0.1 SIP/2.0\r\n\r\n".to_vec(),
        b"\r\n\r\n\r\n".to_vec(),
    ];
    // xorshift: the same "random" bytes every run.
    let mut state: u64 = 0x5eed_1234_abcd_ef01;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    while made.len() < n {
        let len = 1 + (next() % 1400) as usize;
        made.push((0..len).map(|_| next() as u8).collect());
    }
    made.truncate(n);
    made
}

// ---------------------------------------------------------------------
// 5. Rate limits.

/// 50 OPTIONS at once from one source with 5/s and a burst of 5: about
/// the burst is answered, the rest dropped and counted; another source
/// sending at the same time is served in full.
#[test]
fn a_burst_from_one_source_is_rate_limited_and_others_are_not() {
    let test = "sec_rate";
    let Some(bed) = ControlBed::start(
        test,
        None,
        &[],
        |ports| target_uris(ports, 1).1,
        |config| {
            no_probes(config);
            config.security_extra.extend([
                "rate-per-source = 5".to_owned(),
                "burst-per-source = 5".to_owned(),
            ]);
        },
    ) else {
        return;
    };
    let sip = bed.sip();
    let flood = udp_on(local(7));
    let other = udp_on(local(8));
    let started = Instant::now();
    for n in 0..50 {
        flood
            .send_to(&options(&flood, sip, n), sip)
            .expect("sending OPTIONS");
        if n % 10 == 0 {
            other
                .send_to(&options(&other, sip, 100 + n), sip)
                .expect("sending OPTIONS");
        }
    }
    let sent_in = started.elapsed();
    let flood_answers = receive_all(&flood, Duration::from_millis(500), Duration::from_secs(3));
    let other_answers = receive_all(&other, Duration::from_millis(100), Duration::from_secs(3));
    let ok = |answers: &[String]| {
        answers
            .iter()
            .filter(|m| status_line(m).starts_with("SIP/2.0 200"))
            .count()
    };
    eprintln!(
        "sent 50 in {sent_in:?}: {} answered; other source {} of 5",
        ok(&flood_answers),
        ok(&other_answers)
    );
    assert!(
        (5..=10).contains(&ok(&flood_answers)),
        "{} of 50 answered",
        ok(&flood_answers)
    );
    assert_eq!(
        flood_answers.len(),
        ok(&flood_answers),
        "{flood_answers:#?}"
    );
    assert_eq!(ok(&other_answers), 5, "{other_answers:#?}");
    let limited = bed
        .control
        .metric("sluice_sip_rate_limited_total{reason=\"rate-limited\"}");
    assert!(limited >= 40.0, "{limited} rate-limited");
}

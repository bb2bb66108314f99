//! SIP over TLS into sip-control: a certificate made by openssl for the
//! test, and Python's `ssl` module (OpenSSL) as the client, since Debian's
//! SIPp is built without TLS. The client verifies sip-control's
//! certificate against the test's own CA-less self-signed certificate
//! (IP subject alternative name 127.0.0.1) and gets its OPTIONS answered;
//! a client from outside the allowlist has its connection closed before
//! the handshake.

use std::process::Command;
use std::time::{Duration, Instant};

use sluice_tests::proc::run_bounded;
use sluice_tests::sip_control::{ControlConfig, SipControl};
use sluice_tests::sipp::tcp_port_listening;
use sluice_tests::{peers, PortBlock, TempDir};

const TEST: &str = "sip_control_tls";

/// Sends one OPTIONS over TLS from `source` and prints what came back
/// (`REFUSED` when the connection closed before the handshake, `NOTHING`
/// when the server closed or stayed silent for 2 s after it).
const CLIENT: &str = r#"
import socket, ssl, sys
port, cafile, source = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
raw = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
try:
    tls = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
except (ssl.SSLError, OSError) as e:
    print("REFUSED", e)
    sys.exit(0)
local = "%s:%d" % tls.getsockname()[:2]
msg = ("OPTIONS sip:+15551230001@127.0.0.1:%d;transport=tls SIP/2.0\r\n"
       "Via: SIP/2.0/TLS %s;branch=z9hG4bK-tls-1;rport\r\n"
       "From: <sips:probe@%s>;tag=tls1\r\n"
       "To: <sips:+15551230001@127.0.0.1:%d>\r\n"
       "Call-ID: tls-options-1@%s\r\n"
       "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n") % (port, local, local, port, local)
tls.sendall(msg.encode())
tls.settimeout(2)
try:
    data = tls.recv(4096)
except (socket.timeout, ssl.SSLError, OSError):
    data = b""
print(tls.version())
print(data.decode(errors="replace") if data else "NOTHING")
"#;

/// Runs the client once the TLS listener listens; a handshake cut short
/// (a loaded machine) is tried again, at most three times.
fn client(dir: &TempDir, port: u16, cert: &std::path::Path, source: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !tcp_port_listening(port) {
        assert!(
            Instant::now() < deadline,
            "nothing listens on TLS port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let script = dir.write("tls_client.py", CLIENT);
    let mut last = String::new();
    for _ in 0..3 {
        let mut cmd = Command::new("python3");
        cmd.arg(&script).arg(port.to_string()).arg(cert).arg(source);
        let (status, out) = run_bounded("tls-client", cmd, dir, Duration::from_secs(20));
        if status.success() {
            return out;
        }
        last = format!("TLS client failed ({status}):\n{out}");
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("{last}");
}

#[test]
fn options_over_tls_are_answered_only_for_allowlisted_sources() {
    if !peers::require_all(TEST, &["openssl", "python3"]) {
        return;
    }
    let dir = TempDir::new(TEST);
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let mut cmd = Command::new("openssl");
    cmd.args([
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
    ])
    .args([
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
    ])
    .arg("-keyout")
    .arg(&key)
    .arg("-out")
    .arg(&cert);
    let (status, out) = run_bounded("openssl", cmd, &dir, Duration::from_secs(30));
    assert!(status.success(), "openssl req failed:\n{out}");

    let mut ports = PortBlock::new();
    let sip_port = ports.take(2);
    let metrics_port = ports.take(2);
    let tls_port = ports.take(2);
    let nobody = "127.0.0.1:9".parse().expect("address");
    let mut config = ControlConfig::new(
        sip_port,
        metrics_port,
        vec!["sip:agent@127.0.0.1:9".to_owned()],
        vec![nobody],
    );
    config.allow = vec!["127.0.0.1/32".to_owned()];
    config
        .platform_extra
        .push("probe-interval = \"0s\"".to_owned());
    config.tls = Some((tls_port, cert.clone(), key));
    let control = SipControl::start(&dir, &config);

    let answered = client(&dir, tls_port, &cert, "127.0.0.1");
    assert!(
        answered.contains("TLSv1.3") || answered.contains("TLSv1.2"),
        "{answered}"
    );
    assert!(
        answered.contains("SIP/2.0 200 OK"),
        "{answered}\n{}",
        control.log_tail(30)
    );
    assert!(answered.contains("Allow:"), "{answered}");

    let drops_before = control.metric("sluice_sip_allowlist_drops_total");
    // A stranger's connection is closed before any TLS: no certificate,
    // no SIP.
    let ignored = client(&dir, tls_port, &cert, "127.0.0.7");
    assert!(ignored.contains("REFUSED"), "a stranger got: {ignored}");
    assert!(control.metric("sluice_sip_allowlist_drops_total") > drops_before);
}

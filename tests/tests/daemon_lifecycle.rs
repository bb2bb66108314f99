//! The media-core process itself: configuration errors stop start-up
//! with the key and reason, `--help` documents every flag, calls without
//! media time out, and SIGTERM drains and exits cleanly.

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use sluice_tests::relay::media_core_binary;
use sluice_tests::sdp::{audio_endpoint, audio_sdp, PCMU};
use sluice_tests::{call_id, ng, PortBlock, Relay, RelayKind, RelayOptions, TempDir};

const LOCALHOST: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn run_media_core(args: &[&str]) -> (i32, String) {
    let out = Command::new(media_core_binary())
        .args(args)
        .output()
        .expect("media-core runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn help_documents_every_flag() {
    let (code, help) = run_media_core(&["--help"]);
    assert_eq!(code, 0, "{help}");
    for flag in [
        "--interface",
        "--listen-ng",
        "--port-min",
        "--port-max",
        "--workers",
        "--timeout",
        "--max-sessions",
        "--config",
        "--xdp",
        "--xdp-mode",
        "--xdp-max-flows",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}

#[test]
fn bad_configuration_stops_startup_naming_the_key() {
    let (code, text) = run_media_core(&["--port-min", "40000", "--port-max", "30000"]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("key `port-max`") && text.contains("command line"),
        "{text}"
    );

    let (code, text) = run_media_core(&["--interface", "not-an-address"]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("`interface`") && text.contains("not-an-address"),
        "{text}"
    );

    let (code, text) = run_media_core(&["--workers", "many"]);
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("--workers"), "{text}");

    let dir = TempDir::new("config");
    let file = dir.write(
        "bad.toml",
        "listen-ng = \"127.0.0.1:2223\"\nmax-sesions = 10\n",
    );
    let (code, text) = run_media_core(&["--config", file.to_str().expect("utf-8 path")]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("bad.toml") && text.contains("max-sesions"),
        "{text}"
    );

    let (code, text) = run_media_core(&["--xdp", "eth0", "--xdp-mode", "turbo"]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("key `xdp-mode`") && text.contains("turbo"),
        "{text}"
    );

    let file = dir.write("zero.toml", "timeout = 0\n");
    let (code, text) = run_media_core(&["--config", file.to_str().expect("utf-8 path")]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("zero.toml: key `timeout`"), "{text}");
}

#[test]
fn calls_without_media_time_out_and_sigterm_exits_cleanly() {
    let test = "daemon_lifecycle::calls_without_media_time_out_and_sigterm_exits_cleanly";
    if !RelayKind::MediaCore.available(test) {
        return;
    }
    let mut ports = PortBlock::new();
    let opts = RelayOptions {
        timeout_secs: 2,
        ..RelayOptions::default()
    };
    let mut relay = Relay::start(RelayKind::MediaCore, &mut ports, &opts);
    let mut client = relay.client();

    let (a, b) = (ports.take(2), ports.take(2));
    let idle = call_id("idle");
    let busy = call_id("busy");
    let mut relay_side_of_a = None;
    for id in [&idle, &busy] {
        ng::offer(&mut client, id, "ta", &audio_sdp(LOCALHOST, a, &[PCMU], 20));
        let answered = ng::answer(
            &mut client,
            id,
            "ta",
            "tb",
            &audio_sdp(LOCALHOST, b, &[PCMU], 20),
        );
        relay_side_of_a = audio_endpoint(&answered);
    }
    let target = relay_side_of_a.expect("answer names the relay's port for the caller");
    // Keep the busy call alive with a packet every 200 ms; the idle one gets none.
    let sender = std::net::UdpSocket::bind((LOCALHOST, a)).expect("bind caller socket");
    let mut rtp = [0u8; 172];
    rtp[0] = 0x80;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut idle_gone_after = None;
    let start = Instant::now();
    while Instant::now() < deadline {
        sender.send_to(&rtp, target).expect("send RTP");
        let calls = ng::list(&mut client);
        if !calls.contains(&idle) {
            idle_gone_after = Some(start.elapsed());
            assert!(
                calls.contains(&busy),
                "the call with media was removed too: {calls:?}"
            );
            break;
        }
        thread::sleep(Duration::from_millis(200));
    }
    let gone = idle_gone_after.unwrap_or_else(|| {
        panic!(
            "idle call not removed within 10 s; log:\n{}",
            relay.log_tail(30)
        )
    });
    assert!(
        gone >= Duration::from_millis(1500),
        "removed before the 2 s timeout: {gone:?}"
    );

    let status = relay
        .stop_with("TERM", Duration::from_secs(5))
        .expect("media-core exits after SIGTERM");
    assert!(
        status.success(),
        "SIGTERM exit status {status}; log:\n{}",
        relay.log_tail(30)
    );
    assert!(
        relay.log_tail(10).contains("media-core stopped"),
        "{}",
        relay.log_tail(10)
    );
}

/// An XDP fast path that cannot attach is reported once, with the reason,
/// and media-core serves calls from userspace.
#[test]
fn an_unusable_xdp_interface_leaves_media_core_running_userspace_only() {
    let mut ports = PortBlock::new();
    let relay = Relay::start(
        RelayKind::MediaCore,
        &mut ports,
        &RelayOptions {
            extra_args: vec!["--xdp".into(), "sluice-nosuch0".into()],
            ..RelayOptions::default()
        },
    );
    let log = relay.log_tail(40);
    assert!(
        log.contains("XDP fast path unavailable") && log.contains("sluice-nosuch0"),
        "the reason is logged:\n{log}"
    );
    assert_eq!(
        log.matches("XDP fast path unavailable").count(),
        1,
        "said once:\n{log}"
    );
    let mut client = relay.client();
    assert!(ng::ping(&mut client), "NG still answers");
}

/// Without the privileges eBPF needs, media-core says which ones and
/// serves from userspace.
#[test]
fn without_privileges_xdp_is_refused_with_the_reason() {
    if !sluice_tests::netns::is_root() {
        println!("SKIPPED: needs root to drop privileges");
        return;
    }
    if !sluice_tests::require("xdp-unprivileged", "setpriv") {
        return;
    }
    let mut ports = PortBlock::new();
    let relay = Relay::start(
        RelayKind::MediaCore,
        &mut ports,
        &RelayOptions {
            extra_args: vec!["--xdp".into(), "lo".into()],
            wrapper: [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
            ]
            .map(String::from)
            .to_vec(),
            ..RelayOptions::default()
        },
    );
    let log = relay.log_tail(40);
    assert!(
        log.contains("XDP fast path unavailable")
            && log.contains("Operation not permitted")
            && log.contains("CAP_BPF"),
        "the reason and the remedy are logged:\n{log}"
    );
    let mut client = relay.client();
    assert!(ng::ping(&mut client), "NG still answers");
}

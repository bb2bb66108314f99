//! Attended transfer through sip-control (RFC 5589, RFC 3891): the
//! platform's REFER names its consultation call with the human in a
//! `Replaces` URI header; the queue's INVITE must carry it as a
//! `Replaces` header, the carrier's media must reach the queue. A
//! malformed `Replaces` gets 400, and an INVITE that asks sip-control to
//! replace a dialog it does not hold gets 481. SIPp peers, media-core as
//! the media node.

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use sluice_tests::dtmf::Capture;
use sluice_tests::sip_control::{target_uris, ControlBed};
use sluice_tests::sipp::Sipp;
use sluice_tests::RelayKind;

const DID: &str = "+15551230001";
/// The consultation call `queue_uas_replaces.xml` checks for, escaped as a
/// URI header the way the platform sends it.
const REPLACES_ESCAPED: &str =
    "consult-7731%40agent.example%3Bto-tag%3Dagent-7731%3Bfrom-tag%3Dai-7731";
/// The same, as the `Replaces` header the queue must get.
const REPLACES: &str = "consult-7731@agent.example;to-tag=agent-7731;from-tag=ai-7731";
/// telephone-event payload type of every scenario's SDP.
const EVENT_PT: u8 = 101;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

/// sip-control with one platform target and one queue (probes off), on
/// media-core; gives the bed, the target's and the queue's SIP ports.
fn bed(test: &str) -> Option<(ControlBed, u16, u16)> {
    let platform = Cell::new(0);
    let queue = Cell::new(0);
    let bed = ControlBed::start(
        test,
        Some(RelayKind::MediaCore),
        &["sipp", "tshark"],
        |ports| {
            let (list, uris) = target_uris(ports, 1);
            platform.set(list[0]);
            queue.set(ports.take(2));
            uris
        },
        |config| {
            config.queues = vec![format!("sip:queue@127.0.0.1:{}", queue.get())];
            config.sip_extra.push("target-timeout = \"1s\"".to_owned());
            config
                .platform_extra
                .push("probe-interval = \"0s\"".to_owned());
        },
    )?;
    Some((bed, platform.get(), queue.get()))
}

#[test]
fn an_attended_refer_reaches_the_queue_with_replaces() {
    let Some((mut bed, platform_port, queue_port)) = bed("sip_control_transfer_replaces") else {
        return;
    };
    let queue_uri = format!("sip:queue@127.0.0.1:{queue_port}");
    let platform_media = bed.ports.take(4);
    let platform = Sipp::uas(
        "platform_uas_refer_replaces",
        addr(platform_port),
        platform_media,
    )
    .key("queue_uri", &queue_uri)
    .key("replaces", REPLACES_ESCAPED)
    .hold(Duration::from_secs(1))
    .start(&bed.dir);
    let queue_media = bed.ports.take(4);
    let queue = Sipp::uas("queue_uas_replaces", addr(queue_port), queue_media).start(&bed.dir);
    let (carrier, _) = bed.uac_from("carrier_uac", IpAddr::V4(Ipv4Addr::LOCALHOST), DID);
    let at_queue = Capture::start(&bed.dir, queue_media, Duration::from_secs(20));
    let run = carrier.hold(Duration::from_secs(4)).run(&bed.dir);
    bed.control.assert_all_ok(&run, "carrier");
    let at_queue = at_queue.finish(&bed.dir, EVENT_PT);

    let platform_run = platform.finish(Duration::from_secs(5));
    assert_eq!(platform_run.failed(), 0, "{}", platform_run.diagnostics());
    assert_eq!(platform_run.counter("refer_accepted"), 1);
    assert_eq!(
        platform_run.counter("transferred"),
        1,
        "NOTIFY 200 reached the platform:\n{}",
        platform_run.diagnostics()
    );
    assert_eq!(
        platform_run.counter("completed"),
        1,
        "sip-control sent the platform BYE"
    );
    let queue_run = queue.finish(Duration::from_secs(5));
    assert_eq!(
        (queue_run.failed(), queue_run.counter("completed")),
        (0, 1),
        "the queue's INVITE carried the Replaces (its regexp check passed):\n{}",
        queue_run.diagnostics()
    );
    let log = queue_run.message_log();
    assert!(log.contains(&format!("Replaces: {REPLACES}")), "{log}");

    // The carrier's audio reached the queue after the transfer (about 3 s
    // of 30 ms packets).
    let audio = at_queue.iter().filter(|p| p.pt == 8).count();
    assert!(audio >= 50, "the queue got {audio} PCMA packets");
    let cdrs = bed.control.wait_cdrs(1, Duration::from_secs(10));
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(
        cdrs[0]["transfer"],
        format!("{queue_uri}: completed (attended)"),
        "{}",
        cdrs[0]
    );
    assert_eq!(cdrs[0]["end"], "carrier-bye");
}

#[test]
fn a_malformed_replaces_is_refused_with_400_and_the_call_goes_on() {
    let Some((mut bed, platform_port, queue_port)) = bed("sip_control_transfer_bad_replaces")
    else {
        return;
    };
    let platform_media = bed.ports.take(4);
    // No from-tag: RFC 3891 requires both tags.
    let platform = Sipp::uas(
        "platform_uas_refer_replaces",
        addr(platform_port),
        platform_media,
    )
    .key("queue_uri", &format!("sip:queue@127.0.0.1:{queue_port}"))
    .key(
        "replaces",
        "consult-7731%40agent.example%3Bto-tag%3Dagent-7731",
    )
    .hold(Duration::from_millis(500))
    .start(&bed.dir);
    let queue_media = bed.ports.take(4);
    let queue = Sipp::uas("queue_uas_replaces", addr(queue_port), queue_media).start(&bed.dir);
    let (carrier, _) = bed.uac_from("carrier_uac", IpAddr::V4(Ipv4Addr::LOCALHOST), DID);
    let run = carrier.hold(Duration::from_secs(2)).run(&bed.dir);
    bed.control.assert_all_ok(&run, "carrier");
    let platform_run = platform.finish(Duration::from_secs(5));
    assert_eq!(platform_run.failed(), 0, "{}", platform_run.diagnostics());
    assert_eq!(platform_run.counter("refer_refused"), 1, "400 to the REFER");
    assert_eq!(platform_run.counter("refer_accepted"), 0);
    assert_eq!(platform_run.counter("completed"), 1);
    let queue_run = queue.finish(Duration::from_secs(5));
    assert_eq!(queue_run.counter("invites"), 0, "the queue was not called");
    let cdrs = bed.control.wait_cdrs(1, Duration::from_secs(10));
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(cdrs[0]["end"], "carrier-bye", "{}", cdrs[0]);
    assert!(cdrs[0]["transfer"].is_null(), "{}", cdrs[0]);
    let refused = bed
        .control
        .metric("sluice_sip_transfers_total{mode=\"bridge\",result=\"bad-replaces\"}");
    assert_eq!(refused, 1.0);
}

#[test]
fn an_invite_replacing_an_unknown_dialog_gets_481() {
    let Some((mut bed, _, _)) = bed("sip_control_invite_replaces") else {
        return;
    };
    let (carrier, _) = bed.uac_from("carrier_uac_replaces", IpAddr::V4(Ipv4Addr::LOCALHOST), DID);
    let run = carrier
        .key("replaces", "nosuch@carrier.example;to-tag=a1;from-tag=b1")
        .run(&bed.dir);
    bed.control.assert_all_ok(&run, "carrier");
    assert_eq!(run.counter("r481"), 1);
    // Refused before it became a call: no CDR, no call counted.
    assert!(bed.control.cdrs().is_empty(), "{:?}", bed.control.cdrs());
    assert_eq!(bed.control.metric("sluice_sip_calls_total"), 0.0);
}

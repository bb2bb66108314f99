//! RFC 4028 session timers through sip-control, each leg on its own, with
//! SIPp peers and media-core as the media node. sip-control runs with
//! `short-session-timers` (Min-SE 2 s, Session-Expires 4 s) so that
//! refreshes and expiry happen within seconds: a short interval gets 422,
//! refreshes from either side restart a leg's timer, sip-control refreshes
//! the legs it is the refresher of (UPDATE or re-INVITE), and a leg whose
//! refresh does not come ends the call on both legs, with the media
//! deleted.

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde_json::Value;
use sluice_tests::ng;
use sluice_tests::sip_control::{target_uris, ControlBed};
use sluice_tests::sipp::Sipp;
use sluice_tests::RelayKind;

const DID: &str = "+15551230001";
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn addr(port: u16) -> SocketAddr {
    SocketAddr::new(LOCALHOST, port)
}

/// sip-control with short session timers and one platform target (probes
/// off), on media-core; gives the bed and the target's SIP port.
fn bed(test: &str) -> Option<(ControlBed, u16)> {
    let platform = Cell::new(0);
    let bed = ControlBed::start(
        test,
        Some(RelayKind::MediaCore),
        &["sipp"],
        |ports| {
            let (list, uris) = target_uris(ports, 1);
            platform.set(list[0]);
            uris
        },
        |config| {
            config.sip_extra.extend(
                [
                    "target-timeout = \"1s\"",
                    "short-session-timers = true",
                    "min-se = \"2s\"",
                    "session-expires = \"4s\"",
                ]
                .map(str::to_owned),
            );
            config
                .platform_extra
                .push("probe-interval = \"0s\"".to_owned());
        },
    )?;
    Some((bed, platform.get()))
}

/// The one CDR, after which the media node must hold no call.
fn ended_call(bed: &mut ControlBed) -> Value {
    let cdrs = bed.control.wait_cdrs(1, Duration::from_secs(10));
    assert_eq!(cdrs.len(), 1, "{cdrs:?}\n{}", bed.control.log_tail(40));
    let relay = bed.relay().expect("the bed has a relay");
    let calls = ng::list(&mut relay.client());
    assert!(calls.is_empty(), "the media node still holds {calls:?}");
    cdrs[0].clone()
}

#[test]
fn a_refreshing_carrier_keeps_the_call_until_its_refreshes_stop() {
    let Some((mut bed, platform_port)) = bed("sip_control_session_timer_carrier") else {
        return;
    };
    let platform_media = bed.ports.take(4);
    // sip-control refreshes the platform (refresher=uac) by UPDATE.
    let platform = Sipp::uas(
        "platform_uas_session_timer",
        addr(platform_port),
        platform_media,
    )
    .key("se", "4")
    .key("refresher", "uac")
    .key("allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE")
    .start(&bed.dir);
    // The carrier asks for 1 s (422), then 4 s; refreshes once after 1.5 s.
    let (carrier, _) = bed.uac_from("carrier_uac_session_timer", LOCALHOST, DID);
    let run = carrier
        .key("se", "4")
        .hold(Duration::from_millis(1500))
        .run(&bed.dir);
    bed.control.assert_all_ok(&run, "carrier");
    assert_eq!(run.counter("r422"), 1);
    assert_eq!(run.counter("refreshed"), 1);
    assert_eq!(run.counter("completed"), 1, "sip-control sent the BYE");
    let log = run.message_log();
    assert!(
        log.contains("Min-SE: 2"),
        "the 422 names our Min-SE:\n{log}"
    );
    assert!(log.contains("Session-Expires: 4;refresher=uac"), "{log}");

    let cdr = ended_call(&mut bed);
    assert_eq!(cdr["end"], "session-expired", "{cdr}");
    // The UPDATE at 1.5 s restarted the carrier's 4 s timer, which then
    // ran out 4 - 4/3 s later: not before about 4.2 s in the call.
    let talk = cdr["talk_ms"].as_u64().expect("talk time");
    assert!((3800..8000).contains(&talk), "talk time {talk} ms");

    let platform_run = platform.finish(Duration::from_secs(5));
    assert_eq!(platform_run.failed(), 0, "{}", platform_run.diagnostics());
    assert_eq!(platform_run.counter("invites"), 1);
    assert!(
        platform_run.counter("updates") >= 1,
        "sip-control refreshed the platform every 2 s:\n{}",
        platform_run.diagnostics()
    );
    assert_eq!(platform_run.counter("reinvites"), 0, "UPDATE was allowed");
    assert_eq!(platform_run.counter("completed"), 1, "BYE on both legs");
    let control = &bed.control;
    assert_eq!(
        control.metric("sluice_sip_calls_total"),
        1.0,
        "the 422 was no call"
    );
}

#[test]
fn a_silent_platform_refresher_ends_the_call_and_a_carrier_without_timers_is_refreshed() {
    let Some((mut bed, platform_port)) = bed("sip_control_session_timer_platform") else {
        return;
    };
    let platform_media = bed.ports.take(4);
    // The platform takes the refresher role and never refreshes; no UPDATE.
    let platform = Sipp::uas(
        "platform_uas_session_timer",
        addr(platform_port),
        platform_media,
    )
    .key("se", "4")
    .key("refresher", "uas")
    .key("allow", "INVITE, ACK, BYE, CANCEL, OPTIONS")
    .start(&bed.dir);
    // A carrier that knows nothing of timers (no UPDATE either): sip-control
    // refreshes it by re-INVITE every 2 s.
    let (carrier, _) = bed.uac_from("carrier_uac_wait_bye", LOCALHOST, DID);
    let run = carrier.run(&bed.dir);
    bed.control.assert_all_ok(&run, "carrier");
    assert_eq!(run.counter("completed"), 1, "sip-control sent the BYE");
    assert!(
        run.counter("reinvites") >= 1,
        "sip-control refreshed the carrier:\n{}",
        run.diagnostics()
    );
    let log = run.message_log();
    assert!(
        log.contains("Session-Expires: 4;refresher=uas"),
        "the 200 made sip-control the carrier leg's refresher:\n{log}"
    );
    assert!(
        log.contains("Session-Expires: 4;refresher=uac"),
        "the refresh re-INVITE says who refreshes:\n{log}"
    );

    let cdr = ended_call(&mut bed);
    assert_eq!(cdr["end"], "session-expired", "{cdr}");
    // The platform's 4 s timer ran out 4 - 4/3 s after its 200.
    let talk = cdr["talk_ms"].as_u64().expect("talk time");
    assert!((2000..6000).contains(&talk), "talk time {talk} ms");

    let platform_run = platform.finish(Duration::from_secs(5));
    assert_eq!(platform_run.failed(), 0, "{}", platform_run.diagnostics());
    assert_eq!(
        platform_run.counter("updates") + platform_run.counter("reinvites"),
        0,
        "sip-control does not refresh a leg whose peer is the refresher"
    );
    assert_eq!(platform_run.counter("completed"), 1, "BYE on both legs");
}

//! sip-control's media policy between real SIPp peers, with media-core as
//! the media node: early media (183 with SDP and RTP before the answer),
//! a carrier CANCEL while the platform rings, SDES-SRTP toward the
//! platform with plain RTP toward the carrier, and a PCMA-only carrier
//! transcoded to an Opus-only platform.
//!
//! What each party got is read from its own side: SIPp's message log and
//! scenario checks (SDP), tshark on its ports (RTP, and the order of SIP
//! and RTP), libsrtp for SRTP (a third-party implementation, not
//! sluice's), sip-control's CDR lines and metrics, media-core over NG.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value;
use sluice_srtp::Suite;
use sluice_srtp_compare::libsrtp::{Direction, Libsrtp};
use sluice_tests::dtmf::Capture;
use sluice_tests::pcap;
use sluice_tests::sdp::{
    audio_endpoint, audio_payload_types, audio_protocol, crypto_lines, rtpmap_pt,
};
use sluice_tests::sip_control::ControlBed;
use sluice_tests::{ng, RelayKind};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const DID: &str = "+15551230001";
const TOOLS: &[&str] = &["sipp", "tshark"];
/// PCMA, the payload type of every G.711 A-law packet here.
const PCMA_PT: u8 = 8;
/// The SRTP suite the platform answers with.
const SHA1_80: &str = "AES_CM_128_HMAC_SHA1_80";

/// The CDR of the bed's one call.
fn one_cdr(bed: &ControlBed) -> Value {
    let cdrs = bed.control.wait_cdrs(1, Duration::from_secs(10));
    assert_eq!(
        cdrs.len(),
        1,
        "CDRs: {cdrs:?}\n{}",
        bed.control.log_tail(40)
    );
    cdrs[0].clone()
}

/// Waits (at most 5 s) until the media node lists no call.
fn media_node_is_empty(bed: &mut ControlBed) {
    let relay = bed.relay().expect("the bed has a media node");
    let mut client = relay.client();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let calls = ng::list(&mut client);
        if calls.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the media node still has calls: {calls:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Packets the media node counted from each party of its one call, by
/// NG tag (queried while the call is up).
fn packets_by_tag(bed: &mut ControlBed) -> Vec<(String, u64)> {
    let relay = bed.relay().expect("the bed has a media node");
    let mut client = relay.client();
    let calls = ng::list(&mut client);
    assert_eq!(calls.len(), 1, "one call on the media node: {calls:?}");
    let reply = ng::query(&mut client, &calls[0]);
    let tags = reply
        .get("tags")
        .and_then(|t| t.as_dict())
        .unwrap_or_else(|| panic!("query without tags: {}", ng::show(&reply)));
    tags.iter()
        .map(|(tag, _)| {
            let tag = String::from_utf8_lossy(tag).into_owned();
            let n = sip_control::media::packets_from(&reply, &tag).unwrap_or(0);
            (tag, n)
        })
        .collect()
}

/// Early media: the platform answers 183 with SDP and plays PCMA for
/// 1.5 s before its 200. The carrier's 183 must carry the media node's
/// address (not the platform's), and PCMA from the media node must reach
/// the carrier's port before the 200 does.
#[test]
fn early_media_reaches_the_carrier_from_the_media_node_before_the_answer() {
    let test = "sip_control_early_media";
    let Some((mut bed, platform_port)) =
        ControlBed::one_target(test, Some(RelayKind::MediaCore), TOOLS, |_| {})
    else {
        return;
    };
    let platform = bed
        .uas("platform_uas_early_media", platform_port)
        .hold(Duration::from_millis(1500));
    let platform_media = platform.media_port();
    let platform = platform.start(&bed.dir);
    let (carrier, carrier_media) = bed.uac_from("carrier_uac_early_media", LOCALHOST, DID);
    let carrier_sip = carrier.local().port();
    let capture = Capture::start_ports(
        &bed.dir,
        &[carrier_media, carrier_sip],
        Duration::from_secs(20),
    );
    let run = carrier.hold(Duration::from_secs(1)).run(&bed.dir);
    bed.control.assert_all_ok(&run, "carrier");
    assert_eq!(run.counter("early"), 1, "183 with SDP at the carrier");
    let platform_run = platform.finish(Duration::from_secs(5));
    assert!(
        platform_run.all_ok(),
        "platform:\n{}",
        platform_run.diagnostics()
    );
    assert_eq!(platform_run.counter("early"), 1);
    assert_eq!(platform_run.counter("completed"), 1);

    // The 183 (and the 200) point at the media node.
    let (relay_min, relay_max) = bed.relay().expect("media node").media_ports();
    let early_sdp = run.received_body("SIP/2.0 183", "INVITE");
    let early = audio_endpoint(&early_sdp)
        .unwrap_or_else(|| panic!("no audio endpoint in the 183:\n{early_sdp}"));
    assert_ne!(
        early.port(),
        platform_media,
        "the 183 names the platform:\n{early_sdp}"
    );
    assert!(
        (relay_min..=relay_max).contains(&early.port()),
        "the 183's m= port {} is not the media node's ({relay_min}-{relay_max}):\n{early_sdp}",
        early.port()
    );
    assert_eq!(audio_payload_types(&early_sdp).first(), Some(&PCMA_PT));
    let answer_sdp = run.received_body("SIP/2.0 200", "INVITE");
    assert_eq!(
        audio_endpoint(&answer_sdp),
        Some(early),
        "183 and 200 agree"
    );
    let offer_sdp = platform_run.received_body("INVITE ", "INVITE");
    let offered = audio_endpoint(&offer_sdp).expect("an audio endpoint in the platform's offer");
    assert!(
        (relay_min..=relay_max).contains(&offered.port()),
        "the platform's offer names {offered}, not the media node:\n{offer_sdp}"
    );

    // RTP from the media node's port reached the carrier before the 200.
    let rows = capture.finish_fields(
        &bed.dir,
        &[(carrier_media, "rtp"), (carrier_sip, "sip")],
        "rtp or sip",
        &[
            "frame.number",
            "udp.srcport",
            "udp.dstport",
            "sip.Status-Code",
            "sip.CSeq.method",
            "rtp.p_type",
        ],
    );
    let frame = |r: &Vec<String>| r[0].parse::<u64>().unwrap_or(0);
    let answered_at = rows
        .iter()
        .find(|r| r[3] == "200" && r[4] == "INVITE")
        .map(frame)
        .unwrap_or_else(|| panic!("tshark saw no 200 to the INVITE at the carrier: {rows:?}"));
    let rtp_to_carrier =
        |r: &&Vec<String>| r[2] == carrier_media.to_string() && r[5] == PCMA_PT.to_string();
    let early_packets: Vec<&Vec<String>> = rows
        .iter()
        .filter(rtp_to_carrier)
        .filter(|r| frame(r) < answered_at)
        .collect();
    // 1.5 s of 30 ms packets: about 50.
    assert!(
        early_packets.len() >= 30,
        "only {} PCMA packets reached the carrier before the 200",
        early_packets.len()
    );
    assert!(
        early_packets
            .iter()
            .all(|r| r[1] == early.port().to_string()),
        "early media came from elsewhere than the 183's port {}: {early_packets:?}",
        early.port()
    );
    let after = rows
        .iter()
        .filter(rtp_to_carrier)
        .filter(|r| frame(r) > answered_at)
        .count();
    assert!(after >= 20, "only {after} PCMA packets after the answer");
    eprintln!(
        "early media: 183 names {early}, platform at {platform_media}; {} packets before the 200, {after} after",
        early_packets.len()
    );

    let cdr = one_cdr(&bed);
    assert_eq!(cdr["end"], "carrier-bye", "{cdr}");
    let answer_after = cdr["answer_after_ms"].as_u64().expect("answered");
    assert!(
        answer_after >= 1500,
        "answered {answer_after} ms in, before the early media ended"
    );
    assert!(cdr["ttfa_ms"].as_u64().is_some(), "TTFA measured: {cdr}");
    assert_eq!(bed.control.metric("sluice_sip_calls_answered_total"), 1.0);
    media_node_is_empty(&mut bed);
}

/// The carrier CANCELs while the platform rings (180, never answers):
/// the carrier gets 200 for the CANCEL and 487 for the INVITE, the
/// platform gets the CANCEL and answers 487, the CDR and metrics say
/// carrier-cancel, and the media node forgets the call.
#[test]
fn a_carrier_cancel_while_the_platform_rings_reaches_the_platform() {
    let test = "sip_control_cancel";
    let Some((mut bed, platform_port)) =
        ControlBed::one_target(test, Some(RelayKind::MediaCore), &["sipp"], |_| {})
    else {
        return;
    };
    let platform = bed
        .uas("platform_uas_ring_cancel", platform_port)
        .start(&bed.dir);
    let (carrier, _) = bed.uac_from("carrier_uac_cancel", LOCALHOST, DID);
    let started = Instant::now();
    let run = carrier.hold(Duration::from_millis(500)).run(&bed.dir);
    bed.control.assert_all_ok(&run, "carrier");
    assert_eq!(
        run.counter("ringing"),
        1,
        "the platform's 180 reached the carrier"
    );
    assert_eq!(run.counter("cancel_ok"), 1, "200 for the CANCEL");
    assert_eq!(run.counter("terminated"), 1, "487 for the INVITE");
    let platform_run = platform.finish(Duration::from_secs(5));
    assert!(
        platform_run.all_ok(),
        "platform:\n{}",
        platform_run.diagnostics()
    );
    assert_eq!(platform_run.counter("invites"), 1);
    assert_eq!(
        platform_run.counter("cancelled"),
        1,
        "the CANCEL reached the platform"
    );
    assert_eq!(platform_run.counter("terminated"), 1, "its 487 was ACKed");
    assert!(started.elapsed() < Duration::from_secs(10));

    let cdr = one_cdr(&bed);
    assert_eq!(cdr["end"], "carrier-cancel", "{cdr}");
    assert_eq!(cdr["status"], 487, "{cdr}");
    assert_eq!(cdr["answer_after_ms"], Value::Null, "{cdr}");
    assert_eq!(cdr["media_node"], "node0", "{cdr}");
    let control = &bed.control;
    assert_eq!(
        control.metric_with(
            "sluice_sip_call_failures_total",
            &["cause=\"carrier-cancel\""]
        ),
        1.0
    );
    assert_eq!(control.metric("sluice_sip_calls_total"), 1.0);
    assert_eq!(control.metric("sluice_sip_calls_answered_total"), 0.0);
    assert_eq!(control.metric("sluice_sip_active_calls"), 0.0);
    media_node_is_empty(&mut bed);
}

/// The platform's own master key and salt (30 bytes).
fn platform_key() -> Vec<u8> {
    (0u8..30)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect()
}

/// The RTP payloads (after the 12-byte header) of the packaged capture.
fn g711a_payloads() -> HashSet<Vec<u8>> {
    pcap::read_udp(Path::new(pcap::SIPP_G711A))
        .into_iter()
        .map(|d| d.payload[12..].to_vec())
        .collect()
}

/// UDP payloads of the packets of a capture to `port`.
fn udp_payloads(rows: &[Vec<String>]) -> Vec<Vec<u8>> {
    rows.iter()
        .filter_map(|r| hex(&r[0]))
        .filter(|p| p.len() > 12)
        .collect()
}

fn hex(text: &str) -> Option<Vec<u8>> {
    let text: String = text.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// `srtp = "sdes"` toward the platform, the trunk's default (off) toward
/// the carrier: the platform is offered RTP/SAVP with a=crypto, the
/// carrier is answered RTP/AVP without; the media node encrypts what the
/// carrier sends (libsrtp decrypts it at the platform's port back to the
/// carrier's PCMA bytes) and decrypts what the platform sends (protected
/// by libsrtp with the platform's key; the carrier gets the plain bytes).
#[test]
fn sdes_toward_the_platform_and_plain_rtp_toward_the_carrier() {
    let test = "sip_control_srtp";
    let Some((mut bed, platform_port)) =
        ControlBed::one_target(test, Some(RelayKind::MediaCore), TOOLS, |config| {
            config.platform_extra.push("srtp = \"sdes\"".to_owned());
        })
    else {
        return;
    };
    let key = platform_key();
    let plain = pcap::read_udp(Path::new(pcap::SIPP_G711A));
    let protected = pcap::srtp_protect(&plain, Suite::AesCm128HmacSha1_80, &key);
    pcap::write_udp(&bed.dir.join("srtp_g711a.pcap"), &protected, 5000, 6000);
    let platform = bed
        .uas("platform_uas_srtp", platform_port)
        .key("srtp_key", &BASE64.encode(&key));
    let platform_media = platform.media_port();
    let platform = platform.start(&bed.dir);
    let (carrier, carrier_media) = bed.uac_from("carrier_uac", LOCALHOST, DID);
    let at_platform = Capture::start(&bed.dir, platform_media, Duration::from_secs(20));
    let at_carrier = Capture::start(&bed.dir, carrier_media, Duration::from_secs(20));
    let carrier = carrier.hold(Duration::from_secs(3)).start(&bed.dir);
    // Both parties send from the ACK on: ask the media node mid-call.
    std::thread::sleep(Duration::from_millis(1500));
    let counts = packets_by_tag(&mut bed);
    let run = carrier.wait(Duration::from_secs(30));
    bed.control.assert_all_ok(&run, "carrier");
    let platform_run = platform.finish(Duration::from_secs(5));
    assert!(
        platform_run.all_ok(),
        "platform:\n{}",
        platform_run.diagnostics()
    );
    assert_eq!(platform_run.counter("completed"), 1);

    // SDP: SAVP with SDES to the platform, AVP without to the carrier.
    let offer = platform_run.received_body("INVITE ", "INVITE");
    assert_eq!(
        audio_protocol(&offer).as_deref(),
        Some("RTP/SAVP"),
        "{offer}"
    );
    let cryptos = crypto_lines(&offer);
    let offered = cryptos
        .iter()
        .find(|c| c.suite == SHA1_80)
        .unwrap_or_else(|| panic!("no {SHA1_80} a=crypto offered to the platform:\n{offer}"));
    let answer = run.received_body("SIP/2.0 200", "INVITE");
    assert_eq!(
        audio_protocol(&answer).as_deref(),
        Some("RTP/AVP"),
        "{answer}"
    );
    assert!(
        crypto_lines(&answer).is_empty(),
        "a=crypto toward the carrier:\n{answer}"
    );
    assert!(!answer.contains("a=crypto"), "{answer}");
    assert_eq!(counts.len(), 2, "two parties on the media node: {counts:?}");
    assert!(
        counts.iter().all(|(_, n)| *n > 0),
        "the media node counted packets from both parties: {counts:?}"
    );

    // Toward the platform: SRTP under the offered key, which libsrtp
    // decrypts into the carrier's own PCMA payloads.
    let reference = g711a_payloads();
    let rows = at_platform.finish_fields(
        &bed.dir,
        &[],
        &format!("udp.dstport == {platform_media}"),
        &["udp.payload"],
    );
    let srtp = udp_payloads(&rows);
    assert!(
        srtp.len() >= 80,
        "only {} packets at the platform in ~3 s",
        srtp.len()
    );
    let in_clear = srtp.iter().filter(|p| reference.contains(&p[12..])).count();
    assert_eq!(
        in_clear, 0,
        "packets to the platform carry the carrier's audio in clear"
    );
    let media_key = BASE64
        .decode(&offered.key)
        .unwrap_or_else(|e| panic!("offered key {:?}: {e}", offered.key));
    let mut inbound = Libsrtp::new(Suite::AesCm128HmacSha1_80, &media_key, Direction::Inbound)
        .expect("libsrtp takes an AES_CM_128 key");
    let mut decrypted = 0;
    for packet in &srtp {
        let mut buf = packet.clone();
        let len = inbound
            .unprotect_rtp(&mut buf, packet.len())
            .unwrap_or_else(|e| {
                panic!("libsrtp could not unprotect a packet to the platform: {e}")
            });
        assert_eq!(len, packet.len() - 10, "an 80-bit tag");
        assert_eq!(buf[1] & 0x7f, PCMA_PT);
        assert!(
            reference.contains(&buf[12..len]),
            "a decrypted payload is not one the carrier sent"
        );
        decrypted += 1;
    }
    assert!(decrypted >= 80);
    eprintln!(
        "srtp: {} a=crypto offered, {decrypted} packets decrypted at the platform, node counts {counts:?}",
        cryptos.len()
    );

    // Toward the carrier: plain PCMA, the platform's bytes decrypted.
    let rows = at_carrier.finish_fields(
        &bed.dir,
        &[(carrier_media, "rtp")],
        &format!("rtp and udp.dstport == {carrier_media}"),
        &["udp.payload"],
    );
    let at_carrier = udp_payloads(&rows);
    let plain_pcma = at_carrier
        .iter()
        .filter(|p| p[1] & 0x7f == PCMA_PT && reference.contains(&p[12..]))
        .count();
    assert!(
        plain_pcma >= 80,
        "only {plain_pcma} of {} packets at the carrier are the platform's PCMA in clear",
        at_carrier.len()
    );
    eprintln!(
        "srtp: {plain_pcma} of {} packets at the carrier are plain PCMA",
        at_carrier.len()
    );
    let cdr = one_cdr(&bed);
    assert_eq!(cdr["end"], "carrier-bye", "{cdr}");
    media_node_is_empty(&mut bed);
}

/// The payload type the Opus pcap carries; the platform's offer must
/// give opus/48000/2 this number (media-core's first dynamic one).
const OPUS_PT: u8 = 96;

/// Decoded A-law payloads: (RMS, zero crossings per second).
fn alaw_tone(payloads: &[Vec<u8>]) -> (f64, f64) {
    let samples: Vec<f64> = payloads
        .iter()
        .flat_map(|p| {
            p[12..]
                .iter()
                .map(|&c| f64::from(sluice_codec::g711::alaw::decode(c)))
        })
        .collect();
    if samples.is_empty() {
        return (0.0, 0.0);
    }
    let rms = (samples.iter().map(|s| s * s).sum::<f64>() / samples.len() as f64).sqrt();
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    (rms, crossings as f64 * 8000.0 / samples.len() as f64)
}

/// A carrier offering only PCMA, a platform taking only Opus
/// (`codecs = ["opus"]`): the platform is offered opus (and not PCMA),
/// the carrier is answered PCMA; media-core transcodes both ways: the
/// platform receives Opus, and the carrier receives PCMA carrying the
/// platform's 1 kHz tone (libopus-encoded by the test).
#[test]
fn a_pcma_carrier_reaches_an_opus_platform_through_the_transcoder() {
    let test = "sip_control_transcode";
    let Some((mut bed, platform_port)) =
        ControlBed::one_target(test, Some(RelayKind::MediaCore), TOOLS, |config| {
            config.platform_codecs = vec!["opus".to_owned()];
        })
    else {
        return;
    };
    let opus = pcap::opus_sine_rtp(OPUS_PT, 0x0a0b_0c0d, 1000.0, 4);
    pcap::write_udp(&bed.dir.join("opus.pcap"), &opus, 5000, 6000);
    let platform = bed.uas("platform_uas_opus", platform_port);
    let platform_media = platform.media_port();
    let platform = platform.start(&bed.dir);
    let (carrier, carrier_media) = bed.uac_from("carrier_uac_pcma_only", LOCALHOST, DID);
    let at_platform = Capture::start(&bed.dir, platform_media, Duration::from_secs(20));
    let at_carrier = Capture::start(&bed.dir, carrier_media, Duration::from_secs(20));
    let run = carrier.hold(Duration::from_secs(3)).run(&bed.dir);
    assert!(
        run.all_ok(),
        "carrier (its scenario checks the answer is PCMA only):\n{}\n{}",
        run.diagnostics(),
        bed.control.log_tail(40)
    );
    let platform_run = platform.finish(Duration::from_secs(5));
    assert!(
        platform_run.all_ok(),
        "platform (its scenario checks the offer has opus):\n{}",
        platform_run.diagnostics()
    );
    assert_eq!(platform_run.counter("completed"), 1);

    let offer = platform_run.received_body("INVITE ", "INVITE");
    assert_eq!(
        rtpmap_pt(&offer, "opus/48000/2"),
        Some(OPUS_PT),
        "the pcap's payload type is not the offer's opus:\n{offer}"
    );
    assert!(
        !audio_payload_types(&offer).contains(&PCMA_PT),
        "PCMA offered to an Opus-only platform:\n{offer}"
    );
    let answer = run.received_body("SIP/2.0 200", "INVITE");
    assert_eq!(audio_payload_types(&answer), vec![PCMA_PT], "{answer}");

    // The platform gets Opus (transcoded from the carrier's PCMA).
    let to_platform = at_platform.finish(&bed.dir, 101);
    let opus_in = to_platform.iter().filter(|p| p.pt == OPUS_PT).count();
    assert!(
        opus_in >= 100,
        "only {opus_in} Opus packets at the platform in ~3 s"
    );
    assert!(
        to_platform.iter().all(|p| p.pt == OPUS_PT),
        "non-Opus packets at the platform: {:?}",
        to_platform.iter().map(|p| p.pt).collect::<HashSet<_>>()
    );
    // The carrier gets PCMA carrying the platform's tone.
    let rows = at_carrier.finish_fields(
        &bed.dir,
        &[(carrier_media, "rtp")],
        &format!("rtp and udp.dstport == {carrier_media}"),
        &["udp.payload"],
    );
    let pcma: Vec<Vec<u8>> = udp_payloads(&rows)
        .into_iter()
        .filter(|p| p[1] & 0x7f == PCMA_PT)
        .collect();
    assert!(
        pcma.len() >= 80,
        "only {} PCMA packets at the carrier",
        pcma.len()
    );
    // Leave out the first 200 ms (codec start-up).
    let (rms, crossings) = alaw_tone(&pcma[10..]);
    assert!(rms > 1000.0, "the carrier hears silence (RMS {rms:.0})");
    assert!(
        (1800.0..=2200.0).contains(&crossings),
        "{crossings:.0} zero crossings per second: not the platform's 1 kHz tone"
    );
    eprintln!(
        "transcode: {opus_in} Opus packets at the platform, {} PCMA at the carrier, RMS {rms:.0}, {crossings:.0} crossings/s",
        pcma.len()
    );
    let cdr = one_cdr(&bed);
    assert_eq!(cdr["end"], "carrier-bye", "{cdr}");
    media_node_is_empty(&mut bed);
}

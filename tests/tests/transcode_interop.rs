//! media-core transcoding and DTMF against real peers (media-core only;
//! `codec_negotiation.rs` holds the SDP side by side with rtpengine):
//!
//! - ffmpeg sends PCMU, ffmpeg decodes the Opus media-core made of it, and
//!   the other way from ffmpeg's libopus to PCMU; sox checks length, pitch
//!   and level. PCMU <-> PCMA the same way.
//! - A chirp through PCMU -> Opus -> PCMU (two transcoded calls chained
//!   relay to relay), aligned by cross-correlation: the SNR is printed and
//!   held above a measured floor.
//! - SIPp plays its RFC 2833 pcaps (PT 101, 8 kHz) through Kamailio and a
//!   call transcoded to Opus; tshark at the far side decodes the digits on
//!   telephone-event/48000, and `--dtmf-log-dest` reports them.
//! - NG `play DTMF` both ways, `block DTMF`, decoded by tshark.
//! - Hostile media (garbage Opus, foreign payload types, broken and
//!   absurd DTMF) is dropped and counted by reason, and audio goes on.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use sluice_ng::client::Client;
use sluice_ng::{Dict, Value};
use sluice_tests::dtmf::{digit_char, digits, json_field, Capture, Digit, DtmfLog};
use sluice_tests::media::{
    align, check_sine, read_wav, reference_pcmu_sine, render_lavfi, send_into, sox_stat,
    PcmuReceiver, SoxStat, TxCodec,
};
use sluice_tests::relay::{RelayKind, RelayOptions};
use sluice_tests::rtp::{rtp_event_packet, rtp_packet};
use sluice_tests::sdp::{audio_endpoint, audio_payload_types, audio_sdp, rtpmap_pt, Codec, PCMU};
use sluice_tests::sip::{
    uac_pcaps_scenario, uas_scenario, Kamailio, SippUac, SippUas, UacParams, SIPP_PCAP_DIR,
};
use sluice_tests::{call_id, ng, peers, PortBlock, Relay, TempDir};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const SECS: u32 = 3;
const FREQ: u32 = 1000;
const TE8: Codec = Codec {
    pt: 101,
    rtpmap: "telephone-event/8000",
};
const PCMA: Codec = sluice_tests::sdp::PCMA;

fn sine(rate: u32) -> String {
    format!(
        "sine=frequency={FREQ}:sample_rate={rate}:samples_per_frame={}",
        rate / 50
    )
}

/// A linear chirp 300 -> 3400 Hz over [`SECS`] at half scale, 8 kHz.
fn chirp() -> String {
    let k = (3400.0 - 300.0) / (2.0 * f64::from(SECS));
    format!("aevalsrc=0.5*sin(2*PI*(300*t+{k}*t*t)):s=8000:n=160:d={SECS}")
}

fn media_core(ports: &mut PortBlock, extra: &[String]) -> Relay {
    let opts = RelayOptions {
        extra_args: extra.to_vec(),
        ..RelayOptions::default()
    };
    Relay::start(RelayKind::MediaCore, ports, &opts)
}

/// NG `codec` dictionary: `transcode` and `mask` lists.
fn codec_opts(transcode: &[&str], mask: &[&str]) -> Vec<(&'static str, Value)> {
    let mut d = Dict::new().with("transcode", ng::str_list(transcode));
    if !mask.is_empty() {
        d.insert("mask", ng::str_list(mask));
    }
    vec![("codec", Value::Dict(d))]
}

fn endpoint(sdp: &str, what: &str) -> SocketAddr {
    audio_endpoint(sdp).unwrap_or_else(|| panic!("no audio endpoint in {what}:\n{sdp}"))
}

fn pt_of(sdp: &str, encoding: &str, what: &str) -> u8 {
    rtpmap_pt(sdp, encoding).unwrap_or_else(|| panic!("{what} has no {encoding}:\n{sdp}"))
}

/// A call set up by the test: where each side sends, and what B was offered.
struct Call {
    id: String,
    /// Where A sends (the relay's A-facing port).
    to_relay_from_a: SocketAddr,
    /// Where B sends.
    to_relay_from_b: SocketAddr,
}

/// A offers PCMU + telephone-event/8000 from `a` with Opus added and PCMU
/// masked; B at `b` answers Opus + telephone-event/48000 on the payload
/// types the relay offered. Returns the call and (opus PT, te/48000 PT).
fn pcmu_to_opus_call(
    client: &mut Client,
    test: &str,
    a: SocketAddr,
    b: SocketAddr,
) -> (Call, u8, u8) {
    let id = call_id(test);
    let offer_to_b = ng::offer_with(
        client,
        &id,
        "A",
        &audio_sdp(a.ip(), a.port(), &[PCMU, TE8], 20),
        &codec_opts(&["opus"], &["PCMU"]),
    );
    let opus = pt_of(&offer_to_b, "opus/48000", "the offer to B");
    let te48 = pt_of(&offer_to_b, "telephone-event/48000", "the offer to B");
    assert!(
        !audio_payload_types(&offer_to_b).contains(&0),
        "PCMU masked but still offered to B:\n{offer_to_b}"
    );
    let answer_to_a = ng::answer(
        client,
        &id,
        "A",
        "B",
        &audio_sdp(
            b.ip(),
            b.port(),
            &[
                Codec {
                    pt: opus,
                    rtpmap: "opus/48000/2",
                },
                Codec {
                    pt: te48,
                    rtpmap: "telephone-event/48000",
                },
            ],
            20,
        ),
    );
    assert_eq!(
        audio_payload_types(&answer_to_a),
        [0, 101],
        "A should be answered PCMU and its own telephone-event:\n{answer_to_a}"
    );
    let call = Call {
        to_relay_from_a: endpoint(&answer_to_a, "the answer to A"),
        to_relay_from_b: endpoint(&offer_to_b, "the offer to B"),
        id,
    };
    (call, opus, te48)
}

fn check(what: &str, got: SoxStat, reference: SoxStat) {
    check_sine(what, got, reference, SECS, FREQ);
}

/// ffmpeg PCMU -> media-core -> Opus decoded by ffmpeg; ffmpeg libopus
/// (PT 97) -> media-core -> PCMU decoded by ffmpeg.
#[test]
fn pcmu_opus_both_ways_with_ffmpeg() {
    const TEST: &str = "transcode_interop::pcmu_opus_both_ways_with_ffmpeg";
    if !peers::require_all(TEST, &["ffmpeg", "sox"]) {
        return;
    }
    let dir = TempDir::new("transcode-opus");
    let mut ports = PortBlock::new();
    let mut relay = media_core(&mut ports, &[]);
    let mut client = relay.client();
    let reference = reference_pcmu_sine(&dir, SECS, FREQ);

    // PCMU -> Opus.
    let (a, b) = (ports.take(2), ports.take(2));
    let (call, opus, _) = pcmu_to_opus_call(
        &mut client,
        TEST,
        SocketAddr::new(LOCALHOST, a),
        SocketAddr::new(LOCALHOST, b),
    );
    // Decoded and resampled to 8 kHz, so sox reads it like the reference.
    let rx = PcmuReceiver::start_format(&dir, b, opus, "opus/48000/2", 8000);
    let wav = send_into(
        &dir,
        (&sine(8000), SECS, TxCodec::Pcmu),
        call.to_relay_from_a,
        a,
        rx,
    );
    check("PCMU->Opus", sox_stat(&dir, &wav), reference);
    let q = ng::query(&mut client, &call.id);
    eprintln!("PCMU->Opus drops: {:?}", ng::media_core_drops(&q));
    assert_eq!(
        ng::media_core_drops(&q).unwrap_or(0),
        0,
        "drops on a clean call: {}",
        ng::show(&q)
    );

    // Opus (ffmpeg's PT 97) -> PCMU: the Opus side offers.
    let (a, b) = (ports.take(2), ports.take(2));
    let id = call_id(TEST);
    let opus97 = Codec {
        pt: TxCodec::Opus.payload_type(),
        rtpmap: "opus/48000/2",
    };
    let offer_to_b = ng::offer_with(
        &mut client,
        &id,
        "A",
        &audio_sdp(LOCALHOST, a, &[opus97], 20),
        &codec_opts(&["PCMU"], &["opus"]),
    );
    assert_eq!(
        audio_payload_types(&offer_to_b).first(),
        Some(&0),
        "PCMU not offered to B first:\n{offer_to_b}"
    );
    let answer_to_a = ng::answer(
        &mut client,
        &id,
        "A",
        "B",
        &audio_sdp(LOCALHOST, b, &[PCMU], 20),
    );
    assert_eq!(audio_payload_types(&answer_to_a), [97], "{answer_to_a}");
    let rx = PcmuReceiver::start_format(&dir, b, 0, "PCMU/8000", 8000);
    let wav = send_into(
        &dir,
        (&sine(48_000), SECS, TxCodec::Opus),
        endpoint(&answer_to_a, "answer to A"),
        a,
        rx,
    );
    check("Opus->PCMU", sox_stat(&dir, &wav), reference);
    relay.assert_running("after Opus both ways");
}

/// PCMU <-> PCMA: A offers PCMU with PCMA added and PCMU masked, B
/// answers PCMA; a sine each way.
#[test]
fn pcmu_pcma_both_ways_with_ffmpeg() {
    const TEST: &str = "transcode_interop::pcmu_pcma_both_ways_with_ffmpeg";
    if !peers::require_all(TEST, &["ffmpeg", "sox"]) {
        return;
    }
    let dir = TempDir::new("transcode-pcma");
    let mut ports = PortBlock::new();
    let mut relay = media_core(&mut ports, &[]);
    let mut client = relay.client();
    let reference = reference_pcmu_sine(&dir, SECS, FREQ);
    let (a, b) = (ports.take(2), ports.take(2));
    let id = call_id(TEST);
    let offer_to_b = ng::offer_with(
        &mut client,
        &id,
        "A",
        &audio_sdp(LOCALHOST, a, &[PCMU], 20),
        &codec_opts(&["PCMA"], &["PCMU"]),
    );
    assert_eq!(audio_payload_types(&offer_to_b), [8], "{offer_to_b}");
    let answer_to_a = ng::answer(
        &mut client,
        &id,
        "A",
        "B",
        &audio_sdp(LOCALHOST, b, &[PCMA], 20),
    );
    assert_eq!(audio_payload_types(&answer_to_a), [0], "{answer_to_a}");
    let (to_a, to_b) = (
        endpoint(&answer_to_a, "answer to A"),
        endpoint(&offer_to_b, "offer to B"),
    );

    let rx = PcmuReceiver::start_format(&dir, b, 8, "PCMA/8000", 8000);
    let wav = send_into(&dir, (&sine(8000), SECS, TxCodec::Pcmu), to_a, a, rx);
    check("PCMU->PCMA", sox_stat(&dir, &wav), reference);

    let rx = PcmuReceiver::start_format(&dir, a, 0, "PCMU/8000", 8000);
    let wav = send_into(&dir, (&sine(8000), SECS, TxCodec::Pcma), to_b, b, rx);
    check("PCMA->PCMU", sox_stat(&dir, &wav), reference);
    let q = ng::query(&mut client, &id);
    assert_eq!(
        ng::media_core_drops(&q).unwrap_or(0),
        0,
        "drops on a clean call: {}",
        ng::show(&q)
    );
    relay.assert_running("after PCMA both ways");
}

/// Lowest SNR accepted for the chirp's PCMU -> Opus -> PCMU round trip.
/// Measured 16.3 dB (gain 0.961, 52 samples of delay; the same chirp
/// through PCMU alone: 37.6 dB); about 4 dB of margin.
const MIN_ROUND_TRIP_SNR_DB: f64 = 12.0;

/// A chirp through two chained transcoded calls on one relay: ffmpeg
/// PCMU -> call 1 (PCMU -> Opus) -> relay to relay -> call 2 (Opus ->
/// PCMU) -> ffmpeg. Compared with the chirp rendered without a network.
#[test]
fn chirp_round_trip_snr() {
    const TEST: &str = "transcode_interop::chirp_round_trip_snr";
    if !peers::require_all(TEST, &["ffmpeg", "sox"]) {
        return;
    }
    let dir = TempDir::new("transcode-snr");
    let mut ports = PortBlock::new();
    let mut relay = media_core(&mut ports, &[]);
    let mut client = relay.client();
    let (a, b) = (ports.take(2), ports.take(2));

    // Call 1: A (PCMU) offers, Opus added, PCMU masked.
    let id1 = call_id(TEST);
    let offer1 = ng::offer_with(
        &mut client,
        &id1,
        "A",
        &audio_sdp(LOCALHOST, a, &[PCMU], 20),
        &codec_opts(&["opus"], &["PCMU"]),
    );
    let opus = pt_of(&offer1, "opus/48000", "offer 1");
    let relay_b1 = endpoint(&offer1, "offer 1");
    let opus_codec = Codec {
        pt: opus,
        rtpmap: "opus/48000/2",
    };
    // Call 2: its A side is call 1's B-facing relay port, offering Opus;
    // PCMU added, Opus masked; B answers PCMU.
    let id2 = call_id(TEST);
    let offer2 = ng::offer_with(
        &mut client,
        &id2,
        "A2",
        &audio_sdp(relay_b1.ip(), relay_b1.port(), &[opus_codec], 20),
        &codec_opts(&["PCMU"], &["opus"]),
    );
    assert_eq!(audio_payload_types(&offer2), [0], "{offer2}");
    let answer2 = ng::answer(
        &mut client,
        &id2,
        "A2",
        "B2",
        &audio_sdp(LOCALHOST, b, &[PCMU], 20),
    );
    let relay_a2 = endpoint(&answer2, "answer 2");
    // Call 1's B is call 2's A-facing relay port.
    let answer1 = ng::answer(
        &mut client,
        &id1,
        "A",
        "B",
        &audio_sdp(relay_a2.ip(), relay_a2.port(), &[opus_codec], 20),
    );
    assert_eq!(audio_payload_types(&answer1), [0], "{answer1}");
    let relay_a1 = endpoint(&answer1, "answer 1");

    let rx = PcmuReceiver::start_format(&dir, b, 0, "PCMU/8000", 8000);
    let wav = send_into(&dir, (&chirp(), SECS, TxCodec::Pcmu), relay_a1, a, rx);
    let reference_wav = render_lavfi(&dir, "chirp.wav", &chirp(), SECS, 8000);
    let (_, reference) = read_wav(&reference_wav);
    let (rate, got) = read_wav(&wav);
    assert_eq!(rate, 8000);
    // The same chirp through PCMU alone, for scale.
    let pcmu_only = {
        let mut cmd = std::process::Command::new("ffmpeg");
        let out = dir.join("chirp-pcmu.wav");
        cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i"])
            .arg(&reference_wav)
            .args(["-c:a", "pcm_mulaw", "-f", "wav"])
            .arg(dir.join("chirp-mulaw.wav"));
        let (s, o) =
            sluice_tests::proc::run_bounded("ffmpeg-mulaw", cmd, &dir, Duration::from_secs(30));
        assert!(s.success(), "{o}");
        let mut cmd = std::process::Command::new("ffmpeg");
        cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i"])
            .arg(dir.join("chirp-mulaw.wav"))
            .args(["-c:a", "pcm_s16le"])
            .arg(&out);
        let (s, o) =
            sluice_tests::proc::run_bounded("ffmpeg-s16", cmd, &dir, Duration::from_secs(30));
        assert!(s.success(), "{o}");
        read_wav(&out).1
    };
    // Compare 2 s from 0.4 s in (clear of the ramp-up), lag up to 0.5 s.
    let skip = 3200;
    let window = 16_000;
    let baseline = align(&reference, &pcmu_only, skip, window, 400);
    let trip = align(&reference, &got, skip, window, 4000);
    eprintln!(
        "chirp 300-3400 Hz: PCMU alone {baseline:?}; PCMU->Opus->PCMU round trip {trip:?} \
         (recording {:.3} s)",
        got.len() as f64 / 8000.0
    );
    eprintln!(
        "ROUND TRIP SNR: {:.1} dB (PCMU alone {:.1} dB), lag {} samples, gain {:.3}",
        trip.snr_db, baseline.snr_db, trip.lag, trip.gain
    );
    assert!(
        baseline.snr_db > 30.0,
        "PCMU reference comparison broken: {baseline:?}"
    );
    assert!(
        trip.snr_db >= MIN_ROUND_TRIP_SNR_DB,
        "round trip SNR {:.1} dB below {MIN_ROUND_TRIP_SNR_DB} dB: {trip:?}",
        trip.snr_db
    );
    assert!(
        (0.7..=1.3).contains(&trip.gain),
        "round trip changed the level: gain {:.3}",
        trip.gain
    );
    assert!(
        (0.0..8000.0).contains(&(trip.lag as f64)),
        "round trip delay {} samples is not plausible",
        trip.lag
    );
    for id in [&id1, &id2] {
        let q = ng::query(&mut client, id);
        assert_eq!(
            ng::media_core_drops(&q).unwrap_or(0),
            0,
            "drops: {}",
            ng::show(&q)
        );
    }
    relay.assert_running("after the round trip");
}

/// The UAS answer: Opus and telephone-event/48000 on the payload types
/// media-core offers beside A's PCMA 8 and telephone-event 101.
const OPUS_PT: u8 = 96;
const TE48_PT: u8 = 97;

fn uas_opus_answer() -> String {
    format!(
        "m=audio [media_port] RTP/AVP {OPUS_PT} {TE48_PT}
      a=rtpmap:{OPUS_PT} opus/48000/2
      a=fmtp:{OPUS_PT} useinbandfec=1
      a=rtpmap:{TE48_PT} telephone-event/48000
      a=fmtp:{TE48_PT} 0-16
      a=ptime:20"
    )
}

/// SIPp's RFC 2833 pcaps (PT 101, 8 kHz) played by a UAC through Kamailio
/// (`codec-transcode-opus`) and media-core to a UAS that answered Opus +
/// telephone-event/48000; tshark at the UAS decodes the digits.
#[test]
fn sipp_rfc2833_digits_to_opus_leg() {
    const TEST: &str = "transcode_interop::sipp_rfc2833_digits_to_opus_leg";
    if !peers::require_all(TEST, &["kamailio", "sipp", "tshark"]) {
        return;
    }
    // In order of their sequence numbers and timestamps: SIPp replays
    // them as recorded, one SSRC.
    let pcaps: Vec<(std::path::PathBuf, u8)> = [("1", 1u8), ("2", 2), ("star", 10), ("pound", 11)]
        .iter()
        .map(|(name, ev)| {
            (
                Path::new(SIPP_PCAP_DIR).join(format!("dtmf_2833_{name}.pcap")),
                *ev,
            )
        })
        .collect();
    for (p, _) in &pcaps {
        assert!(p.is_file(), "{} missing (package sip-tester)", p.display());
    }
    let dir = TempDir::new("transcode-sipp");
    let mut ports = PortBlock::new();
    let log = DtmfLog::bind(ports.take(2));
    let mut relay = media_core(
        &mut ports,
        &["--dtmf-log-dest".into(), log.addr().to_string()],
    );
    let kamailio_port = ports.take(2);
    let kamailio = Kamailio::start_with(kamailio_port, relay.ng_addr(), "codec-transcode-opus");
    let uas_media = ports.take(4);
    let uas = SippUas::start_scenario(
        &dir,
        ports.take(2),
        uas_media,
        false,
        &uas_scenario(&uas_opus_answer()),
    );
    let capture = Capture::start(&dir, uas_media, Duration::from_secs(30));

    let paths: Vec<&Path> = pcaps.iter().map(|(p, _)| p.as_path()).collect();
    let mut uac = SippUac::start(
        &dir,
        &uac_pcaps_scenario(&paths, 500, 1000),
        UacParams {
            proxy: SocketAddr::new(LOCALHOST, kamailio_port),
            uas_port: uas.port(),
            sip_port: ports.take(2),
            media_port: ports.take(4),
            calls: 1,
            concurrent: 1,
        },
    );
    let status = uac.wait(Duration::from_secs(30));
    assert!(
        status.success(),
        "sipp UAC failed ({status});\n{}\nUAS:\n{}\nkamailio:\n{}\nrelay:\n{}",
        uac.diagnostics(),
        uas.log_tail(20),
        kamailio.log_tail(30),
        relay.log_tail(30)
    );
    let packets = capture.finish(&dir, TE48_PT);
    let got = digits(&packets);
    eprintln!(
        "UAS received {} RTP packets; digits: {got:?}",
        packets.len()
    );
    let want: Vec<u8> = pcaps.iter().map(|(_, e)| *e).collect();
    assert_eq!(
        got.iter().map(|d| d.event).collect::<Vec<_>>(),
        want,
        "digits decoded by tshark at the Opus side: {got:?}"
    );
    for d in &got {
        assert_eq!(d.pt, TE48_PT, "digit {d:?} not on telephone-event/48000");
        assert!(d.ended, "digit {d:?} never ended");
        assert!(d.marker, "digit {d:?} started without the marker bit");
        // The pcaps' final duration is 2240 at 8 kHz (280 ms).
        assert_eq!(
            d.duration,
            2240 * 6,
            "digit {d:?}: duration not scaled 8k -> 48k"
        );
    }
    let reports = log.collect(want.len(), Duration::from_secs(3));
    eprintln!("DTMF log: {reports:#?}");
    let logged: Vec<String> = reports
        .iter()
        .filter_map(|r| json_field(r, "digit"))
        .collect();
    let want_chars: Vec<String> = want.iter().map(|e| digit_char(*e).to_string()).collect();
    assert_eq!(logged, want_chars, "DTMF log datagrams: {reports:#?}");
    for r in &reports {
        assert_eq!(json_field(r, "type").as_deref(), Some("DTMF"), "{r}");
        assert_eq!(json_field(r, "source").as_deref(), Some("RFC 4733"), "{r}");
        assert!(
            json_field(r, "source_tag").is_some_and(|t| t.contains("SluiceUac")),
            "digit not attributed to the UAC's tag: {r}"
        );
        assert_eq!(json_field(r, "duration").as_deref(), Some("280"), "{r}");
    }
    relay.assert_running("after the SIPp call");
}

/// A's RTP stream, sent by the test tick by tick.
struct Sender {
    socket: UdpSocket,
    dest: SocketAddr,
    ssrc: u32,
    seq: u16,
}

impl Sender {
    fn send(&mut self, packet_with: impl FnOnce(u32, u16) -> Vec<u8>) {
        let p = packet_with(self.ssrc, self.seq);
        self.seq = self.seq.wrapping_add(1);
        self.socket
            .send_to(&p, self.dest)
            .unwrap_or_else(|e| panic!("sending to {}: {e}", self.dest));
    }
}

/// Sends one RFC 4733 digit (PT 101, 8 kHz) at timestamp `ts` over
/// `ticks` 20 ms packets plus three end packets, pacing itself.
fn send_digit(s: &mut Sender, event: u8, ts: u32, ticks: u16, start: Instant, first_tick: u32) {
    for k in 0..ticks + 3 {
        pace(start, first_tick + u32::from(k));
        let end = k + 1 >= ticks;
        let duration = 160 * (k.min(ticks - 1) + 1);
        s.send(|ssrc, seq| rtp_event_packet(ssrc, seq, ts, 101, k == 0, event, end, duration));
    }
}

fn pace(start: Instant, tick: u32) {
    let due = start + Duration::from_millis(20) * tick;
    if let Some(wait) = due.checked_duration_since(Instant::now()) {
        thread::sleep(wait);
    }
}

fn play_dtmf(client: &mut Client, call: &str, from_tag: &str, code: &str, ms: i64) {
    let req = Dict::new()
        .with("command", "play DTMF")
        .with("call-id", call)
        .with("from-tag", from_tag)
        .with("code", code)
        .with("duration", ms)
        .with("volume", 10i64);
    ng::expect_ok(ng::send(client, &req, "play DTMF"), "play DTMF");
}

fn block_dtmf(client: &mut Client, call: &str, from_tag: &str, block: bool) {
    let cmd = if block { "block DTMF" } else { "unblock DTMF" };
    let req = Dict::new()
        .with("command", cmd)
        .with("call-id", call)
        .with("from-tag", from_tag);
    ng::expect_ok(ng::send(client, &req, cmd), cmd);
}

fn show_digits(d: &[Digit]) -> String {
    d.iter().map(|d| digit_char(d.event)).collect()
}

/// NG `play DTMF` toward each side, A's own RFC 4733 digits, and `block
/// DTMF`, on a PCMU <-> Opus call; tshark decodes what each side got and
/// the DTMF log reports the digits A sent.
#[test]
fn play_block_and_log_dtmf() {
    const TEST: &str = "transcode_interop::play_block_and_log_dtmf";
    if !peers::require_all(TEST, &["tshark"]) {
        return;
    }
    let dir = TempDir::new("transcode-dtmf");
    let mut ports = PortBlock::new();
    let log = DtmfLog::bind(ports.take(2));
    let mut relay = media_core(
        &mut ports,
        &["--dtmf-log-dest".into(), log.addr().to_string()],
    );
    let mut client = relay.client();
    let (a, b) = (ports.take(2), ports.take(2));
    let (call, _opus, te48) = pcmu_to_opus_call(
        &mut client,
        TEST,
        SocketAddr::new(LOCALHOST, a),
        SocketAddr::new(LOCALHOST, b),
    );
    let cap_b = Capture::start(&dir, b, Duration::from_secs(20));
    let cap_a = Capture::start(&dir, a, Duration::from_secs(20));
    let socket = UdpSocket::bind(("127.0.0.1", a)).expect("binding A's port");
    let mut s = Sender {
        socket,
        dest: call.to_relay_from_a,
        ssrc: 0x0a0a_0a0a,
        seq: 1000,
    };
    // B needs a port bound so the relay's packets are not refused; it
    // stays silent.
    let _b_socket = UdpSocket::bind(("127.0.0.1", b)).expect("binding B's port");

    let start = Instant::now();
    let audio = |s: &mut Sender, tick: u32| {
        pace(start, tick);
        s.send(|ssrc, seq| rtp_packet(ssrc, seq, tick * 160, 0, 160));
    };
    let mut tick = 0;
    let run_audio = |s: &mut Sender, until: u32, tick: &mut u32| {
        while *tick < until {
            audio(s, *tick);
            *tick += 1;
        }
    };
    run_audio(&mut s, 10, &mut tick);
    play_dtmf(&mut client, &call.id, "A", "1", 200);
    run_audio(&mut s, 30, &mut tick);
    play_dtmf(&mut client, &call.id, "A", "#", 200);
    run_audio(&mut s, 50, &mut tick);
    play_dtmf(&mut client, &call.id, "B", "9", 200);
    run_audio(&mut s, 70, &mut tick);
    // A's own digit 5, 160 ms.
    send_digit(&mut s, 5, tick * 160, 8, start, tick);
    tick += 11;
    run_audio(&mut s, tick + 10, &mut tick);
    // Blocked: digit 7 must not reach B.
    block_dtmf(&mut client, &call.id, "A", true);
    send_digit(&mut s, 7, tick * 160, 8, start, tick);
    tick += 11;
    run_audio(&mut s, tick + 10, &mut tick);
    block_dtmf(&mut client, &call.id, "A", false);
    send_digit(&mut s, 8, tick * 160, 8, start, tick);
    tick += 11;
    run_audio(&mut s, tick + 15, &mut tick);

    let q = ng::query(&mut client, &call.id);
    let blocked = ng::media_core_drops_for(&q, "DTMF blocked").unwrap_or(0);
    let at_b = cap_b.finish(&dir, te48);
    let at_a = cap_a.finish(&dir, 101);
    let (db, da) = (digits(&at_b), digits(&at_a));
    eprintln!(
        "B (Opus side) got {} packets, digits {:?}: {db:?}\nA (PCMU side) got {} packets, digits {:?}: {da:?}\n\
         DTMF blocked drops: {blocked}",
        at_b.len(),
        show_digits(&db),
        at_a.len(),
        show_digits(&da)
    );
    assert_eq!(
        show_digits(&db),
        "1#58",
        "digits tshark decoded at B: {db:?}"
    );
    for d in &db {
        assert_eq!(d.pt, te48, "digit at B on the wrong PT: {d:?}");
        assert!(d.ended, "digit at B never ended: {d:?}");
    }
    // Played: 200 ms at 48 kHz; A's digits: 160 ms.
    assert_eq!((db[0].duration, db[1].duration), (9600, 9600), "{db:?}");
    assert_eq!((db[2].duration, db[3].duration), (7680, 7680), "{db:?}");
    assert_eq!(show_digits(&da), "9", "digits tshark decoded at A: {da:?}");
    assert_eq!(da[0].pt, 101, "{da:?}");
    assert!(da[0].ended, "{da:?}");
    assert_eq!(da[0].duration, 1600, "200 ms at 8 kHz: {da:?}");
    // Audio kept flowing to B (Opus) around the digits.
    // Every tick but the 3 x 11 of A's digits carried audio.
    let audio_sent = usize::try_from(tick - 33).expect("small");
    let opus_at_b = at_b.iter().filter(|p| p.event.is_none()).count();
    // The played digits replace B's audio while they last (2 x 10 ticks).
    assert!(
        opus_at_b + 5 >= audio_sent - 20 && opus_at_b <= audio_sent,
        "only {opus_at_b} audio packets at B for {audio_sent} sent"
    );
    assert!(
        blocked >= 8,
        "block DTMF counted {blocked} drops for the 11 packets of digit 7"
    );

    // The log: the digits A sent (5 and 8; 7 was blocked).
    let reports = log.collect(8, Duration::from_secs(2));
    eprintln!("DTMF log: {reports:#?}");
    let from_a: Vec<&String> = reports
        .iter()
        .filter(|r| json_field(r, "source_tag").as_deref() == Some("A"))
        .collect();
    let logged: String = from_a
        .iter()
        .filter_map(|r| json_field(r, "digit"))
        .collect();
    assert_eq!(logged, "58", "digits the log attributes to A: {reports:#?}");
    for r in &from_a {
        assert_eq!(
            json_field(r, "callid").as_deref(),
            Some(call.id.as_str()),
            "{r}"
        );
        assert_eq!(json_field(r, "type").as_deref(), Some("DTMF"), "{r}");
        assert_eq!(json_field(r, "duration").as_deref(), Some("160"), "{r}");
        assert_eq!(json_field(r, "source").as_deref(), Some("RFC 4733"), "{r}");
    }
    relay.assert_running("after DTMF");
}

/// Counts what arrives on a socket: (payload type, first payload byte,
/// arrival) per packet.
fn collect_rtp(socket: UdpSocket, stop: Arc<AtomicBool>, out: Arc<Mutex<Vec<(u8, u8, Instant)>>>) {
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("setting a read timeout");
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        if let Ok(n) = socket.recv(&mut buf) {
            if n >= 12 {
                let first = buf.get(12).copied().unwrap_or(0);
                out.lock()
                    .expect("not poisoned")
                    .push((buf[1] & 0x7f, first, Instant::now()));
            }
        }
    }
}

/// Garbage Opus, payload types outside the SDP, broken and absurd DTMF:
/// dropped, counted by reason, and A's audio still reaches B as Opus.
#[test]
fn hostile_media_dropped_counted_call_continues() {
    const TEST: &str = "transcode_interop::hostile_media_dropped_counted_call_continues";
    let mut ports = PortBlock::new();
    let mut relay = media_core(&mut ports, &[]);
    let mut client = relay.client();
    let (a, b) = (ports.take(2), ports.take(2));
    let (call, opus, te48) = pcmu_to_opus_call(
        &mut client,
        TEST,
        SocketAddr::new(LOCALHOST, a),
        SocketAddr::new(LOCALHOST, b),
    );
    let b_socket = UdpSocket::bind(("127.0.0.1", b)).expect("binding B's port");
    let b_tx = b_socket.try_clone().expect("cloning a socket");
    let stop = Arc::new(AtomicBool::new(false));
    let at_b = Arc::new(Mutex::new(Vec::new()));
    let rx = {
        let (stop, at_b) = (stop.clone(), at_b.clone());
        thread::spawn(move || collect_rtp(b_socket, stop, at_b))
    };
    let mut s = Sender {
        socket: UdpSocket::bind(("127.0.0.1", a)).expect("binding A's port"),
        dest: call.to_relay_from_a,
        ssrc: 0x0b0b_0b0b,
        seq: 40_000,
    };
    let start = Instant::now();
    let good = |s: &mut Sender, tick: u32| {
        s.send(|ssrc, seq| rtp_packet(ssrc, seq, tick * 160, 0, 160));
    };
    // 1 s of clean audio.
    for tick in 0..50 {
        pace(start, tick);
        good(&mut s, tick);
    }
    let before = ng::query(&mut client, &call.id);
    assert_eq!(
        ng::media_core_drops(&before).unwrap_or(0),
        0,
        "{}",
        ng::show(&before)
    );

    // 1 s of hostile packets beside the audio, in A's stream (A offered
    // only PCMU 0 and telephone-event 101) and from B (answered Opus and
    // telephone-event/48000 only).
    let b_ssrc = 0x0c0c_0c0c;
    let mut b_seq = 7u16;
    let mut b_send = |pt: u8, ts: u32, payload: &[u8]| {
        let mut p = rtp_packet(b_ssrc, b_seq, ts, pt, 0);
        p.extend_from_slice(payload);
        b_seq = b_seq.wrapping_add(1);
        b_tx.send_to(&p, call.to_relay_from_b)
            .expect("sending from B");
    };
    let (mut foreign_pt, mut bad_event, mut garbage_opus) = (0i64, 0i64, 0i64);
    for tick in 50..100 {
        pace(start, tick);
        good(&mut s, tick);
        let ts = tick * 160;
        match tick % 5 {
            // PCMA and Opus payload types: not in A's SDP.
            0 => s.send(|ssrc, seq| rtp_packet(ssrc, seq, ts, 8, 160)),
            1 => s.send(|ssrc, seq| rtp_packet(ssrc, seq, ts, opus, 40)),
            // An event code no DTMF digit has.
            2 => s.send(|ssrc, seq| rtp_event_packet(ssrc, seq, ts, 101, true, 200, true, 800)),
            // A telephone-event payload cut to 2 bytes.
            3 => s.send(|ssrc, seq| {
                let mut p = rtp_event_packet(ssrc, seq, ts, 101, true, 4, false, 160);
                p.truncate(14);
                p
            }),
            _ => {}
        }
        match tick % 5 {
            0 | 1 => foreign_pt += 1,
            2 | 3 => bad_event += 1,
            _ => {}
        }
        // From B: Opus packets that do not decode (code 3 with zero frames;
        // code 3 with 48 frames of 20 ms = 960 ms > 120 ms), and PCMU,
        // which B did not answer.
        let bts = tick * 960;
        match tick % 3 {
            0 => b_send(opus, bts, &[0x03, 0x00]),
            1 => b_send(opus, bts, &[0xfb, 0x30, 0xff, 0xff]),
            _ => b_send(0, tick * 160, &[0xff; 160]),
        }
        if tick % 3 != 2 {
            garbage_opus += 1;
        }
    }
    let b_foreign = 50 - garbage_opus;
    // An absurd digit: one event over two 65535-unit segments (16 s at
    // 8 kHz), past the receiver's 10 s limit, in its own stream position.
    let tick = 100u32;
    pace(start, tick);
    let t0 = tick * 160;
    s.send(|ssrc, seq| rtp_event_packet(ssrc, seq, t0, 101, true, 3, false, 65_535));
    pace(start, tick + 1);
    s.send(|ssrc, seq| rtp_event_packet(ssrc, seq, t0 + 65_535, 101, false, 3, false, 65_535));
    pace(start, tick + 2);
    s.send(|ssrc, seq| rtp_event_packet(ssrc, seq, t0 + 65_535, 101, false, 3, true, 65_535));

    // Then 1.5 s of clean audio; the timestamps carry on after the digit.
    let resume = Instant::now();
    let base = t0 + 2 * 65_535;
    for k in 0..75 {
        pace(start, 103 + k);
        s.send(|ssrc, seq| rtp_packet(ssrc, seq, base + k * 160, 0, 160));
    }
    thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    rx.join().expect("receiver thread does not panic");
    let q = ng::query(&mut client, &call.id);
    let count = |r: &str| ng::media_core_drops_for(&q, r).unwrap_or(0);
    let (unknown, undecodable, bad_dtmf, late) = (
        count("unknown payload type"),
        count("undecodable"),
        count("bad DTMF"),
        count("late or duplicate"),
    );
    let at_b = at_b.lock().expect("not poisoned");
    let audio_after = at_b
        .iter()
        .filter(|(pt, _, t)| *pt == opus && *t >= resume)
        .count();
    let events: Vec<u8> = at_b
        .iter()
        .filter(|(pt, ..)| *pt == te48)
        .map(|(_, e, _)| *e)
        .collect();
    eprintln!(
        "sent: {foreign_pt} foreign PT + {bad_event} broken events + 1 absurd digit (3 packets) from A, \
         {garbage_opus} garbage Opus + {b_foreign} PCMU from B\n\
         drops: unknown PT {unknown}, undecodable {undecodable}, bad DTMF {bad_dtmf}, late {late}; all: {}\n\
         B got {} packets, {audio_after} Opus after the hostile phase, events {events:?}",
        ng::show(&q),
        at_b.len()
    );
    assert_eq!(
        unknown,
        foreign_pt + b_foreign,
        "unknown payload type drops"
    );
    assert_eq!(undecodable, garbage_opus, "undecodable drops");
    assert_eq!(
        bad_dtmf,
        bad_event + 2,
        "bad DTMF drops: the {bad_event} broken events and the absurd digit's second segment \
         (its report and end; its first segment, 8.2 s, is within the 10 s limit)"
    );
    assert!(
        events.iter().all(|e| *e <= 15),
        "an event code > 15 reached B: {events:?}"
    );
    assert!(
        audio_after >= 65,
        "only {audio_after} Opus packets reached B in the 1.5 s of audio after the hostile phase"
    );
    relay.assert_running("after hostile media");
}

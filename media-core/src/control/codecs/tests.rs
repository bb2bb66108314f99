//! Offer/answer codec negotiation on SDP alone: the formats each leg
//! sees and the plan the transcoder gets.

use super::*;
use crate::control::call::Side;
use crate::control::sdes::SideSdes;
use crate::relay::SocketKey;
use sluice_ng::request::parse_request;
use sluice_ng::{bencode, Dict, Value};
use sluice_sdp::SessionDescription;
use sluice_transcode::{AudioCodec, OpusParams};

const PCMU: (u8, &str, &str) = (0, "PCMU/8000", "");
const PCMA: (u8, &str, &str) = (8, "PCMA/8000", "");
const G722: (u8, &str, &str) = (9, "G722/8000", "");
const TE8: (u8, &str, &str) = (101, "telephone-event/8000", "0-16");
const OPUS: (u8, &str, &str) = (96, "opus/48000/2", "useinbandfec=1; maxplaybackrate=16000");
const TE48: (u8, &str, &str) = (97, "telephone-event/48000", "0-16");

fn sdp(formats: &[(u8, &str, &str)], extra: &[&str]) -> String {
    let pts: Vec<String> = formats.iter().map(|f| f.0.to_string()).collect();
    let mut s = format!(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP {}\r\n",
        pts.join(" ")
    );
    for (pt, map, fmtp) in formats {
        s += &format!("a=rtpmap:{pt} {map}\r\n");
        if !fmtp.is_empty() {
            s += &format!("a=fmtp:{pt} {fmtp}\r\n");
        }
    }
    for line in extra {
        s += &format!("{line}\r\n");
    }
    s
}

/// The codec options of an offer carrying `flags` as `rtpp-flags`.
fn policy(flags: &str) -> CodecPolicy {
    let mut d = Dict::new();
    for (k, v) in [
        ("command", "offer"),
        ("call-id", "c"),
        ("from-tag", "a"),
        ("sdp", "v=0"),
        ("rtpp-flags", flags),
    ] {
        d.insert(k, Value::from(v));
    }
    let Value::Dict(d) = bencode::decode(&Value::Dict(d).to_bytes()).unwrap() else {
        unreachable!()
    };
    CodecPolicy::from_options(&parse_request(&d).unwrap().options)
}

fn side(port: u16) -> Side {
    Side {
        rtp: SocketKey::new(0, port),
        rtcp: SocketKey::new(0, port + 1),
        remote_rtp: None,
        remote_rtcp: None,
        rtcp_mux: false,
        protocol: "RTP/AVP".into(),
        sdes: SideSdes::default(),
        telephone_event: None,
    }
}

fn pair() -> MediaPair {
    MediaPair {
        index: 0,
        kind: "audio".into(),
        sides: [side(40000), side(40002)],
        transcode: None,
        codecs: Negotiation::default(),
    }
}

/// Runs `text` from leg `from` through plan and apply; the SDP the other
/// leg gets.
fn step(
    pair: &mut MediaPair,
    text: &str,
    from: usize,
    is_offer: bool,
    flags: &str,
) -> Result<String, String> {
    let mut sdp = SessionDescription::parse(text).unwrap();
    let section = &mut sdp.media_mut()[0];
    let plan = plan(Some(pair), section, from, is_offer, &policy(flags))?;
    apply(plan, pair, section);
    Ok(sdp.to_sdp_string())
}

fn offer(pair: &mut MediaPair, formats: &[(u8, &str, &str)], flags: &str) -> String {
    step(pair, &sdp(formats, &[]), 0, true, flags).unwrap()
}

fn answer(pair: &mut MediaPair, formats: &[(u8, &str, &str)], flags: &str) -> String {
    step(pair, &sdp(formats, &[]), 1, false, flags).unwrap()
}

/// `name/clock[/ch]` of each format, in `m=` order.
fn names(text: &str) -> Vec<String> {
    let sdp = SessionDescription::parse(text).unwrap();
    sdp_codecs::read(&sdp.media()[0])
        .iter()
        .map(|f| {
            let ch = if f.channels > 1 {
                format!("/{}", f.channels)
            } else {
                String::new()
            };
            format!("{}/{}{ch}", f.name, f.clock)
        })
        .collect()
}

fn pts(text: &str) -> Vec<u8> {
    let sdp = SessionDescription::parse(text).unwrap();
    sdp_codecs::read(&sdp.media()[0])
        .iter()
        .map(|f| f.pt)
        .collect()
}

fn fmtp(text: &str, pt: u8) -> Option<String> {
    let sdp = SessionDescription::parse(text).unwrap();
    sdp.media()[0].fmtp(pt).map(str::to_owned)
}

fn te(pt: u8, clock_rate: u32) -> Option<DtmfFormat> {
    Some(DtmfFormat {
        payload_type: pt,
        clock_rate,
    })
}

fn opus(fmtp: &str) -> AudioCodec {
    AudioCodec::Opus(sdp_codecs::opus_params(Some(fmtp)))
}

fn input(payload_type: u8, codec: AudioCodec) -> sluice_transcode::InputCodec {
    sluice_transcode::InputCodec {
        payload_type,
        codec,
    }
}

fn direction(p: &MediaPair, sender: usize) -> &sluice_transcode::DirectionPlan {
    p.transcode.as_ref().expect("a plan").directions[sender]
        .as_ref()
        .expect("that direction is transcoded")
}

#[test]
fn g711_offer_opus_answer_transcodes_both_ways() {
    let mut p = pair();
    let to_b = offer(&mut p, &[PCMU, PCMA, TE8], "codec=[transcode=[opus]]");
    assert_eq!(
        names(&to_b),
        [
            "PCMU/8000",
            "PCMA/8000",
            "opus/48000/2",
            "telephone-event/48000",
            "telephone-event/8000"
        ]
    );
    assert_eq!(pts(&to_b), [0, 8, 96, 97, 101]);
    assert_eq!(fmtp(&to_b, 96).as_deref(), Some("useinbandfec=1"));
    assert_eq!(fmtp(&to_b, 97).as_deref(), Some("0-15"));
    assert_eq!(fmtp(&to_b, 101).as_deref(), Some("0-16"), "A's lines kept");
    assert!(p.transcode.is_none(), "nothing decided before the answer");

    let to_a = answer(&mut p, &[OPUS, TE48], "");
    assert_eq!(names(&to_a), ["PCMU/8000", "telephone-event/8000"]);
    assert_eq!(pts(&to_a), [0, 101]);
    assert_eq!(fmtp(&to_a, 101).as_deref(), Some("0-16"));
    assert!(!to_a.contains("opus"), "{to_a}");
    let a_to_b = direction(&p, 0);
    assert_eq!(
        a_to_b.inputs,
        [input(0, AudioCodec::Pcmu), input(8, AudioCodec::Pcma)]
    );
    assert_eq!(a_to_b.output.payload_type, 96);
    assert_eq!(a_to_b.output.codec, opus(OPUS.2), "B's fmtp");
    assert_eq!(a_to_b.output.ptime_ms, 20);
    assert_eq!(
        (a_to_b.input_dtmf, a_to_b.output_dtmf),
        (te(101, 8000), te(97, 48000))
    );
    let b_to_a = direction(&p, 1);
    assert_eq!(b_to_a.inputs, [input(96, opus(OPUS.2))]);
    assert_eq!(
        (b_to_a.output.payload_type, b_to_a.output.codec),
        (0, AudioCodec::Pcmu)
    );
    assert_eq!(
        (b_to_a.input_dtmf, b_to_a.output_dtmf),
        (te(97, 48000), te(101, 8000))
    );
    assert_eq!(p.sides[0].telephone_event, te(101, 8000));
    assert_eq!(p.sides[1].telephone_event, te(97, 48000));
}

#[test]
fn common_codec_passes_through_without_added_codecs() {
    let mut p = pair();
    offer(&mut p, &[PCMU, PCMA, TE8], "codec=[transcode=[opus]]");
    let text = sdp(&[PCMA, OPUS, TE8], &[]);
    let to_a = step(&mut p, &text, 1, false, "").unwrap();
    assert_eq!(names(&to_a), ["PCMA/8000", "telephone-event/8000"]);
    assert!(p.transcode.is_none());
    assert_eq!(p.sides[0].telephone_event, te(101, 8000));
    assert_eq!(p.sides[1].telephone_event, te(101, 8000));
    // Without added codecs in the answer, its text passes unchanged.
    let mut p = pair();
    offer(&mut p, &[PCMU, TE8], "");
    let text = sdp(&[PCMU, TE8], &["a=sendrecv"]);
    let to_a = step(&mut p, &text, 1, false, "").unwrap();
    assert_eq!(to_a, text);
    assert!(p.transcode.is_none());
}

#[test]
fn other_codecs_pass_through_when_common() {
    let mut p = pair();
    let to_b = offer(&mut p, &[G722, PCMU, TE8], "codec=[transcode=[opus]]");
    assert_eq!(
        names(&to_b)[..3],
        ["G722/8000", "PCMU/8000", "opus/48000/2"]
    );
    let to_a = answer(&mut p, &[G722, TE8], "");
    assert_eq!(names(&to_a), ["G722/8000", "telephone-event/8000"]);
    assert!(p.transcode.is_none());
    // Never transcoded, even when asked: G.722 is not ours to decode.
    let mut p = pair();
    offer(&mut p, &[G722], "always-transcode");
    answer(&mut p, &[G722], "");
    assert!(p.transcode.is_none());
}

#[test]
fn strip_all_except_and_offer_order() {
    let mut p = pair();
    let to_b = offer(
        &mut p,
        &[PCMU, PCMA, G722, TE8],
        "codec=[strip=[all] except=[PCMA]]",
    );
    assert_eq!(names(&to_b), ["PCMA/8000"]);
    assert!(!to_b.contains("telephone-event"), "{to_b}");
    let mut p = pair();
    let to_b = offer(
        &mut p,
        &[PCMU, PCMA, G722, TE8],
        "codec=[strip=[all] offer=[PCMA PCMU]]",
    );
    assert_eq!(names(&to_b), ["PCMA/8000", "PCMU/8000"]);
    let mut p = pair();
    let to_b = offer(
        &mut p,
        &[PCMU, PCMA, G722, TE8],
        "codec-strip-G722 codec-strip-PCMU/8000",
    );
    assert_eq!(names(&to_b), ["PCMA/8000", "telephone-event/8000"]);
    assert!(!to_b.contains("a=rtpmap:9 "), "stripped lines go: {to_b}");
}

#[test]
fn options_leaving_nothing_are_refused() {
    let mut p = pair();
    let text = sdp(&[PCMU, PCMA], &[]);
    for flags in [
        "codec=[strip=[all]]",
        "codec=[strip=[PCMU PCMA]]",
        "codec-mask-all",
    ] {
        let err = step(&mut p, &text, 0, true, flags).unwrap_err();
        assert!(
            err.contains("no codec") || err.contains("every codec"),
            "{flags}: {err}"
        );
    }
    assert_eq!(p.codecs, Negotiation::default(), "refusals change nothing");
}

#[test]
fn mask_all_with_transcode_keeps_the_masked_codecs_toward_the_offerer() {
    let mut p = pair();
    let to_b = offer(
        &mut p,
        &[PCMU, PCMA, TE8],
        "codec-mask-all codec-transcode-opus",
    );
    assert_eq!(names(&to_b), ["opus/48000/2"]);
    let to_a = answer(&mut p, &[OPUS], "");
    assert_eq!(names(&to_a), ["PCMU/8000"], "no TE: B negotiated none");
    assert_eq!(
        direction(&p, 0).inputs.len(),
        2,
        "masked PCMA still decoded"
    );
    assert_eq!(direction(&p, 0).input_dtmf, None);
    assert_eq!(p.sides[0].telephone_event, None);
    // Masking by name: PCMU hidden from B, still A's first codec.
    let mut p = pair();
    let to_b = offer(
        &mut p,
        &[PCMU, PCMA, TE8],
        "codec=[mask=[PCMU] transcode=[opus]]",
    );
    assert_eq!(
        names(&to_b),
        [
            "PCMA/8000",
            "opus/48000/2",
            "telephone-event/48000",
            "telephone-event/8000"
        ]
    );
    let to_a = answer(&mut p, &[OPUS, TE48], "");
    assert_eq!(names(&to_a), ["PCMU/8000", "telephone-event/8000"]);
}

#[test]
fn transcode_naming_an_offered_codec_restores_it_from_all() {
    let mut p = pair();
    let to_b = offer(
        &mut p,
        &[PCMU, PCMA],
        "codec=[strip=[all] transcode=[PCMU]]",
    );
    assert_eq!(names(&to_b), ["PCMU/8000"]);
    assert!(!p.codecs.sent[0].added);
    answer(&mut p, &[PCMU], "");
    assert!(p.transcode.is_none());
}

#[test]
fn answers_picking_codecs_never_offered_are_transcoded_or_refused() {
    let mut p = pair();
    offer(&mut p, &[PCMU, PCMA, TE8], "");
    let before = p.clone();
    // Opus was never offered, but the transcoder handles it: transcoded
    // unasked, as rtpengine does.
    let result = step(&mut p, &sdp(&[OPUS], &[]), 1, false, "");
    assert!(result.is_ok(), "{result:?}");
    let plan = p.transcode.clone().expect("a transcoding plan");
    assert!(plan.directions.iter().all(Option::is_some));
    p = before.clone();
    // Same codec under another payload type: understood, no transcoding.
    assert!(step(&mut p, &sdp(&[(99, "PCMU/8000", "")], &[]), 1, false, "").is_ok());
    assert!(p.transcode.is_none());
    p = before.clone();
    // A codec the transcoder cannot handle: refused, nothing changes.
    let err = step(&mut p, &sdp(&[(18, "G729/8000", "")], &[]), 1, false, "").unwrap_err();
    assert!(err.contains("not offered"), "{err}");
    assert_eq!(p.codecs, before.codecs);
    assert_eq!(p.transcode, before.transcode);
}

#[test]
fn accept_answers_the_offerer_with_the_rejected_codec() {
    let mut p = pair();
    let to_b = offer(&mut p, &[PCMU, PCMA], "codec=[accept=[PCMA]]");
    assert_eq!(names(&to_b), ["PCMU/8000", "PCMA/8000"]);
    let to_a = answer(&mut p, &[PCMU], "");
    assert_eq!(names(&to_a), ["PCMA/8000"]);
    assert_eq!(direction(&p, 0).output.codec, AudioCodec::Pcmu);
    assert_eq!(direction(&p, 1).output.codec, AudioCodec::Pcma);
    // B took it: nothing to do.
    let mut p = pair();
    offer(&mut p, &[PCMU, PCMA], "codec=[accept=[PCMA]]");
    answer(&mut p, &[PCMA], "");
    assert!(p.transcode.is_none());
}

#[test]
fn set_and_transcode_bitrates_reach_the_opus_encoder() {
    for flags in [
        "codec=[transcode=[opus] set=[opus/48000/2/32000]]",
        "codec=[transcode=[opus/48000/2/32000]]",
        "codec-transcode-opus codec-set-opus/48000/2/32000",
    ] {
        let mut p = pair();
        offer(&mut p, &[PCMU], flags);
        answer(&mut p, &[OPUS], "");
        let AudioCodec::Opus(params) = direction(&p, 0).output.codec else {
            panic!("{flags}: not opus");
        };
        assert_eq!(params.max_average_bitrate, Some(32000), "{flags}");
        assert_eq!(params.max_playback_rate, 16000, "B's fmtp");
    }
}

#[test]
fn always_transcode_decodes_even_a_common_codec() {
    let mut p = pair();
    offer(&mut p, &[PCMU, PCMA, TE8], "always-transcode");
    let to_a = answer(&mut p, &[PCMA, TE8], "");
    assert_eq!(names(&to_a), ["PCMU/8000", "telephone-event/8000"]);
    assert_eq!(direction(&p, 0).output.codec, AudioCodec::Pcma);
    assert_eq!(direction(&p, 1).output.codec, AudioCodec::Pcmu);
    // Given in the answer instead.
    let mut p = pair();
    offer(&mut p, &[PCMU, PCMA], "");
    answer(&mut p, &[PCMU], "always-transcode");
    assert_eq!(direction(&p, 1).output.codec, AudioCodec::Pcmu);
}

#[test]
fn ptime_repacketizes_toward_the_receiver_only() {
    let mut p = pair();
    let to_b = offer(&mut p, &[PCMU, TE8], "ptime=30");
    assert!(to_b.contains("a=ptime:30\r\n"), "{to_b}");
    let to_a = answer(&mut p, &[PCMU, TE8], "");
    assert!(!to_a.contains("a=ptime"), "{to_a}");
    let plan = p.transcode.as_ref().unwrap();
    assert!(plan.directions[1].is_none(), "B to A untouched");
    let d = direction(&p, 0);
    assert_eq!((d.output.codec, d.output.ptime_ms), (AudioCodec::Pcmu, 30));
    assert_eq!(d.inputs, [input(0, AudioCodec::Pcmu)]);
    assert_eq!(
        (d.input_dtmf, d.output_dtmf),
        (te(101, 8000), te(101, 8000))
    );

    let mut p = pair();
    let to_b = offer(&mut p, &[PCMU], "ptime-reverse=40");
    assert!(!to_b.contains("a=ptime"), "{to_b}");
    let to_a = step(&mut p, &sdp(&[PCMU], &["a=ptime:20"]), 1, false, "").unwrap();
    assert!(
        to_a.contains("a=ptime:40\r\n") && !to_a.contains("a=ptime:20"),
        "{to_a}"
    );
    assert!(p.transcode.as_ref().unwrap().directions[0].is_none());
    assert_eq!(direction(&p, 1).output.ptime_ms, 40);

    // With transcoding, each output takes its receiver's a=ptime.
    let mut p = pair();
    step(
        &mut p,
        &sdp(&[PCMU], &["a=ptime:30"]),
        0,
        true,
        "codec-transcode-opus",
    )
    .unwrap();
    step(&mut p, &sdp(&[OPUS], &["a=ptime:60"]), 1, false, "").unwrap();
    assert_eq!(direction(&p, 0).output.ptime_ms, 60);
    assert_eq!(direction(&p, 1).output.ptime_ms, 30);
}

#[test]
fn inject_dtmf_copies_a_common_codec() {
    let mut p = pair();
    offer(&mut p, &[PCMU, PCMA, TE8], "inject-DTMF");
    let to_a = answer(&mut p, &[PCMA, TE8], "");
    assert_eq!(names(&to_a), ["PCMA/8000", "telephone-event/8000"]);
    for sender in 0..2 {
        let d = direction(&p, sender);
        assert_eq!(d.output.codec, AudioCodec::Pcma);
        assert_eq!(d.output.payload_type, 8);
        assert_eq!(d.inputs, [input(8, AudioCodec::Pcma)]);
        assert_eq!(d.output_dtmf, te(101, 8000));
    }
}

#[test]
fn telephone_events_follow_each_sides_clock() {
    // Opus offerer, G.711 answerer: TE/8000 added beside PCMA.
    let mut p = pair();
    let to_b = offer(&mut p, &[OPUS, TE48], "codec=[transcode=[PCMA]]");
    assert_eq!(
        names(&to_b),
        [
            "opus/48000/2",
            "PCMA/8000",
            "telephone-event/8000",
            "telephone-event/48000"
        ]
    );
    assert_eq!(pts(&to_b), [96, 8, 98, 97]);
    let to_a = answer(&mut p, &[PCMA, (98, "telephone-event/8000", "0-15")], "");
    assert_eq!(names(&to_a), ["opus/48000/2", "telephone-event/48000"]);
    assert_eq!(fmtp(&to_a, 96).as_deref(), Some(OPUS.2), "A's own fmtp");
    let d = direction(&p, 1);
    assert_eq!(d.output.codec, opus(OPUS.2));
    assert_eq!((d.input_dtmf, d.output_dtmf), (te(98, 8000), te(97, 48000)));
    assert_eq!(p.sides[0].telephone_event, te(97, 48000));
    assert_eq!(p.sides[1].telephone_event, te(98, 8000));
}

#[test]
fn added_payload_types_avoid_the_offerers() {
    let mut p = pair();
    let to_b = offer(
        &mut p,
        &[OPUS, TE48, (98, "foo/8000", ""), (0, "speex/8000", "")],
        "codec=[transcode=[PCMU PCMA G722]]",
    );
    // PT 0 is taken (however oddly): PCMU gets a dynamic one.
    assert_eq!(
        names(&to_b),
        [
            "opus/48000/2",
            "foo/8000",
            "speex/8000",
            "PCMU/8000",
            "PCMA/8000",
            "telephone-event/8000",
            "telephone-event/48000"
        ]
    );
    assert_eq!(pts(&to_b), [96, 98, 0, 99, 8, 100, 97]);
}

#[test]
fn reinvite_recomputes_the_plan() {
    let mut p = pair();
    offer(&mut p, &[PCMU, TE8], "codec-transcode-opus");
    answer(&mut p, &[OPUS, TE48], "");
    assert!(p.transcode.is_some());
    let opus_pt = p.codecs.sent.iter().find(|s| s.added).unwrap().format.pt;
    // Same offer again: the added codec keeps its payload type.
    offer(&mut p, &[PCMU, TE8], "codec-transcode-opus");
    assert_eq!(
        p.codecs.sent.iter().find(|s| s.added).unwrap().format.pt,
        opus_pt
    );
    // B re-INVITEs with PCMU: plan gone.
    let to_a = step(&mut p, &sdp(&[PCMU, TE8], &[]), 1, true, "").unwrap();
    assert_eq!(names(&to_a), ["PCMU/8000", "telephone-event/8000"]);
    step(&mut p, &sdp(&[PCMU, TE8], &[]), 0, false, "").unwrap();
    assert!(p.transcode.is_none());
    assert_eq!(p.codecs.offerer, Some(1));
    // And back to Opus, with A answering this time.
    step(
        &mut p,
        &sdp(&[OPUS, TE48], &[]),
        1,
        true,
        "codec-transcode-PCMU",
    )
    .unwrap();
    let to_b = step(&mut p, &sdp(&[PCMU, TE8], &[]), 0, false, "").unwrap();
    assert_eq!(names(&to_b), ["opus/48000/2", "telephone-event/48000"]);
    assert_eq!(
        direction(&p, 0).output.codec,
        opus(OPUS.2),
        "A sends PCMU, B gets opus"
    );
}

#[test]
fn rejected_answer_clears_the_plan() {
    let mut p = pair();
    offer(&mut p, &[PCMU], "codec-transcode-opus");
    answer(&mut p, &[OPUS], "");
    assert!(p.transcode.is_some());
    let text = sdp(&[OPUS], &[]).replace("m=audio 5000", "m=audio 0");
    step(&mut p, &text, 1, false, "").unwrap();
    assert!(p.transcode.is_none());
}

#[test]
fn malformed_codec_lines_do_not_panic() {
    let text = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
                m=audio 5000 RTP/AVP 96 97 0 200 x\r\na=rtpmap:96 opus\r\na=rtpmap:97\r\n\
                a=rtpmap:97 telephone-event/abc\r\na=fmtp:96 ;;;=;maxplaybackrate=abc;stereo\r\n\
                a=fmtp:0\r\na=fmtp:x y\r\na=ptime:abc\r\na=ptime:-5\r\n";
    for flags in [
        "",
        "codec-transcode-opus",
        "codec=[strip=[all] except=[opus//]]",
        "ptime=0",
    ] {
        let mut p = pair();
        let _ = step(&mut p, text, 0, true, flags);
        let _ = step(&mut p, text, 1, false, flags);
    }
    assert_eq!(
        sdp_codecs::opus_params(Some(";;=;maxplaybackrate=x")),
        OpusParams::default()
    );
}

#[test]
fn non_audio_sections_are_untouched() {
    let text = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
                m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
    let mut p = pair();
    let out = step(
        &mut p,
        text,
        0,
        true,
        "codec-strip-all codec-transcode-opus",
    )
    .unwrap();
    assert_eq!(out, text);
}

#[test]
fn flags_dictionary_and_rtpp_flags_agree() {
    let a = policy("codec=[transcode=[PCMA] strip=[all] mask=[opus] except=[G722]]");
    let b = policy("codec-transcode-PCMA codec-strip-all codec-mask-opus codec-except-G722");
    assert_eq!(a, b);
    assert!(a.strip_all && a.mask.len() == 1 && a.transcode[0].name == "PCMA");
}

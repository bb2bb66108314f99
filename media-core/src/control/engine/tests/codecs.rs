//! Codec negotiation through the engine: the SDP each leg gets, the
//! plan on the call, and what the workers are told.

use super::*;
use sluice_transcode::AudioCodec;

const G711_OFFER: &str = "v=0\r\no=carrier 1 1 IN IP4 10.1.0.1\r\ns=-\r\nc=IN IP4 10.1.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n";

fn opus_answer(pt: u8, te: u8) -> String {
    format!(
        "v=0\r\no=ai 1 1 IN IP4 10.2.0.1\r\ns=-\r\nc=IN IP4 10.2.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP {pt} {te}\r\na=rtpmap:{pt} opus/48000/2\r\na=fmtp:{pt} useinbandfec=1\r\na=rtpmap:{te} telephone-event/48000\r\na=fmtp:{te} 0-15\r\na=sendrecv\r\n"
    )
}

const PCMA_ANSWER: &str = "v=0\r\no=ai 1 1 IN IP4 10.2.0.1\r\ns=-\r\nc=IN IP4 10.2.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n";

fn formats(sdp: &str) -> Vec<String> {
    SessionDescription::parse(sdp).unwrap().media()[0]
        .formats()
        .to_vec()
}

fn rtpmaps(sdp: &str) -> Vec<String> {
    SessionDescription::parse(sdp).unwrap().media()[0]
        .rtpmap()
        .map(|m| m.encoding)
        .collect()
}

/// Directions of call `id`'s first section that the transcoder handles.
fn transcoded_directions(e: &Engine, id: &str) -> usize {
    e.call(id).unwrap().media[0]
        .transcode
        .as_ref()
        .map_or(0, |p| p.directions.iter().flatten().count())
}

#[test]
fn g711_carrier_and_opus_platform_are_transcoded() {
    let mut e = engine(&[]);
    let now = Instant::now();
    let codec = Value::Dict(
        sluice_ng::Dict::new().with("transcode", Value::from(vec![Value::from("opus")])),
    );
    let to_b = e
        .offer_answer(
            &offer("t1", "A", G711_OFFER, &[("codec", codec)]),
            true,
            now,
        )
        .unwrap();
    assert_eq!(formats(&to_b), ["0", "8", "96", "97", "101"]);
    assert!(to_b.contains("a=rtpmap:96 opus/48000/2\r\n"), "{to_b}");
    e.take_commands();
    let to_a = e
        .offer_answer(&answer("t1", "A", "B", &opus_answer(96, 97)), false, now)
        .unwrap();
    assert_eq!(formats(&to_a), ["0", "101"]);
    assert_eq!(rtpmaps(&to_a), ["PCMU", "telephone-event"]);
    let pair = &e.call("t1").unwrap().media[0];
    let plan = pair.transcode.as_ref().expect("transcoded");
    let a_to_b = plan.directions[0].as_ref().unwrap();
    assert!(matches!(a_to_b.output.codec, AudioCodec::Opus(_)));
    let b_to_a = plan.directions[1].as_ref().unwrap();
    assert_eq!(b_to_a.output.codec, AudioCodec::Pcmu);
    assert_eq!(pair.sides[0].telephone_event.unwrap().payload_type, 101);
    assert_eq!(pair.sides[1].telephone_event.unwrap().clock_rate, 48000);
    assert_eq!(transcoded_directions(&e, "t1"), 2);
}

#[test]
fn a_common_codec_stays_on_the_pass_through_path() {
    let mut e = engine(&[]);
    let now = Instant::now();
    e.offer_answer(&offer("t2", "A", G711_OFFER, &[]), true, now)
        .unwrap();
    let to_a = e
        .offer_answer(&answer("t2", "A", "B", PCMA_ANSWER), false, now)
        .unwrap();
    assert_eq!(formats(&to_a), ["8", "101"]);
    assert!(e.call("t2").unwrap().media[0].transcode.is_none());
    assert_eq!(transcoded_directions(&e, "t2"), 0);
}

#[test]
fn rtpp_flags_codec_options_reach_the_offer() {
    let mut e = engine(&[]);
    let now = Instant::now();
    let flags = (
        "rtpp-flags",
        Value::from("codec=[transcode=[opus] mask=[all]] ptime=40"),
    );
    let to_b = e
        .offer_answer(&offer("t3", "A", G711_OFFER, &[flags]), true, now)
        .unwrap();
    assert_eq!(rtpmaps(&to_b), ["opus"]);
    assert!(to_b.contains("a=ptime:40\r\n"), "{to_b}");
    e.offer_answer(&answer("t3", "A", "B", &opus_answer(96, 97)), false, now)
        .unwrap();
    let plan = e.call("t3").unwrap().media[0].transcode.clone().unwrap();
    assert_eq!(plan.directions[0].as_ref().unwrap().output.ptime_ms, 40);
}

#[test]
fn refused_answer_leaves_the_call_as_it_was() {
    let mut e = engine(&[]);
    let now = Instant::now();
    e.offer_answer(&offer("t4", "A", G711_OFFER, &[]), true, now)
        .unwrap();
    e.offer_answer(&answer("t4", "A", "B", PCMA_ANSWER), false, now)
        .unwrap();
    let before = e.call("t4").unwrap().media.clone();
    // G.729 was never offered and cannot be transcoded.
    let g729 = PCMA_ANSWER
        .replace("RTP/AVP 8 101", "RTP/AVP 18 101")
        .replace("8 PCMA", "18 G729");
    let err = e
        .offer_answer(&answer("t4", "A", "B", &g729), false, now)
        .unwrap_err();
    assert!(
        matches!(&err, Failure::Error(r) if r.contains("not offered")),
        "{err:?}"
    );
    let after = &e.call("t4").unwrap().media;
    assert_eq!(after[0].codecs, before[0].codecs);
    assert_eq!(after[0].transcode, before[0].transcode);
    assert_eq!(after[0].sides[1].remote_rtp, before[0].sides[1].remote_rtp);
    // An offer whose options leave nothing is refused too.
    let strip = ("flags", Value::from(vec![Value::from("codec-strip-all")]));
    let err = e
        .offer_answer(&offer("t5", "A", G711_OFFER, &[strip]), true, now)
        .unwrap_err();
    assert!(
        matches!(&err, Failure::Error(r) if r.contains("media section 1")),
        "{err:?}"
    );
    assert!(e.call("t5").is_none());
}

#[test]
fn reinvite_makes_the_plan_appear_and_vanish() {
    let mut e = engine(&[]);
    let now = Instant::now();
    e.offer_answer(&offer("t6", "A", G711_OFFER, &[]), true, now)
        .unwrap();
    e.offer_answer(&answer("t6", "A", "B", PCMA_ANSWER), false, now)
        .unwrap();
    assert!(e.call("t6").unwrap().media[0].transcode.is_none());
    let flags = (
        "flags",
        Value::from(vec![Value::from("codec-transcode-opus")]),
    );
    e.offer_answer(&offer("t6", "A", G711_OFFER, &[flags]), true, now)
        .unwrap();
    e.offer_answer(&answer("t6", "A", "B", &opus_answer(96, 97)), false, now)
        .unwrap();
    assert!(e.call("t6").unwrap().media[0].transcode.is_some());
    e.offer_answer(&offer("t6", "A", G711_OFFER, &[]), true, now)
        .unwrap();
    e.offer_answer(&answer("t6", "A", "B", PCMA_ANSWER), false, now)
        .unwrap();
    assert!(e.call("t6").unwrap().media[0].transcode.is_none());
    assert_eq!(transcoded_directions(&e, "t6"), 0);
}

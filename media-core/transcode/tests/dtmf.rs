//! DTMF through the transcoder: RFC 4733 mapping between clocks, in-band
//! generation and detection, `play DTMF`, blocking, absurd events.

mod common;

use std::time::{Duration, Instant};

use common::*;
use sluice_dtmf::{
    DetectedDigit, Detector, Digit, EventPayload, EventSender, EventView, SendConfig, ToneGenerator,
};
use sluice_transcode::{AudioCodec, DigitSource, DropCause, DtmfError};

fn event_packets(code: u8, start_ts: u32, clock: u32, ms: u32) -> Vec<(bool, u32, [u8; 4], u64)> {
    let cfg = SendConfig::from_millis(code, 10, start_ts, clock, ms, 50).expect("valid");
    EventSender::new(cfg)
        .expect("valid")
        .map(|p| {
            (
                p.marker,
                p.timestamp,
                p.payload.to_bytes().expect("valid"),
                p.send_offset,
            )
        })
        .collect()
}

/// Audio plus a digit: 20 ms PCMU packets, and from packet `at` the
/// event's packets interleaved, all on one sequence space.
fn call_with_event(code: u8, at: usize, ms: u32, te_pt: u8, silence: bool) -> Vec<Vec<u8>> {
    let audio = if silence {
        vec![0i16; 160 * 60]
    } else {
        sine(300.0, 2000.0, 8000, 0, 160 * 60)
    };
    let mut out = Vec::new();
    let mut seq = 1000u16;
    let events = event_packets(code, (at * 160) as u32, 8000, ms);
    let mut ev = events.iter().peekable();
    for (k, c) in audio.chunks_exact(160).enumerate() {
        let mut codes = vec![0u8; 160];
        sluice_codec::g711::ulaw::encode_into(c, &mut codes);
        out.push(rtp(0, k == 0, seq, (k * 160) as u32, 77, &codes));
        seq = seq.wrapping_add(1);
        let now_ts = ((k + 1) * 160) as u64;
        while let Some(e) = ev.peek() {
            if k < at || (at * 160) as u64 + e.3 > now_ts {
                break;
            }
            out.push(rtp(te_pt, e.0, seq, e.1, 77, &e.2));
            seq = seq.wrapping_add(1);
            ev.next();
        }
    }
    out
}

/// Feeds a mixed audio+event stream, one packet per 10 ms on average
/// (events do not take audio time): timing follows the audio.
fn feed_mixed(
    t: &mut sluice_transcode::MediaTranscoder,
    pkts: &[Vec<u8>],
    t0: Instant,
    s: &mut Collect,
) -> Instant {
    let mut now = t0;
    for p in pkts {
        t.poll(now, s);
        t.push_rtp(0, p, now, s);
        if p[1] & 0x7f == 0 {
            now += 20 * MS;
        }
    }
    t.poll(now + Duration::from_secs(2), s);
    now
}

/// PT 101 at 8 kHz (PCMU side) -> PT 110 at 48 kHz (Opus side):
/// durations x6, timestamps on the output timeline, three end packets,
/// the digit reported once.
#[test]
fn event_mapping_8k_to_48k() {
    let mut d = dir(AudioCodec::Pcmu, opus(), 20);
    d.input_dtmf = te(101, 8000);
    d.output_dtmf = te(110, 48000);
    let t0 = Instant::now();
    let mut t = transcoder(&one_way(d), t0);
    let mut s = Collect::default();
    let pkts = call_with_event(5, 10, 200, 101, false);
    feed_mixed(&mut t, &pkts, t0, &mut s);
    let out = &s.rtp[1];
    let audio: Vec<&Pkt> = out.iter().filter(|p| p.pt == 111).collect();
    let events: Vec<&Pkt> = out.iter().filter(|p| p.pt == 110).collect();
    let inputs: Vec<Pkt> = pkts
        .iter()
        .map(|p| Pkt::parse(p))
        .filter(|p| p.pt == 101)
        .collect();
    assert_eq!(
        events.len(),
        inputs.len(),
        "every event packet mapped, end retransmissions too"
    );
    assert_eq!(audio.len(), 60, "audio continues under the event");
    // The event starts at input ts 1600 = audio packet 10's timestamp.
    let audio10 = audio[10].ts;
    for (i, o) in inputs.iter().zip(&events) {
        let (vi, vo) = (
            EventView::parse(&i.payload).expect("ev"),
            EventView::parse(&o.payload).expect("ev"),
        );
        assert_eq!(u32::from(vo.duration()), u32::from(vi.duration()) * 6);
        assert_eq!(
            (vo.event(), vo.end(), vo.volume()),
            (vi.event(), vi.end(), vi.volume())
        );
        assert_eq!(o.ts, audio10, "event timestamp on the output timeline");
        assert_eq!(o.marker, i.marker);
        assert_eq!(o.ssrc, audio[0].ssrc);
    }
    assert_eq!(
        events
            .iter()
            .filter(|p| EventView::parse(&p.payload).expect("ev").end())
            .count(),
        3
    );
    // Sequence numbers: one stream, no gaps.
    for w in out.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1));
    }
    assert_eq!(s.digits.len(), 1);
    assert_eq!(s.digits[0].1.digit, Digit::D5);
    assert_eq!(s.digits[0].1.duration_ms, 200);
    assert_eq!(s.digits[0].1.source, DigitSource::Event);
    assert_eq!(t.stats(0).dtmf_digits, 1);
}

fn detect(pcm: &[i16]) -> Vec<DetectedDigit> {
    let mut det = Detector::default();
    let mut v = Vec::new();
    det.push(pcm, |d| v.push(d));
    det.finish(|d| v.push(d));
    v
}

/// Only the sender has telephone-event: the event becomes in-band tones
/// the detector finds again.
#[test]
fn events_to_inband_tones() {
    let mut d = dir(AudioCodec::Pcmu, AudioCodec::Pcmu, 20);
    d.input_dtmf = te(101, 8000);
    let t0 = Instant::now();
    let mut t = transcoder(&one_way(d), t0);
    let mut s = Collect::default();
    feed_mixed(&mut t, &call_with_event(9, 10, 300, 101, true), t0, &mut s);
    assert!(s.rtp[1].iter().all(|p| p.pt == 0));
    let pcm = decode_pcmu(&s.rtp[1]);
    let found = detect(&pcm);
    assert!(
        found.iter().any(|d| d.digit == Digit::D9),
        "tone generated: {found:?}"
    );
    assert_eq!(s.digits.len(), 1);
}

/// Only the receiver has telephone-event: in-band tones from the sender
/// become RFC 4733 events.
#[test]
fn inband_tones_to_events() {
    let mut d = dir(AudioCodec::Pcmu, AudioCodec::Pcmu, 20);
    d.output_dtmf = te(101, 8000);
    let t0 = Instant::now();
    let mut t = transcoder(&one_way(d), t0);
    let mut pcm = vec![0i16; 160 * 50];
    let mut tone = ToneGenerator::digit(Digit::Star, -10.0);
    tone.fill(&mut pcm[1600..1600 + 8 * 200]);
    let pkts = pcmu_packets(&pcm, 1, 0, 5, 160);
    let mut s = Collect::default();
    feed(&mut t, &pkts, t0, 20 * MS, &mut s);
    let events: Vec<&Pkt> = s.rtp[1].iter().filter(|p| p.pt == 101).collect();
    assert!(events.len() >= 4, "{}", events.len());
    assert!(events[0].marker);
    assert!(events[1..].iter().all(|p| !p.marker));
    assert!(events.iter().all(|p| p.ts == events[0].ts));
    let views: Vec<EventView<'_>> = events
        .iter()
        .map(|p| EventView::parse(&p.payload).expect("ev"))
        .collect();
    assert!(views.iter().all(|v| v.event() == Digit::Star.event_code()));
    assert_eq!(views.iter().filter(|v| v.end()).count(), 3);
    let end = views.last().expect("end").duration();
    assert!((1400..=1800).contains(&end), "duration {end}");
    assert_eq!(s.digits.len(), 1);
    assert_eq!(s.digits[0].1.source, DigitSource::Inband);
    // Event timestamp within a block of the tone's start on the output timeline.
    let audio0 = s.rtp[1].iter().find(|p| p.pt == 0).expect("audio").ts;
    let start = events[0].ts.wrapping_sub(audio0);
    assert!((1500..=1800).contains(&start), "start {start}");
}

/// `play DTMF` toward a leg with telephone-event: marker on the first,
/// one timestamp, growing durations, three ends; audio muted meanwhile.
#[test]
fn play_dtmf_events() {
    let mut d = dir(AudioCodec::Pcmu, opus(), 20);
    d.output_dtmf = te(110, 48000);
    let t0 = Instant::now();
    let mut t = transcoder(&one_way(d), t0);
    let mut s = Collect::default();
    let audio = pcmu_packets(&sine(400.0, 3000.0, 8000, 0, 160 * 50), 1, 0, 5, 160);
    let mut now = t0;
    for (k, p) in audio.iter().enumerate() {
        if k == 10 {
            assert_eq!(t.play_dtmf(1, 3, 50, 10, now), Err(DtmfError::Duration(50)));
            assert_eq!(t.play_dtmf(1, 16, 200, 10, now), Err(DtmfError::Code(16)));
            assert_eq!(t.play_dtmf(0, 3, 200, 10, now), Err(DtmfError::NoStream(0)));
            t.play_dtmf_with(1, 3, 200, 10, now, &mut s).expect("plays");
        }
        t.poll(now, &mut s);
        t.push_rtp(0, p, now, &mut s);
        now += 20 * MS;
        while let Some(dl) = t.next_deadline().filter(|d| *d < now) {
            t.poll(dl, &mut s);
        }
    }
    let out = &s.rtp[1];
    let ev: Vec<&Pkt> = out.iter().filter(|p| p.pt == 110).collect();
    assert!(ev[0].marker && ev[1..].iter().all(|p| !p.marker));
    assert!(ev.iter().all(|p| p.ts == ev[0].ts));
    let durs: Vec<(u16, bool)> = ev
        .iter()
        .map(|p| {
            let v = EventView::parse(&p.payload).expect("ev");
            assert_eq!(v.event(), 3);
            assert_eq!(v.volume(), 10);
            (v.duration(), v.end())
        })
        .collect();
    assert!(durs.windows(2).all(|w| w[1].0 >= w[0].0));
    assert_eq!(durs.iter().filter(|d| d.1).count(), 3);
    assert_eq!(durs.last().expect("end").0, 9600);
    assert_eq!(ev.len(), 10 + 2, "updates every 20 ms, 3 ends");
    // Audio muted while playing: about 200 ms of it.
    let muted = t.stats(0).muted;
    assert!((9..=12).contains(&muted), "muted {muted}");
    // Event timestamp between the audio before and after it; audio after
    // the event starts past its end with a marker.
    let first_after = out
        .iter()
        .skip_while(|p| p.pt != 110)
        .find(|p| p.pt == 111)
        .expect("audio after");
    assert!(first_after.marker);
    assert!(first_after.ts.wrapping_sub(ev[0].ts) >= 9600);
    for w in out.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1));
    }
}

/// `play DTMF` toward a leg without telephone-event: in-band tones.
/// Digits asked for while one plays are played after it, in order, each
/// its own event; 16 may wait, the 17th is refused.
#[test]
fn play_dtmf_queues_digits_behind_the_one_playing() {
    let mut d = dir(AudioCodec::Pcmu, opus(), 20);
    d.output_dtmf = te(110, 48000);
    let t0 = Instant::now();
    let mut t = transcoder(&one_way(d), t0);
    let mut s = Collect::default();
    let audio = pcmu_packets(&sine(400.0, 3000.0, 8000, 0, 160 * 150), 1, 0, 5, 160);
    let mut now = t0;
    for (k, p) in audio.iter().enumerate() {
        if k == 5 {
            t.play_dtmf_with(1, 3, 100, 10, now, &mut s).expect("plays");
            t.play_dtmf(1, 4, 100, 10, now).expect("queued");
            t.play_dtmf(1, 11, 100, 10, now).expect("queued");
        }
        if k == 6 {
            for _ in 0..14 {
                t.play_dtmf(1, 1, 100, 10, now).expect("queued");
            }
            assert_eq!(t.play_dtmf(1, 1, 100, 10, now), Err(DtmfError::Busy(1)));
        }
        t.poll(now, &mut s);
        t.push_rtp(0, p, now, &mut s);
        now += 20 * MS;
        while let Some(dl) = t.next_deadline().filter(|d| *d < now) {
            t.poll(dl, &mut s);
        }
    }
    let mut events: Vec<(u32, u8)> = Vec::new();
    for p in s.rtp[1].iter().filter(|p| p.pt == 110) {
        let code = EventView::parse(&p.payload).expect("event").event();
        if events.last().is_none_or(|e| e.0 != p.ts) {
            events.push((p.ts, code));
        }
    }
    let codes: Vec<u8> = events.iter().map(|e| e.1).collect();
    assert_eq!(&codes[..3], [3, 4, 11], "in the order asked");
    assert_eq!(codes.len(), 17, "the first, then the 16 queued");
    assert!(events
        .windows(2)
        .all(|w| w[1].0.wrapping_sub(w[0].0) >= 4800));
}

#[test]
fn play_dtmf_inband() {
    let d = dir(AudioCodec::Pcma, AudioCodec::Pcmu, 20);
    let t0 = Instant::now();
    let mut t = transcoder(&one_way(d), t0);
    let mut s = Collect::default();
    t.play_dtmf(1, 1, 300, 8, t0).expect("plays");
    assert_eq!(t.next_deadline(), Some(t0));
    let mut now = t0;
    for _ in 0..30 {
        t.poll(now, &mut s);
        now += 20 * MS;
    }
    assert_eq!(s.rtp[1].len(), 15);
    let found = detect(&decode_pcmu(&s.rtp[1]));
    assert!(found.iter().any(|d| d.digit == Digit::D1), "{found:?}");
}

/// Blocked: events from the leg are dropped and counted, no digit, no
/// tones.
#[test]
fn blocked_dtmf() {
    let mut d = dir(AudioCodec::Pcmu, opus(), 20);
    d.input_dtmf = te(101, 8000);
    d.output_dtmf = te(110, 48000);
    let t0 = Instant::now();
    let mut t = transcoder(&one_way(d), t0);
    t.set_dtmf_blocked(0, true);
    let mut s = Collect::default();
    let pkts = call_with_event(5, 10, 200, 101, false);
    let n_ev = pkts.iter().filter(|p| p[1] & 0x7f == 101).count() as u64;
    feed_mixed(&mut t, &pkts, t0, &mut s);
    assert!(s.rtp[1].iter().all(|p| p.pt == 111));
    assert!(s.digits.is_empty());
    assert_eq!(t.stats(0).drops.dtmf_blocked, n_ev);
    assert!(s.drops.iter().all(|d| d.1 == DropCause::DtmfBlocked));
    // Unblocked again: forwarded.
    t.set_dtmf_blocked(0, false);
    let more = call_with_event(7, 5, 100, 101, false);
    let shifted: Vec<Vec<u8>> = more
        .iter()
        .map(|p| {
            let v = Pkt::parse(p);
            rtp(
                v.pt,
                v.marker,
                v.seq.wrapping_add(200),
                v.ts.wrapping_add(20000),
                v.ssrc,
                &v.payload,
            )
        })
        .collect();
    feed_mixed(&mut t, &shifted, t0 + Duration::from_secs(5), &mut s);
    assert!(s.rtp[1].iter().any(|p| p.pt == 110));
    assert_eq!(s.digits.len(), 1);
}

/// Absurd events are dropped and counted, never forwarded.
#[test]
fn absurd_events_dropped() {
    let mut d = dir(AudioCodec::Pcmu, AudioCodec::Pcmu, 20);
    d.input_dtmf = te(101, 8000);
    d.output_dtmf = te(101, 8000);
    let t0 = Instant::now();
    let mut t = transcoder(&one_way(d), t0);
    let mut s = Collect::default();
    let bad = [
        // Event code 200.
        EventPayload {
            event: 200,
            end: false,
            volume: 10,
            duration: 160,
        }
        .to_bytes()
        .expect("ok"),
    ];
    t.push_rtp(0, &rtp(101, true, 1, 0, 9, &bad[0]), t0, &mut s);
    // Truncated.
    t.push_rtp(0, &rtp(101, false, 2, 0, 9, &[1, 2]), t0, &mut s);
    // A duration growing past 10 s over segments.
    for k in 0..3u32 {
        let seq = 3 + k as u16;
        let p = EventPayload {
            event: 1,
            end: false,
            volume: 10,
            duration: 0xffff,
        }
        .to_bytes()
        .expect("ok");
        t.push_rtp(
            0,
            &rtp(101, k == 0, seq, 8000 + k * 0xffff, 9, &p),
            t0,
            &mut s,
        );
    }
    let st = t.stats(0);
    assert!(st.drops.bad_dtmf >= 3, "{st:?}");
    assert_eq!(
        st.dtmf_events_forwarded, 1,
        "only the believable first segment"
    );
}

/// Polls `t` at every deadline up to `until`.
fn poll_until(t: &mut sluice_transcode::MediaTranscoder, until: Instant, s: &mut Collect) {
    for _ in 0..10_000 {
        match t.next_deadline().filter(|d| *d <= until) {
            Some(d) => t.poll(d, s),
            None => break,
        }
    }
    t.poll(until, s);
}

/// A sender that sends only event packets during the digit (no audio
/// under it): the receiver without telephone-event still gets the tone,
/// one frame per packet time from `poll`, on a timeline that goes on.
#[test]
fn events_without_audio_become_tone_frames() {
    let mut d = dir(AudioCodec::Pcmu, AudioCodec::Pcmu, 20);
    d.input_dtmf = te(101, 8000);
    let t0 = Instant::now();
    let mut t = transcoder(&one_way(d), t0);
    let mut s = Collect::default();
    let silence = [0xffu8; 160];
    let mut seq = 1u16;
    let mut now = t0;
    // 200 ms of audio, then the digit (ts 1600, 400 ms) by events only.
    for k in 0..10u32 {
        poll_until(&mut t, now, &mut s);
        t.push_rtp(0, &rtp(0, k == 0, seq, k * 160, 7, &silence), now, &mut s);
        seq += 1;
        now += 20 * MS;
    }
    let ev_start = now;
    for e in event_packets(9, 1600, 8000, 400) {
        let at = ev_start + Duration::from_micros(e.3 * 125);
        poll_until(&mut t, at, &mut s);
        t.push_rtp(0, &rtp(101, e.0, seq, e.1, 7, &e.2), at, &mut s);
        seq += 1;
    }
    // Audio again after the digit.
    now = ev_start + 440 * MS;
    for k in 0..10u32 {
        poll_until(&mut t, now, &mut s);
        let ts = 1600 + 3520 + k * 160;
        t.push_rtp(0, &rtp(0, k == 0, seq, ts, 7, &silence), now, &mut s);
        seq += 1;
        now += 20 * MS;
    }
    poll_until(&mut t, now + Duration::from_secs(1), &mut s);
    let out = &s.rtp[1];
    assert!(out.iter().all(|p| p.pt == 0));
    let frames = t.stats(0).tone_frames;
    assert!((14..=22).contains(&frames), "tone frames {frames}");
    let found = detect(&decode_pcmu(out));
    assert!(
        found.iter().any(|d| d.digit == Digit::D9),
        "tone generated: {found:?}"
    );
    for w in out.windows(2) {
        assert!(
            (w[1].ts.wrapping_sub(w[0].ts) as i32) > 0,
            "output timestamps go forward: {} then {}",
            w[0].ts,
            w[1].ts
        );
    }
    assert_eq!(s.digits.len(), 1);
}

/// In-band tone after the output timeline jumped (a DTX gap under one
/// SSRC, or a new SSRC after a pause): the event's timestamp is the
/// output timestamp of the audio where the tone starts.
#[test]
fn inband_event_timestamp_after_timeline_jump() {
    for new_ssrc in [false, true] {
        let mut d = dir(AudioCodec::Pcmu, AudioCodec::Pcmu, 20);
        d.output_dtmf = te(101, 8000);
        let t0 = Instant::now();
        let mut t = transcoder(&one_way(d), t0);
        let mut s = Collect::default();
        let mut now = t0;
        // 500 ms of silence.
        let first = pcmu_packets(&vec![0i16; 160 * 25], 1, 0, 5, 160);
        for p in &first {
            t.poll(now, &mut s);
            t.push_rtp(0, p, now, &mut s);
            now += 20 * MS;
        }
        // 2 s with nothing, then silence with a tone from its packet 5.
        now += Duration::from_secs(2);
        let mut pcm = vec![0i16; 160 * 30];
        ToneGenerator::digit(Digit::D4, -10.0).fill(&mut pcm[800..800 + 8 * 200]);
        let (ssrc, ts0) = if new_ssrc {
            (6, 3_000_000)
        } else {
            (5, 4000 + 16000)
        };
        let second = pcmu_packets(&pcm, 26, ts0, ssrc, 160);
        for p in &second {
            t.poll(now, &mut s);
            t.push_rtp(0, p, now, &mut s);
            now += 20 * MS;
        }
        t.poll(now + Duration::from_secs(1), &mut s);
        let audio: Vec<&Pkt> = s.rtp[1].iter().filter(|p| p.pt == 0).collect();
        let events: Vec<&Pkt> = s.rtp[1].iter().filter(|p| p.pt == 101).collect();
        assert_eq!(audio.len(), 55, "one packet out per packet in");
        assert!(!events.is_empty(), "digit found");
        let tone_start = audio[25 + 5].ts;
        let off = events[0].ts.wrapping_sub(tone_start) as i32;
        assert!(
            (-160..=320).contains(&off),
            "new ssrc {new_ssrc}: event {} vs tone start {tone_start} ({off})",
            events[0].ts
        );
        assert_eq!(s.digits.len(), 1);
    }
}

/// A digit that starts and ends within one packet (120 ms): its three
/// end packets, and only the first carries the marker.
#[test]
fn short_digit_in_one_packet_marks_only_first() {
    let mut d = dir(AudioCodec::Pcmu, AudioCodec::Pcmu, 20);
    d.inputs[0].payload_type = 0;
    d.output_dtmf = te(101, 8000);
    let t0 = Instant::now();
    let mut t = transcoder(&one_way(d), t0);
    let mut pcm = vec![0i16; 960 * 3];
    ToneGenerator::digit(Digit::D2, -10.0).fill(&mut pcm[960 + 60..960 + 520]);
    let pkts = pcmu_packets(&pcm, 1, 0, 5, 960);
    let mut s = Collect::default();
    feed(&mut t, &pkts, t0, 120 * MS, &mut s);
    let events: Vec<&Pkt> = s.rtp[1].iter().filter(|p| p.pt == 101).collect();
    assert_eq!(
        events.len(),
        3,
        "start and end in one push: the end reports"
    );
    assert!(events
        .iter()
        .all(|p| EventView::parse(&p.payload).expect("ev").end()));
    assert!(events[0].marker, "first packet of the event");
    assert!(
        events[1..].iter().all(|p| !p.marker),
        "end retransmissions carry no marker"
    );
    assert_eq!(s.digits.len(), 1);
}

/// SIPp's `dtmf_2833_star` then `dtmf_2833_pound` pcaps, events only: the
/// second event's sequence numbers jump by 32 (a jitter-buffer resync
/// that re-anchors the timeline after its first packet). Every packet of
/// one event must keep one output timestamp, or the far end sees two
/// events (a stray zero-length '#').
#[test]
fn one_event_keeps_one_timestamp_across_a_resync() {
    let mut d = dir(AudioCodec::Pcma, opus(), 20);
    d.input_dtmf = te(101, 8000);
    d.output_dtmf = te(97, 48000);
    let t0 = Instant::now();
    let mut t = transcoder(&one_way(d), t0);
    let mut s = Collect::default();
    let mut now = t0;
    for (code, seq0, ts, start_ms) in [(10u8, 8397u16, 85_760u32, 0u64), (11, 8436, 92_640, 800)] {
        let durations = [0u16, 320, 640, 960, 1280, 1600, 1920, 2240, 2240, 2240];
        for (i, &dur) in durations.iter().enumerate() {
            let end = i >= 7;
            let seq = seq0 + (i as u16).min(7);
            let payload = [
                code,
                if end { 0x80 | 10 } else { 10 },
                (dur >> 8) as u8,
                dur as u8,
            ];
            let p = rtp(101, i == 0, seq, ts, 0x0e05_384e, &payload);
            now = t0 + Duration::from_millis(start_ms + 20 * (i as u64).min(7));
            t.push_rtp(0, &p, now, &mut s);
            t.poll(now, &mut s);
        }
    }
    poll_until(&mut t, now + Duration::from_millis(300), &mut s);
    let events: Vec<&Pkt> = s.rtp[1].iter().filter(|p| p.pt == 97).collect();
    for code in [10u8, 11] {
        let of_code: Vec<&&Pkt> = events.iter().filter(|p| p.payload[0] == code).collect();
        assert!(!of_code.is_empty(), "event {code} forwarded");
        assert!(
            of_code.iter().all(|p| p.ts == of_code[0].ts),
            "event {code}: timestamps {:?}",
            of_code.iter().map(|p| p.ts).collect::<Vec<_>>()
        );
        assert_eq!(
            of_code.iter().filter(|p| p.marker).count(),
            1,
            "one marker for {code}"
        );
    }
}

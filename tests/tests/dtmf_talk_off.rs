//! DTMF talk-off: real synthetic speech (espeak-ng, several voices, pitches
//! and speeds, resampled to 8 kHz by sox and passed through G.711 µ-law as
//! a transcoded stream would be) must not make the in-band detector see a
//! digit; the same speech with a digit mixed in at -20 dBm0 per tone must
//! (so the test can fail).
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::Path;
use std::process::Command;

use sluice_codec::g711::ulaw;
use sluice_dtmf::detector::{DetectedDigit, Detector, DigitEdge};
use sluice_dtmf::tone::ToneGenerator;
use sluice_dtmf::Digit;
use sluice_tests::{peers, TempDir};

const TEST: &str = "dtmf_talk_off";

/// Sentences with numbers, sibilants, vowels and whistle-like sounds.
const TEXT: &str = "Thank you for calling. Please say or enter your account number, \
    one two three four five six seven eight nine zero. \
    Is that correct? Yes, my number is nine eight seven, six five four. \
    She sells sea shells by the sea shore. Oh, wow, really? Beautiful music, \
    whistling in the evening breeze. Press star or pound to return to the menu.";

/// (voice, pitch 0-99, words per minute)
const VOICES: [(&str, &str, &str); 4] = [
    ("en-us", "50", "160"),
    ("en-gb", "80", "190"),
    ("en-us+f3", "70", "150"),
    ("en-gb-scotland", "30", "175"),
];

/// Speech as 8 kHz linear PCM after a µ-law round trip.
fn speak(dir: &TempDir, voice: &str, pitch: &str, speed: &str) -> Vec<i16> {
    let wav = dir.path().join(format!("{}.wav", voice.replace('+', "_")));
    let raw = wav.with_extension("raw");
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-p", pitch, "-s", speed, "-w"])
        .arg(&wav)
        .arg(TEXT)
        .status()
        .unwrap();
    assert!(status.success(), "espeak-ng failed for {voice}");
    to_8k_raw(&wav, &raw);
    let bytes = std::fs::read(&raw).unwrap();
    bytes
        .chunks_exact(2)
        .map(|b| ulaw::decode(ulaw::encode(i16::from_le_bytes([b[0], b[1]]))))
        .collect()
}

/// sox: any WAV to 8 kHz mono signed 16-bit little-endian, normalized to
/// -3 dBFS peak (a loud talker).
fn to_8k_raw(wav: &Path, raw: &Path) {
    let status = Command::new("sox")
        .arg(wav)
        .args([
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            "-L",
        ])
        .arg(raw)
        .args(["norm", "-3"])
        .status()
        .unwrap();
    assert!(status.success(), "sox failed on {}", wav.display());
}

fn digits(samples: &[i16]) -> Vec<DetectedDigit> {
    let mut det = Detector::default();
    let mut out = Vec::new();
    for chunk in samples.chunks(160) {
        det.push(chunk, |d| out.push(d));
    }
    det.finish(|d| out.push(d));
    out.into_iter()
        .filter(|d| d.edge == DigitEdge::Start)
        .collect()
}

#[test]
fn speech_triggers_no_digit_and_a_mixed_in_digit_is_found() {
    if !peers::require_all(TEST, &["espeak-ng", "sox"]) {
        return;
    }
    let dir = TempDir::new(TEST);
    let mut total_secs = 0.0;
    for (voice, pitch, speed) in VOICES {
        let speech = speak(&dir, voice, pitch, speed);
        assert!(speech.len() > 8000 * 5, "{voice}: too little speech");
        total_secs += speech.len() as f64 / 8000.0;
        let false_digits = digits(&speech);
        assert!(
            false_digits.is_empty(),
            "{voice}: speech detected as digits {:?}",
            false_digits
                .iter()
                .map(|d| d.digit.as_char())
                .collect::<String>()
        );
        // A 100 ms '7' at -15 dBm0 per tone over the same speech 20 dB
        // down is found: the detector is alive.
        let mut mixed = speech[..8000 * 3].to_vec();
        let start = 8000;
        let mut tone = ToneGenerator::digit(Digit::D7, -15.0);
        for s in &mut mixed[start..start + 800] {
            *s = (*s / 10).saturating_add(tone.next_sample());
        }
        let found: String = digits(&mixed).iter().map(|d| d.digit.as_char()).collect();
        assert_eq!(found, "7", "{voice}: the mixed-in digit");
    }
    println!(
        "{TEST}: {total_secs:.1} s of speech from {} voices: no false digit",
        VOICES.len()
    );
}

//! In-band DTMF: generator -> detector round trips, Q.24 acceptance limits,
//! and no false digits on noise, a sweep and a synthetic vowel.

use std::f64::consts::TAU;

use sluice_dtmf::detector::{DetectedDigit, Detector, DigitEdge};
use sluice_dtmf::tone::{dbm0_to_peak, samples_for_ms, ToneGenerator};
use sluice_dtmf::Digit;

const RATE: u32 = 8000;

fn ms(n: u32) -> usize {
    samples_for_ms(n, RATE)
}

fn tone(d: Digit, low_dbm0: f64, high_dbm0: f64, len_ms: u32) -> Vec<i16> {
    ToneGenerator::digit_with_twist(d, low_dbm0, high_dbm0)
        .take(ms(len_ms))
        .collect()
}

fn silence(len_ms: u32) -> Vec<i16> {
    vec![0; ms(len_ms)]
}

fn detect(samples: &[i16]) -> Vec<DetectedDigit> {
    let mut det = Detector::default();
    let mut out = Vec::new();
    det.push(samples, |d| out.push(d));
    det.finish(|d| out.push(d));
    out
}

fn starts(evs: &[DetectedDigit]) -> String {
    evs.iter()
        .filter(|e| e.edge == DigitEdge::Start)
        .map(|e| e.digit.as_char())
        .collect()
}

/// A tiny xorshift32 PRNG: deterministic test noise without a dependency.
struct XorShift(u32);

impl XorShift {
    fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// Uniform in [-1, 1).
    fn uniform(&mut self) -> f64 {
        f64::from(self.next_u32()) / f64::from(u32::MAX) * 2.0 - 1.0
    }
}

fn white_noise(seed: u32, rms_dbm0: f64, len: usize) -> Vec<i16> {
    // A sine at L dBm0 has rms peak/sqrt2; uniform noise in [-a, a] has
    // rms a/sqrt3.
    let a = dbm0_to_peak(rms_dbm0) / 2f64.sqrt() * 3f64.sqrt();
    let mut rng = XorShift(seed);
    (0..len)
        .map(|_| (rng.uniform() * a).round() as i16)
        .collect()
}

fn assert_one_digit(d: Digit, evs: &[DetectedDigit], tone_ms: u32, context: &str) {
    assert_eq!(evs.len(), 2, "{context}: {d}: {evs:?}");
    assert_eq!(evs[0].digit, d, "{context}: {evs:?}");
    assert_eq!(evs[0].edge, DigitEdge::Start, "{context}: {evs:?}");
    match evs[1].edge {
        DigitEdge::End { duration } => {
            // Block resolution: within two blocks of the tone's length.
            let err = (duration as i64 - ms(tone_ms) as i64).abs();
            assert!(err <= 2 * 102, "{context}: {d}: duration {duration}");
        }
        DigitEdge::Start => panic!("{context}: second edge is a start: {evs:?}"),
    }
}

#[test]
fn all_digits_at_minus_10_dbm0() {
    for d in Digit::ALL {
        let mut x = silence(30);
        x.extend(tone(d, -10.0, -10.0, 100));
        x.extend(silence(60));
        assert_one_digit(d, &detect(&x), 100, "-10 dBm0");
    }
}

/// Q.24 minimum operating level: -25 dBm0 per tone is the lowest level
/// the administrations' tables in Q.24 ask receivers to accept (the
/// detector threshold is -30 dBm0, leaving 5 dB margin).
#[test]
fn all_digits_at_q24_minimum_level() {
    for d in Digit::ALL {
        let mut x = silence(30);
        x.extend(tone(d, -25.0, -25.0, 60));
        x.extend(silence(60));
        assert_one_digit(d, &detect(&x), 60, "-25 dBm0");
    }
}

#[test]
fn below_threshold_is_ignored() {
    for d in Digit::ALL {
        let x = tone(d, -36.0, -36.0, 200);
        assert_eq!(detect(&x), vec![], "{d} at -36 dBm0");
    }
}

#[test]
fn loud_digits_up_to_full_scale() {
    for d in Digit::ALL {
        // Two tones at -3 dBm0 each peak near full scale.
        let x = tone(d, -3.0, -3.0, 80);
        assert_one_digit(d, &detect(&x), 80, "-3 dBm0");
    }
}

#[test]
fn q24_timing_40ms_tones_and_40ms_pauses_at_any_alignment() {
    let digits = "123A456B789C*0#D";
    for offset in 0..102 {
        let mut x = vec![0i16; offset];
        for c in digits.chars() {
            let d = Digit::from_char(c).expect("keypad char");
            x.extend(tone(d, -10.0, -10.0, 40));
            x.extend(silence(40));
        }
        assert_eq!(starts(&detect(&x)), digits, "offset {offset}");
    }
}

#[test]
fn tones_of_20ms_are_not_digits_at_any_alignment() {
    for d in Digit::ALL {
        for offset in (0usize..102).step_by(3) {
            let mut x = vec![0i16; offset];
            x.extend(tone(d, -10.0, -10.0, 20));
            x.extend(silence(50));
            assert_eq!(detect(&x), vec![], "{d} 20 ms offset {offset}");
        }
    }
}

#[test]
fn repeats_need_a_gap_and_short_dropouts_are_bridged() {
    // Same digit twice with a 40 ms pause: two digits.
    let mut x = tone(Digit::D7, -10.0, -10.0, 60);
    x.extend(silence(40));
    x.extend(tone(Digit::D7, -10.0, -10.0, 60));
    assert_eq!(starts(&detect(&x)), "77");
    // A 10 ms dropout inside one digit (Q.24 interruption): one digit.
    for offset in 0usize..102 {
        let mut x = vec![0i16; offset];
        x.extend(tone(Digit::D7, -10.0, -10.0, 60));
        x.extend(silence(10));
        x.extend(tone(Digit::D7, -10.0, -10.0, 60));
        assert_eq!(starts(&detect(&x)), "7", "offset {offset}");
    }
}

#[test]
fn twist_limits() {
    for d in Digit::ALL {
        // Normal twist (high group weaker): 7 dB accepted, 9 dB refused.
        assert_one_digit(d, &detect(&tone(d, -10.0, -17.0, 80)), 80, "normal 7 dB");
        assert_eq!(
            detect(&tone(d, -10.0, -19.0, 80)),
            vec![],
            "{d} normal 9 dB"
        );
        // Reverse twist (high group stronger): 3 dB accepted, 5 dB refused.
        assert_one_digit(d, &detect(&tone(d, -13.0, -10.0, 80)), 80, "reverse 3 dB");
        assert_eq!(
            detect(&tone(d, -15.0, -10.0, 80)),
            vec![],
            "{d} reverse 5 dB"
        );
    }
}

#[test]
fn frequency_deviation_of_1_5_percent_is_accepted() {
    for d in Digit::ALL {
        let (lo, hi) = d.frequencies_hz();
        for k in [0.985, 1.015] {
            let x: Vec<i16> =
                ToneGenerator::new([f64::from(lo) * k, f64::from(hi) * k], [-10.0, -10.0], RATE)
                    .take(ms(80))
                    .collect();
            assert_one_digit(d, &detect(&x), 80, &format!("deviation {k}"));
        }
    }
}

#[test]
fn single_tones_are_not_digits() {
    let all = Digit::ALL.map(|d| d.frequencies_hz());
    let mut freqs: Vec<f32> = all.iter().flat_map(|(l, h)| [*l, *h]).collect();
    freqs.sort_by(f32::total_cmp);
    freqs.dedup();
    assert_eq!(freqs.len(), 8);
    for f in freqs {
        for level in [-3.0, -10.0, -25.0] {
            let x: Vec<i16> =
                ToneGenerator::new([f64::from(f), 0.0], [level, f64::NEG_INFINITY], RATE)
                    .take(ms(500))
                    .collect();
            assert_eq!(detect(&x), vec![], "{f} Hz at {level} dBm0");
        }
    }
}

#[test]
fn two_tones_of_the_same_group_are_not_digits() {
    let x: Vec<i16> = ToneGenerator::new([697.0, 852.0], [-10.0, -10.0], RATE)
        .take(ms(200))
        .collect();
    assert_eq!(detect(&x), vec![]);
    let x: Vec<i16> = ToneGenerator::new([1209.0, 1477.0], [-10.0, -10.0], RATE)
        .take(ms(200))
        .collect();
    assert_eq!(detect(&x), vec![]);
}

#[test]
fn digits_in_moderate_noise() {
    // 20 dB signal-to-noise ratio (per-tone level over noise rms).
    for d in Digit::ALL {
        let t = tone(d, -10.0, -10.0, 100);
        let n = white_noise(7 + d.event_code() as u32, -30.0, t.len());
        let x: Vec<i16> = t
            .iter()
            .zip(&n)
            .map(|(a, b)| a.saturating_add(*b))
            .collect();
        assert_one_digit(d, &detect(&x), 100, "20 dB SNR");
    }
}

#[test]
fn chunking_does_not_change_results() {
    let mut x = Vec::new();
    for c in "159#".chars() {
        let d = Digit::from_char(c).expect("keypad char");
        x.extend(tone(d, -10.0, -10.0, 70));
        x.extend(silence(50));
    }
    let whole = detect(&x);
    let mut det = Detector::default();
    let mut chunked = Vec::new();
    let mut rng = XorShift(99);
    let mut rest = &x[..];
    while !rest.is_empty() {
        let n = (rng.next_u32() as usize % 333).min(rest.len());
        let (a, b) = rest.split_at(n);
        det.push(a, |d| chunked.push(d));
        rest = b;
    }
    det.finish(|d| chunked.push(d));
    assert_eq!(whole, chunked);
    assert_eq!(starts(&whole), "159#");
}

#[test]
fn no_digit_in_white_noise() {
    for (seed, level) in [(1u32, -3.0), (2, -10.0), (3, -20.0), (4, -30.0)] {
        let x = white_noise(seed, level, ms(5000));
        assert_eq!(detect(&x), vec![], "noise at {level} dBm0");
    }
}

#[test]
fn no_digit_in_a_sweep() {
    // Linear chirp 300 -> 3400 Hz over 5 s at -10 dBm0.
    let peak = dbm0_to_peak(-10.0);
    let n = ms(5000);
    let (f0, f1) = (300.0, 3400.0);
    let dur = n as f64 / f64::from(RATE);
    let x: Vec<i16> = (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            let phase = TAU * (f0 * t + (f1 - f0) * t * t / (2.0 * dur));
            (peak * phase.sin()).round() as i16
        })
        .collect();
    assert_eq!(detect(&x), vec![]);
}

/// A synthetic vowel: harmonics of `f0` weighted by three formant
/// resonances (second-order resonator magnitude responses).
fn vowel(f0: f64, formants: [(f64, f64); 3], level_dbm0: f64, len: usize) -> Vec<i16> {
    let resonance = |f: f64, fc: f64, bw: f64| {
        // |H| of a two-pole resonator, 1 at the centre frequency.
        let num = fc * fc;
        let den = ((fc * fc - f * f).powi(2) + (bw * f).powi(2)).sqrt();
        num / den.max(1e-9) * (bw / fc)
    };
    let mut amps = Vec::new();
    let mut h = 1.0;
    while h * f0 < 3600.0 {
        let f = h * f0;
        // -6 dB/octave glottal tilt times the formants.
        let a = formants
            .iter()
            .map(|(fc, bw)| resonance(f, *fc, *bw))
            .sum::<f64>()
            / h;
        amps.push((f, a));
        h += 1.0;
    }
    let rms: f64 = (amps.iter().map(|(_, a)| a * a / 2.0).sum::<f64>()).sqrt();
    let scale = dbm0_to_peak(level_dbm0) / 2f64.sqrt() / rms;
    (0..len)
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            let v: f64 = amps
                .iter()
                .enumerate()
                .map(|(k, (f, a))| a * (TAU * f * t + k as f64 * 0.7).sin())
                .sum();
            (v * scale).round() as i16
        })
        .collect()
}

#[test]
fn no_digit_in_a_synthetic_vowel() {
    // /a/, /i/, /u/ formants (Hz, bandwidth) on a 120 Hz voice, 5 s each.
    let vowels = [
        ("a", [(730.0, 90.0), (1090.0, 110.0), (2440.0, 170.0)]),
        ("i", [(270.0, 60.0), (2290.0, 100.0), (3010.0, 120.0)]),
        ("u", [(300.0, 60.0), (870.0, 80.0), (2240.0, 120.0)]),
        ("e", [(530.0, 60.0), (1840.0, 100.0), (2480.0, 120.0)]),
    ];
    for (name, formants) in vowels {
        for level in [-10.0, -20.0] {
            let x = vowel(120.0, formants, level, ms(5000));
            assert_eq!(detect(&x), vec![], "vowel /{name}/ at {level} dBm0");
        }
    }
}

#[test]
fn no_digit_in_a_vowel_with_gliding_pitch() {
    // /a/ with the voice gliding 90 -> 220 Hz in 5 s: harmonics sweep
    // through every DTMF frequency.
    let n = ms(5000);
    let formants = [(730.0, 90.0), (1090.0, 110.0), (2440.0, 170.0)];
    let chunk = ms(20);
    let mut x = Vec::with_capacity(n);
    let mut i = 0;
    while x.len() < n {
        let f0 = 90.0 + 130.0 * (i * chunk) as f64 / n as f64;
        x.extend(vowel(f0, formants, -10.0, chunk));
        i += 1;
    }
    assert_eq!(detect(&x), vec![]);
}

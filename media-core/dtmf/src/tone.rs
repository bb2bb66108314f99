//! The DTMF tone generator: two sines at 8 kHz (or any rate), i16 PCM.
//!
//! Levels are per tone, in dBm0, on the G.711 μ-law scale: a full-scale
//! 16-bit sine is +3.17 dBm0, so 0 dBm0 is a sine of peak
//! `32767 * 10^(-3.17/20)` (about 22 750). The generator keeps its phase
//! across calls, so a tone can be written 20 ms at a time into frames.

use core::f64::consts::TAU;

use crate::digit::Digit;

/// Sample rate of narrowband telephony PCM.
pub const SAMPLE_RATE_8K: u32 = 8000;
/// Level of a full-scale 16-bit sine on the μ-law scale (ITU-T G.711).
pub const FULL_SCALE_DBM0: f64 = 3.17;

/// Peak amplitude (16-bit linear) of a sine at `dbm0`.
pub fn dbm0_to_peak(dbm0: f64) -> f64 {
    f64::from(i16::MAX) * 10f64.powf((dbm0 - FULL_SCALE_DBM0) / 20.0)
}

/// Number of samples in `ms` milliseconds at `sample_rate`.
pub fn samples_for_ms(ms: u32, sample_rate: u32) -> usize {
    let n = u64::from(ms) * u64::from(sample_rate) / 1000;
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// A continuous two-tone generator; an endless iterator of samples (take
/// as many as the duration needs, e.g. `.take(samples_for_ms(100, 8000))`).
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    phase: [f64; 2],
    step: [f64; 2],
    peak: [f64; 2],
}

impl ToneGenerator {
    /// Two sines at `freqs_hz` with per-tone levels `levels_dbm0` (use
    /// `f64::NEG_INFINITY` to silence one of them).
    pub fn new(freqs_hz: [f64; 2], levels_dbm0: [f64; 2], sample_rate: u32) -> ToneGenerator {
        let rate = f64::from(sample_rate.max(1));
        ToneGenerator {
            phase: [0.0; 2],
            step: freqs_hz.map(|f| TAU * f / rate),
            peak: levels_dbm0.map(dbm0_to_peak),
        }
    }

    /// The tone pair of `digit` at 8 kHz, both tones at `level_dbm0`.
    pub fn digit(digit: Digit, level_dbm0: f64) -> ToneGenerator {
        Self::digit_with_twist(digit, level_dbm0, level_dbm0)
    }

    /// The tone pair of `digit` at 8 kHz with separate low-group and
    /// high-group levels (to test twist).
    pub fn digit_with_twist(digit: Digit, low_dbm0: f64, high_dbm0: f64) -> ToneGenerator {
        let (low, high) = digit.frequencies_hz();
        Self::new(
            [f64::from(low), f64::from(high)],
            [low_dbm0, high_dbm0],
            SAMPLE_RATE_8K,
        )
    }

    /// The next sample, saturated to i16.
    pub fn next_sample(&mut self) -> i16 {
        let mut v = 0.0;
        for i in 0..2 {
            v += self.peak[i] * self.phase[i].sin();
            self.phase[i] = (self.phase[i] + self.step[i]) % TAU;
        }
        // `as` saturates for out-of-range floats, which is what we want.
        v.round() as i16
    }

    /// Fill `out` with the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out {
            *s = self.next_sample();
        }
    }
}

impl Iterator for ToneGenerator {
    type Item = i16;

    fn next(&mut self) -> Option<i16> {
        Some(self.next_sample())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms(x: &[i16]) -> f64 {
        (x.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    #[test]
    fn levels_match_the_mu_law_scale() {
        // One tone at 0 dBm0: rms = peak / sqrt 2, about 16 090.
        let mut g = ToneGenerator::new([1000.0, 0.0], [0.0, f64::NEG_INFINITY], 8000);
        let x: Vec<i16> = g.by_ref().take(8000).collect();
        let expect = dbm0_to_peak(0.0) / 2f64.sqrt();
        assert!((rms(&x) - expect).abs() < 2.0, "rms {}", rms(&x));
        // -10 dBm0 per tone, two tones: total -6.99 dBm0.
        let x: Vec<i16> = ToneGenerator::digit(Digit::D1, -10.0).take(8000).collect();
        let total_dbm0 = 20.0 * (rms(&x) * 2f64.sqrt() / dbm0_to_peak(0.0)).log10();
        assert!((total_dbm0 - (-10.0 + 10.0 * 2f64.log10())).abs() < 0.05);
    }

    #[test]
    fn phase_continues_across_fill_calls() {
        let mut a = ToneGenerator::digit(Digit::D9, -10.0);
        let mut b = a.clone();
        let mut one = [0i16; 320];
        a.fill(&mut one);
        let mut two = [0i16; 320];
        b.fill(&mut two[..160]);
        b.fill(&mut two[160..]);
        assert_eq!(one, two);
        assert_eq!(samples_for_ms(20, 8000), 160);
    }
}

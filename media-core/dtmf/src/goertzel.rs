//! The Goertzel algorithm: the power of one frequency over a block of
//! samples, one multiply-add per sample, no buffer.

use core::f32::consts::TAU;

/// One Goertzel filter, tuned to an exact frequency (not rounded to a DFT
/// bin), run sample by sample over a block.
#[derive(Debug, Clone, Copy)]
pub struct Goertzel {
    coeff: f32,
    s1: f32,
    s2: f32,
}

impl Goertzel {
    /// A filter for `freq_hz` at `sample_rate` Hz.
    pub fn new(freq_hz: f32, sample_rate: u32) -> Goertzel {
        let w = TAU * freq_hz / sample_rate.max(1) as f32;
        Goertzel {
            coeff: 2.0 * w.cos(),
            s1: 0.0,
            s2: 0.0,
        }
    }

    /// Feed one sample.
    #[inline]
    pub fn push(&mut self, x: f32) {
        let s0 = x + self.coeff * self.s1 - self.s2;
        self.s2 = self.s1;
        self.s1 = s0;
    }

    /// |X(f)|² over the samples fed since the last reset. A sine of peak
    /// `a` at the filter's frequency over `n` samples gives about
    /// `(a * n / 2)²`.
    pub fn power(&self) -> f32 {
        self.s1 * self.s1 + self.s2 * self.s2 - self.coeff * self.s1 * self.s2
    }

    /// Start a new block.
    pub fn reset(&mut self) {
        self.s1 = 0.0;
        self.s2 = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone::ToneGenerator;

    fn power_of(freq: f32, tone_hz: f64, n: usize) -> f32 {
        let mut g = Goertzel::new(freq, 8000);
        let mut gen = ToneGenerator::new([tone_hz, 0.0], [0.0, f64::NEG_INFINITY], 8000);
        for s in gen.by_ref().take(n) {
            g.push(f32::from(s));
        }
        g.power()
    }

    #[test]
    fn on_frequency_power_matches_amplitude() {
        let peak = crate::tone::dbm0_to_peak(0.0) as f32;
        for f in [697.0, 941.0, 1209.0, 1633.0] {
            let p = power_of(f, f64::from(f), 102);
            let est = 2.0 * p.sqrt() / 102.0;
            assert!((est / peak - 1.0).abs() < 0.03, "{f} Hz: {est} vs {peak}");
        }
    }

    #[test]
    fn neighbouring_dtmf_frequency_is_well_below() {
        // 697 Hz into the 770 Hz filter over 102 samples: > 15 dB down.
        let on = power_of(770.0, 770.0, 102);
        let off = power_of(770.0, 697.0, 102);
        assert!(10.0 * (on / off).log10() > 15.0);
    }
}

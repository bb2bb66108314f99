//! In-band DTMF detection on 8 kHz 16-bit PCM (ITU-T Q.24 style).
//!
//! Samples are cut into blocks (102 samples, 12.75 ms, by default). Over
//! each block eight [`Goertzel`] filters measure the DTMF frequencies and
//! the block's total energy is summed. A block names a digit when all of:
//! - the strongest low-group (row) and high-group (column) tones are each
//!   at or above `min_level_dbm0`;
//! - twist is within limits: the row tone at most `normal_twist_db` above
//!   the column tone, the column tone at most `reverse_twist_db` above the
//!   row tone;
//! - each of the two is at least `relative_peak_db` above every other tone
//!   of its group;
//! - the two tones carry at least `min_tone_fraction` of the block's
//!   energy (speech and noise spread theirs over many frequencies);
//! - the signal fills the whole block: each quarter of the block holds at
//!   least `min_quarter_fraction` of the block's mean energy per sample.
//!   Without this, a short loud tone straddling two blocks would make two
//!   half-filled blocks that both pass.
//!
//! A digit starts after `hits_to_start` consecutive blocks name it (2
//! blocks: any tone of 40 ms or more at any alignment covers two whole
//! blocks; a 20 ms tone never fills two). It ends after `misses_to_end`
//! consecutive blocks do not (3 blocks: a dropout of 10 ms or less spoils
//! at most 2 blocks and is bridged; a 40 ms pause spoils at least 3, so
//! digits separated by the Q.24 minimum pause are two digits). The same
//! digit is reported again only after it ended, which is the gap required
//! between repeats.
//!
//! Nothing is allocated: filter state and counters live in the detector,
//! and results go to a callback.

use crate::digit::{Digit, COL_FREQS_HZ, ROW_FREQS_HZ};
use crate::goertzel::Goertzel;
use crate::tone::{dbm0_to_peak, SAMPLE_RATE_8K};

/// Detector thresholds; [`Default`] gives the values in the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorConfig {
    /// Samples per analysis block at 8 kHz.
    pub block_len: usize,
    /// Lowest accepted level of each tone, dBm0.
    pub min_level_dbm0: f32,
    /// Largest accepted excess of the row (low) tone over the column tone.
    pub normal_twist_db: f32,
    /// Largest accepted excess of the column (high) tone over the row tone.
    pub reverse_twist_db: f32,
    /// Smallest margin of each detected tone over the rest of its group.
    pub relative_peak_db: f32,
    /// Smallest share of the block's energy in the two detected tones.
    pub min_tone_fraction: f32,
    /// Smallest energy per sample of each block quarter, relative to the
    /// block's mean energy per sample.
    pub min_quarter_fraction: f32,
    /// Consecutive matching blocks before a digit is reported.
    pub hits_to_start: u8,
    /// Consecutive non-matching blocks before a digit ends.
    pub misses_to_end: u8,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            block_len: 102,
            min_level_dbm0: -30.0,
            normal_twist_db: 8.0,
            reverse_twist_db: 4.0,
            relative_peak_db: 6.0,
            min_tone_fraction: 0.5,
            min_quarter_fraction: 0.4,
            hits_to_start: 2,
            misses_to_end: 3,
        }
    }
}

/// Which edge of a digit was detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigitEdge {
    /// The digit began at `sample`.
    Start,
    /// The digit ended at `sample` after `duration` samples.
    End {
        /// Samples from start to end.
        duration: u64,
    },
}

/// A detected digit edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectedDigit {
    /// The digit.
    pub digit: Digit,
    /// Start or end.
    pub edge: DigitEdge,
    /// Sample index (from the first sample pushed) of the edge, at block
    /// resolution.
    pub sample: u64,
}

/// Linear-power thresholds precomputed from [`DetectorConfig`].
#[derive(Debug, Clone, Copy)]
struct Limits {
    min_power: f32,
    normal_twist: f32,
    reverse_twist: f32,
    relative_peak: f32,
    /// Goertzel power to block energy: a sine's power P over n samples
    /// carries 2P/n of the block's sum of squares.
    power_to_energy: f32,
    min_fraction: f32,
    min_quarter_fraction: f32,
}

fn db_to_power_ratio(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}

/// The in-band DTMF detector; see the module docs.
#[derive(Debug, Clone)]
pub struct Detector {
    cfg: DetectorConfig,
    limits: Limits,
    filters: [Goertzel; 8],
    energy: f32,
    /// Energy and sample count of each quarter of the block.
    quarters: [(f32, u32); 4],
    in_block: usize,
    /// Samples consumed so far.
    position: u64,
    candidate: Option<Digit>,
    candidate_start: u64,
    hits: u8,
    current: Option<(Digit, u64)>,
    current_last_hit_end: u64,
    misses: u8,
}

impl Default for Detector {
    fn default() -> Self {
        Detector::new(DetectorConfig::default())
    }
}

impl Detector {
    /// A detector for 8 kHz PCM. A zero `block_len` is treated as 1, zero
    /// hit or miss counts as 1.
    pub fn new(cfg: DetectorConfig) -> Detector {
        let cfg = DetectorConfig {
            block_len: cfg.block_len.max(1),
            hits_to_start: cfg.hits_to_start.max(1),
            misses_to_end: cfg.misses_to_end.max(1),
            ..cfg
        };
        let n = cfg.block_len as f32;
        let min_amp = dbm0_to_peak(f64::from(cfg.min_level_dbm0)) as f32;
        let limits = Limits {
            min_power: (min_amp * n / 2.0).powi(2),
            normal_twist: db_to_power_ratio(cfg.normal_twist_db),
            reverse_twist: db_to_power_ratio(cfg.reverse_twist_db),
            relative_peak: db_to_power_ratio(cfg.relative_peak_db),
            power_to_energy: 2.0 / n,
            min_fraction: cfg.min_tone_fraction,
            min_quarter_fraction: cfg.min_quarter_fraction,
        };
        let mut filters = [Goertzel::new(0.0, SAMPLE_RATE_8K); 8];
        for (f, hz) in filters
            .iter_mut()
            .zip(ROW_FREQS_HZ.iter().chain(&COL_FREQS_HZ))
        {
            *f = Goertzel::new(*hz, SAMPLE_RATE_8K);
        }
        Detector {
            cfg,
            limits,
            filters,
            energy: 0.0,
            quarters: [(0.0, 0); 4],
            in_block: 0,
            position: 0,
            candidate: None,
            candidate_start: 0,
            hits: 0,
            current: None,
            current_last_hit_end: 0,
            misses: 0,
        }
    }

    /// The config in use.
    pub fn config(&self) -> &DetectorConfig {
        &self.cfg
    }

    /// The digit currently sounding, if one has been reported.
    pub fn current(&self) -> Option<Digit> {
        self.current.map(|(d, _)| d)
    }

    /// Feed 8 kHz samples of any length; `on_digit` is called for each
    /// digit start and end, in order.
    pub fn push(&mut self, samples: &[i16], mut on_digit: impl FnMut(DetectedDigit)) {
        for &s in samples {
            let x = f32::from(s);
            for f in &mut self.filters {
                f.push(x);
            }
            self.energy += x * x;
            let q = &mut self.quarters[(self.in_block * 4 / self.cfg.block_len).min(3)];
            q.0 += x * x;
            q.1 += 1;
            self.in_block += 1;
            self.position += 1;
            if self.in_block == self.cfg.block_len {
                let d = self.classify();
                for f in &mut self.filters {
                    f.reset();
                }
                self.energy = 0.0;
                self.quarters = [(0.0, 0); 4];
                self.in_block = 0;
                self.track(d, &mut on_digit);
            }
        }
    }

    /// End of stream: close a digit still sounding.
    pub fn finish(&mut self, mut on_digit: impl FnMut(DetectedDigit)) {
        if let Some((digit, start)) = self.current.take() {
            on_digit(DetectedDigit {
                digit,
                edge: DigitEdge::End {
                    duration: self.current_last_hit_end - start,
                },
                sample: self.current_last_hit_end,
            });
        }
        self.candidate = None;
        self.hits = 0;
        self.misses = 0;
    }

    /// The digit one block names, if any.
    fn classify(&self) -> Option<Digit> {
        let l = &self.limits;
        let mut p = [0f32; 8];
        for (p, f) in p.iter_mut().zip(&self.filters) {
            *p = f.power();
        }
        let (rows, cols) = p.split_at(4);
        let (r, rp) = strongest(rows)?;
        let (c, cp) = strongest(cols)?;
        if rp < l.min_power || cp < l.min_power {
            return None;
        }
        if rp > cp * l.normal_twist || cp > rp * l.reverse_twist {
            return None;
        }
        let dominant = |group: &[f32], best: usize, bp: f32| {
            group
                .iter()
                .enumerate()
                .all(|(i, q)| i == best || q * l.relative_peak <= bp)
        };
        if !dominant(rows, r, rp) || !dominant(cols, c, cp) {
            return None;
        }
        if (rp + cp) * l.power_to_energy < l.min_fraction * self.energy {
            return None;
        }
        let mean = self.energy / self.cfg.block_len as f32;
        if self
            .quarters
            .iter()
            .any(|(e, n)| *n > 0 && *e < l.min_quarter_fraction * mean * *n as f32)
        {
            return None;
        }
        Digit::from_keypad_position(r, c)
    }

    fn track(&mut self, d: Option<Digit>, on_digit: &mut impl FnMut(DetectedDigit)) {
        let block_end = self.position;
        let block_start = block_end - self.cfg.block_len as u64;
        if let Some((digit, start)) = self.current {
            if d == Some(digit) {
                self.misses = 0;
                self.current_last_hit_end = block_end;
                return;
            }
            self.misses += 1;
            if self.misses < self.cfg.misses_to_end {
                return;
            }
            self.current = None;
            self.misses = 0;
            self.candidate = None;
            self.hits = 0;
            on_digit(DetectedDigit {
                digit,
                edge: DigitEdge::End {
                    duration: self.current_last_hit_end - start,
                },
                sample: self.current_last_hit_end,
            });
            return;
        }
        match d {
            None => {
                self.candidate = None;
                self.hits = 0;
            }
            Some(digit) if self.candidate == Some(digit) => self.hits += 1,
            Some(digit) => {
                self.candidate = Some(digit);
                self.candidate_start = block_start;
                self.hits = 1;
            }
        }
        if let Some(digit) = self.candidate {
            if self.hits >= self.cfg.hits_to_start {
                self.current = Some((digit, self.candidate_start));
                self.current_last_hit_end = block_end;
                self.candidate = None;
                self.hits = 0;
                on_digit(DetectedDigit {
                    digit,
                    edge: DigitEdge::Start,
                    sample: self.candidate_start,
                });
            }
        }
    }
}

/// Index and power of the largest of `group`.
fn strongest(group: &[f32]) -> Option<(usize, f32)> {
    group
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

//! The PCM FIFO between decoder and encoder: decoded audio goes in with
//! its output timestamp, frames of the output packet time come out.
//! Input and output packet times are independent (20 ms in, 60 ms out,
//! or the reverse). Preallocated; frames are taken from the front and
//! the rest moved down (a few hundred samples at most).

/// Where a push landed on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continuity {
    /// Right after what is queued (or the FIFO was empty).
    Continuous,
    /// A jump ahead: the caller should flush the partial frame first.
    Gap,
}

/// The FIFO; timestamps are 64-bit on the output clock.
#[derive(Debug)]
pub struct PcmFifo {
    buf: Box<[i16]>,
    len: usize,
    head_ts: u64,
    /// Output clock units per sample (1 at 8 kHz on an 8 kHz clock, 6 for
    /// 8 kHz audio on the 48 kHz Opus clock, 1 for 48 kHz audio).
    units_per_sample: u64,
    /// Audio was queued at least once (so `head_ts` means something even
    /// when empty).
    started: bool,
}

impl PcmFifo {
    /// A FIFO of `capacity` samples with `units_per_sample` output clock
    /// units per sample.
    pub fn new(capacity: usize, units_per_sample: u64) -> Self {
        Self {
            buf: vec![0; capacity].into_boxed_slice(),
            len: 0,
            head_ts: 0,
            units_per_sample: units_per_sample.max(1),
            started: false,
        }
    }

    /// Samples queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Output timestamp of the first queued sample.
    pub fn head_ts(&self) -> u64 {
        self.head_ts
    }

    /// Whether audio was queued since the FIFO was made or cleared (so
    /// [`end_ts`](Self::end_ts) means something).
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Output timestamp just after the last queued sample.
    pub fn end_ts(&self) -> u64 {
        self.head_ts + self.len as u64 * self.units_per_sample
    }

    /// Whether audio starting at `ts` continues what was queued last (even
    /// if it has all been taken since). A jump backward (overlap) counts
    /// as continuous: the overlap is trimmed on push.
    pub fn check(&self, ts: u64) -> Continuity {
        if !self.started || ts <= self.end_ts() + self.units_per_sample / 2 {
            Continuity::Continuous
        } else {
            Continuity::Gap
        }
    }

    /// Appends `pcm` starting at output timestamp `ts`; returns samples
    /// kept (overlap with queued audio and anything beyond capacity is
    /// dropped).
    pub fn push(&mut self, ts: u64, pcm: &[i16]) -> usize {
        let mut pcm = pcm;
        let first = !self.started;
        self.started = true;
        if first || self.len == 0 && ts >= self.end_ts() {
            self.head_ts = ts;
        } else if ts < self.end_ts() {
            let overlap = ((self.end_ts() - ts) / self.units_per_sample) as usize;
            pcm = &pcm[overlap.min(pcm.len())..];
        }
        let n = pcm.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&pcm[..n]);
        self.len += n;
        n
    }

    /// Pads with silence up to a multiple of `frame` samples.
    pub fn pad_to(&mut self, frame: usize) {
        let rem = self.len % frame.max(1);
        if rem != 0 {
            let n = (frame - rem).min(self.buf.len() - self.len);
            self.buf[self.len..self.len + n].fill(0);
            self.len += n;
        }
    }

    /// The first `n` samples and their timestamp, if queued; call
    /// [`consume`](Self::consume) after using them.
    pub fn front(&self, n: usize) -> Option<(&[i16], u64)> {
        (n > 0 && self.len >= n).then(|| (&self.buf[..n], self.head_ts))
    }

    /// Mutable access to the first `n` queued samples.
    pub fn front_mut(&mut self, n: usize) -> &mut [i16] {
        let n = n.min(self.len);
        &mut self.buf[..n]
    }

    /// Drops the first `n` samples.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
        self.head_ts += n as u64 * self.units_per_sample;
    }

    /// Empties the FIFO and forgets the timeline.
    pub fn clear(&mut self) {
        self.len = 0;
        self.started = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_in_sixty_out_and_back() {
        // 8 kHz audio on a 48 kHz clock.
        let mut f = PcmFifo::new(2000, 6);
        let mut frames = Vec::new();
        for k in 0..6u64 {
            let pcm: Vec<i16> = (0..160).map(|i| (k * 160 + i) as i16).collect();
            assert_eq!(f.check(1000 + k * 960), Continuity::Continuous);
            f.push(1000 + k * 960, &pcm);
            while let Some((s, ts)) = f.front(480) {
                frames.push((s.to_vec(), ts));
                f.consume(480);
            }
        }
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].1, 1000);
        assert_eq!(frames[1].1, 1000 + 2880);
        assert_eq!(frames[1].0[0], 480);
        assert_eq!(f.check(1000 + 7 * 960), Continuity::Gap);
    }

    #[test]
    fn overlap_is_trimmed() {
        let mut f = PcmFifo::new(1000, 1);
        f.push(0, &[1; 160]);
        assert_eq!(f.push(80, &[2; 160]), 80);
        assert_eq!(f.end_ts(), 240);
    }
}

//! Open-loop pacing: every stream sends once per period, and the streams'
//! phases spread their packets evenly over the period.

/// The send schedule of one sender thread.
///
/// Packet `n` belongs to slot `n % slots` in round `n / slots`, due at
/// `start + round * period + phase[slot]`. Phases are ascending and below
/// the period, so due times never decrease with `n`.
#[derive(Debug, Clone)]
pub struct Schedule {
    start_ns: u64,
    period_ns: u64,
    phases: Vec<u64>,
    n: u64,
}

impl Schedule {
    /// `phases` must be ascending and each below `period_ns`.
    pub fn new(start_ns: u64, period_ns: u64, phases: Vec<u64>) -> Self {
        debug_assert!(phases.windows(2).all(|w| w[0] <= w[1]));
        debug_assert!(phases.iter().all(|&p| p < period_ns));
        Self {
            start_ns,
            period_ns,
            phases,
            n: 0,
        }
    }

    fn due_of(&self, n: u64) -> u64 {
        let slots = self.phases.len().max(1) as u64;
        let round = n / slots;
        let slot = (n % slots) as usize;
        self.start_ns + round * self.period_ns + self.phases.get(slot).copied().unwrap_or(0)
    }

    /// When the next packet is due.
    pub fn next_due(&self) -> u64 {
        self.due_of(self.n)
    }

    /// The next packet's slot and due time, if it is due at `now_ns`.
    pub fn due(&self, now_ns: u64) -> Option<(usize, u64)> {
        if self.phases.is_empty() {
            return None;
        }
        let due = self.due_of(self.n);
        (due <= now_ns).then(|| ((self.n % self.phases.len() as u64) as usize, due))
    }

    /// Marks the next packet sent.
    pub fn advance(&mut self) {
        self.n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_and_repeats() {
        let mut s = Schedule::new(1000, 20, vec![0, 5, 10, 15]);
        let mut dues = Vec::new();
        while let Some((slot, due)) = s.due(1059) {
            dues.push((slot, due));
            s.advance();
        }
        assert_eq!(dues.len(), 12);
        assert_eq!(dues[0], (0, 1000));
        assert_eq!(dues[5], (1, 1025));
        assert_eq!(s.next_due(), 1060);
    }
}

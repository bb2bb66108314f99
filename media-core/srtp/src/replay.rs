//! Sliding replay window (RFC 3711 section 3.3.2) as a ring bitmap.

/// Largest configurable replay window, in packets.
pub const MAX_REPLAY_WINDOW: u16 = 1024;

const WORDS: usize = MAX_REPLAY_WINDOW as usize / 64;

/// Replay state for one SSRC and one packet kind (SRTP or SRTCP).
///
/// Bit `i % 1024` of the ring records whether index `i` was received; the
/// configured window only decides how far behind the highest index a packet
/// may still be accepted.
#[derive(Debug, Clone)]
pub(crate) struct ReplayWindow {
    /// Highest index accepted so far (valid once `started`).
    pub(crate) highest: u64,
    pub(crate) started: bool,
    bits: [u64; WORDS],
}

impl ReplayWindow {
    pub(crate) const fn new() -> Self {
        Self {
            highest: 0,
            started: false,
            bits: [0; WORDS],
        }
    }

    fn bit(&self, index: u64) -> bool {
        let pos = (index % u64::from(MAX_REPLAY_WINDOW)) as usize;
        self.bits[pos / 64] & (1 << (pos % 64)) != 0
    }

    fn set(&mut self, index: u64) {
        let pos = (index % u64::from(MAX_REPLAY_WINDOW)) as usize;
        self.bits[pos / 64] |= 1 << (pos % 64);
    }

    fn clear(&mut self, index: u64) {
        let pos = (index % u64::from(MAX_REPLAY_WINDOW)) as usize;
        self.bits[pos / 64] &= !(1 << (pos % 64));
    }

    /// Whether `index` would be accepted (not seen, not too old). Read-only.
    pub(crate) fn check(&self, index: u64, window: u16) -> bool {
        if !self.started || index > self.highest {
            return true;
        }
        let behind = self.highest - index;
        behind < u64::from(window) && !self.bit(index)
    }

    /// Record `index` as received (call only after authentication).
    pub(crate) fn commit(&mut self, index: u64) {
        if !self.started {
            self.started = true;
            self.highest = index;
            self.bits = [0; WORDS];
        } else if index > self.highest {
            let delta = index - self.highest;
            if delta >= u64::from(MAX_REPLAY_WINDOW) {
                self.bits = [0; WORDS];
            } else {
                for i in self.highest + 1..=index {
                    self.clear(i);
                }
            }
            self.highest = index;
        }
        self.set(index);
    }

    /// Move `highest` forward without replay bookkeeping (sender side).
    pub(crate) fn advance(&mut self, index: u64) {
        if !self.started || index > self.highest {
            self.started = true;
            self.highest = index;
        }
    }
}

/// RFC 3711 section 3.3.1 / appendix A: guess the 48-bit packet index of
/// sequence number `seq` given the highest index seen so far. `None` when the
/// guess would precede index 0 (a packet from before the stream started) or
/// the rollover counter would pass 2^32.
pub(crate) fn estimate_index(highest: u64, seq: u16) -> Option<u64> {
    let roc = highest >> 16;
    let s_l = (highest & 0xffff) as u32;
    let seq32 = u32::from(seq);
    let v = if s_l < 0x8000 {
        if seq32 > s_l + 0x8000 {
            roc.checked_sub(1)?
        } else {
            roc
        }
    } else if s_l - 0x8000 > seq32 {
        roc + 1
    } else {
        roc
    };
    if v > u64::from(u32::MAX) {
        return None;
    }
    Some((v << 16) | u64::from(seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_follows_rfc3711() {
        assert_eq!(estimate_index(5, 6), Some(6));
        assert_eq!(estimate_index(5, 65530), None);
        assert_eq!(estimate_index(0xfffe, 0x0001), Some(0x1_0001));
        assert_eq!(estimate_index(0x1_0001, 0xfffe), Some(0xfffe));
        assert_eq!(estimate_index(0x3_8000, 0x0000), Some(0x3_0000));
        assert_eq!(estimate_index(0x3_8001, 0x0000), Some(0x4_0000));
        assert_eq!(estimate_index(0xffff_ffff_ffff, 0x0001), None);
    }

    #[test]
    fn window_accepts_reorder_rejects_dupes_and_old() {
        let mut w = ReplayWindow::new();
        for i in 0..100 {
            assert!(w.check(i, 64));
            w.commit(i);
        }
        assert!(!w.check(99, 64));
        assert!(!w.check(50, 64));
        assert!(!w.check(35, 64), "too old");
        w.commit(110);
        assert!(w.check(105, 64));
        w.commit(105);
        assert!(!w.check(105, 64));
        w.commit(110 + 5000);
        assert!(w.check(5100, 64));
        assert!(!w.check(110, 64));
    }
}

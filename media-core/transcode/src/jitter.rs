//! The jitter buffer of a transcoded stream: zero added delay in order,
//! a short adaptive hold on a sequence gap, then the gap is given up as
//! lost (the caller conceals it or recovers it from FEC).
//!
//! Packets live in a fixed ring of [`SLOTS`] preallocated slots indexed by
//! extended sequence number; nothing is allocated after construction.

use std::time::{Duration, Instant};

/// Packets the buffer can hold ahead of the first missing one.
pub const SLOTS: usize = 32;
/// Largest payload a slot holds (bigger packets are dropped).
pub const MAX_PAYLOAD: usize = 1500;
/// A sequence jump beyond this (either way) is a sender restart.
const RESTART_JUMP: i64 = 1000;

/// One buffered packet.
#[derive(Debug)]
pub struct Slot {
    used: bool,
    /// Extended sequence number.
    pub seq: u64,
    /// RTP timestamp as received.
    pub timestamp: u32,
    /// Payload type.
    pub payload_type: u8,
    /// Marker bit.
    pub marker: bool,
    arrival: Instant,
    len: usize,
    data: Box<[u8]>,
}

impl Slot {
    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.data[..self.len]
    }
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Stored; [`JitterBuffer::pop`] will yield it.
    Stored,
    /// Already received (or already held).
    Duplicate,
    /// Older than a gap already given up.
    Late,
    /// Larger than [`MAX_PAYLOAD`].
    TooBig,
    /// A jump far ahead or behind: drain with `pop(.., true)`, then
    /// [`JitterBuffer::restart`], then push again.
    Resync,
}

/// What [`JitterBuffer::pop`] yields, in sequence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Popped {
    /// The packet in slot `.0` (valid until the next push).
    Packet(usize),
    /// Sequence number `seq` was given up as lost; `next` is the slot of
    /// `seq + 1` when that packet is already here (for in-band FEC).
    Lost {
        /// The lost extended sequence number.
        seq: u64,
        /// Slot of the packet right after it, if held.
        next: Option<usize>,
    },
}

/// The buffer; see the module docs.
#[derive(Debug)]
pub struct JitterBuffer {
    slots: Vec<Slot>,
    /// Next extended sequence number to yield.
    next: Option<u64>,
    /// Highest extended sequence number seen.
    highest: u64,
    held: usize,
    /// Bit k: `next - 1 - k` was received (not given up).
    history: u64,
    delay: Duration,
}

impl JitterBuffer {
    /// An empty buffer holding gaps up to `delay`.
    pub fn new(delay: Duration, now: Instant) -> Self {
        let slots = (0..SLOTS)
            .map(|_| Slot {
                used: false,
                seq: 0,
                timestamp: 0,
                payload_type: 0,
                marker: false,
                arrival: now,
                len: 0,
                data: vec![0u8; MAX_PAYLOAD].into_boxed_slice(),
            })
            .collect();
        Self {
            slots,
            next: None,
            highest: 0,
            held: 0,
            history: 0,
            delay,
        }
    }

    /// How long a gap is waited for now.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// Sets how long a gap is waited for.
    pub fn set_delay(&mut self, delay: Duration) {
        self.delay = delay;
    }

    /// Packets held.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Forgets the stream (new SSRC, or after a resync drain).
    pub fn restart(&mut self) {
        for s in &mut self.slots {
            s.used = false;
        }
        self.next = None;
        self.held = 0;
        self.history = 0;
    }

    /// The extended sequence number of 16-bit `seq` near the highest seen.
    pub fn extend(&self, seq: u16) -> u64 {
        if self.next.is_none() {
            return (1u64 << 20) + u64::from(seq);
        }
        let diff = i64::from(seq.wrapping_sub(self.highest as u16) as i16);
        self.highest.saturating_add_signed(diff)
    }

    /// The slot at `idx` (from [`Popped`]).
    pub fn slot(&self, idx: usize) -> &Slot {
        &self.slots[idx]
    }

    /// Offers a packet.
    pub fn push(
        &mut self,
        seq: u16,
        timestamp: u32,
        payload_type: u8,
        marker: bool,
        payload: &[u8],
        now: Instant,
    ) -> Pushed {
        if payload.len() > MAX_PAYLOAD {
            return Pushed::TooBig;
        }
        let ext = self.extend(seq);
        if self.next.is_none() {
            self.highest = ext;
        }
        let next = *self.next.get_or_insert(ext);
        let ahead = ext as i64 - next as i64;
        if !(-RESTART_JUMP..RESTART_JUMP).contains(&ahead) {
            return Pushed::Resync;
        }
        if ahead < 0 {
            let k = (-ahead - 1) as u32;
            return if k < 64 && self.history & (1 << k) != 0 {
                Pushed::Duplicate
            } else {
                Pushed::Late
            };
        }
        if ahead as usize >= SLOTS {
            return Pushed::Resync;
        }
        let slot = &mut self.slots[(ext % SLOTS as u64) as usize];
        if slot.used {
            return Pushed::Duplicate;
        }
        slot.used = true;
        slot.seq = ext;
        slot.timestamp = timestamp;
        slot.payload_type = payload_type;
        slot.marker = marker;
        slot.arrival = now;
        slot.len = payload.len();
        slot.data[..payload.len()].copy_from_slice(payload);
        self.held += 1;
        self.highest = self.highest.max(ext);
        Pushed::Stored
    }

    fn index(seq: u64) -> usize {
        (seq % SLOTS as u64) as usize
    }

    fn oldest_arrival(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter(|s| s.used)
            .map(|s| s.arrival)
            .min()
    }

    /// When the missing packet at the head will be given up, if one is
    /// being waited for.
    pub fn deadline(&self) -> Option<Instant> {
        let next = self.next?;
        if self.held == 0 || self.slots[Self::index(next)].used {
            return None;
        }
        Some(self.oldest_arrival()? + self.delay)
    }

    /// The next packet or loss in order, if it is due; `force` gives up
    /// every gap at once (draining).
    pub fn pop(&mut self, now: Instant, force: bool) -> Option<Popped> {
        let next = self.next?;
        if self.held == 0 {
            return None;
        }
        let i = Self::index(next);
        if self.slots[i].used {
            self.slots[i].used = false;
            self.held -= 1;
            self.next = Some(next + 1);
            self.history = (self.history << 1) | 1;
            return Some(Popped::Packet(i));
        }
        if !force && now < self.deadline()? {
            return None;
        }
        self.next = Some(next + 1);
        self.history <<= 1;
        let n = Self::index(next + 1);
        Some(Popped::Lost {
            seq: next,
            next: self.slots[n].used.then_some(n),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn drain(jb: &mut JitterBuffer, now: Instant) -> Vec<Result<u64, u64>> {
        let mut v = Vec::new();
        while let Some(p) = jb.pop(now, false) {
            v.push(match p {
                Popped::Packet(i) => Ok(jb.slot(i).seq),
                Popped::Lost { seq, .. } => Err(seq),
            });
        }
        v
    }

    #[test]
    fn in_order_is_immediate_and_wraps() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(40 * MS, t);
        let mut last = None;
        for k in 0..100u16 {
            let seq = 65500u16.wrapping_add(k);
            assert_eq!(jb.push(seq, 0, 0, false, &[1], t), Pushed::Stored);
            let got = drain(&mut jb, t);
            assert_eq!(got.len(), 1);
            let s = got[0].expect("a packet");
            if let Some(l) = last {
                assert_eq!(s, l + 1);
            }
            last = Some(s);
        }
        assert_eq!(jb.deadline(), None);
    }

    #[test]
    fn reorder_within_delay_is_recovered() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(40 * MS, t);
        jb.push(1, 0, 0, false, &[1], t);
        assert_eq!(drain(&mut jb, t).len(), 1);
        jb.push(3, 0, 0, false, &[3], t + 20 * MS);
        assert!(drain(&mut jb, t + 20 * MS).is_empty());
        assert_eq!(jb.deadline(), Some(t + 60 * MS));
        jb.push(2, 0, 0, false, &[2], t + 30 * MS);
        assert_eq!(
            drain(&mut jb, t + 30 * MS),
            vec![Ok(2 + (1 << 20)), Ok(3 + (1 << 20))]
        );
        assert_eq!(
            jb.push(2, 0, 0, false, &[2], t + 40 * MS),
            Pushed::Duplicate
        );
    }

    #[test]
    fn gap_is_given_up_then_late_packet_refused() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(40 * MS, t);
        jb.push(10, 0, 0, false, &[1], t);
        drain(&mut jb, t);
        jb.push(12, 0, 0, false, &[1], t + 20 * MS);
        jb.push(13, 0, 0, false, &[1], t + 40 * MS);
        assert!(drain(&mut jb, t + 59 * MS).is_empty());
        let base = 1u64 << 20;
        assert_eq!(
            jb.pop(t + 60 * MS, false),
            Some(Popped::Lost {
                seq: base + 11,
                next: Some(12 % SLOTS)
            })
        );
        assert_eq!(
            drain(&mut jb, t + 60 * MS),
            vec![Ok(base + 12), Ok(base + 13)]
        );
        assert_eq!(jb.push(11, 0, 0, false, &[1], t + 70 * MS), Pushed::Late);
        assert_eq!(
            jb.push(12, 0, 0, false, &[1], t + 70 * MS),
            Pushed::Duplicate
        );
    }

    #[test]
    fn far_jump_asks_for_resync() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(40 * MS, t);
        jb.push(10, 0, 0, false, &[1], t);
        drain(&mut jb, t);
        assert_eq!(
            jb.push(10 + SLOTS as u16 + 1, 0, 0, false, &[1], t),
            Pushed::Resync
        );
        assert_eq!(jb.push(5000, 0, 0, false, &[1], t), Pushed::Resync);
        jb.restart();
        assert_eq!(jb.push(5000, 0, 0, false, &[1], t), Pushed::Stored);
        assert_eq!(
            jb.push(1, 0, 0, false, &[0; MAX_PAYLOAD + 1], t),
            Pushed::TooBig
        );
    }
}

//! The RTP translator side of one output stream (RFC 3550 §7): our own
//! SSRC, our own sequence numbers, and timestamps mapped from the input
//! timeline onto the output clock.
//!
//! Input timestamps are unwrapped to 64 bits ([`TsUnwrap`]) and mapped
//! linearly from an anchor (one input instant, the output timestamp it
//! becomes): `out = out_base + (in - in_base) * out_rate / in_rate`. The
//! anchor is set on the stream's first packet and again whenever the
//! input timeline breaks (new sender SSRC, clock change, re-INVITE, after
//! an injected DTMF event, a sequence resync, timestamps that jump back
//! or more than a few seconds ahead under one SSRC); a new anchor continues the output timeline
//! where real time says it should be, never backwards.

use std::time::Instant;

use sluice_rtp::RTP_HEADER_LEN;

/// Unwraps 32-bit RTP timestamps into a 64-bit timeline.
#[derive(Debug, Clone, Copy, Default)]
pub struct TsUnwrap {
    last: Option<(u32, u64)>,
}

impl TsUnwrap {
    /// The 64-bit value of `ts`, nearest to the previous one (wraps either
    /// way by up to 2^31).
    pub fn unwrap(&mut self, ts: u32) -> u64 {
        let ext = match self.last {
            None => (1u64 << 40) + u64::from(ts),
            Some((lt, le)) => le.saturating_add_signed(i64::from(ts.wrapping_sub(lt) as i32)),
        };
        self.last = Some((ts, ext));
        ext
    }

    /// Like [`unwrap`](Self::unwrap) but does not move the reference.
    pub fn peek(&self, ts: u32) -> u64 {
        let mut c = *self;
        c.unwrap(ts)
    }

    /// Forgets the timeline (a new sender stream).
    pub fn reset(&mut self) {
        self.last = None;
    }
}

/// Where the input timeline meets the output one.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    in_base: u64,
    in_rate: u32,
    out_base: u64,
}

/// One output stream toward one leg.
#[derive(Debug)]
pub struct OutStream {
    ssrc: u32,
    seq: u16,
    clock: u32,
    anchor: Option<Anchor>,
    /// Output timestamp just after the last audio sent (64-bit).
    next_ts: u64,
    /// Output timestamp of the last packet sent and when.
    last_sent: Option<(u64, Instant)>,
    marker_pending: bool,
    /// Packets sent.
    pub packets: u64,
    /// Payload octets sent.
    pub octets: u64,
}

impl OutStream {
    /// A stream with SSRC `ssrc`, first sequence number `seq`, first
    /// timestamp `ts`, on a `clock` Hz RTP clock.
    pub fn new(ssrc: u32, seq: u16, ts: u32, clock: u32) -> Self {
        Self {
            ssrc,
            seq,
            clock,
            anchor: None,
            next_ts: u64::from(ts) + (1 << 32),
            last_sent: None,
            marker_pending: true,
            packets: 0,
            octets: 0,
        }
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The next sequence number to be used.
    pub fn seq(&self) -> u16 {
        self.seq
    }

    /// The output RTP clock.
    pub fn clock(&self) -> u32 {
        self.clock
    }

    /// A new output clock (re-INVITE): the timestamp values continue.
    pub fn set_clock(&mut self, clock: u32) {
        if clock != self.clock {
            self.clock = clock;
            self.reanchor();
        }
    }

    /// The input timeline broke: the next packet sets a new anchor and
    /// carries the marker bit.
    pub fn reanchor(&mut self) {
        self.anchor = None;
        self.marker_pending = true;
    }

    /// The next packet starts a talkspurt.
    pub fn mark(&mut self) {
        self.marker_pending = true;
    }

    /// Whether a new anchor is needed.
    pub fn needs_anchor(&self) -> bool {
        self.anchor.is_none()
    }

    /// The output timestamp (64-bit) for `now`, estimated from the last
    /// packet sent and the time since; never before the end of the last
    /// audio sent.
    pub fn now_ts(&self, now: Instant) -> u64 {
        match self.last_sent {
            None => self.next_ts,
            Some((ts, at)) => {
                let elapsed = now.saturating_duration_since(at).as_micros() as u64;
                let est = ts + elapsed * u64::from(self.clock) / 1_000_000;
                est.max(self.next_ts)
            }
        }
    }

    /// Output timestamp just after the last audio sent (64-bit).
    pub fn audio_end(&self) -> u64 {
        self.next_ts
    }

    /// Skips the output timeline forward to at least `ts`.
    pub fn advance_to(&mut self, ts: u64) {
        self.next_ts = self.next_ts.max(ts);
    }

    /// Maps an unwrapped input timestamp at `in_rate` to the output
    /// timeline, anchoring at `now` first if needed.
    pub fn map(&mut self, in_ts: u64, in_rate: u32, now: Instant) -> u64 {
        let a = match self.anchor {
            Some(a) if a.in_rate == in_rate => a,
            _ => {
                let a = Anchor {
                    in_base: in_ts,
                    in_rate,
                    out_base: self.now_ts(now),
                };
                self.anchor = Some(a);
                self.marker_pending = true;
                a
            }
        };
        let delta = i128::from(in_ts) - i128::from(a.in_base);
        let scaled = delta * i128::from(self.clock) / i128::from(a.in_rate.max(1));
        (i128::from(a.out_base) + scaled).max(0) as u64
    }

    /// Writes a packet (header then `payload`) into `buf` and returns its
    /// length; takes the next sequence number. `audio_end` is the output
    /// timestamp just after the audio it carries (`None` for events).
    /// The marker is set when asked or when a talkspurt starts.
    #[allow(clippy::too_many_arguments, reason = "one header's fields")]
    pub fn write(
        &mut self,
        buf: &mut [u8],
        payload_type: u8,
        marker: bool,
        ts: u64,
        payload: &[u8],
        audio_end: Option<u64>,
        now: Instant,
    ) -> usize {
        let marker = match audio_end {
            Some(_) => marker || std::mem::take(&mut self.marker_pending),
            None => marker,
        };
        let len = RTP_HEADER_LEN + payload.len();
        buf[0] = 0x80;
        buf[1] = (payload_type & 0x7f) | if marker { 0x80 } else { 0 };
        buf[2..4].copy_from_slice(&self.seq.to_be_bytes());
        // RTP timestamps are the 64-bit timeline modulo 2^32.
        buf[4..8].copy_from_slice(&(ts as u32).to_be_bytes());
        buf[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        buf[RTP_HEADER_LEN..len].copy_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.packets += 1;
        self.octets += payload.len() as u64;
        match audio_end {
            Some(end) => {
                self.next_ts = self.next_ts.max(end);
                self.last_sent = Some((ts, now));
            }
            // An event packet carries its event's start, not the time it
            // is sent: keep the real-time estimate running.
            None => self.last_sent = Some((self.now_ts(now), now)),
        }
        len
    }

    /// Skips `n` sequence numbers (real loss passed through in copy mode).
    pub fn skip_seq(&mut self, n: u16) {
        self.seq = self.seq.wrapping_add(n);
    }

    /// The RTP timestamp (32-bit) that corresponds to `now`, for SR.
    pub fn rtp_ts_at(&self, now: Instant) -> u32 {
        self.now_ts(now) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwrap_crosses_wraps_both_ways() {
        let mut u = TsUnwrap::default();
        let a = u.unwrap(u32::MAX - 100);
        let b = u.unwrap(60);
        assert_eq!(b - a, 161);
        let c = u.unwrap(u32::MAX - 10);
        assert_eq!(b - c, 71);
    }

    #[test]
    fn maps_8k_to_48k_across_wrap() {
        let t = Instant::now();
        let mut s = OutStream::new(1, 65530, u32::MAX - 2000, 48000);
        let mut u = TsUnwrap::default();
        let mut buf = [0u8; 64];
        let mut prev: Option<u32> = None;
        for k in 0..20u32 {
            let in_ts = (u32::MAX - 500).wrapping_add(k * 160);
            let ext = u.unwrap(in_ts);
            let out = s.map(ext, 8000, t);
            s.write(&mut buf, 111, false, out, &[0], Some(out + 960), t);
            let ts = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
            if let Some(p) = prev {
                assert_eq!(ts.wrapping_sub(p), 960);
                assert_eq!(buf[1] & 0x80, 0);
            } else {
                assert_eq!(buf[1] & 0x80, 0x80, "first packet carries the marker");
            }
            prev = Some(ts);
        }
        assert_eq!(s.seq(), 65530u16.wrapping_add(20));
    }
}

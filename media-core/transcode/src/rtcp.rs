//! RTCP for the transcoded streams: receive statistics of each input
//! stream (RFC 3550 A.3 and A.8), lenient parsing of what a leg sends
//! (only its SR timestamps are kept, for LSR/DLSR), and the SR/RR + SDES
//! compound we send each leg.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Seconds from 1900 (NTP era 0) to 1970.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// Statistics of the stream one leg sends us.
#[derive(Debug, Clone, Default)]
pub struct ReceiveStats {
    ssrc: Option<u32>,
    base_seq: u64,
    max_seq: u64,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Interarrival jitter in timestamp units, times 16 (RFC 3550 A.8).
    jitter16: u64,
    /// Last transit time and the clock it was measured on.
    transit: Option<(i64, u32)>,
    /// Middle 32 bits of the last SR's NTP time, and when it came.
    last_sr: Option<(u32, Instant)>,
}

impl ReceiveStats {
    /// Accounts one RTP packet (`seq`, `ts` on a `clock` Hz clock) that
    /// arrived at `now`; `epoch` is a fixed instant of the transcoder.
    /// `clock` is `None` for a packet that counts for loss but not for
    /// jitter: a telephone-event's timestamp is its event's start, repeated
    /// by every update, so it says nothing about transit time.
    pub fn update(
        &mut self,
        ssrc: u32,
        seq: u16,
        ts: u32,
        clock: Option<u32>,
        now: Instant,
        epoch: Instant,
    ) {
        if self.ssrc != Some(ssrc) {
            *self = ReceiveStats {
                ssrc: Some(ssrc),
                base_seq: (1 << 20) + u64::from(seq),
                max_seq: (1 << 20) + u64::from(seq),
                last_sr: self.last_sr,
                ..Default::default()
            };
        }
        let diff = i64::from(seq.wrapping_sub(self.max_seq as u16) as i16);
        let ext = self.max_seq.saturating_add_signed(diff);
        self.max_seq = self.max_seq.max(ext);
        self.received += 1;
        let Some(clock) = clock else {
            return;
        };
        let arrival =
            now.saturating_duration_since(epoch).as_micros() as i64 * i64::from(clock) / 1_000_000;
        let transit = arrival - i64::from(ts);
        // Transit times on different clocks (payload types) do not compare.
        if let Some((prev, _)) = self.transit.filter(|t| t.1 == clock) {
            // Timestamps wrap: the difference is taken modulo 2^32.
            let d = i64::from((transit - prev) as i32).unsigned_abs();
            let j = self.jitter16;
            self.jitter16 = j + d - ((j + 8) >> 4);
        }
        self.transit = Some((transit, clock));
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        (self.jitter16 >> 4).min(u64::from(u32::MAX)) as u32
    }

    /// The sender's SSRC, once a packet came.
    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    /// Packets expected so far (highest - first + 1).
    pub fn expected(&self) -> u64 {
        if self.ssrc.is_none() {
            0
        } else {
            self.max_seq - self.base_seq + 1
        }
    }

    /// Packets received.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Records an SR from this leg: the middle 32 bits of its NTP time.
    pub fn sr_received(&mut self, ntp_middle: u32, now: Instant) {
        self.last_sr = Some((ntp_middle, now));
    }

    /// Writes one report block (24 bytes) and rolls the interval counters.
    fn write_block(&mut self, out: &mut [u8], now: Instant) {
        let expected = self.expected();
        let lost = expected.saturating_sub(self.received);
        let expected_interval = expected - self.expected_prior;
        let received_interval = self.received - self.received_prior;
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        let fraction = ((lost_interval << 8).checked_div(expected_interval))
            .unwrap_or(0)
            .min(255) as u8;
        let cumulative = lost.min(0x7f_ffff) as u32;
        out[0..4].copy_from_slice(&self.ssrc.unwrap_or(0).to_be_bytes());
        out[4] = fraction;
        out[5..8].copy_from_slice(&cumulative.to_be_bytes()[1..]);
        // Extended highest sequence number: cycles in the upper 16 bits.
        let ext = (self.max_seq - (1 << 20)) as u32;
        out[8..12].copy_from_slice(&ext.to_be_bytes());
        out[12..16].copy_from_slice(&self.jitter().to_be_bytes());
        let (lsr, dlsr) = match self.last_sr {
            None => (0, 0),
            Some((lsr, at)) => {
                let d = now.saturating_duration_since(at);
                (
                    lsr,
                    (d.as_micros() as u64 * 65536 / 1_000_000).min(u64::from(u32::MAX)) as u32,
                )
            }
        };
        out[16..20].copy_from_slice(&lsr.to_be_bytes());
        out[20..24].copy_from_slice(&dlsr.to_be_bytes());
    }
}

/// Parses a compound packet leniently: every SR's NTP time is recorded
/// in `stats`. Returns false if any header is malformed (what came before
/// it is still used).
pub fn parse_compound(packet: &[u8], stats: &mut ReceiveStats, now: Instant) -> bool {
    let mut rest = packet;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        if rest.len() < 4 || rest[0] >> 6 != 2 {
            return false;
        }
        let len = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        if len > rest.len() {
            return false;
        }
        let p = &rest[..len];
        if p[1] == 200 && len >= 28 {
            stats.sr_received(u32::from_be_bytes([p[10], p[11], p[12], p[13]]), now);
        }
        rest = &rest[len..];
    }
    true
}

/// NTP timestamp (64-bit fixed point) of a wall-clock time.
pub fn ntp(wall: SystemTime) -> u64 {
    let d = wall.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = d.as_secs() + NTP_UNIX_OFFSET;
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// What a sender report says about our stream.
#[derive(Debug, Clone, Copy)]
pub struct SenderInfo {
    /// NTP time of the report.
    pub ntp: u64,
    /// RTP timestamp of the same instant on our clock.
    pub rtp_ts: u32,
    /// Packets sent.
    pub packets: u64,
    /// Payload octets sent.
    pub octets: u64,
}

/// Writes an SR (with `sender`) or RR (without), with one report block
/// when `about` has seen a sender, then SDES CNAME, into `out`; returns
/// the compound length.
pub fn write_report(
    out: &mut [u8],
    ssrc: u32,
    sender: Option<SenderInfo>,
    about: &mut ReceiveStats,
    cname: &str,
    now: Instant,
) -> usize {
    let blocks = usize::from(about.ssrc.is_some());
    let mut n = 8;
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    let pt = if let Some(s) = sender {
        out[8..16].copy_from_slice(&s.ntp.to_be_bytes());
        out[16..20].copy_from_slice(&s.rtp_ts.to_be_bytes());
        out[20..24].copy_from_slice(&(s.packets as u32).to_be_bytes());
        out[24..28].copy_from_slice(&(s.octets as u32).to_be_bytes());
        n = 28;
        200
    } else {
        201
    };
    if blocks == 1 {
        about.write_block(&mut out[n..n + 24], now);
        n += 24;
    }
    out[0] = 0x80 | blocks as u8;
    out[1] = pt;
    out[2..4].copy_from_slice(&((n / 4 - 1) as u16).to_be_bytes());
    // SDES: one chunk, CNAME item, END, padded to 32 bits.
    let cname = &cname.as_bytes()[..cname.len().min(255)];
    let start = n;
    let body = 4 + 2 + cname.len() + 1;
    let padded = body.div_ceil(4) * 4;
    let total = 4 + padded;
    out[start..start + total].fill(0);
    out[start] = 0x81;
    out[start + 1] = 202;
    out[start + 2..start + 4].copy_from_slice(&((total / 4 - 1) as u16).to_be_bytes());
    out[start + 4..start + 8].copy_from_slice(&ssrc.to_be_bytes());
    out[start + 8] = 1;
    out[start + 9] = cname.len() as u8;
    out[start + 10..start + 10 + cname.len()].copy_from_slice(cname);
    start + total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receive_stats_count_loss_and_wrap() {
        let t = Instant::now();
        let mut s = ReceiveStats::default();
        for k in 0..100u16 {
            if k == 50 || k == 51 {
                continue;
            }
            let seq = 65500u16.wrapping_add(k);
            s.update(
                7,
                seq,
                u32::from(k) * 160,
                Some(8000),
                t + Duration::from_millis(u64::from(k) * 20),
                t,
            );
        }
        assert_eq!(s.expected(), 100);
        assert_eq!(s.received(), 98);
        assert_eq!(s.jitter(), 0);
        let mut buf = [0u8; 200];
        let n = write_report(&mut buf, 9, None, &mut s, "x", t);
        assert_eq!(n % 4, 0);
        assert_eq!(buf[1], 201);
        assert_eq!(&buf[8..12], &7u32.to_be_bytes());
        assert_eq!(buf[13..16], [0, 0, 2]);
        // Extended highest: one wrap of the 16-bit counter.
        let ext = u32::from_be_bytes([buf[16], buf[17], buf[18], buf[19]]);
        assert_eq!(ext, 65536 + 65500u32.wrapping_add(99) - 65536);
        let mut other = ReceiveStats::default();
        assert!(parse_compound(&buf[..n], &mut other, t));
        assert!(!parse_compound(&buf[..n - 1], &mut other, t));
    }

    /// Telephone-event packets (no clock) count as received but leave the
    /// jitter alone, however stale their timestamps.
    #[test]
    fn events_do_not_count_for_jitter() {
        let t = Instant::now();
        let mut s = ReceiveStats::default();
        for k in 0..100u16 {
            let at = t + Duration::from_millis(u64::from(k) * 20);
            s.update(7, 2 * k, u32::from(k) * 160, Some(8000), at, t);
            // An event update: the same (start) timestamp every time.
            s.update(7, 2 * k + 1, 4000, None, at, t);
        }
        assert_eq!(s.received(), 200);
        assert_eq!(s.expected(), 200);
        assert_eq!(s.jitter(), 0);
    }
}

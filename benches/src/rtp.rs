//! The probe packets: 172-byte PCMU RTP whose payload carries the send
//! time and the stream id.

use sluice_rtp::RtpView;

/// RTP header (12) + 160 bytes of G.711 payload (20 ms at 8 kHz).
pub const PACKET_LEN: usize = 172;
const HEADER_LEN: usize = 12;
const MAGIC: [u8; 4] = *b"SLCB";
/// Samples per packet, the RTP timestamp step.
const SAMPLES: u32 = 160;

/// One outgoing RTP stream's header state.
#[derive(Debug, Clone)]
pub struct Stream {
    /// Stream id carried in every payload.
    pub id: u32,
    seq: u16,
    timestamp: u32,
    ssrc: u32,
    buf: [u8; PACKET_LEN],
}

impl Stream {
    /// A stream with deterministic SSRC and initial seq/timestamp per id.
    pub fn new(id: u32) -> Self {
        let mix = id.wrapping_mul(0x9E37_79B9);
        let mut buf = [0xFFu8; PACKET_LEN]; // PCMU silence
        buf[0] = 0x80; // V=2, no padding/extension/CSRC
        buf[1] = 0; // M=0, PT=0 (PCMU)
        Self {
            id,
            seq: (mix >> 16) as u16,
            timestamp: mix ^ 0x5A5A_0000,
            ssrc: 0x51C0_0000 ^ id,
            buf,
        }
    }

    /// Builds the next packet stamped with `send_ns` and advances seq/ts.
    pub fn next_packet(&mut self, send_ns: u64) -> &[u8; PACKET_LEN] {
        let b = &mut self.buf;
        b[2..4].copy_from_slice(&self.seq.to_be_bytes());
        b[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        b[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        let p = HEADER_LEN;
        b[p..p + 8].copy_from_slice(&send_ns.to_be_bytes());
        b[p + 8..p + 12].copy_from_slice(&self.id.to_be_bytes());
        b[p + 12..p + 16].copy_from_slice(&MAGIC);
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(SAMPLES);
        &self.buf
    }
}

/// What a received probe says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The stream id.
    pub stream: u32,
    /// The sender's CLOCK_MONOTONIC time in ns.
    pub send_ns: u64,
}

/// Parses a received datagram; `None` if it is not one of our probes.
pub fn parse(datagram: &[u8]) -> Option<Probe> {
    let view = RtpView::parse(datagram).ok()?;
    let payload = view.payload();
    if payload.len() < 16 || payload[12..16] != MAGIC {
        return None;
    }
    let send_ns = u64::from_be_bytes(payload[0..8].try_into().ok()?);
    let stream = u32::from_be_bytes(payload[8..12].try_into().ok()?);
    Some(Probe { stream, send_ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let mut s = Stream::new(7);
        let first = *s.next_packet(123);
        let second = *s.next_packet(456);
        assert_eq!(first.len(), 172);
        assert_eq!(
            parse(&second),
            Some(Probe {
                stream: 7,
                send_ns: 456
            })
        );
        let seq = |p: &[u8]| u16::from_be_bytes([p[2], p[3]]);
        let ts = |p: &[u8]| u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
        assert_eq!(seq(&second), seq(&first).wrapping_add(1));
        assert_eq!(ts(&second), ts(&first).wrapping_add(160));
        assert_eq!(first[1], 0);
    }
}

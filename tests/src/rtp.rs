//! Plain-socket RTP streams: a steady, fully accounted stream through the
//! relay, to prove that nothing a test throws at the relay costs a
//! healthy call any packet.

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// A minimal RTP packet: version 2, no CSRCs or extension, PCMU by default.
pub fn rtp_packet(ssrc: u32, seq: u16, timestamp: u32, pt: u8, payload_len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + payload_len);
    p.push(0x80);
    p.push(pt & 0x7f);
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&timestamp.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    // µ-law silence.
    p.resize(12 + payload_len, 0xff);
    p
}

/// An RFC 4733 telephone-event packet: `event` (0-15 for DTMF; anything
/// for hostile tests), end bit, volume (dB below 0 dBm0) and duration in
/// timestamp units; the marker bit is set when `marker`.
#[expect(clippy::too_many_arguments, reason = "one per RTP and RFC 4733 field")]
pub fn rtp_event_packet(
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    pt: u8,
    marker: bool,
    event: u8,
    end: bool,
    duration: u16,
) -> Vec<u8> {
    let mut p = rtp_packet(ssrc, seq, timestamp, pt, 0);
    if marker {
        p[1] |= 0x80;
    }
    p.push(event);
    p.push(if end { 0x80 | 10 } else { 10 });
    p.extend_from_slice(&duration.to_be_bytes());
    p
}

/// What one direction of a [`duplex_stream`] delivered.
#[derive(Debug, Clone, Default)]
pub struct StreamReport {
    /// Packets sent.
    pub sent: u16,
    /// Distinct sequence numbers received with the stream's SSRC.
    pub received: BTreeSet<u16>,
    /// Packets received with the stream's SSRC more than once.
    pub duplicates: u32,
    /// Packets that arrived without the stream's SSRC (not ours).
    pub foreign: u32,
}

impl StreamReport {
    /// Sequence numbers sent but never received.
    pub fn missing(&self) -> Vec<u16> {
        (0..self.sent)
            .filter(|s| !self.received.contains(s))
            .collect()
    }
}

fn bind(port: u16) -> UdpSocket {
    UdpSocket::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("binding 127.0.0.1:{port} for an RTP stream: {e}"))
}

fn receive(sock: UdpSocket, ssrc: u32, stop: Arc<AtomicBool>) -> StreamReport {
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("setting a read timeout on a bound socket");
    let mut report = StreamReport::default();
    let mut buf = [0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let Ok(n) = sock.recv(&mut buf) else { continue };
        if n >= 12 && buf[8..12] == ssrc.to_be_bytes() {
            let seq = u16::from_be_bytes([buf[2], buf[3]]);
            if !report.received.insert(seq) {
                report.duplicates += 1;
            }
        } else {
            report.foreign += 1;
        }
    }
    report
}

/// Sends `packets` RTP packets at 50 pps in both directions at once:
/// from `127.0.0.1:a_port` to `a_to` (the relay's A-facing port) and from
/// `127.0.0.1:b_port` to `b_to`, receiving each direction on the other
/// port. Returns (A→B, B→A) after a 1 s drain.
pub fn duplex_stream(
    a_port: u16,
    a_to: SocketAddr,
    b_port: u16,
    b_to: SocketAddr,
    packets: u16,
) -> (StreamReport, StreamReport) {
    const SSRC_A: u32 = 0x5a5a_0001;
    const SSRC_B: u32 = 0x5a5a_0002;
    let a = bind(a_port);
    let b = bind(b_port);
    let stop = Arc::new(AtomicBool::new(false));
    let rx_b = {
        let (s, stop) = (b.try_clone().expect("cloning a UDP socket"), stop.clone());
        thread::spawn(move || receive(s, SSRC_A, stop))
    };
    let rx_a = {
        let (s, stop) = (a.try_clone().expect("cloning a UDP socket"), stop.clone());
        thread::spawn(move || receive(s, SSRC_B, stop))
    };
    let start = Instant::now();
    for seq in 0..packets {
        let due = start + Duration::from_millis(20) * u32::from(seq);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        let ts = u32::from(seq) * 160;
        a.send_to(&rtp_packet(SSRC_A, seq, ts, 0, 160), a_to)
            .unwrap_or_else(|e| panic!("sending RTP to {a_to}: {e}"));
        b.send_to(&rtp_packet(SSRC_B, seq, ts, 0, 160), b_to)
            .unwrap_or_else(|e| panic!("sending RTP to {b_to}: {e}"));
    }
    thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let mut ab = rx_b.join().expect("receiver thread does not panic");
    let mut ba = rx_a.join().expect("receiver thread does not panic");
    ab.sent = packets;
    ba.sent = packets;
    (ab, ba)
}

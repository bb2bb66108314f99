//! pcap files for SIPp's `play_pcap_audio`: reading the UDP payloads of
//! a capture (the packaged `g711a.pcap`), and writing new ones that SIPp
//! plays as they are: SRTP protected by a third-party library, Opus
//! encoded by libopus.
//!
//! SIPp 3.6.1 reads classic pcap (not pcapng) with Ethernet or Linux
//! cooked link type, IPv4 or IPv6, UDP only; it sends each UDP payload
//! unchanged (RTP header included) from its `-mp` port to the peer's
//! SDP address, keeping the capture's gaps between packets. The files
//! written here are Ethernet, IPv4, UDP, microsecond timestamps.

use std::fs;
use std::path::Path;
use std::time::Duration;

use sluice_codec::opus::{OpusEncoder, OpusEncoderConfig, OpusRate, MAX_PACKET_BYTES};
use sluice_srtp::Suite;
use sluice_srtp_compare::libsrtp::{self, Direction, Libsrtp};

/// The packaged capture of SIPp: 236 RTP packets, PCMA (PT 8), 30 ms
/// (240 bytes of audio each), about 7 s.
pub const SIPP_G711A: &str = "/usr/share/sip-tester/g711a.pcap";

/// One UDP datagram of a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Time since the first datagram of the capture.
    pub at: Duration,
    /// The UDP payload (an RTP packet here).
    pub payload: Vec<u8>,
}

const PCAP_MAGIC_US: u32 = 0xa1b2_c3d4;
const LINKTYPE_ETHERNET: u32 = 1;
const LINKTYPE_LINUX_SLL: u32 = 113;

/// The UDP payloads of every IPv4 UDP packet of a classic pcap file
/// (Ethernet or Linux cooked link type); panics on anything else.
pub fn read_udp(path: &Path) -> Vec<Datagram> {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    parse_udp(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse_udp(bytes: &[u8]) -> Result<Vec<Datagram>, String> {
    let u32_at = |at: usize, little: bool| -> Result<u32, String> {
        let b: [u8; 4] = bytes
            .get(at..at + 4)
            .ok_or("cut short")?
            .try_into()
            .map_err(|_| "cut short")?;
        Ok(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let little = match u32_at(0, true)? {
        PCAP_MAGIC_US => true,
        m if m.swap_bytes() == PCAP_MAGIC_US => false,
        m => return Err(format!("not a microsecond pcap file (magic {m:#x})")),
    };
    let ether_type_at = match u32_at(20, little)? {
        LINKTYPE_ETHERNET => 12,
        LINKTYPE_LINUX_SLL => 14,
        other => return Err(format!("link type {other}")),
    };
    let mut out = Vec::new();
    let mut first: Option<Duration> = None;
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let ts = Duration::from_secs(u64::from(u32_at(at, little)?))
            + Duration::from_micros(u64::from(u32_at(at + 4, little)?));
        let caplen = u32_at(at + 8, little)? as usize;
        let frame = bytes
            .get(at + 16..at + 16 + caplen)
            .ok_or("packet cut short")?;
        at += 16 + caplen;
        let ether_type = frame
            .get(ether_type_at..ether_type_at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]));
        if ether_type != Some(0x0800) {
            continue;
        }
        let ip = &frame[ether_type_at + 2..];
        if ip.len() < 20 || ip[9] != 17 {
            continue;
        }
        let udp = ip
            .get(usize::from(ip[0] & 0x0f) * 4..)
            .ok_or("IP cut short")?;
        let udp_len = udp
            .get(4..6)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .ok_or("UDP cut short")?;
        let payload = udp.get(8..udp_len).ok_or("UDP payload cut short")?;
        let first = *first.get_or_insert(ts);
        out.push(Datagram {
            at: ts.saturating_sub(first),
            payload: payload.to_vec(),
        });
    }
    Ok(out)
}

/// Writes `datagrams` as a classic pcap file of IPv4 UDP packets from
/// 127.0.0.1:`src_port` to 127.0.0.1:`dst_port` (SIPp replaces both ports
/// and addresses when it plays it).
pub fn write_udp(path: &Path, datagrams: &[Datagram], src_port: u16, dst_port: u16) {
    let mut out = Vec::new();
    out.extend_from_slice(&PCAP_MAGIC_US.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes()); // version 2.4
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // GMT offset
    out.extend_from_slice(&0u32.to_le_bytes()); // accuracy
    out.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
    out.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    for d in datagrams {
        let udp_len = 8 + d.payload.len();
        let ip_len = 20 + udp_len;
        let frame_len = 14 + ip_len;
        let udp_len = u16::try_from(udp_len).expect("a test datagram fits in UDP");
        let ip_len = u16::try_from(ip_len).expect("a test datagram fits in IPv4");
        let ts = Duration::from_secs(1_700_000_000) + d.at;
        out.extend_from_slice(&(ts.as_secs() as u32).to_le_bytes());
        out.extend_from_slice(&ts.subsec_micros().to_le_bytes());
        out.extend_from_slice(&(frame_len as u32).to_le_bytes());
        out.extend_from_slice(&(frame_len as u32).to_le_bytes());
        // Ethernet: locally administered MACs, IPv4.
        out.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&[127, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[127, 0, 0, 1]);
        let sum = ip_checksum(&ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        out.extend_from_slice(&ip);
        out.extend_from_slice(&src_port.to_be_bytes());
        out.extend_from_slice(&dst_port.to_be_bytes());
        out.extend_from_slice(&udp_len.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes()); // no checksum (SIPp computes one)
        out.extend_from_slice(&d.payload);
    }
    fs::write(path, out).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

fn ip_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// `datagrams` (RTP) protected with libsrtp (the system's libsrtp2, not
/// sluice's SRTP) as `suite` with master key and salt `key_salt`.
pub fn srtp_protect(datagrams: &[Datagram], suite: Suite, key_salt: &[u8]) -> Vec<Datagram> {
    let mut session = Libsrtp::new(suite, key_salt, Direction::Outbound)
        .unwrap_or_else(|e| panic!("libsrtp refused {suite:?}: {e:?}"));
    datagrams
        .iter()
        .map(|d| {
            let mut buf = d.payload.clone();
            buf.resize(d.payload.len() + libsrtp::trailer_room(), 0);
            let len = session
                .protect_rtp(&mut buf, d.payload.len())
                .unwrap_or_else(|e| panic!("libsrtp protect: {e:?}"));
            buf.truncate(len);
            Datagram {
                at: d.at,
                payload: buf,
            }
        })
        .collect()
}

/// `secs` seconds of a `hz` sine at 8 kHz (a quarter of full scale),
/// Opus encoded by libopus in 20 ms frames, as RTP with payload type
/// `pt` (48 kHz RTP clock, RFC 7587), SSRC `ssrc`, 20 ms apart.
pub fn opus_sine_rtp(pt: u8, ssrc: u32, hz: f64, secs: u32) -> Vec<Datagram> {
    let rate = OpusRate::Hz8000;
    let mut encoder = OpusEncoder::new(&OpusEncoderConfig::new(rate))
        .unwrap_or_else(|e| panic!("libopus encoder: {e:?}"));
    let frame = rate.frame_samples();
    let frames = secs as usize * 50;
    let mut pcm = vec![0i16; frame];
    let mut packet = vec![0u8; MAX_PACKET_BYTES];
    (0..frames)
        .map(|n| {
            for (i, s) in pcm.iter_mut().enumerate() {
                let t = (n * frame + i) as f64 / f64::from(rate.hz());
                *s = (8000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16;
            }
            let len = encoder
                .encode(&pcm, &mut packet)
                .unwrap_or_else(|e| panic!("libopus encode: {e:?}"));
            let seq = n as u16;
            let timestamp = (n as u32).wrapping_mul(960);
            let mut rtp = Vec::with_capacity(12 + len);
            rtp.push(0x80);
            rtp.push(if n == 0 { 0x80 | pt } else { pt });
            rtp.extend_from_slice(&seq.to_be_bytes());
            rtp.extend_from_slice(&timestamp.to_be_bytes());
            rtp.extend_from_slice(&ssrc.to_be_bytes());
            rtp.extend_from_slice(&packet[..len]);
            Datagram {
                at: Duration::from_millis(20 * n as u64),
                payload: rtp,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_files_read_back() {
        let dir = crate::TempDir::new("pcap-round-trip");
        let datagrams = vec![
            Datagram {
                at: Duration::ZERO,
                payload: vec![1, 2, 3],
            },
            Datagram {
                at: Duration::from_millis(20),
                payload: vec![4; 300],
            },
        ];
        let path = dir.join("x.pcap");
        write_udp(&path, &datagrams, 5000, 6000);
        assert_eq!(read_udp(&path), datagrams);
    }

    #[test]
    fn the_packaged_capture_is_30_ms_pcma() {
        if !Path::new(SIPP_G711A).is_file() {
            eprintln!("SKIP: {SIPP_G711A} missing (package sip-tester)");
            return;
        }
        let d = read_udp(Path::new(SIPP_G711A));
        assert_eq!(d.len(), 236);
        assert!(d
            .iter()
            .all(|d| d.payload.len() == 252 && d.payload[1] & 0x7f == 8));
        assert!(d[235].at > Duration::from_secs(7));
    }

    #[test]
    fn opus_packets_are_20_ms_apart_on_a_48_khz_clock() {
        let d = opus_sine_rtp(96, 7, 1000.0, 1);
        assert_eq!(d.len(), 50);
        assert_eq!(d[1].payload[1], 96);
        assert_eq!(d[0].payload[1], 0x80 | 96, "marker on the first");
        assert_eq!(&d[1].payload[4..8], &960u32.to_be_bytes());
        assert!(d.iter().all(|d| d.payload.len() > 14));
    }
}

//! # sluice-srtp-compare: sluice-srtp against implementations nobody here wrote
//!
//! - [`libsrtp`]: the system libsrtp2 (Debian `libsrtp2-dev`, built with
//!   NSS) through a small C shim (`shim/libsrtp_shim.c`), so Rust never
//!   mirrors libsrtp's policy structs.
//! - [`rtc`]: `rtc-srtp`, the webrtc-rs sans-IO line (ring backend).
//!
//! `tests/` cross-checks every suite in both directions (RTP across the
//! 65535 -> 0 wrap, RTCP, tampered and replayed packets);
//! `benches/srtp_compare.rs` times protect + unprotect of a 172-byte RTP
//! packet per suite and implementation in one run and prints the ratios.
//!
//! This crate only tests and measures; nothing in sluice depends on it.
#![deny(unsafe_code)]

pub mod libsrtp;
pub mod rtc;

use sluice_srtp::Suite;

/// RTP header length of the packets built here (no CSRCs, no extension).
pub const RTP_HEADER_LEN: usize = 12;

/// The benchmark packet: a 12-byte header plus a 160-byte G.711 20 ms
/// payload.
pub const BENCH_RTP_LEN: usize = RTP_HEADER_LEN + 160;

/// Deterministic SDES `inline:` material (master key then master salt)
/// for `suite`; `seed` varies it between streams.
pub fn key_salt(suite: Suite, seed: u8) -> Vec<u8> {
    (0..suite.key_salt_len())
        .map(|i| {
            let i = u8::try_from(i).expect("key||salt is at most 46 bytes");
            i.wrapping_mul(29).wrapping_add(seed).rotate_left(3)
        })
        .collect()
}

/// Write an RTP packet (payload type 0, `payload_len` bytes of a pattern
/// that depends on `seq`) into `buf`; returns its length.
///
/// # Panics
/// If `buf` is shorter than the packet.
pub fn write_rtp(buf: &mut [u8], seq: u16, ssrc: u32, payload_len: usize) -> usize {
    let len = RTP_HEADER_LEN + payload_len;
    let timestamp = u32::from(seq).wrapping_mul(160);
    buf[0] = 0x80;
    buf[1] = 0x00;
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&timestamp.to_be_bytes());
    buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
    for (i, b) in buf[RTP_HEADER_LEN..len].iter_mut().enumerate() {
        *b = (i as u8) ^ (seq as u8) ^ 0xd5;
    }
    len
}

/// Write an RTCP compound packet (a sender report with no report blocks,
/// then an SDES CNAME chunk) into `buf`; `n` varies the content. Returns
/// its length.
///
/// # Panics
/// If `buf` is shorter than 44 bytes.
pub fn write_rtcp(buf: &mut [u8], ssrc: u32, n: u32) -> usize {
    // Sender report: V=2, RC=0, PT=200, length 6 words.
    buf[0..4].copy_from_slice(&[0x80, 200, 0, 6]);
    buf[4..8].copy_from_slice(&ssrc.to_be_bytes());
    buf[8..16].copy_from_slice(&(0xe000_0000_0000_0000u64 + u64::from(n)).to_be_bytes());
    buf[16..20].copy_from_slice(&n.wrapping_mul(160).to_be_bytes());
    buf[20..24].copy_from_slice(&n.to_be_bytes());
    buf[24..28].copy_from_slice(&n.wrapping_mul(172).to_be_bytes());
    // SDES: V=2, SC=1, PT=202, length 3 words: one chunk holding a
    // 5-byte CNAME and the null item that ends the chunk.
    buf[28..32].copy_from_slice(&[0x81, 202, 0, 3]);
    buf[32..36].copy_from_slice(&ssrc.to_be_bytes());
    buf[36..44].copy_from_slice(&[1, 5, b'h', b'o', b's', b't', b'1', 0]);
    44
}

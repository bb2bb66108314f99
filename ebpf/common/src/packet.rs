//! Pure packet helpers the XDP program runs on a copy of a frame's first
//! [`HEADER_LEN`] bytes: [`inspect`] decides whether a frame is a plain
//! RTP-over-UDP-over-IPv4 packet the fast path may forward, and
//! [`rewrite`] turns its headers into the outbound leg's.
//!
//! Everything here works on a fixed-size array with constant offsets, so
//! the same code compiles for `bpfel-unknown-none` (no bounds checks left
//! for the verifier to doubt, no loops, no division) and for the host,
//! where the unit tests below run it.
//!
//! Only IPv4 without options is accepted (IHL = 5): the UDP header then
//! sits at a constant offset, which the verifier needs. Anything else goes
//! to userspace.

use crate::maps::{punts, FlowAction, FlowKey, Outcome, FLOW_ANY_SOURCE};

/// Bytes the program copies out of the frame: Ethernet (14) + IPv4 without
/// options (20) + UDP (8) + the first two RTP bytes (version and payload
/// type, which [`inspect`] looks at).
pub const HEADER_LEN: usize = 44;

/// Bytes [`rewrite`] changes, all within the first `REWRITE_LEN` of the
/// frame (Ethernet + IPv4 + UDP headers); the program copies these back.
pub const REWRITE_LEN: usize = 42;

/// The shortest frame [`inspect`] accepts: Ethernet + IPv4 + UDP + a
/// 12-byte RTP fixed header.
pub const MIN_FRAME: usize = 14 + 20 + 8 + 12;

const ETH_DST: usize = 0;
const ETH_SRC: usize = 6;
const ETH_TYPE: usize = 12;
const ETHERTYPE_IPV4: u16 = 0x0800;

const IP: usize = 14;
const IP_VER_IHL: usize = IP;
const IP_TOT_LEN: usize = IP + 2;
const IP_FRAG: usize = IP + 6;
const IP_TTL: usize = IP + 8;
const IP_PROTO: usize = IP + 9;
const IP_CSUM: usize = IP + 10;
const IP_SRC: usize = IP + 12;
const IP_DST: usize = IP + 16;
const IP_HDR_LEN: u16 = 20;
const IPPROTO_UDP: u8 = 17;
/// More-fragments flag and fragment offset; DF (0x4000) is fine.
const IP_MF_OFFSET_MASK: u16 = 0x3fff;
/// The TTL forwarded packets leave with.
const FORWARD_TTL: u8 = 64;

const UDP: usize = IP + 20;
const UDP_SPORT: usize = UDP;
const UDP_DPORT: usize = UDP + 2;
const UDP_LEN: usize = UDP + 4;
const UDP_CSUM: usize = UDP + 6;
const UDP_HDR_LEN: u16 = 8;

const RTP: usize = UDP + 8;
const RTP_MIN_LEN: u16 = 12;

const _: () = assert!(RTP + 2 == HEADER_LEN);
const _: () = assert!(UDP_CSUM + 2 == REWRITE_LEN);

/// The addresses and ports of a frame [`inspect`] accepted, as on the wire
/// (network byte order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udp4 {
    /// IPv4 source address.
    pub src_addr: [u8; 4],
    /// IPv4 destination address.
    pub dst_addr: [u8; 4],
    /// UDP source port.
    pub src_port: [u8; 2],
    /// UDP destination port.
    pub dst_port: [u8; 2],
    /// UDP payload length (the RTP packet, as userspace counts bytes).
    pub payload_len: u16,
    /// The RTP header's second byte: marker bit and payload type.
    pub rtp_byte1: u8,
}

impl Udp4 {
    /// The flow this packet belongs to: its destination address and port.
    #[inline(always)]
    pub fn key(&self) -> FlowKey {
        FlowKey {
            addr: self.dst_addr,
            port: self.dst_port,
            pad: [0; 2],
        }
    }

    /// Whether the packet comes from the source `action` expects (or the
    /// flow accepts any source).
    #[inline(always)]
    pub fn from_expected(&self, action: &FlowAction) -> bool {
        action.flags & FLOW_ANY_SOURCE != 0
            || (self.src_addr == action.expect_addr && self.src_port == action.expect_port)
    }

    /// Whether `action` leaves this packet to userspace for its payload
    /// type (see [`crate::maps::FLOW_PUNT_PAYLOAD_TYPE`]); the marker bit
    /// does not matter.
    #[inline(always)]
    pub fn punted(&self, action: &FlowAction) -> bool {
        punts(action.flags, self.rtp_byte1)
    }
}

/// The big-endian 16-bit word at `at` of a header copy (IPv4 or IPv6).
#[inline(always)]
pub(crate) fn be16<const N: usize>(h: &[u8; N], at: usize) -> u16 {
    u16::from_be_bytes([h[at], h[at + 1]])
}

/// Writes `v` big-endian at `at` of a header copy.
#[inline(always)]
pub(crate) fn put16<const N: usize>(h: &mut [u8; N], at: usize, v: u16) {
    let b = v.to_be_bytes();
    h[at] = b[0];
    h[at + 1] = b[1];
}

/// Folds a 32-bit accumulator of 16-bit words into a ones' complement sum.
/// Two rounds suffice for any sum of fewer than 65 536 words.
#[inline(always)]
pub(crate) fn fold(sum: u32) -> u16 {
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

/// The ones' complement sum of the IPv4 header (checksum field included),
/// unrolled so every offset is a constant.
#[inline(always)]
fn ipv4_header_sum(h: &[u8; HEADER_LEN]) -> u16 {
    let sum = u32::from(be16(h, IP))
        + u32::from(be16(h, IP + 2))
        + u32::from(be16(h, IP + 4))
        + u32::from(be16(h, IP + 6))
        + u32::from(be16(h, IP + 8))
        + u32::from(be16(h, IP + 10))
        + u32::from(be16(h, IP + 12))
        + u32::from(be16(h, IP + 14))
        + u32::from(be16(h, IP + 16))
        + u32::from(be16(h, IP + 18));
    fold(sum)
}

/// Checks that the frame whose first [`HEADER_LEN`] bytes are `h` (and
/// whose full length is `frame_len`) is an unfragmented IPv4 UDP packet
/// without IP options carrying RTP (not RTCP), with consistent lengths and
/// a correct IPv4 header checksum. Says why not otherwise.
///
/// The UDP checksum is not verified: a forwarded packet keeps whatever
/// error it arrived with (the receiver drops it), as a router would.
#[inline(always)]
pub fn inspect(h: &[u8; HEADER_LEN], frame_len: usize) -> Result<Udp4, Outcome> {
    if frame_len < MIN_FRAME {
        return Err(Outcome::Short);
    }
    // VLAN-tagged and IPv6 frames land here too (IPv6 has `packet6`).
    if be16(h, ETH_TYPE) != ETHERTYPE_IPV4 {
        return Err(Outcome::NotIp);
    }
    let ver_ihl = h[IP_VER_IHL];
    if ver_ihl >> 4 != 4 {
        return Err(Outcome::NotIp);
    }
    if ver_ihl & 0x0f != 5 {
        return Err(Outcome::IpOptions);
    }
    if be16(h, IP_FRAG) & IP_MF_OFFSET_MASK != 0 {
        return Err(Outcome::Fragment);
    }
    if h[IP_PROTO] != IPPROTO_UDP {
        return Err(Outcome::NotUdp);
    }
    if ipv4_header_sum(h) != 0xffff {
        return Err(Outcome::BadHeader);
    }
    let tot_len = be16(h, IP_TOT_LEN);
    if tot_len < IP_HDR_LEN + UDP_HDR_LEN + RTP_MIN_LEN || usize::from(tot_len) > frame_len - 14 {
        return Err(Outcome::BadHeader);
    }
    let udp_len = be16(h, UDP_LEN);
    if udp_len != tot_len - IP_HDR_LEN {
        return Err(Outcome::BadHeader);
    }
    if h[RTP] >> 6 != 2 {
        return Err(Outcome::NotRtp);
    }
    // RFC 5761: with RTP and RTCP multiplexed, a second byte of 192..=223
    // is an RTCP packet type.
    if matches!(h[RTP + 1], 192..=223) {
        return Err(Outcome::NotRtp);
    }
    Ok(Udp4 {
        src_addr: [h[IP_SRC], h[IP_SRC + 1], h[IP_SRC + 2], h[IP_SRC + 3]],
        dst_addr: [h[IP_DST], h[IP_DST + 1], h[IP_DST + 2], h[IP_DST + 3]],
        src_port: [h[UDP_SPORT], h[UDP_SPORT + 1]],
        dst_port: [h[UDP_DPORT], h[UDP_DPORT + 1]],
        payload_len: udp_len - UDP_HDR_LEN,
        rtp_byte1: h[RTP + 1],
    })
}

/// Adds the RFC 1624 (eqn 3) update for one 16-bit word changing from
/// `old` to `new` to a running sum.
#[inline(always)]
pub(crate) fn csum_replace(sum: u32, old: u16, new: u16) -> u32 {
    sum + u32::from(!old) + u32::from(new)
}

/// Rewrites the headers of a packet [`inspect`] accepted for the outbound
/// leg `action` describes: Ethernet addresses for the next hop, IPv4
/// source and destination with TTL 64 and a recomputed header checksum,
/// UDP ports, and the UDP checksum updated incrementally for the new
/// pseudo-header and ports (RFC 1624), so the payload is never read.
///
/// Only the first [`REWRITE_LEN`] bytes change. A zero UDP checksum
/// (sender computed none, allowed over IPv4) stays zero.
#[inline(always)]
pub fn rewrite(h: &mut [u8; HEADER_LEN], action: &FlowAction, src_mac: [u8; 6], dst_mac: [u8; 6]) {
    h[ETH_DST..ETH_DST + 6].copy_from_slice(&dst_mac);
    h[ETH_SRC..ETH_SRC + 6].copy_from_slice(&src_mac);

    let old_src_hi = be16(h, IP_SRC);
    let old_src_lo = be16(h, IP_SRC + 2);
    let old_dst_hi = be16(h, IP_DST);
    let old_dst_lo = be16(h, IP_DST + 2);
    let old_sport = be16(h, UDP_SPORT);
    let old_dport = be16(h, UDP_DPORT);

    h[IP_SRC..IP_SRC + 4].copy_from_slice(&action.src_addr);
    h[IP_DST..IP_DST + 4].copy_from_slice(&action.dst_addr);
    h[IP_TTL] = FORWARD_TTL;
    put16(h, IP_CSUM, 0);
    let ip_csum = !ipv4_header_sum(h);
    put16(h, IP_CSUM, ip_csum);

    h[UDP_SPORT..UDP_SPORT + 2].copy_from_slice(&action.src_port);
    h[UDP_DPORT..UDP_DPORT + 2].copy_from_slice(&action.dst_port);

    let old_csum = be16(h, UDP_CSUM);
    if old_csum == 0 {
        return;
    }
    let mut sum = u32::from(!old_csum);
    sum = csum_replace(sum, old_src_hi, be16(h, IP_SRC));
    sum = csum_replace(sum, old_src_lo, be16(h, IP_SRC + 2));
    sum = csum_replace(sum, old_dst_hi, be16(h, IP_DST));
    sum = csum_replace(sum, old_dst_lo, be16(h, IP_DST + 2));
    sum = csum_replace(sum, old_sport, be16(h, UDP_SPORT));
    sum = csum_replace(sum, old_dport, be16(h, UDP_DPORT));
    let csum = match !fold(sum) {
        0 => 0xffff,
        c => c,
    };
    put16(h, UDP_CSUM, csum);
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec::Vec;

    /// Independent reference: the ones' complement sum over `data` (odd
    /// length padded with a zero byte), in the textbook loop form.
    fn ones_sum(data: &[u8]) -> u32 {
        let mut sum: u32 = 0;
        for chunk in data.chunks(2) {
            let word = if chunk.len() == 2 {
                (u32::from(chunk[0]) << 8) | u32::from(chunk[1])
            } else {
                u32::from(chunk[0]) << 8
            };
            sum += word;
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum
    }

    fn ip_checksum(ip_header: &[u8]) -> u16 {
        !(ones_sum(ip_header) as u16)
    }

    /// The UDP checksum of `frame` computed from scratch (checksum field
    /// taken as zero), with 0 sent as 0xffff.
    fn udp_checksum(frame: &[u8]) -> u16 {
        let udp_len = usize::from(u16::from_be_bytes([frame[38], frame[39]]));
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&frame[26..34]);
        pseudo.extend_from_slice(&[0, 17]);
        pseudo.extend_from_slice(&frame[38..40]);
        let mut udp = frame[34..34 + udp_len].to_vec();
        udp[6] = 0;
        udp[7] = 0;
        pseudo.extend_from_slice(&udp);
        match !(ones_sum(&pseudo) as u16) {
            0 => 0xffff,
            c => c,
        }
    }

    struct Spec {
        src: [u8; 4],
        dst: [u8; 4],
        sport: u16,
        dport: u16,
        payload: Vec<u8>,
        udp_checksum: bool,
    }

    impl Default for Spec {
        fn default() -> Self {
            // RTP v2, PT 0, seq 1, ts 160, SSRC 0x11223344, 160 bytes.
            let mut payload =
                std::vec![0x80, 0x00, 0x00, 0x01, 0, 0, 0, 160, 0x11, 0x22, 0x33, 0x44];
            payload.extend((0..160).map(|i| i as u8 ^ 0x5a));
            Spec {
                src: [192, 0, 2, 10],
                dst: [198, 51, 100, 1],
                sport: 40_000,
                dport: 30_000,
                payload,
                udp_checksum: true,
            }
        }
    }

    /// A complete, valid Ethernet/IPv4/UDP/RTP frame.
    fn frame(spec: &Spec) -> Vec<u8> {
        let udp_len = 8 + spec.payload.len();
        let tot_len = 20 + udp_len;
        let mut f = Vec::new();
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&[0x45, 0xb8]);
        f.extend_from_slice(&(tot_len as u16).to_be_bytes());
        f.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 63, 17, 0, 0]);
        f.extend_from_slice(&spec.src);
        f.extend_from_slice(&spec.dst);
        let csum = ip_checksum(&f[14..34]);
        f[24..26].copy_from_slice(&csum.to_be_bytes());
        f.extend_from_slice(&spec.sport.to_be_bytes());
        f.extend_from_slice(&spec.dport.to_be_bytes());
        f.extend_from_slice(&(udp_len as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(&spec.payload);
        if spec.udp_checksum {
            let csum = udp_checksum(&f);
            f[40..42].copy_from_slice(&csum.to_be_bytes());
        }
        f
    }

    fn header(f: &[u8]) -> [u8; HEADER_LEN] {
        let mut h = [0; HEADER_LEN];
        h.copy_from_slice(&f[..HEADER_LEN]);
        h
    }

    /// Fixes the IPv4 header checksum after a test edited the header.
    fn reseal(f: &mut [u8]) {
        f[24] = 0;
        f[25] = 0;
        let csum = ip_checksum(&f[14..34]);
        f[24..26].copy_from_slice(&csum.to_be_bytes());
    }

    fn check(f: &[u8]) -> Result<Udp4, Outcome> {
        inspect(&header(f), f.len())
    }

    fn action() -> FlowAction {
        FlowAction {
            expect_addr: [192, 0, 2, 10],
            expect_port: 40_000u16.to_be_bytes(),
            flags: 0,
            src_addr: [203, 0, 113, 5],
            dst_addr: [198, 18, 0, 77],
            src_port: 31_000u16.to_be_bytes(),
            dst_port: 50_002u16.to_be_bytes(),
            counter: 3,
        }
    }

    const SMAC: [u8; 6] = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01];
    const DMAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x02];

    /// Applies [`rewrite`] to a whole frame the way the program does: on a
    /// header copy, then copying [`REWRITE_LEN`] bytes back.
    fn forward(f: &mut [u8], action: &FlowAction) {
        let mut h = header(f);
        rewrite(&mut h, action, SMAC, DMAC);
        assert_eq!(
            h[REWRITE_LEN..],
            f[REWRITE_LEN..HEADER_LEN],
            "rewrite touched RTP bytes"
        );
        f[..REWRITE_LEN].copy_from_slice(&h[..REWRITE_LEN]);
    }

    #[test]
    fn valid_frame_passes() {
        let spec = Spec::default();
        let f = frame(&spec);
        let udp = check(&f).expect("valid frame");
        assert_eq!(udp.src_addr, spec.src);
        assert_eq!(udp.dst_addr, spec.dst);
        assert_eq!(udp.src_port, spec.sport.to_be_bytes());
        assert_eq!(udp.dst_port, spec.dport.to_be_bytes());
        assert_eq!(usize::from(udp.payload_len), spec.payload.len());
        assert_eq!(udp.key(), FlowKey::new(spec.dst, spec.dport));
    }

    #[test]
    fn ethernet_padding_is_fine() {
        // A short packet padded to a longer frame: frame_len > 14 + tot_len.
        let mut f = frame(&Spec::default());
        f.extend_from_slice(&[0; 16]);
        assert!(check(&f).is_ok());
    }

    #[test]
    fn minimum_rtp_packet_passes() {
        let spec = Spec {
            payload: std::vec![0x80, 0x08, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1],
            ..Spec::default()
        };
        let f = frame(&spec);
        assert_eq!(f.len(), MIN_FRAME);
        assert_eq!(check(&f).map(|u| u.payload_len), Ok(12));
    }

    #[test]
    fn short_frame() {
        let f = frame(&Spec::default());
        assert_eq!(inspect(&header(&f), MIN_FRAME - 1), Err(Outcome::Short));
        assert_eq!(inspect(&header(&f), 0), Err(Outcome::Short));
    }

    #[test]
    fn not_ipv4() {
        let mut f = frame(&Spec::default());
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(check(&f), Err(Outcome::NotIp));

        let mut f = frame(&Spec::default());
        f[12..14].copy_from_slice(&[0x81, 0x00]);
        assert_eq!(check(&f), Err(Outcome::NotIp), "VLAN tag");

        let mut f = frame(&Spec::default());
        f[14] = 0x65;
        reseal(&mut f);
        assert_eq!(
            check(&f),
            Err(Outcome::NotIp),
            "IP version 6 in an IPv4 frame"
        );
    }

    #[test]
    fn ip_options() {
        let mut f = frame(&Spec::default());
        f[14] = 0x46;
        reseal(&mut f);
        assert_eq!(check(&f), Err(Outcome::IpOptions));
    }

    #[test]
    fn fragments() {
        for frag in [0x2000u16, 0x0001, 0x00b9, 0x6000, 0x1fff] {
            let mut f = frame(&Spec::default());
            f[20..22].copy_from_slice(&frag.to_be_bytes());
            reseal(&mut f);
            assert_eq!(
                check(&f),
                Err(Outcome::Fragment),
                "flags/offset {frag:#06x}"
            );
        }
        // Don't-fragment alone is a whole packet.
        let mut f = frame(&Spec::default());
        f[20..22].copy_from_slice(&0x4000u16.to_be_bytes());
        reseal(&mut f);
        assert!(check(&f).is_ok());
    }

    #[test]
    fn not_udp() {
        for proto in [6u8, 1, 132] {
            let mut f = frame(&Spec::default());
            f[23] = proto;
            reseal(&mut f);
            assert_eq!(check(&f), Err(Outcome::NotUdp), "protocol {proto}");
        }
    }

    #[test]
    fn bad_ip_checksum() {
        let mut f = frame(&Spec::default());
        f[25] ^= 0x01;
        assert_eq!(check(&f), Err(Outcome::BadHeader));
        let mut f = frame(&Spec::default());
        f[22] = 1; // TTL changed without fixing the checksum.
        assert_eq!(check(&f), Err(Outcome::BadHeader));
    }

    #[test]
    fn bad_lengths() {
        let spec = Spec::default();
        let good = frame(&spec);
        let tot_len = u16::from_be_bytes([good[16], good[17]]);

        // Total length beyond the frame (truncated capture).
        let mut f = good.clone();
        f[16..18].copy_from_slice(&(tot_len + 1).to_be_bytes());
        reseal(&mut f);
        assert_eq!(check(&f), Err(Outcome::BadHeader));

        // Total length too small to hold an RTP header.
        let mut f = good.clone();
        f[16..18].copy_from_slice(&39u16.to_be_bytes());
        reseal(&mut f);
        assert_eq!(check(&f), Err(Outcome::BadHeader));

        // UDP length disagreeing with the IP total length, either way.
        for udp_len in [tot_len - 21, tot_len - 19, 8, 0] {
            let mut f = good.clone();
            f[38..40].copy_from_slice(&udp_len.to_be_bytes());
            assert_eq!(check(&f), Err(Outcome::BadHeader), "UDP length {udp_len}");
        }

        // The frame itself truncated below the IP total length.
        let mut f = good.clone();
        f.pop();
        assert_eq!(check(&f), Err(Outcome::BadHeader));
    }

    #[test]
    fn not_rtp() {
        for first in [0x00u8, 0x40, 0xc0] {
            let mut spec = Spec::default();
            spec.payload[0] = first;
            assert_eq!(
                check(&frame(&spec)),
                Err(Outcome::NotRtp),
                "first byte {first:#04x}"
            );
        }
        // RTCP SR, RR, SDES, BYE, APP and the RFC 5761 range edges.
        for pt in [192u8, 200, 201, 202, 203, 204, 223] {
            let mut spec = Spec::default();
            spec.payload[1] = pt;
            assert_eq!(
                check(&frame(&spec)),
                Err(Outcome::NotRtp),
                "second byte {pt}"
            );
        }
        // RTP payload types next to the range, and with the marker bit.
        for pt in [0u8, 96, 111, 191, 224, 0x80, 0xe0, 0xff] {
            let mut spec = Spec::default();
            spec.payload[1] = pt;
            assert!(check(&frame(&spec)).is_ok(), "second byte {pt}");
        }
    }

    #[test]
    fn expected_source() {
        let udp = check(&frame(&Spec::default())).expect("valid frame");
        let mut a = action();
        assert!(udp.from_expected(&a));
        a.expect_port = 40_001u16.to_be_bytes();
        assert!(!udp.from_expected(&a));
        a.flags = FLOW_ANY_SOURCE;
        assert!(udp.from_expected(&a));
        let mut a = action();
        a.expect_addr = [192, 0, 2, 11];
        assert!(!udp.from_expected(&a));
    }

    #[test]
    fn punted_payload_type_with_or_without_marker() {
        let mut spec = Spec::default();
        let mut a = action();
        a.flags = crate::maps::flags_with_punt(0, 101);
        for (byte1, punted) in [
            (101u8, true),
            (0x80 | 101, true),
            (0, false),
            (0x80, false),
            (100, false),
            (102, false),
            (101 ^ 0x40, false),
        ] {
            spec.payload[1] = byte1;
            let udp = check(&frame(&spec)).expect("valid frame");
            assert_eq!(udp.rtp_byte1, byte1);
            assert_eq!(udp.punted(&a), punted, "second byte {byte1:#04x}");
            assert!(
                udp.from_expected(&a),
                "punting leaves the source check alone"
            );
        }
        // Without the flag nothing is punted, payload type 0 included.
        spec.payload[1] = 0;
        let udp = check(&frame(&spec)).expect("valid frame");
        assert!(!udp.punted(&action()));
        a.flags = crate::maps::flags_with_punt(FLOW_ANY_SOURCE, 0);
        assert!(udp.punted(&a), "payload type 0 can be punted too");
    }

    #[test]
    fn rewrite_sets_headers_and_checksums() {
        let spec = Spec::default();
        let mut f = frame(&spec);
        let before = f.clone();
        let a = action();
        forward(&mut f, &a);

        assert_eq!(f[0..6], DMAC);
        assert_eq!(f[6..12], SMAC);
        assert_eq!(f[12..14], [0x08, 0x00]);
        assert_eq!(f[22], 64, "TTL");
        assert_eq!(f[26..30], a.src_addr);
        assert_eq!(f[30..34], a.dst_addr);
        assert_eq!(f[34..36], a.src_port);
        assert_eq!(f[36..38], a.dst_port);
        // Everything else in the IP header, and the payload, untouched.
        assert_eq!(f[14..22], before[14..22]);
        assert_eq!(f[23], before[23]);
        assert_eq!(f[38..40], before[38..40]);
        assert_eq!(f[42..], before[42..]);

        assert_eq!(
            ones_sum(&f[14..34]),
            0xffff,
            "IPv4 header checksum verifies"
        );
        let udp_csum = u16::from_be_bytes([f[40], f[41]]);
        assert_ne!(udp_csum, 0);
        assert_eq!(udp_csum, udp_checksum(&f));

        // And the result is a frame the program would accept again.
        let udp = check(&f).expect("rewritten frame is valid");
        assert_eq!(udp.dst_addr, a.dst_addr);
        assert_eq!(
            udp.payload_len,
            u16::try_from(spec.payload.len()).expect("small")
        );
    }

    #[test]
    fn zero_udp_checksum_stays_zero() {
        let spec = Spec {
            udp_checksum: false,
            ..Spec::default()
        };
        let mut f = frame(&spec);
        assert_eq!(f[40..42], [0, 0]);
        forward(&mut f, &action());
        assert_eq!(f[40..42], [0, 0]);
        assert_eq!(ones_sum(&f[14..34]), 0xffff);
    }

    /// Tiny deterministic generator for the property loop (no new deps).
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn bytes<const N: usize>(&mut self) -> [u8; N] {
            let mut out = [0; N];
            for b in &mut out {
                *b = self.next() as u8;
            }
            out
        }
    }

    #[test]
    fn incremental_udp_checksum_matches_full_recomputation() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for round in 0..20_000 {
            let len = 12 + (rng.next() % 300) as usize;
            let mut payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            payload[0] = 0x80;
            payload[1] = 0x00;
            let spec = Spec {
                src: rng.bytes(),
                dst: rng.bytes(),
                sport: rng.next() as u16,
                dport: rng.next() as u16,
                payload,
                udp_checksum: true,
            };
            let mut f = frame(&spec);
            let a = if round % 7 == 0 {
                // Every few rounds, a rewrite that changes no address.
                FlowAction {
                    src_addr: spec.src,
                    dst_addr: spec.dst,
                    src_port: spec.sport.to_be_bytes(),
                    dst_port: spec.dport.to_be_bytes(),
                    ..action()
                }
            } else {
                FlowAction {
                    src_addr: rng.bytes(),
                    dst_addr: rng.bytes(),
                    src_port: rng.bytes(),
                    dst_port: rng.bytes(),
                    ..action()
                }
            };
            forward(&mut f, &a);
            let got = u16::from_be_bytes([f[40], f[41]]);
            let want = udp_checksum(&f);
            assert_eq!(got, want, "round {round}");
            assert_eq!(ones_sum(&f[14..34]), 0xffff, "round {round}");
        }
    }

    #[test]
    fn arbitrary_headers_never_panic_and_accepted_ones_rewrite_cleanly() {
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        for _ in 0..200_000 {
            let mut h: [u8; HEADER_LEN] = rng.bytes();
            // Bias towards frames that get past the first checks, so the
            // deeper ones see random input too.
            if rng.next().is_multiple_of(2) {
                h[12] = 0x08;
                h[13] = 0x00;
                h[14] = 0x45;
                h[20] &= 0x40; // no fragment
                h[23] = 17;
                h[24] = 0;
                h[25] = 0;
                let c = !(ones_sum(&h[14..34]) as u16);
                h[24..26].copy_from_slice(&c.to_be_bytes());
            }
            let frame_len = (rng.next() % 2000) as usize;
            if inspect(&h, frame_len).is_ok() {
                rewrite(&mut h, &action(), [1; 6], [2; 6]);
                assert_eq!(ones_sum(&h[14..34]), 0xffff);
                assert!(
                    inspect(&h, frame_len).is_ok(),
                    "a rewritten frame still parses"
                );
            }
        }
    }

    #[test]
    fn checksum_that_computes_to_zero_is_sent_as_ffff() {
        // Find a source port for which the rewritten checksum computes to
        // 0 (sent as 0xffff), then rewrite that packet back, so an
        // incremental update also starts from 0xffff: both ones'
        // complement zeros are covered.
        let spec = Spec::default();
        let f0 = frame(&spec);
        let mut a = action();
        let mut hit = false;
        for port in 0..=u16::MAX {
            a.src_port = port.to_be_bytes();
            let mut f = f0.clone();
            forward(&mut f, &a);
            if udp_checksum(&f) == 0xffff {
                assert_eq!(f[40..42], [0xff, 0xff]);
                // Forward it again onto the original addressing and back.
                let mut g = f.clone();
                let mut back = action();
                back.src_addr = spec.src;
                back.dst_addr = spec.dst;
                back.src_port = spec.sport.to_be_bytes();
                back.dst_port = spec.dport.to_be_bytes();
                forward(&mut g, &back);
                assert_eq!(u16::from_be_bytes([g[40], g[41]]), udp_checksum(&g));
                hit = true;
                break;
            }
        }
        assert!(hit, "some source port yields a zero checksum");
    }
}

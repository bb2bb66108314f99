//! The IPv6 counterpart of [`crate::packet`]: [`inspect6`] accepts a plain
//! RTP-over-UDP-over-IPv6 frame (no extension headers, so every offset is
//! constant) and [`rewrite6`] turns its headers into the outbound leg's.
//! Same rules: fixed-size array, constant offsets, no division, tested on
//! the host.

use crate::maps::{punts, FlowAction6, FlowKey6, Outcome, FLOW_ANY_SOURCE};
use crate::packet::{be16, csum_replace, fold, put16};

/// Bytes the program copies out of an IPv6 frame: Ethernet (14) + IPv6
/// (40) + UDP (8) + the first two RTP bytes.
pub const HEADER6_LEN: usize = 64;

/// Bytes [`rewrite6`] changes (Ethernet + IPv6 + UDP headers).
pub const REWRITE6_LEN: usize = 62;

/// The shortest frame [`inspect6`] accepts: headers + a 12-byte RTP
/// fixed header.
pub const MIN_FRAME6: usize = 14 + 40 + 8 + 12;

const ETH_TYPE: usize = 12;
/// The IPv6 ethertype.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

const IP: usize = 14;
const IP_PLEN: usize = IP + 4;
const IP_NEXT: usize = IP + 6;
const IP_HOPS: usize = IP + 7;
const IP_SRC: usize = IP + 8;
const IP_DST: usize = IP + 24;
const NEXT_UDP: u8 = 17;
const NEXT_FRAGMENT: u8 = 44;
/// The hop limit forwarded packets leave with.
const FORWARD_HOPS: u8 = 64;

const UDP: usize = IP + 40;
const UDP_SPORT: usize = UDP;
const UDP_DPORT: usize = UDP + 2;
const UDP_LEN: usize = UDP + 4;
const UDP_CSUM: usize = UDP + 6;
const UDP_HDR_LEN: u16 = 8;

const RTP: usize = UDP + 8;
const RTP_MIN_LEN: u16 = 12;

const _: () = assert!(RTP + 2 == HEADER6_LEN);
const _: () = assert!(UDP_CSUM + 2 == REWRITE6_LEN);

/// A frame [`inspect6`] accepted: its headers, read in place (IPv6
/// addresses are large for the 512-byte BPF stack, so they are not
/// copied out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udp6<'a> {
    h: &'a [u8; HEADER6_LEN],
    /// UDP payload length.
    pub payload_len: u16,
}

impl Udp6<'_> {
    /// The IPv6 source address.
    #[inline(always)]
    pub fn src_addr(&self) -> &[u8] {
        &self.h[IP_SRC..IP_SRC + 16]
    }

    /// The IPv6 destination address.
    #[inline(always)]
    pub fn dst_addr(&self) -> &[u8] {
        &self.h[IP_DST..IP_DST + 16]
    }

    /// The flow this packet belongs to: its destination address and port.
    #[inline(always)]
    pub fn key(&self) -> FlowKey6 {
        FlowKey6 {
            addr: addr(self.h, IP_DST),
            port: [self.h[UDP_DPORT], self.h[UDP_DPORT + 1]],
            pad: [0; 2],
        }
    }

    /// Whether the packet comes from the source `action` expects (or the
    /// flow accepts any source).
    #[inline(always)]
    pub fn from_expected(&self, action: &FlowAction6) -> bool {
        action.flags & FLOW_ANY_SOURCE != 0
            || (self.src_addr() == action.expect_addr
                && self.h[UDP_SPORT..UDP_SPORT + 2] == action.expect_port)
    }

    /// The RTP header's second byte: marker bit and payload type.
    #[inline(always)]
    pub fn rtp_byte1(&self) -> u8 {
        self.h[RTP + 1]
    }

    /// Whether `action` leaves this packet to userspace for its payload
    /// type (see [`crate::maps::FLOW_PUNT_PAYLOAD_TYPE`]); the marker bit
    /// does not matter.
    #[inline(always)]
    pub fn punted(&self, action: &FlowAction6) -> bool {
        punts(action.flags, self.rtp_byte1())
    }
}

#[inline(always)]
fn addr(h: &[u8; HEADER6_LEN], at: usize) -> [u8; 16] {
    let mut a = [0u8; 16];
    a.copy_from_slice(&h[at..at + 16]);
    a
}

/// Checks that the frame whose first [`HEADER6_LEN`] bytes are `h` (full
/// length `frame_len`) is an IPv6 UDP packet without extension headers
/// carrying RTP (not RTCP), with consistent lengths and a UDP checksum
/// (mandatory over IPv6). Says why not otherwise.
#[inline(always)]
pub fn inspect6(h: &[u8; HEADER6_LEN], frame_len: usize) -> Result<Udp6<'_>, Outcome> {
    if frame_len < MIN_FRAME6 {
        return Err(Outcome::Short);
    }
    if be16(h, ETH_TYPE) != ETHERTYPE_IPV6 || h[IP] >> 4 != 6 {
        return Err(Outcome::NotIp);
    }
    match h[IP_NEXT] {
        NEXT_UDP => {}
        NEXT_FRAGMENT => return Err(Outcome::Fragment),
        // Hop-by-hop, routing, ESP, AH, destination options, mobility,
        // HIP, shim6, experimental: headers that move the UDP header.
        0 | 43 | 50 | 51 | 60 | 135 | 139 | 140 | 253 | 254 => return Err(Outcome::IpOptions),
        _ => return Err(Outcome::NotUdp),
    }
    let payload_len = be16(h, IP_PLEN);
    if payload_len < UDP_HDR_LEN + RTP_MIN_LEN || usize::from(payload_len) > frame_len - UDP {
        return Err(Outcome::BadHeader);
    }
    let udp_len = be16(h, UDP_LEN);
    if udp_len != payload_len || be16(h, UDP_CSUM) == 0 {
        return Err(Outcome::BadHeader);
    }
    if h[RTP] >> 6 != 2 || matches!(h[RTP + 1], 192..=223) {
        return Err(Outcome::NotRtp);
    }
    Ok(Udp6 {
        h,
        payload_len: udp_len - UDP_HDR_LEN,
    })
}

/// Folds the change of a 16-byte address at `at` to `new` into `sum` and
/// writes it.
#[inline(always)]
fn replace_addr(h: &mut [u8; HEADER6_LEN], at: usize, new: &[u8; 16], mut sum: u32) -> u32 {
    for i in 0..8 {
        let old = be16(h, at + 2 * i);
        let word = u16::from_be_bytes([new[2 * i], new[2 * i + 1]]);
        sum = csum_replace(sum, old, word);
        put16(h, at + 2 * i, word);
    }
    sum
}

/// Rewrites the headers of a packet [`inspect6`] accepted for the
/// outbound leg `action` describes: Ethernet addresses for the next hop,
/// IPv6 source and destination with hop limit 64, UDP ports, and the UDP
/// checksum updated incrementally (RFC 1624) for the new pseudo-header
/// and ports. Only the first [`REWRITE6_LEN`] bytes change.
#[inline(always)]
pub fn rewrite6(
    h: &mut [u8; HEADER6_LEN],
    action: &FlowAction6,
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
) {
    h[0..6].copy_from_slice(&dst_mac);
    h[6..12].copy_from_slice(&src_mac);
    h[IP_HOPS] = FORWARD_HOPS;
    let mut sum = u32::from(!be16(h, UDP_CSUM));
    sum = replace_addr(h, IP_SRC, &action.src_addr, sum);
    sum = replace_addr(h, IP_DST, &action.dst_addr, sum);
    let sport = u16::from_be_bytes(action.src_port);
    let dport = u16::from_be_bytes(action.dst_port);
    sum = csum_replace(sum, be16(h, UDP_SPORT), sport);
    sum = csum_replace(sum, be16(h, UDP_DPORT), dport);
    put16(h, UDP_SPORT, sport);
    put16(h, UDP_DPORT, dport);
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

    fn ones_sum(data: &[u8]) -> u32 {
        let mut sum: u32 = data
            .chunks(2)
            .map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum
    }

    /// The UDP checksum of an IPv6 `frame`, from scratch (RFC 8200 §8.1
    /// pseudo-header).
    fn udp_checksum(frame: &[u8]) -> u16 {
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&frame[IP_SRC..IP_DST + 16]);
        let len = frame.len() - UDP;
        pseudo.extend_from_slice(&(len as u32).to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, 17]);
        let mut udp = frame[UDP..].to_vec();
        udp[6] = 0;
        udp[7] = 0;
        pseudo.extend_from_slice(&udp);
        match !(ones_sum(&pseudo) as u16) {
            0 => 0xffff,
            c => c,
        }
    }

    fn frame(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let udp_len = (8 + payload.len()) as u16;
        let mut f = Vec::new();
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x86, 0xdd]);
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&udp_len.to_be_bytes());
        f.extend_from_slice(&[17, 63]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&udp_len.to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(payload);
        let c = udp_checksum(&f);
        f[UDP_CSUM..UDP_CSUM + 2].copy_from_slice(&c.to_be_bytes());
        f
    }

    fn rtp() -> Vec<u8> {
        let mut p = std::vec![0x80, 0x00, 0x00, 0x01, 0, 0, 0, 160, 0x11, 0x22, 0x33, 0x44];
        p.extend((0..160).map(|i| i as u8 ^ 0x3c));
        p
    }

    const CALLER: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const RELAY: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

    fn valid() -> Vec<u8> {
        frame(CALLER, RELAY, 40_000, 30_000, &rtp())
    }

    fn check(f: &[u8]) -> Result<u16, Outcome> {
        let mut h = [0u8; HEADER6_LEN];
        h.copy_from_slice(&f[..HEADER6_LEN]);
        inspect6(&h, f.len()).map(|u| u.payload_len)
    }

    fn action() -> FlowAction6 {
        FlowAction6 {
            expect_addr: CALLER,
            src_addr: [0xfd, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1],
            dst_addr: [0xfd, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2],
            expect_port: 40_000u16.to_be_bytes(),
            src_port: 30_002u16.to_be_bytes(),
            dst_port: 50_000u16.to_be_bytes(),
            flags: 0,
            counter: 1,
        }
    }

    #[test]
    fn a_plain_ipv6_rtp_frame_passes_with_its_addresses() {
        let f = valid();
        let mut h = [0u8; HEADER6_LEN];
        h.copy_from_slice(&f[..HEADER6_LEN]);
        let u = inspect6(&h, f.len()).unwrap();
        assert_eq!((u.src_addr(), u.dst_addr()), (&CALLER[..], &RELAY[..]));
        assert_eq!(u.key(), FlowKey6::new(RELAY, 30_000));
        assert_eq!(u.payload_len, 172);
        assert!(u.from_expected(&action()));
        let stranger = FlowAction6 {
            expect_port: 1u16.to_be_bytes(),
            ..action()
        };
        assert!(!u.from_expected(&stranger));
        assert!(u.from_expected(&FlowAction6 {
            flags: FLOW_ANY_SOURCE,
            ..stranger
        }));
    }

    #[test]
    fn the_punted_payload_type_is_recognised_with_or_without_marker() {
        let a = FlowAction6 {
            flags: crate::maps::flags_with_punt(0, 101),
            ..action()
        };
        for (byte1, punted) in [(101u8, true), (0x80 | 101, true), (0, false), (100, false)] {
            let mut payload = rtp();
            payload[1] = byte1;
            let f = frame(CALLER, RELAY, 40_000, 30_000, &payload);
            let mut h = [0u8; HEADER6_LEN];
            h.copy_from_slice(&f[..HEADER6_LEN]);
            let u = inspect6(&h, f.len()).unwrap();
            assert_eq!(u.rtp_byte1(), byte1);
            assert_eq!(u.punted(&a), punted, "second byte {byte1:#04x}");
            assert!(!u.punted(&action()), "no punting without the flag");
        }
    }

    #[test]
    fn everything_else_is_refused_with_its_reason() {
        let f = valid();
        let edit = |at: usize, v: u8| {
            let mut g = f.clone();
            g[at] = v;
            g
        };
        assert_eq!(check(&f[..MIN_FRAME6 - 1]), Err(Outcome::Short));
        assert_eq!(check(&edit(12, 0x08)), Err(Outcome::NotIp), "ethertype");
        assert_eq!(
            check(&edit(IP, 0x40)),
            Err(Outcome::NotIp),
            "version 4 in an IPv6 frame"
        );
        assert_eq!(
            check(&edit(IP_NEXT, 0)),
            Err(Outcome::IpOptions),
            "hop-by-hop"
        );
        assert_eq!(
            check(&edit(IP_NEXT, 60)),
            Err(Outcome::IpOptions),
            "destination options"
        );
        assert_eq!(check(&edit(IP_NEXT, 44)), Err(Outcome::Fragment));
        assert_eq!(check(&edit(IP_NEXT, 6)), Err(Outcome::NotUdp));
        assert_eq!(
            check(&edit(IP_PLEN + 1, 0xff)),
            Err(Outcome::BadHeader),
            "payload length"
        );
        assert_eq!(
            check(&edit(UDP_LEN + 1, 0x10)),
            Err(Outcome::BadHeader),
            "UDP length"
        );
        let mut none = f.clone();
        none[UDP_CSUM] = 0;
        none[UDP_CSUM + 1] = 0;
        assert_eq!(
            check(&none),
            Err(Outcome::BadHeader),
            "no UDP checksum over IPv6"
        );
        assert_eq!(
            check(&edit(RTP, 0x40)),
            Err(Outcome::NotRtp),
            "RTP version 1"
        );
        assert_eq!(check(&edit(RTP + 1, 201)), Err(Outcome::NotRtp), "RTCP");
    }

    #[test]
    fn rewrite_sets_headers_and_a_checksum_equal_to_a_full_recomputation() {
        let mut state = 0x853c_49e6_748f_ea9bu64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..5_000 {
            let mut bytes = || -> [u8; 16] { core::array::from_fn(|_| next() as u8) };
            let (src, dst) = (bytes(), bytes());
            let a = FlowAction6 {
                src_addr: bytes(),
                dst_addr: bytes(),
                ..action()
            };
            let mut payload = rtp();
            payload.truncate(12 + round % 150);
            let mut f = frame(src, dst, 1000 + round as u16, 2000, &payload);
            let mut h = [0u8; HEADER6_LEN];
            h.copy_from_slice(&f[..HEADER6_LEN]);
            assert!(inspect6(&h, f.len()).is_ok(), "round {round}");
            rewrite6(&mut h, &a, [1; 6], [2; 6]);
            assert_eq!(
                h[REWRITE6_LEN..],
                f[REWRITE6_LEN..HEADER6_LEN],
                "RTP untouched"
            );
            f[..REWRITE6_LEN].copy_from_slice(&h[..REWRITE6_LEN]);
            assert_eq!(&f[0..6], &[2; 6]);
            assert_eq!(&f[6..12], &[1; 6]);
            assert_eq!(f[IP_HOPS], 64);
            assert_eq!(&f[IP_SRC..IP_SRC + 16], &a.src_addr);
            assert_eq!(&f[IP_DST..IP_DST + 16], &a.dst_addr);
            assert_eq!(&f[UDP_SPORT..UDP_SPORT + 2], &30_002u16.to_be_bytes());
            assert_eq!(&f[UDP_DPORT..UDP_DPORT + 2], &50_000u16.to_be_bytes());
            let got = u16::from_be_bytes([f[UDP_CSUM], f[UDP_CSUM + 1]]);
            assert_eq!(got, udp_checksum(&f), "round {round}");
        }
    }
}

//! Zero-copy RTP (RFC 3550) and RTCP views for the packet path.
//!
//! Views borrow the receive buffer and never allocate. [`classify`] tells
//! RTP from RTCP on a multiplexed port (RFC 5761 section 4).
#![deny(unsafe_code)]

/// Bytes in a fixed RTP header.
pub const RTP_HEADER_LEN: usize = 12;
/// Bytes in the smallest RTCP packet header.
pub const RTCP_HEADER_LEN: usize = 8;

/// A synchronization source identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ssrc(pub u32);

/// An RTP sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeqNo(pub u16);

/// An RTP payload type (7 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PayloadType(pub u8);

/// Why bytes are not a well-formed RTP or RTCP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Shorter than the fixed header, or than the header claims.
    #[error("packet too short")]
    TooShort,
    /// Version field is not 2.
    #[error("RTP version is not 2")]
    BadVersion,
    /// Padding count larger than the payload.
    #[error("bad padding length")]
    BadPadding,
}

/// What a datagram on a media port looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// RTP (version 2, payload type outside 64..=95).
    Rtp,
    /// RTCP (version 2, packet type 192..=223 in the second byte).
    Rtcp,
    /// Neither: runt, wrong version (STUN, DTLS and garbage land here).
    Unknown,
}

/// Tells RTP from RTCP by the second byte (RFC 5761 section 4).
pub fn classify(packet: &[u8]) -> PacketKind {
    if packet.len() < RTCP_HEADER_LEN || packet[0] >> 6 != 2 {
        return PacketKind::Unknown;
    }
    match packet[1] {
        192..=223 => PacketKind::Rtcp,
        _ if packet.len() >= RTP_HEADER_LEN => PacketKind::Rtp,
        _ => PacketKind::Unknown,
    }
}

/// A borrowed, validated view of an RTP packet.
#[derive(Debug, Clone, Copy)]
pub struct RtpView<'a> {
    bytes: &'a [u8],
    payload_start: usize,
    payload_end: usize,
}

impl<'a> RtpView<'a> {
    /// Validates the header, CSRC list, extension and padding.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        if bytes.len() < RTP_HEADER_LEN {
            return Err(ParseError::TooShort);
        }
        if bytes[0] >> 6 != 2 {
            return Err(ParseError::BadVersion);
        }
        let csrc_count = usize::from(bytes[0] & 0x0f);
        let mut start = RTP_HEADER_LEN + 4 * csrc_count;
        if bytes[0] & 0x10 != 0 {
            let ext = bytes.get(start..start + 4).ok_or(ParseError::TooShort)?;
            let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
            start += 4 + 4 * words;
        }
        if start > bytes.len() {
            return Err(ParseError::TooShort);
        }
        let mut end = bytes.len();
        if bytes[0] & 0x20 != 0 {
            let pad = usize::from(bytes[end - 1]);
            if pad == 0 || pad > end - start {
                return Err(ParseError::BadPadding);
            }
            end -= pad;
        }
        Ok(Self {
            bytes,
            payload_start: start,
            payload_end: end,
        })
    }

    /// Marker bit.
    pub fn marker(&self) -> bool {
        self.bytes[1] & 0x80 != 0
    }

    /// Payload type.
    pub fn payload_type(&self) -> PayloadType {
        PayloadType(self.bytes[1] & 0x7f)
    }

    /// Sequence number.
    pub fn seq(&self) -> SeqNo {
        SeqNo(u16::from_be_bytes([self.bytes[2], self.bytes[3]]))
    }

    /// Media timestamp.
    pub fn timestamp(&self) -> u32 {
        u32::from_be_bytes([self.bytes[4], self.bytes[5], self.bytes[6], self.bytes[7]])
    }

    /// Synchronization source.
    pub fn ssrc(&self) -> Ssrc {
        Ssrc(u32::from_be_bytes([
            self.bytes[8],
            self.bytes[9],
            self.bytes[10],
            self.bytes[11],
        ]))
    }

    /// Contributing sources.
    pub fn csrcs(&self) -> impl Iterator<Item = Ssrc> + 'a {
        let count = usize::from(self.bytes[0] & 0x0f);
        self.bytes[RTP_HEADER_LEN..RTP_HEADER_LEN + 4 * count]
            .chunks_exact(4)
            .map(|c| Ssrc(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
    }

    /// The payload, without header, extension or padding.
    pub fn payload(&self) -> &'a [u8] {
        &self.bytes[self.payload_start..self.payload_end]
    }

    /// The whole packet.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// A borrowed view of the first packet of an RTCP compound packet.
#[derive(Debug, Clone, Copy)]
pub struct RtcpView<'a> {
    bytes: &'a [u8],
}

impl<'a> RtcpView<'a> {
    /// Validates the first header and that its length fits the datagram.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        if bytes.len() < RTCP_HEADER_LEN {
            return Err(ParseError::TooShort);
        }
        if bytes[0] >> 6 != 2 {
            return Err(ParseError::BadVersion);
        }
        let words = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        if (words + 1) * 4 > bytes.len() {
            return Err(ParseError::TooShort);
        }
        Ok(Self { bytes })
    }

    /// Packet type of the first packet (200 SR, 201 RR, 202 SDES, 203 BYE).
    pub fn packet_type(&self) -> u8 {
        self.bytes[1]
    }

    /// SSRC of the sender of the first packet.
    pub fn sender_ssrc(&self) -> Ssrc {
        Ssrc(u32::from_be_bytes([
            self.bytes[4],
            self.bytes[5],
            self.bytes[6],
            self.bytes[7],
        ]))
    }

    /// The whole compound packet.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pcmu_packet() -> Vec<u8> {
        let mut p = vec![
            0x80, 0x80, 0x12, 0x34, 0, 0, 0x03, 0x20, 0xde, 0xad, 0xbe, 0xef,
        ];
        p.extend_from_slice(&[0xff; 160]);
        p
    }

    #[test]
    fn parses_a_pcmu_packet() {
        let p = pcmu_packet();
        let v = RtpView::parse(&p).unwrap();
        assert!(v.marker());
        assert_eq!(v.payload_type(), PayloadType(0));
        assert_eq!(v.seq(), SeqNo(0x1234));
        assert_eq!(v.timestamp(), 800);
        assert_eq!(v.ssrc(), Ssrc(0xdeadbeef));
        assert_eq!(v.payload().len(), 160);
        assert_eq!(classify(&p), PacketKind::Rtp);
    }

    #[test]
    fn handles_csrc_extension_and_padding() {
        let mut p = vec![0xb1, 0x00, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2];
        p.extend_from_slice(&[0, 0, 0, 9]); // one CSRC
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]); // one-word extension
        p.extend_from_slice(&[7, 7, 7, 0, 0, 3]); // payload + 3 padding bytes
        let v = RtpView::parse(&p).unwrap();
        assert_eq!(v.csrcs().collect::<Vec<_>>(), vec![Ssrc(9)]);
        assert_eq!(v.payload(), &[7, 7, 7]);
    }

    #[test]
    fn rejects_broken_packets() {
        assert_eq!(
            RtpView::parse(&[0x80; 5]).unwrap_err(),
            ParseError::TooShort
        );
        assert_eq!(
            RtpView::parse(&[0x40; 12]).unwrap_err(),
            ParseError::BadVersion
        );
        let mut p = vec![0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        p.extend_from_slice(&[0; 8]); // claims 15 CSRCs, has 2
        assert_eq!(RtpView::parse(&p).unwrap_err(), ParseError::TooShort);
        let pad = [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
        assert_eq!(RtpView::parse(&pad).unwrap_err(), ParseError::BadPadding);
    }

    #[test]
    fn classifies_rtcp_and_garbage() {
        let rr = [0x80, 201, 0, 1, 0, 0, 0, 5];
        assert_eq!(classify(&rr), PacketKind::Rtcp);
        let v = RtcpView::parse(&rr).unwrap();
        assert_eq!(v.packet_type(), 201);
        assert_eq!(v.sender_ssrc(), Ssrc(5));
        assert_eq!(
            classify(&[0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42]),
            PacketKind::Unknown
        );
        assert_eq!(classify(b"hi"), PacketKind::Unknown);
        assert!(RtcpView::parse(&[0x80, 200, 0, 9, 0, 0, 0, 0]).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = classify(&bytes);
            if let Ok(v) = RtpView::parse(&bytes) {
                let _ = (v.payload(), v.csrcs().count(), v.ssrc());
            }
            if let Ok(v) = RtcpView::parse(&bytes) {
                let _ = v.sender_ssrc();
            }
        }
    }
}

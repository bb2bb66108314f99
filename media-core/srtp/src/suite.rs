//! Crypto suites and their SDES (RFC 4568) names.

use core::fmt;
use core::str::FromStr;

use crate::error::{SrtpError, Unsupported};

/// An SRTP crypto suite, named as in SDES `a=crypto` lines.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suite {
    /// `AES_CM_128_HMAC_SHA1_80` (RFC 4568): AES-128 counter mode, 80-bit
    /// HMAC-SHA1 tag.
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32` (RFC 4568): as above with a 32-bit SRTP tag
    /// (SRTCP keeps an 80-bit tag).
    AesCm128HmacSha1_32,
    /// `AES_256_CM_HMAC_SHA1_80` (RFC 6188).
    Aes256CmHmacSha1_80,
    /// `AES_256_CM_HMAC_SHA1_32` (RFC 6188), 80-bit tag on SRTCP.
    Aes256CmHmacSha1_32,
    /// `AEAD_AES_128_GCM` (RFC 7714), 128-bit tag.
    AeadAes128Gcm,
    /// `AEAD_AES_256_GCM` (RFC 7714), 128-bit tag.
    AeadAes256Gcm,
}

impl Suite {
    /// Every suite this crate implements, in the order rtpengine offers them.
    pub const ALL: [Suite; 6] = [
        Suite::AesCm128HmacSha1_80,
        Suite::AesCm128HmacSha1_32,
        Suite::Aes256CmHmacSha1_80,
        Suite::Aes256CmHmacSha1_32,
        Suite::AeadAes128Gcm,
        Suite::AeadAes256Gcm,
    ];

    /// The SDES name (`a=crypto:<tag> <name> inline:...`).
    pub const fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Suite::Aes256CmHmacSha1_80 => "AES_256_CM_HMAC_SHA1_80",
            Suite::Aes256CmHmacSha1_32 => "AES_256_CM_HMAC_SHA1_32",
            Suite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Suite::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// Master (and session encryption) key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 | Suite::AesCm128HmacSha1_32 | Suite::AeadAes128Gcm => 16,
            Suite::Aes256CmHmacSha1_80 | Suite::Aes256CmHmacSha1_32 | Suite::AeadAes256Gcm => 32,
        }
    }

    /// Master (and session) salt length in bytes: 14 for AES-CM, 12 for GCM.
    pub const fn salt_len(self) -> usize {
        if self.is_aead() {
            12
        } else {
            14
        }
    }

    /// Length of the SDES `inline:` key material (key followed by salt).
    pub const fn key_salt_len(self) -> usize {
        self.key_len() + self.salt_len()
    }

    /// Whether this is an AEAD (AES-GCM) suite.
    pub const fn is_aead(self) -> bool {
        matches!(self, Suite::AeadAes128Gcm | Suite::AeadAes256Gcm)
    }

    /// Authentication tag length on SRTP packets, in bytes.
    pub const fn rtp_tag_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 | Suite::Aes256CmHmacSha1_80 => 10,
            Suite::AesCm128HmacSha1_32 | Suite::Aes256CmHmacSha1_32 => 4,
            Suite::AeadAes128Gcm | Suite::AeadAes256Gcm => 16,
        }
    }

    /// Authentication tag length on SRTCP packets, in bytes (the `_32`
    /// suites still use 80 bits on SRTCP, RFC 4568 section 6.2).
    pub const fn rtcp_tag_len(self) -> usize {
        if self.is_aead() {
            16
        } else {
            10
        }
    }

    /// Bytes SRTP protection adds to an RTP packet (the tag).
    pub const fn rtp_overhead(self) -> usize {
        self.rtp_tag_len()
    }

    /// Bytes SRTCP protection adds to an RTCP packet (tag plus the 4-byte
    /// E-flag/SRTCP index word).
    pub const fn rtcp_overhead(self) -> usize {
        self.rtcp_tag_len() + 4
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Suite {
    type Err = SrtpError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Suite::ALL
            .into_iter()
            .find(|suite| suite.name() == s)
            .ok_or(SrtpError::Unsupported(Unsupported::UnknownSuite))
    }
}

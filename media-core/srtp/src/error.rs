//! Errors, split by cause: malformed input, peer misbehaviour (authentication
//! failure, replay), unsupported features, exhausted keys and API misuse.

/// Every way an SRTP/SRTCP transform can refuse a packet or a configuration.
///
/// The type is `Copy` and carries no heap data, so a dropped packet can be
/// counted by reason on the hot path without formatting or allocation.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SrtpError {
    /// The packet cannot be parsed as (S)RTP or (S)RTCP.
    #[error("malformed packet: {0}")]
    Malformed(#[from] Malformed),
    /// The authentication tag did not verify (tampering, wrong key, or a
    /// packet that belongs to a different stream).
    #[error("authentication failed")]
    AuthFailed,
    /// The packet index was already seen, or is older than the replay window.
    #[error("replayed or too old packet")]
    Replay,
    /// The configuration or packet asks for something this crate does not do.
    #[error("unsupported: {0}")]
    Unsupported(#[from] Unsupported),
    /// The master key reached its lifetime (2^48 SRTP or 2^31 SRTCP packets,
    /// or the rollover counter/SRTCP index would wrap): re-key the stream.
    #[error("master key lifetime exhausted")]
    KeyExhausted,
    /// A new SSRC arrived but the context already tracks its maximum number
    /// of SSRCs (see [`crate::SrtpOptions::max_ssrcs`]).
    #[error("too many SSRCs in one SRTP context")]
    TooManySsrcs,
    /// The caller used the API incorrectly.
    #[error("API misuse: {0}")]
    Misuse(#[from] Misuse),
}

/// Why a packet was malformed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Malformed {
    /// Shorter than the fixed header plus the authentication tag/trailer.
    #[error("packet too short")]
    TooShort,
    /// The version field is not 2.
    #[error("RTP/RTCP version is not 2")]
    BadVersion,
    /// The CSRC list or header extension runs past the end of the packet.
    #[error("header runs past the end of the packet")]
    HeaderOverrun,
    /// Longer than any UDP datagram can be.
    #[error("packet too long")]
    TooLong,
}

/// A feature this crate does not implement.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Unsupported {
    /// A master key identifier (MKI) was configured. Sluice negotiates a
    /// single master key per direction with SDES, so MKI is not supported.
    #[error("MKI is not supported")]
    Mki,
    /// The suite name is not one this crate knows.
    #[error("unknown crypto suite")]
    UnknownSuite,
    /// AEAD suites always authenticate (RFC 7714): `UNAUTHENTICATED_SRTP`
    /// cannot be combined with AES-GCM.
    #[error("AEAD suites cannot run unauthenticated")]
    UnauthenticatedAead,
}

/// How the API was misused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Misuse {
    /// The master key length does not match the suite.
    #[error("master key must be {expected} bytes, got {actual}")]
    KeyLength {
        /// Length the suite requires.
        expected: usize,
        /// Length supplied.
        actual: usize,
    },
    /// The master salt length does not match the suite.
    #[error("master salt must be {expected} bytes, got {actual}")]
    SaltLength {
        /// Length the suite requires.
        expected: usize,
        /// Length supplied.
        actual: usize,
    },
    /// `len` is larger than the buffer.
    #[error("len exceeds the buffer")]
    LenExceedsBuffer,
    /// No tailroom for the tag/trailer after the payload.
    #[error("buffer has no room for the authentication tag")]
    BufferTooSmall,
    /// The replay window must be between 1 and
    /// [`crate::MAX_REPLAY_WINDOW`] packets.
    #[error("replay window out of range")]
    ReplayWindow,
    /// `max_ssrcs` must be at least 1.
    #[error("max_ssrcs must be at least 1")]
    MaxSsrcs,
}

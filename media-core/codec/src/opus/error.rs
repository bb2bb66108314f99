//! Errors of the Opus wrapper, split by cause.

use opusic_c::ErrorCode;

/// Why an Opus call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpusError {
    /// Malformed input: libopus could not parse the packet (or it was
    /// empty; a lost packet goes to `decode_lost`).
    #[error("malformed Opus packet")]
    InvalidPacket,
    /// Unsupported configuration: a sample rate other than 8, 16 or 48 kHz.
    #[error("unsupported Opus sample rate {0} Hz (8000, 16000 or 48000)")]
    UnsupportedRate(u32),
    /// Unsupported configuration: complexity above 10.
    #[error("Opus complexity {0} out of range 0..=10")]
    UnsupportedComplexity(u8),
    /// Unsupported configuration: a bitrate libopus rejects (it accepts
    /// 500 to 512000 bit/s).
    #[error("Opus bitrate {0} bit/s out of range 500..=512000")]
    UnsupportedBitrate(u32),
    /// API misuse: the encoder takes one frame of 2.5, 5, 10, 20, 40, 60,
    /// 80, 100 or 120 ms.
    #[error("Opus encoder takes frames of 2.5 to 120 ms ({expected} samples is 20 ms), got {got} samples")]
    FrameSize {
        /// Samples in a 20 ms frame at the encoder's rate.
        expected: usize,
        /// Samples passed.
        got: usize,
    },
    /// API misuse: a concealment or FEC length that is not a multiple of
    /// 2.5 ms up to 120 ms.
    #[error("Opus loss duration of {0} samples is not a multiple of 2.5 ms up to 120 ms")]
    LossDuration(usize),
    /// API misuse: the output buffer cannot hold the packet or samples.
    #[error("output buffer too small for the Opus packet or frame")]
    BufferTooSmall,
    /// libopus failed for another reason (allocation, internal error).
    #[error("libopus: {}", .0.message())]
    Library(ErrorCode),
}

impl From<ErrorCode> for OpusError {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::InvalidPacket => Self::InvalidPacket,
            ErrorCode::BufferTooSmall => Self::BufferTooSmall,
            other => Self::Library(other),
        }
    }
}

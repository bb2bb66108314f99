//! Opus (RFC 6716) through libopus 1.6.1, for RTP per RFC 7587.
//!
//! Mono only, at 8, 16 or 48 kHz: libopus encodes from and decodes to
//! these rates directly, so G.711 <-> Opus needs no resampler (the RTP
//! clock of Opus is 48 kHz whatever the audio rate; mapping timestamps is
//! the caller's job). The encoder takes frames of 2.5 to 120 ms (10, 20,
//! 40, 60 ms for RTP `ptime`; not 30 ms); the decoder accepts
//! any packet up to 120 ms, conceals lost packets and recovers a lost
//! frame from the next packet's in-band FEC.
//!
//! Encoder and decoder allocate their libopus state and a sample buffer
//! once, at construction; encoding and decoding a frame allocate nothing.
//! The sample buffer exists because `opusic-c` passes 16-bit PCM as
//! `u16`: samples are reinterpreted bit for bit (`as u16` / `as i16`)
//! there, which costs one copy of the frame and needs no `unsafe`.

mod decoder;
mod encoder;
mod error;

pub use decoder::OpusDecoder;
pub use encoder::{OpusEncoder, OpusEncoderConfig};
pub use error::OpusError;

/// The usual frame duration, in milliseconds (RTP `ptime` 20).
pub const FRAME_MS: usize = 20;

/// Largest Opus packet of one frame (RFC 6716 §3.2.1: 1275 bytes); an
/// output buffer this size never fails with [`OpusError::BufferTooSmall`].
pub const MAX_PACKET_BYTES: usize = 1275;

/// Longest duration one Opus packet can carry (RFC 6716 §3.2.5).
pub const MAX_PACKET_MS: usize = 120;

/// An audio sample rate media-core runs Opus at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpusRate {
    /// 8 kHz: narrowband, G.711's rate.
    Hz8000,
    /// 16 kHz: wideband, when the far end's fmtp allows it.
    Hz16000,
    /// 48 kHz: fullband.
    Hz48000,
}

impl OpusRate {
    /// The rate for `hz`, if it is one of 8000, 16000 or 48000.
    pub const fn from_hz(hz: u32) -> Result<Self, OpusError> {
        match hz {
            8000 => Ok(Self::Hz8000),
            16000 => Ok(Self::Hz16000),
            48000 => Ok(Self::Hz48000),
            _ => Err(OpusError::UnsupportedRate(hz)),
        }
    }

    /// Samples per second.
    pub const fn hz(self) -> u32 {
        match self {
            Self::Hz8000 => 8000,
            Self::Hz16000 => 16000,
            Self::Hz48000 => 48000,
        }
    }

    /// Samples in `ms` milliseconds at this rate.
    pub const fn samples(self, ms: usize) -> usize {
        self.hz() as usize * ms / 1000
    }

    /// Samples in one 20 ms frame (160, 320 or 960).
    pub const fn frame_samples(self) -> usize {
        self.samples(FRAME_MS)
    }

    const fn to_opusic(self) -> opusic_c::SampleRate {
        match self {
            Self::Hz8000 => opusic_c::SampleRate::Hz8000,
            Self::Hz16000 => opusic_c::SampleRate::Hz16000,
            Self::Hz48000 => opusic_c::SampleRate::Hz48000,
        }
    }
}

/// Copies `pcm` bit for bit into `dst` as the `u16` opusic-c takes.
fn to_u16(pcm: &[i16], dst: &mut [u16]) {
    for (d, &s) in dst.iter_mut().zip(pcm) {
        *d = s as u16;
    }
}

/// Copies decoded `u16` samples bit for bit back into `i16`.
fn to_i16(src: &[u16], pcm: &mut [i16]) {
    for (d, &s) in pcm.iter_mut().zip(src) {
        *d = s as i16;
    }
}

/// libopus' version string, e.g. "libopus 1.6.1".
pub fn libopus_version() -> &'static str {
    opusic_c::version()
}

#[cfg(test)]
mod tests;

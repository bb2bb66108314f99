//! The Opus encoder: one mono 20 ms frame of 16-bit PCM in, one packet out.

use opusic_c::{Application, Bitrate, Channels, Encoder, InbandFec};

use super::{to_u16, OpusError, OpusRate, FRAME_MS};

/// How to set up an [`OpusEncoder`]; [`OpusEncoderConfig::new`] gives
/// voice defaults that the fields then override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusEncoderConfig {
    /// Input sample rate.
    pub rate: OpusRate,
    /// 0 (cheapest) to 10 (best quality per bit).
    pub complexity: u8,
    /// Target bit rate in bit/s, or `None` for libopus' choice.
    pub bitrate: Option<u32>,
    /// In-band FEC (fmtp `useinbandfec=1` from the receiver): each packet
    /// also carries a low-rate copy of the previous frame. Takes effect
    /// only with `expected_loss_percent` above zero.
    pub fec: bool,
    /// Packet loss the encoder should expect, 0 to 100; drives how much
    /// FEC it spends bits on.
    pub expected_loss_percent: u8,
    /// Discontinuous transmission (fmtp `usedtx=1`): in silence the
    /// encoder emits packets of at most 2 bytes (nothing to send) and a
    /// comfort-noise update every 400 ms.
    pub dtx: bool,
}

impl OpusEncoderConfig {
    /// Voice defaults at `rate`: complexity 10, libopus' bit rate, no FEC,
    /// no DTX.
    pub const fn new(rate: OpusRate) -> Self {
        Self {
            rate,
            complexity: 10,
            bitrate: None,
            fec: false,
            expected_loss_percent: 0,
            dtx: false,
        }
    }
}

/// A mono Opus encoder (application VoIP) taking 20 ms frames.
pub struct OpusEncoder {
    inner: Encoder,
    rate: OpusRate,
    /// One frame as the `u16` samples opusic-c takes.
    scratch: Box<[u16]>,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

impl OpusEncoder {
    /// Creates an encoder; allocates its state and frame buffer once.
    pub fn new(config: &OpusEncoderConfig) -> Result<Self, OpusError> {
        if config.complexity > 10 {
            return Err(OpusError::UnsupportedComplexity(config.complexity));
        }
        let mut inner = Encoder::new(Channels::Mono, config.rate.to_opusic(), Application::Voip)?;
        inner.set_complexity(config.complexity)?;
        if let Some(bps) = config.bitrate {
            if !(500..=512_000).contains(&bps) {
                return Err(OpusError::UnsupportedBitrate(bps));
            }
            inner.set_bitrate(Bitrate::Value(bps))?;
        }
        inner.set_inband_fec(if config.fec {
            InbandFec::Mode1
        } else {
            InbandFec::Off
        })?;
        inner.set_packet_loss(config.expected_loss_percent.min(100))?;
        inner.set_dtx(config.dtx)?;
        Ok(Self {
            inner,
            rate: config.rate,
            scratch: vec![0u16; config.rate.frame_samples()].into_boxed_slice(),
        })
    }

    /// The input sample rate.
    pub fn rate(&self) -> OpusRate {
        self.rate
    }

    /// Samples [`encode`](Self::encode) takes: 20 ms at the rate.
    pub fn frame_samples(&self) -> usize {
        self.rate.samples(FRAME_MS)
    }

    /// Samples of delay the codec adds (encoder look-ahead plus decoder),
    /// at the encoder's rate.
    pub fn lookahead(&mut self) -> Result<usize, OpusError> {
        Ok(self.inner.get_look_ahead()? as usize)
    }

    /// Encodes one 20 ms frame into `out` and returns the packet length.
    /// With DTX on, a length of 2 or less means silence: send nothing.
    /// [`MAX_PACKET_BYTES`](super::MAX_PACKET_BYTES) of `out` always
    /// suffices.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, OpusError> {
        if pcm.len() != self.scratch.len() {
            return Err(OpusError::FrameSize {
                expected: self.scratch.len(),
                got: pcm.len(),
            });
        }
        to_u16(pcm, &mut self.scratch);
        Ok(self.inner.encode_to_slice(&self.scratch, out)?)
    }

    /// Clears the encoder's history (a new talker on the same stream).
    pub fn reset(&mut self) -> Result<(), OpusError> {
        Ok(self.inner.reset()?)
    }
}

//! The Opus encoder: one mono frame of 16-bit PCM (2.5, 5, 10, 20, 40, 60,
//! 80, 100 or 120 ms) in, one packet out.

use opusic_c::{Application, Bitrate, Channels, Encoder, InbandFec};

use super::{to_u16, OpusError, OpusRate, FRAME_MS, MAX_PACKET_MS};

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

/// A mono Opus encoder (application VoIP) taking frames of any duration
/// libopus accepts (see [`is_frame_duration`](Self::is_frame_duration)).
pub struct OpusEncoder {
    inner: Encoder,
    rate: OpusRate,
    /// Up to 120 ms of samples as the `u16` opusic-c takes.
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
            scratch: vec![0u16; config.rate.samples(MAX_PACKET_MS)].into_boxed_slice(),
        })
    }

    /// The input sample rate.
    pub fn rate(&self) -> OpusRate {
        self.rate
    }

    /// Samples in a 20 ms frame at the rate (the usual RTP `ptime`).
    pub fn frame_samples(&self) -> usize {
        self.rate.samples(FRAME_MS)
    }

    /// Whether one packet can carry a frame of `samples` samples at this
    /// encoder's rate: 2.5, 5, 10, 20, 40, 60, 80, 100 or 120 ms (RFC 6716
    /// §2.1.4; 80 to 120 ms are multi-frame packets libopus builds
    /// itself). 30 or 50 ms, for example, are not.
    pub fn is_frame_duration(&self, samples: usize) -> bool {
        let quarter_ms = self.rate.hz() as usize / 400; // samples in 2.5 ms
        samples.is_multiple_of(quarter_ms)
            && matches!(samples / quarter_ms, 1 | 2 | 4 | 8 | 16 | 24 | 32 | 40 | 48)
    }

    /// Samples of delay the codec adds (encoder look-ahead plus decoder),
    /// at the encoder's rate.
    pub fn lookahead(&mut self) -> Result<usize, OpusError> {
        Ok(self.inner.get_look_ahead()? as usize)
    }

    /// Encodes one frame (any duration [`is_frame_duration`](Self::is_frame_duration)
    /// accepts; 20 ms normally) into `out` and returns the packet length.
    /// With DTX on, a length of 2 or less means silence: send nothing.
    /// [`MAX_PACKET_BYTES`](super::MAX_PACKET_BYTES) of `out` always
    /// suffices.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, OpusError> {
        if !self.is_frame_duration(pcm.len()) {
            return Err(OpusError::FrameSize {
                expected: self.frame_samples(),
                got: pcm.len(),
            });
        }
        let scratch = &mut self.scratch[..pcm.len()];
        to_u16(pcm, scratch);
        Ok(self.inner.encode_to_slice(scratch, out)?)
    }

    /// Clears the encoder's history (a new talker on the same stream).
    pub fn reset(&mut self) -> Result<(), OpusError> {
        Ok(self.inner.reset()?)
    }
}

//! Encoding PCM at the internal rate into the output codec.

use sluice_codec::g711::{alaw, ulaw};
use sluice_codec::opus::{OpusEncoder, OpusEncoderConfig, OpusError, OpusRate};

use crate::plan::AudioCodec;
use crate::settings::Settings;

/// The output encoder.
#[derive(Debug)]
pub enum Encoder {
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// Opus; `dtx` when the receiver asked for it.
    Opus {
        /// The libopus encoder.
        enc: Box<OpusEncoder>,
        /// DTX on: packets of 2 bytes or less are silence, not sent.
        dtx: bool,
    },
}

/// What an encode produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoded {
    /// A payload of this many bytes.
    Payload(usize),
    /// Opus DTX silence: send nothing.
    Silence,
}

impl Encoder {
    /// The encoder for `codec` at the internal `rate`.
    pub fn new(codec: AudioCodec, rate: OpusRate, settings: &Settings) -> Result<Self, OpusError> {
        Ok(match codec {
            AudioCodec::Pcmu => Encoder::Pcmu,
            AudioCodec::Pcma => Encoder::Pcma,
            AudioCodec::Opus(p) => {
                let config = OpusEncoderConfig {
                    complexity: settings.opus_complexity,
                    bitrate: p.max_average_bitrate.or(settings.opus_bitrate),
                    fec: p.use_inband_fec,
                    expected_loss_percent: if p.use_inband_fec {
                        settings.opus_fec_loss_percent
                    } else {
                        0
                    },
                    dtx: p.use_dtx,
                    ..OpusEncoderConfig::new(rate)
                };
                Encoder::Opus {
                    enc: Box::new(OpusEncoder::new(&config)?),
                    dtx: p.use_dtx,
                }
            }
        })
    }

    /// Encodes one packet's worth of `pcm` into `out`.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<Encoded, OpusError> {
        match self {
            Encoder::Pcmu => Ok(Encoded::Payload(ulaw::encode_into(pcm, out))),
            Encoder::Pcma => Ok(Encoded::Payload(alaw::encode_into(pcm, out))),
            Encoder::Opus { enc, dtx } => {
                let n = enc.encode(pcm, out)?;
                Ok(if *dtx && n <= 2 {
                    Encoded::Silence
                } else {
                    Encoded::Payload(n)
                })
            }
        }
    }
}

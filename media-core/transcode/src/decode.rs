//! Decoding one input payload type to mono PCM at the internal rate, with
//! loss concealment (libopus PLC and in-band FEC for Opus; a faded
//! repetition of the last 10 ms for G.711, in the spirit of G.711
//! Appendix I without its pitch search).

use sluice_codec::g711::{alaw, ulaw};
use sluice_codec::opus::{OpusDecoder, OpusError, OpusRate};

use crate::plan::AudioCodec;

/// Samples of history kept for G.711 concealment (10 ms at 8 kHz).
const G711_HISTORY: usize = 80;

/// A decoder for one input codec.
#[derive(Debug)]
pub enum Decoder {
    /// G.711 (µ-law or A-law) with concealment history.
    G711 {
        /// A-law rather than µ-law.
        alaw: bool,
        /// The last 10 ms decoded.
        history: [i16; G711_HISTORY],
        /// Consecutive concealed samples (for the fade).
        concealed: usize,
    },
    /// Opus at the internal rate.
    Opus(Box<OpusDecoder>),
}

impl Decoder {
    /// A decoder for `codec` producing audio at `rate`.
    pub fn new(codec: AudioCodec, rate: OpusRate) -> Result<Self, OpusError> {
        Ok(match codec {
            AudioCodec::Pcmu | AudioCodec::Pcma => Decoder::G711 {
                alaw: codec == AudioCodec::Pcma,
                history: [0; G711_HISTORY],
                concealed: 0,
            },
            AudioCodec::Opus(_) => Decoder::Opus(Box::new(OpusDecoder::new(rate)?)),
        })
    }

    /// Samples (at the internal rate) `payload` decodes to.
    pub fn samples(&self, payload: &[u8]) -> Result<usize, OpusError> {
        match self {
            Decoder::G711 { .. } if payload.is_empty() => Err(OpusError::InvalidPacket),
            Decoder::G711 { .. } => Ok(payload.len()),
            Decoder::Opus(d) => d.packet_samples(payload),
        }
    }

    /// Decodes `payload` into `out`; returns samples written.
    pub fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, OpusError> {
        match self {
            Decoder::G711 {
                alaw: a,
                history,
                concealed,
            } => {
                if payload.is_empty() || payload.len() > out.len() {
                    return Err(OpusError::InvalidPacket);
                }
                let n = if *a {
                    alaw::decode_into(payload, out)
                } else {
                    ulaw::decode_into(payload, out)
                };
                remember(history, &out[..n]);
                *concealed = 0;
                Ok(n)
            }
            Decoder::Opus(d) => d.decode(payload, out),
        }
    }

    /// Conceals `out.len()` lost samples.
    pub fn conceal(&mut self, out: &mut [i16]) -> Result<usize, OpusError> {
        match self {
            Decoder::G711 {
                history, concealed, ..
            } => {
                // Repeat the last 10 ms, fading to silence over 60 ms.
                const FADE: usize = 480;
                for s in out.iter_mut() {
                    let k = *concealed;
                    let gain = FADE.saturating_sub(k) as i32;
                    *s = (i32::from(history[k % G711_HISTORY]) * gain / FADE as i32) as i16;
                    *concealed += 1;
                }
                Ok(out.len())
            }
            Decoder::Opus(d) => d.decode_lost(out),
        }
    }

    /// Recovers lost samples from `next`'s in-band FEC (Opus only).
    pub fn recover(&mut self, next: &[u8], out: &mut [i16]) -> Result<usize, OpusError> {
        match self {
            Decoder::Opus(d) => d.decode_fec(next, out),
            Decoder::G711 { .. } => self.conceal(out),
        }
    }

    /// Whether FEC recovery is possible with this codec.
    pub fn has_fec(&self) -> bool {
        matches!(self, Decoder::Opus(_))
    }

    /// Clears history (a new sender stream).
    pub fn reset(&mut self) {
        match self {
            Decoder::G711 {
                history, concealed, ..
            } => {
                history.fill(0);
                *concealed = 0;
            }
            Decoder::Opus(d) => {
                let _ = d.reset();
            }
        }
    }
}

fn remember(history: &mut [i16; G711_HISTORY], pcm: &[i16]) {
    if pcm.len() >= G711_HISTORY {
        history.copy_from_slice(&pcm[pcm.len() - G711_HISTORY..]);
    } else {
        history.copy_within(pcm.len().., 0);
        history[G711_HISTORY - pcm.len()..].copy_from_slice(pcm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g711_decodes_and_conceals_fading() {
        let mut d = Decoder::new(AudioCodec::Pcmu, OpusRate::Hz8000).expect("g711");
        let codes: Vec<u8> = (0..160)
            .map(|i| ulaw::encode((i as i16 - 80) * 100))
            .collect();
        let mut out = [0i16; 960];
        assert_eq!(d.decode(&codes, &mut out), Ok(160));
        let mut lost = [0i16; 480];
        d.conceal(&mut lost).expect("conceals");
        assert_eq!(lost[0], out[80]);
        assert!(lost[479].abs() < 200);
        assert!(d.decode(&[], &mut out).is_err());
    }
}

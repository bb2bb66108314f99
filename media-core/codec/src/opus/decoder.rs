//! The Opus decoder: packets in, mono 16-bit PCM out, with loss
//! concealment and in-band FEC recovery.

use opusic_c::{Channels, Decoder};

use super::{to_i16, OpusError, OpusRate, MAX_PACKET_MS};

/// A mono Opus decoder at a fixed output rate.
pub struct OpusDecoder {
    inner: Decoder,
    rate: OpusRate,
    /// Up to 120 ms of output as the `u16` samples opusic-c writes.
    scratch: Box<[u16]>,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

impl OpusDecoder {
    /// Creates a decoder producing `rate` samples; allocates its state and
    /// a 120 ms sample buffer once.
    pub fn new(rate: OpusRate) -> Result<Self, OpusError> {
        Ok(Self {
            inner: Decoder::new(Channels::Mono, rate.to_opusic())?,
            rate,
            scratch: vec![0u16; rate.samples(MAX_PACKET_MS)].into_boxed_slice(),
        })
    }

    /// The output sample rate.
    pub fn rate(&self) -> OpusRate {
        self.rate
    }

    /// Samples `packet` decodes to at this decoder's rate (from its TOC
    /// byte and frame count; nothing is decoded).
    pub fn packet_samples(&self, packet: &[u8]) -> Result<usize, OpusError> {
        if packet.is_empty() {
            return Err(OpusError::InvalidPacket);
        }
        Ok(self.inner.get_nb_samples(packet)?)
    }

    /// Decodes `packet` into the start of `out` and returns the number of
    /// samples written; `out` must hold the packet's duration (120 ms
    /// always suffices).
    pub fn decode(&mut self, packet: &[u8], out: &mut [i16]) -> Result<usize, OpusError> {
        if packet.is_empty() {
            return Err(OpusError::InvalidPacket);
        }
        self.run(packet, out.len().min(self.scratch.len()), false, out)
    }

    /// Packet loss concealment: fills all of `out` with a continuation of
    /// the signal for a lost stretch of `out.len()` samples (a multiple of
    /// 2.5 ms, normally one frame). Returns the samples written.
    pub fn decode_lost(&mut self, out: &mut [i16]) -> Result<usize, OpusError> {
        let n = self.loss_len(out.len())?;
        self.run(&[], n, false, out)
    }

    /// Recovers the frame lost just before `next_packet` from the FEC data
    /// `next_packet` carries, filling all of `out` (the lost duration, a
    /// multiple of 2.5 ms). When `next_packet` has no FEC data this is
    /// concealment, as [`decode_lost`](Self::decode_lost). Decode
    /// `next_packet` itself afterwards with [`decode`](Self::decode).
    pub fn decode_fec(&mut self, next_packet: &[u8], out: &mut [i16]) -> Result<usize, OpusError> {
        if next_packet.is_empty() {
            return Err(OpusError::InvalidPacket);
        }
        let n = self.loss_len(out.len())?;
        self.run(next_packet, n, true, out)
    }

    /// Clears the decoder's history (a new stream).
    pub fn reset(&mut self) -> Result<(), OpusError> {
        Ok(self.inner.reset()?)
    }

    /// Checks a lost duration: a multiple of 2.5 ms, 2.5 to 120 ms.
    fn loss_len(&self, len: usize) -> Result<usize, OpusError> {
        let quantum = self.rate.hz() as usize / 400;
        if len == 0 || !len.is_multiple_of(quantum) || len > self.scratch.len() {
            return Err(OpusError::LossDuration(len));
        }
        Ok(len)
    }

    /// Runs libopus over `scratch[..frame]` and copies the result out.
    fn run(
        &mut self,
        packet: &[u8],
        frame: usize,
        fec: bool,
        out: &mut [i16],
    ) -> Result<usize, OpusError> {
        let n = self
            .inner
            .decode_to_slice(packet, &mut self.scratch[..frame], fec)?;
        to_i16(&self.scratch[..n], out);
        Ok(n)
    }
}

//! Where the transcoder's output goes: the driver implements [`Sink`].

use sluice_dtmf::Digit;

use crate::error::DropCause;

/// How a digit was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigitSource {
    /// RFC 4733 telephone-event packets.
    Event,
    /// In-band tones found by the Goertzel detector.
    Inband,
}

/// A DTMF digit seen from a leg, reported once when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigitReport {
    /// The digit.
    pub digit: Digit,
    /// How long it sounded, ms.
    pub duration_ms: u32,
    /// `-volume` dBm0 (0..=63) as the event said or the detector measured
    /// (in-band: 0 when unknown).
    pub volume: u8,
    /// Event or in-band.
    pub source: DigitSource,
}

impl DigitReport {
    /// The digit as a character (`0`-`9`, `*`, `#`, `A`-`D`).
    pub fn as_char(&self) -> char {
        self.digit.as_char()
    }
}

/// Receives everything the transcoder produces; called synchronously from
/// `push_rtp`, `push_rtcp` and `poll`. Slices are only valid for the call.
pub trait Sink {
    /// A complete plain RTP packet to send to `to_leg`.
    fn rtp(&mut self, to_leg: usize, packet: &[u8]);
    /// A complete plain RTCP compound packet to send to `to_leg`.
    fn rtcp(&mut self, to_leg: usize, packet: &[u8]);
    /// A packet from `from_leg` was dropped (also counted in the stats).
    fn dropped(&mut self, from_leg: usize, reason: DropCause);
    /// A DTMF digit seen from `from_leg`.
    fn digit(&mut self, from_leg: usize, digit: DigitReport);
}

/// A sink that keeps nothing (for benchmarks and tests that only count).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl Sink for NullSink {
    fn rtp(&mut self, _: usize, _: &[u8]) {}
    fn rtcp(&mut self, _: usize, _: &[u8]) {}
    fn dropped(&mut self, _: usize, _: DropCause) {}
    fn digit(&mut self, _: usize, _: DigitReport) {}
}

//! Errors of the transcoder API and the per-packet drop causes.

use sluice_codec::opus::OpusError;

/// Why a plan cannot be run (at [`MediaTranscoder::new`] or
/// [`MediaTranscoder::update`]); nothing changed when this is returned.
///
/// [`MediaTranscoder::new`]: crate::MediaTranscoder::new
/// [`MediaTranscoder::update`]: crate::MediaTranscoder::update
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TranscodeError {
    /// Unsupported: a packet time outside 10..=120 ms in 10 ms steps.
    #[error("ptime {0} ms is not 10..=120 ms in 10 ms steps")]
    Ptime(u32),
    /// Unsupported: Opus cannot carry this packet time in one packet
    /// (10, 20, 40, 60, 80, 100 and 120 ms only; e.g. not 30 ms).
    #[error("Opus cannot send {0} ms packets (10, 20, 40, 60, 80, 100 or 120 ms)")]
    OpusPtime(u32),
    /// Malformed plan: a direction with no input codec.
    #[error("direction from leg {0} has no input codec")]
    NoInput(usize),
    /// Malformed plan: a payload type above 127 or used twice on one leg.
    #[error("payload type {0} is invalid or used twice")]
    PayloadType(u8),
    /// Unsupported: a telephone-event clock other than 8000 or 48000 Hz.
    #[error("telephone-event clock rate {0} Hz is not supported")]
    DtmfClock(u32),
    /// Unsupported settings: Opus complexity above 10 or a bitrate
    /// libopus refuses.
    #[error("Opus codec: {0}")]
    Opus(#[from] OpusError),
}

/// Why `play_dtmf` refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DtmfError {
    /// API misuse: leg is not 0 or 1.
    #[error("no leg {0}")]
    NoSuchLeg(usize),
    /// Nothing is sent toward that leg (its direction is not transcoded).
    #[error("nothing is sent to leg {0}")]
    NoStream(usize),
    /// Event code above 15.
    #[error("DTMF code {0} out of range 0..=15")]
    Code(u8),
    /// Duration outside 100..=5000 ms.
    #[error("DTMF duration {0} ms out of range 100..=5000")]
    Duration(u32),
    /// Volume above 63 (-dBm0).
    #[error("DTMF volume {0} out of range 0..=63")]
    Volume(u8),
    /// Toward that leg one event plays and the queue of digits waiting
    /// behind it is full.
    #[error("16 DTMF digits are already waiting toward leg {0}")]
    Busy(usize),
}

/// Why a packet was dropped: one counter increment, no formatting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropCause {
    /// Not a parseable RTP packet (runt, bad version, bad padding).
    Malformed,
    /// A payload type the sender did not negotiate.
    UnknownPayloadType,
    /// The codec could not decode it (Opus garbage, empty payload).
    Undecodable,
    /// A telephone-event packet that makes no sense (truncated, absurd
    /// duration, event changed mid-event, stale, unsupported code).
    BadDtmf,
    /// A telephone-event from a leg whose DTMF is blocked.
    DtmfBlocked,
    /// Arrived after the jitter buffer had given its slot up as lost.
    TooLate,
    /// A packet already received.
    Duplicate,
    /// No transcoded direction from this leg (leg index wrong, or
    /// direction not in the plan).
    NoDirection,
    /// Malformed RTCP (first header invalid, or a bad inner length).
    RtcpMalformed,
    /// The jitter buffer had no room (a jump far ahead it resynchronised
    /// on instead).
    Overflow,
}

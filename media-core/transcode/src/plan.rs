//! The negotiated shape of a transcoded media section: plain data the
//! control thread builds from the two legs' SDP and the NG codec options,
//! and the transcoder follows.

/// A codec the transcoder can decode and encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCodec {
    /// G.711 µ-law (`PCMU/8000`, static payload type 0).
    Pcmu,
    /// G.711 A-law (`PCMA/8000`, static payload type 8).
    Pcma,
    /// Opus (`opus/48000/2`, RFC 7587): the RTP clock is 48 kHz whatever
    /// the audio rate.
    Opus(OpusParams),
}

impl AudioCodec {
    /// The RTP clock rate of this codec's payload type.
    pub const fn clock_rate(self) -> u32 {
        match self {
            AudioCodec::Pcmu | AudioCodec::Pcma => 8000,
            AudioCodec::Opus(_) => 48000,
        }
    }

    /// The codec's SDP name (`a=rtpmap` encoding name).
    pub const fn name(self) -> &'static str {
        match self {
            AudioCodec::Pcmu => "PCMU",
            AudioCodec::Pcma => "PCMA",
            AudioCodec::Opus(_) => "opus",
        }
    }
}

/// Opus parameters from the receiving side's `a=fmtp` (RFC 7587 §6.1),
/// and the encoder settings the operator chose. For an input codec they
/// describe what the sender announced about its own stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusParams {
    /// `maxplaybackrate`: the highest audio rate the receiver can use (Hz).
    pub max_playback_rate: u32,
    /// `sprop-maxcapturerate`: the highest audio rate the sender captures.
    pub sprop_max_capture_rate: u32,
    /// `stereo=1`: the receiver prefers stereo (we still send mono).
    pub stereo: bool,
    /// `useinbandfec=1`: the receiver can use in-band FEC.
    pub use_inband_fec: bool,
    /// `usedtx=1`: the receiver prefers discontinuous transmission.
    pub use_dtx: bool,
    /// `maxaveragebitrate` in bit/s (or the NG `codec set` bitrate).
    pub max_average_bitrate: Option<u32>,
}

impl Default for OpusParams {
    /// RFC 7587's defaults: 48 kHz, mono preference off, no FEC, no DTX.
    fn default() -> Self {
        Self {
            max_playback_rate: 48000,
            sprop_max_capture_rate: 48000,
            stereo: false,
            use_inband_fec: false,
            use_dtx: false,
            max_average_bitrate: None,
        }
    }
}

/// A telephone-event (RFC 4733) payload type and its clock rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfFormat {
    /// The dynamic payload type.
    pub payload_type: u8,
    /// Its clock rate (8000 beside G.711, 48000 beside Opus).
    pub clock_rate: u32,
}

/// A payload type the sender may use, and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputCodec {
    /// RTP payload type on the sender's leg.
    pub payload_type: u8,
    /// The codec.
    pub codec: AudioCodec,
}

/// The one codec the receiving leg gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputCodec {
    /// RTP payload type on the receiver's leg.
    pub payload_type: u8,
    /// The codec.
    pub codec: AudioCodec,
    /// Packet time in ms (20 unless `ptime`/`a=ptime` says otherwise).
    pub ptime_ms: u32,
}

/// One direction of a transcoded section: from the leg that sends to the
/// leg that receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectionPlan {
    /// Payload types the sender negotiated (anything else is dropped and
    /// counted).
    pub inputs: Vec<InputCodec>,
    /// What the receiver gets.
    pub output: OutputCodec,
    /// The sender's telephone-event format, if it negotiated one.
    pub input_dtmf: Option<DtmfFormat>,
    /// The receiver's telephone-event format, if it negotiated one.
    pub output_dtmf: Option<DtmfFormat>,
}

/// A media section the transcoder handles; `directions[i]` is the
/// direction whose sender is leg `i` (`None`: that direction is not
/// transcoded, e.g. a `sendonly` section).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediaPlan {
    /// Per sending leg.
    pub directions: [Option<DirectionPlan>; 2],
}

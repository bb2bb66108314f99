//! media-core's transcoder, sans-IO: what happens to one media section
//! whose two legs share no codec (or asked for `always transcode`,
//! `ptime` repacketization or `inject DTMF`).
//!
//! - [`plan`]: what the control thread negotiated: per direction, the
//!   codecs the sender may use and the one codec (with parameters and
//!   packet time) the receiver gets, plus each side's telephone-event
//!   payload type. Plain data, built by media-core's codec negotiation.
//! - [`MediaTranscoder`]: both directions of one section. Packets come in
//!   through [`MediaTranscoder::push_rtp`] / [`MediaTranscoder::push_rtcp`],
//!   timers run in [`MediaTranscoder::poll`], everything produced goes to
//!   a caller's [`Sink`].
//! - Per direction ([`stream`]): [`jitter`] buffer (zero delay in order,
//!   adaptive hold on gaps), [`decode`] (G.711, Opus with PLC and FEC),
//!   copy or code-by-code translation when no decode is needed, the PCM
//!   FIFO ([`packetizer`]) for any input/output ptime, [`encode`], the
//!   RTP [`translator`] (own SSRC, sequence, timestamps mapped across
//!   clocks and wraps), [`dtmf`] (RFC 4733 mapping, in-band generation
//!   and detection, `play DTMF`), and [`rtcp`] reports.
//!
//! Internal audio rate: 8 kHz whenever either side is G.711 (libopus
//! encodes from and decodes to 8 kHz directly); Opus to Opus runs at 16
//! or 48 kHz when both sides' fmtp allow. Opus packet times: 10, 20, 40,
//! 60 (and 80, 100, 120) ms; 30, 50, 70, 90, 110 ms toward an Opus
//! receiver are refused by plan validation ([`TranscodeError::OpusPtime`]).
//!
//! DTMF: telephone-events are mapped between the legs' payload types and
//! clocks when both negotiated them; turned into in-band tones (at
//! [`Settings::inband_dtmf_level_dbm0`]) when only the sender did (tone
//! frames come from `poll` on the output packet time when the sender
//! sends only event packets during a digit); and
//! in-band tones are detected and sent as events when only the receiver
//! did (detection runs on 8 kHz PCM, so not on a 16/48 kHz Opus-to-Opus
//! direction). `play DTMF` sends events on the receiving leg's
//! telephone-event type, or in-band tones at `-volume` dBm0 when it has
//! none, muting that leg's audio meanwhile.
//!
//! Copy mode: same codec and same ptime, nothing queued, no DTMF work on
//! the audio: the payload is forwarded unchanged under our header (an
//! Opus payload keeps the sender's FEC/DTX choices). PCMU <-> PCMA at the
//! same ptime is translated code by code. Loss in these modes shows as a
//! gap in our sequence numbers; decoded streams conceal it instead.
//!
//! Nothing here touches sockets, threads or the clock: time comes in as
//! arguments and packets go out through the caller's [`Sink`]. After
//! construction no packet allocates.
#![deny(unsafe_code)]

pub mod decode;
pub mod dtmf;
pub mod encode;
pub mod error;
pub mod jitter;
pub mod media;
pub mod packetizer;
pub mod plan;
pub mod rtcp;
pub mod settings;
pub mod sink;
pub mod stats;
pub mod stream;
pub mod translator;

pub use error::{DropCause, DtmfError, TranscodeError};
pub use media::MediaTranscoder;
pub use plan::{
    AudioCodec, DirectionPlan, DtmfFormat, InputCodec, MediaPlan, OpusParams, OutputCodec,
};
pub use settings::Settings;
pub use sink::{DigitReport, DigitSource, NullSink, Sink};
pub use stats::{DirectionStats, DropCounts};

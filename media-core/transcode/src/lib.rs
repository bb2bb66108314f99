//! media-core's transcoder, sans-IO: what happens to one media section
//! whose two legs share no codec (or asked for `always transcode`,
//! `ptime` repacketization or `inject DTMF`).
//!
//! - [`plan`]: what the control thread negotiated: per direction, the
//!   codecs the sender may use and the one codec (with parameters and
//!   packet time) the receiver gets, plus each side's telephone-event
//!   payload type. Plain data, built by media-core's codec negotiation.
//!
//! Nothing here touches sockets, threads or the clock: time comes in as
//! arguments and packets go out through caller-provided buffers.
#![deny(unsafe_code)]

pub mod plan;

pub use plan::{AudioCodec, DirectionPlan, DtmfFormat, InputCodec, MediaPlan, OpusParams, OutputCodec};

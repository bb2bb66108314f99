//! Codecs for media-core's transcoder.
//!
//! - [`g711`]: PCMU (µ-law) and PCMA (A-law) per ITU-T G.711, with
//!   compile-time decode tables, allocation-free slice conversion and
//!   direct PCMU <-> PCMA code translation (no linear PCM in between).
//! - [`opus`]: a thin, allocation-free-per-frame wrapper over libopus
//!   1.6.1 (through the `opusic-c` crate, which builds it from bundled
//!   sources with cmake): mono encoder and decoder at 8, 16 or 48 kHz with
//!   packet loss concealment and in-band FEC recovery.
//!
//! Nothing here touches sockets, clocks or threads; the transcoding
//! pipeline in media-core drives these functions with buffers it owns.

#![deny(unsafe_code)]

pub mod g711;
pub mod opus;

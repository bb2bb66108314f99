//! Codecs for media-core's transcoder.
//!
//! - [`g711`]: PCMU (µ-law) and PCMA (A-law) per ITU-T G.711, with
//!   compile-time decode tables, allocation-free slice conversion and
//!   direct PCMU <-> PCMA code translation (no linear PCM in between).
//!
//! Nothing here touches sockets, clocks or threads; the transcoding
//! pipeline in media-core drives these functions with buffers it owns.

#![deny(unsafe_code)]

pub mod g711;

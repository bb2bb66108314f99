//! # sluice-srtp: the SRTP/SRTCP packet transform
//!
//! Sans-IO, in-place, allocation-free SRTP (RFC 3711) and AES-GCM SRTP
//! (RFC 7714) over RustCrypto primitives (`aes`, `ctr`, `hmac`, `sha1`,
//! `aes-gcm`; AES-NI/PCLMULQDQ picked at run time). No AES, SHA-1 or GHASH
//! is written here.
//!
//! One [`SrtpContext`] holds one master key for **one direction** of one
//! SSRC space (for example "everything the carrier sends us on this
//! stream"). Inbound contexts call [`SrtpContext::unprotect_rtp`] /
//! [`SrtpContext::unprotect_rtcp`]; outbound contexts call
//! [`SrtpContext::protect_rtp`] / [`SrtpContext::protect_rtcp`]. Do not use
//! one context for both: the per-SSRC index state is shared.
//!
//! Per-SSRC state (rollover counter, replay windows, SRTCP index) lives in a
//! small table inside the context, allocated once at construction with room
//! for [`SrtpOptions::max_ssrcs`] SSRCs and filled on each SSRC's first
//! authenticated packet. After construction no call allocates.
//!
//! ```
//! use sluice_srtp::{SrtpContext, SrtpOptions, Suite};
//!
//! let suite: Suite = "AES_CM_128_HMAC_SHA1_80".parse()?;
//! let (key, salt) = ([7u8; 16], [9u8; 14]);
//! let mut tx = SrtpContext::new(suite, &key, &salt, SrtpOptions::default())?;
//! let mut rx = SrtpContext::new(suite, &key, &salt, SrtpOptions::default())?;
//!
//! let mut buf = [0u8; 1500];
//! let rtp = [0x80, 0, 0, 1, 0, 0, 0, 0, 0xca, 0xfe, 0xba, 0xbe, 1, 2, 3];
//! buf[..rtp.len()].copy_from_slice(&rtp);
//! let n = tx.protect_rtp(&mut buf, rtp.len())?;
//! assert_eq!(n, rtp.len() + suite.rtp_tag_len());
//! let n = rx.unprotect_rtp(&mut buf, n)?;
//! assert_eq!(&buf[..n], &rtp);
//! # Ok::<(), sluice_srtp::SrtpError>(())
//! ```
//!
//! A context is `Send`, holds no locks and no shared state: the worker that
//! owns a stream owns its contexts.
//!
//! ## Decisions
//! - SDES carries no rollover counter: a receiver takes the first
//!   authenticated packet of each SSRC to be in ROC 0, as libsrtp does.
//! - Key derivation rate is 0 (SDES default); session keys are derived once.
//! - MKI is rejected ([`Unsupported::Mki`]): SDES as used by sluice
//!   carries one key per direction.
//! - Key lifetime: a context refuses with [`SrtpError::KeyExhausted`] after
//!   2^48 SRTP or 2^31 SRTCP packets, or when a rollover counter or SRTCP
//!   index would wrap.
//! - Replay: a ring bitmap per SSRC, default 64 packets, up to
//!   [`MAX_REPLAY_WINDOW`]. Packets are authenticated before the replay
//!   window is updated, so forged packets cannot move it.
//! - The sender side estimates the rollover counter from the sequence
//!   numbers it is given (as a relay forwards what it received), and does
//!   not refuse to send the same index twice.
//! - AES-GCM master salts are 12 bytes, extended to 112 bits by appending
//!   two zero bytes for key derivation (RFC 7714 erratum 4938, as libsrtp).
#![deny(unsafe_code)]

mod context;
mod error;
mod kdf;
mod replay;
mod suite;

pub use context::{SrtpContext, SrtpOptions};
pub use error::{Malformed, Misuse, SrtpError, Unsupported};
pub use replay::MAX_REPLAY_WINDOW;
pub use suite::Suite;

#[cfg(test)]
mod vectors;

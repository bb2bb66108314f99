//! SDP (RFC 8866) parsing and rewriting for a media relay.
//!
//! A relay rewrites the SDP in offers and answers so that media flows
//! through it: the `o=` address and version, `c=` lines, `m=` ports and
//! protocols, `a=rtcp`, ICE attributes. Everything else (codecs, `rtpmap`,
//! `fmtp`, `ptime`, direction, unknown lines) and the order of all lines
//! must reach the other side untouched. [`SessionDescription`] therefore
//! keeps every line in input order, interprets only the lines it has typed
//! accessors for, and writes untouched lines (including typed ones that
//! were not modified) back byte for byte.
//!
//! ```
//! use sluice_sdp::SessionDescription;
//!
//! let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
//!              m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
//! let mut sdp = SessionDescription::parse(offer)?;
//! let relay = "192.0.2.1".parse()?;
//! sdp.set_origin_address(relay);
//! sdp.bump_origin_version();
//! sdp.set_connection(relay);
//! sdp.media_mut()[0].set_port(30000);
//! assert_eq!(
//!     sdp.to_sdp_string(),
//!     "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
//!      m=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Choices worth knowing
//!
//! - Session-level [`SessionDescription::set_connection`] only replaces an
//!   existing `c=`; [`SessionDescription::set_or_insert_connection`] also
//!   creates one. [`MediaSection::set_connection`] always leaves exactly
//!   one media-level `c=` (inserted after `m=` and any `i=` if absent).
//! - An SDP without `m=`, `o=` or `s=` parses; the caller decides whether
//!   that is acceptable.
//! - Typed lines (`o=`, `c=`, `m=`) keep their original text until
//!   modified; a modified line is written in canonical single-space form.
//! - Empty lines are accepted only at the end, and dropped.
//! - Attribute names are compared case-sensitively.
//!
//! The crate is sans-IO: no sockets, no clock. Input is bounded
//! ([`MAX_SDP_LEN`], [`MAX_MEDIA_SECTIONS`]) and no input makes it panic.
#![deny(unsafe_code)]

mod crypto;
mod error;
mod lines;
mod media;
mod session;
mod types;

pub use crypto::{CryptoAttr, CryptoAttrError, KeyParam};
pub use error::{LineError, MediaLineError, SdpError};
pub use media::{MediaSection, ICE_ATTRIBUTES};
pub use session::SessionDescription;
pub use types::{Attribute, Connection, Direction, Origin, RtcpAttr, RtpMap};

/// Largest SDP body accepted, in bytes (64 KiB).
pub const MAX_SDP_LEN: usize = 64 * 1024;

/// Most media sections accepted in one SDP body.
pub const MAX_MEDIA_SECTIONS: usize = 64;

//! Sans-IO readers of the SIP values sip-control interprets itself, and
//! the routing of dialled numbers. No SIP stack, no runtime: fuzzed as is.
//!
//! - [`routing`]: DID normalization (E.164) and lookup.
//! - [`grammar`]: RFC 3261 tokens and generic parameters, shared.
//! - [`info_dtmf`]: DTMF in SIP INFO bodies, both content types.
//! - [`sdp_facts`]: codecs and telephone-event in an SDP body.
//! - [`session_timer`]: RFC 4028 header values, negotiation, a leg's clock.
//! - [`refer`]: the target URI of a `Refer-To` header, and its `Replaces`.
//! - [`replaces`]: the RFC 3891 `Replaces` value, escaped or not.

pub mod grammar;
pub mod info_dtmf;
pub mod refer;
pub mod replaces;
pub mod routing;
pub mod sdp_facts;
pub mod session_timer;

//! sip-control: the SIP trunk B2BUA of sluice.
//!
//! Carrier calls arrive over SIP trunks, are checked against the trunk's
//! allowlist and digest credentials, routed by DID to an AI platform (with
//! failover across targets), and their media is anchored on media-core (or
//! rtpengine) over the NG protocol. DTMF, transfers to human queues and
//! re-INVITEs are carried across the two legs.
//!
//! - [`config`]: the TOML file, checked with the key and reason of any error.
//! - [`security`]: allowlists, digest authentication, lock-out, rate limits.
//! - [`media`]: the NG client and the set of media nodes with health checks.
//! - [`b2bua`]: the two-leg calls on top of rsipstack's transactions and dialogs.
#![deny(unsafe_code)]

pub mod b2bua;
pub mod config;
pub mod media;
pub mod ops;
pub mod security;

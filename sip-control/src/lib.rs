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
//! - [`signal`]: sans-IO readers of SIP values (INFO DTMF, Refer-To, SDP
//!   codecs) and DID routing.
//! - [`b2bua`]: the two-leg calls on top of rsipstack's transactions and dialogs.
//! - [`ops`]: Prometheus metrics, CDR lines, the metrics endpoint.
//!
//! Without the default `server` feature only the sans-IO modules build
//! (what the fuzz targets use).
#![deny(unsafe_code)]

#[cfg(feature = "server")]
pub mod b2bua;
pub mod config;
#[cfg(feature = "server")]
pub mod media;
pub mod ops;
pub mod security;
pub mod signal;

//! sip-control: the SIP trunk B2BUA of sluice.
//!
//! Placeholder: nothing here yet. The B2BUA (transports, transactions,
//! allowlists, digest, routing, transfers) is its own issue; it will speak
//! NG to media-core through `sluice-ng`.
#![deny(unsafe_code)]

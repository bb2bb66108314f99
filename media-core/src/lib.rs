//! media-core: sluice's media plane.
//!
//! - [`config`]: flags, TOML file and the embedded default.
//! - [`relay`]: the sans-IO per-packet core (latching, routing, counters).
//! - [`worker`]: pinned threads driving the relay with io_uring.
//! - [`control`]: the NG server, call table, SDP rewriting, port allocation.
//! - [`transcoder`]: the pool of threads that transcode streams whose
//!   legs share no codec.
//! - [`xdp`]: loads the XDP fast path and manages its flows.
//! - [`daemon`]: wires them together and handles signals.
#![deny(unsafe_code)]

pub mod config;
pub mod control;
pub mod daemon;
pub mod relay;
pub mod transcoder;
pub mod worker;
pub mod xdp;

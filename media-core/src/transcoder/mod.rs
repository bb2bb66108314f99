//! The transcoder pool: threads that run `sluice-transcode` for the media
//! sections whose legs share no codec, beside (never inside) the workers.
//!
//! A worker that receives a packet of a transcoded stream copies it into
//! a [`Job`] on the pool thread's lock-free queue and goes on with the
//! next packet; pass-through packets on the same worker never wait for a
//! codec. The pool thread decodes, encodes and translates, and hands each
//! finished packet back to the worker that owns the sockets as an
//! [`Output`] on that worker's queue (plus its doorbell): the worker adds
//! SRTP and sends it. Sockets, keys and counters stay single-owner.
//!
//! - [`job`]: the messages between workers and pool threads.
//! - [`pool`]: spawning the threads and handing them work.
//! - [`session`]: one pool thread's loop and its transcoders.
//! - [`digits`]: DTMF digit reports (log line and the UDP/JSON
//!   `dtmf-log-dest`).

pub mod digits;
pub mod job;
pub mod pool;
pub(crate) mod session;

pub use job::{
    CallLabels, Job, LegSockets, MediaKey, Output, OutputQueue, PoolCommand, TranscodeSetup,
};
pub use pool::{PoolHandle, PoolSettings, TranscoderPool};

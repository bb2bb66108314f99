//! The control side: NG server, call table, SDP rewriting, ports.

pub mod call;
pub mod codecs;
pub mod crypto_plan;
pub mod engine;
pub mod ports;
pub mod render;
pub mod sdes;
pub mod server;
pub mod transcoding;

pub use engine::{Engine, Failure};
pub use server::NgServer;

//! The configuration file: its shape ([`types`]) and its checks.

pub mod types;

pub use types::*;

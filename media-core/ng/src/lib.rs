//! The NG control protocol: bencoded dictionaries over UDP, as spoken by
//! Kamailio's and OpenSIPS's `rtpengine` modules.
//!
//! - [`bencode`]: the value model and a bounded decoder.
//! - [`frame`]: `<cookie> <bencoded dict>` datagrams.
//! - [`client`]: a small blocking client (tests, load tool, proxies).
#![deny(unsafe_code)]

pub mod bencode;
pub mod client;
pub mod frame;

pub use bencode::{Dict, Value};

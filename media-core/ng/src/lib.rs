//! The NG control protocol: bencoded dictionaries over UDP, as spoken by
//! Kamailio's and OpenSIPS's `rtpengine` modules.
//!
//! - [`bencode`]: the value model and a bounded decoder.
//! - [`frame`]: `<cookie> <bencoded dict>` datagrams.
//! - [`client`]: a small blocking client (tests, load tool, proxies).
//! - [`request`]: a decoded dictionary turned into a typed [`Request`],
//!   including `flags` and `rtpp-flags`.
//! - [`reply`]: the standard reply dictionaries (`ok`, `pong`, `error`,
//!   `load limit`).
//! - [`cache`]: replies by cookie, for answering retransmissions.
//!
//! A server's loop, in outline: [`frame::decode`] the datagram, look the
//! cookie up in a [`ReplyCache`], [`parse_request`] the dictionary, act,
//! [`frame::encode`] the reply (or [`reply::error`] with the
//! [`RequestError`]'s text) and store it in the cache.
#![deny(unsafe_code)]

pub mod bencode;
pub mod cache;
pub mod client;
pub mod frame;
pub mod reply;
pub mod request;
mod rtpp_flags;

pub use bencode::{Dict, Value};
pub use cache::ReplyCache;
pub use request::{
    parse_request, CodecOptions, Command, Flags, IceMode, Options, Replace, Request, RequestError,
    RtcpMux,
};

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
//!
//! ```
//! use std::time::{Duration, Instant};
//! use sluice_ng::{frame, parse_request, reply, Command, ReplyCache};
//!
//! let mut cache = ReplyCache::new(Duration::from_secs(30), 10_000);
//! let now = Instant::now(); // the driver reads the clock, never the core
//! let datagram = b"5_8_1 d7:command4:pinge";
//! let (cookie, dict) = frame::decode(datagram)?;
//! assert!(cache.get(cookie, now).is_none(), "not a retransmission");
//! let reply = match parse_request(&dict) {
//!     Ok(req) if req.command == Command::Ping => reply::pong(),
//!     Ok(_) => reply::ok(),
//!     Err(e) => reply::error(&e.to_string()),
//! };
//! let out = frame::encode(cookie, &reply);
//! cache.insert(cookie, out.clone(), now);
//! assert_eq!(out, b"5_8_1 d6:result4:ponge");
//! assert_eq!(cache.get(cookie, now), Some(&out[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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

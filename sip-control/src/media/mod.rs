//! The NG client and the media nodes it drives.
//!
//! - [`client`]: [`NgClient`], an async NG client over one UDP socket per
//!   node: cookies, retransmissions, replies routed by cookie.
//! - [`commands`]: the requests sip-control sends (`offer`, `answer`,
//!   `delete`, `query`, `play DTMF`, ...) built from typed parameters.
//! - [`replies`]: readers for the reply keys sip-control uses (the
//!   rewritten SDP, packets received from one party).
//! - [`nodes`]: [`MediaNodes`], the configured nodes: offer placement by
//!   call hash with failover, and requests on the node holding a call.
//! - `health`: per-node health and the periodic `ping`s that update it
//!   ([`MediaNodes::spawn_health_checks`]).
//! - [`error`]: [`NgError`] (one request), [`MediaError`] (the node set).
//!
//! ```no_run
//! # async fn demo(cfg: &sip_control::config::MediaConfig) -> Result<(), Box<dyn std::error::Error>> {
//! use sip_control::media::{call_hash, commands, replies, MediaNodes, OfferParams};
//! use tokio_util::sync::CancellationToken;
//!
//! let nodes = MediaNodes::new(cfg)?;
//! let _health = nodes.spawn_health_checks(CancellationToken::new());
//! let offer = OfferParams {
//!     call_id: "a84b4c76e66710".into(),
//!     from_tag: "1928301774".into(),
//!     sdp: b"v=0\r\n...".to_vec(),
//!     ..Default::default()
//! };
//! let (node, reply) = nodes.offer(&offer, call_hash(&offer.call_id)).await?;
//! let _sdp_for_the_platform = replies::reply_sdp(&reply)?;
//! nodes
//!     .request_on(node, commands::delete(&offer.call_id, &offer.from_tag, None))
//!     .await?;
//! # Ok(())
//! # }
//! ```

pub mod client;
pub mod commands;
mod cookie;
pub mod error;
mod health;
pub mod nodes;
mod pending;
pub mod replies;

#[cfg(test)]
mod fake_ng;

pub use client::{ClientStats, NgClient};
pub use commands::{
    AnswerParams, CodecOptions, Direction, DtmfDigit, OfferParams, SdpOptions, TransportProtocol,
};
pub use error::{MalformedReply, MediaError, NgError, ParamError, ReplyError};
pub use nodes::{call_hash, MediaNodes, NodeId, NodeStatus};
pub use replies::{packets_from, reply_sdp};

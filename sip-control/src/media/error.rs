//! Why an NG request, or a call's placement on a media node, failed.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use sluice_ng::frame::FrameError;

use super::nodes::NodeId;

/// Why one NG request got no usable reply.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NgError {
    /// No reply within the timeout, after every retransmission.
    #[error("no NG reply from {server} within {after:?} ({tries} sends)")]
    Timeout {
        /// The node's NG address.
        server: SocketAddr,
        /// The request's total timeout.
        after: Duration,
        /// How many times the datagram was sent.
        tries: u32,
    },
    /// The socket refused to send (e.g. `ECONNREFUSED` after an ICMP port
    /// unreachable, or no route).
    #[error("NG socket: {0}")]
    Io(#[from] io::Error),
    /// The node answered under our cookie with something that is not a
    /// valid reply.
    #[error("malformed NG reply: {0}")]
    Malformed(#[from] MalformedReply),
    /// `result: error`: the node refused this request (usually this call's
    /// SDP or state); another node would say the same.
    #[error("NG error reply: {reason}")]
    Error {
        /// The `error-reason` text (lossy UTF-8; empty if absent).
        reason: String,
    },
    /// `result: load limit`: the node is at capacity.
    #[error("media node at its load limit")]
    LoadLimit,
    /// The client's receiver task is gone (its runtime is shutting down).
    #[error("NG client stopped")]
    Closed,
    /// A [`NodeId`] that does not belong to this node set.
    #[error("no media node {0}")]
    UnknownNode(NodeId),
}

/// How a reply carrying our cookie was malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedReply {
    /// The body is not a bencoded dictionary.
    #[error("{0}")]
    Frame(#[from] FrameError),
    /// The dictionary has no string `result`.
    #[error("reply has no `result`")]
    NoResult,
    /// A `result` other than `ok`, `pong`, `error` or `load limit`.
    #[error("unknown result {0:?}")]
    UnknownResult(String),
}

/// Why a request on the node set failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The configuration lists no media node.
    #[error("no media nodes configured")]
    NoNodes,
    /// Every node timed out, was unreachable or at its load limit.
    #[error("all {tried} media nodes failed; last: {last}")]
    AllNodesFailed {
        /// How many nodes were tried.
        tried: usize,
        /// The last node's failure.
        last: NgError,
    },
    /// A node answered with an error (or a malformed reply); it is not
    /// failed over, since it is about this request rather than the node.
    #[error("media node {node}: {source}")]
    Node {
        /// The node that answered.
        node: NodeId,
        /// What it answered.
        source: NgError,
    },
}

/// Why a reply lacks what a reader looks for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// The key is absent.
    #[error("reply has no `{0}`")]
    Missing(&'static str),
    /// The key holds the wrong kind of value.
    #[error("reply's `{0}` has the wrong type")]
    WrongType(&'static str),
}

/// A typed parameter that has no NG spelling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    /// Not a DTMF digit (`0`-`9`, `*`, `#`, `A`-`D`).
    #[error("{0:?} is not a DTMF digit")]
    DtmfDigit(char),
}

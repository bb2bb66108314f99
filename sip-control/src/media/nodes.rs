//! The media nodes from the configuration: where a call's offer goes,
//! failing over between nodes, and requests on the node that holds a call.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sluice_ng::Dict;

use super::client::NgClient;
use super::commands::{self, OfferParams};
use super::error::{MediaError, NgError};
use super::health::Health;
use crate::config::MediaConfig;

/// A node of one [`MediaNodes`] set: its index in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u16);

impl NodeId {
    /// The node's position in the configuration's list.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// One node's state, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// The configured name.
    pub name: String,
    /// Its NG address.
    pub address: SocketAddr,
    /// Whether it answered its last request or ping.
    pub up: bool,
    /// The last ping's round trip.
    pub rtt: Option<Duration>,
    /// Requests and pings that got no usable reply.
    pub failures: u64,
    /// Requests sent again after no reply.
    pub retransmits: u64,
    /// Requests waiting for their reply now.
    pub in_flight: usize,
}

/// One configured node.
#[derive(Debug)]
pub(super) struct Node {
    pub(super) name: String,
    pub(super) client: NgClient,
    pub(super) health: Health,
}

/// The configured media nodes, each with its NG client and health.
#[derive(Debug)]
pub struct MediaNodes {
    nodes: Vec<Node>,
    timeout: Duration,
    ping_interval: Duration,
}

impl MediaNodes {
    /// A client per configured node, all considered up until a request or
    /// ping says otherwise. Must be called within a tokio runtime.
    pub fn new(cfg: &MediaConfig) -> io::Result<Arc<Self>> {
        if cfg.nodes.len() > usize::from(u16::MAX) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "more media nodes than a NodeId can name",
            ));
        }
        let nodes = cfg
            .nodes
            .iter()
            .map(|n| {
                Ok(Node {
                    name: n.name.clone(),
                    client: NgClient::new(n.address)?,
                    health: Health::default(),
                })
            })
            .collect::<io::Result<_>>()?;
        Ok(Arc::new(Self {
            nodes,
            timeout: cfg.timeout,
            ping_interval: cfg.ping_interval,
        }))
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is configured.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every node's id, in configuration order.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> {
        // `new` refuses more nodes than fit in u16.
        (0..u16::try_from(self.nodes.len()).unwrap_or(u16::MAX)).map(NodeId)
    }

    /// The configured name of `id`.
    pub fn name(&self, id: NodeId) -> Option<&str> {
        self.nodes.get(id.index()).map(|n| n.name.as_str())
    }

    /// The NG timeout of every request.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How often the health checks ping.
    pub fn ping_interval(&self) -> Duration {
        self.ping_interval
    }

    /// Every node's state, in configuration order.
    pub fn snapshot(&self) -> Vec<NodeStatus> {
        self.nodes
            .iter()
            .map(|n| NodeStatus {
                name: n.name.clone(),
                address: n.client.server(),
                up: n.health.is_up(),
                rtt: n.health.rtt(),
                failures: n.health.failures(),
                retransmits: n.client.stats().retransmits,
                in_flight: n.client.waiting(),
            })
            .collect()
    }

    /// Sends a call's `offer` to the node `call_hash` picks among the up
    /// nodes, moving on to the next on a timeout, a socket error or a load
    /// limit (a node that timed out is marked down). Down nodes are tried
    /// last. An error reply is returned at once: it is about this offer,
    /// and another node would refuse it too.
    ///
    /// On success the call lives on the returned node: send everything
    /// else about it there with [`MediaNodes::request_on`].
    pub async fn offer(
        &self,
        params: &OfferParams,
        call_hash: u64,
    ) -> Result<(NodeId, Dict), MediaError> {
        let order = self.offer_order(call_hash);
        let request = commands::offer(params);
        let mut last = None;
        for &id in &order {
            match self.request_on(id, request.clone()).await {
                Ok(reply) => return Ok((id, reply)),
                Err(e @ (NgError::Timeout { .. } | NgError::Io(_) | NgError::LoadLimit)) => {
                    tracing::warn!(
                        node = self.name(id).unwrap_or_default(),
                        call_id = %params.call_id,
                        error = %e,
                        "offer failed on media node; trying the next"
                    );
                    last = Some(e);
                }
                Err(source) => return Err(MediaError::Node { node: id, source }),
            }
        }
        match last {
            Some(last) => Err(MediaError::AllNodesFailed {
                tried: order.len(),
                last,
            }),
            None => Err(MediaError::NoNodes),
        }
    }

    /// Sends `dict` to `node` (the one holding the call) and notes what
    /// the outcome says about the node: a reply marks it up, a timeout or
    /// socket error marks it down.
    pub async fn request_on(&self, node: NodeId, dict: Dict) -> Result<Dict, NgError> {
        let (result, n) = self.send(node, dict).await;
        let Some(n) = n else { return result };
        match &result {
            Ok(_) => {
                if n.health.mark_up() {
                    tracing::info!(node = %n.name, "media node is up again");
                }
            }
            Err(e @ (NgError::Timeout { .. } | NgError::Io(_) | NgError::Closed)) => {
                if n.health.mark_down() {
                    tracing::warn!(node = %n.name, error = %e, "media node is down");
                }
            }
            Err(NgError::Malformed(_)) => n.health.count_failure(),
            Err(_) => {}
        }
        result
    }

    /// Sends `dict` to `id` without touching its health.
    pub(super) async fn send(
        &self,
        id: NodeId,
        dict: Dict,
    ) -> (Result<Dict, NgError>, Option<&Node>) {
        match self.nodes.get(id.index()) {
            Some(n) => (n.client.request(dict, self.timeout).await, Some(n)),
            None => (Err(NgError::UnknownNode(id)), None),
        }
    }

    /// Order in which an offer tries the nodes.
    fn offer_order(&self, call_hash: u64) -> Vec<NodeId> {
        let up: Vec<bool> = self.nodes.iter().map(|n| n.health.is_up()).collect();
        offer_order(&up, call_hash)
    }
}

/// The up nodes starting at `call_hash % (number up)` and wrapping
/// around, then the down nodes (in the same manner), given each node's
/// up state in configuration order.
fn offer_order(up: &[bool], call_hash: u64) -> Vec<NodeId> {
    let ids = |want: bool| -> Vec<NodeId> {
        up.iter()
            .enumerate()
            .filter(|&(_, &u)| u == want)
            .filter_map(|(i, _)| u16::try_from(i).ok().map(NodeId))
            .collect()
    };
    let rotated = |mut v: Vec<NodeId>| {
        if let Ok(len) = u64::try_from(v.len()) {
            if len > 0 {
                // The remainder is below the length, a usize.
                let start = usize::try_from(call_hash % len).unwrap_or(0);
                v.rotate_left(start);
            }
        }
        v
    };
    let mut order = rotated(ids(true));
    order.extend(rotated(ids(false)));
    order
}

/// A stable hash of a Call-ID (FNV-1a), for [`MediaNodes::offer`]: the
/// same call lands on the same node from any sip-control instance.
pub fn call_hash(call_id: &str) -> u64 {
    call_id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
#[path = "nodes_tests.rs"]
mod tests;

//! Each node's health (up or down, last ping round trip, failures), and
//! the task that pings every node to keep it current.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::commands;
use super::nodes::{MediaNodes, NodeId};

/// "No round trip measured yet" in [`Health::rtt_us`].
const NO_RTT: u64 = u64::MAX;

/// One node's health, updated by requests and pings from any task.
#[derive(Debug)]
pub struct Health {
    up: AtomicBool,
    rtt_us: AtomicU64,
    failures: AtomicU64,
}

impl Default for Health {
    /// A node starts up: calls may use it before the first ping.
    fn default() -> Self {
        Self {
            up: AtomicBool::new(true),
            rtt_us: AtomicU64::new(NO_RTT),
            failures: AtomicU64::new(0),
        }
    }
}

impl Health {
    /// Whether the node answered its last request or ping.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// The last ping's round trip.
    pub fn rtt(&self) -> Option<Duration> {
        match self.rtt_us.load(Ordering::Relaxed) {
            NO_RTT => None,
            us => Some(Duration::from_micros(us)),
        }
    }

    /// Requests and pings that got no usable reply.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Marks the node up; true if it was down.
    pub fn mark_up(&self) -> bool {
        !self.up.swap(true, Ordering::Relaxed)
    }

    /// Counts a failure and marks the node down; true if it was up.
    pub fn mark_down(&self) -> bool {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.up.swap(false, Ordering::Relaxed)
    }

    /// Counts a failure that says nothing about reachability.
    pub fn count_failure(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    fn set_rtt(&self, rtt: Duration) {
        let us = u64::try_from(rtt.as_micros()).unwrap_or(NO_RTT - 1);
        self.rtt_us.store(us.min(NO_RTT - 1), Ordering::Relaxed);
    }
}

impl MediaNodes {
    /// Pings every node every `ping_interval` until `cancel` fires: a node
    /// that answers is up (with its round trip noted), one that times out
    /// or fails is down. The first pings go out at once. Must be called
    /// within a tokio runtime.
    pub fn spawn_health_checks(self: &Arc<Self>, cancel: CancellationToken) -> JoinHandle<()> {
        let nodes = Arc::clone(self);
        tokio::spawn(async move {
            let mut set = JoinSet::new();
            for id in nodes.ids() {
                set.spawn(ping_loop(Arc::clone(&nodes), id, cancel.clone()));
            }
            cancel.cancelled().await;
            set.shutdown().await;
        })
    }

    /// Pings `id` once and records the outcome: up with its round trip
    /// if it answered, down if it did not (or answered with an error).
    pub async fn ping(&self, id: NodeId) -> Option<Duration> {
        let start = Instant::now();
        let (result, node) = self.send(id, commands::ping()).await;
        let node = node?;
        match result {
            Ok(_) => {
                node.health.set_rtt(start.elapsed());
                if node.health.mark_up() {
                    tracing::info!(node = %node.name, "media node is up again");
                }
                node.health.rtt()
            }
            Err(e) => {
                if node.health.mark_down() {
                    tracing::warn!(node = %node.name, error = %e, "media node is down");
                }
                None
            }
        }
    }
}

async fn ping_loop(nodes: Arc<MediaNodes>, id: NodeId, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(nodes.ping_interval().max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = nodes.ping(id) => {}
        }
    }
}

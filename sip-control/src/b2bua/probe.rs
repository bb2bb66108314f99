//! OPTIONS health probes of every platform target (and of trunk proxies,
//! for their round-trip time). A target that does not answer within
//! `target-timeout` is down and tried last; one that answers anything is up.
//! A platform with `probe-interval = "0s"` is not probed.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rsipstack::sip::{typed, Method, Param, SipMessage, Uri};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::make_tag;
use rsipstack::transaction::transaction::Transaction;
use tokio_util::sync::CancellationToken;

use super::{uri, Shared};
use crate::media::NodeStatus;
use crate::ops::metrics::Metrics;

/// Probe results per target URI (as written in the config).
#[derive(Debug, Default)]
pub struct TargetHealth {
    states: RwLock<HashMap<String, bool>>,
}

impl TargetHealth {
    /// The targets in configured order, healthy (or not yet probed) first.
    pub fn in_order(&self, targets: &[String]) -> Vec<String> {
        let states = self.states.read().unwrap_or_else(|p| p.into_inner());
        let up = |t: &String| states.get(t).copied().unwrap_or(true);
        let mut ordered: Vec<String> = targets.iter().filter(|t| up(t)).cloned().collect();
        ordered.extend(targets.iter().filter(|t| !up(t)).cloned());
        ordered
    }

    /// Records a probe result; returns whether the state changed.
    pub fn record(&self, target: &str, up: bool) -> bool {
        let mut states = self.states.write().unwrap_or_else(|p| p.into_inner());
        states.insert(target.to_owned(), up) != Some(up)
    }
}

/// Probes every target at its platform's interval until cancelled.
pub async fn run(shared: Arc<Shared>, cancel: CancellationToken) {
    let mut next_due: HashMap<String, Instant> = HashMap::new();
    loop {
        let runtime = shared.runtime();
        let timeout = runtime.config.sip.target_timeout;
        let now = Instant::now();
        let mut jobs = Vec::new();
        for platform in &runtime.config.platforms {
            if platform.probe_interval.is_zero() {
                continue;
            }
            for target in &platform.targets {
                let due = next_due.entry(target.clone()).or_insert(now);
                if *due <= now {
                    *due = now + platform.probe_interval;
                    jobs.push(("target", target.clone()));
                }
            }
        }
        for trunk in &runtime.config.trunks {
            if let Some(proxy) = &trunk.proxy {
                let due = next_due.entry(proxy.clone()).or_insert(now);
                if *due <= now {
                    *due = now + Duration::from_secs(30);
                    jobs.push(("trunk", proxy.clone()));
                }
            }
        }
        for (kind, target) in jobs {
            let shared = shared.clone();
            tokio::spawn(async move {
                let endpoint = shared.dialogs.endpoint.clone();
                let started = Instant::now();
                let answered = match uri::parse(&target) {
                    Some(to) => {
                        tokio::time::timeout(timeout, options(&endpoint, to, &shared.contact))
                            .await
                            .unwrap_or(false)
                    }
                    None => false,
                };
                let label = [(kind, target.as_str())];
                if answered {
                    shared.metrics.observe(
                        "sluice_sip_options_rtt_seconds",
                        &label,
                        started.elapsed(),
                    );
                }
                if kind == "target" {
                    shared.metrics.set(
                        "sluice_sip_target_up",
                        &label,
                        if answered { 1.0 } else { 0.0 },
                    );
                    if shared.health.record(&target, answered) {
                        tracing::info!(%target, up = answered, "target health changed");
                    }
                }
            });
        }
        for node in runtime.media.snapshot() {
            export_node(&shared.metrics, &node);
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}

/// One media node's health and NG counters as metrics.
fn export_node(metrics: &Metrics, node: &NodeStatus) {
    let label = [("node", node.name.as_str())];
    metrics.set(
        "sluice_sip_media_node_up",
        &label,
        f64::from(u8::from(node.up)),
    );
    if let Some(rtt) = node.rtt {
        metrics.set("sluice_sip_ng_rtt_seconds", &label, rtt.as_secs_f64());
    }
    metrics.set("sluice_sip_ng_in_flight", &label, node.in_flight as f64);
    metrics.set_counter("sluice_sip_ng_retransmits_total", &label, node.retransmits);
    metrics.set_counter("sluice_sip_ng_failures_total", &label, node.failures);
}

/// Sends one OPTIONS; true when any final response comes back.
async fn options(endpoint: &EndpointInnerRef, target: Uri, contact: &Uri) -> bool {
    let Ok(via) = endpoint.get_via(None, None) else {
        return false;
    };
    let from = typed::From {
        display_name: None,
        uri: contact.clone(),
        params: vec![Param::Tag(make_tag())],
    };
    let to = typed::To {
        display_name: None,
        uri: target.clone(),
        params: vec![],
    };
    let request = endpoint.make_request(Method::Options, target, via, from, to, 1, None);
    let Ok(key) = TransactionKey::from_request(&request, TransactionRole::Client) else {
        return false;
    };
    let mut tx = Transaction::new_client(key, request, endpoint.clone(), None);
    if tx.send().await.is_err() {
        return false;
    }
    while let Some(message) = tx.receive().await {
        if let SipMessage::Response(response) = message {
            if response.status_code.code() >= 200 {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_targets_go_last_in_configured_order() {
        let health = TargetHealth::default();
        let targets: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(health.in_order(&targets), targets);
        assert!(health.record("a", false));
        assert!(!health.record("a", false));
        assert_eq!(health.in_order(&targets), ["b", "c", "a"]);
        health.record("a", true);
        assert_eq!(health.in_order(&targets), targets);
    }
}

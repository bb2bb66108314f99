//! Prometheus metrics of the signaling plane: counters by label set, gauges
//! and histograms, written in the text exposition format.
//!
//! Updated per SIP event (never per media packet), so one mutex is enough.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Buckets of the time-to-first-audio histogram (seconds).
const TTFA_BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0,
];
/// Buckets of the OPTIONS round-trip histogram (seconds).
const RTT_BUCKETS: [f64; 8] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5];

type Labels = Vec<(&'static str, String)>;

#[derive(Debug, Default)]
struct Histogram {
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Families {
    counters: BTreeMap<&'static str, BTreeMap<Labels, u64>>,
    gauges: BTreeMap<&'static str, BTreeMap<Labels, f64>>,
    histograms: BTreeMap<&'static str, BTreeMap<Labels, Histogram>>,
}

/// All metrics of one sip-control process.
#[derive(Debug, Default)]
pub struct Metrics {
    families: Mutex<Families>,
}

/// Help text and type of each family, in output order.
const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "sluice_sip_calls_total",
        "counter",
        "Calls received from trunks.",
    ),
    (
        "sluice_sip_calls_answered_total",
        "counter",
        "Calls answered by a platform target.",
    ),
    (
        "sluice_sip_call_failures_total",
        "counter",
        "Calls that ended without being answered, by cause.",
    ),
    ("sluice_sip_active_calls", "gauge", "Calls in progress."),
    (
        "sluice_sip_allowlist_drops_total",
        "counter",
        "Requests (UDP datagrams, TCP/TLS connections) from sources outside every allowlist.",
    ),
    (
        "sluice_sip_rate_limited_total",
        "counter",
        "Messages dropped at the gate, by reason: rate-limited, locked-out, oversize, malformed.",
    ),
    (
        "sluice_sip_auth_failures_total",
        "counter",
        "Digest authentication failures, by trunk and reason.",
    ),
    (
        "sluice_sip_lockouts_total",
        "counter",
        "Sources locked out after repeated digest failures.",
    ),
    (
        "sluice_sip_target_failovers_total",
        "counter",
        "Targets given up on, by target and cause.",
    ),
    (
        "sluice_sip_target_up",
        "gauge",
        "1 when the target answers OPTIONS probes.",
    ),
    (
        "sluice_sip_options_rtt_seconds",
        "histogram",
        "OPTIONS probe round-trip time per target or trunk.",
    ),
    (
        "sluice_sip_media_node_up",
        "gauge",
        "1 when the media node answers NG ping.",
    ),
    (
        "sluice_sip_ng_rtt_seconds",
        "gauge",
        "The media node's last NG ping round trip.",
    ),
    (
        "sluice_sip_ng_in_flight",
        "gauge",
        "NG requests waiting for the media node's reply.",
    ),
    (
        "sluice_sip_ng_retransmits_total",
        "counter",
        "NG requests sent to the media node again after no reply.",
    ),
    (
        "sluice_sip_ng_failures_total",
        "counter",
        "NG requests and pings the media node gave no usable reply to.",
    ),
    (
        "sluice_sip_ttfa_seconds",
        "histogram",
        "INVITE received to the first media packet from the platform.",
    ),
    (
        "sluice_sip_dtmf_total",
        "counter",
        "DTMF digits carried, by how.",
    ),
    (
        "sluice_sip_transfers_total",
        "counter",
        "Transfers, by mode and result.",
    ),
    (
        "sluice_sip_registrations_total",
        "counter",
        "Outbound REGISTER results, by trunk.",
    ),
    (
        "sluice_sip_trunk_registered",
        "gauge",
        "1 while the trunk's last outbound REGISTER succeeded and has not lapsed.",
    ),
];

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        self.add(name, labels, 1);
    }

    /// Adds `n` to a counter.
    pub fn add(&self, name: &'static str, labels: &[(&'static str, &str)], n: u64) {
        let mut families = self.lock();
        *families
            .counters
            .entry(name)
            .or_default()
            .entry(own(labels))
            .or_default() += n;
    }

    /// Sets a counter to a total kept elsewhere (e.g. an NG client's).
    pub fn set_counter(&self, name: &'static str, labels: &[(&'static str, &str)], total: u64) {
        let mut families = self.lock();
        families
            .counters
            .entry(name)
            .or_default()
            .insert(own(labels), total);
    }

    /// Sets a gauge.
    pub fn set(&self, name: &'static str, labels: &[(&'static str, &str)], value: f64) {
        let mut families = self.lock();
        families
            .gauges
            .entry(name)
            .or_default()
            .insert(own(labels), value);
    }

    /// Adds `delta` to a gauge.
    pub fn add_gauge(&self, name: &'static str, labels: &[(&'static str, &str)], delta: f64) {
        let mut families = self.lock();
        *families
            .gauges
            .entry(name)
            .or_default()
            .entry(own(labels))
            .or_default() += delta;
    }

    /// Records a duration in a histogram.
    pub fn observe(&self, name: &'static str, labels: &[(&'static str, &str)], value: Duration) {
        let seconds = value.as_secs_f64();
        let bounds = buckets_of(name);
        let mut families = self.lock();
        let histogram = families
            .histograms
            .entry(name)
            .or_default()
            .entry(own(labels))
            .or_insert_with(|| Histogram {
                buckets: vec![0; bounds.len()],
                ..Histogram::default()
            });
        for (count, bound) in histogram.buckets.iter_mut().zip(bounds) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        histogram.sum += seconds;
        histogram.count += 1;
    }

    /// The value of a counter (tests and the CDR use it).
    pub fn counter(&self, name: &'static str, labels: &[(&'static str, &str)]) -> u64 {
        let families = self.lock();
        families
            .counters
            .get(name)
            .and_then(|family| family.get(&own(labels)))
            .copied()
            .unwrap_or(0)
    }

    /// Every metric in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let families = self.lock();
        let mut out = String::with_capacity(4096);
        for (name, kind, help) in FAMILIES {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            if let Some(family) = families.counters.get(name) {
                for (labels, value) in family {
                    let _ = writeln!(out, "{name}{} {value}", render_labels(labels, None));
                }
            }
            if let Some(family) = families.gauges.get(name) {
                for (labels, value) in family {
                    let _ = writeln!(out, "{name}{} {value}", render_labels(labels, None));
                }
            }
            if let Some(family) = families.histograms.get(name) {
                for (labels, histogram) in family {
                    for (count, bound) in histogram.buckets.iter().zip(buckets_of(name)) {
                        let le = bound.to_string();
                        let labels = render_labels(labels, Some(&le));
                        let _ = writeln!(out, "{name}_bucket{labels} {count}");
                    }
                    let all = render_labels(labels, Some("+Inf"));
                    let plain = render_labels(labels, None);
                    let _ = writeln!(out, "{name}_bucket{all} {}", histogram.count);
                    let _ = writeln!(out, "{name}_sum{plain} {}", histogram.sum);
                    let _ = writeln!(out, "{name}_count{plain} {}", histogram.count);
                }
            }
        }
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Families> {
        // A panic while holding the lock leaves counters that are still valid.
        self.families.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn buckets_of(name: &str) -> &'static [f64] {
    if name == "sluice_sip_ttfa_seconds" {
        &TTFA_BUCKETS
    } else {
        &RTT_BUCKETS
    }
}

fn own(labels: &[(&'static str, &str)]) -> Labels {
    labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

fn render_labels(labels: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("{key}=\"{}\"", escape(value)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_gauges_and_histograms_render_in_text_format() {
        let metrics = Metrics::default();
        metrics.inc("sluice_sip_calls_total", &[("trunk", "carrier")]);
        metrics.add("sluice_sip_calls_total", &[("trunk", "carrier")], 2);
        metrics.set("sluice_sip_target_up", &[("target", "sip:a\"b")], 1.0);
        metrics.observe(
            "sluice_sip_ttfa_seconds",
            &[("route", "+1555")],
            Duration::from_millis(250),
        );
        let text = metrics.render();
        assert!(
            text.contains("sluice_sip_calls_total{trunk=\"carrier\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("sluice_sip_target_up{target=\"sip:a\\\"b\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("sluice_sip_ttfa_seconds_bucket{route=\"+1555\",le=\"0.2\"} 0\n"));
        assert!(text.contains("sluice_sip_ttfa_seconds_bucket{route=\"+1555\",le=\"0.3\"} 1\n"));
        assert!(text.contains("sluice_sip_ttfa_seconds_count{route=\"+1555\"} 1\n"));
        assert!(text.contains("# TYPE sluice_sip_ttfa_seconds histogram\n"));
        assert_eq!(
            metrics.counter("sluice_sip_calls_total", &[("trunk", "carrier")]),
            3
        );
        assert_eq!(
            metrics.counter("sluice_sip_calls_total", &[("trunk", "x")]),
            0
        );
    }
}

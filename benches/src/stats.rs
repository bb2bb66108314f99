//! Counters and latency histograms kept per thread and merged at the end.

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::transcode::RxExtra;

/// Highest latency the histogram can hold: 60 s in ns.
const MAX_NS: u64 = 60_000_000_000;

/// A fresh nanosecond latency histogram (3 significant digits).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NS, 3).expect("constant bounds are valid")
}

/// What one sender thread did inside the measuring window.
#[derive(Debug, Clone, Default)]
pub struct TxStats {
    /// Packets sent per stream (indexed by global stream id).
    pub sent: Vec<u64>,
    /// Sends the kernel refused (EAGAIN, ENOBUFS, ...).
    pub send_errors: u64,
    /// Worst lateness of a send behind its schedule, ns.
    pub max_lag_ns: u64,
}

/// What one receiver thread saw.
#[derive(Debug, Clone)]
pub struct RxStats {
    /// Probes received per stream whose send time lies in the window.
    pub received: Vec<u64>,
    /// One-way latency of those probes, ns.
    pub latency: Histogram<u64>,
    /// Probes that arrived on the wrong leg (the relay crossed calls).
    pub misrouted: u64,
    /// Datagrams that were not our probes, and receive errors.
    pub foreign: u64,
    /// Datagrams that failed SRTP unprotect (`--srtp`), over the whole run
    /// (their send time is unreadable); not counted as received.
    pub srtp_errors: u64,
    /// Datagrams still queued at our sockets when the drain ended (read
    /// by a final sweep): how far this tool's receiver fell behind.
    pub swept: u64,
    /// Per-direction figures of a `--transcode` receiver.
    pub transcode: Option<Box<RxExtra>>,
}

impl RxStats {
    /// Empty stats for `streams` streams.
    pub fn new(streams: usize) -> Self {
        Self {
            received: vec![0; streams],
            latency: new_histogram(),
            misrouted: 0,
            foreign: 0,
            srtp_errors: 0,
            swept: 0,
            transcode: None,
        }
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest.
    pub max_us: f64,
    /// Mean.
    pub mean_us: f64,
}

impl Latency {
    /// Summarises a nanosecond histogram.
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        let us = |ns: u64| ns as f64 / 1000.0;
        if h.is_empty() {
            return Self::default();
        }
        Self {
            count: h.len(),
            p50_us: us(h.value_at_quantile(0.50)),
            p90_us: us(h.value_at_quantile(0.90)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
            mean_us: h.mean() / 1000.0,
        }
    }
}

/// All threads' counters merged.
#[derive(Debug, Clone)]
pub struct Totals {
    /// Packets sent in the window.
    pub sent: u64,
    /// Of those, received.
    pub received: u64,
    /// Streams that lost at least one packet.
    pub streams_with_loss: u64,
    /// See [`TxStats::send_errors`].
    pub send_errors: u64,
    /// See [`RxStats::misrouted`].
    pub misrouted: u64,
    /// See [`RxStats::foreign`].
    pub foreign: u64,
    /// See [`RxStats::srtp_errors`].
    pub srtp_errors: u64,
    /// Worst sender lag, ns.
    pub max_lag_ns: u64,
    /// See [`RxStats::swept`].
    pub swept: u64,
    /// Latency summary.
    pub latency: Latency,
    /// Sent per direction: `[0]` by callers (even streams), `[1]` by callees.
    pub sent_by_direction: [u64; 2],
    /// Received per direction, as `sent_by_direction`.
    pub received_by_direction: [u64; 2],
    /// The transcoding receivers' figures, merged (`--transcode` only).
    pub transcode: Option<RxExtra>,
}

/// Merges per-thread stats.
pub fn merge(streams: usize, tx: &[TxStats], rx: &[RxStats]) -> Totals {
    let mut sent = vec![0u64; streams];
    let mut received = vec![0u64; streams];
    let mut hist = new_histogram();
    let (mut send_errors, mut misrouted, mut foreign, mut max_lag_ns, mut swept) = (0, 0, 0, 0, 0);
    let mut srtp_errors = 0;
    let mut transcode: Option<RxExtra> = None;
    for t in tx {
        for (s, v) in sent.iter_mut().zip(&t.sent) {
            *s += v;
        }
        send_errors += t.send_errors;
        max_lag_ns = max_lag_ns.max(t.max_lag_ns);
    }
    for r in rx {
        for (s, v) in received.iter_mut().zip(&r.received) {
            *s += v;
        }
        hist.add(&r.latency).expect("histograms share bounds");
        misrouted += r.misrouted;
        foreign += r.foreign;
        srtp_errors += r.srtp_errors;
        swept += r.swept;
        if let Some(x) = &r.transcode {
            match &mut transcode {
                Some(t) => t.merge(x),
                None => transcode = Some((**x).clone()),
            }
        }
    }
    let by_direction = |v: &[u64]| {
        let mut out = [0u64; 2];
        for (i, n) in v.iter().enumerate() {
            out[i % 2] += n;
        }
        out
    };
    let streams_with_loss = sent.iter().zip(&received).filter(|(s, r)| r < s).count() as u64;
    Totals {
        sent: sent.iter().sum(),
        received: received.iter().sum(),
        streams_with_loss,
        send_errors,
        misrouted,
        foreign,
        srtp_errors,
        max_lag_ns,
        swept,
        latency: Latency::from_histogram(&hist),
        sent_by_direction: by_direction(&sent),
        received_by_direction: by_direction(&received),
        transcode,
    }
}

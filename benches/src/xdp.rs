//! Did the XDP relay really offload? NG `query` per call, reading the
//! `XDP` dictionary media-core adds to each offloaded stream
//! (`{active, packets, bytes}`).

use anyhow::{Context, Result};
use serde::Serialize;
use sluice_ng::client::Client;
use sluice_ng::{Dict, Value};

use crate::ng::CallIds;

/// XDP state summed over some calls' RTP streams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct XdpCount {
    /// Calls queried.
    pub calls: usize,
    /// Calls whose query failed (not counted below).
    pub query_errors: usize,
    /// RTP streams in the replies (two per call: one per leg's socket).
    pub rtp_streams: u64,
    /// Of those, with `XDP.active` set.
    pub active: u64,
    /// `XDP.packets` summed: packets the kernel forwarded for them.
    pub xdp_packets: u64,
    /// `stats.packets` of the same streams (as the relay reports them).
    pub stats_packets: u64,
}

impl XdpCount {
    fn add(&mut self, other: Self) {
        self.calls += other.calls;
        self.query_errors += other.query_errors;
        self.rtp_streams += other.rtp_streams;
        self.active += other.active;
        self.xdp_packets += other.xdp_packets;
        self.stats_packets += other.stats_packets;
    }
}

/// The two readings of one point.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct XdpCheck {
    /// A sample of calls just before the measuring window (after warm-up).
    pub at_window_start: XdpCount,
    /// Every call after the drain, before tear-down (whole-run counters).
    pub after_run: XdpCount,
}

fn int(d: &Dict, key: &str) -> u64 {
    d.get(key)
        .and_then(Value::as_int)
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(0)
}

/// Counts the RTP streams of one `query` reply and their XDP state.
pub fn count_reply(reply: &Dict) -> XdpCount {
    let mut c = XdpCount {
        calls: 1,
        ..XdpCount::default()
    };
    let Some(tags) = reply.get("tags").and_then(Value::as_dict) else {
        return c;
    };
    for (_, leg) in tags.iter() {
        let medias = leg
            .as_dict()
            .and_then(|l| l.get("medias"))
            .and_then(Value::as_list)
            .unwrap_or(&[]);
        for media in medias {
            let streams = media
                .as_dict()
                .and_then(|m| m.get("streams"))
                .and_then(Value::as_list)
                .unwrap_or(&[]);
            for stream in streams.iter().filter_map(Value::as_dict) {
                let is_rtp = stream
                    .get("flags")
                    .and_then(Value::as_list)
                    .is_some_and(|f| f.iter().any(|v| v.as_str() == Some("RTP")));
                if !is_rtp {
                    continue;
                }
                c.rtp_streams += 1;
                if let Some(stats) = stream.get("stats").and_then(Value::as_dict) {
                    c.stats_packets += int(stats, "packets");
                }
                if let Some(x) = stream.get("XDP").and_then(Value::as_dict) {
                    c.active += u64::from(int(x, "active") != 0);
                    c.xdp_packets += int(x, "packets");
                }
            }
        }
    }
    c
}

fn query(client: &mut Client, call: &CallIds) -> Result<Dict> {
    let req = Dict::new()
        .with("command", "query")
        .with("call-id", call.call_id.as_str());
    let reply = client.request(&req).context("query")?;
    match reply.get("result").and_then(Value::as_str) {
        Some("ok") => Ok(reply),
        other => anyhow::bail!("query: result {other:?}"),
    }
}

/// Queries `calls` one after another and sums their XDP state.
pub fn count(client: &mut Client, calls: &[&CallIds]) -> XdpCount {
    let mut total = XdpCount::default();
    for call in calls {
        match query(client, call) {
            Ok(reply) => total.add(count_reply(&reply)),
            Err(_) => {
                total.calls += 1;
                total.query_errors += 1;
            }
        }
    }
    total
}

/// Up to `n` calls spread evenly over `ids`.
pub fn sample(ids: &[CallIds], n: usize) -> Vec<&CallIds> {
    if ids.len() <= n {
        return ids.iter().collect();
    }
    (0..n).map(|k| &ids[k * ids.len() / n]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(flags: &[&str], packets: i64, xdp: Option<(i64, i64)>) -> Value {
        let flags: Vec<Value> = flags.iter().map(|&f| f.into()).collect();
        let mut d = Dict::new().with("flags", flags).with(
            "stats",
            Dict::new().with("packets", packets).with("bytes", 0i64),
        );
        if let Some((active, p)) = xdp {
            d.insert(
                "XDP",
                Dict::new()
                    .with("active", active)
                    .with("packets", p)
                    .with("bytes", p * 172),
            );
        }
        d.into()
    }

    fn leg(streams: Vec<Value>) -> Dict {
        let media: Value = Dict::new().with("streams", streams).into();
        Dict::new().with("medias", vec![media])
    }

    #[test]
    fn counts_active_rtp_streams() {
        let a = leg(vec![
            stream(&["RTP", "RTCP-mux"], 600, Some((1, 599))),
            stream(&["RTCP"], 0, None),
        ]);
        let b = leg(vec![
            stream(&["RTP"], 600, None),
            stream(&["RTCP"], 0, None),
        ]);
        let reply = Dict::new()
            .with("result", "ok")
            .with("tags", Dict::new().with("a0", a).with("b0", b));
        assert_eq!(
            count_reply(&reply),
            XdpCount {
                calls: 1,
                query_errors: 0,
                rtp_streams: 2,
                active: 1,
                xdp_packets: 599,
                stats_packets: 1200,
            }
        );
    }

    #[test]
    fn samples_spread_calls() {
        let ids: Vec<CallIds> = (0..10).map(|i| CallIds::new(0, i)).collect();
        let s: Vec<&str> = sample(&ids, 3).iter().map(|c| c.to_tag.as_str()).collect();
        assert_eq!(s, ["b0", "b3", "b6"]);
        assert_eq!(sample(&ids, 20).len(), 10);
    }
}

//! NG replies that report on calls: `query`, `delete`, `list`,
//! `statistics`, in the shapes Kamailio's and OpenSIPS's modules read
//! (`totals: {RTP: {packets, bytes, errors}, RTCP: {...}}`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sluice_ebpf_common::Outcome;
use sluice_ng::{Dict, Value};

use super::call::{Call, Side};
use super::engine::EngineCounters;
use crate::relay::{Counter, DropReason, SocketKey, StreamStats};

/// Converts monotonic instants to wall-clock seconds for replies.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    instant: Instant,
    system: SystemTime,
}

impl WallClock {
    /// Pairs a monotonic and a wall-clock reading taken together.
    pub fn new(instant: Instant, system: SystemTime) -> Self {
        Self { instant, system }
    }

    /// The wall-clock time at `t`.
    fn at(&self, t: Instant) -> Duration {
        let at = if t >= self.instant {
            self.system + (t - self.instant)
        } else {
            self.system - (self.instant - t)
        };
        at.duration_since(UNIX_EPOCH).unwrap_or_default()
    }

    /// Unix seconds at `t`.
    pub fn unix(&self, t: Instant) -> i64 {
        i64::try_from(self.at(t).as_secs()).unwrap_or(i64::MAX)
    }

    /// Microseconds since the Unix epoch at `t`.
    pub fn unix_us(&self, t: Instant) -> i64 {
        i64::try_from(self.at(t).as_micros()).unwrap_or(i64::MAX)
    }
}

fn counter(c: Counter, errors: u64) -> Dict {
    Dict::new()
        .with("packets", c.packets)
        .with("bytes", c.bytes)
        .with("errors", errors)
}

fn endpoint(addr: SocketAddr) -> Dict {
    Dict::new()
        .with("family", if addr.is_ipv4() { "IPv4" } else { "IPv6" })
        .with("address", addr.ip().to_string())
        .with("port", addr.port())
}

fn drops(stats: &StreamStats) -> Dict {
    let mut d = Dict::new();
    for reason in DropReason::ALL {
        d.insert(reason.name(), stats.drops_for(reason));
    }
    d
}

/// Sums of a call's (or many calls') counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    /// RTP forwarded.
    pub rtp: Counter,
    /// RTP-socket drops.
    pub rtp_errors: u64,
    /// RTCP forwarded.
    pub rtcp: Counter,
    /// RTCP-socket drops.
    pub rtcp_errors: u64,
}

impl Totals {
    /// Adds one RTP-role and/or RTCP-role socket's counters.
    pub fn add(&mut self, stats: &StreamStats, is_rtcp_socket: bool) {
        self.rtp = self.rtp.plus(stats.rtp);
        self.rtcp = self.rtcp.plus(stats.rtcp);
        if is_rtcp_socket {
            self.rtcp_errors += stats.errors();
        } else {
            self.rtp_errors += stats.errors();
        }
    }

    /// The NG `totals` dictionary.
    pub fn to_dict(self) -> Dict {
        Dict::new()
            .with("RTP", counter(self.rtp, self.rtp_errors))
            .with("RTCP", counter(self.rtcp, self.rtcp_errors))
    }
}

/// Renders a call and its counters: the body of `query` and `delete` replies.
pub fn call_report(
    call: &Call,
    stats: &HashMap<SocketKey, StreamStats>,
    clock: &WallClock,
) -> Dict {
    let mut tags = Dict::new();
    let mut totals = Totals::default();
    for (leg_index, leg) in call.legs.iter().enumerate() {
        let Some(tag) = &leg.tag else {
            // No tag to list the streams under, but they count.
            for side in call.media.iter().map(|m| &m.sides[leg_index]) {
                for (key, is_rtcp) in [(side.rtp, false), (side.rtcp, true)] {
                    totals.add(&stats.get(&key).copied().unwrap_or_default(), is_rtcp);
                }
            }
            continue;
        };
        let mut medias = Vec::new();
        for pair in &call.media {
            let side = &pair.sides[leg_index];
            let streams: Vec<Value> = [(side.rtp, false), (side.rtcp, true)]
                .into_iter()
                .map(|(key, is_rtcp)| {
                    let s = stats.get(&key).copied().unwrap_or_default();
                    totals.add(&s, is_rtcp);
                    stream_report(side, key, is_rtcp, &s, clock).into()
                })
                .collect();
            let mut media = Dict::new()
                .with("index", pair.index + 1)
                .with("type", pair.kind.as_str())
                .with("protocol", side.protocol.as_str())
                .with("streams", streams);
            if let Some(srtp) = srtp_report(side) {
                media.insert("SRTP", srtp);
            }
            medias.push(media.into());
        }
        let mut leg_dict = Dict::new().with("tag", tag.as_str()).with("medias", medias);
        if let Some(created) = leg.created {
            leg_dict.insert("created", clock.unix(created));
        }
        if let Some(peer) = &call.legs[1 - leg_index].tag {
            leg_dict.insert("in dialogue with", peer.as_str());
        }
        tags.insert(tag, leg_dict);
    }
    Dict::new()
        .with("created", clock.unix(call.created))
        .with("created_us", clock.unix_us(call.created))
        .with("last signal", clock.unix(call.last_signal))
        .with("tags", tags)
        .with("totals", totals.to_dict())
}

/// How a leg's SRTP is handled: the suites the relay receives and sends
/// with, or `pass-through` when the two ends share keys.
fn srtp_report(side: &Side) -> Option<Dict> {
    if !super::sdes::is_srtp(&side.protocol) {
        return None;
    }
    let (rx, tx) = (side.sdes.rx, side.sdes.tx);
    if rx.is_none() && tx.is_none() {
        return Some(Dict::new().with("mode", "pass-through"));
    }
    let mut d = Dict::new().with("mode", "re-encrypt");
    if let Some(rx) = rx {
        d.insert("receive suite", rx.suite().name());
    }
    if let Some(tx) = tx {
        d.insert("send suite", tx.suite().name());
    }
    Some(d)
}

fn stream_report(
    side: &Side,
    key: SocketKey,
    is_rtcp: bool,
    s: &StreamStats,
    clock: &WallClock,
) -> Dict {
    let mut flags: Vec<Value> = vec![if is_rtcp { "RTCP" } else { "RTP" }.into()];
    if !is_rtcp && side.rtcp_mux {
        flags.push("RTCP-mux".into());
    }
    let counters = if is_rtcp { s.rtcp } else { s.rtp.plus(s.rtcp) };
    let mut d = Dict::new()
        .with("local port", key.port())
        .with("flags", flags)
        .with("stats", counter(counters, s.errors()))
        .with("drops", drops(s));
    let advertised = if is_rtcp {
        side.remote_rtcp
    } else {
        side.remote_rtp
    };
    if let Some(a) = advertised {
        d.insert("advertised endpoint", endpoint(a));
    }
    if let Some(e) = s.latched.or(advertised) {
        d.insert("endpoint", endpoint(e));
    }
    if let Some(t) = s.first_packet {
        d.insert("first_packet_us", clock.unix_us(t));
    }
    if let Some(t) = s.last_packet {
        d.insert("last packet", clock.unix(t));
    }
    if s.transcoded.packets > 0 {
        // What the transcoder produced and this socket sent to its leg
        // (`stats` counts what arrived from the leg).
        d.insert("transcoded", counter(s.transcoded, 0));
    }
    if s.xdp_active || s.xdp.packets > 0 {
        // The part of `stats` the XDP fast path forwarded in the kernel.
        d.insert(
            "XDP",
            Dict::new()
                .with("active", i64::from(s.xdp_active))
                .with("packets", s.xdp.packets)
                .with("bytes", s.xdp.bytes),
        );
    }
    d
}

/// The `list` reply body.
pub fn call_list<'a>(calls: impl Iterator<Item = &'a Call>, limit: usize) -> Dict {
    let ids: Vec<Value> = calls
        .take(limit)
        .map(|c| c.call_id.as_str().into())
        .collect();
    Dict::new().with("calls", ids)
}

/// The XDP program's packets by outcome since it was loaded (`forwarded`
/// and `passed` sums, and every reason), for `statistics`.
pub fn xdp_outcomes(outcomes: &[u64; Outcome::COUNT as usize]) -> Dict {
    let forwarded =
        outcomes[Outcome::Redirected as usize] + outcomes[Outcome::Transmitted as usize];
    let total: u64 = outcomes.iter().sum();
    let mut by_outcome = Dict::new();
    for outcome in Outcome::ALL {
        by_outcome.insert(outcome.name(), outcomes[outcome as usize]);
    }
    Dict::new()
        .with("forwarded", forwarded)
        .with("passed", total - forwarded)
        .with("outcomes", by_outcome)
}

/// The `statistics` reply body.
pub fn statistics(
    calls: usize,
    counters: &EngineCounters,
    totals: Totals,
    uptime: Duration,
) -> Dict {
    let current = Dict::new()
        .with("sessionsown", calls)
        .with("sessionsforeign", 0u64)
        .with("sessionstotal", calls)
        .with("transcodedmedia", 0u64)
        // Counters of the calls that exist now (they leave with the call).
        .with("totals", totals.to_dict());
    let total = Dict::new()
        .with("uptime", uptime.as_secs())
        .with("managedsessions", counters.calls_created)
        .with("timeoutsessions", counters.calls_timed_out)
        .with("deletedsessions", counters.calls_deleted)
        .with("rejectedsessions", counters.load_limited)
        .with("ngerrors", counters.ng_errors)
        .with("ngmalformed", counters.ng_malformed);
    Dict::new().with(
        "statistics",
        Dict::new()
            .with("currentstatistics", current)
            .with("totalstatistics", total),
    )
}

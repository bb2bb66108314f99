//! NG requests the tests send, and readers for the reply keys they check.
//!
//! Every reply key a test depends on is read here, in one named function,
//! so a relay that spells a key differently is adjusted in one place.

use sluice_ng::client::Client;
use sluice_ng::{Dict, Value};

/// Flags every offer/answer in these tests carries (what Kamailio sends for
/// `replace-origin replace-session-connection ICE=remove`).
fn media_keys(d: Dict) -> Dict {
    d.with(
        "replace",
        Value::from(vec![
            Value::from("origin"),
            Value::from("session-connection"),
        ]),
    )
    .with("ICE", "remove")
}

/// A list of strings as an NG value.
pub fn str_list(items: &[&str]) -> Value {
    Value::from(items.iter().map(|s| Value::from(*s)).collect::<Vec<_>>())
}

/// Sends `req`, panicking with `what` on a transport failure.
pub fn send(client: &mut Client, req: &Dict, what: &str) -> Dict {
    client
        .request(req)
        .unwrap_or_else(|e| panic!("NG {what}: {e}"))
}

/// The reply's `result` (`ok`, `pong`, `error`, `load limit`), or "" if absent.
pub fn result(reply: &Dict) -> &str {
    reply.get("result").and_then(Value::as_str).unwrap_or("")
}

/// The reply's `error-reason`, if any.
pub fn error_reason(reply: &Dict) -> Option<&str> {
    reply.get("error-reason").and_then(Value::as_str)
}

/// Panics unless the reply's result is `ok`.
pub fn expect_ok(reply: Dict, what: &str) -> Dict {
    if result(&reply) != "ok" {
        panic!(
            "NG {what}: expected result ok, got {:?} ({:?}); reply {}",
            result(&reply),
            error_reason(&reply),
            show(&reply)
        );
    }
    reply
}

/// Panics unless the reply is an error with a non-empty `error-reason`.
pub fn expect_error(reply: &Dict, what: &str) {
    assert_eq!(
        result(reply),
        "error",
        "NG {what}: expected an error reply, got {}",
        show(reply)
    );
    assert!(
        error_reason(reply).is_some_and(|r| !r.is_empty()),
        "NG {what}: error reply without error-reason: {}",
        show(reply)
    );
}

/// `ping`, true when the relay answers `pong`.
pub fn ping(client: &mut Client) -> bool {
    client
        .request(&Dict::new().with("command", "ping"))
        .is_ok_and(|r| result(&r) == "pong")
}

/// `offer` with extra top-level keys (`transport-protocol`, `SDES`, ...).
pub fn offer_with(
    client: &mut Client,
    call_id: &str,
    from_tag: &str,
    sdp: &str,
    extra: &[(&str, Value)],
) -> String {
    let mut req = media_keys(
        Dict::new()
            .with("command", "offer")
            .with("call-id", call_id)
            .with("from-tag", from_tag)
            .with("sdp", sdp),
    );
    for (k, v) in extra {
        req.insert(k, v.clone());
    }
    let reply = expect_ok(send(client, &req, "offer"), "offer");
    reply_sdp(&reply, "offer")
}

/// `offer` of `sdp` for `call_id` from `from_tag`; returns the rewritten SDP.
pub fn offer(client: &mut Client, call_id: &str, from_tag: &str, sdp: &str) -> String {
    offer_with_flags(client, call_id, from_tag, sdp, &[])
}

/// [`offer`] with NG `flags` (e.g. `strict source`).
pub fn offer_with_flags(
    client: &mut Client,
    call_id: &str,
    from_tag: &str,
    sdp: &str,
    flags: &[&str],
) -> String {
    let mut req = media_keys(
        Dict::new()
            .with("command", "offer")
            .with("call-id", call_id)
            .with("from-tag", from_tag)
            .with("sdp", sdp),
    );
    if !flags.is_empty() {
        req.insert("flags", str_list(flags));
    }
    let reply = expect_ok(send(client, &req, "offer"), "offer");
    reply_sdp(&reply, "offer")
}

/// `answer` of `sdp` (from `to_tag`'s side) for an offered call; returns the
/// rewritten SDP.
pub fn answer(
    client: &mut Client,
    call_id: &str,
    from_tag: &str,
    to_tag: &str,
    sdp: &str,
) -> String {
    let req = media_keys(
        Dict::new()
            .with("command", "answer")
            .with("call-id", call_id)
            .with("from-tag", from_tag)
            .with("to-tag", to_tag)
            .with("sdp", sdp),
    );
    let reply = expect_ok(send(client, &req, "answer"), "answer");
    reply_sdp(&reply, "answer")
}

/// The `sdp` of an `ok` offer/answer reply.
pub fn reply_sdp(reply: &Dict, what: &str) -> String {
    reply
        .get("sdp")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("NG {what}: reply has no sdp: {}", show(reply)))
        .to_owned()
}

/// `delete` of a whole call; panics unless ok.
pub fn delete(client: &mut Client, call_id: &str, from_tag: &str) -> Dict {
    let req = Dict::new()
        .with("command", "delete")
        .with("call-id", call_id)
        .with("from-tag", from_tag);
    expect_ok(send(client, &req, "delete"), "delete")
}

/// `query` of a call; panics unless ok.
pub fn query(client: &mut Client, call_id: &str) -> Dict {
    let req = Dict::new()
        .with("command", "query")
        .with("call-id", call_id);
    expect_ok(send(client, &req, "query"), "query")
}

/// `list`: the call-ids the relay knows (reply key `calls`, a list).
pub fn list(client: &mut Client) -> Vec<String> {
    let req = Dict::new().with("command", "list").with("limit", 1000u32);
    let reply = expect_ok(send(client, &req, "list"), "list");
    reply
        .get("calls")
        .and_then(Value::as_list)
        .unwrap_or_else(|| panic!("NG list: reply has no `calls` list: {}", show(&reply)))
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Packet and byte counts of one protocol in a `query` reply's `totals`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// `packets`
    pub packets: i64,
    /// `bytes`
    pub bytes: i64,
    /// `errors`
    pub errors: i64,
}

/// `totals: {RTP: {packets, bytes, errors}, RTCP: {...}}` of a `query`
/// reply (what Kamailio's `$rtpstat` reads). Returns (RTP, RTCP).
pub fn totals(query_reply: &Dict) -> (Counts, Counts) {
    let totals = query_reply
        .get("totals")
        .and_then(Value::as_dict)
        .unwrap_or_else(|| {
            panic!(
                "NG query: reply has no `totals` dict: {}",
                show(query_reply)
            )
        });
    let read = |proto: &str| {
        let d = totals.get(proto).and_then(Value::as_dict);
        let int = |k: &str| {
            d.and_then(|d| d.get(k))
                .and_then(Value::as_int)
                .unwrap_or(0)
        };
        Counts {
            packets: int("packets"),
            bytes: int("bytes"),
            errors: int("errors"),
        }
    };
    (read("RTP"), read("RTCP"))
}

/// media-core's drop counters in a `query` reply: the sum over every
/// stream's `drops` dictionary (all reasons), or `None` if there is none.
pub fn media_core_drops(query_reply: &Dict) -> Option<i64> {
    sum_drops(query_reply, None)
}

/// Like [`media_core_drops`], for one reason (e.g. `wrong source`).
pub fn media_core_drops_for(query_reply: &Dict, reason: &str) -> Option<i64> {
    sum_drops(query_reply, Some(reason))
}

fn sum_drops(query_reply: &Dict, reason: Option<&str>) -> Option<i64> {
    fn walk(v: &Value, reason: Option<&str>, found: &mut Option<i64>) {
        match v {
            Value::Dict(d) => {
                for (k, v) in d.iter() {
                    if let (b"drops", Some(drops)) = (k, v.as_dict()) {
                        let sum: i64 = drops
                            .iter()
                            .filter(|(name, _)| reason.is_none_or(|r| r.as_bytes() == *name))
                            .filter_map(|(_, v)| v.as_int())
                            .sum();
                        *found = Some(found.unwrap_or(0) + sum);
                        continue;
                    }
                    walk(v, reason, found);
                }
            }
            Value::List(l) => l.iter().for_each(|v| walk(v, reason, found)),
            Value::Int(_) | Value::Bytes(_) => {}
        }
    }
    let mut found = None;
    walk(&Value::Dict(query_reply.clone()), reason, &mut found);
    found
}

/// media-core's XDP fast-path share of a `query` reply: every stream's
/// `XDP` dictionary as (active, packets).
pub fn media_core_xdp(query_reply: &Dict) -> Vec<(bool, i64)> {
    fn walk(v: &Value, found: &mut Vec<(bool, i64)>) {
        match v {
            Value::Dict(d) => {
                for (k, v) in d.iter() {
                    if let (b"XDP", Some(x)) = (k, v.as_dict()) {
                        let int = |key: &str| x.get(key).and_then(Value::as_int).unwrap_or(0);
                        found.push((int("active") != 0, int("packets")));
                        continue;
                    }
                    walk(v, found);
                }
            }
            Value::List(l) => l.iter().for_each(|v| walk(v, found)),
            Value::Int(_) | Value::Bytes(_) => {}
        }
    }
    let mut found = Vec::new();
    walk(&Value::Dict(query_reply.clone()), &mut found);
    found
}

/// A reply as readable text (byte strings as UTF-8 where possible), for
/// assertion messages.
pub fn show(d: &Dict) -> String {
    fn value(v: &Value, out: &mut String) {
        match v {
            Value::Int(n) => out.push_str(&n.to_string()),
            Value::Bytes(b) => out.push_str(&format!("{:?}", String::from_utf8_lossy(b))),
            Value::List(l) => {
                out.push('[');
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    value(v, out);
                }
                out.push(']');
            }
            Value::Dict(d) => {
                out.push('{');
                for (i, (k, v)) in d.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&String::from_utf8_lossy(k));
                    out.push_str(": ");
                    value(v, out);
                }
                out.push('}');
            }
        }
    }
    let mut out = String::new();
    value(&Value::Dict(d.clone()), &mut out);
    out
}

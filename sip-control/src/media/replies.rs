//! Readers for the reply keys sip-control uses.

use std::time::Duration;

use sluice_ng::{Dict, Value};

use super::error::ReplyError;

/// The rewritten SDP of an `offer` or `answer` reply.
pub fn reply_sdp(reply: &Dict) -> Result<Vec<u8>, ReplyError> {
    reply
        .get("sdp")
        .ok_or(ReplyError::Missing("sdp"))?
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or(ReplyError::WrongType("sdp"))
}

/// The `warning` of an `ok` reply, if any (e.g. `delete` of a call the
/// node no longer knows).
pub fn warning(reply: &Dict) -> Option<&str> {
    reply.get("warning").and_then(Value::as_str)
}

/// Packets the relay received from `tag`'s party, from a `query` (or
/// `delete`) reply: the sum of `stats.packets` over every stream of every
/// media under `tags.<tag>.medias[].streams[]`.
///
/// Both relays count a stream's packets as they arrive from the party
/// that owns it. `None` when the reply does not list `tag` or the tag has
/// no stream with a counter (nothing is known yet); garbage values count
/// as nothing rather than failing.
pub fn packets_from(reply: &Dict, tag: &str) -> Option<u64> {
    let counts = streams_of(reply, tag)?
        .filter_map(|s| s.get("stats")?.as_dict()?.get("packets")?.as_int())
        .map(|n| u64::try_from(n).unwrap_or(0));
    counts.fold(None, |sum, n| Some(sum.unwrap_or(0u64).saturating_add(n)))
}

/// How long after the call was created on the node the first packet from
/// `tag`'s party arrived there: the earliest `first_packet_us` of its
/// streams minus the call's `created_us`, both on the node's clock.
/// media-core reports both; `None` from relays that do not (rtpengine).
pub fn first_packet_after_created(reply: &Dict, tag: &str) -> Option<Duration> {
    let created = reply.get("created_us")?.as_int()?;
    let first = streams_of(reply, tag)?
        .filter_map(|s| s.get("first_packet_us")?.as_int())
        .min()?;
    let micros = u64::try_from(first.checked_sub(created)?).ok()?;
    Some(Duration::from_micros(micros))
}

/// Every stream of every media of `tag`'s leg in a `query` reply.
fn streams_of<'a>(reply: &'a Dict, tag: &str) -> Option<impl Iterator<Item = &'a Dict>> {
    let medias = reply
        .get("tags")?
        .as_dict()?
        .get(tag)?
        .as_dict()?
        .get("medias")?
        .as_list()?;
    Some(
        medias
            .iter()
            .filter_map(|m| m.as_dict()?.get("streams")?.as_list())
            .flatten()
            .filter_map(Value::as_dict),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_ng::bencode::decode;

    fn stream(packets: i64) -> Value {
        Dict::new()
            .with("local port", 30000u16)
            .with(
                "stats",
                Dict::new()
                    .with("packets", packets)
                    .with("bytes", packets.saturating_mul(172))
                    .with("errors", 0i64),
            )
            .into()
    }

    fn leg(tag: &str, medias: Vec<Vec<Value>>) -> Dict {
        let medias: Vec<Value> = medias
            .into_iter()
            .enumerate()
            .map(|(i, streams)| {
                Dict::new()
                    .with("index", i + 1)
                    .with("type", "audio")
                    .with("streams", streams)
                    .into()
            })
            .collect();
        Dict::new().with("tag", tag).with("medias", medias)
    }

    fn query_reply() -> Dict {
        let tags = Dict::new()
            .with("carrier", leg("carrier", vec![vec![stream(50), stream(2)]]))
            .with(
                "platform",
                leg(
                    "platform",
                    vec![vec![stream(0), stream(0)], vec![stream(7)]],
                ),
            )
            .with("", leg("", vec![vec![stream(3)]]));
        Dict::new()
            .with("result", "ok")
            .with("created", 1_700_000_000i64)
            .with("tags", tags)
    }

    #[test]
    fn sums_packets_of_one_tag() {
        let q = query_reply();
        assert_eq!(packets_from(&q, "carrier"), Some(52));
        assert_eq!(packets_from(&q, "platform"), Some(7));
        assert_eq!(packets_from(&q, ""), Some(3), "rtpengine's untagged side");
        assert_eq!(packets_from(&q, "nobody"), None);
    }

    #[test]
    fn first_packet_is_measured_from_the_call_creation_on_the_node() {
        let timed = |first: Option<i64>| {
            let mut s = stream(1);
            if let (Value::Dict(d), Some(us)) = (&mut s, first) {
                d.insert("first_packet_us", us);
            }
            s
        };
        let q = query_reply()
            .with("created_us", 1_700_000_000_000_000i64)
            .with(
                "tags",
                Dict::new().with(
                    "platform",
                    leg(
                        "platform",
                        vec![
                            vec![timed(None), timed(Some(1_700_000_000_250_000))],
                            vec![timed(Some(1_700_000_000_012_500))],
                        ],
                    ),
                ),
            );
        assert_eq!(
            first_packet_after_created(&q, "platform"),
            Some(Duration::from_micros(12_500)),
            "the earliest stream counts"
        );
        assert_eq!(first_packet_after_created(&q, "carrier"), None);
        let before = Dict::new().with("created_us", 10i64).with(
            "tags",
            Dict::new().with("t", leg("t", vec![vec![timed(Some(5))]])),
        );
        assert_eq!(
            first_packet_after_created(&before, "t"),
            None,
            "clock went back"
        );
        assert_eq!(
            first_packet_after_created(&query_reply(), "platform"),
            None,
            "rtpengine reports neither key"
        );
    }

    #[test]
    fn tolerates_odd_shapes() {
        // As rtpengine's docs show it, keys unsorted on the wire.
        let wire = b"d6:resulti0e4:tagsd1:td6:mediasld7:streamsld5:statsd7:packets2:12eed5:statsd7:packetsi-5eeeeeeeee";
        let d = decode(wire).unwrap();
        let d = d.as_dict().unwrap();
        assert_eq!(
            packets_from(d, "t"),
            Some(12),
            "string number; negative ignored"
        );
        let no_streams = Dict::new().with("tags", Dict::new().with("t", leg("t", vec![vec![]])));
        assert_eq!(packets_from(&no_streams, "t"), None);
        let not_a_dict = Dict::new().with("tags", Value::List(vec![]));
        assert_eq!(packets_from(&not_a_dict, "t"), None);
        let huge = Dict::new().with(
            "tags",
            Dict::new().with(
                "t",
                leg(
                    "t",
                    vec![vec![stream(i64::MAX), stream(i64::MAX), stream(9)]],
                ),
            ),
        );
        assert_eq!(packets_from(&huge, "t"), Some(u64::MAX));
    }

    #[test]
    fn reads_sdp_and_warning() {
        let r = Dict::new().with("result", "ok").with("sdp", "v=0\r\n");
        assert_eq!(reply_sdp(&r), Ok(b"v=0\r\n".to_vec()));
        assert_eq!(reply_sdp(&Dict::new()), Err(ReplyError::Missing("sdp")));
        assert_eq!(
            reply_sdp(&Dict::new().with("sdp", 1i64)),
            Err(ReplyError::WrongType("sdp"))
        );
        assert_eq!(warning(&r), None);
        let w = r.with("warning", "Call-ID not found");
        assert_eq!(warning(&w), Some("Call-ID not found"));
    }
}

//! Readers for the reply keys sip-control uses.

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
    let medias = reply
        .get("tags")?
        .as_dict()?
        .get(tag)?
        .as_dict()?
        .get("medias")?
        .as_list()?;
    let counts = medias
        .iter()
        .filter_map(|m| m.as_dict()?.get("streams")?.as_list())
        .flatten()
        .filter_map(|s| {
            s.as_dict()?
                .get("stats")?
                .as_dict()?
                .get("packets")?
                .as_int()
        })
        .map(|n| u64::try_from(n).unwrap_or(0));
    counts.fold(None, |sum, n| Some(sum.unwrap_or(0u64).saturating_add(n)))
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

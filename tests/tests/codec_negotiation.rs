//! Codec options side by side: the same offers and answers, with the same
//! NG codec options, to real rtpengine and to media-core; the format
//! lists each leg gets (codec names in order) must match, except where
//! docs/NG.md says media-core deliberately differs (asserted here too).

use sluice_ng::{Dict, Value};
use sluice_tests::relay::{RelayKind, RelayOptions};
use sluice_tests::{call_id, ng, PortBlock, Relay};

const PCMU: (u8, &str, &str) = (0, "PCMU/8000", "");
const PCMA: (u8, &str, &str) = (8, "PCMA/8000", "");
const G722: (u8, &str, &str) = (9, "G722/8000", "");
const G729: (u8, &str, &str) = (18, "G729/8000", "");
const TE8: (u8, &str, &str) = (101, "telephone-event/8000", "0-16");
const OPUS: (u8, &str, &str) = (96, "opus/48000/2", "useinbandfec=1");
const TE48: (u8, &str, &str) = (97, "telephone-event/48000", "0-16");
/// The telephone-event/8000 both relays add beside an added G.711 codec.
const TE8_ADDED: (u8, &str, &str) = (98, "telephone-event/8000", "0-15");

type Formats = &'static [(u8, &'static str, &'static str)];

fn sdp(port: u16, formats: &[(u8, &str, &str)], extra: &str) -> String {
    let pts: Vec<String> = formats.iter().map(|f| f.0.to_string()).collect();
    let mut s = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP {}\r\n",
        pts.join(" ")
    );
    for (pt, map, fmtp) in formats {
        s += &format!("a=rtpmap:{pt} {map}\r\n");
        if !fmtp.is_empty() {
            s += &format!("a=fmtp:{pt} {fmtp}\r\n");
        }
    }
    s + extra
}

/// `name/clock` of each format of the first `m=` line, in order, and the
/// `a=ptime` if any.
fn codecs(sdp: &str) -> (Vec<String>, Option<String>) {
    let lines: Vec<&str> = sdp.lines().collect();
    let Some(m) = lines.iter().find(|l| l.starts_with("m=audio")) else {
        return (Vec::new(), None);
    };
    let name = |pt: &str| {
        let prefix = format!("a=rtpmap:{pt} ");
        lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .map(|v| v.split('/').take(2).collect::<Vec<_>>().join("/"))
            .unwrap_or_else(|| match pt {
                "0" => "PCMU/8000".into(),
                "8" => "PCMA/8000".into(),
                "9" => "G722/8000".into(),
                other => format!("?{other}"),
            })
    };
    let names = m.split_whitespace().skip(3).map(name).collect();
    let ptime = lines
        .iter()
        .find_map(|l| l.strip_prefix("a=ptime:"))
        .map(str::to_owned);
    (names, ptime)
}

struct Case {
    name: &'static str,
    offer: Formats,
    options: &'static [(&'static str, &'static str)],
    answer: Formats,
}

/// NG keys from `key=value` pairs: `codec.VERB` lists (comma-separated),
/// `flags` (comma-separated), or plain (`ptime`).
fn keys(options: &[(&str, &str)]) -> Vec<(String, Value)> {
    let list = |v: &str| Value::from(v.split(',').map(Value::from).collect::<Vec<_>>());
    let mut codec = Dict::new();
    let mut out = Vec::new();
    for (k, v) in options {
        if let Some(verb) = k.strip_prefix("codec.") {
            codec.insert(verb, list(v));
        } else if *k == "flags" {
            out.push(((*k).to_owned(), list(v)));
        } else if let Ok(n) = v.parse::<i64>() {
            out.push(((*k).to_owned(), Value::from(n)));
        } else {
            out.push(((*k).to_owned(), Value::from(*v)));
        }
    }
    if !codec.is_empty() {
        out.push(("codec".to_owned(), Value::Dict(codec)));
    }
    out
}

type Outcome = Result<((Vec<String>, Option<String>), (Vec<String>, Option<String>)), String>;

fn run(relay: &Relay, case: &Case) -> Outcome {
    let mut client = relay.client();
    let id = call_id("codecs");
    let mut req = Dict::new()
        .with("command", "offer")
        .with("call-id", id.as_str())
        .with("from-tag", "A")
        .with("sdp", sdp(6000, case.offer, "").as_str())
        .with("ICE", "remove");
    for (k, v) in keys(case.options) {
        req.insert(&k, v);
    }
    let reply = ng::send(&mut client, &req, "offer");
    if ng::result(&reply) != "ok" {
        return Err(ng::error_reason(&reply).unwrap_or("?").to_owned());
    }
    let to_b = codecs(&ng::reply_sdp(&reply, "offer"));
    let req = Dict::new()
        .with("command", "answer")
        .with("call-id", id.as_str())
        .with("from-tag", "A")
        .with("to-tag", "B")
        .with("sdp", sdp(7000, case.answer, "").as_str())
        .with("ICE", "remove");
    let reply = ng::send(&mut client, &req, "answer");
    let result = if ng::result(&reply) == "ok" {
        Ok((to_b, codecs(&ng::reply_sdp(&reply, "answer"))))
    } else {
        Err(ng::error_reason(&reply).unwrap_or("?").to_owned())
    };
    ng::delete(&mut client, &id, "A");
    result
}

const SAME: &[Case] = &[
    Case {
        name: "unoffered opus answer, transcoded unasked",
        offer: &[PCMU, PCMA, TE8],
        options: &[],
        answer: &[OPUS, TE48],
    },
    Case {
        name: "transcode opus",
        offer: &[PCMU, PCMA, TE8],
        options: &[("codec.transcode", "opus")],
        answer: &[OPUS, TE48],
    },
    Case {
        name: "common codec",
        offer: &[PCMU, PCMA, TE8],
        options: &[],
        answer: &[PCMA, TE8],
    },
    Case {
        name: "common codec beside added",
        offer: &[PCMU, PCMA, TE8],
        options: &[("codec.transcode", "opus")],
        answer: &[PCMA, TE8],
    },
    Case {
        name: "mask all + transcode",
        offer: &[PCMU, PCMA, TE8],
        options: &[("codec.mask", "all"), ("codec.transcode", "opus")],
        answer: &[OPUS],
    },
    Case {
        name: "mask by name + transcode",
        offer: &[PCMU, PCMA, TE8],
        options: &[("codec.mask", "PCMU"), ("codec.transcode", "opus")],
        answer: &[OPUS, TE48],
    },
    Case {
        name: "codec flags",
        offer: &[PCMU, PCMA, TE8],
        options: &[("flags", "codec-mask-all,codec-transcode-opus")],
        answer: &[OPUS],
    },
    Case {
        name: "strip all + except",
        offer: &[PCMU, PCMA, G722, TE8],
        options: &[("codec.strip", "all"), ("codec.except", "PCMA")],
        answer: &[PCMA],
    },
    Case {
        name: "strip all + offer order",
        offer: &[PCMU, PCMA, G722, TE8],
        options: &[("codec.strip", "all"), ("codec.offer", "PCMA,PCMU")],
        answer: &[PCMA],
    },
    Case {
        name: "strip by name + transcode",
        offer: &[OPUS, PCMA],
        options: &[("codec.strip", "opus"), ("codec.transcode", "PCMU")],
        answer: &[PCMA],
    },
    Case {
        name: "strip all + transcode present",
        offer: &[PCMU, PCMA],
        options: &[("codec.strip", "all"), ("codec.transcode", "PCMU")],
        answer: &[PCMU],
    },
    Case {
        name: "opus offerer, PCMA added",
        offer: &[OPUS, TE48],
        options: &[("codec.transcode", "PCMA")],
        answer: &[PCMA, TE8_ADDED],
    },
    Case {
        name: "opus + PCMA added, PCMA answered",
        offer: &[OPUS, TE48],
        options: &[("codec.transcode", "PCMA,opus")],
        answer: &[PCMA, TE8_ADDED],
    },
    Case {
        name: "G722 common",
        offer: &[G722, PCMU, TE8],
        options: &[("codec.transcode", "opus")],
        answer: &[G722, TE8],
    },
    Case {
        name: "accept",
        offer: &[PCMU, PCMA],
        options: &[("codec.accept", "PCMA")],
        answer: &[PCMU],
    },
    Case {
        name: "set bitrate",
        offer: &[PCMU, TE8],
        options: &[
            ("codec.transcode", "opus"),
            ("codec.set", "opus/48000/2/32000"),
        ],
        answer: &[OPUS, TE48],
    },
    Case {
        name: "always transcode",
        offer: &[PCMU, PCMA, TE8],
        options: &[("flags", "always transcode")],
        answer: &[PCMA, TE8],
    },
    Case {
        name: "inject DTMF",
        offer: &[PCMU, PCMA, TE8],
        options: &[("flags", "inject DTMF")],
        answer: &[PCMA, TE8],
    },
    Case {
        name: "ptime",
        offer: &[PCMU, TE8],
        options: &[("ptime", "30")],
        answer: &[PCMU, TE8],
    },
    Case {
        name: "ptime-reverse",
        offer: &[PCMU, TE8],
        options: &[("ptime-reverse", "40")],
        answer: &[PCMU, TE8],
    },
    Case {
        name: "opus both",
        offer: &[OPUS, TE48],
        options: &[],
        answer: &[OPUS, TE48],
    },
];

#[test]
fn codec_options_match_rtpengine() {
    if !RelayKind::Rtpengine.available("codec_options_match_rtpengine") {
        return;
    }
    let mut ports = PortBlock::new();
    let opts = RelayOptions::default();
    let ours = Relay::start(RelayKind::MediaCore, &mut ports, &opts);
    let theirs = Relay::start(RelayKind::Rtpengine, &mut ports, &opts);
    let mut failures = Vec::new();
    for case in SAME {
        let (a, b) = (run(&ours, case), run(&theirs, case));
        if a != b {
            failures.push(format!(
                "{}:\n  media-core: {a:?}\n  rtpengine:  {b:?}",
                case.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Where media-core deliberately differs (docs/NG.md).
#[test]
fn deliberate_differences_from_rtpengine() {
    let mut ports = PortBlock::new();
    let ours = Relay::start(RelayKind::MediaCore, &mut ports, &RelayOptions::default());
    // An answer with a codec never offered that cannot be transcoded:
    // refused (rtpengine transcodes what it can and answers anyway).
    let unoffered = Case {
        name: "unoffered",
        offer: &[PCMU, PCMA, TE8],
        options: &[],
        answer: &[G729],
    };
    let err = run(&ours, &unoffered).unwrap_err();
    assert!(err.contains("not offered"), "{err}");
    // Options that leave no codec: refused.
    let none = Case {
        name: "strip all",
        offer: &[PCMU, PCMA],
        options: &[("codec.strip", "all")],
        answer: &[PCMU],
    };
    assert!(run(&ours, &none).is_err());
    // Codec options inside rtpp-flags are honoured.
    let rtpp = Case {
        name: "rtpp-flags",
        offer: &[PCMU, PCMA, TE8],
        options: &[("rtpp-flags", "codec=[transcode=[opus] mask=[all]]")],
        answer: &[OPUS],
    };
    let (to_b, to_a) = run(&ours, &rtpp).unwrap();
    assert_eq!(to_b.0, ["opus/48000"]);
    assert_eq!(to_a.0, ["PCMU/8000"]);
    // `ptime` in an answer: toward the offerer.
    let mut client = ours.client();
    let id = call_id("codecs-ptime");
    ng::offer(&mut client, &id, "A", &sdp(6000, &[PCMU], ""));
    let req = Dict::new()
        .with("command", "answer")
        .with("call-id", id.as_str())
        .with("from-tag", "A")
        .with("to-tag", "B")
        .with("sdp", sdp(7000, &[PCMU], "").as_str())
        .with("ptime", 30i64);
    let reply = ng::expect_ok(ng::send(&mut client, &req, "answer"), "answer");
    assert_eq!(
        codecs(&ng::reply_sdp(&reply, "answer")).1.as_deref(),
        Some("30")
    );
}

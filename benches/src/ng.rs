//! Call set-up and tear-down over NG: offer + answer per call, and the
//! little SDP handling needed to learn the relay's address and ports (and,
//! with `--srtp`, its SDES keys: see [`crate::srtp`]).

use std::net::{IpAddr, SocketAddr};

use anyhow::{anyhow, bail, Context, Result};
use sluice_ng::client::Client;
use sluice_ng::{Dict, Value};

use crate::srtp::{self, Keying, LegSrtp, SrtpMode};

/// The NG identity of one call.
#[derive(Debug, Clone)]
pub struct CallIds {
    /// `call-id`.
    pub call_id: String,
    /// Caller's tag.
    pub from_tag: String,
    /// Callee's tag.
    pub to_tag: String,
}

impl CallIds {
    /// Unique ids for call `index` of run `run` of this process.
    pub fn new(run: u32, index: usize) -> Self {
        let pid = std::process::id();
        Self {
            call_id: format!("loadgen-{pid}-{run}-{index}"),
            from_tag: format!("a{index}"),
            to_tag: format!("b{index}"),
        }
    }
}

/// Where each leg must send its media: the relay's two ends of the call.
#[derive(Debug, Clone, Copy)]
pub struct RelayEnds {
    /// The relay address the caller (leg A) sends to (from the answer reply).
    pub for_a: SocketAddr,
    /// The relay address the callee (leg B) sends to (from the offer reply).
    pub for_b: SocketAddr,
}

/// The SRTP contexts of both legs of one call.
#[derive(Debug, Clone)]
pub struct CallSrtp {
    /// The caller's (leg A).
    pub a: LegSrtp,
    /// The callee's (leg B).
    pub b: LegSrtp,
}

/// A PCMU SDP advertising `addr`: `RTP/AVP`, or `RTP/SAVP` with the given
/// `a=crypto` attribute line.
fn sdp(addr: SocketAddr, session: usize, crypto: Option<&str>) -> String {
    let ip = addr.ip();
    let port = addr.port();
    let proto = if crypto.is_some() {
        "RTP/SAVP"
    } else {
        "RTP/AVP"
    };
    format!(
        "v=0\r\no=- {session} 1 IN IP4 {ip}\r\ns=loadgen\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} {proto} 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n{}",
        crypto.unwrap_or("")
    )
}

/// The transport protocol of the first `m=audio` line.
fn audio_protocol(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|rest| rest.split_whitespace().nth(1))
}

/// Fails unless the relay's SDP keeps the media on `RTP/SAVP`.
fn expect_savp(sdp: &str, what: &str) -> Result<()> {
    match audio_protocol(sdp) {
        Some("RTP/SAVP") => Ok(()),
        other => bail!("{what}: the relay answered m=audio protocol {other:?}, expected RTP/SAVP"),
    }
}

/// The media address an SDP points at: the last `c=` line (media level
/// wins over session level) and the first `m=audio` port.
pub fn media_addr(sdp: &str) -> Result<SocketAddr> {
    let mut ip: Option<IpAddr> = None;
    let mut port: Option<u16> = None;
    for line in sdp.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("c=") {
            let addr = rest
                .split_whitespace()
                .nth(2)
                .context("c= line without address")?;
            let addr = addr.split('/').next().unwrap_or(addr);
            ip = Some(
                addr.parse()
                    .with_context(|| format!("bad c= address {addr:?}"))?,
            );
        } else if let Some(rest) = line.strip_prefix("m=audio ") {
            if port.is_none() {
                let p = rest
                    .split_whitespace()
                    .next()
                    .context("m= line without port")?;
                port = Some(p.parse().with_context(|| format!("bad m= port {p:?}"))?);
            }
        }
    }
    match (ip, port) {
        (Some(ip), Some(port)) => Ok(SocketAddr::new(ip, port)),
        _ => bail!("SDP without c= address or m=audio port:\n{sdp}"),
    }
}

/// Fails unless the reply's `result` is `ok`.
pub fn check_ok(reply: &Dict, what: &str) -> Result<()> {
    match reply.get("result").and_then(Value::as_str) {
        Some("ok") => Ok(()),
        other => {
            let reason = reply
                .get("error-reason")
                .and_then(Value::as_str)
                .unwrap_or("");
            Err(anyhow!("{what}: result {other:?} {reason}"))
        }
    }
}

/// Offer from `a`, answer from `b`; returns where each leg must send and,
/// with an SRTP `mode`, the legs' SRTP contexts (fresh random keys per call).
pub fn setup_call(
    client: &mut Client,
    ids: &CallIds,
    index: usize,
    (a, b): (SocketAddr, SocketAddr),
    mode: Option<SrtpMode>,
) -> Result<(RelayEnds, Option<CallSrtp>)> {
    let caller_key = mode.map(|m| Keying::random(m.offer)).transpose()?;
    let a_crypto = caller_key.as_ref().map(|k| k.attribute(srtp::OFFER_TAG));
    let offer = Dict::new()
        .with("command", "offer")
        .with("call-id", ids.call_id.as_str())
        .with("from-tag", ids.from_tag.as_str())
        .with("sdp", sdp(a, index, a_crypto.as_deref()))
        .with("ICE", "remove");
    let reply = client.request(&offer).context("offer")?;
    check_ok(&reply, "offer")?;
    let offer_sdp = reply
        .get("sdp")
        .and_then(Value::as_str)
        .context("offer reply without sdp")?;
    let for_b = media_addr(offer_sdp)?;
    // The callee answers the relay's own line of the wanted suite.
    let mut callee = None;
    if let (Some(mode), Some(caller)) = (mode, &caller_key) {
        expect_savp(offer_sdp, "offer")?;
        let lines = srtp::crypto_lines(offer_sdp);
        let (tag, relay_to_b) = srtp::choose_relay_line(&lines, caller, mode.answer)?;
        callee = Some((tag, Keying::random(mode.answer)?, relay_to_b));
    }
    let b_crypto = callee.as_ref().map(|(tag, own, _)| own.attribute(*tag));

    let answer = Dict::new()
        .with("command", "answer")
        .with("call-id", ids.call_id.as_str())
        .with("from-tag", ids.from_tag.as_str())
        .with("to-tag", ids.to_tag.as_str())
        .with("sdp", sdp(b, index, b_crypto.as_deref()))
        .with("ICE", "remove");
    let reply = client.request(&answer).context("answer")?;
    check_ok(&reply, "answer")?;
    let answer_sdp = reply
        .get("sdp")
        .and_then(Value::as_str)
        .context("answer reply without sdp")?;
    let for_a = media_addr(answer_sdp)?;
    let ends = RelayEnds { for_a, for_b };
    let (Some(caller), Some((_, callee, relay_to_b))) = (caller_key, callee) else {
        return Ok((ends, None));
    };
    expect_savp(answer_sdp, "answer")?;
    let relay_to_a = srtp::answer_line(&srtp::crypto_lines(answer_sdp), caller.suite)?;
    let keys = CallSrtp {
        a: LegSrtp::new(&caller, &relay_to_a)?,
        b: LegSrtp::new(&callee, &relay_to_b)?,
    };
    Ok((ends, Some(keys)))
}

/// Deletes a call; errors are reported, not fatal to the caller.
pub fn delete_call(client: &mut Client, ids: &CallIds) -> Result<()> {
    let req = Dict::new()
        .with("command", "delete")
        .with("call-id", ids.call_id.as_str())
        .with("from-tag", ids.from_tag.as_str());
    let reply = client.request(&req).context("delete")?;
    check_ok(&reply, "delete")
}

/// True if the relay answers `ping` with `pong`.
pub fn ping(client: &mut Client) -> bool {
    let req = Dict::new().with("command", "ping");
    matches!(
        client
            .request(&req)
            .ok()
            .as_ref()
            .and_then(|r| r.get("result"))
            .and_then(Value::as_str),
        Some("pong")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_media_level_address() {
        let sdp = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 30000 RTP/AVP 0\r\nc=IN IP4 127.0.0.1\r\n";
        let a = media_addr(sdp).expect("valid SDP");
        assert_eq!(a, "127.0.0.1:30000".parse().expect("literal"));
    }

    #[test]
    fn our_sdp_roundtrips() {
        let a: SocketAddr = "10.1.2.3:4000".parse().expect("literal");
        assert_eq!(media_addr(&sdp(a, 1, None)).expect("valid SDP"), a);
        let savp = sdp(a, 1, Some("a=crypto:1 X inline:Y\r\n"));
        assert_eq!(media_addr(&savp).expect("valid SDP"), a);
        assert_eq!(audio_protocol(&savp), Some("RTP/SAVP"));
        assert!(savp.ends_with("a=sendrecv\r\na=crypto:1 X inline:Y\r\n"));
    }
}

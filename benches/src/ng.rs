//! Call set-up and tear-down over NG: offer + answer per call, and the
//! little SDP handling needed to learn the relay's address and ports.

use std::net::{IpAddr, SocketAddr};

use anyhow::{anyhow, bail, Context, Result};
use sluice_ng::client::Client;
use sluice_ng::{Dict, Value};

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

/// A plain PCMU SDP advertising `addr`.
fn sdp(addr: SocketAddr, session: usize) -> String {
    let ip = addr.ip();
    let port = addr.port();
    format!(
        "v=0\r\no=- {session} 1 IN IP4 {ip}\r\ns=loadgen\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n"
    )
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

fn check_ok(reply: &Dict, what: &str) -> Result<()> {
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

/// Offer from `a`, answer from `b`; returns where each leg must send.
pub fn setup_call(
    client: &mut Client,
    ids: &CallIds,
    index: usize,
    a: SocketAddr,
    b: SocketAddr,
) -> Result<RelayEnds> {
    let offer = Dict::new()
        .with("command", "offer")
        .with("call-id", ids.call_id.as_str())
        .with("from-tag", ids.from_tag.as_str())
        .with("sdp", sdp(a, index))
        .with("ICE", "remove");
    let reply = client.request(&offer).context("offer")?;
    check_ok(&reply, "offer")?;
    let offer_sdp = reply
        .get("sdp")
        .and_then(Value::as_str)
        .context("offer reply without sdp")?;
    let for_b = media_addr(offer_sdp)?;

    let answer = Dict::new()
        .with("command", "answer")
        .with("call-id", ids.call_id.as_str())
        .with("from-tag", ids.from_tag.as_str())
        .with("to-tag", ids.to_tag.as_str())
        .with("sdp", sdp(b, index))
        .with("ICE", "remove");
    let reply = client.request(&answer).context("answer")?;
    check_ok(&reply, "answer")?;
    let answer_sdp = reply
        .get("sdp")
        .and_then(Value::as_str)
        .context("answer reply without sdp")?;
    let for_a = media_addr(answer_sdp)?;
    Ok(RelayEnds { for_a, for_b })
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
        assert_eq!(media_addr(&sdp(a, 1)).expect("valid SDP"), a);
    }
}

//! Minimal SDP text for test endpoints, and reading the relay's rewritten
//! SDP with plain string handling (independent of `sluice-sdp`, so a bug
//! there cannot hide in the test).

use std::net::{IpAddr, SocketAddr};

/// One payload type offered in an `m=audio` line.
#[derive(Debug, Clone, Copy)]
pub struct Codec {
    /// RTP payload type.
    pub pt: u8,
    /// `a=rtpmap` encoding, e.g. `PCMU/8000`.
    pub rtpmap: &'static str,
}

/// G.711 µ-law.
pub const PCMU: Codec = Codec {
    pt: 0,
    rtpmap: "PCMU/8000",
};
/// G.711 A-law.
pub const PCMA: Codec = Codec {
    pt: 8,
    rtpmap: "PCMA/8000",
};

/// An audio-only SDP announcing `addr:port` (IPv4 or IPv6) with `codecs`
/// and `a=ptime`.
pub fn audio_sdp(addr: IpAddr, port: u16, codecs: &[Codec], ptime_ms: u32) -> String {
    let pts: Vec<String> = codecs.iter().map(|c| c.pt.to_string()).collect();
    let family = if addr.is_ipv4() { "IP4" } else { "IP6" };
    let mut s = format!(
        "v=0\r\no=- 1545997027 1 IN {family} {addr}\r\ns=sluice-test\r\nc=IN {family} {addr}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {}\r\n",
        pts.join(" ")
    );
    for c in codecs {
        s.push_str(&format!("a=rtpmap:{} {}\r\n", c.pt, c.rtpmap));
    }
    s.push_str(&format!("a=ptime:{ptime_ms}\r\na=sendrecv\r\n"));
    s
}

/// [`audio_sdp`] as `RTP/SAVP` with the given `a=crypto` values
/// (`TAG SUITE inline:KEY`).
pub fn savp_audio_sdp(
    addr: IpAddr,
    port: u16,
    codecs: &[Codec],
    ptime_ms: u32,
    crypto: &[String],
) -> String {
    let mut s = audio_sdp(addr, port, codecs, ptime_ms).replacen(" RTP/AVP ", " RTP/SAVP ", 1);
    for c in crypto {
        s.push_str(&format!("a=crypto:{c}\r\n"));
    }
    s
}

/// One `a=crypto` line as read from an SDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    /// The tag.
    pub tag: u32,
    /// The suite name.
    pub suite: String,
    /// The base64 key of `inline:` (lifetime and MKI cut off).
    pub key: String,
}

/// The `a=crypto` lines of an SDP, in order.
pub fn crypto_lines(sdp: &str) -> Vec<Crypto> {
    sdp.lines()
        .filter_map(|l| l.trim_end().strip_prefix("a=crypto:"))
        .filter_map(|rest| {
            let mut f = rest.split_whitespace();
            let tag = f.next()?.parse().ok()?;
            let suite = f.next()?.to_owned();
            let key = f
                .next()?
                .strip_prefix("inline:")?
                .split('|')
                .next()?
                .to_owned();
            Some(Crypto { tag, suite, key })
        })
        .collect()
}

/// The transport protocol of the first `m=audio` line.
pub fn audio_protocol(sdp: &str) -> Option<String> {
    sdp.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|rest| rest.split_whitespace().nth(1).map(str::to_owned))
}

/// An SDP with a session but no media section.
pub fn sdp_without_media(addr: IpAddr) -> String {
    format!("v=0\r\no=- 1 1 IN IP4 {addr}\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\n")
}

/// The address and port of the first `m=audio` section: the section's own
/// `c=` line if it has one, else the session-level one.
pub fn audio_endpoint(sdp: &str) -> Option<SocketAddr> {
    let mut session_c: Option<IpAddr> = None;
    let mut in_audio = false;
    let mut audio_port: Option<u16> = None;
    let mut audio_c: Option<IpAddr> = None;
    for line in sdp.lines().map(str::trim_end) {
        if let Some(rest) = line.strip_prefix("m=") {
            if audio_port.is_some() {
                break;
            }
            in_audio = rest.starts_with("audio ");
            if in_audio {
                audio_port = rest.split_whitespace().nth(1)?.parse().ok();
            }
        } else if let Some(rest) = line.strip_prefix("c=") {
            let mut f = rest.split_whitespace();
            let (_net, _ty, addr) = (f.next(), f.next(), f.next()?);
            // Strip a multicast TTL suffix if any.
            let addr: IpAddr = addr.split('/').next()?.parse().ok()?;
            if audio_port.is_some() && in_audio {
                audio_c = Some(addr);
            } else if audio_port.is_none() && !in_audio {
                session_c = Some(addr);
            }
        }
    }
    Some(SocketAddr::new(audio_c.or(session_c)?, audio_port?))
}

/// The payload types listed on the first `m=audio` line.
pub fn audio_payload_types(sdp: &str) -> Vec<u8> {
    sdp.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .map(|rest| {
            rest.split_whitespace()
                .skip(2)
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The payload type an SDP's `a=rtpmap` lines give to an encoding whose
/// name and clock start with `encoding` (case-insensitive, e.g.
/// `opus/48000`, `telephone-event/48000`).
pub fn rtpmap_pt(sdp: &str, encoding: &str) -> Option<u8> {
    let want = encoding.to_ascii_lowercase();
    sdp.lines().find_map(|l| {
        let rest = l.trim_end().strip_prefix("a=rtpmap:")?;
        let (pt, map) = rest.split_once(' ')?;
        map.to_ascii_lowercase()
            .starts_with(&want)
            .then(|| pt.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_prefers_media_level_connection() {
        let sdp = "v=0\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 3000 RTP/AVP 0 8\r\nc=IN IP4 127.0.0.2\r\n";
        assert_eq!(
            audio_endpoint(sdp),
            Some("127.0.0.2:3000".parse().expect("literal"))
        );
        assert_eq!(audio_payload_types(sdp), vec![0, 8]);
    }

    #[test]
    fn endpoint_from_session_connection() {
        let sdp = audio_sdp("127.0.0.3".parse().expect("literal"), 4000, &[PCMU], 20);
        assert_eq!(
            audio_endpoint(&sdp),
            Some("127.0.0.3:4000".parse().expect("literal"))
        );
        assert_eq!(audio_endpoint("v=0\r\n"), None);
    }
}

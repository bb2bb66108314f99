//! Typed NG requests: turns a decoded dictionary into a [`Request`].
//!
//! The parser follows what proxies actually send:
//!
//! - Keys may spell their separators as spaces, hyphens or underscores
//!   (`received from`, `received-from`, `received_from`) and are compared
//!   ASCII-case-insensitively (`ICE`, `SDES`).
//! - Entries of `flags` compare the same way (`trust address` ==
//!   `Trust-Address`). Flags that carry a value (`ICE=remove`,
//!   `codec-strip-all`, `SDES-no-AES_CM_128_HMAC_SHA1_32`,
//!   `direction=external`) set the same options as the dictionary keys.
//! - `rtpp-flags` (also `rtpp_flags`, `rtpp flags`) holds the same options
//!   as one string; it is tokenized and merged.
//! - Where a dictionary key and a flag set the same single-valued option,
//!   the dictionary key wins; list options accumulate, except that a
//!   `direction` dictionary key replaces directions given as flags.
//! - Unknown keys are ignored; unknown flags are kept in
//!   [`Flags::unknown`].
//! - Numbers may be bencode integers or decimal strings.
//!
//! Values keep their spelling (codec names, SDES suites, labels); only
//! keys and flag names are normalized.

use std::net::IpAddr;

use crate::bencode::{Dict, Value};
use crate::rtpp_flags::{self, Token, TokenValue};

/// Longest command name echoed back in [`RequestError::UnknownCommand`].
const MAX_ECHO: usize = 64;

/// Why a dictionary is not a usable NG request. The `Display` text is
/// meant to be sent back verbatim as the reply's `error-reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// A key the command needs is absent or empty (`"call-id"`,
    /// `"from-tag"`, `"to-tag"`, `"sdp"`, `"command"`).
    #[error("missing key: {0}")]
    Missing(&'static str),
    /// The `command` names nothing this relay knows (truncated to 64
    /// bytes).
    #[error("unknown command: {0}")]
    UnknownCommand(String),
    /// A known key carries a value of the wrong type or shape.
    #[error("bad value for {key}: {reason}")]
    BadValue {
        /// The key, in its canonical hyphenated spelling.
        key: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// An NG command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command {
    /// `ping`: liveness probe, answered with `pong`.
    Ping,
    /// `offer`: SDP offer for a new or existing call leg.
    Offer,
    /// `answer`: SDP answer completing an offer.
    Answer,
    /// `delete`: tear down a call or one of its branches.
    Delete,
    /// `query`: report a call's state and counters.
    Query,
    /// `list`: enumerate call-ids.
    List,
    /// `statistics`: relay-wide counters.
    Statistics,
    /// `play DTMF`: inject a DTMF event.
    PlayDtmf,
    /// `block DTMF`: stop forwarding DTMF.
    BlockDtmf,
    /// `unblock DTMF`: resume forwarding DTMF.
    UnblockDtmf,
    /// `block media`: stop forwarding media.
    BlockMedia,
    /// `unblock media`: resume forwarding media.
    UnblockMedia,
    /// `start forwarding`: stream decoded media elsewhere.
    StartForwarding,
    /// `stop forwarding`: end `start forwarding`.
    StopForwarding,
    /// `connect`: join the media of two calls.
    Connect,
}

impl Command {
    /// Parses a command name; case, spaces, hyphens and underscores are
    /// interchangeable (`play DTMF`, `play-dtmf`, `PLAY_DTMF`).
    pub fn parse(name: &str) -> Option<Command> {
        let c = match normalize(name).as_str() {
            "ping" => Command::Ping,
            "offer" => Command::Offer,
            "answer" => Command::Answer,
            "delete" => Command::Delete,
            "query" => Command::Query,
            "list" => Command::List,
            "statistics" => Command::Statistics,
            "play-dtmf" => Command::PlayDtmf,
            "block-dtmf" => Command::BlockDtmf,
            "unblock-dtmf" => Command::UnblockDtmf,
            "block-media" => Command::BlockMedia,
            "unblock-media" => Command::UnblockMedia,
            "start-forwarding" => Command::StartForwarding,
            "stop-forwarding" => Command::StopForwarding,
            "connect" => Command::Connect,
            _ => return None,
        };
        Some(c)
    }

    /// The command's name as rtpengine's documentation spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Ping => "ping",
            Command::Offer => "offer",
            Command::Answer => "answer",
            Command::Delete => "delete",
            Command::Query => "query",
            Command::List => "list",
            Command::Statistics => "statistics",
            Command::PlayDtmf => "play DTMF",
            Command::BlockDtmf => "block DTMF",
            Command::UnblockDtmf => "unblock DTMF",
            Command::BlockMedia => "block media",
            Command::UnblockMedia => "unblock media",
            Command::StartForwarding => "start forwarding",
            Command::StopForwarding => "stop forwarding",
            Command::Connect => "connect",
        }
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed NG request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request {
    /// What to do.
    pub command: Command,
    /// SIP Call-ID of the call.
    pub call_id: Option<String>,
    /// Tag of the party whose SDP the message carries.
    pub from_tag: Option<String>,
    /// Tag of the other party (answers, deletes of one branch).
    pub to_tag: Option<String>,
    /// Top Via branch, distinguishing forks of one call.
    pub via_branch: Option<String>,
    /// The SDP body to rewrite (offer, answer).
    pub sdp: Option<String>,
    /// Where the proxy received the SIP message from; from
    /// `["IP4", "1.2.3.4"]` or a bare `"1.2.3.4"`.
    pub received_from: Option<IpAddr>,
    /// Everything else that shapes the media.
    pub options: Options,
}

/// Options that shape how the relay treats the media.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// `transport-protocol`: `RTP/AVP`, `RTP/SAVP`, `RTP/AVPF`,
    /// `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF`, `accept`, ... as sent.
    pub transport_protocol: Option<String>,
    /// `replace`: SDP fields to rewrite.
    pub replace: Replace,
    /// `ICE` handling.
    pub ice: Option<IceMode>,
    /// `DTLS` handling (`off`, `passive`, `active`, ...), as sent.
    pub dtls: Option<String>,
    /// `rtcp-mux` handling.
    pub rtcp_mux: RtcpMux,
    /// `direction`: interface names, one per side, e.g.
    /// `["external", "internal"]`.
    pub direction: Vec<String>,
    /// Boolean `flags`.
    pub flags: Flags,
    /// Raw `SDES` entries (`off`, `no-SUITE`, `only-SUITE`, `nonew`,
    /// `pad`, `lifetime`, ...), suite names as sent.
    pub sdes: Vec<String>,
    /// `codec` manipulations.
    pub codec: CodecOptions,
    /// `ptime`: repacketize toward this side, in ms.
    pub ptime: Option<u32>,
    /// `ptime-reverse`: repacketize toward the other side, in ms.
    pub ptime_reverse: Option<u32>,
    /// `delete delay`: seconds to keep a deleted call around.
    pub delete_delay: Option<u32>,
    /// `limit`: most call-ids to return from `list`.
    pub limit: Option<u32>,
    /// `supports: ["load limit"]`: the proxy understands a
    /// `load limit` result.
    pub supports_load_limit: bool,
    /// `label`: names a monologue.
    pub label: Option<String>,
    /// `set-label`: label to give the monologue.
    pub set_label: Option<String>,
    /// `from-label`: selects the source monologue by label.
    pub from_label: Option<String>,
    /// `to-label`: selects the destination monologue by label.
    pub to_label: Option<String>,
    /// `interface`: a local interface name.
    pub interface: Option<String>,
    /// `play DTMF`: `code` or `digit` (`0`-`9`, `*`, `#`, `A`-`D`, or
    /// `0`-`15`), as sent.
    pub dtmf_code: Option<String>,
    /// `play DTMF`: `duration` in ms.
    pub dtmf_duration_ms: Option<u32>,
    /// `play DTMF`: `volume`, as sent.
    pub dtmf_volume: Option<i32>,
    /// `media-address`: address to put into the SDP instead of the
    /// interface's own.
    pub media_address: Option<IpAddr>,
    /// `address-family`: `IP4` or `IP6`, as sent.
    pub address_family: Option<String>,
}

/// `replace` options: which SDP fields the relay rewrites.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replace {
    /// `origin`: the `o=` address.
    pub origin: bool,
    /// `session-connection`: the session-level `c=` line.
    pub session_connection: bool,
    /// `session-name`: the `s=` line.
    pub session_name: bool,
    /// `SDP-version`: the `o=` version.
    pub sdp_version: bool,
    /// `zero-address`: rewrite `0.0.0.0` too.
    pub zero_address: bool,
    /// `username`: the `o=` username.
    pub username: bool,
}

/// `ICE` handling.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IceMode {
    /// `remove`: strip ICE attributes.
    Remove,
    /// `force`: add relay candidates, drop the others.
    Force,
    /// `default`: the relay's configured behaviour.
    Default,
    /// `force-relay`: add only relay candidates.
    ForceRelay,
    /// `optional`: offer ICE only if the other side used it.
    Optional,
    /// Anything else, as sent.
    Other(String),
}

impl IceMode {
    fn parse(s: &str) -> IceMode {
        match normalize(s).as_str() {
            "remove" => IceMode::Remove,
            "force" => IceMode::Force,
            "default" => IceMode::Default,
            "force-relay" => IceMode::ForceRelay,
            "optional" => IceMode::Optional,
            _ => IceMode::Other(s.to_owned()),
        }
    }
}

/// `rtcp-mux` handling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RtcpMux {
    /// `offer`: offer rtcp-mux.
    pub offer: bool,
    /// `require`: insist on rtcp-mux.
    pub require: bool,
    /// `demux`: split muxed RTCP toward the other side.
    pub demux: bool,
    /// `accept`: accept rtcp-mux if offered.
    pub accept: bool,
    /// `reject`: refuse rtcp-mux.
    pub reject: bool,
}

/// Boolean entries of `flags`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Flags {
    /// `trust address`: use the SDP's address, not `received-from`.
    pub trust_address: bool,
    /// `SIP source address`: use `received-from`, not the SDP's address.
    pub sip_source_address: bool,
    /// `symmetric`: send to where media comes from.
    pub symmetric: bool,
    /// `asymmetric`: send to the SDP's address.
    pub asymmetric: bool,
    /// `strict source`: drop media from other than the learned source.
    pub strict_source: bool,
    /// `port latching`: learn the source once and keep it.
    pub port_latching: bool,
    /// `media handover`: allow the source to move mid-call.
    pub media_handover: bool,
    /// `fatal`: report errors (e.g. unknown call in `delete`) as errors.
    pub fatal: bool,
    /// `always transcode`: transcode even when a codec is common.
    pub always_transcode: bool,
    /// `loop protect`: detect the relay's own SDP coming back.
    pub loop_protect: bool,
    /// `early media`: media may flow before the answer.
    pub early_media: bool,
    /// `generate RTCP`: produce RTCP for transcoded streams.
    pub generate_rtcp: bool,
    /// `inject DTMF`: allow `play DTMF` into this call.
    pub inject_dtmf: bool,
    /// `detect DTMF`: report DTMF seen in the media.
    pub detect_dtmf: bool,
    /// `record call`: record the call's media.
    pub record_call: bool,
    /// `all`: apply to every branch/call (e.g. `delete`).
    pub all: bool,
    /// Flags this parser does not know, as sent.
    pub unknown: Vec<String>,
}

/// `codec` manipulations; each entry is `name[/rate[/channels[/bitrate]]]`
/// as sent, or `all` where that makes sense.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodecOptions {
    /// `strip`: remove these codecs.
    pub strip: Vec<String>,
    /// `offer`: keep only these among the stripped ones.
    pub offer: Vec<String>,
    /// `transcode`: add these, transcoding if needed.
    pub transcode: Vec<String>,
    /// `mask`: hide these from the other side but still accept them.
    pub mask: Vec<String>,
    /// `accept`: treat these as acceptable in the answer.
    pub accept: Vec<String>,
    /// `except`: exempt these from `strip`/`mask` `all`.
    pub except: Vec<String>,
    /// `set`: override codec parameters.
    pub set: Vec<String>,
}

/// Parses an NG request dictionary.
///
/// Never panics; every malformed input yields a [`RequestError`].
pub fn parse_request(dict: &Dict) -> Result<Request, RequestError> {
    let command = parse_command(dict)?;
    let mut b = Builder::default();

    // Flags first, so that explicit dictionary keys override them.
    for (key, value) in dict.iter() {
        let Some(key) = utf8_key(key) else { continue };
        let k = normalize(key);
        if matches!(k.as_str(), "flags" | "rtpp-flags") {
            b.pair(&k, key, Arg::Value(value), 0)?;
        }
    }
    for (key, value) in dict.iter() {
        let Some(key) = utf8_key(key) else { continue };
        let k = normalize(key);
        match k.as_str() {
            "flags" | "rtpp-flags" | "command" => {}
            _ => {
                if k == "direction" {
                    b.options.direction.clear();
                }
                b.pair(&k, key, Arg::Value(value), 0)?;
            }
        }
    }

    let required: &[&'static str] = match command {
        Command::Offer => &["call-id", "from-tag", "sdp"],
        Command::Answer => &["call-id", "from-tag", "to-tag", "sdp"],
        Command::Delete
        | Command::Query
        | Command::PlayDtmf
        | Command::BlockDtmf
        | Command::UnblockDtmf
        | Command::BlockMedia
        | Command::UnblockMedia
        | Command::Connect => &["call-id"],
        Command::StartForwarding | Command::StopForwarding if !b.options.flags.all => &["call-id"],
        _ => &[],
    };
    for &key in required {
        let field = match key {
            "call-id" => &b.call_id,
            "from-tag" => &b.from_tag,
            "to-tag" => &b.to_tag,
            _ => &b.sdp,
        };
        if field.as_deref().is_none_or(str::is_empty) {
            return Err(RequestError::Missing(key));
        }
    }

    Ok(Request {
        command,
        call_id: b.call_id,
        from_tag: b.from_tag,
        to_tag: b.to_tag,
        via_branch: b.via_branch,
        sdp: b.sdp,
        received_from: b.received_from,
        options: b.options,
    })
}

fn parse_command(dict: &Dict) -> Result<Command, RequestError> {
    let value = dict
        .get("command")
        .ok_or(RequestError::Missing("command"))?;
    let name = value.as_str().ok_or(RequestError::BadValue {
        key: "command",
        reason: "expected a string",
    })?;
    if name.trim().is_empty() {
        return Err(RequestError::Missing("command"));
    }
    Command::parse(name).ok_or_else(|| RequestError::UnknownCommand(truncate(name, MAX_ECHO)))
}

fn utf8_key(key: &[u8]) -> Option<&str> {
    std::str::from_utf8(key).ok()
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// ASCII-lowercases and maps space and underscore to hyphen.
fn normalize(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| match c {
            ' ' | '_' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// If `s` starts with `prefix` (canonical: lowercase, hyphens) under
/// normalization, the rest of `s` as sent.
fn strip_prefix_norm<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.as_bytes().get(..prefix.len())?;
    let matches = head.iter().zip(prefix.bytes()).all(|(&a, b)| {
        let a = match a {
            b' ' | b'_' => b'-',
            a => a.to_ascii_lowercase(),
        };
        a == b
    });
    // The matched bytes are ASCII, so `prefix.len()` is a char boundary.
    if matches {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// A value from either the dictionary or a flag token.
#[derive(Clone, Copy)]
enum Arg<'a> {
    Value(&'a Value),
    Str(&'a str),
    List(&'a [Token<'a>]),
}

impl<'a> Arg<'a> {
    fn from_token(v: &'a TokenValue<'a>) -> Self {
        match v {
            TokenValue::Str(s) => Arg::Str(s),
            TokenValue::List(l) => Arg::List(l),
        }
    }

    fn string(self, key: &'static str) -> Result<&'a str, RequestError> {
        match self {
            Arg::Value(Value::Bytes(b)) => {
                std::str::from_utf8(b).map_err(|_| bad(key, "not UTF-8"))
            }
            Arg::Value(_) | Arg::List(_) => Err(bad(key, "expected a string")),
            Arg::Str(s) => Ok(s),
        }
    }

    /// Calls `f` for each string of a list; a single string counts as a
    /// list of one.
    fn strings(
        self,
        key: &'static str,
        mut f: impl FnMut(&str) -> Result<(), RequestError>,
    ) -> Result<(), RequestError> {
        match self {
            Arg::Value(Value::List(items)) => {
                for item in items {
                    f(Arg::Value(item)
                        .string(key)
                        .map_err(|_| bad(key, "expected a list of strings"))?)?;
                }
                Ok(())
            }
            Arg::Value(Value::Bytes(_)) | Arg::Str(_) => f(self.string(key)?),
            Arg::Value(_) => Err(bad(key, "expected a list of strings")),
            Arg::List(tokens) => {
                for token in tokens {
                    match token {
                        Token::Flag(s) => f(s)?,
                        Token::Pair(k, TokenValue::Str(v)) => f(&format!("{k}={v}"))?,
                        Token::Pair(_, TokenValue::List(_)) => {
                            return Err(bad(key, "expected a list of strings"))
                        }
                    }
                }
                Ok(())
            }
        }
    }

    fn int(self, key: &'static str) -> Result<i64, RequestError> {
        match self {
            Arg::Value(v) => v.as_int(),
            Arg::Str(s) => s.trim().parse().ok(),
            Arg::List(_) => None,
        }
        .ok_or(bad(key, "expected a number"))
    }

    fn u32(self, key: &'static str) -> Result<u32, RequestError> {
        u32::try_from(self.int(key)?).map_err(|_| bad(key, "number out of range"))
    }

    fn i32(self, key: &'static str) -> Result<i32, RequestError> {
        i32::try_from(self.int(key)?).map_err(|_| bad(key, "number out of range"))
    }

    fn ip(self, key: &'static str) -> Result<IpAddr, RequestError> {
        parse_ip(self.string(key)?).ok_or(bad(key, "not an IP address"))
    }
}

fn bad(key: &'static str, reason: &'static str) -> RequestError {
    RequestError::BadValue { key, reason }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

#[derive(Default)]
struct Builder {
    call_id: Option<String>,
    from_tag: Option<String>,
    to_tag: Option<String>,
    via_branch: Option<String>,
    sdp: Option<String>,
    received_from: Option<IpAddr>,
    options: Options,
}

impl Builder {
    /// Applies one `flags` entry or `rtpp-flags` token.
    fn token(&mut self, token: &Token<'_>, depth: usize) -> Result<(), RequestError> {
        match token {
            Token::Flag(s) => {
                self.flag(s);
                Ok(())
            }
            Token::Pair(key, value) => {
                let k = normalize(key);
                self.pair(&k, key, Arg::from_token(value), depth)
            }
        }
    }

    /// Applies one entry of a `flags` list: `name` or `name=value`.
    fn flag_item(&mut self, item: &str, depth: usize) -> Result<(), RequestError> {
        match item.split_once('=') {
            None => {
                self.flag(item);
                Ok(())
            }
            Some((key, value)) => {
                let value = rtpp_flags::parse_value(value).map_err(|e| bad("flags", e.reason()))?;
                self.token(&Token::Pair(key, value), depth)
            }
        }
    }

    /// Applies a bare flag.
    fn flag(&mut self, raw: &str) {
        let f = &mut self.options.flags;
        let known = match normalize(raw).as_str() {
            "" => return,
            "trust-address" => &mut f.trust_address,
            "sip-source-address" => &mut f.sip_source_address,
            "symmetric" => &mut f.symmetric,
            "asymmetric" => &mut f.asymmetric,
            "strict-source" => &mut f.strict_source,
            "port-latching" => &mut f.port_latching,
            "media-handover" => &mut f.media_handover,
            "fatal" => &mut f.fatal,
            "always-transcode" => &mut f.always_transcode,
            "loop-protect" => &mut f.loop_protect,
            "early-media" => &mut f.early_media,
            "generate-rtcp" => &mut f.generate_rtcp,
            "inject-dtmf" => &mut f.inject_dtmf,
            "detect-dtmf" => &mut f.detect_dtmf,
            "record-call" => &mut f.record_call,
            "all" => &mut f.all,
            "rtp/avp" | "rtp/savp" | "rtp/avpf" | "rtp/savpf" | "udp/tls/rtp/savp"
            | "udp/tls/rtp/savpf" => {
                self.options.transport_protocol = Some(raw.trim().to_owned());
                return;
            }
            _ => {
                self.prefixed_flag(raw.trim());
                return;
            }
        };
        *known = true;
    }

    /// Flags that carry their value after a prefix: `replace-origin`,
    /// `codec-strip-all`, `SDES-off`, `rtcp-mux-demux`.
    fn prefixed_flag(&mut self, raw: &str) {
        let o = &mut self.options;
        let codec_lists: [(&str, &mut Vec<String>); 7] = [
            ("codec-strip-", &mut o.codec.strip),
            ("codec-offer-", &mut o.codec.offer),
            ("codec-transcode-", &mut o.codec.transcode),
            ("codec-mask-", &mut o.codec.mask),
            ("codec-accept-", &mut o.codec.accept),
            ("codec-except-", &mut o.codec.except),
            ("codec-set-", &mut o.codec.set),
        ];
        for (prefix, list) in codec_lists {
            if let Some(rest) = strip_prefix_norm(raw, prefix) {
                if !rest.is_empty() {
                    list.push(rest.to_owned());
                    return;
                }
            }
        }
        if let Some(rest) = strip_prefix_norm(raw, "sdes-").filter(|r| !r.is_empty()) {
            o.sdes.push(rest.to_owned());
        } else if let Some(rest) = strip_prefix_norm(raw, "replace-") {
            self.replace(rest);
        } else if let Some(rest) = strip_prefix_norm(raw, "rtcp-mux-") {
            self.rtcp_mux(rest);
        } else {
            o.flags.unknown.push(raw.to_owned());
        }
    }

    fn replace(&mut self, what: &str) {
        let r = &mut self.options.replace;
        let field = match normalize(what).as_str() {
            "origin" => &mut r.origin,
            "session-connection" => &mut r.session_connection,
            "session-name" => &mut r.session_name,
            "sdp-version" => &mut r.sdp_version,
            "zero-address" => &mut r.zero_address,
            "username" => &mut r.username,
            _ => {
                self.options.flags.unknown.push(format!("replace-{what}"));
                return;
            }
        };
        *field = true;
    }

    fn rtcp_mux(&mut self, what: &str) {
        let m = &mut self.options.rtcp_mux;
        let field = match normalize(what).as_str() {
            "offer" => &mut m.offer,
            "require" => &mut m.require,
            "demux" => &mut m.demux,
            "accept" => &mut m.accept,
            "reject" => &mut m.reject,
            _ => {
                self.options.flags.unknown.push(format!("rtcp-mux-{what}"));
                return;
            }
        };
        *field = true;
    }

    fn codec(&mut self, verb: &str, arg: Arg<'_>) -> Result<(), RequestError> {
        let c = &mut self.options.codec;
        let (key, list) = match normalize(verb).as_str() {
            "strip" => ("codec-strip", &mut c.strip),
            "offer" => ("codec-offer", &mut c.offer),
            "transcode" => ("codec-transcode", &mut c.transcode),
            "mask" => ("codec-mask", &mut c.mask),
            "accept" => ("codec-accept", &mut c.accept),
            "except" => ("codec-except", &mut c.except),
            "set" => ("codec-set", &mut c.set),
            _ => {
                self.options.flags.unknown.push(format!("codec-{verb}"));
                return Ok(());
            }
        };
        arg.strings(key, |s| {
            let s = s.trim();
            if !s.is_empty() {
                list.push(s.to_owned());
            }
            Ok(())
        })
    }

    /// Applies `key = arg`; `k` is `key` normalized.
    fn pair(&mut self, k: &str, key: &str, arg: Arg<'_>, depth: usize) -> Result<(), RequestError> {
        let o = &mut self.options;
        match k {
            "call-id" => self.call_id = Some(arg.string("call-id")?.to_owned()),
            "from-tag" => self.from_tag = Some(arg.string("from-tag")?.to_owned()),
            "to-tag" => self.to_tag = Some(arg.string("to-tag")?.to_owned()),
            "via-branch" => self.via_branch = Some(arg.string("via-branch")?.to_owned()),
            "sdp" => self.sdp = Some(arg.string("sdp")?.to_owned()),
            "received-from" => self.received_from = Some(received_from(arg)?),
            "transport-protocol" => {
                o.transport_protocol = Some(arg.string("transport-protocol")?.trim().to_owned());
            }
            "replace" => {
                let mut items = Vec::new();
                arg.strings("replace", |s| {
                    items.push(s.to_owned());
                    Ok(())
                })?;
                items.iter().for_each(|s| self.replace(s));
            }
            "ice" => o.ice = Some(IceMode::parse(arg.string("ICE")?.trim())),
            "dtls" => o.dtls = Some(arg.string("DTLS")?.trim().to_owned()),
            "rtcp-mux" => {
                let mut items = Vec::new();
                arg.strings("rtcp-mux", |s| {
                    items.push(s.to_owned());
                    Ok(())
                })?;
                items.iter().for_each(|s| self.rtcp_mux(s));
            }
            "direction" => arg.strings("direction", |s| {
                o.direction.push(s.trim().to_owned());
                Ok(())
            })?,
            "sdes" => arg.strings("SDES", |s| {
                if !s.trim().is_empty() {
                    o.sdes.push(s.trim().to_owned());
                }
                Ok(())
            })?,
            "codec" => self.codec_entries(arg)?,
            "codec-strip" | "codec-offer" | "codec-transcode" | "codec-mask" | "codec-accept"
            | "codec-except" | "codec-set" => {
                self.codec(k.strip_prefix("codec-").unwrap_or(k), arg)?;
            }
            "flags" | "rtpp-flags" if depth >= rtpp_flags::MAX_NESTING => {
                return Err(bad("flags", "flags nested too deeply"))
            }
            "flags" => match arg {
                Arg::List(tokens) => {
                    for t in tokens {
                        self.token(t, depth + 1)?;
                    }
                }
                _ => {
                    let mut items = Vec::new();
                    arg.strings("flags", |s| {
                        items.push(s.to_owned());
                        Ok(())
                    })?;
                    for item in &items {
                        self.flag_item(item, depth + 1)?;
                    }
                }
            },
            "rtpp-flags" => {
                let text = arg.string("rtpp-flags")?;
                let tokens =
                    rtpp_flags::tokenize(text).map_err(|e| bad("rtpp-flags", e.reason()))?;
                for t in &tokens {
                    self.token(t, depth + 1)?;
                }
            }
            "ptime" => o.ptime = Some(arg.u32("ptime")?),
            "ptime-reverse" => o.ptime_reverse = Some(arg.u32("ptime-reverse")?),
            "delete-delay" => o.delete_delay = Some(arg.u32("delete-delay")?),
            "limit" => o.limit = Some(arg.u32("limit")?),
            "supports" => arg.strings("supports", |s| {
                if normalize(s) == "load-limit" {
                    o.supports_load_limit = true;
                }
                Ok(())
            })?,
            "label" => o.label = Some(arg.string("label")?.to_owned()),
            "set-label" => o.set_label = Some(arg.string("set-label")?.to_owned()),
            "from-label" => o.from_label = Some(arg.string("from-label")?.to_owned()),
            "to-label" => o.to_label = Some(arg.string("to-label")?.to_owned()),
            "interface" => o.interface = Some(arg.string("interface")?.to_owned()),
            "code" | "digit" => {
                let code = match arg {
                    Arg::Value(Value::Int(i)) => i.to_string(),
                    _ => arg.string("code")?.trim().to_owned(),
                };
                o.dtmf_code = Some(code);
            }
            "duration" => o.dtmf_duration_ms = Some(arg.u32("duration")?),
            "volume" => o.dtmf_volume = Some(arg.i32("volume")?),
            "media-address" => o.media_address = Some(arg.ip("media-address")?),
            "address-family" => {
                o.address_family = Some(arg.string("address-family")?.trim().to_owned());
            }
            "record-call" => {
                o.flags.record_call = matches!(
                    normalize(arg.string("record-call")?).as_str(),
                    "yes" | "on" | "true" | "1"
                );
            }
            _ => {
                // Unknown dictionary keys are ignored; an unknown flag
                // with a value is remembered like a bare unknown flag.
                if depth > 0 {
                    let text = match arg {
                        Arg::Str(v) => format!("{key}={v}"),
                        _ => key.to_owned(),
                    };
                    o.flags.unknown.push(text);
                }
            }
        }
        Ok(())
    }

    fn codec_entries(&mut self, arg: Arg<'_>) -> Result<(), RequestError> {
        match arg {
            Arg::Value(Value::Dict(d)) => {
                for (verb, value) in d.iter() {
                    if let Some(verb) = utf8_key(verb) {
                        self.codec(verb, Arg::Value(value))?;
                    }
                }
                Ok(())
            }
            Arg::List(tokens) => {
                for t in tokens {
                    match t {
                        Token::Pair(verb, value) => self.codec(verb, Arg::from_token(value))?,
                        Token::Flag(f) => self.options.flags.unknown.push(format!("codec-{f}")),
                    }
                }
                Ok(())
            }
            _ => Err(bad("codec", "expected a dictionary")),
        }
    }
}

/// `received-from`: `["IP4", "1.2.3.4"]`, `["1.2.3.4"]` or `"1.2.3.4"`.
fn received_from(arg: Arg<'_>) -> Result<IpAddr, RequestError> {
    const KEY: &str = "received-from";
    let mut parts: Vec<String> = Vec::new();
    arg.strings(KEY, |s| {
        parts.push(s.to_owned());
        Ok(())
    })?;
    let addr = match parts.as_slice() {
        [addr] => addr,
        [family, addr] => {
            let family = normalize(family);
            if !matches!(family.as_str(), "ip4" | "ip6" | "ipv4" | "ipv6") {
                return Err(bad(KEY, "unknown address family"));
            }
            addr
        }
        _ => return Err(bad(KEY, "expected [family, address]")),
    };
    parse_ip(addr).ok_or(bad(KEY, "not an IP address"))
}

#[cfg(test)]
mod tests;

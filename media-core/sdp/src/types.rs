//! Typed views of the SDP lines this crate understands.

use std::fmt;
use std::net::IpAddr;

/// Address type token (`IP4` / `IP6`) for an IP address.
pub(crate) fn addrtype_of(addr: IpAddr) -> &'static str {
    match addr {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// Parses `address` (with any `/ttl` or `/count` suffix removed) as an IP
/// address of the family `addrtype` names.
fn ip_of(addrtype: &str, address: &str) -> Option<IpAddr> {
    let host = address.split('/').next().unwrap_or(address);
    let ip: IpAddr = host.parse().ok()?;
    match (addrtype, ip) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Some(ip),
        _ => None,
    }
}

/// Replaces CR, LF and NUL (which would end or corrupt a line) by spaces.
pub(crate) fn sanitize(text: &str) -> String {
    text.replace(['\r', '\n', '\0'], " ")
}

/// The `o=` line: `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// Login of the originating user, `-` when there is none.
    pub username: String,
    /// Numeric session identifier (kept as text).
    pub session_id: String,
    /// Numeric session version (kept as text).
    pub session_version: String,
    /// Network type, normally `IN`.
    pub nettype: String,
    /// Address type, normally `IP4` or `IP6`.
    pub addrtype: String,
    /// Address (or host name) of the originating host.
    pub address: String,
}

impl Origin {
    /// Parses the value of an `o=` line (the text after `o=`).
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let mut it = value.split_ascii_whitespace();
        let origin = Origin {
            username: it.next()?.to_owned(),
            session_id: it.next()?.to_owned(),
            session_version: it.next()?.to_owned(),
            nettype: it.next()?.to_owned(),
            addrtype: it.next()?.to_owned(),
            address: it.next()?.to_owned(),
        };
        if it.next().is_some() {
            return None;
        }
        Some(origin)
    }

    /// The address as an IP address, if it is one of the family `addrtype` names.
    pub fn ip(&self) -> Option<IpAddr> {
        ip_of(&self.addrtype, &self.address)
    }
}

/// Writes the value of the `o=` line (without the `o=` prefix).
impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.username,
            self.session_id,
            self.session_version,
            self.nettype,
            self.addrtype,
            self.address
        )
    }
}

/// A `c=` line: `c=<nettype> <addrtype> <connection-address>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Connection {
    /// Network type, normally `IN`.
    pub nettype: String,
    /// Address type, normally `IP4` or `IP6`.
    pub addrtype: String,
    /// The address; multicast addresses may carry `/ttl` and `/count` suffixes.
    pub address: String,
}

impl Connection {
    /// An `IN IP4 <addr>` or `IN IP6 <addr>` connection.
    pub fn new(addr: IpAddr) -> Self {
        Connection {
            nettype: "IN".to_owned(),
            addrtype: addrtype_of(addr).to_owned(),
            address: addr.to_string(),
        }
    }

    /// Parses the value of a `c=` line (the text after `c=`).
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let mut it = value.split_ascii_whitespace();
        let conn = Connection {
            nettype: it.next()?.to_owned(),
            addrtype: it.next()?.to_owned(),
            address: it.next()?.to_owned(),
        };
        if it.next().is_some() {
            return None;
        }
        Some(conn)
    }

    /// The address as an IP address, ignoring any `/ttl` or `/count`
    /// suffix. `None` for host names, unparsable addresses, and addresses
    /// whose family does not match `addrtype` (e.g. `IN IP4 ::1`).
    pub fn ip(&self) -> Option<IpAddr> {
        ip_of(&self.addrtype, &self.address)
    }
}

impl From<IpAddr> for Connection {
    fn from(addr: IpAddr) -> Self {
        Connection::new(addr)
    }
}

/// Writes the value of the `c=` line (without the `c=` prefix).
impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.nettype, self.addrtype, self.address)
    }
}

/// An `a=<name>` or `a=<name>:<value>` line, kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attribute {
    /// Text before the first `:` (attribute names are case-sensitive).
    pub name: String,
    /// Text after the first `:`, `None` for property attributes such as `a=rtcp-mux`.
    pub value: Option<String>,
}

impl Attribute {
    /// An attribute with the given name and value. CR, LF and NUL are
    /// replaced by spaces so the attribute stays on one line.
    pub fn new(name: &str, value: Option<&str>) -> Self {
        Attribute {
            name: sanitize(name),
            value: value.map(sanitize),
        }
    }

    /// Splits the value of an `a=` line (the text after `a=`).
    pub(crate) fn parse(value: &str) -> Self {
        match value.split_once(':') {
            Some((name, value)) => Attribute {
                name: name.to_owned(),
                value: Some(value.to_owned()),
            },
            None => Attribute {
                name: value.to_owned(),
                value: None,
            },
        }
    }
}

/// Writes the value of the `a=` line (without the `a=` prefix).
impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "{}:{}", self.name, value),
            None => f.write_str(&self.name),
        }
    }
}

/// An `a=rtcp:<port> [<nettype> <addrtype> <address>]` attribute (RFC 3605).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RtcpAttr {
    /// The RTCP port.
    pub port: u16,
    /// The RTCP address, when given and an IP address of the named family.
    pub address: Option<IpAddr>,
}

impl RtcpAttr {
    /// Parses the value of an `a=rtcp` attribute. The port must be valid;
    /// an address that is absent, incomplete or not an IP address (a host
    /// name) gives `address: None`.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let mut it = value.split_ascii_whitespace();
        let port = it.next()?.parse().ok()?;
        let address = match (it.next(), it.next(), it.next(), it.next()) {
            (Some(_nettype), Some(addrtype), Some(addr), None) => ip_of(addrtype, addr),
            _ => None,
        };
        Some(RtcpAttr { port, address })
    }
}

/// Writes the value of the `a=rtcp` attribute (without `a=rtcp:`).
impl fmt::Display for RtcpAttr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.address {
            Some(addr) => write!(f, "{} IN {} {}", self.port, addrtype_of(addr), addr),
            None => write!(f, "{}", self.port),
        }
    }
}

/// Media direction attribute (RFC 8866 section 6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `a=sendrecv`.
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// Attribute names of the four directions.
    pub const ATTRIBUTE_NAMES: [&'static str; 4] = ["sendrecv", "sendonly", "recvonly", "inactive"];

    /// The attribute name, e.g. `"sendonly"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an attribute name denotes, if it is one of the four.
    pub fn from_attribute_name(name: &str) -> Option<Self> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// The direction seen from the other side: `sendonly` and `recvonly`
    /// swap, the others stay.
    pub fn reversed(self) -> Self {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]` attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RtpMap {
    /// RTP payload type.
    pub payload_type: u8,
    /// Encoding name as written, e.g. `PCMU`, `opus`, `telephone-event`.
    pub encoding: String,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Number of channels (audio), when given.
    pub channels: Option<u8>,
}

impl RtpMap {
    /// Parses the value of an `a=rtpmap` attribute; `None` if malformed.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let (pt, rest) = value.trim().split_once(' ')?;
        let payload_type = pt.parse().ok()?;
        let mut parts = rest.trim().split('/');
        let encoding = parts.next().filter(|e| !e.is_empty())?.to_owned();
        let clock_rate = parts.next()?.trim().parse().ok()?;
        let channels = match parts.next() {
            Some(ch) => Some(ch.trim().parse().ok()?),
            None => None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(RtpMap {
            payload_type,
            encoding,
            clock_rate,
            channels,
        })
    }
}

/// Writes the value of the `a=rtpmap` attribute (without `a=rtpmap:`).
impl fmt::Display for RtpMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.payload_type, self.encoding, self.clock_rate
        )?;
        if let Some(ch) = self.channels {
            write!(f, "/{ch}")?;
        }
        Ok(())
    }
}

//! Media sections (`m=` and the lines that follow it).

use std::fmt;
use std::net::IpAddr;

use crate::error::MediaLineError;
use crate::lines::{self, Kept, Slot};
use crate::types::{sanitize, Attribute, Connection, Direction, RtcpAttr, RtpMap};

/// Attributes that belong to ICE (RFC 8839), removed by
/// [`MediaSection::remove_ice`] and, at both levels,
/// [`SessionDescription::remove_ice`](crate::SessionDescription::remove_ice).
pub const ICE_ATTRIBUTES: [&str; 8] = [
    "candidate",
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
    "end-of-candidates",
    "remote-candidates",
    "ice-lite",
    "ice-mismatch",
];

/// The fields of an `m=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MediaLine {
    kind: String,
    port: u16,
    port_count: Option<u16>,
    protocol: String,
    formats: Vec<String>,
}

impl MediaLine {
    pub(crate) fn parse(value: &str) -> Result<Self, MediaLineError> {
        let mut it = value.split_ascii_whitespace();
        let kind = it.next().ok_or(MediaLineError::MissingField)?;
        let port_field = it.next().ok_or(MediaLineError::MissingField)?;
        let protocol = it.next().ok_or(MediaLineError::MissingField)?;
        let (port, port_count) = match port_field.split_once('/') {
            Some((port, count)) => (port, Some(count)),
            None => (port_field, None),
        };
        let port = parse_u16(port).ok_or(MediaLineError::BadPort)?;
        let port_count = match port_count {
            Some(count) => Some(
                parse_u16(count)
                    .filter(|c| *c != 0)
                    .ok_or(MediaLineError::BadPortCount)?,
            ),
            None => None,
        };
        let formats: Vec<String> = it.map(str::to_owned).collect();
        if formats.is_empty() {
            return Err(MediaLineError::NoFormats);
        }
        Ok(MediaLine {
            kind: kind.to_owned(),
            port,
            port_count,
            protocol: protocol.to_owned(),
            formats,
        })
    }
}

/// Parses a decimal `u16` made of ASCII digits only (no sign, no spaces).
fn parse_u16(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl fmt::Display for MediaLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.port)?;
        if let Some(count) = self.port_count {
            write!(f, "/{count}")?;
        }
        write!(f, " {}", self.protocol)?;
        for format in &self.formats {
            write!(f, " {format}")?;
        }
        Ok(())
    }
}

/// One media section: its `m=` line and every line up to the next `m=`,
/// in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSection {
    line: Kept<MediaLine>,
    connections: Vec<Kept<Connection>>,
    attributes: Vec<Attribute>,
    slots: Vec<Slot>,
}

impl MediaSection {
    pub(crate) fn new(line: Kept<MediaLine>) -> Self {
        MediaSection {
            line,
            connections: Vec::new(),
            attributes: Vec::new(),
            slots: Vec::new(),
        }
    }

    pub(crate) fn push_connection(&mut self, conn: Kept<Connection>) {
        self.connections.push(conn);
        self.slots.push(Slot::Connection);
    }

    pub(crate) fn push_attribute(&mut self, attr: Attribute) {
        self.attributes.push(attr);
        self.slots.push(Slot::Attribute);
    }

    pub(crate) fn push_other(&mut self, line: &str) {
        self.slots.push(Slot::Other(line.to_owned()));
    }

    pub(crate) fn write(&self, out: &mut String) {
        lines::write_kept(out, "m=", &self.line);
        lines::write_slots(out, &self.slots, None, &self.connections, &self.attributes);
    }

    /// The media type: `audio`, `video`, `application`, ...
    pub fn kind(&self) -> &str {
        &self.line.get().kind
    }

    /// The transport port; 0 means the stream is rejected or disabled.
    pub fn port(&self) -> u16 {
        self.line.get().port
    }

    /// Sets the transport port, keeping any `/<number of ports>`.
    pub fn set_port(&mut self, port: u16) {
        self.line.get_mut().port = port;
    }

    /// The number of ports from `m=audio 5000/2 ...`, if given.
    pub fn port_count(&self) -> Option<u16> {
        self.line.get().port_count
    }

    /// Sets or removes the `/<number of ports>` suffix. `Some(0)` removes it too.
    pub fn set_port_count(&mut self, count: Option<u16>) {
        self.line.get_mut().port_count = count.filter(|c| *c != 0);
    }

    /// Whether the port is 0 (a rejected or disabled stream).
    pub fn is_rejected(&self) -> bool {
        self.port() == 0
    }

    /// The transport protocol: `RTP/AVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF`, ...
    pub fn protocol(&self) -> &str {
        &self.line.get().protocol
    }

    /// Sets the transport protocol. Whitespace and control characters are
    /// removed so the `m=` line keeps its shape; an empty result leaves the
    /// protocol unchanged.
    pub fn set_protocol(&mut self, proto: &str) {
        let proto: String = proto
            .chars()
            .filter(|c| !c.is_whitespace() && !c.is_control())
            .collect();
        if !proto.is_empty() {
            self.line.get_mut().protocol = proto;
        }
    }

    /// The formats (RTP payload types for RTP profiles) as written.
    pub fn formats(&self) -> &[String] {
        &self.line.get().formats
    }

    /// Replaces the format list. Entries that are empty or contain
    /// whitespace or control characters are skipped; if nothing is left
    /// the list is unchanged (an `m=` line needs at least one format).
    /// Related `a=rtpmap`/`a=fmtp` lines are not touched.
    pub fn set_formats<S: AsRef<str>>(&mut self, formats: &[S]) {
        let formats: Vec<String> = formats
            .iter()
            .map(AsRef::as_ref)
            .filter(|f| !f.is_empty() && !f.chars().any(|c| c.is_whitespace() || c.is_control()))
            .map(str::to_owned)
            .collect();
        if !formats.is_empty() {
            self.line.get_mut().formats = formats;
        }
    }

    /// Keeps only the formats for which `keep` returns true and removes the
    /// `a=rtpmap`, `a=fmtp` and `a=rtcp-fb` attributes of the removed ones
    /// (`a=rtcp-fb:*` stays). Returns false and changes nothing if no
    /// format would be left, since an `m=` line needs one; the caller then
    /// decides (e.g. rejects the stream with port 0).
    pub fn retain_formats(&mut self, mut keep: impl FnMut(&str) -> bool) -> bool {
        let (kept, removed): (Vec<String>, Vec<String>) =
            self.formats().iter().cloned().partition(|f| keep(f));
        if kept.is_empty() {
            return false;
        }
        if removed.is_empty() {
            return true;
        }
        self.line.get_mut().formats = kept;
        self.retain_attributes(|a| {
            if !matches!(a.name.as_str(), "rtpmap" | "fmtp" | "rtcp-fb") {
                return true;
            }
            let pt = a
                .value
                .as_deref()
                .and_then(|v| v.split_ascii_whitespace().next());
            !pt.is_some_and(|pt| removed.iter().any(|r| r == pt))
        });
        true
    }

    /// The first media-level `c=` line.
    pub fn connection(&self) -> Option<&Connection> {
        self.connections.first().map(Kept::get)
    }

    /// All media-level `c=` lines (several only for layered multicast).
    pub fn connections(&self) -> impl Iterator<Item = &Connection> + '_ {
        self.connections.iter().map(Kept::get)
    }

    /// Points the media-level `c=` line at `addr` (`IN IP4` or `IN IP6`).
    ///
    /// Rewrites the first `c=` line in place and removes any others; if
    /// there is none, inserts one right after the `m=` line and any `i=`
    /// lines.
    pub fn set_connection(&mut self, addr: IpAddr) {
        let new = Connection::new(addr);
        if let Some(first) = self.connections.first_mut() {
            *first.get_mut() = new;
            self.connections.truncate(1);
            let mut seen = false;
            self.slots.retain(|slot| {
                if matches!(slot, Slot::Connection) {
                    let keep = !seen;
                    seen = true;
                    keep
                } else {
                    true
                }
            });
        } else {
            let at = self
                .slots
                .iter()
                .position(|slot| !slot.is_other('i'))
                .unwrap_or(self.slots.len());
            self.slots.insert(at, Slot::Connection);
            self.connections.push(Kept::new(new));
        }
    }

    /// All attributes, in order.
    pub fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }

    /// The first attribute called `name` (case-sensitive).
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// Every attribute called `name`, in order.
    pub fn attributes_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Attribute> + 'a {
        self.attributes.iter().filter(move |a| a.name == name)
    }

    /// Whether an attribute called `name` is present.
    pub fn has_attribute(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }

    /// Removes every attribute whose name is in `names`.
    pub fn remove_attributes(&mut self, names: &[&str]) {
        self.retain_attributes(|a| !names.contains(&a.name.as_str()));
    }

    /// Keeps only the attributes for which `keep` returns true; other lines
    /// and the order are untouched.
    pub fn retain_attributes(&mut self, keep: impl FnMut(&Attribute) -> bool) {
        lines::retain_attributes(&mut self.slots, &mut self.attributes, keep);
    }

    /// Appends `a=name[:value]` at the end of the section. CR, LF and NUL
    /// are replaced by spaces.
    pub fn add_attribute(&mut self, name: &str, value: Option<&str>) {
        self.push_attribute(Attribute::new(name, value));
    }

    /// Sets the first attribute called `name` to `value` in place, removing
    /// any later ones, or appends it if absent.
    pub fn set_attribute(&mut self, name: &str, value: Option<&str>) {
        lines::replace_attribute(&mut self.slots, &mut self.attributes, name, value);
    }

    /// The first `a=rtcp` attribute, if present and its port is valid.
    pub fn rtcp(&self) -> Option<RtcpAttr> {
        self.attribute("rtcp")
            .and_then(|a| a.value.as_deref())
            .and_then(RtcpAttr::parse)
    }

    /// Replaces the first `a=rtcp` in place (removing any later ones) or
    /// appends one: `a=rtcp:PORT` or `a=rtcp:PORT IN IP4|IP6 ADDR`.
    pub fn set_rtcp(&mut self, port: u16, addr: Option<IpAddr>) {
        let value = RtcpAttr {
            port,
            address: addr,
        }
        .to_string();
        self.set_attribute("rtcp", Some(&value));
    }

    /// Whether `a=rtcp-mux` is present.
    pub fn is_rtcp_mux(&self) -> bool {
        self.has_attribute("rtcp-mux")
    }

    /// The first media-level direction attribute (`sendrecv`, `sendonly`,
    /// `recvonly`, `inactive`). `None` means none is given here; the
    /// session level, then `sendrecv`, apply.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes
            .iter()
            .find_map(|a| Direction::from_attribute_name(&a.name))
    }

    /// Sets the media-level direction: the first direction attribute is
    /// replaced in place and any others removed, or it is appended.
    pub fn set_direction(&mut self, direction: Direction) {
        let mut seen = false;
        self.retain_attributes(|a| {
            if Direction::from_attribute_name(&a.name).is_none() {
                return true;
            }
            let first = !seen;
            seen = true;
            first
        });
        match self
            .attributes
            .iter_mut()
            .find(|a| Direction::from_attribute_name(&a.name).is_some())
        {
            Some(attr) => *attr = Attribute::new(direction.as_str(), None),
            None => self.add_attribute(direction.as_str(), None),
        }
    }

    /// The well-formed `a=rtpmap` attributes, in order; malformed ones are skipped.
    pub fn rtpmap(&self) -> impl Iterator<Item = RtpMap> + '_ {
        self.attributes_named("rtpmap")
            .filter_map(|a| a.value.as_deref())
            .filter_map(RtpMap::parse)
    }

    /// The parameters of the first `a=fmtp:<payload_type> <params>`.
    pub fn fmtp(&self, payload_type: u8) -> Option<&str> {
        self.attributes_named("fmtp")
            .filter_map(|a| a.value.as_deref())
            .find_map(|v| {
                let (pt, params) = v.split_once(' ').unwrap_or((v, ""));
                (pt.parse::<u8>().ok()? == payload_type).then_some(params.trim_start())
            })
    }

    /// Removes the ICE attributes listed in [`ICE_ATTRIBUTES`].
    pub fn remove_ice(&mut self) {
        self.remove_attributes(&ICE_ATTRIBUTES);
    }

    /// Appends an untyped line such as `b=AS:64` at the end of the section.
    /// `line` must be `<letter>=<value>`; a line of another shape, or an
    /// `m=`, `c=`, `a=`, `v=`, `o=` or `s=` line, is ignored (use the
    /// typed setters for those). CR, LF and NUL are replaced by spaces.
    pub fn add_line(&mut self, line: &str) {
        let bytes = line.as_bytes();
        if bytes.len() < 2 || !bytes[0].is_ascii_alphabetic() || bytes[1] != b'=' {
            return;
        }
        if matches!(bytes[0], b'm' | b'c' | b'a' | b'v' | b'o' | b's') {
            return;
        }
        self.push_other(&sanitize(line));
    }

    /// The untyped lines (everything but `m=`, `c=` and `a=`), verbatim, in order.
    pub fn other_lines(&self) -> impl Iterator<Item = &str> + '_ {
        self.slots.iter().filter_map(|slot| match slot {
            Slot::Other(line) => Some(line.as_str()),
            _ => None,
        })
    }
}

/// Writes the section as SDP text with CRLF line endings.
impl fmt::Display for MediaSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write(&mut out);
        f.write_str(&out)
    }
}

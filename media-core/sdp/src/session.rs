//! The whole session description and its parser.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::error::{LineError, SdpError};
use crate::lines::{self, Kept, Slot};
use crate::media::{MediaLine, MediaSection, ICE_ATTRIBUTES};
use crate::types::{addrtype_of, sanitize, Attribute, Connection, Direction, Origin};
use crate::{MAX_MEDIA_SECTIONS, MAX_SDP_LEN};

/// A parsed SDP body: the session-level lines and the media sections, each
/// in input order. Lines this crate does not interpret are kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    origin: Option<Kept<Origin>>,
    connection: Option<Kept<Connection>>,
    attributes: Vec<Attribute>,
    slots: Vec<Slot>,
    media: Vec<MediaSection>,
}

/// Splits `text` into numbered lines without their line endings, dropping
/// trailing blank (empty or whitespace-only) lines.
fn split_lines(text: &str) -> Vec<(usize, &str)> {
    let mut lines: Vec<(usize, &str)> = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .collect();
    while lines.last().is_some_and(|(_, l)| l.trim().is_empty()) {
        lines.pop();
    }
    lines
}

/// Checks that `line` is `<ASCII letter>=<value>` without CR or NUL and
/// returns the letter and the value.
fn split_line(number: usize, line: &str) -> Result<(u8, &str), SdpError> {
    let bad = |reason| SdpError::BadLine {
        line: number,
        reason,
    };
    let bytes = line.as_bytes();
    if bytes.is_empty() {
        return Err(bad(LineError::Empty));
    }
    if bytes.iter().any(|b| matches!(b, b'\r' | b'\0')) {
        return Err(bad(LineError::ControlCharacter));
    }
    if bytes.len() < 2 || !bytes[0].is_ascii_alphabetic() || bytes[1] != b'=' {
        return Err(bad(LineError::NotTypeValue));
    }
    // Both leading bytes are ASCII, so index 2 is a char boundary.
    Ok((bytes[0], &line[2..]))
}

impl SessionDescription {
    /// Parses an SDP body. Accepts CRLF or LF line endings and ignores
    /// trailing blank lines.
    ///
    /// Rejects bodies over [`MAX_SDP_LEN`] bytes or with more than
    /// [`MAX_MEDIA_SECTIONS`] media sections, a first line other than
    /// `v=0`, lines not of the form `<letter>=<value>` (including empty
    /// lines before the end), malformed `o=`, `c=` and `m=` lines, a second
    /// `v=`, `o=` or session-level `c=`, and `o=`/`s=` inside a media
    /// section. A body without `m=` lines, `o=` or `s=` is accepted; the
    /// caller decides what it needs.
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        if text.len() > MAX_SDP_LEN {
            return Err(SdpError::TooLarge {
                len: text.len(),
                max: MAX_SDP_LEN,
            });
        }
        let mut lines = split_lines(text).into_iter();
        let mut sdp = SessionDescription {
            origin: None,
            connection: None,
            attributes: Vec::new(),
            slots: Vec::new(),
            media: Vec::new(),
        };

        match lines.next() {
            Some((number, line)) if line.starts_with("v=") => {
                split_line(number, line)?;
                if line[2..].trim() != "0" {
                    return Err(SdpError::UnsupportedVersion);
                }
                sdp.slots.push(Slot::Other(line.to_owned()));
            }
            _ => return Err(SdpError::MissingVersion),
        }

        let mut current: Option<MediaSection> = None;
        for (number, line) in lines {
            let (kind, value) = split_line(number, line)?;
            let unexpected = SdpError::UnexpectedLine {
                line: number,
                kind: char::from(kind),
            };
            if kind == b'm' {
                if sdp.media.len() + usize::from(current.is_some()) >= MAX_MEDIA_SECTIONS {
                    return Err(SdpError::TooManyMedia {
                        max: MAX_MEDIA_SECTIONS,
                    });
                }
                let parsed = MediaLine::parse(value).map_err(|reason| SdpError::BadMediaLine {
                    line: number,
                    reason,
                })?;
                if let Some(done) = current.replace(MediaSection::new(Kept::parsed(parsed, value)))
                {
                    sdp.media.push(done);
                }
                continue;
            }
            let connection = || {
                Connection::parse(value)
                    .map(|c| Kept::parsed(c, value))
                    .ok_or(SdpError::BadConnection { line: number })
            };
            match (&mut current, kind) {
                (_, b'v') => return Err(unexpected),
                (Some(_), b'o' | b's') => return Err(unexpected),
                (Some(media), b'c') => media.push_connection(connection()?),
                (Some(media), b'a') => media.push_attribute(Attribute::parse(value)),
                (Some(media), _) => media.push_other(line),
                (None, b'o') => {
                    if sdp.origin.is_some() {
                        return Err(unexpected);
                    }
                    let origin =
                        Origin::parse(value).ok_or(SdpError::BadOrigin { line: number })?;
                    sdp.origin = Some(Kept::parsed(origin, value));
                    sdp.slots.push(Slot::Origin);
                }
                (None, b'c') => {
                    if sdp.connection.is_some() {
                        return Err(unexpected);
                    }
                    sdp.connection = Some(connection()?);
                    sdp.slots.push(Slot::Connection);
                }
                (None, b'a') => {
                    sdp.attributes.push(Attribute::parse(value));
                    sdp.slots.push(Slot::Attribute);
                }
                (None, _) => sdp.slots.push(Slot::Other(line.to_owned())),
            }
        }
        if let Some(done) = current {
            sdp.media.push(done);
        }
        Ok(sdp)
    }

    /// Writes the SDP with CRLF line endings. An unmodified parse result
    /// gives back its input exactly, except that LF endings become CRLF and
    /// trailing blank lines are dropped.
    pub fn to_sdp_string(&self) -> String {
        let mut out = String::with_capacity(64 * (self.slots.len() + 8 * self.media.len()));
        lines::write_slots(
            &mut out,
            &self.slots,
            self.origin.as_ref(),
            self.connection.as_slice(),
            &self.attributes,
        );
        for media in &self.media {
            media.write(&mut out);
        }
        out
    }

    /// The `o=` line.
    pub fn origin(&self) -> Option<&Origin> {
        self.origin.as_ref().map(Kept::get)
    }

    /// Rewrites the `o=` line's network type, address type and address to
    /// `IN IP4|IP6 <addr>`. Does nothing if there is no `o=` line.
    pub fn set_origin_address(&mut self, addr: IpAddr) {
        if let Some(origin) = &mut self.origin {
            let origin = origin.get_mut();
            "IN".clone_into(&mut origin.nettype);
            addrtype_of(addr).clone_into(&mut origin.addrtype);
            origin.address = addr.to_string();
        }
    }

    /// Adds one to the `o=` session version. A version that is a `u64`
    /// wraps from `u64::MAX` to 0; a longer string of digits is
    /// incremented as a decimal number; anything else (not a number) is
    /// left alone, as is a missing `o=` line.
    pub fn bump_origin_version(&mut self) {
        let Some(origin) = &mut self.origin else {
            return;
        };
        let version = &origin.get().session_version;
        let bumped = if let Ok(n) = version.parse::<u64>() {
            n.wrapping_add(1).to_string()
        } else if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) {
            increment_decimal(version)
        } else {
            return;
        };
        origin.get_mut().session_version = bumped;
    }

    /// The session name (`s=` value), if there is an `s=` line.
    pub fn session_name(&self) -> Option<&str> {
        self.slots.iter().find_map(|slot| match slot {
            Slot::Other(line) if slot.is_other('s') => line.get(2..),
            _ => None,
        })
    }

    /// Sets the `s=` line, inserting it after `o=` (or `v=`) if absent.
    /// CR, LF and NUL become spaces; an empty name is written as a single
    /// space, as RFC 8866 recommends.
    pub fn set_session_name(&mut self, name: &str) {
        let name = sanitize(name);
        let line = format!("s={}", if name.is_empty() { " " } else { &name });
        if let Some(slot) = self.slots.iter_mut().find(|slot| slot.is_other('s')) {
            *slot = Slot::Other(line);
            return;
        }
        let at = self
            .slots
            .iter()
            .position(|slot| !(matches!(slot, Slot::Origin) || slot.is_other('v')))
            .unwrap_or(self.slots.len());
        self.slots.insert(at, Slot::Other(line));
    }

    /// The session-level `c=` line.
    pub fn connection(&self) -> Option<&Connection> {
        self.connection.as_ref().map(Kept::get)
    }

    /// Rewrites the session-level `c=` line to `IN IP4|IP6 <addr>` **only if
    /// one is present**; it is not created, since media sections may carry
    /// their own `c=` lines. Use [`Self::set_or_insert_connection`] to
    /// create it.
    pub fn set_connection(&mut self, addr: IpAddr) {
        if let Some(conn) = &mut self.connection {
            *conn.get_mut() = Connection::new(addr);
        }
    }

    /// Like [`Self::set_connection`], but when there is no session-level
    /// `c=` line, inserts one after the `v=`, `o=`, `s=`, `i=`, `u=`, `e=`
    /// and `p=` lines, where RFC 8866 places it.
    pub fn set_or_insert_connection(&mut self, addr: IpAddr) {
        if self.connection.is_some() {
            self.set_connection(addr);
            return;
        }
        let at = self
            .slots
            .iter()
            .position(|slot| {
                !(matches!(slot, Slot::Origin)
                    || ['v', 's', 'i', 'u', 'e', 'p']
                        .iter()
                        .any(|k| slot.is_other(*k)))
            })
            .unwrap_or(self.slots.len());
        self.slots.insert(at, Slot::Connection);
        self.connection = Some(Kept::new(Connection::new(addr)));
    }

    /// The media sections, in order.
    pub fn media(&self) -> &[MediaSection] {
        &self.media
    }

    /// The media sections, for rewriting.
    pub fn media_mut(&mut self) -> &mut [MediaSection] {
        &mut self.media
    }

    /// The connection that applies to media section `index`: its own first
    /// `c=` line, else the session-level one. `None` if neither exists or
    /// there is no such section.
    pub fn media_connection(&self, index: usize) -> Option<&Connection> {
        let media = self.media.get(index)?;
        media.connection().or_else(|| self.connection())
    }

    /// The direction that applies to media section `index`: its own
    /// direction attribute, else the session-level one, else `sendrecv`.
    /// `None` only if there is no such section.
    pub fn media_direction(&self, index: usize) -> Option<Direction> {
        let media = self.media.get(index)?;
        Some(
            media
                .direction()
                .or_else(|| self.direction())
                .unwrap_or(Direction::SendRecv),
        )
    }

    /// The session-level attributes, in order.
    pub fn session_attributes(&self) -> &[Attribute] {
        &self.attributes
    }

    /// The first session-level attribute called `name` (case-sensitive).
    pub fn session_attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// Removes every session-level attribute whose name is in `names`.
    pub fn remove_session_attributes(&mut self, names: &[&str]) {
        self.retain_session_attributes(|a| !names.contains(&a.name.as_str()));
    }

    /// Keeps only the session-level attributes for which `keep` returns true.
    pub fn retain_session_attributes(&mut self, keep: impl FnMut(&Attribute) -> bool) {
        lines::retain_attributes(&mut self.slots, &mut self.attributes, keep);
    }

    /// Appends a session-level `a=name[:value]` after the last
    /// session-level line (before the first `m=`). CR, LF and NUL become
    /// spaces.
    pub fn add_session_attribute(&mut self, name: &str, value: Option<&str>) {
        self.attributes.push(Attribute::new(name, value));
        self.slots.push(Slot::Attribute);
    }

    /// Sets the first session-level attribute called `name` in place,
    /// removing later ones, or appends it if absent.
    pub fn set_session_attribute(&mut self, name: &str, value: Option<&str>) {
        lines::replace_attribute(&mut self.slots, &mut self.attributes, name, value);
    }

    /// The first session-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes
            .iter()
            .find_map(|a| Direction::from_attribute_name(&a.name))
    }

    /// Removes ICE: every attribute in [`ICE_ATTRIBUTES`], at session level
    /// (where `ice-ufrag`, `ice-pwd`, `ice-options`, `ice-lite` belong, and
    /// stray candidates are removed too) and in every media section.
    pub fn remove_ice(&mut self) {
        self.remove_session_attributes(&ICE_ATTRIBUTES);
        for media in &mut self.media {
            media.remove_ice();
        }
    }
}

/// Adds one to a non-empty string of ASCII digits.
fn increment_decimal(digits: &str) -> String {
    let mut bytes = digits.as_bytes().to_vec();
    for b in bytes.iter_mut().rev() {
        if *b == b'9' {
            *b = b'0';
        } else {
            *b += 1;
            return String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    let mut out = String::with_capacity(bytes.len() + 1);
    out.push('1');
    out.push_str(&String::from_utf8_lossy(&bytes));
    out
}

/// Same as [`SessionDescription::to_sdp_string`].
impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sdp_string())
    }
}

/// Same as [`SessionDescription::parse`].
impl FromStr for SessionDescription {
    type Err = SdpError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SessionDescription::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_increment() {
        assert_eq!(increment_decimal("0"), "1");
        assert_eq!(increment_decimal("129"), "130");
        assert_eq!(increment_decimal("999"), "1000");
        assert_eq!(
            increment_decimal("99999999999999999999999"),
            "100000000000000000000000"
        );
    }
}

//! Order-preserving storage shared by the session and media levels.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use crate::types::{Attribute, Connection, Origin};

/// A typed line that remembers its original text until it is modified, so
/// unusual but harmless spacing survives a round trip untouched.
///
/// Two `Kept` are equal when their values and their written text are; a
/// line created by this crate equals the same line parsed back.
#[derive(Debug, Clone)]
pub(crate) struct Kept<T> {
    value: T,
    original: Option<String>,
}

impl<T: fmt::Display> Kept<T> {
    /// A value parsed from `original` (the text after `x=`).
    pub(crate) fn parsed(value: T, original: &str) -> Self {
        Kept {
            value,
            original: Some(original.to_owned()),
        }
    }

    /// A value created by this crate; it is written in canonical form.
    pub(crate) fn new(value: T) -> Self {
        Kept {
            value,
            original: None,
        }
    }

    /// The typed value.
    pub(crate) fn get(&self) -> &T {
        &self.value
    }

    /// The typed value, for modification; the original text is forgotten.
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.original = None;
        &mut self.value
    }

    /// The text written after `x=`.
    fn text(&self) -> Cow<'_, str> {
        match &self.original {
            Some(text) => Cow::Borrowed(text),
            None => Cow::Owned(self.value.to_string()),
        }
    }

    fn write(&self, out: &mut String) {
        match &self.original {
            Some(text) => out.push_str(text),
            // Writing to a String cannot fail.
            None => {
                let _ = write!(out, "{}", self.value);
            }
        }
    }
}

impl<T: fmt::Display + PartialEq> PartialEq for Kept<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value && self.text() == other.text()
    }
}

impl<T: fmt::Display + Eq> Eq for Kept<T> {}

/// One line of a section, in input order. Typed lines refer to the next
/// unused entry of the section's typed vectors (origin, connections,
/// attributes), so the number of `Connection` / `Attribute` slots always
/// equals the length of the matching vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Slot {
    /// The `o=` line.
    Origin,
    /// The next `c=` line.
    Connection,
    /// The next `a=` line.
    Attribute,
    /// Any other line, verbatim and without its line ending.
    Other(String),
}

impl Slot {
    /// Whether this is an untyped line of the given type letter.
    pub(crate) fn is_other(&self, kind: char) -> bool {
        match self {
            Slot::Other(line) => line.as_bytes().first() == Some(&(kind as u8)),
            _ => false,
        }
    }
}

/// Appends the lines of one section, each followed by CRLF.
pub(crate) fn write_slots(
    out: &mut String,
    slots: &[Slot],
    origin: Option<&Kept<Origin>>,
    connections: &[Kept<Connection>],
    attributes: &[Attribute],
) {
    let mut connections = connections.iter();
    let mut attributes = attributes.iter();
    for slot in slots {
        match slot {
            Slot::Origin => {
                if let Some(origin) = origin {
                    out.push_str("o=");
                    origin.write(out);
                    out.push_str("\r\n");
                }
            }
            Slot::Connection => {
                if let Some(conn) = connections.next() {
                    out.push_str("c=");
                    conn.write(out);
                    out.push_str("\r\n");
                }
            }
            Slot::Attribute => {
                if let Some(attr) = attributes.next() {
                    out.push_str("a=");
                    out.push_str(&attr.name);
                    if let Some(value) = &attr.value {
                        out.push(':');
                        out.push_str(value);
                    }
                    out.push_str("\r\n");
                }
            }
            Slot::Other(line) => {
                out.push_str(line);
                out.push_str("\r\n");
            }
        }
    }
}

/// Appends a typed line (`prefix` then the value's text) and CRLF.
pub(crate) fn write_kept<T: fmt::Display>(out: &mut String, prefix: &str, kept: &Kept<T>) {
    out.push_str(prefix);
    kept.write(out);
    out.push_str("\r\n");
}

/// Keeps the attributes for which `keep` is true, and their slots.
pub(crate) fn retain_attributes(
    slots: &mut Vec<Slot>,
    attributes: &mut Vec<Attribute>,
    mut keep: impl FnMut(&Attribute) -> bool,
) {
    let flags: Vec<bool> = attributes.iter().map(&mut keep).collect();
    if flags.iter().all(|k| *k) {
        return;
    }
    let mut i = 0;
    slots.retain(|slot| {
        if matches!(slot, Slot::Attribute) {
            let k = flags.get(i).copied().unwrap_or(true);
            i += 1;
            k
        } else {
            true
        }
    });
    let mut flags = flags.into_iter();
    attributes.retain(|_| flags.next().unwrap_or(true));
}

/// Sets the value of the first attribute called `name` and removes any
/// later ones; appends the attribute if there is none.
pub(crate) fn replace_attribute(
    slots: &mut Vec<Slot>,
    attributes: &mut Vec<Attribute>,
    name: &str,
    value: Option<&str>,
) {
    let new = Attribute::new(name, value);
    let mut seen = false;
    retain_attributes(slots, attributes, |a| {
        if a.name != new.name {
            return true;
        }
        let first = !seen;
        seen = true;
        first
    });
    match attributes.iter_mut().find(|a| a.name == new.name) {
        Some(existing) => *existing = new,
        None => {
            attributes.push(new);
            slots.push(Slot::Attribute);
        }
    }
}

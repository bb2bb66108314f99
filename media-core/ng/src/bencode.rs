//! Bencode values, the encoding of every NG message body.
//!
//! Decoding is strict about structure and bounded in depth and size so
//! that no datagram can exhaust memory or stack; encoding always writes
//! dictionary keys in sorted order, as bencode requires.

use std::collections::BTreeMap;

/// Deepest nesting of lists and dictionaries a message may have.
pub const MAX_DEPTH: usize = 32;

/// A decoded bencode value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `i<n>e`
    Int(i64),
    /// `<len>:<bytes>`
    Bytes(Vec<u8>),
    /// `l...e`
    List(Vec<Value>),
    /// `d...e`
    Dict(Dict),
}

/// A bencode dictionary with byte-string keys, kept sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dict(BTreeMap<Vec<u8>, Value>);

/// Why a byte string is not valid bencode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended inside a value.
    #[error("bencode ended early at byte {0}")]
    UnexpectedEnd(usize),
    /// A byte that cannot start or continue a value.
    #[error("unexpected byte {byte:#04x} at {at}")]
    UnexpectedByte {
        /// The offending byte.
        byte: u8,
        /// Its offset.
        at: usize,
    },
    /// An integer or length that does not parse or overflows.
    #[error("bad number at byte {0}")]
    BadNumber(usize),
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    /// A dictionary key that is not a byte string.
    #[error("dictionary key at byte {0} is not a string")]
    NonStringKey(usize),
    /// Bytes left over after the top-level value.
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
}

impl Value {
    /// The value as UTF-8 text, if it is a byte string holding valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// The value as raw bytes, if it is a byte string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The value as an integer; a decimal byte string counts too, since
    /// proxies send some numbers as strings.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The value as a dictionary.
    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// Appends the bencoding of this value to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            Value::Bytes(b) => encode_bytes(b, out),
            Value::List(items) => {
                out.push(b'l');
                for item in items {
                    item.encode(out);
                }
                out.push(b'e');
            }
            Value::Dict(d) => d.encode(out),
        }
    }

    /// The bencoding of this value.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

impl Dict {
    /// An empty dictionary.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value under `key`, exactly as spelled.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key.as_bytes())
    }

    /// Inserts or replaces `key`.
    pub fn insert(&mut self, key: &str, value: impl Into<Value>) {
        self.0.insert(key.as_bytes().to_vec(), value.into());
    }

    /// Builder form of [`Dict::insert`].
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.insert(key, value);
        self
    }

    /// Iterates over entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Value)> {
        self.0.iter().map(|(k, v)| (k.as_slice(), v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the dictionary has no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends the bencoding of this dictionary to `out` (keys sorted).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'd');
        for (k, v) in &self.0 {
            encode_bytes(k, out);
            v.encode(out);
        }
        out.push(b'e');
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<u16> for Value {
    fn from(v: u16) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Bytes(v.as_bytes().to_vec())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Bytes(v.into_bytes())
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::List(v)
    }
}
impl From<Dict> for Value {
    fn from(v: Dict) -> Self {
        Value::Dict(v)
    }
}

/// Decodes exactly one value that spans all of `input`.
pub fn decode(input: &[u8]) -> Result<Value, DecodeError> {
    let mut p = Parser { input, pos: 0 };
    let value = p.value(0)?;
    if p.pos != input.len() {
        return Err(DecodeError::TrailingBytes(input.len() - p.pos));
    }
    Ok(value)
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Result<u8, DecodeError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or(DecodeError::UnexpectedEnd(self.pos))
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                let n = self.number(b'e')?;
                Ok(Value::Int(n))
            }
            b'0'..=b'9' => self.bytes().map(|b| Value::Bytes(b.to_vec())),
            b'l' => {
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                self.pos += 1;
                let mut dict = Dict::new();
                while self.peek()? != b'e' {
                    let at = self.pos;
                    if !self.peek()?.is_ascii_digit() {
                        return Err(DecodeError::NonStringKey(at));
                    }
                    let key = self.bytes()?.to_vec();
                    let value = self.value(depth + 1)?;
                    dict.0.insert(key, value);
                }
                self.pos += 1;
                Ok(Value::Dict(dict))
            }
            byte => Err(DecodeError::UnexpectedByte { byte, at: self.pos }),
        }
    }

    /// Reads a decimal integer terminated by `end`, consuming `end`.
    fn number(&mut self, end: u8) -> Result<i64, DecodeError> {
        let start = self.pos;
        let rest = &self.input[start..];
        let len = rest
            .iter()
            .position(|&b| b == end)
            .ok_or(DecodeError::UnexpectedEnd(self.input.len()))?;
        let text = std::str::from_utf8(&rest[..len]).map_err(|_| DecodeError::BadNumber(start))?;
        let well_formed = !text.is_empty()
            && text != "-"
            && text
                .trim_start_matches('-')
                .bytes()
                .all(|b| b.is_ascii_digit());
        if !well_formed {
            return Err(DecodeError::BadNumber(start));
        }
        let n = text.parse().map_err(|_| DecodeError::BadNumber(start))?;
        self.pos = start + len + 1;
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&[u8], DecodeError> {
        let at = self.pos;
        let len = self.number(b':')?;
        let len = usize::try_from(len).map_err(|_| DecodeError::BadNumber(at))?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|&e| e <= self.input.len())
            .ok_or(DecodeError::UnexpectedEnd(self.input.len()))?;
        let b = &self.input[self.pos..end];
        self.pos = end;
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_a_kamailio_offer_shape() {
        let body = b"d7:command5:offer7:call-id3:abc8:from-tag2:t15:flagsl13:trust addressee";
        let v = decode(body).unwrap();
        let d = v.as_dict().unwrap();
        assert_eq!(d.get("command").unwrap().as_str(), Some("offer"));
        assert_eq!(d.get("flags").unwrap().as_list().unwrap().len(), 1);
    }

    #[test]
    fn encodes_keys_sorted() {
        let d = Dict::new().with("result", "ok").with("a", 1i64);
        assert_eq!(Value::Dict(d).to_bytes(), b"d1:ai1e6:result2:oke");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &b""[..],
            b"d",
            b"i12",
            b"ie",
            b"i-e",
            b"5:abc",
            b"di1ei2ee",
            b"x",
            b"le1",
            b"i1ei2e",
            b"99999999999999999999999:a",
        ] {
            assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn rejects_deep_nesting() {
        let deep = [vec![b'l'; 100], vec![b'e'; 100]].concat();
        assert_eq!(decode(&deep), Err(DecodeError::TooDeep));
    }

    fn value_strategy() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Value::Int),
            proptest::collection::vec(any::<u8>(), 0..16).prop_map(Value::Bytes),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
                proptest::collection::btree_map(
                    proptest::collection::vec(any::<u8>(), 0..8),
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Dict(Dict(m))),
            ]
        })
    }

    proptest! {
        #[test]
        fn encode_then_decode_is_identity(v in value_strategy()) {
            prop_assert_eq!(decode(&v.to_bytes()).unwrap(), v);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes);
        }
    }
}

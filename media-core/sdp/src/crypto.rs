//! The SDES `a=crypto` attribute (RFC 4568 section 9.1), as text: the
//! tag, the suite name, the `inline:` key parameters and the session
//! parameters. Key material stays base64 here; decoding it and judging
//! whether a suite is usable is the relay's business.

use std::fmt;

/// Most key parameters one `a=crypto` line may carry (more than one needs
/// MKI; real offers carry one).
const MAX_KEY_PARAMS: usize = 8;

/// One `inline:` key parameter: `inline:KEY[|LIFETIME][|MKI:LEN]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyParam {
    /// Base64 of master key || master salt, as written.
    pub key_salt: String,
    /// Key lifetime in packets: `2^31` or a decimal count, as written.
    pub lifetime: Option<String>,
    /// `MKI:LENGTH` (value and length in bytes), when present.
    pub mki: Option<(u64, u8)>,
}

/// A parsed `a=crypto` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoAttr {
    /// Tag (1 to 9 digits) that the answer echoes.
    pub tag: u32,
    /// Crypto suite name, as written (`AES_CM_128_HMAC_SHA1_80`, ...).
    pub suite: String,
    /// Key parameters, at least one.
    pub keys: Vec<KeyParam>,
    /// Session parameters (`UNENCRYPTED_SRTP`, `WSH=128`, ...), as written.
    pub session_params: Vec<String>,
}

/// Why an `a=crypto` value was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoAttrError {
    /// Fewer than three space-separated fields.
    #[error("a=crypto needs a tag, a suite and key parameters")]
    MissingFields,
    /// The tag is not 1 to 9 digits.
    #[error("a=crypto tag is not 1 to 9 digits")]
    BadTag,
    /// A key parameter other than `inline:`.
    #[error("a=crypto key method is not inline")]
    KeyMethod,
    /// An empty key, or a malformed lifetime or MKI.
    #[error("a=crypto key parameter is malformed")]
    BadKeyParam,
    /// More than [`MAX_KEY_PARAMS`] keys.
    #[error("a=crypto has too many key parameters")]
    TooManyKeys,
}

impl CryptoAttr {
    /// Parses the value of an `a=crypto` attribute (the text after `:`).
    ///
    /// # Errors
    /// [`CryptoAttrError`] naming the first field that does not parse.
    pub fn parse(value: &str) -> Result<Self, CryptoAttrError> {
        let mut fields = value.split_ascii_whitespace();
        let (Some(tag), Some(suite), Some(keys)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(CryptoAttrError::MissingFields);
        };
        if tag.is_empty() || tag.len() > 9 || !tag.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CryptoAttrError::BadTag);
        }
        let tag = tag.parse().map_err(|_| CryptoAttrError::BadTag)?;
        let keys = keys
            .split(';')
            .map(KeyParam::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if keys.len() > MAX_KEY_PARAMS {
            return Err(CryptoAttrError::TooManyKeys);
        }
        Ok(Self {
            tag,
            suite: suite.to_owned(),
            keys,
            session_params: fields.map(str::to_owned).collect(),
        })
    }
}

impl KeyParam {
    fn parse(text: &str) -> Result<Self, CryptoAttrError> {
        let (method, info) = text.split_once(':').ok_or(CryptoAttrError::KeyMethod)?;
        if !method.eq_ignore_ascii_case("inline") {
            return Err(CryptoAttrError::KeyMethod);
        }
        let mut parts = info.split('|');
        let key_salt = parts.next().unwrap_or_default();
        if key_salt.is_empty() {
            return Err(CryptoAttrError::BadKeyParam);
        }
        let mut param = KeyParam {
            key_salt: key_salt.to_owned(),
            lifetime: None,
            mki: None,
        };
        for part in parts {
            if let Some((value, len)) = part.split_once(':') {
                if param.mki.is_some() {
                    return Err(CryptoAttrError::BadKeyParam);
                }
                let value = value.parse().map_err(|_| CryptoAttrError::BadKeyParam)?;
                let len = len.parse().map_err(|_| CryptoAttrError::BadKeyParam)?;
                param.mki = Some((value, len));
            } else if param.lifetime.is_none() && param.mki.is_none() && is_lifetime(part) {
                param.lifetime = Some(part.to_owned());
            } else {
                return Err(CryptoAttrError::BadKeyParam);
            }
        }
        Ok(param)
    }

    /// The lifetime in packets, if given (`2^N` or decimal).
    pub fn lifetime_packets(&self) -> Option<u64> {
        let text = self.lifetime.as_deref()?;
        match text.strip_prefix("2^") {
            Some(exp) => exp.parse::<u32>().ok().and_then(|e| 1u64.checked_shl(e)),
            None => text.parse().ok(),
        }
    }
}

fn is_lifetime(text: &str) -> bool {
    let digits = text.strip_prefix("2^").unwrap_or(text);
    !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit())
}

impl fmt::Display for KeyParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "inline:{}", self.key_salt)?;
        if let Some(lifetime) = &self.lifetime {
            write!(f, "|{lifetime}")?;
        }
        if let Some((value, len)) = self.mki {
            write!(f, "|{value}:{len}")?;
        }
        Ok(())
    }
}

impl fmt::Display for CryptoAttr {
    /// The attribute value, ready for `a=crypto:`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.tag, self.suite)?;
        for (i, key) in self.keys.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{key}")?;
        }
        for param in &self.session_params {
            write!(f, " {param}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc4568_example() {
        // RFC 4568 section 4.
        let a = CryptoAttr::parse(
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4",
        )
        .expect("valid");
        assert_eq!(a.tag, 1);
        assert_eq!(a.suite, "AES_CM_128_HMAC_SHA1_80");
        assert_eq!(a.keys.len(), 1);
        assert_eq!(
            a.keys[0].key_salt,
            "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
        );
        assert_eq!(a.keys[0].lifetime_packets(), Some(1 << 20));
        assert_eq!(a.keys[0].mki, Some((1, 4)));
        assert!(a.session_params.is_empty());
    }

    #[test]
    fn session_params_and_round_trip() {
        let text = "2 AEAD_AES_128_GCM inline:abcd|1000 UNENCRYPTED_SRTCP WSH=128";
        let a = CryptoAttr::parse(text).expect("valid");
        assert_eq!(a.session_params, ["UNENCRYPTED_SRTCP", "WSH=128"]);
        assert_eq!(a.keys[0].lifetime_packets(), Some(1000));
        assert_eq!(a.to_string(), text);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "1 AES_CM_128_HMAC_SHA1_80",
            "x AES_CM_128_HMAC_SHA1_80 inline:abc",
            "1234567890 AES_CM_128_HMAC_SHA1_80 inline:abc",
            "1 AES_CM_128_HMAC_SHA1_80 uri:abc",
            "1 AES_CM_128_HMAC_SHA1_80 inline:",
            "1 AES_CM_128_HMAC_SHA1_80 inline:abc|2^x",
            "1 AES_CM_128_HMAC_SHA1_80 inline:abc|1:x",
            "1 AES_CM_128_HMAC_SHA1_80 inline:abc|1:4|2^20",
        ] {
            assert!(CryptoAttr::parse(bad).is_err(), "{bad:?}");
        }
    }
}

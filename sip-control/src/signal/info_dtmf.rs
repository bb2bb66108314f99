//! DTMF carried in SIP INFO bodies: `application/dtmf-relay`
//! (`Signal=5` / `Duration=160` lines) and `application/dtmf` (the digit).

/// Shortest and longest tone played for an INFO digit (ms); media-core and
/// rtpengine accept 100..=5000.
const DURATION_MS: (u32, u32) = (100, 5000);
/// Duration when the body gives none (ms).
const DEFAULT_DURATION_MS: u32 = 160;
/// Largest body read (bytes); anything longer is not a DTMF INFO.
const MAX_BODY: usize = 256;

/// One digit from an INFO request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoDigit {
    /// `0`-`9`, `*`, `#`, `A`-`D`.
    pub digit: char,
    /// Tone length in milliseconds, clamped to what relays accept.
    pub duration_ms: u32,
}

/// Which INFO body format a content type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoFormat {
    /// `application/dtmf-relay`.
    DtmfRelay,
    /// `application/dtmf`.
    Dtmf,
}

impl InfoFormat {
    /// The format of a `Content-Type` value, if it is a DTMF one.
    pub fn from_content_type(value: &str) -> Option<Self> {
        let mime = value.split(';').next().unwrap_or_default().trim();
        if mime.eq_ignore_ascii_case("application/dtmf-relay") {
            Some(InfoFormat::DtmfRelay)
        } else if mime.eq_ignore_ascii_case("application/dtmf") {
            Some(InfoFormat::Dtmf)
        } else {
            None
        }
    }

    /// The content type to send.
    pub fn content_type(self) -> &'static str {
        match self {
            InfoFormat::DtmfRelay => "application/dtmf-relay",
            InfoFormat::Dtmf => "application/dtmf",
        }
    }
}

/// The digit an INFO body carries, or `None` when it carries none.
pub fn parse(format: InfoFormat, body: &[u8]) -> Option<InfoDigit> {
    if body.len() > MAX_BODY {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    match format {
        InfoFormat::Dtmf => Some(InfoDigit {
            digit: digit_of(text.trim())?,
            duration_ms: DEFAULT_DURATION_MS,
        }),
        InfoFormat::DtmfRelay => {
            let mut digit = None;
            let mut duration = DEFAULT_DURATION_MS;
            for line in text.lines() {
                let Some((key, value)) = line.split_once('=') else {
                    continue;
                };
                let value = value.trim();
                match key.trim().to_ascii_lowercase().as_str() {
                    "signal" => digit = Some(digit_of(value)?),
                    "duration" => duration = value.parse().ok()?,
                    _ => {}
                }
            }
            Some(InfoDigit {
                digit: digit?,
                duration_ms: duration.clamp(DURATION_MS.0, DURATION_MS.1),
            })
        }
    }
}

/// An INFO body for a digit, in the given format.
pub fn body(format: InfoFormat, digit: InfoDigit) -> String {
    match format {
        InfoFormat::DtmfRelay => format!(
            "Signal={}\r\nDuration={}\r\n",
            digit.digit, digit.duration_ms
        ),
        InfoFormat::Dtmf => digit.digit.to_string(),
    }
}

/// A digit written as a character or as its RFC 4733 event code (10 is
/// `*`, 11 is `#`, 12-15 are `A`-`D`).
fn digit_of(text: &str) -> Option<char> {
    let mut chars = text.chars();
    let first = chars.next()?;
    if chars.next().is_none() {
        let c = first.to_ascii_uppercase();
        return matches!(c, '0'..='9' | '*' | '#' | 'A'..='D').then_some(c);
    }
    match text.parse::<u8>().ok()? {
        10 => Some('*'),
        11 => Some('#'),
        code @ 12..=15 => Some(char::from(b'A' + code - 12)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_relay_bodies_give_digit_and_clamped_duration() {
        let parsed = parse(InfoFormat::DtmfRelay, b"Signal=5\r\nDuration=160\r\n");
        assert_eq!(
            parsed,
            Some(InfoDigit {
                digit: '5',
                duration_ms: 160
            })
        );
        let parsed = parse(InfoFormat::DtmfRelay, b"signal = #\nduration= 40\n");
        assert_eq!(
            parsed,
            Some(InfoDigit {
                digit: '#',
                duration_ms: 100
            })
        );
        let parsed = parse(InfoFormat::DtmfRelay, b"Signal=11\r\nDuration=99999\r\n");
        assert_eq!(
            parsed,
            Some(InfoDigit {
                digit: '#',
                duration_ms: 5000
            })
        );
        assert_eq!(parse(InfoFormat::DtmfRelay, b"Duration=100\r\n"), None);
        assert_eq!(parse(InfoFormat::DtmfRelay, b"Signal=16\r\n"), None);
        assert_eq!(
            parse(InfoFormat::DtmfRelay, b"Signal=5\r\nDuration=x\r\n"),
            None
        );
    }

    #[test]
    fn dtmf_bodies_carry_one_digit() {
        let parsed = parse(InfoFormat::Dtmf, b"7\r\n");
        assert_eq!(parsed.map(|d| d.digit), Some('7'));
        assert_eq!(parse(InfoFormat::Dtmf, b"b").map(|d| d.digit), Some('B'));
        assert_eq!(parse(InfoFormat::Dtmf, b"77"), None);
        assert_eq!(parse(InfoFormat::Dtmf, b"\xff"), None);
        assert_eq!(parse(InfoFormat::Dtmf, &[b'1'; 300]), None);
    }

    #[test]
    fn content_types_and_bodies_round_trip() {
        let ct = "Application/DTMF-Relay; charset=utf-8";
        assert_eq!(
            InfoFormat::from_content_type(ct),
            Some(InfoFormat::DtmfRelay)
        );
        assert_eq!(InfoFormat::from_content_type("application/sdp"), None);
        let digit = InfoDigit {
            digit: '*',
            duration_ms: 250,
        };
        for format in [InfoFormat::DtmfRelay, InfoFormat::Dtmf] {
            let text = body(format, digit);
            assert_eq!(parse(format, text.as_bytes()).map(|d| d.digit), Some('*'));
        }
    }
}

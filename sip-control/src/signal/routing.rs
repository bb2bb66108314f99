//! DID routing: the dialed number, normalized to E.164 where configured,
//! to the `[[did]]` entry that answers it (exact numbers before prefixes,
//! longest prefix first).

use crate::config::{Did, Numbering};

/// Dialed numbers to DID entries.
#[derive(Debug, Clone)]
pub struct Router {
    numbering: Numbering,
    /// (number or prefix, is prefix, index into the config's DIDs).
    entries: Vec<(String, bool, usize)>,
}

impl Router {
    /// A router over the configured DIDs.
    pub fn new(dids: &[Did], numbering: &Numbering) -> Self {
        let mut entries: Vec<(String, bool, usize)> = dids
            .iter()
            .enumerate()
            .map(|(index, did)| match did.number.strip_suffix('*') {
                Some(prefix) => (prefix.to_owned(), true, index),
                None => (did.number.clone(), false, index),
            })
            .collect();
        // Exact numbers first, then the longest prefix.
        entries.sort_by(|a, b| a.1.cmp(&b.1).then(b.0.len().cmp(&a.0.len())));
        Router {
            numbering: numbering.clone(),
            entries,
        }
    }

    /// The DID index for a dialed number: the Request-URI user first, then
    /// the To user. Returns the normalized number with it.
    pub fn route(&self, candidates: &[Option<&str>]) -> Option<(usize, String)> {
        candidates
            .iter()
            .flatten()
            .filter_map(|raw| self.normalize(raw))
            .find_map(|number| self.lookup(&number).map(|index| (index, number)))
    }

    fn lookup(&self, number: &str) -> Option<usize> {
        self.entries
            .iter()
            .find(|(pattern, is_prefix, _)| {
                if *is_prefix {
                    number.starts_with(pattern.as_str())
                } else {
                    number == pattern
                }
            })
            .map(|entry| entry.2)
    }

    /// The number in E.164 form where the numbering plan allows: URI
    /// parameters and visual separators removed, the international prefix
    /// replaced by `+`, national numbers given the country code. `None` for
    /// a user part that is not a telephone number.
    pub fn normalize(&self, raw: &str) -> Option<String> {
        let user = raw.split(';').next().unwrap_or_default();
        let (plus, rest) = match user.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, user),
        };
        let mut digits = String::with_capacity(rest.len() + 4);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                '-' | '.' | '(' | ')' | ' ' => {}
                _ => return None,
            }
        }
        if digits.is_empty() {
            return None;
        }
        if plus {
            return Some(format!("+{digits}"));
        }
        let numbering = &self.numbering;
        if let Some(international) = numbering.international_prefix.as_deref() {
            if let Some(rest) = digits.strip_prefix(international) {
                return Some(format!("+{rest}"));
            }
        }
        if let Some(country) = numbering.country_code.as_deref() {
            let national = numbering
                .national_prefix
                .as_deref()
                .and_then(|prefix| digits.strip_prefix(prefix))
                .unwrap_or(&digits);
            return Some(format!("+{country}{national}"));
        }
        Some(digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TransferMode;

    fn did(number: &str) -> Did {
        Did {
            number: number.to_owned(),
            platform: "ai".to_owned(),
            queues: Vec::new(),
            transfer: TransferMode::Bridge,
        }
    }

    fn nanp() -> Numbering {
        Numbering {
            country_code: Some("1".to_owned()),
            national_prefix: Some("1".to_owned()),
            international_prefix: Some("011".to_owned()),
        }
    }

    #[test]
    fn normalizes_national_international_and_formatted_numbers() {
        let router = Router::new(&[], &nanp());
        assert_eq!(
            router.normalize("5551230001").as_deref(),
            Some("+15551230001")
        );
        assert_eq!(
            router.normalize("15551230001").as_deref(),
            Some("+15551230001")
        );
        assert_eq!(
            router.normalize("011442071234567").as_deref(),
            Some("+442071234567")
        );
        assert_eq!(
            router.normalize("+1 (555) 123-0001;npdi").as_deref(),
            Some("+15551230001")
        );
        assert_eq!(router.normalize("agent"), None);
        assert_eq!(router.normalize(""), None);
        assert_eq!(router.normalize("+"), None);
    }

    #[test]
    fn without_a_numbering_plan_digits_stay_as_dialed() {
        let router = Router::new(&[], &Numbering::default());
        assert_eq!(
            router.normalize("5551230001").as_deref(),
            Some("5551230001")
        );
    }

    #[test]
    fn exact_numbers_win_over_prefixes_and_longer_prefixes_over_shorter() {
        let dids = [did("+1555*"), did("+15551230001"), did("+155512*")];
        let router = Router::new(&dids, &nanp());
        assert_eq!(
            router.route(&[Some("5551230001")]),
            Some((1, "+15551230001".to_owned()))
        );
        assert_eq!(router.route(&[Some("5551239999")]).map(|r| r.0), Some(2));
        assert_eq!(router.route(&[Some("5559999999")]).map(|r| r.0), Some(0));
        assert_eq!(router.route(&[Some("4155550000")]), None);
    }

    #[test]
    fn the_to_user_is_used_when_the_request_uri_does_not_route() {
        let router = Router::new(&[did("+15551230001")], &nanp());
        let routed = router.route(&[Some("trunk-gw"), Some("+15551230001")]);
        assert_eq!(routed.map(|r| r.0), Some(0));
        assert_eq!(router.route(&[None, None]), None);
    }
}

//! Look-ups on a checked [`Config`] used by the rest of sip-control.

use super::cidr::Cidr;
use super::types::{Config, Platform, Trunk};

impl Config {
    /// The `[[trunk]]` named `name`.
    pub fn trunk_by_name(&self, name: &str) -> Option<&Trunk> {
        self.trunks.iter().find(|t| t.name == name)
    }

    /// The `[[platform]]` named `name`.
    pub fn platform_by_name(&self, name: &str) -> Option<&Platform> {
        self.platforms.iter().find(|p| p.name == name)
    }

    /// Every trunk's `allow` entries, parsed: (index into
    /// [`trunks`](Config::trunks), prefix), in file order. Entries that do
    /// not parse (only possible in an unchecked `Config`) are left out.
    pub fn allowlist(&self) -> Vec<(usize, Cidr)> {
        self.trunks
            .iter()
            .enumerate()
            .flat_map(|(i, trunk)| {
                trunk
                    .allow
                    .iter()
                    .filter_map(move |entry| entry.parse().ok().map(|cidr| (i, cidr)))
            })
            .collect()
    }
}

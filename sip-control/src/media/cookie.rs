//! NG cookies unique within this process and unlikely to repeat across
//! restarts: `<random prefix>_<counter>`.
//!
//! NG servers cache replies by cookie for about 30 s, so a cookie reused
//! by a restarted process could be answered from that cache; the random
//! prefix prevents it.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The next cookie, e.g. `9f3a61c2_17`.
pub fn next() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(1);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{:08x}_{seq}", prefix())
}

/// This process's random prefix, drawn once.
fn prefix() -> u32 {
    static PREFIX: OnceLock<u32> = OnceLock::new();
    *PREFIX.get_or_init(|| {
        // std's RandomState is seeded from the OS's randomness; mixing in
        // the pid and the time only guards against a degenerate seed.
        let mut h = RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        h.write_u128(now.as_nanos());
        let x = h.finish();
        // Fold to 32 bits: short cookies, as Kamailio's are.
        (x ^ (x >> 32)) as u32
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn cookies_are_unique_and_frameable() {
        let cookies: HashSet<String> = (0..1000).map(|_| next()).collect();
        assert_eq!(cookies.len(), 1000);
        let p = format!("{:08x}_", prefix());
        for c in &cookies {
            assert!(c.starts_with(&p), "{c}");
            assert!(c.len() <= sluice_ng::frame::MAX_COOKIE_LEN);
            assert!(c.bytes().all(|b| b.is_ascii_graphic()), "{c}");
        }
    }
}

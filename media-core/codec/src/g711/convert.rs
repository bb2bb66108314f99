//! Code-to-code translation between µ-law and A-law (G.711 §4, Tables 3
//! and 4), for a relay whose legs negotiated PCMU on one side and PCMA on
//! the other: one table lookup per sample, no linear buffer.
//!
//! Each code maps to the code of the other law, of the same sign, whose
//! decoded value is nearest to its own decoded value, ties going to the
//! larger magnitude. That is the principle of G.711's conversion tables;
//! the tables here are computed from it at compile time, not transcribed,
//! and the tests check it and hand-worked entries. A translation adds at
//! most the distance to the nearest target level, and translating back
//! and forth again changes nothing after the first round. µ-law's two
//! zeros map to A-law's smallest levels (±8).

use super::{alaw, ulaw};

/// µ-law code to A-law code, computed at compile time.
static ULAW_TO_ALAW: [u8; 256] = build(&ulaw::TABLE, &alaw::TABLE);
/// A-law code to µ-law code, computed at compile time.
static ALAW_TO_ULAW: [u8; 256] = build(&alaw::TABLE, &ulaw::TABLE);

/// The code whose value in `values` is nearest to `target`, among the
/// codes of the given sign (sign bit clear for negative in both laws),
/// ties to the larger magnitude.
const fn nearest(target: i16, values: &[i16; 256], negative: bool) -> u8 {
    let mut best: u8 = 0;
    let mut best_err: i32 = i32::MAX;
    let mut best_mag: i32 = -1;
    let mut code = 0;
    while code < 256 {
        if (code & 0x80 == 0) == negative {
            let v = values[code] as i32;
            let err = (v - target as i32).abs();
            let mag = v.abs();
            if err < best_err || (err == best_err && mag > best_mag) {
                best = code as u8;
                best_err = err;
                best_mag = mag;
            }
        }
        code += 1;
    }
    best
}

/// For every code of `from`, the nearest code of `to` with the same sign.
const fn build(from: &[i16; 256], to: &[i16; 256]) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut code = 0;
    while code < 256 {
        // The code's sign bit decides, not its value: µ-law 0x7F is -0.
        let negative = code & 0x80 == 0;
        t[code] = nearest(from[code], to, negative);
        code += 1;
    }
    t
}

/// Translates one µ-law code to A-law.
#[inline]
pub fn ulaw_to_alaw(code: u8) -> u8 {
    ULAW_TO_ALAW[code as usize]
}

/// Translates one A-law code to µ-law.
#[inline]
pub fn alaw_to_ulaw(code: u8) -> u8 {
    ALAW_TO_ULAW[code as usize]
}

/// Translates a µ-law payload to A-law in place (an RTP payload can be
/// rewritten inside its packet buffer).
pub fn ulaw_to_alaw_in_place(codes: &mut [u8]) {
    for c in codes {
        *c = ULAW_TO_ALAW[*c as usize];
    }
}

/// Translates an A-law payload to µ-law in place.
pub fn alaw_to_ulaw_in_place(codes: &mut [u8]) {
    for c in codes {
        *c = ALAW_TO_ULAW[*c as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_entries() {
        // µ-law +0 (0xFF) and +8 (0xFE) go to A-law +8 (0xD5); +16 is a tie
        // between +8 and +24 and goes up; +132 (segment 2 start) to +136.
        assert_eq!(ulaw_to_alaw(0xFF), 0xD5);
        assert_eq!(ulaw_to_alaw(0x7F), 0x55);
        assert_eq!(ulaw_to_alaw(0xFE), 0xD5);
        assert_eq!(ulaw_to_alaw(0xFD), 0xD4);
        assert_eq!(alaw::decode(ulaw_to_alaw(0xEF)), 136);
        assert_eq!(ulaw_to_alaw(0x80), 0xAA); // +32124 -> +32256
        assert_eq!(ulaw_to_alaw(0x00), 0x2A);
        // A-law +8 -> µ-law +8; +408 lies between µ-law 396 and 428.
        assert_eq!(alaw_to_ulaw(0xD5), 0xFE);
        assert_eq!(alaw_to_ulaw(0x55), 0x7E);
        assert_eq!(ulaw::decode(alaw_to_ulaw(alaw::encode(408))), 396);
        assert_eq!(alaw_to_ulaw(0xAA), 0x80);
    }

    /// Checks that `to` code `t` is a nearest same-sign level of `target`.
    fn assert_nearest(target: i16, t: u8, to: &[i16; 256], what: &str) {
        let err = (i32::from(to[t as usize]) - i32::from(target)).abs();
        for other in 0..=255u8 {
            if other & 0x80 == t & 0x80 {
                let e = (i32::from(to[other as usize]) - i32::from(target)).abs();
                assert!(e >= err, "{what}: {other:#04x} is closer than {t:#04x}");
            }
        }
        // Both laws keep steps within 1/16 of the level (and 8 near zero).
        assert!(err <= i32::from(target).abs() / 16 + 8, "{what}: err {err}");
    }

    #[test]
    fn translation_picks_the_nearest_level() {
        for c in 0..=255u8 {
            assert_nearest(
                ulaw::decode(c),
                ulaw_to_alaw(c),
                &alaw::TABLE,
                &format!("µ {c:#04x}"),
            );
            assert_nearest(
                alaw::decode(c),
                alaw_to_ulaw(c),
                &ulaw::TABLE,
                &format!("A {c:#04x}"),
            );
        }
    }

    #[test]
    fn sign_is_kept() {
        for c in 0..=255u8 {
            assert_eq!(ulaw_to_alaw(c) & 0x80, c & 0x80);
            assert_eq!(alaw_to_ulaw(c) & 0x80, c & 0x80);
        }
    }

    #[test]
    fn round_trips_settle_after_one_round() {
        for c in 0..=255u8 {
            let u1 = alaw_to_ulaw(ulaw_to_alaw(c));
            assert_eq!(alaw_to_ulaw(ulaw_to_alaw(u1)), u1, "µ {c:#04x}");
            let a1 = ulaw_to_alaw(alaw_to_ulaw(c));
            assert_eq!(ulaw_to_alaw(alaw_to_ulaw(a1)), a1, "A {c:#04x}");
        }
    }

    #[test]
    fn round_trip_is_exact_where_levels_coincide() {
        // Where both laws have the same level the code survives both ways.
        let mut exact = 0;
        for c in 0..=255u8 {
            let a = ulaw_to_alaw(c);
            if alaw::decode(a) == ulaw::decode(c) {
                assert_eq!(alaw_to_ulaw(a), c, "µ {c:#04x}");
                exact += 1;
            }
        }
        // µ-law's segment 1 levels 8, 24, .., 120 are A-law's linear part.
        assert_eq!(exact, 2 * 8, "only {exact} coinciding levels");
    }

    #[test]
    fn in_place() {
        let mut p = [0xFFu8, 0x80, 0x00, 0x7F, 0x12];
        let want: Vec<u8> = p.iter().map(|&c| ulaw_to_alaw(c)).collect();
        ulaw_to_alaw_in_place(&mut p);
        assert_eq!(&p[..], &want[..]);
        let want: Vec<u8> = p.iter().map(|&c| alaw_to_ulaw(c)).collect();
        alaw_to_ulaw_in_place(&mut p);
        assert_eq!(&p[..], &want[..]);
    }
}

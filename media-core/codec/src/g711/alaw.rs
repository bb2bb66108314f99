//! A-law (PCMA): encode, decode and their slice forms.
//!
//! A code is `sign | segment << 4 | step` with the even bits inverted
//! (XOR 0x55), where the sign bit is set for positive samples. In the
//! 16-bit scale segments 0 and 1 both step by 16 (together the linear
//! part, 0..512); segment `e >= 1` spans `[256 << (e - 1), 256 << e)` in
//! sixteen steps of `8 << e`. The decoder returns each step's midpoint.

use super::{magnitude, top_bit};

/// The even-bit inversion applied to every transmitted A-law code.
const EVEN_BITS: u8 = 0x55;

/// The linear value of every A-law code, computed at compile time.
static DECODE: [i16; 256] = TABLE;

/// The same values as a constant, for other compile-time tables.
pub(super) const TABLE: [i16; 256] = decode_table();

const fn decode_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = decode_formula(code as u8);
        code += 1;
    }
    table
}

/// G.711's A-law expansion: the midpoint of the code's step.
const fn decode_formula(code: u8) -> i16 {
    let c = code ^ EVEN_BITS;
    let segment = (c >> 4) & 0x07;
    let step = (c & 0x0F) as i16;
    let magnitude = if segment == 0 {
        (step << 4) + 8
    } else {
        ((step << 4) + 0x108) << (segment - 1)
    };
    if c & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    }
}

/// Decodes one A-law code to a 16-bit linear sample.
#[inline]
pub fn decode(code: u8) -> i16 {
    DECODE[code as usize]
}

/// Encodes a 16-bit linear sample to A-law (the low three bits are below
/// G.711's 13-bit resolution and do not matter).
#[inline]
pub const fn encode(sample: i16) -> u8 {
    let sign: u8 = if sample < 0 { 0x00 } else { 0x80 };
    let m = magnitude(sample);
    let (segment, step) = if m < 256 {
        (0u8, (m >> 4) as u8)
    } else {
        let segment = top_bit(m) - 7; // m < 32768, so 1..=7
        (segment as u8, ((m >> (segment + 3)) & 0x0F) as u8)
    };
    (sign | (segment << 4) | step) ^ EVEN_BITS
}

/// Decodes `codes` into `out`, as many as the shorter of the two holds;
/// returns that count.
pub fn decode_into(codes: &[u8], out: &mut [i16]) -> usize {
    let n = codes.len().min(out.len());
    for (o, &c) in out[..n].iter_mut().zip(&codes[..n]) {
        *o = DECODE[c as usize];
    }
    n
}

/// Encodes `samples` into `out`, as many as the shorter of the two holds;
/// returns that count.
pub fn encode_into(samples: &[i16], out: &mut [u8]) -> usize {
    let n = samples.len().min(out.len());
    for (o, &s) in out[..n].iter_mut().zip(&samples[..n]) {
        *o = encode(s);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_decode_values() {
        // G.711 Table 1 (A-law), 13-bit values (in half units) times 8.
        assert_eq!(decode(0xD5), 8); // +1: smallest positive
        assert_eq!(decode(0x55), -8); // -1: smallest negative
        assert_eq!(decode(0xAA), 32256); // +4032: largest positive
        assert_eq!(decode(0x2A), -32256);
        assert_eq!(decode(0xDA), 248); // +31: end of segment 1
        assert_eq!(decode(0xC5), 264); // +33: start of segment 2
        assert_eq!(decode(0xCA), 504); // +63: end of segment 2
        assert_eq!(decode(0xF5), 528); // +66: start of segment 3
        assert_eq!(decode(0xA5), 16896); // +2112: start of segment 8
    }

    #[test]
    fn reference_encode_values() {
        assert_eq!(encode(0), 0xD5);
        assert_eq!(encode(1), 0xD5);
        assert_eq!(encode(-1), 0x55);
        assert_eq!(encode(32767), 0xAA);
        assert_eq!(encode(-32767), 0x2A);
        assert_eq!(encode(-32768), 0x2A);
        // Decision levels of the linear part: every 16.
        assert_eq!(encode(15), 0xD5);
        assert_eq!(encode(16), 0xD4);
        assert_eq!(encode(-16), 0x55);
        assert_eq!(encode(-17), 0x54);
        // Segment 2 starts at 256, segment 3 at 512.
        assert_eq!(encode(255), 0xDA);
        assert_eq!(encode(256), 0xC5);
        assert_eq!(encode(511), 0xCA);
        assert_eq!(encode(512), 0xF5);
    }

    #[test]
    fn decode_table_matches_formula_and_is_antisymmetric() {
        for c in 0..=255u8 {
            assert_eq!(decode(c), decode_formula(c));
            assert_eq!(decode(c), -decode(c ^ 0x80), "code {c:#04x}");
        }
    }

    #[test]
    fn encode_of_decode_is_identity() {
        for c in 0..=255u8 {
            assert_eq!(encode(decode(c)), c, "code {c:#04x}");
        }
    }

    #[test]
    fn decode_of_encode_is_within_one_step() {
        for x in i16::MIN..=i16::MAX {
            let c = encode(x);
            let segment = ((c ^ EVEN_BITS) >> 4) & 0x07;
            let step = if segment == 0 { 16 } else { 8i32 << segment };
            let err = (i32::from(decode(c)) - i32::from(x)).abs();
            assert!(
                err <= step / 2 + 1,
                "x {x} code {c:#04x} err {err} step {step}"
            );
        }
    }

    #[test]
    fn slices() {
        let pcm = [0i16, 1000, -1000, 32767, -32768];
        let mut codes = [0u8; 5];
        assert_eq!(encode_into(&pcm, &mut codes), 5);
        let mut back = [0i16; 5];
        assert_eq!(decode_into(&codes, &mut back), 5);
        for (a, b) in pcm.iter().zip(&back) {
            assert_eq!(encode(*a), encode(*b));
        }
    }
}

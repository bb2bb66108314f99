//! µ-law (PCMU): encode, decode and their slice forms.
//!
//! A code is the bit inverse of `sign | segment << 4 | step`, where the
//! sign bit is set for positive samples. In the 16-bit scale a segment `e`
//! spans `[(132 << e) - 132, (132 << (e + 1)) - 132)` in sixteen steps of
//! `8 << e`; the decoder returns each step's midpoint.

use super::{magnitude, top_bit};

/// Bias added to the magnitude so that segment boundaries fall on powers
/// of two (33 in G.711's 14-bit scale, times 4).
const BIAS: u16 = 132;
/// Largest magnitude the encoder distinguishes; above it the code is the
/// top step of segment 7 (G.711's 8159 in the 14-bit scale, minus the
/// bias, times 4).
const CLIP: u16 = 32635;

/// The linear value of every µ-law code, computed at compile time.
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

/// G.711's µ-law expansion: the midpoint of the code's step.
const fn decode_formula(code: u8) -> i16 {
    let c = !code;
    let segment = (c >> 4) & 0x07;
    let step = (c & 0x0F) as i16;
    let magnitude = (((step << 3) + BIAS as i16) << segment) - BIAS as i16;
    if c & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// Decodes one µ-law code to a 16-bit linear sample.
#[inline]
pub fn decode(code: u8) -> i16 {
    DECODE[code as usize]
}

/// Encodes a 16-bit linear sample to µ-law (the low two bits are below
/// G.711's 14-bit resolution and do not matter).
#[inline]
pub const fn encode(sample: i16) -> u8 {
    let sign: u8 = if sample < 0 { 0x80 } else { 0x00 };
    let mut m = magnitude(sample);
    if m > CLIP {
        m = CLIP;
    }
    let biased = m + BIAS; // 132..=32767, so the top bit is 7..=14
    let segment = top_bit(biased) - 7;
    let step = ((biased >> (segment + 3)) & 0x0F) as u8;
    !(sign | ((segment as u8) << 4) | step)
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
        // G.711 Table 2 (µ-law), 14-bit values times 4.
        assert_eq!(decode(0x00), -32124); // -8031
        assert_eq!(decode(0x80), 32124); // +8031
        assert_eq!(decode(0xFF), 0); // +0
        assert_eq!(decode(0x7F), 0); // -0
        assert_eq!(decode(0xFE), 8); // +2, first step of segment 1
        assert_eq!(decode(0xF0), 120); // +30, end of segment 1
        assert_eq!(decode(0xEF), 132); // +33, start of segment 2
        assert_eq!(decode(0xE0), 372); // +93, end of segment 2
        assert_eq!(decode(0xDF), 396); // +99, start of segment 3
        assert_eq!(decode(0x8F), 16764); // +4191, start of segment 8
        assert_eq!(decode(0x0F), -16764);
    }

    #[test]
    fn reference_encode_values() {
        assert_eq!(encode(0), 0xFF);
        assert_eq!(encode(1), 0xFF);
        assert_eq!(encode(-1), 0x7F);
        assert_eq!(encode(32767), 0x80);
        assert_eq!(encode(-32767), 0x00);
        assert_eq!(encode(-32768), 0x00);
        // Decision levels: 14-bit input 1 is the first level of segment 1.
        assert_eq!(encode(3), 0xFF);
        assert_eq!(encode(4), 0xFE);
        assert_eq!(encode(-4), 0x7F);
        assert_eq!(encode(-5), 0x7E);
        // Segment 2 starts at 14-bit 31 (16-bit 124).
        assert_eq!(encode(123), 0xF0);
        assert_eq!(encode(124), 0xEF);
    }

    #[test]
    fn decode_table_matches_formula_and_is_antisymmetric() {
        for c in 0..=255u8 {
            assert_eq!(decode(c), decode_formula(c));
            assert_eq!(decode(c), -decode(c ^ 0x80), "code {c:#04x}");
        }
    }

    #[test]
    fn encode_of_decode_is_identity_except_negative_zero() {
        for c in 0..=255u8 {
            let expected = if c == 0x7F { 0xFF } else { c };
            assert_eq!(encode(decode(c)), expected, "code {c:#04x}");
        }
    }

    #[test]
    fn decode_of_encode_is_within_one_step() {
        for x in i16::MIN..=i16::MAX {
            let c = encode(x);
            let segment = ((!c) >> 4) & 0x07;
            let step = 8i32 << segment;
            let err = (i32::from(decode(c)) - i32::from(x)).abs();
            // Above the clip level the error grows up to 32768-32124 = 644,
            // still below segment 8's step of 1024.
            assert!(err <= step, "x {x} code {c:#04x} err {err} step {step}");
        }
    }

    #[test]
    fn slices() {
        let pcm = [0i16, 1000, -1000, 32767, -32768];
        let mut codes = [0u8; 5];
        assert_eq!(encode_into(&pcm, &mut codes), 5);
        let mut back = [0i16; 8];
        assert_eq!(decode_into(&codes, &mut back), 5);
        for (a, b) in pcm.iter().zip(&back) {
            assert_eq!(encode(*a), encode(*b));
        }
        assert_eq!(encode_into(&pcm, &mut codes[..2]), 2);
    }
}

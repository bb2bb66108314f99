//! G.711 (ITU-T, 11/88) pulse code modulation of voice frequencies: µ-law
//! (PCMU, RTP payload type 0) and A-law (PCMA, payload type 8).
//!
//! Linear samples are 16-bit: µ-law's 14-bit scale is shifted left by 2
//! and A-law's 13-bit scale by 3, the common convention (µ-law full scale
//! ±32124, A-law ±32256). Decoding is a lookup in a 256-entry table built
//! at compile time; encoding is G.711's segment rule (no table). Negative
//! inputs use the one's complement magnitude (`!x`), as the ITU-T G.191
//! reference does, so decision levels are symmetric about −0.5 and −32768
//! needs no special case.
//!
//! [`ulaw_to_alaw`] and [`alaw_to_ulaw`] translate code by code without
//! going through linear PCM in the caller (see [`convert`]).

pub mod alaw;
pub mod convert;
pub mod ulaw;

pub use convert::{alaw_to_ulaw, alaw_to_ulaw_in_place, ulaw_to_alaw, ulaw_to_alaw_in_place};

/// One's complement magnitude of a sample: `x` for `x >= 0`, `!x` (that
/// is `-x - 1`) below zero. Always fits in 15 bits.
#[inline]
const fn magnitude(x: i16) -> u16 {
    if x < 0 {
        !x as u16
    } else {
        x as u16
    }
}

/// Index (0..=15) of the highest set bit of a non-zero `v`.
#[inline]
const fn top_bit(v: u16) -> u32 {
    15 - v.leading_zeros()
}

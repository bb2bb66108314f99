//! The sixteen DTMF digits, their RFC 4733 event codes and their tone pairs.

use core::fmt;

/// Low-group ("row") frequencies in Hz, ITU-T Q.23.
pub const ROW_FREQS_HZ: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// High-group ("column") frequencies in Hz, ITU-T Q.23.
pub const COL_FREQS_HZ: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// One DTMF digit: `0`-`9`, `*`, `#` and `A`-`D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Digit {
    /// `0`
    D0,
    /// `1`
    D1,
    /// `2`
    D2,
    /// `3`
    D3,
    /// `4`
    D4,
    /// `5`
    D5,
    /// `6`
    D6,
    /// `7`
    D7,
    /// `8`
    D8,
    /// `9`
    D9,
    /// `*`
    Star,
    /// `#`
    Pound,
    /// `A`
    A,
    /// `B`
    B,
    /// `C`
    C,
    /// `D`
    D,
}

impl Digit {
    /// All sixteen digits in RFC 4733 event-code order (0..=15).
    pub const ALL: [Digit; 16] = [
        Digit::D0,
        Digit::D1,
        Digit::D2,
        Digit::D3,
        Digit::D4,
        Digit::D5,
        Digit::D6,
        Digit::D7,
        Digit::D8,
        Digit::D9,
        Digit::Star,
        Digit::Pound,
        Digit::A,
        Digit::B,
        Digit::C,
        Digit::D,
    ];

    /// The RFC 4733 §3.2 event code (0-9, `*` = 10, `#` = 11, `A`-`D` = 12-15).
    pub const fn event_code(self) -> u8 {
        self as u8
    }

    /// The digit for an RFC 4733 event code, `None` for codes above 15
    /// (16 is hook flash, which is not a DTMF digit).
    pub const fn from_event_code(code: u8) -> Option<Digit> {
        if (code as usize) < Self::ALL.len() {
            Some(Self::ALL[code as usize])
        } else {
            None
        }
    }

    /// The keypad character: `'0'`-`'9'`, `'*'`, `'#'`, `'A'`-`'D'`.
    pub const fn as_char(self) -> char {
        match self {
            Digit::D0 => '0',
            Digit::D1 => '1',
            Digit::D2 => '2',
            Digit::D3 => '3',
            Digit::D4 => '4',
            Digit::D5 => '5',
            Digit::D6 => '6',
            Digit::D7 => '7',
            Digit::D8 => '8',
            Digit::D9 => '9',
            Digit::Star => '*',
            Digit::Pound => '#',
            Digit::A => 'A',
            Digit::B => 'B',
            Digit::C => 'C',
            Digit::D => 'D',
        }
    }

    /// The digit for a keypad character; `a`-`d` are accepted as `A`-`D`.
    pub const fn from_char(c: char) -> Option<Digit> {
        Some(match c {
            '0' => Digit::D0,
            '1' => Digit::D1,
            '2' => Digit::D2,
            '3' => Digit::D3,
            '4' => Digit::D4,
            '5' => Digit::D5,
            '6' => Digit::D6,
            '7' => Digit::D7,
            '8' => Digit::D8,
            '9' => Digit::D9,
            '*' => Digit::Star,
            '#' => Digit::Pound,
            'A' | 'a' => Digit::A,
            'B' | 'b' => Digit::B,
            'C' | 'c' => Digit::C,
            'D' | 'd' => Digit::D,
            _ => return None,
        })
    }

    /// Keypad position as (row, column) indices into [`ROW_FREQS_HZ`] and
    /// [`COL_FREQS_HZ`].
    pub const fn keypad_position(self) -> (usize, usize) {
        match self {
            Digit::D1 => (0, 0),
            Digit::D2 => (0, 1),
            Digit::D3 => (0, 2),
            Digit::A => (0, 3),
            Digit::D4 => (1, 0),
            Digit::D5 => (1, 1),
            Digit::D6 => (1, 2),
            Digit::B => (1, 3),
            Digit::D7 => (2, 0),
            Digit::D8 => (2, 1),
            Digit::D9 => (2, 2),
            Digit::C => (2, 3),
            Digit::Star => (3, 0),
            Digit::D0 => (3, 1),
            Digit::Pound => (3, 2),
            Digit::D => (3, 3),
        }
    }

    /// The digit at a keypad position; `None` when out of range.
    pub const fn from_keypad_position(row: usize, col: usize) -> Option<Digit> {
        const KEYPAD: [[Digit; 4]; 4] = [
            [Digit::D1, Digit::D2, Digit::D3, Digit::A],
            [Digit::D4, Digit::D5, Digit::D6, Digit::B],
            [Digit::D7, Digit::D8, Digit::D9, Digit::C],
            [Digit::Star, Digit::D0, Digit::Pound, Digit::D],
        ];
        if row < 4 && col < 4 {
            Some(KEYPAD[row][col])
        } else {
            None
        }
    }

    /// The (low, high) tone frequencies in Hz.
    pub const fn frequencies_hz(self) -> (f32, f32) {
        let (r, c) = self.keypad_position();
        (ROW_FREQS_HZ[r], COL_FREQS_HZ[c])
    }
}

impl fmt::Display for Digit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_chars_and_positions_round_trip() {
        for (i, d) in Digit::ALL.iter().copied().enumerate() {
            assert_eq!(d.event_code() as usize, i);
            assert_eq!(Digit::from_event_code(d.event_code()), Some(d));
            assert_eq!(Digit::from_char(d.as_char()), Some(d));
            let (r, c) = d.keypad_position();
            assert_eq!(Digit::from_keypad_position(r, c), Some(d));
        }
        assert_eq!(Digit::from_event_code(16), None);
        assert_eq!(Digit::from_char('x'), None);
        assert_eq!(Digit::from_char('b'), Some(Digit::B));
        assert_eq!(Digit::Star.event_code(), 10);
        assert_eq!(Digit::Pound.event_code(), 11);
        assert_eq!(Digit::D.event_code(), 15);
        assert_eq!(Digit::D5.frequencies_hz(), (770.0, 1336.0));
        assert_eq!(Digit::Pound.frequencies_hz(), (941.0, 1477.0));
    }
}

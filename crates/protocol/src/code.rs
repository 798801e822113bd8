//! One-time delivery codes: `N` random digits from a CSPRNG followed by one Damm check digit.
//!
//! The check digit lets the device catch every single-digit typo and every swap of two
//! neighbouring digits at once, offline, without knowing anything about the real code
//! (it is a function of the digits typed, nothing else).
//!
//! A [`DeliveryCode`] never prints its digits through `Debug`, so a code that ends up in a
//! log line or a panic message shows as `DeliveryCode(<redacted, 7 digits>)`.

use std::fmt;

use rand_core::CryptoRng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Default number of random digits (the check digit comes on top).
pub const DEFAULT_RANDOM_DIGITS: usize = 6;
/// Fewest random digits a policy may ask for.
pub const MIN_RANDOM_DIGITS: usize = 4;
/// Most random digits a policy may ask for.
pub const MAX_RANDOM_DIGITS: usize = 12;

/// The Damm quasigroup of order 10 (weakly totally anti-symmetric, zero diagonal), from
/// H. Michael Damm, "Total anti-symmetrische Quasigruppen", 2004.
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/// The Damm interim digit after running `digits` (each 0..=9) through the table.
/// Appending it to `digits` makes the whole sequence check to zero.
pub fn damm_check_digit(digits: &[u8]) -> u8 {
    digits
        .iter()
        .fold(0u8, |interim, &d| DAMM[interim as usize][d as usize])
}

/// Whether a digit sequence (check digit included) passes the Damm check.
pub fn damm_is_valid(digits: &[u8]) -> bool {
    damm_check_digit(digits) == 0
}

/// The Damm table itself, for tests that prove its properties by enumeration.
pub fn damm_table() -> &'static [[u8; 10]; 10] {
    &DAMM
}

/// What is wrong with a typed code. The messages are written for the courier and never
/// contain the digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Nothing was typed.
    #[error("enter the delivery code")]
    Empty,
    /// Something other than a digit, space or dash was typed.
    #[error("the delivery code has only digits; remove the character at position {position}")]
    InvalidCharacter {
        /// 1-based position in what was typed.
        position: usize,
    },
    /// Too few or too many digits.
    #[error("the delivery code has {expected} digits; {got} were entered")]
    WrongLength {
        /// Digits the code must have, check digit included.
        expected: usize,
        /// Digits entered.
        got: usize,
    },
    /// The digits do not pass the check digit: a typo or two swapped digits.
    #[error("this code has a typo; check the code with the customer")]
    CheckDigitMismatch,
    /// A policy asked for an impossible number of random digits.
    #[error(
        "a delivery code needs between {MIN_RANDOM_DIGITS} and {MAX_RANDOM_DIGITS} random digits, not {0}"
    )]
    UnsupportedLength(usize),
}

/// A well-formed delivery code: digits only, the last one a valid Damm check digit.
///
/// On the wire: a string of digits; spaces and dashes between them are ignored.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(pattern = "^[0-9 -]+$")
)]
pub struct DeliveryCode(String);

impl DeliveryCode {
    /// A new code of `random_digits` uniformly random digits (rejection sampling, so no
    /// digit is more likely than another) plus the Damm check digit.
    pub fn generate<R: CryptoRng + ?Sized>(
        rng: &mut R,
        random_digits: usize,
    ) -> Result<Self, CodeError> {
        if !(MIN_RANDOM_DIGITS..=MAX_RANDOM_DIGITS).contains(&random_digits) {
            return Err(CodeError::UnsupportedLength(random_digits));
        }
        let mut digits = Vec::with_capacity(random_digits + 1);
        while digits.len() < random_digits {
            let mut byte = [0u8; 1];
            rng.fill_bytes(&mut byte);
            // 250 is the largest multiple of 10 below 256: reject the rest to stay uniform.
            if byte[0] < 250 {
                digits.push(byte[0] % 10);
            }
        }
        digits.push(damm_check_digit(&digits));
        Ok(Self(digits.iter().map(|d| char::from(b'0' + d)).collect()))
    }

    /// Parses what a person typed: digits, with spaces and dashes allowed anywhere and
    /// blanks around. `expected_len` (check digit included) is enforced when given.
    pub fn parse(input: &str, expected_len: Option<usize>) -> Result<Self, CodeError> {
        let mut digits = String::with_capacity(input.len());
        for (i, ch) in input.trim().chars().enumerate() {
            match ch {
                '0'..='9' => digits.push(ch),
                ' ' | '-' | '\u{a0}' => {}
                _ => return Err(CodeError::InvalidCharacter { position: i + 1 }),
            }
        }
        if digits.is_empty() {
            return Err(CodeError::Empty);
        }
        let min = MIN_RANDOM_DIGITS + 1;
        let max = MAX_RANDOM_DIGITS + 1;
        match expected_len {
            Some(expected) if digits.len() != expected => {
                return Err(CodeError::WrongLength {
                    expected,
                    got: digits.len(),
                });
            }
            None if !(min..=max).contains(&digits.len()) => {
                return Err(CodeError::WrongLength {
                    expected: if digits.len() < min { min } else { max },
                    got: digits.len(),
                });
            }
            _ => {}
        }
        let values: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
        if !damm_is_valid(&values) {
            return Err(CodeError::CheckDigitMismatch);
        }
        Ok(Self(digits))
    }

    /// The digits, check digit included. Handle with care: never log this.
    pub fn expose_digits(&self) -> &str {
        &self.0
    }

    /// Number of digits, check digit included.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a code has at least five digits.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The digits in groups for reading aloud or printing: `123 4567`, `1234 5678 9`.
    pub fn grouped(&self) -> String {
        group_digits(&self.0)
    }
}

/// Splits digits into groups of 3 or 4 for display (7 → 3+4, 8 → 4+4, 9 → 3+3+3...).
pub fn group_digits(digits: &str) -> String {
    let n = digits.chars().count();
    let sizes: Vec<usize> = match n {
        0..=4 => vec![n],
        5 => vec![2, 3],
        6 => vec![3, 3],
        7 => vec![3, 4],
        8 => vec![4, 4],
        _ => {
            let mut sizes = vec![3; n / 3];
            match n % 3 {
                1 => *sizes.last_mut().unwrap() += 1,
                2 => sizes.push(2),
                _ => {}
            }
            sizes
        }
    };
    let mut out = String::with_capacity(n + sizes.len());
    let mut chars = digits.chars();
    for (i, size) in sizes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.extend(chars.by_ref().take(*size));
    }
    out
}

impl fmt::Debug for DeliveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeliveryCode(<redacted, {} digits>)", self.0.len())
    }
}

impl Serialize for DeliveryCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DeliveryCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        DeliveryCode::parse(&raw, None).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wikipedia_example_572_gets_check_digit_4() {
        assert_eq!(damm_check_digit(&[5, 7, 2]), 4);
        assert!(damm_is_valid(&[5, 7, 2, 4]));
    }

    #[test]
    fn debug_never_shows_the_digits() {
        let digits = [5u8, 7, 2, 4, 0, 0, 0];
        let text = format!("5724000{}", damm_check_digit(&digits));
        let code = DeliveryCode::parse(&text, None).unwrap();
        assert!(!format!("{code:?}").contains("5724000"));
    }

    #[test]
    fn grouping_reads_well() {
        assert_eq!(group_digits("1234567"), "123 4567");
        assert_eq!(group_digits("12345678"), "1234 5678");
        assert_eq!(group_digits("1234567890"), "123 456 7890");
    }
}

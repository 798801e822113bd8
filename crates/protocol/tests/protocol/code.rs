//! Tests of `doorstep_protocol::code`.

use doorstep_protocol::code::{
    DEFAULT_RANDOM_DIGITS, MAX_RANDOM_DIGITS, MIN_RANDOM_DIGITS, damm_check_digit, damm_is_valid,
    damm_table,
};
use doorstep_protocol::{CodeError, DeliveryCode};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SEED: u64 = 0x0d00_25e9;

fn to_text(digits: &[u8]) -> String {
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

/// `body` followed by its Damm check digit.
fn with_check(body: &[u8]) -> Vec<u8> {
    let mut digits = body.to_vec();
    digits.push(damm_check_digit(body));
    digits
}

fn parse_digits(digits: &[u8]) -> Result<DeliveryCode, CodeError> {
    DeliveryCode::parse(&to_text(digits), Some(digits.len()))
}

// ---------------------------------------------------------------------------------------
// The Damm property, proven on the table

#[test]
fn the_damm_table_is_a_latin_square_with_a_zero_diagonal() {
    let t = damm_table();
    for (i, row) in t.iter().enumerate() {
        let mut row: Vec<u8> = row.to_vec();
        let mut column: Vec<u8> = (0..10).map(|j| t[j][i]).collect();
        row.sort_unstable();
        column.sort_unstable();
        assert_eq!(row, (0..10).collect::<Vec<u8>>(), "row {i}");
        assert_eq!(column, (0..10).collect::<Vec<u8>>(), "column {i}");
        assert_eq!(t[i][i], 0);
    }
}

/// Weak total anti-symmetry: for every interim digit c and every a ≠ b,
/// (c∗a)∗b ≠ (c∗b)∗a. With the Latin-square property this proves, for codes of any
/// length, that every single wrong digit and every swap of neighbours changes the result.
#[test]
fn the_damm_table_is_weakly_totally_anti_symmetric() {
    let t = damm_table();
    for c in 0..10 {
        for a in 0..10 {
            for b in 0..10 {
                if a != b {
                    assert_ne!(
                        t[t[c][a] as usize][b], t[t[c][b] as usize][a],
                        "c={c} a={a} b={b}"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The Damm property, checked through `DeliveryCode::parse`

/// Every single wrong digit and every adjacent swap of `code` (check digit included) is
/// refused as a check digit mismatch. Returns how many variants were tried.
fn assert_every_typo_is_caught(code: &[u8]) -> usize {
    assert!(parse_digits(code).is_ok(), "the code itself parses");
    let mut tried = 0;
    for position in 0..code.len() {
        for wrong in 0..10u8 {
            if wrong == code[position] {
                continue;
            }
            let mut typo = code.to_vec();
            typo[position] = wrong;
            assert_eq!(
                parse_digits(&typo),
                Err(CodeError::CheckDigitMismatch),
                "digit {position} changed"
            );
            tried += 1;
        }
    }
    for position in 0..code.len() - 1 {
        if code[position] == code[position + 1] {
            continue;
        }
        let mut swapped = code.to_vec();
        swapped.swap(position, position + 1);
        assert_eq!(
            parse_digits(&swapped),
            Err(CodeError::CheckDigitMismatch),
            "digits {position} and {} swapped",
            position + 1
        );
        tried += 1;
    }
    tried
}

#[test]
fn every_single_wrong_digit_and_neighbour_swap_is_caught_in_a_large_sample_of_7_digit_codes() {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut tried = 0;
    for _ in 0..5_000 {
        let body: Vec<u8> = (0..6).map(|_| rng.random_range(0..10)).collect();
        tried += assert_every_typo_is_caught(&with_check(&body));
    }
    // 7 positions × 9 wrong digits, plus up to 6 swaps, per code.
    assert!(tried >= 5_000 * 63);
}

#[test]
fn every_swap_of_every_digit_pair_at_every_position_is_caught() {
    let mut rng = StdRng::seed_from_u64(SEED + 1);
    for position in 0..6 {
        for a in 0..10u8 {
            for b in 0..10u8 {
                if a == b {
                    continue;
                }
                // The pair at `position`, `position + 1` of a 7-digit code; the check digit
                // may be part of the pair (position 5 ends at the check digit's left).
                let mut body: Vec<u8> = (0..6).map(|_| rng.random_range(0..10)).collect();
                body[position] = a;
                if position + 1 < 6 {
                    body[position + 1] = b;
                }
                let mut code = with_check(&body);
                if code[position] == code[position + 1] {
                    continue;
                }
                code.swap(position, position + 1);
                assert_eq!(
                    parse_digits(&code),
                    Err(CodeError::CheckDigitMismatch),
                    "a={a} b={b} at {position}"
                );
            }
        }
    }
}

#[test]
fn every_code_of_four_random_digits_catches_every_typo() {
    // All 10,000 bodies of the shortest policy length: an exhaustive check end to end.
    for n in 0..10_000u32 {
        let body = [
            (n / 1000) as u8,
            (n / 100 % 10) as u8,
            (n / 10 % 10) as u8,
            (n % 10) as u8,
        ];
        assert_every_typo_is_caught(&with_check(&body));
    }
}

// ---------------------------------------------------------------------------------------
// Generation

#[test]
fn generated_codes_parse_and_have_the_asked_length() {
    let mut rng = StdRng::seed_from_u64(SEED);
    for random_digits in MIN_RANDOM_DIGITS..=MAX_RANDOM_DIGITS {
        for _ in 0..200 {
            let code = DeliveryCode::generate(&mut rng, random_digits).unwrap();
            assert_eq!(code.len(), random_digits + 1);
            assert_eq!(
                DeliveryCode::parse(code.expose_digits(), Some(random_digits + 1)),
                Ok(code)
            );
        }
    }
}

#[test]
fn generated_digits_are_spread_evenly_over_0_to_9_at_every_position() {
    let mut rng = StdRng::seed_from_u64(SEED);
    let codes = 20_000;
    let mut counts = [[0u32; 10]; DEFAULT_RANDOM_DIGITS];
    for _ in 0..codes {
        let code = DeliveryCode::generate(&mut rng, DEFAULT_RANDOM_DIGITS).unwrap();
        for (position, digit) in code
            .expose_digits()
            .bytes()
            .take(DEFAULT_RANDOM_DIGITS)
            .enumerate()
        {
            counts[position][usize::from(digit - b'0')] += 1;
        }
    }
    // Expected 2,000 per cell, standard deviation √(20000·0.1·0.9) ≈ 42: ±250 is ~6σ.
    for (position, row) in counts.iter().enumerate() {
        for (digit, &count) in row.iter().enumerate() {
            assert!(
                (1_750..=2_250).contains(&count),
                "position {position} digit {digit}: {count}"
            );
        }
    }
    // A plain `byte % 10` without rejection would give 0–5 a share of 156/256 instead of
    // 6/10: about 73,100 instead of 72,000 of the 120,000 digits. The fair spread has a
    // standard deviation of √(120000·0.6·0.4) ≈ 170, so the bound 600 (~3.5σ) tells them apart.
    let low: u32 = counts.iter().flat_map(|row| &row[..6]).sum();
    let high: u32 = counts.iter().flat_map(|row| &row[6..]).sum();
    assert!(low.abs_diff(72_000) < 600, "low digits {low}");
    assert_eq!(low + high, codes * DEFAULT_RANDOM_DIGITS as u32);
}

#[test]
fn generate_refuses_lengths_outside_the_policy_range() {
    let mut rng = StdRng::seed_from_u64(SEED);
    assert_eq!(
        DeliveryCode::generate(&mut rng, MIN_RANDOM_DIGITS - 1),
        Err(CodeError::UnsupportedLength(MIN_RANDOM_DIGITS - 1))
    );
    assert_eq!(
        DeliveryCode::generate(&mut rng, MAX_RANDOM_DIGITS + 1),
        Err(CodeError::UnsupportedLength(MAX_RANDOM_DIGITS + 1))
    );
}

// ---------------------------------------------------------------------------------------
// Parsing what people type

fn sample_code() -> DeliveryCode {
    DeliveryCode::generate(&mut StdRng::seed_from_u64(SEED), DEFAULT_RANDOM_DIGITS).unwrap()
}

#[test]
fn parse_accepts_spaces_dashes_and_surrounding_blanks() {
    let code = sample_code();
    let d = code.expose_digits();
    for typed in [
        format!("  {d}\n"),
        format!("{} {}", &d[..3], &d[3..]),
        format!("{}-{}-{}", &d[..2], &d[2..5], &d[5..]),
        format!("{}\u{a0}{}", &d[..3], &d[3..]),
        code.grouped(),
    ] {
        assert_eq!(
            DeliveryCode::parse(&typed, Some(7)),
            Ok(code.clone()),
            "{typed:?}"
        );
    }
}

#[test]
fn parse_refuses_letters_with_their_position() {
    assert_eq!(
        DeliveryCode::parse("123a567", None),
        Err(CodeError::InvalidCharacter { position: 4 })
    );
    assert_eq!(
        DeliveryCode::parse("１２３４５６７", None),
        Err(CodeError::InvalidCharacter { position: 1 })
    );
}

#[test]
fn parse_refuses_the_wrong_number_of_digits() {
    let code = sample_code();
    assert_eq!(
        DeliveryCode::parse(code.expose_digits(), Some(8)),
        Err(CodeError::WrongLength {
            expected: 8,
            got: 7
        })
    );
    assert_eq!(
        DeliveryCode::parse("1234", None),
        Err(CodeError::WrongLength {
            expected: MIN_RANDOM_DIGITS + 1,
            got: 4
        })
    );
    assert_eq!(
        DeliveryCode::parse(&"1".repeat(14), None),
        Err(CodeError::WrongLength {
            expected: MAX_RANDOM_DIGITS + 1,
            got: 14
        })
    );
}

#[test]
fn parse_refuses_blank_input_as_empty() {
    assert_eq!(DeliveryCode::parse("", None), Err(CodeError::Empty));
    assert_eq!(DeliveryCode::parse(" - ", Some(7)), Err(CodeError::Empty));
}

#[test]
fn debug_and_errors_never_show_the_digits() {
    let mut rng = StdRng::seed_from_u64(SEED);
    for _ in 0..100 {
        let code = DeliveryCode::generate(&mut rng, DEFAULT_RANDOM_DIGITS).unwrap();
        let debug = format!("{code:?}");
        assert!(!debug.contains(code.expose_digits()), "{debug}");
        assert!(!debug.contains(&code.expose_digits()[..4]), "{debug}");
        let mut typo: Vec<u8> = code.expose_digits().bytes().map(|b| b - b'0').collect();
        typo[0] = (typo[0] + 1) % 10;
        let error = parse_digits(&typo).unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(!shown.chars().any(|c| c.is_ascii_digit()), "{shown}");
    }
}

#[test]
fn codes_serialise_as_their_digits_and_deserialise_with_the_check() {
    let code = sample_code();
    let json = serde_json::to_string(&code).unwrap();
    assert_eq!(json, format!("\"{}\"", code.expose_digits()));
    assert_eq!(serde_json::from_str::<DeliveryCode>(&json).unwrap(), code);
    let mut digits: Vec<u8> = code.expose_digits().bytes().map(|b| b - b'0').collect();
    digits[0] = (digits[0] + 1) % 10;
    assert!(serde_json::from_str::<DeliveryCode>(&format!("\"{}\"", to_text(&digits))).is_err());
}

proptest! {
    #[test]
    fn parse_never_panics_and_accepts_only_valid_damm_digits(text in any::<String>(), len in proptest::option::of(0usize..20)) {
        if let Ok(code) = DeliveryCode::parse(&text, len) {
            let digits: Vec<u8> = code.expose_digits().bytes().map(|b| b - b'0').collect();
            prop_assert!(damm_is_valid(&digits));
        }
    }

    #[test]
    fn any_body_with_its_check_digit_parses(body in proptest::collection::vec(0u8..10, MIN_RANDOM_DIGITS..=MAX_RANDOM_DIGITS)) {
        let code = with_check(&body);
        prop_assert_eq!(parse_digits(&code).map(|c| c.len()), Ok(code.len()));
    }
}

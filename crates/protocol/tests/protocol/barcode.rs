//! Tests of `doorstep_protocol::barcode`.

use doorstep_protocol::barcode::{
    CheckedKey, CountryPostalCode, GS, MAX_OPAQUE_LEN, MAX_SCAN_LEN, gs1_check_digit,
    s10_check_digit,
};
use doorstep_protocol::{Barcode, BarcodeError};
use proptest::prelude::*;

fn digits(s: &str) -> Vec<u8> {
    s.bytes().map(|b| b - b'0').collect()
}

fn sscc(value: &str) -> Barcode {
    Barcode::Sscc {
        value: value.to_string(),
    }
}

fn check_digit_error(key: CheckedKey) -> Result<Barcode, BarcodeError> {
    Err(BarcodeError::CheckDigit { key })
}

// ---------------------------------------------------------------------------------------
// Published examples

/// GS1 EPC Tag Data Standard, SSCC example: `urn:epc:id:sscc:0614141.1234567890` is the
/// SSCC `(00) 106141412345678908` (extension 1, company prefix 0614141, serial reference
/// 234567890, check digit 8).
const GS1_TDS_SSCC: &str = "106141412345678908";

#[test]
fn the_gs1_tag_data_standard_sscc_example_has_check_digit_8() {
    assert_eq!(gs1_check_digit(&digits(&GS1_TDS_SSCC[..17])), 8);
    assert_eq!(Barcode::parse(GS1_TDS_SSCC), Ok(sscc(GS1_TDS_SSCC)));
}

/// GS1 General Specifications §7.9.1 (standard check digit calculation), worked example:
/// the GTIN-13 body 629104150021 gets check digit 3.
#[test]
fn the_gs1_general_specifications_check_digit_example_gives_3() {
    assert_eq!(gs1_check_digit(&digits("629104150021")), 3);
    // The same GTIN as a GTIN-14 (leading zero) keeps its check digit.
    assert_eq!(gs1_check_digit(&digits("0629104150021")), 3);
}

/// GS1's own example GTIN 09501101530003, as in the GS1 General Specifications' and GS1
/// Digital Link's element string examples `(01)09501101530003(17)140704(10)AB-123`.
#[test]
fn the_gs1_example_gtin_has_a_valid_check_digit() {
    assert_eq!(gs1_check_digit(&digits("0950110153000")), 3);
}

#[test]
fn an_sscc_written_in_human_readable_groups_parses() {
    // The brief's `(00) 1 0614141 123456789 0` has a wrong check digit: the GS1 mod-10 check
    // digit of 1 0614141 123456789 is 7. So `…0` is refused and `…7` parses.
    assert_eq!(gs1_check_digit(&digits("10614141123456789")), 7);
    assert_eq!(
        Barcode::parse("(00) 1 0614141 123456789 0"),
        check_digit_error(CheckedKey::Sscc)
    );
    assert_eq!(
        Barcode::parse("(00) 1 0614141 123456789 7"),
        Ok(sscc("106141411234567897"))
    );
    assert_eq!(
        Barcode::parse("(00) 1 0614141 234567890 8"),
        Ok(sscc(GS1_TDS_SSCC))
    );
}

/// UPU S10 standard, check digit example (quoted in the Wikipedia article "S10 (UPU
/// standard)"): serial 47312482 → weighted sum 200 → 11 - 200 mod 11 = 9, so
/// `AA473124829GB`.
#[test]
fn the_upu_s10_worked_example_has_check_digit_9() {
    assert_eq!(s10_check_digit(&[4, 7, 3, 1, 2, 4, 8, 2]), 9);
    assert_eq!(
        Barcode::parse("AA473124829GB"),
        Ok(Barcode::S10 {
            value: "AA473124829GB".into()
        })
    );
}

#[test]
fn the_s10_example_rr123456785gb_is_valid() {
    // 1*8 + 2*6 + 3*4 + 4*2 + 5*3 + 6*5 + 7*9 + 8*7 = 204; 204 mod 11 = 6; 11 - 6 = 5.
    assert_eq!(s10_check_digit(&[1, 2, 3, 4, 5, 6, 7, 8]), 5);
    let parsed = Barcode::parse("RR123456785GB").unwrap();
    assert_eq!(parsed.key(), "RR123456785GB");
}

/// The S10 rule maps remainder 0 (11 → 5) and remainder 6 (11 - 6 = 5) to the same check
/// digit, so a single-digit change that moves the weighted sum between them goes unseen:
/// 02674349 (sum 176, remainder 0) and 02674249 (sum 171, remainder 6) both check with 5.
/// A property of the standard, not of this parser; such a typo then fails to match the
/// manifest instead.
#[test]
fn the_s10_check_digit_cannot_tell_remainder_0_from_remainder_6() {
    assert_eq!(s10_check_digit(&[0, 2, 6, 7, 4, 3, 4, 9]), 5);
    assert_eq!(s10_check_digit(&[0, 2, 6, 7, 4, 2, 4, 9]), 5);
    assert!(Barcode::parse("AA026743495AA").is_ok());
    assert!(Barcode::parse("AA026742495AA").is_ok());
}

#[test]
fn s10_check_digit_maps_10_to_0_and_11_to_5() {
    // Sum 11 (mod 11 = 0) → 11 → 5: serial 00000012 → 1*9 + 2*7 = 23 → 23 mod 11 = 1 → 10 → 0.
    assert_eq!(s10_check_digit(&[0, 0, 0, 0, 0, 0, 1, 2]), 0);
    // Serial 00000000: sum 0 → 11 - 0 = 11 → 5.
    assert_eq!(s10_check_digit(&[0; 8]), 5);
    assert!(Barcode::parse("EE000000005FR").is_ok());
}

// ---------------------------------------------------------------------------------------
// SSCC and S10 shapes

#[test]
fn an_sscc_as_a_plain_element_string_without_symbology_identifier_parses() {
    let text = format!("00{GS1_TDS_SSCC}");
    assert_eq!(Barcode::parse(&text), Ok(sscc(GS1_TDS_SSCC)));
    assert_eq!(
        Barcode::parse(&format!("]C1{text}")),
        Ok(sscc(GS1_TDS_SSCC))
    );
    assert_eq!(
        Barcode::parse(&format!("(00){GS1_TDS_SSCC}")),
        Ok(sscc(GS1_TDS_SSCC))
    );
}

#[test]
fn an_sscc_key_is_00_and_the_18_digits() {
    assert_eq!(
        Barcode::parse(GS1_TDS_SSCC).unwrap().key(),
        format!("00{GS1_TDS_SSCC}")
    );
}

#[test]
fn eighteen_digits_with_a_wrong_check_digit_are_an_error_not_opaque() {
    assert_eq!(
        Barcode::parse("106141412345678909"),
        check_digit_error(CheckedKey::Sscc)
    );
    assert_eq!(
        Barcode::parse("00106141412345678909"),
        check_digit_error(CheckedKey::Sscc)
    );
}

#[test]
fn s10_numbers_accept_spaces_and_lower_case_and_normalise_the_key() {
    let parsed = Barcode::parse("  rr 123 456 785 gb\r\n").unwrap();
    assert_eq!(
        parsed,
        Barcode::S10 {
            value: "RR123456785GB".into()
        }
    );
    assert_eq!(parsed.key(), "RR123456785GB");
}

#[test]
fn an_s10_number_with_a_wrong_check_digit_is_an_error() {
    assert_eq!(
        Barcode::parse("RR123456784GB"),
        check_digit_error(CheckedKey::S10)
    );
}

// ---------------------------------------------------------------------------------------
// GS1 element strings

#[test]
fn a_gs1_128_scan_with_gtin_serial_and_postal_code_parses() {
    let scan = format!("]C10109501101530003216789AB{GS}420SW1A1AA");
    let parsed = Barcode::parse(&scan).unwrap();
    assert_eq!(
        parsed,
        Barcode::Gs1 {
            sscc: None,
            gtin: Some("09501101530003".into()),
            serial: Some("6789AB".into()),
            ship_to_postal_code: Some("SW1A1AA".into()),
            ship_to_country_postal_code: None,
        }
    );
    assert_eq!(parsed.key(), "010950110153000321 6789AB".replace(' ', ""));
}

#[test]
fn datamatrix_and_qr_symbology_identifiers_mean_gs1_data() {
    for id in ["]d2", "]Q3", "]e0", "]J1"] {
        let scan = format!("{id}00{GS1_TDS_SSCC}");
        assert_eq!(Barcode::parse(&scan), Ok(sscc(GS1_TDS_SSCC)), "{id}");
    }
}

#[test]
fn a_gs1_sscc_with_other_fields_keys_on_the_sscc() {
    let scan = format!("]C100{GS1_TDS_SSCC}0109501101530003421826SW1A1AA");
    let parsed = Barcode::parse(&scan).unwrap();
    assert_eq!(
        parsed,
        Barcode::Gs1 {
            sscc: Some(GS1_TDS_SSCC.into()),
            gtin: Some("09501101530003".into()),
            serial: None,
            ship_to_postal_code: None,
            ship_to_country_postal_code: Some(CountryPostalCode {
                country: "826".into(),
                postal_code: "SW1A1AA".into()
            }),
        }
    );
    assert_eq!(parsed.key(), format!("00{GS1_TDS_SSCC}"));
}

#[test]
fn the_bracketed_form_reads_like_the_scanned_form() {
    let bracketed = Barcode::parse("(01)09501101530003(17)140704(10)AB-123(21)XYZ").unwrap();
    let scanned = Barcode::parse(&format!(
        "]C1010950110153000317140704{}",
        "10AB-123\u{1d}21XYZ"
    ))
    .unwrap();
    assert_eq!(bracketed, scanned);
    assert_eq!(bracketed.key(), "0109501101530003".to_string() + "21XYZ");
}

#[test]
fn known_ais_that_are_not_kept_are_checked_and_skipped() {
    // Batch (10), expiry (17), net weight (3103), company internal (91).
    let scan = format!("]C100{GS1_TDS_SSCC}10LOT7{GS}17261231310300125091internal-ref{GS}");
    assert_eq!(Barcode::parse(&scan), Ok(sscc(GS1_TDS_SSCC)));
}

#[test]
fn an_unknown_ai_is_refused_with_its_digits() {
    let scan = format!("]C100{GS1_TDS_SSCC}7003XYZ");
    assert_eq!(
        Barcode::parse(&scan),
        Err(BarcodeError::UnknownAi { ai: "7003".into() })
    );
    assert_eq!(
        Barcode::parse("(00)106141412345678908(242)1"),
        Err(BarcodeError::UnknownAi { ai: "242".into() })
    );
}

#[test]
fn a_gtin_with_a_wrong_check_digit_inside_an_element_string_is_an_error() {
    assert_eq!(
        Barcode::parse("]C1010950110153000421X"),
        check_digit_error(CheckedKey::Gtin)
    );
    assert_eq!(
        Barcode::parse("(01)09501101530004(21)X"),
        check_digit_error(CheckedKey::Gtin)
    );
}

#[test]
fn a_product_barcode_without_a_parcel_identifier_is_refused() {
    assert_eq!(
        Barcode::parse("(01)09501101530003(17)140704(10)AB-123"),
        Err(BarcodeError::NoParcelIdentifier)
    );
    assert_eq!(
        Barcode::parse("]C121SERIAL-ONLY"),
        Err(BarcodeError::NoParcelIdentifier)
    );
}

#[test]
fn variable_fields_longer_than_their_maximum_are_refused() {
    let serial = "S".repeat(21);
    assert_eq!(
        Barcode::parse(&format!("]C1010950110153000321{serial}")),
        Err(BarcodeError::FieldLength {
            ai: "21".into(),
            expected: "1 to 20 characters"
        })
    );
    assert!(Barcode::parse(&format!("]C1010950110153000321{}", "S".repeat(20))).is_ok());
    assert_eq!(
        Barcode::parse(&format!("]C100{GS1_TDS_SSCC}4218261234567890")).map_err(|e| e.code()),
        Err("barcode_field_length")
    );
}

#[test]
fn a_fixed_field_cut_short_is_refused() {
    assert_eq!(
        Barcode::parse("]C10010614141234567"),
        Err(BarcodeError::FieldLength {
            ai: "00".into(),
            expected: "18 digits"
        })
    );
    assert_eq!(
        Barcode::parse(&format!("]C10109501101{GS}21X")).map_err(|e| e.code()),
        Err("barcode_field_length")
    );
}

#[test]
fn characters_outside_gs1_set_82_are_refused_in_fields() {
    assert_eq!(
        Barcode::parse("]C1010950110153000321AB CD"),
        Err(BarcodeError::FieldCharacter { ai: "21".into() })
    );
    assert_eq!(
        Barcode::parse("]C101095011015300032100é"),
        Err(BarcodeError::FieldCharacter { ai: "21".into() })
    );
}

#[test]
fn the_same_ai_twice_with_different_values_is_refused() {
    assert_eq!(
        Barcode::parse("(01)09501101530003(21)A(21)B"),
        Err(BarcodeError::DuplicateAi { ai: "21".into() })
    );
    assert!(Barcode::parse("(01)09501101530003(21)A(21)A").is_ok());
}

#[test]
fn malformed_element_strings_get_a_malformed_error() {
    for scan in [
        "]C1".to_string(),
        "(00)106141412345678908(21".to_string(),
        format!("]C10109501101530003{GS}{GS}21X"),
        format!("(01)09501101530003{GS}(21)X"),
        "]C1x".to_string(),
    ] {
        assert_eq!(
            Barcode::parse(&scan).map_err(|e| e.code()),
            Err("barcode_malformed"),
            "{scan:?}"
        );
    }
}

#[test]
fn a_leading_or_trailing_group_separator_is_tolerated() {
    let scan = format!("{GS}0109501101530003215678{GS}");
    assert_eq!(
        Barcode::parse(&scan).unwrap().key(),
        "0109501101530003215678"
    );
}

#[test]
fn a_non_gs1_symbology_identifier_is_stripped() {
    assert_eq!(
        Barcode::parse("]C0PARCEL-1"),
        Ok(Barcode::Opaque {
            value: "PARCEL-1".into()
        })
    );
    assert_eq!(
        Barcode::parse("]Q1 RR123456785GB").unwrap().key(),
        "RR123456785GB"
    );
    assert_eq!(Barcode::parse("]C0"), Err(BarcodeError::Empty));
}

#[test]
fn an_opaque_reference_that_starts_like_a_symbology_identifier_keeps_it() {
    // Found by the `barcode` fuzz target: one identifier is stripped, the second is data.
    let parsed = Barcode::parse("]CW]CW21C121C1").unwrap();
    assert_eq!(
        parsed,
        Barcode::Opaque {
            value: "]CW21C121C1".into()
        }
    );
    assert_eq!(Barcode::parse(&parsed.canonical_text()), Ok(parsed.clone()));
    let json = serde_json::to_string(&parsed).unwrap();
    assert_eq!(serde_json::from_str::<Barcode>(&json).unwrap(), parsed);
}

#[test]
fn a_handover_token_behind_a_qr_symbology_identifier_is_recognised() {
    assert_eq!(
        Barcode::parse("]Q1DS1:ABCDEF"),
        Err(BarcodeError::HandoverToken)
    );
}

// ---------------------------------------------------------------------------------------
// Opaque references and refusals

#[test]
fn anything_else_printable_is_an_opaque_reference_trimmed() {
    let parsed = Barcode::parse("  JD014600006281234567 \n").unwrap();
    assert_eq!(
        parsed,
        Barcode::Opaque {
            value: "JD014600006281234567".into()
        }
    );
    assert_eq!(parsed.key(), "JD014600006281234567");
    assert_eq!(
        Barcode::parse("Colis n° 42 — Lyon").unwrap().key(),
        "Colis n° 42 — Lyon"
    );
}

#[test]
fn an_empty_or_blank_scan_is_refused_as_empty() {
    assert_eq!(Barcode::parse(""), Err(BarcodeError::Empty));
    assert_eq!(Barcode::parse(" \t\r\n"), Err(BarcodeError::Empty));
}

#[test]
fn opaque_references_longer_than_64_characters_are_refused() {
    let ok = "x".repeat(MAX_OPAQUE_LEN);
    assert!(Barcode::parse(&ok).is_ok());
    assert_eq!(
        Barcode::parse(&"é".repeat(MAX_OPAQUE_LEN + 1)),
        Err(BarcodeError::TooLong {
            len: MAX_OPAQUE_LEN + 1,
            max: MAX_OPAQUE_LEN
        })
    );
    assert_eq!(
        Barcode::parse(&"1".repeat(MAX_SCAN_LEN + 1)),
        Err(BarcodeError::TooLong {
            len: MAX_SCAN_LEN + 1,
            max: MAX_SCAN_LEN
        })
    );
}

#[test]
fn control_and_invisible_characters_are_refused_with_their_position() {
    assert_eq!(
        Barcode::parse("AB\u{7}CD"),
        Err(BarcodeError::ControlCharacter { position: 3 })
    );
    assert_eq!(
        Barcode::parse("AB\tCD"),
        Err(BarcodeError::ControlCharacter { position: 3 })
    );
    assert_eq!(
        Barcode::parse("A\u{202e}BC"),
        Err(BarcodeError::ControlCharacter { position: 2 })
    );
    assert_eq!(
        Barcode::parse("\u{0}"),
        Err(BarcodeError::ControlCharacter { position: 1 })
    );
}

#[test]
fn a_customer_handover_token_is_not_taken_for_a_parcel_label() {
    assert_eq!(
        Barcode::parse("DS1:ABCDEF"),
        Err(BarcodeError::HandoverToken)
    );
}

#[test]
fn every_error_has_a_distinct_stable_code_and_an_instruction() {
    let errors = [
        BarcodeError::Empty,
        BarcodeError::TooLong { len: 1, max: 1 },
        BarcodeError::ControlCharacter { position: 1 },
        BarcodeError::CheckDigit {
            key: CheckedKey::Sscc,
        },
        BarcodeError::UnknownAi { ai: "99".into() },
        BarcodeError::FieldLength {
            ai: "00".into(),
            expected: "18 digits",
        },
        BarcodeError::FieldCharacter { ai: "21".into() },
        BarcodeError::DuplicateAi { ai: "21".into() },
        BarcodeError::MalformedElementString { reason: "x" },
        BarcodeError::NoParcelIdentifier,
        BarcodeError::HandoverToken,
    ];
    let mut codes: Vec<&str> = errors.iter().map(BarcodeError::code).collect();
    for (error, code) in errors.iter().zip(&codes) {
        assert!(code.starts_with("barcode_"), "{code}");
        let message = error.to_string();
        assert!(
            ["scan", "type", "report"]
                .iter()
                .any(|verb| message.contains(verb)),
            "{message}"
        );
    }
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), errors.len());
}

// ---------------------------------------------------------------------------------------
// Serde

#[test]
fn barcodes_serialise_with_a_kind_tag_and_round_trip() {
    let cases = [
        Barcode::parse(GS1_TDS_SSCC).unwrap(),
        Barcode::parse("RR123456785GB").unwrap(),
        Barcode::parse("PARCEL-1").unwrap(),
        Barcode::parse(&format!("]C10109501101530003216789AB{GS}420SW1A1AA")).unwrap(),
        Barcode::parse("(00)106141412345678908(421)826SW1A1AA").unwrap(),
    ];
    assert_eq!(
        serde_json::to_string(&cases[0]).unwrap(),
        r#"{"kind":"sscc","value":"106141412345678908"}"#
    );
    for barcode in cases {
        let json = serde_json::to_string(&barcode).unwrap();
        assert_eq!(serde_json::from_str::<Barcode>(&json).unwrap(), barcode);
    }
}

#[test]
fn deserialising_refuses_invalid_or_unnormalised_barcodes() {
    for json in [
        r#"{"kind":"sscc","value":"106141412345678909"}"#,
        r#"{"kind":"s10","value":"rr123456785gb"}"#,
        r#"{"kind":"opaque","value":"RR123456785GB"}"#,
        r#"{"kind":"opaque","value":"  padded"}"#,
        r#"{"kind":"gs1","gtin":"09501101530003"}"#,
        r#"{"kind":"gs1","sscc":"106141412345678908"}"#,
        r#"{"kind":"opaque","value":"x","extra":1}"#,
    ] {
        assert!(serde_json::from_str::<Barcode>(json).is_err(), "{json}");
    }
}

// ---------------------------------------------------------------------------------------
// Properties

fn sscc_body() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(0u8..10, 17)
}

fn with_gs1_check(mut body: Vec<u8>) -> String {
    body.push(gs1_check_digit(&body));
    body.iter().map(|d| char::from(b'0' + d)).collect()
}

fn s10_parts() -> impl Strategy<Value = (String, [u8; 8], String)> {
    ("[A-Z]{2}", proptest::array::uniform8(0u8..10), "[A-Z]{2}")
}

/// The weighted sum of an S10 serial modulo 11.
fn s10_residue(serial: &[u8; 8]) -> u32 {
    const WEIGHTS: [u32; 8] = [8, 6, 4, 2, 3, 5, 9, 7];
    serial
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d) * w)
        .sum::<u32>()
        % 11
}

fn s10_text(service: &str, serial: &[u8; 8], country: &str) -> String {
    let digits: String = serial.iter().map(|d| char::from(b'0' + d)).collect();
    format!("{service}{digits}{}{country}", s10_check_digit(serial))
}

proptest! {
    #[test]
    fn any_sscc_with_a_correct_check_digit_parses(body in sscc_body()) {
        let value = with_gs1_check(body);
        prop_assert_eq!(Barcode::parse(&value), Ok(sscc(&value)));
        let bracketed = format!("(00){value}");
        prop_assert_eq!(Barcode::parse(&bracketed).unwrap().key(), format!("00{value}"));
    }

    #[test]
    fn any_single_digit_change_of_an_sscc_fails(
        body in sscc_body(),
        position in 0usize..18,
        delta in 1u8..10,
    ) {
        let value = with_gs1_check(body);
        let mut bytes = value.into_bytes();
        bytes[position] = b'0' + (bytes[position] - b'0' + delta) % 10;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert_eq!(Barcode::parse(&changed), check_digit_error(CheckedKey::Sscc));
    }

    #[test]
    fn any_s10_with_a_correct_check_digit_parses((service, serial, country) in s10_parts()) {
        let text = s10_text(&service, &serial, &country);
        prop_assert_eq!(
            Barcode::parse(&text.to_lowercase()),
            Ok(Barcode::S10 { value: text.clone() })
        );
    }

    #[test]
    fn any_single_digit_change_of_an_s10_fails_unless_the_standard_cannot_tell(
        (service, serial, country) in s10_parts(),
        position in 2usize..11,
        delta in 1u8..10,
    ) {
        let text = s10_text(&service, &serial, &country);
        let mut bytes = text.into_bytes();
        bytes[position] = b'0' + (bytes[position] - b'0' + delta) % 10;
        let changed = String::from_utf8(bytes).unwrap();
        let result = Barcode::parse(&changed);
        if position < 10 {
            let mut new_serial = serial;
            new_serial[position - 2] = changed.as_bytes()[position] - b'0';
            let residues = [s10_residue(&serial), s10_residue(&new_serial)];
            if residues == [0, 6] || residues == [6, 0] {
                // The one blind spot of S10: remainders 0 and 6 both give check digit 5.
                prop_assert!(result.is_ok());
                return Ok(());
            }
        }
        prop_assert_eq!(result, check_digit_error(CheckedKey::S10));
    }

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = Barcode::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_gs1_looking_text(
        prefix in prop::sample::select(vec!["]C1", "]d2", "(", "", "\u{1d}"]),
        body in "[0-9A-Za-z()\u{1d} ]{0,80}",
    ) {
        let _ = Barcode::parse(&format!("{prefix}{body}"));
    }

    #[test]
    fn every_accepted_barcode_reparses_from_its_canonical_text_and_json(
        text in prop_oneof![
            any::<String>(),
            "[0-9]{18,20}",
            "]C1(0[01]|21|420)[0-9A-Z]{14,30}",
        ],
    ) {
        if let Ok(barcode) = Barcode::parse(&text) {
            prop_assert_eq!(Barcode::parse(&barcode.canonical_text()), Ok(barcode.clone()));
            let json = serde_json::to_string(&barcode).unwrap();
            prop_assert_eq!(serde_json::from_str::<Barcode>(&json).unwrap(), barcode);
        }
    }
}

//! Parsing of scanned parcel labels: GS1 SSCC-18, GS1 element strings (GS1-128, GS1
//! DataMatrix, GS1 QR), UPU S10 tracking numbers, and anything else printable as an opaque
//! reference.
//!
//! What is recognised, in this order:
//!
//! 1. An AIM symbology identifier of a GS1 symbol (`]C1` GS1-128, `]d2` GS1 DataMatrix, `]Q3`
//!    GS1 QR, `]e0` GS1 DataBar, `]J1` GS1 DotCode), a group separator (GS, 0x1D, what
//!    scanners send for FNC1) anywhere in the payload, or a payload starting with `(`: the
//!    payload is a **GS1 element string**, bracketed (`(00)…(21)…`, spaces ignored) or plain
//!    (AIs back to back, variable-length fields ended by GS or the end). Other AIM identifiers
//!    (`]C0`, `]Q1`, …) are stripped and the rest is read as below.
//! 2. 18 digits, or `00` followed by 18 digits (spaces allowed): an **SSCC**.
//! 3. 2 letters, 9 digits, 2 letters (spaces allowed, any case): a **UPU S10** number.
//! 4. Anything else printable, 1 to [`MAX_OPAQUE_LEN`] characters: an **opaque** reference.
//!
//! A payload of the right shape for 2 or 3 (or a GS1 key inside 1) with a wrong check digit
//! is refused with [`BarcodeError::CheckDigit`], never taken as opaque: a misread label must
//! be scanned again, not matched by luck.
//!
//! GS1 application identifiers (AIs): the ones a parcel label needs are kept — 00 (SSCC),
//! 01 (GTIN), 21 (serial), 420 (ship-to postal code), 421 (ship-to country + postal code).
//! The other common AIs in [`AI_TABLE`] (batch, dates, counts, weights, GLNs, company
//! internal 90–99, …) are checked for length, characters and check digit, then skipped. An
//! AI outside that table is refused with [`BarcodeError::UnknownAi`]: its length is unknown,
//! so the rest of the payload cannot be read safely.
//!
//! Limitation: in the bracketed form a `(` always starts an AI, so a field value that itself
//! contains `(` must be scanned in the plain form (which is what scanners send anyway).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest payload accepted as an opaque reference, in characters.
pub const MAX_OPAQUE_LEN: usize = 64;
/// Longest payload read at all, in characters (a GS1 DataMatrix label with many AIs fits).
pub const MAX_SCAN_LEN: usize = 256;

/// The ASCII group separator that scanners transmit for FNC1 between GS1 fields.
pub const GS: char = '\u{1d}';

/// A scanned label, parsed. Serialised with a `kind` tag:
/// `{"kind":"sscc","value":"106141412345678908"}`. Deserialising checks the value exactly as
/// [`Barcode::parse`] does, so stored or received JSON cannot carry an invalid label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    try_from = "repr::BarcodeRepr",
    deny_unknown_fields
)]
pub enum Barcode {
    /// A GS1 Serial Shipping Container Code alone: 18 digits, the last a GS1 check digit.
    Sscc {
        /// The 18 digits.
        value: String,
    },
    /// A GS1 element string that identifies a parcel: by an SSCC (AI 00), or by a GTIN (AI
    /// 01) together with a serial number (AI 21). It may carry where the parcel goes.
    Gs1 {
        /// AI 00: the SSCC, 18 digits.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sscc: Option<String>,
        /// AI 01: the GTIN-14, 14 digits.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gtin: Option<String>,
        /// AI 21: the serial number, up to 20 characters of GS1 character set 82.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        serial: Option<String>,
        /// AI 420: ship-to postal code within one postal authority, up to 20 characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ship_to_postal_code: Option<String>,
        /// AI 421: ship-to country (ISO 3166 numeric) and postal code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ship_to_country_postal_code: Option<CountryPostalCode>,
    },
    /// A UPU S10 item identifier, e.g. `RR123456785GB`: upper case, no spaces.
    S10 {
        /// The 13 characters.
        value: String,
    },
    /// Any other Code 128 / QR payload, kept as an opaque reference.
    Opaque {
        /// The reference, trimmed.
        value: String,
    },
}

/// AI 421: a country code and a postal code within it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryPostalCode {
    /// ISO 3166-1 numeric country code, 3 digits (e.g. `826` for the United Kingdom).
    pub country: String,
    /// The postal code, up to 9 characters of GS1 character set 82.
    pub postal_code: String,
}

/// A key that carries a check digit, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckedKey {
    /// GS1 Serial Shipping Container Code (AI 00).
    Sscc,
    /// GS1 Global Trade Item Number (AI 01, 02).
    Gtin,
    /// GS1 Global Location Number (AI 410–417).
    Gln,
    /// GS1 Global Shipment Identification Number (AI 402).
    Gsin,
    /// UPU S10 tracking number.
    S10,
}

impl fmt::Display for CheckedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckedKey::Sscc => "SSCC",
            CheckedKey::Gtin => "GTIN",
            CheckedKey::Gln => "GLN",
            CheckedKey::Gsin => "GSIN",
            CheckedKey::S10 => "tracking number",
        })
    }
}

/// Why a scanned payload is not a usable parcel label. Every message tells the courier what
/// to do next; [`BarcodeError::code`] gives a stable machine code for the UI and the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BarcodeError {
    /// Nothing was scanned.
    #[error("the barcode is empty; scan the label again")]
    Empty,
    /// Longer than any parcel label.
    #[error(
        "the barcode is too long ({len} characters, at most {max}); scan the parcel's shipping label, not another code"
    )]
    TooLong {
        /// Characters received.
        len: usize,
        /// Most accepted.
        max: usize,
    },
    /// A control or invisible character outside a GS1 field separator.
    #[error(
        "the barcode contains an unreadable character at position {position}; scan again or type the number printed under the barcode"
    )]
    ControlCharacter {
        /// 1-based character position in the trimmed payload.
        position: usize,
    },
    /// The shape of a known identifier, but its check digit is wrong: misprinted or misread.
    #[error(
        "the {key} check digit does not match: the label was misread or is damaged; scan again or type the number from the label"
    )]
    CheckDigit {
        /// Which identifier failed its check.
        key: CheckedKey,
    },
    /// A GS1 application identifier this app does not know, so the rest cannot be read.
    #[error(
        "the label's GS1 data uses application identifier ({ai}), which this app cannot read; type the parcel's SSCC or tracking number instead"
    )]
    UnknownAi {
        /// The digits where an AI was expected (up to 4).
        ai: String,
    },
    /// A GS1 field with too few or too many characters.
    #[error(
        "the label's GS1 field ({ai}) has the wrong length ({expected}); scan again or type the number from the label"
    )]
    FieldLength {
        /// The AI of the field.
        ai: String,
        /// What the field needs, e.g. "18 digits" or "1 to 20 characters".
        expected: &'static str,
    },
    /// A GS1 field with a character its format does not allow.
    #[error(
        "the label's GS1 field ({ai}) contains a character it may not have; scan again or type the number from the label"
    )]
    FieldCharacter {
        /// The AI of the field.
        ai: String,
    },
    /// The same AI twice with different values.
    #[error(
        "the label's GS1 data has field ({ai}) twice with different values; report the label as damaged"
    )]
    DuplicateAi {
        /// The repeated AI.
        ai: String,
    },
    /// Not a well-formed GS1 element string (e.g. a bracket left open, no AI).
    #[error(
        "the label's GS1 data is malformed ({reason}); scan again or type the number from the label"
    )]
    MalformedElementString {
        /// What is wrong.
        reason: &'static str,
    },
    /// A valid GS1 element string without an SSCC or a GTIN + serial: a product barcode.
    #[error(
        "this barcode identifies a product, not a parcel; scan the shipping label (the one with the SSCC or tracking number)"
    )]
    NoParcelIdentifier,
    /// The customer's handover QR was scanned where a parcel label was expected.
    #[error(
        "this is the customer's delivery QR, not a parcel label; scan it on the delivery code screen"
    )]
    HandoverToken,
}

impl BarcodeError {
    /// Stable snake_case machine code of the error, for the UI and the HTTP API.
    pub fn code(&self) -> &'static str {
        match self {
            BarcodeError::Empty => "barcode_empty",
            BarcodeError::TooLong { .. } => "barcode_too_long",
            BarcodeError::ControlCharacter { .. } => "barcode_control_character",
            BarcodeError::CheckDigit { .. } => "barcode_check_digit",
            BarcodeError::UnknownAi { .. } => "barcode_unknown_ai",
            BarcodeError::FieldLength { .. } => "barcode_field_length",
            BarcodeError::FieldCharacter { .. } => "barcode_field_character",
            BarcodeError::DuplicateAi { .. } => "barcode_duplicate_ai",
            BarcodeError::MalformedElementString { .. } => "barcode_malformed",
            BarcodeError::NoParcelIdentifier => "barcode_not_a_parcel",
            BarcodeError::HandoverToken => "barcode_is_handover_token",
        }
    }
}

impl Barcode {
    /// Parses a scanned or typed payload. Surrounding spaces, tabs and line ends (which many
    /// scanners append) are ignored.
    pub fn parse(raw: &str) -> Result<Self, BarcodeError> {
        let text = raw.trim_matches([' ', '\t', '\r', '\n']);
        if text.is_empty() {
            return Err(BarcodeError::Empty);
        }
        let len = text.chars().count();
        if len > MAX_SCAN_LEN {
            return Err(BarcodeError::TooLong {
                len,
                max: MAX_SCAN_LEN,
            });
        }
        if let Some(position) = text.chars().position(|c| c != GS && is_forbidden_char(c)) {
            return Err(BarcodeError::ControlCharacter {
                position: position + 1,
            });
        }
        let (gs1_symbology, body) = strip_symbology_identifier(text);
        let body = body.trim_matches([' ', '\t', '\r', '\n']);
        if body.is_empty() && !gs1_symbology {
            return Err(BarcodeError::Empty);
        }
        if crate::token::HandoverToken::looks_like_token(body) {
            return Err(BarcodeError::HandoverToken);
        }
        if gs1_symbology || body.contains(GS) || starts_with_bracketed_ai(body) {
            return parse_gs1(body);
        }
        if let Some(barcode) = parse_plain_sscc(body)? {
            return Ok(barcode);
        }
        if let Some(barcode) = parse_s10(body)? {
            return Ok(barcode);
        }
        parse_opaque(body)
    }

    /// The normalised key used to match a scan against the manifest
    /// ([`crate::wire::ManifestParcel::barcode`]): `00` + the 18 SSCC digits for an SSCC
    /// (alone or in an element string), `01` + GTIN + `21` + serial for a GTIN with a serial,
    /// the 13 upper-case characters of an S10 number, the trimmed text of an opaque one.
    pub fn key(&self) -> String {
        match self {
            Barcode::Sscc { value } => format!("00{value}"),
            Barcode::Gs1 {
                sscc: Some(sscc), ..
            } => format!("00{sscc}"),
            Barcode::Gs1 {
                gtin: Some(gtin),
                serial: Some(serial),
                ..
            } => format!("01{gtin}21{serial}"),
            // `parse` and deserialisation never build a GS1 value without a parcel key;
            // a hand-built one falls back to its element string so keys stay distinct.
            Barcode::Gs1 { .. } => self.canonical_text(),
            Barcode::S10 { value } | Barcode::Opaque { value } => value.clone(),
        }
    }

    /// A payload that [`Barcode::parse`] reads back as this same value: the 18 digits of an
    /// SSCC, a plain element string behind `]C1` for GS1 data, the text of the others.
    /// Useful to print a label for QA.
    pub fn canonical_text(&self) -> String {
        match self {
            Barcode::Sscc { value } | Barcode::S10 { value } => value.clone(),
            // A reference that itself starts like a symbology identifier was scanned behind
            // one (`]C0]Xy…`); keep one in front so it is not stripped from the value.
            Barcode::Opaque { value } if has_symbology_identifier(value) => format!("]C0{value}"),
            Barcode::Opaque { value } => value.clone(),
            Barcode::Gs1 {
                sscc,
                gtin,
                serial,
                ship_to_postal_code,
                ship_to_country_postal_code,
            } => {
                // Fixed-length fields first, so only variable ones need a separator.
                let mut out = String::from("]C1");
                if let Some(sscc) = sscc {
                    out.push_str("00");
                    out.push_str(sscc);
                }
                if let Some(gtin) = gtin {
                    out.push_str("01");
                    out.push_str(gtin);
                }
                let mut variable = Vec::new();
                if let Some(serial) = serial {
                    variable.push(format!("21{serial}"));
                }
                if let Some(postal) = ship_to_postal_code {
                    variable.push(format!("420{postal}"));
                }
                if let Some(cp) = ship_to_country_postal_code {
                    variable.push(format!("421{}{}", cp.country, cp.postal_code));
                }
                out.push_str(&variable.join(&GS.to_string()));
                out
            }
        }
    }
}

/// Control characters (C0, DEL, C1) and invisible formatting characters that could make a
/// reference look like another one on screen (zero-width, bidi overrides, BOM).
fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// Whether `text` starts like `(00)`: a bracket, 2 to 4 digits, a closing bracket.
fn starts_with_bracketed_ai(text: &str) -> bool {
    let Some(inner) = text.strip_prefix('(') else {
        return false;
    };
    let digits = inner.bytes().take_while(u8::is_ascii_digit).count();
    (2..=4).contains(&digits) && inner[digits..].starts_with(')')
}

/// Whether `text` starts with an AIM symbology identifier: `]`, a letter, a modifier.
fn has_symbology_identifier(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 3
        && bytes[0] == b']'
        && bytes[1].is_ascii_alphabetic()
        && bytes[2].is_ascii_alphanumeric()
}

/// Strips a leading AIM symbology identifier. Returns whether it announced GS1 data, and
/// the rest.
fn strip_symbology_identifier(text: &str) -> (bool, &str) {
    const GS1_IDENTIFIERS: [&str; 5] = ["]C1", "]d2", "]Q3", "]e0", "]J1"];
    if has_symbology_identifier(text) {
        let (id, rest) = text.split_at(3);
        return (GS1_IDENTIFIERS.contains(&id), rest);
    }
    (false, text)
}

/// The GS1 mod-10 check digit of `digits` (each 0..=9), the check digit itself excluded:
/// weights 3, 1, 3, … from the right (GS1 General Specifications §7.9.1).
pub fn gs1_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| u32::from(d) * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Whether an all-digit GS1 key (check digit last) passes its check.
fn gs1_key_is_valid(key: &str) -> bool {
    let digits: Vec<u8> = key.bytes().map(|b| b - b'0').collect();
    match digits.split_last() {
        Some((&check, body)) => gs1_check_digit(body) == check,
        None => false,
    }
}

/// The UPU S10 check digit of an 8-digit serial: weights 8 6 4 2 3 5 9 7,
/// `11 - sum % 11`, with 10 → 0 and 11 → 5 (UPU standard S10, check digit calculation).
///
/// Unlike the Damm or GS1 checks this one has a blind spot: remainders 0 and 6 both give
/// 5, so a single wrong digit that moves the sum between them is not caught (about 1 in
/// 55 single wrong serial digits). Such a misread still fails to match the manifest.
pub fn s10_check_digit(serial: &[u8; 8]) -> u8 {
    const WEIGHTS: [u32; 8] = [8, 6, 4, 2, 3, 5, 9, 7];
    let sum: u32 = serial
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        c => c as u8,
    }
}

/// `Some` for 18 digits or `00` + 18 digits (spaces allowed), `None` for other shapes.
fn parse_plain_sscc(text: &str) -> Result<Option<Barcode>, BarcodeError> {
    if !text.chars().all(|c| c.is_ascii_digit() || c == ' ') {
        return Ok(None);
    }
    let digits: String = text.chars().filter(|c| *c != ' ').collect();
    let sscc = match digits.len() {
        18 => digits,
        20 if digits.starts_with("00") => digits[2..].to_string(),
        _ => return Ok(None),
    };
    if !gs1_key_is_valid(&sscc) {
        return Err(BarcodeError::CheckDigit {
            key: CheckedKey::Sscc,
        });
    }
    Ok(Some(Barcode::Sscc { value: sscc }))
}

/// `Some` for 2 letters + 9 digits + 2 letters (spaces allowed, any case).
fn parse_s10(text: &str) -> Result<Option<Barcode>, BarcodeError> {
    let compact: String = text
        .chars()
        .filter(|c| *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let b = compact.as_bytes();
    let shape = b.len() == 13
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..11].iter().all(u8::is_ascii_digit)
        && b[11..].iter().all(u8::is_ascii_uppercase);
    if !shape {
        return Ok(None);
    }
    let mut serial = [0u8; 8];
    for (s, d) in serial.iter_mut().zip(&b[2..10]) {
        *s = d - b'0';
    }
    if s10_check_digit(&serial) != b[10] - b'0' {
        return Err(BarcodeError::CheckDigit {
            key: CheckedKey::S10,
        });
    }
    Ok(Some(Barcode::S10 { value: compact }))
}

fn parse_opaque(text: &str) -> Result<Barcode, BarcodeError> {
    let len = text.chars().count();
    if len > MAX_OPAQUE_LEN {
        return Err(BarcodeError::TooLong {
            len,
            max: MAX_OPAQUE_LEN,
        });
    }
    // `text` is trimmed, non-empty and free of control characters (checked by `parse`).
    Ok(Barcode::Opaque {
        value: text.to_string(),
    })
}

// ---------------------------------------------------------------------------------------
// GS1 element strings

/// The data format of a GS1 field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AiFormat {
    /// Exactly this many digits; `Some(key)` if the last one is a GS1 check digit.
    Fixed(usize, Option<CheckedKey>),
    /// 1 to this many digits.
    Numeric(usize),
    /// 1 to this many characters of GS1 character set 82.
    Alphanumeric(usize),
    /// 3 digits (an ISO country code) then 0 to this many digits.
    CountryNumeric(usize),
    /// 3 digits (an ISO country code) then 1 to this many characters of set 82.
    CountryAlphanumeric(usize),
}

/// One row of the AI table: AIs that start with `prefix` have `ai_len` digits.
#[derive(Debug, Clone, Copy)]
pub struct AiSpec {
    /// Leading digits of the AI (the whole AI when `prefix.len() == ai_len`).
    pub prefix: &'static str,
    /// Digits in the AI.
    pub ai_len: usize,
    /// Its data.
    pub format: AiFormat,
}

const fn ai(prefix: &'static str, ai_len: usize, format: AiFormat) -> AiSpec {
    AiSpec {
        prefix,
        ai_len,
        format,
    }
}

use AiFormat::{Alphanumeric as X, CountryAlphanumeric, CountryNumeric, Fixed, Numeric as N};

/// The GS1 AIs this parser reads (GS1 General Specifications §3.2, the common logistics and
/// trade items). AIs 00, 01, 21, 420, 421 are kept; the others are checked and skipped.
/// No prefix here is a prefix of another, so at most one row matches.
pub const AI_TABLE: &[AiSpec] = &[
    ai("00", 2, Fixed(18, Some(CheckedKey::Sscc))),
    ai("01", 2, Fixed(14, Some(CheckedKey::Gtin))),
    ai("02", 2, Fixed(14, Some(CheckedKey::Gtin))),
    ai("10", 2, X(20)),
    ai("11", 2, Fixed(6, None)),
    ai("12", 2, Fixed(6, None)),
    ai("13", 2, Fixed(6, None)),
    ai("15", 2, Fixed(6, None)),
    ai("16", 2, Fixed(6, None)),
    ai("17", 2, Fixed(6, None)),
    ai("20", 2, Fixed(2, None)),
    ai("21", 2, X(20)),
    ai("22", 2, X(20)),
    ai("30", 2, N(8)),
    ai("31", 4, Fixed(6, None)),
    ai("32", 4, Fixed(6, None)),
    ai("33", 4, Fixed(6, None)),
    ai("34", 4, Fixed(6, None)),
    ai("35", 4, Fixed(6, None)),
    ai("36", 4, Fixed(6, None)),
    ai("37", 2, N(8)),
    ai("240", 3, X(30)),
    ai("241", 3, X(30)),
    ai("250", 3, X(30)),
    ai("251", 3, X(30)),
    ai("400", 3, X(30)),
    ai("401", 3, X(30)),
    ai("402", 3, Fixed(17, Some(CheckedKey::Gsin))),
    ai("403", 3, X(30)),
    ai("410", 3, Fixed(13, Some(CheckedKey::Gln))),
    ai("411", 3, Fixed(13, Some(CheckedKey::Gln))),
    ai("412", 3, Fixed(13, Some(CheckedKey::Gln))),
    ai("413", 3, Fixed(13, Some(CheckedKey::Gln))),
    ai("414", 3, Fixed(13, Some(CheckedKey::Gln))),
    ai("415", 3, Fixed(13, Some(CheckedKey::Gln))),
    ai("416", 3, Fixed(13, Some(CheckedKey::Gln))),
    ai("417", 3, Fixed(13, Some(CheckedKey::Gln))),
    ai("420", 3, X(20)),
    ai("421", 3, CountryAlphanumeric(9)),
    ai("422", 3, Fixed(3, None)),
    ai("423", 3, CountryNumeric(12)),
    ai("424", 3, Fixed(3, None)),
    ai("425", 3, CountryNumeric(12)),
    ai("426", 3, Fixed(3, None)),
    ai("90", 2, X(30)),
    ai("91", 2, X(90)),
    ai("92", 2, X(90)),
    ai("93", 2, X(90)),
    ai("94", 2, X(90)),
    ai("95", 2, X(90)),
    ai("96", 2, X(90)),
    ai("97", 2, X(90)),
    ai("98", 2, X(90)),
    ai("99", 2, X(90)),
];

impl AiFormat {
    fn expected(self) -> &'static str {
        match self {
            Fixed(2, _) => "2 digits",
            Fixed(3, _) => "3 digits",
            Fixed(6, _) => "6 digits",
            Fixed(13, _) => "13 digits",
            Fixed(14, _) => "14 digits",
            Fixed(17, _) => "17 digits",
            Fixed(18, _) => "18 digits",
            Fixed(..) => "a fixed number of digits",
            N(8) => "1 to 8 digits",
            N(_) => "1 or more digits",
            X(20) => "1 to 20 characters",
            X(30) => "1 to 30 characters",
            X(90) => "1 to 90 characters",
            X(_) => "1 or more characters",
            CountryNumeric(_) => "a 3-digit country code and up to 12 digits",
            CountryAlphanumeric(_) => "a 3-digit country code and 1 to 9 characters",
        }
    }
}

/// "GS1 AI encodable character set 82" of the GS1 General Specifications: digits, letters
/// and `!"%&'()*+,-./:;<=>?_` (no space).
fn is_cset82(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!\"%&'()*+,-./:;<=>?_".contains(c)
}

/// Finds the table row for the AI at the start of `text`.
fn lookup_ai(text: &str) -> Result<(&'static AiSpec, &str), BarcodeError> {
    let leading: String = text
        .chars()
        .take_while(char::is_ascii_digit)
        .take(4)
        .collect();
    if leading.len() < 2 {
        return Err(BarcodeError::MalformedElementString {
            reason: "expected an application identifier",
        });
    }
    for spec in AI_TABLE {
        if leading.starts_with(spec.prefix) {
            if leading.len() < spec.ai_len {
                return Err(BarcodeError::MalformedElementString {
                    reason: "application identifier cut short",
                });
            }
            return Ok((spec, &text[..spec.ai_len]));
        }
    }
    Err(BarcodeError::UnknownAi { ai: leading })
}

/// Checks one field's data against its format.
fn check_field(ai: &str, format: AiFormat, data: &str) -> Result<(), BarcodeError> {
    let length_error = || BarcodeError::FieldLength {
        ai: ai.to_string(),
        expected: format.expected(),
    };
    let character_error = || BarcodeError::FieldCharacter { ai: ai.to_string() };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let len = data.chars().count();
    match format {
        Fixed(n, check) => {
            if !all_digits(data) {
                return Err(character_error());
            }
            if len != n {
                return Err(length_error());
            }
            if let Some(key) = check
                && !gs1_key_is_valid(data)
            {
                return Err(BarcodeError::CheckDigit { key });
            }
        }
        N(max) => {
            if !all_digits(data) {
                return Err(character_error());
            }
            if !(1..=max).contains(&len) {
                return Err(length_error());
            }
        }
        X(max) => {
            if !data.chars().all(is_cset82) {
                return Err(character_error());
            }
            if !(1..=max).contains(&len) {
                return Err(length_error());
            }
        }
        CountryNumeric(max) | CountryAlphanumeric(max) => {
            let country: String = data.chars().take(3).collect();
            let rest: String = data.chars().skip(3).collect();
            if country.chars().count() < 3 || !(0..=max).contains(&rest.chars().count()) {
                return Err(length_error());
            }
            let rest_ok = match format {
                CountryNumeric(_) => all_digits(&rest),
                _ => rest.chars().all(is_cset82),
            };
            if !all_digits(&country) || !rest_ok {
                return Err(character_error());
            }
            if matches!(format, CountryAlphanumeric(_)) && rest.is_empty() {
                return Err(length_error());
            }
        }
    }
    Ok(())
}

/// Parses a GS1 element string (bracketed or plain; the symbology identifier is gone).
fn parse_gs1(body: &str) -> Result<Barcode, BarcodeError> {
    let fields = if body.starts_with('(') {
        split_bracketed(body)?
    } else {
        split_plain(body)?
    };
    if fields.is_empty() {
        return Err(BarcodeError::MalformedElementString {
            reason: "no data after the symbology identifier",
        });
    }
    build_gs1(fields)
}

/// `(00)1234…(21)ABC`: spaces are formatting, not data (character set 82 has no space).
fn split_bracketed(body: &str) -> Result<Vec<(String, String)>, BarcodeError> {
    if body.contains(GS) {
        return Err(BarcodeError::MalformedElementString {
            reason: "brackets and separators mixed",
        });
    }
    let compact: String = body.chars().filter(|c| *c != ' ').collect();
    let mut fields = Vec::new();
    let mut rest = compact.as_str();
    while !rest.is_empty() {
        let inner = rest
            .strip_prefix('(')
            .ok_or(BarcodeError::MalformedElementString {
                reason: "data before the first bracket",
            })?;
        let close = inner
            .find(')')
            .ok_or(BarcodeError::MalformedElementString {
                reason: "a bracket is not closed",
            })?;
        let ai_text = &inner[..close];
        let (spec, ai) = lookup_ai(ai_text)?;
        if ai.len() != ai_text.len() {
            return Err(BarcodeError::UnknownAi {
                ai: ai_text.chars().take(4).collect(),
            });
        }
        let after = &inner[close + 1..];
        let end = after.find('(').unwrap_or(after.len());
        check_field(ai, spec.format, &after[..end])?;
        fields.push((ai.to_string(), after[..end].to_string()));
        rest = &after[end..];
    }
    Ok(fields)
}

/// `00123…0121ABC<GS>420…`: fixed-length fields end by their length (a separator after
/// them is tolerated), variable ones at a separator or the end.
fn split_plain(body: &str) -> Result<Vec<(String, String)>, BarcodeError> {
    let mut fields = Vec::new();
    // Some scanners send FNC1 in first position as a leading separator.
    let mut rest = body.strip_prefix(GS).unwrap_or(body);
    while !rest.is_empty() {
        let (spec, ai) = lookup_ai(rest)?;
        let after = &rest[spec.ai_len..];
        let (data, next) = match spec.format {
            Fixed(n, _) => {
                let end = after.char_indices().nth(n).map_or(after.len(), |(i, _)| i);
                let data = &after[..end];
                if data.chars().count() < n || data.contains(GS) {
                    return Err(BarcodeError::FieldLength {
                        ai: ai.to_string(),
                        expected: spec.format.expected(),
                    });
                }
                (data, &after[end..])
            }
            _ => match after.find(GS) {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            },
        };
        check_field(ai, spec.format, data)?;
        fields.push((ai.to_string(), data.to_string()));
        rest = match next.strip_prefix(GS) {
            Some(r) if r.starts_with(GS) => {
                return Err(BarcodeError::MalformedElementString {
                    reason: "two separators in a row",
                });
            }
            // A trailing separator (some encoders add one) just ends the data.
            Some(r) => r,
            None => next,
        };
    }
    Ok(fields)
}

fn build_gs1(fields: Vec<(String, String)>) -> Result<Barcode, BarcodeError> {
    let mut sscc = None;
    let mut gtin = None;
    let mut serial = None;
    let mut postal = None;
    let mut country_postal = None;
    let mut seen: Vec<(String, String)> = Vec::new();
    for (ai, data) in fields {
        if let Some((_, earlier)) = seen.iter().find(|(a, _)| *a == ai) {
            if *earlier != data {
                return Err(BarcodeError::DuplicateAi { ai });
            }
            continue;
        }
        match ai.as_str() {
            "00" => sscc = Some(data.clone()),
            "01" => gtin = Some(data.clone()),
            "21" => serial = Some(data.clone()),
            "420" => postal = Some(data.clone()),
            "421" => {
                country_postal = Some(CountryPostalCode {
                    country: data[..3].to_string(),
                    postal_code: data[3..].to_string(),
                })
            }
            _ => {}
        }
        seen.push((ai, data));
    }
    let has_key = sscc.is_some() || (gtin.is_some() && serial.is_some());
    if !has_key {
        return Err(BarcodeError::NoParcelIdentifier);
    }
    let only_sscc =
        gtin.is_none() && serial.is_none() && postal.is_none() && country_postal.is_none();
    match sscc {
        // Other AIs (batch, dates, …) were checked but are not kept: this is a plain SSCC.
        Some(value) if only_sscc => Ok(Barcode::Sscc { value }),
        sscc => Ok(Barcode::Gs1 {
            sscc,
            gtin,
            serial,
            ship_to_postal_code: postal,
            ship_to_country_postal_code: country_postal,
        }),
    }
}

mod repr {
    //! The unchecked shape of a [`Barcode`] as it arrives in JSON.

    use serde::Deserialize;

    use super::{Barcode, BarcodeError, CountryPostalCode};

    #[derive(Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
    pub(super) enum BarcodeRepr {
        Sscc {
            value: String,
        },
        Gs1 {
            #[serde(default)]
            sscc: Option<String>,
            #[serde(default)]
            gtin: Option<String>,
            #[serde(default)]
            serial: Option<String>,
            #[serde(default)]
            ship_to_postal_code: Option<String>,
            #[serde(default)]
            ship_to_country_postal_code: Option<CountryPostalCode>,
        },
        S10 {
            value: String,
        },
        Opaque {
            value: String,
        },
    }

    impl TryFrom<BarcodeRepr> for Barcode {
        type Error = BarcodeError;

        /// Accepts exactly the values [`Barcode::parse`] produces: the candidate's canonical
        /// text must parse back to the candidate itself.
        fn try_from(repr: BarcodeRepr) -> Result<Self, Self::Error> {
            let candidate = match repr {
                BarcodeRepr::Sscc { value } => Barcode::Sscc { value },
                BarcodeRepr::Gs1 {
                    sscc,
                    gtin,
                    serial,
                    ship_to_postal_code,
                    ship_to_country_postal_code,
                } => Barcode::Gs1 {
                    sscc,
                    gtin,
                    serial,
                    ship_to_postal_code,
                    ship_to_country_postal_code,
                },
                BarcodeRepr::S10 { value } => Barcode::S10 { value },
                BarcodeRepr::Opaque { value } => Barcode::Opaque { value },
            };
            let parsed = Barcode::parse(&candidate.canonical_text())?;
            if parsed == candidate {
                Ok(candidate)
            } else {
                Err(BarcodeError::MalformedElementString {
                    reason: "not in normalised form",
                })
            }
        }
    }
}

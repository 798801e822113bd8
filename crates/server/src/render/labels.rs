//! The barcodes of the demo label sheet (`/dev/labels`, `doorstep-server labels`), drawn the
//! way carriers print them, so that scanning a label exercises the app's parser:
//!
//! - GS1 data (an SSCC, or a GS1 element string) as **GS1-128**: Code 128 that starts with
//!   FNC1, with FNC1 between a variable-length field and the next. A scanner reports it as
//!   `]C1` + the element string (AIM identifiers on) or the element string alone, with GS
//!   for each later FNC1; [`Barcode::parse`] reads both back to the same parcel.
//! - Anything else (a UPU S10 number, a shipper's own reference) as plain **Code 128**.
//!
//! The symbols are encoded by the `barcoders` crate (code sets, FNC1, the mod-103 check
//! character) and drawn with its SVG generator; this module only chooses the code sets.

use barcoders::generators::svg::SVG;
use barcoders::sym::code128::Code128;
use doorstep_protocol::Barcode;
use doorstep_protocol::barcode::GS;
use maud::{PreEscaped, html};

/// `barcoders`' characters for the start in code set B or C, a switch to them, and FNC1.
const SET_B: char = 'Ɓ';
const SET_C: char = 'Ć';
const FNC1: char = 'Ź';

/// Width of the narrowest bar, in SVG user units (pixels on screen).
const MODULE: u32 = 2;
/// The quiet zone each side of the symbol, in modules (ISO/IEC 15417: at least 10).
const QUIET_ZONE: usize = 10;

/// The label's text as `barcoders` input: GS1-128 for GS1 data, Code 128 for the rest;
/// `None` if Code 128 cannot carry it (characters outside printable ASCII).
pub fn code128_input(label: &str) -> Option<String> {
    match Barcode::parse(label) {
        Ok(barcode @ (Barcode::Sscc { .. } | Barcode::Gs1 { .. })) => {
            // The plain element string (GS between fields), behind FNC1 in first place;
            // FNC1 again for every GS.
            let data = match &barcode {
                Barcode::Sscc { value } => format!("00{value}"),
                _ => {
                    let text = barcode.canonical_text();
                    text.strip_prefix("]C1").unwrap_or(&text).to_string()
                }
            };
            let mut symbols = vec![Symbol::Fnc1];
            symbols.extend(data.chars().map(|c| {
                if c == GS {
                    Symbol::Fnc1
                } else {
                    Symbol::Char(c)
                }
            }));
            with_code_sets(&symbols)
        }
        Ok(barcode) => {
            let text = barcode.canonical_text();
            with_code_sets(&text.chars().map(Symbol::Char).collect::<Vec<_>>())
        }
        // Every stored label parsed when its parcel was made; print what is there anyway.
        Err(_) => with_code_sets(&label.trim().chars().map(Symbol::Char).collect::<Vec<_>>()),
    }
}

/// The bars and spaces of the label's symbol, one entry per module (1 = bar), quiet zones
/// not included.
pub fn modules(label: &str) -> Option<Vec<u8>> {
    Some(Code128::new(code128_input(label)?).ok()?.encode())
}

/// The label's barcode as an SVG `height` units high, with its quiet zones.
pub fn barcode_svg(label: &str, height: u32) -> Option<String> {
    let bars = modules(label)?;
    let mut padded = vec![0u8; QUIET_ZONE];
    padded.extend(bars);
    padded.extend([0u8; QUIET_ZONE]);
    let svg = SVG::new(height)
        .xdim(MODULE)
        .xmlns("http://www.w3.org/2000/svg".into())
        .generate(&padded)
        .ok()?;
    // `barcoders` sizes the drawing by its viewBox only; give it its printed size.
    let width = padded.len() as u32 * MODULE;
    let rest = svg.strip_prefix("<svg ")?;
    Some(format!("<svg width=\"{width}\" height=\"{height}\" {rest}"))
}

/// One thing to encode: FNC1 or a character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Symbol {
    Fnc1,
    Char(char),
}

/// The two Code 128 code sets labels need: B (printable ASCII) and C (digit pairs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeSet {
    B,
    C,
}

/// Spells `symbols` for `barcoders` with the code sets a label printer would choose
/// (ISO/IEC 15417 Annex E, for digits and printable ASCII): set C for an even run of four
/// digits or more (an odd run leaves its first digit in B) and for the digits after a
/// leading FNC1, set B for the rest. FNC1 exists in every set, so it never forces a switch.
/// `None` for a character outside printable ASCII.
fn with_code_sets(symbols: &[Symbol]) -> Option<String> {
    let digits_from = |i: usize| {
        symbols[i..]
            .iter()
            .take_while(|s| matches!(s, Symbol::Char(c) if c.is_ascii_digit()))
            .count()
    };
    let pays_for_c = |run: usize| run >= 4 && run % 2 == 0;
    let mut out = String::new();
    let mut set = None;
    let mut i = 0;
    while i < symbols.len() {
        let run = digits_from(i);
        let wanted = match symbols[i] {
            Symbol::Fnc1 => set.unwrap_or_else(|| {
                // FNC1 first (GS1-128): start in the set its data wants.
                let after = digits_from(i + 1);
                if pays_for_c(after) || after == 2 {
                    CodeSet::C
                } else {
                    CodeSet::B
                }
            }),
            Symbol::Char(_) if set == Some(CodeSet::C) && run >= 2 => CodeSet::C,
            Symbol::Char(_) if pays_for_c(run) => CodeSet::C,
            Symbol::Char(_) => CodeSet::B,
        };
        if set != Some(wanted) {
            out.push(match wanted {
                CodeSet::B => SET_B,
                CodeSet::C => SET_C,
            });
            set = Some(wanted);
        }
        match (symbols[i], wanted) {
            (Symbol::Fnc1, _) => {
                out.push(FNC1);
                i += 1;
            }
            (Symbol::Char(_), CodeSet::C) => {
                for s in &symbols[i..i + 2] {
                    if let Symbol::Char(c) = s {
                        out.push(*c);
                    }
                }
                i += 2;
            }
            (Symbol::Char(c), CodeSet::B) if (' '..='~').contains(&c) => {
                out.push(c);
                i += 1;
            }
            (Symbol::Char(_), CodeSet::B) => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A printable sheet: each parcel's barcode as GS1-128 or Code 128 ([`crate::render::labels`]), the
/// same text as a QR, and as text.
pub fn sheet_html(labels: &[crate::store::Label]) -> String {
    let body = html! {
        h1 { "Demo labels" }
        @for l in labels {
            div class="label" {
                strong { (l.recipient_name) }
                br;
                (l.address)
                br;
                small { (l.note) }
                br;
                // Safe unescaped: drawn by `barcode_svg` from the bars alone (the label's text
                // is encoded in them, never written into the markup).
                (PreEscaped(barcode_svg(&l.barcode, 60).unwrap_or_default()))
                br;
                (crate::render::html::qr(&l.barcode, 120))
                div { (l.barcode) }
            }
        }
    };
    crate::render::html::page("Labels", body).into_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Code 128 bar and space widths of the symbol values 0–106 (106: the stop, with its
    /// final bar), as tabled in ISO/IEC 15417: the test's own oracle, independent of the
    /// encoder under test.
    const PATTERNS: [&str; 107] = [
        "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212",
        "221213", "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221",
        "223211", "221132", "221231", "213212", "223112", "312131", "311222", "321122", "321221",
        "312212", "322112", "322211", "212123", "212321", "232121", "111323", "131123", "131321",
        "112313", "132113", "132311", "211313", "231113", "231311", "112133", "112331", "132131",
        "113123", "113321", "133121", "313121", "211331", "231131", "213113", "213311", "213131",
        "311123", "311321", "331121", "312113", "312311", "332111", "314111", "221411", "431111",
        "111224", "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
        "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111", "111242",
        "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
        "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311",
        "113141", "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
    ];

    /// Reads modules as a scanner does: the symbol values from the start to the check
    /// character (the stop checked and dropped).
    fn symbol_values(modules: &[u8]) -> Vec<usize> {
        assert_eq!(modules.first(), Some(&1), "a symbol starts with a bar");
        let mut widths = Vec::new();
        let mut run = 0;
        for (i, m) in modules.iter().enumerate() {
            run += 1;
            if modules.get(i + 1) != Some(m) {
                widths.push(char::from(b'0' + run));
                run = 0;
            }
        }
        let (symbols, stop) = widths.split_at(widths.len() - 7);
        assert_eq!(
            stop.iter().collect::<String>(),
            PATTERNS[106],
            "the stop pattern"
        );
        symbols
            .chunks(6)
            .map(|c| {
                let p: String = c.iter().collect();
                PATTERNS[..106]
                    .iter()
                    .position(|q| *q == p)
                    .unwrap_or_else(|| panic!("{p} is not a Code 128 pattern"))
            })
            .collect()
    }

    /// The check character is the start value plus each data value times its position,
    /// modulo 103.
    fn check_is_right(values: &[usize]) -> bool {
        let (check, rest) = values.split_last().unwrap();
        let sum: usize = rest.iter().enumerate().map(|(i, v)| v * i.max(1)).sum();
        sum % 103 == *check
    }

    /// What a scanner transmits for the symbol: the AIM symbology identifier (`]C1` when FNC1
    /// comes first, else `]C0`) and the data, with GS for every later FNC1.
    fn scanned(values: &[usize]) -> (String, String) {
        #[derive(PartialEq)]
        enum Set {
            A,
            B,
            C,
        }
        let mut set = match values[0] {
            103 => Set::A,
            104 => Set::B,
            105 => Set::C,
            v => panic!("{v} is not a start"),
        };
        let mut aim = "]C0";
        let mut data = String::new();
        let body = &values[1..values.len() - 1];
        for (i, &v) in body.iter().enumerate() {
            match (v, &set) {
                (102, _) if i == 0 => aim = "]C1",
                (102, _) => data.push(GS),
                (0..=99, Set::C) => data.push_str(&format!("{v:02}")),
                (100, Set::C) | (100, Set::A) => set = Set::B,
                (101, Set::C) | (101, Set::B) => set = Set::A,
                (99, Set::A) | (99, Set::B) => set = Set::C,
                (0..=95, Set::B) => data.push(char::from(32 + v as u8)),
                (0..=63, Set::A) => data.push(char::from(32 + v as u8)),
                (64..=95, Set::A) => data.push(char::from(v as u8 - 64)),
                _ => panic!("value {v} is not expected here"),
            }
        }
        (aim.to_string(), data)
    }

    /// Reads a label's symbol back as a scanner would: (symbol values, AIM id, data).
    pub(crate) fn read_back(label: &str) -> (Vec<usize>, String, String) {
        let values = symbol_values(&modules(label).expect("Code 128 can carry it"));
        assert!(
            check_is_right(&values),
            "{label}: mod-103 check of {values:?}"
        );
        let (aim, data) = scanned(&values);
        (values, aim, data)
    }

    #[test]
    fn a_gs1_128_sscc_label_is_start_c_fnc1_then_the_digits_in_pairs_with_a_right_check() {
        let label = "(00)095212342611250016";
        let (values, aim, data) = read_back(label);
        assert_eq!(values[0], 105, "start in code set C");
        assert_eq!(values[1], 102, "FNC1 in first position: GS1-128");
        assert_eq!(
            values.len(),
            1 + 1 + 10 + 1,
            "20 digits in 10 pairs, then the check"
        );
        assert_eq!(aim, "]C1");
        assert_eq!(data, "00095212342611250016");
    }

    #[test]
    fn a_gs1_label_with_a_variable_length_field_has_fnc1_after_it() {
        let label = "(00)095212342611250016(420)AB12(421)5281011";
        let (values, aim, data) = read_back(label);
        assert_eq!(aim, "]C1");
        assert_eq!(data, format!("00095212342611250016420AB12{GS}4215281011"));
        assert!(
            values.contains(&100) && values.contains(&99),
            "C → B → C: {values:?}"
        );
        assert_eq!(
            Barcode::parse(&format!("{aim}{data}")),
            Barcode::parse(label),
            "the scan is the same element string"
        );
    }

    #[test]
    fn code_sets_switch_only_for_runs_of_digits_that_pay_for_it() {
        assert_eq!(
            code128_input("DEMO-261125-08").as_deref(),
            Some("ƁDEMO-Ć261125Ɓ-08")
        );
        // An odd run leaves its first digit in B.
        assert_eq!(
            code128_input("CP261125095NL").as_deref(),
            Some("ƁCP2Ć61125095ƁNL")
        );
        assert_eq!(code128_input("1234").as_deref(), Some("Ć1234"));
        assert_eq!(code128_input("A1").as_deref(), Some("ƁA1"));
        for label in ["DEMO-261125-08", "CP261125095NL", "1234", "A1", "x"] {
            let (_, aim, data) = read_back(label);
            assert_eq!((aim.as_str(), data.as_str()), ("]C0", label));
        }
    }

    #[test]
    fn a_label_code_128_cannot_carry_gets_no_barcode() {
        assert_eq!(code128_input("café-1"), None);
        assert_eq!(barcode_svg("café-1", 60), None);
    }

    #[test]
    fn the_svg_has_its_printed_size_quiet_zones_and_a_bar_per_dark_module() {
        let label = "(00)095212342611250016";
        let bars = modules(label).unwrap();
        let svg = barcode_svg(label, 60).unwrap();
        let width = (bars.len() + 2 * QUIET_ZONE) as u32 * MODULE;
        assert!(
            svg.starts_with(&format!("<svg width=\"{width}\" height=\"60\" ")),
            "{svg}"
        );
        assert!(
            svg.contains(&format!("viewBox=\"0 0 {width} 60\"")),
            "{svg}"
        );
        let first_bar = format!("<rect x=\"{}\" ", QUIET_ZONE as u32 * MODULE);
        assert!(
            svg.contains(&first_bar),
            "the first bar after the quiet zone"
        );
        let dark = bars.iter().filter(|m| **m == 1).count();
        assert_eq!(svg.matches("fill=\"#000000\"").count(), dark);
    }
}

//! CSV for people's spreadsheets: RFC 4180 quoting (the `csv` crate), and no cell that a
//! spreadsheet would run as a formula.

/// A cell as written: text that a spreadsheet would take for a formula (`=`, `+`, `-`, `@`,
/// a tab or a carriage return first) gets a leading `'`, so an address or a courier's note
/// can never run in the fleet manager's spreadsheet.
pub fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// A CSV document of `header` and `rows`, every cell through [`cell`].
pub fn document(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail; a row of another length would, and is a bug here.
    let _ = w.write_record(header);
    for row in rows {
        let _ = w.write_record(row.iter().map(|c| cell(c)));
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_never_formulas() {
        let doc = document(
            &["what", "detail"],
            [
                vec!["=HYPERLINK(\"x\")".into(), "a, \"b\"\nc".into()],
                vec!["-1".into(), "plain".into()],
            ],
        );
        assert_eq!(
            doc,
            "what,detail\n\"'=HYPERLINK(\"\"x\"\")\",\"a, \"\"b\"\"\nc\"\n'-1,plain\n"
        );
    }
}

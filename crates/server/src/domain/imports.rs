//! Parcels from a CSV file, as the console imports them: the columns (the shipper API's
//! [`CreateParcelRequest`] flattened), the file's limits, and each row read into a request
//! and checked by [`NewParcel::check`] — the API's own rules, not a copy. Also the date range
//! of the deliveries export. Pure: bytes in, rows and messages out.

use std::collections::HashMap;

use doorstep_protocol::wire::{CreateParcelRequest, DeliveryMethod, Location, Money, Recipient};

use crate::domain::parcel::NewParcel;

/// The largest file taken (5 MiB).
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// The most parcel rows taken from one file (the header not counted).
pub const MAX_ROWS: usize = 10_000;
/// The longest date range of the deliveries export, in days (both ends counted).
pub const MAX_EXPORT_DAYS: i32 = 92;

/// A column of the import file.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Its name in the header row.
    pub name: &'static str,
    /// Whether the header must have it.
    pub required: bool,
    /// What it holds.
    pub what: &'static str,
    /// A value, for the template.
    pub example: &'static str,
}

const fn col(
    name: &'static str,
    required: bool,
    what: &'static str,
    example: &'static str,
) -> Column {
    Column {
        name,
        required,
        what,
        example,
    }
}

/// The columns, in the template's order: the shipper API's fields (`POST /v1/parcels`),
/// nested ones flattened (`recipient.name` is `recipient_name`, `location.lat` is `lat`,
/// `declared_value.amount` is `declared_value`), plus `shipper`.
pub const COLUMNS: &[Column] = &[
    col(
        "shipper",
        false,
        "the shipper's name; may be left out while the fleet has one shipper",
        "",
    ),
    col(
        "barcode",
        true,
        "the label's barcode",
        "JD014600006281234567",
    ),
    col(
        "recipient_name",
        true,
        "name as printed on the label",
        "Ana Souza",
    ),
    col(
        "recipient_phone",
        false,
        "mobile number in E.164 form, for the code by SMS",
        "+31612345678",
    ),
    col("recipient_email", false, "email address", "ana@example.com"),
    col(
        "recipient_language",
        false,
        "language of the messages, e.g. es or pt-BR (English when empty)",
        "",
    ),
    col(
        "address",
        true,
        "one-line street address",
        "Keizersgracht 123, Amsterdam",
    ),
    col("postal_code", true, "postal code (may be empty)", "1015 CJ"),
    col("lat", false, "degrees north, with lon", "52.37317"),
    col("lon", false, "degrees east, with lat", "4.88821"),
    col("accuracy_m", false, "how precise lat/lon are, metres", ""),
    col(
        "declared_value",
        false,
        "declared value, a decimal like 612.00, with currency",
        "612.00",
    ),
    col("currency", false, "ISO 4217 code of the value", "EUR"),
    col(
        "method",
        true,
        "hand_to_recipient, neighbour, safe_place or pickup_point",
        "hand_to_recipient",
    ),
    col(
        "alternatives",
        false,
        "other methods allowed at the door, separated by |",
        "neighbour|safe_place",
    ),
    col(
        "safe_places",
        false,
        "where it may be left, separated by |",
        "behind the side gate",
    ),
    col(
        "delivery_date",
        true,
        "delivery day, YYYY-MM-DD",
        "2026-11-25",
    ),
    col(
        "age_restricted",
        false,
        "true or false (empty: false)",
        "false",
    ),
    col(
        "recipient_requested_code",
        false,
        "the recipient asked for a delivery code: true or false",
        "false",
    ),
    col(
        "shipper_requires_code",
        false,
        "the shipper requires a delivery code: true or false",
        "true",
    ),
    col(
        "courier_id",
        false,
        "the courier to assign (their id), if known",
        "",
    ),
    col("description", false, "short description", "Laptop"),
];

/// What is wrong with one field of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The column (or `row` for the row as a whole).
    pub field: String,
    /// What it must be.
    pub message: String,
}

fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// A parcel row of the file.
#[derive(Debug, Clone)]
pub struct Row {
    /// Its row number as a spreadsheet shows it (the header is row 1).
    pub line: u64,
    /// The barcode cell as written.
    pub barcode: String,
    /// The shipper cell (empty: the fleet's only shipper).
    pub shipper: String,
    /// The parcel as the API would create it, or every error found in the row.
    pub parcel: Result<NewParcel, Vec<FieldError>>,
}

/// Why a file is not read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileError {
    /// Over [`MAX_BYTES`].
    TooLarge,
    /// Not a CSV file of these columns (the message says what was expected).
    NotCsv(String),
    /// Over [`MAX_ROWS`] rows.
    TooManyRows,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileError::TooLarge => write!(
                f,
                "the file is larger than {} MiB; split it into smaller files",
                MAX_BYTES / (1024 * 1024)
            ),
            FileError::NotCsv(why) => write!(
                f,
                "{why}. Expected a CSV file (UTF-8 text, comma- or semicolon-separated) whose \
                 first row is the header, e.g. {}",
                example_header()
            ),
            FileError::TooManyRows => write!(
                f,
                "the file has more than {MAX_ROWS} parcel rows; split it into smaller files"
            ),
        }
    }
}

/// The header line of the required columns, as the page and the messages show it.
pub fn example_header() -> String {
    COLUMNS
        .iter()
        .filter(|c| c.required)
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(",")
}

/// A cell as the import reads it: trimmed, and without the `'` a spreadsheet (or this server's
/// own CSV export) puts before a value that starts like a formula (`'+31…` is `+31…`).
fn clean(cell: &str) -> &str {
    let t = cell.trim();
    match t.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => t,
    }
}

/// Reads a whole file: its rows, each checked by the API's rules (a barcode twice in the file
/// is an error of the later row). Refuses a file too large, not CSV text, with an unknown or
/// missing column, or with too many rows.
pub fn read(bytes: &[u8]) -> Result<Vec<Row>, FileError> {
    if bytes.len() > MAX_BYTES {
        return Err(FileError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        FileError::NotCsv(format!(
            "the file is not UTF-8 text (byte {} is not; a spreadsheet saves UTF-8 as \
             \"CSV UTF-8\")",
            e.valid_up_to() + 1
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(FileError::NotCsv("the file is empty".into()));
    }
    if text.contains('\0') {
        return Err(FileError::NotCsv("the file holds binary data".into()));
    }
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if first_line.matches(';').count() > first_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(FileError::NotCsv(format!("the header row is not CSV: {e}"))),
        None => return Err(FileError::NotCsv("the file is empty".into())),
    };
    let names: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    let mut index: HashMap<&'static str, usize> = HashMap::new();
    let mut unknown = Vec::new();
    for (i, n) in names.iter().enumerate() {
        match COLUMNS.iter().find(|c| c.name == n) {
            Some(c) => {
                if index.insert(c.name, i).is_some() {
                    return Err(FileError::NotCsv(format!(
                        "the header names the column {n} twice"
                    )));
                }
            }
            None if n.is_empty() => {}
            None => unknown.push(n.clone()),
        }
    }
    let missing: Vec<&str> = COLUMNS
        .iter()
        .filter(|c| c.required && !index.contains_key(c.name))
        .map(|c| c.name)
        .collect();
    if !missing.is_empty() || !unknown.is_empty() {
        let mut why = String::from("the first row is not the header of a parcel file: ");
        if !missing.is_empty() {
            why.push_str(&format!("no column {}", missing.join(", ")));
        }
        if !unknown.is_empty() {
            if !missing.is_empty() {
                why.push_str("; ");
            }
            why.push_str(&format!(
                "unknown column {} (the columns are {})",
                unknown
                    .iter()
                    .map(|u| format!("{u:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                COLUMNS
                    .iter()
                    .map(|c| c.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        return Err(FileError::NotCsv(why));
    }
    let mut rows = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (n, record) in records.enumerate() {
        // The header is row 1 of the spreadsheet (a cell over several lines is still one row).
        let line = n as u64 + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                return Err(FileError::NotCsv(format!("row {line} is not CSV: {e}")));
            }
        };
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rows.len() >= MAX_ROWS {
            return Err(FileError::TooManyRows);
        }
        let cell = |name: &str| -> &str {
            index
                .get(name)
                .and_then(|&i| record.get(i))
                .map(clean)
                .unwrap_or("")
        };
        let barcode = cell("barcode").to_string();
        let shipper = cell("shipper").to_string();
        let mut parcel = if record.len() != names.len() {
            Err(vec![err(
                "row",
                format!("has {} cells, the header has {}", record.len(), names.len()),
            )])
        } else {
            checked(&cell)
        };
        if let Ok(p) = &parcel {
            if let Some(first) = seen.get(&p.barcode_key) {
                parcel = Err(vec![err(
                    "barcode",
                    format!("the same parcel as row {first}: a barcode is imported once"),
                )]);
            } else {
                seen.insert(p.barcode_key.clone(), line);
            }
        }
        rows.push(Row {
            line,
            barcode,
            shipper,
            parcel,
        });
    }
    Ok(rows)
}

/// The column an error of [`NewParcel::check`] is about (its messages start with the API's
/// field name, e.g. `recipient.phone must …`).
pub fn field_of(message: &str) -> &'static str {
    let word = message
        .split([' ', ':'])
        .next()
        .unwrap_or_default()
        .trim_end_matches(',');
    match word {
        "declared_value.amount" => "declared_value",
        "declared_value.currency" => "currency",
        "recipient.name" => "recipient_name",
        "recipient.phone" => "recipient_phone",
        "recipient.email" => "recipient_email",
        "recipient.language" => "recipient_language",
        other => COLUMNS
            .iter()
            .find(|c| c.name == other)
            .map_or("row", |c| c.name),
    }
}

/// A value of the API's JSON type from a cell (a method or a courier id): the same parser the
/// API's body goes through.
fn json_value<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

fn flag(field: &str, s: &str, errors: &mut Vec<FieldError>) -> bool {
    match s.to_ascii_lowercase().as_str() {
        "" | "false" | "no" | "0" => false,
        "true" | "yes" | "1" => true,
        _ => {
            errors.push(err(field, format!("{s:?} is not true or false")));
            false
        }
    }
}

fn optional(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn list(s: &str) -> impl Iterator<Item = &str> {
    s.split('|').map(str::trim).filter(|p| !p.is_empty())
}

/// A row's parcel checked by the API's rules ([`NewParcel::check`]), or every error found:
/// each cell that cannot be the API's value, and the first rule the rest breaks.
fn checked<'c>(cell: &impl Fn(&str) -> &'c str) -> Result<NewParcel, Vec<FieldError>> {
    let (req, mut errors) = request(cell);
    match NewParcel::check(&req) {
        Ok(parcel) if errors.is_empty() => Ok(parcel),
        Ok(_) => Err(errors),
        Err(m) => {
            let field = field_of(&m);
            if !errors.iter().any(|e| e.field == field) {
                errors.push(err(field, m));
            }
            Err(errors)
        }
    }
}

/// The API's request from a row's cells, and every cell that cannot be the API's value (left
/// out of the request, or a placeholder method, so that the API's check still reads the rest).
fn request<'c>(cell: &impl Fn(&str) -> &'c str) -> (CreateParcelRequest, Vec<FieldError>) {
    let mut errors = Vec::new();
    let number = |field: &str, errors: &mut Vec<FieldError>| -> Option<f64> {
        let s = cell(field);
        if s.is_empty() {
            return None;
        }
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() => Some(v),
            _ => {
                errors.push(err(field, format!("{s:?} is not a number like 52.37")));
                None
            }
        }
    };
    let lat = number("lat", &mut errors);
    let lon = number("lon", &mut errors);
    let accuracy = number("accuracy_m", &mut errors);
    let location = match (lat, lon) {
        (Some(lat), Some(lon)) => Some(Location {
            lat,
            lon,
            accuracy_m: accuracy.map(|a| a as f32),
        }),
        (None, None) => None,
        (Some(_), None) => {
            if cell("lon").is_empty() {
                errors.push(err("lon", "lat and lon go together"));
            }
            None
        }
        (None, Some(_)) => {
            if cell("lat").is_empty() {
                errors.push(err("lat", "lat and lon go together"));
            }
            None
        }
    };
    let declared_value = match (cell("declared_value"), cell("currency")) {
        ("", "") => None,
        ("", _) => {
            errors.push(err("declared_value", "a currency needs a declared_value"));
            None
        }
        (_, "") => {
            errors.push(err("currency", "a declared_value needs its currency"));
            None
        }
        (amount, currency) => Some(Money {
            amount: amount.to_string(),
            currency: currency.to_string(),
        }),
    };
    let methods = "hand_to_recipient, neighbour, safe_place or pickup_point";
    let method = match cell("method") {
        "" => {
            errors.push(err("method", format!("is empty; write {methods}")));
            None
        }
        m => {
            let parsed = json_value(m);
            if parsed.is_none() {
                errors.push(err("method", format!("{m:?} is not {methods}")));
            }
            parsed
        }
    };
    let mut alternatives = Vec::new();
    for a in list(cell("alternatives")) {
        match json_value(a) {
            Some(m) => alternatives.push(m),
            None => errors.push(err("alternatives", format!("{a:?} is not {methods}"))),
        }
    }
    let courier_id = match cell("courier_id") {
        "" => None,
        c => {
            let parsed = json_value(c);
            if parsed.is_none() {
                errors.push(err("courier_id", format!("{c:?} is not a courier's id")));
            }
            parsed
        }
    };
    let age_restricted = flag("age_restricted", cell("age_restricted"), &mut errors);
    let recipient_requested_code = flag(
        "recipient_requested_code",
        cell("recipient_requested_code"),
        &mut errors,
    );
    let shipper_requires_code = flag(
        "shipper_requires_code",
        cell("shipper_requires_code"),
        &mut errors,
    );
    let method = method.unwrap_or(DeliveryMethod::HandToRecipient);
    let req = CreateParcelRequest {
        barcode: cell("barcode").to_string(),
        recipient: Recipient {
            name: cell("recipient_name").to_string(),
            phone: optional(cell("recipient_phone")),
            email: optional(cell("recipient_email")),
            language: optional(cell("recipient_language")),
        },
        address: cell("address").to_string(),
        postal_code: cell("postal_code").to_string(),
        location,
        declared_value,
        method,
        alternatives,
        safe_places: list(cell("safe_places")).map(str::to_string).collect(),
        delivery_date: cell("delivery_date").to_string(),
        age_restricted,
        recipient_requested_code,
        shipper_requires_code,
        courier_id,
        description: optional(cell("description")),
        reschedule_days: None,
    };
    (req, errors)
}

/// The shipper a row names (by name, case ignored), or the fleet's only shipper when it names
/// none; `shippers` are (id, name).
pub fn shipper_of(named: &str, shippers: &[(String, String)]) -> Result<String, FieldError> {
    let all = || {
        shippers
            .iter()
            .map(|(_, n)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if named.is_empty() {
        return match shippers {
            [(id, _)] => Ok(id.clone()),
            [] => Err(err(
                "shipper",
                "the fleet has no shipper yet; add one first",
            )),
            _ => Err(err(
                "shipper",
                format!("is empty; name one of the fleet's shippers: {}", all()),
            )),
        };
    }
    let found: Vec<&String> = shippers
        .iter()
        .filter(|(_, n)| n.trim().eq_ignore_ascii_case(named))
        .map(|(id, _)| id)
        .collect();
    match found.as_slice() {
        [id] => Ok((*id).clone()),
        [] => Err(err(
            "shipper",
            format!(
                "no shipper is named {named:?}; the fleet's shippers: {}",
                all()
            ),
        )),
        _ => Err(err(
            "shipper",
            format!("several shippers are named {named:?}"),
        )),
    }
}

/// The deliveries export's range, `from` to `to` (`YYYY-MM-DD`, both included): at most
/// [`MAX_EXPORT_DAYS`] days, `from` not after `to` ([`crate::domain::zone::day_range`]).
pub fn export_range(from: Option<&str>, to: Option<&str>) -> Result<(String, String), String> {
    let days = crate::domain::zone::day_range(from, to, MAX_EXPORT_DAYS)?;
    Ok((days[0].clone(), days[days.len() - 1].clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "barcode,recipient_name,address,postal_code,method,delivery_date";

    #[test]
    fn a_good_row_becomes_the_apis_parcel() {
        let rows = read(
            format!(
                "\u{feff}{HEAD},recipient_phone,declared_value,currency\n\
                 JD0001,Ana,Main St 1,1000,neighbour,2026-11-25,'+31612345678,612.00,eur\n"
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line, 2);
        let p = rows[0].parcel.as_ref().unwrap();
        assert_eq!(p.phone.as_deref(), Some("+31612345678"));
        assert_eq!(p.value, Some((61200, "EUR".into())));
    }

    #[test]
    fn every_bad_field_of_a_row_is_listed_and_duplicates_are_refused() {
        let rows = read(
            format!(
                "{HEAD},lat,age_restricted\n\
                 JD0001,Ana,Main St 1,1000,by_drone,2026-11-25,north,maybe\n\
                 JD0002,Bo,Main St 2,1000,neighbour,tomorrow,,\n\
                 JD0003,Cy,Main St 3,1000,neighbour,2026-11-25,,\n\
                 JD0003,Cy,Main St 3,1000,neighbour,2026-11-25,,\n"
            )
            .as_bytes(),
        )
        .unwrap();
        let fields = |i: usize| -> Vec<String> {
            rows[i]
                .parcel
                .as_ref()
                .unwrap_err()
                .iter()
                .map(|e| e.field.clone())
                .collect()
        };
        assert_eq!(fields(0), ["lat", "method", "age_restricted"]);
        assert_eq!(fields(1), ["delivery_date"]);
        assert!(rows[2].parcel.is_ok());
        assert_eq!(fields(3), ["barcode"]);
        assert_eq!(rows[3].line, 5);
    }

    #[test]
    fn files_that_are_not_parcel_csv_are_refused_with_what_was_expected() {
        assert!(matches!(
            read(&vec![b'a'; MAX_BYTES + 1]),
            Err(FileError::TooLarge)
        ));
        let not_text = read(b"\x89PNG\r\n\x1a\n\xff\xfe").unwrap_err().to_string();
        assert!(
            not_text.contains("not UTF-8") && not_text.contains(HEAD),
            "{not_text}"
        );
        let wrong = read(b"name,street\nAna,Main\n").unwrap_err().to_string();
        assert!(
            wrong.contains("no column barcode") && wrong.contains("\"street\""),
            "{wrong}"
        );
        let many = format!(
            "{HEAD}\n{}",
            "JD1,A,B,1,neighbour,2026-11-25\n".repeat(MAX_ROWS + 1)
        );
        assert!(matches!(read(many.as_bytes()), Err(FileError::TooManyRows)));
    }

    #[test]
    fn a_row_names_its_shipper_or_the_only_one_is_taken() {
        let one = [("s1".to_string(), "Demo Shop".to_string())];
        assert_eq!(shipper_of("", &one).unwrap(), "s1");
        assert_eq!(shipper_of("demo shop", &one).unwrap(), "s1");
        assert!(shipper_of("Other", &one).is_err());
        let two = [one[0].clone(), ("s2".into(), "Other".into())];
        assert!(shipper_of("", &two).is_err());
        assert_eq!(shipper_of("Other", &two).unwrap(), "s2");
    }

    #[test]
    fn the_export_range_is_checked() {
        assert_eq!(
            export_range(Some("2026-11-01"), Some("2026-11-30")).unwrap(),
            ("2026-11-01".into(), "2026-11-30".into())
        );
        assert!(export_range(Some("2026-11-31"), Some("2026-12-01")).is_err());
        assert!(export_range(Some("2026-12-02"), Some("2026-12-01")).is_err());
        assert!(export_range(Some("2026-01-01"), Some("2026-04-02")).is_ok());
        assert!(export_range(Some("2026-01-01"), Some("2026-04-03")).is_err());
        assert!(export_range(None, Some("2026-04-03")).is_err());
    }
}

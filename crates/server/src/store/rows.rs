//! The rows the operations share (a stop as stored), column conversions, ids, and the outcome
//! of a code check.

use std::sync::LazyLock;

use doorstep_protocol::StopId;
use doorstep_protocol::wire::DeliveryMethod;

use super::backend::sql;
use super::backend::sql::{Db, DbError, OptionalExt, qrow};

pub(super) struct StopRow {
    pub(super) id: StopId,
    pub(super) delivery_date: String,
    pub(super) courier_id: Option<String>,
    pub(super) recipient_name: String,
    pub(super) phone: Option<String>,
    pub(super) email: Option<String>,
    pub(super) code_required: bool,
    pub(super) code_digits: u8,
    pub(super) max_attempts: u32,
    pub(super) failed_attempts: u32,
    pub(super) offline_allowed: bool,
    pub(super) validity_days: u32,
    pub(super) public_ref: String,
    pub(super) recipient_ref: [u8; 8],
    pub(super) last_resend_at: Option<i64>,
    pub(super) resends: u32,
    pub(super) language: crate::domain::messages::Lang,
}

/// How many columns [`STOP_COLUMNS`] names.
const STOP_COLUMN_COUNT: usize = 17;

pub(super) const STOP_COLUMNS: &str = "id, delivery_date, courier_id, recipient_name, phone, email, \
    code_required, code_digits, max_attempts, failed_attempts, offline_allowed, validity_days, \
    public_ref, recipient_ref, last_resend_at, resends, language";

pub(super) fn stop_from_row(r: &sql::Row) -> sql::DbResult<StopRow> {
    let id: String = r.get(0)?;
    let rref: Vec<u8> = r.get(13)?;
    let mut recipient_ref = [0u8; 8];
    recipient_ref.copy_from_slice(&rref[..8.min(rref.len())]);
    Ok(StopRow {
        id: id.parse().map_err(|_| bad_column(0))?,
        delivery_date: r.get(1)?,
        courier_id: r.get(2)?,
        recipient_name: r.get(3)?,
        phone: r.get(4)?,
        email: r.get(5)?,
        code_required: r.get(6)?,
        code_digits: r.get(7)?,
        max_attempts: r.get(8)?,
        failed_attempts: r.get(9)?,
        offline_allowed: r.get(10)?,
        validity_days: r.get(11)?,
        public_ref: r.get(12)?,
        recipient_ref,
        last_resend_at: r.get(14)?,
        resends: r.get(15)?,
        language: crate::domain::messages::Lang::for_tag(
            r.get::<_, Option<String>>(16)?.as_deref().unwrap_or(""),
        ),
    })
}

pub(super) fn bad_column(i: usize) -> DbError {
    DbError::Column(i, "not an id".into())
}

pub(super) fn load_stop(conn: &Db<'_>, id: &str) -> sql::DbResult<Option<StopRow>> {
    static SQL: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {STOP_COLUMNS} FROM stops WHERE id = ?1"));
    qrow(conn, &SQL, [id], stop_from_row).optional()
}

/// A parcel's stop and the parcel's status, in one statement: what every code check starts
/// from.
pub(super) fn load_parcel_stop(
    conn: &Db<'_>,
    parcel: &str,
) -> sql::DbResult<Option<(StopRow, String)>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {STOP_COLUMNS}, (SELECT status FROM parcels WHERE id = ?1) FROM stops \
             WHERE id = (SELECT stop_id FROM parcels WHERE id = ?1)"
        )
    });
    qrow(conn, &SQL, [parcel], |r| {
        Ok((stop_from_row(r)?, r.get(STOP_COLUMN_COUNT)?))
    })
    .optional()
}

pub(super) fn method_str(m: DeliveryMethod) -> &'static str {
    m.as_str()
}

pub(super) fn parse_enum<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

pub(super) fn enum_str<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

pub(super) fn new_id(random: &doorstep_inputs::Randomness, now_ms: i64) -> uuid::Uuid {
    let r = random.bytes::<10>();
    uuid::Builder::from_unix_timestamp_millis(now_ms.max(0) as u64, &r).into_uuid()
}

pub(super) const ENROLL_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

pub(super) fn normalise_enrollment(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Why a stop's code stopped being its code (`codes.ended_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CodeEnd {
    /// A parcel joined the stop; the new code covers every parcel.
    Joined,
    /// The customer asked for the code again.
    Resend,
    /// The fleet manager made a new code: the old one is void for every record.
    Reset,
    /// The stop was handed over; the code's hash is gone.
    Consumed,
}

impl CodeEnd {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            CodeEnd::Joined => "joined",
            CodeEnd::Resend => "resend",
            CodeEnd::Reset => "reset",
            CodeEnd::Consumed => "consumed",
        }
    }
}

/// Outcome of checking a code against a stop, shared by online verification and sync.
pub(super) enum CodeCheck {
    Ok {
        code_id: String,
    },
    Wrong {
        attempts_left: u32,
    },
    Locked,
    Expired,
    NotRequired,
    /// The code in force at that time was voided by the fleet manager (a new code).
    Replaced,
    /// The stop was handed over; its code is used up.
    Consumed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stop_column_count_matches_the_stop_columns() {
        assert_eq!(STOP_COLUMNS.split(',').count(), STOP_COLUMN_COUNT);
    }
}

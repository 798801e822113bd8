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

/// A stop's code: the one in force at a time (see [`active_code`]).
pub(super) struct ActiveCode {
    pub(super) id: String,
    pub(super) hash: Vec<u8>,
    pub(super) expires: i64,
    pub(super) ended_by: Option<String>,
}

/// The id of the code of stop `stop` in force at time `at` (for an offline record: when it
/// was typed, so a resend after the handover does not turn a right code into a wrong one);
/// the current code if none was. A subquery for use inside another statement.
fn active_code_id(stop: &str, at: &str) -> String {
    format!(
        "SELECT id FROM codes WHERE stop_id = {stop} \
         AND ((created_at <= {at} AND (superseded_at IS NULL OR superseded_at > {at})) \
              OR superseded_at IS NULL) \
         ORDER BY (created_at <= {at} AND (superseded_at IS NULL OR superseded_at > {at})) DESC, \
                  created_at DESC LIMIT 1"
    )
}

fn active_code_from(r: &sql::Row, at: usize) -> sql::DbResult<Option<ActiveCode>> {
    let Some(id) = r.get::<_, Option<String>>(at)? else {
        return Ok(None);
    };
    Ok(Some(ActiveCode {
        id,
        hash: r.get(at + 1)?,
        expires: r.get(at + 2)?,
        ended_by: r.get(at + 3)?,
    }))
}

/// The code of `stop` in force at `at`, or the current one ([`active_code_id`]).
pub(super) fn active_code(conn: &Db<'_>, stop: &str, at: i64) -> sql::DbResult<Option<ActiveCode>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT id, code_hash, expires_at, ended_by FROM codes WHERE id = ({})",
            active_code_id("?1", "?2")
        )
    });
    Ok(qrow(conn, &SQL, sql::params![stop, at], |r| {
        active_code_from(r, 0)
    })
    .optional()?
    .flatten())
}

/// What an online code check starts from, read in one statement.
pub(super) struct Checked {
    pub(super) stop: StopRow,
    /// The parcel's status.
    pub(super) status: String,
    /// The stop's code in force at the check's time.
    pub(super) active: Option<ActiveCode>,
    /// The stop's parcels still to hand over, by id.
    pub(super) covered: Vec<String>,
}

/// A parcel's stop, its status, the stop's code in force at `at` and the stop's parcels
/// still to hand over: one statement (a row per such parcel), the hot path of `/v1/verify`.
pub(super) fn load_check(conn: &Db<'_>, parcel: &str, at: i64) -> sql::DbResult<Option<Checked>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let stop_columns: Vec<String> = STOP_COLUMNS
            .split(',')
            .map(|c| format!("s.{}", c.trim()))
            .collect();
        format!(
            "SELECT {}, p.status, c.id, c.code_hash, c.expires_at, c.ended_by, q.id \
             FROM parcels p JOIN stops s ON s.id = p.stop_id \
             LEFT JOIN codes c ON c.id = ({}) \
             LEFT JOIN parcels q ON q.stop_id = s.id AND q.status IN ('pending', 'failed') \
             WHERE p.id = ?1 ORDER BY q.id",
            stop_columns.join(", "),
            active_code_id("s.id", "?2")
        )
    });
    let rows = conn.query(&SQL, sql::params![parcel, at])?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let n = STOP_COLUMN_COUNT;
    Ok(Some(Checked {
        stop: stop_from_row(first)?,
        status: first.get(n)?,
        active: active_code_from(first, n + 1)?,
        covered: rows
            .iter()
            .filter_map(|r| r.get::<_, Option<String>>(n + 5).transpose())
            .collect::<Result<_, _>>()?,
    }))
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
    /// The customer moved the delivery to another day; a code for that day was sent.
    Rescheduled,
}

impl CodeEnd {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            CodeEnd::Joined => "joined",
            CodeEnd::Resend => "resend",
            CodeEnd::Reset => "reset",
            CodeEnd::Consumed => "consumed",
            CodeEnd::Rescheduled => "rescheduled",
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

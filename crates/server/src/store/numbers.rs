//! The console's numbers: what one delivery day's numbers are made of, read in five queries
//! ([`day_facts`]), and the daily roll-up that keeps 90 days of them under a second.
//!
//! A closed day (before today in the fleet's time zone) is rolled up by the server in the
//! background (`ops::roll_up`), or by the first read that needs it: its facts read,
//! added up per courier and postcode area
//! ([`crate::domain::numbers::roll_up`]) and stored in `numbers_cells`, in one write
//! transaction, so the roll-up is the day as it was at one moment on either backend. Its row
//! in `numbers_days` says it is rolled up. The migration's triggers delete that row (for the
//! day and every later one) whenever something the numbers are made of changes — a record
//! synced late, a wrong code, a new code, a parcel added or moved — so the next read rolls the
//! day up again and a late record is never missed. Today and later days are never rolled up:
//! they are read as they are.

use std::collections::{BTreeMap, HashMap};

use super::backend::sql::{Db, OptionalExt, params};
use super::error::StoreError;
use super::handle::Store;
use crate::domain::numbers::{
    Cell, CellKey, DayFacts, ParcelFact, RecordFact, StopFact, StoredRecord, roll_up,
};

/// The numbers of a range of days, per day, courier and postcode area.
#[derive(Debug, Clone, Default)]
pub struct DayCells {
    /// `(day, courier and area, numbers)`.
    pub cells: Vec<(String, CellKey, Cell)>,
    /// Courier names by id.
    pub couriers: HashMap<String, String>,
}

/// Everything one delivery day's numbers are made of.
fn day_facts(db: &Db<'_>, day: &str) -> Result<DayFacts, StoreError> {
    let records = db.query_map(
        "SELECT e.stop_id, d.courier_id, s.postal_code, e.kind, e.status, e.received_at, \
         e.parcel_ids, e.body FROM events e JOIN devices d ON d.id = e.device_id \
         JOIN stops s ON s.id = e.stop_id \
         WHERE e.delivery_date = ?1 AND e.kind IN ('delivered', 'failed')",
        [day],
        |r| {
            let kind: String = r.get(3)?;
            let status: String = r.get(4)?;
            let parcels: String = r.get(6)?;
            let body: String = r.get(7)?;
            Ok(RecordFact {
                stop_id: r.get(0)?,
                courier_id: r.get(1)?,
                postal_code: r.get(2)?,
                delivered: kind == "delivered",
                accepted: status == "accepted",
                received_at_ms: r.get(5)?,
                parcels: serde_json::from_str(&parcels).unwrap_or_default(),
                stored: StoredRecord::parse(&body),
            })
        },
    )?;
    let attempted_before = db
        .query_map(
            "SELECT DISTINCT ep.parcel_id FROM events e JOIN event_parcels ep ON ep.event_id = e.id \
             WHERE e.delivery_date = ?1 AND e.status = 'accepted' AND e.kind IN ('delivered', 'failed') \
               AND EXISTS (SELECT 1 FROM event_parcels ep2 JOIN events e2 ON e2.id = ep2.event_id \
                 WHERE ep2.parcel_id = ep.parcel_id AND e2.delivery_date < ?1 \
                   AND e2.status = 'accepted' AND e2.kind IN ('delivered', 'failed'))",
            [day],
            |r| r.get::<_, String>(0),
        )?
        .into_iter()
        .collect();
    let parcels = db.query_map(
        "SELECT COALESCE(s.courier_id, ''), s.postal_code, p.code_required, p.reasons \
         FROM parcels p JOIN stops s ON s.id = p.stop_id WHERE s.delivery_date = ?1",
        [day],
        |r| {
            let reasons: String = r.get(3)?;
            Ok(ParcelFact {
                courier_id: r.get(0)?,
                postal_code: r.get(1)?,
                code_required: r.get(2)?,
                reasons: serde_json::from_str(&reasons).unwrap_or_default(),
            })
        },
    )?;
    let stops = db.query_map(
        "SELECT s.id, COALESCE(s.courier_id, ''), s.postal_code, s.code_required, s.wrong_codes, \
         s.lockouts, COALESCE(n.codes, 0) \
         FROM stops s LEFT JOIN ( \
             SELECT c.stop_id, COUNT(*) AS codes FROM codes c JOIN stops cs ON cs.id = c.stop_id \
             WHERE cs.delivery_date = ?1 AND c.ended_by IN ('resend', 'reset') GROUP BY c.stop_id \
         ) n ON n.stop_id = s.id \
         WHERE s.delivery_date = ?1",
        [day],
        |r| {
            Ok(StopFact {
                stop_id: r.get(0)?,
                courier_id: r.get(1)?,
                postal_code: r.get(2)?,
                code_required: r.get(3)?,
                wrong_codes: r.get::<_, i64>(4)?.max(0) as u64,
                lockouts: r.get::<_, i64>(5)?.max(0) as u64,
                new_codes: r.get::<_, i64>(6)?.max(0) as u64,
            })
        },
    )?;
    Ok(DayFacts {
        records,
        parcels,
        stops,
        attempted_before,
    })
}

/// The stored roll-up of the days `from` to `to` that have one: the days, and their cells.
type RolledUp = (Vec<String>, Vec<(String, CellKey, Cell)>);

/// The roll-up of the days `from` to `to`, in one statement (on PostgreSQL, where each
/// statement sees the latest commit, one snapshot of the days and their cells).
fn read_roll_up(db: &Db<'_>, from: &str, to: &str) -> Result<RolledUp, StoreError> {
    let rows = db.query_map(
        "SELECT d.day, c.courier_id, c.area, c.cell FROM numbers_days d \
         LEFT JOIN numbers_cells c ON c.day = d.day \
         WHERE d.day >= ?1 AND d.day <= ?2 ORDER BY d.day",
        params![from, to],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        },
    )?;
    let mut days: Vec<String> = Vec::new();
    let mut cells = Vec::new();
    for (day, courier_id, area, cell) in rows {
        if days.last() != Some(&day) {
            days.push(day.clone());
        }
        // A day rolled up with nothing to count has no cells.
        if let (Some(courier_id), Some(area), Some(cell)) = (courier_id, area, cell) {
            cells.push((
                day,
                CellKey { courier_id, area },
                serde_json::from_str(&cell).unwrap_or_default(),
            ));
        }
    }
    Ok((days, cells))
}

impl Store {
    /// The numbers of `days` (in order, `YYYY-MM-DD`), per day, courier and postcode area:
    /// the days before `today` from the roll-up (rolled up now where they are not yet), the
    /// others as they are now. `now` (Unix ms) stamps new roll-ups.
    pub fn numbers(&self, days: &[String], today: &str, now: i64) -> Result<DayCells, StoreError> {
        let (Some(from), Some(to)) = (days.first(), days.last()) else {
            return Ok(DayCells::default());
        };
        let (rolled, mut cells) = self.read(|db| read_roll_up(db, from, to))?;
        for day in days {
            if rolled.binary_search(day).is_ok() {
                continue;
            }
            let day_cells = if day.as_str() < today {
                self.roll_up_day(day, now, true)?.unwrap_or_default()
            } else {
                roll_up(&self.read(|db| day_facts(db, day))?)
            };
            cells.extend(day_cells.into_iter().map(|(k, c)| (day.clone(), k, c)));
        }
        Ok(DayCells {
            cells,
            couriers: self.read(super::views::couriers)?.into_iter().collect(),
        })
    }

    /// Rolls up the closed days from `since` to before `today` that have stops but no roll-up
    /// yet, oldest first, each in its own transaction (a day another server node rolled up
    /// meanwhile is left as it is); how many this call rolled up.
    pub fn roll_up_closed_days(
        &self,
        since: &str,
        today: &str,
        now: i64,
    ) -> Result<usize, StoreError> {
        let days: Vec<String> = self.read(|db| {
            Ok(db.query_map(
                "SELECT DISTINCT s.delivery_date FROM stops s \
                 WHERE s.delivery_date >= ?1 AND s.delivery_date < ?2 \
                   AND NOT EXISTS (SELECT 1 FROM numbers_days d WHERE d.day = s.delivery_date) \
                 ORDER BY s.delivery_date",
                params![since, today],
                |r| r.get(0),
            )?)
        })?;
        let mut rolled = 0;
        for day in &days {
            rolled += usize::from(self.roll_up_day(day, now, false)?.is_some());
        }
        Ok(rolled)
    }

    /// Rolls up one closed day in one write transaction (its facts as they are at that
    /// moment); its cells. An earlier roll-up of the day is replaced if `replace`, else left
    /// as it is (`None`).
    fn roll_up_day(
        &self,
        day: &str,
        now: i64,
        replace: bool,
    ) -> Result<Option<BTreeMap<CellKey, Cell>>, StoreError> {
        self.write(|tx| {
            if !replace
                && tx
                    .qrow("SELECT 1 FROM numbers_days WHERE day = ?1", [day], |r| {
                        r.get::<_, i64>(0)
                    })
                    .optional()?
                    .is_some()
            {
                return Ok(None);
            }
            let cells = roll_up(&day_facts(tx, day)?);
            tx.exec("DELETE FROM numbers_cells WHERE day = ?1", [day])?;
            for (key, cell) in &cells {
                tx.exec(
                    "INSERT INTO numbers_cells (day, courier_id, area, cell) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        day,
                        key.courier_id,
                        key.area,
                        serde_json::to_string(cell).unwrap_or_default()
                    ],
                )?;
            }
            tx.exec(
                "INSERT INTO numbers_days (day, built_at) VALUES (?1, ?2) \
                 ON CONFLICT (day) DO UPDATE SET built_at = excluded.built_at",
                params![day, now],
            )?;
            Ok(Some(cells))
        })
    }
}

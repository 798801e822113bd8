//! The console's numbers: what one delivery day's numbers are made of, read in five queries
//! ([`day_facts`]), and the daily roll-up that keeps 90 days of them under a second.
//!
//! A closed day (before today in the fleet's time zone) is rolled up the first time it is
//! asked for: its facts read, added up per courier and postcode area
//! ([`crate::domain::numbers::roll_up`]) and stored in `numbers_cells`, in one write
//! transaction, so the roll-up is the day as it was at one moment on either backend. Its row
//! in `numbers_days` says it is rolled up. The migration's triggers delete that row (for the
//! day and every later one) whenever something the numbers are made of changes — a record
//! synced late, a wrong code, a new code, a parcel added or moved — so the next read rolls the
//! day up again and a late record is never missed. Today and later days are never rolled up:
//! they are read as they are.

use std::collections::{BTreeMap, HashMap};

use super::backend::sql::{Db, params};
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
    /// Days read from the roll-up as it was.
    pub from_roll_up: usize,
    /// Days rolled up for this read.
    pub rolled_up: usize,
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

fn read_roll_up(db: &Db<'_>, from: &str, to: &str) -> Result<RolledUp, StoreError> {
    let days: Vec<String> = db.query_map(
        "SELECT day FROM numbers_days WHERE day >= ?1 AND day <= ?2 ORDER BY day",
        params![from, to],
        |r| r.get(0),
    )?;
    let cells = db.query_map(
        "SELECT c.day, c.courier_id, c.area, c.cell FROM numbers_cells c \
         JOIN numbers_days d ON d.day = c.day WHERE c.day >= ?1 AND c.day <= ?2",
        params![from, to],
        |r| {
            let cell: String = r.get(3)?;
            Ok((
                r.get(0)?,
                CellKey {
                    courier_id: r.get(1)?,
                    area: r.get(2)?,
                },
                serde_json::from_str(&cell).unwrap_or_default(),
            ))
        },
    )?;
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
        // On PostgreSQL each read statement sees the latest commit: read the roll-up until
        // the list of rolled-up days is the same before and after its cells.
        let (mut rolled, mut cells) = self.read(|db| read_roll_up(db, from, to))?;
        for _ in 0..3 {
            let again: Vec<String> = self.read(|db| {
                Ok(db.query_map(
                    "SELECT day FROM numbers_days WHERE day >= ?1 AND day <= ?2 ORDER BY day",
                    params![from, to],
                    |r| r.get(0),
                )?)
            })?;
            if again == rolled {
                break;
            }
            (rolled, cells) = self.read(|db| read_roll_up(db, from, to))?;
        }
        let mut out = DayCells {
            from_roll_up: rolled.len(),
            ..DayCells::default()
        };
        for day in days {
            if rolled.binary_search(day).is_ok() {
                continue;
            }
            let day_cells = if day.as_str() < today {
                out.rolled_up += 1;
                self.roll_up_day(day, now)?
            } else {
                roll_up(&self.read(|db| day_facts(db, day))?)
            };
            cells.extend(day_cells.into_iter().map(|(k, c)| (day.clone(), k, c)));
        }
        out.cells = cells;
        out.couriers = self
            .read(|db| {
                Ok(
                    db.query_map("SELECT id, name FROM couriers", params![], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?,
                )
            })?
            .into_iter()
            .collect();
        Ok(out)
    }

    /// Rolls up the closed days from `since` to before `today` that have stops but no roll-up
    /// yet, oldest first, each in its own transaction; how many.
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
        for day in &days {
            self.roll_up_day(day, now)?;
        }
        Ok(days.len())
    }

    /// Rolls up one closed day in one write transaction (its facts as they are at that
    /// moment), replacing any earlier roll-up of it; its cells.
    fn roll_up_day(&self, day: &str, now: i64) -> Result<BTreeMap<CellKey, Cell>, StoreError> {
        self.write(|tx| {
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
            Ok(cells)
        })
    }
}

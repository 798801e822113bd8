//! The fleet's day (the console's Today page and its map): every stop of a delivery day with its
//! state, and every courier's progress, last record, last known position and last sync.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::LazyLock;

use super::backend::sql::{Db, Value, params, placeholders};
use super::error::StoreError;
use super::handle::Store;
use super::proofs::{Point, location};
use crate::domain::today::{PARCEL_STATES, Progress, StopState};

/// A stop of the day.
#[derive(Debug, Clone)]
pub struct TodayStop {
    /// The stop.
    pub stop_id: String,
    /// Its courier, if it is on a route.
    pub courier_id: Option<String>,
    /// Its place on the route.
    pub sequence: i64,
    /// The address.
    pub address: String,
    /// Where the address is, if known.
    pub at: Option<Point>,
    /// Its state.
    pub state: StopState,
}

/// A stop of a route, as its list shows it.
#[derive(Debug, Clone)]
pub struct RouteStop {
    /// The stop.
    pub stop: TodayStop,
    /// The recipient.
    pub recipient_name: String,
    /// Its parcels (id, barcode), those moved from it to a later day included.
    pub parcels: Vec<(String, String)>,
}

/// A courier's day.
#[derive(Debug, Clone)]
pub struct CourierDay {
    /// The courier.
    pub courier_id: String,
    /// Their name.
    pub name: String,
    /// Their stops by state.
    pub progress: Progress,
    /// Their latest record of the day.
    pub last_record: Option<LastRecord>,
    /// Their last known position: where their latest record of the day that has one was made.
    pub position: Option<(Point, i64)>,
    /// Their phones' latest sync, Unix seconds.
    pub last_sync_at: Option<i64>,
}

/// A courier's latest record of the day.
#[derive(Debug, Clone)]
pub struct LastRecord {
    /// What it records (`delivered`, `failed`, …).
    pub kind: String,
    /// When the phone made it, Unix milliseconds (the phone's clock).
    pub occurred_at_ms: i64,
    /// Where the phone was, if it knew.
    pub at: Option<Point>,
}

/// A delivery day.
#[derive(Debug, Clone)]
pub struct Today {
    /// Its date.
    pub date: String,
    /// Its stops, by courier and route order (stops on no route last).
    pub stops: Vec<TodayStop>,
    /// The couriers with a stop or a record that day, by name.
    pub couriers: Vec<CourierDay>,
}

impl Store {
    /// Delivery day `date` on `route` as the fleet sees it. Five reads, none per stop: the
    /// stops with their states (ranked in SQL), the couriers, the records' ids (each courier's
    /// latest are then read whole, until one has a position), the phones' last syncs.
    pub fn today(&self, date: &str, route: Route<'_>) -> Result<Today, StoreError> {
        self.read(|db| {
            let stops = stops_of(db, date, route)?;
            let mut couriers: HashMap<String, CourierDay> = HashMap::new();
            let names: HashMap<String, String> = super::views::couriers(db)?.into_iter().collect();
            for s in &stops {
                if let Some(c) = s
                    .courier_id
                    .as_deref()
                    .and_then(|id| day(&mut couriers, &names, id))
                {
                    c.progress.add(s.state);
                }
            }
            let latest = latest_records(db, date, route)?;
            // Each courier's latest record, read in one statement; then, for the couriers whose
            // latest record says nothing of where the phone was (no fix), back record by record.
            let firsts: Vec<String> = latest
                .iter()
                .filter_map(|(_, ids)| ids.first().cloned())
                .collect();
            let mut read: HashMap<String, LastRecord> = records(db, &firsts)?;
            for (courier, events) in latest {
                let Some(c) = day(&mut couriers, &names, &courier) else {
                    continue;
                };
                for (i, event) in events.iter().enumerate() {
                    let record = match read.remove(event) {
                        Some(r) => r,
                        None => match records(db, std::slice::from_ref(event))?.remove(event) {
                            Some(r) => r,
                            None => continue,
                        },
                    };
                    if let Some(at) = record.at {
                        c.position = Some((at, record.occurred_at_ms));
                    }
                    if i == 0 {
                        c.last_record = Some(record);
                    }
                    if c.position.is_some() {
                        break;
                    }
                }
            }
            let syncs = db.query_map(
                "SELECT courier_id, MAX(last_sync_at) FROM devices GROUP BY courier_id",
                params![],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?)),
            )?;
            for (courier, at) in syncs {
                if let Some(c) = couriers.get_mut(&courier) {
                    c.last_sync_at = at;
                }
            }
            let mut couriers: Vec<CourierDay> = couriers.into_values().collect();
            couriers.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(Today {
                date: date.to_string(),
                stops,
                couriers,
            })
        })
    }
}

/// Courier `id`'s day in `couriers`, made the first time (`None` for an unknown courier).
fn day<'c>(
    couriers: &'c mut HashMap<String, CourierDay>,
    names: &HashMap<String, String>,
    id: &str,
) -> Option<&'c mut CourierDay> {
    let name = names.get(id)?;
    Some(
        couriers
            .entry(id.to_string())
            .or_insert_with(|| CourierDay {
                courier_id: id.to_string(),
                name: name.clone(),
                progress: Progress::default(),
                last_record: None,
                position: None,
                last_sync_at: None,
            }),
    )
}

/// Which stops of a day to read.
#[derive(Debug, Clone, Copy)]
pub enum Route<'a> {
    /// Every stop.
    All,
    /// Courier `.0`'s.
    Of(&'a str),
    /// Those on no route.
    None,
}

/// The stops' query for each [`Route`]: each stop with the rank of its parcel that needs a
/// person most ([`StopState::rank`], by [`PARCEL_STATES`]) and whether a parcel was moved
/// from it. Two index lookups per stop, in the database; nothing per parcel comes back.
static STOPS_SQL: LazyLock<[String; 3]> = LazyLock::new(|| {
    let mut rank = String::from("CASE p.status");
    for (status, state) in PARCEL_STATES {
        let _ = write!(rank, " WHEN '{status}' THEN {}", state.rank());
    }
    let _ = write!(rank, " ELSE {} END", StopState::ToDeliver.rank());
    let select = format!(
        "SELECT s.id, s.courier_id, s.sequence, s.address, s.lat, s.lon, s.recipient_name, \
         r.rank, COALESCE(m.moved, 0) FROM stops s \
         LEFT JOIN (SELECT p.stop_id, MIN({rank}) AS rank FROM parcels p \
                    JOIN stops ps ON ps.id = p.stop_id WHERE ps.delivery_date = ?1 \
                    GROUP BY p.stop_id) r ON r.stop_id = s.id \
         LEFT JOIN (SELECT p.moved_from, COUNT(*) AS moved FROM parcels p \
                    JOIN stops ms ON ms.id = p.moved_from WHERE ms.delivery_date = ?1 \
                    GROUP BY p.moved_from) m ON m.moved_from = s.id \
         WHERE s.delivery_date = ?1"
    );
    [
        select.clone(),
        format!("{select} AND s.courier_id = ?2"),
        format!("{select} AND s.courier_id IS NULL"),
    ]
});

/// The parcels' query for each [`Route`]: the parcels on its stops and those moved from them.
static PARCELS_SQL: LazyLock<[String; 3]> = LazyLock::new(|| {
    let on = |join: &str, filter: &str| {
        format!(
            "SELECT p.stop_id, p.moved_from, p.id, p.barcode_raw FROM parcels p \
             JOIN stops s ON s.id = p.{join} WHERE s.delivery_date = ?1{filter}"
        )
    };
    let both = |filter: &str| {
        format!(
            "{} UNION ALL {}",
            on("stop_id", filter),
            on("moved_from", filter)
        )
    };
    [
        both(""),
        both(" AND s.courier_id = ?2"),
        both(" AND s.courier_id IS NULL"),
    ]
});

/// The stops of `date` on `route` with their states and recipients, by courier and sequence.
fn stops_with_names(
    db: &Db<'_>,
    date: &str,
    route: Route<'_>,
) -> Result<Vec<(TodayStop, String)>, StoreError> {
    let read = |r: &super::backend::sql::Row| {
        let here: Option<i64> = r.get(7)?;
        let state = StopState::of_stop(
            here.and_then(|r| u8::try_from(r).ok()),
            r.get::<_, i64>(8)? > 0,
        );
        Ok((
            TodayStop {
                stop_id: r.get(0)?,
                courier_id: r.get(1)?,
                sequence: r.get(2)?,
                address: r.get(3)?,
                at: match (r.get::<_, Option<f64>>(4)?, r.get::<_, Option<f64>>(5)?) {
                    (Some(lat), Some(lon)) => Some(Point { lat, lon }),
                    _ => None,
                },
                state,
            },
            r.get(6)?,
        ))
    };
    let mut stops = match route {
        Route::All => db.query_map(&STOPS_SQL[0], params![date], read)?,
        Route::Of(courier) => db.query_map(&STOPS_SQL[1], params![date, courier], read)?,
        Route::None => db.query_map(&STOPS_SQL[2], params![date], read)?,
    };
    stops.sort_by(|(a, _), (b, _)| {
        (
            a.courier_id.is_none(),
            &a.courier_id,
            a.sequence,
            &a.stop_id,
        )
            .cmp(&(
                b.courier_id.is_none(),
                &b.courier_id,
                b.sequence,
                &b.stop_id,
            ))
    });
    Ok(stops)
}

/// The stops of `date` on `route` with their states, by courier and sequence.
fn stops_of(db: &Db<'_>, date: &str, route: Route<'_>) -> Result<Vec<TodayStop>, StoreError> {
    Ok(stops_with_names(db, date, route)?
        .into_iter()
        .map(|(s, _)| s)
        .collect())
}

impl Store {
    /// A route of day `date` as its list shows it: its stops in order with their states,
    /// recipients and parcels (those moved from a stop to a later day included).
    pub fn route_stops(&self, date: &str, route: Route<'_>) -> Result<Vec<RouteStop>, StoreError> {
        self.read(|db| {
            let stops = stops_with_names(db, date, route)?;
            let mut index: HashMap<String, usize> = HashMap::new();
            for (i, (s, _)) in stops.iter().enumerate() {
                index.insert(s.stop_id.clone(), i);
            }
            let mut out: Vec<RouteStop> = stops
                .into_iter()
                .map(|(stop, recipient_name)| RouteStop {
                    stop,
                    recipient_name,
                    parcels: Vec::new(),
                })
                .collect();
            let read = |r: &super::backend::sql::Row| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            };
            let parcels = match route {
                Route::All => db.query_map(&PARCELS_SQL[0], params![date], read)?,
                Route::Of(c) => db.query_map(&PARCELS_SQL[1], params![date, c], read)?,
                Route::None => db.query_map(&PARCELS_SQL[2], params![date], read)?,
            };
            for (stop, moved_from, id, barcode) in parcels {
                for s in [Some(stop), moved_from].into_iter().flatten() {
                    if let Some(&i) = index.get(&s) {
                        if !out[i].parcels.iter().any(|(p, _)| *p == id) {
                            out[i].parcels.push((id.clone(), barcode.clone()));
                        }
                    }
                }
            }
            for s in &mut out {
                s.parcels.sort_by(|a, b| a.1.cmp(&b.1));
            }
            Ok(out)
        })
    }
}

/// How many of a courier's latest records are read for a position before giving up.
const POSITION_LOOKBACK: usize = 20;

/// Each courier's latest records of `date` on `route`, newest first (the server received it
/// last, then latest in its phone's chain), at most [`POSITION_LOOKBACK`].
fn latest_records(
    db: &Db<'_>,
    date: &str,
    route: Route<'_>,
) -> Result<Vec<(String, Vec<String>)>, StoreError> {
    const SQL: &str = "SELECT d.courier_id, e.id, e.received_at, e.seq FROM events e \
         JOIN devices d ON d.id = e.device_id WHERE e.delivery_date = ?1";
    let read = |r: &super::backend::sql::Row| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
        ))
    };
    let rows = match route {
        Route::All => db.query_map(SQL, params![date], read)?,
        Route::Of(courier) => db.query_map(
            &format!("{SQL} AND d.courier_id = ?2"),
            params![date, courier],
            read,
        )?,
        // Records are a courier's: a stop on no route has none.
        Route::None => Vec::new(),
    };
    let mut by_courier: HashMap<String, Vec<(i64, i64, String)>> = HashMap::new();
    for (courier, id, received, seq) in rows {
        by_courier
            .entry(courier)
            .or_default()
            .push((received, seq, id));
    }
    Ok(by_courier
        .into_iter()
        .map(|(c, mut records)| {
            records.sort_unstable_by_key(|r| std::cmp::Reverse((r.0, r.1)));
            records.truncate(POSITION_LOOKBACK);
            (c, records.into_iter().map(|(_, _, id)| id).collect())
        })
        .collect())
}

/// Records `ids` by id: each one's kind, time and place.
fn records(db: &Db<'_>, ids: &[String]) -> Result<HashMap<String, LastRecord>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let values: Vec<Value> = ids.iter().map(|id| Value::Text(id.clone())).collect();
    let rows = db.query_map(
        &format!(
            "SELECT id, kind, body, received_at FROM events WHERE id IN ({})",
            placeholders(1, ids.len())
        ),
        values,
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        },
    )?;
    Ok(rows
        .into_iter()
        .map(|(id, kind, body, received)| {
            let stored: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let record = LastRecord {
                kind,
                occurred_at_ms: stored
                    .get("occurred_at_ms")
                    .and_then(serde_json::Value::as_i64)
                    .unwrap_or(received),
                at: location(&stored),
            };
            (id, record)
        })
        .collect())
}

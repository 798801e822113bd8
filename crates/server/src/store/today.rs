//! The fleet's day (the console's Today page and its map): every stop of a delivery day with its
//! state, and every courier's progress, last record, last known position and last sync.

use std::collections::HashMap;

use serde_json::Value;

use super::backend::sql::{Db, params};
use super::error::StoreError;
use super::handle::Store;
use super::proofs::{Point, location};
use crate::domain::today::{Progress, StopState};

/// A stop of the day.
#[derive(Debug, Clone)]
pub struct TodayStop {
    /// The stop.
    pub stop_id: String,
    /// Its courier, if it is on a route.
    pub courier_id: Option<String>,
    /// Its place on the route.
    pub sequence: i64,
    /// The recipient.
    pub recipient_name: String,
    /// The address.
    pub address: String,
    /// Where the address is, if known.
    pub at: Option<Point>,
    /// Its state.
    pub state: StopState,
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
    /// Delivery day `date` as the fleet sees it. Four reads, none per stop: the day's stops with
    /// their parcels (and those moved from them), the couriers' phones, the day's records'
    /// ids (the latest per courier is then read whole).
    pub fn today(&self, date: &str) -> Result<Today, StoreError> {
        self.read(|db| {
            let stops = stops_of(db, date)?;
            let mut couriers: HashMap<String, CourierDay> = HashMap::new();
            let names: HashMap<String, String> = super::views::couriers(db)?.into_iter().collect();
            for s in &stops {
                if let Some(c) = s.courier_id.as_deref().and_then(|id| day(&mut couriers, &names, id)) {
                    c.progress.add(s.state);
                }
            }
            for (courier, events) in latest_records(db, date)? {
                let Some(c) = day(&mut couriers, &names, &courier) else {
                    continue;
                };
                // The latest record, then back until one says where the phone was (a phone
                // without a fix records none).
                for (i, event) in events.iter().enumerate() {
                    let Some(record) = last_record(db, event)? else {
                        continue;
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
    Some(couriers.entry(id.to_string()).or_insert_with(|| CourierDay {
        courier_id: id.to_string(),
        name: name.clone(),
        progress: Progress::default(),
        last_record: None,
        position: None,
        last_sync_at: None,
    }))
}

/// The stops of `date` with their states, by courier and sequence.
fn stops_of(db: &Db<'_>, date: &str) -> Result<Vec<TodayStop>, StoreError> {
    // A parcel moved to a later day after a failed attempt here is no longer on this stop
    // (`moved_from` remembers where it was).
    let rows = db.query_map(
        "SELECT s.id, s.courier_id, s.sequence, s.recipient_name, s.address, s.lat, s.lon, \
                p.id, p.barcode_raw, p.status, p.stop_id \
         FROM stops s LEFT JOIN parcels p ON p.stop_id = s.id WHERE s.delivery_date = ?1 \
         UNION ALL \
         SELECT s.id, s.courier_id, s.sequence, s.recipient_name, s.address, s.lat, s.lon, \
                p.id, p.barcode_raw, p.status, p.stop_id \
         FROM stops s JOIN parcels p ON p.moved_from = s.id WHERE s.delivery_date = ?1",
        params![date],
        |r| {
            Ok((
                TodayStop {
                    stop_id: r.get(0)?,
                    courier_id: r.get(1)?,
                    sequence: r.get(2)?,
                    recipient_name: r.get(3)?,
                    address: r.get(4)?,
                    at: match (r.get::<_, Option<f64>>(5)?, r.get::<_, Option<f64>>(6)?) {
                        (Some(lat), Some(lon)) => Some(Point { lat, lon }),
                        _ => None,
                    },
                    state: StopState::ToDeliver,
                    parcels: Vec::new(),
                },
                r.get::<_, Option<String>>(7)?,
                r.get::<_, Option<String>>(8)?,
                r.get::<_, Option<String>>(9)?,
                r.get::<_, Option<String>>(10)?,
            ))
        },
    )?;
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut stops: Vec<TodayStop> = Vec::new();
    let mut statuses: Vec<Vec<(String, bool)>> = Vec::new();
    for (stop, parcel, barcode, status, on) in rows {
        let i = *index.entry(stop.stop_id.clone()).or_insert_with(|| {
            stops.push(stop.clone());
            statuses.push(Vec::new());
            stops.len() - 1
        });
        if let (Some(parcel), Some(barcode), Some(status)) = (parcel, barcode, status) {
            statuses[i].push((status, on.as_deref() == Some(stops[i].stop_id.as_str())));
            stops[i].parcels.push((parcel, barcode));
        }
    }
    for (stop, parcels) in stops.iter_mut().zip(&statuses) {
        stop.state = StopState::of(parcels.iter().map(|(s, here)| (s.as_str(), *here)));
        stop.parcels.sort_by(|a, b| a.1.cmp(&b.1));
    }
    stops.sort_by(|a, b| {
        (a.courier_id.is_none(), &a.courier_id, a.sequence, &a.stop_id).cmp(&(
            b.courier_id.is_none(),
            &b.courier_id,
            b.sequence,
            &b.stop_id,
        ))
    });
    Ok(stops)
}

/// How many of a courier's latest records are read for a position before giving up.
const POSITION_LOOKBACK: usize = 20;

/// Each courier's latest records of `date`, newest first (the server received it last, then
/// latest in its phone's chain), at most [`POSITION_LOOKBACK`].
fn latest_records(db: &Db<'_>, date: &str) -> Result<Vec<(String, Vec<String>)>, StoreError> {
    let rows = db.query_map(
        "SELECT d.courier_id, e.id, e.received_at, e.seq FROM events e \
         JOIN devices d ON d.id = e.device_id WHERE e.delivery_date = ?1",
        params![date],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        },
    )?;
    let mut by_courier: HashMap<String, Vec<(i64, i64, String)>> = HashMap::new();
    for (courier, id, received, seq) in rows {
        by_courier.entry(courier).or_default().push((received, seq, id));
    }
    Ok(by_courier
        .into_iter()
        .map(|(c, mut records)| {
            records.sort_unstable_by(|a, b| (b.0, b.1).cmp(&(a.0, a.1)));
            records.truncate(POSITION_LOOKBACK);
            (c, records.into_iter().map(|(_, _, id)| id).collect())
        })
        .collect())
}

/// Record `event`'s kind, time and place.
fn last_record(db: &Db<'_>, event: &str) -> Result<Option<LastRecord>, StoreError> {
    let rows = db.query_map(
        "SELECT kind, body, received_at FROM events WHERE id = ?1",
        params![event],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)),
    )?;
    Ok(rows.into_iter().next().map(|(kind, body, received)| {
        let stored: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        LastRecord {
            kind,
            occurred_at_ms: stored
                .get("occurred_at_ms")
                .and_then(Value::as_i64)
                .unwrap_or(received),
            at: location(&stored),
        }
    }))
}

//! The proof of delivery of one parcel, for the console and its exports: the parcel and its
//! stop, every record that covers it (and every report of its label as not on a route) with
//! its evidence, and a timeline of everything that happened to it (created, codes made and
//! ended, messages, online checks, records, depot check-ins that scanned it, the fleet's
//! actions). Read only; codes and tokens are never in it (the stored records hold neither).

use serde::Serialize;
use serde_json::Value;

use super::backend::sql::{
    Db, DbResult, OptionalExt, Row, Value as SqlValue, params, placeholders, qrow,
};
use super::error::StoreError;
use super::handle::Store;

/// The columns of a [`ParcelHit`], for queries of `parcels p` joined with its stop `s` and
/// the stop's courier `c` ([`hit_from`]).
const HIT_SELECT: &str = "SELECT p.id, p.barcode_raw, s.recipient_name, s.delivery_date, c.name, p.status \
     FROM parcels p JOIN stops s ON s.id = p.stop_id LEFT JOIN couriers c ON c.id = s.courier_id";

fn hit_from(r: &Row) -> DbResult<ParcelHit> {
    Ok(ParcelHit {
        parcel_id: r.get(0)?,
        barcode: r.get(1)?,
        recipient_name: r.get(2)?,
        delivery_date: r.get(3)?,
        courier: r.get(4)?,
        status: r.get(5)?,
    })
}

/// A parcel found by the console's search.
#[derive(Debug, Clone, Serialize)]
pub struct ParcelHit {
    /// Parcel id.
    pub parcel_id: String,
    /// Barcode as printed.
    pub barcode: String,
    /// Recipient.
    pub recipient_name: String,
    /// Delivery day.
    pub delivery_date: String,
    /// Courier, if on a route.
    pub courier: Option<String>,
    /// Status.
    pub status: String,
}

/// A point on the map.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// Degrees north.
    pub lat: f64,
    /// Degrees east.
    pub lon: f64,
}

impl Point {
    /// The distance to `other`, metres ([`crate::domain::geo::distance_m`]).
    pub fn distance_m(self, other: Point) -> f64 {
        crate::domain::geo::distance_m((self.lat, self.lon), (other.lat, other.lon))
    }
}

/// A handover recorded far from its stop's address.
#[derive(Debug, Clone, Serialize)]
pub struct FarHandover {
    /// The record.
    pub event_id: String,
    /// Its first parcel (for the proof of delivery).
    pub parcel_id: String,
    /// That parcel's barcode.
    pub barcode: String,
    /// The courier.
    pub courier: String,
    /// The stop's address.
    pub address: String,
    /// When the server received it (Unix ms).
    pub received_at_ms: i64,
    /// How far from the address, metres.
    pub distance_m: f64,
}

/// One record that covers the parcel, with its evidence as stored.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProofRecord {
    /// Record id.
    pub event_id: String,
    /// `delivered`, `failed`, `correction`, …
    pub kind: String,
    /// `accepted`, `rejected`, `held`, `disputed`, …
    pub status: String,
    /// Why it was refused, if it was.
    pub reject_code: Option<String>,
    /// The courier of the phone that recorded it.
    pub courier: String,
    /// The phone.
    pub device_id: String,
    /// Its place in the phone's chain.
    pub seq: i64,
    /// When the phone recorded it (the phone's clock, Unix ms).
    pub occurred_at_ms: i64,
    /// When the server received it (Unix ms).
    pub received_at_ms: i64,
    /// Where the phone was, if it knew.
    pub location: Option<Point>,
    /// How precise that was, in metres.
    pub accuracy_m: Option<f64>,
    /// How the handover was verified: `online_code`, `offline_code`, `token`, `not_required`.
    pub verification: Option<String>,
    /// How it was handed over: `recipient`, `neighbour`, `safe_place`, `pickup_point`.
    pub method: Option<String>,
    /// The neighbour's house number, the safe place or the pickup point.
    pub place: Option<String>,
    /// Who took it.
    pub recipient_name: Option<String>,
    /// Why a failed attempt failed.
    pub reason: Option<String>,
    /// The courier's note.
    pub note: Option<String>,
    /// Photos (SHA-256), the proof photo first.
    pub photos: Vec<String>,
    /// The signature image (SHA-256).
    pub signature: Option<String>,
    /// The ID check as the courier confirmed it: (ID type, minimum age, passed).
    pub id_check: Option<(String, Option<u64>, bool)>,
    /// The record a correction corrects.
    pub corrects: Option<String>,
    /// Marked for the fleet's review (came in after a chain was re-anchored).
    pub review: bool,
    /// The phone's record chain now: `intact`, or since when and why it is broken.
    pub chain: String,
}

/// One line of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    /// When (Unix ms).
    pub at_ms: i64,
    /// What, in a few words.
    pub what: String,
    /// The details.
    pub detail: String,
}

/// A parcel's proof of delivery.
#[derive(Debug, Clone, Serialize)]
pub struct ProofOfDelivery {
    /// Parcel id.
    pub parcel_id: String,
    /// Barcode as printed.
    pub barcode: String,
    /// What is inside, if the shipper said.
    pub description: Option<String>,
    /// The shipper.
    pub shipper: String,
    /// Status.
    pub status: String,
    /// The delivery method the shipper asked for.
    pub method: String,
    /// Whether a code is needed.
    pub code_required: bool,
    /// The policy's reasons (why a code is needed, or not).
    pub reasons: Vec<String>,
    /// When the shipper created it (Unix ms).
    pub created_at_ms: i64,
    /// Its stop.
    pub stop_id: String,
    /// Delivery day.
    pub delivery_date: String,
    /// Recipient.
    pub recipient_name: String,
    /// Address.
    pub address: String,
    /// Postal code.
    pub postal_code: String,
    /// The address on the map, if the shipper gave it.
    pub stop_location: Option<Point>,
    /// Courier, if on a route.
    pub courier: Option<String>,
    /// Wrong codes so far at the stop.
    pub failed_attempts: i64,
    /// The stop's limit.
    pub max_attempts: i64,
    /// Records that cover it, oldest first.
    pub records: Vec<ProofRecord>,
    /// Everything, oldest first.
    pub timeline: Vec<TimelineEntry>,
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The columns a [`ProofRecord`] is read from ([`record_from`]), for queries that join the
/// record `events e`, its phone `devices d` and the phone's courier `couriers c`.
pub(super) const RECORD_COLUMNS: &str = "e.id, e.kind, e.status, e.reject_code, c.name, \
     e.device_id, e.seq, e.received_at, e.review, e.body, d.chain_broken_at, d.chain_broken_reason";

/// A [`ProofRecord`] from the [`RECORD_COLUMNS`] of `r`, the first at index `at`: the row's
/// columns, and the evidence read from the stored body.
pub(super) fn record_from(r: &Row, at: usize) -> DbResult<ProofRecord> {
    let broken: Option<i64> = r.get(at + 10)?;
    let why: Option<String> = r.get(at + 11)?;
    let mut rec = ProofRecord {
        event_id: r.get(at)?,
        kind: r.get(at + 1)?,
        status: r.get(at + 2)?,
        reject_code: r.get(at + 3)?,
        courier: r.get(at + 4)?,
        device_id: r.get(at + 5)?,
        seq: r.get(at + 6)?,
        received_at_ms: r.get(at + 7)?,
        review: r.get(at + 8)?,
        chain: match broken {
            None => "intact".into(),
            Some(at) => format!("broken since {} UTC: {}", when(at), why.unwrap_or_default()),
        },
        ..ProofRecord::default()
    };
    let body: String = r.get(at + 9)?;
    evidence(
        &mut rec,
        &serde_json::from_str(&body).unwrap_or(Value::Null),
    );
    Ok(rec)
}

/// Where a stored record says the phone was.
pub(super) fn location(stored: &Value) -> Option<Point> {
    Some(Point {
        lat: stored.pointer("/location/lat").and_then(Value::as_f64)?,
        lon: stored.pointer("/location/lon").and_then(Value::as_f64)?,
    })
}

/// A stored record body's evidence into `rec`.
fn evidence(rec: &mut ProofRecord, stored: &Value) {
    let body = stored.get("body").unwrap_or(&Value::Null);
    rec.occurred_at_ms = stored
        .get("occurred_at_ms")
        .and_then(Value::as_i64)
        .unwrap_or(rec.received_at_ms);
    rec.location = location(stored);
    if rec.location.is_some() {
        rec.accuracy_m = stored
            .pointer("/location/accuracy_m")
            .and_then(Value::as_f64);
    }
    rec.verification = text(body, "/verification/method");
    rec.method = text(body, "/method")
        .or_else(|| (rec.kind == "delivered").then(|| "recipient".to_string()));
    rec.place = text(body, "/place");
    rec.recipient_name = text(body, "/recipient_name");
    rec.reason = text(body, "/reason");
    rec.note = text(body, "/note");
    rec.photos = ["/photo_sha256", "/contents_photo_sha256"]
        .iter()
        .filter_map(|p| text(body, p))
        .collect();
    rec.signature = text(body, "/signature_sha256");
    rec.id_check = body.get("id_check").filter(|v| v.is_object()).map(|c| {
        (
            text(c, "/id_type").unwrap_or_default(),
            c.get("minimum_age").and_then(Value::as_u64),
            c.get("passed").and_then(Value::as_bool).unwrap_or(false),
        )
    });
    rec.corrects = text(body, "/corrects");
}

/// "at once", "12 minutes later", "3 hours later": how long after recording a record arrived.
fn delay(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    match minutes {
        0 => "at once".into(),
        1..=119 => format!("{minutes} minutes later"),
        _ => format!("{} hours later", minutes / 60),
    }
}

/// The day of a Unix ms time (UTC).
fn when(ms: i64) -> String {
    crate::domain::zone::FleetZone::utc().date_of(ms)
}

impl Store {
    /// Parcels whose barcode, recipient or courier contains `q` (case ignored), newest day
    /// first; at most `limit`.
    pub fn search_parcels(&self, q: &str, limit: u32) -> Result<Vec<ParcelHit>, StoreError> {
        let like = format!(
            "%{}%",
            q.trim()
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        self.read(|db| {
            Ok(db.query_map(
                &format!(
                    "{HIT_SELECT} WHERE LOWER(p.barcode_raw) LIKE ?1 ESCAPE '\\' \
                     OR LOWER(p.barcode_key) LIKE ?1 ESCAPE '\\' \
                     OR LOWER(s.recipient_name) LIKE ?1 ESCAPE '\\' OR LOWER(c.name) LIKE ?1 ESCAPE '\\' \
                     ORDER BY s.delivery_date DESC, s.sequence, p.id LIMIT ?2"
                ),
                params![like, i64::from(limit)],
                hit_from,
            )?)
        })
    }

    /// Parcels in dispute (a handover the server refused for a missing step), newest day
    /// first; at most `limit`.
    pub fn disputed_parcels(&self, limit: u32) -> Result<Vec<ParcelHit>, StoreError> {
        self.read(|db| {
            Ok(db.query_map(
                &format!(
                    "{HIT_SELECT} WHERE p.status = 'disputed' \
                     ORDER BY s.delivery_date DESC, p.id LIMIT ?1"
                ),
                params![i64::from(limit)],
                hit_from,
            )?)
        })
    }

    /// Accepted handovers received since `since_ms` whose phone was further than `far_m`
    /// metres from the stop's address (stops with a position only), furthest first; at most
    /// 100. A record of several parcels is named by its first.
    pub fn far_handovers(&self, since_ms: i64, far_m: f64) -> Result<Vec<FarHandover>, StoreError> {
        let mut far: Vec<FarHandover> = self.read(|db| {
            Ok(db.query_map(
                "SELECT e.id, e.body, c.name, s.address, e.received_at, s.lat, s.lon, p.id, p.barcode_raw \
                 FROM events e JOIN stops s ON s.id = e.stop_id JOIN devices d ON d.id = e.device_id \
                 JOIN couriers c ON c.id = d.courier_id \
                 JOIN parcels p ON p.id = (SELECT MIN(ep.parcel_id) FROM event_parcels ep WHERE ep.event_id = e.id) \
                 WHERE e.kind = 'delivered' AND e.status = 'accepted' AND e.received_at >= ?1 \
                   AND s.lat IS NOT NULL AND s.lon IS NOT NULL",
                params![since_ms],
                |r| {
                    let stop = Point {
                        lat: r.get(5)?,
                        lon: r.get(6)?,
                    };
                    let body: String = r.get(1)?;
                    let Some(at) = location(&serde_json::from_str(&body).unwrap_or(Value::Null))
                    else {
                        return Ok(None);
                    };
                    Ok(Some(FarHandover {
                        event_id: r.get(0)?,
                        courier: r.get(2)?,
                        address: r.get(3)?,
                        received_at_ms: r.get(4)?,
                        parcel_id: r.get(7)?,
                        barcode: r.get(8)?,
                        distance_m: stop.distance_m(at),
                    }))
                },
            )?
            .into_iter()
            .flatten()
            .filter(|f| f.distance_m > far_m)
            .collect())
        })?;
        far.sort_by(|a, b| b.distance_m.total_cmp(&a.distance_m));
        far.truncate(100);
        Ok(far)
    }

    /// The proof of delivery of a parcel (`None`: no such parcel).
    pub fn proof_of_delivery(&self, parcel: &str) -> Result<Option<ProofOfDelivery>, StoreError> {
        self.read(|db| proof(db, parcel))
    }
}

/// The timeline entries of one stop: its codes made and ended, its messages, its online checks.
fn stop_timeline(
    db: &Db<'_>,
    stop: &str,
    timeline: &mut Vec<TimelineEntry>,
) -> Result<(), StoreError> {
    let codes: Vec<(i64, Option<i64>, Option<String>, i64)> = db.query_map(
        "SELECT created_at, superseded_at, ended_by, expires_at FROM codes WHERE stop_id = ?1 \
         ORDER BY created_at, id",
        [stop],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    for (i, (made, ended, why, expires)) in codes.iter().enumerate() {
        timeline.push(TimelineEntry {
            at_ms: *made,
            what: if i == 0 { "Code made" } else { "New code made" }.into(),
            detail: format!("valid until {} UTC", when(*expires)),
        });
        if let Some(at) = ended {
            let why = match why.as_deref() {
                Some("joined") => "a parcel joined the stop; a new code covers them all",
                Some("resend") => "the customer asked for the code again",
                Some("reset") => "the fleet made a new code (the old one is void)",
                Some("consumed") => "the stop was handed over",
                Some("rescheduled") => "the customer moved the delivery to another day",
                _ => "replaced",
            };
            timeline.push(TimelineEntry {
                at_ms: *at,
                what: "Code ended".into(),
                detail: why.into(),
            });
        }
    }

    /// (created, channel, recipient, subject, sent, attempts, dropped, why dropped)
    type Message = (
        i64,
        String,
        String,
        String,
        Option<i64>,
        i64,
        Option<i64>,
        Option<String>,
    );
    let messages: Vec<Message> =
        db.query_map(
            "SELECT created_at, channel, recipient, subject, sent_at, attempts, dropped_at, drop_reason \
             FROM outbox WHERE stop_id = ?1 ORDER BY created_at, id",
            [stop],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            },
        )?;
    for (made, channel, to, subject, sent, attempts, dropped, why) in messages {
        let (at, what) = match (sent, dropped) {
            (Some(at), _) => (at, format!("{channel} sent")),
            (None, Some(at)) => (at, format!("{channel} not sent")),
            (None, None) => (made, format!("{channel} waiting to be sent")),
        };
        let mut detail = format!("to {to}: {subject}");
        if let Some(why) = why {
            detail.push_str(&format!(" — {why} after {attempts} tries"));
        }
        timeline.push(TimelineEntry {
            at_ms: at,
            what,
            detail,
        });
    }

    let checks: Vec<(i64, String)> = db.query_map(
        "SELECT v.created_at, c.name FROM verifications v JOIN devices d ON d.id = v.device_id \
         JOIN couriers c ON c.id = d.courier_id WHERE v.stop_id = ?1 ORDER BY v.created_at, v.id",
        [stop],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    for (at, courier) in checks {
        timeline.push(TimelineEntry {
            at_ms: at,
            what: "Code checked online: right".into(),
            detail: format!("on {courier}'s phone"),
        });
    }

    Ok(())
}

/// The timeline entries of the depot check-ins that scanned the label `barcode_key` in the van
/// of a courier of one of `stops`, since the parcel was created. A courier's check-ins of a day
/// are kept as one, at the time of the last.
fn depot_timeline(
    db: &Db<'_>,
    stops: &[String],
    barcode_key: &str,
    since_ms: i64,
    timeline: &mut Vec<TimelineEntry>,
) -> Result<(), StoreError> {
    let mut values = vec![SqlValue::Int(since_ms)];
    values.extend(stops.iter().map(|s| SqlValue::Text(s.clone())));
    let check_ins: Vec<(String, String, i64, String)> = db.query_map(
        &format!(
            "SELECT d.checkin_date, c.name, d.checked_in_at, d.scanned \
             FROM depot_checkins d JOIN couriers c ON c.id = d.courier_id \
             WHERE d.checked_in_at >= ?1 AND d.courier_id IN \
               (SELECT s.courier_id FROM stops s WHERE s.id IN ({}))",
            placeholders(2, stops.len())
        ),
        values,
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    for (date, courier, at, scanned) in check_ins {
        let scanned: Vec<String> = serde_json::from_str(&scanned).unwrap_or_default();
        if scanned.iter().any(|k| k == barcode_key) {
            timeline.push(TimelineEntry {
                at_ms: at,
                what: "Back at the depot".into(),
                detail: format!("scanned at {courier}'s depot check-in of {date}"),
            });
        }
    }
    Ok(())
}

fn proof(db: &Db<'_>, parcel: &str) -> Result<Option<ProofOfDelivery>, StoreError> {
    let head = qrow(
        db,
        "SELECT p.id, p.barcode_raw, p.description, sh.name, p.status, p.method, p.code_required, \
         p.reasons, p.created_at, s.id, s.delivery_date, s.recipient_name, s.address, \
         s.postal_code, s.lat, s.lon, c.name, s.failed_attempts, s.max_attempts, p.barcode_key \
         FROM parcels p JOIN stops s ON s.id = p.stop_id JOIN shippers sh ON sh.id = p.shipper_id \
         LEFT JOIN couriers c ON c.id = s.courier_id WHERE p.id = ?1",
        [parcel],
        |r| {
            let reasons: String = r.get(7)?;
            let (lat, lon): (Option<f64>, Option<f64>) = (r.get(14)?, r.get(15)?);
            let pod = ProofOfDelivery {
                parcel_id: r.get(0)?,
                barcode: r.get(1)?,
                description: r.get(2)?,
                shipper: r.get(3)?,
                status: r.get(4)?,
                method: r.get(5)?,
                code_required: r.get(6)?,
                reasons: serde_json::from_str(&reasons).unwrap_or_default(),
                created_at_ms: r.get(8)?,
                stop_id: r.get(9)?,
                delivery_date: r.get(10)?,
                recipient_name: r.get(11)?,
                address: r.get(12)?,
                postal_code: r.get(13)?,
                stop_location: lat.zip(lon).map(|(lat, lon)| Point { lat, lon }),
                courier: r.get(16)?,
                failed_attempts: r.get(17)?,
                max_attempts: r.get(18)?,
                records: Vec::new(),
                timeline: Vec::new(),
            };
            Ok((pod, r.get::<_, String>(19)?))
        },
    )
    .optional()?;
    let Some((mut pod, barcode_key)) = head else {
        return Ok(None);
    };
    let mut timeline = vec![TimelineEntry {
        at_ms: pod.created_at_ms,
        what: "Created".into(),
        detail: format!(
            "by {}, for {}; {}{}",
            pod.shipper,
            pod.delivery_date,
            if pod.code_required {
                "a delivery code is needed"
            } else {
                "no delivery code is needed"
            },
            if pod.reasons.is_empty() {
                String::new()
            } else {
                format!(" ({})", pod.reasons.join("; "))
            }
        ),
    }];

    let mut stops = vec![pod.stop_id.clone()];
    let mut records: Vec<ProofRecord> = db.query_map(
        &format!(
            "SELECT {RECORD_COLUMNS}, e.stop_id FROM event_parcels ep JOIN events e ON e.id = ep.event_id \
             JOIN devices d ON d.id = e.device_id JOIN couriers c ON c.id = d.courier_id \
             WHERE ep.parcel_id = ?1 ORDER BY e.received_at, e.device_id, e.seq"
        ),
        [parcel],
        |r| {
            let stop: String = r.get(12)?;
            if !stops.contains(&stop) && stop != uuid::Uuid::nil().to_string() {
                stops.push(stop);
            }
            record_from(r, 0)
        },
    )?;
    // A phone's report of the label as not on its route names no parcel (the parcel may not
    // even be announced yet): it is the parcel's by its label, as in the inbox.
    records.extend(db.query_map(
        &format!(
            "SELECT {RECORD_COLUMNS} FROM unexpected_parcels u JOIN events e ON e.id = u.event_id \
             JOIN devices d ON d.id = e.device_id JOIN couriers c ON c.id = d.courier_id \
             WHERE u.barcode_key = ?1"
        ),
        [&barcode_key],
        |r| record_from(r, 0),
    )?);
    records.sort_by(|a, b| {
        (a.received_at_ms, &a.device_id, a.seq).cmp(&(b.received_at_ms, &b.device_id, b.seq))
    });
    // A parcel moved to a later day after a failed attempt had its earlier stops' codes,
    // messages and checks too.
    for stop in &stops {
        stop_timeline(db, stop, &mut timeline)?;
    }
    depot_timeline(db, &stops, &barcode_key, pod.created_at_ms, &mut timeline)?;
    for rec in &records {
        let what = match rec.kind.as_str() {
            "delivered" => "Handed over",
            "failed" => "Not delivered",
            "correction" => "Corrected",
            "unexpected" => "Reported as not on the route",
            other => other,
        };
        let mut detail = format!(
            "recorded on {}'s phone, received {} ({}",
            rec.courier,
            delay(rec.received_at_ms - rec.occurred_at_ms),
            rec.status
        );
        if let Some(code) = &rec.reject_code {
            detail.push_str(&format!(": {code}"));
        }
        detail.push(')');
        timeline.push(TimelineEntry {
            at_ms: rec.occurred_at_ms,
            what: what.into(),
            detail,
        });
    }

    let subjects: Vec<String> = [pod.parcel_id.clone(), pod.stop_id.clone()]
        .into_iter()
        .chain(records.iter().map(|r| r.event_id.clone()))
        .collect();
    for subject in &subjects {
        let audit: Vec<(i64, String, String, String)> = db.query_map(
            "SELECT at, actor, action, detail FROM audit_log WHERE subject = ?1 ORDER BY id",
            [subject],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        for (at, actor, action, detail) in audit {
            timeline.push(TimelineEntry {
                at_ms: at,
                what: action.replace('_', " "),
                detail: if detail.is_empty() {
                    format!("by {actor}")
                } else {
                    format!("by {actor}: {detail}")
                },
            });
        }
    }
    timeline.sort_by_key(|t| t.at_ms);
    pod.records = records;
    pod.timeline = timeline;
    Ok(Some(pod))
}

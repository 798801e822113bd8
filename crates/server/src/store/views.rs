//! What the pages and the admin API read: deliveries, the outbox, the customer's page, labels, the fleet summary.

use doorstep_protocol::wire::{
    OutboxEntry, ParcelStatus, ParcelView, PolicyDecision, StoredDelivery,
};
use doorstep_protocol::{EventId, StopId};

use super::backend::sql::{Db, OptionalExt, params, qrow};
use super::error::StoreError;
use super::handle::Store;
use super::models::{FleetSummary, Label};
use super::rows::{bad_column, parse_enum};

impl Store {
    /// Stored events, for a delivery day or all.
    pub fn deliveries(&self, date: Option<&str>) -> Result<Vec<StoredDelivery>, StoreError> {
        self.stored_deliveries(date, false)
    }

    /// Stored events of a day (or all), only those marked for review if `review_only`.
    pub(super) fn stored_deliveries(
        &self,
        date: Option<&str>,
        review_only: bool,
    ) -> Result<Vec<StoredDelivery>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, device_id, seq, stop_id, parcel_ids, kind, status, reject_code, received_at, review FROM events \
                 WHERE (CAST(?1 AS TEXT) IS NULL OR delivery_date = ?1) AND (?2 = 0 OR review = 1) \
                 ORDER BY received_at, device_id, seq, id",
            )?;
            let rows = st.query_map(params![date, review_only], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, i64>(8)?,
                    r.get::<_, bool>(9)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, dev, seq, stop, parcels, kind, status, reject, at, review) = row?;
                let (Ok(event_id), Ok(device_id), Ok(stop_id)) =
                    (id.parse::<EventId>(), dev.parse(), stop.parse())
                else {
                    continue;
                };
                out.push(StoredDelivery {
                    event_id,
                    device_id,
                    seq: seq as u64,
                    stop_id,
                    parcel_ids: serde_json::from_str(&parcels).unwrap_or_default(),
                    kind,
                    status,
                    reject_code: reject.as_deref().and_then(parse_enum),
                    received_at_ms: at,
                    review,
                });
            }
            Ok(out)
        })
    }

    /// Outbox entries (no bodies), with why a message will never be sent.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, channel, recipient, subject, attempts, sent_at, last_error, \
                 CASE WHEN sent_at IS NULL THEN drop_reason END FROM outbox ORDER BY id",
            )?;
            let rows = st.query_map(params![], |r| {
                Ok(OutboxEntry {
                    id: r.get(0)?,
                    channel: r.get(1)?,
                    recipient: r.get(2)?,
                    subject: r.get(3)?,
                    attempts: r.get(4)?,
                    sent: r.get::<_, Option<i64>>(5)?.is_some(),
                    last_error: r.get(6)?,
                    dropped: r.get(7)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The parcels of a day, for the label sheet.
    pub fn labels(&self, date: &str) -> Result<Vec<Label>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT p.barcode_raw, s.recipient_name, s.address, COALESCE(p.description, ''), s.code_required \
                 FROM parcels p JOIN stops s ON s.id = p.stop_id WHERE s.delivery_date = ?1 ORDER BY s.sequence, p.created_at",
            )?;
            let rows = st.query_map([date], |r| {
                let code: bool = r.get(4)?;
                let desc: String = r.get(3)?;
                Ok(Label {
                    barcode: r.get(0)?,
                    recipient_name: r.get(1)?,
                    address: r.get(2)?,
                    note: format!("{desc}{}", if code { " · code needed" } else { "" }),
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The fleet page's numbers for a day.
    pub fn fleet_summary(&self, date: &str) -> Result<FleetSummary, StoreError> {
        let devices = self.devices()?;
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT p.status, COUNT(*) FROM parcels p JOIN stops s ON s.id = p.stop_id \
                 WHERE s.delivery_date = ?1 GROUP BY p.status ORDER BY p.status",
            )?;
            let by_status = st
                .query_map([date], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            let mut st = c.prepare_cached(
                "SELECT p.barcode_raw, p.status, s.recipient_name FROM parcels p JOIN stops s ON s.id = p.stop_id \
                 WHERE s.delivery_date = ?1 AND p.status IN ('failed', 'locked', 'disputed') ORDER BY p.status, p.barcode_raw",
            )?;
            let exceptions = st
                .query_map([date], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(FleetSummary {
                by_status,
                exceptions,
                devices: devices.clone(),
                couriers: couriers(c)?,
            })
        })
    }

    /// Every courier, (id, name), by name.
    pub fn couriers(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(couriers)
    }
}

pub(super) fn couriers(c: &Db<'_>) -> Result<Vec<(String, String)>, StoreError> {
    Ok(c.query_map(
        "SELECT id, name FROM couriers ORDER BY name",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// A stop locked by wrong codes whose parcels are not all delivered, for the fleet page's
/// "Locked stops" (where the fleet manager sends the customer a new code).
#[derive(Debug, Clone)]
pub struct LockedStop {
    /// The stop.
    pub stop_id: StopId,
    /// Its delivery day.
    pub delivery_date: String,
    /// The recipient.
    pub recipient_name: String,
    /// The address.
    pub address: String,
    /// The courier it is assigned to, if any.
    pub courier_name: Option<String>,
    /// Wrong codes counted, and the limit that locked it.
    pub failed_attempts: i64,
    /// The limit.
    pub max_attempts: i64,
    /// Its parcels not delivered yet.
    pub open_parcels: i64,
}

impl Store {
    /// Stops locked by wrong codes (every attempt used) that still have parcels to deliver,
    /// newest delivery day first; at most `limit`.
    pub fn locked_stops(&self, limit: u32) -> Result<Vec<LockedStop>, StoreError> {
        self.read(|c| {
            let rows = c.query_map(
                "SELECT s.id, s.delivery_date, s.recipient_name, s.address, c.name, \
                 s.failed_attempts, s.max_attempts, \
                 (SELECT COUNT(*) FROM parcels p WHERE p.stop_id = s.id AND p.status != 'delivered') \
                 FROM stops s LEFT JOIN couriers c ON c.id = s.courier_id \
                 WHERE s.code_required = 1 AND s.failed_attempts >= s.max_attempts \
                 AND EXISTS (SELECT 1 FROM parcels p WHERE p.stop_id = s.id AND p.status != 'delivered') \
                 ORDER BY s.delivery_date DESC, s.sequence, s.id LIMIT ?1",
                params![i64::from(limit)],
                |r| {
                    let Ok(stop_id) = r.get::<_, String>(0)?.parse() else {
                        return Ok(None);
                    };
                    Ok(Some(LockedStop {
                        stop_id,
                        delivery_date: r.get(1)?,
                        recipient_name: r.get(2)?,
                        address: r.get(3)?,
                        courier_name: r.get(4)?,
                        failed_attempts: r.get(5)?,
                        max_attempts: r.get(6)?,
                        open_parcels: r.get(7)?,
                    }))
                },
            )?;
            Ok(rows.into_iter().flatten().collect())
        })
    }
}

pub(super) fn parcel_view(
    c: &Db<'_>,
    public_url: &str,
    id: &str,
) -> Result<ParcelView, StoreError> {
    let row = qrow(
        c,
        "SELECT p.id, p.stop_id, p.barcode_key, p.status, p.code_required, p.photo_required, \
             p.offline_allowed, p.reasons, s.code_digits, s.max_attempts, s.public_ref, \
             (SELECT expires_at FROM codes WHERE stop_id = s.id AND superseded_at IS NULL), p.door, \
             s.delivery_date, p.failed_deliveries \
             FROM parcels p JOIN stops s ON s.id = p.stop_id WHERE p.id = ?1",
        [id],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, bool>(5)?,
                r.get::<_, bool>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, u8>(8)?,
                r.get::<_, u32>(9)?,
                r.get::<_, String>(10)?,
                r.get::<_, Option<i64>>(11)?,
                r.get::<_, String>(12)?,
                r.get::<_, String>(13)?,
                r.get::<_, u32>(14)?,
            ))
        },
    )
    .optional()?
    .ok_or(StoreError::NotFound("parcel"))?;
    let (
        pid,
        sid,
        barcode,
        status,
        req,
        photo,
        offline,
        reasons,
        digits,
        attempts,
        public_ref,
        expires,
        door,
        delivery_date,
        failed_deliveries,
    ) = row;
    Ok(ParcelView {
        parcel_id: pid.parse().map_err(|_| bad_column(0))?,
        stop_id: sid.parse().map_err(|_| bad_column(1))?,
        barcode,
        status: parse_enum(&status).unwrap_or(ParcelStatus::Pending),
        delivery_date,
        failed_deliveries,
        decision: PolicyDecision {
            code_required: req,
            code_length: req.then_some(digits + 1),
            max_attempts: attempts,
            offline_allowed: offline,
            photo_required: photo,
            methods: serde_json::from_str(&door).unwrap_or_default(),
            reasons: serde_json::from_str(&reasons).unwrap_or_default(),
        },
        code_expires_at: expires.map(|e| e / 1000),
        customer_url: format!("{}/c/{}", public_url.trim_end_matches('/'), public_ref),
    })
}

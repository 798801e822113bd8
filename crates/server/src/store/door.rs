//! Records that are not a handover: a parcel that is not on the route, the end of
//! the day at the depot, a correction of a handover; and what the fleet manager sees of them
//! (the open reports, the van's reconciliation per courier and day, the corrections).

use doorstep_protocol::wire::{DeliveryEvent, EventBody, EventStatus, RejectCode, WebhookEvent};
use doorstep_protocol::{Barcode, ParcelId};

use super::backend::sql::{Db, OptionalExt, exec, params, qrow};
use super::error::StoreError;
use super::handle::Store;
use super::models::DeviceAuth;
use crate::domain::zone::is_date;

use super::events::rejected;

/// A parcel a courier reported as not on their route.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnexpectedParcel {
    /// The report (its record id).
    pub event_id: String,
    /// Who found it.
    pub courier_name: String,
    /// The label as scanned.
    pub barcode: String,
    /// The parcel the label belongs to, if the fleet knows it, and whose route it is on.
    pub known_parcel: Option<String>,
    /// The courier whose route it is on now, if any.
    pub on_route_of: Option<String>,
    /// Whether a photo came with it.
    pub photo_sha256: Option<String>,
    /// The courier's note.
    pub note: Option<String>,
    /// The day reported.
    pub report_date: String,
    /// When it was put on the reporting courier's route, if it was.
    pub assigned_at: Option<i64>,
}

/// The van's end of the day: what went out, what came back, what is missing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VanReconciliation {
    /// The courier.
    pub courier_name: String,
    /// The day.
    pub date: String,
    /// Parcels delivered that day.
    pub delivered: u32,
    /// Parcels with a failed attempt that day, to be tried again.
    pub reattempt: u32,
    /// Parcels with a failed attempt that day going back to the depot.
    pub returning: u32,
    /// Labels expected back and scanned at the depot.
    pub checked_in: Vec<String>,
    /// Labels expected back and not scanned: look for them.
    pub missing: Vec<String>,
    /// Labels scanned at the depot that were not expected back.
    pub extra: Vec<String>,
    /// When the van was checked in; `None` while it has not been.
    pub checked_in_at: Option<i64>,
}

/// A correction a courier made of a handover.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CorrectionView {
    /// The correction's record.
    pub event_id: String,
    /// The record it corrects.
    pub corrects: String,
    /// Who.
    pub courier_name: String,
    /// `wrong_door` or `not_handed_over`.
    pub reason: String,
    /// The courier's note.
    pub note: Option<String>,
    /// The parcels' labels.
    pub barcodes: Vec<String>,
    /// When the server stored it.
    pub received_at_ms: i64,
}

/// Labels one courier checks in at the depot in a day (one check-in or several).
const MAX_CHECK_IN_LABELS: usize = 2000;

/// Unexpected-parcel reports one phone may make in a day: each is listed on the fleet page
/// until someone deals with it.
const MAX_UNEXPECTED_PER_DAY: i64 = 100;

impl Store {
    /// An unexpected parcel's report: stored for the fleet manager (the label normalised when
    /// it parses, so it can be matched to a known parcel).
    pub(super) fn apply_unexpected(
        &self,
        tx: &Db<'_>,
        device: &DeviceAuth,
        ev: &DeliveryEvent,
        now: i64,
    ) -> Result<EventStatus, StoreError> {
        let EventBody::Unexpected {
            barcode,
            photo_sha256,
            note,
        } = &ev.body
        else {
            unreachable!("called for unexpected-parcel records only");
        };
        let raw = barcode.trim();
        if raw.is_empty() || raw.chars().count() > 200 || !ev.parcel_ids.is_empty() {
            return Ok(rejected(
                RejectCode::Invalid,
                "an unexpected-parcel report needs the label (up to 200 characters) and no parcels",
            ));
        }
        let key = Barcode::parse(raw)
            .map(|b| b.key())
            .unwrap_or_else(|_| raw.to_string());
        let day = self.settings.time_zone.date_of(ev.occurred_at_ms.min(now));
        let reported: i64 = qrow(
            tx,
            "SELECT COUNT(*) FROM unexpected_parcels WHERE device_id = ?1 AND report_date = ?2",
            params![device.device_id.to_string(), day],
            |r| r.get(0),
        )?;
        if reported >= MAX_UNEXPECTED_PER_DAY {
            return Ok(rejected(
                RejectCode::Invalid,
                &format!(
                    "this phone has reported {MAX_UNEXPECTED_PER_DAY} unexpected parcels today, \
                     as many as the server takes in a day; call the depot"
                ),
            ));
        }
        exec(
            tx,
            "INSERT INTO unexpected_parcels (event_id, courier_id, device_id, barcode_key, barcode_raw, \
             photo_sha256, note, report_date, reported_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                ev.id.to_string(),
                device.courier_id.to_string(),
                device.device_id.to_string(),
                key,
                raw,
                photo_sha256,
                note.as_deref()
                    .map(|n| n.chars().take(500).collect::<String>()),
                day,
                now
            ],
        )?;
        Ok(EventStatus::Accepted)
    }

    /// A depot check-in: the labels scanned in the van at the end of `date`, for the
    /// reconciliation. Parcels going back that are scanned are now at the depot.
    pub(super) fn apply_check_in(
        &self,
        tx: &Db<'_>,
        device: &DeviceAuth,
        ev: &DeliveryEvent,
        now: i64,
    ) -> Result<EventStatus, StoreError> {
        let EventBody::DepotCheckIn { date, barcodes } = &ev.body else {
            unreachable!("called for depot check-ins only");
        };
        if !is_date(date) || barcodes.len() > MAX_CHECK_IN_LABELS || !ev.parcel_ids.is_empty() {
            return Ok(rejected(
                RejectCode::Invalid,
                &format!(
                    "a depot check-in needs its day (YYYY-MM-DD), at most \
                     {MAX_CHECK_IN_LABELS} labels and no parcels"
                ),
            ));
        }
        // For the day it was made on (the backdating check bounds how old that may be), and
        // never a later one.
        let made_on = self.settings.time_zone.date_of(ev.occurred_at_ms.min(now));
        if *date != made_on {
            return Ok(rejected(
                RejectCode::Invalid,
                "a depot check-in is for the day it is made on",
            ));
        }
        let mut keys: Vec<String> = barcodes
            .iter()
            .map(|b| {
                Barcode::parse(b)
                    .map(|b| b.key())
                    .unwrap_or_else(|_| b.trim().to_string())
            })
            .collect();
        keys.sort();
        keys.dedup();
        let courier = device.courier_id.to_string();
        // A second check-in of the day adds to the first (a courier who scanned a late
        // parcel), and the day's labels together are bounded.
        let earlier: Vec<String> = qrow(
            tx,
            "SELECT scanned FROM depot_checkins WHERE courier_id = ?1 AND checkin_date = ?2",
            params![courier, date],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
        let new: Vec<String> = keys
            .iter()
            .filter(|k| earlier.binary_search(k).is_err())
            .cloned()
            .collect();
        if earlier.len() + new.len() > MAX_CHECK_IN_LABELS {
            return Ok(rejected(
                RejectCode::Invalid,
                &format!(
                    "a courier checks in at most {MAX_CHECK_IN_LABELS} labels a day; call the depot"
                ),
            ));
        }
        for key in &new {
            exec(
                tx,
                "UPDATE parcels SET status = 'at_depot' WHERE barcode_key = ?1 AND status = 'returning' \
                 AND stop_id IN (SELECT id FROM stops WHERE courier_id = ?2)",
                params![key, courier],
            )?;
        }
        let mut all = earlier;
        all.extend(new);
        all.sort();
        exec(
            tx,
            "INSERT INTO depot_checkins (courier_id, checkin_date, event_id, checked_in_at, scanned) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (courier_id, checkin_date) DO UPDATE SET \
             event_id = excluded.event_id, checked_in_at = excluded.checked_in_at, scanned = excluded.scanned",
            params![
                courier,
                date,
                ev.id.to_string(),
                now,
                serde_json::to_string(&all).unwrap_or_default()
            ],
        )?;
        Ok(EventStatus::Accepted)
    }

    /// A correction of this phone's own accepted handover of the same day: the parcels are to
    /// be delivered again (their code, if it was used, stays used: the fleet manager makes a
    /// new one), and the shipper hears of it.
    pub(super) fn apply_correction(
        &self,
        tx: &Db<'_>,
        device: &DeviceAuth,
        ev: &DeliveryEvent,
        now: i64,
    ) -> Result<EventStatus, StoreError> {
        let EventBody::Correction { corrects, .. } = &ev.body else {
            unreachable!("called for corrections only");
        };
        let row: Option<(String, String, String, String, String, Option<String>)> = qrow(
            tx,
            "SELECT device_id, kind, status, stop_id, parcel_ids, delivery_date FROM events WHERE id = ?1",
            [corrects.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()?;
        let Some((owner, kind, status, stop, parcels, date)) = row else {
            return Ok(rejected(
                RejectCode::Invalid,
                "the corrected record is not on the server",
            ));
        };
        let parcels: Vec<ParcelId> = serde_json::from_str(&parcels).unwrap_or_default();
        if owner != device.device_id.to_string() || kind != "delivered" || status != "accepted" {
            return Ok(rejected(
                RejectCode::Invalid,
                "only this phone's own accepted handover can be corrected",
            ));
        }
        if stop != ev.stop_id.to_string() || parcels != ev.parcel_ids {
            return Ok(rejected(
                RejectCode::Invalid,
                "a correction names the stop and parcels of the record it corrects",
            ));
        }
        let today = self.settings.time_zone.date_of(ev.occurred_at_ms.min(now));
        if date.as_deref() != Some(today.as_str()) {
            return Ok(rejected(
                RejectCode::Invalid,
                "a handover can be corrected only on its delivery day; call the fleet manager",
            ));
        }
        // An earlier correction of it is on the same day's records (the day's index keeps this
        // to one day's events, not the whole table).
        let already: Option<i64> = qrow(
            tx,
            "SELECT 1 FROM events WHERE delivery_date = ?2 AND kind = 'correction' AND status = 'accepted' \
             AND body LIKE ?1",
            params![format!("%\"corrects\":\"{corrects}\"%"), today],
            |r| r.get(0),
        )
        .optional()?;
        if already.is_some() {
            return Ok(rejected(
                RejectCode::Invalid,
                "this handover was corrected already",
            ));
        }
        for p in &parcels {
            exec(
                tx,
                "UPDATE parcels SET status = 'pending' WHERE id = ?1",
                [p.to_string()],
            )?;
        }
        self.queue_webhooks(tx, WebhookEvent::Corrected, ev, None, now)?;
        Ok(EventStatus::Accepted)
    }

    /// Unexpected parcels still open, and those reported on `date`, newest first.
    pub fn unexpected_parcels(&self, date: &str) -> Result<Vec<UnexpectedParcel>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT u.event_id, c.name, u.barcode_raw, p.id, oc.name, u.photo_sha256, u.note, u.report_date, \
                 u.assigned_at FROM unexpected_parcels u JOIN couriers c ON c.id = u.courier_id \
                 LEFT JOIN parcels p ON p.barcode_key = u.barcode_key LEFT JOIN stops s ON s.id = p.stop_id \
                 LEFT JOIN couriers oc ON oc.id = s.courier_id \
                 WHERE u.assigned_at IS NULL OR u.report_date = ?1 \
                 ORDER BY u.reported_at DESC, u.event_id",
            )?;
            let rows = st.query_map(params![date], |r| {
                Ok(UnexpectedParcel {
                    event_id: r.get(0)?,
                    courier_name: r.get(1)?,
                    barcode: r.get(2)?,
                    known_parcel: r.get(3)?,
                    on_route_of: r.get(4)?,
                    photo_sha256: r.get(5)?,
                    note: r.get(6)?,
                    report_date: r.get(7)?,
                    assigned_at: r.get(8)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Fleet manager: puts the reported parcel's stop on the reporting courier's route (its
    /// day stays), so the courier's app picks it up at the next manifest refresh. Refused when
    /// the label is not a parcel the fleet knows (the shipper must announce it first) or it
    /// was delivered.
    pub fn assign_unexpected(
        &self,
        event_id: &str,
        actor: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let row: Option<(String, String, Option<i64>)> = qrow(
                tx,
                "SELECT courier_id, barcode_key, assigned_at FROM unexpected_parcels WHERE event_id = ?1",
                [event_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
            let (courier, key, assigned) = row.ok_or(StoreError::NotFound("report"))?;
            if assigned.is_some() {
                return Err(StoreError::Conflict(
                    "this parcel is on the courier's route already".into(),
                ));
            }
            let parcel: Option<(String, String, String)> = qrow(
                tx,
                "SELECT p.stop_id, p.status, s.delivery_date FROM parcels p JOIN stops s ON s.id = p.stop_id \
                 WHERE p.barcode_key = ?1",
                [&key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
            let Some((stop, status, date)) = parcel else {
                return Err(StoreError::Conflict(
                    "no parcel with this label is known; ask the shipper to announce it first".into(),
                ));
            };
            if status == "delivered" {
                return Err(StoreError::Conflict(
                    "this parcel was delivered already".into(),
                ));
            }
            exec(
                tx,
                "UPDATE stops SET courier_id = ?2, sequence = (SELECT COUNT(*) + 1 FROM stops \
                 WHERE delivery_date = ?3 AND courier_id = ?2) WHERE id = ?1",
                params![stop, courier, date],
            )?;
            exec(
                tx,
                "UPDATE unexpected_parcels SET assigned_at = ?2, assigned_by = ?3 WHERE event_id = ?1",
                params![event_id, now, actor],
            )?;
            self.audit(tx, now, actor, "unexpected_parcel_assigned", event_id, &key)
        })
    }

    /// Each courier's van on `date`: delivered, failed (again tomorrow / going back), and the
    /// depot check-in's reconciliation of what was expected back.
    pub fn van_reconciliation(&self, date: &str) -> Result<Vec<VanReconciliation>, StoreError> {
        self.read(|c| {
            let mut couriers = c.prepare_cached(
                "SELECT DISTINCT c.id, c.name FROM couriers c WHERE c.id IN ( \
                 SELECT courier_id FROM stops WHERE delivery_date = ?1 UNION \
                 SELECT s.courier_id FROM parcels p JOIN stops s ON s.id = p.stop_id WHERE p.last_attempt_date = ?1 UNION \
                 SELECT courier_id FROM depot_checkins WHERE checkin_date = ?1) ORDER BY c.name, c.id",
            )?;
            let list: Vec<(String, String)> = couriers
                .query_map([date], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let mut parcels = c.prepare_cached(
                "SELECT p.barcode_key, p.status, s.delivery_date, p.last_attempt_date FROM parcels p \
                 JOIN stops s ON s.id = p.stop_id WHERE s.courier_id = ?1 \
                 AND (s.delivery_date = ?2 OR p.last_attempt_date = ?2) ORDER BY p.barcode_key",
            )?;
            let mut out = Vec::with_capacity(list.len());
            for (courier, name) in list {
                let rows: Vec<(String, String, String, Option<String>)> = parcels
                    .query_map(params![courier, date], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?
                    .collect::<Result<_, _>>()?;
                let check_in: Option<(String, i64)> = qrow(
                    c,
                    "SELECT scanned, checked_in_at FROM depot_checkins WHERE courier_id = ?1 AND checkin_date = ?2",
                    params![courier, date],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
                let scanned: Vec<String> = check_in
                    .as_ref()
                    .and_then(|(s, _)| serde_json::from_str(s).ok())
                    .unwrap_or_default();
                let mut v = VanReconciliation {
                    courier_name: name,
                    date: date.to_string(),
                    delivered: 0,
                    reattempt: 0,
                    returning: 0,
                    checked_in: Vec::new(),
                    missing: Vec::new(),
                    extra: Vec::new(),
                    checked_in_at: check_in.map(|(_, at)| at),
                };
                let mut expected = Vec::new();
                for (key, status, stop_date, attempt) in rows {
                    let failed_today = attempt.as_deref() == Some(date);
                    match status.as_str() {
                        "delivered" if stop_date == date => v.delivered += 1,
                        "delivered" => {}
                        "returning" | "at_depot" => {
                            v.returning += u32::from(failed_today);
                            expected.push(key);
                        }
                        _ => {
                            // Still to deliver: tried today and moved to a later day, or
                            // never tried; either way it comes back in the van.
                            v.reattempt += u32::from(failed_today && stop_date != date);
                            expected.push(key);
                        }
                    }
                }
                for key in &expected {
                    if scanned.contains(key) {
                        v.checked_in.push(key.clone());
                    } else {
                        v.missing.push(key.clone());
                    }
                }
                v.extra = scanned
                    .into_iter()
                    .filter(|k| !expected.contains(k))
                    .collect();
                out.push(v);
            }
            Ok(out)
        })
    }

    /// Corrections of handovers stored on `date`'s records, newest first.
    pub fn corrections(&self, date: &str) -> Result<Vec<CorrectionView>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT e.id, e.body, c.name, e.parcel_ids, e.received_at FROM events e \
                 JOIN devices d ON d.id = e.device_id JOIN couriers c ON c.id = d.courier_id \
                 WHERE e.kind = 'correction' AND e.status = 'accepted' AND e.delivery_date = ?1 \
                 ORDER BY e.received_at DESC, e.id",
            )?;
            let rows: Vec<(String, String, String, String, i64)> = st
                .query_map([date], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<Result<_, _>>()?;
            let mut out = Vec::with_capacity(rows.len());
            for (id, body, courier, parcels, at) in rows {
                let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let parcels: Vec<String> = serde_json::from_str(&parcels).unwrap_or_default();
                let mut barcodes = Vec::with_capacity(parcels.len());
                for p in &parcels {
                    if let Some(b) = qrow(
                        c,
                        "SELECT barcode_raw FROM parcels WHERE id = ?1",
                        [p],
                        |r| r.get::<_, String>(0),
                    )
                    .optional()?
                    {
                        barcodes.push(b);
                    }
                }
                let text = |k: &str| body["body"][k].as_str().map(str::to_string);
                out.push(CorrectionView {
                    event_id: id,
                    corrects: text("corrects").unwrap_or_default(),
                    courier_name: courier,
                    reason: text("reason").unwrap_or_default(),
                    note: text("note"),
                    barcodes,
                    received_at_ms: at,
                });
            }
            Ok(out)
        })
    }
}

//! Parcels and stops: creation with the policy decision, the stop's code and message, the manifest.

use doorstep_protocol::wire::{
    CustomerChoice, DoorMethod, ExceptionReason, Manifest, ManifestParcel, ManifestStop,
    ParcelStatus, ParcelView, WebhookEvent,
};
use doorstep_protocol::{CourierId, DeliveryCode, ParcelId, StopId};

use super::backend::sql::{Db, OptionalExt, exec, params, qrow};
use super::error::StoreError;
use super::handle::Store;
use super::models::CreatedParcel;
use super::outbox::{tell_customer, void_unsent_code_messages};
use super::rows::{CodeEnd, StopRow, bad_column, load_stop, method_str, new_id, parse_enum};
use super::views::parcel_view;
use crate::domain::parcel::NewParcel;
use crate::domain::policy::{Decision, OnFailure};
use crate::sys::secrets::sha256;

impl Store {
    /// Creates a checked parcel ([`NewParcel::check`]): policy decision, stop grouping, code
    /// creation and the customer's notification, all in one transaction.
    pub fn create_parcel(
        &self,
        shipper_id: &str,
        parcel: &NewParcel,
        now: i64,
    ) -> Result<CreatedParcel, StoreError> {
        let parcel_id = ParcelId::from_uuid(new_id(&self.settings.random, now));
        self.write(|tx| self.create_parcel_in(tx, parcel_id, shipper_id, parcel, now))
    }

    /// [`Self::create_parcel`] inside the caller's transaction (a CSV import stores all its
    /// parcels in one): the same checks, policy decision, stop, code and message.
    pub(super) fn create_parcel_in(
        &self,
        tx: &Db<'_>,
        parcel_id: ParcelId,
        shipper_id: &str,
        parcel: &NewParcel,
        now: i64,
    ) -> Result<CreatedParcel, StoreError> {
        let decision = self.settings.policy.decide(&parcel.facts());
        let recipient_key = parcel.recipient_key(shipper_id);
        let courier = parcel.courier_id.map(|c| c.to_string());
        if let Some(c) = &courier {
            check_courier(tx, c)?;
        }
        let existing: Option<String> = qrow(
            tx,
            "SELECT id FROM stops WHERE delivery_date = ?1 AND recipient_key = ?2",
            params![parcel.delivery_date, recipient_key],
            |r| r.get(0),
        )
        .optional()?;
        let stop_id = match existing {
            Some(id) => {
                join_stop(tx, &id, &decision, courier.as_deref())?;
                id
            }
            None => self.new_stop(
                tx,
                parcel,
                &recipient_key,
                &decision,
                courier.as_deref(),
                now,
            )?,
        };
        insert_parcel(tx, parcel_id, shipper_id, &stop_id, parcel, &decision, now)?;
        let stop = load_stop(tx, &stop_id)?.ok_or(StoreError::NotFound("stop"))?;
        let has_code: Option<String> = qrow(
            tx,
            "SELECT id FROM codes WHERE stop_id = ?1 AND superseded_at IS NULL",
            [&stop_id],
            |r| r.get(0),
        )
        .optional()?;
        // A parcel joining a stop whose code already went out gets a fresh code for the
        // whole stop (same attempt counter), so the customer's message names every parcel.
        let new_code = if stop.code_required {
            Some(self.issue_code(
                tx,
                &stop,
                now,
                &self.settings.time_zone,
                has_code.is_some().then_some(CodeEnd::Joined),
            )?)
        } else {
            None
        };
        let view = parcel_view(tx, &self.settings.public_url, &parcel_id.to_string())?;
        Ok(CreatedParcel {
            view,
            new_code,
            decision,
        })
    }

    /// A new stop for the first parcel of a recipient on a day: last in its courier's order,
    /// with the policy's decision for its code. Returns its id.
    fn new_stop(
        &self,
        tx: &Db<'_>,
        req: &NewParcel,
        recipient_key: &str,
        decision: &Decision,
        courier: Option<&str>,
        now: i64,
    ) -> Result<String, StoreError> {
        let id = StopId::from_uuid(new_id(&self.settings.random, now)).to_string();
        let sequence: i64 = qrow(
            tx,
            "SELECT COUNT(*) + 1 FROM stops WHERE delivery_date = ?1 AND courier_id IS NOT DISTINCT FROM ?2",
            params![req.delivery_date, courier],
            |r| r.get(0),
        )?;
        let public_ref = hex::encode(self.settings.random.bytes::<12>());
        let rref = &sha256(recipient_key.as_bytes())[..8];
        exec(
            tx,
            "INSERT INTO stops (id, delivery_date, recipient_key, courier_id, recipient_name, \
             phone, email, address, postal_code, lat, lon, sequence, code_required, code_digits, \
             max_attempts, offline_allowed, validity_days, reasons, public_ref, recipient_ref, created_at, language) \
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22)",
            params![
                id,
                req.delivery_date,
                recipient_key,
                courier,
                req.name.as_str(),
                req.phone.as_deref(),
                req.email.as_deref(),
                req.address,
                req.postal_code,
                req.location.map(|l| l.lat),
                req.location.map(|l| l.lon),
                sequence,
                decision.code_required,
                decision.code_digits,
                decision.max_attempts,
                decision.offline_allowed,
                decision.validity_days,
                serde_json::to_string(&decision.reasons).unwrap_or_default(),
                public_ref,
                rref,
                now,
                req.language.map(|l| l.as_str())
            ],
        )?;
        Ok(id)
    }

    /// Makes a new code for a stop (superseding any old one) and queues the customer's
    /// message. Returns the plaintext (only seeding keeps it).
    pub(super) fn issue_code(
        &self,
        tx: &Db<'_>,
        stop: &StopRow,
        now: i64,
        offset: &crate::domain::zone::FleetZone,
        ended_by: Option<CodeEnd>,
    ) -> Result<String, StoreError> {
        let replaces = ended_by.is_some();
        let code = self
            .settings
            .random
            .with(|rng| DeliveryCode::generate(rng, usize::from(stop.code_digits)))
            .map_err(|e| StoreError::Validation(e.to_string()))?;
        let stop_id = stop.id.to_string();
        void_unsent_code_messages(tx, &stop_id, now)?;
        // Valid to the end of the last of its delivery days (a code for Friday valid two days
        // lasts to Monday's end when the fleet does not deliver at the weekend).
        let last_day = self
            .settings
            .customers
            .calendar
            .last_valid_day(&stop.delivery_date, stop.validity_days)
            .unwrap_or_else(|| stop.delivery_date.clone());
        let expires = offset
            .window_end_ms(&last_day, 1)
            .unwrap_or(now)
            .min(now + 7 * 86_400_000);
        exec(
            tx,
            "UPDATE codes SET superseded_at = ?2, ended_by = ?3 WHERE stop_id = ?1 AND superseded_at IS NULL",
            params![stop_id, now, ended_by.map_or("joined", CodeEnd::as_str)],
        )?;
        exec(
            tx,
            "INSERT INTO codes (id, stop_id, code_hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                new_id(&self.settings.random, now).to_string(),
                stop_id,
                self.secrets
                    .mac(&[stop_id.as_bytes(), code.expose_digits().as_bytes()]),
                now,
                expires
            ],
        )?;
        let parcels: Vec<String> = {
            let mut st = tx.prepare_cached(
                "SELECT barcode_raw FROM parcels WHERE stop_id = ?1 ORDER BY created_at",
            )?;
            st.query_map([&stop_id], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let link = format!(
            "{}/c/{}",
            self.settings.public_url.trim_end_matches('/'),
            stop.public_ref
        );
        let texts = crate::domain::messages::CodeMessage {
            name: &stop.recipient_name,
            parcels: &parcels,
            date: &stop.delivery_date,
            code: &code.grouped(),
            link: &link,
            replaces,
        }
        .texts(stop.language);
        tell_customer(tx, stop, &texts, Some(&stop_id), now)?;
        Ok(code.expose_digits().to_string())
    }

    /// A parcel as its shipper sees it.
    pub fn parcel(&self, id: ParcelId, shipper: Option<&str>) -> Result<ParcelView, StoreError> {
        self.read(|c| {
            let owner: Option<String> = qrow(
                c,
                "SELECT shipper_id FROM parcels WHERE id = ?1",
                [id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
            match (owner, shipper) {
                (None, _) => Err(StoreError::NotFound("parcel")),
                (Some(o), Some(s)) if o != s => Err(StoreError::NotFound("parcel")),
                _ => parcel_view(c, &self.settings.public_url, &id.to_string()),
            }
        })
    }

    /// A courier's manifest for a day.
    pub fn manifest(&self, courier: CourierId, date: &str) -> Result<Manifest, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, sequence, recipient_name, address, lat, lon, code_required, code_digits, \
                 offline_allowed, reasons, choice_method, choice_place, instructions \
                 FROM stops WHERE courier_id = ?1 AND delivery_date = ?2 ORDER BY sequence, id",
            )?;
            let stops = st
                .query_map(params![courier.to_string(), date], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, u32>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<f64>>(4)?,
                        r.get::<_, Option<f64>>(5)?,
                        r.get::<_, bool>(6)?,
                        r.get::<_, u8>(7)?,
                        r.get::<_, bool>(8)?,
                        r.get::<_, String>(9)?,
                        CustomerChoice {
                            method: r.get::<_, Option<String>>(10)?.as_deref().and_then(parse_enum),
                            place: r.get(11)?,
                            instructions: r.get(12)?,
                        },
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut pst = c.prepare_cached(
                "SELECT id, barcode_key, description, photo_required, method, \
                 CASE WHEN stop_id = ?1 THEN status WHEN status = 'delivered' THEN status ELSE 'failed' END, \
                 door, safe_places FROM parcels WHERE stop_id = ?1 OR moved_from = ?1 ORDER BY created_at, id",
            )?;
            let mut out = Vec::with_capacity(stops.len());
            for (id, seq, name, address, lat, lon, req, digits, offline, reasons, choice) in stops {
                let parcels = pst
                    .query_map([&id], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<String>>(2)?,
                            r.get::<_, bool>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, String>(5)?,
                            r.get::<_, String>(6)?,
                            r.get::<_, String>(7)?,
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .filter_map(|(pid, barcode, description, photo, method, status, door, places)| {
                        let methods: Vec<DoorMethod> = serde_json::from_str(&door).unwrap_or_default();
                        Some(ManifestParcel {
                            parcel_id: pid.parse().ok()?,
                            barcode,
                            description,
                            photo_required: photo,
                            // The customer's method, when the policy allows it for this
                            // parcel (the app opens the method screen on it).
                            method: choice
                                .method
                                .filter(|m| methods.iter().any(|d| d.method == *m))
                                .or_else(|| parse_enum(&method))?,
                            // The phone needs no more than "failed" for a parcel going back
                            // (and apps from before these states know no other word).
                            status: match parse_enum(&status)? {
                                ParcelStatus::Returning | ParcelStatus::AtDepot => {
                                    ParcelStatus::Failed
                                }
                                s => s,
                            },
                            methods,
                            safe_places: serde_json::from_str(&places).unwrap_or_default(),
                        })
                    })
                    .collect::<Vec<_>>();
                // A stop whose parcels all moved to another day (a reattempt) is not shown.
                if parcels.is_empty() {
                    continue;
                }
                out.push(ManifestStop {
                    stop_id: id.parse().map_err(|_| bad_column(0))?,
                    sequence: seq,
                    recipient_name: name,
                    address,
                    location: lat.zip(lon).map(|(lat, lon)| doorstep_protocol::wire::Location {
                        lat,
                        lon,
                        accuracy_m: None,
                    }),
                    code_required: req,
                    code_length: req.then_some(digits + 1),
                    offline_allowed: offline,
                    reasons: serde_json::from_str(&reasons).unwrap_or_default(),
                    parcels,
                    customer: (choice.method.is_some() || choice.instructions.is_some())
                        .then_some(choice),
                });
            }
            Ok(Manifest {
                courier_id: courier,
                date: date.to_string(),
                stops: out,
                app_policy: None,
            })
        })
    }
}

impl Store {
    /// What follows a failed attempt for each of the record's parcels: another attempt on
    /// the next delivery day (the parcel moves to that day's stop for the same recipient, on
    /// the same courier's route, with a fresh code if the stop needs one, and the customer is
    /// told when), or back to the depot (refused, damaged, locked, the policy says so, or no
    /// attempts left). Answers the webhook each parcel gets.
    pub(super) fn after_failed_attempt(
        &self,
        tx: &Db<'_>,
        stop: &StopRow,
        parcel: &str,
        reason: ExceptionReason,
        now: i64,
    ) -> Result<WebhookEvent, StoreError> {
        let (on_failure, max, failed): (String, i64, i64) = qrow(
            tx,
            "UPDATE parcels SET failed_deliveries = failed_deliveries + 1, last_attempt_date = ?2 \
             WHERE id = ?1 RETURNING on_failure, max_delivery_attempts, failed_deliveries",
            params![parcel, stop.delivery_date],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let final_reason = matches!(
            reason,
            ExceptionReason::Refused
                | ExceptionReason::RefusedContents
                | ExceptionReason::RefusedAge
                | ExceptionReason::Damaged
                | ExceptionReason::CodeLocked
        );
        let reattempt =
            !final_reason && on_failure == OnFailure::Reattempt.as_str() && failed < max;
        let next = reattempt
            .then(|| {
                self.settings
                    .customers
                    .calendar
                    .next_delivery_day(&stop.delivery_date)
            })
            .flatten();
        let Some(next) = next else {
            // Back to the depot from the stop of this attempt (a parcel moved to a later day
            // and tried again today leaves that day's route).
            exec(
                tx,
                "UPDATE parcels SET status = 'returning', stop_id = ?2 WHERE id = ?1",
                params![parcel, stop.id.to_string()],
            )?;
            return Ok(WebhookEvent::Returning);
        };
        self.move_to_day(tx, stop, parcel, &next, now)?;
        Ok(WebhookEvent::Reattempt)
    }

    /// Moves a parcel to the stop for the same recipient on `date` (joining it, or making
    /// one on the same courier's route), pending again; a fresh code if that stop needs one,
    /// and a message to the customer with the new day.
    fn move_to_day(
        &self,
        tx: &Db<'_>,
        from: &StopRow,
        parcel: &str,
        date: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let from_id = from.id.to_string();
        let existing: Option<String> = qrow(
            tx,
            "SELECT s.id FROM stops s JOIN stops f ON f.recipient_key = s.recipient_key \
             WHERE f.id = ?1 AND s.delivery_date = ?2",
            params![from_id, date],
            |r| r.get(0),
        )
        .optional()?;
        let to = match existing {
            Some(id) => id,
            None => {
                let id = StopId::from_uuid(new_id(&self.settings.random, now)).to_string();
                let public_ref = hex::encode(self.settings.random.bytes::<12>());
                exec(
                    tx,
                    "INSERT INTO stops (id, delivery_date, recipient_key, courier_id, recipient_name, phone, email, \
                     address, postal_code, lat, lon, sequence, code_required, code_digits, max_attempts, \
                     offline_allowed, validity_days, reasons, public_ref, recipient_ref, created_at, language) \
                     SELECT ?2, ?3, recipient_key, courier_id, recipient_name, phone, email, address, postal_code, \
                     lat, lon, (SELECT COUNT(*) + 1 FROM stops WHERE delivery_date = ?3 AND courier_id IS NOT DISTINCT FROM f.courier_id), \
                     code_required, code_digits, max_attempts, offline_allowed, validity_days, reasons, ?4, \
                     recipient_ref, ?5, language FROM stops f WHERE f.id = ?1",
                    params![from_id, id, date, public_ref, now],
                )?;
                id
            }
        };
        exec(
            tx,
            "UPDATE parcels SET stop_id = ?2, moved_from = ?3, status = 'pending' WHERE id = ?1",
            params![parcel, to, from_id],
        )?;
        let stop = load_stop(tx, &to)?.ok_or(StoreError::NotFound("stop"))?;
        let barcode: String = qrow(
            tx,
            "SELECT barcode_raw FROM parcels WHERE id = ?1",
            [parcel],
            |r| r.get(0),
        )?;
        let texts = crate::domain::messages::ReattemptMessage {
            name: &stop.recipient_name,
            parcel: &barcode,
            date,
        }
        .texts(stop.language);
        tell_customer(tx, &stop, &texts, None, now)?;
        if stop.code_required {
            let has_code: Option<String> = qrow(
                tx,
                "SELECT id FROM codes WHERE stop_id = ?1 AND superseded_at IS NULL",
                [&to],
                |r| r.get(0),
            )
            .optional()?;
            self.issue_code(
                tx,
                &stop,
                now,
                &self.settings.time_zone,
                has_code.is_some().then_some(CodeEnd::Joined),
            )?;
        }
        Ok(())
    }
}

/// Refuses a `courier_id` that is not a courier of this fleet.
pub(super) fn check_courier(tx: &Db<'_>, courier: &str) -> Result<(), StoreError> {
    let known: Option<i64> = qrow(tx, "SELECT 1 FROM couriers WHERE id = ?1", [courier], |r| {
        r.get(0)
    })
    .optional()?;
    if known.is_none() {
        return Err(StoreError::Validation(
            "courier_id is not a courier of this fleet".into(),
        ));
    }
    Ok(())
}

/// A parcel joins its recipient's stop of the day: the stop takes the stricter of its own
/// and the new parcel's rules (a code if either needs one, the longer code, the fewer
/// attempts, offline only if both allow it, the shorter validity) and gains the new reasons.
pub(super) fn join_stop(
    tx: &Db<'_>,
    id: &str,
    decision: &Decision,
    courier: Option<&str>,
) -> Result<(), StoreError> {
    let stop = load_stop(tx, id)?.ok_or(StoreError::NotFound("stop"))?;
    let mut reasons: Vec<String> = serde_json::from_str(&qrow(
        tx,
        "SELECT reasons FROM stops WHERE id = ?1",
        [id],
        |r| r.get::<_, String>(0),
    )?)
    .unwrap_or_default();
    for r in &decision.reasons {
        if !reasons.contains(r) {
            reasons.push(r.clone());
        }
    }
    if decision.code_required && !stop.code_required {
        reasons.retain(|r| r != "no rule asks for a code");
    }
    exec(
        tx,
        "UPDATE stops SET code_required = ?2, code_digits = ?3, max_attempts = ?4, \
         offline_allowed = ?5, validity_days = ?6, reasons = ?7, \
         courier_id = COALESCE(courier_id, ?8) WHERE id = ?1",
        params![
            id,
            stop.code_required || decision.code_required,
            stop.code_digits.max(decision.code_digits),
            stop.max_attempts.min(decision.max_attempts),
            stop.offline_allowed && decision.offline_allowed,
            stop.validity_days.min(decision.validity_days),
            serde_json::to_string(&reasons).unwrap_or_default(),
            courier
        ],
    )?;
    Ok(())
}

/// The parcel's row with the policy's decision for it; a barcode already known is a conflict.
fn insert_parcel(
    tx: &Db<'_>,
    parcel_id: ParcelId,
    shipper_id: &str,
    stop_id: &str,
    req: &NewParcel,
    decision: &Decision,
    now: i64,
) -> Result<(), StoreError> {
    let inserted = exec(
        tx,
        "INSERT INTO parcels (id, shipper_id, stop_id, barcode_key, barcode_raw, description, \
         declared_value_minor, currency, method, age_restricted, recipient_opt_in, \
         shipper_requires_code, code_required, photo_required, offline_allowed, reasons, created_at, \
         door, safe_places, on_failure, max_delivery_attempts, reschedule_days, alternatives) \
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23) \
         ON CONFLICT(barcode_key) DO NOTHING",
        params![
            parcel_id.to_string(),
            shipper_id,
            stop_id,
            req.barcode_key,
            req.barcode_raw,
            req.description,
            req.value.as_ref().map(|(v, _)| *v),
            req.value.as_ref().map(|(_, c)| c.as_str()),
            method_str(req.method),
            req.age_restricted,
            req.recipient_requested_code,
            req.shipper_requires_code,
            decision.code_required,
            decision.photo_required,
            decision.offline_allowed,
            serde_json::to_string(&decision.reasons).unwrap_or_default(),
            now,
            serde_json::to_string(&decision.methods).unwrap_or_default(),
            serde_json::to_string(&req.safe_places).unwrap_or_default(),
            decision.on_failure.as_str(),
            decision.max_delivery_attempts,
            req.reschedule_days,
            serde_json::to_string(&req.alternatives).unwrap_or_default()
        ],
    )?;
    if inserted == 0 {
        return Err(StoreError::Conflict(
            "a parcel with this barcode already exists".into(),
        ));
    }
    Ok(())
}

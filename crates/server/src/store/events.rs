//! Sync: the phones' record chains, each record stored once with its answer, the audit log, photos.

use doorstep_protocol::wire::{
    DeliveryEvent, DeliveryMethod, DoorMethod, EventBody, EventResult, EventStatus,
    ExceptionReason, Handed, ManifestParcel, MissingStep, ParcelStatus, RejectCode, StoredDelivery,
    Verification, WebhookEvent, WebhookPayload, door_steps,
};
use doorstep_protocol::{DeviceId, ParcelId};
use subtle::ConstantTimeEq;

use super::backend::sql::{Db, OptionalExt, exec, params, qrow};
use super::chain::{ChainHead, MAX_RECORDS_FROM_A_REVOKED_PHONE, chain_mac, held};
use super::error::StoreError;
use super::handle::Store;
use super::models::{AuditEntry, ChainBreak, DeviceAuth, PhotoUsage};
use super::outbox::enqueue_webhook;
use super::rows::{StopRow, enum_str, load_stop, parse_enum};
use crate::domain::zone::FleetZone;

impl Store {
    /// `POST /v1/sync`: stores each event once, in one transaction for the batch.
    ///
    /// Each event must continue the device's signed hash chain. A validly signed event that
    /// does not (a restored phone, a lost record) puts the device in "chain broken" state:
    /// it and every later event are answered `retry` — the phone keeps them — and only
    /// counted, not stored, until the fleet manager accepts a re-anchored chain
    /// ([`Store::accept_chain`]) or revokes the phone. The re-anchored records are then
    /// stored like any other and marked for review. An event whose signature does not verify
    /// is refused for good and only counted: the phone never made it.
    pub fn sync(
        &self,
        device: &DeviceAuth,
        app_version: &str,
        events: &[DeliveryEvent],
        now: i64,
    ) -> Result<Vec<EventResult>, StoreError> {
        if device.revoked {
            return self.sync_revoked(device, events, now);
        }
        let applied = self.write_on(&format!("device {}", device.device_id), |tx| {
            let dev_id = device.device_id.to_string();
            let mut head = chain_head(tx, &dev_id)?;
            if head.revoked {
                // Revoked after the request was authenticated: nothing it sends applies.
                return Ok(None);
            }
            let key = doorstep_protocol::token::decode_hex::<32>(&head.public_key)
                .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok());
            let mut results = Vec::with_capacity(events.len());
            let mut hold = false;
            let mut bad_signatures = 0i64;
            for ev in events {
                let hash = ev.chain_hash();
                let mac = chain_mac(&self.secrets, &hash);
                if let Some(status) = stored_answer(tx, ev, &hash, &mac, &dev_id)? {
                    results.push(EventResult { id: ev.id, status });
                    continue;
                }
                if !key.as_ref().is_some_and(|k| ev.verify_signature(k)) {
                    bad_signatures += 1;
                    results.push(EventResult {
                        id: ev.id,
                        status: rejected(
                            RejectCode::ChainBroken,
                            "this record is not signed by this phone's key",
                        ),
                    });
                    continue;
                }
                if hold {
                    results.push(EventResult { id: ev.id, status: held(head.broken) });
                    self.note_held(tx, &dev_id, ev, head.broken)?;
                    continue;
                }
                let continues = ev.seq == head.last_seq + 1 && head.continues(&self.secrets, &ev.prev_hash);
                let mut review = head.review_until_seq.is_some_and(|m| ev.seq as i64 <= m);
                if !continues {
                    if self.reanchor(tx, &mut head, &dev_id, ev, now)? {
                        review = true;
                    } else {
                        exec(tx,
                            "UPDATE devices SET chain_broken_at = ?2, chain_broken_event = ?3, chain_broken_reason = ?4 \
                             WHERE id = ?1 AND chain_broken_at IS NULL",
                            params![dev_id, now, ev.id.to_string(), gap_reason(ev, head.last_seq)],
                        )?;
                        head.broken = true;
                        hold = true;
                        self.note_held(tx, &dev_id, ev, true)?;
                        results.push(EventResult { id: ev.id, status: held(true) });
                        continue;
                    }
                }
                let status = match self.backdated(&head, ev, now) {
                    Some(message) => rejected(RejectCode::Backdated, &message),
                    None => {
                        let status = self.apply_event(tx, device, ev, now)?;
                        if matches!(status, EventStatus::Retry { .. }) {
                            hold = true;
                            results.push(EventResult { id: ev.id, status });
                            continue;
                        }
                        status
                    }
                };
                head.last_seq = ev.seq;
                head.chain_mac = Some(mac.clone());
                head.last_occurred_at =
                    Some(head.last_occurred_at.unwrap_or(i64::MIN).max(ev.occurred_at_ms));
                let stored_as = match &status {
                    EventStatus::Rejected { code, .. } => StoredAs::Rejected(*code),
                    _ => StoredAs::Accepted,
                };
                store_event(tx, &dev_id, ev, &mac, stored_as, &status, review, now)?;
                results.push(EventResult { id: ev.id, status });
            }
            if !events.is_empty() {
                self.near_messages(tx, &device.courier_id.to_string(), now)?;
            }
            exec(tx,
                "UPDATE devices SET last_seq = ?2, chain_mac = ?3, last_hash = '', last_occurred_at = ?4, \
                 last_seen_at = ?5, last_sync_at = ?5, app_version = ?6, bad_signatures = bad_signatures + ?7 WHERE id = ?1",
                params![dev_id, head.last_seq as i64, head.chain_mac, head.last_occurred_at, now, app_version, bad_signatures],
            )?;
            Ok(Some(results))
        })?;
        match applied {
            Some(results) => Ok(results),
            None => self.sync_revoked(device, events, now),
        }
    }

    /// A record that does not continue the phone's chain becomes its new anchor if the fleet
    /// manager accepted the chain as it is now (what was held then comes in for review):
    /// whether it did.
    fn reanchor(
        &self,
        tx: &Db<'_>,
        head: &mut ChainHead,
        dev_id: &str,
        ev: &DeliveryEvent,
        now: i64,
    ) -> Result<bool, StoreError> {
        if !head.reanchor_allowed {
            return Ok(false);
        }
        head.review_until_seq = qrow(
            tx,
            "UPDATE devices SET reanchor_allowed_at = NULL, chain_broken_at = NULL, \
             review_until_seq = CASE WHEN COALESCE(chain_broken_max_seq, 0) > ?2 THEN COALESCE(chain_broken_max_seq, 0) ELSE ?2 END WHERE id = ?1 \
             RETURNING review_until_seq",
            params![dev_id, ev.seq as i64],
            |r| r.get(0),
        )?;
        head.reanchor_allowed = false;
        head.broken = false;
        self.audit(
            tx,
            now,
            "server",
            "chain_reanchored",
            dev_id,
            &format!("new anchor: record {} (seq {})", ev.id, ev.seq),
        )?;
        Ok(true)
    }

    /// Records from a revoked phone: the phone is no longer trusted, so nothing it sends
    /// changes a parcel, but its queued deliveries must not be lost. Each record signed with
    /// the phone's key is stored once, marked for review, and answered `accepted` (so the
    /// courier can hand the phone back), up to [`MAX_RECORDS_FROM_A_REVOKED_PHONE`].
    pub(super) fn sync_revoked(
        &self,
        device: &DeviceAuth,
        events: &[DeliveryEvent],
        now: i64,
    ) -> Result<Vec<EventResult>, StoreError> {
        self.write(|tx| {
            let dev_id = device.device_id.to_string();
            let (public_key, stored_count): (String, i64) = qrow(
                tx,
                "SELECT public_key, (SELECT COUNT(*) FROM events WHERE device_id = ?1 AND status = 'review') \
                 FROM devices WHERE id = ?1",
                [&dev_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let key = doorstep_protocol::token::decode_hex::<32>(&public_key)
                .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok());
            let mut room = MAX_RECORDS_FROM_A_REVOKED_PHONE - stored_count;
            let mut results = Vec::with_capacity(events.len());
            for ev in events {
                let mac = chain_mac(&self.secrets, &ev.chain_hash());
                let stored: Option<(Option<Vec<u8>>, String, String)> = qrow(
                    tx,
                    "SELECT body_mac, result, device_id FROM events WHERE id = ?1",
                    [ev.id.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
                let status = if let Some((stored_mac, result, owner)) = stored {
                    if owner == dev_id && stored_mac.is_some_and(|m| bool::from(m.ct_eq(&mac))) {
                        serde_json::from_str(&result).unwrap_or(EventStatus::Duplicate)
                    } else {
                        rejected(RejectCode::IdConflict, "this event id was already used for a different record")
                    }
                } else if !key.as_ref().is_some_and(|k| ev.verify_signature(k)) {
                    rejected(RejectCode::ChainBroken, "this record is not signed by this phone's key")
                } else if room <= 0 {
                    rejected(
                        RejectCode::Invalid,
                        "this phone was removed from the fleet and has sent as many records as the server keeps for review",
                    )
                } else {
                    room -= 1;
                    store_event(tx, &dev_id, ev, &mac, StoredAs::Review, &EventStatus::Accepted, true, now)?;
                    EventStatus::Accepted
                };
                results.push(EventResult { id: ev.id, status });
            }
            Ok(results)
        })
    }

    /// Counts an event held back by a broken chain (it is not stored: the phone keeps it).
    pub(super) fn note_held(
        &self,
        tx: &Db<'_>,
        device: &str,
        ev: &DeliveryEvent,
        broken: bool,
    ) -> Result<(), StoreError> {
        if broken {
            exec(
                tx,
                "UPDATE devices SET chain_broken_count = chain_broken_count + 1, \
                 chain_broken_max_seq = CASE WHEN COALESCE(chain_broken_max_seq, 0) > ?2 THEN COALESCE(chain_broken_max_seq, 0) ELSE ?2 END WHERE id = ?1",
                params![device, ev.seq as i64],
            )?;
        }
        Ok(())
    }

    /// Why an event's time cannot be true, if it cannot: before the phone's previous record,
    /// or further back than the offline window.
    pub(super) fn backdated(
        &self,
        head: &ChainHead,
        ev: &DeliveryEvent,
        now: i64,
    ) -> Option<String> {
        if let Some(prev) = head.last_occurred_at
            && ev.occurred_at_ms < prev
        {
            return Some("the record claims a time before this phone's previous record".into());
        }
        let window = self.settings.offline_window_ms;
        if ev.occurred_at_ms < now - window {
            return Some(format!(
                "the record claims a time more than {} hours ago, beyond the offline window",
                window / 3_600_000
            ));
        }
        None
    }

    /// Writes an entry of the audit log (who did what to whom, and when).
    pub(super) fn audit(
        &self,
        tx: &Db<'_>,
        now: i64,
        actor: &str,
        action: &str,
        subject: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        exec(
            tx,
            "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![now, actor, action, subject, detail],
        )?;
        Ok(())
    }

    /// Fleet manager: accept a device's chain as it is now. Its next record that does not
    /// continue the stored chain becomes the new anchor; the records held meanwhile then
    /// arrive and are marked for review. `actor` names who decided, for the audit log.
    pub fn accept_chain(&self, device: DeviceId, actor: &str, now: i64) -> Result<(), StoreError> {
        self.write(|tx| {
            let row: Option<(Option<i64>, Option<String>, Option<i64>)> = qrow(
                tx,
                "SELECT chain_broken_at, chain_broken_event, revoked_at FROM devices WHERE id = ?1",
                [device.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
            let (broken, first_bad, revoked) = row.ok_or(StoreError::NotFound("device"))?;
            if revoked.is_some() {
                return Err(StoreError::Conflict(
                    "this phone was revoked; enroll it again".into(),
                ));
            }
            if broken.is_none() {
                return Err(StoreError::Conflict(
                    "this phone's record chain is not broken; there is nothing to accept".into(),
                ));
            }
            exec(
                tx,
                "UPDATE devices SET reanchor_allowed_at = ?2 WHERE id = ?1",
                params![device.to_string(), now],
            )?;
            self.audit(
                tx,
                now,
                actor,
                "chain_accepted",
                &device.to_string(),
                &format!(
                    "first record that broke the chain: {}",
                    first_bad.unwrap_or_default()
                ),
            )
        })
    }

    /// Devices whose record chain is broken, for the fleet page.
    pub fn chain_breaks(&self) -> Result<Vec<ChainBreak>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT d.id, c.name, d.chain_broken_at, d.chain_broken_event, d.chain_broken_reason, \
                 d.chain_broken_count, d.reanchor_allowed_at IS NOT NULL FROM devices d \
                 JOIN couriers c ON c.id = d.courier_id \
                 WHERE d.chain_broken_at IS NOT NULL AND d.revoked_at IS NULL ORDER BY d.chain_broken_at",
            )?;
            let rows = st.query_map(params![], |r| {
                Ok(ChainBreak {
                    device_id: r.get(0)?,
                    courier_name: r.get(1)?,
                    since_ms: r.get(2)?,
                    first_event: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    reason: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                    held_events: r.get(5)?,
                    accepted: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Records marked for review (accepted after a chain was re-anchored), newest first.
    pub fn records_for_review(&self) -> Result<Vec<StoredDelivery>, StoreError> {
        let mut out = self.stored_deliveries(None, true)?;
        out.reverse();
        Ok(out)
    }

    /// The audit log, newest first.
    pub fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT at, actor, action, subject, detail FROM audit_log ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = st.query_map([limit], |r| {
                Ok(AuditEntry {
                    at_ms: r.get(0)?,
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    subject: r.get(3)?,
                    detail: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Applies one chain-valid event; returns its status (a rejection marks parcels disputed).
    pub(super) fn apply_event(
        &self,
        tx: &Db<'_>,
        device: &DeviceAuth,
        ev: &DeliveryEvent,
        now: i64,
    ) -> Result<EventStatus, StoreError> {
        // Every photo and signature the record names is uploaded first; until then the
        // record waits (the phone sends them before it). Each must be this phone's, uploaded
        // within the offline window before the record arrived, and named by no other record:
        // a modified phone cannot put one signature or contents photo on every parcel.
        let images: Vec<String> = ev
            .body
            .images()
            .into_iter()
            .map(str::to_ascii_lowercase)
            .collect();
        let device_id = device.device_id.to_string();
        for sha in &images {
            let row: Option<(String, i64, Option<String>)> = qrow(
                tx,
                "SELECT device_id, created_at, used_by_event FROM photos WHERE sha256 = ?1",
                [sha],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
            let Some((uploader, uploaded_at, used_by)) = row else {
                return Ok(EventStatus::Retry {
                    message: "upload the record's photos and signature before the record".into(),
                });
            };
            if uploader != device_id {
                return Ok(rejected(
                    RejectCode::PhotoMissing,
                    "a photo or signature of this record was uploaded by another phone",
                ));
            }
            if used_by.is_some_and(|e| e != ev.id.to_string()) {
                return Ok(rejected(
                    RejectCode::PhotoMissing,
                    "a photo or signature of this record belongs to another record",
                ));
            }
            if uploaded_at < now - self.settings.offline_window_ms {
                return Ok(rejected(
                    RejectCode::PhotoMissing,
                    "a photo or signature of this record was uploaded longer ago than the \
                     offline window",
                ));
            }
        }
        let status = match &ev.body {
            EventBody::Unexpected { .. } => self.apply_unexpected(tx, device, ev, now),
            EventBody::DepotCheckIn { .. } => self.apply_check_in(tx, device, ev, now),
            EventBody::Correction { .. } => self.apply_correction(tx, device, ev, now),
            EventBody::Delivered { .. } | EventBody::Failed { .. } => {
                self.apply_handover(tx, device, ev, now)
            }
        }?;
        if matches!(status, EventStatus::Accepted) {
            for sha in &images {
                exec(
                    tx,
                    "UPDATE photos SET used_by_event = ?2 WHERE sha256 = ?1",
                    params![sha, ev.id.to_string()],
                )?;
            }
        }
        Ok(status)
    }

    /// A delivery or a failed attempt at a stop: checked (the stop is this courier's, every
    /// parcel is of it and not yet delivered, the code and the door's steps for a delivery),
    /// then applied, or the parcels marked disputed.
    fn apply_handover(
        &self,
        tx: &Db<'_>,
        device: &DeviceAuth,
        ev: &DeliveryEvent,
        now: i64,
    ) -> Result<EventStatus, StoreError> {
        let Some(stop) = load_stop(tx, &ev.stop_id.to_string())? else {
            return Ok(rejected(RejectCode::Invalid, "the stop is unknown"));
        };
        if stop.courier_id.as_deref() != Some(device.courier_id.to_string().as_str()) {
            return Ok(rejected(
                RejectCode::NotAssigned,
                "this stop is not on this courier's route",
            ));
        }
        if ev.parcel_ids.is_empty() || ev.parcel_ids.len() > 200 {
            return Ok(rejected(RejectCode::Invalid, "the record names no parcel"));
        }
        let parcels = match record_parcels(tx, &stop, ev, &self.settings.time_zone)? {
            Ok(parcels) => parcels,
            Err((code, message)) => return Ok(rejected(code, message)),
        };
        let outcome = match &ev.body {
            EventBody::Delivered {
                verification,
                method,
                ..
            } => {
                let method = method.unwrap_or(DeliveryMethod::HandToRecipient);
                self.delivery_checks(tx, device, &stop, ev, &parcels, verification, method, now)?
            }
            EventBody::Failed {
                reason: ExceptionReason::RefusedContents,
                photo_sha256: None,
                ..
            } => Err((
                RejectCode::StepMissing,
                "a refusal at the open-box check needs the photo of the contents",
            )),
            _ => Ok(()),
        };
        match outcome {
            Ok(()) => self.settle_handover(tx, &stop, ev, now),
            Err((code, message)) => {
                for id in &ev.parcel_ids {
                    exec(
                        tx,
                        "UPDATE parcels SET status = 'disputed' WHERE id = ?1",
                        [id.to_string()],
                    )?;
                }
                self.queue_webhooks(tx, WebhookEvent::Disputed, ev, Some(code), now)?;
                Ok(rejected(code, message))
            }
        }
    }

    /// What a delivery must pass: a method every parcel allows, a stop not locked, the code
    /// (or no code where the method needs none), then the rest of the method's steps.
    #[allow(clippy::too_many_arguments)]
    fn delivery_checks(
        &self,
        tx: &Db<'_>,
        device: &DeviceAuth,
        stop: &StopRow,
        ev: &DeliveryEvent,
        parcels: &[ManifestParcel],
        verification: &Verification,
        method: DeliveryMethod,
        now: i64,
    ) -> Result<Result<(), (RejectCode, &'static str)>, StoreError> {
        let occurred = ev.occurred_at_ms.min(now);
        let Some(door) = door_steps(parcels.iter().map(|p| (p, stop.code_required)), method) else {
            return Ok(Err((
                RejectCode::StepMissing,
                "a parcel of this record may not be handed over by this method",
            )));
        };
        // A locked stop is handed over by no path (online check, offline code, the
        // customer's QR, or a method without a code) until the fleet manager makes a new code.
        if stop.code_required && stop.failed_attempts >= stop.max_attempts {
            return Ok(Err((
                RejectCode::CodeLocked,
                "the stop is locked by too many wrong codes; the fleet manager must make a new code",
            )));
        }
        // The code first (a record with a wrong code is refused for the code), then the rest
        // of the method's steps.
        let code = if !door.code_required && matches!(verification, Verification::NotRequired) {
            Ok(())
        } else {
            self.check_verification(tx, device, stop, ev, verification, occurred, now)?
        };
        Ok(
            code.and_then(|()| match door_step_missing(&door, &ev.body) {
                Some(missing) => Err(missing),
                None => Ok(()),
            }),
        )
    }

    /// Applies an accepted delivery or failed attempt: the parcels' new status, the code used
    /// up once the stop is handed over, the shipper's webhooks, and after a failed attempt
    /// each parcel's next step (another day, or back to the depot).
    fn settle_handover(
        &self,
        tx: &Db<'_>,
        stop: &StopRow,
        ev: &DeliveryEvent,
        now: i64,
    ) -> Result<EventStatus, StoreError> {
        let delivered = matches!(ev.body, EventBody::Delivered { .. });
        let new_status = if delivered { "delivered" } else { "failed" };
        for id in &ev.parcel_ids {
            // Delivered on the stop of the record: a parcel a failed attempt had moved to a
            // later day leaves that day's route.
            exec(
                tx,
                "UPDATE parcels SET status = ?2, stop_id = CASE WHEN ?2 = 'delivered' THEN ?3 ELSE stop_id END \
                 WHERE id = ?1",
                params![id.to_string(), new_status, stop.id.to_string()],
            )?;
        }
        if delivered {
            self.consume_code_if_handed_over(tx, stop, now)?;
        }
        let event = if delivered {
            WebhookEvent::Delivered
        } else {
            WebhookEvent::Failed
        };
        self.queue_webhooks(tx, event, ev, None, now)?;
        if let EventBody::Failed { reason, .. } = &ev.body {
            for parcel in &ev.parcel_ids {
                let next =
                    self.after_failed_attempt(tx, stop, &parcel.to_string(), *reason, now)?;
                self.queue_webhook(tx, next, ev, *parcel, None, now)?;
            }
        }
        Ok(EventStatus::Accepted)
    }

    /// Queues the `event` webhook of each of the record's parcels whose shipper has a webhook
    /// URL. Only the shipper's id is stored with it: the signature is made when it is sent.
    pub(super) fn queue_webhooks(
        &self,
        tx: &Db<'_>,
        event: WebhookEvent,
        ev: &DeliveryEvent,
        reject: Option<RejectCode>,
        now: i64,
    ) -> Result<(), StoreError> {
        for parcel_id in &ev.parcel_ids {
            self.queue_webhook(tx, event, ev, *parcel_id, reject, now)?;
        }
        Ok(())
    }

    /// Queues the `event` webhook of one parcel of the record, if its shipper has a webhook
    /// URL.
    pub(super) fn queue_webhook(
        &self,
        tx: &Db<'_>,
        event: WebhookEvent,
        ev: &DeliveryEvent,
        parcel_id: ParcelId,
        reject: Option<RejectCode>,
        now: i64,
    ) -> Result<(), StoreError> {
        let row: Option<(String, String, Option<String>)> = qrow(
            tx,
            "SELECT p.barcode_raw, s.id, s.webhook_url FROM parcels p \
                     JOIN shippers s ON s.id = p.shipper_id WHERE p.id = ?1",
            [parcel_id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
        let Some((barcode, shipper_id, Some(url))) = row else {
            return Ok(());
        };
        let body = serde_json::to_string(&WebhookPayload {
            event,
            parcel_id,
            barcode,
            event_id: ev.id,
            occurred_at_ms: ev.occurred_at_ms,
            reject_code: reject,
            preference: None,
        })
        .expect("serialising plain data cannot fail");
        enqueue_webhook(tx, &url, event.as_str(), &body, &shipper_id, now)?;
        Ok(())
    }

    /// Records an uploaded photo; returns whether it was already there.
    pub fn record_photo(
        &self,
        sha: &str,
        size: usize,
        device: DeviceId,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            let n = exec(tx,
                "INSERT INTO photos (sha256, size, device_id, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                params![sha, size as i64, device.to_string(), now],
            )?;
            Ok(n == 0)
        })
    }

    /// What `device` uploaded since `since` (Unix ms): the photos it stored, their bytes, and
    /// when the oldest of them arrived — for the per-device photo quota.
    pub fn photo_usage_since(
        &self,
        device: DeviceId,
        since: i64,
    ) -> Result<PhotoUsage, StoreError> {
        self.read(|c| {
            Ok(qrow(
                c,
                "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT), MIN(created_at) FROM photos \
                 WHERE device_id = ?1 AND created_at >= ?2",
                params![device.to_string(), since],
                |r| {
                    Ok(PhotoUsage {
                        count: r.get::<_, i64>(0)?.max(0) as u64,
                        bytes: r.get::<_, i64>(1)?.max(0) as u64,
                        oldest_at: r.get(2)?,
                    })
                },
            )?)
        })
    }
}

/// The first step at the door that `door` asks for and a delivery record lacks, if any, as
/// the record's rejection (the rule itself is [`DoorMethod::missing`], the device's too).
pub(super) fn door_step_missing(
    door: &DoorMethod,
    body: &EventBody,
) -> Option<(RejectCode, &'static str)> {
    let missing = door.missing(&Handed::of(body)?)?;
    let code = match missing {
        MissingStep::Photo => RejectCode::PhotoMissing,
        MissingStep::PlaceTooLong => RejectCode::Invalid,
        _ => RejectCode::StepMissing,
    };
    Some((code, missing.describe()))
}

pub(super) fn rejected(code: RejectCode, message: &str) -> EventStatus {
    EventStatus::Rejected {
        code,
        message: message.to_string(),
    }
}

/// How a record is kept: its `events.status`.
#[derive(Debug, Clone, Copy)]
pub(super) enum StoredAs {
    Accepted,
    Rejected(RejectCode),
    /// From a revoked phone: kept for the fleet manager, applied to nothing.
    Review,
}

/// Stores a record once under its id, with the answer it got (a retry gets the same).
#[allow(clippy::too_many_arguments)]
pub(super) fn store_event(
    tx: &Db<'_>,
    device: &str,
    ev: &DeliveryEvent,
    mac: &[u8],
    stored_as: StoredAs,
    answer: &EventStatus,
    review: bool,
    now: i64,
) -> Result<(), StoreError> {
    // A record that belongs to no stop is filed under its own day.
    let record_date = match &ev.body {
        EventBody::DepotCheckIn { date, .. } => Some(date.clone()),
        _ => None,
    };
    let (status, reject_code) = match stored_as {
        StoredAs::Accepted => ("accepted", None),
        StoredAs::Rejected(code) => ("rejected", Some(enum_str(&code))),
        StoredAs::Review => ("review", None),
    };
    exec(
        tx,
        "INSERT INTO events (id, device_id, seq, stop_id, parcel_ids, kind, body_hash, body_mac, body, status, \
         reject_code, result, delivery_date, received_at, review) VALUES (?1,?2,?3,?4,?5,?6,'',?7,?8,?9,?10,?11, \
         COALESCE((SELECT delivery_date FROM stops WHERE id = ?4), ?14), ?12, ?13)",
        params![
            ev.id.to_string(),
            device,
            ev.seq as i64,
            ev.stop_id.to_string(),
            serde_json::to_string(&ev.parcel_ids).unwrap_or_default(),
            ev.body.kind(),
            mac,
            redacted_event_json(ev),
            status,
            reject_code,
            serde_json::to_string(answer).unwrap_or_default(),
            now,
            review,
            record_date
        ],
    )?;
    for parcel in &ev.parcel_ids {
        exec(
            tx,
            "INSERT INTO event_parcels (event_id, parcel_id) VALUES (?1, ?2)",
            params![ev.id.to_string(), parcel.to_string()],
        )?;
    }
    Ok(())
}

/// The event as stored: codes and tokens are replaced, so the database never holds them, and
/// the signature and previous hash are left out — both are computed over the signed bytes,
/// which hold an offline code, so either would let a copy of the database test all million
/// codes. (The server checked the signature on arrival; the keyed chain hash stays.)
///
/// The time at the door and the typo count only feed the fleet's numbers, so a value that
/// cannot be true ([`DeliveryEvent::plausible_first_scan_at_ms`],
/// [`DeliveryEvent::plausible_typos_caught`]) is left out rather than the record refused: a
/// wrong clock must not dispute a parcel that was handed over.
pub(super) fn redacted_event_json(ev: &DeliveryEvent) -> String {
    let mut v = serde_json::to_value(ev).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("signature");
        o.remove("prev_hash");
        if ev.plausible_first_scan_at_ms().is_none() {
            o.remove("first_scan_at_ms");
        }
        if ev.plausible_typos_caught().is_none() {
            o.remove("typos_caught");
        }
    }
    if let Some(ver) = v.pointer_mut("/body/verification")
        && let Some(obj) = ver.as_object_mut()
    {
        for k in ["code", "token"] {
            if obj.contains_key(k) {
                obj.insert(k.into(), serde_json::Value::String("<redacted>".into()));
            }
        }
    }
    v.to_string()
}

/// The record's parcels as the door's rules see them: each must be of the record's stop (or
/// moved from it to a later day by a failed attempt, and tried again on the stop's own day in
/// the fleet's `zone`), still on a route (a parcel on its way back is not delivered, one at the
/// depot is not recorded at a door), and none delivered yet.
fn record_parcels(
    tx: &Db<'_>,
    stop: &StopRow,
    ev: &DeliveryEvent,
    zone: &FleetZone,
) -> Result<Result<Vec<ManifestParcel>, (RejectCode, &'static str)>, StoreError> {
    let this_stop = stop.id.to_string();
    let delivering = matches!(ev.body, EventBody::Delivered { .. });
    let mut parcels = Vec::new();
    let mut delivered = false;
    for p in &ev.parcel_ids {
        let row: Option<(String, Option<String>, String, bool, String, String)> = qrow(
            tx,
            "SELECT stop_id, moved_from, status, photo_required, method, door FROM parcels WHERE id = ?1",
            [p.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()?;
        let Some((s, from, status, photo, method, door)) = row else {
            return Ok(Err((
                RejectCode::Invalid,
                "a parcel of the record is not part of its stop",
            )));
        };
        if s != this_stop && from.as_deref() != Some(this_stop.as_str()) {
            return Ok(Err((
                RejectCode::Invalid,
                "a parcel of the record is not part of its stop",
            )));
        }
        // A parcel moved to a later day may still be recorded on this stop, for what happened
        // on this stop's day (a record made offline before the move) and no later.
        if s != this_stop
            && zone
                .window_end_ms(&stop.delivery_date, 1)
                .is_none_or(|day_end| ev.occurred_at_ms >= day_end)
        {
            return Ok(Err((
                RejectCode::NotAssigned,
                "a parcel of the record was moved to another day's stop: record it on that stop",
            )));
        }
        // A parcel on its way back is not delivered (another failed attempt is only counted),
        // and one back at the depot is not at a door at all. (A disputed parcel stays open: a
        // refused record marks it so, and the courier's next valid record for it, e.g. with
        // the customer's fresh QR, is still taken.)
        if status == "at_depot" || (status == "returning" && delivering) {
            return Ok(Err((
                RejectCode::NotAssigned,
                "a parcel of the record is on its way back to the depot and is no longer on a \
                 route; the fleet must put it on a route again",
            )));
        }
        delivered |= status == "delivered";
        parcels.push(ManifestParcel {
            parcel_id: *p,
            barcode: String::new(),
            description: None,
            photo_required: photo,
            method: parse_enum(&method).unwrap_or(DeliveryMethod::HandToRecipient),
            status: ParcelStatus::Pending,
            methods: serde_json::from_str(&door).unwrap_or_default(),
            safe_places: Vec::new(),
        });
    }
    if delivered {
        return Ok(Err((
            RejectCode::AlreadyDelivered,
            "a parcel of this record was already delivered",
        )));
    }
    Ok(Ok(parcels))
}

/// The phone's chain as the server holds it.
fn chain_head(tx: &Db<'_>, dev_id: &str) -> Result<ChainHead, StoreError> {
    Ok(qrow(
        tx,
        "SELECT public_key, last_seq, chain_mac, last_hash, last_occurred_at, chain_broken_at, \
         reanchor_allowed_at, review_until_seq, revoked_at FROM devices WHERE id = ?1",
        [dev_id],
        |r| {
            Ok(ChainHead {
                public_key: r.get(0)?,
                last_seq: r.get(1)?,
                chain_mac: r.get(2)?,
                legacy_hash: r.get(3)?,
                last_occurred_at: r.get(4)?,
                broken: r.get::<_, Option<i64>>(5)?.is_some(),
                reanchor_allowed: r.get::<_, Option<i64>>(6)?.is_some(),
                review_until_seq: r.get(7)?,
                revoked: r.get::<_, Option<i64>>(8)?.is_some(),
            })
        },
    )?)
}

/// The answer already given to a record with this id: the same answer again for the same
/// record from the same phone, a conflict for anything else under the id; `None` if the id
/// is new.
fn stored_answer(
    tx: &Db<'_>,
    ev: &DeliveryEvent,
    hash: &str,
    mac: &[u8],
    dev_id: &str,
) -> Result<Option<EventStatus>, StoreError> {
    let stored: Option<(Option<Vec<u8>>, String, String, String)> = qrow(
        tx,
        "SELECT body_mac, body_hash, result, device_id FROM events WHERE id = ?1",
        [ev.id.to_string()],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .optional()?;
    Ok(stored.map(|(stored_mac, legacy_hash, result, owner)| {
        let same = match stored_mac {
            Some(m) => bool::from(m.ct_eq(mac)),
            None => legacy_hash.eq_ignore_ascii_case(hash),
        };
        if same && owner == dev_id {
            serde_json::from_str(&result).unwrap_or(EventStatus::Duplicate)
        } else {
            rejected(
                RejectCode::IdConflict,
                "this event id was already used for a different record",
            )
        }
    }))
}

/// Why a record does not continue the chain, for the fleet manager. Phones send their
/// records oldest first, so a gap is a record that will never come (removed on the phone),
/// not one still on its way.
fn gap_reason(ev: &DeliveryEvent, last_seq: u64) -> String {
    if ev.seq > last_seq + 1 {
        format!(
            "record {} has sequence number {}, but the server never received this phone's records after {}",
            ev.id, ev.seq, last_seq
        )
    } else if ev.seq <= last_seq {
        format!(
            "record {} has sequence number {}, but the server already holds this phone's records up to {}",
            ev.id, ev.seq, last_seq
        )
    } else {
        format!(
            "record {} (sequence {}) does not continue the last record the server holds from this phone",
            ev.id, ev.seq
        )
    }
}

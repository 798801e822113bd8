//! Delivery codes: online verification with the attempt counter, resend, the fleet manager's new code, and the checks a record's verification goes through.

use doorstep_protocol::wire::{
    DeliveryEvent, RejectCode, ResendResponse, Verification, VerifyOutcome,
};
use doorstep_protocol::{DeliveryCode, ParcelId, StopId, TokenSubject};
use subtle::ConstantTimeEq;

use super::backend::sql::{Db, OptionalExt, exec, params, qrow};
use super::error::StoreError;
use super::handle::Store;
use super::models::DeviceAuth;
use super::rows::{
    ActiveCode, Checked, CodeCheck, CodeEnd, StopRow, active_code, load_check, load_parcel_stop,
    load_stop, new_id,
};

/// Refuses a stop that is not on the device's courier's route.
fn on_route(stop: &StopRow, device: &DeviceAuth) -> Result<(), StoreError> {
    if stop.courier_id.as_deref() != Some(device.courier_id.to_string().as_str()) {
        return Err(StoreError::Forbidden("this parcel is not on your route"));
    }
    Ok(())
}

impl Store {
    /// Checks a code in the caller's write transaction.
    ///
    /// A right code is answered from the stop's row as read (under the limit, not expired)
    /// and writes nothing; a wrong one raises the counter only while it is under the limit
    /// (a conditional `UPDATE`). Concurrent guesses therefore never get more tries than the
    /// limit: on SQLite every write transaction runs alone, and on PostgreSQL (SERIALIZABLE)
    /// two checks that both read the stop and both count are serialised by the update of its
    /// row, while a right code that read the counter before a wrong one raised it is the
    /// same as the right code having come first.
    pub(super) fn check_code(
        &self,
        tx: &Db<'_>,
        stop: &StopRow,
        code: &DeliveryCode,
        now: i64,
    ) -> Result<CodeCheck, StoreError> {
        if !stop.code_required {
            return Ok(CodeCheck::NotRequired);
        }
        let active = active_code(tx, &stop.id.to_string(), now)?;
        self.check_code_against(tx, stop, active, code, now)
    }

    /// [`Self::check_code`] with the stop's code in force at `now` already read
    /// ([`active_code`], or [`load_check`] with it).
    fn check_code_against(
        &self,
        tx: &Db<'_>,
        stop: &StopRow,
        active: Option<ActiveCode>,
        code: &DeliveryCode,
        now: i64,
    ) -> Result<CodeCheck, StoreError> {
        if !stop.code_required {
            return Ok(CodeCheck::NotRequired);
        }
        if code.len() != usize::from(stop.code_digits) + 1 {
            return Err(StoreError::CodeFormat(stop.code_digits + 1));
        }
        let stop_id = stop.id.to_string();
        let Some(ActiveCode {
            id: code_id,
            hash,
            expires,
            ended_by,
        }) = active
        else {
            return Ok(CodeCheck::NotRequired);
        };
        match ended_by.as_deref() {
            Some(e) if e == CodeEnd::Consumed.as_str() => return Ok(CodeCheck::Consumed),
            Some(e) if e == CodeEnd::Reset.as_str() => return Ok(CodeCheck::Replaced),
            _ => {}
        }
        if stop.failed_attempts >= stop.max_attempts {
            return Ok(CodeCheck::Locked);
        }
        if now >= expires {
            return Ok(CodeCheck::Expired);
        }
        let candidate = self
            .secrets
            .mac(&[stop_id.as_bytes(), code.expose_digits().as_bytes()]);
        if bool::from(candidate.ct_eq(&hash)) {
            return Ok(CodeCheck::Ok { code_id });
        }
        // Only a wrong code is counted, and only while the counter is under the limit: the
        // `WHERE` makes the count exact even against a check of the same stop that ran
        // between this check's read and its write. The same statement keeps the stop's
        // history for the numbers (wrong codes and locks, which a new code does not reset).
        let counted: Option<u32> = qrow(
            tx,
            "UPDATE stops SET failed_attempts = failed_attempts + 1, wrong_codes = wrong_codes + 1, \
                 lockouts = lockouts + CASE WHEN failed_attempts + 1 >= max_attempts THEN 1 ELSE 0 END \
                 WHERE id = ?1 AND failed_attempts < max_attempts RETURNING failed_attempts",
            [&stop_id],
            |r| r.get(0),
        )
        .optional()?;
        let Some(used) = counted else {
            return Ok(CodeCheck::Locked);
        };
        let left = stop.max_attempts.saturating_sub(used);
        if left == 0 {
            exec(
                tx,
                "UPDATE parcels SET status = 'locked' WHERE stop_id = ?1 AND status IN ('pending', 'failed')",
                [&stop_id],
            )?;
        }
        Ok(CodeCheck::Wrong {
            attempts_left: left,
        })
    }

    /// Finds a parcel's stop for a device, refusing other couriers' parcels.
    pub(super) fn parcel_for_device(
        tx: &Db<'_>,
        device: &DeviceAuth,
        parcel: ParcelId,
    ) -> Result<(StopRow, String), StoreError> {
        let (stop, status) =
            load_parcel_stop(tx, &parcel.to_string())?.ok_or(StoreError::NotFound("parcel"))?;
        on_route(&stop, device)?;
        Ok((stop, status))
    }

    /// `POST /v1/verify`.
    ///
    /// A plain write, not [`Store::write_on`] the parcel: one courier checks one parcel at a
    /// time, so checks of the same parcel at once are rare (a double tap, or guesses spread
    /// over phones), and on PostgreSQL they are still safe (the stop's row is updated by
    /// each, so all but one are rolled back and run again); the lock and unlock around every
    /// check cost a fifth of the checks a node answers.
    pub fn verify(
        &self,
        device: &DeviceAuth,
        parcel: ParcelId,
        code: &DeliveryCode,
        now: i64,
    ) -> Result<VerifyOutcome, StoreError> {
        self.write(|tx| {
            let Checked {
                stop,
                status,
                active,
                covered,
            } = load_check(tx, &parcel.to_string(), now)?.ok_or(StoreError::NotFound("parcel"))?;
            on_route(&stop, device)?;
            if status == "delivered" {
                return Ok(VerifyOutcome::AlreadyDelivered);
            }
            Ok(match self.check_code_against(tx, &stop, active, code, now)? {
                CodeCheck::Ok { code_id } => {
                    // The check covers the stop's parcels still to hand over (read with the
                    // stop: nothing between changed them), for this device, once, for a few
                    // minutes.
                    let id = new_id(&self.settings.random, now).to_string();
                    exec(tx,
                        "INSERT INTO verifications (id, stop_id, code_id, device_id, created_at, parcel_ids, expires_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![
                            id,
                            stop.id.to_string(),
                            code_id,
                            device.device_id.to_string(),
                            now,
                            serde_json::to_string(&covered).unwrap_or_default(),
                            now + self.settings.verification_ttl_ms
                        ],
                    )?;
                    VerifyOutcome::Verified { verification_id: id }
                }
                CodeCheck::Wrong { attempts_left } => VerifyOutcome::Wrong { attempts_left },
                CodeCheck::Locked => VerifyOutcome::Locked,
                CodeCheck::Expired | CodeCheck::Replaced => VerifyOutcome::Expired,
                CodeCheck::Consumed => VerifyOutcome::AlreadyDelivered,
                CodeCheck::NotRequired => VerifyOutcome::NotRequired,
            })
        })
    }

    /// `POST /v1/resend`: a new code, same counter, rate-limited.
    pub fn resend(
        &self,
        device: &DeviceAuth,
        parcel: ParcelId,
        now: i64,
    ) -> Result<ResendResponse, StoreError> {
        let d = &self.settings.policy.defaults;
        let interval = i64::from(d.resend_min_interval_secs) * 1000;
        let max = d.max_resends;
        self.write(|tx| {
            let (stop, status) = Self::parcel_for_device(tx, device, parcel)?;
            if !stop.code_required {
                return Err(StoreError::CodeNotRequired);
            }
            if status == "delivered" {
                return Err(StoreError::Conflict(
                    "the parcel was already delivered".into(),
                ));
            }
            if stop.resends >= max {
                return Err(StoreError::ResendTooSoon {
                    next_allowed_at: None,
                });
            }
            if let Some(last) = stop.last_resend_at
                && now < last + interval
            {
                return Err(StoreError::ResendTooSoon {
                    next_allowed_at: Some((last + interval) / 1000),
                });
            }
            exec(
                tx,
                "UPDATE stops SET last_resend_at = ?2, resends = resends + 1 WHERE id = ?1",
                params![stop.id.to_string(), now],
            )?;
            self.issue_code(
                tx,
                &stop,
                now,
                &self.settings.time_zone,
                Some(CodeEnd::Resend),
            )?;
            Ok(ResendResponse {
                next_allowed_at: (now + interval) / 1000,
            })
        })
    }

    /// Fleet manager: a fresh code and a fresh attempt counter for a locked stop.
    pub fn reset_code(&self, stop: StopId, actor: &str, now: i64) -> Result<String, StoreError> {
        self.write(|tx| {
            let s = load_stop(tx, &stop.to_string())?.ok_or(StoreError::NotFound("stop"))?;
            if !s.code_required {
                return Err(StoreError::CodeNotRequired);
            }
            exec(
                tx,
                "UPDATE stops SET failed_attempts = 0 WHERE id = ?1",
                [stop.to_string()],
            )?;
            exec(
                tx,
                "UPDATE parcels SET status = 'pending' WHERE stop_id = ?1 AND status = 'locked'",
                [stop.to_string()],
            )?;
            let code =
                self.issue_code(tx, &s, now, &self.settings.time_zone, Some(CodeEnd::Reset))?;
            self.audit(
                tx,
                now,
                actor,
                "code_reset",
                &stop.to_string(),
                "new code sent to the customer; wrong-code attempts start again",
            )?;
            Ok(code)
        })
    }

    /// Once every parcel of a stop is delivered, its code is used up: no hash of it (or of
    /// the codes it replaced) stays, so the same code verifies nothing afterwards.
    pub(super) fn consume_code_if_handed_over(
        &self,
        tx: &Db<'_>,
        stop: &StopRow,
        now: i64,
    ) -> Result<(), StoreError> {
        let open: i64 = qrow(
            tx,
            "SELECT COUNT(*) FROM parcels WHERE stop_id = ?1 AND status != 'delivered'",
            [stop.id.to_string()],
            |r| r.get(0),
        )?;
        if open == 0 {
            exec(
                tx,
                "UPDATE codes SET superseded_at = COALESCE(superseded_at, ?2), \
                 ended_by = CASE WHEN superseded_at IS NULL THEN 'consumed' ELSE ended_by END, \
                 code_hash = ?3 WHERE stop_id = ?1",
                params![stop.id.to_string(), now, Vec::<u8>::new()],
            )?;
        }
        Ok(())
    }

    /// Whether a record's verification holds for its stop: one arm per kind of proof
    /// (none, online, offline, QR), each refusing with the reject code the app translates.
    /// Long because of those arms' messages, each a line or two.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn check_verification(
        &self,
        tx: &Db<'_>,
        device: &DeviceAuth,
        stop: &StopRow,
        ev: &DeliveryEvent,
        verification: &Verification,
        occurred: i64,
        now: i64,
    ) -> Result<Result<(), (RejectCode, &'static str)>, StoreError> {
        if !stop.code_required {
            return Ok(Ok(()));
        }
        Ok(match verification {
            Verification::NotRequired => Err((
                RejectCode::CodeRequired,
                "this stop needs the delivery code",
            )),
            Verification::OnlineCode { verification_id } => {
                self.use_verification(tx, device, stop, ev, verification_id, occurred)?
            }
            Verification::OfflineCode { code } => {
                if !stop.offline_allowed {
                    Err((
                        RejectCode::OfflineNotAllowed,
                        "this stop allows no offline handover",
                    ))
                } else {
                    match self.check_code(tx, stop, code, occurred) {
                        Ok(CodeCheck::Ok { .. }) | Ok(CodeCheck::NotRequired) => Ok(()),
                        Ok(CodeCheck::Wrong { .. }) | Err(StoreError::CodeFormat(_)) => {
                            Err((RejectCode::CodeWrong, "the code typed offline was wrong"))
                        }
                        Ok(CodeCheck::Locked) => Err((
                            RejectCode::CodeLocked,
                            "the stop was locked by too many wrong codes",
                        )),
                        Ok(CodeCheck::Expired) => {
                            Err((RejectCode::CodeExpired, "the code had expired"))
                        }
                        Ok(CodeCheck::Replaced) => Err((
                            RejectCode::CodeReplaced,
                            "the fleet manager replaced this stop's code before this record; the old code is void",
                        )),
                        Ok(CodeCheck::Consumed) => Err((
                            RejectCode::AlreadyDelivered,
                            "the stop was already handed over",
                        )),
                        Err(e) => return Err(e),
                    }
                }
            }
            Verification::Token { token } => {
                let keys = self.secrets.token_keys();
                match token.verify(&keys, (occurred.max(0) / 1000) as u64, 300) {
                    Err(_) => Err((
                        RejectCode::TokenInvalid,
                        "the customer's QR code is not valid",
                    )),
                    Ok(claims) => {
                        let subject_ok = match claims.subject {
                            TokenSubject::Stop(s) => s == stop.id,
                            TokenSubject::Parcel(p) => ev.parcel_ids.contains(&p),
                        };
                        let reset_after = self.last_reset_ms(tx, stop)?;
                        if !subject_ok || claims.recipient_ref != stop.recipient_ref {
                            Err((
                                RejectCode::TokenInvalid,
                                "the customer's QR code is for another delivery",
                            ))
                        } else if reset_after.is_some_and(|r| {
                            // Tokens are signed with not_before one minute before issue.
                            i64::from(claims.not_before) * 1000 + 60_000 < r
                        }) {
                            Err((
                                RejectCode::CodeReplaced,
                                "the fleet manager replaced this stop's code after this QR code was issued",
                            ))
                        } else {
                            let n = exec(
                                tx,
                                "INSERT INTO used_tokens (nonce, stop_id, event_id, used_at) VALUES (?1, ?2, ?3, ?4) \
                                 ON CONFLICT(nonce) DO NOTHING",
                                params![
                                    claims.nonce.to_vec(),
                                    stop.id.to_string(),
                                    ev.id.to_string(),
                                    now
                                ],
                            )?;
                            if n == 0 {
                                Err((
                                    RejectCode::TokenReused,
                                    "the customer's QR code was already used",
                                ))
                            } else {
                                Ok(())
                            }
                        }
                    }
                }
            }
        })
    }

    /// When the fleet manager last replaced the stop's code, if ever.
    pub(super) fn last_reset_ms(
        &self,
        tx: &Db<'_>,
        stop: &StopRow,
    ) -> Result<Option<i64>, StoreError> {
        Ok(qrow(
            tx,
            "SELECT MAX(superseded_at) FROM codes WHERE stop_id = ?1 AND ended_by = 'reset'",
            [stop.id.to_string()],
            |r| r.get(0),
        )?)
    }

    /// Uses an online verification for a record: it must be this device's, for this stop and
    /// a superset of the record's parcels, unused, not expired at the record's time, and its
    /// code not replaced by the fleet manager since. Marks it used by this record.
    pub(super) fn use_verification(
        &self,
        tx: &Db<'_>,
        device: &DeviceAuth,
        stop: &StopRow,
        ev: &DeliveryEvent,
        verification_id: &str,
        occurred: i64,
    ) -> Result<Result<(), (RejectCode, &'static str)>, StoreError> {
        type Row = (String, String, String, i64, Option<String>, Option<String>);
        let row: Option<Row> = qrow(
            tx,
            "SELECT v.stop_id, v.device_id, v.parcel_ids, v.expires_at, v.used_by_event, c.ended_by \
             FROM verifications v JOIN codes c ON c.id = v.code_id WHERE v.id = ?1",
            [verification_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()?;
        let Some((stop_id, device_id, parcels, expires, used_by, ended_by)) = row else {
            return Ok(Err((
                RejectCode::VerificationUnknown,
                "the server has no such code check for this stop",
            )));
        };
        let covered: Vec<String> = serde_json::from_str(&parcels).unwrap_or_default();
        if stop_id != stop.id.to_string()
            || device_id != device.device_id.to_string()
            || !ev
                .parcel_ids
                .iter()
                .all(|p| covered.contains(&p.to_string()))
        {
            return Ok(Err((
                RejectCode::VerificationUnknown,
                "this code check was made by another phone or for other parcels",
            )));
        }
        if used_by.is_some() {
            return Ok(Err((
                RejectCode::VerificationUsed,
                "this code check was already used by another record",
            )));
        }
        if occurred > expires {
            return Ok(Err((
                RejectCode::VerificationExpired,
                "this code check had expired when the record was made",
            )));
        }
        if ended_by.as_deref() == Some(CodeEnd::Reset.as_str()) {
            return Ok(Err((
                RejectCode::CodeReplaced,
                "the fleet manager replaced the stop's code after this code check",
            )));
        }
        exec(
            tx,
            "UPDATE verifications SET used_by_event = ?2 WHERE id = ?1",
            params![verification_id, ev.id.to_string()],
        )?;
        Ok(Ok(()))
    }
}

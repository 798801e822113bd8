//! The device's SQLite store: enrollment, manifests, the outbox (which is also the signed audit
//! chain), local delivery status and the audit log.
//!
//! Every connection gets its pragmas in [`Store::open`]: WAL, foreign keys, a busy timeout and
//! `synchronous=FULL`, because a committed delivery must survive power loss, not only a crash.
//! The WAL is copied into the database (checkpointed) between handovers, by
//! [`Store::checkpoint_if_due`], rather than by SQLite inside a commit: see
//! [`CHECKPOINT_AFTER_COMMITS`].
//! Migrations are embedded and tracked with `PRAGMA user_version`; a database written by a
//! newer app is refused instead of being misread.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use doorstep_protocol::CourierId;
use doorstep_protocol::ids::{DeviceId, EventId, ParcelId, StopId};
use doorstep_protocol::token::PublicTokenKey;
use doorstep_protocol::wire::{
    AppVersionPolicy, DeliveryEvent, EventBody, GENESIS_HASH, Location, Manifest, RejectCode,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::StoreError;
use crate::view::{ParcelState, QueueItem, QueueKind, QueueState};

/// The migrations, in order; the position + 1 is the schema version they lead to.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "20261125180000_initial",
        include_str!("../../../migrations/device/20261125180000_initial.sql"),
    ),
    (
        "20261202000000_door_records",
        include_str!("../../../migrations/device/20261202000000_door_records.sql"),
    ),
];

/// The newest schema version this build understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Delivery commits between two WAL checkpoints ([`Store::checkpoint_if_due`], which the
/// background sync calls after each run).
///
/// With SQLite's automatic checkpoint (every 1,000 WAL pages, about 150 commits of 6 pages)
/// the commit that crossed the mark copied the WAL into the database and fsynced both
/// (about 2.3 × a plain commit), and the commit after it restarted the WAL, which costs
/// a second fsync for the log's new header (about 1.6 ×): 1.4 % of the commits, so they
/// were the slowest 1 % (the handover bench shows each kind). Checkpointing in the
/// background takes the first cost off the courier's path; doing it only every few hundred
/// commits keeps the second below 0.3 % of them. The WAL then holds at most about 10 MB.
pub const CHECKPOINT_AFTER_COMMITS: u32 = 400;

/// WAL pages at which a commit checkpoints by itself after all (SQLite's automatic
/// checkpoint, 1,000 pages by default): a backstop, about 40 MB, for a store whose
/// background sync does not run. Normally [`CHECKPOINT_AFTER_COMMITS`] comes first.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 10_000;

/// This device's enrollment.
#[derive(Clone)]
pub struct Enrollment {
    /// The dispatch server's base URL.
    pub server_url: String,
    /// This device's id.
    pub device_id: DeviceId,
    /// Bearer token for the API.
    pub device_token: String,
    /// The courier.
    pub courier_id: CourierId,
    /// The courier's name.
    pub courier_name: String,
    /// The fleet's name.
    pub fleet_name: String,
    /// The device's Ed25519 secret key.
    pub signing_key: [u8; 32],
    /// Pinned public token keys.
    pub token_keys: Vec<PublicTokenKey>,
    /// The fleet's app version policy, as the last manifest or sync answer said.
    pub app_policy: Option<AppVersionPolicy>,
    /// When the device was enrolled.
    pub enrolled_at_ms: i64,
}

impl fmt::Debug for Enrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enrollment")
            .field("server_url", &self.server_url)
            .field("device_id", &self.device_id)
            .field("device_token", &"<redacted>")
            .field("courier_id", &self.courier_id)
            .field("signing_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A stored manifest.
#[derive(Debug, Clone)]
pub struct StoredManifest {
    /// The server's ETag, for the next conditional request.
    pub etag: Option<String>,
    /// The manifest.
    pub manifest: Manifest,
    /// When it was last confirmed by the server.
    pub fetched_at_ms: i64,
}

/// A delivery event to commit (everything but the chain fields, which the store fills in).
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Client-made UUIDv7.
    pub id: EventId,
    /// The stop.
    pub stop_id: StopId,
    /// The parcels it covers.
    pub parcel_ids: Vec<ParcelId>,
    /// Device time.
    pub occurred_at_ms: i64,
    /// The time at the door and the typos caught, for a handover record.
    pub door: DoorFacts,
    /// Where, if known.
    pub location: Option<Location>,
    /// What happened.
    pub body: EventBody,
    /// The photos and signature the event refers to: SHA-256 hex and where each copy lives
    /// (uploaded before the event).
    pub images: Vec<(String, PathBuf)>,
    /// For the queue screen.
    pub stop_address: String,
    /// For the queue screen.
    pub recipient_name: String,
    /// For the queue screen.
    pub barcodes: Vec<String>,
}

/// What a handover record tells about the handover itself, for the fleet's numbers (absent
/// from records that are not a handover at a door).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DoorFacts {
    /// When the first parcel was scanned (device clock, Unix ms).
    pub first_scan_at_ms: Option<i64>,
    /// Typed codes the check digit refused.
    pub typos_caught: Option<u32>,
}

/// A committed record as stored (see [`Store::event_row`]).
#[derive(Debug, Clone)]
pub struct EventRow {
    /// `delivered`, `failed`, `unexpected`, `depot_check_in` or `correction`.
    pub kind: String,
    /// The signed record's JSON.
    pub body: String,
    /// When it was committed.
    pub committed_at_ms: i64,
    /// For the queue screen.
    pub stop_address: String,
    /// For the queue screen.
    pub recipient_name: String,
    /// The labels it names.
    pub barcodes: Vec<String>,
}

/// One outbox entry ready to send.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    /// Chain position.
    pub seq: i64,
    /// Event id.
    pub id: EventId,
    /// The signed event JSON.
    pub body: String,
    /// Photos (and signatures) that must be uploaded first: SHA-256 hex and file.
    pub photos_to_upload: Vec<(String, PathBuf)>,
}

/// What the server decided about one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Stored (now or before).
    Synced,
    /// Refused for good, with the server's reason code and its sentence.
    Disputed(RejectCode, String),
}

/// The store. One connection; callers serialise access (it sits behind a mutex).
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    /// Delivery commits since the last [`Store::checkpoint_if_due`] checkpoint.
    commits_since_checkpoint: u32,
    /// Read-through caches of the enrollment and the latest manifest read, so the hot path
    /// (scan → commit) does not parse JSON from SQLite every time. Every write through this
    /// store clears the matching cache.
    cache: RefCell<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    enrollment: Option<Option<Enrollment>>,
    /// The enrollment's signing key, derived once: deriving it computes its public key.
    signing_key: Option<ed25519_dalek::SigningKey>,
    manifest: Option<(String, Option<StoredManifest>)>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, sets the pragmas and migrates.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        migrate(&mut conn)?;
        // A session starts with the WAL copied in, because its commit count starts at zero:
        // an app that was killed (as mobile systems do) leaves its WAL behind, and without
        // this the WAL would grow over sessions until a commit checkpoints it by itself.
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(Self {
            conn,
            commits_since_checkpoint: 0,
            cache: RefCell::default(),
        })
    }

    /// Copies the WAL into the database file when [`CHECKPOINT_AFTER_COMMITS`] deliveries
    /// were committed since the last time; answers whether it did. Durable either way (the
    /// WAL is the durable copy until then); it only keeps the WAL short, off the commit path.
    pub fn checkpoint_if_due(&mut self) -> Result<bool, StoreError> {
        if self.commits_since_checkpoint < CHECKPOINT_AFTER_COMMITS {
            return Ok(false);
        }
        // PASSIVE: copies what it can without waiting; with this one connection, all of it.
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        self.commits_since_checkpoint = 0;
        Ok(true)
    }

    /// The enrollment, if the device is enrolled.
    pub fn enrollment(&self) -> Result<Option<Enrollment>, StoreError> {
        if let Some(cached) = &self.cache.borrow().enrollment {
            return Ok(cached.clone());
        }
        let enrollment = self.read_enrollment()?;
        self.cache.borrow_mut().enrollment = Some(enrollment.clone());
        Ok(enrollment)
    }

    /// The key that signs this device's events, if the device is enrolled. Cached: making a
    /// `SigningKey` from its bytes computes the public key (a scalar multiplication, as
    /// costly as the signature itself), which each handover's commit used to pay.
    pub fn signing_key(&self) -> Result<Option<ed25519_dalek::SigningKey>, StoreError> {
        if let Some(key) = &self.cache.borrow().signing_key {
            return Ok(Some(key.clone()));
        }
        let key = self
            .enrollment()?
            .map(|e| ed25519_dalek::SigningKey::from_bytes(&e.signing_key));
        self.cache.borrow_mut().signing_key = key.clone();
        Ok(key)
    }

    fn read_enrollment(&self) -> Result<Option<Enrollment>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT server_url, device_id, device_token, courier_id, courier_name, fleet_name,
                        signing_key, token_keys, app_policy, enrolled_at_ms
                 FROM enrollment WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, Vec<u8>>(6)?,
                        r.get::<_, String>(7)?,
                        r.get::<_, Option<String>>(8)?,
                        r.get::<_, i64>(9)?,
                    ))
                },
            )
            .optional()?;
        let Some((
            server_url,
            device_id,
            token,
            courier_id,
            courier_name,
            fleet_name,
            key,
            keys,
            policy,
            at,
        )) = row
        else {
            return Ok(None);
        };
        let signing_key: [u8; 32] = key
            .try_into()
            .map_err(|_| StoreError::Corrupt("device key has the wrong length".into()))?;
        Ok(Some(Enrollment {
            server_url,
            device_id: device_id.parse().map_err(|_| corrupt("device id"))?,
            device_token: token,
            courier_id: courier_id.parse().map_err(|_| corrupt("courier id"))?,
            courier_name,
            fleet_name,
            signing_key,
            token_keys: serde_json::from_str(&keys).map_err(|_| corrupt("token keys"))?,
            app_policy: policy
                .map(|p| serde_json::from_str(&p))
                .transpose()
                .map_err(|_| corrupt("app policy"))?,
            enrolled_at_ms: at,
        }))
    }

    /// Stores a new enrollment, replacing everything of a previous one.
    pub fn save_enrollment(&mut self, e: &Enrollment) -> Result<(), StoreError> {
        self.cache.replace(Cache::default());
        let tx = self.conn.transaction()?;
        clear(&tx)?;
        tx.execute(
            "INSERT INTO enrollment (id, server_url, device_id, device_token, courier_id, courier_name,
                 fleet_name, signing_key, token_keys, app_policy, enrolled_at_ms)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9)",
            params![
                e.server_url,
                e.device_id.to_string(),
                e.device_token,
                e.courier_id.to_string(),
                e.courier_name,
                e.fleet_name,
                e.signing_key.as_slice(),
                json(&e.token_keys),
                e.enrolled_at_ms
            ],
        )?;
        audit(
            &tx,
            e.enrolled_at_ms,
            "enrolled",
            &format!("device {}", e.device_id),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets the enrollment and all its data.
    pub fn clear_enrollment(&mut self, now_ms: i64) -> Result<(), StoreError> {
        self.cache.replace(Cache::default());
        let tx = self.conn.transaction()?;
        clear(&tx)?;
        audit(&tx, now_ms, "unenrolled", "")?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces the pinned token keys (key rotation).
    pub fn set_token_keys(&self, keys: &[PublicTokenKey]) -> Result<(), StoreError> {
        self.cache.borrow_mut().enrollment = None;
        self.conn.execute(
            "UPDATE enrollment SET token_keys = ?1 WHERE id = 1",
            [json(&keys)],
        )?;
        Ok(())
    }

    /// Stores the fleet's app version policy as the server last answered it; `None` (the
    /// fleet publishes none any more) forgets the one before. Every sync answer and manifest
    /// carries it and it rarely changes, so an unchanged policy writes nothing (no
    /// transaction to make durable, the cached enrollment kept).
    pub fn set_app_policy(&self, policy: Option<&AppVersionPolicy>) -> Result<(), StoreError> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE enrollment SET app_policy = ?1 WHERE id = 1 AND app_policy IS NOT ?1",
            )?
            .execute([policy.map(json)])?;
        if changed > 0 {
            self.cache.borrow_mut().enrollment = None;
        }
        Ok(())
    }

    /// The stored manifest for a day.
    pub fn manifest(&self, date: &str) -> Result<Option<StoredManifest>, StoreError> {
        if let Some((cached_date, cached)) = &self.cache.borrow().manifest
            && cached_date == date
        {
            return Ok(cached.clone());
        }
        let manifest = self.read_manifest(date)?;
        self.cache.borrow_mut().manifest = Some((date.to_string(), manifest.clone()));
        Ok(manifest)
    }

    fn read_manifest(&self, date: &str) -> Result<Option<StoredManifest>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT etag, body, fetched_at_ms FROM manifest WHERE date = ?1",
                [date],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(etag, body, fetched_at_ms)| {
            Ok(StoredManifest {
                etag,
                manifest: serde_json::from_str(&body).map_err(|_| corrupt("manifest"))?,
                fetched_at_ms,
            })
        })
        .transpose()
    }

    /// Stores a freshly downloaded manifest.
    pub fn save_manifest(
        &self,
        manifest: &Manifest,
        etag: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.cache.borrow_mut().manifest = None;
        self.conn.execute(
            "INSERT INTO manifest (date, etag, body, fetched_at_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (date) DO UPDATE SET etag = ?2, body = ?3, fetched_at_ms = ?4",
            params![manifest.date, etag, json(manifest), now_ms],
        )?;
        Ok(())
    }

    /// Records that the server confirmed the stored manifest is current (304).
    pub fn touch_manifest(&self, date: &str, now_ms: i64) -> Result<(), StoreError> {
        self.cache.borrow_mut().manifest = None;
        self.conn.execute(
            "UPDATE manifest SET fetched_at_ms = ?2 WHERE date = ?1",
            params![date, now_ms],
        )?;
        Ok(())
    }

    /// The status of each of `parcels` from this device's own records (a parcel's latest
    /// event wins); parcels without a record are left out. One indexed lookup per parcel,
    /// so the cost does not grow with the number of committed events.
    pub fn local_parcel_states<'a>(
        &self,
        parcels: impl IntoIterator<Item = &'a ParcelId>,
    ) -> Result<HashMap<ParcelId, ParcelState>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.outcome, e.state FROM delivery d JOIN event e ON e.seq = d.event_seq
             WHERE d.parcel_id = ?1 ORDER BY d.event_seq DESC LIMIT 1",
        )?;
        let mut out = HashMap::new();
        for parcel in parcels {
            let row = stmt
                .query_row([parcel.to_string()], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .optional()?;
            let Some((outcome, state)) = row else {
                continue;
            };
            let status = match (outcome.as_str(), state.as_str()) {
                // A correction puts the parcel back to deliver.
                ("corrected", _) => continue,
                (_, "disputed") => ParcelState::Disputed,
                ("delivered", _) => ParcelState::Delivered,
                _ => ParcelState::Exception,
            };
            out.insert(*parcel, status);
        }
        Ok(out)
    }

    /// Commits a delivery event durably, in one transaction: the event (signed, chained to
    /// the previous one) as an outbox entry, the parcels' delivery rows and an audit entry.
    /// When this returns `Ok`, the event survives a crash or power loss.
    pub fn commit_event(
        &mut self,
        event: NewEvent,
        key: &ed25519_dalek::SigningKey,
        now_ms: i64,
    ) -> Result<DeliveryEvent, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // The statements of this hot path go through the statement cache: parsed once.
        let (prev_seq, prev_hash, prev_at) = tx
            .prepare_cached(
                "SELECT seq, chain_hash, json_extract(body, '$.occurred_at_ms') FROM event \
                 ORDER BY seq DESC LIMIT 1",
            )?
            .query_row([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            })
            .optional()?
            .unwrap_or((0, GENESIS_HASH.to_string(), None));
        let seq = prev_seq + 1;
        let mut signed = DeliveryEvent {
            id: event.id,
            seq: seq as u64,
            stop_id: event.stop_id,
            parcel_ids: event.parcel_ids,
            // Never before the previous record: the server refuses a record that claims an
            // earlier time than its predecessor (a backdated record could use an old code),
            // and a phone's clock may step back (NTP, a manual change).
            occurred_at_ms: event.occurred_at_ms.max(prev_at.unwrap_or(i64::MIN)),
            first_scan_at_ms: event.door.first_scan_at_ms,
            typos_caught: event.door.typos_caught,
            location: event.location,
            body: event.body,
            prev_hash,
            signature: String::new(),
        };
        // Only what can be true (the clock may have stepped back since the first scan): the
        // server would not keep anything else.
        signed.first_scan_at_ms = signed.plausible_first_scan_at_ms();
        signed.typos_caught = signed.plausible_typos_caught();
        signed.sign(key);
        let kind = signed.body.kind();
        let outcome = match signed.body {
            EventBody::Delivered { .. } => "delivered",
            EventBody::Failed { .. } => "exception",
            EventBody::Correction { .. } => "corrected",
            EventBody::Unexpected { .. } | EventBody::DepotCheckIn { .. } => "",
        };
        for (sha, path) in &event.images {
            tx.execute(
                "INSERT OR IGNORE INTO photo (sha256, path) VALUES (?1, ?2)",
                params![sha, path.to_string_lossy()],
            )?;
        }
        tx.prepare_cached(
            "INSERT INTO event (seq, id, stop_id, kind, body, chain_hash, photo_sha256, stop_address,
                 recipient_name, barcodes, committed_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![
                seq,
                signed.id.to_string(),
                signed.stop_id.to_string(),
                kind,
                json(&signed),
                signed.chain_hash(),
                event.images.first().map(|(sha, _)| sha),
                event.stop_address,
                event.recipient_name,
                json(&event.barcodes),
                now_ms
            ],
        )?;
        for parcel in signed.parcel_ids.iter().filter(|_| !outcome.is_empty()) {
            tx.prepare_cached(
                "INSERT INTO delivery (parcel_id, event_seq, outcome) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![parcel.to_string(), seq, outcome])?;
        }
        audit(
            &tx,
            now_ms,
            kind,
            &format!("event {} seq {seq} stop {}", signed.id, signed.stop_id),
        )?;
        tx.commit()?;
        self.commits_since_checkpoint += 1;
        Ok(signed)
    }

    /// The oldest pending events, at most `max_events` and (beyond the first) at most
    /// `max_bytes` of event JSON.
    pub fn pending_batch(
        &self,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.seq, e.id, e.body, p.sha256, p.path, p.uploaded FROM event e
             LEFT JOIN photo p ON p.sha256 = e.photo_sha256
             WHERE e.state = 'pending' ORDER BY e.seq LIMIT ?1",
        )?;
        let rows = stmt.query_map([max_events as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<i64>>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        let mut bytes = 0;
        for row in rows {
            let (seq, id, body, sha, path, uploaded) = row?;
            bytes += body.len() + 1;
            if !out.is_empty() && bytes > max_bytes {
                break;
            }
            let mut photos_to_upload: Vec<(String, PathBuf)> = match (sha, path, uploaded) {
                (Some(sha), Some(path), Some(0)) => vec![(sha, PathBuf::from(path))],
                _ => Vec::new(),
            };
            // A record with more than one image (a signature, the open-box photo) names the
            // others only in its body: look them up when it mentions one.
            if body.contains("signature_sha256") || body.contains("contents_photo_sha256") {
                let event: DeliveryEvent =
                    serde_json::from_str(&body).map_err(|_| corrupt("event body"))?;
                for sha in event.body.images() {
                    if photos_to_upload.iter().any(|(s, _)| s == sha) {
                        continue;
                    }
                    let row: Option<(String, i64)> = self
                        .conn
                        .prepare_cached("SELECT path, uploaded FROM photo WHERE sha256 = ?1")?
                        .query_row([sha], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()?;
                    if let Some((path, 0)) = row {
                        photos_to_upload.push((sha.to_string(), PathBuf::from(path)));
                    }
                }
            }
            out.push(OutboxEntry {
                seq,
                id: id.parse().map_err(|_| corrupt("event id"))?,
                body,
                photos_to_upload,
            });
        }
        Ok(out)
    }

    /// Records that the server has a photo.
    pub fn mark_photo_uploaded(&self, sha256: &str) -> Result<(), StoreError> {
        self.conn
            .execute("UPDATE photo SET uploaded = 1 WHERE sha256 = ?1", [sha256])?;
        Ok(())
    }

    /// Applies the server's per-event answers in one transaction. Only pending events change,
    /// so applying the same answers twice changes nothing.
    pub fn apply_results(
        &mut self,
        results: &[(EventId, Resolution)],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        // A batch answers hundreds of events: each statement is parsed once.
        let mut synced = tx.prepare_cached(
            "UPDATE event SET state = 'synced' WHERE id = ?1 AND state = 'pending'",
        )?;
        let mut disputed = tx.prepare_cached(
            "UPDATE event SET state = 'disputed', reason = ?2, reject_code = ?3
             WHERE id = ?1 AND state = 'pending'",
        )?;
        // Once the server has stored a record (accepted or refused for good) it is never sent
        // again, so the code typed offline and the customer's token leave the phone's copy:
        // nothing at rest on the phone gives a code back (the server redacts its copy the
        // same way). The chain hash is kept in its own column; the redacted body is no longer
        // the signed bytes, only the record's facts for the queue screen and corrections.
        let mut redact = tx.prepare_cached(
            "UPDATE event SET body = json_replace(body,
                 '$.body.verification.code', '<redacted>',
                 '$.body.verification.token', '<redacted>')
             WHERE id = ?1 AND state <> 'pending'
               AND (json_extract(body, '$.body.verification.code') IS NOT NULL
                    OR json_extract(body, '$.body.verification.token') IS NOT NULL)",
        )?;
        for (id, resolution) in results {
            match resolution {
                Resolution::Synced => {
                    synced.execute([id.to_string()])?;
                    redact.execute([id.to_string()])?;
                }
                Resolution::Disputed(code, reason) => {
                    let changed = disputed.execute(params![
                        id.to_string(),
                        reason,
                        json(code).trim_matches('"')
                    ])?;
                    if changed > 0 {
                        audit(&tx, now_ms, "disputed", &format!("event {id}: {reason}"))?;
                    }
                    redact.execute([id.to_string()])?;
                }
            }
        }
        drop((synced, disputed, redact));
        tx.commit()?;
        Ok(())
    }

    /// The records not sent yet and when the oldest was committed (Unix ms): what the phone
    /// reports to the fleet with each manifest request.
    pub fn backlog(&self) -> Result<(u64, Option<i64>), StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*), MIN(committed_at_ms) FROM event WHERE state = 'pending'",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Option<i64>>(1)?)),
        )?)
    }

    /// Pending and disputed event counts.
    pub fn counts(&self) -> Result<(u64, u64), StoreError> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(SUM(state = 'pending'), 0), COALESCE(SUM(state = 'disputed'), 0) FROM event",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )?)
    }

    /// One committed record, by id.
    pub fn event_row(&self, id: &EventId) -> Result<Option<EventRow>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT kind, body, committed_at_ms, stop_address, recipient_name, barcodes FROM event WHERE id = ?1",
            )?
            .query_row([id.to_string()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .optional()?;
        row.map(|(kind, body, at, address, name, barcodes)| {
            Ok(EventRow {
                kind,
                body,
                committed_at_ms: at,
                stop_address: address,
                recipient_name: name,
                barcodes: serde_json::from_str(&barcodes).map_err(|_| corrupt("barcodes"))?,
            })
        })
        .transpose()
    }

    /// Every committed event, newest first, for the queue screen.
    pub fn queue(&self) -> Result<Vec<QueueItem>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, stop_address, recipient_name, kind, barcodes, committed_at_ms, state, reason,
                    reject_code
             FROM event ORDER BY seq DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, Option<String>>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (event_id, stop_address, recipient_name, kind, barcodes, at, state, reason, code) =
                row?;
            out.push(QueueItem {
                event_id,
                stop_address,
                recipient_name,
                kind: match kind.as_str() {
                    "delivered" => QueueKind::Delivered,
                    "unexpected" => QueueKind::Unexpected,
                    "depot_check_in" => QueueKind::DepotCheckIn,
                    "correction" => QueueKind::Correction,
                    _ => QueueKind::Failed,
                },
                barcodes: serde_json::from_str(&barcodes).map_err(|_| corrupt("barcodes"))?,
                committed_at_ms: at,
                state: match state.as_str() {
                    "pending" => QueueState::Pending,
                    "synced" => QueueState::Synced,
                    _ => QueueState::Disputed,
                },
                reason,
                reject_code: code
                    .and_then(|c| serde_json::from_value(serde_json::Value::String(c)).ok()),
            });
        }
        Ok(out)
    }

    /// Adds an entry to the local audit log.
    pub fn audit(&self, now_ms: i64, action: &str, detail: &str) -> Result<(), StoreError> {
        audit(&self.conn, now_ms, action, detail)
    }
}

/// The pragmas every connection gets.
fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Space a row gives up (a record's body once its code is redacted) is zeroed, not left
    // readable in the file's free pages.
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(())
}

/// Applies the missing migrations in one transaction; refuses a newer database.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    for (name, sql) in &MIGRATIONS[found as usize..] {
        tracing::info!(migration = name, "applying device migration");
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

fn clear(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "DELETE FROM delivery; DELETE FROM event; DELETE FROM photo; DELETE FROM manifest;
         DELETE FROM enrollment;",
    )?;
    Ok(())
}

fn audit(conn: &Connection, now_ms: i64, action: &str, detail: &str) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO audit (at_ms, action, detail) VALUES (?1, ?2, ?3)")?
        .execute(params![now_ms, action, detail])?;
    Ok(())
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("serialising plain data cannot fail")
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} is unreadable"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A test enrollment with `server_url` (also the device core's tests'): device `[1; 16]`,
    /// courier `[2; 16]`, signing key `[3; 32]`, no policy.
    pub(crate) fn test_enrollment(server_url: &str) -> Enrollment {
        Enrollment {
            server_url: server_url.into(),
            device_id: DeviceId::from_bytes([1; 16]),
            device_token: "secret".into(),
            courier_id: CourierId::from_bytes([2; 16]),
            courier_name: "Courier".into(),
            fleet_name: "Fleet".into(),
            signing_key: [3; 32],
            token_keys: vec![],
            app_policy: None,
            enrolled_at_ms: 0,
        }
    }

    fn enrolled_store(dir: &Path) -> (Store, ed25519_dalek::SigningKey) {
        let mut store = Store::open(&dir.join("db.sqlite3")).unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        store
            .save_enrollment(&test_enrollment("http://127.0.0.1:1"))
            .unwrap();
        (store, key)
    }

    fn failed_attempt(n: u8) -> NewEvent {
        NewEvent {
            id: EventId::new_v7(u64::from(n), [n; 10]),
            stop_id: StopId::from_bytes([n; 16]),
            parcel_ids: vec![ParcelId::from_bytes([n; 16])],
            occurred_at_ms: i64::from(n),
            door: DoorFacts::default(),
            location: None,
            body: EventBody::Failed {
                reason: doorstep_protocol::wire::ExceptionReason::NotHome,
                note: None,
                photo_sha256: None,
                id_check: None,
            },
            images: Vec::new(),
            stop_address: "1 Main St".into(),
            recipient_name: "Ada".into(),
            barcodes: vec![format!("P{n}")],
        }
    }

    #[test]
    fn a_database_of_the_first_schema_keeps_its_records_and_their_states_when_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite3");
        {
            // A phone's database as the first release left it: one synced delivery, one
            // disputed failed attempt.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0].1).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute_batch(
                "INSERT INTO event (seq, id, stop_id, kind, body, chain_hash, stop_address, recipient_name,
                   barcodes, committed_at_ms, state, reason)
                 VALUES (1, 'e1', 's1', 'delivered', '{}', 'h1', '1 Main St', 'Ada', '[\"P1\"]', 10, 'synced', NULL),
                        (2, 'e2', 's2', 'failed', '{}', 'h2', '2 Main St', 'Ben', '[\"P2\"]', 20, 'disputed', 'no');
                 INSERT INTO delivery (parcel_id, event_seq, outcome) VALUES ('p1', 1, 'delivered'), ('p2', 2, 'exception');",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let version: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let queue = store.queue().unwrap();
        assert_eq!(queue.len(), 2);
        assert_eq!(
            (queue[0].kind, queue[0].state),
            (QueueKind::Failed, QueueState::Disputed)
        );
        assert_eq!(queue[0].reason.as_deref(), Some("no"));
        assert_eq!(
            (queue[1].kind, queue[1].state),
            (QueueKind::Delivered, QueueState::Synced)
        );
        let fk: i64 = store
            .conn
            .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(fk, 0, "every delivery row still points at its record");
        let delivery_sql: String = store
            .conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'delivery'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            delivery_sql.contains("REFERENCES \"event\"")
                || delivery_sql.contains("REFERENCES event "),
            "delivery refers to the renamed event table: {delivery_sql}"
        );
        // The new kinds fit.
        store
            .conn
            .execute(
                "INSERT INTO event (seq, id, stop_id, kind, body, chain_hash, stop_address, recipient_name,
                   barcodes, committed_at_ms) VALUES (3, 'e3', 's0', 'depot_check_in', '{}', 'h3', '', '', '[]', 30)",
                [],
            )
            .unwrap();
    }

    #[test]
    fn the_cached_signing_key_follows_the_enrollment() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, key) = enrolled_store(dir.path());
        let public = |s: &Store| s.signing_key().unwrap().map(|k| k.verifying_key());
        assert_eq!(public(&store), Some(key.verifying_key()));
        let mut again = store.enrollment().unwrap().unwrap();
        store.clear_enrollment(1).unwrap();
        assert_eq!(public(&store), None);
        again.signing_key = [4; 32];
        store.save_enrollment(&again).unwrap();
        assert_eq!(
            public(&store),
            Some(ed25519_dalek::SigningKey::from_bytes(&[4; 32]).verifying_key())
        );
    }

    #[test]
    fn commits_leave_the_wal_checkpoint_to_the_background_until_it_is_due() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, key) = enrolled_store(dir.path());
        store.checkpoint_if_due().unwrap();
        let db_len = || {
            std::fs::metadata(dir.path().join("db.sqlite3"))
                .unwrap()
                .len()
        };
        let before = db_len();
        for i in 1..=CHECKPOINT_AFTER_COMMITS {
            assert!(
                !store.checkpoint_if_due().unwrap(),
                "not due after {} commits",
                i - 1
            );
            let mut event = failed_attempt((i % 200) as u8);
            event.id = EventId::new_v7(u64::from(i), [7; 10]);
            store.commit_event(event, &key, i64::from(i)).unwrap();
        }
        // SQLite's own checkpoint (1,000 pages by default) would have run inside one of these
        // commits and grown the database file; the commits are all still in the WAL.
        assert_eq!(db_len(), before);
        assert!(store.checkpoint_if_due().unwrap());
        assert!(
            db_len() > before,
            "the checkpoint copied the WAL into the database"
        );
        assert!(
            !store.checkpoint_if_due().unwrap(),
            "due again only after more commits"
        );
    }

    #[test]
    fn a_record_never_claims_a_time_before_the_previous_record_when_the_clock_steps_back() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, key) = enrolled_store(dir.path());
        let mut later = failed_attempt(1);
        later.occurred_at_ms = 5_000;
        let first = store.commit_event(later, &key, 5_000).unwrap();
        let mut earlier = failed_attempt(2);
        earlier.occurred_at_ms = 4_000; // the phone's clock stepped back a second
        let second = store.commit_event(earlier, &key, 4_000).unwrap();
        assert_eq!(first.occurred_at_ms, 5_000);
        assert_eq!(second.occurred_at_ms, 5_000);
        assert!(second.verify_signature(&key.verifying_key()));
    }

    #[test]
    fn committed_events_form_a_signed_hash_chain_from_genesis() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, key) = enrolled_store(dir.path());
        let first = store.commit_event(failed_attempt(1), &key, 10).unwrap();
        let second = store.commit_event(failed_attempt(2), &key, 20).unwrap();
        assert_eq!((first.seq, second.seq), (1, 2));
        assert_eq!(first.prev_hash, GENESIS_HASH);
        assert_eq!(second.prev_hash, first.chain_hash());
        assert!(second.verify_signature(&key.verifying_key()));
        let batch = store.pending_batch(10, 1 << 20).unwrap();
        let sent: DeliveryEvent = serde_json::from_str(&batch[1].body).unwrap();
        assert_eq!(sent, second, "the outbox holds the event exactly as signed");
    }

    #[test]
    fn batches_respect_the_byte_bound_but_always_carry_one_event() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, key) = enrolled_store(dir.path());
        for n in 1..=5 {
            store.commit_event(failed_attempt(n), &key, 0).unwrap();
        }
        assert_eq!(store.pending_batch(3, 1 << 20).unwrap().len(), 3);
        assert_eq!(store.pending_batch(10, 1).unwrap().len(), 1);
        let one = store.pending_batch(1, 1 << 20).unwrap()[0].body.len();
        assert_eq!(store.pending_batch(10, 2 * one + 2).unwrap().len(), 2);
    }

    #[test]
    fn applying_the_same_answers_twice_changes_nothing_and_disputes_stay_visible() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, key) = enrolled_store(dir.path());
        let a = store.commit_event(failed_attempt(1), &key, 0).unwrap().id;
        let b = store.commit_event(failed_attempt(2), &key, 0).unwrap().id;
        let answers = [
            (a, Resolution::Synced),
            (
                b,
                Resolution::Disputed(RejectCode::CodeWrong, "the code was wrong".into()),
            ),
        ];
        store.apply_results(&answers, 1).unwrap();
        store.apply_results(&answers, 2).unwrap();
        store.apply_results(&[(b, Resolution::Synced)], 3).unwrap();
        assert_eq!(store.counts().unwrap(), (0, 1));
        let queue = store.queue().unwrap();
        assert_eq!(queue[0].state, QueueState::Disputed);
        assert_eq!(queue[0].reason.as_deref(), Some("the code was wrong"));
        assert_eq!(
            store
                .local_parcel_states(&[ParcelId::from_bytes([2; 16])])
                .unwrap()[&ParcelId::from_bytes([2; 16])],
            ParcelState::Disputed
        );
    }

    #[test]
    fn a_database_from_a_newer_app_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let err = Store::open(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 1)
        );
    }

    #[test]
    fn reopening_keeps_the_schema_and_sets_durable_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        drop(Store::open(&path).unwrap());
        let store = Store::open(&path).unwrap();
        let sync: i64 = store
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        assert_eq!(mode, "wal");
        assert!(store.enrollment().unwrap().is_none());
    }
}

//! The storage boundary: every SQL statement of the server lives in this module, written once
//! for both backends.
//!
//! Handlers call the domain operations below (create a parcel, verify a code, store a sync
//! batch, ...); each runs in one transaction and is blocking, so callers run it on a blocking
//! thread ([`Store::run_blocking`]). The operations are split by concern — [`devices`] (shippers,
//! couriers, enrollment, devices), [`parcels`] (parcels, stops, the manifest), [`codes`]
//! (codes and verification), [`events`] (sync and the record chains), [`outbox`] (customer
//! messages and webhooks) and [`views`] (what the pages and the admin API read) — over one SQL
//! boundary, [`backend::sql::Db`], with two implementations: [`backend::sqlite`] (the embedded
//! default: one file, WAL, `synchronous=FULL`, group commit) and [`backend::postgres`] (many
//! server nodes on one
//! PostgreSQL database: a pool, serializable transactions retried on conflict).

use std::path::Path;

use doorstep_protocol::wire::{
    CreateParcelRequest, DeliveryEvent, DeliveryMethod, DevMessage, DeviceView, DoorMethod,
    EnrollRequest, EventBody, EventResult, EventStatus, ExceptionReason, GENESIS_HASH, Handed,
    Manifest, ManifestParcel, ManifestStop, MissingStep, OutboxEntry, ParcelStatus, ParcelView,
    Platform, PolicyDecision, RejectCode, ResendResponse, StoredDelivery, Verification,
    VerifyOutcome, WebhookEvent, WebhookPayload, door_steps,
};
use doorstep_protocol::{
    Barcode, CourierId, DeliveryCode, DeviceId, EventId, ParcelId, StopId, TokenClaims,
    TokenSubject,
};
use subtle::ConstantTimeEq;

use crate::domain::policy::{Decision, OnFailure, ParcelFacts, Policy, parse_amount};
use crate::domain::zone::is_date;
use crate::sys::secrets::{Secrets, sha256};

pub mod backend;
mod codes;
mod devices;
mod door;
mod events;
mod outbox;
mod parcels;
mod releases;
pub mod sqlite_to_postgres;
mod views;

use backend::{postgres, sql, sqlite};
pub use releases::{ChannelRules, NewRelease};

use outbox::{enqueue, enqueue_webhook, void_unsent_code_messages};
pub use views::LockedStop;
use views::parcel_view;

pub use door::{CorrectionView, UnexpectedParcel, VanReconciliation};

use sql::{Db, DbError, OptionalExt, exec, params, qrow};

/// A schema migration: its name and its SQL for each backend (same numbering on both).
struct Migration {
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

macro_rules! migration {
    ($name:literal) => {
        Migration {
            name: $name,
            sqlite: include_str!(concat!("../../../../migrations/server/", $name, ".sql")),
            postgres: include_str!(concat!(
                "../../../../migrations/server-postgres/",
                $name,
                ".sql"
            )),
        }
    };
}

/// Migrations, embedded at build time, applied in order. Append only.
const MIGRATIONS: &[Migration] = &[
    migration!("20261125000000_initial"),
    migration!("20261201000000_hardening"),
    migration!("20261201000100_outbox_limits"),
    migration!("20261201000200_limits"),
    migration!("20261201000300_nodes"),
    migration!("20261201000400_releases"),
    migration!("20261202000000_door_steps"),
];

/// Errors of store operations that a client can cause; anything else is `Db`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("storage error: {0}")]
    Db(#[from] DbError),
    /// No such thing.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Not this caller's.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Clashes with stored state.
    #[error("{0}")]
    Conflict(String),
    /// A value breaks a rule.
    #[error("{0}")]
    Validation(String),
    /// The enrollment code is unknown, used or expired.
    #[error("the enrollment code is unknown, expired or already used; ask for a new one")]
    EnrollmentInvalid,
    /// A resend was asked for too soon or too often.
    #[error("a new code was sent recently; try again later")]
    ResendTooSoon {
        /// Unix seconds when it is allowed again (`None`: never again for this stop).
        next_allowed_at: Option<i64>,
    },
    /// The typed code has the wrong length for this stop.
    #[error("the delivery code for this stop has {0} digits")]
    CodeFormat(u8),
    /// The parcel needs no code.
    #[error("this parcel needs no delivery code")]
    CodeNotRequired,
    /// The group commit that held this operation failed; nothing of it was stored.
    #[error("the database could not commit; retry")]
    CommitFailed,
    /// The database was written by a newer server.
    #[error(
        "the database has schema version {found}, this server knows up to {supported}; run a newer server"
    )]
    DatabaseTooNew {
        /// Version found.
        found: i64,
        /// Newest version known here.
        supported: i64,
    },
    /// A migration failed (nothing of it was applied).
    #[error("migration failed: {0}")]
    Migration(String),
    /// The database or its directory cannot be used as it is (missing, set up with other
    /// secrets); the message says how to fix it.
    #[error("{0}")]
    Unusable(String),
    /// The blocking task that ran the operation failed (a panic); nothing is known of it.
    #[error("a storage task failed")]
    TaskFailed,
}

/// The keyed form of an event's chain hash, as stored (see [`chain_mac`]).
const HARDENING_MIGRATION: usize = 1;

/// Applies pending migrations to a database at schema `version` (in the caller's one
/// transaction); refuses a database made by a newer server. Data changes that SQL cannot make
/// (keyed hashes) run in the same transaction. Returns the new version.
fn migrate(db: &Db<'_>, version: i64, secrets: &Secrets) -> Result<i64, StoreError> {
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::DatabaseTooNew {
            found: version,
            supported: known,
        });
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let sql = if db.is_postgres() {
            m.postgres
        } else {
            m.sqlite
        };
        let failed = |e: DbError| StoreError::Migration(format!("{}: {e}", m.name));
        db.execute_batch(sql).map_err(failed)?;
        if i == HARDENING_MIGRATION {
            rekey_chain_hashes(db, secrets).map_err(failed)?;
        }
    }
    Ok(known)
}

/// Replaces the plain chain hashes of stored events and devices by keyed ones, and drops the
/// signature and previous hash from stored event bodies: with an offline code inside the
/// signed bytes, either lets a copy of the database recover the code by trying them all.
fn rekey_chain_hashes(tx: &Db<'_>, secrets: &Secrets) -> sql::DbResult<()> {
    let devices: Vec<(String, String)> = tx.query_map(
        "SELECT id, last_hash FROM devices WHERE chain_mac IS NULL",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    for (id, hash) in devices {
        tx.exec(
            "UPDATE devices SET chain_mac = ?2, last_hash = '' WHERE id = ?1",
            params![id, chain_mac(secrets, &hash)],
        )?;
    }
    let events: Vec<(String, String, String)> = tx.query_map(
        "SELECT id, body_hash, body FROM events WHERE body_mac IS NULL",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    for (id, hash, body) in events {
        let body = serde_json::from_str::<serde_json::Value>(&body)
            .map(|mut v| {
                if let Some(o) = v.as_object_mut() {
                    o.remove("signature");
                    o.remove("prev_hash");
                }
                v.to_string()
            })
            .unwrap_or_default();
        tx.exec(
            "UPDATE events SET body_mac = ?2, body_hash = '', body = ?3 WHERE id = ?1",
            params![id, chain_mac(secrets, &hash), body],
        )?;
    }
    Ok(())
}

/// An event's chain hash under the server's key: what the server keeps to recognise a retried
/// event and the head of a device's chain, without keeping anything a code can be tested on.
fn chain_mac(secrets: &Secrets, chain_hash: &str) -> Vec<u8> {
    secrets.chain_mac(&[b"chain", chain_hash.to_ascii_lowercase().as_bytes()])
}

/// A device, as authenticated by its token.
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    /// Device id.
    pub device_id: DeviceId,
    /// Its courier.
    pub courier_id: CourierId,
    /// Revoked devices are refused.
    pub revoked: bool,
    /// The app version it last reported.
    pub app_version: String,
    /// Unix milliseconds of its last request the server noted.
    pub last_seen_at: Option<i64>,
}

/// What one device uploaded in a time window ([`Store::photo_usage_since`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoUsage {
    /// Photos stored.
    pub count: u64,
    /// Their bytes.
    pub bytes: u64,
    /// When the oldest of them arrived (Unix ms); none without photos.
    pub oldest_at: Option<i64>,
}

/// Fleet-wide settings the store needs.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Base URL for links in messages.
    pub public_url: String,
    /// The fleet's time zone: codes are valid until the end of a delivery day there.
    pub time_zone: crate::domain::zone::FleetZone,
    /// The policy.
    pub policy: Policy,
    /// How long an online verification can be used by a record, ms.
    pub verification_ttl_ms: i64,
    /// How far back an offline record may claim to have happened, ms.
    pub offline_window_ms: i64,
    /// Where random bytes come from.
    pub random: doorstep_inputs::Randomness,
    /// Connections in the PostgreSQL pool (not used by SQLite).
    pub pool_size: usize,
}

/// Where the store keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The embedded SQLite file in this directory.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL database (a connection URL), shared by any number of server nodes.
    Postgres(String),
}

impl Location {
    /// `sqlite:PATH` (a file or a data directory), or a `postgres://` / `postgresql://` URL.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(Self::Postgres(s.to_string()))
        } else if let Some(path) = s.strip_prefix("sqlite:") {
            let path = Path::new(path);
            Ok(Self::Sqlite(
                if path.extension().is_some_and(|e| e == "sqlite3") {
                    path.parent().unwrap_or(Path::new(".")).to_path_buf()
                } else {
                    path.to_path_buf()
                },
            ))
        } else {
            Err(format!(
                "{s:?} is not a database: write sqlite:DATA_DIR (or the doorstep.sqlite3 file) \
                 or postgres://user@host:5432/database"
            ))
        }
    }
}

impl Location {
    /// Runs `f` on a plain connection to the database as it is (no migration, no secrets):
    /// for copying a fleet's data, checks and tests.
    pub fn with_connection<T>(
        &self,
        f: impl Fn(&Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            Location::Sqlite(dir) => {
                let path = dir.join(sqlite::FILE_NAME);
                if !path.exists() {
                    return Err(StoreError::Unusable(format!(
                        "no Doorstep database at {}",
                        path.display()
                    )));
                }
                let conn = sqlite::open_connection(&path).map_err(|e| StoreError::Db(e.into()))?;
                Ok(f(&Db::Sqlite(&conn))?)
            }
            Location::Postgres(url) => Ok(postgres::Postgres::connect(url, 2)?.write(f)?),
        }
    }
}

enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// The store: the domain operations over one of the two backends.
pub struct Store {
    backend: Backend,
    secrets: Secrets,
    settings: StoreSettings,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

struct StopRow {
    id: StopId,
    delivery_date: String,
    courier_id: Option<String>,
    recipient_name: String,
    phone: Option<String>,
    email: Option<String>,
    code_required: bool,
    code_digits: u8,
    max_attempts: u32,
    failed_attempts: u32,
    offline_allowed: bool,
    validity_days: u32,
    public_ref: String,
    recipient_ref: [u8; 8],
    last_resend_at: Option<i64>,
    resends: u32,
    language: crate::domain::messages::Lang,
}

const STOP_COLUMNS: &str = "id, delivery_date, courier_id, recipient_name, phone, email, \
    code_required, code_digits, max_attempts, failed_attempts, offline_allowed, validity_days, \
    public_ref, recipient_ref, last_resend_at, resends, language";

fn stop_from_row(r: &sql::Row) -> sql::DbResult<StopRow> {
    let id: String = r.get(0)?;
    let rref: Vec<u8> = r.get(13)?;
    let mut recipient_ref = [0u8; 8];
    recipient_ref.copy_from_slice(&rref[..8.min(rref.len())]);
    Ok(StopRow {
        id: id.parse().map_err(|_| bad_column(0))?,
        delivery_date: r.get(1)?,
        courier_id: r.get(2)?,
        recipient_name: r.get(3)?,
        phone: r.get(4)?,
        email: r.get(5)?,
        code_required: r.get(6)?,
        code_digits: r.get(7)?,
        max_attempts: r.get(8)?,
        failed_attempts: r.get(9)?,
        offline_allowed: r.get(10)?,
        validity_days: r.get(11)?,
        public_ref: r.get(12)?,
        recipient_ref,
        last_resend_at: r.get(14)?,
        resends: r.get(15)?,
        language: crate::domain::messages::Lang::for_tag(
            r.get::<_, Option<String>>(16)?.as_deref().unwrap_or(""),
        ),
    })
}

fn bad_column(i: usize) -> DbError {
    DbError::Column(i, "not an id".into())
}

fn load_stop(conn: &Db<'_>, id: &str) -> sql::DbResult<Option<StopRow>> {
    qrow(
        conn,
        &format!("SELECT {STOP_COLUMNS} FROM stops WHERE id = ?1"),
        [id],
        stop_from_row,
    )
    .optional()
}

fn method_str(m: DeliveryMethod) -> &'static str {
    m.as_str()
}

fn parse_enum<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

fn enum_str<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// A phone number in E.164 form: `+`, a country code not starting with 0, 7 to 15 digits.
fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// An email address the SMTP client can send to (RFC 5321 syntax, as `lettre` parses it),
/// with a dot in the domain (no local-only addresses for customers).
fn is_email(s: &str) -> bool {
    s.len() <= 254
        && s.parse::<lettre::Address>()
            .is_ok_and(|a| a.domain().contains('.') && !a.domain().ends_with('.'))
}

fn new_id(random: &doorstep_inputs::Randomness, now_ms: i64) -> uuid::Uuid {
    let r = random.bytes::<10>();
    uuid::Builder::from_unix_timestamp_millis(now_ms.max(0) as u64, &r).into_uuid()
}

const ENROLL_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

fn normalise_enrollment(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Why a stop's code stopped being its code (`codes.ended_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeEnd {
    /// A parcel joined the stop; the new code covers every parcel.
    Joined,
    /// The customer asked for the code again.
    Resend,
    /// The fleet manager made a new code: the old one is void for every record.
    Reset,
    /// The stop was handed over; the code's hash is gone.
    Consumed,
}

impl CodeEnd {
    fn as_str(self) -> &'static str {
        match self {
            CodeEnd::Joined => "joined",
            CodeEnd::Resend => "resend",
            CodeEnd::Reset => "reset",
            CodeEnd::Consumed => "consumed",
        }
    }
}

/// Outcome of checking a code against a stop, shared by online verification and sync.
enum CodeCheck {
    Ok {
        code_id: String,
    },
    Wrong {
        attempts_left: u32,
    },
    Locked,
    Expired,
    NotRequired,
    /// The code in force at that time was voided by the fleet manager (a new code).
    Replaced,
    /// The stop was handed over; its code is used up.
    Consumed,
}

/// How many records a revoked phone may still hand in for review.
pub const MAX_RECORDS_FROM_A_REVOKED_PHONE: i64 = 2000;

/// The head of a device's record chain, as `sync` works on it.
struct ChainHead {
    public_key: String,
    last_seq: u64,
    chain_mac: Option<Vec<u8>>,
    /// The plain hash kept by servers before keyed hashes (only until the migration ran).
    legacy_hash: String,
    last_occurred_at: Option<i64>,
    broken: bool,
    reanchor_allowed: bool,
    review_until_seq: Option<i64>,
}

impl ChainHead {
    /// Whether `prev_hash` names the last record stored from this device.
    fn continues(&self, secrets: &Secrets, prev_hash: &str) -> bool {
        match &self.chain_mac {
            Some(m) => bool::from(chain_mac(secrets, prev_hash).ct_eq(m)),
            None => prev_hash.eq_ignore_ascii_case(&self.legacy_hash),
        }
    }
}

/// The answer to an event held back (not stored): the phone keeps it and sends it again.
fn held(broken: bool) -> EventStatus {
    EventStatus::Retry {
        message: if broken {
            "this phone's records no longer continue the ones the server holds; the fleet \
             manager must review the phone before they are accepted (the phone keeps them)"
                .into()
        } else {
            "an earlier record of this phone has not arrived yet; send it first".into()
        },
    }
}

/// A device whose record chain broke, for the fleet page.
#[derive(Debug, Clone)]
pub struct ChainBreak {
    /// The device.
    pub device_id: String,
    /// Its courier.
    pub courier_name: String,
    /// When the server first saw the break (Unix ms).
    pub since_ms: i64,
    /// The first record that did not continue the chain.
    pub first_event: String,
    /// Why, in words.
    pub reason: String,
    /// Records held back since (counted, not stored).
    pub held_events: i64,
    /// The fleet manager accepted a re-anchored chain; waiting for the phone's next sync.
    pub accepted: bool,
}

/// One entry of the audit log.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// When (Unix ms).
    pub at_ms: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what (e.g. a device id).
    pub subject: String,
    /// Details.
    pub detail: String,
}

/// A freshly made parcel, with the plaintext code when one was created (seeding only).
#[derive(Debug)]
pub struct CreatedParcel {
    /// What the shipper sees.
    pub view: ParcelView,
    /// The new code, if this parcel created its stop's code.
    pub new_code: Option<String>,
    /// This parcel's own decision (photo etc.).
    pub decision: Decision,
}

/// Counts for the fleet page.
#[derive(Debug, Default, Clone)]
pub struct FleetSummary {
    /// Parcels by status for the day.
    pub by_status: Vec<(String, i64)>,
    /// Parcels needing attention: (barcode, status, recipient).
    pub exceptions: Vec<(String, String, String)>,
    /// Devices.
    pub devices: Vec<DeviceView>,
    /// Couriers: (id, name).
    pub couriers: Vec<(String, String)>,
}

/// Data for the customer's page.
#[derive(Debug)]
pub struct CustomerStop {
    /// Recipient's name.
    pub recipient_name: String,
    /// The address.
    pub address: String,
    /// Delivery day.
    pub delivery_date: String,
    /// Barcodes and descriptions of the stop's parcels.
    pub parcels: Vec<(String, Option<String>)>,
    /// Whether a code is needed.
    pub code_required: bool,
    /// A fresh signed token for the QR (when a code is needed and not expired).
    pub token: Option<String>,
    /// The recipient's language, for the page.
    pub language: crate::domain::messages::Lang,
}

/// One parcel on the label sheet.
#[derive(Debug, Clone)]
pub struct Label {
    /// The barcode value.
    pub barcode: String,
    /// Recipient.
    pub recipient_name: String,
    /// Address.
    pub address: String,
    /// Description and whether a code is needed.
    pub note: String,
}

/// A due outbox message.
#[derive(Clone)]
pub struct OutboxMessage {
    /// Row id.
    pub id: i64,
    /// `email`, `sms`, `webhook`.
    pub channel: String,
    /// Address, number or URL.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Text or JSON.
    pub body: String,
    /// Stop, for dev messages.
    pub stop_id: Option<String>,
    /// Attempts so far.
    pub attempts: u32,
    /// When it was queued (Unix ms).
    pub created_at: i64,
    /// Whether it carries a delivery code (customer messages): these count towards the
    /// per-recipient limit.
    pub carries_code: bool,
    /// For a webhook: the shipper's signing secret, read at send time so every try is
    /// signed with a fresh timestamp. `None` if the shipper has none.
    pub webhook_secret: Option<String>,
}

/// Leaves out the body (it may hold a code) and the webhook secret.
impl std::fmt::Debug for OutboxMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMessage")
            .field("id", &self.id)
            .field("channel", &self.channel)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// A message that will never be sent, for the fleet page (never with its body).
#[derive(Debug, Clone)]
pub struct UnsentMessage {
    /// Row id.
    pub id: i64,
    /// `email`, `sms`, `webhook`.
    pub channel: String,
    /// Address, number or URL.
    pub recipient: String,
    /// Subject or event name.
    pub subject: String,
    /// Tries made.
    pub attempts: u32,
    /// `gave_up`, `void` or `rate_limited`.
    pub reason: String,
    /// Why, in words (the last send error, or why it was voided or held back).
    pub last_error: Option<String>,
    /// When it was dropped (Unix ms).
    pub dropped_at: i64,
}

impl Store {
    /// Opens (creating if needed) the database and migrates it.
    pub fn open(
        location: &Location,
        secrets: Secrets,
        settings: StoreSettings,
    ) -> Result<Self, StoreError> {
        let backend = match location {
            Location::Sqlite(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Unusable(format!("cannot make {}: {e}", dir.display()))
                })?;
                Backend::Sqlite(sqlite::Sqlite::open(
                    &dir.join(sqlite::FILE_NAME),
                    |db, version| migrate(db, version, &secrets),
                )?)
            }
            Location::Postgres(url) => {
                let pg = postgres::Postgres::connect(url, settings.pool_size)?;
                pg.migrate(|db, version| {
                    let new = migrate(db, version, &secrets)?;
                    db.exec("UPDATE doorstep_schema SET version = ?1", [new])?;
                    Ok(())
                })?;
                Backend::Postgres(pg)
            }
        };
        let store = Self {
            backend,
            secrets,
            settings,
        };
        store.check_secrets_fingerprint()?;
        Ok(store)
    }

    /// Records the fingerprint of this node's secrets in a new database, and refuses to run
    /// with other secrets than the database was set up with: a node with another code key
    /// would call every right code wrong (and spend the customer's attempts).
    fn check_secrets_fingerprint(&self) -> Result<(), StoreError> {
        let mine = self.secrets.fingerprint();
        let stored = self.write(|tx| {
            exec(
                tx,
                "INSERT INTO fleet_settings (key, value) VALUES ('secrets_fingerprint', ?1) \
                 ON CONFLICT (key) DO NOTHING",
                [&mine],
            )?;
            Ok(qrow(
                tx,
                "SELECT value FROM fleet_settings WHERE key = 'secrets_fingerprint'",
                params![],
                |r| r.get::<_, String>(0),
            )?)
        })?;
        if stored != mine {
            return Err(StoreError::Unusable(format!(
                "this database was set up with other secrets (fingerprint {stored}) than this \
                 node has ({mine}). Every node of one database needs the same secrets \
                 directory: copy it from the first node (or mount the shared one with \
                 --secrets-dir) and start again"
            )));
        }
        Ok(())
    }

    /// Runs `f` in a write transaction and returns once its effects are durable. On
    /// PostgreSQL `f` may run more than once (a conflict with another node's transaction
    /// rolls it back and runs it again), so it changes nothing but the database.
    fn write<T>(&self, f: impl Fn(&Db<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => b.write(f),
            Backend::Postgres(b) => b.write(f),
        }
    }

    /// As [`Self::write`], for an operation on one `subject` that many requests may do at
    /// once: on PostgreSQL they queue instead of conflicting (SQLite's single writer queues
    /// everything anyway).
    fn write_on<T>(
        &self,
        subject: &str,
        f: impl Fn(&Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => b.write(f),
            Backend::Postgres(b) => b.write_on(subject, f),
        }
    }

    /// Runs `f` on a consistent snapshot.
    fn read<T>(&self, f: impl Fn(&Db<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => b.read(f),
            Backend::Postgres(b) => b.read(f),
        }
    }

    /// Runs a store operation on a blocking thread, off the async ones: every operation
    /// waits on the disk or the database.
    pub async fn run_blocking<T: Send + 'static>(
        self: &std::sync::Arc<Self>,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "blocking store task failed");
                Err(StoreError::TaskFailed)
            })
    }

    /// Whether the database answers (for `GET /v1/health`).
    pub fn ping(&self) -> Result<(), StoreError> {
        self.read(|db| Ok(db.qrow("SELECT 1", params![], |_| Ok(()))?))
    }

    /// Which backend this store runs on (`sqlite` or `postgres`).
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The server's secrets.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Fleet settings.
    pub fn settings(&self) -> &StoreSettings {
        &self.settings
    }
}

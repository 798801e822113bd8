//! The storage boundary: every SQL statement of the server lives in this module, written once
//! for both backends.
//!
//! Handlers call the domain operations below (create a parcel, verify a code, store a sync
//! batch, ...); each runs in one transaction and is blocking, so callers run it on a blocking
//! thread (`AppState::db`). The operations are split by concern — [`devices`] (shippers,
//! couriers, enrollment, devices), [`parcels`] (parcels, stops, the manifest), [`codes`]
//! (codes and verification), [`events`] (sync and the record chains), [`outbox`] (customer
//! messages and webhooks) and [`views`] (what the pages and the admin API read) — over one SQL
//! boundary, [`sql::Db`], with two implementations: [`sqlite`] (the embedded default: one file,
//! WAL, `synchronous=FULL`, group commit) and [`postgres`] (many server nodes on one
//! PostgreSQL database: a pool, serializable transactions retried on conflict).

use std::path::Path;

use doorstep_protocol::wire::{
    CreateParcelRequest, DeliveryEvent, DeliveryMethod, DevMessage, DeviceView, EnrollRequest,
    EventBody, EventResult, EventStatus, GENESIS_HASH, Manifest, ManifestParcel, ManifestStop,
    OutboxEntry, ParcelStatus, ParcelView, Platform, PolicyDecision, RejectCode, ResendResponse,
    StoredDelivery, Verification, VerifyOutcome, WebhookEvent, WebhookPayload,
};
use doorstep_protocol::{
    Barcode, CourierId, DeliveryCode, DeviceId, EventId, ParcelId, StopId, TokenClaims,
    TokenSubject,
};
use subtle::ConstantTimeEq;

use crate::ServerError;
use crate::policy::{Decision, ParcelFacts, Policy, parse_amount};
use crate::secrets::{Secrets, sha256};

pub mod postgres;
pub mod sql;
pub mod sqlite;

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
        let sql = if db.is_postgres() { m.postgres } else { m.sqlite };
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
    /// Fleet time zone as a fixed UTC offset in minutes.
    pub utc_offset_minutes: i32,
    /// The policy.
    pub policy: Policy,
    /// How long an online verification can be used by a record, ms.
    pub verification_ttl_ms: i64,
    /// How far back an offline record may claim to have happened, ms.
    pub offline_window_ms: i64,
    /// Where random bytes come from.
    pub random: crate::Randomness,
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
}

const STOP_COLUMNS: &str = "id, delivery_date, courier_id, recipient_name, phone, email, \
    code_required, code_digits, max_attempts, failed_attempts, offline_allowed, validity_days, \
    public_ref, recipient_ref, last_resend_at, resends";

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
    match m {
        DeliveryMethod::HandToRecipient => "hand_to_recipient",
        DeliveryMethod::Neighbour => "neighbour",
        DeliveryMethod::SafePlace => "safe_place",
        DeliveryMethod::PickupPoint => "pickup_point",
    }
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

/// Unix milliseconds of the end of `date` + `days - 1` in the fleet's time zone.
pub fn window_end_ms(date: &str, days: u32, utc_offset_minutes: i32) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(date, &format).ok()?;
    let end = d.checked_add(time::Duration::days(i64::from(days.clamp(1, 7))))?;
    let offset = time::UtcOffset::from_whole_seconds(utc_offset_minutes * 60).ok()?;
    Some(end.midnight().assume_offset(offset).unix_timestamp() * 1000)
}

/// Today's date (`YYYY-MM-DD`) in the fleet's time zone.
pub fn fleet_date(now_ms: i64, utc_offset_minutes: i32) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(now_ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let offset = time::UtcOffset::from_whole_seconds(utc_offset_minutes * 60)
        .unwrap_or(time::UtcOffset::UTC);
    let d = t.to_offset(offset).date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
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

fn new_id(random: &crate::Randomness, now_ms: i64) -> uuid::Uuid {
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
    ) -> Result<Self, ServerError> {
        let too_new = |e: StoreError| match e {
            StoreError::DatabaseTooNew { found, supported } => {
                ServerError::DatabaseTooNew { found, supported }
            }
            StoreError::Migration(m) => ServerError::Migration(m),
            e => ServerError::Store(e),
        };
        let backend = match location {
            Location::Sqlite(dir) => {
                std::fs::create_dir_all(dir)?;
                Backend::Sqlite(
                    sqlite::Sqlite::open(&dir.join(sqlite::FILE_NAME), |db, version| {
                        migrate(db, version, &secrets)
                    })
                    .map_err(too_new)?,
                )
            }
            Location::Postgres(url) => {
                let pg = postgres::Postgres::connect(url, settings.pool_size)?;
                pg.migrate(|db, version| {
                    let new = migrate(db, version, &secrets)?;
                    db.exec("UPDATE doorstep_schema SET version = ?1", [new])?;
                    Ok(())
                })
                .map_err(too_new)?;
                Backend::Postgres(pg)
            }
        };
        Ok(Self {
            backend,
            secrets,
            settings,
        })
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

    /// Runs `f` on a consistent snapshot.
    fn read<T>(&self, f: impl Fn(&Db<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => b.read(f),
            Backend::Postgres(b) => b.read(f),
        }
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

    // -----------------------------------------------------------------------------------
    // Shippers, couriers, enrollment, devices

    /// Creates a shipper; returns (id, api key, webhook secret).
    pub fn create_shipper(
        &self,
        name: &str,
        webhook_url: Option<&str>,
        now: i64,
    ) -> Result<(doorstep_protocol::ids::ShipperId, String, String), StoreError> {
        let id = doorstep_protocol::ids::ShipperId::from_uuid(new_id(&self.settings.random, now));
        let key = format!("dsk_{}", hex::encode(self.settings.random.bytes::<32>()));
        let secret = hex::encode(self.settings.random.bytes::<32>());
        self.write(|tx| {
            exec(tx,
                "INSERT INTO shippers (id, name, api_key_hash, webhook_url, webhook_secret, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id.to_string(), name, sha256(key.as_bytes()), webhook_url, secret, now],
            )?;
            Ok(())
        })?;
        Ok((id, key, secret))
    }

    /// The shipper holding this API key.
    pub fn shipper_by_key(&self, key: &str) -> Result<Option<String>, StoreError> {
        let hash = sha256(key.as_bytes());
        self.read(|c| {
            Ok(qrow(
                c,
                "SELECT id FROM shippers WHERE api_key_hash = ?1",
                [&hash],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    /// Creates a courier.
    pub fn create_courier(&self, name: &str, now: i64) -> Result<CourierId, StoreError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(StoreError::Validation(
                "a courier needs a name of 1 to 100 characters".into(),
            ));
        }
        let id = CourierId::from_uuid(new_id(&self.settings.random, now));
        self.write(|tx| {
            let n = exec(tx,
                "INSERT INTO couriers (id, name, created_at) VALUES (?1, ?2, ?3) ON CONFLICT(name) DO NOTHING",
                params![id.to_string(), name, now],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(format!("a courier named {name:?} exists")));
            }
            Ok(id)
        })
    }

    /// Finds a courier by name.
    pub fn courier_by_name(&self, name: &str) -> Result<Option<CourierId>, StoreError> {
        self.read(|c| {
            let id: Option<String> = qrow(
                c,
                "SELECT id FROM couriers WHERE name = ?1",
                [name.trim()],
                |r| r.get(0),
            )
            .optional()?;
            Ok(id.and_then(|s| s.parse().ok()))
        })
    }

    /// Makes a single-use enrollment code for `courier`, valid `ttl_ms`. Returns (code, expires_ms).
    pub fn create_enrollment(
        &self,
        courier: CourierId,
        ttl_ms: i64,
        now: i64,
    ) -> Result<(String, i64), StoreError> {
        let mut raw = String::new();
        let bytes = self.settings.random.bytes::<10>();
        for b in bytes {
            raw.push(ENROLL_ALPHABET[usize::from(b) % ENROLL_ALPHABET.len()] as char);
        }
        let code = format!("{}-{}-{}", &raw[0..4], &raw[4..8], &raw[8..10]);
        let hash = self
            .secrets
            .mac(&[b"enroll", normalise_enrollment(&code).as_bytes()]);
        let expires = now + ttl_ms;
        self.write(|tx| {
            let known: Option<i64> = qrow(tx, "SELECT 1 FROM couriers WHERE id = ?1", [courier.to_string()], |r| r.get(0))
                .optional()?;
            if known.is_none() {
                return Err(StoreError::NotFound("courier"));
            }
            exec(tx,
                "INSERT INTO enrollments (code_hash, courier_id, expires_at, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![hash, courier.to_string(), expires, now],
            )?;
            Ok(())
        })?;
        Ok((code, expires))
    }

    /// Exchanges an enrollment code for a device; returns (device, token, courier, courier name).
    pub fn enroll(
        &self,
        req: &EnrollRequest,
        now: i64,
    ) -> Result<(DeviceId, String, CourierId, String), StoreError> {
        if doorstep_protocol::token::decode_hex::<32>(&req.device_public_key)
            .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
            .is_none()
        {
            return Err(StoreError::Validation(
                "device_public_key must be an Ed25519 public key as 64 hex digits".into(),
            ));
        }
        let hash = self.secrets.mac(&[
            b"enroll",
            normalise_enrollment(&req.enrollment_code).as_bytes(),
        ]);
        let device = DeviceId::from_uuid(new_id(&self.settings.random, now));
        let token = format!("dsd_{}", hex::encode(self.settings.random.bytes::<32>()));
        self.write(|tx| {
            let courier: Option<String> = qrow(tx,
                    "UPDATE enrollments SET used_at = ?2 WHERE code_hash = ?1 AND used_at IS NULL \
                     AND expires_at > ?2 RETURNING courier_id",
                    params![hash, now],
                    |r| r.get(0),
                )
                .optional()?;
            let courier = courier.ok_or(StoreError::EnrollmentInvalid)?;
            let name: String =
                qrow(tx, "SELECT name FROM couriers WHERE id = ?1", [&courier], |r| r.get(0))?;
            exec(tx,
                "INSERT INTO devices (id, courier_id, token_hash, public_key, app_version, platform, \
                 enrolled_at, last_hash, chain_mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '', ?8)",
                params![
                    device.to_string(),
                    courier,
                    sha256(token.as_bytes()),
                    req.device_public_key.to_ascii_lowercase(),
                    req.app_version,
                    enum_str(&req.platform),
                    now,
                    chain_mac(&self.secrets, GENESIS_HASH)
                ],
            )?;
            Ok((courier.parse().map_err(|_| bad_column(0))?, name))
        })
        .map(|(c, n)| (device, token, c, n))
    }

    /// The device holding this token, if any.
    pub fn device_by_token(&self, token: &str) -> Result<Option<DeviceAuth>, StoreError> {
        let hash = sha256(token.as_bytes());
        self.read(|c| {
            let row: Option<(String, String, Option<i64>)> = qrow(
                c,
                "SELECT id, courier_id, revoked_at FROM devices WHERE token_hash = ?1",
                [&hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
            Ok(row.and_then(|(d, c, rev)| {
                Some(DeviceAuth {
                    device_id: d.parse().ok()?,
                    courier_id: c.parse().ok()?,
                    revoked: rev.is_some(),
                })
            }))
        })
    }

    /// Revokes a device; its token stops working at once.
    pub fn revoke_device(&self, device: DeviceId, now: i64) -> Result<(), StoreError> {
        self.revoke_device_by(device, "admin API (admin token)", now)
    }

    /// Revokes a device on behalf of `actor` (written to the audit log).
    pub fn revoke_device_by(
        &self,
        device: DeviceId,
        actor: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let n = exec(
                tx,
                "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                params![device.to_string(), now],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound("device"));
            }
            self.audit(tx, now, actor, "device_revoked", &device.to_string(), "")
        })
    }

    /// All devices.
    pub fn devices(&self) -> Result<Vec<DeviceView>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, courier_id, app_version, platform, last_seen_at, revoked_at FROM devices ORDER BY enrolled_at",
            )?;
            let rows = st.query_map(params![], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, courier, version, platform, seen, revoked) = row?;
                let (Ok(device_id), Ok(courier_id), Some(platform)) =
                    (id.parse(), courier.parse(), parse_enum::<Platform>(&platform))
                else {
                    continue;
                };
                out.push(DeviceView {
                    device_id,
                    courier_id,
                    app_version: version,
                    platform,
                    last_seen_at: seen.map(|s| s / 1000),
                    revoked: revoked.is_some(),
                });
            }
            Ok(out)
        })
    }

    // -----------------------------------------------------------------------------------
    // Parcels, stops, codes

    /// Creates a parcel: policy decision, stop grouping, code creation and the customer's
    /// notification, all in one transaction.
    pub fn create_parcel(
        &self,
        shipper_id: &str,
        req: &CreateParcelRequest,
        now: i64,
    ) -> Result<CreatedParcel, StoreError> {
        let barcode = Barcode::parse(&req.barcode)
            .map_err(|e| StoreError::Validation(format!("barcode: {e}")))?
            .key();
        let name = req.recipient.name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(StoreError::Validation(
                "recipient.name must have 1 to 200 characters".into(),
            ));
        }
        if req.address.trim().is_empty() || req.address.len() > 500 {
            return Err(StoreError::Validation(
                "address must have 1 to 500 characters".into(),
            ));
        }
        if req.postal_code.len() > 20 {
            return Err(StoreError::Validation("postal_code is too long".into()));
        }
        if req.description.as_ref().is_some_and(|d| d.len() > 200) {
            return Err(StoreError::Validation("description is too long".into()));
        }
        let value = match &req.declared_value {
            Some(m) => {
                if m.currency.len() != 3 || !m.currency.bytes().all(|b| b.is_ascii_alphabetic()) {
                    return Err(StoreError::Validation(
                        "declared_value.currency must be an ISO 4217 code".into(),
                    ));
                }
                Some(parse_amount(&m.amount).ok_or_else(|| {
                    StoreError::Validation(
                        "declared_value.amount must be a decimal like 612.00".into(),
                    )
                })?)
            }
            None => None,
        };
        if window_end_ms(&req.delivery_date, 1, 0).is_none() {
            return Err(StoreError::Validation(
                "delivery_date must be YYYY-MM-DD".into(),
            ));
        }
        let decision = self.settings.policy.decide(&ParcelFacts {
            declared_value_minor: value,
            currency: req.declared_value.as_ref().map(|m| m.currency.as_str()),
            method: req.method,
            postal_code: req.postal_code.trim(),
            location: req.location.map(|l| (l.lat, l.lon)),
            age_restricted: req.age_restricted,
            recipient_opt_in: req.recipient_requested_code,
            shipper_requires_code: req.shipper_requires_code,
        });
        let phone = req
            .recipient
            .phone
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let email = req
            .recipient
            .email
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if let Some(p) = phone
            && !is_e164(p)
        {
            return Err(StoreError::Validation(
                "recipient.phone must be a mobile number in E.164 form, like +31612345678".into(),
            ));
        }
        if let Some(e) = email
            && !is_email(e)
        {
            return Err(StoreError::Validation(
                "recipient.email is not a valid email address".into(),
            ));
        }
        // The shipper is part of the key: a stop (one code, one attempt counter, one customer
        // page) never mixes two shippers' parcels.
        let recipient_key = hex::encode(sha256(
            format!(
                "{}\0{}\0{}\0{}\0{}\0{}",
                shipper_id,
                name.to_lowercase(),
                phone.unwrap_or(""),
                email.unwrap_or("").to_lowercase(),
                req.address.trim().to_lowercase(),
                req.postal_code.trim().to_lowercase()
            )
            .as_bytes(),
        ));
        let parcel_id = ParcelId::from_uuid(new_id(&self.settings.random, now));
        let courier = req.courier_id.map(|c| c.to_string());
        let offset = self.settings.utc_offset_minutes;

        self.write(|tx| {
            if let Some(c) = &courier {
                let known: Option<i64> = qrow(tx, "SELECT 1 FROM couriers WHERE id = ?1", [c], |r| r.get(0))
                    .optional()?;
                if known.is_none() {
                    return Err(StoreError::Validation("courier_id is not a courier of this fleet".into()));
                }
            }
            let existing: Option<String> = qrow(tx,
                    "SELECT id FROM stops WHERE delivery_date = ?1 AND recipient_key = ?2",
                    params![req.delivery_date, recipient_key],
                    |r| r.get(0),
                )
                .optional()?;
            let stop_id = match existing {
                Some(id) => {
                    let stop = load_stop(tx, &id)?.ok_or(StoreError::NotFound("stop"))?;
                    let mut reasons: Vec<String> = serde_json::from_str(
                        &qrow(tx, "SELECT reasons FROM stops WHERE id = ?1", [&id], |r| {
                            r.get::<_, String>(0)
                        })?,
                    )
                    .unwrap_or_default();
                    for r in &decision.reasons {
                        if !reasons.contains(r) {
                            reasons.push(r.clone());
                        }
                    }
                    if decision.code_required && !stop.code_required {
                        reasons.retain(|r| r != "no rule asks for a code");
                    }
                    exec(tx,
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
                    id
                }
                None => {
                    let id = StopId::from_uuid(new_id(&self.settings.random, now)).to_string();
                    let sequence: i64 = qrow(tx,
                        "SELECT COUNT(*) + 1 FROM stops WHERE delivery_date = ?1 AND courier_id IS ?2",
                        params![req.delivery_date, courier],
                        |r| r.get(0),
                    )?;
                    let public_ref = hex::encode(self.settings.random.bytes::<12>());
                    let rref = &sha256(recipient_key.as_bytes())[..8];
                    exec(tx,
                        "INSERT INTO stops (id, delivery_date, recipient_key, courier_id, recipient_name, \
                         phone, email, address, postal_code, lat, lon, sequence, code_required, code_digits, \
                         max_attempts, offline_allowed, validity_days, reasons, public_ref, recipient_ref, created_at) \
                         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21)",
                        params![
                            id,
                            req.delivery_date,
                            recipient_key,
                            courier,
                            name,
                            phone,
                            email,
                            req.address.trim(),
                            req.postal_code.trim(),
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
                            now
                        ],
                    )?;
                    id
                }
            };
            let inserted = exec(tx,
                "INSERT INTO parcels (id, shipper_id, stop_id, barcode_key, barcode_raw, description, \
                 declared_value_minor, currency, method, age_restricted, recipient_opt_in, \
                 shipper_requires_code, code_required, photo_required, offline_allowed, reasons, created_at) \
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17) \
                 ON CONFLICT(barcode_key) DO NOTHING",
                params![
                    parcel_id.to_string(),
                    shipper_id,
                    stop_id,
                    barcode,
                    req.barcode.trim(),
                    req.description,
                    value,
                    req.declared_value.as_ref().map(|m| m.currency.to_ascii_uppercase()),
                    method_str(req.method),
                    req.age_restricted,
                    req.recipient_requested_code,
                    req.shipper_requires_code,
                    decision.code_required,
                    decision.photo_required,
                    decision.offline_allowed,
                    serde_json::to_string(&decision.reasons).unwrap_or_default(),
                    now
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::Conflict("a parcel with this barcode already exists".into()));
            }
            let stop = load_stop(tx, &stop_id)?.ok_or(StoreError::NotFound("stop"))?;
            let has_code: Option<String> = qrow(tx,
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
                    offset,
                    has_code.is_some().then_some(CodeEnd::Joined),
                )?)
            } else {
                None
            };
            let view = parcel_view(tx, &self.settings.public_url, &parcel_id.to_string())?;
            Ok(CreatedParcel {
                view,
                new_code,
                decision: decision.clone(),
            })
        })
    }

    /// Makes a new code for a stop (superseding any old one) and queues the customer's
    /// message. Returns the plaintext (only seeding keeps it).
    fn issue_code(
        &self,
        tx: &Db<'_>,
        stop: &StopRow,
        now: i64,
        offset: i32,
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
        let expires = window_end_ms(&stop.delivery_date, stop.validity_days, offset)
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
        let what = if parcels.len() == 1 {
            format!("your parcel {}", parcels[0])
        } else {
            format!("your parcels {}", parcels.join(", "))
        };
        let subject = format!("Your delivery code for {}", parcels.join(", "));
        let body = format!(
            "Hello {name},\n\n{what} arrives on {date}. Your delivery code is {code}.\n\n\
             Give this code only to the courier at your door who hands over {what}. \
             Nobody from Doorstep will ask for it by phone, email or message.\n\n\
             You can also show the QR code on this page instead: {link}\n{replaced}",
            replaced = if replaces {
                "\nThis code replaces any delivery code we sent you before for this delivery.\n"
            } else {
                ""
            },
            name = stop.recipient_name,
            date = stop.delivery_date,
            code = code.grouped(),
        );
        let sms = format!(
            "Delivery code {} for {what} on {}. Give it only to the courier at your door handing over this parcel. {link}",
            code.grouped(),
            stop.delivery_date
        );
        if let Some(email) = &stop.email {
            enqueue(
                tx,
                "email",
                email,
                &subject,
                &body,
                None,
                Some(&stop_id),
                now,
            )?;
        }
        if let Some(phone) = &stop.phone {
            enqueue(tx, "sms", phone, &subject, &sms, None, Some(&stop_id), now)?;
        }
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
                 offline_allowed, reasons FROM stops WHERE courier_id = ?1 AND delivery_date = ?2 ORDER BY sequence, id",
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
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut pst = c.prepare_cached(
                "SELECT id, barcode_key, description, photo_required, method, status FROM parcels \
                 WHERE stop_id = ?1 ORDER BY created_at, id",
            )?;
            let mut out = Vec::with_capacity(stops.len());
            for (id, seq, name, address, lat, lon, req, digits, offline, reasons) in stops {
                let parcels = pst
                    .query_map([&id], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<String>>(2)?,
                            r.get::<_, bool>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, String>(5)?,
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .filter_map(|(pid, barcode, description, photo, method, status)| {
                        Some(ManifestParcel {
                            parcel_id: pid.parse().ok()?,
                            barcode,
                            description,
                            photo_required: photo,
                            method: parse_enum(&method)?,
                            status: parse_enum(&status)?,
                        })
                    })
                    .collect();
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
                });
            }
            Ok(Manifest {
                courier_id: courier,
                date: date.to_string(),
                stops: out,
            })
        })
    }

    /// Checks a code in a transaction. The failed-attempt counter is raised before the
    /// comparison (and lowered again on success), so concurrent guesses can never get more
    /// tries than the limit.
    fn check_code(
        &self,
        tx: &Db<'_>,
        stop: &StopRow,
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
        // The code that was in force at `now` (for an offline record: when it was typed, so a
        // resend after the handover does not turn a right code into a wrong one); the
        // current code if none was.
        let active: Option<(String, Vec<u8>, i64, Option<String>)> = qrow(
            tx,
            "SELECT id, code_hash, expires_at, ended_by FROM codes WHERE stop_id = ?1 \
             AND ((created_at <= ?2 AND (superseded_at IS NULL OR superseded_at > ?2)) \
                  OR superseded_at IS NULL) \
             ORDER BY (created_at <= ?2 AND (superseded_at IS NULL OR superseded_at > ?2)) DESC, \
                      created_at DESC LIMIT 1",
            params![stop_id, now],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
        let Some((code_id, hash, expires, ended_by)) = active else {
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
        let counted: Option<u32> = qrow(
            tx,
            "UPDATE stops SET failed_attempts = failed_attempts + 1 \
                 WHERE id = ?1 AND failed_attempts < max_attempts RETURNING failed_attempts",
            [&stop_id],
            |r| r.get(0),
        )
        .optional()?;
        let Some(used) = counted else {
            return Ok(CodeCheck::Locked);
        };
        if now >= expires {
            exec(
                tx,
                "UPDATE stops SET failed_attempts = failed_attempts - 1 WHERE id = ?1",
                [&stop_id],
            )?;
            return Ok(CodeCheck::Expired);
        }
        let candidate = self
            .secrets
            .mac(&[stop_id.as_bytes(), code.expose_digits().as_bytes()]);
        if bool::from(candidate.ct_eq(&hash)) {
            exec(
                tx,
                "UPDATE stops SET failed_attempts = failed_attempts - 1 WHERE id = ?1",
                [&stop_id],
            )?;
            return Ok(CodeCheck::Ok { code_id });
        }
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
    fn parcel_for_device(
        tx: &Db<'_>,
        device: &DeviceAuth,
        parcel: ParcelId,
    ) -> Result<(StopRow, String), StoreError> {
        let row: Option<(String, String)> = qrow(
            tx,
            "SELECT stop_id, status FROM parcels WHERE id = ?1",
            [parcel.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
        let (stop_id, status) = row.ok_or(StoreError::NotFound("parcel"))?;
        let stop = load_stop(tx, &stop_id)?.ok_or(StoreError::NotFound("stop"))?;
        if stop.courier_id.as_deref() != Some(device.courier_id.to_string().as_str()) {
            return Err(StoreError::Forbidden("this parcel is not on your route"));
        }
        Ok((stop, status))
    }

    /// `POST /v1/verify`.
    pub fn verify(
        &self,
        device: &DeviceAuth,
        parcel: ParcelId,
        code: &DeliveryCode,
        now: i64,
    ) -> Result<VerifyOutcome, StoreError> {
        self.write(|tx| {
            let (stop, status) = Self::parcel_for_device(tx, device, parcel)?;
            if status == "delivered" {
                return Ok(VerifyOutcome::AlreadyDelivered);
            }
            Ok(match self.check_code(tx, &stop, code, now)? {
                CodeCheck::Ok { code_id } => {
                    // The check covers the stop's parcels still to hand over, for this
                    // device, once, for a few minutes.
                    let covered: Vec<String> = {
                        let mut st = tx.prepare_cached(
                            "SELECT id FROM parcels WHERE stop_id = ?1 AND status IN ('pending', 'failed') ORDER BY id",
                        )?;
                        st.query_map([stop.id.to_string()], |r| r.get(0))?
                            .collect::<Result<_, _>>()?
                    };
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
                self.settings.utc_offset_minutes,
                Some(CodeEnd::Resend),
            )?;
            Ok(ResendResponse {
                next_allowed_at: (now + interval) / 1000,
            })
        })
    }

    /// Fleet manager: a fresh code and a fresh attempt counter for a locked stop.
    pub fn reset_code(&self, stop: StopId, now: i64) -> Result<String, StoreError> {
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
            self.issue_code(
                tx,
                &s,
                now,
                self.settings.utc_offset_minutes,
                Some(CodeEnd::Reset),
            )
        })
    }

    // -----------------------------------------------------------------------------------
    // Sync

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
        self.write(|tx| {
            let dev_id = device.device_id.to_string();
            let mut head = qrow(
                tx,
                "SELECT public_key, last_seq, chain_mac, last_hash, last_occurred_at, chain_broken_at, \
                 reanchor_allowed_at, review_until_seq FROM devices WHERE id = ?1",
                [&dev_id],
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
                    })
                },
            )?;
            let key = doorstep_protocol::token::decode_hex::<32>(&head.public_key)
                .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok());
            let mut results = Vec::with_capacity(events.len());
            let mut hold = false;
            let mut bad_signatures = 0i64;
            for ev in events {
                let hash = ev.chain_hash();
                let mac = chain_mac(&self.secrets, &hash);
                let stored: Option<(Option<Vec<u8>>, String, String, String)> = qrow(tx,
                        "SELECT body_mac, body_hash, result, device_id FROM events WHERE id = ?1",
                        [ev.id.to_string()],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    )
                    .optional()?;
                if let Some((stored_mac, legacy_hash, result, owner)) = stored {
                    let same = match stored_mac {
                        Some(m) => bool::from(m.ct_eq(&mac)),
                        None => legacy_hash.eq_ignore_ascii_case(&hash),
                    };
                    let status = if same && owner == dev_id {
                        serde_json::from_str(&result).unwrap_or(EventStatus::Duplicate)
                    } else {
                        rejected(RejectCode::IdConflict, "this event id was already used for a different record")
                    };
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
                    if head.reanchor_allowed {
                        // The fleet manager accepted this phone's chain as it is now: this
                        // record becomes the new anchor, and what was held comes in for review.
                        head.review_until_seq = qrow(tx,
                            "UPDATE devices SET reanchor_allowed_at = NULL, chain_broken_at = NULL, \
                             review_until_seq = MAX(COALESCE(chain_broken_max_seq, 0), ?2) WHERE id = ?1 \
                             RETURNING review_until_seq",
                            params![dev_id, ev.seq as i64],
                            |r| r.get(0),
                        )?;
                        head.reanchor_allowed = false;
                        head.broken = false;
                        review = true;
                        self.audit(tx, now, "server", "chain_reanchored", &dev_id,
                            &format!("new anchor: record {} (seq {})", ev.id, ev.seq))?;
                    } else {
                        // Phones send their records oldest first, so a gap is a record that
                        // will never come (removed on the phone), not one still on its way.
                        let why = if ev.seq > head.last_seq + 1 {
                            format!(
                                "record {} has sequence number {}, but the server never received this phone's records after {}",
                                ev.id, ev.seq, head.last_seq
                            )
                        } else if ev.seq <= head.last_seq {
                            format!(
                                "record {} has sequence number {}, but the server already holds this phone's records up to {}",
                                ev.id, ev.seq, head.last_seq
                            )
                        } else {
                            format!(
                                "record {} (sequence {}) does not continue the last record the server holds from this phone",
                                ev.id, ev.seq
                            )
                        };
                        exec(tx,
                            "UPDATE devices SET chain_broken_at = ?2, chain_broken_event = ?3, chain_broken_reason = ?4 \
                             WHERE id = ?1 AND chain_broken_at IS NULL",
                            params![dev_id, now, ev.id.to_string(), why],
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
            exec(tx,
                "UPDATE devices SET last_seq = ?2, chain_mac = ?3, last_hash = '', last_occurred_at = ?4, \
                 last_seen_at = ?5, app_version = ?6, bad_signatures = bad_signatures + ?7 WHERE id = ?1",
                params![dev_id, head.last_seq as i64, head.chain_mac, head.last_occurred_at, now, app_version, bad_signatures],
            )?;
            Ok(results)
        })
    }

    /// Records from a revoked phone: the phone is no longer trusted, so nothing it sends
    /// changes a parcel, but its queued deliveries must not be lost. Each record signed with
    /// the phone's key is stored once, marked for review, and answered `accepted` (so the
    /// courier can hand the phone back), up to [`MAX_RECORDS_FROM_A_REVOKED_PHONE`].
    fn sync_revoked(
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
    fn note_held(
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
                 chain_broken_max_seq = MAX(COALESCE(chain_broken_max_seq, 0), ?2) WHERE id = ?1",
                params![device, ev.seq as i64],
            )?;
        }
        Ok(())
    }

    /// Why an event's time cannot be true, if it cannot: before the phone's previous record,
    /// or further back than the offline window.
    fn backdated(&self, head: &ChainHead, ev: &DeliveryEvent, now: i64) -> Option<String> {
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
    fn audit(
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
    fn apply_event(
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
        let mut statuses = Vec::new();
        let mut photo_required = false;
        for p in &ev.parcel_ids {
            let row: Option<(String, String, bool)> = qrow(
                tx,
                "SELECT stop_id, status, photo_required FROM parcels WHERE id = ?1",
                [p.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
            match row {
                Some((s, status, photo)) if s == stop.id.to_string() => {
                    photo_required |= photo;
                    statuses.push(status);
                }
                _ => {
                    return Ok(rejected(
                        RejectCode::Invalid,
                        "a parcel of the record is not part of its stop",
                    ));
                }
            }
        }
        if statuses.iter().any(|s| s == "delivered") {
            return Ok(rejected(
                RejectCode::AlreadyDelivered,
                "a parcel of this record was already delivered",
            ));
        }
        let occurred = ev.occurred_at_ms.min(now);
        let outcome = match &ev.body {
            EventBody::Failed { .. } => Ok(()),
            EventBody::Delivered {
                verification,
                photo_sha256,
                ..
            } => {
                let photo_check = if photo_required && photo_sha256.is_none() {
                    Err((RejectCode::PhotoMissing, "this parcel needs a proof photo"))
                } else {
                    Ok(())
                };
                if let Some(sha) = photo_sha256 {
                    let have: Option<i64> = qrow(
                        tx,
                        "SELECT 1 FROM photos WHERE sha256 = ?1",
                        [sha.to_ascii_lowercase()],
                        |r| r.get(0),
                    )
                    .optional()?;
                    if have.is_none() {
                        return Ok(EventStatus::Retry {
                            message: "upload the proof photo before this record".into(),
                        });
                    }
                }
                // A locked stop is handed over by no path (online check, offline code or
                // the customer's QR) until the fleet manager makes a new code.
                let locked = stop.code_required && stop.failed_attempts >= stop.max_attempts;
                if locked {
                    Err((
                        RejectCode::CodeLocked,
                        "the stop is locked by too many wrong codes; the fleet manager must make a new code",
                    ))
                } else {
                    match self.check_verification(
                        tx,
                        device,
                        &stop,
                        ev,
                        verification,
                        occurred,
                        now,
                    )? {
                        Err(e) => Err(e),
                        Ok(()) => photo_check,
                    }
                }
            }
        };
        let delivered = matches!(ev.body, EventBody::Delivered { .. });
        let ids: Vec<String> = ev.parcel_ids.iter().map(|p| p.to_string()).collect();
        match outcome {
            Ok(()) => {
                let new_status = if delivered { "delivered" } else { "failed" };
                for id in &ids {
                    exec(
                        tx,
                        "UPDATE parcels SET status = ?2 WHERE id = ?1",
                        params![id, new_status],
                    )?;
                }
                if delivered {
                    self.consume_code_if_handed_over(tx, &stop, now)?;
                }
                self.queue_webhooks(
                    tx,
                    if delivered {
                        WebhookEvent::Delivered
                    } else {
                        WebhookEvent::Failed
                    },
                    ev,
                    None,
                    now,
                )?;
                Ok(EventStatus::Accepted)
            }
            Err((code, message)) => {
                for id in &ids {
                    exec(
                        tx,
                        "UPDATE parcels SET status = 'disputed' WHERE id = ?1",
                        [id],
                    )?;
                }
                self.queue_webhooks(tx, WebhookEvent::Disputed, ev, Some(code), now)?;
                Ok(rejected(code, message))
            }
        }
    }

    /// Once every parcel of a stop is delivered, its code is used up: no hash of it (or of
    /// the codes it replaced) stays, so the same code verifies nothing afterwards.
    fn consume_code_if_handed_over(
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
                 code_hash = X'' WHERE stop_id = ?1",
                params![stop.id.to_string(), now],
            )?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn check_verification(
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
    fn last_reset_ms(&self, tx: &Db<'_>, stop: &StopRow) -> Result<Option<i64>, StoreError> {
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
    fn use_verification(
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

    /// Queues the `event` webhook of each of the record's parcels whose shipper has a webhook
    /// URL. Only the shipper's id is stored with it: the signature is made when it is sent.
    fn queue_webhooks(
        &self,
        tx: &Db<'_>,
        event: WebhookEvent,
        ev: &DeliveryEvent,
        reject: Option<RejectCode>,
        now: i64,
    ) -> Result<(), StoreError> {
        for parcel_id in &ev.parcel_ids {
            let row: Option<(String, String, Option<String>)> = qrow(
                tx,
                "SELECT p.barcode_raw, s.id, s.webhook_url FROM parcels p \
                     JOIN shippers s ON s.id = p.shipper_id WHERE p.id = ?1",
                [parcel_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
            let Some((barcode, shipper_id, Some(url))) = row else {
                continue;
            };
            let body = serde_json::to_string(&WebhookPayload {
                event,
                parcel_id: *parcel_id,
                barcode,
                event_id: ev.id,
                occurred_at_ms: ev.occurred_at_ms,
                reject_code: reject,
            })
            .expect("serialising plain data cannot fail");
            enqueue_webhook(tx, &url, event.as_str(), &body, &shipper_id, now)?;
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Photos, admin views

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
                "SELECT COUNT(*), COALESCE(SUM(size), 0), MIN(created_at) FROM photos \
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

    /// Stored events, for a delivery day or all.
    pub fn deliveries(&self, date: Option<&str>) -> Result<Vec<StoredDelivery>, StoreError> {
        self.stored_deliveries(date, false)
    }

    /// Stored events of a day (or all), only those marked for review if `review_only`.
    fn stored_deliveries(
        &self,
        date: Option<&str>,
        review_only: bool,
    ) -> Result<Vec<StoredDelivery>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, device_id, seq, stop_id, parcel_ids, kind, status, reject_code, received_at, review FROM events \
                 WHERE (?1 IS NULL OR delivery_date = ?1) AND (?2 = 0 OR review = 1) \
                 ORDER BY received_at, device_id, seq",
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

    /// Messages due for sending, oldest first. Messages that were given up, voided or held
    /// back are never due.
    pub fn due_messages(&self, now: i64, limit: u32) -> Result<Vec<OutboxMessage>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT o.id, o.channel, o.recipient, o.subject, o.body, o.stop_id, o.attempts, \
                 o.created_at, o.code_id IS NOT NULL, s.webhook_secret FROM outbox o \
                 LEFT JOIN shippers s ON s.id = o.shipper_id \
                 WHERE o.sent_at IS NULL AND o.dropped_at IS NULL AND o.next_attempt_at <= ?1 \
                 ORDER BY o.id LIMIT ?2",
            )?;
            let rows = st.query_map(params![now, limit], |r| {
                Ok(OutboxMessage {
                    id: r.get(0)?,
                    channel: r.get(1)?,
                    recipient: r.get(2)?,
                    subject: r.get(3)?,
                    body: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                    stop_id: r.get(5)?,
                    attempts: r.get(6)?,
                    created_at: r.get(7)?,
                    carries_code: r.get(8)?,
                    webhook_secret: r.get(9)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Marks a message sent and wipes its body (it may hold a code). In demo mode the
    /// message is copied to the development outbox first.
    pub fn mark_sent(
        &self,
        msg: &OutboxMessage,
        dev_copy: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            if dev_copy {
                exec(tx,
                    "INSERT INTO dev_messages (channel, recipient, subject, body, stop_id, sent_at) VALUES (?1,?2,?3,?4,?5,?6)",
                    params![msg.channel, msg.recipient, msg.subject, msg.body, msg.stop_id, now],
                )?;
            }
            exec(tx,
                "UPDATE outbox SET sent_at = ?2, body = NULL, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
                params![msg.id, now],
            )?;
            Ok(())
        })
    }

    /// Records a failed send and when to try again. A message voided while it was being
    /// sent stays void.
    pub fn mark_failed(&self, id: i64, error: &str, next_at: i64) -> Result<(), StoreError> {
        self.write(|tx| {
            exec(
                tx,
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 \
                 WHERE id = ?1 AND dropped_at IS NULL",
                params![id, error, next_at],
            )?;
            Ok(())
        })
    }

    /// Records the last allowed try of a message as failed and gives the message up: it is
    /// never tried again, its body (which may hold a code) is wiped, and the fleet page
    /// lists it with `error`.
    pub fn give_up(&self, id: i64, error: &str, now: i64) -> Result<(), StoreError> {
        self.write(|tx| {
            exec(
                tx,
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, body = NULL, \
                 dropped_at = ?3, drop_reason = 'gave_up' WHERE id = ?1 AND dropped_at IS NULL",
                params![id, error, now],
            )?;
            Ok(())
        })
    }

    /// Voids customer messages that were not sent yet and whose code expired or ended
    /// otherwise (replaced or used up; a new code voids them at once, this catches the
    /// rest): the body is wiped and the message is never sent. Run by the outbox worker
    /// before each round; returns how many were voided.
    pub fn void_stale_code_messages(&self, now: i64) -> Result<usize, StoreError> {
        const STALE: &str = "FROM outbox o JOIN codes c ON c.id = o.code_id \
             WHERE o.sent_at IS NULL AND o.dropped_at IS NULL AND o.code_id IS NOT NULL \
             AND (c.expires_at <= ?1 OR c.superseded_at IS NOT NULL)";
        // Reading first keeps the worker off the writer in the usual case of nothing to do.
        let any: bool = self.read(|c| {
            Ok(qrow(
                c,
                &format!("SELECT EXISTS (SELECT 1 {STALE})"),
                [now],
                |r| r.get(0),
            )?)
        })?;
        if !any {
            return Ok(0);
        }
        self.write(|tx| {
            Ok(exec(tx,
                &format!(
                    "UPDATE outbox SET body = NULL, dropped_at = ?1, drop_reason = 'void', \
                     last_error = CASE WHEN (SELECT superseded_at FROM codes WHERE id = outbox.code_id) IS NULL \
                     THEN ?2 ELSE ?3 END WHERE id IN (SELECT o.id {STALE})"
                ),
                params![now, VOID_EXPIRED, VOID_ENDED],
            )?)
        })
    }

    /// Holds back a customer message when its recipient already got
    /// `per_recipient_per_day` code messages in the 24 hours before it was queued (SMS
    /// pumping: someone making the fleet pay for texts to numbers they control). The
    /// message keeps its row without a body, is never sent, and the fleet page shows why.
    /// Counted: messages that were sent, are waiting, or were given up — not those voided
    /// or held back, as they never reached a provider. Returns whether it was held back.
    pub fn hold_if_over_recipient_limit(
        &self,
        msg: &OutboxMessage,
        per_recipient_per_day: u32,
        now: i64,
    ) -> Result<bool, StoreError> {
        if !msg.carries_code {
            return Ok(false);
        }
        self.write(|tx| {
            let earlier: u32 = qrow(tx,
                "SELECT COUNT(*) FROM outbox WHERE lower(recipient) = lower(?1) AND code_id IS NOT NULL \
                 AND created_at > ?2 - 86400000 AND id < ?3 \
                 AND (drop_reason IS NULL OR drop_reason = 'gave_up')",
                params![msg.recipient, msg.created_at, msg.id],
                |r| r.get(0),
            )?;
            if earlier < per_recipient_per_day {
                return Ok(false);
            }
            exec(tx,
                "UPDATE outbox SET body = NULL, dropped_at = ?2, drop_reason = 'rate_limited', \
                 last_error = ?3 WHERE id = ?1 AND dropped_at IS NULL",
                params![
                    msg.id,
                    now,
                    format!(
                        "not sent: this recipient already had {earlier} code messages sent or \
                         queued in the 24 hours before (the limit is {per_recipient_per_day}); \
                         check for abuse, or raise outbox_recipient_daily_limit if this is a \
                         real customer"
                    )
                ],
            )?;
            Ok(true)
        })
    }

    /// Messages that will never be sent (given up, voided, held back), newest first, at
    /// most `limit`. Bodies are never read.
    pub fn unsent_messages(&self, limit: u32) -> Result<Vec<UnsentMessage>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, channel, recipient, subject, attempts, drop_reason, last_error, dropped_at \
                 FROM outbox WHERE dropped_at IS NOT NULL AND sent_at IS NULL \
                 ORDER BY dropped_at DESC, id DESC LIMIT ?1",
            )?;
            let rows = st.query_map([limit], |r| {
                Ok(UnsentMessage {
                    id: r.get(0)?,
                    channel: r.get(1)?,
                    recipient: r.get(2)?,
                    subject: r.get(3)?,
                    attempts: r.get(4)?,
                    reason: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                    last_error: r.get(6)?,
                    dropped_at: r.get(7)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The development outbox (demo mode).
    pub fn dev_messages(&self) -> Result<Vec<DevMessage>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, channel, recipient, subject, body, stop_id, sent_at FROM dev_messages ORDER BY id DESC",
            )?;
            let rows = st.query_map(params![], |r| {
                Ok(DevMessage {
                    id: r.get(0)?,
                    channel: r.get(1)?,
                    recipient: r.get(2)?,
                    subject: r.get(3)?,
                    body: r.get(4)?,
                    stop_id: r.get::<_, Option<String>>(5)?.and_then(|s| s.parse().ok()),
                    sent_at_ms: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The customer's page for a stop, with a freshly signed token.
    pub fn customer_stop(&self, public_ref: &str, now: i64) -> Result<CustomerStop, StoreError> {
        self.read(|c| {
            let row: Option<(String, String)> = qrow(c,
                    "SELECT id, address FROM stops WHERE public_ref = ?1",
                    [public_ref],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let (id, address) = row.ok_or(StoreError::NotFound("page"))?;
            let stop = load_stop(c, &id)?.ok_or(StoreError::NotFound("page"))?;
            let mut st = c.prepare_cached("SELECT barcode_raw, description FROM parcels WHERE stop_id = ?1 ORDER BY created_at")?;
            let parcels = st
                .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            let expires: Option<i64> = qrow(c,
                    "SELECT expires_at FROM codes WHERE stop_id = ?1 AND superseded_at IS NULL",
                    [&id],
                    |r| r.get(0),
                )
                .optional()?;
            let token = expires.filter(|e| *e > now).map(|e| {
                TokenClaims {
                    key_id: self.secrets.key_id(),
                    subject: TokenSubject::Stop(stop.id),
                    recipient_ref: stop.recipient_ref,
                    not_before: ((now / 1000) - 60).max(0) as u32,
                    expires: (e / 1000) as u32,
                    nonce: self.settings.random.bytes::<8>(),
                }
                .sign(self.secrets.signing_key())
                .expose_text()
                .to_string()
            });
            Ok(CustomerStop {
                recipient_name: stop.recipient_name,
                address,
                delivery_date: stop.delivery_date,
                parcels,
                code_required: stop.code_required,
                token,
            })
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
            let mut st = c.prepare_cached("SELECT id, name FROM couriers ORDER BY name")?;
            let couriers = st
                .query_map(params![], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(FleetSummary {
                by_status,
                exceptions,
                devices: devices.clone(),
                couriers,
            })
        })
    }
}

fn rejected(code: RejectCode, message: &str) -> EventStatus {
    EventStatus::Rejected {
        code,
        message: message.to_string(),
    }
}

/// How a record is kept: its `events.status`.
#[derive(Debug, Clone, Copy)]
enum StoredAs {
    Accepted,
    Rejected(RejectCode),
    /// From a revoked phone: kept for the fleet manager, applied to nothing.
    Review,
}

/// Stores a record once under its id, with the answer it got (a retry gets the same).
#[allow(clippy::too_many_arguments)]
fn store_event(
    tx: &Db<'_>,
    device: &str,
    ev: &DeliveryEvent,
    mac: &[u8],
    stored_as: StoredAs,
    answer: &EventStatus,
    review: bool,
    now: i64,
) -> Result<(), StoreError> {
    let (status, reject_code) = match stored_as {
        StoredAs::Accepted => ("accepted", None),
        StoredAs::Rejected(code) => ("rejected", Some(enum_str(&code))),
        StoredAs::Review => ("review", None),
    };
    exec(
        tx,
        "INSERT INTO events (id, device_id, seq, stop_id, parcel_ids, kind, body_hash, body_mac, body, status, \
         reject_code, result, delivery_date, received_at, review) VALUES (?1,?2,?3,?4,?5,?6,'',?7,?8,?9,?10,?11, \
         (SELECT delivery_date FROM stops WHERE id = ?4), ?12, ?13)",
        params![
            ev.id.to_string(),
            device,
            ev.seq as i64,
            ev.stop_id.to_string(),
            serde_json::to_string(&ev.parcel_ids).unwrap_or_default(),
            match ev.body {
                EventBody::Delivered { .. } => "delivered",
                EventBody::Failed { .. } => "failed",
            },
            mac,
            redacted_event_json(ev),
            status,
            reject_code,
            serde_json::to_string(answer).unwrap_or_default(),
            now,
            review
        ],
    )?;
    Ok(())
}

/// The event as stored: codes and tokens are replaced, so the database never holds them, and
/// the signature and previous hash are left out — both are computed over the signed bytes,
/// which hold an offline code, so either would let a copy of the database test all million
/// codes. (The server checked the signature on arrival; the keyed chain hash stays.)
fn redacted_event_json(ev: &DeliveryEvent) -> String {
    let mut v = serde_json::to_value(ev).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("signature");
        o.remove("prev_hash");
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

/// `last_error` of a message whose code was replaced before it went out.
const VOID_REPLACED: &str = "void: a newer code replaced this one before it was sent";
/// `last_error` of a message whose code was replaced or used up before it went out.
const VOID_ENDED: &str = "void: the code was replaced or used up before this message was sent";
/// `last_error` of a message whose code expired before it went out.
const VOID_EXPIRED: &str = "void: the code expired before this message could be sent";

/// Queues a message. An email or SMS for a stop carries the stop's current code (it is
/// queued right after that code is made), so the row remembers which code: the message is
/// voided when that code is replaced or expires, and it counts towards the recipient's
/// daily limit.
#[allow(clippy::too_many_arguments)]
fn enqueue(
    tx: &Db<'_>,
    channel: &str,
    recipient: &str,
    subject: &str,
    body: &str,
    headers: Option<&str>,
    stop_id: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    exec(
        tx,
        "INSERT INTO outbox (channel, recipient, subject, body, headers, stop_id, code_id, next_attempt_at, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, \
                 CASE WHEN ?1 IN ('email', 'sms') THEN \
                   (SELECT id FROM codes WHERE stop_id = ?6 AND superseded_at IS NULL) END, \
                 ?7, ?7)",
        params![channel, recipient, subject, body, headers, stop_id, now],
    )?;
    Ok(())
}

/// Queues a webhook. It is signed when it is sent (with the shipper's secret and the time
/// of that try), so nothing precomputed is stored.
fn enqueue_webhook(
    tx: &Db<'_>,
    url: &str,
    event: &str,
    body: &str,
    shipper_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    exec(
        tx,
        "INSERT INTO outbox (channel, recipient, subject, body, shipper_id, next_attempt_at, created_at) \
         VALUES ('webhook', ?1, ?2, ?3, ?4, ?5, ?5)",
        params![url, event, body, shipper_id, now],
    )?;
    Ok(())
}

/// Voids the stop's customer messages that were not sent yet, because their code is about
/// to be replaced: they are never sent and their bodies (holding the old code) are wiped.
fn void_unsent_code_messages(tx: &Db<'_>, stop_id: &str, now: i64) -> Result<(), StoreError> {
    exec(
        tx,
        "UPDATE outbox SET body = NULL, dropped_at = ?2, drop_reason = 'void', last_error = ?3 \
         WHERE stop_id = ?1 AND code_id IS NOT NULL AND sent_at IS NULL AND dropped_at IS NULL",
        params![stop_id, now, VOID_REPLACED],
    )?;
    Ok(())
}

fn parcel_view(c: &Db<'_>, public_url: &str, id: &str) -> Result<ParcelView, StoreError> {
    let row = qrow(
        c,
        "SELECT p.id, p.stop_id, p.barcode_key, p.status, p.code_required, p.photo_required, \
             p.offline_allowed, p.reasons, s.code_digits, s.max_attempts, s.public_ref, \
             (SELECT expires_at FROM codes WHERE stop_id = s.id AND superseded_at IS NULL) \
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
    ) = row;
    Ok(ParcelView {
        parcel_id: pid.parse().map_err(|_| bad_column(0))?,
        stop_id: sid.parse().map_err(|_| bad_column(1))?,
        barcode,
        status: parse_enum(&status).unwrap_or(ParcelStatus::Pending),
        decision: PolicyDecision {
            code_required: req,
            code_length: req.then_some(digits + 1),
            max_attempts: attempts,
            offline_allowed: offline,
            photo_required: photo,
            reasons: serde_json::from_str(&reasons).unwrap_or_default(),
        },
        code_expires_at: expires.map(|e| e / 1000),
        customer_url: format!("{}/c/{}", public_url.trim_end_matches('/'), public_ref),
    })
}

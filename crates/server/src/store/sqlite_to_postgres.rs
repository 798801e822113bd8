//! `doorstep-server migrate`: moves a fleet from its SQLite file to PostgreSQL.
//!
//! The copy is checked, not trusted:
//!
//! 1. The source must be a Doorstep database of exactly the schema version this binary knows
//!    (an older one is migrated first by starting the current server on it once), holding
//!    only tables this binary knows ([`TABLES`]): a table added by a later version is never
//!    silently left behind. The source is opened read-only, in one read transaction, so every
//!    table is copied and checked from the same snapshot.
//! 2. The secrets must be the ones the source was set up with (the fingerprint stored in
//!    `fleet_settings`): the nodes will need them to check the copied codes and chains.
//! 3. The target must hold no rows (only the schema and the secrets fingerprint that opening
//!    it records). It is prepared by the normal opening path, so it gets the same schema as a
//!    node would make.
//! 4. Every table is copied parents first, in ONE PostgreSQL transaction, in multi-row
//!    `INSERT`s built from the source's column names, rows in the order SQLite stored them
//!    (rowid order); identity sequences are moved past the copied ids (and past ids SQLite
//!    gave out to rows deleted since).
//! 5. Before that transaction commits, every table is read back in primary-key order and its
//!    row count and SHA-256 over a canonical encoding of the values ([`Value`]: integer, real,
//!    text, blob, null, the same on both backends) compared with the source's (text compared
//!    byte by byte on both sides, whatever the database's collation). Any difference rolls
//!    everything back: the target then holds no data.
//!
//! Photos are files in the data directory, not rows: the report says where they are.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::backend::sql::{Db, DbError, Row, Value, params};
use super::backend::{postgres, sqlite};
use super::schema::MIGRATIONS;
use super::{Location, Store, StoreError, StoreSettings};
use crate::sys::secrets::{Secrets, SecretsError};

/// Every table of the schema this binary knows, parents before the tables that refer to
/// them (the order of the copy). A table in the source that is not here stops the copy; the
/// unit tests check this list against the migrations.
pub const TABLES: &[&str] = &[
    "shippers",
    "couriers",
    "enrollments",
    "devices",
    "stops",
    "parcels",
    "codes",
    "verifications",
    "used_tokens",
    "events",
    "event_parcels",
    "photos",
    "outbox",
    "dev_messages",
    "audit_log",
    "fleet_settings",
    "releases",
    "release_minimums",
    "release_tokens",
    "unexpected_parcels",
    "depot_checkins",
    "users",
    "sessions",
    "setup_links",
    "numbers_days",
    "numbers_cells",
];

/// Tables that opening the target already writes to (the secrets fingerprint): their rows are
/// inserted unless present, and the check afterwards proves both sides equal.
const WRITTEN_BY_OPEN: &[&str] = &["fleet_settings"];

/// PostgreSQL's own bookkeeping table of the schema version (not in SQLite).
const POSTGRES_SCHEMA_TABLE: &str = "doorstep_schema";

/// Rows per read from either side, and at most per `INSERT`.
const PAGE_ROWS: usize = 500;

/// At most this many parameters in one statement (PostgreSQL allows 65535).
const MAX_PARAMS: usize = 60_000;

/// Tables at least this large report their progress.
const PROGRESS_ROWS: u64 = 20_000;

/// The schema version this binary reads and writes: the number of migrations it knows.
pub fn known_schema_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Why the migration stopped.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The source or the target is not fit for the copy; nothing was copied.
    #[error("{0}")]
    Refused(String),
    /// A table read back from the target differs from the source; the copy was rolled back.
    #[error(
        "what PostgreSQL holds after the copy differs from the source in {tables}, so nothing \
         was copied: the transaction was rolled back (the target keeps the empty schema; \
         the source was only read). Check that the target was a new, empty database and run \
         migrate again; if it was, report this as a bug with the table below.\n\n{report}",
        tables = .mismatched.join(", ")
    )]
    Mismatch {
        /// The tables that differ.
        mismatched: Vec<String>,
        /// Every table's check.
        report: ChecksTable,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The secrets could not be read.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

impl From<DbError> for CopyError {
    fn from(e: DbError) -> Self {
        StoreError::Db(e).into()
    }
}

impl From<rusqlite::Error> for CopyError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e.into()).into()
    }
}

fn refused<T>(message: impl Into<String>) -> Result<T, CopyError> {
    Err(CopyError::Refused(message.into()))
}

/// One table, as compared after the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCheck {
    /// The table.
    pub table: String,
    /// Rows in the source.
    pub source_rows: u64,
    /// Rows read back from the target.
    pub target_rows: u64,
    /// SHA-256 (hex) of the source's rows in primary-key order.
    pub source_sha256: String,
    /// SHA-256 (hex) of the target's rows in primary-key order.
    pub target_sha256: String,
}

impl TableCheck {
    /// Whether both sides hold the same rows.
    pub fn ok(&self) -> bool {
        self.source_rows == self.target_rows && self.source_sha256 == self.target_sha256
    }
}

/// The per-table checks, printable as a table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChecksTable(pub Vec<TableCheck>);

impl fmt::Display for ChecksTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .0
            .iter()
            .map(|c| c.table.len())
            .chain([5])
            .max()
            .unwrap_or(5);
        writeln!(
            f,
            "{:<width$}  {:>9}  {:<16}  ok",
            "table", "rows", "sha256"
        )?;
        for c in &self.0 {
            if c.ok() {
                writeln!(
                    f,
                    "{:<width$}  {:>9}  {:<16}  ok",
                    c.table,
                    c.source_rows,
                    &c.source_sha256[..16]
                )?;
            } else {
                writeln!(
                    f,
                    "{:<width$}  {:>9}  {:<16}  MISMATCH: the target has {} rows, sha256 {}",
                    c.table,
                    c.source_rows,
                    &c.source_sha256[..16],
                    c.target_rows,
                    &c.target_sha256[..16]
                )?;
            }
        }
        let total: u64 = self.0.iter().map(|c| c.source_rows).sum();
        writeln!(f, "{:<width$}  {:>9}", "total", total)
    }
}

/// What a finished migration did.
#[derive(Debug, Clone)]
pub struct MigrationReport {
    /// The source database file.
    pub source: PathBuf,
    /// The target, without its password.
    pub target: String,
    /// The schema version copied.
    pub schema_version: i64,
    /// Every table, as checked.
    pub tables: ChecksTable,
    /// How long it took.
    pub elapsed: Duration,
    /// The photos directory of the source's data directory.
    pub photos_dir: PathBuf,
    /// Photo files in it, and their bytes.
    pub photo_files: (u64, u64),
    /// The secrets directory the nodes need.
    pub secrets_dir: PathBuf,
}

impl fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: u64 = self.tables.0.iter().map(|c| c.source_rows).sum();
        writeln!(
            f,
            "Copied {} (schema version {}) to {} in {:.2} s.\n",
            self.source.display(),
            self.schema_version,
            self.target,
            self.elapsed.as_secs_f64()
        )?;
        write!(f, "{}", self.tables)?;
        writeln!(
            f,
            "\nEvery table matched: {} tables, {rows} rows, read back from PostgreSQL with the \
             same row counts and SHA-256 as in SQLite.",
            self.tables.0.len()
        )?;
        let (files, bytes) = self.photo_files;
        writeln!(
            f,
            "\nPhotos are files in the data directory, not rows in the database, and were not \
             copied: copy {} ({files} file{}, {bytes} bytes) to the data directory of every \
             node, or put it on storage the nodes share.",
            self.photos_dir.display(),
            if files == 1 { "" } else { "s" }
        )?;
        writeln!(
            f,
            "Every node needs the secrets in {} (the same on every node: copy the directory \
             or give --secrets-dir). Start the nodes with --database {}.",
            self.secrets_dir.display(),
            self.target
        )?;
        writeln!(
            f,
            "Keep {} as a backup, but do not run a server on it any more: what it stores \
             would not reach PostgreSQL.",
            self.source.display()
        )
    }
}

/// A source table: its columns (in the source's order) and primary key.
#[derive(Debug, Clone)]
struct Plan {
    table: &'static str,
    columns: Vec<String>,
    /// Positions in `columns` of the primary key's columns, in key order.
    key: Vec<usize>,
    /// Rows in the source (for progress).
    rows: u64,
    /// Whether the source table has rowids (not `WITHOUT ROWID`): then its rows are copied
    /// in rowid order, the order they were stored in, so PostgreSQL stores them in that order
    /// too (what a query without an order, or with ties, tends to follow).
    rowid: bool,
    /// The highest id SQLite ever gave out in this table (`sqlite_sequence`): a sequence on
    /// PostgreSQL continues after it, never reusing an id of a deleted row.
    sqlite_sequence: Option<i64>,
}

/// Copies the fleet in the SQLite database at `from` into the empty PostgreSQL database at
/// `to`, checks every table and commits only if all match. `secrets_dir` defaults to the
/// source's `DATA_DIR/secrets`. `progress` gets lines for the operator (stderr).
/// Long because it is the copy's steps in the order they run, each reporting its progress
/// to the operator; every step's work is its own function.
pub fn migrate_sqlite_to_postgres(
    from: &Location,
    to: &Location,
    secrets_dir: Option<&Path>,
    progress: &dyn Fn(&str),
) -> Result<MigrationReport, CopyError> {
    let started = Instant::now();
    let Location::Sqlite(data_dir) = from else {
        return refused(
            "--from must be the SQLite database to copy: sqlite:DATA_DIR or \
             sqlite:DATA_DIR/doorstep.sqlite3",
        );
    };
    let Location::Postgres(url) = to else {
        return refused(
            "--to must be the PostgreSQL database to copy into: \
             postgres://user[:password]@host[:port]/database",
        );
    };
    let target = postgres::redact_url(url);
    let path = data_dir.join(sqlite::FILE_NAME);
    if !path.is_file() {
        return refused(format!("no Doorstep database at {}", path.display()));
    }
    // Read-only: the source is never changed. One read transaction: every table is copied
    // and checked from the same snapshot.
    let conn = rusqlite::Connection::open_with_flags(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch("BEGIN")?;
    let source = Db::Sqlite(&conn);
    let (plans, fingerprint) = inspect_source(&source, &path)?;

    let secrets_dir = secrets_dir.map_or_else(|| data_dir.join("secrets"), Path::to_path_buf);
    if !secrets_dir.is_dir() {
        return refused(format!(
            "no secrets directory at {}: the fleet's secrets are needed to use its codes and \
             record chains; give the directory with --secrets-dir",
            secrets_dir.display()
        ));
    }
    let secrets = Secrets::load_or_create(&secrets_dir)?;
    if secrets.fingerprint() != fingerprint {
        return refused(format!(
            "the secrets in {} (fingerprint {}) are not the ones {} was set up with \
             (fingerprint {fingerprint}); give the fleet's secrets directory with --secrets-dir",
            secrets_dir.display(),
            secrets.fingerprint(),
            path.display()
        ));
    }

    progress(&format!("checking that {target} is empty"));
    to.with_connection(rows_in_target)
        .map_err(CopyError::from)
        .and_then(|rows| refuse_rows(&rows, &target))?;
    progress(&format!("preparing the schema in {target}"));
    drop(Store::open(
        to,
        secrets,
        StoreSettings {
            public_url: String::new(),
            time_zone: crate::domain::zone::FleetZone::utc(),
            policy: crate::domain::policy::Policy::default(),
            customers: Default::default(),
            verification_ttl_ms: 1000,
            offline_window_ms: 1000,
            random: doorstep_inputs::Randomness::os(),
            pool_size: 2,
        },
    )?);

    let stopped: RefCell<Option<CopyError>> = RefCell::new(None);
    let stop = |e: CopyError| {
        let message = e.to_string();
        *stopped.borrow_mut() = Some(e);
        StoreError::Conflict(message)
    };
    let outcome = to.with_connection(|pg| {
        match refuse_rows(&rows_in_target(pg)?, &target) {
            Ok(()) => {}
            Err(e) => return Err(stop(e)),
        }
        if let Err(e) = check_target_columns(pg, &plans) {
            return Err(stop(e));
        }
        for plan in &plans {
            copy_table(&source, pg, plan, progress)?;
        }
        for plan in &plans {
            advance_sequences(pg, plan)?;
        }
        progress("reading every table back from PostgreSQL and comparing it with SQLite");
        let mut checks = Vec::with_capacity(plans.len());
        for plan in &plans {
            let (source_rows, source_sha256) = hash_table(&source, plan)?;
            let (target_rows, target_sha256) = hash_table(pg, plan)?;
            checks.push(TableCheck {
                table: plan.table.to_string(),
                source_rows,
                target_rows,
                source_sha256,
                target_sha256,
            });
        }
        let mismatched: Vec<String> = checks
            .iter()
            .filter(|c| !c.ok())
            .map(|c| c.table.clone())
            .collect();
        if !mismatched.is_empty() {
            return Err(stop(CopyError::Mismatch {
                mismatched,
                report: ChecksTable(checks),
            }));
        }
        progress("committing");
        Ok(checks)
    });
    let checks = match outcome {
        Ok(checks) => checks,
        Err(e) => return Err(stopped.into_inner().unwrap_or(CopyError::Store(e))),
    };
    // Ends the read snapshot (it changed nothing).
    let _ = conn.execute_batch("COMMIT");

    let photos_dir = data_dir.join(crate::sys::PHOTOS_DIR);
    Ok(MigrationReport {
        source: path,
        target,
        schema_version: known_schema_version(),
        tables: ChecksTable(checks),
        elapsed: started.elapsed(),
        photo_files: count_photos(&photos_dir),
        photos_dir,
        secrets_dir,
    })
}

/// Checks that the source is a Doorstep database this binary can copy whole, and plans the
/// copy of each table; also returns the stored secrets fingerprint. Long because each
/// refusal is its own check with the message that tells the operator what to do.
fn inspect_source(db: &Db<'_>, path: &Path) -> Result<(Vec<Plan>, String), CopyError> {
    let known = known_schema_version();
    let version: i64 = db.qrow("PRAGMA user_version", params![], |r| r.get(0))?;
    let names: Vec<String> = db.query_map(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        params![],
        |r| r.get(0),
    )?;
    let internal = |n: &str| n.starts_with("sqlite_");
    let tables: BTreeSet<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !internal(n))
        .collect();
    if version == 0 || !tables.contains("parcels") {
        return refused(format!(
            "{} is not a Doorstep database (schema version {version}, tables: {})",
            path.display(),
            if tables.is_empty() {
                "none".to_string()
            } else {
                tables.iter().copied().collect::<Vec<_>>().join(", ")
            }
        ));
    }
    if version < known {
        return refused(format!(
            "{} has schema version {version}, older than the version {known} this server \
             copies. Start the current server on it once (`doorstep-server serve --data-dir \
             DATA_DIR`, as before), which migrates it; stop it and run migrate again",
            path.display()
        ));
    }
    if version > known {
        return refused(format!(
            "{} has schema version {version}, written by a newer server than this one (which \
             knows up to version {known}); run the migrate command of that newer server",
            path.display()
        ));
    }
    let unknown: Vec<&str> = tables
        .iter()
        .copied()
        .filter(|t| !TABLES.contains(t))
        .collect();
    if !unknown.is_empty() {
        return refused(format!(
            "{} has tables this server does not know: {}. It would leave them behind, so it \
             copies nothing; use the migrate command of the server that made them",
            path.display(),
            unknown.join(", ")
        ));
    }
    let missing: Vec<&str> = TABLES
        .iter()
        .copied()
        .filter(|t| !tables.contains(t))
        .collect();
    if !missing.is_empty() {
        return refused(format!(
            "{} lacks tables of schema version {version}: {}; it is damaged or not a Doorstep \
             database",
            path.display(),
            missing.join(", ")
        ));
    }
    let has_sequences = names.iter().any(|n| n == "sqlite_sequence");
    let without_rowid: BTreeSet<String> = db
        .query_map(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND upper(sql) LIKE '%WITHOUT ROWID%'",
            params![],
            |r| r.get(0),
        )?
        .into_iter()
        .collect();
    let mut plans = Vec::with_capacity(TABLES.len());
    for &table in TABLES {
        let info = db.query(&format!("PRAGMA table_info({})", ident(table)), params![])?;
        let mut columns = Vec::with_capacity(info.len());
        let mut key: Vec<(i64, usize)> = Vec::new();
        for (i, r) in info.iter().enumerate() {
            columns.push(r.get::<_, String>(1)?);
            let pk: i64 = r.get(5)?;
            if pk > 0 {
                key.push((pk, i));
            }
        }
        if key.is_empty() {
            return refused(format!(
                "the table {table} has no primary key, so its rows cannot be compared in order"
            ));
        }
        key.sort_unstable();
        let rows: i64 = db.qrow(
            &format!("SELECT COUNT(*) FROM {}", ident(table)),
            params![],
            |r| r.get(0),
        )?;
        let sqlite_sequence = if has_sequences {
            db.query("SELECT seq FROM sqlite_sequence WHERE name = ?1", [table])?
                .first()
                .map(|r| r.get::<_, i64>(0))
                .transpose()?
        } else {
            None
        };
        plans.push(Plan {
            table,
            columns,
            key: key.into_iter().map(|(_, i)| i).collect(),
            rows: u64::try_from(rows).unwrap_or(0),
            rowid: !without_rowid.contains(table),
            sqlite_sequence,
        });
    }
    let fingerprint: Option<String> = db
        .query(
            "SELECT value FROM fleet_settings WHERE key = 'secrets_fingerprint'",
            params![],
        )?
        .first()
        .map(|r| r.get(0))
        .transpose()?;
    let Some(fingerprint) = fingerprint else {
        return refused(format!(
            "{} does not record the fingerprint of its secrets; start the current server on it \
             once (which records it), stop it and run migrate again",
            path.display()
        ));
    };
    Ok((plans, fingerprint))
}

/// Tables of the target's schema holding rows (other than the schema version and the
/// settings that opening it writes), with their counts.
fn rows_in_target(db: &Db<'_>) -> Result<Vec<(String, i64)>, StoreError> {
    let tables: Vec<String> = db.query_map(
        "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
         ORDER BY table_name",
        params![],
        |r| r.get(0),
    )?;
    let mut full = Vec::new();
    for t in tables {
        if t == POSTGRES_SCHEMA_TABLE || WRITTEN_BY_OPEN.contains(&t.as_str()) {
            continue;
        }
        let n: i64 = db.qrow(
            &format!("SELECT COUNT(*) FROM {}", ident(&t)),
            params![],
            |r| r.get(0),
        )?;
        if n > 0 {
            full.push((t, n));
        }
    }
    Ok(full)
}

fn refuse_rows(rows: &[(String, i64)], target: &str) -> Result<(), CopyError> {
    if rows.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = rows
        .iter()
        .map(|(t, n)| format!("{t} ({n} rows)"))
        .collect();
    refused(format!(
        "{target} is not empty: {}. migrate copies into an empty database only and changed \
         nothing; give it a new database (CREATE DATABASE …), or drop and recreate this one if \
         its data is not needed",
        listed.join(", ")
    ))
}

/// Checks that each target table has the source's columns (both made by this binary's
/// migrations, so a difference is a bug of the migrations).
fn check_target_columns(pg: &Db<'_>, plans: &[Plan]) -> Result<(), CopyError> {
    for plan in plans {
        let target: BTreeSet<String> = target_columns(pg, plan.table)?
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        let source: BTreeSet<String> = plan.columns.iter().cloned().collect();
        if target != source {
            return refused(format!(
                "the table {} has other columns in the target ({}) than in the source ({}); \
                 nothing was copied",
                plan.table,
                target.into_iter().collect::<Vec<_>>().join(", "),
                source.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Ok(())
}

/// A PostgreSQL table's columns and their types, in order.
fn target_columns(pg: &Db<'_>, table: &str) -> Result<Vec<(String, String)>, StoreError> {
    Ok(pg.query_map(
        "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position",
        [table],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// A quoted identifier (the same syntax on both backends).
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The ordered key of a table's rows: text compares byte by byte on both sides (`COLLATE
/// BINARY` on SQLite, `COLLATE "C"` on PostgreSQL), whatever a column or database declares.
struct KeyOrder {
    /// The key's expressions.
    exprs: Vec<String>,
}

impl KeyOrder {
    fn new(db: &Db<'_>, plan: &Plan) -> Result<Self, StoreError> {
        let text_columns: BTreeSet<String> = if db.is_postgres() {
            target_columns(db, plan.table)?
                .into_iter()
                .filter(|(_, ty)| matches!(ty.as_str(), "text" | "character varying" | "character"))
                .map(|(c, _)| c)
                .collect()
        } else {
            BTreeSet::new()
        };
        Ok(Self {
            exprs: plan
                .key
                .iter()
                .map(|&i| {
                    let c = &plan.columns[i];
                    if !db.is_postgres() {
                        // Collations apply to text only; integers and blobs order as before.
                        format!("{} COLLATE BINARY", ident(c))
                    } else if text_columns.contains(c) {
                        format!("{} COLLATE \"C\"", ident(c))
                    } else {
                        ident(c)
                    }
                })
                .collect(),
        })
    }

    /// `SELECT` of every row in key order.
    fn select_sql(&self, plan: &Plan) -> String {
        let columns: Vec<String> = plan.columns.iter().map(|c| ident(c)).collect();
        format!(
            "SELECT {} FROM {} ORDER BY {}",
            columns.join(", "),
            ident(plan.table),
            self.exprs.join(", ")
        )
    }

    /// `SELECT` of a page of rows in key order, after the key in `?1…` if `after`.
    fn page_sql(&self, plan: &Plan, after: bool, limit: usize) -> String {
        let columns: Vec<String> = plan.columns.iter().map(|c| ident(c)).collect();
        let order = self.exprs.join(", ");
        let filter = if after {
            let params: Vec<String> = (1..=self.exprs.len()).map(|i| format!("?{i}")).collect();
            format!(" WHERE ({order}) > ({})", params.join(", "))
        } else {
            String::new()
        };
        format!(
            "SELECT {} FROM {}{filter} ORDER BY {order} LIMIT {limit}",
            columns.join(", "),
            ident(plan.table)
        )
    }
}

/// Calls `f` with the table's rows in key order, a page at a time: on SQLite by the key
/// (`WHERE key > last ORDER BY key LIMIT n`, which walks the primary key's index), on
/// PostgreSQL from a cursor (one sort: the index does not serve the byte-wise order).
fn for_each_page(
    db: &Db<'_>,
    plan: &Plan,
    limit: usize,
    mut f: impl FnMut(&[Row]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let order = KeyOrder::new(db, plan)?;
    if db.is_postgres() {
        let cursor = ident(&format!("doorstep_copy_{}", plan.table));
        db.execute_batch(&format!(
            "DECLARE {cursor} NO SCROLL CURSOR FOR {}",
            order.select_sql(plan)
        ))?;
        let fetch = format!("FETCH FORWARD {limit} FROM {cursor}");
        loop {
            let rows = db.query(&fetch, params![])?;
            if !rows.is_empty() {
                f(&rows)?;
            }
            if rows.len() < limit {
                break;
            }
        }
        db.execute_batch(&format!("CLOSE {cursor}"))?;
        return Ok(());
    }
    let first = order.page_sql(plan, false, limit);
    let next = order.page_sql(plan, true, limit);
    let mut after: Option<Vec<Value>> = None;
    loop {
        let rows = match &after {
            None => db.query(&first, params![])?,
            Some(key) => db.query(&next, key.clone())?,
        };
        if rows.is_empty() {
            return Ok(());
        }
        f(&rows)?;
        if rows.len() < limit {
            return Ok(());
        }
        let last = &rows[rows.len() - 1];
        after = Some(plan.key.iter().map(|&i| last.0[i].clone()).collect());
    }
}

/// The canonical encoding of a row into the table's hash: the number of values, then each
/// as a tag and its bytes (integers and reals as 8 bytes big-endian, text and blobs with
/// their length).
fn hash_row(h: &mut Sha256, row: &Row) {
    h.update((row.0.len() as u64).to_be_bytes());
    for v in &row.0 {
        match v {
            Value::Null => h.update([0]),
            Value::Int(i) => {
                h.update([1]);
                h.update(i.to_be_bytes());
            }
            Value::Real(x) => {
                h.update([2]);
                h.update(x.to_bits().to_be_bytes());
            }
            Value::Text(s) => {
                h.update([3]);
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
            Value::Blob(b) => {
                h.update([4]);
                h.update((b.len() as u64).to_be_bytes());
                h.update(b);
            }
        }
    }
}

/// Calls `f` with the source table's rows in the order they were stored (rowid order; key
/// order for a `WITHOUT ROWID` table), a page at a time.
fn for_each_stored_page(
    source: &Db<'_>,
    plan: &Plan,
    limit: usize,
    mut f: impl FnMut(&[Row]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    if !plan.rowid {
        return for_each_page(source, plan, limit, f);
    }
    let columns: Vec<String> = plan.columns.iter().map(|c| ident(c)).collect();
    let select = |filter: &str| {
        format!(
            "SELECT {}, _rowid_ FROM {}{filter} ORDER BY _rowid_ LIMIT {limit}",
            columns.join(", "),
            ident(plan.table)
        )
    };
    let first = select("");
    let next = select(" WHERE _rowid_ > ?1");
    let mut after: Option<Value> = None;
    loop {
        let mut rows = match &after {
            None => source.query(&first, params![])?,
            Some(rowid) => source.query(&next, [rowid])?,
        };
        let full = rows.len() == limit;
        after = rows.last().and_then(|r| r.0.last().cloned());
        for r in &mut rows {
            r.0.pop();
        }
        if !rows.is_empty() {
            f(&rows)?;
        }
        if !full {
            return Ok(());
        }
    }
}

/// Copies one table into the open PostgreSQL transaction, in the order the source stored
/// its rows.
fn copy_table(
    source: &Db<'_>,
    pg: &Db<'_>,
    plan: &Plan,
    progress: &dyn Fn(&str),
) -> Result<(), StoreError> {
    let batch = PAGE_ROWS.min((MAX_PARAMS / plan.columns.len().max(1)).max(1));
    let insert = |n: usize| {
        let columns: Vec<String> = plan.columns.iter().map(|c| ident(c)).collect();
        let width = plan.columns.len();
        let rows: Vec<String> = (0..n)
            .map(|r| {
                let ps: Vec<String> = (1..=width).map(|c| format!("?{}", r * width + c)).collect();
                format!("({})", ps.join(", "))
            })
            .collect();
        let conflict = if WRITTEN_BY_OPEN.contains(&plan.table) {
            " ON CONFLICT DO NOTHING"
        } else {
            ""
        };
        format!(
            "INSERT INTO {} ({}) VALUES {}{conflict}",
            ident(plan.table),
            columns.join(", "),
            rows.join(", ")
        )
    };
    let full_batch = insert(batch);
    let big = plan.rows >= PROGRESS_ROWS;
    if big {
        progress(&format!("copying {} ({} rows)", plan.table, plan.rows));
    }
    let mut copied: u64 = 0;
    let mut reported: u64 = 0;
    for_each_stored_page(source, plan, batch, |rows| {
        let values: Vec<Value> = rows.iter().flat_map(|r| r.0.iter().cloned()).collect();
        if rows.len() == batch {
            pg.exec(&full_batch, values)?;
        } else {
            pg.exec(&insert(rows.len()), values)?;
        }
        copied += rows.len() as u64;
        if big && copied - reported >= PROGRESS_ROWS {
            reported = copied;
            progress(&format!("  {}: {copied} of {} rows", plan.table, plan.rows));
        }
        Ok(())
    })
}

/// Sets the identity sequences of the table's columns past the copied ids (and past any id
/// SQLite gave out before, even if its row was deleted since).
fn advance_sequences(pg: &Db<'_>, plan: &Plan) -> Result<(), StoreError> {
    let columns: Vec<String> = pg.query_map(
        "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = ?1 \
         AND (is_identity = 'YES' OR column_default LIKE 'nextval(%') \
         ORDER BY ordinal_position",
        [plan.table],
        |r| r.get(0),
    )?;
    for column in columns {
        pg.query(
            &format!(
                "SELECT setval(pg_get_serial_sequence(?1, ?2), \
                 GREATEST(COALESCE(MAX({c}), 0), ?3) + 1, false) FROM {t}",
                c = ident(&column),
                t = ident(plan.table)
            ),
            params![ident(plan.table), column, plan.sqlite_sequence.unwrap_or(0)],
        )?;
    }
    Ok(())
}

/// A table's rows in key order, on either side: their number and hash.
fn hash_table(db: &Db<'_>, plan: &Plan) -> Result<(u64, String), StoreError> {
    let mut hash = Sha256::new();
    let mut rows_read: u64 = 0;
    for_each_page(db, plan, PAGE_ROWS * 4, |rows| {
        for r in rows {
            hash_row(&mut hash, r);
        }
        rows_read += rows.len() as u64;
        Ok(())
    })?;
    Ok((rows_read, hex::encode(hash.finalize())))
}

/// Files and bytes in the photos directory (none if it does not exist).
fn count_photos(dir: &Path) -> (u64, u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| !e.file_name().to_string_lossy().contains(".tmp-"))
        .fold((0, 0), |(n, b), e| {
            (n + 1, b + e.metadata().map_or(0, |m| m.len()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SQLite database with every migration applied (no data).
    fn migrated() -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for m in MIGRATIONS {
            conn.execute_batch(m.sqlite).unwrap();
        }
        conn
    }

    #[test]
    fn the_copy_covers_every_table_of_the_migrations_parents_first() {
        let conn = migrated();
        let mut made: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        made.sort();
        let mut listed: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
        listed.sort();
        assert_eq!(
            made, listed,
            "a migration added or dropped a table: update store::copy::TABLES"
        );
        for (i, table) in TABLES.iter().enumerate() {
            let parents: Vec<String> = conn
                .prepare(&format!("PRAGMA foreign_key_list({table})"))
                .unwrap()
                .query_map([], |r| r.get(2))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for parent in parents {
                let at = TABLES.iter().position(|t| *t == parent).unwrap();
                assert!(
                    at < i,
                    "{table} refers to {parent}, which must be copied first"
                );
            }
        }
    }

    #[test]
    fn rows_hash_by_value_and_type() {
        let h = |row: Vec<Value>| {
            let mut s = Sha256::new();
            hash_row(&mut s, &Row(row));
            hex::encode(s.finalize())
        };
        assert_eq!(
            h(vec![Value::Int(1), Value::Text("a".into())]),
            h(vec![Value::Int(1), Value::Text("a".into())])
        );
        for (a, b) in [
            (Value::Int(1), Value::Real(1.0)),
            (Value::Text("a".into()), Value::Blob(b"a".to_vec())),
            (Value::Null, Value::Text(String::new())),
            (Value::Real(0.0), Value::Real(-0.0)),
        ] {
            assert_ne!(h(vec![a.clone()]), h(vec![b.clone()]), "{a:?} vs {b:?}");
        }
        assert_ne!(
            h(vec![Value::Text("ab".into()), Value::Text("c".into())]),
            h(vec![Value::Text("a".into()), Value::Text("bc".into())]),
            "values do not run into each other"
        );
    }

    #[test]
    fn pages_follow_the_primary_key_byte_by_byte_on_postgres() {
        let plan = Plan {
            table: "codes",
            columns: vec!["id".into(), "stop_id".into()],
            key: vec![0],
            rows: 0,
            rowid: true,
            sqlite_sequence: None,
        };
        let order = KeyOrder {
            exprs: vec!["\"id\" COLLATE \"C\"".into()],
        };
        assert_eq!(
            order.page_sql(&plan, true, 10),
            "SELECT \"id\", \"stop_id\" FROM \"codes\" WHERE (\"id\" COLLATE \"C\") > (?1) \
             ORDER BY \"id\" COLLATE \"C\" LIMIT 10"
        );
    }
}

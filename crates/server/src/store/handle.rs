//! The [`Store`]: one of the two backends, the secrets and the fleet settings; opening
//! (migrations, the secrets check) and the transactions every operation runs in.

use std::path::Path;

use super::backend::sql::{Db, exec, params, qrow};
use super::backend::{postgres, sqlite};
use super::error::StoreError;
use super::schema::migrate;
use crate::domain::policy::Policy;
use crate::sys::secrets::Secrets;

/// Fleet-wide settings the store needs.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Base URL for links in messages.
    pub public_url: String,
    /// The fleet's time zone: codes are valid until the end of a delivery day there.
    pub time_zone: crate::domain::zone::FleetZone,
    /// The policy.
    pub policy: Policy,
    /// What customers may choose, the delivery calendar, the pickup points.
    pub customers: crate::domain::customer::CustomerRules,
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

pub(super) enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// The store: the domain operations over one of the two backends.
pub struct Store {
    pub(super) backend: Backend,
    pub(super) secrets: Secrets,
    pub(super) settings: StoreSettings,
    /// Operations on blocking threads at once ([`Store::run_blocking`]).
    blocking: tokio::sync::Semaphore,
}

/// How many store operations run on blocking threads at once; more wait for a turn without
/// a thread. Enough to fill SQLite's group commits and a PostgreSQL pool several times over;
/// beyond it, threads contending for the one writer or the pool only cost switches.
const BLOCKING_OPERATIONS: usize = 64;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
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
            blocking: tokio::sync::Semaphore::new(BLOCKING_OPERATIONS),
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
    pub(super) fn write<T>(
        &self,
        f: impl Fn(&Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => b.write(f),
            Backend::Postgres(b) => b.write(f),
        }
    }

    /// As [`Self::write`], for an operation on one `subject` that many requests may do at
    /// once: on PostgreSQL they queue instead of conflicting (SQLite's single writer queues
    /// everything anyway).
    pub(super) fn write_on<T>(
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
    pub(super) fn read<T>(
        &self,
        f: impl Fn(&Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => b.read(f),
            Backend::Postgres(b) => b.read(f),
        }
    }

    /// Runs a store operation on a blocking thread, off the async ones: every operation
    /// waits on the disk or the database. At most [`BLOCKING_OPERATIONS`] at once.
    pub async fn run_blocking<T: Send + 'static>(
        self: &std::sync::Arc<Self>,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let _turn = self
            .blocking
            .acquire()
            .await
            .expect("the store never closes its semaphore");
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

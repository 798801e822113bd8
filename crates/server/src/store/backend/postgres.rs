//! The PostgreSQL backend: a `deadpool-postgres` pool of `tokio-postgres` connections on a
//! small runtime of its own, so the store's blocking operations (run on the server's blocking
//! threads, or by a CLI command without any runtime) can wait on it.
//!
//! Every write runs in a `SERIALIZABLE` transaction and runs again when PostgreSQL reports a
//! serialization failure: operations on several nodes then behave as if they ran one after
//! another, which is what the domain code (written once for SQLite's single writer) assumes.
//! `COMMIT` returns once the change is durable (`synchronous_commit` on, PostgreSQL's default;
//! a node warns at start if the database says otherwise). Migrations run in one transaction
//! under an advisory lock, so nodes starting together apply them once.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

use super::pg::PgTx;
use super::sql::{Db, DbError};
use crate::store::StoreError;

/// How many times a write runs before a serialization failure is given up on (then the
/// client gets a 503 and retries later).
const MAX_TRIES: u32 = 30;

/// The advisory lock key the migrations run under ("doorstep" in ASCII).
const MIGRATION_LOCK: i64 = 0x646f_6f72_7374_6570;

/// The pool and the runtime its connections live on.
pub struct Postgres {
    pool: Pool,
    rt: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").finish_non_exhaustive()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // The store may be dropped inside the server's runtime, where a runtime cannot be
        // shut down by blocking.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// A connection string without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match url.parse::<tokio_postgres::Config>() {
        Ok(c) => {
            let hosts: Vec<String> = c
                .get_hosts()
                .iter()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(s) => s.clone(),
                    tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .collect();
            format!(
                "postgres://{}@{}/{}",
                c.get_user().unwrap_or(""),
                hosts.join(","),
                c.get_dbname().unwrap_or("")
            )
        }
        Err(_) => "postgres://…".into(),
    }
}

impl Postgres {
    /// Connects a pool of `size` connections to `url` (checked by one connection now, so a
    /// wrong URL fails at start with the database's message).
    pub fn connect(url: &str, size: usize) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::Unusable(format!(
                "--database {}: {e}; write it as postgres://user[:password]@host[:port]/database",
                redact_url(url)
            ))
        })?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("doorstep-postgres")
            .enable_all()
            .build()
            .map_err(|e| {
                StoreError::Unusable(format!("cannot start the PostgreSQL runtime: {e}"))
            })?;
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                // A connection that broke while idle (database restarted) is noticed and
                // replaced before it is handed out.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _guard = rt.enter();
            Pool::builder(manager)
                .max_size(size.max(2))
                .wait_timeout(Some(Duration::from_secs(5)))
                .create_timeout(Some(Duration::from_secs(5)))
                .recycle_timeout(Some(Duration::from_secs(5)))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .build()
                .map_err(|e| StoreError::Unusable(format!("database pool: {e}")))?
        };
        let pg = Self { pool, rt: Some(rt) };
        let sync_commit = pg
            .read(|db| {
                Ok(db.qrow(
                    "SELECT current_setting('synchronous_commit')",
                    super::sql::params![],
                    |r| r.get::<_, String>(0),
                )?)
            })
            .map_err(|e| {
                StoreError::Unusable(format!("cannot use the database {}: {e}", redact_url(url)))
            })?;
        if sync_commit == "off" {
            tracing::warn!(
                "the database has synchronous_commit=off: an answer may be given for a change \
                 that a database crash then loses; set it to on"
            );
        }
        Ok(pg)
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.rt
            .as_ref()
            .expect("the runtime lives as long as the pool")
            .handle()
    }

    fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.handle().block_on(self.pool.get()).map_err(|e| {
            StoreError::Db(DbError::Unavailable(match e {
                // The database's own words (a missing database, a refused login), not
                // tokio-postgres' bare "db error".
                deadpool_postgres::PoolError::Backend(e) => DbError::from(e).to_string(),
                e => e.to_string(),
            }))
        })
    }

    /// Runs `f` in a serializable transaction, again on a serialization failure; returns once
    /// the commit is durable.
    pub fn write<T>(&self, f: impl Fn(&Db<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.transaction("BEGIN ISOLATION LEVEL SERIALIZABLE", None, f)
    }

    /// As [`Self::write`], for an operation on one subject (a parcel, a device) that is often
    /// done by many requests at once (a phone's retries, many code checks for one door): they
    /// queue on a lock on the subject, taken before the transaction begins, instead of running
    /// together and all but one failing and running again. The lock and the `BEGIN` travel in
    /// one message, as do the `COMMIT` and the unlock, so this costs no round trip.
    pub fn write_on<T>(
        &self,
        subject: &str,
        f: impl Fn(&Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let key = i64::from_be_bytes(
            crate::sys::secrets::sha256(subject.as_bytes())[..8]
                .try_into()
                .expect("8 bytes"),
        );
        self.transaction("BEGIN ISOLATION LEVEL SERIALIZABLE", Some(key), f)
    }

    /// Runs `f` outside an explicit transaction: each statement reads the latest committed
    /// data, as on SQLite's readers, and a one-statement read (the token check of every
    /// request) costs one round trip instead of three.
    pub fn read<T>(&self, f: impl Fn(&Db<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let client = self.client()?;
        f(&Db::Postgres(PgTx {
            tx: &client,
            rt: self.handle(),
        }))
    }

    fn transaction<T>(
        &self,
        begin: &str,
        lock: Option<i64>,
        f: impl Fn(&Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let rt = self.handle();
        // Session locks: released by the unlock, or by the server if the connection dies.
        // The lock and BEGIN (COMMIT and the unlock) are two queries sent together: the
        // client pipelines them, so they take one round trip.
        let lock_sql = lock.map(|k| format!("SELECT pg_advisory_lock({k})"));
        let unlock_sql = lock.map(|k| format!("SELECT pg_advisory_unlock({k})"));
        let mut tries = 0;
        loop {
            tries += 1;
            let client = self.client()?;
            let run = |first: &str, second: Option<&str>| -> Result<(), tokio_postgres::Error> {
                rt.block_on(async {
                    match second {
                        None => client.batch_execute(first).await,
                        Some(second) => {
                            let (a, b) = tokio::join!(
                                client.batch_execute(first),
                                client.batch_execute(second)
                            );
                            a.and(b)
                        }
                    }
                })
            };
            let started = match &lock_sql {
                Some(l) => run(l, Some(begin)),
                None => run(begin, None),
            };
            if let Err(e) = started {
                let _ = run("ROLLBACK", unlock_sql.as_deref());
                return Err(StoreError::Db(e.into()));
            }
            let out = f(&Db::Postgres(PgTx { tx: &client, rt }));
            let err = match out {
                Ok(v) => match run("COMMIT", unlock_sql.as_deref()) {
                    Ok(()) => return Ok(v),
                    Err(e) => StoreError::Db(e.into()),
                },
                Err(e) => {
                    if run("ROLLBACK", unlock_sql.as_deref()).is_err() {
                        // The connection is in an unknown state: do not return it to the pool.
                        let _ = deadpool_postgres::Object::take(client);
                    }
                    e
                }
            };
            match &err {
                StoreError::Db(e) if e.is_retryable() && tries < MAX_TRIES => {
                    // Full jitter, growing: two nodes that collided do not collide again.
                    let cap = 2u64 << tries.min(6);
                    let ms = u64::from(crate::sys::secrets::random_bytes::<2>()[0]) % cap;
                    std::thread::sleep(Duration::from_millis(ms));
                }
                _ => return Err(err),
            }
        }
    }

    /// Applies the migrations under the advisory lock: `version` reads the schema version,
    /// `apply` brings it up to date (both in the same transaction).
    pub fn migrate(
        &self,
        apply: impl Fn(&Db<'_>, i64) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.transaction("BEGIN", None, |db| {
            db.qrow("SELECT pg_advisory_xact_lock(?1)", [MIGRATION_LOCK], |_| {
                Ok(())
            })?;
            db.execute_batch(
                "CREATE TABLE IF NOT EXISTS doorstep_schema (version BIGINT NOT NULL); \
                 INSERT INTO doorstep_schema (version) SELECT 0 \
                 WHERE NOT EXISTS (SELECT 1 FROM doorstep_schema)",
            )?;
            let version: i64 = db.qrow(
                "SELECT version FROM doorstep_schema",
                super::sql::params![],
                |r| r.get(0),
            )?;
            apply(db, version)
        })
    }
}

//! The PostgreSQL backend: an `r2d2` pool of `tokio-postgres` connections, each driven on
//! the thread that uses it.
//!
//! The store's operations are blocking code (on the server's blocking threads, or a CLI
//! command without any runtime). Each pooled connection carries a single-threaded runtime of
//! its own with the connection task on it, so a statement is written to the socket and its
//! answer read on the thread that asked: one round trip, and no hand-off to another thread and
//! back, which cost more than the statement itself.
//!
//! Every write runs in a `SERIALIZABLE` transaction and runs again when PostgreSQL reports a
//! serialization failure: operations on several nodes then behave as if they ran one after
//! another, which is what the domain code (written once for SQLite's single writer) assumes.
//! `COMMIT` returns once the change is durable (`synchronous_commit` on, PostgreSQL's default;
//! a node warns at start if the database says otherwise). Migrations run in one transaction
//! under an advisory lock, so nodes starting together apply them once.

use std::time::Duration;

use super::pg::{PgConn, PgTx};
use super::sql::{Db, DbError};
use crate::store::StoreError;

/// How many times a write runs before a serialization failure is given up on (then the
/// client gets a 503 and retries later).
const MAX_TRIES: u32 = 30;

/// The advisory lock key the migrations run under ("doorstep" in ASCII).
const MIGRATION_LOCK: i64 = 0x646f_6f72_7374_6570;

/// How long an operation waits for a free connection (or for the database to take a new
/// one) before it is answered as unavailable.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the pool's connections.
#[derive(Debug)]
struct Manager {
    config: tokio_postgres::Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = DbError;

    fn connect(&self) -> Result<PgConn, DbError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                DbError::Unavailable(format!("cannot start a connection's runtime: {e}"))
            })?;
        let (client, connection) = rt.block_on(self.config.connect(tokio_postgres::NoTls))?;
        rt.spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "a database connection ended");
            }
        });
        Ok(PgConn::new(client, rt))
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), DbError> {
        conn.block_on(conn.client.simple_query(""))?;
        Ok(())
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.broken.get() || conn.client.is_closed()
    }
}

/// Reports the pool's failures to open a connection in the server's log.
#[derive(Debug)]
struct LogErrors;

impl r2d2::HandleError<DbError> for LogErrors {
    fn handle_error(&self, error: DbError) {
        tracing::warn!(error = %error, "cannot open a database connection");
    }
}

/// The pool.
pub struct Postgres {
    pool: r2d2::Pool<Manager>,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").finish_non_exhaustive()
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
        let manager = Manager { config };
        let unusable = |e: DbError| {
            StoreError::Unusable(format!("cannot use the database {}: {e}", redact_url(url)))
        };
        // One connection opened here and closed again, so a wrong URL or a refused login is
        // reported at once in the database's words (the pool opens its own as needed, and
        // would only time out).
        let first = r2d2::ManageConnection::connect(&manager).map_err(unusable)?;
        let sync_commit = first
            .block_on(
                first
                    .client
                    .query_one("SELECT current_setting('synchronous_commit')", &[]),
            )
            .map_err(|e| unusable(e.into()))?
            .get::<_, String>(0);
        if sync_commit == "off" {
            tracing::warn!(
                "the database has synchronous_commit=off: an answer may be given for a change \
                 that a database crash then loses; set it to on"
            );
        }
        drop(first);
        let pool = r2d2::Pool::builder()
            .max_size(u32::try_from(size.max(2)).unwrap_or(u32::MAX))
            // Connections are opened as they are needed, and closed after a while unused.
            .min_idle(Some(0))
            .idle_timeout(Some(Duration::from_secs(600)))
            .connection_timeout(CHECKOUT_TIMEOUT)
            // A connection that broke (the database restarted) is noticed when its statement
            // fails, dropped, and replaced by a new one; no extra round trip per checkout.
            .test_on_check_out(false)
            .error_handler(Box::new(LogErrors))
            .build_unchecked(manager);
        Ok(Self { pool })
    }

    fn client(&self) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        self.pool
            .get()
            .map_err(|e| StoreError::Db(DbError::Unavailable(e.to_string())))
    }

    /// Runs `f` in a serializable transaction, again on a serialization failure; returns once
    /// the commit is durable.
    pub fn write<T>(&self, f: impl Fn(&Db<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.transaction("BEGIN ISOLATION LEVEL SERIALIZABLE", None, f)
    }

    /// As [`Self::write`], for an operation on one subject (a phone's records, a release
    /// channel) that is often done by many requests at once (a phone's retries): they
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
        let conn = self.client()?;
        f(&Db::Postgres(PgTx { conn: &conn }))
    }

    fn transaction<T>(
        &self,
        begin: &str,
        lock: Option<i64>,
        f: impl Fn(&Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // Session locks: released by the unlock, or by the server if the connection dies.
        // The lock and BEGIN (COMMIT and the unlock) are two queries sent together: the
        // client pipelines them, so they take one round trip.
        let lock_sql = lock.map(|k| format!("SELECT pg_advisory_lock({k})"));
        let unlock_sql = lock.map(|k| format!("SELECT pg_advisory_unlock({k})"));
        let mut tries = 0;
        loop {
            tries += 1;
            let conn = self.client()?;
            let run = |first: &str, second: Option<&str>| -> Result<(), tokio_postgres::Error> {
                conn.block_on(async {
                    match second {
                        None => conn.client.batch_execute(first).await,
                        Some(second) => {
                            let (a, b) = tokio::join!(
                                conn.client.batch_execute(first),
                                conn.client.batch_execute(second)
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
            let out = f(&Db::Postgres(PgTx { conn: &conn }));
            let err = match out {
                Ok(v) => match run("COMMIT", unlock_sql.as_deref()) {
                    Ok(()) => return Ok(v),
                    Err(e) => StoreError::Db(e.into()),
                },
                Err(e) => {
                    if run("ROLLBACK", unlock_sql.as_deref()).is_err() {
                        // The connection is in an unknown state: do not return it to the pool.
                        conn.broken.set(true);
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

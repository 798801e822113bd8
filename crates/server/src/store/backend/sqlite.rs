//! The SQLite backend: one file in the data directory, one writer connection with group
//! commit and a few readers for WAL-concurrent reads.
//!
//! Settings, for every connection ([`open_connection`]): WAL, `synchronous=FULL` (in WAL mode
//! NORMAL can lose the last commits on power loss, and nothing is answered before it is
//! durable — one fsync of the WAL per commit), foreign keys on, and a busy timeout so a second
//! process waits instead of failing.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use rusqlite::{Connection, TransactionBehavior};

use super::sql::Db;
use crate::store::StoreError;

/// The database file in the data directory.
pub const FILE_NAME: &str = "doorstep.sqlite3";

/// Opens a connection with the server's pragmas.
pub fn open_connection(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// The write connection and the state of the shared (group-committed) transaction.
struct Writer {
    conn: Connection,
    in_tx: bool,
    pending: u32,
    epoch: u64,
    failed_epoch: Option<u64>,
}

impl Writer {
    /// Commits the shared transaction; false (after a rollback) if that failed.
    fn commit(&mut self) -> bool {
        let ok = self.conn.execute_batch("COMMIT").is_ok();
        if !ok {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.failed_epoch = Some(self.epoch);
            tracing::error!("commit failed; the batch was rolled back");
        }
        self.in_tx = false;
        self.pending = 0;
        self.epoch += 1;
        ok
    }
}

/// The SQLite database of one server.
pub struct Sqlite {
    writer: Mutex<Writer>,
    committed: Condvar,
    queued: AtomicUsize,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqlite").finish_non_exhaustive()
    }
}

impl Sqlite {
    /// Opens (creating if needed) the file at `path`; `migrate` runs in one immediate
    /// transaction with the schema version (`user_version`) it finds, before any reader opens.
    pub fn open(
        path: &Path,
        migrate: impl FnOnce(&Db<'_>, i64) -> Result<i64, StoreError>,
    ) -> Result<Self, StoreError> {
        let mut conn = open_connection(path).map_err(|e| StoreError::Db(e.into()))?;
        {
            let version: i64 = conn
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .map_err(|e| StoreError::Db(e.into()))?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| StoreError::Db(e.into()))?;
            let new = migrate(&Db::Sqlite(&tx), version)?;
            tx.pragma_update(None, "user_version", new)
                .and_then(|()| tx.commit())
                .map_err(|e| StoreError::Db(e.into()))?;
        }
        let readers = (0..4)
            .map(|_| open_connection(path).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Db(e.into()))?;
        Ok(Self {
            writer: Mutex::new(Writer {
                conn,
                in_tx: false,
                pending: 0,
                epoch: 0,
                failed_epoch: None,
            }),
            committed: Condvar::new(),
            queued: AtomicUsize::new(0),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// Runs `f` in the shared write transaction and returns once its effects are durable.
    ///
    /// Group commit: each operation runs inside its own SAVEPOINT (rolled back alone if it
    /// fails) of one open transaction; the writer that finds nobody queued behind it (or
    /// the 64th in a row) commits for everyone. Callers wait until the commit that covers
    /// their operation, so an answer is only ever given for a durable change — but many
    /// operations share one fsync.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.queued.fetch_sub(1, Ordering::SeqCst);
        if !w.in_tx {
            // Nobody waits on an epoch without an open transaction, so failing here is safe.
            w.conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(|e| StoreError::Db(e.into()))?;
            w.in_tx = true;
        }
        let out = match w.conn.execute_batch("SAVEPOINT op") {
            Err(e) => Err(StoreError::Db(e.into())),
            Ok(()) => {
                let out = f(&Db::Sqlite(&w.conn));
                let end = if out.is_ok() {
                    "RELEASE op"
                } else {
                    "ROLLBACK TO op; RELEASE op"
                };
                match w.conn.execute_batch(end) {
                    Ok(()) => out,
                    Err(e) => Err(StoreError::Db(e.into())),
                }
            }
        };
        let my_epoch = w.epoch;
        w.pending += 1;
        loop {
            if w.epoch != my_epoch {
                return if w.failed_epoch == Some(my_epoch) {
                    Err(StoreError::CommitFailed)
                } else {
                    out
                };
            }
            if self.queued.load(Ordering::SeqCst) == 0 || w.pending >= 64 {
                let ok = w.commit();
                drop(w);
                self.committed.notify_all();
                return if ok {
                    out
                } else {
                    Err(StoreError::CommitFailed)
                };
            }
            // Someone is queued behind us and will commit for us; the timeout only guards
            // against a writer that never arrives.
            w = self
                .committed
                .wait_timeout(w, std::time::Duration::from_millis(20))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Runs `f` on one of the readers.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let conn = self.readers[i].lock().unwrap_or_else(|e| e.into_inner());
        f(&Db::Sqlite(&conn))
    }
}

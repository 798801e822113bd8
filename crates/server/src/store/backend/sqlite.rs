//! The SQLite backend: one file in the data directory, one writer connection with group
//! commit and a few readers for WAL-concurrent reads.
//!
//! Settings, for every connection ([`open_connection`]): WAL, `synchronous=FULL` (in WAL mode
//! NORMAL can lose the last commits on power loss), foreign keys on, and a busy timeout so a
//! second process waits instead of failing.
//!
//! **Group commit, with the fsync outside the writer.** Each operation runs in its own
//! SAVEPOINT of one shared transaction on the writer connection; the operation that finds
//! nobody queued behind it (or the 64th in a row) commits the batch. The writer connection
//! alone runs with `synchronous=NORMAL`: its `COMMIT` writes the batch to the WAL without
//! waiting for the disk, and the committing thread then makes the WAL durable itself
//! (`fdatasync` of the `-wal` file) *after* letting go of the writer — so the next batch's
//! operations run while this batch's fsync is under way, instead of queueing behind it. No
//! caller is answered before the fsync that covers its commit has returned: what an answer
//! promises is as durable as with `synchronous=FULL`. (NORMAL still syncs the WAL header when
//! the WAL is reused after a checkpoint, which OFF would not.)
//!
//! **Checkpoints** (copying the WAL back into the database file, with their two fsyncs) run on
//! a thread of their own with a `synchronous=FULL` connection, never inside a commit: the
//! writer's automatic checkpoint is off, and the checkpoint thread runs a passive one (it
//! waits for nobody and nobody waits for it) a few times a second.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

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
    /// The batch the next operation joins.
    batch: Arc<Batch>,
}

/// One group commit: its operations wait here until it is durable (or failed).
#[derive(Default)]
struct Batch {
    /// `None` while open or committing; then whether it is durable.
    done: Mutex<Option<bool>>,
    finished: Condvar,
}

impl Batch {
    fn finish(&self, durable: bool) {
        *self.done.lock().unwrap_or_else(|e| e.into_inner()) = Some(durable);
        self.finished.notify_all();
    }

    /// Waits until the batch is finished; `None` if `timeout` passed first.
    fn wait(&self, timeout: Duration) -> Option<bool> {
        let done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        let (done, _) = self
            .finished
            .wait_timeout_while(done, timeout, |d| d.is_none())
            .unwrap_or_else(|e| e.into_inner());
        *done
    }
}

impl Writer {
    /// Commits the shared transaction (to the WAL, not yet durable) and opens the next batch;
    /// returns the committed batch and whether `COMMIT` succeeded (after a rollback if not).
    fn commit(&mut self) -> (Arc<Batch>, bool) {
        let ok = self.conn.execute_batch("COMMIT").is_ok();
        if !ok {
            let _ = self.conn.execute_batch("ROLLBACK");
            tracing::error!("commit failed; the batch was rolled back");
        }
        self.in_tx = false;
        self.pending = 0;
        (std::mem::take(&mut self.batch), ok)
    }
}

/// How often the checkpoint thread looks for committed pages to copy back.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// The SQLite database of one server.
pub struct Sqlite {
    writer: Mutex<Writer>,
    /// The WAL file, made durable after each commit ([`Self::write`]).
    wal: std::fs::File,
    queued: AtomicUsize,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Tells the checkpoint thread to stop (when the store is dropped).
    stop_checkpoints: Arc<AtomicBool>,
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        self.stop_checkpoints.store(true, Ordering::Relaxed);
    }
}

/// Runs passive checkpoints on a connection of its own until `stop`; a failed one is logged
/// and tried again at the next round (the WAL only grows meanwhile, nothing is lost).
fn checkpoint_thread(path: &Path, stop: Arc<AtomicBool>) -> Result<(), StoreError> {
    let conn = open_connection(path).map_err(|e| StoreError::Db(e.into()))?;
    std::thread::Builder::new()
        .name("doorstep-checkpoint".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(CHECKPOINT_EVERY);
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "checkpoint failed; trying again shortly");
                }
            }
        })
        .map_err(|e| StoreError::Unusable(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(())
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
        // Checkpoints run on their own thread, not inside the writer's commits, and the
        // writer's commits are made durable by `write` (see the module's comment).
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .and_then(|()| conn.pragma_update(None, "synchronous", "NORMAL"))
            .map_err(|e| StoreError::Db(e.into()))?;
        let mut wal_path = path.as_os_str().to_owned();
        wal_path.push("-wal");
        let wal = std::fs::File::open(&wal_path).map_err(|e| {
            StoreError::Unusable(format!(
                "cannot open {}: {e}",
                Path::new(&wal_path).display()
            ))
        })?;
        let stop_checkpoints = Arc::new(AtomicBool::new(false));
        checkpoint_thread(path, stop_checkpoints.clone())?;
        Ok(Self {
            writer: Mutex::new(Writer {
                conn,
                in_tx: false,
                pending: 0,
                batch: Arc::default(),
            }),
            wal,
            queued: AtomicUsize::new(0),
            readers,
            next_reader: AtomicUsize::new(0),
            stop_checkpoints,
        })
    }

    /// Runs `f` in the shared write transaction and returns once its effects are durable.
    ///
    /// Group commit: each operation runs inside its own SAVEPOINT (rolled back alone if it
    /// fails) of one open transaction; the operation that finds nobody queued behind it (or
    /// the 64th in a row) commits for its batch and then makes the WAL durable outside the
    /// writer lock. Callers wait for their batch only, so an answer is only ever given for a
    /// durable change — and many operations share one fsync.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.queued.fetch_sub(1, Ordering::SeqCst);
        if !w.in_tx {
            // Nobody waits on a batch without an open transaction, so failing here is safe.
            w.conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(|e| StoreError::Db(e.into()))?;
            w.in_tx = true;
        }
        // The savepoint statements are prepared once (the connection's statement cache),
        // not parsed again for every operation.
        let run = |sql: &str| w.conn.prepare_cached(sql).and_then(|mut s| s.execute([]));
        let out = match run("SAVEPOINT op") {
            Err(e) => Err(StoreError::Db(e.into())),
            Ok(_) => {
                let out = f(&Db::Sqlite(&w.conn));
                let end = if out.is_ok() {
                    run("RELEASE op")
                } else {
                    run("ROLLBACK TO op").and_then(|_| run("RELEASE op"))
                };
                match end {
                    Ok(_) => out,
                    Err(e) => Err(StoreError::Db(e.into())),
                }
            }
        };
        w.pending += 1;
        let mine = w.batch.clone();
        if self.queued.load(Ordering::SeqCst) == 0 || w.pending >= 64 {
            return self.commit(w, out);
        }
        drop(w);
        loop {
            // Someone is queued behind us and will commit our batch; the timeout only guards
            // against a writer that never arrives, after which we commit it ourselves.
            match mine.wait(Duration::from_millis(20)) {
                Some(true) => return out,
                Some(false) => return Err(StoreError::CommitFailed),
                None => {
                    let w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
                    if Arc::ptr_eq(&w.batch, &mine) {
                        return self.commit(w, out);
                    }
                }
            }
        }
    }

    /// Commits the writer's batch, lets go of the writer, makes the WAL durable and tells the
    /// batch's callers; answers `out` if all of that succeeded.
    fn commit<T>(
        &self,
        mut w: std::sync::MutexGuard<'_, Writer>,
        out: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let (batch, committed) = w.commit();
        drop(w);
        let durable = committed
            && self.wal.sync_data().map_or_else(
                |e| {
                    tracing::error!(error = %e, "the WAL could not be made durable");
                    false
                },
                |()| true,
            );
        batch.finish(durable);
        if durable {
            out
        } else {
            Err(StoreError::CommitFailed)
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

//! A PostgreSQL connection and its statements: placeholders rewritten, values bound, rows
//! read back as [`Value`]s, each connection driven on the thread that waits for it. The pool
//! and the transactions are [`super::postgres`]'s.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;

use super::value::{DbError, DbResult, Row, Value, to_postgres_placeholders};

/// One pooled connection: the client, the runtime its connection task runs on (only while a
/// statement is waited for, on the waiting thread), and its prepared statements.
pub struct PgConn {
    pub(super) client: tokio_postgres::Client,
    statements: RefCell<HashMap<String, Statement>>,
    /// Set when the connection is in an unknown state: the pool then closes it.
    pub(super) broken: Cell<bool>,
    rt: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for PgConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConn").finish_non_exhaustive()
    }
}

impl PgConn {
    /// A new connection's client, on the runtime its connection task was spawned on.
    pub(super) fn new(client: tokio_postgres::Client, rt: tokio::runtime::Runtime) -> Self {
        Self {
            client,
            statements: RefCell::new(HashMap::new()),
            broken: Cell::new(false),
            rt: Some(rt),
        }
    }

    /// Runs `f` to completion on this thread, driving the connection while it waits.
    pub(super) fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt
            .as_ref()
            .expect("the runtime lives as long as the connection")
            .block_on(f)
    }

    /// The prepared statement for `sql`, prepared once per connection.
    pub(super) async fn prepared(&self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(st) = self.statements.borrow().get(sql) {
            return Ok(st.clone());
        }
        let st = self.client.prepare(sql).await?;
        self.statements
            .borrow_mut()
            .insert(sql.to_string(), st.clone());
        Ok(st)
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        // A connection may be dropped inside the server's runtime (with the store), where a
        // runtime cannot be shut down by blocking.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// A pooled connection, in a transaction or not.
pub struct PgTx<'a> {
    pub(super) conn: &'a PgConn,
}

impl std::fmt::Debug for PgTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgTx")
    }
}

impl PgTx<'_> {
    fn params(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
        values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
    }

    pub(super) fn query(&self, sql: &str, values: &[Value]) -> DbResult<Vec<Row>> {
        let sql = to_postgres_placeholders(sql);
        let out = self.conn.block_on(async {
            let st = self.conn.prepared(&sql).await?;
            let rows = self.conn.client.query(&st, &Self::params(values)).await?;
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| r.try_get::<_, Value>(i))
                        .collect::<Result<Vec<_>, _>>()
                        .map(Row)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(DbError::from)
        });
        log_failure(&sql, out)
    }

    pub(super) fn execute(&self, sql: &str, values: &[Value]) -> DbResult<usize> {
        let sql = to_postgres_placeholders(sql);
        let out = self.conn.block_on(async {
            let st = self.conn.prepared(&sql).await?;
            let n = self.conn.client.execute(&st, &Self::params(values)).await?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        });
        log_failure(&sql, out)
    }

    pub(super) fn batch(&self, sql: &str) -> DbResult<()> {
        Ok(self.conn.block_on(self.conn.client.batch_execute(sql))?)
    }
}

/// Logs the statement that failed (never its parameters, which may hold hashes), except for
/// the conflicts that are retried.
fn log_failure<T>(sql: &str, out: DbResult<T>) -> DbResult<T> {
    if let Err(e) = &out
        && !e.is_retryable()
    {
        tracing::warn!(error = %e, statement = sql, "a statement failed");
    }
    out
}

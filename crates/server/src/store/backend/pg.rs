//! A PostgreSQL transaction's statements: placeholders rewritten, values bound, rows read
//! back as [`Value`]s. The pool and the transactions themselves are [`super::postgres`]'s.

use tokio_postgres::types::ToSql;

use super::postgres::PgConn;
use super::value::{DbError, DbResult, Row, Value, to_postgres_placeholders};

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

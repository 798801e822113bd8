//! The one SQL boundary under the store: a connection (or transaction) of either backend,
//! with the few calls the domain operations use — one row, many rows, execute.
//!
//! The domain operations (the other modules of `store`) are written once, in the SQL that
//! SQLite and PostgreSQL share, with `?N` placeholders; on PostgreSQL they become `$N`. Values
//! cross the boundary as [`Value`] (integer, real, text, blob, null: SQLite's storage classes),
//! so a PostgreSQL schema keeps every integer — flags too — as `BIGINT` and every blob as
//! `BYTEA`. Each guarantee is therefore written once and holds on both backends: the attempt
//! counter raised by one `UPDATE … RETURNING` before the compare, an event id stored once with
//! its answer, a batch in one transaction.
//!
//! SQLite runs each operation inside the group-committed transaction of [`super::sqlite`];
//! PostgreSQL runs it in a `SERIALIZABLE` transaction of [`super::postgres`] and runs it again
//! when the database reports a serialization failure, so operations on many nodes behave as if
//! they ran one after another — as they do on SQLite's single writer.

use std::fmt;

use super::pg::PgTx;
use super::value::from_sqlite;
pub(crate) use super::value::params;
pub use super::value::{
    ColIndex, DbError, DbResult, FromValue, OptionalExt, Params, Row, ToValue, Value,
    to_postgres_placeholders,
};

/// A connection inside a transaction, of either backend.
pub enum Db<'a> {
    /// SQLite (inside the group commit's savepoint, or a reader).
    Sqlite(&'a rusqlite::Connection),
    /// PostgreSQL (inside a transaction).
    Postgres(PgTx<'a>),
}

impl fmt::Debug for Db<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Db::Sqlite(_) => "Db::Sqlite",
            Db::Postgres(_) => "Db::Postgres",
        })
    }
}

impl<'a> Db<'a> {
    /// Whether this is PostgreSQL (for the rare statement the two dialects write differently).
    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// All rows of a query.
    pub fn query<P: Params>(&self, sql: &str, params: P) -> DbResult<Vec<Row>> {
        let values = params.values();
        match self {
            Db::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let n = st.column_count();
                let mut rows = st.query(rusqlite::params_from_iter(values.iter()))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let mut row = Vec::with_capacity(n);
                    for i in 0..n {
                        row.push(from_sqlite(r.get_ref(i)?));
                    }
                    out.push(Row(row));
                }
                Ok(out)
            }
            Db::Postgres(tx) => tx.query(sql, &values),
        }
    }

    /// Runs a statement; the number of rows it changed.
    pub fn exec<P: Params>(&self, sql: &str, params: P) -> DbResult<usize> {
        let values = params.values();
        match self {
            Db::Sqlite(c) => Ok(c
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(values.iter()))?),
            Db::Postgres(tx) => tx.execute(sql, &values),
        }
    }

    /// The first row, mapped by `f`; [`DbError::NoRows`] without one.
    pub fn qrow<T, P: Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&Row) -> DbResult<T>,
    ) -> DbResult<T> {
        let rows = self.query(sql, params)?;
        rows.first().ok_or(DbError::NoRows).and_then(f)
    }

    /// Every row, mapped by `f`.
    pub fn query_map<T, P: Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnMut(&Row) -> DbResult<T>,
    ) -> DbResult<Vec<T>> {
        self.query(sql, params)?.iter().map(f).collect()
    }

    /// A statement to run with [`Stmt::query_map`] (the shape of rusqlite's statements).
    pub fn prepare_cached<'s>(&'s self, sql: &'s str) -> DbResult<Stmt<'s, 'a>> {
        Ok(Stmt { db: self, sql })
    }

    /// Runs statements without parameters (schema changes).
    pub fn execute_batch(&self, sql: &str) -> DbResult<()> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Postgres(tx) => tx.batch(sql),
        }
    }
}

/// A query and the connection it runs on.
#[derive(Debug)]
pub struct Stmt<'s, 'a> {
    db: &'s Db<'a>,
    sql: &'s str,
}

impl Stmt<'_, '_> {
    /// Every row, mapped by `f`, as an iterator of results.
    pub fn query_map<T, P: Params>(
        &mut self,
        params: P,
        f: impl FnMut(&Row) -> DbResult<T>,
    ) -> DbResult<std::vec::IntoIter<DbResult<T>>> {
        Ok(self
            .db
            .query(self.sql, params)?
            .iter()
            .map(f)
            .collect::<Vec<_>>()
            .into_iter())
    }
}

/// `qrow` as a function (the domain code's shorthand).
pub fn qrow<T, P: Params>(
    c: &Db<'_>,
    sql: &str,
    params: P,
    f: impl FnOnce(&Row) -> DbResult<T>,
) -> DbResult<T> {
    c.qrow(sql, params, f)
}

/// `exec` as a function.
pub fn exec<P: Params>(c: &Db<'_>, sql: &str, params: P) -> DbResult<usize> {
    c.exec(sql, params)
}

/// The placeholders of an `IN (…)` list of `n` values numbered from `first`:
/// `?first, ?first+1, …` (both backends number them so).
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

//! The one SQL boundary ([`sql::Db`]) and its two backends: the embedded SQLite file
//! ([`sqlite`]) and PostgreSQL ([`postgres`]). Everything above speaks `Db` only.
//!
//! Inside, imports point down: `value` (values, rows, errors) ← `pg` (a PostgreSQL
//! transaction's statements) ← `sql` (`Db`, either backend) ← `sqlite`, `postgres` (opening,
//! transactions, group commit, retries).

pub mod pg;
pub mod postgres;
pub mod sql;
pub mod sqlite;
pub mod value;

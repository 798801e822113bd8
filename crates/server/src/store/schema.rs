//! The schema: the migrations of both backends (same numbering), embedded at build time and
//! applied in order in one transaction, and the data changes SQL cannot make.

use super::backend::sql;
use super::backend::sql::{Db, DbError, params};
use super::chain::chain_mac;
use super::error::StoreError;
use crate::sys::secrets::Secrets;

/// A schema migration: its name and its SQL for each backend (same numbering on both).
pub(super) struct Migration {
    pub(super) name: &'static str,
    pub(super) sqlite: &'static str,
    pub(super) postgres: &'static str,
}

macro_rules! migration {
    ($name:literal) => {
        Migration {
            name: $name,
            sqlite: include_str!(concat!("../../../../migrations/server/", $name, ".sql")),
            postgres: include_str!(concat!(
                "../../../../migrations/server-postgres/",
                $name,
                ".sql"
            )),
        }
    };
}

/// Migrations, embedded at build time, applied in order. Append only.
pub(super) const MIGRATIONS: &[Migration] = &[
    migration!("20261125000000_initial"),
    migration!("20261201000000_hardening"),
    migration!("20261201000100_outbox_limits"),
    migration!("20261201000200_limits"),
    migration!("20261201000300_nodes"),
    migration!("20261201000400_releases"),
    migration!("20261202000000_door_steps"),
    migration!("20261207000000_evidence"),
    migration!("20261208000000_accounts"),
    migration!("20261208000100_event_parcels"),
    migration!("20261208000200_phone_backlog"),
    migration!("20261208000300_today"),
    migration!("20261209000000_numbers"),
    migration!("20261209000100_proof_indexes"),
    migration!("20261210000000_customer_choices"),
];

/// The keyed form of an event's chain hash, as stored (see [`chain_mac`]).
pub(super) const HARDENING_MIGRATION: usize = 1;

/// Applies pending migrations to a database at schema `version` (in the caller's one
/// transaction); refuses a database made by a newer server. Data changes that SQL cannot make
/// (keyed hashes) run in the same transaction. Returns the new version.
pub(super) fn migrate(db: &Db<'_>, version: i64, secrets: &Secrets) -> Result<i64, StoreError> {
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::DatabaseTooNew {
            found: version,
            supported: known,
        });
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let sql = if db.is_postgres() {
            m.postgres
        } else {
            m.sqlite
        };
        let failed = |e: DbError| StoreError::Migration(format!("{}: {e}", m.name));
        db.execute_batch(sql).map_err(failed)?;
        if i == HARDENING_MIGRATION {
            rekey_chain_hashes(db, secrets).map_err(failed)?;
        }
    }
    Ok(known)
}

/// Replaces the plain chain hashes of stored events and devices by keyed ones, and drops the
/// signature and previous hash from stored event bodies: with an offline code inside the
/// signed bytes, either lets a copy of the database recover the code by trying them all.
pub(super) fn rekey_chain_hashes(tx: &Db<'_>, secrets: &Secrets) -> sql::DbResult<()> {
    let devices: Vec<(String, String)> = tx.query_map(
        "SELECT id, last_hash FROM devices WHERE chain_mac IS NULL",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    for (id, hash) in devices {
        tx.exec(
            "UPDATE devices SET chain_mac = ?2, last_hash = '' WHERE id = ?1",
            params![id, chain_mac(secrets, &hash)],
        )?;
    }
    let events: Vec<(String, String, String)> = tx.query_map(
        "SELECT id, body_hash, body FROM events WHERE body_mac IS NULL",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    for (id, hash, body) in events {
        let body = serde_json::from_str::<serde_json::Value>(&body)
            .map(|mut v| {
                if let Some(o) = v.as_object_mut() {
                    o.remove("signature");
                    o.remove("prev_hash");
                }
                v.to_string()
            })
            .unwrap_or_default();
        tx.exec(
            "UPDATE events SET body_mac = ?2, body_hash = '', body = ?3 WHERE id = ?1",
            params![id, chain_mac(secrets, &hash), body],
        )?;
    }
    Ok(())
}

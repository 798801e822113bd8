//! What the console's benches seed first, straight in SQL: a shipper (`shipper`) and couriers
//! `c0`, `c1`, … ("Courier 000", …) with a phone each (`d0`, `d1`, …).

use doorstep_server::store::StoreError;
use doorstep_server::store::backend::sql::Db;

/// A blob literal of hex `hex` on `db`'s backend.
pub fn blob(db: &Db<'_>, hex: &str) -> String {
    if db.is_postgres() {
        format!("'\\x{hex}'::bytea")
    } else {
        format!("X'{hex}'")
    }
}

/// The shipper and `couriers` couriers with a phone each, the phones last synced at
/// `last_sync_s` (Unix seconds; `None`: never).
pub fn seed_fleet(
    db: &Db<'_>,
    couriers: usize,
    last_sync_s: Option<i64>,
) -> Result<(), StoreError> {
    db.execute_batch(&format!(
        "INSERT INTO shippers (id, name, api_key_hash, created_at) VALUES ('shipper', 'Bench Shop', {}, 0)",
        blob(db, "00")
    ))?;
    let synced = last_sync_s.map_or_else(|| "NULL".to_string(), |s| s.to_string());
    for c in 0..couriers {
        db.execute_batch(&format!(
            "INSERT INTO couriers (id, name, created_at) VALUES ('c{c}', 'Courier {c:03}', 0); \
             INSERT INTO devices (id, courier_id, token_hash, public_key, app_version, platform, enrolled_at, last_hash, last_sync_at) \
             VALUES ('d{c}', 'c{c}', {}, '', '0.1.0', 'android', 0, '', {synced})",
            blob(db, &format!("{c:04x}"))
        ))?;
    }
    Ok(())
}

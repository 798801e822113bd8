//! Shippers, couriers, enrollment and devices.

use doorstep_protocol::wire::{DeviceView, EnrollRequest, GENESIS_HASH, Platform};
use doorstep_protocol::{CourierId, DeviceId};

use super::backend::sql::{OptionalExt, exec, params, qrow};
use super::chain::chain_mac;
use super::error::StoreError;
use super::handle::Store;
use super::models::DeviceAuth;
use super::rows::{
    ENROLL_ALPHABET, bad_column, enum_str, new_id, normalise_enrollment, parse_enum,
};
use crate::sys::secrets::sha256;

impl Store {
    /// Creates a shipper; returns (id, api key, webhook secret).
    pub fn create_shipper(
        &self,
        name: &str,
        webhook_url: Option<&str>,
        now: i64,
    ) -> Result<(doorstep_protocol::ids::ShipperId, String, String), StoreError> {
        let id = doorstep_protocol::ids::ShipperId::from_uuid(new_id(&self.settings.random, now));
        let key = format!("dsk_{}", hex::encode(self.settings.random.bytes::<32>()));
        let secret = hex::encode(self.settings.random.bytes::<32>());
        self.write(|tx| {
            exec(tx,
                "INSERT INTO shippers (id, name, api_key_hash, webhook_url, webhook_secret, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id.to_string(), name, sha256(key.as_bytes()), webhook_url, secret, now],
            )?;
            Ok(())
        })?;
        Ok((id, key, secret))
    }

    /// The shipper holding this API key.
    pub fn shipper_by_key(&self, key: &str) -> Result<Option<String>, StoreError> {
        let hash = sha256(key.as_bytes());
        self.read(|c| {
            Ok(qrow(
                c,
                "SELECT id FROM shippers WHERE api_key_hash = ?1",
                [&hash],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    /// Creates a courier.
    pub fn create_courier(&self, name: &str, now: i64) -> Result<CourierId, StoreError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(StoreError::Validation(
                "a courier needs a name of 1 to 100 characters".into(),
            ));
        }
        let id = CourierId::from_uuid(new_id(&self.settings.random, now));
        self.write(|tx| {
            let n = exec(tx,
                "INSERT INTO couriers (id, name, created_at) VALUES (?1, ?2, ?3) ON CONFLICT(name) DO NOTHING",
                params![id.to_string(), name, now],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(format!("a courier named {name:?} exists")));
            }
            Ok(id)
        })
    }

    /// Finds a courier by name.
    pub fn courier_by_name(&self, name: &str) -> Result<Option<CourierId>, StoreError> {
        self.read(|c| {
            let id: Option<String> = qrow(
                c,
                "SELECT id FROM couriers WHERE name = ?1",
                [name.trim()],
                |r| r.get(0),
            )
            .optional()?;
            Ok(id.and_then(|s| s.parse().ok()))
        })
    }

    /// Makes a single-use enrollment code for `courier`, valid `ttl_ms`. Returns (code, expires_ms).
    pub fn create_enrollment(
        &self,
        courier: CourierId,
        ttl_ms: i64,
        now: i64,
    ) -> Result<(String, i64), StoreError> {
        let mut raw = String::new();
        let bytes = self.settings.random.bytes::<10>();
        for b in bytes {
            raw.push(ENROLL_ALPHABET[usize::from(b) % ENROLL_ALPHABET.len()] as char);
        }
        let code = format!("{}-{}-{}", &raw[0..4], &raw[4..8], &raw[8..10]);
        let hash = self
            .secrets
            .mac(&[b"enroll", normalise_enrollment(&code).as_bytes()]);
        let expires = now + ttl_ms;
        self.write(|tx| {
            let known: Option<i64> = qrow(tx, "SELECT 1 FROM couriers WHERE id = ?1", [courier.to_string()], |r| r.get(0))
                .optional()?;
            if known.is_none() {
                return Err(StoreError::NotFound("courier"));
            }
            exec(tx,
                "INSERT INTO enrollments (code_hash, courier_id, expires_at, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![hash, courier.to_string(), expires, now],
            )?;
            Ok(())
        })?;
        Ok((code, expires))
    }

    /// Exchanges an enrollment code for a device; returns (device, token, courier, courier name).
    pub fn enroll(
        &self,
        req: &EnrollRequest,
        now: i64,
    ) -> Result<(DeviceId, String, CourierId, String), StoreError> {
        if doorstep_protocol::token::decode_hex::<32>(&req.device_public_key)
            .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
            .is_none()
        {
            return Err(StoreError::Validation(
                "device_public_key must be an Ed25519 public key as 64 hex digits".into(),
            ));
        }
        let hash = self.secrets.mac(&[
            b"enroll",
            normalise_enrollment(&req.enrollment_code).as_bytes(),
        ]);
        let device = DeviceId::from_uuid(new_id(&self.settings.random, now));
        let token = format!("dsd_{}", hex::encode(self.settings.random.bytes::<32>()));
        self.write(|tx| {
            let courier: Option<String> = qrow(tx,
                    "UPDATE enrollments SET used_at = ?2 WHERE code_hash = ?1 AND used_at IS NULL \
                     AND expires_at > ?2 RETURNING courier_id",
                    params![hash, now],
                    |r| r.get(0),
                )
                .optional()?;
            let courier = courier.ok_or(StoreError::EnrollmentInvalid)?;
            let name: String =
                qrow(tx, "SELECT name FROM couriers WHERE id = ?1", [&courier], |r| r.get(0))?;
            exec(tx,
                "INSERT INTO devices (id, courier_id, token_hash, public_key, app_version, platform, \
                 enrolled_at, last_hash, chain_mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '', ?8)",
                params![
                    device.to_string(),
                    courier,
                    sha256(token.as_bytes()),
                    req.device_public_key.to_ascii_lowercase(),
                    req.app_version,
                    enum_str(&req.platform),
                    now,
                    chain_mac(&self.secrets, GENESIS_HASH)
                ],
            )?;
            Ok((courier.parse().map_err(|_| bad_column(0))?, name))
        })
        .map(|(c, n)| (device, token, c, n))
    }

    /// The device holding this token, if any.
    pub fn device_by_token(&self, token: &str) -> Result<Option<DeviceAuth>, StoreError> {
        let hash = sha256(token.as_bytes());
        self.read(|c| {
            let row = qrow(
                c,
                "SELECT id, courier_id, revoked_at, app_version, last_seen_at, unsent_records, \
                 oldest_unsent_at FROM devices WHERE token_hash = ?1",
                [&hash],
                |r| {
                    Ok(DeviceAuth {
                        device_id: r.get::<_, String>(0)?.parse().map_err(|_| bad_column(0))?,
                        courier_id: r.get::<_, String>(1)?.parse().map_err(|_| bad_column(0))?,
                        revoked: r.get::<_, Option<i64>>(2)?.is_some(),
                        app_version: r.get(3)?,
                        last_seen_at: r.get(4)?,
                        backlog: match r.get::<_, Option<i64>>(5)? {
                            Some(n) => Some((n, r.get(6)?)),
                            None => None,
                        },
                    })
                },
            )
            .optional()?;
            Ok(row)
        })
    }

    /// Revokes a device; its token stops working at once.
    pub fn revoke_device(&self, device: DeviceId, now: i64) -> Result<(), StoreError> {
        self.revoke_device_by(device, "admin API (admin token)", now)
    }

    /// Revokes a device on behalf of `actor` (written to the audit log).
    pub fn revoke_device_by(
        &self,
        device: DeviceId,
        actor: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let n = exec(
                tx,
                "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                params![device.to_string(), now],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound("device"));
            }
            self.audit(tx, now, actor, "device_revoked", &device.to_string(), "")
        })
    }

    /// All devices.
    pub fn devices(&self) -> Result<Vec<DeviceView>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, courier_id, app_version, platform, last_seen_at, revoked_at, unsent_records, \
                 oldest_unsent_at, last_sync_at FROM devices ORDER BY enrolled_at, id",
            )?;
            let rows = st.query_map(params![], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    (
                        r.get::<_, Option<i64>>(6)?,
                        r.get::<_, Option<i64>>(7)?,
                        r.get::<_, Option<i64>>(8)?,
                    ),
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, courier, version, platform, seen, revoked, (unsent, oldest, synced)) =
                    row?;
                let (Ok(device_id), Ok(courier_id), Some(platform)) =
                    (id.parse(), courier.parse(), parse_enum::<Platform>(&platform))
                else {
                    continue;
                };
                out.push(DeviceView {
                    device_id,
                    courier_id,
                    app_version: version,
                    platform,
                    last_seen_at: seen.map(|s| s / 1000),
                    revoked: revoked.is_some(),
                    unsent_records: unsent.and_then(|n| u64::try_from(n).ok()),
                    oldest_unsent_at: oldest.map(|t| t.div_euclid(1000)),
                    last_sync_at: synced.map(|t| t.div_euclid(1000)),
                });
            }
            Ok(out)
        })
    }
}

//! The fleet console's accounts: users and their roles, sign-in sessions, and the one-time
//! setup link for the first owner. Passwords arrive here already hashed (Argon2id is slow on
//! purpose, so it runs before the transaction, not inside it); tokens are stored as keyed
//! hashes only.

use crate::domain::accounts::{Role, SESSION_IDLE_MS, SESSION_MAX_MS, SETUP_LINK_MS};

use super::backend::sql::{Db, OptionalExt, exec, params, qrow};
use super::error::StoreError;
use super::handle::Store;
use super::rows::new_id;

/// A console user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id (UUIDv7).
    pub id: String,
    /// Name (lower case), as typed at sign-in and shown in the audit log.
    pub name: String,
    /// Role.
    pub role: Role,
    /// When the user was added (Unix ms).
    pub created_at: i64,
    /// When the user was disabled, if they are.
    pub disabled_at: Option<i64>,
}

impl User {
    /// Who did it, for the audit log: `alice (dispatcher)`.
    pub fn actor(&self) -> String {
        format!("{} ({})", self.name, self.role)
    }
}

const USER_COLUMNS: &str = "id, name, role, created_at, disabled_at";

fn user_from(r: &super::backend::sql::Row) -> super::backend::sql::DbResult<User> {
    let role: String = r.get(2)?;
    Ok(User {
        id: r.get(0)?,
        name: r.get(1)?,
        // A role this server does not know (written by a newer one) reads as the least.
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        created_at: r.get(3)?,
        disabled_at: r.get(4)?,
    })
}

fn user_named(tx: &Db<'_>, name: &str) -> Result<User, StoreError> {
    qrow(
        tx,
        &format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1"),
        [name],
        user_from,
    )
    .optional()?
    .ok_or(StoreError::NotFound("user"))
}

/// Refuses a change that would leave no enabled owner (nobody could manage the accounts).
fn keeps_an_owner(tx: &Db<'_>, changed: &User) -> Result<(), StoreError> {
    if changed.role != Role::Owner || changed.disabled_at.is_some() {
        return Ok(());
    }
    let others: i64 = qrow(
        tx,
        "SELECT COUNT(*) FROM users WHERE role = 'owner' AND disabled_at IS NULL AND id <> ?1",
        [&changed.id],
        |r| r.get(0),
    )?;
    if others == 0 {
        return Err(StoreError::Conflict(format!(
            "{} is the only owner; add another owner first",
            changed.name
        )));
    }
    Ok(())
}

impl Store {
    /// The keyed hash a session or setup token is stored under.
    fn token_key(&self, what: &[u8], token: &str) -> Vec<u8> {
        self.secrets
            .mac(&[b"doorstep console", what, token.as_bytes()])
    }

    /// How many users there are (disabled ones too).
    pub fn user_count(&self) -> Result<i64, StoreError> {
        self.read(|db| {
            Ok(qrow(db, "SELECT COUNT(*) FROM users", params![], |r| {
                r.get(0)
            })?)
        })
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        self.read(|db| {
            Ok(db.query_map(
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"),
                params![],
                user_from,
            )?)
        })
    }

    /// Adds a user with an Argon2id `password_hash`; refuses a name that is taken.
    pub fn add_user(
        &self,
        name: &str,
        role: Role,
        password_hash: &str,
        actor: &str,
        now: i64,
    ) -> Result<User, StoreError> {
        self.write(|tx| self.insert_user(tx, name, role, password_hash, actor, now))
    }

    fn insert_user(
        &self,
        tx: &Db<'_>,
        name: &str,
        role: Role,
        password_hash: &str,
        actor: &str,
        now: i64,
    ) -> Result<User, StoreError> {
        if user_named(tx, name).is_ok() {
            return Err(StoreError::Conflict(format!(
                "there is already a user named {name}; choose another name"
            )));
        }
        let user = User {
            id: new_id(&self.settings.random, now).to_string(),
            name: name.to_string(),
            role,
            created_at: now,
            disabled_at: None,
        };
        exec(
            tx,
            "INSERT INTO users (id, name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![user.id, user.name, role.as_str(), password_hash, now],
        )?;
        self.audit(tx, now, actor, "user_added", name, role.as_str())?;
        Ok(user)
    }

    /// A user by name with their password hash, for signing in (`None`: no such user).
    pub fn user_for_sign_in(&self, name: &str) -> Result<Option<(User, String)>, StoreError> {
        self.read(|db| {
            Ok(qrow(
                db,
                &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE name = ?1"),
                [name],
                |r| Ok((user_from(r)?, r.get::<_, String>(5)?)),
            )
            .optional()?)
        })
    }

    /// Disables (or enables again) a user; disabling ends their sessions at once. The last
    /// enabled owner cannot be disabled.
    pub fn set_user_disabled(
        &self,
        name: &str,
        disabled: bool,
        actor: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let user = user_named(tx, name)?;
            if disabled {
                keeps_an_owner(tx, &user)?;
                exec(
                    tx,
                    "UPDATE users SET disabled_at = ?2 WHERE id = ?1 AND disabled_at IS NULL",
                    params![user.id, now],
                )?;
                exec(tx, "DELETE FROM sessions WHERE user_id = ?1", [&user.id])?;
            } else {
                exec(
                    tx,
                    "UPDATE users SET disabled_at = NULL WHERE id = ?1",
                    [&user.id],
                )?;
            }
            let what = if disabled {
                "user_disabled"
            } else {
                "user_enabled"
            };
            self.audit(tx, now, actor, what, name, "")
        })
    }

    /// Gives a user a new password (already hashed) and ends their sessions.
    pub fn set_password(
        &self,
        name: &str,
        password_hash: &str,
        actor: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let user = user_named(tx, name)?;
            exec(
                tx,
                "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                params![user.id, password_hash],
            )?;
            exec(tx, "DELETE FROM sessions WHERE user_id = ?1", [&user.id])?;
            self.audit(tx, now, actor, "password_reset", name, "")
        })
    }

    /// Starts a session for `user` under the cookie's `token`; drops the user's expired ones.
    pub fn start_session(&self, user: &User, token: &str, now: i64) -> Result<(), StoreError> {
        let key = self.token_key(b"session", token);
        self.write(|tx| {
            exec(
                tx,
                "DELETE FROM sessions WHERE user_id = ?1 AND (created_at <= ?2 OR last_seen_at <= ?3)",
                params![user.id, now - SESSION_MAX_MS, now - SESSION_IDLE_MS],
            )?;
            exec(
                tx,
                "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?3)",
                params![key, user.id, now],
            )?;
            self.audit(tx, now, &user.actor(), "signed_in", &user.name, "")
        })
    }

    /// The user signed in with the cookie's `token`, if the session is alive (not idle for
    /// [`SESSION_IDLE_MS`], not older than [`SESSION_MAX_MS`], the user not disabled); the
    /// session's last use is moved on (at most once a minute, so reading pages is not a write
    /// each).
    pub fn session_user(&self, token: &str, now: i64) -> Result<Option<User>, StoreError> {
        let key = self.token_key(b"session", token);
        let found = self.read(|db| {
            Ok(qrow(
                db,
                "SELECT u.id, u.name, u.role, u.created_at, u.disabled_at, s.created_at, s.last_seen_at \
                 FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1",
                params![key],
                |r| Ok((user_from(r)?, r.get::<_, i64>(5)?, r.get::<_, i64>(6)?)),
            )
            .optional()?)
        })?;
        let Some((user, created, seen)) = found else {
            return Ok(None);
        };
        if user.disabled_at.is_some()
            || now - created >= SESSION_MAX_MS
            || now - seen >= SESSION_IDLE_MS
        {
            self.end_session(token)?;
            return Ok(None);
        }
        if now - seen >= 60_000 {
            self.write(|tx| {
                exec(
                    tx,
                    "UPDATE sessions SET last_seen_at = ?2 WHERE token_hash = ?1",
                    params![key, now],
                )?;
                Ok(())
            })?;
        }
        Ok(Some(user))
    }

    /// Ends the session of the cookie's `token` (sign-out); nothing if there is none.
    pub fn end_session(&self, token: &str) -> Result<(), StoreError> {
        let key = self.token_key(b"session", token);
        self.write(|tx| {
            exec(
                tx,
                "DELETE FROM sessions WHERE token_hash = ?1",
                params![key],
            )?;
            Ok(())
        })
    }

    /// Stores a one-time setup `token` for the first owner, valid [`SETUP_LINK_MS`].
    pub fn create_setup_link(&self, token: &str, now: i64) -> Result<(), StoreError> {
        let key = self.token_key(b"setup", token);
        self.write(|tx| {
            exec(
                tx,
                "INSERT INTO setup_links (token_hash, created_at) VALUES (?1, ?2)",
                params![key, now],
            )?;
            Ok(())
        })
    }

    /// Whether a setup `token` can still make the first owner.
    pub fn setup_link_valid(&self, token: &str, now: i64) -> Result<bool, StoreError> {
        let key = self.token_key(b"setup", token);
        self.read(|db| Self::setup_link_open(db, &key, now))
    }

    fn setup_link_open(db: &Db<'_>, key: &[u8], now: i64) -> Result<bool, StoreError> {
        let created: Option<i64> = qrow(
            db,
            "SELECT created_at FROM setup_links WHERE token_hash = ?1 AND used_at IS NULL",
            params![key],
            |r| r.get(0),
        )
        .optional()?;
        let users: i64 = qrow(db, "SELECT COUNT(*) FROM users", params![], |r| r.get(0))?;
        Ok(users == 0 && created.is_some_and(|c| now - c < SETUP_LINK_MS))
    }

    /// Makes the first owner with a setup `token`, once: the link is used up, and refused
    /// when it is unknown, expired or there is a user already.
    pub fn first_owner(
        &self,
        token: &str,
        name: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<User, StoreError> {
        let key = self.token_key(b"setup", token);
        self.write(|tx| {
            if !Self::setup_link_open(tx, &key, now)? {
                return Err(StoreError::Forbidden(
                    "this setup link is used up or expired, or the console has an owner \
                     already; sign in, or make an owner with `doorstep-server user add`",
                ));
            }
            exec(
                tx,
                "UPDATE setup_links SET used_at = ?2 WHERE token_hash = ?1",
                params![key, now],
            )?;
            self.insert_user(
                tx,
                name,
                Role::Owner,
                password_hash,
                &format!("{name} (setup link)"),
                now,
            )
        })
    }
}

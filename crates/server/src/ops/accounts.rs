//! The console's accounts from the command line and the pages alike: a new password's hash
//! (checked, salted, Argon2id), the `user` commands, and the first owner's setup link.

use crate::config::ServerConfig;
use crate::domain::accounts::{self as rules, Role};
use crate::error::ServerError;
use crate::ops::open_store;
use crate::store::{Store, StoreError, User};

/// The hash of a new password, after its rules ([`rules::check_new_password`]), with a fresh
/// salt from the server's randomness. Slow on purpose (tens of milliseconds): call it on a
/// blocking thread.
pub fn new_password_hash(
    password: &str,
    random: &doorstep_inputs::Randomness,
) -> Result<String, StoreError> {
    rules::check_new_password(password).map_err(StoreError::Validation)?;
    rules::hash_password(password, &random.bytes::<16>())
        .map_err(|e| StoreError::Unusable(format!("cannot hash the password: {e}")))
}

/// A fresh random token (256 bits, hex) for a session or a setup link.
pub fn new_token(random: &doorstep_inputs::Randomness) -> String {
    hex::encode(random.bytes::<32>())
}

/// `user add`: adds a user; returns them.
pub fn add_user(
    config: &ServerConfig,
    name: &str,
    role: Role,
    password: &str,
) -> Result<User, ServerError> {
    let name = rules::user_name(name).map_err(StoreError::Validation)?;
    let store = open_store(config)?;
    let hash = new_password_hash(password, &config.random)?;
    Ok(store.add_user(&name, role, &hash, "command line", config.clock.now_ms())?)
}

/// `user list`.
pub fn list_users(config: &ServerConfig) -> Result<Vec<User>, ServerError> {
    Ok(open_store(config)?.users()?)
}

/// `user disable` / `user enable`.
pub fn set_disabled(config: &ServerConfig, name: &str, disabled: bool) -> Result<(), ServerError> {
    let name = rules::user_name(name).map_err(StoreError::Validation)?;
    let store = open_store(config)?;
    Ok(store.set_user_disabled(&name, disabled, "command line", config.clock.now_ms())?)
}

/// `user reset-password`: a new password; the user's sessions end.
pub fn reset_password(
    config: &ServerConfig,
    name: &str,
    password: &str,
) -> Result<(), ServerError> {
    let name = rules::user_name(name).map_err(StoreError::Validation)?;
    let store = open_store(config)?;
    let hash = new_password_hash(password, &config.random)?;
    Ok(store.set_password(&name, &hash, "command line", config.clock.now_ms())?)
}

/// When the console has no user yet: a one-time link that makes the first owner (valid a
/// day), for `serve` to print; `None` when there is a user.
pub fn setup_link(store: &Store, config: &ServerConfig) -> Result<Option<String>, ServerError> {
    if store.user_count()? > 0 {
        return Ok(None);
    }
    let token = new_token(&config.random);
    store.create_setup_link(&token, config.clock.now_ms())?;
    Ok(Some(format!(
        "{}/fleet/setup/{token}",
        config.public_url.trim_end_matches('/')
    )))
}

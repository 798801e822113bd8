//! The state every handler shares: the store, the configuration, the outbox's wake-up and the
//! running limiters; [`db`], which runs a store operation off the async threads for a
//! handler, and [`demo_only`].

use std::sync::Arc;

use axum::http::StatusCode;
use doorstep_protocol::wire::ErrorCode;

use crate::config::{Mode, ServerConfig};
use crate::error::ServerError;
use crate::http::error::ApiError;
use crate::http::middleware::limiters;
use crate::notify::Outbox;
use crate::ops::open_store;
use crate::store::{Store, StoreError};

/// Shared state of the running server.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<Store>,
    /// The configuration.
    pub config: Arc<ServerConfig>,
    /// Wakes the outbox worker.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Rate limiters, per address and per device, and the in-flight request limit.
    pub limiters: Arc<limiters::Limiters>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// Opens the data directory (secrets, database) and builds the state.
    pub fn open(config: ServerConfig) -> Result<Self, ServerError> {
        if config.mode == Mode::Production && config.smtp.is_none() && config.sms.is_none() {
            tracing::warn!(
                "production mode without SMTP or SMS: customer messages will wait in the outbox"
            );
        }
        if let Some(tiles) = &config.map_tiles {
            crate::sys::map_tiles::check(tiles).map_err(ServerError::Config)?;
        }
        let store = open_store(&config)?;
        let limiters = limiters::Limiters::new(&config);
        Ok(Self {
            store: Arc::new(store),
            config: Arc::new(config),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            limiters: Arc::new(limiters),
        })
    }

    /// What the outbox worker needs of the state.
    pub(crate) fn outbox(&self) -> Outbox {
        Outbox {
            store: self.store.clone(),
            config: self.config.clone(),
            wake: self.outbox_wake.clone(),
        }
    }

    /// Now, Unix milliseconds.
    pub fn now(&self) -> i64 {
        self.config.clock.now_ms()
    }
}

/// Runs a store operation on a blocking thread ([`Store::run_blocking`]) and maps its error.
pub async fn db<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    state.store.run_blocking(f).await.map_err(ApiError::from)
}

/// Refuses development features outside demo mode.
pub fn demo_only(state: &AppState) -> Result<(), ApiError> {
    if state.config.mode != Mode::Demo {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "the development outbox exists only in demo mode",
        ));
    }
    Ok(())
}

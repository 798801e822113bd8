//! The Doorstep dispatch server: code policy, delivery codes, devices, manifests, the release
//! channel and exactly-once proof of delivery, over a JSON HTTP API under `/v1` and the fleet's
//! server-rendered pages.
//!
//! The folders are the layers, and imports only point down (`scripts/check-layers.py` holds
//! them in CI):
//!
//! - [`domain`]: the rules — policy, time zone, release rules, message texts. Pure, no I/O.
//! - [`sys`]: the data directory's secrets and files.
//! - [`store`]: the storage boundary (embedded SQLite or PostgreSQL); every SQL statement
//!   lives there, written once for both backends.
//! - [`ops`]: what the command line and the HTTP layer both do (demo seed, enrollment,
//!   releases).
//! - `notify`: the outbox worker (SMTP, SMS gateway, webhooks, dev outbox).
//! - [`render`]: HTML documents, QR codes and the label sheet's barcodes.
//! - `http`: the router, errors, extractors, middleware, the `/v1` API per resource, the pages
//!   (crate-private: the library hands out [`router`], [`AppState`] and [`launch`]).
//! - `src/bin/doorstep-server`: the command line, one file per subcommand.
//!
//! Modules are public only where the command line or the tests reach into them; the rest is
//! crate-private. Tests bind port 0 and call [`launch`]; everything a test needs to control
//! (time, data directory, SMTP) is in [`ServerConfig`].

mod config;
pub mod domain;
mod error;
mod http;
mod notify;
pub mod ops;
pub mod render;
pub mod store;
pub mod sys;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{Limits, Mode, Rate, ServerConfig, SmsConfig, SmtpConfig, SmtpSecurity};
pub use domain::policy::Policy;
pub use doorstep_inputs::{Clock, ManualClock, Randomness, SystemClock};
pub use error::ServerError;
pub use http::{AppState, router};
pub use ops::demo::{DemoParcel, DemoSeed, pickup_points as demo_pickup_points, seed_demo};
pub use ops::{admin_token, create_enrollment, labels_for};

/// Opens the data directory or database of `config` (on a blocking thread) and serves the API
/// on `listener` until `shutdown` completes ([`open`], then [`serve`]).
pub async fn launch(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    serve(listener, open(config).await?, shutdown).await
}

/// The server's state for `config`, opened on a blocking thread (secrets, migrations, store).
pub async fn open(config: ServerConfig) -> Result<AppState, ServerError> {
    tokio::task::spawn_blocking(move || AppState::open(config))
        .await
        .map_err(|e| ServerError::Config(format!("start-up task failed: {e}")))?
}

/// Serves the API of an opened `state` on `listener` until `shutdown` completes, with the
/// outbox worker and the numbers' roll-ups running.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(notify::run_outbox(state.outbox(), stop_rx.clone()));
    let roll_ups = tokio::spawn(ops::roll_up::run(
        state.store.clone(),
        state.config.clone(),
        stop_rx,
    ));
    let limits = &state.config.limits;
    let rules = http::middleware::connections::ConnectionRules {
        max_connections: limits.max_connections,
        per_address: (limits.connections_per_address > 0 && !state.config.trust_forwarded_for)
            .then_some(limits.connections_per_address),
        header_read_timeout: limits.header_read_timeout,
    };
    let result =
        http::middleware::connections::serve(listener, router(state), rules, shutdown).await;
    let _ = stop_tx.send(true);
    let _ = worker.await;
    let _ = roll_ups.await;
    result.map_err(ServerError::Io)
}

//! What anyone may read: health (for load balancers) and the token keys phones pin.

use axum::Json;
use axum::extract::State;
use doorstep_protocol::token::PublicTokenKey;
use doorstep_protocol::wire::{ErrorBody, TokenKeysResponse};
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::{ApiError, db};

/// `GET /v1/health` answer.
#[derive(Debug, serde::Serialize, ToSchema)]
pub(super) struct Health {
    /// `ok`: the server answers and its database does.
    status: &'static str,
    /// `sqlite` or `postgres`.
    database: &'static str,
}

/// Health: the server and its database
///
/// 200 when the database answers; 503 (`unavailable`, with `Retry-After`) when it does not —
/// a load balancer then sends requests to another node, and this node recovers by itself when
/// the database is back.
#[utoipa::path(
    get,
    path = "/v1/health",
    tag = "public",
    responses(
        (status = 200, description = "The server and its database answer", body = Health),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    )
)]
pub(super) async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    db(&state, |s| s.ping()).await?;
    Ok(Json(Health {
        status: "ok",
        database: state.store.backend_name(),
    }))
}

pub(super) fn public_keys(state: &AppState) -> Vec<PublicTokenKey> {
    state.store.secrets().public_keys()
}

/// The server's public keys for handover tokens
///
/// Phones pin them at enrollment and check customers' QR tokens offline against them.
#[utoipa::path(
    get,
    path = "/.well-known/doorstep-keys",
    tag = "public",
    responses((status = 200, description = "The keys in use, newest first", body = TokenKeysResponse))
)]
pub(super) async fn keys(State(state): State<AppState>) -> Json<TokenKeysResponse> {
    Json(TokenKeysResponse {
        keys: public_keys(&state),
    })
}

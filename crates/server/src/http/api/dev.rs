//! Demo mode: the development outbox.

use axum::Json;
use axum::extract::State;
use doorstep_protocol::wire::{DevMessage, ErrorBody};

use crate::http::AppState;
use crate::http::{ApiError, db, demo_only};

/// The development outbox: what customers would have been sent (demo mode only)
#[utoipa::path(
    get,
    path = "/v1/dev/outbox",
    tag = "public",
    responses(
        (status = 200, description = "The messages, codes included (demo data)", body = Vec<DevMessage>),
        (status = 404, description = "`not_found`: the server is not in demo mode", body = ErrorBody),
    )
)]
pub(super) async fn dev_outbox(
    State(state): State<AppState>,
) -> Result<Json<Vec<doorstep_protocol::wire::DevMessage>>, ApiError> {
    demo_only(&state)?;
    Ok(Json(db(&state, |s| s.dev_messages()).await?))
}

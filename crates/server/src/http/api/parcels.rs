//! The shipper's parcels: create one, read its state.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use doorstep_protocol::ParcelId;
use doorstep_protocol::wire::{CreateParcelRequest, ErrorBody, ErrorCode, ParcelView};

use super::input::parse_id;
use crate::domain::parcel::NewParcel;
use crate::http::AppState;
use crate::http::openapi::errors;
use crate::http::{ApiError, ShipperCaller, StrictJson, StrictPath, db};

/// Create a parcel
///
/// The code policy decides whether it needs a delivery code, and the answer says why; when
/// it does, the customer is sent the code. Parcels for one recipient at one address on one
/// day share a stop and its code.
#[utoipa::path(
    post,
    path = "/v1/parcels",
    tag = "shipper",
    security(("shipper" = [])),
    request_body = CreateParcelRequest,
    responses(
        (status = 201, description = "Created", body = ParcelView),
        (status = 400, description = errors::BAD_JSON, body = ErrorBody),
        (status = 401, description = errors::NO_SHIPPER, body = ErrorBody),
        (status = 409, description = "`conflict`: a parcel with this barcode exists", body = ErrorBody),
        (status = 413, description = errors::TOO_LARGE, body = ErrorBody),
        (status = 415, description = errors::NOT_JSON, body = ErrorBody),
        (status = 422, description = "`validation_failed`: a value breaks a rule (barcode, address, e-mail, phone, amount, date, an unknown `courier_id`, ...); the message says which", body = ErrorBody),
    )
)]
pub(super) async fn create_parcel(
    State(state): State<AppState>,
    ShipperCaller(shipper): ShipperCaller,
    StrictJson(req): StrictJson<CreateParcelRequest>,
) -> Result<(StatusCode, Json<doorstep_protocol::wire::ParcelView>), ApiError> {
    let now = state.now();
    let parcel = NewParcel::check(&req).map_err(|m| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
            m,
        )
    })?;
    let created = db(&state, move |s| s.create_parcel(&shipper, &parcel, now)).await?;
    tracing::info!(parcel = %created.view.parcel_id, code_required = created.view.decision.code_required, "parcel created");
    state.outbox_wake.notify_one();
    Ok((StatusCode::CREATED, Json(created.view)))
}

/// One of the shipper's parcels, with its policy decision and reasons
#[utoipa::path(
    get,
    path = "/v1/parcels/{id}",
    tag = "shipper",
    security(("shipper" = [])),
    params(("id" = ParcelId, Path, description = "The parcel's id")),
    responses(
        (status = 200, description = "The parcel", body = ParcelView),
        (status = 400, description = errors::BAD_PATH, body = ErrorBody),
        (status = 401, description = errors::NO_SHIPPER, body = ErrorBody),
        (status = 404, description = "`not_found`: no such parcel of this shipper", body = ErrorBody),
    )
)]
pub(super) async fn get_parcel(
    State(state): State<AppState>,
    ShipperCaller(shipper): ShipperCaller,
    StrictPath(id): StrictPath<String>,
) -> Result<Json<doorstep_protocol::wire::ParcelView>, ApiError> {
    let id: ParcelId = parse_id(&id, "parcel")?;
    Ok(Json(
        db(&state, move |s| s.parcel(id, Some(&shipper))).await?,
    ))
}

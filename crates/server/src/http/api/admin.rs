//! The fleet manager (admin token): couriers, shippers, enrollment, devices, record chains, deliveries, the outbox, new codes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use doorstep_protocol::wire::{
    CourierCreated, CreateCourierRequest, CreateEnrollmentRequest, CreateShipperRequest,
    DeviceView, EnrollmentCreated, EnrollmentLink, ErrorBody, ErrorCode, OutboxEntry, ParcelView,
    ShipperCreated, StoredDelivery,
};
use doorstep_protocol::{DeviceId, ParcelId, StopId};
use utoipa::ToSchema;

use super::input::{DateQuery, parse_id, valid_date};
use crate::config::Mode;
use crate::http::AppState;
use crate::http::openapi::errors;
use crate::http::{AdminCaller, ApiError, StrictJson, StrictPath, StrictQuery, db};

/// Any parcel, with its policy decision and reasons
#[utoipa::path(
    get,
    path = "/v1/admin/parcels/{id}",
    tag = "admin",
    security(("admin" = [])),
    params(("id" = ParcelId, Path, description = "The parcel's id")),
    responses(
        (status = 200, description = "The parcel", body = ParcelView),
        (status = 400, description = errors::BAD_PATH, body = ErrorBody),
        (status = 401, description = errors::NO_ADMIN, body = ErrorBody),
        (status = 404, description = "`not_found`: no such parcel", body = ErrorBody),
    )
)]
pub(super) async fn admin_parcel(
    State(state): State<AppState>,
    _: AdminCaller,
    StrictPath(id): StrictPath<String>,
) -> Result<Json<doorstep_protocol::wire::ParcelView>, ApiError> {
    let id: ParcelId = parse_id(&id, "parcel")?;
    Ok(Json(db(&state, move |s| s.parcel(id, None)).await?))
}

/// Create a courier
#[utoipa::path(
    post,
    path = "/v1/admin/couriers",
    tag = "admin",
    security(("admin" = [])),
    request_body = CreateCourierRequest,
    responses(
        (status = 201, description = "Created", body = CourierCreated),
        (status = 400, description = errors::BAD_JSON, body = ErrorBody),
        (status = 401, description = errors::NO_ADMIN, body = ErrorBody),
        (status = 409, description = "`conflict`: a courier with this name exists", body = ErrorBody),
        (status = 413, description = errors::TOO_LARGE, body = ErrorBody),
        (status = 415, description = errors::NOT_JSON, body = ErrorBody),
        (status = 422, description = "`validation_failed`: the name must have 1 to 100 characters", body = ErrorBody),
    )
)]
pub(super) async fn admin_courier(
    State(state): State<AppState>,
    _: AdminCaller,
    StrictJson(req): StrictJson<CreateCourierRequest>,
) -> Result<(StatusCode, Json<CourierCreated>), ApiError> {
    let now = state.now();
    let courier_id = db(&state, move |s| s.create_courier(&req.name, now)).await?;
    Ok((StatusCode::CREATED, Json(CourierCreated { courier_id })))
}

/// Create a shipper
///
/// The answer holds its API key and webhook secret, shown once.
#[utoipa::path(
    post,
    path = "/v1/admin/shippers",
    tag = "admin",
    security(("admin" = [])),
    request_body = CreateShipperRequest,
    responses(
        (status = 201, description = "Created", body = ShipperCreated),
        (status = 400, description = errors::BAD_JSON, body = ErrorBody),
        (status = 401, description = errors::NO_ADMIN, body = ErrorBody),
        (status = 413, description = errors::TOO_LARGE, body = ErrorBody),
        (status = 415, description = errors::NOT_JSON, body = ErrorBody),
        (status = 422, description = "`validation_failed`: the name must have 1 to 100 characters; `webhook_url` must be an absolute https:// URL (http:// in demo mode) of at most 2000 characters without a user name or password", body = ErrorBody),
    )
)]
pub(super) async fn admin_shipper(
    State(state): State<AppState>,
    _: AdminCaller,
    StrictJson(req): StrictJson<CreateShipperRequest>,
) -> Result<(StatusCode, Json<ShipperCreated>), ApiError> {
    if req.name.trim().is_empty() || req.name.len() > 100 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
            "name must have 1 to 100 characters",
        ));
    }
    // Webhooks carry customer data and a signature: HTTPS only, except in demo mode where
    // a local receiver is the point. The outbox never follows redirects, so this is the URL
    // that receives them.
    let webhook_url = match req.webhook_url.as_deref().map(str::trim) {
        None => None,
        Some(u) => {
            let invalid = |m: &str| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::ValidationFailed,
                    m,
                )
            };
            let url = reqwest::Url::parse(u)
                .ok()
                .filter(|url| u.len() <= 2000 && url.host_str().is_some())
                .ok_or_else(|| {
                    invalid(
                        "webhook_url must be an absolute https:// URL of at most 2000 characters",
                    )
                })?;
            match url.scheme() {
                "https" => {}
                "http" if state.config.mode == Mode::Demo => {}
                "http" => {
                    return Err(invalid(
                        "webhook_url must start with https:// (http:// is accepted only in demo mode)",
                    ));
                }
                _ => return Err(invalid("webhook_url must start with https://")),
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err(invalid(
                    "webhook_url must not contain a user name or password; the signature header authenticates the server",
                ));
            }
            Some(url.to_string())
        }
    };
    let now = state.now();
    let (shipper_id, api_key, webhook_secret) = db(&state, move |s| {
        s.create_shipper(&req.name, webhook_url.as_deref(), now)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(ShipperCreated {
            shipper_id,
            api_key,
            webhook_secret,
        }),
    ))
}

/// Create a single-use enrollment code for a courier's phone
#[utoipa::path(
    post,
    path = "/v1/admin/enrollments",
    tag = "admin",
    security(("admin" = [])),
    request_body = CreateEnrollmentRequest,
    responses(
        (status = 201, description = "Created; show `uri` as a QR", body = EnrollmentCreated),
        (status = 400, description = errors::BAD_JSON, body = ErrorBody),
        (status = 401, description = errors::NO_ADMIN, body = ErrorBody),
        (status = 404, description = "`not_found`: no such courier", body = ErrorBody),
        (status = 413, description = errors::TOO_LARGE, body = ErrorBody),
        (status = 415, description = errors::NOT_JSON, body = ErrorBody),
    )
)]
pub(super) async fn admin_enrollment(
    State(state): State<AppState>,
    _: AdminCaller,
    StrictJson(req): StrictJson<CreateEnrollmentRequest>,
) -> Result<(StatusCode, Json<EnrollmentCreated>), ApiError> {
    let now = state.now();
    let ttl = state.config.enrollment_ttl_secs * 1000;
    let (code, expires) = db(&state, move |s| {
        s.create_enrollment(req.courier_id, ttl, now)
    })
    .await?;
    let uri = EnrollmentLink {
        server_url: state.config.public_url.clone(),
        code: code.clone(),
    }
    .to_uri();
    Ok((
        StatusCode::CREATED,
        Json(EnrollmentCreated {
            enrollment_code: code,
            uri,
            expires_at: expires / 1000,
        }),
    ))
}

/// Enrolled phones
#[utoipa::path(
    get,
    path = "/v1/admin/devices",
    tag = "admin",
    security(("admin" = [])),
    responses(
        (status = 200, description = "The phones", body = Vec<DeviceView>),
        (status = 401, description = errors::NO_ADMIN, body = ErrorBody),
    )
)]
pub(super) async fn admin_devices(
    State(state): State<AppState>,
    _: AdminCaller,
) -> Result<Json<Vec<doorstep_protocol::wire::DeviceView>>, ApiError> {
    Ok(Json(db(&state, |s| s.devices()).await?))
}

/// Revoke a phone
///
/// Its token stops working at once; records it still sends are kept for review.
#[utoipa::path(
    post,
    path = "/v1/admin/devices/{id}/revoke",
    tag = "admin",
    security(("admin" = [])),
    params(("id" = DeviceId, Path, description = "The phone's id")),
    responses(
        (status = 204, description = "Revoked (or it was already)"),
        (status = 400, description = errors::BAD_PATH, body = ErrorBody),
        (status = 401, description = errors::NO_ADMIN, body = ErrorBody),
        (status = 404, description = "`not_found`: no such phone", body = ErrorBody),
    )
)]
pub(super) async fn admin_revoke(
    State(state): State<AppState>,
    _: AdminCaller,
    StrictPath(id): StrictPath<String>,
) -> Result<StatusCode, ApiError> {
    let id: DeviceId = parse_id(&id, "device")?;
    let now = state.now();
    db(&state, move |s| s.revoke_device(id, now)).await?;
    tracing::info!(device = %id, "device revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Accept a phone's broken record chain as re-anchored
///
/// Audit-logged. The records the server held back then arrive, marked for review.
#[utoipa::path(
    post,
    path = "/v1/admin/devices/{id}/accept-chain",
    tag = "admin",
    security(("admin" = [])),
    params(("id" = DeviceId, Path, description = "The phone's id")),
    responses(
        (status = 204, description = "Accepted"),
        (status = 400, description = errors::BAD_PATH, body = ErrorBody),
        (status = 401, description = errors::NO_ADMIN, body = ErrorBody),
        (status = 404, description = "`not_found`: no such phone", body = ErrorBody),
        (status = 409, description = "`conflict`: the phone was revoked, or its record chain is not broken", body = ErrorBody),
    )
)]
pub(super) async fn admin_accept_chain(
    State(state): State<AppState>,
    _: AdminCaller,
    StrictPath(id): StrictPath<String>,
) -> Result<StatusCode, ApiError> {
    let id: DeviceId = parse_id(&id, "device")?;
    let now = state.now();
    db(&state, move |s| {
        s.accept_chain(id, "admin API (admin token)", now)
    })
    .await?;
    tracing::info!(device = %id, "record chain accepted for re-anchoring");
    Ok(StatusCode::NO_CONTENT)
}

/// Stored delivery records
#[utoipa::path(
    get,
    path = "/v1/admin/deliveries",
    tag = "admin",
    security(("admin" = [])),
    params(DateQuery),
    responses(
        (status = 200, description = "The records, oldest first", body = Vec<StoredDelivery>),
        (status = 400, description = errors::BAD_DATE, body = ErrorBody),
        (status = 401, description = errors::NO_ADMIN, body = ErrorBody),
    )
)]
pub(super) async fn admin_deliveries(
    State(state): State<AppState>,
    _: AdminCaller,
    StrictQuery(q): StrictQuery<DateQuery>,
) -> Result<Json<Vec<doorstep_protocol::wire::StoredDelivery>>, ApiError> {
    if let Some(d) = &q.date {
        valid_date(d)?;
    }
    Ok(Json(
        db(&state, move |s| s.deliveries(q.date.as_deref())).await?,
    ))
}

/// The notification outbox (no message bodies)
#[utoipa::path(
    get,
    path = "/v1/admin/outbox",
    tag = "admin",
    security(("admin" = [])),
    responses(
        (status = 200, description = "The messages", body = Vec<OutboxEntry>),
        (status = 401, description = errors::NO_ADMIN, body = ErrorBody),
    )
)]
pub(super) async fn admin_outbox(
    State(state): State<AppState>,
    _: AdminCaller,
) -> Result<Json<Vec<doorstep_protocol::wire::OutboxEntry>>, ApiError> {
    Ok(Json(db(&state, |s| s.outbox()).await?))
}

/// Answer to `POST /v1/admin/stops/{id}/new-code`.
#[derive(Debug, serde::Serialize, ToSchema)]
pub(super) struct NewCodeResponse {
    /// The new code was queued for the customer.
    sent: bool,
}

/// A new code and a fresh attempt counter for a stop
///
/// For a stop locked by wrong codes; the customer is sent the new code.
#[utoipa::path(
    post,
    path = "/v1/admin/stops/{id}/new-code",
    tag = "admin",
    security(("admin" = [])),
    params(("id" = StopId, Path, description = "The stop's id")),
    responses(
        (status = 200, description = "A new code is on its way", body = NewCodeResponse),
        (status = 400, description = errors::BAD_PATH, body = ErrorBody),
        (status = 401, description = errors::NO_ADMIN, body = ErrorBody),
        (status = 404, description = "`not_found`: no such stop", body = ErrorBody),
        (status = 409, description = "`code_not_required`: the stop needs no code", body = ErrorBody),
    )
)]
pub(super) async fn admin_new_code(
    State(state): State<AppState>,
    _: AdminCaller,
    StrictPath(id): StrictPath<String>,
) -> Result<Json<NewCodeResponse>, ApiError> {
    let id: StopId = parse_id(&id, "stop")?;
    let now = state.now();
    db(&state, move |s| {
        s.reset_code(id, "admin API (admin token)", now).map(|_| ())
    })
    .await?;
    state.outbox_wake.notify_one();
    Ok(Json(NewCodeResponse { sent: true }))
}

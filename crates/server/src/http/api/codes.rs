//! Delivery codes at the door: the online check and a resend to the customer.

use axum::Json;
use axum::extract::State;
use doorstep_protocol::wire::{
    ErrorBody, ResendRequest, ResendResponse, VerifyOutcome, VerifyRequest,
};

use crate::http::AppState;
use crate::http::extract::authenticate_device;
use crate::http::openapi::errors;
use crate::http::{ApiError, DeviceCaller, DeviceToken, StrictJson, db};

/// Check a delivery code
///
/// Attempts are counted per code across all phones, before the comparison. Every outcome
/// (verified, wrong with the attempts left, locked, expired, already delivered, no code
/// needed) is a `200`; a `verified` answer's id goes into the delivery record.
#[utoipa::path(
    post,
    path = "/v1/verify",
    tag = "device",
    security(("device" = [])),
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "The outcome", body = VerifyOutcome),
        (status = 400, description = errors::BAD_JSON_CODE, body = ErrorBody),
        (status = 401, description = errors::NO_DEVICE, body = ErrorBody),
        (status = 403, description = "`forbidden`: the parcel is not on this courier's route", body = ErrorBody),
        (status = 404, description = "`not_found`: no such parcel", body = ErrorBody),
        (status = 413, description = errors::TOO_LARGE, body = ErrorBody),
        (status = 415, description = errors::NOT_JSON, body = ErrorBody),
        (status = 422, description = "`code_format`: the code has the wrong number of digits for this stop", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many code checks from this address or this phone; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub(super) async fn verify(
    State(state): State<AppState>,
    DeviceToken(token): DeviceToken,
    StrictJson(req): StrictJson<VerifyRequest>,
) -> Result<Json<doorstep_protocol::wire::VerifyOutcome>, ApiError> {
    let now = state.now();
    let parcel = req.parcel_id;
    let limiters = state.limiters.clone();
    // The token, the phone's budget and the check in one blocking call.
    let outcome = db(&state, move |s| {
        let device = match authenticate_device(s, &token, &limiters, true) {
            Ok(device) => device,
            Err(refused) => return Ok(Err(refused)),
        };
        s.verify(&device, req.parcel_id, &req.code, now).map(Ok)
    })
    .await??;
    let result = match &outcome {
        doorstep_protocol::wire::VerifyOutcome::Verified { .. } => "verified",
        doorstep_protocol::wire::VerifyOutcome::Wrong { .. } => "wrong",
        doorstep_protocol::wire::VerifyOutcome::Locked => "locked",
        doorstep_protocol::wire::VerifyOutcome::Expired => "expired",
        doorstep_protocol::wire::VerifyOutcome::AlreadyDelivered => "already_delivered",
        doorstep_protocol::wire::VerifyOutcome::NotRequired => "not_required",
    };
    tracing::info!(parcel = %parcel, result, "code checked");
    Ok(Json(outcome))
}

/// Send the customer a new code
///
/// The new code replaces the old one; the count of failed attempts stays. Resends are
/// limited per stop.
#[utoipa::path(
    post,
    path = "/v1/resend",
    tag = "device",
    security(("device" = [])),
    request_body = ResendRequest,
    responses(
        (status = 200, description = "A new code is on its way", body = ResendResponse),
        (status = 400, description = errors::BAD_JSON, body = ErrorBody),
        (status = 401, description = errors::NO_DEVICE, body = ErrorBody),
        (status = 403, description = "`forbidden`: the parcel is not on this courier's route", body = ErrorBody),
        (status = 404, description = "`not_found`: no such parcel", body = ErrorBody),
        (status = 409, description = "`code_not_required`: the parcel needs no code; `conflict`: it was already delivered", body = ErrorBody),
        (status = 413, description = errors::TOO_LARGE, body = ErrorBody),
        (status = 415, description = errors::NOT_JSON, body = ErrorBody),
        (status = 429, description = "`resend_too_soon`: a new code was sent recently, or the stop had all its resends; `rate_limited`: too many requests from this phone", body = ErrorBody),
    )
)]
pub(super) async fn resend(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
    StrictJson(req): StrictJson<ResendRequest>,
) -> Result<Json<doorstep_protocol::wire::ResendResponse>, ApiError> {
    let now = state.now();
    let out = db(&state, move |s| s.resend(&device, req.parcel_id, now)).await?;
    state.outbox_wake.notify_one();
    Ok(Json(out))
}

//! A phone's records and their photos: the sync batch and content-addressed uploads.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use doorstep_protocol::wire::{
    ErrorBody, ErrorCode, PhotoUploadResponse, SyncRequest, SyncResponse,
};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::middleware::limits;
use crate::http::openapi::errors;
use crate::http::{ApiError, DeviceCaller, StrictJson, StrictPath, SyncingDevice, db};

/// Store a batch of delivery records exactly once
///
/// One result per record, in order: accepted, duplicate (a retry of a stored record),
/// rejected for good (the phone shows it as disputed) or retry later. A revoked phone may
/// still send its queued records: they are kept for the fleet manager's review, never
/// applied.
#[utoipa::path(
    post,
    path = "/v1/sync",
    tag = "device",
    security(("device" = [])),
    request_body = SyncRequest,
    responses(
        (status = 200, description = "One result per record", body = SyncResponse),
        (status = 400, description = errors::BAD_JSON_CODE, body = ErrorBody),
        (status = 401, description = errors::NO_DEVICE_SYNC, body = ErrorBody),
        (status = 413, description = errors::TOO_LARGE, body = ErrorBody),
        (status = 415, description = errors::NOT_JSON, body = ErrorBody),
        (status = 422, description = "`validation_failed`: more than 1000 records, more than the phone's whole record budget in one batch, or an `app_version` longer than 40 characters", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many requests, or too many records, from this phone; nothing of the batch was stored: retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub(super) async fn sync(
    State(state): State<AppState>,
    SyncingDevice(device): SyncingDevice,
    StrictJson(req): StrictJson<SyncRequest>,
) -> Result<Json<SyncResponse>, ApiError> {
    if req.events.len() > 1000 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
            "send at most 1000 events per batch",
        ));
    }
    if req.app_version.len() > 40 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
            "app_version is too long",
        ));
    }
    state
        .limiters
        .check_records(device.device_id, req.events.len())?;
    let now = state.now();
    let n = req.events.len();
    let public_url = state.config.public_url.clone();
    let (results, app_policy) = db(&state, move |s| {
        let results = s.sync(&device, &req.app_version, &req.events, now)?;
        Ok((results, s.app_policy(device.device_id, &public_url)?))
    })
    .await?;
    tracing::info!(events = n, "sync batch stored");
    state.outbox_wake.notify_one();
    Ok(Json(SyncResponse {
        results,
        app_policy,
    }))
}

/// The body of a photo upload: the image's bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // only described, never built: the handler reads raw bytes
pub(super) struct PhotoBytes(Vec<u8>);

/// Upload a proof photo
///
/// Content-addressed and idempotent: the path is the SHA-256 (hex) of the body, and the same
/// photo again answers `already_present`. Upload it before the record that names it.
#[utoipa::path(
    put,
    path = "/v1/photos/{sha256}",
    tag = "device",
    security(("device" = [])),
    params((
        "sha256" = String,
        Path,
        description = "SHA-256 of the body, 64 hex digits",
        pattern = "^[0-9a-fA-F]{64}$"
    )),
    request_body(
        description = "The photo (JPEG or PNG)",
        content(
            (inline(PhotoBytes) = "image/jpeg"),
            (inline(PhotoBytes) = "image/png"),
            (inline(PhotoBytes) = "application/octet-stream")
        )
    ),
    responses(
        (status = 200, description = "Stored (or stored before)", body = PhotoUploadResponse),
        (status = 400, description = "`validation_failed`: the path is not a SHA-256 in hex, the body is empty or its SHA-256 differs from the path; `bad_request`: the path is not UTF-8, or the body could not be read", body = ErrorBody),
        (status = 401, description = errors::NO_DEVICE, body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the photo is larger than the server accepts", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many requests from this phone, or its daily photo quota is used up; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "`unavailable`: the server could not store the photo (its disk) or the database is busy; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub(super) async fn put_photo(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
    StrictPath(sha): StrictPath<String>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<PhotoUploadResponse>, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                "the photo is too large",
            )
        } else {
            ApiError::bad_request("the photo could not be read")
        }
    })?;
    let sha = sha.to_ascii_lowercase();
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::ValidationFailed,
            "the address must be a SHA-256 in hex",
        ));
    }
    if body.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::ValidationFailed,
            "the photo is empty",
        ));
    }
    if hex::encode(Sha256::digest(&body)) != sha {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::ValidationFailed,
            "the photo's SHA-256 does not match its address",
        ));
    }
    let photos = state.config.photos();
    let now = state.now();
    let size = body.len();
    limits::photo_quota(&state, device.device_id, &sha, size, now).await?;
    let sha2 = sha.clone();
    let stored = db(&state, move |s| match photos.put(&sha2, &body) {
        Ok(()) => s.record_photo(&sha2, size, device.device_id, now).map(Ok),
        Err(e) => Ok(Err(e)),
    })
    .await?;
    // The server's disk, not the request: the phone keeps the photo and sends it again.
    let already_present = stored.map_err(|e| {
        tracing::error!(error = %e, "photo write failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "the server could not store the photo; the app keeps it and sends it again",
        )
        .with_retry_after(30)
    })?;
    Ok(Json(PhotoUploadResponse {
        sha256: sha,
        already_present,
    }))
}

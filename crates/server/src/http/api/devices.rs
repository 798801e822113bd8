//! Phones: enrollment, and the day's manifest (which also notes the phone's version).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use doorstep_protocol::wire::{
    EnrollRequest, EnrollResponse, ErrorBody, ErrorCode, Manifest, OLDEST_UNSENT_HEADER,
    UNSENT_RECORDS_HEADER,
};
use sha2::{Digest, Sha256};

use super::input::{DateQuery, courier_app_version, valid_date};
use super::public::public_keys;
use crate::http::AppState;
use crate::http::openapi::errors;
use crate::http::{ApiError, DeviceCaller, StrictJson, StrictQuery, db};

/// Exchange an enrollment code for a device token
///
/// The enrollment code (from the fleet page's QR) is single use and short-lived. The answer
/// holds the device token, shown once, and the server's token keys for the phone to pin.
#[utoipa::path(
    post,
    path = "/v1/devices/enroll",
    tag = "device",
    request_body = EnrollRequest,
    responses(
        (status = 200, description = "Enrolled", body = EnrollResponse),
        (status = 400, description = errors::BAD_JSON, body = ErrorBody),
        (status = 401, description = "`enrollment_invalid`: the enrollment code is unknown, expired or already used", body = ErrorBody),
        (status = 413, description = errors::TOO_LARGE, body = ErrorBody),
        (status = 415, description = errors::NOT_JSON, body = ErrorBody),
        (status = 422, description = "`validation_failed`: a field is too long, or `device_public_key` is not an Ed25519 public key in hex", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many enrollment attempts from this address; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub(super) async fn enroll(
    State(state): State<AppState>,
    StrictJson(req): StrictJson<EnrollRequest>,
) -> Result<Json<EnrollResponse>, ApiError> {
    if req.app_version.len() > 40 || req.enrollment_code.len() > 64 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
            "a field is too long",
        ));
    }
    let now = state.now();
    let (device_id, device_token, courier_id, courier_name) =
        db(&state, move |s| s.enroll(&req, now)).await?;
    tracing::info!(device = %device_id, courier = %courier_id, "device enrolled");
    Ok(Json(EnrollResponse {
        device_id,
        device_token,
        courier_id,
        courier_name,
        fleet_name: state.config.fleet_name.clone(),
        token_keys: public_keys(&state),
    }))
}

/// What the phone reports holding unsent ([`UNSENT_RECORDS_HEADER`], [`OLDEST_UNSENT_HEADER`]):
/// `None` from a phone that does not say (an older app); a header that is not a whole number
/// (at least 0) is refused.
fn phone_backlog(headers: &HeaderMap) -> Result<Option<(i64, Option<i64>)>, ApiError> {
    let number = |name: &str| -> Result<Option<i64>, ApiError> {
        match headers.get(name) {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(|n| Some(i64::try_from(n).unwrap_or(i64::MAX)))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("the {name} header must be a whole number"))
                }),
        }
    };
    let count = number(UNSENT_RECORDS_HEADER)?;
    let oldest = number(OLDEST_UNSENT_HEADER)?;
    Ok(count.map(|n| (n, oldest.filter(|_| n > 0))))
}

/// How stale a device's "last seen" may get before a manifest request notes it again.
pub(super) const SEEN_EVERY_MS: i64 = 5 * 60 * 1000;

/// The courier's route for a day
///
/// Stops in delivery order with their parcels, and for each stop whether it needs a code
/// and why. Send the `ETag` back in `If-None-Match` to get `304` when nothing changed.
#[utoipa::path(
    get,
    path = "/v1/manifest",
    tag = "device",
    security(("device" = [])),
    params(
        DateQuery,
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of an earlier answer"),
        ("Doorstep-Unsent-Records" = Option<u64>, Header, description = "Records the phone holds unsent (the fleet console shows them)"),
        ("Doorstep-Oldest-Unsent-At" = Option<u64>, Header, description = "Unix milliseconds when the oldest unsent record was made"),
    ),
    responses(
        (status = 200, description = "The route", body = Manifest,
            headers(("ETag" = String, description = "Send it back in `If-None-Match`"))),
        (status = 304, description = "Not changed since the `ETag` in `If-None-Match`",
            headers(("ETag" = String, description = "The same `ETag`"))),
        (status = 400, description = "`bad_request`: the date is not `YYYY-MM-DD`, or a backlog header is not a whole number", body = ErrorBody),
        (status = 401, description = errors::NO_DEVICE, body = ErrorBody),
        (status = 429, description = errors::DEVICE_RATE, body = ErrorBody),
    )
)]
pub(super) async fn manifest(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
    StrictQuery(q): StrictQuery<DateQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let date = q
        .date
        .unwrap_or_else(|| state.config.time_zone.date_of(state.now()));
    valid_date(&date)?;
    let courier = device.courier_id;
    let device_id = device.device_id;
    let public_url = state.config.public_url.clone();
    // A write only when something changed or every few minutes, not on every refresh.
    let version = courier_app_version(&headers).filter(|v| *v != device.app_version);
    let backlog = phone_backlog(&headers)?.filter(|b| Some(*b) != device.backlog);
    let now = state.now();
    if version.is_some()
        || backlog.is_some()
        || device.last_seen_at.is_none_or(|t| now - t > SEEN_EVERY_MS)
    {
        db(&state, move |s| {
            s.note_manifest_request(device_id, version.as_deref(), backlog, now)
        })
        .await?;
    }
    let manifest = db(&state, move |s| {
        let mut m = s.manifest(courier, &date)?;
        m.app_policy = s.app_policy(device_id, &public_url)?;
        Ok(m)
    })
    .await?;
    let body = serde_json::to_vec(&manifest).map_err(|_| ApiError::internal())?;
    let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..32]);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag)
        });
    let etag_value = HeaderValue::from_str(&etag).map_err(|_| ApiError::internal())?;
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    Ok((
        [
            (header::ETAG, etag_value),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response())
}

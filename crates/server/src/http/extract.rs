//! Extractors: request bodies, queries and paths parsed strictly (every failure a 4xx with
//! the error body), and the authenticated callers (device, shipper, fleet manager).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::{StatusCode, header, request::Parts};
use doorstep_protocol::wire::ErrorCode;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::middleware::limiters::Limiters;
use crate::http::middleware::limits;
use crate::http::state::db;
use crate::store::{DeviceAuth, Store};

/// JSON body parsed strictly: wrong content type, malformed JSON, wrong types, unknown
/// fields and oversized bodies all become 4xx errors with a code. Messages never echo
/// values from the body (it may hold a code).
#[derive(Debug)]
pub struct StrictJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for StrictJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            });
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::BadRequest,
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    "the body is too large",
                )
            } else {
                ApiError::bad_request("the body could not be read")
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(StrictJson)
            .map_err(json_error)
    }
}

fn json_error(e: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let at = format!("line {} column {}", e.line(), e.column());
    let text = e.to_string();
    let message = match e.classify() {
        Category::Syntax | Category::Eof => format!("the body is not valid JSON ({at})"),
        Category::Io => "the body could not be read".to_string(),
        Category::Data => {
            // The code's own parse errors name no digits, and tell the courier what to fix.
            const CODE_ERRORS: [&str; 4] = [
                "enter the delivery code",
                "the delivery code has",
                "this code has a typo",
                "a delivery code needs",
            ];
            if CODE_ERRORS.iter().any(|p| text.starts_with(p)) {
                let head = text.split(" at line").next().unwrap_or(&text);
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::CodeFormat,
                    head.to_string(),
                );
            }
            if text.starts_with("unknown field")
                || text.starts_with("missing field")
                || text.starts_with("unknown variant")
            {
                let head = text.split(", expected").next().unwrap_or(&text);
                let head = head.split(" at line").next().unwrap_or(head);
                format!("{head} ({at})")
            } else {
                format!("a value has the wrong type or format ({at})")
            }
        }
    };
    ApiError::bad_request(message)
}

/// Query string parsed strictly.
#[derive(Debug)]
pub struct StrictQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for StrictQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| StrictQuery(q.0))
            .map_err(|e| {
                // Which parameter, e.g. "unknown field `day`, expected `date`".
                let text = e.body_text();
                let why = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                ApiError::bad_request(format!("the query string is invalid: {why}"))
            })
    }
}

/// Path parameters parsed strictly: a segment that is not UTF-8 is a `400 bad_request` with
/// the error body like every other error (axum's own rejection answers in plain text).
#[derive(Debug)]
pub struct StrictPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for StrictPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| StrictPath(v))
            .map_err(|_| ApiError::bad_request("the path is invalid (not UTF-8)"))
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// An authenticated, not revoked device.
#[derive(Debug)]
pub struct DeviceCaller(pub DeviceAuth);

impl FromRequestParts<AppState> for DeviceCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let DeviceToken(token) = DeviceToken::from_request_parts(parts, state).await?;
        let verifying = parts.extensions.get::<limits::VerifyRoute>().is_some();
        let limiters = state.limiters.clone();
        let device = db(state, move |s| {
            Ok(authenticate_device(s, &token, &limiters, verifying))
        })
        .await??;
        Ok(DeviceCaller(device))
    }
}

/// A device's Bearer token as sent (its shape checked, not yet looked up): for a handler that
/// authenticates the device in the same blocking call as its store operation
/// ([`authenticate_device`]), so a code check costs one hop off the async threads, not two.
#[derive(Debug)]
pub struct DeviceToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for DeviceToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        bearer(parts)
            .filter(|t| t.starts_with("dsd_") && t.len() < 200)
            .map(|t| DeviceToken(t.to_string()))
            .ok_or_else(ApiError::unauthorized)
    }
}

/// The device holding `token`, not revoked, with one request taken from its budget (the
/// verify budget when `verifying`). Runs on the blocking thread of the caller's store call.
pub(crate) fn authenticate_device(
    store: &Store,
    token: &str,
    limiters: &Limiters,
    verifying: bool,
) -> Result<DeviceAuth, ApiError> {
    let device = device_by_token(store, token, limiters, verifying)?;
    if device.revoked {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::DeviceRevoked,
            "this phone was removed from the fleet; ask the fleet manager to enroll it again",
        ));
    }
    Ok(device)
}

/// The device holding `token`, revoked or not, counted against its rate limit.
fn device_by_token(
    store: &Store,
    token: &str,
    limiters: &Limiters,
    verifying: bool,
) -> Result<DeviceAuth, ApiError> {
    let device = store
        .device_by_token(token)?
        .ok_or_else(ApiError::unauthorized)?;
    limiters.check_device(device.device_id, verifying)?;
    Ok(device)
}

/// A device sending its records: also a revoked one, whose queued records the server takes
/// in for the fleet manager's review (never applied, never lost) — see `Store::sync`.
#[derive(Debug)]
pub struct SyncingDevice(pub DeviceAuth);

impl FromRequestParts<AppState> for SyncingDevice {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let DeviceToken(token) = DeviceToken::from_request_parts(parts, state).await?;
        let limiters = state.limiters.clone();
        let device = db(state, move |s| {
            Ok(device_by_token(s, &token, &limiters, false))
        })
        .await??;
        Ok(SyncingDevice(device))
    }
}

/// An authenticated shipper (API key).
#[derive(Debug)]
pub struct ShipperCaller(pub String);

impl FromRequestParts<AppState> for ShipperCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = bearer(parts)
            .filter(|t| t.starts_with("dsk_") && t.len() < 200)
            .ok_or_else(ApiError::unauthorized)?
            .to_string();
        let id = db(state, move |s| s.shipper_by_key(&key))
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        Ok(ShipperCaller(id))
    }
}

/// The fleet manager (admin token).
#[derive(Debug)]
pub struct AdminCaller;

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let given = bearer(parts).unwrap_or("");
        let real = state.store.secrets().admin_token();
        if given.is_empty() || !bool::from(given.as_bytes().ct_eq(real.as_bytes())) {
            return Err(ApiError::unauthorized());
        }
        Ok(AdminCaller)
    }
}

/// Who may publish a release: the fleet manager (admin token) or a release token (`dsr_…`,
/// `doorstep-server release token`), which can publish and nothing else. Holds the name the
/// audit log gives the caller.
#[derive(Debug)]
pub struct ReleasePublisher {
    /// The name the audit log gives the caller.
    pub actor: String,
    /// A release token (not the admin token): it publishes at most at
    /// `ServerConfig::release_token_max_rollout`.
    pub token: bool,
}

impl FromRequestParts<AppState> for ReleasePublisher {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let given = bearer(parts).unwrap_or("").to_string();
        let admin = state.store.secrets().admin_token();
        if !given.is_empty() && bool::from(given.as_bytes().ct_eq(admin.as_bytes())) {
            return Ok(ReleasePublisher {
                actor: "admin API (admin token)".into(),
                token: false,
            });
        }
        if !given.starts_with("dsr_") || given.len() > 200 {
            return Err(ApiError::unauthorized());
        }
        let label = db(state, move |s| s.release_token_label(&given))
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        Ok(ReleasePublisher {
            actor: format!("release token {label:?}"),
            token: true,
        })
    }
}

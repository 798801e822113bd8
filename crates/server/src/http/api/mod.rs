//! The HTTP boundary: routes, strict JSON, authentication, errors as `{code, message}`.
//! Handlers extract, call one store operation on a blocking thread, and map the result.

pub(crate) mod releases;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use doorstep_protocol::wire::{
    CourierCreated, CreateCourierRequest, CreateEnrollmentRequest, CreateParcelRequest,
    CreateShipperRequest, DevMessage, DeviceView, EnrollRequest, EnrollResponse, EnrollmentCreated,
    EnrollmentLink, ErrorBody, ErrorCode, Manifest, OutboxEntry, ParcelView, PhotoUploadResponse,
    ResendRequest, ResendResponse, ShipperCreated, StoredDelivery, SyncRequest, SyncResponse,
    TokenKeysResponse, VerifyOutcome, VerifyRequest,
};
use doorstep_protocol::{DeviceId, ParcelId, StopId, token::PublicTokenKey};
use sha2::{Digest, Sha256};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::config::Mode;
use crate::http::AppState;
use crate::http::middleware::limits;
use crate::http::openapi::errors;
use crate::http::{
    AdminCaller, ApiError, DeviceCaller, ShipperCaller, StrictJson, StrictPath, StrictQuery,
    SyncingDevice, db, demo_only,
};
use crate::store::StoreError;

/// The whole HTTP API and pages.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api_routes(&state).split_for_parts();
    let api = api
        .merge(
            crate::http::pages::routes().route_layer(middleware::from_fn_with_state(
                state.clone(),
                limits::limit_pages,
            )),
        )
        .merge(crate::http::api::releases::page_routes());
    api.fallback(|| async {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such endpoint")
    })
    .method_not_allowed_fallback(|| async {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, ErrorCode::BadRequest, "method not allowed here")
    })
    // Innermost first: a gzipped body is decompressed (so the routes' body limits count the
    // decompressed bytes) and JSON answers are gzipped for clients that ask; other codings
    // are refused. Then the client's address, then the unread body (drained as it came, still
    // compressed), then the in-flight limit and timeout around all (a body that trickles in
    // is bounded by the timeout). Every answer, errors included, names the codings a body may
    // come in (`Accept-Encoding`), which is how a phone learns it may gzip its sync batches.
    .layer(tower_http::decompression::RequestDecompressionLayer::new())
    .layer(limits::json_compression())
    .layer(middleware::from_fn(limits::request_encoding))
    .layer(middleware::from_fn_with_state(state.clone(), limits::client_address))
    .layer(middleware::from_fn_with_state(state.clone(), limits::read_unread_body))
    .layer(middleware::from_fn_with_state(state.clone(), limits::bound_requests))
    .layer(PropagateRequestIdLayer::x_request_id())
    .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
        let id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
    }))
    .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
    .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
        header::ACCEPT_ENCODING,
        limits::ACCEPTED_ENCODINGS,
    ))
    .layer(Extension(crate::http::openapi::Document::new(doc)))
    .with_state(state)
}

/// The JSON API under `/v1` and `/.well-known`. Each route is registered from its handler's
/// `#[utoipa::path]` (`routes!`), so the OpenAPI document describes exactly what is served;
/// the HTML pages are added by [`router`].
fn api_routes(state: &AppState) -> OpenApiRouter<AppState> {
    let verify =
        OpenApiRouter::new()
            .routes(routes!(verify))
            .route_layer(middleware::from_fn_with_state(
                state.clone(),
                limits::limit_verify,
            ));
    let photos = OpenApiRouter::new()
        .routes(routes!(put_photo))
        .layer(DefaultBodyLimit::max(state.config.max_photo_bytes));
    OpenApiRouter::with_openapi(crate::http::openapi::ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(crate::http::openapi::serve))
        .routes(routes!(keys))
        .routes(routes!(enroll).layer(middleware::from_fn_with_state(
            state.clone(),
            limits::limit_enroll,
        )))
        .routes(routes!(manifest))
        .routes(routes!(resend))
        .routes(routes!(sync))
        .routes(routes!(create_parcel))
        .routes(routes!(get_parcel))
        .routes(routes!(admin_courier))
        .routes(routes!(admin_shipper))
        .routes(routes!(admin_enrollment))
        .routes(routes!(admin_devices))
        .routes(routes!(admin_revoke))
        .routes(routes!(admin_accept_chain))
        .routes(routes!(admin_deliveries))
        .routes(routes!(admin_outbox))
        .routes(routes!(admin_parcel))
        .routes(routes!(admin_new_code))
        .routes(routes!(dev_outbox))
        .merge(verify)
        .layer(DefaultBodyLimit::max(state.config.max_json_bytes))
        .merge(photos)
        .merge(crate::http::api::releases::api_routes(state))
}

/// `GET /v1/health` answer.
#[derive(Debug, serde::Serialize, ToSchema)]
struct Health {
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
async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    db(&state, |s| s.ping()).await?;
    Ok(Json(Health {
        status: "ok",
        database: state.store.backend_name(),
    }))
}

fn public_keys(state: &AppState) -> Vec<PublicTokenKey> {
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
async fn keys(State(state): State<AppState>) -> Json<TokenKeysResponse> {
    Json(TokenKeysResponse {
        keys: public_keys(&state),
    })
}

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
async fn enroll(
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

#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DateQuery {
    /// The delivery day, `YYYY-MM-DD` (the manifest: today in the fleet's time zone if not
    /// given; the records: every day if not given).
    #[param(format = Date)]
    date: Option<String>,
}

/// How stale a device's "last seen" may get before a manifest request notes it again.
const SEEN_EVERY_MS: i64 = 5 * 60 * 1000;

/// The app version in a courier app's `User-Agent: doorstep-courier/<version>`, if it is one.
fn courier_app_version(headers: &HeaderMap) -> Option<String> {
    let ua = headers.get(header::USER_AGENT)?.to_str().ok()?;
    let version = ua
        .strip_prefix("doorstep-courier/")?
        .split_whitespace()
        .next()?;
    (!version.is_empty()
        && version.len() <= 40
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+')))
    .then(|| version.to_string())
}

fn valid_date(d: &str) -> Result<(), ApiError> {
    if !crate::domain::zone::is_date(d) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::ValidationFailed,
            "date must be YYYY-MM-DD",
        ));
    }
    Ok(())
}

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
    ),
    responses(
        (status = 200, description = "The route", body = Manifest,
            headers(("ETag" = String, description = "Send it back in `If-None-Match`"))),
        (status = 304, description = "Not changed since the `ETag` in `If-None-Match`",
            headers(("ETag" = String, description = "The same `ETag`"))),
        (status = 400, description = errors::BAD_DATE, body = ErrorBody),
        (status = 401, description = errors::NO_DEVICE, body = ErrorBody),
        (status = 429, description = errors::DEVICE_RATE, body = ErrorBody),
    )
)]
async fn manifest(
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
    let now = state.now();
    if version.is_some() || device.last_seen_at.is_none_or(|t| now - t > SEEN_EVERY_MS) {
        db(&state, move |s| {
            s.note_manifest_request(device_id, version.as_deref(), now)
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
async fn verify(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
    StrictJson(req): StrictJson<VerifyRequest>,
) -> Result<Json<doorstep_protocol::wire::VerifyOutcome>, ApiError> {
    let now = state.now();
    let parcel = req.parcel_id;
    let outcome = db(&state, move |s| {
        s.verify(&device, req.parcel_id, &req.code, now)
    })
    .await?;
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
async fn resend(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
    StrictJson(req): StrictJson<ResendRequest>,
) -> Result<Json<doorstep_protocol::wire::ResendResponse>, ApiError> {
    let now = state.now();
    let out = db(&state, move |s| s.resend(&device, req.parcel_id, now)).await?;
    state.outbox_wake.notify_one();
    Ok(Json(out))
}

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
        (status = 422, description = "`validation_failed`: more than 1000 records, or an `app_version` longer than 40 characters", body = ErrorBody),
        (status = 429, description = errors::DEVICE_RATE, body = ErrorBody),
    )
)]
async fn sync(
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
struct PhotoBytes(Vec<u8>);

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
        (status = 409, description = "`conflict`: the photo could not be stored", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the photo is larger than the server accepts", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many requests from this phone, or its daily photo quota is used up; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
async fn put_photo(
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
    let dir = state.config.data_dir.join("photos");
    let now = state.now();
    let size = body.len();
    limits::photo_quota(&state, device.device_id, &sha, size, now).await?;
    let sha2 = sha.clone();
    let already_present = db(&state, move |s| {
        let path = dir.join(&sha2);
        if !path.exists() {
            crate::sys::secrets::create_private_dir(&dir)
                .map_err(|e| StoreError::Conflict(format!("photo store: {e}")))?;
            let tmp = dir.join(format!(
                "{sha2}.tmp-{}",
                hex::encode(crate::sys::secrets::random_bytes::<4>())
            ));
            let write = || -> std::io::Result<()> {
                use std::io::Write;
                let mut f = crate::sys::secrets::create_private_file(&tmp)?;
                f.write_all(&body)?;
                f.sync_all()?;
                std::fs::rename(&tmp, &path)
            };
            if let Err(e) = write() {
                tracing::error!(error = %e, "photo write failed");
                return Err(StoreError::Conflict("the photo could not be stored".into()));
            }
        }
        s.record_photo(&sha2, size, device.device_id, now)
    })
    .await?;
    Ok(Json(PhotoUploadResponse {
        sha256: sha,
        already_present,
    }))
}

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
async fn create_parcel(
    State(state): State<AppState>,
    ShipperCaller(shipper): ShipperCaller,
    StrictJson(req): StrictJson<CreateParcelRequest>,
) -> Result<(StatusCode, Json<doorstep_protocol::wire::ParcelView>), ApiError> {
    let now = state.now();
    let created = db(&state, move |s| s.create_parcel(&shipper, &req, now)).await?;
    tracing::info!(parcel = %created.view.parcel_id, code_required = created.view.decision.code_required, "parcel created");
    state.outbox_wake.notify_one();
    Ok((StatusCode::CREATED, Json(created.view)))
}

fn parse_id<T: std::str::FromStr>(s: &str, what: &'static str) -> Result<T, ApiError> {
    s.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("{what} not found"),
        )
    })
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
async fn get_parcel(
    State(state): State<AppState>,
    ShipperCaller(shipper): ShipperCaller,
    StrictPath(id): StrictPath<String>,
) -> Result<Json<doorstep_protocol::wire::ParcelView>, ApiError> {
    let id: ParcelId = parse_id(&id, "parcel")?;
    Ok(Json(
        db(&state, move |s| s.parcel(id, Some(&shipper))).await?,
    ))
}

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
async fn admin_parcel(
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
async fn admin_courier(
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
async fn admin_shipper(
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
async fn admin_enrollment(
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
async fn admin_devices(
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
async fn admin_revoke(
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
async fn admin_accept_chain(
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
async fn admin_deliveries(
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
async fn admin_outbox(
    State(state): State<AppState>,
    _: AdminCaller,
) -> Result<Json<Vec<doorstep_protocol::wire::OutboxEntry>>, ApiError> {
    Ok(Json(db(&state, |s| s.outbox()).await?))
}

/// Answer to `POST /v1/admin/stops/{id}/new-code`.
#[derive(Debug, serde::Serialize, ToSchema)]
struct NewCodeResponse {
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
async fn admin_new_code(
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
async fn dev_outbox(
    State(state): State<AppState>,
) -> Result<Json<Vec<doorstep_protocol::wire::DevMessage>>, ApiError> {
    demo_only(&state)?;
    Ok(Json(db(&state, |s| s.dev_messages()).await?))
}

//! The release channel over HTTP: publish (a streamed upload or a link), the channels, a
//! release's rollout, the minimum version, the download of a stored file, and the install
//! link a new phone's QR leads to. Thin over [`crate::releases`] (the rules) and the store.

use std::path::Path;

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Json};
use base64::Engine as _;
use doorstep_protocol::wire::{
    ErrorBody, ErrorCode, MinimumVersion, Platform, ReleaseChange, ReleaseChannel, ReleaseView,
};
use tower::ServiceExt as _;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::releases::{self as rules, FileKind, parse_platform, parse_version};
use crate::http::AppState;
use crate::http::middleware::limits::RequestDeadline;
use crate::http::openapi::errors;
use crate::http::release_upload::publish_form;
use crate::http::{AdminCaller, ApiError, ReleasePublisher, StrictJson, StrictPath, db};

/// The JSON routes (described in the OpenAPI document).
pub fn api_routes(state: &AppState) -> OpenApiRouter<AppState> {
    let upload_limit = usize::try_from(state.config.max_release_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(1024 * 1024);
    OpenApiRouter::new()
        .routes(routes!(publish_release, list_releases))
        .layer(DefaultBodyLimit::max(upload_limit))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(change_release, delete_release))
                .routes(routes!(set_minimum))
                .routes(routes!(release_file))
                .layer(DefaultBodyLimit::max(state.config.max_json_bytes)),
        )
}

/// `GET /install/{platform}`: where a phone that scans the fleet page's install QR goes.
pub fn page_routes() -> axum::Router<AppState> {
    axum::Router::new().route("/install/{platform}", get(install))
}

/// The multipart form of `POST /v1/admin/releases`.
#[derive(ToSchema)]
#[allow(dead_code)] // only described: the handler reads the form field by field
struct ReleaseUpload {
    /// `android`, `ios`, `linux`, `macos` or `windows`.
    platform: String,
    /// SemVer, above every release of the platform (e.g. `1.4.0`).
    version: String,
    /// Share of devices offered it at once, 0–100 (default 100).
    rollout_percent: Option<u8>,
    /// An `https` link (App Store, TestFlight, Play): for iOS, macOS and Windows, or instead of
    /// a file.
    url: Option<String>,
    /// The build: an APK for Android, an AppImage or `.deb` for Linux. Streamed to disk.
    #[schema(value_type = Option<String>, format = Binary)]
    file: Option<Vec<u8>>,
}

/// Publish a release
///
/// A multipart form with `platform`, `version`, optional `rollout_percent` and either `file` (an
/// upload, streamed to disk and stored by its SHA-256) or `url` (a store or TestFlight link).
/// The admin token or a release token may publish. Nothing is stored unless every check
/// passes: the file is what its platform installs, it is not larger than the server takes, and
/// the version is SemVer and above every release of the platform.
#[utoipa::path(
    post,
    path = "/v1/admin/releases",
    tag = "admin",
    security(("admin" = []), ("release" = [])),
    request_body(content = ReleaseUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Published", body = ReleaseView),
        (status = 400, description = "`bad_request`: not a multipart form, an unknown or repeated field, or a field that is not text", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no or wrong admin or release token", body = ErrorBody),
        (status = 409, description = "`conflict`: the version is not above the platform's newest release", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the file is larger than the server takes (`--max-release-mb`)", body = ErrorBody),
        (status = 422, description = "`validation_failed`: an unknown platform, a version that is not SemVer, a rollout outside 0–100, neither or both of file and url, a link that is not https, or a file that is not what the platform installs", body = ErrorBody),
    )
)]
async fn publish_release(
    State(state): State<AppState>,
    publisher: ReleasePublisher,
    Extension(deadline): Extension<RequestDeadline>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<ReleaseView>), ApiError> {
    let view = publish_form(&state, publisher, &deadline, form).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The release channels
///
/// Every platform that has releases or a minimum: the minimum, the release a device that is
/// in every rollout is offered, and each release (newest first) with its rollout and how many
/// devices run it.
#[utoipa::path(
    get,
    path = "/v1/admin/releases",
    tag = "admin",
    security(("admin" = [])),
    responses(
        (status = 200, description = "The channels", body = Vec<ReleaseChannel>),
        (status = 401, description = errors::NO_ADMIN, body = ErrorBody),
    )
)]
async fn list_releases(
    State(state): State<AppState>,
    _: AdminCaller,
) -> Result<Json<Vec<ReleaseChannel>>, ApiError> {
    let public_url = state.config.public_url.clone();
    Ok(Json(
        db(&state, move |s| s.release_channels(&public_url)).await?,
    ))
}

/// Path of one release.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
struct ReleasePath {
    /// `android`, `ios`, `linux`, `macos` or `windows`.
    platform: String,
    /// Its SemVer version.
    version: String,
}

/// Change a release's rollout
///
/// Raise the rollout percentage (it only grows, so a device once offered the release stays
/// offered it), pause or resume, withdraw (devices are offered the previous release again) or
/// restore.
#[utoipa::path(
    patch,
    path = "/v1/admin/releases/{platform}/{version}",
    tag = "admin",
    security(("admin" = [])),
    params(ReleasePath),
    request_body = ReleaseChange,
    responses(
        (status = 200, description = "The release as it is now", body = ReleaseView),
        (status = 400, description = errors::BAD_JSON, body = ErrorBody),
        (status = 401, description = errors::NO_ADMIN, body = ErrorBody),
        (status = 404, description = "`not_found`: no such release", body = ErrorBody),
        (status = 409, description = "`conflict`: a lower rollout than now, or a withdrawal that would leave no release at or above the minimum", body = ErrorBody),
        (status = 413, description = errors::TOO_LARGE, body = ErrorBody),
        (status = 415, description = errors::NOT_JSON, body = ErrorBody),
        (status = 422, description = "`validation_failed`: an unknown platform, a version that is not SemVer, or a rollout above 100", body = ErrorBody),
    )
)]
async fn change_release(
    State(state): State<AppState>,
    _: AdminCaller,
    StrictPath(path): StrictPath<ReleasePath>,
    StrictJson(change): StrictJson<ReleaseChange>,
) -> Result<Json<ReleaseView>, ApiError> {
    let platform = parse_platform(&path.platform).map_err(unprocessable)?;
    let version = parse_version(&path.version).map_err(unprocessable)?;
    let public_url = state.config.public_url.clone();
    let now = state.now();
    Ok(Json(
        db(&state, move |s| {
            s.change_release(
                platform,
                &version,
                &change,
                &public_url,
                "admin API (admin token)",
                now,
            )
        })
        .await?,
    ))
}

/// Delete a withdrawn release
///
/// Only a withdrawn release can be deleted (withdraw it first). Its version then no longer
/// counts, so the fleet can publish below it again; its file is removed when no other release
/// serves it.
#[utoipa::path(
    delete,
    path = "/v1/admin/releases/{platform}/{version}",
    tag = "admin",
    security(("admin" = [])),
    params(ReleasePath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = errors::NO_ADMIN, body = ErrorBody),
        (status = 404, description = "`not_found`: no such release", body = ErrorBody),
        (status = 409, description = "`conflict`: the release is not withdrawn", body = ErrorBody),
        (status = 422, description = "`validation_failed`: an unknown platform or a version that is not SemVer", body = ErrorBody),
    )
)]
async fn delete_release(
    State(state): State<AppState>,
    _: AdminCaller,
    StrictPath(path): StrictPath<ReleasePath>,
) -> Result<StatusCode, ApiError> {
    let platform = parse_platform(&path.platform).map_err(unprocessable)?;
    let version = parse_version(&path.version).map_err(unprocessable)?;
    let now = state.now();
    let unused = db(&state, move |s| {
        s.delete_release(platform, &version, "admin API (admin token)", now)
    })
    .await?;
    if let Some(sha) = unused
        && let Err(e) = state.config.releases().remove(&sha)
    {
        tracing::warn!(error = %e, "a deleted release's file could not be removed");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Path of a platform.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
struct PlatformPath {
    /// `android`, `ios`, `linux`, `macos` or `windows`.
    platform: String,
}

/// Set the minimum supported version
///
/// Devices below it show the blocking "update required" screen (they still send the
/// deliveries they recorded). It may not be above every release that is not withdrawn;
/// `null` clears it.
#[utoipa::path(
    put,
    path = "/v1/admin/releases/{platform}/minimum",
    tag = "admin",
    security(("admin" = [])),
    params(PlatformPath),
    request_body = MinimumVersion,
    responses(
        (status = 200, description = "The platform's channel as it is now", body = ReleaseChannel),
        (status = 400, description = errors::BAD_JSON, body = ErrorBody),
        (status = 401, description = errors::NO_ADMIN, body = ErrorBody),
        (status = 413, description = errors::TOO_LARGE, body = ErrorBody),
        (status = 415, description = errors::NOT_JSON, body = ErrorBody),
        (status = 422, description = "`validation_failed`: an unknown platform, a version that is not SemVer, or a minimum above every release that is not withdrawn", body = ErrorBody),
    )
)]
async fn set_minimum(
    State(state): State<AppState>,
    _: AdminCaller,
    StrictPath(path): StrictPath<PlatformPath>,
    StrictJson(body): StrictJson<MinimumVersion>,
) -> Result<Json<ReleaseChannel>, ApiError> {
    let platform = parse_platform(&path.platform).map_err(unprocessable)?;
    let minimum = body
        .minimum
        .as_deref()
        .map(parse_version)
        .transpose()
        .map_err(unprocessable)?;
    let public_url = state.config.public_url.clone();
    let now = state.now();
    let channels = db(&state, move |s| {
        s.set_minimum_version(platform, minimum.as_ref(), "admin API (admin token)", now)?;
        s.release_channels(&public_url)
    })
    .await?;
    Ok(Json(
        channels
            .into_iter()
            .find(|c| c.platform == platform)
            .unwrap_or(ReleaseChannel {
                platform,
                minimum: None,
                current: None,
                releases: Vec::new(),
            }),
    ))
}

/// Path of a stored release file.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
struct FilePath {
    /// The file's SHA-256, 64 lower-case hex digits.
    sha256: String,
}

/// Download a release file
///
/// Public, so a phone's browser (or a new phone that scanned the install QR) can fetch it. The
/// file's SHA-256 is in `Repr-Digest` (RFC 9530) and `X-Checksum-Sha256`; `Range` requests
/// resume a download cut by a poor link.
#[utoipa::path(
    get,
    path = "/v1/releases/files/{sha256}",
    tag = "public",
    params(FilePath),
    responses(
        (status = 200, description = "The file",
            content(
                (Vec<u8> = "application/vnd.android.package-archive"),
                (Vec<u8> = "application/vnd.debian.binary-package"),
                (Vec<u8> = "application/octet-stream"),
            ),
            headers(
                ("Repr-Digest" = String, description = "`sha-256=:<base64>:`"),
                ("X-Checksum-Sha256" = String, description = "The SHA-256 in hex"),
            )),
        (status = 400, description = errors::BAD_PATH, body = ErrorBody),
        (status = 404, description = "`not_found`: no release has this file", body = ErrorBody),
        (status = 410, description = "`not_found`: the release was withdrawn", body = ErrorBody),
    )
)]
async fn release_file(
    State(state): State<AppState>,
    StrictPath(path): StrictPath<FilePath>,
    req: Request,
) -> Result<Response, ApiError> {
    let sha = path.sha256;
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no release has this file",
        )
    };
    if sha.len() != 64 || !sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(not_found());
    }
    let key = sha.clone();
    let Some(release) = db(&state, move |s| s.release_file(&key)).await? else {
        let key = sha.clone();
        if db(&state, move |s| s.release_file_kept(&key)).await? {
            return Err(ApiError::new(
                StatusCode::GONE,
                ErrorCode::NotFound,
                "this release was withdrawn by the fleet manager; open the app for the current one",
            ));
        }
        return Err(not_found());
    };
    let file = state.config.releases().path(&sha);
    let kind = sniff(release.platform, &file).await;
    let mut res = match tower_http::services::ServeFile::new(&file)
        .oneshot(req)
        .await
    {
        Ok(r) => r.map(Body::new),
        Err(e) => match e {},
    };
    if res.status() == StatusCode::NOT_FOUND {
        tracing::error!(file = %file.display(), "a published release file is missing on this node");
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "the release file is missing on this server node; the fleet manager must copy it \
             into the releases folder every node shares (DATA_DIR/releases), or publish a new version",
        ));
    }
    let digest = hex::decode(&sha).unwrap_or_default();
    let h = res.headers_mut();
    let mut set = |name: header::HeaderName, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set(
        header::CONTENT_TYPE,
        kind.map_or("application/octet-stream", FileKind::content_type)
            .to_string(),
    );
    set(
        header::CONTENT_DISPOSITION,
        format!(
            "attachment; filename=\"doorstep-{}.{}\"",
            release.version,
            kind.map_or("bin", FileKind::extension)
        ),
    );
    set(
        header::HeaderName::from_static("repr-digest"),
        format!(
            "sha-256=:{}:",
            base64::engine::general_purpose::STANDARD.encode(&digest)
        ),
    );
    set(
        header::HeaderName::from_static("x-checksum-sha256"),
        sha.clone(),
    );
    set(header::ETAG, format!("\"{sha}\""));
    set(header::CACHE_CONTROL, "no-cache".into());
    Ok(res)
}

/// The release a new phone of this platform installs: a redirect to its file or link.
async fn install(
    State(state): State<AppState>,
    axum::extract::Path(platform): axum::extract::Path<String>,
) -> Response {
    let plain = |status: StatusCode, text: &str| {
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            text.to_string(),
        )
            .into_response()
    };
    let Ok(platform) = parse_platform(&platform) else {
        return plain(
            StatusCode::NOT_FOUND,
            "No such platform: use android, ios or linux.",
        );
    };
    let public_url = state.config.public_url.clone();
    match db(&state, move |s| s.platform_releases(platform)).await {
        Ok((releases, minimum)) => match rules::for_new_device(&releases, minimum.as_ref()) {
            Some(r) => Redirect::to(&r.url(&public_url)).into_response(),
            None => plain(
                StatusCode::NOT_FOUND,
                "The fleet has not published a build for this platform yet. Ask your fleet manager.",
            ),
        },
        Err(e) => e.into_response(),
    }
}

/// The kind of a stored file, from its first bytes (it was checked when it was published).
async fn sniff(platform: Platform, path: &Path) -> Option<FileKind> {
    let mut head = [0u8; 8];
    let mut f = tokio::fs::File::open(path).await.ok()?;
    let n = tokio::io::AsyncReadExt::read(&mut f, &mut head)
        .await
        .ok()?;
    let head = &head[..n];
    match platform {
        Platform::Android if head.starts_with(b"PK") => Some(FileKind::Apk),
        Platform::Linux if head.starts_with(b"\x7fELF") => Some(FileKind::AppImage),
        Platform::Linux if head.starts_with(b"!<arch>") => Some(FileKind::Deb),
        _ => None,
    }
}

fn unprocessable(message: String) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::ValidationFailed,
        message,
    )
}

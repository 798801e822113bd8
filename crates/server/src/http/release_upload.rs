//! A release published by a form: the multipart upload both the admin API
//! (`POST /v1/admin/releases`) and the fleet page's upload forms take, read field by field,
//! the file streamed to disk and checked, nothing kept unless every check passes. Below the API
//! and the pages, so that both use it without knowing each other.

use std::path::PathBuf;

use axum::extract::Multipart;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::http::StatusCode;
use doorstep_protocol::wire::{ErrorCode, Platform, ReleaseView};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::domain::releases::{self as rules, parse_platform, parse_version, platform_name};
use crate::http::middleware::limits::RequestDeadline;
use crate::http::{ApiError, AppState, ReleasePublisher, db};
use crate::store::NewRelease;
use crate::sys::blobs::Blobs;

/// Publishes the release a multipart form describes (the API's and the fleet page's upload):
/// the file is streamed to disk and checked, and nothing is kept unless every check passes.
/// The caller is authenticated as a publisher: the request gets the release upload's time
/// (`deadline`), as nobody else's does.
/// Long because it is one pass over the streamed form's fields followed by the checks in
/// the order their messages matter to a build runner; each is a few lines.
pub(crate) async fn publish_form(
    state: &AppState,
    publisher: ReleasePublisher,
    deadline: &RequestDeadline,
    form: Result<Multipart, MultipartRejection>,
) -> Result<ReleaseView, ApiError> {
    let ReleasePublisher { actor, token } = publisher;
    deadline.extend(state.config.limits.release_upload_timeout);
    let mut form = form.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            format!(
                "send a multipart/form-data form with platform, version and file or url ({})",
                e.body_text()
            ),
        )
    })?;
    let blobs = state.config.releases();
    let (mut platform, mut version, mut rollout, mut link): (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ) = (None, None, None, None);
    let mut upload: Option<Upload> = None;
    while let Some(field) = form.next_field().await.map_err(|e| form_error(state, e))? {
        let name = field.name().unwrap_or("").to_string();
        let slot = match name.as_str() {
            "platform" => &mut platform,
            "version" => &mut version,
            "rollout_percent" => &mut rollout,
            "url" => &mut link,
            "file" => {
                if upload.is_some() {
                    return Err(bad_field("send one file"));
                }
                // Platform and version come first and are checked before a byte of the
                // file is written to disk: a refused upload costs no disk.
                let (Some(p), Some(v)) = (&platform, &version) else {
                    return Err(bad_field(
                        "send the platform and version fields before the file",
                    ));
                };
                check_release_version(state, p, v).await?;
                upload = Some(Upload::receive(state, &blobs, field).await?);
                continue;
            }
            other => {
                return Err(bad_field(&format!(
                    "unknown field {other:?}: the form takes platform, version, \
                     rollout_percent, url and file"
                )));
            }
        };
        if slot.is_some() {
            return Err(bad_field(&format!("the field {name} is sent twice")));
        }
        *slot = Some(text_field(field).await?);
    }
    let invalid = |m: String| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
            m,
        )
    };
    let platform = parse_platform(platform.as_deref().ok_or_else(|| {
        invalid("the form has no platform (android, ios, linux, macos or windows)".into())
    })?)
    .map_err(invalid)?;
    let version = parse_version(
        version
            .as_deref()
            .ok_or_else(|| invalid("the form has no version (SemVer, e.g. 1.4.0)".into()))?,
    )
    .map_err(invalid)?;
    // A release token reaches a canary share at most; the fleet manager raises it.
    let cap = if token {
        state.config.release_token_max_rollout.min(100)
    } else {
        100
    };
    let rollout_percent = match rollout.as_deref().map(str::trim) {
        None | Some("") => cap,
        Some(r) => r.parse::<u8>().ok().filter(|p| *p <= 100).ok_or_else(|| {
            invalid(format!(
                "rollout_percent {r:?} is not a whole number from 0 to 100"
            ))
        })?,
    };
    if rollout_percent > cap {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!(
                "a release token publishes at most to {cap} % of devices; publish at {cap} % \
                 or less, and the fleet manager raises the rollout"
            ),
        ));
    }
    let link = match (
        &upload,
        link.as_deref().map(str::trim).filter(|l| !l.is_empty()),
    ) {
        (Some(_), Some(_)) => return Err(invalid("send a file or a url, not both".into())),
        (None, None) => {
            return Err(invalid(format!(
                "send the build as file (an {}) or a store / TestFlight link as url",
                match platform {
                    Platform::Android => "APK",
                    Platform::Linux => "AppImage or .deb",
                    _ => "https link",
                }
            )));
        }
        (None, Some(l)) => Some(
            rules::check_link(
                l,
                &state.config.own_host(),
                &state.config.release_link_hosts,
            )
            .map_err(invalid)?,
        ),
        (Some(_), None) => None,
    };
    // The version was checked before the file was received (and the store checks it again in
    // the publishing transaction, which is what a link release meets); now the file's
    // contents: nothing is kept on a refusal.
    let (file, signing_cert) = match upload {
        Some(up) => {
            let kind_path = up.path.clone();
            let cert = tokio::task::spawn_blocking(move || {
                rules::check_file(platform, &kind_path)?;
                rules::signing_cert_of(platform, &kind_path)
            })
            .await
            .map_err(|_| ApiError::internal())?
            .map_err(invalid)?;
            (Some(up.keep(&blobs).await?), cert)
        }
        None => (None, None),
    };
    let new = NewRelease {
        platform,
        version,
        file,
        link,
        rollout_percent,
        signing_cert,
        pinned_cert: state.config.android_signing_cert.clone(),
    };
    let public_url = state.config.public_url.clone();
    let now = state.now();
    let view = db(state, move |s| {
        crate::ops::releases::publish_stored(s, &blobs, &new, &public_url, &actor, now)
    })
    .await?;
    tracing::info!(platform = platform_name(view.platform), version = %view.version, "release published");
    Ok(view)
}

/// The form's platform and version, checked before its file is received: known, SemVer, and
/// above every release of the platform.
async fn check_release_version(
    state: &AppState,
    platform: &str,
    version: &str,
) -> Result<(), ApiError> {
    let invalid = |m: String| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
            m,
        )
    };
    let platform = parse_platform(platform).map_err(invalid)?;
    let version = parse_version(version).map_err(invalid)?;
    let (existing, _) = db(state, move |s| s.platform_releases(platform)).await?;
    rules::check_new_version(&existing, &version)
        .map_err(|m| ApiError::new(StatusCode::CONFLICT, ErrorCode::Conflict, m))
}

/// An uploaded file on its way to `releases/<sha256>`: written to a temporary file in the same
/// folder (never held whole in memory), hashed as it arrives. Dropped before [`Upload::keep`],
/// the temporary file is removed.
struct Upload {
    path: PathBuf,
    sha256: String,
    size: u64,
    kept: bool,
}

impl Upload {
    async fn receive(
        state: &AppState,
        blobs: &Blobs,
        mut field: Field<'_>,
    ) -> Result<Upload, ApiError> {
        let (path, file) = blobs.temp().map_err(io_error)?;
        let mut up = Upload {
            path,
            sha256: String::new(),
            size: 0,
            kept: false,
        };
        let mut out = tokio::fs::File::from_std(file);
        let mut hash = Sha256::new();
        let max = state.config.max_release_bytes;
        while let Some(chunk) = field.chunk().await.map_err(|e| form_error(state, e))? {
            up.size += chunk.len() as u64;
            if up.size > max {
                return Err(too_large(max));
            }
            hash.update(&chunk);
            out.write_all(&chunk).await.map_err(io_error)?;
        }
        out.sync_all().await.map_err(io_error)?;
        if up.size == 0 {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::ValidationFailed,
                "the file is empty",
            ));
        }
        up.sha256 = hex::encode(hash.finalize());
        Ok(up)
    }

    /// Moves the file to its place, `releases/<sha256>`; the same file published before is
    /// kept once.
    async fn keep(mut self, blobs: &Blobs) -> Result<(String, u64), ApiError> {
        let (blobs, tmp, sha) = (blobs.clone(), self.path.clone(), self.sha256.clone());
        tokio::task::spawn_blocking(move || blobs.place(&tmp, &sha))
            .await
            .map_err(|_| ApiError::internal())?
            .map_err(io_error)?;
        self.kept = true;
        Ok((self.sha256.clone(), self.size))
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn io_error(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "storing a release file failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Unavailable,
        "the server could not store the file (disk full or not writable); nothing was published, retry later",
    )
    .with_retry_after(30)
}

fn too_large(max: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        format!(
            "the file is larger than the {} MB this server takes for a release (--max-release-mb); nothing was published",
            max / (1024 * 1024)
        ),
    )
}

fn form_error(state: &AppState, e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large(state.config.max_release_bytes);
    }
    bad_field(&format!("the form could not be read: {}", e.body_text()))
}

fn bad_field(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
}

/// A text field of at most 2,000 bytes (read chunk by chunk: a long one is refused before it
/// is held).
async fn text_field(mut field: Field<'_>) -> Result<String, ApiError> {
    let name = field.name().unwrap_or("").to_string();
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| {
        bad_field(&format!(
            "the field {name} could not be read: {}",
            e.body_text()
        ))
    })? {
        if bytes.len() + chunk.len() > 2000 {
            return Err(bad_field(&format!(
                "the field {name} is longer than 2000 bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| bad_field(&format!("the field {name} is not UTF-8 text")))
}

//! Errors as `{code, message}` with a stable code and an HTTP status; internal details go to
//! the log only.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use doorstep_protocol::wire::{ErrorBody, ErrorCode};

use crate::store::StoreError;

/// An API error: status, stable code, human message. Internal details go to the log only.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    /// Its HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// A new error.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    /// Adds `Retry-After` (seconds): when a refused request can succeed (429, 503).
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs.max(1));
        self
    }

    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "the server failed; the details are in its log",
        )
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "missing or invalid credentials; send Authorization: Bearer <token>",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: self.message,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            retry_after(response.headers_mut(), secs);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        use StatusCode as S;
        match e {
            StoreError::Db(err) => {
                if err.is_unavailable() || err.is_retryable() {
                    tracing::warn!(error = %err, "storage busy or unreachable");
                    return Self::new(
                        S::SERVICE_UNAVAILABLE,
                        ErrorCode::Unavailable,
                        "the database is busy or unreachable; nothing was changed, retry shortly",
                    )
                    .with_retry_after(2);
                }
                tracing::error!(error = %err, "storage error");
                Self::internal()
            }
            StoreError::NotFound(what) => Self::new(
                S::NOT_FOUND,
                ErrorCode::NotFound,
                format!("{what} not found"),
            ),
            StoreError::Forbidden(m) => Self::new(S::FORBIDDEN, ErrorCode::Forbidden, m),
            StoreError::Conflict(m) => Self::new(S::CONFLICT, ErrorCode::Conflict, m),
            StoreError::Validation(m) => {
                Self::new(S::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed, m)
            }
            e @ StoreError::EnrollmentInvalid => {
                Self::new(S::UNAUTHORIZED, ErrorCode::EnrollmentInvalid, e.to_string())
            }
            e @ StoreError::ResendTooSoon { .. } => Self::new(
                S::TOO_MANY_REQUESTS,
                ErrorCode::ResendTooSoon,
                e.to_string(),
            ),
            e @ StoreError::CodeFormat(_) => Self::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::CodeFormat,
                e.to_string(),
            ),
            e @ StoreError::CommitFailed => {
                tracing::error!("group commit failed");
                Self::new(
                    S::SERVICE_UNAVAILABLE,
                    ErrorCode::Unavailable,
                    e.to_string(),
                )
            }
            e @ StoreError::CodeNotRequired => {
                Self::new(S::CONFLICT, ErrorCode::CodeNotRequired, e.to_string())
            }
            // Only at start; a running server never migrates.
            e @ (StoreError::DatabaseTooNew { .. }
            | StoreError::Migration(_)
            | StoreError::Unusable(_)
            | StoreError::TaskFailed) => {
                tracing::error!(error = %e, "schema");
                Self::internal()
            }
        }
    }
}

/// Sets `Retry-After` (seconds, at least 1).
pub fn retry_after(headers: &mut axum::http::HeaderMap, secs: u64) {
    headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
}

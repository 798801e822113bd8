//! Request input the resources share: dates, ids, the app version header.

use axum::http::{HeaderMap, StatusCode, header};
use doorstep_protocol::wire::ErrorCode;
use utoipa::IntoParams;

use crate::http::ApiError;

#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct DateQuery {
    /// The delivery day, `YYYY-MM-DD` (the manifest: today in the fleet's time zone if not
    /// given; the records: every day if not given).
    #[param(format = Date)]
    pub(super) date: Option<String>,
}

/// The app version in a courier app's `User-Agent: doorstep-courier/<version>`, if it is one.
pub(super) fn courier_app_version(headers: &HeaderMap) -> Option<String> {
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

pub(super) fn valid_date(d: &str) -> Result<(), ApiError> {
    if !crate::domain::zone::is_date(d) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::ValidationFailed,
            "date must be YYYY-MM-DD",
        ));
    }
    Ok(())
}

pub(super) fn parse_id<T: std::str::FromStr>(s: &str, what: &'static str) -> Result<T, ApiError> {
    s.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("{what} not found"),
        )
    })
}

//! The dispatch server's `/v1` API, as the device uses it.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use doorstep_protocol::wire::{
    EnrollRequest, EnrollResponse, ErrorBody, ErrorCode, Manifest, OLDEST_UNSENT_HEADER,
    ResendRequest, ResendResponse, SyncResponse, TokenKeysResponse, UNSENT_RECORDS_HEADER,
    VerifyOutcome, VerifyRequest,
};
use reqwest::{StatusCode, header};

use crate::error::CourierError;

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No answer: refused, reset, timed out, cut mid-answer.
    #[error("the server could not be reached: {0}")]
    Unreachable(#[source] reqwest::Error),
    /// The server answered with an error.
    #[error("the server answered {status}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The stable code, if the body had one.
        code: Option<ErrorCode>,
        /// The server's message.
        message: String,
    },
    /// The answer could not be understood.
    #[error("the server's answer could not be read: {0}")]
    Decode(String),
}

impl ApiError {
    /// Whether the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            Self::Status { status, code, .. } => {
                code.is_some_and(ErrorCode::is_retryable)
                    || *status == 429
                    || (*status >= 500 && code.is_none())
            }
            Self::Decode(_) => false,
        }
    }

    /// Whether the server was never heard from (so the device is offline, as far as it knows).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable(_))
    }
}

impl From<ApiError> for CourierError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Unreachable(_) => CourierError::Network,
            ApiError::Status {
                code,
                status,
                message,
            } => match code {
                Some(ErrorCode::DeviceRevoked | ErrorCode::Unauthorized) => {
                    CourierError::DeviceRevoked
                }
                Some(ErrorCode::UpdateRequired) => CourierError::UpdateRequired,
                Some(ErrorCode::EnrollmentInvalid) => CourierError::EnrollmentInvalid(message),
                _ if status == 401 => CourierError::DeviceRevoked,
                _ => CourierError::Server(format!("HTTP {status}")),
            },
            ApiError::Decode(detail) => {
                tracing::warn!(%detail, "unreadable server answer");
                CourierError::Server("unreadable answer".into())
            }
        }
    }
}

/// A manifest download's result.
#[derive(Debug)]
pub enum ManifestFetch {
    /// The stored copy is current.
    NotModified,
    /// A new manifest, with its ETag.
    Fresh(Manifest, Option<String>),
}

/// A client bound to one server (and, once enrolled, one device token).
#[derive(Debug, Clone, Copy)]
pub struct Api<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
    token: Option<&'a str>,
    server_takes_gzip: Option<&'a AtomicBool>,
}

impl<'a> Api<'a> {
    /// A client for `base` (no trailing slash needed).
    pub fn new(http: &'a reqwest::Client, base: &'a str, token: Option<&'a str>) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/'),
            token,
            server_takes_gzip: None,
        }
    }

    /// Keeps `flag` up to date from every answer: whether the server takes gzipped request
    /// bodies, as its `Accept-Encoding` answer header says (RFC 7694; older servers send none).
    /// [`Api::sync`] gzips its body only while the flag is set.
    pub fn learning_encodings(self, flag: &'a AtomicBool) -> Self {
        Self {
            server_takes_gzip: Some(flag),
            ..self
        }
    }

    fn server_takes_gzip(&self) -> bool {
        self.server_takes_gzip
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ApiError> {
        let resp = req.send().await.map_err(ApiError::Unreachable)?;
        if let Some(flag) = self.server_takes_gzip {
            flag.store(accepts_gzip(resp.headers()), Ordering::Relaxed);
        }
        check(resp).await
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.base));
        match self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// `POST /v1/devices/enroll`.
    pub async fn enroll(&self, body: &EnrollRequest) -> Result<EnrollResponse, ApiError> {
        let resp = self
            .send(
                self.request(reqwest::Method::POST, "/v1/devices/enroll")
                    .json(body),
            )
            .await?;
        decode(resp).await
    }

    /// `GET /v1/manifest?date=` with `If-None-Match`, reporting the phone's `backlog`: the
    /// records it holds unsent and when the oldest was made (Unix ms), which the fleet console
    /// shows.
    pub async fn manifest(
        &self,
        date: &str,
        etag: Option<&str>,
        backlog: (u64, Option<i64>),
    ) -> Result<ManifestFetch, ApiError> {
        let mut req = self
            .request(reqwest::Method::GET, "/v1/manifest")
            .query(&[("date", date)])
            .header(UNSENT_RECORDS_HEADER, backlog.0);
        if let Some(oldest) = backlog.1 {
            req = req.header(OLDEST_UNSENT_HEADER, oldest);
        }
        if let Some(etag) = etag {
            req = req.header(header::IF_NONE_MATCH, etag);
        }
        let resp = self.send(req).await?;
        if resp.status() == StatusCode::NOT_MODIFIED {
            return Ok(ManifestFetch::NotModified);
        }
        let etag = resp
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(ManifestFetch::Fresh(decode(resp).await?, etag))
    }

    /// `GET /.well-known/doorstep-keys`.
    pub async fn token_keys(&self) -> Result<TokenKeysResponse, ApiError> {
        decode(
            self.send(self.request(reqwest::Method::GET, "/.well-known/doorstep-keys"))
                .await?,
        )
        .await
    }

    /// `POST /v1/verify`, with its own (short) timeout.
    pub async fn verify(
        &self,
        body: &VerifyRequest,
        timeout: Duration,
    ) -> Result<VerifyOutcome, ApiError> {
        let req = self
            .request(reqwest::Method::POST, "/v1/verify")
            .json(body)
            .timeout(timeout);
        decode(self.send(req).await?).await
    }

    /// `POST /v1/resend`.
    pub async fn resend(&self, body: &ResendRequest) -> Result<ResendResponse, ApiError> {
        decode(
            self.send(self.request(reqwest::Method::POST, "/v1/resend").json(body))
                .await?,
        )
        .await
    }

    /// `PUT /v1/photos/{sha256}`.
    pub async fn upload_photo(&self, sha256: &str, bytes: Vec<u8>) -> Result<(), ApiError> {
        let req = self
            .request(reqwest::Method::PUT, &format!("/v1/photos/{sha256}"))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes);
        let resp = self.send(req).await?;
        resp.bytes().await.map_err(ApiError::Unreachable)?;
        Ok(())
    }

    /// `POST /v1/sync` with an already-serialised body (the events exactly as signed),
    /// gzipped when the server takes it (see [`Api::learning_encodings`]).
    pub async fn sync(&self, body: String) -> Result<SyncResponse, ApiError> {
        let sync = |body: Vec<u8>| {
            self.request(reqwest::Method::POST, "/v1/sync")
                .header(header::CONTENT_TYPE, "application/json")
                .body(body)
        };
        if self.server_takes_gzip() {
            let req = sync(gzip(body.as_bytes())).header(header::CONTENT_ENCODING, "gzip");
            match self.send(req).await {
                // The server no longer takes gzip (an older one now answers at this address,
                // and refused the body it could not read): the same batch again, plain. Safe,
                // as the server stores each event once.
                Err(ApiError::Status {
                    status: 400 | 415, ..
                }) if !self.server_takes_gzip() => {}
                answer => return decode(answer?).await,
            }
        }
        decode(self.send(sync(body.into_bytes())).await?).await
    }
}

/// Whether an `Accept-Encoding` answer header lists gzip (without `q=0`).
fn accepts_gzip(headers: &header::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q == 0.0))
            });
            coding.eq_ignore_ascii_case("gzip") && !refused
        })
}

/// `bytes` gzipped at the fastest level. A sync batch is a few hundred kilobytes at most, so
/// this runs inline, once per batch while the sync waits. A batch is mostly hex hashes,
/// signatures and ids in JSON; on such data (synthetic records, zlib) the fastest level came
/// out about 5 % larger than the default one, for less of the phone's CPU.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::fast(),
    );
    encoder
        .write_all(bytes)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

/// The answer, or the error it carries.
async fn check(resp: reqwest::Response) -> Result<reqwest::Response, ApiError> {
    let status = resp.status();
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        return Ok(resp);
    }
    let bytes = resp.bytes().await.map_err(ApiError::Unreachable)?;
    let body: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
    Err(ApiError::Status {
        status: status.as_u16(),
        code: body.as_ref().map(|b| b.code),
        message: body
            .map(|b| b.message)
            .unwrap_or_else(|| status.to_string()),
    })
}

async fn decode<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T, ApiError> {
    let bytes = resp.bytes().await.map_err(ApiError::Unreachable)?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode(e.to_string()))
}

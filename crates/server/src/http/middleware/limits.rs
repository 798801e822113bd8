//! Limits on what one client can push, so that nobody who reaches the port can wear the
//! server out for everyone else:
//!
//! - a limit on requests in flight (the connections' own limits are
//!   [`super::connections`]'s), answered `503 unavailable` with `Retry-After` ([`bound_requests`]);
//! - a request timeout that answers `408` with a JSON error instead of hanging;
//! - the unread rest of a body is read and thrown away (up to a cap) before the answer goes
//!   out ([`read_unread_body`]): a client still sending a too-large body then reads its
//!   `413` instead of seeing the connection reset;
//! - rate limits per client address and per device ([`governor`] keyed limiters, GCRA),
//!   answered `429 rate_limited` with `Retry-After`;
//! - the per-device daily photo quota ([`Limits::photo_bytes_per_device_per_day`]);
//! - a body may come gzipped, and every size limit counts the decompressed bytes, so a small
//!   bomb gets its `413` like any large body; other content codings are refused
//!   ([`request_encoding`]). JSON answers and the console's static files go gzipped to clients that ask
//!   ([`json_compression`]).
//!
//! The limiters run on the server's [`Clock`](doorstep_inputs::Clock), so tests move time by hand.

use std::future::poll_fn;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use doorstep_protocol::DeviceId;
use doorstep_protocol::wire::ErrorCode;
use http_body::{Frame, SizeHint};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{And, DefaultPredicate, Predicate};

use crate::config::ServerConfig;
use crate::http::ApiError;
use crate::http::AppState;
use crate::http::error::retry_after;
use crate::http::middleware::limiters::{Wait, too_many};

const DAY_MS: i64 = 24 * 3600 * 1000;

/// The per-device photo quota: over `photos_per_device_per_day` photos or
/// `photo_bytes_per_device_per_day` bytes in the last 24 hours, a new photo is refused with
/// `429 rate_limited` and `Retry-After` (when the oldest photo of the window ages out). 429
/// rather than 413: the photo itself is fine and will be taken later, so the phone keeps it
/// queued and retries (a 413 would say the photo can never be accepted). A photo already
/// stored is not counted again, so retries of an upload always succeed.
pub async fn photo_quota(
    state: &AppState,
    device: DeviceId,
    sha: &str,
    size: usize,
    now: i64,
) -> Result<(), ApiError> {
    let (photos, sha) = (state.config.photos(), sha.to_string());
    let (present, usage) = crate::http::db(state, move |s| {
        Ok((
            photos.contains(&sha),
            s.photo_usage_since(device, now - DAY_MS)?,
        ))
    })
    .await?;
    let l = &state.config.limits;
    let over_count = usage.count >= u64::from(l.photos_per_device_per_day);
    let over_bytes = usage.bytes.saturating_add(size as u64) > l.photo_bytes_per_device_per_day;
    if present || !(over_count || over_bytes) {
        return Ok(());
    }
    tracing::warn!(device = %device, photos = usage.count, bytes = usage.bytes, "photo quota reached");
    let wait = Wait::from_ms(usage.oldest_at.map_or(DAY_MS, |t| t + DAY_MS - now));
    Err(ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::RateLimited,
        format!(
            "this phone has used its photo quota ({} photos or {} in 24 hours); the phone \
             keeps the photo: wait {} and it goes through, or ask the fleet manager to raise \
             the quota if this happens on a normal day",
            l.photos_per_device_per_day,
            bytes_text(l.photo_bytes_per_device_per_day),
            wait.human()
        ),
    )
    .with_retry_after(wait.secs()))
}

fn bytes_text(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{} MB", bytes / (1024 * 1024))
    } else {
        format!("{bytes} bytes")
    }
}

/// The client's address as the limits see it (request extension set by [`client_address`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The address of a request that went through [`client_address`].
    pub fn of(extensions: &axum::http::Extensions) -> IpAddr {
        extensions
            .get::<ClientIp>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0)
    }

    /// The key a limiter counts under: an IPv6 client is counted by its /64 network (one
    /// subscriber gets a whole /64, so single addresses would be free to pick), an
    /// IPv4-mapped address as the IPv4 address.
    pub(crate) fn key(ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(Ipv6Addr::from(
                    u128::from(v6) & 0xffff_ffff_ffff_ffff_0000_0000_0000_0000,
                )),
            },
        }
    }
}

/// The client's address: the peer, or with `trust_forwarded_for` the last
/// `X-Forwarded-For` entry (the one our proxy appended). An entry that does not parse is an
/// error, not skipped: skipping would let a client choose the address it is counted under.
fn client_ip(config: &ServerConfig, req: &Request) -> Result<IpAddr, ApiError> {
    if config.trust_forwarded_for
        && let Some(last) = req.headers().get_all("x-forwarded-for").iter().next_back()
    {
        let entry = last
            .to_str()
            .ok()
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .unwrap_or("");
        return entry
            .parse::<IpAddr>()
            .ok()
            .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadRequest,
                    "the last X-Forwarded-For entry is not an IP address; the reverse proxy \
                     must append the client's address to X-Forwarded-For",
                )
            });
    }
    Ok(req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()))
}

/// Middleware: works out the client's address once ([`ClientIp`]), or answers 400.
pub async fn client_address(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    match client_ip(&state.config, &req) {
        Ok(ip) => {
            req.extensions_mut().insert(ClientIp(ip));
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// Request extension set on `/v1/verify`, so the device is counted against its verify budget.
#[derive(Debug, Clone, Copy)]
pub struct VerifyRoute;

/// Route middleware of `/v1/verify`: the per-address limit.
pub async fn limit_verify(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let ip = ClientIp::key(ClientIp::of(req.extensions()));
    if let Err(wait) = state.limiters.verify_per_address.check(&ip) {
        return too_many(wait, "too many code checks from this address").into_response();
    }
    req.extensions_mut().insert(VerifyRoute);
    next.run(req).await
}

/// Route middleware of enrollment: the per-address limit.
pub async fn limit_enroll(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ip = ClientIp::key(ClientIp::of(req.extensions()));
    if let Err(wait) = state.limiters.enroll_per_address.check(&ip) {
        return too_many(wait, "too many enrollment attempts from this address").into_response();
    }
    next.run(req).await
}

/// Route middleware of the HTML pages: the customer page per address, and failed fleet
/// sign-ins per address. Pages answer HTML, so the refusal is a small page (same status,
/// `Retry-After`).
pub async fn limit_pages(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ip = ClientIp::key(ClientIp::of(req.extensions()));
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    if path.starts_with("/c/") {
        if let Err(wait) = state.limiters.customer_page_per_address.check(&ip) {
            return page_too_many(
                wait,
                "Too many pages were opened from your address.",
                "reload this page",
            );
        }
        return next.run(req).await;
    }
    // A sign-in (or the first owner's setup, which also takes a password) from an address
    // over its failed sign-ins is refused before the password is checked.
    let signing_in = req.method() == axum::http::Method::POST
        && (path == "/fleet/sign-in" || path == "/fleet/setup/{token}");
    if !signing_in {
        return next.run(req).await;
    }
    let lockout = &state.limiters.sign_in_by_address;
    if let Some(wait) = lockout.locked(&ip) {
        return page_too_many(
            wait,
            "Too many failed sign-ins from your address.",
            "sign in again",
        );
    }
    let response = next.run(req).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        tracing::warn!("failed console sign-in");
        if let Some(wait) = lockout.failed(&ip) {
            return page_too_many(
                wait,
                "Too many failed sign-ins from your address.",
                "sign in again",
            );
        }
    }
    response
}

pub(crate) fn page_too_many(wait: Wait, what: &str, then: &str) -> Response {
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        Html(format!(
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>Please wait</title></head>\
             <body><h1>Please wait</h1><p>{what} Wait {} and {then}.</p></body></html>",
            wait.human()
        )),
    )
        .into_response();
    retry_after(r.headers_mut(), wait.secs());
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// When a request must be answered by (request extension set by [`bound_requests`]). A
/// handler that has authenticated a caller allowed to take longer (a publisher uploading a
/// release) moves it with [`RequestDeadline::extend`]; nobody else gets longer than the
/// request timeout, so an unauthenticated upload cannot hold a connection for half an hour.
#[derive(Debug, Clone)]
pub struct RequestDeadline(Arc<tokio::sync::watch::Sender<tokio::time::Instant>>);

impl RequestDeadline {
    fn new(at: tokio::time::Instant) -> Self {
        Self(Arc::new(tokio::sync::watch::Sender::new(at)))
    }

    /// Gives the request until `by` from now (never less than it had).
    pub fn extend(&self, by: Duration) {
        let at = tokio::time::Instant::now() + by;
        self.0.send_if_modified(|current| {
            let later = at > *current;
            if later {
                *current = at;
            }
            later
        });
    }

    /// The time allowed, for messages.
    fn allowed(&self, since: tokio::time::Instant) -> Duration {
        self.0.borrow().saturating_duration_since(since)
    }

    /// Completes when the deadline, as it is then, has passed.
    async fn passed(&self) {
        let mut changes = self.0.subscribe();
        loop {
            let at = *changes.borrow_and_update();
            tokio::select! {
                () = tokio::time::sleep_until(at) => return,
                _ = changes.changed() => {}
            }
        }
    }
}

/// Middleware: at most `max_concurrent_requests` in flight (else `503` + `Retry-After`), each
/// answered within `request_timeout` (else `408`; a [`RequestDeadline`] a handler extended).
/// One semaphore in the state, so the limit holds across routes (axum layers each route
/// separately).
pub async fn bound_requests(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let Ok(_permit) = state.limiters.in_flight.clone().try_acquire_owned() else {
        state.limiters.shed.refused(state.now());
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "the server is busy; retry in a moment",
        )
        .with_retry_after(1)
        .into_response();
    };
    let start = tokio::time::Instant::now();
    let deadline = RequestDeadline::new(start + state.config.limits.request_timeout);
    req.extensions_mut().insert(deadline.clone());
    tokio::select! {
        response = next.run(req) => response,
        () = deadline.passed() => {
            let allowed = deadline.allowed(start);
            tracing::warn!(timeout_ms = allowed.as_millis() as u64, "request timed out");
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::Unavailable,
                format!(
                    "the request took longer than {} s and was stopped; retry, with a smaller \
                     batch on a slow connection",
                    allowed.as_secs_f64().round()
                ),
            )
            .into_response()
        }
    }
}

/// The request body, shared with [`read_unread_body`] so that it can read what the handler
/// left unread once the handler has answered.
struct SharedBody(Arc<Mutex<Option<Body>>>);

impl http_body::Body for SharedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        let slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref().is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref()
            .map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint)
    }
}

/// Middleware: once the handler has answered, reads and throws away what it left of the
/// body (at most `max_discarded_body_bytes`). HTTP/1.1 clients send the whole body before
/// they read the answer; a server that answers early (413, 429) and closes makes the
/// kernel reset the connection, and the client sees a broken connection instead of the error.
/// Except for a caller who is not signed in (`401`): nothing more of its body is read, the
/// connection is closed after the answer, and a stranger cannot make the server read
/// megabytes it will throw away.
pub async fn read_unread_body(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let slot = Arc::new(Mutex::new(Some(body)));
    let mut response = next
        .run(Request::from_parts(
            parts,
            Body::new(SharedBody(slot.clone())),
        ))
        .await;
    let rest = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(body) = rest {
        use http_body::Body as _;
        if response.status() == StatusCode::UNAUTHORIZED {
            if !body.is_end_stream() {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
        } else {
            discard(body, state.config.limits.max_discarded_body_bytes).await;
        }
    }
    response
}

async fn discard(mut body: Body, cap: u64) {
    use http_body::Body as _;
    // A declared length beyond the cap will be cut anyway: do not read any of it.
    if body.is_end_stream() || body.size_hint().lower() > cap {
        return;
    }
    let mut read = 0u64;
    while let Some(Ok(frame)) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        read += frame.data_ref().map_or(0, |d| d.len() as u64);
        if read > cap {
            return;
        }
    }
}

/// The content codings a request body may come in; every answer names them in
/// `Accept-Encoding` (RFC 7694 §3), which is how a phone learns it may gzip its sync batches.
pub const ACCEPTED_ENCODINGS: HeaderValue = HeaderValue::from_static("gzip");

/// Middleware, outside the decompression layer: a body in a coding other than gzip (or
/// identity) is answered `415` with `Accept-Encoding: gzip` and the JSON error body, instead of
/// the decompression layer's empty one. The decompressed body then meets the route's body
/// limit (`DefaultBodyLimit`), whatever its compressed size.
pub async fn request_encoding(req: Request, next: Next) -> Response {
    match req
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(HeaderValue::as_bytes)
    {
        None | Some(b"gzip" | b"identity") => next.run(req).await,
        Some(_) => {
            let mut response = ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::BadRequest,
                "send the body uncompressed or with Content-Encoding: gzip",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::ACCEPT_ENCODING, ACCEPTED_ENCODINGS);
            response
        }
    }
}

/// Which answers [`json_compression`] compresses.
type IsJson = fn(StatusCode, axum::http::Version, &HeaderMap, &axum::http::Extensions) -> bool;

/// Gzips JSON answers and the console's static files (style sheets, scripts, the world
/// basemap) for clients that accept it (tower-http's default predicate on top: not tiny, not
/// already compressed). HTML pages (and CSV downloads) stay uncompressed: a page that shows a secret
/// next to text the visitor chose is what a compression side channel (BREACH) reads.
pub fn json_compression() -> CompressionLayer<And<DefaultPredicate, IsJson>> {
    let is_json: IsJson = |_, _, headers, _| {
        headers.get(header::CONTENT_TYPE).is_some_and(|v| {
            let v = v.as_bytes();
            [
                b"application/json".as_slice(),
                b"application/geo+json",
                b"text/css",
                b"text/javascript",
            ]
            .iter()
            .any(|t| v.starts_with(t))
        })
    };
    CompressionLayer::new()
        .no_br()
        .no_deflate()
        .no_zstd()
        .compress_when(DefaultPredicate::new().and(is_json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_by_their_64_bit_network() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ClientIp::key(a), ClientIp::key(b));
        assert_ne!(ClientIp::key(a), ClientIp::key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(
            ClientIp::key(mapped),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }
}

//! Limits on what one client can push, so that nobody who reaches the port can wear the
//! server out for everyone else:
//!
//! - a connection limit on the listener ([`ConnectionLimit`]) and a limit on requests in
//!   flight, answered `503 unavailable` with `Retry-After` ([`bound_requests`]);
//! - a request timeout that answers `408` with a JSON error instead of hanging;
//! - the unread rest of a body is read and thrown away (up to a cap) before the answer goes
//!   out ([`read_unread_body`]): a client still sending a too-large body then reads its
//!   `413` instead of seeing the connection reset;
//! - rate limits per client address and per device ([`governor`] keyed limiters, GCRA),
//!   answered `429 rate_limited` with `Retry-After`;
//! - the per-device daily photo quota ([`Limits::photo_bytes_per_device_per_day`]);
//! - a body may come gzipped, and every size limit counts the decompressed bytes, so a small
//!   bomb gets its `413` like any large body; other content codings are refused
//!   ([`request_encoding`]). JSON answers go gzipped to clients that ask ([`json_compression`]).
//!
//! The limiters run on the server's [`Clock`](doorstep_inputs::Clock), so tests move time by hand.

use std::collections::HashMap;
use std::future::poll_fn;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
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
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use http_body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{And, DefaultPredicate, Predicate};

use crate::config::{Rate, ServerConfig};
use crate::http::ApiError;
use crate::http::AppState;
use crate::http::error::retry_after;

/// The governor quota of a [`Rate`].
fn quota(rate: Rate) -> Quota {
    // Rates at or below zero (or NaN) become one a year: never refill in practice.
    let per_sec = if rate.per_sec > 0.0 {
        rate.per_sec
    } else {
        1.0 / (365.0 * 86_400.0)
    };
    let period =
        Duration::from_secs_f64((1.0 / per_sec).min(365.0 * 86_400.0)).max(Duration::from_nanos(1));
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN))
}

/// How long to wait before a refused request can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait(Duration);

impl Wait {
    /// Whole seconds, at least 1: the `Retry-After` value.
    pub fn secs(self) -> u64 {
        (self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0)).max(1)
    }

    /// "3 seconds", "2 minutes", "1 hour": for messages.
    pub fn human(self) -> String {
        let s = self.secs();
        let (n, unit) = match s {
            0..=119 => (s, "second"),
            120..=7199 => (s.div_ceil(60), "minute"),
            _ => (s.div_ceil(3600), "hour"),
        };
        format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
    }

    /// A wait of `ms` milliseconds (negative counts as none).
    pub fn from_ms(ms: i64) -> Self {
        Wait(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
    }
}

/// `429 rate_limited` with `Retry-After` and a message saying how long to wait.
pub fn too_many(wait: Wait, what: &str) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::RateLimited,
        format!("{what}; wait {} and try again", wait.human()),
    )
    .with_retry_after(wait.secs())
}

/// The server's clock as governor sees it: time since the Unix epoch.
#[derive(Clone)]
struct LimiterClock(Arc<dyn doorstep_inputs::Clock>);

impl governor::clock::Clock for LimiterClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.0.now_ms()).unwrap_or(0))
    }
}

/// How often a limiter forgets keys that are back at a full burst (their state is the same
/// as a fresh key's), which keeps its memory bounded by the keys active in that time.
const SWEEP_EVERY_MS: i64 = 60_000;

/// A governor limiter per key, swept now and then.
struct KeyedLimiter<K: Hash + Eq + Clone> {
    limiter: RateLimiter<K, DashMapStateStore<K>, LimiterClock, NoOpMiddleware<Duration>>,
    clock: LimiterClock,
    last_sweep_ms: AtomicI64,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    fn new(rate: Rate, clock: &Arc<dyn doorstep_inputs::Clock>) -> Self {
        let clock = LimiterClock(clock.clone());
        Self {
            limiter: RateLimiter::dashmap_with_clock(quota(rate), clock.clone()),
            last_sweep_ms: AtomicI64::new(clock.0.now_ms()),
            clock,
        }
    }

    fn check(&self, key: &K) -> Result<(), Wait> {
        self.sweep();
        self.limiter.check_key(key).map_err(|not_until| {
            let now = governor::clock::Clock::now(&self.clock);
            Wait(not_until.wait_time_from(now))
        })
    }

    fn sweep(&self) {
        let now = self.clock.0.now_ms();
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        if now - last >= SWEEP_EVERY_MS
            && self
                .last_sweep_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
    }
}

impl<K: Hash + Eq + Clone> std::fmt::Debug for KeyedLimiter<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedLimiter")
            .field("keys", &self.limiter.len())
            .finish()
    }
}

/// The running limiters (in `AppState`).
pub struct Limiters {
    verify_per_address: KeyedLimiter<IpAddr>,
    verify_per_device: KeyedLimiter<DeviceId>,
    device_requests: KeyedLimiter<DeviceId>,
    enroll_per_address: KeyedLimiter<IpAddr>,
    customer_page_per_address: KeyedLimiter<IpAddr>,
    sign_in_failures: KeyedLimiter<IpAddr>,
    /// Addresses over the failed sign-in limit, until when (Unix ms).
    signed_out_until: Mutex<HashMap<IpAddr, i64>>,
    clock: Arc<dyn doorstep_inputs::Clock>,
    in_flight: Arc<Semaphore>,
}

impl std::fmt::Debug for Limiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiters")
            .field("verify_per_address", &self.verify_per_address)
            .field("verify_per_device", &self.verify_per_device)
            .field("device_requests", &self.device_requests)
            .field("in_flight_free", &self.in_flight.available_permits())
            .finish_non_exhaustive()
    }
}

impl Limiters {
    /// The limiters for a configuration.
    pub fn new(config: &ServerConfig) -> Self {
        let l = &config.limits;
        let c = &config.clock;
        Self {
            verify_per_address: KeyedLimiter::new(
                Rate {
                    per_sec: config.verify_rate_per_sec,
                    burst: config.verify_burst.clamp(1.0, f64::from(u32::MAX)) as u32,
                },
                c,
            ),
            verify_per_device: KeyedLimiter::new(l.verify_per_device, c),
            device_requests: KeyedLimiter::new(l.device_requests, c),
            enroll_per_address: KeyedLimiter::new(l.enroll_per_address, c),
            customer_page_per_address: KeyedLimiter::new(l.customer_page_per_address, c),
            sign_in_failures: KeyedLimiter::new(l.fleet_sign_in_failures_per_address, c),
            signed_out_until: Mutex::new(HashMap::new()),
            clock: c.clone(),
            in_flight: Arc::new(Semaphore::new(l.max_concurrent_requests.max(1))),
        }
    }

    /// Takes one request of an authenticated device from its budget: the verify budget on
    /// `/v1/verify`, the general one elsewhere.
    pub fn check_device(&self, device: DeviceId, verifying: bool) -> Result<(), ApiError> {
        if verifying {
            self.verify_per_device
                .check(&device)
                .map_err(|w| too_many(w, "too many code checks from this phone"))
        } else {
            self.device_requests
                .check(&device)
                .map_err(|w| too_many(w, "this phone sent too many requests"))
        }
    }

    /// Whether `ip` must wait before it may try to sign in again.
    fn signed_out(&self, ip: IpAddr) -> Option<Wait> {
        let now = self.clock.now_ms();
        let map = self
            .signed_out_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.get(&ip)
            .filter(|until| **until > now)
            .map(|until| Wait::from_ms(until - now))
    }

    /// Counts a failed sign-in; over the limit, `ip` is signed out until a try is allowed
    /// again, and the wait is returned.
    fn sign_in_failed(&self, ip: IpAddr) -> Option<Wait> {
        let wait = self.sign_in_failures.check(&ip).err()?;
        let now = self.clock.now_ms();
        let until = now.saturating_add(i64::try_from(wait.0.as_millis()).unwrap_or(i64::MAX));
        let mut map = self
            .signed_out_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if map.len() >= 10_000 {
            map.retain(|_, t| *t > now);
        }
        map.insert(ip, until);
        Some(wait)
    }
}

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
    let stored = state.config.data_dir.join("photos").join(sha);
    let (present, usage) = crate::http::db(state, move |s| {
        Ok((stored.exists(), s.photo_usage_since(device, now - DAY_MS)?))
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
    fn key(ip: IpAddr) -> IpAddr {
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
    let fleet = path == "/fleet" || path.starts_with("/fleet/");
    let signing_in = fleet && req.headers().contains_key(header::AUTHORIZATION);
    if !signing_in {
        return next.run(req).await;
    }
    if let Some(wait) = state.limiters.signed_out(ip) {
        return page_too_many(
            wait,
            "Too many failed sign-ins from your address.",
            "sign in again",
        );
    }
    let response = next.run(req).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        tracing::warn!("failed fleet sign-in");
        if let Some(wait) = state.limiters.sign_in_failed(ip) {
            return page_too_many(
                wait,
                "Too many failed sign-ins from your address.",
                "sign in again",
            );
        }
    }
    response
}

fn page_too_many(wait: Wait, what: &str, then: &str) -> Response {
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

/// Middleware: at most `max_concurrent_requests` in flight (else `503` + `Retry-After`), each
/// answered within `request_timeout` (else `408`). One semaphore in the state, so the limit
/// holds across routes (axum layers each route separately).
pub async fn bound_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Ok(_permit) = state.limiters.in_flight.clone().try_acquire_owned() else {
        tracing::warn!("request refused: too many in flight");
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "the server is busy; retry in a moment",
        )
        .with_retry_after(1)
        .into_response();
    };
    let timeout = if req.method() == axum::http::Method::POST
        && matches!(req.uri().path(), "/v1/admin/releases" | "/fleet/releases")
    {
        state.config.limits.release_upload_timeout
    } else {
        state.config.limits.request_timeout
    };
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout_ms = timeout.as_millis() as u64, "request timed out");
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::Unavailable,
                format!(
                    "the request took longer than {} s and was stopped; retry, with a smaller \
                     batch on a slow connection",
                    timeout.as_secs_f64()
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
/// they read the answer; a server that answers early (413, 401, 429) and closes makes the
/// kernel reset the connection, and the client sees a broken connection instead of the error.
pub async fn read_unread_body(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let slot = Arc::new(Mutex::new(Some(body)));
    let response = next
        .run(Request::from_parts(
            parts,
            Body::new(SharedBody(slot.clone())),
        ))
        .await;
    let rest = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(body) = rest {
        discard(body, state.config.limits.max_discarded_body_bytes).await;
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

/// Gzips JSON answers for clients that accept it (tower-http's default predicate on top: not
/// tiny, not already compressed). HTML pages stay uncompressed: a page that shows a secret
/// next to text the visitor chose is what a compression side channel (BREACH) reads.
pub fn json_compression() -> CompressionLayer<And<DefaultPredicate, IsJson>> {
    let is_json: IsJson = |_, _, headers, _| {
        headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
    };
    CompressionLayer::new()
        .no_br()
        .no_deflate()
        .no_zstd()
        .compress_when(DefaultPredicate::new().and(is_json))
}

/// A listener that keeps at most `max` connections open: further clients wait in the
/// kernel's accept queue until one closes, so idle or slow connections cannot use up the
/// process's file descriptors.
#[derive(Debug)]
pub struct ConnectionLimit {
    listener: TcpListener,
    permits: Arc<Semaphore>,
}

impl ConnectionLimit {
    /// Wraps `listener`.
    pub fn new(listener: TcpListener, max: usize) -> Self {
        Self {
            listener,
            permits: Arc::new(Semaphore::new(max.max(1))),
        }
    }
}

impl axum::serve::Listener for ConnectionLimit {
    type Io = LimitedConnection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // The semaphore is never closed, so this waits until a connection ends.
        let permit = match self.permits.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => std::future::pending().await,
        };
        let (io, addr) = axum::serve::Listener::accept(&mut self.listener).await;
        (
            LimitedConnection {
                io,
                _permit: permit,
            },
            addr,
        )
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// A connection that gives its place back when it closes.
#[derive(Debug)]
pub struct LimitedConnection {
    io: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for LimitedConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_is_at_least_one_second_and_rounds_up() {
        assert_eq!(Wait(Duration::ZERO).secs(), 1);
        assert_eq!(Wait(Duration::from_millis(1)).secs(), 1);
        assert_eq!(Wait(Duration::from_millis(1500)).secs(), 2);
        assert_eq!(Wait(Duration::from_secs(3)).secs(), 3);
        assert_eq!(Wait(Duration::from_secs(1)).human(), "1 second");
        assert_eq!(Wait(Duration::from_secs(150)).human(), "3 minutes");
    }

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

    #[test]
    fn a_rate_below_one_a_second_and_a_zero_burst_still_make_a_quota() {
        let q = quota(Rate {
            per_sec: 1.0 / 60.0,
            burst: 0,
        });
        assert_eq!(q.burst_size().get(), 1);
        assert_eq!(q.replenish_interval(), Duration::from_secs(60));
        let q = quota(Rate::UNLIMITED);
        assert_eq!(q.replenish_interval(), Duration::from_nanos(1));
    }
}

//! The running rate limiters: per client address and per device ([`governor`] keyed
//! limiters, GCRA) on the server's clock, so tests move time by hand; the wait a refused
//! client is told.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use doorstep_protocol::DeviceId;
use doorstep_protocol::wire::ErrorCode;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use tokio::sync::Semaphore;

use crate::config::{Rate, ServerConfig};
use crate::http::ApiError;

/// The governor quota of a [`Rate`].
pub(crate) fn quota(rate: Rate) -> Quota {
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
pub(crate) struct KeyedLimiter<K: Hash + Eq + Clone> {
    limiter: RateLimiter<K, DashMapStateStore<K>, LimiterClock, NoOpMiddleware<Duration>>,
    clock: LimiterClock,
    last_sweep_ms: AtomicI64,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    pub(crate) fn new(rate: Rate, clock: &Arc<dyn doorstep_inputs::Clock>) -> Self {
        let clock = LimiterClock(clock.clone());
        Self {
            limiter: RateLimiter::dashmap_with_clock(quota(rate), clock.clone()),
            last_sweep_ms: AtomicI64::new(clock.0.now_ms()),
            clock,
        }
    }

    /// Takes `n` cells for `key` at once; a batch larger than the whole burst can never
    /// pass and is refused with `None`.
    pub(crate) fn check_n(&self, key: &K, n: u32) -> Result<(), Option<Wait>> {
        self.sweep();
        let Some(n) = NonZeroU32::new(n) else {
            return Ok(());
        };
        match self.limiter.check_key_n(key, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                let now = governor::clock::Clock::now(&self.clock);
                Err(Some(Wait(not_until.wait_time_from(now))))
            }
            Err(_) => Err(None),
        }
    }

    pub(crate) fn check(&self, key: &K) -> Result<(), Wait> {
        self.sweep();
        self.limiter.check_key(key).map_err(|not_until| {
            let now = governor::clock::Clock::now(&self.clock);
            Wait(not_until.wait_time_from(now))
        })
    }

    pub(crate) fn sweep(&self) {
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
    pub(crate) verify_per_address: KeyedLimiter<IpAddr>,
    pub(crate) verify_per_device: KeyedLimiter<DeviceId>,
    pub(crate) device_requests: KeyedLimiter<DeviceId>,
    pub(crate) records_per_device: KeyedLimiter<DeviceId>,
    pub(crate) enroll_per_address: KeyedLimiter<IpAddr>,
    pub(crate) customer_page_per_address: KeyedLimiter<IpAddr>,
    pub(crate) customer_choices_per_link: KeyedLimiter<String>,
    /// Failed console sign-ins per client address.
    pub(crate) sign_in_by_address: Lockout<IpAddr>,
    /// Failed console sign-ins per user name (known or not).
    pub(crate) sign_in_by_user: Lockout<String>,
    pub(crate) in_flight: Arc<Semaphore>,
    /// Requests refused because too many were in flight, not yet logged.
    pub(crate) shed: Shed,
}

/// The count of requests refused for load, logged at most once a second: under overload a
/// line per refusal would cost the CPU the admitted requests need.
#[derive(Debug, Default)]
pub(crate) struct Shed {
    unlogged: std::sync::atomic::AtomicU64,
    last_logged_ms: std::sync::atomic::AtomicI64,
}

impl Shed {
    /// Counts a refusal; logs the count once a second.
    pub(crate) fn refused(&self, now_ms: i64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.unlogged.fetch_add(1, Relaxed);
        let last = self.last_logged_ms.load(Relaxed);
        if now_ms - last >= 1000
            && self
                .last_logged_ms
                .compare_exchange(last, now_ms, Relaxed, Relaxed)
                .is_ok()
        {
            let n = self.unlogged.swap(0, Relaxed);
            tracing::warn!(
                refused = n,
                "requests refused with 503: too many in flight (--max-concurrent-requests)"
            );
        }
    }
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
            records_per_device: KeyedLimiter::new(l.records_per_device, c),
            enroll_per_address: KeyedLimiter::new(l.enroll_per_address, c),
            customer_page_per_address: KeyedLimiter::new(l.customer_page_per_address, c),
            customer_choices_per_link: KeyedLimiter::new(l.customer_choices_per_link, c),
            sign_in_by_address: Lockout::new(l.fleet_sign_in_failures_per_address, c),
            sign_in_by_user: Lockout::new(l.fleet_sign_in_failures_per_user, c),
            in_flight: Arc::new(Semaphore::new(l.max_concurrent_requests.max(1))),
            shed: Shed::default(),
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

    /// Takes a sync batch's `records` from the device's record budget; over it, `429` with
    /// the wait (the phone keeps its records and sends them later).
    pub fn check_records(&self, device: DeviceId, records: usize) -> Result<(), ApiError> {
        let n = u32::try_from(records).unwrap_or(u32::MAX);
        self.records_per_device
            .check_n(&device, n)
            .map_err(|w| match w {
                Some(w) => too_many(w, "this phone sent too many records"),
                None => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::ValidationFailed,
                    "this batch holds more records than this server takes from a phone at once; \
                 send smaller batches",
                ),
            })
    }
}

/// Failed sign-ins per key (an address, a user name): over the limit, the key is locked out
/// until a try is allowed again, and every sign-in for it (right or wrong) is refused
/// meanwhile, so the answer never tells a guess apart.
pub(crate) struct Lockout<K: Hash + Eq + Clone> {
    failures: KeyedLimiter<K>,
    until: Mutex<HashMap<K, i64>>,
    clock: Arc<dyn doorstep_inputs::Clock>,
}

impl<K: Hash + Eq + Clone> Lockout<K> {
    fn new(rate: Rate, clock: &Arc<dyn doorstep_inputs::Clock>) -> Self {
        Self {
            failures: KeyedLimiter::new(rate, clock),
            until: Mutex::new(HashMap::new()),
            clock: clock.clone(),
        }
    }

    /// Whether `key` must wait before it may try to sign in again.
    pub(crate) fn locked(&self, key: &K) -> Option<Wait> {
        let now = self.clock.now_ms();
        let map = self.until.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|until| **until > now)
            .map(|until| Wait::from_ms(until - now))
    }

    /// Counts a failed sign-in; over the limit, `key` is locked out until a try is allowed
    /// again, and the wait is returned.
    pub(crate) fn failed(&self, key: &K) -> Option<Wait> {
        let wait = self.failures.check(key).err()?;
        let now = self.clock.now_ms();
        let until = now.saturating_add(i64::try_from(wait.0.as_millis()).unwrap_or(i64::MAX));
        let mut map = self.until.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= 10_000 {
            map.retain(|_, t| *t > now);
        }
        map.insert(key.clone(), until);
        Some(wait)
    }
}

impl<K: Hash + Eq + Clone> std::fmt::Debug for Lockout<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lockout").finish_non_exhaustive()
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

//! Time and randomness, passed in so the core is deterministic under test.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the core reads the time from.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Unix time in milliseconds.
    fn now_ms(&self) -> i64;
}

/// The device's real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to, for tests.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock showing `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        Self(AtomicI64::new(now_ms))
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, now_ms: i64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The randomness the core uses: event ids, the device key, backoff jitter.
pub type Rng = Box<dyn rand_core::CryptoRng + Send>;

/// A CSPRNG seeded from the operating system, for the app.
pub fn os_rng() -> Rng {
    use rand::SeedableRng;
    Box::new(rand::rngs::StdRng::from_os_rng())
}

/// The calendar date (`YYYY-MM-DD`) at `now_ms` shifted by `utc_offset_secs`.
pub fn date_at(now_ms: i64, utc_offset_secs: i32) -> String {
    let secs = now_ms.div_euclid(1000) + i64::from(utc_offset_secs);
    let date = time::OffsetDateTime::from_unix_timestamp(secs)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_at_follows_the_offset_across_midnight() {
        // 2026-11-25T23:30:00Z
        let ms = 1_795_649_400_000;
        assert_eq!(date_at(ms, 0), "2026-11-25");
        assert_eq!(date_at(ms, 3600), "2026-11-26");
    }
}

//! How the device core behaves: timeouts, sync pacing, batch sizes, the route's day.

use std::time::Duration;

use doorstep_protocol::wire::Platform;

/// How the core behaves. [`Config::new`] gives sensible defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// This build's version, e.g. `0.1.0` (reported on enrollment and every sync).
    pub app_version: String,
    /// The platform the app runs on.
    pub platform: Platform,
    /// How long an online code check may take before the app falls back to offline handling.
    pub verify_timeout: Duration,
    /// Timeout of other requests (connect + answer).
    pub request_timeout: Duration,
    /// Sync timer interval when all is well.
    pub sync_interval: Duration,
    /// First backoff ceiling after a failed sync.
    pub backoff_base: Duration,
    /// Largest backoff ceiling.
    pub backoff_cap: Duration,
    /// Most events per sync request.
    pub batch_max_events: usize,
    /// Most bytes of event JSON per sync request (a single larger event is still sent).
    pub batch_max_bytes: usize,
    /// The route's day; `None` = today at the device clock shifted by `utc_offset_secs`.
    pub route_date: Option<String>,
    /// The fleet's offset from UTC, for "today".
    pub utc_offset_secs: i32,
    /// Clock difference tolerated when checking a customer's token.
    pub token_leeway_secs: u64,
    /// The fleet's dispatch server built into the app (`DOORSTEP_SERVER_URL`): what the
    /// enrollment form starts with, and the server for an enrollment code typed without one.
    pub default_server_url: Option<String>,
    /// Whether a background task syncs by itself (after commits, on the timer, on network
    /// return). Off only for tests and benchmarks that drive sync by hand.
    pub background_sync: bool,
}

impl Config {
    /// Defaults for a build of `app_version` on `platform`.
    pub fn new(app_version: impl Into<String>, platform: Platform) -> Self {
        Self {
            app_version: app_version.into(),
            platform,
            verify_timeout: Duration::from_secs(4),
            request_timeout: Duration::from_secs(20),
            sync_interval: Duration::from_secs(60),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(300),
            batch_max_events: 500,
            batch_max_bytes: 512 * 1024,
            route_date: None,
            utc_offset_secs: 0,
            token_leeway_secs: 300,
            background_sync: true,
            default_server_url: None,
        }
    }
}

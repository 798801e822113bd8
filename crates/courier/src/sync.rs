//! The sync engine: sends the outbox in chain order, in batches bounded by count and bytes,
//! photos before the events that reference them. One sync at a time (a lock); a background
//! task runs it after each commit, on a timer, when the network returns and by hand, with
//! exponential backoff and full jitter after failures.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::Duration;

use doorstep_protocol::ids::EventId;
use doorstep_protocol::wire::EventStatus;
use tokio::sync::Notify;

use crate::api::Api;
use crate::error::CourierError;
use crate::shared::Shared;
use crate::store::Resolution;
use crate::view::AppErrorCode;

/// What one sync run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Events the server stored (now or before).
    pub synced: usize,
    /// Events the server refused for good.
    pub disputed: usize,
    /// Whether the server asked for some events to be sent again later.
    pub retry_later: bool,
    /// The server's reason for holding events back, when it gave one (e.g. the fleet manager
    /// must review this phone's records first).
    pub held_because: Option<String>,
}

/// The delay before retry number `failures` (from 1): a uniformly random duration between
/// zero and `min(cap, base × 2^(failures−1))` ("full jitter"), so many phones coming back
/// online at once do not hit the server in step.
pub fn backoff_delay(failures: u32, base: Duration, cap: Duration, random: u64) -> Duration {
    let exp = failures.saturating_sub(1).min(32);
    let ceiling = base.saturating_mul(1u32 << exp.min(31)).min(cap);
    let ceiling_ms = ceiling.as_millis() as u64;
    if ceiling_ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(random % (ceiling_ms + 1))
}

/// Words a courier understands for a sync failure.
pub(crate) fn courier_words(e: &CourierError) -> String {
    match e {
        CourierError::Network => {
            "No connection to the server. Finished deliveries are saved on this phone and will be sent when the connection is back.".into()
        }
        CourierError::Server(_) => {
            "The server has a problem right now. Finished deliveries are saved and will be sent later.".into()
        }
        other => other.to_string(),
    }
}

impl Shared {
    /// Sends everything pending, batch by batch. Waits if another sync is running (never two
    /// at once). Updates the status stream before and after.
    pub(crate) async fn sync_once(&self) -> Result<SyncReport, CourierError> {
        let _running = self.sync.run.lock().await;
        self.sync.status.send_if_modified(|s| {
            let changed = !s.syncing;
            s.syncing = true;
            changed
        });
        let result = self.send_outbox().await;
        let now = self.clock.now_ms();
        // Counted and published under the store lock, so a commit's `pending += 1` never
        // interleaves with this recount.
        let store = self.store();
        let counts = store.counts();
        self.sync.status.send_modify(|s| {
            s.syncing = false;
            if let Ok((pending, disputed)) = counts {
                s.pending = pending;
                s.disputed = disputed;
            }
            match &result {
                Ok(report) => {
                    // An empty outbox sends nothing, so it says nothing about the network.
                    if report.synced + report.disputed > 0 || report.retry_later {
                        s.online = Some(true);
                    }
                    s.last_success_ms = Some(now);
                    s.last_error_code = report.retry_later.then_some(AppErrorCode::SyncHeld);
                    s.last_error = report.retry_later.then(|| match &report.held_because {
                        Some(why) => format!(
                            "Some deliveries are saved on this phone and wait for the server: {why}"
                        ),
                        None => "Some deliveries could not be stored by the server yet; they will be sent again.".to_string(),
                    });
                }
                Err(e) => {
                    if matches!(e, CourierError::Network) {
                        s.online = Some(false);
                    }
                    s.last_error = Some(courier_words(e));
                    s.last_error_code = Some(e.code());
                }
            }
        });
        drop(store);
        // Between handovers, so that no commit has to copy the WAL into the database.
        if let Err(e) = self.store().checkpoint_if_due() {
            tracing::warn!(error = %e, "could not checkpoint the store");
        }
        if let Err(e) = &result {
            tracing::info!(code = %e.code(), "sync failed: {e}");
        }
        result
    }

    async fn send_outbox(&self) -> Result<SyncReport, CourierError> {
        let mut report = SyncReport::default();
        let Some(enrollment) = self.store().enrollment()? else {
            return Ok(report);
        };
        let api = Api::new(
            &self.http,
            &enrollment.server_url,
            Some(&enrollment.device_token),
        )
        .learning_encodings(&self.sync.server_takes_gzip);
        let header = format!(
            r#"{{"app_version":{},"platform":{},"events":["#,
            serde_json::to_string(&self.config.app_version).expect("a string serialises"),
            serde_json::to_string(&self.config.platform).expect("an enum serialises"),
        );
        loop {
            let batch = self
                .store()
                .pending_batch(self.config.batch_max_events, self.config.batch_max_bytes)?;
            if batch.is_empty() {
                return Ok(report);
            }
            for (sha, path) in batch.iter().flat_map(|e| &e.photos_to_upload) {
                match tokio::fs::read(path).await {
                    Ok(bytes) => {
                        api.upload_photo(sha, bytes).await?;
                        self.store().mark_photo_uploaded(sha)?;
                    }
                    // The server will refuse the event (photo missing) and it becomes
                    // disputed, visible to the courier, rather than blocking the queue.
                    Err(e) => tracing::warn!(%sha, "proof photo unreadable: {e}"),
                }
            }
            let mut body = String::with_capacity(
                header.len() + batch.iter().map(|e| e.body.len() + 1).sum::<usize>() + 2,
            );
            body.push_str(&header);
            for (i, entry) in batch.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(&entry.body);
            }
            body.push_str("]}");
            let response = api.sync(body).await?;
            // Every answer says the fleet's current policy; none means none any more.
            self.store().set_app_policy(response.app_policy.as_ref())?;
            let sent: HashSet<EventId> = batch.iter().map(|e| e.id).collect();
            let mut resolved = Vec::with_capacity(batch.len());
            for result in response.results {
                if !sent.contains(&result.id) {
                    continue;
                }
                match result.status {
                    EventStatus::Accepted | EventStatus::Duplicate => {
                        report.synced += 1;
                        resolved.push((result.id, Resolution::Synced));
                    }
                    EventStatus::Rejected { message, code } => {
                        tracing::warn!(event = %result.id, ?code, "event rejected by the server");
                        report.disputed += 1;
                        resolved.push((result.id, Resolution::Disputed(code, message)));
                    }
                    EventStatus::Retry { message } => {
                        report.retry_later = true;
                        report.held_because.get_or_insert(message);
                    }
                }
            }
            let all_resolved = resolved.len() == batch.len();
            let now = self.clock.now_ms();
            self.store().apply_results(&resolved, now)?;
            if !all_resolved {
                report.retry_later = true;
                return Ok(report);
            }
        }
    }
}

/// The background loop: waits for a trigger or the timer, syncs, and picks the next delay
/// (the timer interval after success, backoff with full jitter after failure). Ends when the
/// device is dropped.
pub(crate) async fn run_background(shared: Weak<Shared>, trigger: Arc<Notify>) {
    let mut delay = Duration::ZERO;
    loop {
        tokio::select! {
            () = trigger.notified() => {}
            () = tokio::time::sleep(delay) => {}
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let outcome = shared.sync_once().await;
        let config = &shared.config;
        delay = match outcome {
            Ok(report) if !report.retry_later => {
                shared.sync.failures.store(0, Ordering::SeqCst);
                config.sync_interval
            }
            Err(ref e) if !e.is_retryable() => config.sync_interval,
            _ => {
                let failures = shared.sync.failures.fetch_add(1, Ordering::SeqCst) + 1;
                let random = shared.random_u64();
                backoff_delay(failures, config.backoff_base, config.backoff_cap, random)
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap_with_full_jitter() {
        let base = Duration::from_millis(500);
        let cap = Duration::from_secs(60);
        // The largest random value reaches the ceiling; zero gives zero.
        assert_eq!(backoff_delay(1, base, cap, 500), Duration::from_millis(500));
        assert_eq!(
            backoff_delay(3, base, cap, 2_000),
            Duration::from_millis(2_000)
        );
        assert_eq!(backoff_delay(3, base, cap, 2_001), Duration::ZERO);
        assert_eq!(backoff_delay(30, base, cap, 60_000), cap);
        assert_eq!(
            backoff_delay(1_000, base, cap, u64::MAX),
            Duration::from_millis(u64::MAX % 60_001)
        );
        assert_eq!(backoff_delay(5, base, cap, 0), Duration::ZERO);
    }

    #[test]
    fn backoff_never_exceeds_the_cap() {
        let cap = Duration::from_secs(30);
        for failures in 1..100 {
            for random in [0, 1, 7_919, u64::MAX / 3, u64::MAX] {
                assert!(backoff_delay(failures, Duration::from_secs(1), cap, random) <= cap);
            }
        }
    }
}

//! The numbers' roll-ups, made in the background: at start and then every ten minutes, every
//! closed day within the numbers page's longest range that has stops but no roll-up is rolled up, so the numbers page
//! reads closed days from their roll-ups instead of making them while a person waits (90 days of
//! 20,000 deliveries take tens of seconds to roll up the first time). A day whose roll-up a late
//! record dropped is rolled up again at the next round (or by the page that asks for it first).

use std::sync::Arc;
use std::time::Duration;

use crate::config::ServerConfig;
use crate::domain::numbers::MAX_DAYS;
use crate::domain::zone::days_before;
use crate::store::Store;

/// How often the closed days are looked at.
const EVERY: Duration = Duration::from_secs(600);

/// Runs until `stop` turns true.
pub async fn run(
    store: Arc<Store>,
    config: Arc<ServerConfig>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (s, c) = (store.clone(), config.clone());
        let done = tokio::task::spawn_blocking(move || {
            let now = c.clock.now_ms();
            let today = c.time_zone.date_of(now);
            let since = days_before(&today, i64::from(MAX_DAYS));
            s.roll_up_closed_days(&since, &today, now)
        })
        .await;
        match done {
            Ok(Ok(0)) => {}
            Ok(Ok(days)) => tracing::info!(days, "the numbers of closed days rolled up"),
            Ok(Err(e)) => tracing::warn!(
                error = %e,
                "rolling up the numbers failed; the numbers page makes them when asked"
            ),
            Err(e) => tracing::error!(error = %e, "the roll-up task failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

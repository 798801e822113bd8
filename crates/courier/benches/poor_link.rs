//! The device side of the poor-link sync benchmark (`scripts/bench-poor-link.sh`, which builds
//! the emulated link and the server, and counts the bytes at the link). Two phases, each its own
//! process, so the script can read the link's byte counters between them:
//!
//! - `POOR_LINK_PHASE=prepare`: enrolls with the demo seed's enrollment link, downloads the
//!   route, then commits `BENCH_N` failed attempts (scan + "not home", one durable commit each)
//!   with background sync off, as a phone does offline;
//! - `POOR_LINK_PHASE=sync`: opens the same device, checks the route (as the app does when it
//!   comes back to the foreground; the answer is a `304`), then syncs until nothing is pending
//!   and prints the wall time of the sync. Exits with status 1 when a delivery was not stored.
//!
//! Environment: `POOR_LINK_SEED` (the demo's `--seed-json` file), `POOR_LINK_DIR` (the device's
//! data directory), `BENCH_N` (default 10,000), and, to tune, `BENCH_BATCH_EVENTS` /
//! `BENCH_BATCH_BYTES` (the device's `Config::batch_max_events` / `batch_max_bytes`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use doorstep_courier::{Clock, Config, Device, Randomness, SyncReport, SystemClock, date_at};
use doorstep_protocol::wire::{ExceptionReason, Platform};

/// Failed syncs (e.g. a request timed out on the link) tolerated before giving up; the app's
/// background task would keep retrying with backoff.
const MAX_FAILED_SYNCS: u32 = 20;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config() -> Config {
    let mut config = Config::new("0.1.0", Platform::Linux);
    config.route_date = Some(date_at(SystemClock.now_ms(), 0));
    config.background_sync = false;
    config.batch_max_events = env_or("BENCH_BATCH_EVENTS", config.batch_max_events);
    config.batch_max_bytes = env_or("BENCH_BATCH_BYTES", config.batch_max_bytes);
    config
}

async fn open(dir: &PathBuf) -> Device {
    Device::open(dir, config(), Arc::new(SystemClock), Randomness::os())
        .await
        .expect("the device opens")
}

async fn prepare(dir: PathBuf, n: usize) {
    let seed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env("POOR_LINK_SEED")).expect("the seed file"))
            .expect("the seed is JSON");
    let barcodes: Vec<&str> = seed["parcels"]
        .as_array()
        .expect("the seed lists parcels")
        .iter()
        .map(|p| p["barcode"].as_str().expect("a barcode"))
        .collect();
    let device = open(&dir).await;
    let start = Instant::now();
    let status = device
        .enroll(
            seed["enrollment_uri"].as_str().expect("an enrollment URI"),
            None,
        )
        .await
        .expect("enrollment");
    assert!(status.enrolled);
    device.refresh_route().await.expect("the route downloads");
    println!(
        "enrolled and downloaded the route over the link in {:.1?}",
        start.elapsed()
    );
    let start = Instant::now();
    for i in 0..n {
        device.reset_handover().await.expect("reset");
        device
            .scan_parcel(barcodes[i % barcodes.len()])
            .await
            .expect("scan");
        device
            .report_exception(ExceptionReason::NotHome, None, None)
            .await
            .expect("a durable commit");
    }
    println!(
        "committed {} deliveries offline in {:.1?}",
        device.sync_status().pending,
        start.elapsed()
    );
}

async fn sync(dir: PathBuf, n: usize) {
    let device = open(&dir).await;
    let pending = device.sync_status().pending;
    assert_eq!(
        pending, n as u64,
        "the prepare phase left {pending} pending"
    );
    let start = Instant::now();
    device.refresh_route().await.expect("the route check");
    let mut total = SyncReport::default();
    let mut failures = 0;
    loop {
        match device.sync_once().await {
            Ok(report) => {
                total.synced += report.synced;
                total.disputed += report.disputed;
                if !report.retry_later || report.synced + report.disputed == 0 {
                    break;
                }
            }
            Err(e) if e.is_retryable() && failures < MAX_FAILED_SYNCS => {
                failures += 1;
                eprintln!("sync failed ({e}); trying again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("sync failed for good: {e}"),
        }
    }
    let elapsed = start.elapsed();
    let left = device.sync_status().pending;
    println!(
        "synced {pending} queued deliveries in {:.2} s ({} accepted, {} disputed, {left} still pending, {failures} failed attempts)",
        elapsed.as_secs_f64(),
        total.synced,
        total.disputed,
    );
    // One line for the script to read.
    println!(
        "RESULT seconds={:.3} accepted={}",
        elapsed.as_secs_f64(),
        total.synced
    );
    if total.synced != n || left != 0 {
        std::process::exit(1);
    }
}

fn main() {
    let n: usize = env_or("BENCH_N", 10_000);
    let dir = PathBuf::from(env("POOR_LINK_DIR"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    match std::env::var("POOR_LINK_PHASE").as_deref() {
        Ok("prepare") => rt.block_on(prepare(dir, n)),
        Ok("sync") => rt.block_on(sync(dir, n)),
        _ => {
            eprintln!(
                "set POOR_LINK_PHASE=prepare or sync; run it through scripts/bench-poor-link.sh"
            );
            std::process::exit(2);
        }
    }
}

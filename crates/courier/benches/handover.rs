//! Benchmarks of the device core against a loopback dispatch server:
//!
//! - scan → durable commit: p50/p99 of `scan_parcel` + `report_exception` (one SQLite
//!   transaction with `synchronous=FULL`), next to this disk's fsync latency;
//! - sync of N queued deliveries (default 10,000) to the server on loopback.
//!
//! Run: `cargo bench -p doorstep-courier --bench handover` (`BENCH_N=…` to change N).

#[allow(dead_code)]
#[path = "../tests/courier/helpers.rs"]
mod helpers;
/// The tests capture logs; the benchmark measures without that overhead.
mod logs {
    pub fn capture() {}
}

use std::io::Write;
use std::time::{Duration, Instant};

use doorstep_courier::SyncReport;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn fsync_latency(dir: &std::path::Path) -> (Duration, Duration) {
    let mut file = std::fs::File::create(dir.join("fsync-probe")).unwrap();
    let mut times = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        file.write_all(&[0u8; 4096]).unwrap();
        file.sync_data().unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = helpers::spawn_server().await;
        let dir = tempfile::tempdir().unwrap();
        let mut config = helpers::test_config();
        config.background_sync = false;
        let device = helpers::enrolled_device(&server, &server.url(), dir.path(), config).await;
        let barcodes: Vec<String> = server.seed.parcels.iter().map(|p| p.barcode.clone()).collect();

        let (fsync_p50, fsync_p99) = fsync_latency(dir.path());
        let mut commits = Vec::with_capacity(n);
        for i in 0..n {
            let start = Instant::now();
            device.scan_parcel(&barcodes[i % barcodes.len()]).await.unwrap();
            device
                .report_exception(doorstep_protocol::wire::ExceptionReason::NotHome, None)
                .await
                .unwrap();
            commits.push(start.elapsed());
        }
        commits.sort();
        println!("disk fsync (4 KiB write + fdatasync): p50 {fsync_p50:?}  p99 {fsync_p99:?}");
        println!(
            "scan -> durable commit ({n} commits): p50 {:?}  p99 {:?}  max {:?}",
            percentile(&commits, 0.5),
            percentile(&commits, 0.99),
            commits[commits.len() - 1]
        );

        let pending = device.sync_status().pending.max(n as u64);
        let start = Instant::now();
        let mut total = SyncReport::default();
        loop {
            let report = device.sync_once().await.unwrap();
            total.synced += report.synced;
            total.disputed += report.disputed;
            if !report.retry_later || report.synced + report.disputed == 0 {
                break;
            }
        }
        let elapsed = start.elapsed();
        println!(
            "sync of {pending} queued deliveries to loopback: {elapsed:?} ({} accepted, {} disputed, {} still pending)",
            total.synced,
            total.disputed,
            device.sync_status().pending
        );
    });
}

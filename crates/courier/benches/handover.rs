//! Benchmarks of the device core against a loopback dispatch server:
//!
//! - scan → durable commit: p50/p99 of `scan_parcel` + `report_exception` (one SQLite
//!   transaction with `synchronous=FULL`), next to this disk's fsync latency, with the commits
//!   split by what SQLite did to the write-ahead log during them (read from the WAL and its
//!   index outside the timed region): ran a checkpoint, restarted the log, grew the log file.
//!   After each commit the bench checkpoints the WAL when it is due, untimed, as the app's
//!   background sync does between handovers (`Device::checkpoint`), and reports those apart;
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

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use doorstep_courier::SyncReport;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The disk's raw fsync latency, sampled between the commits so that both see the same
/// disk at the same moments (on a shared machine it changes by the minute), two ways: a
/// 4 KiB append + `fdatasync` (the file grows, so the file system commits metadata too, as
/// for a WAL that grows), and a 4 KiB overwrite in place + `fdatasync` (data only, as for a
/// WAL that SQLite reuses from its start).
struct FsyncProbe {
    append: std::fs::File,
    overwrite: std::fs::File,
    at: u64,
    append_times: Vec<Duration>,
    overwrite_times: Vec<Duration>,
}

impl FsyncProbe {
    const RING: u64 = 256;

    fn new(dir: &Path) -> Self {
        let append = std::fs::File::create(dir.join("fsync-append")).unwrap();
        let mut overwrite = std::fs::File::create(dir.join("fsync-overwrite")).unwrap();
        overwrite
            .write_all(&vec![0u8; 4096 * Self::RING as usize])
            .unwrap();
        overwrite.sync_all().unwrap();
        Self {
            append,
            overwrite,
            at: 0,
            append_times: Vec::new(),
            overwrite_times: Vec::new(),
        }
    }

    fn sample(&mut self) {
        use std::os::unix::fs::FileExt;
        let block = [1u8; 4096];
        let start = Instant::now();
        self.append.write_all(&block).unwrap();
        self.append.sync_data().unwrap();
        self.append_times.push(start.elapsed());
        let start = Instant::now();
        self.overwrite
            .write_all_at(&block, (self.at % Self::RING) * 4096)
            .unwrap();
        self.overwrite.sync_data().unwrap();
        self.overwrite_times.push(start.elapsed());
        self.at += 1;
    }
}

/// The WAL's state as SQLite's shared WAL index (`-shm`) and the log file show it.
#[derive(Debug, Clone, Copy, Default)]
struct Wal {
    /// Frames in the log (`WalIndexHdr.mxFrame`, offset 16).
    frames: u32,
    /// Frames already copied into the database (`WalCkptInfo.nBackfill`, offset 96).
    backfilled: u32,
    /// The log file's length.
    file_len: u64,
}

fn wal_state(db: &Path) -> Wal {
    let mut index = [0u8; 100];
    let read = std::fs::File::open(format!("{}-shm", db.display()))
        .and_then(|mut f| f.read_exact(&mut index));
    if read.is_err() {
        return Wal::default();
    }
    let word = |at: usize| u32::from_ne_bytes(index[at..at + 4].try_into().unwrap());
    Wal {
        frames: word(16),
        backfilled: word(96),
        file_len: std::fs::metadata(format!("{}-wal", db.display()))
            .map(|m| m.len())
            .unwrap_or(0),
    }
}

/// What a commit did to the WAL, by the states before and after it.
fn wal_class(before: Wal, after: Wal) -> &'static str {
    if after.backfilled != before.backfilled && after.backfilled != 0 {
        "ran a checkpoint"
    } else if after.frames < before.frames {
        "restarted the log"
    } else if after.file_len > before.file_len {
        "grew the log file"
    } else {
        "appended to the log"
    }
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

        let mut fsync = FsyncProbe::new(dir.path());
        let db = dir.path().join("doorstep.sqlite3");
        let mut commits = Vec::with_capacity(n);
        let mut classes: std::collections::BTreeMap<&str, Vec<Duration>> = Default::default();
        let mut frames = Vec::with_capacity(n);
        let mut checkpoints = Vec::new();
        for i in 0..n {
            let before = wal_state(&db);
            let start = Instant::now();
            device.scan_parcel(&barcodes[i % barcodes.len()]).await.unwrap();
            device
                .report_exception(doorstep_protocol::wire::ExceptionReason::NotHome, None, None)
                .await
                .unwrap();
            let took = start.elapsed();
            commits.push(took);
            let after = wal_state(&db);
            classes.entry(wal_class(before, after)).or_default().push(took);
            if after.frames >= before.frames {
                frames.push(after.frames - before.frames);
            }
            // What the app's background sync does after each commit, between handovers.
            let start = Instant::now();
            if device.checkpoint().unwrap() {
                checkpoints.push(start.elapsed());
            }
            fsync.sample();
        }
        commits.sort();
        fsync.append_times.sort();
        fsync.overwrite_times.sort();
        frames.sort();
        let (append, overwrite) = (&fsync.append_times, &fsync.overwrite_times);
        println!(
            "disk fsync, sampled between the commits: 4 KiB append + fdatasync p50 {:?}  p99 {:?}; \
             4 KiB overwrite + fdatasync p50 {:?}  p99 {:?}",
            percentile(append, 0.5),
            percentile(append, 0.99),
            percentile(overwrite, 0.5),
            percentile(overwrite, 0.99)
        );
        let p99 = percentile(&commits, 0.99);
        println!(
            "scan -> durable commit ({n} commits): p50 {:?}  p99 {:?}  max {:?}; \
             p99 = {:.2} x append fsync p99, {:.2} x overwrite fsync p99",
            percentile(&commits, 0.5),
            p99,
            commits[commits.len() - 1],
            p99.as_secs_f64() / percentile(append, 0.99).as_secs_f64(),
            p99.as_secs_f64() / percentile(overwrite, 0.99).as_secs_f64()
        );
        println!(
            "  WAL frames (pages) per commit: median {}, max {}",
            frames.get(frames.len() / 2).copied().unwrap_or(0),
            frames.last().copied().unwrap_or(0)
        );
        checkpoints.sort();
        if !checkpoints.is_empty() {
            println!(
                "  {} WAL checkpoints between commits (not in the times above): p50 {:?}  max {:?}",
                checkpoints.len(),
                percentile(&checkpoints, 0.5),
                checkpoints[checkpoints.len() - 1]
            );
        }
        for (class, mut times) in classes {
            times.sort();
            println!(
                "  {} commits {class}: p50 {:?}  p99 {:?}  max {:?}",
                times.len(),
                percentile(&times, 0.5),
                percentile(&times, 0.99),
                times[times.len() - 1]
            );
        }

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

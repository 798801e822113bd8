//! The console's numbers over 90 days of 20,000 deliveries a day, on each backend.
//!
//! `cargo bench -p doorstep-server --bench numbers [-- sqlite|postgres …] [--days N] [--per-day N] [--runs N]`
//!
//! Each backend starts from a fresh fleet (`target/bench-numbers/<backend>/`; PostgreSQL: a
//! fresh schema on `DOORSTEP_TEST_POSTGRES_URL`, default postgres://root@127.0.0.1:5432/postgres)
//! seeded straight in SQL — the store's own operations would take hours for 1.8 million
//! deliveries: 200 couriers with a phone each, and for each of the 90 days before today and
//! for today 20,000 stops of one parcel each (a fifth of them with a code, one in twelve
//! failed, the rest delivered), each with its record (online code, offline code, QR or none;
//! a sync delay of seconds to hours; the time at the door). Postcode areas: 60, each courier in
//! about three.
//!
//! It reports, each as the median of `--runs` runs (default 7):
//!
//! - the first read of the 90 closed days, which rolls each of them up (once);
//! - the 90 closed days from the roll-up, by day, by courier and by area: what the page
//!   computes (the store's read, the grouping and the tables), HTML aside;
//! - the last 90 days with today, which is read as it is (never rolled up).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use doorstep_server::domain::numbers::{self, By};
use doorstep_server::domain::zone::days_before;
use doorstep_server::store::Store;
use doorstep_server::store::backend::sql::Db;
use doorstep_server::{AppState, ManualClock, ServerConfig};

#[path = "support/fleet.rs"]
mod fleet;

const COURIERS: usize = 200;

struct Options {
    days: usize,
    per_day: usize,
    runs: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let options = Options {
        days: value("--days", 90),
        per_day: value("--per-day", 20_000),
        runs: value("--runs", 7),
    };
    let wanted: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a == "sqlite" || *a == "postgres")
        .collect();
    for backend in ["sqlite", "postgres"] {
        if wanted.is_empty() || wanted.contains(&backend) {
            run(backend, &options);
        }
    }
}

fn bench_dir(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("bench-numbers").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Today in the bench: a fixed day, 18:00 UTC.
const TODAY: &str = "2027-03-31";
const NOW_MS: i64 = 1_806_451_200_000 + 18 * 3_600_000;

fn run(backend: &str, o: &Options) {
    let dir = bench_dir(backend);
    let pg = (backend == "postgres").then(doorstep_server::testing::TestPostgres::create);
    let mut config = ServerConfig::production(&dir, "http://127.0.0.1:1");
    config.database = pg.as_ref().map(|p| p.url.clone());
    config.clock = Arc::new(ManualClock::new(NOW_MS));
    assert_eq!(config.time_zone.date_of(NOW_MS), TODAY);
    let state = AppState::open(config.clone()).unwrap();
    let store: Arc<Store> = state.store.clone();

    let days: Vec<String> = (0..=o.days)
        .rev()
        .map(|b| days_before(TODAY, b as i64))
        .collect();
    let started = Instant::now();
    config
        .store_location()
        .with_connection(|db| {
            fleet::seed_fleet(db, COURIERS, None)?;
            for (n, day) in days.iter().enumerate() {
                seed_day(db, day, n, o.per_day)?;
            }
            // What autovacuum (PostgreSQL) or the next optimize (SQLite) would have done
            // after a bulk load: the planner's statistics.
            db.execute_batch("ANALYZE")?;
            Ok(())
        })
        .unwrap();
    eprintln!(
        "{backend}: seeded {} days × {} deliveries in {:.0?}",
        days.len(),
        o.per_day,
        started.elapsed()
    );
    let closed = &days[..o.days];
    let last = &days[1..];

    let page = |range: &[String], by: By| -> Duration {
        let started = Instant::now();
        let found = store.numbers(range, TODAY, NOW_MS).unwrap();
        let grouped = numbers::group(found.cells.iter().map(|(d, k, c)| (d.as_str(), k, c)), by);
        let tables = numbers::tables(&numbers::named_rows(grouped, by, &found.couriers));
        assert_eq!(tables.len(), numbers::TABLES.len());
        started.elapsed()
    };

    // The first read rolls the closed days up; dropping the roll-up makes the next one do it
    // again.
    let mut cold = Vec::new();
    for _ in 0..o.runs.min(3) {
        config
            .store_location()
            .with_connection(|db| {
                db.execute_batch("DELETE FROM numbers_days")?;
                Ok(())
            })
            .unwrap();
        cold.push(page(closed, By::Day));
    }
    report(
        backend,
        &format!("first read of {} closed days (rolls them up)", o.days),
        cold,
    );
    for by in [By::Day, By::Courier, By::Area] {
        let runs = (0..o.runs).map(|_| page(closed, by)).collect();
        report(
            backend,
            &format!(
                "{} closed days by {} (from the roll-up)",
                o.days,
                by.as_str()
            ),
            runs,
        );
    }
    let runs = (0..o.runs).map(|_| page(last, By::Day)).collect();
    report(
        backend,
        &format!("{} closed days and today by day", o.days - 1),
        runs,
    );
    drop(store);
    drop(state);
    drop(pg);
}

fn report(backend: &str, what: &str, mut runs: Vec<Duration>) {
    runs.sort();
    let median = runs[runs.len() / 2];
    println!(
        "numbers {backend:8} {what:55} median {:>7.1} ms  (min {:.1}, max {:.1}, {} runs)",
        median.as_secs_f64() * 1e3,
        runs[0].as_secs_f64() * 1e3,
        runs[runs.len() - 1].as_secs_f64() * 1e3,
        runs.len()
    );
}

type Res = Result<(), doorstep_server::store::StoreError>;

/// One day of `per_day` stops with a parcel each, their codes and records. `n` numbers the
/// day (for unique ids).
fn seed_day(db: &Db<'_>, day: &str, n: usize, per_day: usize) -> Res {
    let ref_blob = fleet::blob(db, "00");
    let last = per_day - 1;
    let series =
        format!("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last})");
    // Day start, Unix ms (00:00 UTC).
    let start = doorstep_server::domain::zone::FleetZone::utc()
        .window_end_ms(day, 1)
        .unwrap()
        - 86_400_000;
    let id = |kind: &str| format!("'{kind}{n:03}-' || CAST(i AS TEXT)");
    let courier = format!("i / {}", per_day.div_ceil(COURIERS));
    db.execute_batch(&format!(
        "{series} INSERT INTO stops (id, delivery_date, recipient_key, courier_id, recipient_name, address, \
         postal_code, sequence, code_required, code_digits, max_attempts, failed_attempts, offline_allowed, \
         validity_days, reasons, public_ref, recipient_ref, created_at, wrong_codes, lockouts) \
         SELECT {s}, '{day}', {s}, 'c' || CAST({courier} AS TEXT), 'Recipient', 'Street 1', \
         CAST((100 + ({courier} * 7 + (i % 100) / 40) % 60) * 10 + i % 10 AS TEXT), i % 100 + 1, \
         CASE WHEN i % 5 = 0 THEN 1 ELSE 0 END, 6, 5, CASE WHEN i % 97 = 0 THEN 2 ELSE 0 END, 1, 1, '[]', {s}, \
         {ref_blob}, {start}, CASE WHEN i % 97 = 0 THEN 2 ELSE 0 END, 0 FROM n",
        s = id("s"),
    ))?;
    db.execute_batch(&format!(
        "{series} INSERT INTO parcels (id, shipper_id, stop_id, barcode_key, barcode_raw, method, age_restricted, \
         recipient_opt_in, shipper_requires_code, code_required, photo_required, offline_allowed, reasons, status, created_at) \
         SELECT {p}, 'shipper', {s}, {p}, {p}, 'hand_to_recipient', 0, 0, 0, CASE WHEN i % 5 = 0 THEN 1 ELSE 0 END, \
         0, 1, CASE WHEN i % 5 = 0 THEN '[\"valuable parcel: declared value 612.00 ≥ 500.00 → code required, photo required\"]' \
         ELSE '[\"no rule asks for a code\"]' END, CASE WHEN i % 12 = 0 THEN 'failed' ELSE 'delivered' END, {start} FROM n",
        p = id("p"),
        s = id("s"),
    ))?;
    db.execute_batch(&format!(
        "{series} INSERT INTO codes (id, stop_id, code_hash, created_at, expires_at, superseded_at, ended_by) \
         SELECT {k}, {s}, {ref_blob}, {start}, {start} + 86400000, {start} + 50000000, \
         CASE WHEN i % 45 = 0 THEN 'resend' ELSE 'consumed' END FROM n WHERE i % 5 = 0",
        k = id("k"),
        s = id("s"),
    ))?;
    // Records: occurred between 08:00 and 18:00; received seconds to hours later; one in
    // twelve a failed attempt.
    let occurred = format!("({start} + 28800000 + (i * 1789) % 36000000)");
    let delay = "CASE WHEN i % 10 = 0 THEN (i * 7919) % 7200000 ELSE (i * 31) % 20000 END";
    let method = "CASE i % 4 WHEN 0 THEN 'online_code' WHEN 1 THEN 'offline_code' WHEN 2 THEN 'token' ELSE 'not_required' END";
    let reason =
        "CASE i % 3 WHEN 0 THEN 'not_home' WHEN 1 THEN 'refused' ELSE 'address_problem' END";
    let e = id("e");
    let s = id("s");
    let p = id("p");
    db.execute_batch(&format!(
        "{series} INSERT INTO events (id, device_id, seq, stop_id, parcel_ids, kind, body_hash, body, status, result, \
         delivery_date, received_at) \
         SELECT {e}, 'd' || CAST({courier} AS TEXT), {n} * 1000000 + i, {s}, '[\"' || {p} || '\"]', \
         CASE WHEN i % 12 = 0 THEN 'failed' ELSE 'delivered' END, '', \
         '{{\"id\":\"' || {e} || '\",\"seq\":' || CAST(i AS TEXT) || ',\"stop_id\":\"' || {s} || '\",\"parcel_ids\":[\"' || {p} || \
         '\"],\"occurred_at_ms\":' || CAST({occurred} AS TEXT) || ',\"first_scan_at_ms\":' || CAST({occurred} - (i * 613) % 400000 AS TEXT) || \
         ',\"typos_caught\":' || CAST(CASE WHEN i % 50 = 0 THEN 1 ELSE 0 END AS TEXT) || \
         ',\"location\":{{\"lat\":52.37,\"lon\":4.89,\"accuracy_m\":8.0}},\"body\":' || \
         CASE WHEN i % 12 = 0 THEN '{{\"kind\":\"failed\",\"reason\":\"' || {reason} || '\",\"note\":null}}' \
         ELSE '{{\"kind\":\"delivered\",\"verification\":{{\"method\":\"' || {method} || '\"}},\"recipient_name\":\"R. Ecipient\",\"photo_sha256\":null}}' END || '}}', \
         'accepted', '{{\"status\":\"accepted\"}}', '{day}', {occurred} + {delay} FROM n",
    ))?;
    db.execute_batch(&format!(
        "{series} INSERT INTO event_parcels (event_id, parcel_id) SELECT {e}, {p} FROM n"
    ))?;
    Ok(())
}

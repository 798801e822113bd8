//! The fleet console with a big fleet (issue 19 item 9): a day of 200 couriers × 100 stops.
//!
//! `cargo bench -p doorstep-server --bench console [-- sqlite|postgres …] [--runs N] [--paint]`
//!
//! Each backend starts from a fresh fleet (`target/bench-console/<backend>/`; PostgreSQL: a
//! fresh schema on `DOORSTEP_TEST_POSTGRES_URL`, default postgres://root@127.0.0.1:5432/postgres)
//! seeded straight in SQL: 200 couriers with a phone each and today 100 stops each (20,000),
//! one parcel per stop, spread over a city; the first 60 stops of each route done (one in 15
//! failed and moved, one in 40 on its way back), one in ten of the rest locked, the others to deliver; a
//! record with the phone's position for every stop done. It serves the console (demo mode, so
//! no sign-in) on loopback and reports, each as the median of `--runs` runs (default 15):
//!
//! - the store's read of the day (`Store::today`);
//! - the Today page (`GET /fleet`) and the map's data (`GET /fleet/today.json`, gzipped), each
//!   from request to last byte over loopback: the server's time;
//! - the console's JavaScript as the server sends it gzipped: Today's scripts, MapLibre's
//!   worker and the numbers page's charts;
//! - with `--paint`, Today in Chromium (`benches/paint.mjs`, Debian's Chromium through
//!   playwright-core): first contentful paint and the map drawn, each the median of 5 loads.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use doorstep_server::ServerConfig;
use doorstep_server::store::Route;
use doorstep_server::store::backend::sql::Db;

#[path = "support/fleet.rs"]
mod fleet;

const COURIERS: usize = 200;
const STOPS: usize = 100;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let paint = args.iter().any(|a| a == "--paint");
    let mut backends: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| ["sqlite", "postgres"].contains(a))
        .collect();
    if backends.is_empty() {
        backends = vec!["sqlite", "postgres"];
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    for backend in backends {
        rt.block_on(run(backend, runs, paint));
    }
}

async fn run(backend: &str, runs: usize, paint: bool) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../target/bench-console/{backend}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pg = (backend == "postgres").then(doorstep_server::testing::TestPostgres::create);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = ServerConfig::demo(&dir);
    config.public_url = base.clone();
    config.database = pg.as_ref().map(|p| p.url.clone());
    let date = config.time_zone.date_of(config.clock.now_ms());
    let state = doorstep_server::open(config.clone()).await.unwrap();
    let started = Instant::now();
    let d = date.clone();
    let now = config.clock.now_ms();
    let location = config.store_location();
    tokio::task::spawn_blocking(move || {
        location.with_connection(move |db| {
            seed(db, &d, now)?;
            // What autovacuum (PostgreSQL) or an optimize (SQLite) does after a bulk load.
            db.execute_batch("ANALYZE")?;
            Ok(())
        })
    })
    .await
    .unwrap()
    .unwrap();
    eprintln!(
        "{backend}: seeded {COURIERS} couriers × {STOPS} stops in {:.1?}",
        started.elapsed()
    );

    let (store, d) = (state.store.clone(), date.clone());
    let (times, stops) = tokio::task::spawn_blocking(move || {
        let mut times = Vec::new();
        let mut stops = 0;
        for _ in 0..runs {
            let started = Instant::now();
            let day = store.today(&d, Route::All).unwrap();
            times.push(started.elapsed());
            stops = day.stops.len();
        }
        (times, stops)
    })
    .await
    .unwrap();
    assert_eq!(stops, COURIERS * STOPS);
    report(
        backend,
        "the store's read of the day (Store::today)",
        times,
        "",
    );

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(doorstep_server::serve(listener, state, async {
        let _ = stop_rx.await;
    }));
    // Answers as they came, gzipped (reqwest would decompress them itself when another crate
    // of the workspace turns its gzip feature on).
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    for (what, path) in [
        ("GET /fleet (the Today page)", "/fleet".to_string()),
        (
            "GET /fleet/today.json, gzipped",
            "/fleet/today.json".to_string(),
        ),
    ] {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..runs {
            let started = Instant::now();
            let r = client
                .get(format!("{base}{path}"))
                .header("accept-encoding", "gzip")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path}");
            size = r.bytes().await.unwrap().len();
            times.push(started.elapsed());
        }
        report(backend, what, times, &format!("{} KB sent", size / 1024));
    }

    // The console's JavaScript as sent: every script of Today and of the numbers page, and
    // MapLibre's worker (a script of its own).
    let mut scripts = vec!["/assets/console/maplibre-gl-csp-worker.js".to_string()];
    for page in ["/fleet", "/fleet/numbers"] {
        let html = client
            .get(format!("{base}{page}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        scripts.extend(
            html.split("<script src=\"")
                .skip(1)
                .filter_map(|s| s.split('"').next().map(str::to_string)),
        );
    }
    scripts.sort();
    scripts.dedup();
    let mut total = 0;
    for s in &scripts {
        let r = client
            .get(format!("{base}{s}"))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-encoding"], "gzip", "{s}");
        let n = r.bytes().await.unwrap().len();
        println!(
            "console  {backend:8}   {s:50} {:>6.1} KB gzipped",
            n as f64 / 1024.0
        );
        total += n;
    }
    println!(
        "console  {backend:8} the console's JavaScript, gzipped: {:.1} KB in {} files",
        total as f64 / 1024.0,
        scripts.len()
    );

    if paint {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/paint.mjs");
        let out = std::process::Command::new("node")
            .arg(&script)
            .arg(format!("{base}/fleet"))
            .output()
            .expect("node runs benches/paint.mjs");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = stop_tx.send(());
    let _ = server.await;
    drop(pg);
}

fn report(backend: &str, what: &str, mut runs: Vec<Duration>, extra: &str) {
    runs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "console  {backend:8} {what:45} median {:>7.1} ms  (min {:.1}, max {:.1}, {} runs) {extra}",
        ms(runs[runs.len() / 2]),
        ms(runs[0]),
        ms(runs[runs.len() - 1]),
        runs.len()
    );
}

/// Today's routes: couriers, phones, stops with a position, a parcel each, and a record with
/// the phone's position for each stop done.
fn seed(db: &Db<'_>, day: &str, now: i64) -> Result<(), doorstep_server::store::StoreError> {
    fleet::seed_fleet(db, COURIERS, Some(now / 1000 - 300))?;
    let n = COURIERS * STOPS;
    let series = format!(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {})",
        n - 1
    );
    // Courier i / 100 works a block of the city; stop i % 100 + 1 of their route.
    let (courier, seq) = (format!("i / {STOPS}"), format!("i % {STOPS} + 1"));
    let lat = format!("52.30 + ({courier} / 20) * 0.012 + (i % {STOPS}) * 0.0001");
    let lon = format!("4.78 + ({courier} % 20) * 0.012 + (i % 10) * 0.001");
    let status = format!(
        "CASE WHEN {seq} > 60 AND i % 10 = 3 THEN 'locked' WHEN {seq} > 60 THEN 'pending' \
         WHEN i % 40 = 0 THEN 'returning' WHEN i % 15 = 0 THEN 'failed' ELSE 'delivered' END"
    );
    db.execute_batch(&format!(
        "{series} INSERT INTO stops (id, delivery_date, recipient_key, courier_id, recipient_name, address, \
         postal_code, lat, lon, sequence, code_required, code_digits, max_attempts, offline_allowed, \
         validity_days, reasons, public_ref, recipient_ref, created_at) \
         SELECT 'bs' || CAST(i AS TEXT), '{day}', 'bs' || CAST(i AS TEXT), 'c' || CAST({courier} AS TEXT), \
         'Recipient ' || CAST(i AS TEXT), 'Street ' || CAST(i AS TEXT), CAST(1011 + {courier} / 20 AS TEXT), {lat}, {lon}, {seq}, \
         CASE WHEN i % 5 = 0 THEN 1 ELSE 0 END, 6, 5, 1, 1, \
         '[]', 'bs' || CAST(i AS TEXT), {ref}, 0 FROM n",
        ref = fleet::blob(db, "00"),
    ))?;
    db.execute_batch(&format!(
        "{series} INSERT INTO parcels (id, shipper_id, stop_id, barcode_key, barcode_raw, method, age_restricted, \
         recipient_opt_in, shipper_requires_code, code_required, photo_required, offline_allowed, reasons, status, created_at) \
         SELECT 'bp' || CAST(i AS TEXT), 'shipper', 'bs' || CAST(i AS TEXT), 'BP' || CAST(i AS TEXT), \
         'BP' || CAST(i AS TEXT), 'hand_to_recipient', 0, 0, 0, CASE WHEN i % 5 = 0 THEN 1 ELSE 0 END, 0, 1, \
         CASE WHEN i % 5 = 0 THEN '[\"valuable parcel: declared value 612.00 ≥ 500.00 → code required\"]' ELSE '[]' END, \
         {status}, 0 FROM n"
    ))?;
    // Every stop done has its record, made during the morning, with where the phone was, how
    // the code was checked (or why the attempt failed), sent seconds to an hour later.
    let occurred = format!("({now} - 3600000 * 4 + {seq} * 120000)");
    let method = "CASE i % 4 WHEN 0 THEN 'online_code' WHEN 1 THEN 'offline_code' WHEN 2 THEN 'token' ELSE 'not_required' END";
    let reason =
        "CASE i % 3 WHEN 0 THEN 'not_home' WHEN 1 THEN 'refused' ELSE 'address_problem' END";
    let delay = "CASE WHEN i % 10 = 0 THEN (i * 7919) % 3600000 ELSE 2000 + (i * 31) % 20000 END";
    db.execute_batch(&format!(
        "{series} INSERT INTO events (id, device_id, seq, stop_id, parcel_ids, kind, body_hash, body, status, result, \
         delivery_date, received_at) \
         SELECT 'be' || CAST(i AS TEXT), 'd' || CAST({courier} AS TEXT), {seq}, 'bs' || CAST(i AS TEXT), \
         '[\"bp' || CAST(i AS TEXT) || '\"]', CASE WHEN i % 15 = 0 THEN 'failed' ELSE 'delivered' END, '', \
         '{{\"occurred_at_ms\":' || CAST({occurred} AS TEXT) || ',\"location\":{{\"lat\":' || CAST({lat} AS TEXT) || \
         ',\"lon\":' || CAST({lon} AS TEXT) || ',\"accuracy_m\":8.0}},\"body\":' || \
         CASE WHEN i % 15 = 0 THEN '{{\"kind\":\"failed\",\"reason\":\"' || {reason} || '\"}}' \
         ELSE '{{\"kind\":\"delivered\",\"verification\":{{\"method\":\"' || {method} || '\"}},\"recipient_name\":\"R. Ecipient\"}}' END \
         || '}}', 'accepted', '{{}}', '{day}', {occurred} + {delay} \
         FROM n WHERE {seq} <= 60"
    ))?;
    db.execute_batch(&format!(
        "{series} INSERT INTO event_parcels (event_id, parcel_id) \
         SELECT 'be' || CAST(i AS TEXT), 'bp' || CAST(i AS TEXT) FROM n WHERE {seq} <= 60"
    ))?;
    Ok(())
}

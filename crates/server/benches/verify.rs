//! Verification throughput and latency over loopback HTTP, with durable commits.
//!
//! `cargo bench -p doorstep-server --bench verify` (set `CARGO_PROFILE_RELEASE_LTO=false`
//! to build faster). For each backend and node count — SQLite (one node), PostgreSQL (one
//! node), PostgreSQL (two nodes, the clients spread over both) — prints closed-loop
//! throughput with 32 clients and latency at a fixed 1,000 requests/s; then the SQLite
//! store's own rate without HTTP. Bounded in time and count. PostgreSQL is the machine's
//! server (`DOORSTEP_TEST_POSTGRES_URL`, default postgres://root@127.0.0.1:5432/postgres), on
//! a fresh schema. `-- sqlite` (or `postgres`, `postgres2`) runs one configuration only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use doorstep_server::{Clock, ServerConfig, launch, seed_demo};
use serde_json::{Value, json};

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Latencies of the answered checks; `None` for a request the server refused as overloaded
/// (503), which counts against the run.
fn report(name: &str, answers: Vec<Option<Duration>>, elapsed: Duration) {
    let refused = answers.iter().filter(|a| a.is_none()).count();
    let mut lat: Vec<Duration> = answers.into_iter().flatten().collect();
    lat.sort();
    println!(
        "{name}: {} verified in {:.2}s = {:.0}/s ({refused} refused as overloaded); p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        pct(&lat, 0.50).as_secs_f64() * 1e3,
        pct(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

/// Runs the HTTP benchmarks on a fresh fleet: `database` `None` for SQLite, and `nodes`
/// servers on it (the clients take turns).
async fn bench_http(label: &str, database: Option<String>, nodes: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::demo(dir.path());
    config.database = database;
    config.verify_burst = 1e9;
    config.verify_rate_per_sec = 1e9;
    // One device checks thousands of codes a second here: no per-device limit either.
    config.limits.verify_per_device = doorstep_server::Rate::UNLIMITED;
    let date = doorstep_server::domain::zone::FleetZone::utc().date_of(config.clock.now_ms());
    let seed = {
        let config = config.clone();
        let date = date.clone();
        tokio::task::spawn_blocking(move || seed_demo(&config, &date))
            .await
            .unwrap()
            .unwrap()
    };
    let mut bases = Vec::new();
    for _ in 0..nodes {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = config.clone();
        config.public_url = base.clone();
        tokio::spawn(launch(listener, config, std::future::pending()));
        bases.push(base);
    }
    let client = reqwest::Client::new();
    for base in &bases {
        for _ in 0..200 {
            if client.get(format!("{base}/v1/health")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let enrolled: Value = client
        .post(format!("{}/v1/devices/enroll", bases[0]))
        .json(&json!({
            "enrollment_code": seed.enrollment_code,
            "device_public_key": hex::encode(key.verifying_key().as_bytes()),
            "app_version": "bench",
            "platform": "linux",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = enrolled["device_token"].as_str().unwrap().to_string();
    // The checks of a fleet's morning are at many doors: 200 stops with a code each, the
    // requests going round them (a stop's own checks queue behind each other on PostgreSQL).
    let bodies: Arc<Vec<String>> = {
        let config = config.clone();
        let key = seed.shipper_api_key.clone();
        let courier = seed.courier_id;
        let date = date.clone();
        Arc::new(
            tokio::task::spawn_blocking(move || {
                let state = doorstep_server::AppState::open(config).unwrap();
                let now = state.now();
                let shipper = state.store.shipper_by_key(&key).unwrap().unwrap();
                (0..200)
                    .map(|i| {
                        let req: doorstep_protocol::wire::CreateParcelRequest =
                            serde_json::from_value(json!({
                                "barcode": format!("BENCH-{i:04}"),
                                "recipient": { "name": format!("Customer {i}") },
                                "address": format!("Street {i}, Amsterdam"),
                                "postal_code": "1071",
                                "declared_value": { "amount": "750.00", "currency": "EUR" },
                                "method": "hand_to_recipient",
                                "delivery_date": date,
                                "courier_id": courier,
                            }))
                            .unwrap();
                        let made = state.store.create_parcel(&shipper, &req, now).unwrap();
                        json!({ "parcel_id": made.view.parcel_id, "code": made.new_code.unwrap() })
                            .to_string()
                    })
                    .collect()
            })
            .await
            .unwrap(),
        )
    };
    let turn = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let bases = Arc::new(bases);
    let one = {
        let client = client.clone();
        let token = token.clone();
        move || {
            let n = turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let base = &bases[n % bases.len()];
            let req = client
                .post(format!("{base}/v1/verify"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(bodies[n % bodies.len()].clone());
            async move {
                let t = Instant::now();
                let r = req.send().await.unwrap();
                let status = r.status();
                let v: Value = r.json().await.unwrap();
                if status == 503 {
                    return None;
                }
                assert_eq!(v["result"], "verified", "{status}: {v}");
                Some(t.elapsed())
            }
        }
    };

    // Closed loop: 32 clients for 5 s (at most 200,000 requests).
    let start = Instant::now();
    let deadline = start + Duration::from_secs(5);
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let one = one.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline && lat.len() < 6_250 {
                lat.push(one().await);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    report(
        &format!("{label}: closed loop, 32 clients"),
        lat,
        start.elapsed(),
    );

    // Open loop: 1,000 requests/s for 3 s.
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let mut tasks = Vec::new();
    for _ in 0..3_000 {
        tick.tick().await;
        tasks.push(tokio::spawn(one()));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.push(t.await.unwrap());
    }
    report(&format!("{label}: open loop, 1000/s"), lat, start.elapsed());
}

#[tokio::main]
async fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    if wanted("sqlite") {
        bench_http("SQLite, 1 node", None, 1).await;
    }
    if wanted("postgres") {
        let pg = doorstep_server::testing::TestPostgres::create();
        bench_http("PostgreSQL, 1 node", Some(pg.url.clone()), 1).await;
    }
    if wanted("postgres2") {
        let pg = doorstep_server::testing::TestPostgres::create();
        bench_http("PostgreSQL, 2 nodes", Some(pg.url.clone()), 2).await;
    }
    if !wanted("store") && !only.is_empty() {
        return;
    }
    let date = doorstep_server::domain::zone::FleetZone::utc()
        .date_of(doorstep_server::SystemClock.now_ms());
    let base = "http://127.0.0.1:8080".to_string();

    // The store alone (no HTTP): 32 threads calling `Store::verify`, durable commits.
    let dir2 = tempfile::tempdir().unwrap();
    let mut config2 = ServerConfig::demo(dir2.path());
    config2.public_url = base.clone();
    let seed2 = seed_demo(&config2, &date).unwrap();
    let state = doorstep_server::AppState::open(config2).unwrap();
    let key2 = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let (_, token2, _, _) = state
        .store
        .enroll(
            &doorstep_protocol::wire::EnrollRequest {
                enrollment_code: seed2.enrollment_code.clone(),
                device_public_key: hex::encode(key2.verifying_key().as_bytes()),
                app_version: "bench".into(),
                platform: doorstep_protocol::wire::Platform::Linux,
            },
            state.now(),
        )
        .unwrap();
    let device = state.store.device_by_token(&token2).unwrap().unwrap();
    let p2 = seed2
        .parcels
        .iter()
        .find(|p| p.code.is_some())
        .unwrap()
        .clone();
    let code = doorstep_protocol::DeliveryCode::parse(p2.code.as_deref().unwrap(), None).unwrap();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(3);
    let lat: Vec<Option<Duration>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..32)
            .map(|_| {
                let (store, device, code, now) = (&state.store, &device, &code, state.now());
                scope.spawn(move || {
                    let mut lat = Vec::new();
                    while Instant::now() < deadline && lat.len() < 20_000 {
                        let t = Instant::now();
                        store.verify(device, p2.parcel_id, code, now).unwrap();
                        lat.push(Some(t.elapsed()));
                    }
                    lat
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    report("store only, 32 threads", lat, start.elapsed());

    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status
            .lines()
            .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
        {
            println!("process (server + load generator) {line}");
        }
    }
}

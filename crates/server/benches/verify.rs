//! Verification throughput and latency over loopback HTTP, with durable commits.
//!
//! `cargo bench -p doorstep-server --bench verify` (set `CARGO_PROFILE_RELEASE_LTO=false`
//! to build faster). Prints closed-loop throughput with 32 clients, latency at a fixed
//! 1,000 requests/s, and the store's own rate without HTTP. Bounded in time and count.

use std::sync::Arc;
use std::time::{Duration, Instant};

use doorstep_server::{ServerConfig, launch, seed_demo};
use serde_json::{Value, json};

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, mut lat: Vec<Duration>, elapsed: Duration) {
    lat.sort();
    println!(
        "{name}: {} requests in {:.2}s = {:.0}/s; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        pct(&lat, 0.50).as_secs_f64() * 1e3,
        pct(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = ServerConfig::demo(dir.path());
    config.public_url = base.clone();
    config.verify_burst = 1e9;
    config.verify_rate_per_sec = 1e9;
    // One device checks thousands of codes a second here: no per-device limit either.
    config.limits.verify_per_device = doorstep_server::limits::Rate::UNLIMITED;
    let date = doorstep_server::store::fleet_date(
        config.clock.now_ms(),
        &doorstep_server::zone::FleetZone::utc(),
    );
    let seed = seed_demo(&config, &date).unwrap();
    tokio::spawn(launch(listener, config.clone(), std::future::pending()));
    let client = reqwest::Client::new();
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let enrolled: Value = client
        .post(format!("{base}/v1/devices/enroll"))
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
    let parcel = seed
        .parcels
        .iter()
        .find(|p| p.code.is_some())
        .unwrap()
        .clone();
    let body = Arc::new(json!({ "parcel_id": parcel.parcel_id, "code": parcel.code }).to_string());
    let one = {
        let client = client.clone();
        let base = base.clone();
        let token = token.clone();
        move || {
            let req = client
                .post(format!("{base}/v1/verify"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body.to_string());
            async move {
                let t = Instant::now();
                let r = req.send().await.unwrap();
                assert_eq!(r.status(), 200);
                let v: Value = r.json().await.unwrap();
                assert_eq!(v["result"], "verified");
                t.elapsed()
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
    report("closed loop, 32 clients", lat, start.elapsed());

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
    report("open loop, 1000/s", lat, start.elapsed());

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
    let lat: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..32)
            .map(|_| {
                let (store, device, code, now) = (&state.store, &device, &code, state.now());
                scope.spawn(move || {
                    let mut lat = Vec::new();
                    while Instant::now() < deadline && lat.len() < 20_000 {
                        let t = Instant::now();
                        store.verify(device, p2.parcel_id, code, now).unwrap();
                        lat.push(t.elapsed());
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

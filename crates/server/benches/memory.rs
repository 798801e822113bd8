//! The dispatch server's memory with a year's worth of data behind it and a busy fleet in
//! front of it: the real `doorstep-server` binary, started on a data directory that holds
//! 1,000,000 stored deliveries, answering 1,000 code checks a second.
//!
//! `CARGO_PROFILE_RELEASE_LTO=false cargo bench -p doorstep-server --bench memory`
//!
//! 1. Seeds the demo route, enrolls ten phones, then bulk-loads the deliveries straight into
//!    SQLite (one stop, one parcel and one accepted delivery event per delivery, shaped like
//!    the rows the server writes, spread over the last 100 days and the ten phones). Going
//!    through the sync API would take the server's own durable path a million times; the
//!    rows are what matter for the server's memory, not how they got there.
//! 2. Starts the server binary on it (`serve --demo-mode`) and reads its memory from
//!    `/proc/<pid>/status` (RSS, peak RSS) and `/proc/<pid>/smaps_rollup` (PSS) every 100 ms.
//! 3. Sends 1,000 `POST /v1/verify` a second (open loop) from the ten phones, each from its
//!    own loopback address, so the per-phone and per-address rate limits of demo mode (200/s)
//!    are not what is measured.
//!
//! The load generator is this process, not the server, so the numbers are the server's
//! alone. A `503` is the server's in-flight cap refusing a burst (when this shared machine
//! stalls it): counted and shown, not a failure; any other status is. Environment: `BENCH_DELIVERIES` (default 1,000,000), `BENCH_SECONDS` (default 30),
//! `BENCH_RATE` (default 1,000/s), `BENCH_DATA_DIR` (keep the loaded directory there and reuse
//! it on the next run instead of loading again).

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use doorstep_protocol::ids::{EventId, ParcelId, StopId};
use doorstep_protocol::wire::{
    DeliveryEvent, EnrollRequest, EventBody, EventStatus, Location, Platform, Verification,
};
use doorstep_server::{AppState, DemoSeed, ServerConfig, seed_demo};
use rand::RngCore;
use rusqlite::params;

const DEVICES: usize = 10;
const DAY_MS: i64 = 86_400_000;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// What the loader leaves for the load: the phones' tokens and the parcels they check.
struct Loaded {
    tokens: Vec<String>,
    checks: Vec<String>,
}

fn main() {
    let deliveries: usize = env_or("BENCH_DELIVERIES", 1_000_000);
    let seconds: u64 = env_or("BENCH_SECONDS", 30);
    let rate: u64 = env_or("BENCH_RATE", 1_000);
    let (dir, temp) = match std::env::var_os("BENCH_DATA_DIR") {
        Some(d) => (PathBuf::from(d), None),
        None => {
            let t = tempfile::tempdir().unwrap();
            (t.path().join("data"), Some(t))
        }
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let loaded = load(&dir, deliveries, &url);

    let log = std::fs::File::create(dir.with_extension("log")).unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_doorstep-server"))
        .args(["serve", "--demo-mode", "--data-dir"])
        .arg(&dir)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--public-url",
            &url,
        ])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = rt.block_on(measure(&mut server, &url, &loaded, seconds, rate));
    let _ = server.kill();
    let _ = server.wait();
    if let Err(e) = result {
        let log = std::fs::read_to_string(dir.with_extension("log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        eprintln!("{e}; the server's last log lines:");
        for line in tail.iter().rev() {
            eprintln!("  {line}");
        }
        drop(temp);
        std::process::exit(1);
    }
}

/// Seeds, enrolls and bulk-loads `dir` unless a previous run left it loaded.
fn load(dir: &Path, deliveries: usize, url: &str) -> Loaded {
    let marker = dir.join(format!("bench-loaded-{deliveries}.json"));
    if let Ok(text) = std::fs::read_to_string(&marker) {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let strings = |k: &str| -> Vec<String> {
            v[k].as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        };
        println!(
            "data directory: {deliveries} stored deliveries, {:.2} GB, loaded by an earlier run ({})",
            db_bytes(dir) as f64 / 1e9,
            dir.display()
        );
        return Loaded {
            tokens: strings("tokens"),
            checks: strings("checks"),
        };
    }
    let started = Instant::now();
    let mut config = ServerConfig::demo(dir);
    config.public_url = url.to_string();
    let now = config.clock.now_ms();
    let seed: DemoSeed = seed_demo(
        &config,
        &doorstep_server::domain::zone::FleetZone::utc().date_of(now),
    )
    .unwrap();
    let state = AppState::open(config.clone()).unwrap();
    let mut tokens = Vec::new();
    let mut device_ids = Vec::new();
    for i in 0..DEVICES {
        let (code, _) = doorstep_server::create_enrollment(&config, "Demo Courier").unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&[i as u8 + 1; 32]);
        let (device_id, token, _, _) = state
            .store
            .enroll(
                &EnrollRequest {
                    enrollment_code: code,
                    device_public_key: hex::encode(key.verifying_key().as_bytes()),
                    app_version: "bench".into(),
                    platform: Platform::Android,
                },
                now,
            )
            .unwrap();
        tokens.push(token);
        device_ids.push(device_id.to_string());
    }
    drop(state);
    let checks: Vec<String> = seed
        .parcels
        .iter()
        .filter_map(|p| {
            let code = p.code.as_ref()?;
            Some(serde_json::json!({ "parcel_id": p.parcel_id, "code": code }).to_string())
        })
        .collect();
    let template = &seed.parcels[0];

    let mut db = rusqlite::Connection::open(dir.join("doorstep.sqlite3")).unwrap();
    // A fixture, not a delivery: no journal and no fsync (the server turns WAL back on when it
    // opens the file), and room for the indexes while loading.
    db.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;",
    )
    .unwrap();
    let mut rng = rand::rng();
    let per_device = deliveries.div_ceil(DEVICES);
    let tx = db.transaction().unwrap();
    {
        let mut stop = tx
            .prepare(
                "INSERT INTO stops (id, delivery_date, recipient_key, courier_id, recipient_name, phone, \
                 email, address, postal_code, lat, lon, sequence, code_required, code_digits, \
                 max_attempts, failed_attempts, offline_allowed, validity_days, reasons, public_ref, \
                 recipient_ref, created_at) \
                 SELECT ?1, ?2, ?3, courier_id, recipient_name, phone, email, address, postal_code, \
                 lat, lon, ?4, code_required, code_digits, max_attempts, 0, offline_allowed, \
                 validity_days, reasons, ?5, recipient_ref, ?6 FROM stops WHERE id = ?7",
            )
            .unwrap();
        let mut parcel = tx
            .prepare(
                "INSERT INTO parcels (id, shipper_id, stop_id, barcode_key, barcode_raw, description, \
                 declared_value_minor, currency, method, age_restricted, recipient_opt_in, \
                 shipper_requires_code, code_required, photo_required, offline_allowed, reasons, \
                 status, created_at) \
                 SELECT ?1, shipper_id, ?2, ?3, ?3, description, declared_value_minor, currency, \
                 method, age_restricted, recipient_opt_in, shipper_requires_code, code_required, \
                 photo_required, offline_allowed, reasons, 'delivered', ?4 FROM parcels WHERE id = ?5",
            )
            .unwrap();
        let mut event = tx
            .prepare(
                "INSERT INTO events (id, device_id, seq, stop_id, parcel_ids, kind, body_hash, body_mac, \
                 body, status, reject_code, result, delivery_date, received_at, review) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 'delivered', '', ?6, ?7, 'accepted', NULL, ?8, ?9, ?10, 0)",
            )
            .unwrap();
        let accepted = serde_json::to_string(&EventStatus::Accepted).unwrap();
        let (template_stop, template_parcel) =
            (template.stop_id.to_string(), template.parcel_id.to_string());
        let random = |rng: &mut rand::rngs::ThreadRng| {
            let mut b = [0u8; 10];
            rng.fill_bytes(&mut b);
            b
        };
        for i in 0..deliveries {
            // Oldest first, about 10,000 a day over the last 100 days.
            let at = now - 100 * DAY_MS + (i as i64 * 100 * DAY_MS) / deliveries as i64;
            let date = doorstep_server::domain::zone::FleetZone::utc().date_of(at);
            let (device, seq) = (i % DEVICES, i / DEVICES + 1);
            let stop_id = StopId::new_v7(at as u64, random(&mut rng));
            let parcel_id = ParcelId::new_v7(at as u64, random(&mut rng));
            let event_id = EventId::new_v7(at as u64 + 60_000, random(&mut rng));
            let mut mac = [0u8; 32];
            rng.fill_bytes(&mut mac);
            let ev = DeliveryEvent {
                id: event_id,
                seq: seq as u64,
                stop_id,
                parcel_ids: vec![parcel_id],
                occurred_at_ms: at + 60_000,
                first_scan_at_ms: None,
                typos_caught: None,
                location: Some(Location {
                    lat: 52.37 + (i % 1000) as f64 * 1e-4,
                    lon: 4.89 + (i % 997) as f64 * 1e-4,
                    accuracy_m: Some(8.0),
                }),
                body: EventBody::Delivered {
                    verification: Verification::OnlineCode {
                        verification_id: uuid::Uuid::now_v7().to_string(),
                    },
                    recipient_name: template.recipient_name.clone(),
                    photo_sha256: (i % 10 == 0).then(|| hex::encode(mac)),
                    method: None,
                    place: None,
                    signature_sha256: None,
                    contents_photo_sha256: None,
                    id_check: None,
                },
                prev_hash: String::new(),
                signature: String::new(),
            };
            // Stored as the server stores it: without the signature and the previous hash.
            let mut body = serde_json::to_value(&ev).unwrap();
            let fields = body.as_object_mut().unwrap();
            fields.remove("signature");
            fields.remove("prev_hash");
            stop.execute(params![
                stop_id.to_string(),
                date,
                format!("{i:016x}"),
                (i % 200) as i64 + 1,
                format!("bench{i:019}"),
                at,
                template_stop
            ])
            .unwrap();
            parcel
                .execute(params![
                    parcel_id.to_string(),
                    stop_id.to_string(),
                    format!("BENCH{i:012}"),
                    at,
                    template_parcel
                ])
                .unwrap();
            event
                .execute(params![
                    event_id.to_string(),
                    device_ids[device],
                    seq as i64,
                    stop_id.to_string(),
                    serde_json::to_string(&[parcel_id]).unwrap(),
                    &mac[..],
                    body.to_string(),
                    accepted,
                    date,
                    at + 120_000
                ])
                .unwrap();
        }
        for id in &device_ids {
            tx.execute(
                "UPDATE devices SET last_seq = ?2 WHERE id = ?1",
                params![id, per_device as i64],
            )
            .unwrap();
        }
    }
    tx.commit().unwrap();
    drop(db);
    std::fs::write(
        &marker,
        serde_json::json!({ "tokens": tokens, "checks": checks }).to_string(),
    )
    .unwrap();
    println!(
        "data directory: {deliveries} stored deliveries (a stop, a parcel and an event each), \
         {:.2} GB, loaded in {:.0} s",
        db_bytes(dir) as f64 / 1e9,
        started.elapsed().as_secs_f64()
    );
    Loaded { tokens, checks }
}

fn db_bytes(dir: &Path) -> u64 {
    ["doorstep.sqlite3", "doorstep.sqlite3-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

/// Resident and proportional set size of a process, in kB.
#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    rss_kb: u64,
    peak_rss_kb: u64,
    pss_kb: u64,
}

fn memory(pid: u32) -> Option<Memory> {
    let field = |text: &str, name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    Some(Memory {
        rss_kb: field(&status, "VmRSS:")?,
        peak_rss_kb: field(&status, "VmHWM:")?,
        pss_kb: field(&rollup, "Pss:")?,
    })
}

/// Samples `pid` every 100 ms until stopped; answers the largest values seen.
fn sample(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Memory> {
    std::thread::spawn(move || {
        let mut max = Memory::default();
        while !stop.load(Ordering::Relaxed) {
            if let Some(m) = memory(pid) {
                max.rss_kb = max.rss_kb.max(m.rss_kb);
                max.peak_rss_kb = max.peak_rss_kb.max(m.peak_rss_kb);
                max.pss_kb = max.pss_kb.max(m.pss_kb);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        max
    })
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

async fn measure(
    server: &mut Child,
    url: &str,
    loaded: &Loaded,
    seconds: u64,
    rate: u64,
) -> Result<(), String> {
    let pid = server.id();
    let started = Instant::now();
    let probe = reqwest::Client::new();
    loop {
        if let Ok(Some(status)) = server.try_wait() {
            return Err(format!("the server exited at start: {status}"));
        }
        if probe
            .get(format!("{url}/v1/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err("the server did not answer within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("server started in {:.2} s", started.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = memory(pid).ok_or("cannot read the server's memory")?;
    println!(
        "server idle after start: RSS {}, PSS {}",
        mb(idle.rss_kb),
        mb(idle.pss_kb)
    );

    // One client per phone, each from its own loopback address (127.0.0.2, ...).
    let clients: Vec<reqwest::Client> = (0..DEVICES)
        .map(|i| {
            reqwest::Client::builder()
                .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i as u8)))
                .build()
                .unwrap()
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample(pid, stop.clone());
    let total = seconds * rate;
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total as usize {
        tick.tick().await;
        let phone = i % DEVICES;
        let req = clients[phone]
            .post(format!("{url}/v1/verify"))
            .bearer_auth(&loaded.tokens[phone])
            .header("content-type", "application/json")
            .body(loaded.checks[phone % loaded.checks.len()].clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            // The status, or 0 when no answer came.
            let status = match req.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    if r.bytes().await.is_ok() { status } else { 0 }
                }
                Err(_) => 0,
            };
            (t.elapsed(), status)
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut failed = std::collections::BTreeMap::<u16, usize>::new();
    for t in tasks {
        let (took, status) = t.await.map_err(|e| e.to_string())?;
        latencies.push(took);
        if status != 200 {
            *failed.entry(status).or_default() += 1;
        }
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let max = sampler.join().map_err(|_| "the sampler panicked")?;
    let end = memory(pid).ok_or("cannot read the server's memory")?;
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    println!(
        "load: {} checks in {:.1} s = {:.0}/s, not answered 200 (status: count): {failed:?}; \
         p50 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
    println!(
        "server under load: max RSS {}, max PSS {}, peak RSS (VmHWM) {}",
        mb(max.rss_kb),
        mb(max.pss_kb),
        mb(end.peak_rss_kb.max(max.peak_rss_kb))
    );
    if failed.keys().any(|&status| status != 503) {
        return Err(format!(
            "checks not answered 200 (status: count): {failed:?}"
        ));
    }
    Ok(())
}

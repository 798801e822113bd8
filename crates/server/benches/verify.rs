//! Durable code checks per second, as a fleet would see them: the real `doorstep-server`
//! binary (production mode, its middleware, its log at INFO to a file) in one process and the
//! load generator in another.
//!
//! `cargo bench -p doorstep-server --bench verify [-- sqlite|postgres|postgres2|store …]`
//!
//! Each configuration starts from a fresh fleet on the real disk (`target/bench-verify/`):
//! 50 couriers with an enrolled phone each and 100 stops each (5,000 stops; every tenth stop
//! has two parcels, so 5,500 parcels), every stop with a code. The load generator (this bench
//! binary again, `--client`, a process of its own) sends `POST /v1/verify` with each phone's
//! own token and parcels; one request in ten carries a wrong code (a valid check digit, so
//! the server counts the attempt), spread evenly over the stops so no stop locks. Warm-up is
//! not counted. It reports:
//!
//! - the maximum: a closed loop of 64 connections for 10 s;
//! - latency (p50/p99, measured from when each request was due, so a stalled server cannot
//!   hide its queue) in an open loop at 1,000/s and at 80 % of the maximum, 10 s each, over
//!   64 connections (a fixed schedule, as wrk2 keeps);
//! - overload: a closed loop of 384 connections, more than the server answers at once (256)
//!   — what is answered and its p99, what is refused with 503 (the client then waits the
//!   `Retry-After`, as the app does), and how fast the refusals come.
//!
//! Beside them, in the same run, the limits the server is held to: for SQLite the store
//! alone (the same checks from 8 threads, no HTTP); for PostgreSQL `pgbench -N` (its built-in
//! simple-update script) with the same 64 clients on the same server. `postgres2` runs two
//! server processes on one database, the clients alternating between them. PostgreSQL is
//! `DOORSTEP_TEST_POSTGRES_URL` (default postgres://root@127.0.0.1:5432/postgres).
//!
//! Build the server first (`cargo build --release -p doorstep-server`); `cargo bench` builds
//! this bench in the same profile, and the bench runs `target/release/doorstep-server`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use doorstep_protocol::code::damm_check_digit;
use doorstep_protocol::wire::{CreateParcelRequest, EnrollRequest, Platform};
use doorstep_server::store::Store;
use doorstep_server::{AppState, Policy, ServerConfig};
use serde_json::{Value, json};

const PHONES: usize = 50;
const STOPS_PER_PHONE: usize = 100;
const CONNECTIONS: usize = 64;
const OVERLOAD_CONNECTIONS: usize = 384;
const WARM_UP: Duration = Duration::from_secs(3);
const RUN: Duration = Duration::from_secs(10);

/// One parcel a phone may check: its token, the parcel, the right and a wrong code, and
/// whether it is the first parcel of its stop (wrong codes go only to those, so a stop of two
/// parcels gets no more wrong attempts than any other).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Target {
    token: String,
    parcel: String,
    right: String,
    wrong: String,
    first: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--client") {
        client::main(&args[1..]);
        return;
    }
    let wanted: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let all = ["sqlite", "store", "postgres", "postgres2"];
    let run = |name: &str| wanted.is_empty() || wanted.contains(&name);
    for name in all {
        if !run(name) {
            continue;
        }
        match name {
            "sqlite" => http_bench("SQLite, 1 node", None, 1),
            "store" => store_bench(),
            "postgres" => {
                pgbench();
                let pg = doorstep_server::testing::TestPostgres::create();
                http_bench("PostgreSQL, 1 node", Some(pg.url.clone()), 1);
            }
            "postgres2" => {
                let pg = doorstep_server::testing::TestPostgres::create();
                http_bench("PostgreSQL, 2 nodes", Some(pg.url.clone()), 2);
            }
            _ => unreachable!(),
        }
    }
}

/// The bench's own data directories, on the real disk beside the build.
fn bench_dir(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("bench-verify").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every stop needs a code; up to 10 wrong attempts per code.
const POLICY: &str = "[defaults]\ncode_required = true\nmax_attempts = 10\n";

fn fleet_config(dir: &Path, database: Option<String>) -> ServerConfig {
    let mut config = ServerConfig::production(dir, "http://127.0.0.1:1");
    config.policy = Policy::from_toml(POLICY).unwrap();
    config.database = database;
    config
}

/// A code of the same length with another first digit and a right check digit: the server
/// counts it as a wrong attempt.
fn wrong_code(right: &str) -> String {
    let mut digits: Vec<u8> = right.bytes().map(|b| b - b'0').collect();
    digits.pop();
    digits[0] = (digits[0] + 1) % 10;
    let check = damm_check_digit(&digits);
    digits.push(check);
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

/// Seeds the fleet: 50 couriers each with a phone and 100 stops. Returns every parcel a
/// phone may check. Parcels are created from 4 threads, so their commits share fsyncs.
fn seed(config: &ServerConfig) -> Vec<Target> {
    let state = AppState::open(config.clone()).unwrap();
    let store: Arc<Store> = state.store.clone();
    let now = config.clock.now_ms();
    let date = config.time_zone.date_of(now);
    let (shipper, _, _) = store.create_shipper("Bench Shop", None, now).unwrap();
    let shipper = shipper.to_string();
    let mut phones = Vec::new();
    for p in 0..PHONES {
        let courier = store.create_courier(&format!("Courier {p}"), now).unwrap();
        let (code, _) = store.create_enrollment(courier, 3_600_000, now).unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&[p as u8 + 1; 32]);
        let (_, token, _, _) = store
            .enroll(
                &EnrollRequest {
                    enrollment_code: code,
                    device_public_key: hex::encode(key.verifying_key().as_bytes()),
                    app_version: "1.0.0".into(),
                    platform: Platform::Android,
                },
                now,
            )
            .unwrap();
        phones.push((courier, token));
    }
    let phones = Arc::new(phones);
    let next = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (store, phones, next, shipper, date) = (
                store.clone(),
                phones.clone(),
                next.clone(),
                shipper.clone(),
                date.clone(),
            );
            std::thread::spawn(move || {
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= PHONES * STOPS_PER_PHONE {
                        return out;
                    }
                    let (courier, token) = &phones[i % PHONES];
                    let parcels = if i % 10 == 0 { 2 } else { 1 };
                    // A parcel that joins a stop gets the stop a new code for every parcel.
                    let mut code = None;
                    let first_of_stop = out.len();
                    for n in 0..parcels {
                        let req: CreateParcelRequest = serde_json::from_value(json!({
                            "barcode": format!("BENCH-{i:05}-{n}"),
                            "recipient": { "name": format!("Customer {i}") },
                            "address": format!("Street {i}, Amsterdam"),
                            "postal_code": "1071",
                            "method": "hand_to_recipient",
                            "delivery_date": date,
                            "courier_id": courier,
                        }))
                        .unwrap();
                        let parcel =
                            doorstep_server::domain::parcel::NewParcel::check(&req).unwrap();
                        // On PostgreSQL, four creators at once can use up a create's
                        // serialization retries; a shipper would send it again.
                        let mut attempt = 1;
                        let made = loop {
                            match store.create_parcel(&shipper, &parcel, now) {
                                Ok(made) => break made,
                                Err(e) if attempt < 10 => {
                                    eprintln!("create_parcel, attempt {attempt}: {e}");
                                    attempt += 1;
                                }
                                Err(e) => panic!("create_parcel: {e}"),
                            }
                        };
                        if let Some(c) = made.new_code {
                            code = Some(c);
                        }
                        out.push(Target {
                            token: token.clone(),
                            parcel: made.view.parcel_id.to_string(),
                            wrong: String::new(),
                            right: String::new(),
                            first: n == 0,
                        });
                    }
                    let code = code.expect("the stop has its code");
                    for t in &mut out[first_of_stop..] {
                        t.wrong = wrong_code(&code);
                        t.right = code.clone();
                    }
                }
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect()
}

fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/release/deps/verify-… → target/release/doorstep-server
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("doorstep-server");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --release -p doorstep-server` first",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `doorstep-server serve` process: production mode, the rate limits per address and per
/// phone lifted (one load generator stands in for a whole fleet), its log at INFO in a file.
struct ServerProcess {
    child: Child,
    url: String,
}

impl ServerProcess {
    fn start(dir: &Path, database: Option<&str>, log: &Path) -> Self {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        std::fs::write(dir.join("policy.toml"), POLICY).unwrap();
        let mut cmd = Command::new(server_binary());
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--public-url", &url])
            .arg("--policy")
            .arg(dir.join("policy.toml"))
            .args(["--verify-rate-per-address", "1000000"])
            .args(["--verify-rate-per-device", "1000000"])
            // The load generator is one address standing for the whole fleet.
            .args(["--connections-per-address", "0"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap());
        if let Some(db) = database {
            cmd.args(["--database", db]);
        }
        let child = cmd.spawn().unwrap();
        let server = Self { child, url };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the server did not start; see {}",
                log.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// Resident memory of the process, kB (from /proc).
    fn rss_kb(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the client reports of one run.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct RunReport {
    answered: u64,
    refused: u64,
    failed: u64,
    wrong_sent: u64,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// p99 of the time to a 503 refusal (0 without refusals).
    refused_p99_ms: f64,
    /// p99 from when an answered check was sent (what one admitted request waits).
    service_p99_ms: f64,
    outcomes: std::collections::BTreeMap<String, u64>,
}

impl RunReport {
    fn rate(&self) -> f64 {
        self.answered as f64 / self.secs
    }
}

/// Runs the load generator as a process of its own.
fn run_client(plan: &Path, urls: &[String], mode: &str, wrong_offset: u64) -> RunReport {
    let out = Command::new(std::env::current_exe().unwrap())
        .arg("--client")
        .arg(plan)
        .arg(mode)
        .arg(wrong_offset.to_string())
        .args(urls)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "the load generator failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn http_bench(label: &str, database: Option<String>, nodes: usize) {
    let dir = bench_dir(&label.replace([' ', ','], "-"));
    let data = dir.join("data");
    let config = fleet_config(&data, database.clone());
    let started = Instant::now();
    let targets = seed(&config);
    eprintln!(
        "{label}: seeded {} parcels on {} stops for {PHONES} phones in {:.1} s",
        targets.len(),
        PHONES * STOPS_PER_PHONE,
        started.elapsed().as_secs_f64()
    );
    let plan = dir.join("plan.json");
    std::fs::write(&plan, serde_json::to_vec(&targets).unwrap()).unwrap();
    let servers: Vec<ServerProcess> = (0..nodes)
        .map(|n| {
            ServerProcess::start(
                &data,
                database.as_deref(),
                &dir.join(format!("server-{n}.log")),
            )
        })
        .collect();
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let mut wrong = 0;
    let max = run_client(&plan, &urls, &format!("closed:{CONNECTIONS}"), wrong);
    wrong += max.wrong_sent;
    let at_1000 = run_client(&plan, &urls, "open:1000", wrong);
    wrong += at_1000.wrong_sent;
    let eighty = (max.rate() * 0.8).round();
    let at_80 = run_client(&plan, &urls, &format!("open:{eighty}"), wrong);
    wrong += at_80.wrong_sent;
    // More phones at once than the server answers at once (256 in flight by default), fewer
    // than it keeps open (512): the ones over are refused, wait their Retry-After, try again.
    let overload = run_client(
        &plan,
        &urls,
        &format!("closed:{OVERLOAD_CONNECTIONS}"),
        wrong,
    );
    let rss: Vec<String> = servers
        .iter()
        .map(|s| format!("{} MB", s.rss_kb() / 1024))
        .collect();
    println!("\n{label}");
    println!(
        "  maximum ({CONNECTIONS} connections): {:.0} verifications/s (p50 {:.2} ms, p99 {:.2} ms; {} refused, {} failed; {:?})",
        max.rate(),
        max.p50_ms,
        max.p99_ms,
        max.refused,
        max.failed,
        max.outcomes
    );
    for (name, r) in [("1,000/s", &at_1000), ("80 % of the maximum", &at_80)] {
        println!(
            "  at {name}: {:.0}/s answered, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} refused, {} failed)",
            r.rate(),
            r.p50_ms,
            r.p99_ms,
            r.max_ms,
            r.refused,
            r.failed
        );
    }
    println!(
        "  overload, {OVERLOAD_CONNECTIONS} connections at once: {:.0}/s answered, p99 {:.2} ms; {} refused with 503, p99 {:.2} ms to the refusal",
        overload.rate(),
        overload.service_p99_ms,
        overload.refused,
        overload.refused_p99_ms
    );
    println!(
        "  peak resident memory of the server process(es): {}",
        rss.join(", ")
    );
    let lost = max.failed + at_1000.failed + at_80.failed;
    assert_eq!(
        lost,
        0,
        "requests failed; see the server log in {}",
        dir.display()
    );
}

/// The SQLite store alone: the same checks from 8 threads, no HTTP, for 10 s.
fn store_bench() {
    let dir = bench_dir("store");
    let config = fleet_config(&dir, None);
    let targets = Arc::new(seed(&config));
    let firsts = Arc::new(client::firsts(&targets));
    let state = AppState::open(config).unwrap();
    let devices: std::collections::HashMap<String, _> = targets
        .iter()
        .map(|t| {
            (
                t.token.clone(),
                state.store.device_by_token(&t.token).unwrap().unwrap(),
            )
        })
        .collect();
    let devices = Arc::new(devices);
    let count = Arc::new(AtomicU64::new(0));
    let wrong = Arc::new(AtomicU64::new(0));
    let stop_at = Instant::now() + WARM_UP + RUN;
    let count_from = Instant::now() + WARM_UP;
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (store, targets, firsts, devices, count, wrong, clock) = (
                state.store.clone(),
                targets.clone(),
                firsts.clone(),
                devices.clone(),
                count.clone(),
                wrong.clone(),
                state.config.clock.clone(),
            );
            std::thread::spawn(move || {
                let mut rng = client::XorShift::new(t + 1);
                while Instant::now() < stop_at {
                    let (target, code) = client::pick(&targets, &firsts, &mut rng, &wrong, 0);
                    let code = doorstep_protocol::DeliveryCode::parse(code, None).unwrap();
                    let parcel = target.parcel.parse().unwrap();
                    store
                        .verify(&devices[&target.token], parcel, &code, clock.now_ms())
                        .unwrap();
                    if Instant::now() >= count_from {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    println!(
        "\nSQLite store alone (8 threads, no HTTP): {:.0} verifications/s",
        count.load(Ordering::Relaxed) as f64 / RUN.as_secs_f64()
    );
}

/// `pgbench -N` (simple updates) with the same client count, on a scratch database of the
/// same server: the most this PostgreSQL sustains for small durable write transactions.
fn pgbench() {
    let admin = doorstep_server::testing::postgres_admin_url();
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .unwrap_or(admin.clone());
    let db = format!("{base}/doorstep_pgbench");
    let psql = |sql: &str| {
        let _ = Command::new("psql")
            .args([admin.as_str(), "-q", "-c", sql])
            .stderr(Stdio::null())
            .status();
    };
    psql("DROP DATABASE IF EXISTS doorstep_pgbench");
    psql("CREATE DATABASE doorstep_pgbench");
    let init = Command::new("pgbench")
        .args(["-i", "-q", "-s", "10", &db])
        .stderr(Stdio::null())
        .status();
    if !init.is_ok_and(|s| s.success()) {
        println!("\npgbench: could not initialise {db} (is pgbench installed?)");
        return;
    }
    let out = Command::new("pgbench")
        .args([
            "-N",
            "-c",
            &CONNECTIONS.to_string(),
            "-j",
            "2",
            "-T",
            "10",
            &db,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps"))
        .unwrap_or("tps = ? (no result)");
    let latency = text
        .lines()
        .find(|l| l.starts_with("latency average"))
        .unwrap_or("");
    println!(
        "\nPostgreSQL's own limit, pgbench -N -c {CONNECTIONS} -j 2 -T 10 (scale 10): {tps}; {latency}"
    );
    psql("DROP DATABASE IF EXISTS doorstep_pgbench");
}

/// The load generator: `--client PLAN MODE WRONG_OFFSET URL…`, MODE `closed:N` (N
/// connections, each sending its next request when the last is answered) or `open:R` (R
/// requests a second over 64 connections, each timed from when it was due). Prints a
/// [`RunReport`] as JSON.
mod client {
    use super::*;

    const USAGE: &str = "MODE is closed:N or open:RATE";

    /// A small fast generator; the load needs no more.
    pub(crate) struct XorShift(u64);

    impl XorShift {
        pub(crate) fn new(seed: usize) -> Self {
            Self(0x9E37_79B9_7F4A_7C15 ^ (seed as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9))
        }

        pub(crate) fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
    }

    /// The next check: nine in ten a random parcel with its right code; one in ten a wrong
    /// code, for the stops in turn (`firsts`: the index of each stop's first parcel), so
    /// every stop gets its share and none locks.
    pub(crate) fn pick<'a>(
        targets: &'a [Target],
        firsts: &[usize],
        rng: &mut XorShift,
        wrong: &AtomicU64,
        offset: u64,
    ) -> (&'a Target, &'a str) {
        let r = rng.next();
        if r % 10 == 0 {
            let n = (wrong.fetch_add(1, Ordering::Relaxed) + offset) as usize;
            let t = &targets[firsts[n % firsts.len()]];
            (t, &t.wrong)
        } else {
            let t = &targets[(r / 10) as usize % targets.len()];
            (t, &t.right)
        }
    }

    /// The index of each stop's first parcel.
    pub(crate) fn firsts(targets: &[Target]) -> Vec<usize> {
        (0..targets.len()).filter(|&i| targets[i].first).collect()
    }

    struct Shared {
        targets: Vec<Target>,
        firsts: Vec<usize>,
        urls: Vec<String>,
        client: reqwest::Client,
        wrong: AtomicU64,
        offset: u64,
        turn: AtomicUsize,
    }

    /// One check; its outcome (`Err`: failed).
    async fn check(shared: &Shared, rng: &mut XorShift) -> Result<Outcome, String> {
        let (target, code) = pick(
            &shared.targets,
            &shared.firsts,
            rng,
            &shared.wrong,
            shared.offset,
        );
        let url = &shared.urls[shared.turn.fetch_add(1, Ordering::Relaxed) % shared.urls.len()];
        let body = format!(
            "{{\"parcel_id\":\"{}\",\"code\":\"{code}\"}}",
            target.parcel
        );
        let answer = shared
            .client
            .post(format!("{url}/v1/verify"))
            .bearer_auth(&target.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = answer.status();
        let retry_after = answer
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let text = answer.text().await.map_err(|e| e.to_string())?;
        if status == 503 {
            let wait = retry_after.ok_or("503 without Retry-After")?;
            return Ok(Outcome::Refused(Duration::from_secs(wait)));
        }
        if status != 200 {
            return Err(format!("{status}: {text}"));
        }
        let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        Ok(Outcome::Answered(
            v["result"].as_str().unwrap_or("?").to_string(),
        ))
    }

    /// What became of one check.
    enum Outcome {
        /// The server's answer (`verified`, `wrong`, …).
        Answered(String),
        /// Refused with 503; the `Retry-After` it asked for.
        Refused(Duration),
    }

    impl Outcome {
        /// As the app does: a refused phone waits what the server asked before it tries
        /// again (its connection takes no new check meanwhile).
        async fn back_off(r: &Result<Outcome, String>) {
            if let Ok(Outcome::Refused(wait)) = r {
                tokio::time::sleep(*wait).await;
            }
        }
    }

    #[derive(Default)]
    struct Tally {
        /// Answered checks, from when each was due.
        latencies: Vec<Duration>,
        /// Answered checks, from when each was sent (what one admitted request waits).
        service: Vec<Duration>,
        /// Refused checks, from when each was sent.
        refused_latencies: Vec<Duration>,
        refused: u64,
        failed: u64,
        outcomes: std::collections::BTreeMap<String, u64>,
    }

    impl Tally {
        fn add(&mut self, due: Instant, sent: Instant, r: &Result<Outcome, String>) {
            match r {
                Ok(Outcome::Answered(outcome)) => {
                    self.latencies.push(due.elapsed());
                    self.service.push(sent.elapsed());
                    *self.outcomes.entry(outcome.clone()).or_default() += 1;
                }
                Ok(Outcome::Refused(_)) => {
                    self.refused += 1;
                    self.refused_latencies.push(sent.elapsed());
                }
                Err(e) => {
                    if self.failed < 3 {
                        eprintln!("check failed: {e}");
                    }
                    self.failed += 1;
                }
            }
        }

        fn merge(&mut self, other: Tally) {
            self.latencies.extend(other.latencies);
            self.service.extend(other.service);
            self.refused_latencies.extend(other.refused_latencies);
            self.refused += other.refused;
            self.failed += other.failed;
            for (k, v) in other.outcomes {
                *self.outcomes.entry(k).or_default() += v;
            }
        }
    }

    pub(crate) fn main(args: &[String]) {
        let [plan, mode, offset, urls @ ..] = args else {
            panic!("usage: --client PLAN MODE WRONG_OFFSET URL…");
        };
        let targets: Vec<Target> = serde_json::from_slice(&std::fs::read(plan).unwrap()).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let shared = Arc::new(Shared {
            firsts: firsts(&targets),
            targets,
            urls: urls.to_vec(),
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(1024)
                .build()
                .unwrap(),
            wrong: AtomicU64::new(0),
            offset: offset.parse().unwrap(),
            turn: AtomicUsize::new(0),
        });
        let (kind, n) = mode.split_once(':').expect(USAGE);
        let n: f64 = n.parse().expect(USAGE);
        let (tally, secs) = rt.block_on(async {
            match kind {
                "closed" => closed(shared.clone(), n as usize).await,
                "open" => open(shared.clone(), n).await,
                _ => panic!("{USAGE}"),
            }
        });
        let mut lat = tally.latencies;
        lat.sort();
        let pct = |p: f64| percentile_ms(&lat, p);
        let report = RunReport {
            answered: lat.len() as u64,
            refused: tally.refused,
            failed: tally.failed,
            wrong_sent: shared.wrong.load(Ordering::Relaxed),
            secs,
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
            max_ms: lat.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
            refused_p99_ms: sorted_p99_ms(tally.refused_latencies),
            service_p99_ms: sorted_p99_ms(tally.service),
            outcomes: tally.outcomes,
        };
        println!("{}", serde_json::to_string(&report).unwrap());
    }

    /// The `p` quantile of sorted latencies, in ms (0 without any).
    fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
        sorted
            .get(((sorted.len().max(1) - 1) as f64 * p).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    }

    fn sorted_p99_ms(mut latencies: Vec<Duration>) -> f64 {
        latencies.sort();
        percentile_ms(&latencies, 0.99)
    }

    /// `connections` loops, each sending its next check when the last is answered; what is
    /// answered after the warm-up counts.
    async fn closed(shared: Arc<Shared>, connections: usize) -> (Tally, f64) {
        let start = Instant::now();
        let count_from = start + WARM_UP;
        let stop_at = count_from + RUN;
        let tasks: Vec<_> = (0..connections)
            .map(|c| {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let mut rng = XorShift::new(c + 1);
                    let mut tally = Tally::default();
                    loop {
                        let sent = Instant::now();
                        if sent >= stop_at {
                            return tally;
                        }
                        let r = check(&shared, &mut rng).await;
                        if sent >= count_from {
                            tally.add(sent, sent, &r);
                        }
                        Outcome::back_off(&r).await;
                    }
                })
            })
            .collect();
        let mut tally = Tally::default();
        for t in tasks {
            tally.merge(t.await.unwrap());
        }
        (tally, RUN.as_secs_f64())
    }

    /// `rate` checks a second on a fixed schedule over [`CONNECTIONS`] connections (wrk2's
    /// model): each connection takes the next due check, waits for its time and sends it; a
    /// check's latency is counted from when it was due, so a slow answer also counts against
    /// the checks queued behind it, and the client never opens more connections than a fleet
    /// of that size would.
    async fn open(shared: Arc<Shared>, rate: f64) -> (Tally, f64) {
        let interval = Duration::from_secs_f64(1.0 / rate);
        let start = Instant::now();
        let count_from = start + WARM_UP;
        let total = ((WARM_UP + RUN).as_secs_f64() * rate) as u64;
        let next = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (0..CONNECTIONS)
            .map(|c| {
                let (shared, next) = (shared.clone(), next.clone());
                tokio::spawn(async move {
                    let mut rng = XorShift::new(c + 1);
                    let mut tally = Tally::default();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= total {
                            return tally;
                        }
                        let due = start + interval.mul_f64(i as f64);
                        tokio::time::sleep_until(due.into()).await;
                        let sent = Instant::now();
                        let r = check(&shared, &mut rng).await;
                        if due >= count_from {
                            tally.add(due, sent, &r);
                        }
                        Outcome::back_off(&r).await;
                    }
                })
            })
            .collect();
        let mut tally = Tally::default();
        for t in tasks {
            tally.merge(t.await.unwrap());
        }
        // Over the time it really took: behind schedule, that is longer than planned.
        (tally, count_from.elapsed().as_secs_f64())
    }
}

//! Two server nodes on one PostgreSQL database: what lives in one process on SQLite (the
//! attempt counter, exactly-once sync, the outbox) must hold across nodes. These tests always
//! run on PostgreSQL (the machine's server; without it they fail, saying so), whichever
//! backend the rest of the suite runs on.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use doorstep_protocol::wire::{EventStatus, Verification};
use doorstep_server::testing::{TestNode, TestPostgres, spawn_test_server};
use doorstep_server::{DemoParcel, ManualClock};
use serde_json::{Value, json};

use crate::helpers::*;

/// Node A (the test app) and node B on one fresh PostgreSQL schema, sharing the data
/// directory (secrets, photos). Dropped in field order: the nodes, then the schema.
struct Cluster {
    app: TestApp,
    b: TestNode,
    _pg: TestPostgres,
}

async fn cluster() -> Cluster {
    let pg = TestPostgres::create();
    let url = pg.url.clone();
    let app = spawn_app_with(move |c| c.database = Some(url)).await;
    let b = app.server.start_node().await;
    Cluster { app, b, _pg: pg }
}

/// A delivery record for each parcel, as a phone that was offline the whole round sends them.
fn deliveries(
    device: &mut Device,
    parcels: &[DemoParcel],
    at_ms: i64,
) -> Vec<doorstep_protocol::wire::DeliveryEvent> {
    parcels
        .iter()
        .map(|p| {
            let verification = match &p.code {
                Some(code) => Verification::OfflineCode {
                    code: doorstep_protocol::DeliveryCode::parse(code, None).unwrap(),
                },
                None => Verification::NotRequired,
            };
            device.event(p.stop_id, &[p.parcel_id], delivered(verification), at_ms)
        })
        .collect()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.query(sql).await[0].get(0).unwrap()
}

#[tokio::test]
async fn a_hundred_wrong_guesses_spread_over_two_nodes_count_exactly_the_limit() {
    let c = cluster().await;
    let on_a = Arc::new(c.app.device().await);
    let on_b = Arc::new(on_a.at(&c.b.url()));
    let p = c.app.parcel("very high value");
    let wrong = wrong_code(p.code.as_deref().unwrap());
    let mut tasks = Vec::new();
    for i in 0..100 {
        let device = if i % 2 == 0 {
            on_a.clone()
        } else {
            on_b.clone()
        };
        let wrong = wrong.clone();
        let id = p.parcel_id;
        tasks.push(tokio::spawn(async move { device.verify(id, &wrong).await }));
    }
    let mut left_seen = Vec::new();
    let mut locked = 0;
    for t in tasks {
        let out = t.await.unwrap();
        match out["result"].as_str().unwrap() {
            "wrong" => left_seen.push(out["attempts_left"].as_u64().unwrap()),
            "locked" => locked += 1,
            other => panic!("unexpected {other}"),
        }
    }
    left_seen.sort_unstable();
    assert_eq!(
        left_seen,
        vec![0, 1, 2, 3, 4],
        "each of the 5 attempts was counted once, by one node or the other"
    );
    assert_eq!(locked, 95);
    for node in [&on_a, &on_b] {
        assert_eq!(
            node.verify(p.parcel_id, p.code.as_deref().unwrap()).await["result"],
            "locked",
            "the right code no longer works on either node"
        );
    }
}

#[tokio::test]
async fn a_batch_sent_to_one_node_and_retried_on_the_other_is_stored_once_with_the_same_answers() {
    let c = cluster().await;
    let mut device = c.app.device().await;
    let parcels: Vec<DemoParcel> = c.app.seed.parcels.clone();
    let batch = deliveries(&mut device, &parcels, MORNING_MS);
    let first = device.sync(&batch).await;
    let again = device.at(&c.b.url()).sync(&batch).await;
    assert_eq!(first, again, "the retry on node B gets node A's answers");
    assert!(
        first
            .iter()
            .all(|r| !matches!(r.status, EventStatus::Retry { .. })),
        "{first:?}"
    );
    assert_eq!(
        count(&c.app, "SELECT COUNT(*) FROM events").await,
        batch.len() as i64
    );
}

#[tokio::test]
async fn each_outbox_message_is_sent_once_with_both_nodes_running() {
    let c = cluster().await;
    // Forty new parcels, each with a code and its customer's email, created on both nodes
    // while both nodes' outbox workers run.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let base = if i % 2 == 0 {
            c.app.base.clone()
        } else {
            c.b.url()
        };
        let client = c.app.client.clone();
        let key = c.app.seed.shipper_api_key.clone();
        let courier = c.app.seed.courier_id;
        tasks.push(tokio::spawn(async move {
            client
                .post(format!("{base}/v1/parcels"))
                .bearer_auth(key)
                .json(&json!({
                    "barcode": format!("CLUSTER-{i:04}"),
                    "recipient": { "name": format!("Customer {i}"), "email": format!("c{i}@example.com") },
                    "address": format!("Street {i}, Amsterdam"),
                    "postal_code": "1071",
                    "declared_value": { "amount": "750.00", "currency": "EUR" },
                    "method": "hand_to_recipient",
                    "delivery_date": DATE,
                    "courier_id": courier,
                }))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 201);
    }
    let mut unsent = -1;
    for _ in 0..400 {
        unsent = count(
            &c.app,
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND dropped_at IS NULL",
        )
        .await;
        if unsent == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(unsent, 0, "every message went out");
    let sent = count(
        &c.app,
        "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL",
    )
    .await;
    assert!(
        sent >= 40,
        "the new parcels' messages are among them: {sent}"
    );
    assert_eq!(
        count(&c.app, "SELECT COUNT(*) FROM dev_messages").await,
        sent,
        "each sent message reached the (development) provider once"
    );
    assert_eq!(
        count(&c.app, "SELECT COUNT(*) FROM outbox WHERE attempts > 1").await,
        0,
        "no message was tried twice"
    );
}

/// A node as its own process (so it can be killed with SIGKILL), on the fleet's database and
/// data directory.
struct ProcessNode {
    child: Child,
    url: String,
}

impl ProcessNode {
    async fn start(data_dir: &std::path::Path, database: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_doorstep-server"))
            .args([
                "serve",
                "--demo-mode",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["--public-url", &url])
            .env("DOORSTEP_DATA_DIR", data_dir)
            .env("DOORSTEP_DATABASE_URL", database)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server binary starts");
        // Dropping the node kills and reaps the process, also if it never answers.
        let node = Self { child, url };
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(r) = client.get(format!("{}/v1/health", node.url)).send().await
                && r.status() == 200
            {
                return node;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(node);
        panic!("the node process did not answer /v1/health");
    }
}

impl Drop for ProcessNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_node_killed_in_the_middle_of_a_batch_loses_nothing_and_stores_nothing_twice() {
    let pg = TestPostgres::create();
    let url = pg.url.clone();
    // The real clock: node B is a separate process with the system clock too.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let today = doorstep_server::domain::zone::FleetZone::utc().date_of(now);
    let server = spawn_test_server(&today, |c| c.database = Some(url.clone())).await;
    let app = TestApp::on(server, Arc::new(ManualClock::new(now)));
    let mut device = app.device().await;
    let parcels: Vec<DemoParcel> = app.seed.parcels.clone();
    let mut rounds = 0;
    for (round, chunk) in parcels.chunks(parcels.len().div_ceil(3)).enumerate() {
        let node_b = ProcessNode::start(app.data_dir(), &url).await;
        let batch = deliveries(&mut device, chunk, now);
        let on_b = device.at(&node_b.url);
        let sent = {
            let batch = batch.clone();
            tokio::spawn(async move {
                on_b.post(
                    "/v1/sync",
                    json!({
                        "app_version": "0.1.0", "platform": "linux", "events": batch,
                    }),
                )
                .await
            })
        };
        // Kill B at a different moment each round: before, during or after its commit.
        tokio::time::sleep(Duration::from_millis([0, 3, 15][round % 3])).await;
        let mut node_b = node_b;
        let _ = node_b.child.kill(); // SIGKILL
        let _ = node_b.child.wait();
        let b_answer: Option<Value> = match sent.await {
            Ok(r) if r.status() == 200 => r.json().await.ok(),
            _ => None,
        };
        // The phone got no answer (or did, just before the kill): it sends the batch again,
        // now through node A.
        let results = device.sync(&batch).await;
        assert!(
            results
                .iter()
                .all(|r| !matches!(r.status, EventStatus::Retry { .. })),
            "{results:?}"
        );
        if let Some(b) = b_answer {
            assert_eq!(
                serde_json::to_value(&results).unwrap(),
                b["results"],
                "node A answers as node B did before it died"
            );
        }
        rounds += 1;
    }
    assert_eq!(rounds, 3);
    let stored = app
        .query("SELECT COUNT(*), COUNT(DISTINCT id) FROM events")
        .await;
    assert_eq!(
        stored[0].get::<_, i64>(0).unwrap(),
        parcels.len() as i64,
        "every record is stored"
    );
    assert_eq!(
        stored[0].get::<_, i64>(1).unwrap(),
        parcels.len() as i64,
        "none twice"
    );
    let delivered = app
        .query("SELECT COUNT(*) FROM parcels WHERE status = 'delivered'")
        .await[0]
        .get::<_, i64>(0)
        .unwrap();
    assert!(delivered > 0, "the handovers changed the parcels");
    drop(app);
    drop(pg);
}

#[tokio::test]
async fn a_postgres_database_from_a_newer_server_is_refused() {
    let pg = TestPostgres::create();
    let dir = tempfile::tempdir().unwrap();
    let mut config = doorstep_server::ServerConfig::demo(dir.path());
    config.database = Some(pg.url.clone());
    let open = |config: doorstep_server::ServerConfig| {
        std::thread::spawn(move || doorstep_server::AppState::open(config).map(|_| ()))
            .join()
            .unwrap()
    };
    open(config.clone()).expect("a fresh database is migrated");
    let location = config.store_location();
    std::thread::spawn(move || {
        location.with_connection(|db| {
            Ok(db.exec(
                "UPDATE doorstep_schema SET version = 99",
                Vec::<doorstep_server::store::backend::sql::Value>::new(),
            )?)
        })
    })
    .join()
    .unwrap()
    .unwrap();
    let err = open(config).unwrap_err();
    assert!(
        matches!(
            err,
            doorstep_server::ServerError::DatabaseTooNew { found: 99, .. }
        ),
        "{err}"
    );
}

/// A TCP relay to the PostgreSQL server that the test can cut and restore: "the database goes
/// away" without stopping the machine's PostgreSQL, which other tests use. It runs on a
/// runtime of its own: the test's runtime is blocked while the test schema is dropped, and a
/// relay on it would then hold the server's last transaction (and its locks) open. Dropped,
/// it closes every connection.
struct Relay {
    port: u16,
    open: Arc<std::sync::atomic::AtomicBool>,
    conns: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    rt: Option<tokio::runtime::Runtime>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Relay {
    fn start() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (o, c) = (open.clone(), conns.clone());
        rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !o.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // refused: dropped at once
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect("127.0.0.1:5432").await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                c.lock().unwrap().push(task);
            }
        });
        Self {
            port,
            open,
            conns,
            rt: Some(rt),
        }
    }

    /// Cuts every connection and refuses new ones.
    fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        for t in self.conns.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_node_whose_database_goes_away_answers_503_and_recovers_by_itself() {
    let pg = TestPostgres::create();
    let relay = Relay::start();
    // The schema's URL, through the relay.
    let url = pg
        .url
        .replace("127.0.0.1:5432", &format!("127.0.0.1:{}", relay.port));
    assert_ne!(url, pg.url, "the test URL goes through the relay");
    let app = spawn_app_with(move |c| c.database = Some(url)).await;
    let device = app.device().await;
    let p = app.parcel("very high value");
    let wrong = wrong_code(p.code.as_deref().unwrap());
    assert_eq!(device.verify(p.parcel_id, &wrong).await["attempts_left"], 4);
    let health = || async { app.client.get(app.url("/v1/health")).send().await.unwrap() };
    assert_eq!(health().await.status(), 200);

    relay.cut();
    let r = health().await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "unavailable");
    assert!(
        body["message"].as_str().unwrap().contains("database"),
        "{body}"
    );
    let r = device
        .post(
            "/v1/verify",
            json!({ "parcel_id": p.parcel_id, "code": wrong }),
        )
        .await;
    assert_eq!(
        r.status(),
        503,
        "no answer about the code without the database"
    );

    relay.restore();
    let mut status = 0;
    for _ in 0..100 {
        status = health().await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "the node recovers by itself");
    assert_eq!(
        device.verify(p.parcel_id, &wrong).await["attempts_left"],
        3,
        "the check refused while the database was away did not count"
    );
}

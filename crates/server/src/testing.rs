//! The one test server: a real dispatch server on a free loopback port with a fresh data
//! directory and the demo route seeded, for the server's, the device core's and the app's
//! tests alike (feature `testing`). Each test says what differs — the day, the clock, the
//! randomness, any setting — through the `tweak` of [`spawn_test_server`].
//!
//! The backend comes from `DOORSTEP_TEST_DATABASE`: unset or `sqlite` for the SQLite file in
//! the data directory, `postgres` for a fresh PostgreSQL database per server (made on the
//! server at `DOORSTEP_TEST_POSTGRES_URL`, default `postgres://root@127.0.0.1:5432/postgres`,
//! and dropped with it). One test body, two backends: `scripts/test.sh` runs the server's
//! suite once with each. Without a reachable PostgreSQL the PostgreSQL run fails, saying so.

use std::net::SocketAddr;
use std::path::Path;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::ServerConfig;
use crate::launch;
use crate::ops::demo::{DemoSeed, seed_demo};

/// A running test server. Dropping it stops the server and removes its data.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What the demo seed made (enrollment code, admin token, shipper key, parcels).
    pub seed: DemoSeed,
    /// The day of the seeded route.
    pub date: String,
    /// The configuration it runs with.
    pub config: ServerConfig,
    dir: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    postgres: Option<TestPostgres>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// The PostgreSQL server the tests make their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("DOORSTEP_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/postgres".into())
}

/// Whether this test run uses PostgreSQL (`DOORSTEP_TEST_DATABASE=postgres`).
pub fn testing_postgres() -> bool {
    match std::env::var("DOORSTEP_TEST_DATABASE").as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Err(_) => false,
        Ok(other) => panic!("DOORSTEP_TEST_DATABASE={other}: use sqlite or postgres"),
    }
}

/// A fresh PostgreSQL schema — as good as a database of its own, and made in milliseconds
/// rather than the half second of `CREATE DATABASE` — in the shared database
/// `doorstep_tests`; dropped (with everything in it) when this is.
#[derive(Debug)]
pub struct TestPostgres {
    schema: String,
    /// A URL whose connections see only this schema (`search_path`).
    pub url: String,
}

/// The database the test schemas live in.
const TEST_DATABASE: &str = "doorstep_tests";

/// Runs `sql` on `url` from a thread and runtime of its own (this runs in tests' async code
/// and in `Drop`); panics with the reason if it fails.
fn run_sql(url: &str, sql: &str, tolerate: Option<tokio_postgres::error::SqlState>) {
    let url = url.to_string();
    let sql = sql.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "the PostgreSQL tests need a PostgreSQL server at {} \
                         (set DOORSTEP_TEST_POSTGRES_URL): {}",
                        crate::store::backend::postgres::redact_url(&url),
                        crate::store::backend::sql::DbError::from(e)
                    )
                });
            tokio::spawn(conn);
            if let Err(e) = client.batch_execute(&sql).await
                && (tolerate.is_none() || e.code() != tolerate.as_ref())
            {
                panic!("{sql}: {}", crate::store::backend::sql::DbError::from(e));
            }
        });
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

fn test_database_url() -> String {
    let admin = postgres_admin_url();
    let (base, _) = admin.rsplit_once('/').unwrap_or((admin.as_str(), ""));
    format!("{base}/{TEST_DATABASE}")
}

impl TestPostgres {
    /// Makes a new, empty schema (and the shared test database, the first time).
    pub fn create() -> Self {
        static DATABASE: std::sync::Once = std::sync::Once::new();
        DATABASE.call_once(|| {
            run_sql(
                &postgres_admin_url(),
                &format!("CREATE DATABASE {TEST_DATABASE}"),
                Some(tokio_postgres::error::SqlState::DUPLICATE_DATABASE),
            );
        });
        let schema = format!(
            "t_{}",
            hex::encode(crate::sys::secrets::random_bytes::<8>())
        );
        let db = test_database_url();
        run_sql(&db, &format!("CREATE SCHEMA {schema}"), None);
        Self {
            url: format!("{db}?options=-c%20search_path%3D{schema}"),
            schema,
        }
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        let url = test_database_url();
        if std::panic::catch_unwind(|| run_sql(&url, &sql, None)).is_err() {
            eprintln!("could not drop the test schema {}", self.schema);
        }
    }
}

/// Settings every test server shares: demo mode, an outbox that polls and retries quickly,
/// and request limits that a test's bursts do not reach (tests of the limits set their own).
fn test_defaults(config: &mut ServerConfig) {
    config.outbox_poll_ms = 50;
    config.outbox_retry_base_ms = 100;
    config.verify_rate_per_sec = 10_000.0;
    config.verify_burst = 10_000.0;
}

/// Starts a server for `date`'s demo route. `tweak` changes the configuration before the
/// seed (e.g. a `ManualClock`, a seeded [`doorstep_inputs::Randomness`], production mode).
///
/// Panics when the server cannot start: a test cannot go on without it.
pub async fn spawn_test_server(date: &str, tweak: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let dir = tempfile::tempdir().expect("a temporary data directory");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let addr = listener.local_addr().expect("the bound address");
    let mut config = ServerConfig::demo(dir.path().join("server"));
    config.public_url = format!("http://{addr}");
    test_defaults(&mut config);
    let postgres = testing_postgres().then(TestPostgres::create);
    config.database = postgres.as_ref().map(|p| p.url.clone());
    tweak(&mut config);
    let seed = {
        let config = config.clone();
        let date = date.to_string();
        tokio::task::spawn_blocking(move || seed_demo(&config, &date))
            .await
            .expect("the seeding task")
            .expect("the demo seed")
    };
    let (shutdown, task) = start(listener, config.clone());
    TestServer {
        addr,
        seed,
        date: date.to_string(),
        config,
        dir: Some(dir),
        shutdown: Some(shutdown),
        task: Some(task),
        postgres,
    }
}

fn start(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        launch(listener, config, async {
            let _ = rx.await;
        })
        .await
        .expect("the test server runs");
    });
    (tx, task)
}

impl TestServer {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's data directory (database, secrets, photos).
    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// Stops the server (waiting until it has), runs `between` on its data directory, and
    /// starts it again with the same data, seed and settings on a new port.
    pub async fn restart(mut self, between: impl FnOnce(&Path)) -> TestServer {
        self.stop().await;
        between(&self.config.data_dir);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        self.addr = listener.local_addr().expect("the bound address");
        self.config.public_url = format!("http://{}", self.addr);
        let (shutdown, task) = start(listener, self.config.clone());
        self.shutdown = Some(shutdown);
        self.task = Some(task);
        self
    }

    /// Runs a query on the server's database as it is (for tests that check what is at
    /// rest), on either backend.
    pub async fn query(&self, sql: &str) -> Vec<crate::store::backend::sql::Row> {
        let location = self.config.store_location();
        let sql = sql.to_string();
        tokio::task::spawn_blocking(move || {
            location
                .with_connection(|db| Ok(db.query(&sql, crate::store::backend::sql::params![])?))
        })
        .await
        .expect("the query task")
        .unwrap_or_else(|e| panic!("query failed: {e}"))
    }

    /// A second handle on the server's store (its database and secrets), for tests that call
    /// the store directly, e.g. between a request's authentication and its operation.
    pub async fn open_store(&self) -> Result<crate::store::Store, crate::ServerError> {
        let config = self.config.clone();
        tokio::task::spawn_blocking(move || crate::ops::open_store(&config))
            .await
            .expect("the store opening task")
    }

    /// Starts another node of the same fleet: the same configuration (database, data and
    /// secrets directory, clock) on a new port. Only meaningful on PostgreSQL, where nodes
    /// share the database.
    pub async fn start_node(&self) -> TestNode {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        let addr = listener.local_addr().expect("the bound address");
        let (shutdown, task) = start(listener, self.config.clone());
        TestNode {
            addr,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// Stops the server and waits until it has (the data stays until the value is dropped).
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// A second (third, …) node started by [`TestServer::start_node`]; stops when dropped.
#[derive(Debug)]
pub struct TestNode {
    /// Where it listens.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestNode {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
        // The directory goes with `dir`, the PostgreSQL database with `postgres`.
        let _ = self.dir.take();
        let _ = self.postgres.take();
    }
}

/// A zip archive holding these files (each holds its own name): an APK when one of them is
/// `AndroidManifest.xml` — what the release tests upload.
pub fn zip_with(names: &[&str]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut out);
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for n in names {
            z.start_file(*n, stored).expect("a zip entry in memory");
            std::io::Write::write_all(&mut z, n.as_bytes()).expect("writing to memory");
        }
        z.finish().expect("a zip in memory");
    }
    out.into_inner()
}

/// The certificate the test APKs are signed with ([`apk`]).
pub const TEST_SIGNING_CERT: &[u8] = b"the fleet's test signing certificate (DER in a real APK)";

/// A minimal APK signed with [`TEST_SIGNING_CERT`] (`tag` makes each one's bytes, and so its
/// SHA-256, its own).
pub fn apk(tag: &str) -> Vec<u8> {
    apk_signed_by(tag, Some(TEST_SIGNING_CERT))
}

/// A minimal APK with an APK Signing Block whose v2 signer has the certificate `cert` (`None`:
/// an unsigned APK). The block is what `apksigner` writes, with the digests, signatures and
/// public key left empty: the server reads only who signed.
pub fn apk_signed_by(tag: &str, cert: Option<&[u8]>) -> Vec<u8> {
    let zip = zip_with(&["AndroidManifest.xml", "classes.dex", tag]);
    let Some(cert) = cert else { return zip };
    let u32_prefixed = |b: &[u8]| [&(b.len() as u32).to_le_bytes()[..], b].concat();
    let signed_data = [
        u32_prefixed(&[]),                 // digests
        u32_prefixed(&u32_prefixed(cert)), // certificates
        u32_prefixed(&[]),                 // additional attributes
    ]
    .concat();
    let signer = [
        u32_prefixed(&signed_data),
        u32_prefixed(&[]), // signatures
        u32_prefixed(&[]), // public key
    ]
    .concat();
    let value = u32_prefixed(&u32_prefixed(&signer));
    let pair = [&0x7109_871a_u32.to_le_bytes()[..], &value].concat();
    let pairs = [&(pair.len() as u64).to_le_bytes()[..], &pair].concat();
    let size = (pairs.len() + 8 + 16) as u64;
    let block = [
        &size.to_le_bytes()[..],
        &pairs,
        &size.to_le_bytes()[..],
        b"APK Sig Block 42",
    ]
    .concat();
    // The block goes right before the central directory, whose offset moves past it.
    let eocd = (0..zip.len() - 21)
        .rev()
        .find(|&i| zip[i..].starts_with(b"PK\x05\x06"))
        .expect("a zip has an end of central directory");
    let cd = u32::from_le_bytes(zip[eocd + 16..eocd + 20].try_into().expect("4 bytes")) as usize;
    let mut out = [&zip[..cd], &block, &zip[cd..]].concat();
    let moved = (cd + block.len()) as u32;
    let at = eocd + block.len() + 16;
    out[at..at + 4].copy_from_slice(&moved.to_le_bytes());
    out
}

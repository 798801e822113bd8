//! The one test server: a real dispatch server on a free loopback port with a fresh data
//! directory and the demo route seeded, for the server's, the device core's and the app's
//! tests alike (feature `testing`). Each test says what differs — the day, the clock, the
//! randomness, any setting — through the `tweak` of [`spawn_test_server`].

use std::net::SocketAddr;
use std::path::Path;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{DemoSeed, ServerConfig, launch, seed_demo};

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
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
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
/// seed (e.g. a `ManualClock`, a seeded [`crate::Randomness`], production mode).
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

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
        // The directory goes with `dir`.
        let _ = self.dir.take();
    }
}

//! kill -9 at random moments while the app delivers and syncs: nothing committed is lost,
//! nothing reaches the server twice.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use doorstep_courier::view::QueueState;
use rand::{Rng, SeedableRng};

use crate::helpers::*;

const SOAK: &str = env!("CARGO_BIN_EXE_courier-soak");

/// Bounded here; the long soak is `CYCLES=1000 cargo test ... kill` (see the README).
fn cycles() -> usize {
    std::env::var("CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(8)
}

/// Runs the soak `cycles()` times, each killed with SIGKILL at a random moment once it is
/// delivering; returns the event ids it announced as committed.
fn kill_cycles(data: &str, date: &str) -> HashSet<String> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let mut acknowledged = HashSet::new();
    for _ in 0..cycles() {
        let mut child = Command::new(SOAK)
            .args(["run", data, date])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        // Kill at a random moment of the deliver + sync loop, not during start-up.
        let ready = rx.recv_timeout(Duration::from_secs(60));
        assert_eq!(ready.as_deref(), Ok("ready"), "the soak started");
        std::thread::sleep(Duration::from_millis(rng.random_range(0..300)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        acknowledged.extend(
            rx.try_iter()
                .filter_map(|l| l.strip_prefix("committed ").map(str::to_string)),
        );
    }
    acknowledged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_during_deliver_and_sync_loses_and_duplicates_nothing() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let code = server.enrollment_code().await;
    let url = server.url();
    let date = server.date.clone();
    let enrolled = tokio::task::spawn_blocking({
        let (data, date) = (data.clone(), date.clone());
        move || {
            Command::new(SOAK)
                .args(["enroll", &data, &url, &code, &date])
                .stdout(Stdio::null())
                .status()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(enrolled.success());

    let acknowledged = tokio::task::spawn_blocking({
        let (data, date) = (data.clone(), date.clone());
        move || kill_cycles(&data, &date)
    })
    .await
    .unwrap();
    assert!(
        !acknowledged.is_empty(),
        "the soak committed something before the kills"
    );

    let drained = tokio::task::spawn_blocking(move || {
        Command::new(SOAK)
            .args(["drain", &data, &date])
            .stdout(Stdio::null())
            .status()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(drained.success());

    let mut config = test_config();
    config.background_sync = false;
    let device = open_device(dir.path(), config).await;
    let queue = device.sync_queue().unwrap();
    assert!(
        queue.iter().all(|q| q.state == QueueState::Synced),
        "all synced"
    );
    let committed = committed_ids(&device);
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|id| !committed.contains(id))
        .collect();
    assert!(lost.is_empty(), "acknowledged commits lost: {lost:?}");
    assert_eq!(
        server.event_ids().await,
        committed,
        "server set == committed set, each once"
    );
    eprintln!(
        "{} kills, {} commits acknowledged before a kill, {} committed, each on the server once",
        cycles(),
        acknowledged.len(),
        committed.len()
    );
}

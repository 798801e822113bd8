//! Property test: random sequences of deliveries, network loss, crashes, restarts, syncs and
//! duplicated answers always end with the server holding exactly the device's committed
//! events, each once.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;

use crate::helpers::*;
use crate::proxy::{Fault, FaultProxy};

#[derive(Debug, Clone)]
enum Op {
    /// Record a failed attempt at the n-th demo parcel.
    Commit(usize),
    /// The network goes away (connections die at once, or hang).
    Offline { hang: bool },
    /// The network comes back.
    Online,
    /// A sync by hand.
    Sync,
    /// The server commits but its answer never arrives, so the device sends it again.
    DuplicatedAnswer,
    /// The app dies (mid-sync after `after_ms`, when a sync is running) and starts again.
    Crash { after_ms: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..64).prop_map(Op::Commit),
        1 => any::<bool>().prop_map(|hang| Op::Offline { hang }),
        2 => Just(Op::Online),
        2 => Just(Op::Sync),
        1 => Just(Op::DuplicatedAnswer),
        1 => (0u64..30).prop_map(|after_ms| Op::Crash { after_ms }),
    ]
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let server = spawn_server().await;
    let proxy = FaultProxy::start(server.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.background_sync = false;
    config.request_timeout = Duration::from_secs(1);
    config.batch_max_events = 3;
    let mut device =
        Arc::new(enrolled_device(&server, &proxy.url(), dir.path(), config.clone()).await);
    let barcodes: Vec<String> = server
        .seed
        .parcels
        .iter()
        .map(|p| p.barcode.clone())
        .collect();
    let mut committed = Vec::new();
    let mut fault = Fault::Pass;
    for op in ops {
        match op {
            Op::Commit(n) => {
                committed.push(record_not_home(&device, &barcodes[n % barcodes.len()]).await)
            }
            Op::Offline { hang } => {
                fault = if hang { Fault::Hang } else { Fault::Drop };
                proxy.set(fault);
            }
            Op::Online => {
                fault = Fault::Pass;
                proxy.set(fault);
            }
            Op::Sync => {
                let _ = device.sync_once().await;
            }
            Op::DuplicatedAnswer => {
                proxy.set(Fault::CutAnswer);
                let _ = device.sync_once().await;
                proxy.set(fault);
                let _ = device.sync_once().await;
            }
            Op::Crash { after_ms } => {
                let running = tokio::spawn({
                    let device = device.clone();
                    async move { device.sync_once().await }
                });
                tokio::time::sleep(Duration::from_millis(after_ms)).await;
                running.abort();
                let _ = running.await;
                drop(device);
                device = Arc::new(open_device(dir.path(), config.clone()).await);
            }
        }
    }
    proxy.set(Fault::Pass);
    for _ in 0..20 {
        if device.sync_once().await.is_ok() && device.sync_status().pending == 0 {
            break;
        }
    }
    prop_assert_eq!(device.sync_status().pending, 0);
    committed.sort();
    prop_assert_eq!(&committed_ids(&device), &committed);
    prop_assert_eq!(server.event_ids().await, committed);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, max_shrink_iters: 20, ..ProptestConfig::default() })]

    #[test]
    fn any_mix_of_offline_crashes_and_duplicated_answers_keeps_server_set_equal_to_committed_set(
        ops in proptest::collection::vec(op(), 1..24)
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(run(ops))?;
    }
}

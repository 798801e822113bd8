//! The signed hash chain: tampering with the device's records is detected by the server.

use doorstep_courier::view::QueueState;

use crate::helpers::*;

fn db(dir: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("doorstep.sqlite3")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_local_record_is_refused_by_the_server_as_a_broken_chain() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.background_sync = false;
    let device = enrolled_device(&server, &server.url(), dir.path(), config).await;
    let edited = record_not_home(&device, &server.seed.parcels[0].barcode).await;
    let changed = db(dir.path())
        .execute(
            "UPDATE event SET body = replace(body, '\"not_home\"', '\"refused\"') WHERE id = ?1",
            [&edited],
        )
        .unwrap();
    assert_eq!(changed, 1);

    let report = device.sync_once().await.unwrap();
    assert_eq!(report.synced, 0);
    let item = device
        .sync_queue()
        .unwrap()
        .into_iter()
        .find(|q| q.event_id == edited)
        .unwrap();
    assert_eq!(item.state, QueueState::Disputed);
    assert!(
        server.event_ids().await.is_empty(),
        "the edited record was not stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_local_record_is_detected_by_the_server() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.background_sync = false;
    let device = enrolled_device(&server, &server.url(), dir.path(), config).await;
    let barcodes: Vec<String> = server
        .seed
        .parcels
        .iter()
        .map(|p| p.barcode.clone())
        .collect();
    let first = record_not_home(&device, &barcodes[0]).await;
    assert_eq!(device.sync_once().await.unwrap().synced, 1);
    let removed = record_not_home(&device, &barcodes[1]).await;
    let after = record_not_home(&device, &barcodes[2]).await;
    let conn = db(dir.path());
    conn.execute(
        "DELETE FROM delivery WHERE event_seq = (SELECT seq FROM event WHERE id = ?1)",
        [&removed],
    )
    .unwrap();
    conn.execute("DELETE FROM event WHERE id = ?1", [&removed])
        .unwrap();

    let report = device.sync_once().await.unwrap();
    assert_eq!(report.synced, 0, "the event after the gap is not accepted");
    let item = device
        .sync_queue()
        .unwrap()
        .into_iter()
        .find(|q| q.event_id == after)
        .unwrap();
    assert_ne!(item.state, QueueState::Synced);
    assert_eq!(server.event_ids().await, vec![first]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_restored_from_an_old_backup_tells_the_courier_and_recovers_after_review() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.background_sync = false;
    let device = enrolled_device(&server, &server.url(), dir.path(), config).await;
    let barcodes: Vec<String> = server
        .seed
        .parcels
        .iter()
        .map(|p| p.barcode.clone())
        .collect();
    let first = record_not_home(&device, &barcodes[0]).await;
    assert_eq!(device.sync_once().await.unwrap().synced, 1);
    // The phone's data is restored from a backup taken before the first record.
    let conn = db(dir.path());
    conn.execute(
        "DELETE FROM delivery WHERE event_seq = (SELECT seq FROM event WHERE id = ?1)",
        [&first],
    )
    .unwrap();
    conn.execute("DELETE FROM event WHERE id = ?1", [&first])
        .unwrap();
    drop(conn);
    let later = record_not_home(&device, &barcodes[1]).await;

    let status = device.sync_now().await.unwrap();
    assert_eq!(
        status.pending, 1,
        "the phone keeps the record the server holds back"
    );
    let why = status.last_error.unwrap_or_default();
    assert!(
        why.contains("fleet manager"),
        "the courier is told who must act: {why}"
    );

    // The fleet manager accepts the phone's chain as it is now.
    let client = reqwest::Client::new();
    let devices: serde_json::Value = client
        .get(format!("{}/v1/admin/devices", server.url()))
        .bearer_auth(&server.seed.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = devices[0]["device_id"].as_str().unwrap();
    let r = client
        .post(format!(
            "{}/v1/admin/devices/{id}/accept-chain",
            server.url()
        ))
        .bearer_auth(&server.seed.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    let status = device.sync_now().await.unwrap();
    assert_eq!(
        (status.pending, status.last_error),
        (0, None),
        "nothing is lost or stuck"
    );
    let stored = server.deliveries().await;
    let held = stored
        .iter()
        .find(|d| d["event_id"] == later.as_str())
        .expect("the held record arrived");
    assert_eq!(held["review"], true, "and is marked for review");
}

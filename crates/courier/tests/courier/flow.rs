//! The handover against the real server: online, offline, and through network faults.

use doorstep_courier::view::{
    AppErrorCode, HandoverView, ParcelState, ProofInput, QueueState, ScanOutcome, VerificationKind,
};

use std::sync::Arc;

use doorstep_courier::{Clock, Device, ManualClock, Randomness, SystemClock};
use doorstep_protocol::wire::{CorrectionReason, EnrollmentLink};
use rand::SeedableRng;

use crate::helpers::*;
use crate::logs::captured;
use crate::proxy::{Fault, FaultProxy};

fn expect_code(view: &HandoverView) -> (Option<u32>, bool, Option<AppErrorCode>) {
    match view {
        HandoverView::Code {
            attempts_left,
            offline,
            error,
            ..
        } => (*attempts_left, *offline, error.as_ref().map(|e| e.code)),
        other => panic!("expected the code step, got {other:?}"),
    }
}

fn expect_proof(view: &HandoverView) -> (VerificationKind, bool) {
    match view {
        HandoverView::Proof {
            verification,
            offline,
            ..
        } => (*verification, *offline),
        other => panic!("expected the proof step, got {other:?}"),
    }
}

/// Through the open-box check when the stop asks for it: a photo of the contents, which the
/// customer confirms.
async fn past_the_open_box(
    device: &Device,
    view: HandoverView,
    dir: &std::path::Path,
) -> HandoverView {
    if !matches!(view, HandoverView::OpenBox { .. }) {
        return view;
    }
    let _ = dir;
    let photo = device
        .store_photo(b"\xff\xd8\xff\xe0 the contents of the box")
        .unwrap();
    device.check_contents(Some(&photo), true).await.unwrap()
}

fn expect_done(view: &HandoverView) -> String {
    match view {
        HandoverView::Done { event_id, .. } => event_id.clone(),
        other => panic!("expected done, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_handover_online_reaches_the_server_exactly_once() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let device = enrolled_device(&server, &server.url(), dir.path(), test_config()).await;
    let parcel = server.parcel(|p| p.code_required && p.code.is_some() && !p.photo_required);
    let code = parcel.code.clone().unwrap();

    let view = device.scan_parcel(&parcel.barcode).await.unwrap();
    let HandoverView::Scanning {
        scanned, last_scan, ..
    } = &view
    else {
        panic!("expected scanning, got {view:?}");
    };
    assert_eq!(scanned, &[parcel.parcel_id.to_string()]);
    assert_eq!(last_scan.as_ref().unwrap().outcome, ScanOutcome::Added);

    let view = device.finish_scanning(None).await.unwrap();
    assert_eq!(expect_code(&view), (None, false, None));

    let view = device.submit_code(&wrong_code_for(&code)).await.unwrap();
    let (attempts_left, offline, _) = expect_code(&view);
    assert!(
        attempts_left.is_some_and(|n| n > 0),
        "a wrong code counts down: {view:?}"
    );
    assert!(!offline);

    let view = device.submit_code(&code).await.unwrap();
    assert_eq!(expect_proof(&view), (VerificationKind::OnlineCode, false));

    let event_id = expect_done(
        &device
            .submit_proof(&ProofInput::named("Ada Lovelace"))
            .await
            .unwrap(),
    );
    let status = device.sync_now().await.unwrap();
    assert_eq!((status.pending, status.disputed), (0, 0), "{status:?}");
    assert_eq!(status.online, Some(true));

    let on_server = server.event_ids().await;
    assert_eq!(on_server.iter().filter(|id| **id == event_id).count(), 1);
    let queue = device.sync_queue().unwrap();
    assert_eq!(queue[0].state, QueueState::Synced);
    let route = device.route().unwrap();
    let stop = route
        .stops
        .iter()
        .find(|s| {
            s.parcels
                .iter()
                .any(|p| p.parcel_id == parcel.parcel_id.to_string())
        })
        .unwrap();
    let route_parcel = stop
        .parcels
        .iter()
        .find(|p| p.barcode == parcel.barcode_key)
        .unwrap();
    assert_eq!(route_parcel.status, ParcelState::Delivered);

    // Scanning it again is refused as delivered.
    device.reset_handover().await.unwrap();
    let view = device.scan_parcel(&parcel.barcode).await.unwrap();
    let HandoverView::Idle {
        last_scan: Some(scan),
    } = view
    else {
        panic!("expected idle with a scan result");
    };
    assert_eq!(scan.outcome, ScanOutcome::AlreadyDelivered);
}

/// `code` with its digit at `at` changed: the check digit refuses it.
fn typo_of(code: &str, at: usize) -> String {
    code.char_indices()
        .map(|(i, c)| match (i == at, c.to_digit(10)) {
            (true, Some(d)) => char::from_digit((d + 1) % 10, 10).unwrap(),
            _ => c,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_carries_when_its_first_parcel_was_scanned_and_the_typos_caught_on_the_phone() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    // A clock the test moves, a little behind the server's so the record is not in its future.
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms() - 600_000));
    let device = Device::open(
        dir.path(),
        test_config(),
        clock.clone(),
        Randomness::from_rng(Box::new(rand::rngs::StdRng::seed_from_u64(7))),
    )
    .await
    .unwrap();
    let link = EnrollmentLink {
        server_url: server.url(),
        code: server.enrollment_code().await,
    };
    device.enroll(&link.to_uri(), None).await.unwrap();
    device.refresh_route().await.unwrap();
    let parcel = server.parcel(|p| p.code_required && p.code.is_some() && !p.photo_required);
    let code = parcel.code.clone().unwrap();

    let first_scan = clock.now_ms();
    device.scan_parcel(&parcel.barcode).await.unwrap();
    clock.advance_ms(20_000);
    let view = device.finish_scanning(None).await.unwrap();
    assert_eq!(expect_code(&view), (None, false, None));
    for typo in [typo_of(&code, 0), typo_of(&code, 3)] {
        let view = device.submit_code(&typo).await.unwrap();
        assert_eq!(
            expect_code(&view),
            (None, false, Some(AppErrorCode::CodeFormat))
        );
    }
    // Too short is a slip of the finger, not a typo the check digit caught.
    let view = device.submit_code(&code[1..]).await.unwrap();
    assert_eq!(expect_code(&view).2, Some(AppErrorCode::CodeFormat));
    let view = device.submit_code(&code).await.unwrap();
    assert_eq!(expect_proof(&view), (VerificationKind::OnlineCode, false));
    clock.advance_ms(75_000);
    let event_id = expect_done(
        &device
            .submit_proof(&ProofInput::named("Ada Lovelace"))
            .await
            .unwrap(),
    );

    let signed: String = rusqlite::Connection::open(dir.path().join("doorstep.sqlite3"))
        .unwrap()
        .query_row("SELECT body FROM event WHERE id = ?1", [&event_id], |r| {
            r.get(0)
        })
        .unwrap();
    let record: serde_json::Value = serde_json::from_str(&signed).unwrap();
    assert_eq!(record["first_scan_at_ms"], first_scan);
    assert_eq!(record["occurred_at_ms"], first_scan + 95_000);
    assert_eq!(record["typos_caught"], 2);

    let status = device.sync_now().await.unwrap();
    assert_eq!((status.pending, status.disputed), (0, 0), "{status:?}");
    assert!(server.event_ids().await.contains(&event_id));

    // The next stop starts its own count: a failed attempt without a code step.
    let other = server.parcel(|p| p.stop_id != parcel.stop_id && !p.code_required);
    clock.advance_ms(60_000);
    let second_scan = clock.now_ms();
    let failed = record_not_home(&device, &other.barcode).await;
    let signed: String = rusqlite::Connection::open(dir.path().join("doorstep.sqlite3"))
        .unwrap()
        .query_row("SELECT body FROM event WHERE id = ?1", [&failed], |r| {
            r.get(0)
        })
        .unwrap();
    let record: serde_json::Value = serde_json::from_str(&signed).unwrap();
    assert_eq!(record["first_scan_at_ms"], second_scan);
    assert_eq!(record["typos_caught"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_handover_records_the_code_refuses_no_offline_parcels_and_syncs_when_the_network_returns()
 {
    let server = spawn_server().await;
    let proxy = FaultProxy::start(server.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let device = enrolled_device(&server, &proxy.url(), dir.path(), test_config()).await;
    let offline_ok = server
        .parcel(|p| p.code_required && p.offline_allowed && p.code.is_some() && !p.photo_required);
    let no_offline = server.parcel(|p| p.code_required && !p.offline_allowed && p.code.is_some());

    proxy.set(Fault::Drop);
    let route = device.refresh_route().await.unwrap();
    assert!(
        route.from_cache,
        "with no network the stored route is shown"
    );
    assert!(!route.stops.is_empty());

    // A parcel that allows offline handover: the typed code is recorded for the server.
    device.scan_parcel(&offline_ok.barcode).await.unwrap();
    device.finish_scanning(None).await.unwrap();
    let view = device
        .submit_code(offline_ok.code.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(expect_proof(&view), (VerificationKind::OfflineCode, true));
    let delivered = expect_done(
        &device
            .submit_proof(&ProofInput::named("Grace Hopper"))
            .await
            .unwrap(),
    );

    // A parcel that allows no offline handover is refused, and the courier is told why.
    device.reset_handover().await.unwrap();
    device.scan_parcel(&no_offline.barcode).await.unwrap();
    let view = device.finish_scanning(None).await.unwrap();
    past_the_open_box(&device, view, dir.path()).await;
    let view = device
        .submit_code(no_offline.code.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(
        expect_code(&view),
        (None, true, Some(AppErrorCode::OfflineNotAllowed))
    );
    device.reset_handover().await.unwrap();

    let status = device.sync_now().await.unwrap();
    assert_eq!(status.pending, 1);
    assert_eq!(status.online, Some(false));
    assert!(status.last_error.is_some());
    assert!(
        server.event_ids().await.is_empty(),
        "nothing reached the server while offline"
    );

    // Until the server has it, the record keeps the typed code (it must be sent).
    let code = offline_ok.code.as_deref().unwrap();
    let body_of = |id: &str| {
        let db = rusqlite::Connection::open(dir.path().join("doorstep.sqlite3")).unwrap();
        db.query_row("SELECT body FROM event WHERE id = ?1", [id], |r| {
            r.get::<_, String>(0)
        })
        .unwrap()
    };
    assert!(body_of(&delivered).contains(code));

    proxy.set(Fault::Pass);
    device.notify_network_changed();
    let status = wait_for_status(&device, |s| s.pending == 0 && !s.syncing).await;
    assert_eq!((status.pending, status.disputed), (0, 0), "{status:?}");
    assert_eq!(server.event_ids().await, vec![delivered.clone()]);

    // Once stored on the server, the phone's copy no longer holds the code, and the record
    // can still be corrected the same day.
    let body = body_of(&delivered);
    assert!(!body.contains(code), "{body}");
    assert!(body.contains("\"code\":\"<redacted>\""), "{body}");
    device
        .correct_delivery(&delivered, CorrectionReason::WrongDoor, None)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_code_recorded_offline_becomes_disputed_with_the_reason_and_stays_visible() {
    let server = spawn_server().await;
    let proxy = FaultProxy::start(server.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let device = enrolled_device(&server, &proxy.url(), dir.path(), test_config()).await;
    let parcel = server
        .parcel(|p| p.code_required && p.offline_allowed && p.code.is_some() && !p.photo_required);

    proxy.set(Fault::Drop);
    device.scan_parcel(&parcel.barcode).await.unwrap();
    device.finish_scanning(None).await.unwrap();
    let view = device
        .submit_code(&wrong_code_for(parcel.code.as_deref().unwrap()))
        .await
        .unwrap();
    assert_eq!(expect_proof(&view), (VerificationKind::OfflineCode, true));
    let event_id = expect_done(
        &device
            .submit_proof(&ProofInput::named("Someone"))
            .await
            .unwrap(),
    );

    proxy.set(Fault::Pass);
    let status = device.sync_now().await.unwrap();
    assert_eq!((status.pending, status.disputed), (0, 1), "{status:?}");
    let queue = device.sync_queue().unwrap();
    let item = queue.iter().find(|q| q.event_id == event_id).unwrap();
    assert_eq!(item.state, QueueState::Disputed);
    assert!(item.reason.as_deref().is_some_and(|r| !r.is_empty()));
    let route = device.route().unwrap();
    let parcel_state = route
        .stops
        .iter()
        .flat_map(|s| &s.parcels)
        .find(|p| p.barcode == parcel.barcode_key)
        .unwrap()
        .status;
    assert_eq!(parcel_state, ParcelState::Disputed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_server_makes_the_code_check_fall_back_to_offline_by_itself() {
    let server = spawn_server().await;
    let proxy = FaultProxy::start(server.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let device = enrolled_device(&server, &proxy.url(), dir.path(), test_config()).await;
    let parcel = server
        .parcel(|p| p.code_required && p.offline_allowed && p.code.is_some() && !p.photo_required);

    device.scan_parcel(&parcel.barcode).await.unwrap();
    device.finish_scanning(None).await.unwrap();
    proxy.set(Fault::Hang);
    let view = device
        .submit_code(parcel.code.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(expect_proof(&view), (VerificationKind::OfflineCode, true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_cut_after_the_server_committed_is_retried_without_a_duplicate() {
    let server = spawn_server().await;
    let proxy = FaultProxy::start(server.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.background_sync = false;
    let device = enrolled_device(&server, &proxy.url(), dir.path(), config).await;
    let barcodes: Vec<String> = server
        .seed
        .parcels
        .iter()
        .take(3)
        .map(|p| p.barcode.clone())
        .collect();
    let mut committed = Vec::new();
    for barcode in &barcodes {
        committed.push(record_not_home(&device, barcode).await);
    }

    proxy.set(Fault::CutAnswer);
    // A pooled connection closed by the fault may fail before the request reaches the
    // server; try until the server really answered and the answer was cut.
    for _ in 0..5 {
        let err = device.sync_once().await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        if proxy.answers_cut() > 0 {
            break;
        }
    }
    assert!(
        proxy.answers_cut() >= 1,
        "the server answered and the answer was cut"
    );
    assert_eq!(device.sync_status().pending, 3);

    proxy.set(Fault::Pass);
    let report = device.sync_once().await.unwrap();
    assert_eq!(report.synced, 3);
    committed.sort();
    assert_eq!(
        server.event_ids().await,
        committed,
        "each event stored exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_keeps_the_delivery_pending_and_says_so_in_plain_words() {
    let server = spawn_server().await;
    let proxy = FaultProxy::start(server.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.background_sync = false;
    let device = enrolled_device(&server, &proxy.url(), dir.path(), config).await;
    let event = record_not_home(&device, &server.seed.parcels[0].barcode).await;
    drop(proxy); // nothing listens there any more: connection refused

    let status = device.sync_now().await.unwrap();
    assert_eq!(status.pending, 1);
    assert_eq!(status.online, Some(false));
    assert!(status.last_error.unwrap().contains("No connection"));
    assert_eq!(device.sync_queue().unwrap()[0].event_id, event);
    assert_eq!(device.sync_queue().unwrap()[0].state, QueueState::Pending);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_with_a_used_code_or_a_wrong_server_fails_clearly() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let device = open_device(dir.path(), test_config()).await;
    let code = server.enrollment_code().await;
    device.enroll(&code, Some(&server.url())).await.unwrap();

    let other = tempfile::tempdir().unwrap();
    let second = open_device(other.path(), test_config()).await;
    let err = second.enroll(&code, Some(&server.url())).await.unwrap_err();
    assert_eq!(err.code(), AppErrorCode::EnrollmentInvalid, "{err}");
    let err = second.enroll("not a link", None).await.unwrap_err();
    assert_eq!(err.code(), AppErrorCode::EnrollmentLinkInvalid);
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let err = second
        .enroll(&code, Some(&format!("http://{closed}")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), AppErrorCode::Network);
    assert!(!second.status().unwrap().enrolled);
    assert_eq!(
        second.route().unwrap_err().code(),
        AppErrorCode::NotEnrolled
    );
}

/// The token text the customer's page shows as a QR code.
async fn customer_token(customer_url: &str) -> String {
    let html = reqwest::get(customer_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = html
        .find("<code data-token>")
        .expect("the page shows a token")
        + "<code data-token>".len();
    let end = start + html[start..].find("</code>").unwrap();
    html[start..end].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customers_qr_token_hands_over_offline_even_a_no_offline_parcel_and_its_photo_syncs_first()
 {
    let server = spawn_server().await;
    let proxy = FaultProxy::start(server.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let device = enrolled_device(&server, &proxy.url(), dir.path(), test_config()).await;
    let parcel = server.parcel(|p| p.code_required && !p.offline_allowed && p.photo_required);
    let token = customer_token(&parcel.customer_url).await;
    let other = server.parcel(|p| p.code_required && p.stop_id != parcel.stop_id);
    let wrong_token = customer_token(&other.customer_url).await;

    proxy.set(Fault::Drop);
    device.scan_parcel(&parcel.barcode).await.unwrap();
    let view = device.finish_scanning(None).await.unwrap();
    past_the_open_box(&device, view, dir.path()).await;
    let view = device.submit_token(&wrong_token).await.unwrap();
    assert_eq!(expect_code(&view).2, Some(AppErrorCode::TokenInvalid));
    let view = device.submit_token(&token).await.unwrap();
    assert_eq!(expect_proof(&view), (VerificationKind::Token, false));
    let err = device
        .submit_proof(&ProofInput::named("Alan"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), AppErrorCode::PhotoRequired);
    let photo = device
        .store_photo(b"\xff\xd8\xff\xe0 not really a jpeg, but bytes to upload")
        .unwrap();
    let mut proof = ProofInput::named("Alan").with_photo(&photo);
    let err = device.submit_proof(&proof).await.unwrap_err();
    assert_eq!(err.code(), AppErrorCode::SignatureRequired);
    let signature = device
        .store_photo(b"\x89PNG\r\n\x1a\n a signature")
        .unwrap();
    proof.signature_path = Some(signature.to_string_lossy().into_owned());
    let event_id = expect_done(&device.submit_proof(&proof).await.unwrap());

    proxy.set(Fault::Pass);
    let status = device.sync_now().await.unwrap();
    assert_eq!((status.pending, status.disputed), (0, 0), "{status:?}");
    assert_eq!(server.event_ids().await, vec![event_id.clone()]);
    // The customer's token leaves the phone's copy once the server has the record.
    let db = rusqlite::Connection::open(dir.path().join("doorstep.sqlite3")).unwrap();
    let body: String = db
        .query_row("SELECT body FROM event WHERE id = ?1", [&event_id], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(!body.contains(&token), "{body}");
    assert!(body.contains("\"token\":\"<redacted>\""), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncs_asked_for_at_the_same_time_run_one_after_another_and_send_each_event_once() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.background_sync = false;
    config.batch_max_events = 2;
    let device =
        std::sync::Arc::new(enrolled_device(&server, &server.url(), dir.path(), config).await);
    let mut committed = Vec::new();
    for p in server.seed.parcels.iter().take(5) {
        committed.push(record_not_home(&device, &p.barcode).await);
    }
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let device = device.clone();
            tokio::spawn(async move { device.sync_once().await.unwrap() })
        })
        .collect();
    let mut sent = 0;
    for run in runs {
        sent += run.await.unwrap().synced;
    }
    assert_eq!(sent, 5, "no event was sent by two syncs");
    committed.sort();
    assert_eq!(server.event_ids().await, committed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unenrolling_is_refused_while_deliveries_wait_and_works_once_they_are_synced() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.background_sync = false;
    let device = enrolled_device(&server, &server.url(), dir.path(), config).await;
    record_not_home(&device, &server.seed.parcels[0].barcode).await;

    let err = device.unenroll().await.unwrap_err();
    assert_eq!(err.code(), AppErrorCode::WrongStep);
    assert!(device.status().unwrap().enrolled);

    assert_eq!(device.sync_once().await.unwrap().synced, 1);
    let status = device.unenroll().await.unwrap();
    assert!(!status.enrolled);
    assert!(device.sync_queue().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_syncs_by_itself_in_the_background() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let device = enrolled_device(&server, &server.url(), dir.path(), test_config()).await;
    let event = record_not_home(&device, &server.seed.parcels[0].barcode).await;
    let status = wait_for_status(&device, |s| s.pending == 0 && s.last_success_ms.is_some()).await;
    assert_eq!(status.pending, 0, "{status:?}");
    assert_eq!(server.event_ids().await, vec![event]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manifest_is_downloaded_conditionally_and_the_stored_copy_serves_without_network() {
    let server = spawn_server().await;
    let proxy = FaultProxy::start(server.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let device = enrolled_device(&server, &proxy.url(), dir.path(), test_config()).await;
    let etag: Option<String> = rusqlite::Connection::open(dir.path().join("doorstep.sqlite3"))
        .unwrap()
        .query_row("SELECT etag FROM manifest", [], |r| r.get(0))
        .unwrap();
    assert!(etag.is_some(), "the ETag is kept for the next request");

    let first = device.route().unwrap();
    let again = device.refresh_route().await.unwrap();
    assert!(!again.from_cache);
    assert_eq!(
        again.stops, first.stops,
        "an unchanged manifest (304) keeps the stored route"
    );

    proxy.set(Fault::Drop);
    let offline = device.refresh_route().await.unwrap();
    assert!(offline.from_cache);
    assert_eq!(offline.stops, first.stops);
    assert_eq!(offline.stops.len(), {
        let mut stops: Vec<_> = server.seed.parcels.iter().map(|p| p.stop_id).collect();
        stops.sort();
        stops.dedup();
        stops.len()
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_and_tokens_never_reach_the_logs_even_when_the_network_fails() {
    let server = spawn_server().await;
    let proxy = FaultProxy::start(server.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let device = enrolled_device(&server, &proxy.url(), dir.path(), test_config()).await;
    let coded = server
        .parcel(|p| p.code_required && p.offline_allowed && p.code.is_some() && !p.photo_required);
    let code = coded.code.clone().unwrap();
    let tokened = server.parcel(|p| p.code_required && p.stop_id != coded.stop_id);
    let token = customer_token(&tokened.customer_url).await;

    // Online: a wrong code, then the right one.
    device.scan_parcel(&coded.barcode).await.unwrap();
    device.finish_scanning(None).await.unwrap();
    let wrong = wrong_code_for(&code);
    device.submit_code(&wrong).await.unwrap();
    device.reset_handover().await.unwrap();
    // Offline: the right code recorded, a token checked, syncs failing.
    proxy.set(Fault::Drop);
    device.scan_parcel(&coded.barcode).await.unwrap();
    device.finish_scanning(None).await.unwrap();
    device.submit_code(&code).await.unwrap();
    device
        .submit_proof(&ProofInput::named("Ada"))
        .await
        .unwrap();
    device.scan_parcel(&tokened.barcode).await.unwrap();
    device.finish_scanning(None).await.unwrap();
    device.submit_token(&token).await.unwrap();
    device.sync_now().await.unwrap();
    proxy.set(Fault::Pass);
    device.sync_now().await.unwrap();

    let logs = captured();
    assert!(logs.contains("offline"), "the fallback was logged");
    for secret in [&code, &wrong, &token] {
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs");
    }
    let token_body = token.trim_start_matches("DS1:");
    assert!(
        !logs.contains(&token_body[..24]),
        "part of a token reached the logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_route_refresh_tells_the_fleet_how_many_records_wait_on_the_phone() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.background_sync = false;
    let device = enrolled_device(&server, &server.url(), dir.path(), config).await;
    let reported = || async {
        let devices = server.admin_get("/v1/admin/devices").await;
        let d = &devices.as_array().unwrap()[0];
        (d["unsent_records"].clone(), d["oldest_unsent_at"].clone())
    };
    assert_eq!(
        reported().await.0,
        0,
        "enrolled and refreshed with nothing to send"
    );

    record_not_home(&device, &server.seed.parcels[0].barcode).await;
    record_not_home(&device, &server.seed.parcels[1].barcode).await;
    device.refresh_route().await.unwrap();
    let (count, oldest) = reported().await;
    assert_eq!(count, 2);
    assert!(oldest.as_i64().is_some_and(|t| t > 0), "{oldest}");

    device.sync_once().await.unwrap();
    device.refresh_route().await.unwrap();
    assert_eq!(reported().await, (0.into(), serde_json::Value::Null));
}

//! Steps at the door (issue 11) through the device core against the real server: the core
//! refuses to commit without a step the method asks for, and what it commits is accepted.

use doorstep_courier::view::{AppErrorCode, DoneOutcome, HandoverView, IdCheckEntry, ProofInput};
use doorstep_protocol::wire::{CorrectionReason, DeliveryMethod, ExceptionReason, IdType};

use crate::helpers::*;

fn png(seed: u8) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(&[seed; 256]);
    b
}

fn done_outcome(view: &HandoverView) -> DoneOutcome {
    match view {
        HandoverView::Done { outcome, .. } => *outcome,
        other => panic!("expected done, got {other:?}"),
    }
}

async fn server_status(server: &TestServer, parcel: &doorstep_server::DemoParcel) -> String {
    server
        .admin_get(&format!("/v1/admin/parcels/{}", parcel.parcel_id))
        .await["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_neighbour_delivery_commits_only_with_the_signature_and_the_house_number() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let device = enrolled_device(&server, &server.url(), dir.path(), test_config()).await;
    let parcel = server.parcel(|p| p.label.contains("two parcels, one stop"));

    let view = device.scan_parcel(&parcel.barcode).await.unwrap();
    let HandoverView::Scanning { methods, .. } = &view else {
        panic!("expected scanning, got {view:?}");
    };
    let offered: Vec<_> = methods.iter().map(|m| m.method).collect();
    assert_eq!(
        offered,
        [
            DeliveryMethod::HandToRecipient,
            DeliveryMethod::Neighbour,
            DeliveryMethod::SafePlace
        ]
    );
    let err = device
        .finish_scanning(Some(DeliveryMethod::PickupPoint))
        .await
        .unwrap_err();
    assert_eq!(err.code(), AppErrorCode::MethodNotAllowed);

    let view = device
        .finish_scanning(Some(DeliveryMethod::Neighbour))
        .await
        .unwrap();
    let HandoverView::Proof { door, .. } = &view else {
        panic!("a neighbour delivery of a parcel without a code goes to the proof: {view:?}");
    };
    assert!(door.signature_required);

    let mut proof = ProofInput::named("Jan de Vries");
    proof.place = Some("14".into());
    let err = device.submit_proof(&proof).await.unwrap_err();
    assert_eq!(err.code(), AppErrorCode::SignatureRequired);
    let signature = device.store_photo(&png(1)).unwrap();
    proof.signature_path = Some(signature.to_string_lossy().into_owned());
    proof.place = None;
    let err = device.submit_proof(&proof).await.unwrap_err();
    assert_eq!(err.code(), AppErrorCode::PlaceRequired);
    proof.place = Some("14".into());
    let view = device.submit_proof(&proof).await.unwrap();
    assert_eq!(done_outcome(&view), DoneOutcome::Delivered);

    let status = device.sync_now().await.unwrap();
    assert_eq!((status.pending, status.disputed), (0, 0), "{status:?}");
    assert_eq!(server_status(&server, parcel).await, "delivered");
    let stored = server.deliveries().await;
    let body = stored.iter().find(|d| d["status"] == "accepted").unwrap();
    assert_eq!(body["kind"], "delivered", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_box_check_comes_before_the_code_and_a_refusal_is_a_failed_delivery_with_the_photo()
 {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let device = enrolled_device(&server, &server.url(), dir.path(), test_config()).await;
    let parcel = server.parcel(|p| p.label.contains("very high value"));

    device.scan_parcel(&parcel.barcode).await.unwrap();
    let view = device.finish_scanning(None).await.unwrap();
    assert!(
        matches!(
            view,
            HandoverView::OpenBox {
                photo_taken: false,
                ..
            }
        ),
        "{view:?}"
    );
    let err = device.check_contents(None, false).await.unwrap_err();
    assert_eq!(err.code(), AppErrorCode::ContentsPhotoRequired);
    // Only a photo of the app's own folder is taken: not a file elsewhere, even an image.
    let elsewhere = dir.path().join("contents.png");
    std::fs::write(&elsewhere, png(2)).unwrap();
    let err = device
        .check_contents(Some(&elsewhere), false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), AppErrorCode::PhotoInvalid, "{err:?}");
    let photo = device.store_photo(&png(2)).unwrap();
    let view = device.check_contents(Some(&photo), false).await.unwrap();
    assert_eq!(done_outcome(&view), DoneOutcome::Exception);

    let status = device.sync_now().await.unwrap();
    assert_eq!((status.pending, status.disputed), (0, 0), "{status:?}");
    assert_eq!(
        server_status(&server, parcel).await,
        "returning",
        "a refusal sends the parcel back to the depot"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_age_check_passes_on_a_year_that_meets_the_age_whatever_the_birthday_and_keeps_no_birth_year()
 {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let device = enrolled_device(&server, &server.url(), dir.path(), test_config()).await;
    let parcel = server.parcel(|p| p.label.contains("age-restricted"));
    let year: i32 = today()[..4].parse().unwrap();

    device.scan_parcel(&parcel.barcode).await.unwrap();
    device.finish_scanning(None).await.unwrap();
    device
        .submit_code(parcel.code.as_deref().unwrap())
        .await
        .unwrap();
    let entry = |year_of_birth, courier_confirmed| IdCheckEntry {
        id_type: IdType::NationalIdCard,
        year_of_birth: Some(year_of_birth),
        meets_minimum_age: false,
        courier_confirmed,
    };
    let mut proof = ProofInput::named("Barbara Liskov");
    let err = device.submit_proof(&proof).await.unwrap_err();
    assert_eq!(err.code(), AppErrorCode::IdCheckRequired);
    proof.id_check = Some(entry(year - 30, false));
    let err = device.submit_proof(&proof).await.unwrap_err();
    assert_eq!(err.code(), AppErrorCode::IdCheckRequired, "not confirmed");
    // Born 18 years ago this year: maybe not 18 yet, so a year alone does not pass.
    proof.id_check = Some(entry(year - 18, true));
    let err = device.submit_proof(&proof).await.unwrap_err();
    assert_eq!(err.code(), AppErrorCode::AgeNotMet);
    proof.id_check = Some(entry(year - 19, true));
    let view = device.submit_proof(&proof).await.unwrap();
    assert_eq!(done_outcome(&view), DoneOutcome::Delivered);
    let status = device.sync_now().await.unwrap();
    assert_eq!((status.pending, status.disputed), (0, 0), "{status:?}");

    // Data minimisation: the record keeps the ID's type and the result, never the year of
    // birth (nor a number: there is no field for one), on the phone or on the server.
    let stored = server.query("SELECT body FROM events").await;
    assert_eq!(stored.len(), 1);
    let body: serde_json::Value =
        serde_json::from_str(&stored[0].get::<_, String>(0).unwrap()).unwrap();
    let check = &body["body"]["id_check"];
    let mut keys: Vec<_> = check.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["courier_confirmed", "id_type", "minimum_age", "passed"],
        "{check}"
    );
    assert_eq!(check["id_type"], "national_id_card");
    assert_eq!(check["passed"], true);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(13).any(|w| w == b"year_of_birth"),
                "{} holds a year of birth",
                path.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipient_under_the_minimum_age_is_recorded_as_refused_age_with_the_failed_check() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let device = enrolled_device(&server, &server.url(), dir.path(), test_config()).await;
    let parcel = server.parcel(|p| p.label.contains("age-restricted"));
    let year: i32 = today()[..4].parse().unwrap();

    device.scan_parcel(&parcel.barcode).await.unwrap();
    device.finish_scanning(None).await.unwrap();
    device
        .submit_code(parcel.code.as_deref().unwrap())
        .await
        .unwrap();
    let view = device
        .report_exception(
            ExceptionReason::RefusedAge,
            None,
            Some(IdCheckEntry {
                id_type: IdType::Passport,
                year_of_birth: Some(year - 15),
                meets_minimum_age: false,
                courier_confirmed: true,
            }),
        )
        .await
        .unwrap();
    assert_eq!(done_outcome(&view), DoneOutcome::Exception);
    device.sync_now().await.unwrap();
    assert_eq!(
        server_status(&server, parcel).await,
        "returning",
        "a refusal sends the parcel back to the depot"
    );
    let stored = server.query("SELECT body FROM events").await;
    let body: serde_json::Value =
        serde_json::from_str(&stored[0].get::<_, String>(0).unwrap()).unwrap();
    assert_eq!(body["body"]["reason"], "refused_age");
    assert_eq!(body["body"]["id_check"]["passed"], false);
}

// -- records that are not a handover ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_takes_only_a_picture_from_the_apps_own_photo_folder() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let device = enrolled_device(&server, &server.url(), dir.path(), test_config()).await;
    let stray = server.seed.off_route_barcode.clone();
    let photos = dir.path().join("photos");
    // The app's own database, reached by a path through the photo folder.
    let database = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_file())
        .expect("the device keeps a file beside its photo folder");
    let through = photos.join("..").join(database.file_name().unwrap());
    // A link in the photo folder to a picture outside it.
    let outside = dir.path().join("outside.png");
    std::fs::write(&outside, png(3)).unwrap();
    let link = photos.join("link.png");
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    // A file in the folder that is not a picture.
    let text = photos.join("notes.png");
    std::fs::write(&text, b"not a picture").unwrap();
    for path in [
        &through,
        &outside,
        &link,
        &text,
        &photos.join("missing.png"),
    ] {
        let err = device
            .report_unexpected(&stray, Some(path), None)
            .await
            .unwrap_err();
        assert_eq!(err.code(), AppErrorCode::PhotoInvalid, "{}", path.display());
    }
    // A picture the app kept itself is taken.
    let kept = device.store_photo(&png(3)).unwrap();
    device
        .report_unexpected(&stray, Some(&kept), None)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parcel_not_on_the_route_is_reported_and_shows_up_once_the_fleet_manager_assigns_it() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let device = enrolled_device(&server, &server.url(), dir.path(), test_config()).await;
    let stray = server.seed.off_route_barcode.clone();

    let view = device.scan_parcel(&stray).await.unwrap();
    let HandoverView::Idle {
        last_scan: Some(scan),
    } = &view
    else {
        panic!("a parcel of another route starts nothing: {view:?}");
    };
    assert_eq!(
        scan.outcome,
        doorstep_courier::view::ScanOutcome::NotOnRoute
    );
    let err = device
        .report_unexpected("  ", None, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), AppErrorCode::BarcodeInvalid);
    let id = device
        .report_unexpected(&stray, None, Some("under the seat"))
        .await
        .unwrap();
    let status = device.sync_now().await.unwrap();
    assert_eq!((status.pending, status.disputed), (0, 0), "{status:?}");
    let queue = device.sync_queue().unwrap();
    assert_eq!(queue[0].event_id, id);
    assert_eq!(queue[0].kind, doorstep_courier::view::QueueKind::Unexpected);
    assert_eq!(queue[0].barcodes, std::slice::from_ref(&stray));

    // The fleet manager puts it on this courier's route (the store call behind the fleet
    // page's button); the next refresh shows it.
    let rows = server
        .query("SELECT event_id FROM unexpected_parcels")
        .await;
    assert_eq!(rows.len(), 1);
    let route = device.refresh_route().await.unwrap();
    let before = route.stops.iter().flat_map(|s| &s.parcels).count();
    let r = reqwest::Client::new()
        .post(format!("{}/fleet/unexpected/{id}/assign", server.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={}", fleet_csrf(&server).await))
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    let route = device.refresh_route().await.unwrap();
    let after: Vec<_> = route.stops.iter().flat_map(|s| &s.parcels).collect();
    assert_eq!(after.len(), before + 1);
    assert!(after.iter().any(|p| stray.contains(&p.barcode)));
}

async fn fleet_csrf(server: &TestServer) -> String {
    let html = reqwest::get(format!("{}/fleet/phones", server.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start =
        html.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_depot_check_in_ticks_what_is_in_the_van_and_records_every_label_once() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let device = enrolled_device(&server, &server.url(), dir.path(), test_config()).await;
    let delivered = server.parcel(|p| p.label.contains("no code: low value"));
    device.scan_parcel(&delivered.barcode).await.unwrap();
    device.finish_scanning(None).await.unwrap();
    device
        .submit_proof(&ProofInput::named("Ada"))
        .await
        .unwrap();
    let not_home = server.parcel(|p| p.label.contains("no code: neighbour"));
    record_not_home(&device, &not_home.barcode).await;

    let view = device.depot_view().await.unwrap();
    assert!(
        !view
            .expected
            .iter()
            .any(|p| p.barcode == delivered.barcode_key),
        "a delivered parcel is not expected back"
    );
    assert!(
        view.expected
            .iter()
            .any(|p| p.barcode == not_home.barcode_key)
    );
    let total = view.expected.len();
    let view = device.depot_scan(&not_home.barcode).await.unwrap();
    device.depot_scan(&not_home.barcode).await.unwrap();
    let view2 = device.depot_scan("STRAY-0001").await.unwrap();
    assert_eq!(
        view.last_scanned.as_deref(),
        Some(not_home.barcode_key.as_str())
    );
    assert_eq!(view2.expected.iter().filter(|p| p.checked).count(), 1);
    assert_eq!(view2.extra, ["STRAY-0001"]);
    assert_eq!(view2.expected.len(), total);
    let done = device.depot_finish().await.unwrap();
    assert!(done.recorded_event_id.is_some());
    assert!(
        device
            .depot_view()
            .await
            .unwrap()
            .expected
            .iter()
            .all(|p| !p.checked),
        "a new check-in starts empty"
    );
    let status = device.sync_now().await.unwrap();
    assert_eq!((status.pending, status.disputed), (0, 0), "{status:?}");
    let stored = server.query("SELECT scanned FROM depot_checkins").await;
    let scanned: Vec<String> =
        serde_json::from_str(&stored[0].get::<_, String>(0).unwrap()).unwrap();
    assert_eq!(scanned.len(), 2, "each label once: {scanned:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handover_of_today_is_corrected_once_and_the_parcel_is_to_deliver_again() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let device = enrolled_device(&server, &server.url(), dir.path(), test_config()).await;
    let parcel = server.parcel(|p| p.label.contains("no code: low value"));
    device.scan_parcel(&parcel.barcode).await.unwrap();
    device.finish_scanning(None).await.unwrap();
    let HandoverView::Done { event_id, .. } = device
        .submit_proof(&ProofInput::named("Ada"))
        .await
        .unwrap()
    else {
        panic!("expected done");
    };
    device.sync_now().await.unwrap();
    let failed = record_not_home(
        &device,
        &server.parcel(|p| p.label.contains("neighbour")).barcode,
    )
    .await;
    let err = device
        .correct_delivery(&failed, CorrectionReason::WrongDoor, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        AppErrorCode::CorrectionNotAllowed,
        "a failed attempt is not a handover"
    );

    device
        .correct_delivery(&event_id, CorrectionReason::WrongDoor, Some("number 3"))
        .await
        .unwrap();
    let err = device
        .correct_delivery(&event_id, CorrectionReason::WrongDoor, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), AppErrorCode::CorrectionNotAllowed, "only once");
    let status = device.sync_now().await.unwrap();
    assert_eq!((status.pending, status.disputed), (0, 0), "{status:?}");
    let route = device.route().unwrap();
    let state = route
        .stops
        .iter()
        .flat_map(|s| &s.parcels)
        .find(|p| p.barcode == parcel.barcode_key)
        .unwrap()
        .status;
    assert_eq!(state, doorstep_courier::view::ParcelState::Todo);
    // It can be handed over again (to the right door).
    device.reset_handover().await.unwrap();
    let view = device.scan_parcel(&parcel.barcode).await.unwrap();
    assert!(matches!(view, HandoverView::Scanning { .. }), "{view:?}");
}

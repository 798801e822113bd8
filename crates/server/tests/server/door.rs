//! Steps at the door (issue 11): the policy's steps per method in the manifest, and the
//! server refusing at sync a record that lacks one (the parcel then waits for a person).

use doorstep_protocol::wire::{
    DeliveryMethod, DoorMethod, EventBody, EventStatus, ExceptionReason, IdCheck, IdType, Manifest,
    ManifestParcel, RejectCode, Verification,
};
use serde_json::Value;
use sha2::Digest;

use doorstep_server::DemoParcel;

use crate::helpers::*;

fn parcel_in<'m>(manifest: &'m Manifest, parcel: &DemoParcel) -> &'m ManifestParcel {
    manifest
        .stops
        .iter()
        .flat_map(|s| &s.parcels)
        .find(|p| p.parcel_id == parcel.parcel_id)
        .expect("the demo parcel is on the manifest")
}

fn method(parcel: &ManifestParcel, m: DeliveryMethod) -> Option<&DoorMethod> {
    parcel.methods.iter().find(|d| d.method == m)
}

async fn manifest(device: &Device) -> Manifest {
    device.manifest(DATE).await
}

/// Uploads `bytes` as a photo (or signature) and answers its SHA-256.
async fn upload(app: &TestApp, device: &Device, bytes: &[u8]) -> String {
    let sha = hex::encode(sha2::Sha256::digest(bytes));
    let r = app
        .client
        .put(app.url(&format!("/v1/photos/{sha}")))
        .bearer_auth(&device.token)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    sha
}

fn png(seed: u8) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(&[seed; 64]);
    b
}

fn handed_over(method: DeliveryMethod, place: Option<&str>) -> EventBody {
    let EventBody::Delivered {
        verification,
        recipient_name,
        ..
    } = delivered(Verification::NotRequired)
    else {
        unreachable!()
    };
    EventBody::Delivered {
        verification,
        recipient_name,
        photo_sha256: None,
        method: Some(method),
        place: place.map(Into::into),
        signature_sha256: None,
        contents_photo_sha256: None,
        id_check: None,
    }
}

fn with(mut body: EventBody, edit: impl FnOnce(&mut EventBody)) -> EventBody {
    edit(&mut body);
    body
}

/// Handed to a neighbour (at `place`) with the signature image `signature`.
fn signed_by_neighbour(signature: &[u8], place: Option<&str>) -> EventBody {
    let signature = hex::encode(sha2::Sha256::digest(signature));
    with(handed_over(DeliveryMethod::Neighbour, place), |b| {
        if let EventBody::Delivered {
            signature_sha256, ..
        } = b
        {
            *signature_sha256 = Some(signature);
        }
    })
}

async fn parcel_status(app: &TestApp, parcel: &DemoParcel) -> String {
    app.admin_get(&format!("/v1/admin/parcels/{}", parcel.parcel_id))
        .await["status"]
        .as_str()
        .unwrap()
        .to_string()
}

fn rejected_with(status: &EventStatus, want: RejectCode) -> String {
    match status {
        EventStatus::Rejected { code, message } if *code == want => message.clone(),
        other => panic!("expected a {want:?} rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn the_manifest_carries_each_method_the_parcel_allows_with_the_steps_the_policy_asks() {
    let app = spawn_app().await;
    let device = app.device().await;
    let m = manifest(&device).await;

    let two = parcel_in(&m, app.parcel("two parcels, one stop"));
    let offered: Vec<_> = two.methods.iter().map(|d| d.method).collect();
    assert_eq!(
        offered,
        [
            DeliveryMethod::HandToRecipient,
            DeliveryMethod::Neighbour,
            DeliveryMethod::SafePlace
        ]
    );
    let neighbour = method(two, DeliveryMethod::Neighbour).unwrap();
    assert!(neighbour.signature_required && !neighbour.code_required);
    assert!(
        method(two, DeliveryMethod::SafePlace)
            .unwrap()
            .photo_required
    );
    assert_eq!(two.safe_places, ["in the garden shed"]);

    let alan = parcel_in(&m, app.parcel("very high value"));
    let hand = method(alan, DeliveryMethod::HandToRecipient).unwrap();
    assert!(hand.open_box_check && hand.signature_required && hand.code_required);

    let barbara = parcel_in(&m, app.parcel("age-restricted"));
    let hand = method(barbara, DeliveryMethod::HandToRecipient).unwrap();
    assert_eq!(hand.minimum_age, Some(18));
    assert!(hand.needs_id());

    // The shipper view says why, method by method.
    let view = app
        .admin_get(&format!(
            "/v1/admin/parcels/{}",
            app.parcel("two parcels, one stop").parcel_id
        ))
        .await;
    let reasons = view["decision"]["reasons"].to_string();
    assert!(reasons.contains("neighbour: neighbour signs"), "{reasons}");
    assert!(
        reasons.contains("safe place: safe place photo"),
        "{reasons}"
    );
}

#[tokio::test]
async fn a_neighbour_delivery_without_the_signature_is_refused_and_the_parcel_waits_for_review() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("two parcels, one stop");
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        handed_over(DeliveryMethod::Neighbour, Some("14")),
        MORNING_MS,
    );
    let r = device.sync(&[ev]).await;
    let message = rejected_with(&r[0].status, RejectCode::StepMissing);
    assert!(message.contains("signature"), "{message}");
    assert_eq!(parcel_status(&app, p).await, "disputed");
}

#[tokio::test]
async fn a_neighbour_delivery_needs_where_and_is_accepted_with_the_signature_uploaded_first() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("two parcels, one stop");
    // The signature is not on the server yet: the record waits (the phone uploads it first).
    let ev = device.record(p, signed_by_neighbour(&png(1), Some("14")), MORNING_MS);
    let status = device.sync_one(ev.clone()).await;
    assert!(matches!(status, EventStatus::Retry { .. }), "{status:?}");
    upload(&app, &device, &png(1)).await;
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);
    assert_eq!(parcel_status(&app, p).await, "delivered");

    // The second parcel of the stop, to a neighbour without saying where: refused.
    let second = app.parcel("no code: second parcel of the same stop");
    upload(&app, &device, &png(2)).await;
    let ev = device.record(second, signed_by_neighbour(&png(2), None), MORNING_MS);
    let message = rejected_with(&device.sync_one(ev).await, RejectCode::StepMissing);
    assert!(message.contains("must say where"), "{message}");
}

#[tokio::test]
async fn a_method_the_parcel_does_not_allow_is_refused() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("no code: low value");
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        handed_over(DeliveryMethod::SafePlace, Some("front porch")),
        MORNING_MS,
    );
    let message = rejected_with(&device.sync(&[ev]).await[0].status, RejectCode::StepMissing);
    assert!(
        message.contains("may not be handed over by this method"),
        "{message}"
    );
}

#[tokio::test]
async fn a_safe_place_needs_its_photo_and_no_code() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("two parcels, one stop");
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        handed_over(DeliveryMethod::SafePlace, Some("in the garden shed")),
        MORNING_MS,
    );
    rejected_with(
        &device.sync(&[ev]).await[0].status,
        RejectCode::PhotoMissing,
    );

    let second = app.parcel("no code: second parcel of the same stop");
    let photo = upload(&app, &device, &png(2)).await;
    let body = with(
        handed_over(DeliveryMethod::SafePlace, Some("under the mat")),
        |b| {
            if let EventBody::Delivered { photo_sha256, .. } = b {
                *photo_sha256 = Some(photo.clone());
            }
        },
    );
    let ev = device.event(second.stop_id, &[second.parcel_id], body, MORNING_MS);
    assert_eq!(device.sync(&[ev]).await[0].status, EventStatus::Accepted);
}

#[tokio::test]
async fn the_open_box_check_is_required_before_a_valuable_handover_and_a_refusal_carries_the_photo()
{
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("very high value");
    let code = p.code.clone().unwrap();
    let vid = device.verify(p.parcel_id, &code).await["verification_id"]
        .as_str()
        .unwrap()
        .to_string();
    let signature = upload(&app, &device, &png(3)).await;
    let photo = upload(&app, &device, &png(4)).await;
    let body = |contents: Option<String>| EventBody::Delivered {
        verification: Verification::OnlineCode {
            verification_id: vid.clone(),
        },
        recipient_name: "Alan".into(),
        photo_sha256: Some(photo.clone()),
        method: None,
        place: None,
        signature_sha256: Some(signature.clone()),
        contents_photo_sha256: contents,
        id_check: None,
    };
    let ev = device.event(p.stop_id, &[p.parcel_id], body(None), MORNING_MS);
    let message = rejected_with(&device.sync(&[ev]).await[0].status, RejectCode::StepMissing);
    assert!(message.contains("open-box"), "{message}");

    // Refused at the door: without the photo of the contents the record is refused too.
    let refused = |photo_sha256| EventBody::Failed {
        reason: ExceptionReason::RefusedContents,
        note: None,
        photo_sha256,
        id_check: None,
    };
    let fresh = spawn_app().await;
    let mut device = fresh.device().await;
    let p = fresh.parcel("very high value");
    let ev = device.event(p.stop_id, &[p.parcel_id], refused(None), MORNING_MS);
    rejected_with(&device.sync(&[ev]).await[0].status, RejectCode::StepMissing);
    let contents = upload(&fresh, &device, &png(5)).await;
    let p2 = fresh.parcel("code + photo: high value");
    let ev = device.event(
        p2.stop_id,
        &[p2.parcel_id],
        refused(Some(contents)),
        MORNING_MS,
    );
    assert_eq!(device.sync(&[ev]).await[0].status, EventStatus::Accepted);
    assert_eq!(
        parcel_status(&fresh, p2).await,
        "returning",
        "refused contents go back to the depot"
    );
}

#[tokio::test]
async fn an_age_restricted_parcel_needs_a_passed_id_check_for_the_minimum_age() {
    let check = |minimum_age, passed| IdCheck {
        id_type: IdType::DrivingLicence,
        minimum_age,
        passed,
        courier_confirmed: true,
    };
    let mut results = Vec::new();
    for id_check in [
        None,
        Some(check(Some(18), false)),
        Some(check(Some(16), true)),
        Some(check(Some(18), true)),
    ] {
        // A fresh server each time: a refused record marks the parcel disputed.
        let app = spawn_app().await;
        let mut device = app.device().await;
        let p = app.parcel("age-restricted");
        let vid = device.verify(p.parcel_id, p.code.as_deref().unwrap()).await["verification_id"]
            .as_str()
            .unwrap()
            .to_string();
        let body = EventBody::Delivered {
            verification: Verification::OnlineCode {
                verification_id: vid,
            },
            recipient_name: "Barbara".into(),
            photo_sha256: None,
            method: None,
            place: None,
            signature_sha256: None,
            contents_photo_sha256: None,
            id_check,
        };
        let ev = device.event(p.stop_id, &[p.parcel_id], body, MORNING_MS);
        results.push(device.sync(&[ev]).await.remove(0).status);
    }
    for (i, r) in results[..3].iter().enumerate() {
        let m = rejected_with(r, RejectCode::StepMissing);
        assert!(m.contains("ID check"), "try {i}: {m}");
    }
    assert_eq!(results[3], EventStatus::Accepted);
}

#[tokio::test]
async fn an_id_check_with_an_id_number_is_refused_as_bad_input_and_nothing_is_stored() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("low value");
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::NotRequired),
        MORNING_MS,
    );
    let mut json: Value = serde_json::to_value(&ev).unwrap();
    json["body"]["id_check"] = serde_json::json!({
        "id_type": "passport", "passed": true, "courier_confirmed": true, "id_number": "X1234567"
    });
    let r = device
        .post(
            "/v1/sync",
            serde_json::json!({ "app_version": "0.1.0", "platform": "linux", "events": [json] }),
        )
        .await;
    assert_eq!(r.status(), 400);
    let stored = app.query("SELECT body FROM events").await;
    assert!(stored.is_empty(), "nothing stored");
}

// -- failed attempts, the depot, unexpected parcels, corrections -------------------------

async fn parcel_view(app: &TestApp, parcel: &DemoParcel) -> Value {
    app.admin_get(&format!("/v1/admin/parcels/{}", parcel.parcel_id))
        .await
}

async fn manifest_on(device: &Device, date: &str) -> Manifest {
    let r = device
        .request(reqwest::Method::GET, &format!("/v1/manifest?date={date}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn lists(m: &Manifest, parcel: &DemoParcel) -> bool {
    m.stops
        .iter()
        .flat_map(|s| &s.parcels)
        .any(|p| p.parcel_id == parcel.parcel_id)
}

const NEXT_DAY: &str = "2026-11-26";

#[tokio::test]
async fn a_failed_attempt_is_tried_again_on_the_next_days_manifest_and_the_customer_is_told() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("no code: low value");
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        failed(ExceptionReason::NotHome),
        MORNING_MS,
    );
    assert_eq!(device.sync(&[ev]).await[0].status, EventStatus::Accepted);
    let view = parcel_view(&app, p).await;
    assert_eq!(view["status"], "pending", "{view}");
    assert_eq!(view["delivery_date"], NEXT_DAY);
    assert_eq!(view["failed_deliveries"], 1);
    // Today's route still shows it, as failed, so the courier can try again later today.
    let today = manifest_on(&device, DATE).await;
    let on_today = today
        .stops
        .iter()
        .flat_map(|s| &s.parcels)
        .find(|q| q.parcel_id == p.parcel_id)
        .expect("still on today's route");
    assert_eq!(
        on_today.status,
        doorstep_protocol::wire::ParcelStatus::Failed
    );
    assert!(lists(&manifest_on(&device, NEXT_DAY).await, p));
    let messages = app.admin_get("/v1/admin/outbox").await.to_string();
    assert!(
        messages.contains(&format!(
            "We missed you: your parcel {} comes again on {NEXT_DAY}",
            p.barcode
        )),
        "{messages}"
    );

    // A second failed attempt, on the next day, is the last one: back to the depot.
    let moved_stop = manifest_on(&device, NEXT_DAY)
        .await
        .stops
        .into_iter()
        .find(|s| s.parcels.iter().any(|q| q.parcel_id == p.parcel_id))
        .unwrap()
        .stop_id;
    let ev = device.event(
        moved_stop,
        &[p.parcel_id],
        failed(ExceptionReason::NotHome),
        MORNING_MS,
    );
    assert_eq!(device.sync(&[ev]).await[0].status, EventStatus::Accepted);
    assert_eq!(parcel_view(&app, p).await["status"], "returning");
}

#[tokio::test]
async fn a_refusal_or_a_policy_that_says_return_sends_the_parcel_back_to_the_depot() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    for (label, reason) in [
        ("no code: neighbour", ExceptionReason::Refused),
        ("very high value", ExceptionReason::NotHome),
    ] {
        let p = app.parcel(label);
        let ev = device.event(p.stop_id, &[p.parcel_id], failed(reason), MORNING_MS);
        assert_eq!(device.sync(&[ev]).await[0].status, EventStatus::Accepted);
        let view = parcel_view(&app, p).await;
        assert_eq!(view["status"], "returning", "{label}: {view}");
        assert_eq!(view["delivery_date"], DATE, "{label} stays on its day");
    }
}

#[tokio::test]
async fn the_depot_check_in_reconciles_the_van_on_the_fleet_page() {
    let app = fleet_app().await;
    let mut device = app.device().await;
    let delivered_one = app.parcel("no code: low value");
    let refused = app.parcel("no code: neighbour");
    let again = app.parcel("no code: safe place");
    let events = vec![
        device.event(
            delivered_one.stop_id,
            &[delivered_one.parcel_id],
            delivered(Verification::NotRequired),
            MORNING_MS,
        ),
        device.event(
            refused.stop_id,
            &[refused.parcel_id],
            failed(ExceptionReason::Refused),
            MORNING_MS,
        ),
        device.event(
            again.stop_id,
            &[again.parcel_id],
            failed(ExceptionReason::NotHome),
            MORNING_MS,
        ),
    ];
    assert!(
        device
            .sync(&events)
            .await
            .iter()
            .all(|r| r.status == EventStatus::Accepted)
    );
    let html = fleet_page(&app).await;
    assert!(
        html.contains("<h2 id=\"vans\">"),
        "the section is on the page"
    );
    assert!(html.contains("not yet"), "no check-in yet");

    // At the depot: the refused parcel and one label that was not expected.
    let check_in = device.event(
        doorstep_protocol::StopId::NIL,
        &[],
        EventBody::DepotCheckIn {
            date: DATE.into(),
            barcodes: vec![refused.barcode.clone(), "STRAY-0001".into()],
        },
        MORNING_MS,
    );
    assert_eq!(
        device.sync(&[check_in]).await[0].status,
        EventStatus::Accepted
    );
    assert_eq!(parcel_view(&app, refused).await["status"], "at_depot");
    let html = fleet_page(&app).await;
    let row = html
        .split("<tr data-van=\"Demo Courier\">")
        .nth(1)
        .expect("the demo courier's van")
        .split("</tr>")
        .next()
        .unwrap()
        .to_string();
    let cells: Vec<&str> = row
        .split("<td")
        .skip(1)
        .map(|c| c.split_once('>').unwrap().1.trim_end_matches("</td>"))
        .collect();
    assert_eq!(cells[1], "1", "delivered: {row}");
    assert_eq!(cells[2], "1", "again next day: {row}");
    assert_eq!(cells[3], "1", "going back: {row}");
    assert_eq!(cells[4], refused.barcode_key, "checked in: {row}");
    assert!(
        cells[5].contains(&again.barcode_key),
        "the parcel to try again is missing from the van: {row}"
    );
    assert_eq!(cells[6], "STRAY-0001", "not expected: {row}");
}

#[tokio::test]
async fn an_unexpected_parcel_is_listed_and_put_on_the_reporting_couriers_route() {
    let app = fleet_app().await;
    let mut device = app.device().await;
    let barcode = app.seed.off_route_barcode.clone();
    let report = device.event(
        doorstep_protocol::StopId::NIL,
        &[],
        EventBody::Unexpected {
            barcode: barcode.clone(),
            photo_sha256: None,
            note: Some("under the seat".into()),
        },
        MORNING_MS,
    );
    let report_id = report.id;
    assert_eq!(
        device.sync(&[report]).await[0].status,
        EventStatus::Accepted
    );
    let before = manifest_on(&device, DATE).await;
    assert!(
        !before
            .stops
            .iter()
            .flat_map(|s| &s.parcels)
            .any(|p| barcode.contains(&p.barcode))
    );
    let html = fleet_page(&app).await;
    assert!(html.contains(&format!("data-unexpected=\"{report_id}\"")));
    assert!(html.contains("Second Courier"), "whose route it is on");
    let r = post_form(
        &app,
        &format!("/fleet/unexpected/{report_id}/assign"),
        &format!("csrf={}", csrf_from(&html)),
    )
    .await;
    assert_eq!(r.status(), 303);
    let after = manifest_on(&device, DATE).await;
    assert!(
        after
            .stops
            .iter()
            .flat_map(|s| &s.parcels)
            .any(|p| barcode.contains(&p.barcode)),
        "the app picks it up at the next manifest refresh"
    );
    let html = fleet_page(&app).await;
    assert!(html.contains("on Demo Courier's route since"), "{html}");
}

#[tokio::test]
async fn a_correction_the_same_day_puts_the_parcel_back_to_deliver_once() {
    let app = fleet_app().await;
    let mut device = app.device().await;
    let p = app.parcel("no code: low value");
    let handover = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::NotRequired),
        MORNING_MS,
    );
    let corrected = handover.id;
    assert_eq!(
        device.sync(&[handover]).await[0].status,
        EventStatus::Accepted
    );
    let correction = |device: &mut Device| {
        device.event(
            p.stop_id,
            &[p.parcel_id],
            EventBody::Correction {
                corrects: corrected,
                reason: doorstep_protocol::wire::CorrectionReason::WrongDoor,
                note: Some("number 3, not 1".into()),
            },
            MORNING_MS,
        )
    };
    let first = correction(&mut device);
    assert_eq!(device.sync(&[first]).await[0].status, EventStatus::Accepted);
    assert_eq!(parcel_view(&app, p).await["status"], "pending");
    let again = correction(&mut device);
    let m = rejected_with(&device.sync(&[again]).await[0].status, RejectCode::Invalid);
    assert!(m.contains("corrected already"), "{m}");
    let html = fleet_page(&app).await;
    assert!(html.contains("handed to the wrong door") && html.contains("number 3, not 1"));

    // Another phone cannot correct this phone's record.
    let mut other = app.device().await;
    let ev = correction(&mut other);
    let m = rejected_with(&other.sync(&[ev]).await[0].status, RejectCode::Invalid);
    assert!(m.contains("own accepted handover"), "{m}");
}

#[tokio::test]
async fn a_correction_two_days_later_is_refused_even_when_the_phone_claims_the_delivery_day() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("no code: low value");
    let handover = device.record(p, delivered(Verification::NotRequired), MORNING_MS);
    let corrected = handover.id;
    assert_eq!(device.sync_one(handover).await, EventStatus::Accepted);
    // Two days and a bit later by the server's clock; the phone's record claims the morning of
    // the delivery day. The server's time of arrival, with the offline window (48 h) as the
    // only grace, decides.
    app.clock.advance_ms(49 * 3_600_000);
    let late = device.event(
        p.stop_id,
        &[p.parcel_id],
        EventBody::Correction {
            corrects: corrected,
            reason: doorstep_protocol::wire::CorrectionReason::WrongDoor,
            note: None,
        },
        MORNING_MS + 60_000,
    );
    let m = rejected_with(&device.sync(&[late]).await[0].status, RejectCode::Backdated);
    assert!(m.contains("offline window"), "{m}");
    assert_eq!(parcel_view(&app, p).await["status"], "delivered");
}

#[tokio::test]
async fn the_customer_page_and_messages_follow_the_recipients_language() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let es = app.parcel("two parcels, one stop");
    let en = app.parcel("no code: low value");
    let page = |url: String| async move { reqwest::get(url).await.unwrap().text().await.unwrap() };
    let spanish = page(es.customer_url.clone()).await;
    assert!(
        spanish.contains("<html lang=\"es\">") && spanish.contains("Tu entrega"),
        "{spanish}"
    );
    assert!(spanish.contains("Esta entrega no necesita código."));
    let english = page(en.customer_url.clone()).await;
    assert!(english.contains("<html lang=\"en\">") && english.contains("Your delivery"));

    let ev = device.event(
        es.stop_id,
        &[es.parcel_id],
        failed(ExceptionReason::NotHome),
        MORNING_MS,
    );
    assert_eq!(device.sync(&[ev]).await[0].status, EventStatus::Accepted);
    let outbox = app.admin_get("/v1/admin/outbox").await.to_string();
    assert!(
        outbox.contains(&format!(
            "No te encontramos: tu paquete {} llegará de nuevo el {NEXT_DAY}",
            es.barcode
        )),
        "{outbox}"
    );
}

#[tokio::test]
async fn a_parcel_tried_again_the_same_day_is_delivered_on_its_first_stop_and_leaves_the_next_days_route()
 {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("no code: low value");
    let not_home = device.event(
        p.stop_id,
        &[p.parcel_id],
        failed(ExceptionReason::NotHome),
        MORNING_MS,
    );
    assert_eq!(
        device.sync(&[not_home]).await[0].status,
        EventStatus::Accepted
    );
    assert!(lists(&manifest_on(&device, NEXT_DAY).await, p));
    // The customer is home in the afternoon: the courier hands it over on today's stop.
    let handed = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::NotRequired),
        MORNING_MS + 6 * 3_600_000,
    );
    assert_eq!(
        device.sync(&[handed]).await[0].status,
        EventStatus::Accepted
    );
    let view = parcel_view(&app, p).await;
    assert_eq!(view["status"], "delivered");
    assert_eq!(view["delivery_date"], DATE);
    assert!(!lists(&manifest_on(&device, NEXT_DAY).await, p));
}

#[tokio::test]
async fn a_parcel_on_its_way_back_cannot_be_recorded_as_handed_over() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("no code: neighbour");
    let refused = device.record(p, failed(ExceptionReason::Refused), MORNING_MS);
    assert_eq!(device.sync_one(refused).await, EventStatus::Accepted);
    assert_eq!(parcel_status(&app, p).await, "returning");
    // Later, a record made offline says it was handed over at the same stop after all.
    let handed = device.record(
        p,
        delivered(Verification::NotRequired),
        MORNING_MS + 3_600_000,
    );
    let message = rejected_with(&device.sync_one(handed).await, RejectCode::NotAssigned);
    assert!(message.contains("on its way back"), "{message}");
    assert_eq!(parcel_status(&app, p).await, "returning");
}

#[tokio::test]
async fn a_parcel_moved_to_the_next_day_cannot_be_recorded_on_its_old_stop_the_next_day() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("no code: low value");
    let not_home = device.record(p, failed(ExceptionReason::NotHome), MORNING_MS);
    assert_eq!(device.sync_one(not_home).await, EventStatus::Accepted);
    assert_eq!(parcel_view(&app, p).await["delivery_date"], NEXT_DAY);
    // The next day, a record names the old stop (whose code rules and route are yesterday's).
    let next_morning = MORNING_MS + 24 * 3_600_000;
    app.clock.set_ms(next_morning + 60_000);
    let handed = device.record(p, delivered(Verification::NotRequired), next_morning);
    let message = rejected_with(&device.sync_one(handed).await, RejectCode::NotAssigned);
    assert!(message.contains("moved to another day"), "{message}");
    let view = parcel_view(&app, p).await;
    assert_eq!(view["status"], "pending");
    assert_eq!(view["delivery_date"], NEXT_DAY);
}

#[tokio::test]
async fn evidence_belongs_to_the_phone_that_uploaded_it_and_to_one_record() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let mut other = app.device().await;
    let signed = |signature: &[u8]| signed_by_neighbour(signature, Some("14"));
    let first = app.parcel("two parcels, one stop");
    let second = app.parcel("no code: second parcel of the same stop");
    upload(&app, &device, &png(1)).await;

    // Another phone naming this phone's signature: refused.
    let ev = other.record(first, signed(&png(1)), MORNING_MS);
    let message = rejected_with(&other.sync_one(ev).await, RejectCode::PhotoMissing);
    assert!(message.contains("another phone"), "{message}");

    // The phone's own record takes it; a second record naming it again is refused.
    let ev = device.record(first, signed(&png(1)), MORNING_MS);
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);
    let ev = device.record(second, signed(&png(1)), MORNING_MS);
    let message = rejected_with(&device.sync_one(ev).await, RejectCode::PhotoMissing);
    assert!(message.contains("belongs to another record"), "{message}");
    assert_eq!(parcel_status(&app, second).await, "pending");

    // A signature uploaded longer ago than the offline window (48 h) is not taken either.
    upload(&app, &device, &png(2)).await;
    let later = MORNING_MS + 49 * 3_600_000;
    app.clock.set_ms(later + 60_000);
    let ev = device.record(second, signed(&png(2)), later);
    let message = rejected_with(&device.sync_one(ev).await, RejectCode::PhotoMissing);
    assert!(message.contains("offline window"), "{message}");
}

#[tokio::test]
async fn a_depot_check_in_is_for_its_own_day_and_a_second_one_adds_to_the_first() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let check_in = |date: &str, labels: Vec<String>| EventBody::DepotCheckIn {
        date: date.into(),
        barcodes: labels,
    };
    let nil = doorstep_protocol::StopId::NIL;
    let ev = device.event(
        nil,
        &[],
        check_in(NEXT_DAY, vec!["STRAY-1".into()]),
        MORNING_MS,
    );
    let message = rejected_with(&device.sync_one(ev).await, RejectCode::Invalid);
    assert!(message.contains("the day it is made on"), "{message}");

    let first = device.event(nil, &[], check_in(DATE, vec!["STRAY-1".into()]), MORNING_MS);
    let second = device.event(nil, &[], check_in(DATE, vec!["STRAY-2".into()]), MORNING_MS);
    let r = device.sync(&[first, second]).await;
    assert!(r.iter().all(|r| r.status == EventStatus::Accepted), "{r:?}");
    let scanned = app.query("SELECT scanned FROM depot_checkins").await;
    assert_eq!(scanned.len(), 1);
    assert_eq!(
        scanned[0].get::<_, String>(0).unwrap(),
        r#"["STRAY-1","STRAY-2"]"#,
        "the second check-in of the day adds to the first"
    );

    // The day's labels together are bounded: 1,999 more would make 2,001.
    let many: Vec<String> = (0..1999).map(|i| format!("BULK-{i:04}")).collect();
    let ev = device.event(nil, &[], check_in(DATE, many), MORNING_MS);
    let message = rejected_with(&device.sync_one(ev).await, RejectCode::Invalid);
    assert!(message.contains("2000 labels a day"), "{message}");
}

#[tokio::test]
async fn a_phone_reports_at_most_a_hundred_unexpected_parcels_a_day() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let reports: Vec<_> = (0..101)
        .map(|i| {
            device.event(
                doorstep_protocol::StopId::NIL,
                &[],
                EventBody::Unexpected {
                    barcode: format!("STRAY-{i:04}"),
                    photo_sha256: None,
                    note: None,
                },
                MORNING_MS,
            )
        })
        .collect();
    let r = device.sync(&reports).await;
    assert!(r[..100].iter().all(|r| r.status == EventStatus::Accepted));
    let message = rejected_with(&r[100].status, RejectCode::Invalid);
    assert!(
        message.contains("100 unexpected parcels today"),
        "{message}"
    );
    let listed = app.query("SELECT COUNT(*) FROM unexpected_parcels").await;
    assert_eq!(listed[0].get::<_, i64>(0).unwrap(), 100);
}

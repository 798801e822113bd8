//! The console's proof of delivery (issue 19 item 3): found by barcode, recipient or courier;
//! each kind of record with its evidence, where it happened and how far from the address;
//! the timeline; JSON and CSV; never a code.

use doorstep_protocol::wire::{
    DeliveryMethod, EventBody, EventStatus, ExceptionReason, Verification,
};
use doorstep_server::DemoParcel;
use doorstep_server::domain::accounts::Role;
use serde_json::Value;
use sha2::Digest;

use crate::helpers::*;

async fn upload(app: &TestApp, device: &Device, bytes: &[u8]) -> String {
    let sha = hex::encode(sha2::Sha256::digest(bytes));
    let r = device
        .request(reqwest::Method::PUT, &format!("/v1/photos/{sha}"))
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", app.base);
    sha
}

fn png(seed: u8) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(&[seed; 64]);
    b
}

fn by(method: DeliveryMethod, place: &str, edit: impl FnOnce(&mut EventBody)) -> EventBody {
    let mut body = delivered(Verification::NotRequired);
    if let EventBody::Delivered {
        method: m,
        place: p,
        ..
    } = &mut body
    {
        *m = Some(method);
        *p = Some(place.into());
    }
    edit(&mut body);
    body
}

async fn proof_page(app: &TestApp, cookie: &str, parcel: &DemoParcel) -> String {
    let r = get_as(app, cookie, &format!("/fleet/parcels/{}", parcel.parcel_id)).await;
    let status = r.status();
    let html = r.text().await.unwrap();
    assert_eq!(status, 200, "{html}");
    html
}

/// The `<section>` of the page's record of kind `kind`.
fn section<'h>(html: &'h str, kind: &str) -> &'h str {
    let start = html
        .find(&format!("data-kind=\"{kind}\""))
        .unwrap_or_else(|| panic!("a {kind} record: {html}"));
    let end = start + html[start..].find("</section>").unwrap();
    &html[start..end]
}

#[tokio::test]
async fn every_kind_of_record_shows_its_evidence_on_the_proof_of_delivery() {
    let app = fleet_app().await;
    let cookie = signed_in_as(&app, "vera", Role::Viewer).await;
    let mut device = app.device().await;
    let address = (52.3731, 4.8926);

    // Online code.
    let online = app.parcel("shipper requires");
    let v = device
        .verify(online.parcel_id, online.code.as_deref().unwrap())
        .await;
    let id = v["verification_id"].as_str().unwrap().to_string();
    let ev = device.record(
        online,
        delivered(Verification::OnlineCode {
            verification_id: id,
        }),
        MORNING_MS,
    );
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    // Offline code: the page never shows the code.
    let offline = app.parcel("recipient asked for one (stop");
    let code = offline.code.clone().unwrap();
    let ev = device.record(
        offline,
        delivered(Verification::OfflineCode {
            code: doorstep_protocol::DeliveryCode::parse(&code, None).unwrap(),
        }),
        MORNING_MS,
    );
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    // The customer's QR.
    let qr = app.parcel("pickup point, recipient asked");
    let token = app.token_on_customer_page(&qr.customer_url).await;
    let ev = device.record(qr, delivered(Verification::Token { token }), MORNING_MS);
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    // A neighbour signs, 40 m from the address.
    let neighbour = app.parcel("no code: neighbour");
    app.query(&format!(
        "UPDATE stops SET lat = {}, lon = {} WHERE id = '{}'",
        address.0, address.1, neighbour.stop_id
    ))
    .await;
    let signature = upload(&app, &device, &png(1)).await;
    let body = by(DeliveryMethod::Neighbour, "No. 12", |b| {
        if let EventBody::Delivered {
            signature_sha256, ..
        } = b
        {
            *signature_sha256 = Some(signature.clone());
        }
    });
    let ev = record_at(&mut device, neighbour, body, (52.3734, 4.8928));
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    // A safe place with its photo, 1.1 km away: flagged.
    let shed = app.parcel("no code: two parcels, one stop");
    app.query(&format!(
        "UPDATE stops SET lat = {}, lon = {} WHERE id = '{}'",
        address.0, address.1, shed.stop_id
    ))
    .await;
    let photo = upload(&app, &device, &png(2)).await;
    let body = by(DeliveryMethod::SafePlace, "in the garden shed", |b| {
        if let EventBody::Delivered { photo_sha256, .. } = b {
            *photo_sha256 = Some(photo.clone());
        }
    });
    let ev = record_at(&mut device, shed, body, (52.3831, 4.8926));
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    // A failed attempt.
    let not_home = app.parcel("no code: low value");
    let ev = device.record(not_home, failed(ExceptionReason::NotHome), MORNING_MS);
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    let html = proof_page(&app, &cookie, online).await;
    let rec = section(&html, "delivered");
    assert!(rec.contains("checked online before the handover"), "{rec}");
    assert!(
        rec.contains("into the recipient's hands") && rec.contains("R. Ecipient"),
        "{rec}"
    );
    assert!(rec.contains("data-chain>intact"), "{rec}");
    assert!(html.contains("data-status>delivered"), "{html}");
    assert!(
        html.contains("Code checked online: right"),
        "the timeline: {html}"
    );
    assert!(
        html.contains("Code ended") && html.contains("the stop was handed over"),
        "{html}"
    );
    assert!(
        html.contains("Created") && html.contains("a delivery code is needed"),
        "{html}"
    );

    let html = proof_page(&app, &cookie, offline).await;
    assert!(
        section(&html, "delivered").contains("typed without signal"),
        "{html}"
    );
    assert!(!html.contains(&code), "the code is never on the page");

    let html = proof_page(&app, &cookie, qr).await;
    assert!(
        section(&html, "delivered").contains("the customer's QR code"),
        "{html}"
    );

    let html = proof_page(&app, &cookie, neighbour).await;
    let rec = section(&html, "delivered");
    assert!(rec.contains("to a neighbour: No. 12"), "{rec}");
    assert!(
        rec.contains(&format!("src=\"/fleet/photos/{signature}\"")),
        "{rec}"
    );
    assert!(
        rec.contains("data-far=\"false\"") && rec.contains("36 m from the address"),
        "{rec}"
    );
    assert!(rec.contains("<svg class=\"map\""), "the small map: {rec}");
    let img = get_as(&app, &cookie, &format!("/fleet/photos/{signature}")).await;
    assert_eq!(img.status(), 200);
    assert_eq!(img.headers()["content-type"], "image/png");
    assert_eq!(img.bytes().await.unwrap().to_vec(), png(1));

    let html = proof_page(&app, &cookie, shed).await;
    let rec = section(&html, "delivered");
    assert!(
        rec.contains("left in a safe place: in the garden shed"),
        "{rec}"
    );
    assert!(
        rec.contains(&format!("src=\"/fleet/photos/{photo}\"")),
        "{rec}"
    );
    assert!(
        rec.contains("data-far=\"true\"") && rec.contains("further than 250 m"),
        "{rec}"
    );

    let html = proof_page(&app, &cookie, not_home).await;
    let rec = section(&html, "failed");
    assert!(
        rec.contains("not home") && rec.contains("the phone did not know"),
        "{rec}"
    );
    assert!(html.contains("Not delivered"), "{html}");

    // JSON and CSV of the same proof.
    let r = get_as(
        &app,
        &cookie,
        &format!("/fleet/parcels/{}/proof.json", shed.parcel_id),
    )
    .await;
    let json: Value = r.json().await.unwrap();
    assert_eq!(json["records"][0]["method"], "safe_place");
    assert_eq!(json["records"][0]["photos"][0], photo.as_str());
    assert_eq!(json["stop_location"]["lat"], address.0);
    let r = get_as(
        &app,
        &cookie,
        &format!("/fleet/parcels/{}/proof.csv", online.parcel_id),
    )
    .await;
    let csv = csv_download(r, "proof-").await;
    assert!(csv.starts_with("when_utc,barcode,what,detail\n"), "{csv}");
    assert!(csv.contains(",Handed over,"), "{csv}");
    assert!(
        !csv.contains(online.code.as_deref().unwrap()),
        "no code in the export"
    );
}

#[tokio::test]
async fn parcels_are_found_by_barcode_recipient_or_courier_and_need_a_signed_in_user() {
    let app = fleet_app().await;
    let p = app.parcel("no code: neighbour");
    let r = get_as(&app, "", &format!("/fleet/parcels/{}", p.parcel_id)).await;
    assert_eq!(r.status(), 303, "signed out: to the sign-in");
    let r = get_as(&app, "", &format!("/fleet/photos/{}", "a".repeat(64))).await;
    assert_eq!(r.status(), 401, "photos need a session too");

    let cookie = signed_in_as(&app, "dina", Role::Depot).await;
    for q in [p.barcode.clone(), "ken thomp".into(), "%".into()] {
        let html = get_as(
            &app,
            &cookie,
            &format!("/fleet/parcels?q={}", urlencode(&q)),
        )
        .await
        .text()
        .await
        .unwrap();
        let matched = html.contains(&format!("href=\"/fleet/parcels/{}\"", p.parcel_id));
        assert_eq!(matched, q != "%", "{q}: {html}");
    }
    let html = get_as(&app, &cookie, "/fleet/parcels?q=nobody-by-this-name")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("No parcel matches"), "{html}");
    let r = get_as(
        &app,
        &cookie,
        &format!("/fleet/parcels/{}", uuid::Uuid::now_v7()),
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = get_as(&app, &cookie, "/fleet/parcels/not-an-id").await;
    assert_eq!(r.status(), 404);
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn the_inbox_gathers_locked_stops_disputes_and_far_handovers_with_their_actions() {
    let app = fleet_app().await;
    let mut device = app.device().await;

    // A stop locked by wrong codes.
    let locked = app.parcel("shipper requires");
    let wrong = wrong_code(locked.code.as_deref().unwrap());
    while device.verify(locked.parcel_id, &wrong).await["result"] != "locked" {}

    // A safe place without its photo: refused, the parcel in dispute.
    let disputed = app.parcel("no code: safe place");
    let ev = device.record(
        disputed,
        by(DeliveryMethod::SafePlace, "behind the bin", |_| {}),
        MORNING_MS,
    );
    assert!(matches!(
        device.sync_one(ev).await,
        EventStatus::Rejected { .. }
    ));

    // A handover 1.1 km from its address.
    let far = app.parcel("no code: neighbour");
    app.query(&format!(
        "UPDATE stops SET lat = 52.3731, lon = 4.8926 WHERE id = '{}'",
        far.stop_id
    ))
    .await;
    let signature = upload(&app, &device, &png(3)).await;
    let body = by(DeliveryMethod::Neighbour, "No. 14", |b| {
        if let EventBody::Delivered {
            signature_sha256, ..
        } = b
        {
            *signature_sha256 = Some(signature.clone());
        }
    });
    let ev = record_at(&mut device, far, body, (52.3831, 4.8926));
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    let viewer = signed_in_as(&app, "vic", Role::Viewer).await;
    let dispatcher = signed_in_as(&app, "dan", Role::Dispatcher).await;
    let inbox = |cookie: String| {
        let app = &app;
        async move {
            let r = get_as(app, &cookie, "/fleet/inbox").await;
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };
    let html = inbox(dispatcher).await;
    let new_code = format!("action=\"/fleet/stops/{}/new-code\"", locked.stop_id);
    assert!(
        html.contains(&new_code),
        "a dispatcher may make a new code: {html}"
    );
    assert!(
        html.contains(&format!("data-disputed=\"{}\"", disputed.parcel_id)),
        "the disputed parcel: {html}"
    );
    let far_row = html.split("data-far=").nth(1).expect("a far handover");
    assert!(
        far_row.contains(&far.parcel_id.to_string()) && far_row.contains("1.1 km"),
        "{far_row}"
    );
    let html = inbox(viewer).await;
    assert!(
        html.contains("Locked stops") && !html.contains(&new_code),
        "a viewer only reads: {html}"
    );
}

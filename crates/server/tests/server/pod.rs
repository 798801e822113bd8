//! The console's proof of delivery (issue 19 item 3): found by barcode, recipient or courier;
//! each kind of record with its evidence, where it happened and how far from the address;
//! the timeline; JSON and CSV; never a code.

use doorstep_protocol::wire::{
    DeliveryMethod, EventBody, EventStatus, ExceptionReason, IdCheck, IdType, Verification,
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
    page_of(app, cookie, &parcel.parcel_id.to_string()).await
}

/// The proof-of-delivery page of parcel `id`.
async fn page_of(app: &TestApp, cookie: &str, id: &str) -> String {
    let r = get_as(app, cookie, &format!("/fleet/parcels/{id}")).await;
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
    let ev = device
        .delivered_online(online, online.code.as_deref().unwrap(), MORNING_MS)
        .await;
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
    let token_text = token.expose_text().to_string();
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
    assert!(
        !html.contains(&token_text),
        "the QR token is never on the page"
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
        &format!("/fleet/parcels/{}/proof.csv", shed.parcel_id),
    )
    .await;
    let csv = csv_download(r, "proof-").await;
    let row = csv
        .lines()
        .find(|l| l.contains(",delivered record (accepted),"))
        .unwrap_or_else(|| panic!("the record's row: {csv}"));
    assert!(
        row.contains("left in a safe place: in the garden shed")
            && row.contains(&format!("photo {photo}"))
            && row.contains("further than 250 m"),
        "its evidence: {row}"
    );
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

/// A parcel's proof three ways: the page, the JSON and the CSV.
struct Proof {
    html: String,
    json: Value,
    csv: String,
}

async fn proof_of(app: &TestApp, cookie: &str, parcel_id: &str) -> Proof {
    let html = page_of(app, cookie, parcel_id).await;
    let r = get_as(
        app,
        cookie,
        &format!("/fleet/parcels/{parcel_id}/proof.json"),
    )
    .await;
    assert_eq!(r.status(), 200);
    let json = r.json().await.unwrap();
    let r = get_as(
        app,
        cookie,
        &format!("/fleet/parcels/{parcel_id}/proof.csv"),
    )
    .await;
    let csv = csv_download(r, "proof-").await;
    Proof { html, json, csv }
}

impl Proof {
    /// The records of the JSON export of kind `kind`.
    fn records(&self, kind: &str) -> Vec<&Value> {
        self.json["records"]
            .as_array()
            .expect("the records")
            .iter()
            .filter(|r| r["kind"] == kind)
            .collect()
    }

    /// The CSV's rows whose `what` is `what`.
    fn csv_rows(&self, what: &str) -> Vec<&str> {
        self.csv
            .lines()
            .filter(|l| l.split(',').nth(2) == Some(what))
            .collect()
    }

    /// The CSV's row of the record of kind `kind` (the only one), with its evidence.
    fn csv_record(&self, kind: &str) -> &str {
        let rows = self.csv_rows(&format!("{kind} record (accepted)"));
        assert_eq!(rows.len(), 1, "one {kind} record: {}", self.csv);
        rows[0]
    }

    /// Neither the page nor its exports hold `secret`.
    fn keeps_secret(&self, secret: &str) {
        assert!(!self.html.contains(secret), "on the page: {}", self.html);
        assert!(
            !self.json.to_string().contains(secret),
            "in the JSON: {}",
            self.json
        );
        assert!(!self.csv.contains(secret), "in the CSV: {}", self.csv);
    }
}

#[tokio::test]
async fn an_id_check_shows_the_kind_of_id_the_age_and_the_result_and_nothing_more() {
    let app = fleet_app().await;
    let cookie = signed_in_as(&app, "vera", Role::Viewer).await;
    let mut device = app.device().await;
    let p = app.parcel("age-restricted");
    let code = p.code.clone().unwrap();
    let v = device.verify(p.parcel_id, &code).await;
    let body = EventBody::Delivered {
        verification: Verification::OnlineCode {
            verification_id: v["verification_id"].as_str().unwrap().into(),
        },
        recipient_name: "Barbara Liskov".into(),
        photo_sha256: None,
        method: None,
        place: None,
        signature_sha256: None,
        contents_photo_sha256: None,
        id_check: Some(IdCheck {
            id_type: IdType::DrivingLicence,
            minimum_age: Some(18),
            passed: true,
            courier_confirmed: true,
        }),
    };
    let ev = device.record(p, body, MORNING_MS);
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    // What is stored of the check: the kind of ID, the age, the result and the courier's
    // confirmation — no number, no date of birth, no image.
    let stored = app.query("SELECT body FROM events").await;
    let stored: Value = serde_json::from_str(&stored[0].get::<_, String>(0).unwrap()).unwrap();
    let mut fields: Vec<&str> = stored["body"]["id_check"]
        .as_object()
        .expect("the check is stored")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["courier_confirmed", "id_type", "minimum_age", "passed"]
    );

    let proof = proof_of(&app, &cookie, &p.parcel_id.to_string()).await;
    let rec = section(&proof.html, "delivered");
    assert!(
        rec.contains("<td data-id-check>driving licence, at least 18 years: passed</td>"),
        "{rec}"
    );
    assert!(
        rec.contains("checked online before the handover") && rec.contains("Barbara Liskov"),
        "{rec}"
    );
    assert!(
        proof.html.contains("data-status>delivered"),
        "{}",
        proof.html
    );
    assert!(
        proof.html.contains("Handed over") && proof.html.contains("Code checked online: right"),
        "the timeline: {}",
        proof.html
    );
    let rec = &proof.records("delivered")[0];
    assert_eq!(
        rec["id_check"],
        serde_json::json!(["driving_licence", 18, true])
    );
    assert_eq!(rec["verification"], "online_code");
    assert_eq!(proof.csv_rows("Handed over").len(), 1, "{}", proof.csv);
    let row = proof.csv_record("delivered");
    assert!(
        row.contains("ID check: driving licence, at least 18 years: passed")
            && row.contains("checked online before the handover"),
        "{row}"
    );
    proof.keeps_secret(&code);
}

#[tokio::test]
async fn a_parcel_that_failed_until_it_went_back_shows_each_attempt_and_its_return_to_the_depot() {
    let app = fleet_app().await;
    let cookie = signed_in_as(&app, "vera", Role::Viewer).await;
    let mut device = app.device().await;
    let p = app.parcel("no code: low value");

    // Not home today: tried again the next day, on a new stop; not home again: going back.
    let ev = device.record(p, failed(ExceptionReason::NotHome), MORNING_MS);
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);
    let moved: Vec<_> = app
        .query(&format!(
            "SELECT stop_id FROM parcels WHERE id = '{}'",
            p.parcel_id
        ))
        .await;
    let moved: String = moved[0].get(0).unwrap();
    assert_ne!(moved, p.stop_id.to_string(), "on the next day's stop");
    let mut body = failed(ExceptionReason::NotHome);
    if let EventBody::Failed { note, .. } = &mut body {
        *note = Some("curtains drawn, no answer".into());
    }
    let ev = device.event(moved.parse().unwrap(), &[p.parcel_id], body, MORNING_MS);
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);
    let proof = proof_of(&app, &cookie, &p.parcel_id.to_string()).await;
    assert!(
        proof.html.contains("data-status>returning"),
        "{}",
        proof.html
    );

    // Back at the depot that evening, the label scanned at the check-in.
    let evening = MORNING_MS + 10 * 3_600_000;
    app.clock.set_ms(evening);
    let check_in = device.event(
        doorstep_protocol::StopId::NIL,
        &[],
        EventBody::DepotCheckIn {
            date: DATE.into(),
            barcodes: vec![p.barcode.clone()],
        },
        evening,
    );
    assert_eq!(device.sync_one(check_in).await, EventStatus::Accepted);

    // Ten hours idle ended the viewer's session; the depot signs in.
    let cookie = signed_in_as(&app, "dina", Role::Depot).await;

    let proof = proof_of(&app, &cookie, &p.parcel_id.to_string()).await;
    assert!(
        proof.html.contains("data-status>at_depot"),
        "{}",
        proof.html
    );
    let attempts: Vec<&str> = proof
        .html
        .split("data-kind=\"failed\"")
        .skip(1)
        .map(|s| &s[..s.find("</section>").unwrap()])
        .collect();
    assert_eq!(attempts.len(), 2, "both attempts: {}", proof.html);
    assert!(
        attempts.iter().all(|a| a.contains("not home")),
        "{attempts:?}"
    );
    assert!(
        attempts[1].contains("curtains drawn, no answer"),
        "the courier's note: {}",
        attempts[1]
    );
    assert!(
        proof.html.contains("Back at the depot"),
        "the timeline names the check-in: {}",
        proof.html
    );
    let failed = proof.records("failed");
    assert_eq!(failed.len(), 2, "{}", proof.json);
    assert!(failed.iter().all(|r| r["reason"] == "not_home"));
    assert_eq!(failed[1]["note"], "curtains drawn, no answer");
    assert_eq!(proof.json["status"], "at_depot");
    assert_eq!(proof.csv_rows("Not delivered").len(), 2, "{}", proof.csv);
    assert_eq!(
        proof.csv_rows("Back at the depot").len(),
        1,
        "{}",
        proof.csv
    );
    let attempts = proof.csv_rows("failed record (accepted)");
    assert_eq!(attempts.len(), 2, "{}", proof.csv);
    assert!(
        attempts.iter().all(|a| a.contains("why: not home"))
            && attempts[1].contains("courier's note: curtains drawn, no answer"),
        "{attempts:?}"
    );
}

#[tokio::test]
async fn a_corrected_handover_shows_the_correction_next_to_the_record_it_corrects() {
    let app = fleet_app().await;
    let cookie = signed_in_as(&app, "vera", Role::Viewer).await;
    let mut device = app.device().await;
    let p = app.parcel("no code: low value");
    let handover = device.record(p, delivered(Verification::NotRequired), MORNING_MS);
    let corrected = handover.id;
    assert_eq!(device.sync_one(handover).await, EventStatus::Accepted);
    let correction = device.record(
        p,
        EventBody::Correction {
            corrects: corrected,
            reason: doorstep_protocol::wire::CorrectionReason::WrongDoor,
            note: Some("number 3, not 1".into()),
        },
        MORNING_MS + 600_000,
    );
    let correction_id = correction.id;
    assert_eq!(device.sync_one(correction).await, EventStatus::Accepted);

    let proof = proof_of(&app, &cookie, &p.parcel_id.to_string()).await;
    assert!(
        proof.html.contains("data-status>pending"),
        "to deliver again: {}",
        proof.html
    );
    for (id, kind) in [(corrected, "delivered"), (correction_id, "correction")] {
        assert!(
            proof
                .html
                .contains(&format!("data-record=\"{id}\" data-kind=\"{kind}\"")),
            "both records: {}",
            proof.html
        );
    }
    let rec = section(&proof.html, "correction");
    assert!(
        rec.contains(&format!("<td>{corrected}</td>")),
        "what it corrects: {rec}"
    );
    assert!(
        rec.contains("wrong door") && rec.contains("number 3, not 1"),
        "why, and the courier's note: {rec}"
    );
    assert!(
        proof.html.find("Handed over").unwrap() < proof.html.find("Corrected").unwrap(),
        "the timeline names both, in order: {}",
        proof.html
    );
    let rec = &proof.records("correction")[0];
    assert_eq!(rec["corrects"], corrected.to_string());
    assert_eq!(rec["reason"], "wrong_door");
    assert_eq!(rec["note"], "number 3, not 1");
    assert_eq!(proof.records("delivered").len(), 1);
    assert_eq!(proof.csv_rows("Handed over").len(), 1, "{}", proof.csv);
    assert_eq!(proof.csv_rows("Corrected").len(), 1, "{}", proof.csv);
    let row = proof.csv_record("correction");
    assert!(
        row.contains(&format!("corrects record {corrected}"))
            && row.contains("why: wrong door")
            && row.contains("courier's note: number 3, not 1"),
        "{row}"
    );
}

#[tokio::test]
async fn an_unexpected_parcel_shows_the_report_with_its_photo_and_who_put_it_on_a_route() {
    let app = fleet_app().await;
    let cookie = signed_in_as(&app, "vera", Role::Viewer).await;
    let mut device = app.device().await;
    let barcode = app.seed.off_route_barcode.clone();
    let photo = upload(&app, &device, &png(7)).await;
    let report = device.event(
        doorstep_protocol::StopId::NIL,
        &[],
        EventBody::Unexpected {
            barcode: barcode.clone(),
            photo_sha256: Some(photo.clone()),
            note: Some("under the seat".into()),
        },
        MORNING_MS,
    );
    let report_id = report.id;
    assert_eq!(device.sync_one(report).await, EventStatus::Accepted);
    let rows = app
        .query(&format!(
            "SELECT id FROM parcels WHERE barcode_raw = '{barcode}'"
        ))
        .await;
    let parcel_id: String = rows[0].get(0).unwrap();

    // The fleet puts it on the reporting courier's route.
    let html = fleet_page(&app).await;
    let r = post_form(
        &app,
        &format!("/fleet/unexpected/{report_id}/assign"),
        &format!("csrf={}", csrf_from(&html)),
    )
    .await;
    assert_eq!(r.status(), 303);

    let proof = proof_of(&app, &cookie, &parcel_id).await;
    assert!(
        proof.html.contains(&format!(
            "data-record=\"{report_id}\" data-kind=\"unexpected\""
        )),
        "the report: {}",
        proof.html
    );
    let rec = section(&proof.html, "unexpected");
    assert!(rec.contains("under the seat"), "the courier's note: {rec}");
    assert!(
        rec.contains(&format!("src=\"/fleet/photos/{photo}\"")),
        "the photo: {rec}"
    );
    assert!(
        proof.html.contains("Demo Courier"),
        "now on the reporting courier's route: {}",
        proof.html
    );
    assert!(
        proof.html.contains("Reported as not on the route")
            && proof
                .html
                .contains(&format!("unexpected parcel assigned</td><td>by {USER}")),
        "the timeline names the report and who put it on a route: {}",
        proof.html
    );
    let rec = &proof.records("unexpected")[0];
    assert_eq!(rec["event_id"], report_id.to_string());
    assert_eq!(rec["note"], "under the seat");
    assert_eq!(rec["photos"][0], photo.as_str());
    assert_eq!(
        proof.csv_rows("Reported as not on the route").len(),
        1,
        "{}",
        proof.csv
    );
    assert_eq!(
        proof.csv_rows("unexpected parcel assigned").len(),
        1,
        "{}",
        proof.csv
    );
    let row = proof.csv_record("unexpected");
    assert!(
        row.contains(&format!("photo {photo}")) && row.contains("courier's note: under the seat"),
        "{row}"
    );
}

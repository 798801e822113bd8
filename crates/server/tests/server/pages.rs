use doorstep_protocol::DeliveryCode;
use doorstep_protocol::wire::Verification;
use serde_json::{Value, json};

use crate::helpers::{DATE, MORNING_MS, delivered, spawn_app, wrong_code};

#[tokio::test]
async fn the_fleet_page_shows_disputes_devices_and_makes_an_enrollment_qr() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("shipper requires");
    let wrong = DeliveryCode::parse(&wrong_code(p.code.as_deref().unwrap()), None).unwrap();
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::OfflineCode { code: wrong }),
        MORNING_MS,
    );
    device.sync(&[ev]).await;

    let inbox = app.get_text("/fleet/inbox").await;
    assert!(
        inbox.contains(&p.barcode) && inbox.contains("data-disputed"),
        "the disputed parcel is in the inbox"
    );
    let proof = app
        .get_text(&format!("/fleet/parcels/{}", p.parcel_id))
        .await;
    assert!(proof.contains("code_wrong"), "its proof says why: {proof}");
    let html = app.get_text("/fleet/phones").await;
    assert!(
        html.contains("0.1.0"),
        "the device and its app version are listed"
    );

    let courier = app.seed.courier_id.to_string();
    let page = app
        .client
        .post(app.url("/fleet/enroll"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={}&courier_id={courier}",
            crate::helpers::csrf_from(&html)
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<svg"), "an enrollment QR");
    let start = page.find("type the code <strong>").unwrap() + "type the code <strong>".len();
    let code = &page[start..start + page[start..].find('<').unwrap()];
    assert!(
        app.enroll(code).await.is_ok(),
        "the code on the page enrolls a phone"
    );
}

#[tokio::test]
async fn the_customer_page_of_a_stop_without_a_code_says_so_and_unknown_pages_are_404() {
    let app = spawn_app().await;
    let p = app.parcel("low value");
    let html = app
        .client
        .get(&p.customer_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("No delivery code is needed"));
    assert!(!html.contains("data-token"));
    let r = app
        .client
        .get(app.url("/c/does-not-exist"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn the_label_sheet_has_a_gs1_128_or_code_128_and_a_qr_per_parcel() {
    let app = spawn_app().await;
    let html = app.get_text(&format!("/dev/labels?date={DATE}")).await;
    // 12 parcels of the demo route and one of another courier's (scanned to test a parcel
    // that is not on the route).
    assert_eq!(html.matches("<svg").count(), 26);
    assert!(html.contains(&app.seed.off_route_barcode));
    assert!(
        html.contains("Not on Demo Courier's route"),
        "the label says so"
    );
    let mut ssccs = 0;
    for p in &app.seed.parcels {
        assert!(html.contains(&p.barcode));
        let bars = doorstep_server::render::labels::barcode_svg(&p.barcode, 60).unwrap();
        assert!(
            html.contains(&bars),
            "{}: its barcode is on the sheet",
            p.barcode
        );
        let parsed = doorstep_protocol::Barcode::parse(&p.barcode).unwrap();
        assert_eq!(parsed.key(), p.barcode_key, "a scan resolves to the parcel");
        ssccs += usize::from(matches!(parsed, doorstep_protocol::Barcode::Sscc { .. }));
    }
    assert_eq!(ssccs, 10, "most demo parcels carry a GS1-128 SSCC label");
}

/// Text a shipper or an admin typed that a page writing it as it is would run as a script
/// (and that would end a quoted attribute).
const TYPED: &str = "<script>alert(1)</script>\"'&";
/// [`TYPED`] as a page writes it: text, in an element or an attribute.
const TYPED_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;";

#[tokio::test]
async fn what_people_typed_is_escaped_on_every_page_that_shows_it() {
    let app = spawn_app().await;
    let r = app
        .admin_post("/v1/admin/couriers", json!({ "name": TYPED }))
        .await;
    assert_eq!(r.status(), 201);
    let courier = r.json::<Value>().await.unwrap()["courier_id"]
        .as_str()
        .unwrap()
        .to_string();
    let code = app.enrollment_code(courier.clone()).await;
    assert!(
        app.enroll_as(&code, "android", TYPED).await.is_ok(),
        "a phone that reports the text as its app version"
    );
    let r = app
        .client
        .post(app.url("/v1/parcels"))
        .bearer_auth(&app.seed.shipper_api_key)
        .json(&json!({
            "barcode": "TYPED-0001",
            "recipient": { "name": TYPED, "email": "typed@example.com" },
            "address": TYPED,
            "postal_code": "1071",
            "method": "hand_to_recipient",
            "recipient_requested_code": true,
            "delivery_date": DATE,
            "courier_id": courier,
            "description": TYPED,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let parcel: Value = r.json().await.unwrap();
    let stop = parcel["stop_id"].as_str().unwrap().parse().unwrap();
    // The code message (its body names the recipient) is in the development outbox.
    app.code_from_dev_outbox(stop, 1).await;
    let customer_url = parcel["customer_url"].as_str().unwrap();
    let customer_page = &customer_url[customer_url.find("/c/").unwrap()..];

    for page in [
        format!("/fleet?date={DATE}"),
        format!("/fleet/today/{courier}?date={DATE}"),
        "/fleet/phones".to_string(),
        customer_page.to_string(),
        format!("/dev/labels?date={DATE}"),
        "/dev/outbox".to_string(),
    ] {
        let html = app.get_text(&page).await;
        assert!(
            html.contains(TYPED_ESCAPED),
            "{page} shows the text, escaped: {html}"
        );
        assert_eq!(
            html.matches("<script").count(),
            html.matches("<script src=\"/assets/console/").count(),
            "{page} has no script but the console's own files: {html}"
        );
        assert!(!html.contains(TYPED), "{page} never has the text as it is");
    }
}

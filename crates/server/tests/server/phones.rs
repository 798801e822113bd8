//! What the phones hold (issue 19 item 6): each phone reports its unsent records with its
//! manifest requests; the console lists them per phone and the inbox the phones that have held
//! records for hours.

use doorstep_protocol::wire::{DeviceView, OLDEST_UNSENT_HEADER, UNSENT_RECORDS_HEADER};
use doorstep_server::Clock;
use doorstep_server::domain::accounts::Role;

use crate::helpers::*;

async fn manifest(device: &Device, headers: &[(&str, String)]) -> reqwest::Response {
    let mut r = device.request(reqwest::Method::GET, &format!("/v1/manifest?date={DATE}"));
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn a_phones_unsent_records_are_shown_per_phone_and_in_the_inbox_after_two_hours() {
    let app = fleet_app().await;
    let device = app.device().await;
    let cookie = signed_in_as(&app, "dora", Role::Dispatcher).await;
    let page = |path: &'static str| text_as(&app, &cookie, path);
    let cell = |html: &str| {
        let row = html
            .split(&format!("data-device=\"{}\"", device.device_id))
            .nth(1)
            .expect("the phone's row")
            .split("</tr>")
            .next()
            .unwrap()
            .to_string();
        row.split("data-unsent=")
            .nth(1)
            .unwrap()
            .split("</td>")
            .next()
            .unwrap()
            .to_string()
    };
    // An app that does not report: "not reported".
    assert_eq!(manifest(&device, &[]).await.status(), 200);
    assert!(cell(&page("/fleet/phones").await).contains("not reported"));

    // Three records, the oldest made 30 minutes ago.
    let oldest = app.clock.now_ms() - 30 * 60_000;
    let report = [
        (UNSENT_RECORDS_HEADER, "3".to_string()),
        (OLDEST_UNSENT_HEADER, oldest.to_string()),
    ];
    assert_eq!(manifest(&device, &report).await.status(), 200);
    let c = cell(&page("/fleet/phones").await);
    assert!(
        c.starts_with("\"3\"") && c.contains("3, the oldest 30 min old"),
        "{c}"
    );
    let inbox = page("/fleet/inbox").await;
    assert!(
        !inbox.contains("data-holding="),
        "not yet two hours: {inbox}"
    );

    // Two hours later the phone has not sent them: the inbox lists it.
    app.clock.advance_ms(3600 * 1000);
    assert!(!page("/fleet/inbox").await.contains("data-holding="));
    app.clock.advance_ms(3600 * 1000);
    let inbox = page("/fleet/inbox").await;
    let row = inbox
        .split(&format!("data-holding=\"{}\"", device.device_id))
        .nth(1)
        .expect("the phone in the inbox")
        .split("</tr>")
        .next()
        .unwrap();
    assert!(
        row.contains("Demo Courier") && row.contains("3, the oldest 2 h 30 min old"),
        "{row}"
    );
    let api: Vec<DeviceView> =
        serde_json::from_value(app.admin_get("/v1/admin/devices").await).unwrap();
    let view = api
        .iter()
        .find(|d| d.device_id.to_string() == device.device_id)
        .unwrap();
    assert_eq!(view.unsent_records, Some(3));
    assert_eq!(view.oldest_unsent_at, Some(oldest / 1000));

    // Sent: none left, out of the inbox.
    assert_eq!(
        manifest(&device, &[(UNSENT_RECORDS_HEADER, "0".into())])
            .await
            .status(),
        200
    );
    assert!(cell(&page("/fleet/phones").await).contains("none"));
    assert!(!page("/fleet/inbox").await.contains("data-holding="));
}

#[tokio::test]
async fn a_backlog_header_that_is_not_a_whole_number_is_refused() {
    let app = spawn_app().await;
    let device = app.device().await;
    for bad in ["-1", "three", "1.5"] {
        let r = manifest(&device, &[(UNSENT_RECORDS_HEADER, bad.into())]).await;
        assert_eq!(r.status(), 400, "{bad}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("doorstep-unsent-records"),
            "{body}"
        );
    }
}

use doorstep_protocol::wire::{EventStatus, Verification};
use serde_json::{Value, json};

use crate::helpers::{DATE, MORNING_MS, delivered, spawn_app};

#[tokio::test]
async fn courier_calls_without_or_with_a_wrong_token_are_refused() {
    let app = spawn_app().await;
    let p = app.parcel("high value");
    let body = json!({ "parcel_id": p.parcel_id, "code": p.code });
    let none = app
        .client
        .post(app.url("/v1/verify"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(none.json::<Value>().await.unwrap()["code"], "unauthorized");
    let wrong = app
        .client
        .post(app.url("/v1/verify"))
        .bearer_auth(format!("dsd_{}", "0".repeat(64)))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let manifest = app
        .client
        .get(app.url("/v1/manifest"))
        .send()
        .await
        .unwrap();
    assert_eq!(manifest.status(), 401);
}

#[tokio::test]
async fn a_revoked_device_is_refused_on_its_next_request() {
    let app = spawn_app().await;
    let device = app.device().await;
    let p = app.parcel("high value");
    assert_eq!(
        device.verify(p.parcel_id, p.code.as_deref().unwrap()).await["result"],
        "verified"
    );
    let devices = app.admin_get("/v1/admin/devices").await;
    let id = devices[0]["device_id"].as_str().unwrap().to_string();
    let r = app
        .admin_post(&format!("/v1/admin/devices/{id}/revoke"), json!({}))
        .await;
    assert_eq!(r.status(), 204);
    let r = device
        .post(
            "/v1/verify",
            json!({ "parcel_id": p.parcel_id, "code": p.code }),
        )
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "device_revoked");
}

#[tokio::test]
async fn a_sync_that_waited_while_its_phone_was_revoked_applies_nothing() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    // The request was authenticated (the phone not yet revoked) ...
    let store = std::sync::Arc::new(app.server.open_store().await.unwrap());
    let token = device.token.clone();
    let auth = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.device_by_token(&token))
            .await
            .unwrap()
            .unwrap()
            .unwrap()
    };
    assert!(!auth.revoked);
    // ... and the revocation committed before its records got the writer.
    let id = auth.device_id.to_string();
    let r = app
        .admin_post(&format!("/v1/admin/devices/{id}/revoke"), json!({}))
        .await;
    assert_eq!(r.status(), 204);
    let low = app.parcel("low value");
    let event = device.record(
        low,
        delivered(Verification::NotRequired),
        MORNING_MS + 60_000,
    );
    let now = doorstep_server::Clock::now_ms(app.clock.as_ref());
    let results = tokio::task::spawn_blocking(move || store.sync(&auth, "0.1.0", &[event], now))
        .await
        .unwrap()
        .unwrap();
    // Kept for the fleet's review, as from any revoked phone, and applied to nothing.
    assert_eq!(results[0].status, EventStatus::Accepted);
    let status = app
        .query(&format!(
            "SELECT status FROM parcels WHERE id = '{}'",
            low.parcel_id
        ))
        .await;
    assert_eq!(status[0].get::<_, String>(0).unwrap(), "pending");
    let stored = app
        .query(&format!(
            "SELECT status FROM events WHERE device_id = '{id}'"
        ))
        .await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].get::<_, String>(0).unwrap(), "review");
}

#[tokio::test]
async fn another_couriers_parcel_is_forbidden() {
    let app = spawn_app().await;
    let r = app
        .admin_post("/v1/admin/couriers", json!({ "name": "Other Courier" }))
        .await;
    assert_eq!(r.status(), 201);
    let other: Value = r.json().await.unwrap();
    let device = app
        .device_for(other["courier_id"].as_str().unwrap().to_string())
        .await;
    let p = app.parcel("high value");
    let r = device
        .post(
            "/v1/verify",
            json!({ "parcel_id": p.parcel_id, "code": p.code }),
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "forbidden");
    let m: Value = app
        .client
        .get(app.url(&format!("/v1/manifest?date={DATE}")))
        .bearer_auth(&device.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["stops"], json!([]));
}

#[tokio::test]
async fn an_enrollment_code_works_once() {
    let app = spawn_app().await;
    let code = app.seed.enrollment_code.clone();
    assert!(app.enroll(&code).await.is_ok());
    let again = app.enroll(&code).await.err().expect("second use refused");
    assert_eq!(again.status(), 401);
    assert_eq!(
        again.json::<Value>().await.unwrap()["code"],
        "enrollment_invalid"
    );
}

#[tokio::test]
async fn an_enrollment_code_expires() {
    let app = spawn_app().await;
    let r = app
        .admin_post(
            "/v1/admin/enrollments",
            json!({ "courier_id": app.seed.courier_id }),
        )
        .await;
    let code = r.json::<Value>().await.unwrap()["enrollment_code"]
        .as_str()
        .unwrap()
        .to_string();
    app.clock.advance_ms(16 * 60 * 1000);
    assert!(app.enroll(&code).await.is_err());
}

#[tokio::test]
async fn admin_endpoints_need_the_admin_token() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/v1/admin/deliveries"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .get(app.url("/v1/admin/deliveries"))
        .bearer_auth(&app.seed.shipper_api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

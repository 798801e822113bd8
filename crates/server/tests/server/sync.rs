use doorstep_protocol::DeliveryCode;
use doorstep_protocol::wire::{EventBody, EventStatus, ExceptionReason, RejectCode, Verification};
use serde_json::Value;

use crate::helpers::{DATE, MORNING_MS, delivered, spawn_app, wrong_code};

fn rejected_with(status: &EventStatus) -> Option<RejectCode> {
    match status {
        EventStatus::Rejected { code, .. } => Some(*code),
        _ => None,
    }
}

#[tokio::test]
async fn a_retried_batch_stores_nothing_twice_and_gets_identical_answers() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let low = app.parcel("low value");
    let high = app.parcel("high value");
    let online = device
        .verify(high.parcel_id, high.code.as_deref().unwrap())
        .await;
    let vid = online["verification_id"].as_str().unwrap().to_string();
    let at = MORNING_MS + 60_000;
    let batch = vec![
        device.event(
            low.stop_id,
            &[low.parcel_id],
            delivered(Verification::NotRequired),
            at,
        ),
        device.event(
            high.stop_id,
            &[high.parcel_id],
            delivered(Verification::OnlineCode {
                verification_id: vid,
            }),
            at,
        ),
        device.event(
            app.parcel("neighbour").stop_id,
            &[app.parcel("neighbour").parcel_id],
            EventBody::Failed {
                reason: ExceptionReason::NotHome,
                note: None,
                photo_sha256: None,
                id_check: None,
            },
            at,
        ),
    ];
    let first = device.sync(&batch).await;
    let second = device.sync(&batch).await;
    assert_eq!(first, second);
    assert_eq!(first[0].status, EventStatus::Accepted);
    // The high-value parcel needs a photo, and the event had none.
    assert_eq!(
        rejected_with(&first[1].status),
        Some(RejectCode::PhotoMissing)
    );
    assert_eq!(first[2].status, EventStatus::Accepted);

    let stored: Vec<Value> = serde_json::from_value(
        app.admin_get(&format!("/v1/admin/deliveries?date={DATE}"))
            .await,
    )
    .unwrap();
    assert_eq!(stored.len(), 3);
    for ev in &batch {
        assert_eq!(
            stored
                .iter()
                .filter(|s| s["event_id"] == ev.id.to_string())
                .count(),
            1
        );
    }
    assert_eq!(stored[1]["status"], "rejected");
    assert_eq!(stored[1]["reject_code"], "photo_missing");
}

#[tokio::test]
async fn an_event_id_reused_with_a_different_body_is_refused() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let low = app.parcel("low value");
    let ev = device.event(
        low.stop_id,
        &[low.parcel_id],
        delivered(Verification::NotRequired),
        MORNING_MS,
    );
    assert_eq!(
        device.sync(std::slice::from_ref(&ev)).await[0].status,
        EventStatus::Accepted
    );
    let mut other = ev.clone();
    other.body = EventBody::Failed {
        reason: ExceptionReason::Refused,
        note: None,
        photo_sha256: None,
        id_check: None,
    };
    other.sign(&device.key);
    let r = device.sync(&[other]).await;
    assert_eq!(rejected_with(&r[0].status), Some(RejectCode::IdConflict));
    let stored: Vec<Value> =
        serde_json::from_value(app.admin_get("/v1/admin/deliveries").await).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["kind"], "delivered");
}

#[tokio::test]
async fn an_offline_code_is_checked_at_sync_under_the_same_counter() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("shipper requires");
    let code = p.code.clone().unwrap();
    for _ in 0..4 {
        device.verify(p.parcel_id, &wrong_code(&code)).await;
    }
    let wrong = DeliveryCode::parse(&wrong_code(&code), None).unwrap();
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::OfflineCode { code: wrong }),
        MORNING_MS,
    );
    let r = device.sync(&[ev]).await;
    assert_eq!(rejected_with(&r[0].status), Some(RejectCode::CodeWrong));
    // That was the fifth failure: the stop is locked now, for online checks too.
    assert_eq!(device.verify(p.parcel_id, &code).await["result"], "locked");
    let view = app
        .admin_get(&format!("/v1/admin/parcels/{}", p.parcel_id))
        .await;
    assert_eq!(view["status"], "disputed");
}

#[tokio::test]
async fn a_right_offline_code_is_accepted_and_the_parcel_is_then_already_delivered() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("shipper requires");
    let code = DeliveryCode::parse(p.code.as_deref().unwrap(), None).unwrap();
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::OfflineCode { code }),
        MORNING_MS,
    );
    assert_eq!(device.sync(&[ev]).await[0].status, EventStatus::Accepted);
    assert_eq!(
        device.verify(p.parcel_id, p.code.as_deref().unwrap()).await["result"],
        "already_delivered"
    );
}

#[tokio::test]
async fn offline_handover_is_refused_where_the_policy_forbids_it() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("very high value");
    let code = DeliveryCode::parse(p.code.as_deref().unwrap(), None).unwrap();
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::OfflineCode { code }),
        MORNING_MS,
    );
    let r = device.sync(&[ev]).await;
    assert_eq!(
        rejected_with(&r[0].status),
        Some(RejectCode::OfflineNotAllowed)
    );
}

#[tokio::test]
async fn a_delivery_without_a_code_where_one_is_needed_is_refused() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("shipper requires");
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::NotRequired),
        MORNING_MS,
    );
    assert_eq!(
        rejected_with(&device.sync(&[ev]).await[0].status),
        Some(RejectCode::CodeRequired)
    );
}

#[tokio::test]
async fn a_tampered_record_breaks_the_chain() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let low = app.parcel("low value");
    let mut ev = device.event(
        low.stop_id,
        &[low.parcel_id],
        delivered(Verification::NotRequired),
        MORNING_MS,
    );
    ev.occurred_at_ms += 1; // edited after signing
    assert_eq!(
        rejected_with(&device.sync(&[ev]).await[0].status),
        Some(RejectCode::ChainBroken)
    );
}

#[tokio::test]
async fn a_record_after_a_missing_one_is_asked_to_retry() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let low = app.parcel("low value");
    let safe = app.parcel("safe place");
    let first = device.event(
        low.stop_id,
        &[low.parcel_id],
        delivered(Verification::NotRequired),
        MORNING_MS,
    );
    let second = device.event(
        safe.stop_id,
        &[safe.parcel_id],
        delivered(Verification::NotRequired),
        MORNING_MS,
    );
    let r = device.sync(std::slice::from_ref(&second)).await;
    assert!(matches!(r[0].status, EventStatus::Retry { .. }));
    let r = device.sync(&[first, second]).await;
    assert_eq!(r[0].status, EventStatus::Accepted);
    assert_eq!(r[1].status, EventStatus::Accepted);
}

#[tokio::test]
async fn a_photo_is_stored_by_its_hash_once_and_a_wrong_hash_is_refused() {
    use sha2::Digest;
    let app = spawn_app().await;
    let mut device = app.device().await;
    let photo = b"\xff\xd8\xff fake jpeg bytes".to_vec();
    let sha = hex::encode(sha2::Sha256::digest(&photo));
    let put = |sha: String, body: Vec<u8>| {
        app.client
            .put(app.url(&format!("/v1/photos/{sha}")))
            .bearer_auth(&device.token)
            .body(body)
            .send()
    };
    let r: Value = put(sha.clone(), photo.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["already_present"], false);
    let r: Value = put(sha.clone(), photo.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["already_present"], true);
    let bad = put("0".repeat(64), photo.clone()).await.unwrap();
    assert_eq!(bad.status(), 400);

    let high = app.parcel("high value");
    let vid = device
        .verify(high.parcel_id, high.code.as_deref().unwrap())
        .await["verification_id"]
        .as_str()
        .unwrap()
        .to_string();
    let ev = device.event(
        high.stop_id,
        &[high.parcel_id],
        EventBody::Delivered {
            verification: Verification::OnlineCode {
                verification_id: vid,
            },
            recipient_name: "Grace".into(),
            photo_sha256: Some(sha),
            method: None,
            place: None,
            signature_sha256: None,
            contents_photo_sha256: None,
            id_check: None,
        },
        MORNING_MS,
    );
    assert_eq!(device.sync(&[ev]).await[0].status, EventStatus::Accepted);
}

#[tokio::test]
async fn a_photo_over_the_size_limit_is_refused() {
    use sha2::Digest;
    let app = crate::helpers::spawn_app_with(|c| c.max_photo_bytes = 1024).await;
    let device = app.device().await;
    let photo = vec![0xffu8; 4096];
    let sha = hex::encode(sha2::Sha256::digest(&photo));
    let r = app
        .client
        .put(app.url(&format!("/v1/photos/{sha}")))
        .bearer_auth(&device.token)
        .body(photo)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "payload_too_large"
    );
}

#[tokio::test]
async fn a_photo_the_server_cannot_write_is_answered_503_and_taken_when_sent_again() {
    use sha2::Digest;
    let app = spawn_app().await;
    let device = app.device().await;
    let photo = vec![0x42u8; 2048];
    let sha = hex::encode(sha2::Sha256::digest(&photo));
    let put = || {
        app.client
            .put(app.url(&format!("/v1/photos/{sha}")))
            .bearer_auth(&device.token)
            .body(photo.clone())
            .send()
    };
    // A file where the photo directory should be: the server cannot write there (even as root).
    let photos = app.data_dir().join("photos");
    let _ = std::fs::remove_dir_all(&photos);
    std::fs::write(&photos, b"not a directory").unwrap();
    let r = put().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "unavailable");
    assert!(body["message"].as_str().unwrap().contains("sends it again"));

    std::fs::remove_file(&photos).unwrap();
    let r = put().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(std::fs::read(photos.join(&sha)).unwrap(), photo);
}

#[tokio::test]
async fn an_offline_code_typed_before_a_resend_is_still_accepted() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("pickup point");
    let typed = DeliveryCode::parse(p.code.as_deref().unwrap(), None).unwrap();
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::OfflineCode { code: typed }),
        MORNING_MS + 1_000,
    );
    // Later the customer asked for a new code; then the phone came back online.
    app.clock.advance_ms(60_000);
    let other_device = app.device().await;
    assert_eq!(
        other_device
            .post(
                "/v1/resend",
                serde_json::json!({ "parcel_id": p.parcel_id })
            )
            .await
            .status(),
        200
    );
    assert_eq!(device.sync(&[ev]).await[0].status, EventStatus::Accepted);
}

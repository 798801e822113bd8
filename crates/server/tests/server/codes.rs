use serde_json::json;

use crate::helpers::{spawn_app, wrong_code};

#[tokio::test]
async fn each_wrong_code_costs_an_attempt_and_the_last_one_locks_the_stop() {
    let app = spawn_app().await;
    let device = app.device().await;
    let p = app.parcel("shipper requires");
    let code = p.code.clone().unwrap();
    let wrong = wrong_code(&code);
    for left in (0..5).rev() {
        let out = device.verify(p.parcel_id, &wrong).await;
        assert_eq!(out, json!({ "result": "wrong", "attempts_left": left }));
    }
    assert_eq!(
        device.verify(p.parcel_id, &code).await,
        json!({ "result": "locked" })
    );
}

#[tokio::test]
async fn the_right_code_verifies_and_gives_a_verification_id() {
    let app = spawn_app().await;
    let device = app.device().await;
    let p = app.parcel("high value");
    let out = device.verify(p.parcel_id, p.code.as_deref().unwrap()).await;
    assert_eq!(out["result"], "verified");
    assert!(out["verification_id"].as_str().unwrap().len() >= 32);
    let low = app.parcel("low value");
    assert_eq!(
        device.verify(low.parcel_id, &wrong_code("12345674")).await,
        json!({ "result": "not_required" })
    );
}

#[tokio::test]
async fn a_hundred_concurrent_wrong_guesses_count_exactly_the_limit() {
    let app = spawn_app().await;
    let device = std::sync::Arc::new(app.device().await);
    let p = app.parcel("very high value");
    let wrong = wrong_code(p.code.as_deref().unwrap());
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let device = device.clone();
        let wrong = wrong.clone();
        let id = p.parcel_id;
        tasks.push(tokio::spawn(async move { device.verify(id, &wrong).await }));
    }
    let mut wrong_answers = 0;
    let mut locked = 0;
    for t in tasks {
        match t.await.unwrap()["result"].as_str().unwrap() {
            "wrong" => wrong_answers += 1,
            "locked" => locked += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(wrong_answers, 5);
    assert_eq!(locked, 95);
    assert_eq!(
        device.verify(p.parcel_id, p.code.as_deref().unwrap()).await["result"],
        "locked"
    );
}

#[tokio::test]
async fn a_resend_makes_a_new_code_the_old_one_fails_and_the_counter_stays() {
    let app = spawn_app().await;
    let device = app.device().await;
    let p = app.parcel("pickup point");
    let old = p.code.clone().unwrap();
    // The seeded code went to the dev outbox too.
    assert_eq!(app.code_from_dev_outbox(p.stop_id, 1).await, old);
    let wrong = wrong_code(&old);
    device.verify(p.parcel_id, &wrong).await;
    device.verify(p.parcel_id, &wrong).await;

    let r = device
        .post("/v1/resend", json!({ "parcel_id": p.parcel_id }))
        .await;
    assert_eq!(r.status(), 200);
    let new = app.code_from_dev_outbox(p.stop_id, 2).await;
    assert_ne!(new, old);

    assert_eq!(
        device.verify(p.parcel_id, &old).await,
        json!({ "result": "wrong", "attempts_left": 2 })
    );
    assert_eq!(device.verify(p.parcel_id, &new).await["result"], "verified");

    let again = device
        .post("/v1/resend", json!({ "parcel_id": p.parcel_id }))
        .await;
    assert_eq!(again.status(), 429);
    assert_eq!(
        again.json::<serde_json::Value>().await.unwrap()["code"],
        "resend_too_soon"
    );
    app.clock.advance_ms(61_000);
    let later = device
        .post("/v1/resend", json!({ "parcel_id": p.parcel_id }))
        .await;
    assert_eq!(later.status(), 200);
}

#[tokio::test]
async fn a_code_after_the_end_of_the_delivery_day_is_expired() {
    let app = spawn_app().await;
    let device = app.device().await;
    let p = app.parcel("high value");
    app.clock.advance_ms(16 * 3_600_000 + 1);
    assert_eq!(
        device.verify(p.parcel_id, p.code.as_deref().unwrap()).await,
        json!({ "result": "expired" })
    );
}

#[tokio::test]
async fn a_new_code_from_the_fleet_manager_unlocks_a_locked_stop() {
    let app = spawn_app().await;
    let device = app.device().await;
    let p = app.parcel("age-restricted");
    let wrong = wrong_code(p.code.as_deref().unwrap());
    for _ in 0..5 {
        device.verify(p.parcel_id, &wrong).await;
    }
    assert_eq!(device.verify(p.parcel_id, &wrong).await["result"], "locked");
    let r = app
        .admin_post(
            &format!("/v1/admin/stops/{}/new-code", p.stop_id),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let fresh = app.code_from_dev_outbox(p.stop_id, 2).await;
    assert_eq!(
        device.verify(p.parcel_id, &fresh).await["result"],
        "verified"
    );
}

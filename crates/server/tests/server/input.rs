use serde_json::{Value, json};

use crate::helpers::spawn_app;

async fn post_raw(
    app: &crate::helpers::TestApp,
    token: &str,
    path: &str,
    body: Vec<u8>,
    ct: &str,
) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn malformed_input_gets_a_4xx_with_a_code_and_never_a_5xx() {
    let app = spawn_app().await;
    let device = app.device().await;
    let t = device.token.clone();
    let p = app.parcel("high value");
    let code = p.code.clone().unwrap();
    let json_ct = "application/json";
    let cases: Vec<(&str, Vec<u8>, &str, u16, &str)> = vec![
        (
            "/v1/verify",
            b"{not json".to_vec(),
            json_ct,
            400,
            "bad_request",
        ),
        (
            "/v1/verify",
            json!({ "parcel_id": 5, "code": code })
                .to_string()
                .into_bytes(),
            json_ct,
            400,
            "bad_request",
        ),
        (
            "/v1/verify",
            json!({ "parcel_id": p.parcel_id, "code": code, "extra": 1 })
                .to_string()
                .into_bytes(),
            json_ct,
            400,
            "bad_request",
        ),
        (
            "/v1/verify",
            json!({ "parcel_id": p.parcel_id }).to_string().into_bytes(),
            json_ct,
            400,
            "bad_request",
        ),
        (
            "/v1/verify",
            json!({ "parcel_id": p.parcel_id, "code": "12345" })
                .to_string()
                .into_bytes(),
            json_ct,
            400,
            "code_format",
        ),
        (
            "/v1/verify",
            json!({ "parcel_id": p.parcel_id, "code": "12a4567" })
                .to_string()
                .into_bytes(),
            json_ct,
            400,
            "code_format",
        ),
        (
            "/v1/verify",
            json!({ "parcel_id": p.parcel_id, "code": code })
                .to_string()
                .into_bytes(),
            "text/plain",
            415,
            "bad_request",
        ),
        (
            "/v1/verify",
            vec![b' '; 2 * 1024 * 1024],
            json_ct,
            413,
            "payload_too_large",
        ),
        (
            "/v1/sync",
            json!({ "app_version": "1", "platform": "toaster", "events": [] })
                .to_string()
                .into_bytes(),
            json_ct,
            400,
            "bad_request",
        ),
        ("/v1/sync", b"[]".to_vec(), json_ct, 400, "bad_request"),
        ("/v1/resend", b"".to_vec(), json_ct, 400, "bad_request"),
    ];
    for (i, (path, body, ct, want_status, want_code)) in cases.into_iter().enumerate() {
        let (status, body_json) = post_raw(&app, &t, path, body, ct).await;
        assert_eq!(status, want_status, "{path}: {body_json}");
        assert_eq!(body_json["code"], want_code, "case {i} {path}: {body_json}");
        assert!(body_json["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(
            !body_json.to_string().contains(&code),
            "error bodies never echo a code"
        );
    }
    let r = app.client.get(app.url("/v1/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "not_found");
    let r = app
        .client
        .get(app.url("/v1/manifest?date=yesterday"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = app
        .client
        .get(app.url("/v1/admin/parcels/not-an-id"))
        .bearer_auth(&app.seed.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_shipper_creates_a_parcel_and_sees_the_decision() {
    let app = spawn_app().await;
    let body = json!({
        "barcode": "SHOP-0001",
        "recipient": { "name": "Hedy Lamarr", "email": "hedy@example.com" },
        "address": "Museumplein 6, Amsterdam",
        "postal_code": "1071",
        "declared_value": { "amount": "750.00", "currency": "EUR" },
        "method": "hand_to_recipient",
        "delivery_date": crate::helpers::DATE,
        "courier_id": app.seed.courier_id,
    });
    let r = app
        .client
        .post(app.url("/v1/parcels"))
        .bearer_auth(&app.seed.shipper_api_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["decision"]["code_required"], true);
    assert!(
        v["decision"]["reasons"][0]
            .as_str()
            .unwrap()
            .contains("declared value 750.00 ≥ 500.00")
    );
    let again = app
        .client
        .post(app.url("/v1/parcels"))
        .bearer_auth(&app.seed.shipper_api_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let id = v["parcel_id"].as_str().unwrap();
    let got = app
        .client
        .get(app.url(&format!("/v1/parcels/{id}")))
        .bearer_auth(&app.seed.shipper_api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    let bad = app
        .client
        .post(app.url("/v1/parcels"))
        .bearer_auth(&app.seed.shipper_api_key)
        .json(&json!({ "barcode": "X", "recipient": { "name": "A" }, "address": "B", "postal_code": "1", "method": "teleport", "delivery_date": "2026-11-25" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn a_path_segment_that_is_not_utf8_is_a_400_with_the_error_body() {
    // axum's own rejection answered in plain text, outside the API's error contract.
    let app = spawn_app().await;
    for (path, token) in [
        ("/v1/parcels/%FF", &app.seed.shipper_api_key),
        ("/v1/admin/parcels/%FF", &app.seed.admin_token),
    ] {
        let r = app
            .client
            .get(app.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "bad_request", "{path}");
    }
}

#[tokio::test]
async fn production_mode_has_no_development_outbox() {
    let app = crate::helpers::spawn_app_with(|c| c.mode = doorstep_server::Mode::Production).await;
    let r = app
        .client
        .get(app.url("/v1/dev/outbox"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = app.client.get(app.url("/dev/outbox")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // The console wants a signed-in user: the admin token is for the API only.
    let r = crate::helpers::browser()
        .get(app.url("/fleet"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/fleet/sign-in?next=%2Ffleet");
    let r = crate::helpers::browser()
        .get(app.url("/fleet"))
        .basic_auth("fleet", Some(&app.seed.admin_token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "the admin token does not open the console");
    let r = crate::helpers::browser()
        .get(app.url("/fleet"))
        .header("cookie", app.session().await)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn verification_is_rate_limited_per_address() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.verify_burst = 3.0;
        c.verify_rate_per_sec = 0.001;
    })
    .await;
    let device = app.device().await;
    let p = app.parcel("low value");
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = device
            .post(
                "/v1/verify",
                json!({ "parcel_id": p.parcel_id, "code": crate::helpers::wrong_code("12345674") }),
            )
            .await;
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
}

#[test]
fn a_database_from_a_newer_server_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = doorstep_server::ServerConfig::demo(dir.path());
    doorstep_server::admin_token(&config).unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("doorstep.sqlite3")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = doorstep_server::AppState::open(config).unwrap_err();
    assert!(
        matches!(
            err,
            doorstep_server::ServerError::DatabaseTooNew { found: 99, .. }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn mutated_sync_and_verify_bodies_never_get_a_5xx() {
    use doorstep_protocol::wire::Verification;
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("shipper requires");
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        crate::helpers::delivered(Verification::NotRequired),
        crate::helpers::MORNING_MS,
    );
    let sync = json!({ "app_version": "0.1.0", "platform": "linux", "events": [ev] })
        .to_string()
        .into_bytes();
    let verify = json!({ "parcel_id": p.parcel_id, "code": "1234567" })
        .to_string()
        .into_bytes();
    // A small xorshift generator: deterministic, no extra dependency.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b"{}[]\":,0123456789abcdef-ntrufals .eE+";
    for i in 0..300 {
        let (path, base) = if i % 2 == 0 {
            ("/v1/sync", &sync)
        } else {
            ("/v1/verify", &verify)
        };
        let mut body = base.clone();
        for _ in 0..(1 + next() % 4) {
            let pos = (next() as usize) % body.len();
            match next() % 3 {
                0 => body[pos] = alphabet[(next() as usize) % alphabet.len()],
                1 => {
                    body.remove(pos);
                }
                _ => body.insert(pos, alphabet[(next() as usize) % alphabet.len()]),
            }
        }
        let (status, answer) = post_raw(&app, &device.token, path, body, "application/json").await;
        assert!(status < 500, "{path} answered {status}: {answer}");
        if status >= 400 {
            assert!(answer["code"].is_string(), "{path}: {answer}");
        }
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_address_has_its_own_limit() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.verify_burst = 2.0;
        c.verify_rate_per_sec = 0.001;
        c.trust_forwarded_for = true;
    })
    .await;
    let device = app.device().await;
    let p = app.parcel("low value");
    let body = json!({ "parcel_id": p.parcel_id, "code": crate::helpers::wrong_code("12345674") });
    let mut statuses = Vec::new();
    for ip in ["192.0.2.1", "192.0.2.1", "192.0.2.1", "192.0.2.2"] {
        let r = app
            .client
            .post(app.url("/v1/verify"))
            .bearer_auth(&device.token)
            .header("x-forwarded-for", format!("203.0.113.9, {ip}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 429, 200]);
}

//! The release channel (issue 8): publishing files and links, the download, staged rollout,
//! pause, withdraw, the minimum version, who may publish, and the policy every phone learns
//! from its manifest.

use std::collections::BTreeSet;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::{Device, TestApp, apk, spawn_app, spawn_app_with, zip_with};

fn form(fields: &[(&str, &str)]) -> Form {
    fields.iter().fold(Form::new(), |f, (k, v)| {
        f.text(k.to_string(), v.to_string())
    })
}

fn with_file(f: Form, bytes: Vec<u8>) -> Form {
    f.part("file", Part::bytes(bytes).file_name("doorstep.apk"))
}

async fn publish_as(app: &TestApp, token: &str, f: Form) -> reqwest::Response {
    app.client
        .post(app.url("/v1/admin/releases"))
        .bearer_auth(token)
        .multipart(f)
        .send()
        .await
        .unwrap()
}

async fn publish(app: &TestApp, f: Form) -> reqwest::Response {
    publish_as(app, &app.seed.admin_token.clone(), f).await
}

async fn publish_apk(app: &TestApp, version: &str, rollout: u8) -> Value {
    let r = publish(
        app,
        with_file(
            form(&[
                ("platform", "android"),
                ("version", version),
                ("rollout_percent", &rollout.to_string()),
            ]),
            apk(version),
        ),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

async fn patch(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client
        .patch(app.url(path))
        .bearer_auth(&app.seed.admin_token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn put(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client
        .put(app.url(path))
        .bearer_auth(&app.seed.admin_token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The policy in the phone's manifest answer (no sync needed), reporting `version`.
async fn manifest_policy(device: &Device, version: &str) -> Value {
    let r = device
        .request(Method::GET, "/v1/manifest")
        .header("user-agent", format!("doorstep-courier/{version}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["app_policy"].clone()
}

/// What is in the release folder (stored files and anything left over).
fn release_files(app: &TestApp) -> BTreeSet<String> {
    match std::fs::read_dir(app.server.data_dir().join("releases")) {
        Ok(d) => d
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

#[tokio::test]
async fn an_uploaded_apk_is_stored_by_its_sha256_and_downloaded_with_it() {
    let app = spawn_app().await;
    let bytes = apk("1.4.0");
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    let r = publish(
        &app,
        with_file(
            form(&[("platform", "android"), ("version", "1.4.0")]),
            bytes.clone(),
        ),
    )
    .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["sha256"], sha);
    assert_eq!(v["size"], bytes.len());
    assert_eq!(v["rollout_percent"], 100);
    assert_eq!(v["published_by"], "admin API (admin token)");
    let url = v["url"].as_str().unwrap();
    assert_eq!(url, app.url(&format!("/v1/releases/files/{sha}")));
    assert_eq!(
        release_files(&app),
        BTreeSet::from([sha.clone()]),
        "no temporary file left"
    );
    #[cfg(unix)]
    assert_eq!(
        crate::helpers::mode_of(&app.server.data_dir().join("releases").join(&sha)) & 0o777,
        0o600
    );

    // Public download (a phone's browser has no token), the hash in the headers.
    let r = reqwest::get(url).await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "application/vnd.android.package-archive");
    assert_eq!(h["x-checksum-sha256"], sha.as_str());
    assert_eq!(
        h["repr-digest"].to_str().unwrap(),
        format!("sha-256=:{}:", base64_of(&sha2::Sha256::digest(&bytes)))
    );
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .contains("doorstep-1.4.0.apk")
    );
    assert_eq!(r.bytes().await.unwrap().to_vec(), bytes);

    // A cut download resumes.
    let r = app
        .client
        .get(url)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().to_vec(), bytes[10..20].to_vec());

    let r = reqwest::get(app.url(&format!("/v1/releases/files/{}", "0".repeat(64))))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn bad_uploads_get_a_clear_4xx_and_store_nothing() {
    let app = spawn_app_with(|c| c.max_release_bytes = 64 * 1024).await;
    publish_apk(&app, "1.4.0", 100).await;
    let before_files = release_files(&app);
    let before = app.admin_get("/v1/admin/releases").await;
    let cases: Vec<(Form, u16, &str)> = vec![
        (
            with_file(
                form(&[("platform", "android"), ("version", "1.5.0")]),
                b"not a zip".to_vec(),
            ),
            422,
            "not a zip",
        ),
        (
            with_file(
                form(&[("platform", "android"), ("version", "1.5.0")]),
                zip_with(&["base/manifest/AndroidManifest.xml"]),
            ),
            422,
            "AndroidManifest.xml",
        ),
        (
            with_file(
                form(&[("platform", "android"), ("version", "1.5.0")]),
                vec![b'P'; 65 * 1024 + 1],
            ),
            413,
            "MB",
        ),
        (
            with_file(
                form(&[("platform", "linux"), ("version", "1.5.0")]),
                b"#!/bin/sh\necho hi".to_vec(),
            ),
            422,
            "AppImage",
        ),
        (
            with_file(form(&[("platform", "ios"), ("version", "1.5.0")]), apk("x")),
            422,
            "link",
        ),
        (
            with_file(
                form(&[("platform", "android"), ("version", "1.4")]),
                apk("x"),
            ),
            422,
            "SemVer",
        ),
        (
            with_file(
                form(&[("platform", "android"), ("version", "v1.5.0")]),
                apk("x"),
            ),
            422,
            "SemVer",
        ),
        (
            with_file(
                form(&[("platform", "android"), ("version", "1.4.0")]),
                apk("x"),
            ),
            409,
            "not above",
        ),
        (
            with_file(
                form(&[("platform", "android"), ("version", "1.3.9")]),
                apk("x"),
            ),
            409,
            "not above",
        ),
        (
            with_file(
                form(&[
                    ("platform", "android"),
                    ("version", "1.5.0"),
                    ("rollout_percent", "101"),
                ]),
                apk("x"),
            ),
            422,
            "0 to 100",
        ),
        (
            with_file(
                form(&[("platform", "toaster"), ("version", "1.5.0")]),
                apk("x"),
            ),
            422,
            "unknown platform",
        ),
        (
            with_file(
                form(&[
                    ("platform", "android"),
                    ("version", "1.5.0"),
                    ("url", "https://play.google.com/x"),
                ]),
                apk("x"),
            ),
            422,
            "not both",
        ),
        (
            form(&[("platform", "android"), ("version", "1.5.0")]),
            422,
            "send the build",
        ),
        (
            form(&[
                ("platform", "ios"),
                ("version", "1.5.0"),
                ("url", "http://apps.apple.com/app/1"),
            ]),
            422,
            "https",
        ),
        (
            form(&[
                ("platform", "ios"),
                ("version", "1.5.0"),
                ("url", "https://x"),
                ("colour", "red"),
            ]),
            400,
            "unknown field",
        ),
        (
            form(&[
                ("platform", "ios"),
                ("platform", "ios"),
                ("version", "1.5.0"),
            ]),
            400,
            "twice",
        ),
    ];
    for (i, (f, status, words)) in cases.into_iter().enumerate() {
        let r = publish(&app, f).await;
        assert_eq!(r.status().as_u16(), status, "case {i}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["message"].as_str().unwrap().contains(words),
            "case {i}: {body}"
        );
        assert_eq!(release_files(&app), before_files, "case {i} left a file");
    }
    // Not a form at all.
    let r = app
        .client
        .post(app.url("/v1/admin/releases"))
        .bearer_auth(&app.seed.admin_token)
        .json(&json!({"platform": "android"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "bad_request");
    assert_eq!(
        app.admin_get("/v1/admin/releases").await,
        before,
        "nothing was published"
    );
}

#[tokio::test]
async fn only_the_admin_token_or_a_release_token_can_publish() {
    let app = spawn_app().await;
    let device = app.device().await;
    let link = || {
        form(&[
            ("platform", "ios"),
            ("version", "1.0.0"),
            ("url", "https://testflight.apple.com/join/abc"),
        ])
    };
    for token in [
        device.token.as_str(),
        app.seed.shipper_api_key.as_str(),
        "",
        "dsr_0000",
    ] {
        let r = publish_as(&app, token, link()).await;
        assert_eq!(r.status(), 401, "token {token:?}");
    }
    // A release token (made on the server's command line) can publish and nothing else.
    let config = app.server.config.clone();
    let token = tokio::task::spawn_blocking(move || {
        use doorstep_server::ops::releases::{ReleaseOp, run};
        let out = run(&config, ReleaseOp::Token { label: "ci".into() }).unwrap();
        out.lines().last().unwrap().to_string()
    })
    .await
    .unwrap();
    assert!(token.starts_with("dsr_"), "{token}");
    let r = publish_as(&app, &token, link()).await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.json::<Value>().await.unwrap()["published_by"],
        "release token \"ci\""
    );
    for (method, path, body) in [
        (Method::GET, "/v1/admin/releases", None),
        (
            Method::PATCH,
            "/v1/admin/releases/ios/1.0.0",
            Some(json!({"paused": true})),
        ),
        (
            Method::PUT,
            "/v1/admin/releases/ios/minimum",
            Some(json!({"minimum": "1.0.0"})),
        ),
        (Method::GET, "/v1/admin/devices", None),
    ] {
        let mut rq = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(&token);
        if let Some(b) = body {
            rq = rq.json(&b);
        }
        assert_eq!(rq.send().await.unwrap().status(), 401, "{method} {path}");
    }
    let ios = &app.admin_get("/v1/admin/releases").await[0];
    assert_eq!(
        ios["releases"][0]["paused"], false,
        "the release token changed nothing"
    );
    // Revoked, it stops working.
    let config = app.server.config.clone();
    tokio::task::spawn_blocking(move || {
        use doorstep_server::ops::releases::{ReleaseOp, run};
        run(&config, ReleaseOp::RevokeToken { label: "ci".into() }).unwrap()
    })
    .await
    .unwrap();
    let r = publish_as(
        &app,
        &token,
        form(&[
            ("platform", "ios"),
            ("version", "1.1.0"),
            ("url", "https://testflight.apple.com/join/abc"),
        ]),
    )
    .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn a_staged_rollout_is_deterministic_and_raising_it_only_adds_devices() {
    let app = spawn_app().await;
    let mut phones = Vec::new();
    for _ in 0..24 {
        phones.push(app.device_running("android", "0.1.0").await);
    }
    let linux = app.device().await;
    publish_apk(&app, "1.0.0", 100).await;
    publish_apk(&app, "1.1.0", 0).await;
    let on_new = |policies: &[Value]| -> BTreeSet<usize> {
        policies
            .iter()
            .enumerate()
            .filter(|(_, p)| p["latest"] == "1.1.0")
            .map(|(i, _)| i)
            .collect()
    };
    let mut before = BTreeSet::new();
    for percent in [0u8, 10, 50, 100] {
        if percent > 0 {
            let r = patch(
                &app,
                "/v1/admin/releases/android/1.1.0",
                json!({"rollout_percent": percent}),
            )
            .await;
            assert_eq!(r.status(), 200);
        }
        let mut policies = Vec::new();
        for p in &phones {
            policies.push(manifest_policy(p, "1.0.0").await);
        }
        let again: Vec<Value> = {
            let mut v = Vec::new();
            for p in &phones {
                v.push(manifest_policy(p, "1.0.0").await);
            }
            v
        };
        assert_eq!(policies, again, "the same answer every time at {percent} %");
        let now = on_new(&policies);
        assert!(
            before.is_subset(&now),
            "raising to {percent} % dropped a phone"
        );
        for (i, p) in policies.iter().enumerate() {
            if !now.contains(&i) {
                assert_eq!(
                    p["latest"], "1.0.0",
                    "outside the rollout: the previous release"
                );
            }
            assert_eq!(p["minimum"], "0.0.0");
        }
        match percent {
            0 => assert!(now.is_empty()),
            100 => assert_eq!(now.len(), phones.len()),
            _ => {}
        }
        before = now;
    }
    // The linux phone is on no Android channel.
    assert_eq!(manifest_policy(&linux, "0.1.0").await, Value::Null);
    // A rollout never shrinks.
    let r = patch(
        &app,
        "/v1/admin/releases/android/1.1.0",
        json!({"rollout_percent": 50}),
    )
    .await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("only grows"));
    let ch = &app.admin_get("/v1/admin/releases").await[0];
    assert_eq!(ch["releases"][0]["rollout_percent"], 100);
    // Every phone reported 1.0.0 in its manifest request's User-Agent.
    assert_eq!(ch["releases"][1]["version"], "1.0.0");
    assert_eq!(ch["releases"][1]["devices"], phones.len());
}

#[tokio::test]
async fn pause_and_withdraw_offer_the_previous_release_again() {
    let app = spawn_app().await;
    let phone = app.device_running("android", "0.1.0").await;
    let old = publish_apk(&app, "1.0.0", 100).await;
    let new = publish_apk(&app, "1.1.0", 100).await;
    assert_eq!(manifest_policy(&phone, "1.0.0").await["latest"], "1.1.0");
    assert_eq!(
        manifest_policy(&phone, "1.0.0").await["update_url"],
        new["url"]
    );

    let r = patch(
        &app,
        "/v1/admin/releases/android/1.1.0",
        json!({"paused": true}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let p = manifest_policy(&phone, "1.0.0").await;
    assert_eq!(
        (p["latest"].as_str(), &p["update_url"]),
        (Some("1.0.0"), &old["url"])
    );
    patch(
        &app,
        "/v1/admin/releases/android/1.1.0",
        json!({"paused": false}),
    )
    .await;
    assert_eq!(manifest_policy(&phone, "1.0.0").await["latest"], "1.1.0");

    let r = patch(
        &app,
        "/v1/admin/releases/android/1.1.0",
        json!({"withdrawn": true}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(manifest_policy(&phone, "1.0.0").await["latest"], "1.0.0");
    // Its file is no longer handed out.
    let r = reqwest::get(new["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("withdrawn"));
    assert_eq!(
        reqwest::get(old["url"].as_str().unwrap())
            .await
            .unwrap()
            .status(),
        200
    );
    // A withdrawn version cannot be published again: a fixed build is a new version.
    let r = publish(
        &app,
        with_file(
            form(&[("platform", "android"), ("version", "1.1.0")]),
            apk("again"),
        ),
    )
    .await;
    assert_eq!(r.status(), 409);
    // The install link of a new phone leads to the current build.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect
        .get(app.url("/install/android"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], old["url"].as_str().unwrap());
    let r = no_redirect
        .get(app.url("/install/ios"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("not published"));

    // The audit log says who did what.
    let rows = app
        .server
        .query("SELECT action, subject, detail FROM audit_log WHERE action LIKE 'release%' ORDER BY id")
        .await;
    let log: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.get(0).unwrap(), r.get(1).unwrap(), r.get(2).unwrap()))
        .collect();
    assert!(
        log.contains(&(
            "release_changed".into(),
            "android 1.1.0".into(),
            "withdrawn".into()
        )),
        "{log:?}"
    );
    assert_eq!(log.iter().filter(|l| l.0 == "release_published").count(), 2);
}

#[tokio::test]
async fn an_idle_phone_learns_the_minimum_from_its_manifest() {
    let app = spawn_app().await;
    let phone = app.device_running("android", "0.1.0").await;
    assert_eq!(
        manifest_policy(&phone, "1.0.0").await,
        Value::Null,
        "no releases: no policy"
    );
    let first = phone
        .request(Method::GET, "/v1/manifest")
        .send()
        .await
        .unwrap();
    let etag = first.headers()["etag"].clone();

    // A minimum above every release is refused and stores nothing.
    let r = put(
        &app,
        "/v1/admin/releases/android/minimum",
        json!({"minimum": "1.0.0"}),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("publish 1.0.0 or later first")
    );
    for bad in [
        json!({"minimum": "1.0"}),
        json!({"minimum": 3}),
        json!({"minimum": "1.0.0", "x": 1}),
    ] {
        let r = put(&app, "/v1/admin/releases/android/minimum", bad.clone()).await;
        assert!(r.status().is_client_error(), "{bad}");
    }
    assert_eq!(manifest_policy(&phone, "1.0.0").await, Value::Null);

    publish_apk(&app, "1.0.0", 100).await;
    let link = publish(
        &app,
        with_file(
            form(&[
                ("platform", "android"),
                ("version", "1.1.0"),
                ("rollout_percent", "0"),
            ]),
            apk("b"),
        ),
    )
    .await;
    assert_eq!(link.status(), 201);
    let r = put(
        &app,
        "/v1/admin/releases/android/minimum",
        json!({"minimum": "1.1.0"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["minimum"], "1.1.0");
    // The phone never synced; its manifest tells it — and a required update is offered even
    // though 1.1.0's rollout is at 0 %.
    let p = manifest_policy(&phone, "1.0.0").await;
    assert_eq!(p["minimum"], "1.1.0");
    assert_eq!(p["latest"], "1.1.0");
    assert!(p["sha256"].as_str().is_some_and(|s| s.len() == 64));
    // The answer changed, so the old ETag gets a new body rather than 304.
    let r = phone
        .request(Method::GET, "/v1/manifest")
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A sync answer says the same, and an outdated phone's records are still taken.
    let sync: Value = phone
        .post(
            "/v1/sync",
            json!({"app_version": "1.0.0", "platform": "android", "events": []}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sync["app_policy"], p);
    // The minimum cannot be withdrawn from under the phones.
    let r = patch(
        &app,
        "/v1/admin/releases/android/1.1.0",
        json!({"withdrawn": true}),
    )
    .await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("lower the minimum first"));
    // Cleared, the phone is free again.
    let r = put(
        &app,
        "/v1/admin/releases/android/minimum",
        json!({"minimum": null}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(manifest_policy(&phone, "1.0.0").await["minimum"], "0.0.0");
    // The version the phone reported is on the fleet's device list.
    let devices = app.admin_get("/v1/admin/devices").await;
    assert!(
        devices
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["platform"] == "android" && d["app_version"] == "1.0.0"),
        "{devices}"
    );
}

#[tokio::test]
async fn link_releases_and_the_channel_listing() {
    let app = spawn_app().await;
    let r = publish(
        &app,
        form(&[
            ("platform", "ios"),
            ("version", "2.0.0-rc.1"),
            ("url", "https://testflight.apple.com/join/abc"),
            ("rollout_percent", "25"),
        ]),
    )
    .await;
    assert_eq!(r.status(), 201);
    let r = publish(
        &app,
        form(&[
            ("platform", "ios"),
            ("version", "2.0.0"),
            ("url", "https://apps.apple.com/app/id1"),
        ]),
    )
    .await;
    assert_eq!(r.status(), 201, "2.0.0 is above 2.0.0-rc.1");
    let channels = app.admin_get("/v1/admin/releases").await;
    let ios = &channels[0];
    assert_eq!(ios["platform"], "ios");
    assert_eq!(ios["current"], "2.0.0");
    assert_eq!(ios["minimum"], Value::Null);
    let versions: Vec<&str> = ios["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["2.0.0", "2.0.0-rc.1"]);
    assert_eq!(ios["releases"][0]["url"], "https://apps.apple.com/app/id1");
    assert_eq!(ios["releases"][0]["sha256"], Value::Null);
    let r = patch(
        &app,
        "/v1/admin/releases/ios/9.9.9",
        json!({"paused": true}),
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = patch(
        &app,
        "/v1/admin/releases/ios/2.0.0",
        json!({"rollout_percent": 101}),
    )
    .await;
    assert_eq!(r.status(), 422);
    let r = patch(
        &app,
        "/v1/admin/releases/ios/2.0.0",
        json!({"paused": true, "extra": 1}),
    )
    .await;
    assert_eq!(r.status(), 400);
}

/// A release token made on the server's command line.
async fn release_token(app: &TestApp) -> String {
    let config = app.server.config.clone();
    tokio::task::spawn_blocking(move || {
        use doorstep_server::ops::releases::{ReleaseOp, run};
        let out = run(&config, ReleaseOp::Token { label: "ci".into() }).unwrap();
        out.lines().last().unwrap().to_string()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_leaked_release_token_reaches_a_canary_share_at_most_and_its_version_can_be_deleted() {
    let app = spawn_app().await;
    let token = release_token(&app).await;
    let apk_form = |version: &str, rollout: Option<&str>| {
        let mut fields = vec![("platform", "android"), ("version", version)];
        if let Some(r) = rollout {
            fields.push(("rollout_percent", r));
        }
        with_file(form(&fields), apk(version))
    };
    // Above the cap: refused, nothing stored.
    let r = publish_as(&app, &token, apk_form("99.0.0", Some("100"))).await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("at most to 10 %"),
        "{body}"
    );
    assert!(release_files(&app).is_empty(), "nothing kept");
    // Without a rollout: the cap.
    let r = publish_as(&app, &token, apk_form("99.0.0", None)).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["rollout_percent"], 10);
    // A new phone's install QR never leads to it (it is not at 100 %).
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/install/android"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The fleet withdraws it and deletes it; then it can publish below 99.0.0 again.
    let path = "/v1/admin/releases/android/99.0.0";
    let delete = || async {
        app.client
            .delete(app.url(path))
            .bearer_auth(&app.seed.admin_token)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(delete().await.status(), 409, "only a withdrawn release");
    let r = app
        .client
        .delete(app.url(path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a release token cannot delete");
    assert_eq!(
        patch(&app, path, json!({"withdrawn": true})).await.status(),
        200
    );
    assert_eq!(delete().await.status(), 204);
    assert_eq!(delete().await.status(), 404);
    assert!(release_files(&app).is_empty(), "its file is gone");
    publish_apk(&app, "1.2.0", 100).await;
    let audit = app
        .query("SELECT action FROM audit_log WHERE action = 'release_deleted'")
        .await;
    assert_eq!(audit.len(), 1);
}

#[tokio::test]
async fn a_release_link_points_only_to_the_stores_this_server_or_a_listed_host() {
    let app = spawn_app_with(|c| c.release_link_hosts = vec!["builds.example.org".into()]).await;
    let link =
        |version: &str, url: &str| form(&[("platform", "ios"), ("version", version), ("url", url)]);
    let r = publish(&app, link("1.0.0", "https://evil.example.net/doorstep.ipa")).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("--release-link-host"));
    for (version, url) in [
        ("1.0.0", "https://testflight.apple.com/join/abc"),
        ("1.1.0", "https://builds.example.org/doorstep.ipa"),
        // This server's own host (over https, behind its TLS proxy).
        ("1.2.0", "https://127.0.0.1/ios/doorstep.ipa"),
    ] {
        let r = publish(&app, link(version, url)).await;
        assert_eq!(r.status(), 201, "{url}: {}", r.text().await.unwrap());
    }
}

#[tokio::test]
async fn the_platform_and_version_are_checked_before_the_file_is_written() {
    let app = spawn_app().await;
    publish_apk(&app, "2.0.0", 100).await;
    let before = release_files(&app);
    // The file first: refused before it is read.
    let f = with_file(Form::new(), apk("2.1.0"))
        .text("platform", "android")
        .text("version", "2.1.0");
    let r = publish(&app, f).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("before the file"));
    // A version not above the newest: refused before the file, which is never stored.
    let r = publish(
        &app,
        with_file(
            form(&[("platform", "android"), ("version", "1.0.0")]),
            apk("1.0.0"),
        ),
    )
    .await;
    assert_eq!(r.status(), 409);
    let r = publish(
        &app,
        with_file(
            form(&[("platform", "android"), ("version", "x")]),
            apk("1.0.0"),
        ),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        release_files(&app),
        before,
        "no file was kept, not even a temporary one"
    );
}

#[tokio::test]
async fn an_apk_signed_by_another_key_than_the_fleets_is_refused() {
    use doorstep_server::testing::apk_signed_by;
    let app = spawn_app().await;
    let apk_form = |version: &str, cert: Option<&[u8]>| {
        with_file(
            form(&[("platform", "android"), ("version", version)]),
            apk_signed_by(version, cert),
        )
    };
    // Unsigned: Android would not install it.
    let r = publish(&app, apk_form("1.0.0", None)).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("not signed"));
    // The first signed release sets the fleet's key; another key is refused after it.
    let r = publish(&app, apk_form("1.0.0", Some(b"fleet key"))).await;
    assert_eq!(r.status(), 201);
    let r = publish(&app, apk_form("1.1.0", Some(b"a stranger's key"))).await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("signed with another certificate")
    );
    assert_eq!(
        publish(&app, apk_form("1.1.0", Some(b"fleet key")))
            .await
            .status(),
        201
    );
    // A key the operator pins wins from the first release on.
    let pinned = spawn_app_with(|c| {
        c.android_signing_cert = Some(hex::encode(sha2::Sha256::digest(b"pinned key")));
    })
    .await;
    assert_eq!(
        publish(&pinned, apk_form("1.0.0", Some(b"fleet key")))
            .await
            .status(),
        422
    );
    assert_eq!(
        publish(&pinned, apk_form("1.0.0", Some(b"pinned key")))
            .await
            .status(),
        201
    );
    assert!(
        release_files(&pinned).len() == 1,
        "the refused file was not kept"
    );
}

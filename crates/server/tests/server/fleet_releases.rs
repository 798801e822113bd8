//! The fleet page's release channel and upkeep controls (issue 8): releases with their
//! rollout forms, the upload form, versions on devices, the devices not updated, revoke per
//! device and a new code for a locked stop. In production mode, signed in as an owner (a
//! session cookie), as a fleet manager's browser is.

use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::helpers::{
    TestApp, apk, browser, csrf_from, fleet_app, fleet_page, post_form, wrong_code,
};

/// Asserts a form's answer is the redirect back to the fleet page.
fn assert_back_to_fleet(r: &reqwest::Response, what: &str) {
    assert_eq!(r.status(), 303, "{what}");
    let to = r.headers()["location"].to_str().unwrap();
    assert!(
        to.starts_with("/fleet"),
        "{what} leads back to the fleet page, not {to}"
    );
}

/// Asserts an error page: the status, the server's message in words and a Back link.
async fn assert_error_page(r: reqwest::Response, status: u16, code: &str, words: &str) {
    assert_eq!(r.status(), status);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "a page, not JSON"
    );
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!("data-error-code=\"{code}\"")),
        "{html}"
    );
    assert!(html.contains(words), "the page says {words:?}: {html}");
    assert!(
        html.contains("<a href=\"/fleet\">Back"),
        "a Back link: {html}"
    );
}

/// The page's upload form, as a browser sends it (the CSRF token in the form's address).
async fn upload(
    app: &TestApp,
    csrf: Option<&str>,
    version: &str,
    rollout: u8,
) -> reqwest::Response {
    let form = Form::new()
        .text("platform", "android")
        .text("version", version.to_string())
        .text("rollout_percent", rollout.to_string())
        .part(
            "file",
            Part::bytes(apk(version))
                .file_name("doorstep.apk")
                .mime_str("application/vnd.android.package-archive")
                .unwrap(),
        );
    let path = match csrf {
        Some(t) => format!("/fleet/releases?csrf={t}"),
        None => "/fleet/releases".into(),
    };
    browser()
        .post(app.url(&path))
        .header("cookie", app.session().await)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Publishes an Android release through the page's form.
async fn publish(app: &TestApp, csrf: &str, version: &str, rollout: u8) {
    let r = upload(app, Some(csrf), version, rollout).await;
    let status = r.status();
    assert_eq!(
        status,
        303,
        "publishing {version}: {}",
        r.text().await.unwrap()
    );
}

/// The Android release `version` as the admin API lists it.
async fn release(app: &TestApp, version: &str) -> Value {
    let channels = app.admin_get("/v1/admin/releases").await;
    channels
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["platform"] == "android")
        .flat_map(|c| c["releases"].as_array().unwrap().clone())
        .find(|r| r["version"] == version)
        .unwrap_or_else(|| panic!("no android {version} in {channels}"))
}

/// The part of `html` that is the element with `id`: a whole `<section>`, or from a heading to
/// the end of its table (or to the next heading when it has none).
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let at = [">", " "]
        .iter()
        .find_map(|after| html.find(&format!(" id=\"{id}\"{after}")))
        .unwrap_or_else(|| panic!("the page has no element {id}"));
    let rest = &html[html[..at].rfind('<').unwrap()..];
    let end = if rest.starts_with("<section") {
        rest.find("</section>")
    } else {
        ["</table>", "<h2", "<h3"]
            .iter()
            .filter_map(|m| rest[1..].find(m).map(|i| i + 1))
            .min()
    };
    &rest[..end.unwrap_or(rest.len())]
}

/// Enrolls a phone of the demo courier that reports `platform` and `version`; its id and token.
async fn enroll(app: &TestApp, platform: &str, version: &str) -> (String, String) {
    let d = app.device_running(platform, version).await;
    (d.device_id, d.token)
}

async fn audit(app: &TestApp, action: &str) -> Vec<(String, String)> {
    app.query(&format!(
        "SELECT actor, subject FROM audit_log WHERE action = '{action}' ORDER BY id"
    ))
    .await
    .iter()
    .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
    .collect()
}

#[tokio::test]
async fn a_release_published_on_the_page_is_listed_with_its_build_and_the_android_install_qr() {
    let app = fleet_app().await;
    let html = fleet_page(&app).await;
    assert!(html.contains("No release is published yet"));
    assert!(
        !html.contains("id=\"install-android\""),
        "no QR before a build"
    );
    let csrf = csrf_from(&html);

    publish(&app, &csrf, "1.0.0", 100).await;
    let html = fleet_page(&app).await;
    let android = section(&html, "releases-android");
    let row = &android[android
        .find("data-release=\"1.0.0\"")
        .expect("1.0.0 is listed")..];
    let sha = release(&app, "1.0.0").await["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        row.contains(&format!("{}…", &sha[..12])),
        "the short SHA-256: {row}"
    );
    assert!(
        row.contains(&format!("/v1/releases/files/{sha}")),
        "the file's link"
    );
    assert!(row.contains("<td data-rollout>100 %</td>") && row.contains("offered"));
    assert!(row.contains("alice (owner)"), "who published it");
    assert!(android.contains("<strong data-current>1.0.0</strong>"));
    assert!(
        !row.contains("name=\"rollout_percent\""),
        "nothing to raise at 100 %"
    );
    let qr = section(&html, "install-android");
    assert!(qr.contains("<svg"), "the install QR");
    assert!(
        qr.contains(&format!("{}/install/android", app.base)),
        "its address written under it"
    );
    assert_eq!(
        audit(&app, "release_published").await,
        [("alice (owner)".to_string(), "android 1.0.0".to_string())]
    );

    // A version that is not above the newest: the server's reason, on a page.
    let r = upload(&app, Some(&csrf), "1.0.0", 100).await;
    assert_error_page(r, 409, "conflict", "not above 1.0.0").await;
    let r = upload(&app, None, "2.0.0", 100).await;
    assert_error_page(r, 403, "forbidden", "reload the fleet page").await;
    let channels = app.admin_get("/v1/admin/releases").await;
    assert_eq!(
        channels[0]["releases"].as_array().unwrap().len(),
        1,
        "nothing more was published: {channels}"
    );
}

#[tokio::test]
async fn release_forms_without_the_csrf_token_are_refused_and_change_nothing() {
    let app = fleet_app().await;
    let csrf = csrf_from(&fleet_page(&app).await);
    publish(&app, &csrf, "1.1.0", 10).await;
    let mut wrong = csrf.clone().into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).unwrap();
    for (path, body) in [
        (
            "/fleet/releases/android/1.1.0",
            "rollout_percent=50".to_string(),
        ),
        (
            "/fleet/releases/android/1.1.0",
            "csrf=&rollout_percent=50".to_string(),
        ),
        (
            "/fleet/releases/android/1.1.0",
            format!("csrf={wrong}&paused=true"),
        ),
        (
            "/fleet/releases/android/1.1.0",
            format!("csrf={wrong}&withdrawn=true"),
        ),
        (
            "/fleet/releases/android/minimum",
            format!("csrf={wrong}&minimum=1.1.0"),
        ),
    ] {
        let r = post_form(&app, path, &body).await;
        assert_error_page(r, 403, "forbidden", "did not come from the fleet page").await;
    }
    let r = release(&app, "1.1.0").await;
    assert_eq!(
        (
            r["rollout_percent"].as_u64(),
            r["paused"].as_bool(),
            r["withdrawn"].as_bool()
        ),
        (Some(10), Some(false), Some(false)),
        "unchanged: {r}"
    );
    let channels = app.admin_get("/v1/admin/releases").await;
    assert_eq!(channels[0]["minimum"], Value::Null);
    assert!(audit(&app, "release_changed").await.is_empty());

    // Not signed in: the sign-in page, not the form's work.
    let r = browser()
        .post(app.url("/fleet/releases/android/1.1.0"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&rollout_percent=50"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(release(&app, "1.1.0").await["rollout_percent"], 10);
}

#[tokio::test]
async fn raising_the_rollout_on_the_page_works_and_lowering_it_is_refused_with_the_reason() {
    let app = fleet_app().await;
    let csrf = csrf_from(&fleet_page(&app).await);
    publish(&app, &csrf, "1.0.0", 100).await;
    publish(&app, &csrf, "1.1.0", 10).await;

    let html = fleet_page(&app).await;
    let row = &html[html.find("data-release=\"1.1.0\"").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("<td data-rollout>10 %</td>"));
    for offered in [25, 50, 100] {
        assert!(
            row.contains(&format!("name=\"rollout_percent\" value=\"{offered}\">")),
            "{row}"
        );
    }
    assert!(
        !row.contains("value=\"10\">"),
        "only raises are offered: {row}"
    );
    assert!(
        row.contains("min=\"11\" max=\"100\""),
        "the number input starts above 10 %"
    );

    let r = post_form(
        &app,
        "/fleet/releases/android/1.1.0",
        &format!("csrf={csrf}&rollout_percent=50"),
    )
    .await;
    assert_back_to_fleet(&r, "raising to 50 %");
    assert_eq!(release(&app, "1.1.0").await["rollout_percent"], 50);
    assert!(
        fleet_page(&app)
            .await
            .contains("<td data-rollout>50 %</td>")
    );

    let r = post_form(
        &app,
        "/fleet/releases/android/1.1.0",
        &format!("csrf={csrf}&rollout_percent=25"),
    )
    .await;
    assert_error_page(r, 409, "conflict", "it only grows").await;
    assert_eq!(
        release(&app, "1.1.0").await["rollout_percent"],
        50,
        "still 50 %"
    );

    // Pause and resume, withdraw and restore; each audited with who signed in.
    for (body, field, value) in [
        ("paused=true", "paused", true),
        ("paused=false", "paused", false),
        ("withdrawn=true", "withdrawn", true),
        ("withdrawn=false", "withdrawn", false),
    ] {
        let r = post_form(
            &app,
            "/fleet/releases/android/1.1.0",
            &format!("csrf={csrf}&{body}"),
        )
        .await;
        assert_back_to_fleet(&r, body);
        assert_eq!(release(&app, "1.1.0").await[field], value, "{body}");
    }
    let html = fleet_page(&app).await;
    assert!(html.contains("<button name=\"paused\" value=\"true\">Pause</button>"));
    let changes = audit(&app, "release_changed").await;
    assert_eq!(changes.len(), 5, "{changes:?}");
    assert!(
        changes
            .iter()
            .all(|(who, what)| who == "alice (owner)" && what == "android 1.1.0")
    );

    // The minimum: set, refused above every release (with the reason), cleared.
    let r = post_form(
        &app,
        "/fleet/releases/android/minimum",
        &format!("csrf={csrf}&minimum=1.0.0"),
    )
    .await;
    assert_back_to_fleet(&r, "setting the minimum");
    assert!(
        fleet_page(&app)
            .await
            .contains("<strong data-minimum>1.0.0</strong>")
    );
    let r = post_form(
        &app,
        "/fleet/releases/android/minimum",
        &format!("csrf={csrf}&minimum=9.0.0"),
    )
    .await;
    assert_error_page(r, 422, "validation_failed", "publish 9.0.0 or later first").await;
    let r = post_form(
        &app,
        "/fleet/releases/android/minimum",
        &format!("csrf={csrf}&minimum="),
    )
    .await;
    assert_back_to_fleet(&r, "clearing the minimum");
    assert!(
        fleet_page(&app)
            .await
            .contains("<strong data-minimum>none</strong>")
    );
    let r = post_form(
        &app,
        "/fleet/releases/android/1.1.0",
        &format!("csrf={csrf}&rollout_percent=lots"),
    )
    .await;
    assert_error_page(r, 422, "validation_failed", "not a whole number").await;
}

#[tokio::test]
async fn the_not_updated_list_has_the_old_devices_and_not_the_up_to_date_one() {
    let app = fleet_app().await;
    let csrf = csrf_from(&fleet_page(&app).await);
    publish(&app, &csrf, "1.0.0", 100).await;
    publish(&app, &csrf, "1.2.0", 100).await;
    let (old, _) = enroll(&app, "android", "1.0.0").await;
    let (current, _) = enroll(&app, "android", "1.2.0").await;
    let (newer, _) = enroll(&app, "android", "1.10.0").await;
    let (unparseable, _) = enroll(&app, "android", "nightly").await;
    let (desktop, _) = enroll(&app, "linux", "0.1.0").await;

    let html = fleet_page(&app).await;
    let late = section(&html, "not-updated");
    assert!(
        late.contains(&format!("data-device=\"{old}\"")),
        "1.0.0 < 1.2.0: {late}"
    );
    assert!(
        late.contains(&format!("data-device=\"{unparseable}\"")),
        "not SemVer counts as old"
    );
    assert!(!late.contains(&current), "1.2.0 is the current release");
    assert!(
        !late.contains(&newer),
        "1.10.0 is above 1.2.0 (SemVer, not text)"
    );
    assert!(
        !late.contains(&desktop),
        "Linux has no release to update to"
    );
    assert!(late.contains("Demo Courier"), "with the courier's name");

    let versions = section(&html, "device-versions");
    for (version, count, what) in [
        ("1.10.0", 1, "not a release"),
        ("1.2.0", 1, "current release"),
        ("1.0.0", 1, "release"),
        ("nightly", 1, "not a version"),
    ] {
        let row = &versions[versions
            .find(&format!(
                "data-platform=\"android\" data-version=\"{version}\""
            ))
            .unwrap_or_else(|| panic!("{version} is counted: {versions}"))..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains(&format!("<td data-count>{count}</td><td>{what}</td>")),
            "{row}"
        );
    }
    let android = section(&html, "releases-android");
    let row = &android[android.find("data-release=\"1.0.0\"").unwrap()..];
    assert!(
        row.contains("<td data-devices>1</td>"),
        "one device runs 1.0.0"
    );

    // A revoked phone is neither counted nor listed.
    let r = post_form(
        &app,
        &format!("/fleet/devices/{old}/revoke"),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_back_to_fleet(&r, "revoking");
    let html = fleet_page(&app).await;
    assert!(!section(&html, "not-updated").contains(&old));
    assert!(!section(&html, "device-versions").contains("data-version=\"1.0.0\""));
}

#[tokio::test]
async fn every_active_device_has_a_revoke_button_that_works_and_is_audited() {
    let app = fleet_app().await;
    let (id, token) = enroll(&app, "android", "1.0.0").await;
    let html = fleet_page(&app).await;
    let row = &html[html
        .find(&format!("<tr data-device=\"{id}\">"))
        .expect("the device is listed")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains(&format!("action=\"/fleet/devices/{id}/revoke\"")),
        "{row}"
    );
    let csrf = csrf_from(row);

    let manifest = |token: String| {
        let r = app
            .client
            .get(app.url("/v1/manifest"))
            .bearer_auth(token)
            .send();
        async move { r.await.unwrap().status() }
    };
    assert_eq!(manifest(token.clone()).await, 200);
    let r = post_form(&app, &format!("/fleet/devices/{id}/revoke"), "").await;
    assert_eq!(r.status(), 403, "no CSRF token, no revocation");
    assert_eq!(manifest(token.clone()).await, 200);

    let r = post_form(
        &app,
        &format!("/fleet/devices/{id}/revoke"),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_back_to_fleet(&r, "revoking");
    assert_eq!(
        manifest(token).await,
        401,
        "the token stops working at once"
    );
    let html = fleet_page(&app).await;
    let row = &html[html.find(&format!("<tr data-device=\"{id}\">")).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("revoked") && !row.contains("/revoke"),
        "no button once revoked: {row}"
    );
    assert_eq!(
        audit(&app, "device_revoked").await,
        [("alice (owner)".to_string(), id)]
    );
}

#[tokio::test]
async fn a_stop_locked_by_wrong_codes_gets_a_new_code_from_the_fleet_page() {
    let app = fleet_app().await;
    let device = app.device().await;
    let p = app.parcel("shipper requires");
    let wrong = wrong_code(p.code.as_deref().unwrap());
    let html = fleet_page(&app).await;
    assert!(section(&html, "locked-stops").contains("None"));
    for _ in 0..5 {
        assert_eq!(device.verify(p.parcel_id, &wrong).await["result"], "wrong");
    }
    assert_eq!(device.verify(p.parcel_id, &wrong).await["result"], "locked");

    let html = fleet_page(&app).await;
    let locked = section(&html, "locked-stops");
    let stop = p.stop_id.to_string();
    assert!(
        locked.contains(&format!("data-stop=\"{stop}\"")),
        "{locked}"
    );
    assert!(
        locked.contains("5 of 5"),
        "the wrong codes counted: {locked}"
    );
    let csrf = csrf_from(locked);

    let r = post_form(&app, &format!("/fleet/stops/{stop}/new-code"), "csrf=nope").await;
    assert_error_page(r, 403, "forbidden", "reload the fleet page").await;
    assert_eq!(
        device.verify(p.parcel_id, &wrong).await["result"],
        "locked",
        "still locked"
    );

    let r = post_form(
        &app,
        &format!("/fleet/stops/{stop}/new-code"),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_back_to_fleet(&r, "a new code");
    assert!(
        !section(&fleet_page(&app).await, "locked-stops").contains(&stop),
        "no longer locked"
    );
    let attempts: i64 = app
        .query(&format!(
            "SELECT failed_attempts FROM stops WHERE id = '{stop}'"
        ))
        .await[0]
        .get(0)
        .unwrap();
    assert_eq!(attempts, 0, "the courier has every attempt again");
    let status: String = app
        .query(&format!(
            "SELECT status FROM parcels WHERE id = '{}'",
            p.parcel_id
        ))
        .await[0]
        .get(0)
        .unwrap();
    assert_eq!(status, "pending");
    assert_eq!(
        audit(&app, "code_reset").await,
        [("alice (owner)".to_string(), stop.clone())]
    );

    let r = post_form(
        &app,
        "/fleet/stops/not-a-stop/new-code",
        &format!("csrf={csrf}"),
    )
    .await;
    assert_error_page(r, 404, "not_found", "stop not found").await;
}

//! Keys and tokens can be rotated and revoked; customer tokens never outlive their code; the
//! fleet pages are not cached or framed and their forms carry a CSRF token.

use doorstep_protocol::wire::{EventStatus, ParcelView, RejectCode, Verification};
use doorstep_protocol::{KeyId, TokenKeys};
use doorstep_server::Mode;
use doorstep_server::sys::secrets::{
    Revocation, Secrets, revoke_token_key, rotate_admin_token, rotate_token_key,
};
use serde_json::Value;

use crate::helpers::{MORNING_MS, TestApp, csrf_from, delivered, spawn_app, spawn_app_with};

async fn published_key_ids(app: &TestApp) -> Vec<String> {
    let keys: Value = app
        .client
        .get(app.url("/.well-known/doorstep-keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_revoked_signing_key_is_replaced_no_longer_published_and_its_tokens_are_refused() {
    let app = spawn_app().await;
    let p = app.parcel("shipper requires").clone();
    let old_token = app.token_on_customer_page(&p.customer_url).await;
    let old_id = old_token.decode_unverified().unwrap().key_id;
    let mut revocation = None;
    let app = app
        .restart(|dir| {
            revocation = Some(revoke_token_key(&dir.join("secrets"), old_id).unwrap());
        })
        .await;
    let Some(Revocation::SigningKeyReplaced { new_key_id }) = revocation else {
        panic!("revoking the signing key makes a new one: {revocation:?}");
    };
    assert_ne!(new_key_id, old_id);
    assert_eq!(published_key_ids(&app).await, vec![new_key_id.to_string()]);

    let mut device = app.device().await;
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::Token { token: old_token }),
        MORNING_MS,
    );
    match &device.sync(&[ev]).await[0].status {
        EventStatus::Rejected { code, .. } => assert_eq!(*code, RejectCode::TokenInvalid),
        other => panic!("a token of a revoked key is refused, not {other:?}"),
    }

    let new_token = app.token_on_customer_page(&p.customer_url).await;
    assert_eq!(new_token.decode_unverified().unwrap().key_id, new_key_id);
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::Token { token: new_token }),
        MORNING_MS,
    );
    assert_eq!(device.sync(&[ev]).await[0].status, EventStatus::Accepted);
}

#[test]
fn a_revoked_retired_key_stays_out_of_the_key_list_even_after_more_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    let ids = |s: &Secrets| -> Vec<KeyId> { s.public_keys().iter().map(|k| k.key_id).collect() };
    let first = Secrets::load_or_create(&secrets).unwrap().key_id();
    let second = rotate_token_key(&secrets).unwrap();
    assert_eq!(
        ids(&Secrets::load_or_create(&secrets).unwrap()),
        vec![second, first]
    );

    assert_eq!(
        revoke_token_key(&secrets, first).unwrap(),
        Revocation::RetiredKeyRevoked
    );
    let loaded = Secrets::load_or_create(&secrets).unwrap();
    assert_eq!(loaded.key_id(), second, "the signing key stays");
    assert_eq!(ids(&loaded), vec![second]);
    assert!(loaded.token_keys().get(first).is_none());
    assert_eq!(
        revoke_token_key(&secrets, first).unwrap(),
        Revocation::AlreadyRevoked
    );

    let third = rotate_token_key(&secrets).unwrap();
    let loaded = Secrets::load_or_create(&secrets).unwrap();
    assert_eq!(ids(&loaded), vec![third, second]);
    let keys: TokenKeys = loaded.token_keys();
    assert_eq!(keys.len(), 2);

    let err = revoke_token_key(&secrets, KeyId([0; 4])).unwrap_err();
    assert!(
        err.to_string().contains(&third.to_string()),
        "an unknown key id is refused, naming the keys there are: {err}"
    );
}

#[tokio::test]
async fn a_rotated_admin_token_replaces_the_old_one_after_a_restart() {
    let app = spawn_app().await;
    let old = app.seed.admin_token.clone();
    let mut new = String::new();
    let app = app
        .restart(|dir| new = rotate_admin_token(&dir.join("secrets")).unwrap())
        .await;
    assert_ne!(new, old);
    let status = |token: String| {
        let r = app
            .client
            .get(app.url("/v1/admin/devices"))
            .bearer_auth(token)
            .send();
        async move { r.await.unwrap().status() }
    };
    assert_eq!(status(old).await, 401);
    assert_eq!(status(new).await, 200);
}

#[tokio::test]
async fn a_customer_token_never_outlives_the_code_of_its_stop() {
    let app = spawn_app().await;
    let mut checked = 0;
    for p in app.seed.parcels.iter().filter(|p| p.code_required) {
        let claims = app
            .token_on_customer_page(&p.customer_url)
            .await
            .decode_unverified()
            .unwrap();
        let view: ParcelView = serde_json::from_value(
            app.admin_get(&format!("/v1/admin/parcels/{}", p.parcel_id))
                .await,
        )
        .unwrap();
        let code_expires = view
            .code_expires_at
            .expect("a code parcel has a code expiry");
        assert!(
            i64::from(claims.expires) <= code_expires,
            "{}: token until {}, code until {code_expires}",
            p.label,
            claims.expires
        );
        checked += 1;
    }
    assert!(checked >= 5);
}

fn assert_fleet_headers(r: &reqwest::Response, what: &str) {
    let h = r.headers();
    assert_eq!(h["cache-control"], "no-store", "{what}");
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"),
        "{what}"
    );
}

#[tokio::test]
async fn the_fleet_pages_and_their_sign_in_are_never_cached_or_framed() {
    let app = spawn_app_with(|c| c.mode = Mode::Production).await;
    let fleet = app.url("/fleet");

    let r = app.client.get(&fleet).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.url().path().ends_with("/fleet/sign-in"), "{}", r.url());
    assert_fleet_headers(&r, "the sign-in page");

    let session = app.session().await;
    let r = app
        .client
        .get(&fleet)
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_fleet_headers(&r, "the fleet page");
    let csrf = csrf_from(&r.text().await.unwrap());

    let r = app
        .client
        .post(app.url("/fleet/enroll"))
        .header("cookie", &session)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&courier_id={}", app.seed.courier_id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_fleet_headers(&r, "the enrollment QR page");
}

#[tokio::test]
async fn a_fleet_form_without_the_right_csrf_token_is_refused() {
    let app = spawn_app().await;
    let page = |app: &TestApp| {
        let r = app.client.get(app.url("/fleet/phones")).send();
        async move { r.await.unwrap().text().await.unwrap() }
    };
    let csrf = csrf_from(&page(&app).await);
    let courier = app.seed.courier_id;
    let post = |app: &TestApp, body: String| {
        let r = app
            .client
            .post(app.url("/fleet/enroll"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send();
        async move { r.await.unwrap() }
    };
    let mut wrong = csrf.clone().into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).unwrap();
    for body in [
        format!("courier_id={courier}"),
        format!("csrf=&courier_id={courier}"),
        format!("csrf={wrong}&courier_id={courier}"),
    ] {
        let r = post(&app, body.clone()).await;
        assert_eq!(r.status(), 403, "{body}");
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["code"], "forbidden");
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains("reload the fleet page"),
            "{err}"
        );
    }
    let r = post(&app, format!("csrf={csrf}&courier_id={courier}")).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("<svg"), "an enrollment QR");

    // The token follows the admin token: after a rotation an old form is refused.
    let app = app
        .restart(|dir| {
            rotate_admin_token(&dir.join("secrets")).unwrap();
        })
        .await;
    let r = post(&app, format!("csrf={csrf}&courier_id={courier}")).await;
    assert_eq!(r.status(), 403);
    assert_ne!(csrf_from(&page(&app).await), csrf);
}

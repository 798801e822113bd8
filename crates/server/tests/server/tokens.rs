use doorstep_protocol::wire::{EventStatus, RejectCode, Verification};
use doorstep_protocol::{HandoverToken, TokenClaims};

use crate::helpers::{MORNING_MS, TestApp, delivered, spawn_app};

async fn token_from_customer_page(app: &TestApp, url: &str) -> HandoverToken {
    let html = app
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("only to the courier"));
    let start = html
        .find("<code data-token>")
        .expect("the page shows the token")
        + "<code data-token>".len();
    let end = start + html[start..].find("</code>").unwrap();
    HandoverToken::from_text(&html[start..end])
}

fn reject(s: &EventStatus) -> Option<RejectCode> {
    match s {
        EventStatus::Rejected { code, .. } => Some(*code),
        _ => None,
    }
}

#[tokio::test]
async fn a_valid_token_is_accepted_once_and_a_replay_is_refused() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let a = app.parcel("recipient asked for one (stop");
    let b = app.parcel("second parcel of the same stop (shares");
    let token = token_from_customer_page(&app, &a.customer_url).await;
    let first = device.event(
        a.stop_id,
        &[a.parcel_id],
        delivered(Verification::Token {
            token: token.clone(),
        }),
        MORNING_MS,
    );
    let replay = device.event(
        b.stop_id,
        &[b.parcel_id],
        delivered(Verification::Token { token }),
        MORNING_MS,
    );
    let r = device.sync(&[first, replay]).await;
    assert_eq!(r[0].status, EventStatus::Accepted);
    assert_eq!(reject(&r[1].status), Some(RejectCode::TokenReused));
}

#[tokio::test]
async fn tampered_expired_and_foreign_tokens_are_refused() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("shipper requires");
    let good = token_from_customer_page(&app, &p.customer_url).await;

    // Tampered: one character of the signed text changed.
    let text = good.expose_text().to_string();
    let i = text.len() - 10;
    let swapped = if &text[i..i + 1] == "A" { "B" } else { "A" };
    let tampered = HandoverToken::from_text(format!("{}{}{}", &text[..i], swapped, &text[i + 1..]));

    // Signed by another key that claims the server's key id.
    let claims = good.decode_unverified().unwrap();
    let other_key = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let forged = TokenClaims {
        nonce: [7; 8],
        ..claims.clone()
    }
    .sign(&other_key);

    let evs = vec![
        device.event(
            p.stop_id,
            &[p.parcel_id],
            delivered(Verification::Token { token: tampered }),
            MORNING_MS,
        ),
        device.event(
            p.stop_id,
            &[p.parcel_id],
            delivered(Verification::Token { token: forged }),
            MORNING_MS,
        ),
    ];
    let r = device.sync(&evs).await;
    assert_eq!(reject(&r[0].status), Some(RejectCode::TokenInvalid));
    assert_eq!(reject(&r[1].status), Some(RejectCode::TokenInvalid));

    // Expired: a token from the morning, used after the end of the delivery window.
    let other = app.parcel("pickup point");
    let old_token = token_from_customer_page(&app, &other.customer_url).await;
    let later = MORNING_MS + 17 * 3_600_000;
    app.clock.set_ms(later);
    let html = app
        .client
        .get(&other.customer_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !html.contains("data-token"),
        "no fresh token after the window"
    );
    let ev = device.event(
        other.stop_id,
        &[other.parcel_id],
        delivered(Verification::Token { token: old_token }),
        later,
    );
    assert_eq!(
        reject(&device.sync(&[ev]).await[0].status),
        Some(RejectCode::TokenInvalid)
    );
}

#[tokio::test]
async fn the_public_keys_are_served_at_the_well_known_address() {
    let app = spawn_app().await;
    let keys: serde_json::Value = app
        .client
        .get(app.url("/.well-known/doorstep-keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let published: Vec<doorstep_protocol::token::PublicTokenKey> =
        serde_json::from_value(keys["keys"].clone()).unwrap();
    let keys = doorstep_protocol::TokenKeys::from_published(&published).unwrap();
    let p = app.parcel("shipper requires");
    let token = token_from_customer_page(&app, &p.customer_url).await;
    assert!(token.verify(&keys, (MORNING_MS / 1000) as u64, 0).is_ok());
}

#[tokio::test]
async fn after_a_key_rotation_tokens_already_shown_still_verify_and_new_ones_use_the_new_key() {
    let app = spawn_app().await;
    let a = app.parcel("recipient asked for one (stop").clone();
    let old_token = token_from_customer_page(&app, &a.customer_url).await;
    let old_id = old_token.decode_unverified().unwrap().key_id;
    let app = app
        .restart(|dir| {
            doorstep_server::sys::secrets::rotate_token_key(&dir.join("secrets")).unwrap();
        })
        .await;
    let keys: serde_json::Value = app
        .client
        .get(app.url("/.well-known/doorstep-keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys["keys"].as_array().unwrap().len(), 2);
    assert_eq!(
        keys["keys"][1]["key_id"],
        old_id.to_string(),
        "the old key is listed after the new one"
    );

    let page = app
        .seed
        .parcels
        .iter()
        .find(|p| p.stop_id == a.stop_id)
        .unwrap();
    let url = app.url(&page.customer_url[page.customer_url.find("/c/").unwrap()..]);
    let new_token = token_from_customer_page(&app, &url).await;
    assert_ne!(new_token.decode_unverified().unwrap().key_id, old_id);

    let mut device = app.device().await;
    let ev = device.event(
        a.stop_id,
        &[a.parcel_id],
        delivered(Verification::Token { token: old_token }),
        MORNING_MS,
    );
    assert_eq!(device.sync(&[ev]).await[0].status, EventStatus::Accepted);
}

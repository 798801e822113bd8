//! Limits everywhere a client can push (issue 9, item 11): oversize bodies, slow and
//! concurrent requests, rate limits per address and per device, the photo quota, and a
//! forwarded address that does not parse.

use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn an_oversize_json_body_answers_413_that_the_client_can_read() {
    let app = spawn_app().await;
    let device = app.device().await;
    let body = json!({ "app_version": "x".repeat(2 * 1024 * 1024), "platform": "linux", "events": [] })
        .to_string();
    let r = app
        .client
        .post(app.url("/v1/sync"))
        .bearer_auth(&device.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the client reads an answer, not a cut connection");
    assert_eq!(r.status(), 413);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "payload_too_large");
}

#[tokio::test]
async fn an_oversize_photo_answers_413_that_the_client_can_read() {
    let app = spawn_app().await;
    let device = app.device().await;
    let photo = vec![0x5au8; 9 * 1024 * 1024];
    let sha = hex::encode(sha2::Sha256::digest(&photo));
    let r = app
        .client
        .put(app.url(&format!("/v1/photos/{sha}")))
        .bearer_auth(&device.token)
        .body(photo)
        .send()
        .await
        .expect("the client reads an answer, not a cut connection");
    assert_eq!(r.status(), 413);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "payload_too_large");
}

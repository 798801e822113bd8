//! Limits everywhere a client can push (issue 9, item 11): oversize bodies, slow and
//! concurrent requests, rate limits per address and per device, the photo quota, and a
//! forwarded address that does not parse.

use std::time::Duration;

use doorstep_server::Mode;
use doorstep_server::Rate;
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::{MORNING_MS, PASSWORD, TestApp, failed, sign_in, spawn_app, spawn_app_with};
use doorstep_server::domain::accounts::Role;

/// Sends `head` and then `body` over a plain TCP connection, all of it before reading
/// anything (as simple HTTP/1.1 clients do), and returns the answer's status and body.
async fn send_all_then_read(base: &str, head: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(head.as_bytes()).await?;
    for chunk in body.chunks(64 * 1024) {
        s.write_all(chunk).await?;
    }
    s.flush().await?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Ok((status, body))
}

fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in body.chunks(64 * 1024) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A request head for `body`, sent with a Content-Length or chunked.
fn head(method_path: &str, token: &str, len: Option<usize>) -> String {
    let framing = match len {
        Some(n) => format!("content-length: {n}"),
        None => "transfer-encoding: chunked".to_string(),
    };
    format!(
        "{method_path} HTTP/1.1\r\nhost: doorstep\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\n{framing}\r\nconnection: close\r\n\r\n"
    )
}

// Bodies well past the limit and past what the kernel's socket buffers absorb, so a server
// that answers early and closes resets the connection while the client still sends.

#[tokio::test]
async fn an_oversize_json_body_answers_413_that_the_client_can_read() {
    let app = spawn_app().await;
    let device = app.device().await;
    let body =
        json!({ "app_version": "x".repeat(12 * 1024 * 1024), "platform": "linux", "events": [] })
            .to_string()
            .into_bytes();
    for (len, bytes) in [(Some(body.len()), body.clone()), (None, chunked(&body))] {
        let (status, answer) = send_all_then_read(
            &app.base,
            &head("POST /v1/sync", &device.token, len),
            &bytes,
        )
        .await
        .expect("the client reads an answer, not a reset connection");
        assert_eq!(status, 413, "{answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["code"], "payload_too_large");
    }
}

#[tokio::test]
async fn an_oversize_photo_answers_413_that_the_client_can_read() {
    let app = spawn_app().await;
    let device = app.device().await;
    let photo = vec![0x5au8; 20 * 1024 * 1024];
    let sha = hex::encode(sha2::Sha256::digest(&photo));
    let put = format!("PUT /v1/photos/{sha}");
    for (len, bytes) in [(Some(photo.len()), photo.clone()), (None, chunked(&photo))] {
        let (status, answer) =
            send_all_then_read(&app.base, &head(&put, &device.token, len), &bytes)
                .await
                .expect("the client reads an answer, not a reset connection");
        assert_eq!(status, 413, "{answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["code"], "payload_too_large");
    }
}

/// Reads the whole answer of a connection whose request was sent; a server that never
/// answers fails the test (after a generous bound) instead of hanging it.
async fn read_answer(mut s: tokio::net::TcpStream) -> (u16, String) {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut answer))
        .await
        .expect("the server answers")
        .unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        text.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    )
}

/// Starts a request whose body never finishes: it holds its place until the connection is
/// dropped (or the server gives up on it).
async fn unfinished_request(app: &TestApp) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    s.write_all(
        b"POST /v1/devices/enroll HTTP/1.1\r\nhost: doorstep\r\ncontent-type: application/json\r\n\
          content-length: 100\r\nconnection: close\r\n\r\n{\"enrollment_code\":",
    )
    .await
    .unwrap();
    s
}

fn assert_limited(r: &reqwest::Response) {
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
}

async fn assert_limited_json(r: reqwest::Response, what: &str) {
    assert_limited(&r);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(what) && message.contains("wait"),
        "{message}"
    );
}

#[tokio::test]
async fn a_request_that_is_not_done_in_time_gets_a_json_408_instead_of_hanging() {
    let app = spawn_app_with(|c| c.limits.request_timeout = Duration::from_millis(200)).await;
    let (status, body) = read_answer(unfinished_request(&app).await).await;
    assert_eq!(status, 408, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "unavailable");
    assert!(body["message"].as_str().unwrap().contains("retry"));
}

#[tokio::test]
async fn over_the_in_flight_limit_a_request_gets_503_with_retry_after() {
    let app = spawn_app_with(|c| c.limits.max_concurrent_requests = 1).await;
    let holder = unfinished_request(&app).await;
    // Once the server has taken the unfinished request in, the next one is refused.
    let mut refused = None;
    for _ in 0..500 {
        let r = app.client.get(app.url("/v1/health")).send().await.unwrap();
        if r.status() == 503 {
            refused = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let r = refused.expect("a request beyond the limit is refused");
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "unavailable");
    drop(holder);
    let mut served = false;
    for _ in 0..500 {
        if app
            .client
            .get(app.url("/v1/health"))
            .send()
            .await
            .unwrap()
            .status()
            == 200
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        served,
        "the place is free again once the first request ends"
    );
}

#[tokio::test]
async fn a_connection_over_the_limit_waits_until_another_closes() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_with(|c| c.limits.max_connections = 1).await;
    // A kept-alive connection that has been answered, so the server holds it.
    let mut first = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    first
        .write_all(b"GET /v1/health HTTP/1.1\r\nhost: doorstep\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 12];
    tokio::io::AsyncReadExt::read_exact(&mut first, &mut buf)
        .await
        .unwrap();
    assert_eq!(&buf, b"HTTP/1.1 200");
    let url = app.url("/v1/health");
    let second = tokio::spawn(async move { reqwest::get(url).await.unwrap().status() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "a second connection is not served while the first is open"
    );
    drop(first);
    assert_eq!(second.await.unwrap(), 200);
}

#[tokio::test]
async fn a_device_over_its_limit_gets_429_while_another_device_is_served() {
    let app = spawn_app_with(|c| {
        c.limits.device_requests = Rate {
            per_sec: 0.001,
            burst: 3,
        }
    })
    .await;
    let first = app.device().await;
    let second = app.device().await;
    let manifest = |d: &crate::helpers::Device| {
        app.client
            .get(app.url("/v1/manifest"))
            .bearer_auth(&d.token)
            .send()
    };
    for _ in 0..3 {
        assert_eq!(manifest(&first).await.unwrap().status(), 200);
    }
    assert_limited_json(manifest(&first).await.unwrap(), "this phone").await;
    let sync = first
        .post(
            "/v1/sync",
            json!({ "app_version": "0.1.0", "platform": "linux", "events": [] }),
        )
        .await;
    assert_limited_json(sync, "this phone").await;
    assert_eq!(manifest(&second).await.unwrap().status(), 200);
    // One request every 1000 s: once that has passed, the first phone is served again.
    app.clock.advance_ms(1_000_000);
    assert_eq!(manifest(&first).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_phone_over_its_record_budget_gets_429_and_its_records_wait() {
    use doorstep_protocol::wire::{EventStatus, ExceptionReason};
    let app = spawn_app_with(|c| {
        c.limits.records_per_device = Rate {
            per_sec: 0.01,
            burst: 3,
        }
    })
    .await;
    let mut device = app.device().await;
    let records: Vec<_> = [
        "low value",
        "no code: low value",
        "no code: neighbour",
        "pickup point",
    ]
    .into_iter()
    .map(|label| {
        device.record(
            app.parcel(label),
            failed(ExceptionReason::NotHome),
            MORNING_MS,
        )
    })
    .collect();
    let stored = || async {
        app.query("SELECT COUNT(*) FROM events").await[0]
            .get::<_, i64>(0)
            .unwrap()
    };
    let sync = |batch: &[doorstep_protocol::wire::DeliveryEvent]| {
        device.post(
            "/v1/sync",
            json!({ "app_version": "0.1.0", "platform": "linux", "events": batch }),
        )
    };
    // A batch larger than the whole budget can never pass: the phone is told to split it.
    let r = sync(&records).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("smaller batches"));
    let r = sync(&records[..2]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(stored().await, 2);
    // Two more records with one left in the budget: refused whole, nothing stored.
    let r = sync(&records[2..]).await;
    assert_limited_json(r, "too many records").await;
    assert_eq!(stored().await, 2);
    // One record every 100 s: after 200 s the batch goes through.
    app.clock.advance_ms(200_000);
    let r = sync(&records[2..]).await;
    assert_eq!(r.status(), 200);
    let results: doorstep_protocol::wire::SyncResponse = r.json().await.unwrap();
    assert!(
        results
            .results
            .iter()
            .all(|r| r.status == EventStatus::Accepted)
    );
    assert_eq!(stored().await, 4);
}

#[tokio::test]
async fn code_checks_are_limited_per_device_as_well_as_per_address() {
    let app = spawn_app_with(|c| {
        c.limits.verify_per_device = Rate {
            per_sec: 0.001,
            burst: 2,
        }
    })
    .await;
    let first = app.device().await;
    let second = app.device().await;
    let p = app.parcel("low value");
    let body = json!({ "parcel_id": p.parcel_id, "code": crate::helpers::wrong_code("12345674") });
    for _ in 0..2 {
        assert_eq!(first.post("/v1/verify", body.clone()).await.status(), 200);
    }
    assert_limited_json(first.post("/v1/verify", body.clone()).await, "this phone").await;
    assert_eq!(second.post("/v1/verify", body.clone()).await.status(), 200);
    // The verify budget is its own: the limited phone still syncs.
    let sync = first
        .post(
            "/v1/sync",
            json!({ "app_version": "0.1.0", "platform": "linux", "events": [] }),
        )
        .await;
    assert_eq!(sync.status(), 200);
}

#[tokio::test]
async fn an_address_over_the_enrollment_limit_gets_429() {
    let app = spawn_app_with(|c| {
        c.trust_forwarded_for = true;
        c.limits.enroll_per_address = Rate {
            per_sec: 0.001,
            burst: 2,
        }
    })
    .await;
    app.device().await;
    assert!(app.enroll("NOPE-NOPE-NO").await.is_err());
    let r = app.enroll("NOPE-NOPE-NO").await.err().expect("refused");
    assert_limited_json(r, "enrollment attempts from this address").await;
    // Another address (through the trusted proxy) is still served: a wrong code is a 401.
    let r = app
        .client
        .post(app.url("/v1/devices/enroll"))
        .header("x-forwarded-for", "198.51.100.7")
        .json(&json!({
            "enrollment_code": "NOPE-NOPE-NO",
            "device_public_key": "00".repeat(32),
            "app_version": "0.1.0",
            "platform": "linux",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn the_customer_page_is_limited_per_address() {
    let app = spawn_app_with(|c| {
        c.limits.customer_page_per_address = Rate {
            per_sec: 0.001,
            burst: 2,
        }
    })
    .await;
    let url = app.url(&app.parcel("high value").customer_url[app.base.len()..]);
    for _ in 0..2 {
        assert_eq!(app.client.get(&url).send().await.unwrap().status(), 200);
    }
    let r = app.client.get(&url).send().await.unwrap();
    assert_limited(&r);
    assert!(r.text().await.unwrap().contains("Wait"));
}

#[tokio::test]
async fn failed_console_sign_ins_are_limited_per_address_and_then_even_the_right_password_waits() {
    let app = spawn_app_with(|c| {
        c.mode = Mode::Production;
        c.limits.fleet_sign_in_failures_per_address = Rate {
            per_sec: 0.001,
            burst: 3,
        }
    })
    .await;
    crate::helpers::add_user(&app, "alice", Role::Dispatcher).await;
    // Guesses at three names, so the per-user limit (five) is not what stops them.
    for name in ["alice", "bob", "carol"] {
        let r = sign_in(&app, name, "a wrong guess").await.unwrap_err();
        assert_eq!(r.status(), 401);
    }
    assert_limited(&sign_in(&app, "dave", "a wrong guess").await.unwrap_err());
    // While the address waits, a right password looks the same as a wrong one.
    assert_limited(&sign_in(&app, "alice", PASSWORD).await.unwrap_err());
    // Opening the sign-in page is not a failed sign-in.
    let r = app
        .client
        .get(app.url("/fleet/sign-in"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.clock.advance_ms(1_000_000);
    sign_in(&app, "alice", PASSWORD).await.unwrap();
}

#[tokio::test]
async fn failed_sign_ins_for_one_user_are_limited_whatever_the_address() {
    let app = spawn_app_with(|c| {
        c.mode = Mode::Production;
        c.limits.fleet_sign_in_failures_per_user = Rate {
            per_sec: 0.001,
            burst: 2,
        }
    })
    .await;
    crate::helpers::add_user(&app, "alice", Role::Admin).await;
    crate::helpers::add_user(&app, "bob", Role::Admin).await;
    for _ in 0..2 {
        assert_eq!(
            sign_in(&app, "alice", "a wrong guess")
                .await
                .unwrap_err()
                .status(),
            401
        );
    }
    assert_limited(&sign_in(&app, "alice", "a wrong guess").await.unwrap_err());
    assert_limited(&sign_in(&app, "Alice", PASSWORD).await.unwrap_err());
    // Another user of the same address is not held up.
    sign_in(&app, "bob", PASSWORD).await.unwrap();
    app.clock.advance_ms(1_000_000);
    sign_in(&app, "alice", PASSWORD).await.unwrap();
}

async fn put_photo(app: &TestApp, token: &str, photo: Vec<u8>) -> reqwest::Response {
    let sha = hex::encode(sha2::Sha256::digest(&photo));
    app.client
        .put(app.url(&format!("/v1/photos/{sha}")))
        .bearer_auth(token)
        .body(photo)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_device_over_its_daily_photo_bytes_gets_429_until_the_day_has_passed() {
    let app = spawn_app_with(|c| c.limits.photo_bytes_per_device_per_day = 10_000).await;
    let first = app.device().await;
    let second = app.device().await;
    assert_eq!(
        put_photo(&app, &first.token, vec![1; 6000]).await.status(),
        200
    );
    let r = put_photo(&app, &first.token, vec![2; 6000]).await;
    assert_limited_json(r, "photo quota").await;
    // A retry of a photo already stored is not counted again.
    assert_eq!(
        put_photo(&app, &first.token, vec![1; 6000]).await.status(),
        200
    );
    assert_eq!(
        put_photo(&app, &second.token, vec![2; 6000]).await.status(),
        200
    );
    app.clock.advance_ms(24 * 3600 * 1000 + 1);
    assert_eq!(
        put_photo(&app, &first.token, vec![3; 6000]).await.status(),
        200
    );
}

#[tokio::test]
async fn a_device_over_its_daily_photo_count_gets_429() {
    let app = spawn_app_with(|c| c.limits.photos_per_device_per_day = 2).await;
    let device = app.device().await;
    for i in 0..2 {
        assert_eq!(
            put_photo(&app, &device.token, vec![i; 100]).await.status(),
            200
        );
    }
    assert_limited_json(
        put_photo(&app, &device.token, vec![9; 100]).await,
        "photo quota",
    )
    .await;
}

#[tokio::test]
async fn an_unparseable_forwarded_for_entry_is_a_bad_request_naming_the_header() {
    let app = spawn_app_with(|c| c.trust_forwarded_for = true).await;
    let device = app.device().await;
    for (path, entry) in [
        ("/v1/health", "203.0.113.9, not-an-address"),
        ("/v1/verify", "203.0.113.9,"),
    ] {
        let r = app
            .client
            .post(app.url(path))
            .bearer_auth(&device.token)
            .header("x-forwarded-for", entry)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path} {entry}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "bad_request");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("X-Forwarded-For")
        );
    }
    // Without the proxy setting the header is not read at all.
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/v1/health"))
        .header("x-forwarded-for", "not-an-address")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

// Compressed bodies (the sync batches of phones on poor links): gzip is taken and said so on
// every answer; the body limits count the decompressed bytes.

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// A client that leaves compressed answers as they came (reqwest decodes them when its gzip
/// feature is on somewhere in the build).
fn raw_client() -> reqwest::Client {
    reqwest::Client::builder().no_gzip().build().unwrap()
}

#[tokio::test]
async fn a_gzipped_sync_batch_is_stored_exactly_once() {
    use doorstep_protocol::wire::{EventBody, EventStatus, ExceptionReason, SyncResponse};
    let app = spawn_app().await;
    let mut device = app.device().await;
    let events: Vec<_> = ["low value", "neighbour", "shipper requires"]
        .into_iter()
        .map(|label| {
            let p = app.parcel(label).clone();
            device.event(
                p.stop_id,
                &[p.parcel_id],
                EventBody::Failed {
                    reason: ExceptionReason::NotHome,
                    note: None,
                    photo_sha256: None,
                    id_check: None,
                },
                crate::helpers::MORNING_MS,
            )
        })
        .collect();
    let body = json!({ "app_version": "0.1.0", "platform": "linux", "events": events });
    let send = || async {
        let r = raw_client()
            .post(app.url("/v1/sync"))
            .bearer_auth(&device.token)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(gzip(body.to_string().as_bytes()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["accept-encoding"], "gzip");
        r.json::<SyncResponse>().await.unwrap().results
    };
    let first = send().await;
    let second = send().await;
    assert_eq!(first, second, "a retried batch gets the same answers");
    assert!(first.iter().all(|r| r.status == EventStatus::Accepted));
    let stored: Vec<Value> =
        serde_json::from_value(app.admin_get("/v1/admin/deliveries").await).unwrap();
    for ev in &events {
        let copies = stored
            .iter()
            .filter(|s| s["event_id"] == ev.id.to_string())
            .count();
        assert_eq!(copies, 1, "event {} stored {copies} times", ev.id);
    }
}

#[tokio::test]
async fn a_small_gzipped_body_that_inflates_past_the_limit_answers_413() {
    let app = spawn_app().await;
    let device = app.device().await;
    let body =
        json!({ "app_version": "x".repeat(64 * 1024 * 1024), "platform": "linux", "events": [] })
            .to_string();
    let bomb = gzip(body.as_bytes());
    assert!(bomb.len() < 128 * 1024, "{} bytes compressed", bomb.len());
    let r = raw_client()
        .post(app.url("/v1/sync"))
        .bearer_auth(&device.token)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(bomb)
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
async fn a_body_in_a_coding_other_than_gzip_answers_415_naming_gzip() {
    let app = spawn_app().await;
    let device = app.device().await;
    let r = raw_client()
        .post(app.url("/v1/sync"))
        .bearer_auth(&device.token)
        .header("content-type", "application/json")
        .header("content-encoding", "br")
        .body("not brotli")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(r.headers()["accept-encoding"], "gzip");
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "bad_request");
}

#[tokio::test]
async fn json_answers_are_gzipped_for_clients_that_ask_and_pages_are_not() {
    let app = spawn_app_with(|c| c.mode = Mode::Demo).await;
    let r = raw_client()
        .get(app.url("/v1/openapi.json"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let doc: Value = serde_json::from_slice(&gunzip(&r.bytes().await.unwrap())).unwrap();
    assert!(doc["paths"].is_object());

    let page = raw_client()
        .get(app.url("/dev/labels"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers().get("content-encoding").is_none());
}

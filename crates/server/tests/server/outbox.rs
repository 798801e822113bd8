//! The outbox: no code survives its use (void on replacement and expiry, wiped when given
//! up), bounded tries shown on the fleet page, a per-recipient limit against SMS pumping,
//! and webhooks (HTTPS only outside demo mode, no redirects, timestamped signatures).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use doorstep_protocol::wire::Verification;
use doorstep_protocol::{ParcelId, StopId};
use doorstep_server::{Clock, Mode, ServerConfig, SmtpConfig, SmtpSecurity};
use hmac::Mac;
use serde_json::{Value, json};

use crate::helpers::{DATE, MORNING_MS, TestApp, captured_logs, delivered, spawn_app_with};

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Email goes to an SMTP port where nothing listens, so every email fails and waits.
fn smtp_down(c: &mut ServerConfig) {
    c.smtp = Some(SmtpConfig {
        host: "127.0.0.1".into(),
        port: closed_port(),
        security: SmtpSecurity::Plain,
        username: None,
        password: None,
        from: "Doorstep <dispatch@example.com>".into(),
    });
}

/// One outbox row as stored.
#[derive(Debug)]
struct Row {
    id: i64,
    channel: String,
    recipient: String,
    stop_id: Option<String>,
    body: Option<String>,
    sent: bool,
    attempts: u32,
    drop_reason: Option<String>,
    last_error: Option<String>,
}

async fn rows(app: &TestApp) -> Vec<Row> {
    app.query(
        "SELECT id, channel, recipient, stop_id, body, CASE WHEN sent_at IS NULL THEN 0 ELSE 1 END, \
         attempts, drop_reason, last_error FROM outbox ORDER BY id",
    )
    .await
    .iter()
    .map(|r| Row {
        id: r.get(0).unwrap(),
        channel: r.get(1).unwrap(),
        recipient: r.get(2).unwrap(),
        stop_id: r.get(3).unwrap(),
        body: r.get(4).unwrap(),
        sent: r.get(5).unwrap(),
        attempts: r.get(6).unwrap(),
        drop_reason: r.get(7).unwrap(),
        last_error: r.get(8).unwrap(),
    })
    .collect()
}

async fn emails_for(app: &TestApp, stop: StopId) -> Vec<Row> {
    rows(app)
        .await
        .into_iter()
        .filter(|r| r.channel == "email" && r.stop_id.as_deref() == Some(&stop.to_string()))
        .collect()
}

/// Polls the outbox (moving the server's clock by `step_ms` each round, so retries come
/// due) until `done` holds; panics with the rows after a bounded number of rounds.
async fn until(app: &TestApp, step_ms: i64, what: &str, done: impl Fn(&[Row]) -> bool) {
    let mut last = Vec::new();
    for _ in 0..400 {
        last = rows(app).await;
        if done(&last) {
            return;
        }
        app.clock.advance_ms(step_ms);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what}: {last:#?}");
}

async fn fleet_html(app: &TestApp) -> String {
    app.client
        .get(app.url("/fleet/inbox"))
        .header("cookie", app.session().await)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_message_whose_code_is_replaced_before_it_is_sent_is_voided_and_wiped() {
    let app = spawn_app_with(|c| {
        smtp_down(c);
        c.outbox_max_attempts = 1000;
    })
    .await;
    let resent = app.parcel("shipper requires").clone();
    let reset = app.parcel("code + photo").clone();
    let joined = app.parcel("second parcel of the same stop (shares").clone();
    until(&app, 0, "every email failed once and waits", |rows| {
        rows.iter()
            .filter(|r| r.channel == "email" && r.drop_reason.is_none())
            .all(|r| r.attempts >= 1 && !r.sent)
    })
    .await;

    // A resend from the courier's app and a new code from the fleet manager.
    let device = app.device().await;
    let r = device
        .post("/v1/resend", json!({ "parcel_id": resent.parcel_id }))
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .admin_post(
            &format!("/v1/admin/stops/{}/new-code", reset.stop_id),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);

    // A parcel joining a stop (the seed's second parcel for Edsger) replaced the first code
    // before the worker ever ran; the resend and the new code replaced theirs just now.
    for stop in [joined.stop_id, resent.stop_id, reset.stop_id] {
        let emails = emails_for(&app, stop).await;
        assert_eq!(emails.len(), 2, "{emails:#?}");
        let (old, new) = (&emails[0], &emails[1]);
        assert_eq!(old.drop_reason.as_deref(), Some("void"), "{old:#?}");
        assert!(old.body.is_none(), "the replaced code is wiped");
        assert!(!old.sent);
        assert!(
            old.last_error
                .as_deref()
                .unwrap()
                .contains("a newer code replaced"),
            "{old:#?}"
        );
        assert!(new.drop_reason.is_none() && new.body.is_some());
    }

    // A void message is never tried again.
    let tries: Vec<(i64, u32)> = rows(&app)
        .await
        .iter()
        .filter(|r| r.drop_reason.is_some())
        .map(|r| (r.id, r.attempts))
        .collect();
    until(&app, 1_000, "the new emails were tried again", |rows| {
        rows.iter()
            .filter(|r| r.channel == "email" && r.drop_reason.is_none())
            .all(|r| r.attempts >= 3)
    })
    .await;
    let after: Vec<(i64, u32)> = rows(&app)
        .await
        .iter()
        .filter(|r| r.drop_reason.is_some())
        .map(|r| (r.id, r.attempts))
        .collect();
    assert_eq!(tries, after);
}

#[tokio::test]
async fn an_unsent_message_is_voided_and_wiped_when_its_code_expires() {
    let app = spawn_app_with(|c| {
        smtp_down(c);
        c.outbox_max_attempts = 1000;
    })
    .await;
    until(&app, 0, "every email failed once and waits", |rows| {
        rows.iter()
            .filter(|r| r.channel == "email" && r.drop_reason.is_none())
            .all(|r| r.attempts >= 1 && !r.sent)
    })
    .await;
    let waiting = rows(&app)
        .await
        .iter()
        .filter(|r| r.channel == "email" && r.drop_reason.is_none())
        .count();
    assert!(waiting >= 5, "the demo route's code emails wait");

    // The demo day's codes end at midnight (UTC, validity one day).
    app.clock.advance_ms(17 * 3_600_000);
    until(&app, 0, "the expired codes' emails are void", |rows| {
        rows.iter()
            .filter(|r| r.channel == "email")
            .all(|r| r.drop_reason.as_deref() == Some("void"))
    })
    .await;
    for r in rows(&app).await.iter().filter(|r| r.channel == "email") {
        assert!(r.body.is_none(), "no code stays at rest: {r:#?}");
        assert!(!r.sent);
    }
    let expired = rows(&app)
        .await
        .iter()
        .filter(|r| {
            r.last_error
                .as_deref()
                .is_some_and(|e| e.contains("the code expired"))
        })
        .count();
    assert_eq!(expired, waiting, "each waiting email says its code expired");
}

#[tokio::test]
async fn sending_gives_up_after_the_configured_tries_and_the_fleet_page_shows_it() {
    let app = spawn_app_with(|c| {
        smtp_down(c);
        c.mode = Mode::Production;
        c.outbox_max_attempts = 3;
    })
    .await;
    let p = app.parcel("shipper requires").clone();
    until(&app, 250, "every email was given up", |rows| {
        rows.iter()
            .filter(|r| r.channel == "email" && r.drop_reason.as_deref() != Some("void"))
            .all(|r| r.drop_reason.as_deref() == Some("gave_up"))
    })
    .await;
    // More time passes; nothing is tried again.
    for _ in 0..10 {
        app.clock.advance_ms(60_000);
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let given_up: Vec<Row> = rows(&app)
        .await
        .into_iter()
        .filter(|r| r.drop_reason.as_deref() == Some("gave_up"))
        .collect();
    assert!(given_up.len() >= 5, "{given_up:#?}");
    for r in &given_up {
        assert_eq!(r.attempts, 3, "exactly the configured tries: {r:#?}");
        assert!(r.body.is_none(), "the body and its code are wiped");
        assert!(!r.sent);
        assert!(
            r.last_error
                .as_deref()
                .unwrap()
                .starts_with("gave up after 3 tries: ")
        );
    }
    let api = app.admin_get("/v1/admin/outbox").await;
    let donald = api
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["recipient"] == "donald@example.com" && m["channel"] == "email")
        .unwrap();
    assert_eq!(donald["sent"], false);
    assert_eq!(donald["attempts"], 3);
    assert_eq!(donald["dropped"], "gave_up");

    let html = fleet_html(&app).await;
    let section = &html[html
        .find("<h2>Messages not sent</h2>")
        .expect("the section")..];
    assert!(section.contains("given up"));
    assert!(section.contains("donald@example.com"));
    assert!(section.contains(&format!("Your delivery code for {}", p.barcode)));
    assert!(section.contains("gave up after 3 tries"));
    for code in app.seed.parcels.iter().filter_map(|p| p.code.as_deref()) {
        assert!(!html.contains(code), "the fleet page never shows a code");
    }
}

#[tokio::test]
async fn code_messages_to_one_recipient_are_limited_per_day() {
    let app = spawn_app_with(|c| c.outbox_recipient_daily_limit = 2).await;
    let p = app.parcel("recipient asked for one (stop with two").clone();
    // The seed sent Edsger one email and one text (the first, replaced, were voided and do
    // not count); two more new codes: the first goes out, the second is over the limit.
    let sent_to_edsger = |rows: &[Row], n: usize| {
        ["edsger@example.com", "+31600000004"]
            .iter()
            .all(|to| rows.iter().filter(|r| r.recipient == *to && r.sent).count() == n)
    };
    until(
        &app,
        0,
        "the seed's email and text to Edsger went out",
        |rows| sent_to_edsger(rows, 1),
    )
    .await;
    let new_code = format!("/v1/admin/stops/{}/new-code", p.stop_id);
    assert_eq!(app.admin_post(&new_code, json!({})).await.status(), 200);
    until(&app, 0, "the second email and text went out", |rows| {
        sent_to_edsger(rows, 2)
    })
    .await;
    assert_eq!(app.admin_post(&new_code, json!({})).await.status(), 200);
    until(&app, 0, "the third email and text are held back", |rows| {
        rows.iter()
            .filter(|r| r.drop_reason.as_deref() == Some("rate_limited"))
            .count()
            == 2
    })
    .await;

    let held: Vec<Row> = rows(&app)
        .await
        .into_iter()
        .filter(|r| r.drop_reason.as_deref() == Some("rate_limited"))
        .collect();
    let mut to: Vec<&str> = held.iter().map(|r| r.recipient.as_str()).collect();
    to.sort();
    assert_eq!(to, ["+31600000004", "edsger@example.com"]);
    for r in &held {
        assert!(r.body.is_none() && !r.sent && r.attempts == 0, "{r:#?}");
        assert!(
            r.last_error
                .as_deref()
                .unwrap()
                .contains("already had 2 code messages")
        );
    }
    let dev: Value = app
        .client
        .get(app.url("/v1/dev/outbox"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let to_edsger = dev
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["recipient"] == "edsger@example.com")
        .count();
    assert_eq!(to_edsger, 2, "the held-back email was not sent");

    let html = fleet_html(&app).await;
    let section = &html[html.find("<h2>Messages not sent</h2>").unwrap()..];
    assert!(section.contains("held back") && section.contains("edsger@example.com"));

    let logs = captured_logs();
    let warnings: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("message held back"))
        .collect();
    assert!(
        warnings.iter().any(|l| l.contains("e…@example.com")),
        "the warning names the recipient in part: {warnings:?}"
    );
    for l in &warnings {
        assert!(!l.contains("edsger@example.com") && !l.contains("+31600000004"));
    }
    for code in app.seed.parcels.iter().filter_map(|p| p.code.as_deref()) {
        assert!(!logs.contains(code));
    }
}

// ---------------------------------------------------------------------------------------
// Webhooks

pub(super) type Seen = Arc<Mutex<Vec<(String, HeaderMap, String)>>>;

/// A receiver on port 0: `/hook` answers with the next status of `answers` (the last one
/// repeats; a 302 points to `/elsewhere`), every request is recorded with its path.
pub(super) async fn receiver(answers: Vec<StatusCode>) -> (String, Seen) {
    let seen: Seen = Default::default();
    let (s1, s2) = (seen.clone(), seen.clone());
    let calls = Arc::new(Mutex::new(0usize));
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let (seen, calls, answers) = (s1.clone(), calls.clone(), answers.clone());
                async move {
                    seen.lock().unwrap().push(("/hook".into(), headers, body));
                    let mut n = calls.lock().unwrap();
                    let status = answers[(*n).min(answers.len() - 1)];
                    *n += 1;
                    (status, [("location", "/elsewhere")], "")
                }
            }),
        )
        .route(
            "/elsewhere",
            axum::routing::any(move |headers: HeaderMap, body: String| {
                let seen = s2.clone();
                async move {
                    seen.lock()
                        .unwrap()
                        .push(("/elsewhere".into(), headers, body));
                    "ok"
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

/// A shipper with a webhook, one of its parcels (no code needed) delivered and synced.
/// Returns the shipper's webhook secret.
async fn deliver_for_shipper(app: &TestApp, webhook_url: &str) -> String {
    let shipper = app.hooked_shipper(webhook_url).await;
    let created = app
        .create_parcel(
            shipper["api_key"].as_str().unwrap(),
            json!({
                "barcode": "HOOK-1",
                "recipient": { "name": "Katherine Johnson" },
                "address": "Nieuwe Herengracht 9",
                "postal_code": "1011",
                "method": "safe_place",
                "delivery_date": DATE,
                "courier_id": app.seed.courier_id,
            }),
        )
        .await;
    let parcel: ParcelId = serde_json::from_value(created["parcel_id"].clone()).unwrap();
    let stop: StopId = serde_json::from_value(created["stop_id"].clone()).unwrap();
    let mut device = app.device().await;
    let ev = device.event(
        stop,
        &[parcel],
        delivered(Verification::NotRequired),
        MORNING_MS,
    );
    device.sync(&[ev]).await;
    shipper["webhook_secret"].as_str().unwrap().to_string()
}

pub(super) async fn wait_for_hooks(app: &TestApp, seen: &Seen, n: usize) {
    for _ in 0..400 {
        if seen.lock().unwrap().len() >= n {
            return;
        }
        app.clock.advance_ms(100);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("expected {n} requests at the receiver");
}

/// The receiver's check, as the README's "Webhooks" section describes it: split the header
/// into `t` and `v1`, HMAC-SHA256 the bytes `"<t>.<body>"` with the secret, compare, and
/// refuse a `t` more than 5 minutes from the receiver's clock. Returns `t`.
pub(super) fn check_signature(
    secret: &str,
    headers: &HeaderMap,
    body: &str,
    now_secs: i64,
) -> Result<i64, &'static str> {
    let header = headers["x-doorstep-signature"].to_str().unwrap();
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v.to_string()),
            Some(("v1", v)) => v1 = Some(v.to_string()),
            _ => {}
        }
    }
    let (t, v1) = (t.ok_or("no timestamp")?, v1.ok_or("no v1 signature")?);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    mac.verify_slice(&hex::decode(v1).map_err(|_| "v1 is not hex")?)
        .map_err(|_| "the signature does not match")?;
    let t: i64 = t.parse().map_err(|_| "t is not a number")?;
    if (now_secs - t).abs() > 300 {
        return Err("outside the 5-minute replay window");
    }
    Ok(t)
}

#[tokio::test]
async fn a_webhook_carries_a_timestamped_signature_the_receiver_can_check() {
    let (url, seen) = receiver(vec![StatusCode::OK]).await;
    let app = spawn_app_with(|_| {}).await;
    let secret = deliver_for_shipper(&app, &url).await;
    wait_for_hooks(&app, &seen, 1).await;
    let (_, headers, body) = seen.lock().unwrap()[0].clone();
    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["event"], "parcel.delivered");
    let now = app.clock.now_ms() / 1000;
    let t = check_signature(&secret, &headers, &body, now).unwrap();

    // The same delivery replayed an hour later is refused, and moving its timestamp
    // breaks the signature.
    assert_eq!(
        check_signature(&secret, &headers, &body, now + 3600),
        Err("outside the 5-minute replay window")
    );
    let header = headers["x-doorstep-signature"].to_str().unwrap();
    let forged_header = header.replacen(&format!("t={t}"), &format!("t={}", t + 3600), 1);
    let mut forged = headers.clone();
    forged.insert("x-doorstep-signature", forged_header.parse().unwrap());
    assert_eq!(
        check_signature(&secret, &forged, &body, now + 3600),
        Err("the signature does not match")
    );
}

#[tokio::test]
async fn a_retried_webhook_is_signed_again_with_the_time_of_the_retry() {
    let (url, seen) = receiver(vec![StatusCode::INTERNAL_SERVER_ERROR, StatusCode::OK]).await;
    let app = spawn_app_with(|c| c.outbox_retry_base_ms = 120_000).await;
    let secret = deliver_for_shipper(&app, &url).await;
    wait_for_hooks(&app, &seen, 1).await;
    // The receiver has the first try; the server records its failure a moment later, with the
    // time of its clock then. The clock stands still until it has (moved on before, the retry
    // would be due two minutes after the jump, past the wait below).
    until(&app, 0, "the failed try was recorded", |rows| {
        rows.iter()
            .any(|r| r.channel == "webhook" && r.attempts >= 1 && r.last_error.is_some())
    })
    .await;
    // The retry is due two minutes later on the server's clock.
    app.clock.advance_ms(120_000);
    wait_for_hooks(&app, &seen, 2).await;
    let hits = seen.lock().unwrap().clone();
    let now = app.clock.now_ms() / 1000;
    let first = check_signature(&secret, &hits[0].1, &hits[0].2, now).unwrap();
    let second = check_signature(&secret, &hits[1].1, &hits[1].2, now).unwrap();
    assert_eq!(hits[0].2, hits[1].2, "the same payload");
    assert!(second >= first + 120, "the retry carries its own time");
}

#[tokio::test]
async fn a_webhook_receiver_that_redirects_is_not_followed_and_is_given_up() {
    let (url, seen) = receiver(vec![StatusCode::FOUND]).await;
    let app = spawn_app_with(|c| c.outbox_max_attempts = 2).await;
    deliver_for_shipper(&app, &url).await;
    until(&app, 250, "the webhook was given up", |rows| {
        rows.iter()
            .any(|r| r.channel == "webhook" && r.drop_reason.as_deref() == Some("gave_up"))
    })
    .await;
    let hook = rows(&app)
        .await
        .into_iter()
        .find(|r| r.channel == "webhook")
        .unwrap();
    assert_eq!(hook.attempts, 2);
    assert!(
        hook.last_error.as_deref().unwrap().contains("302"),
        "{hook:#?}"
    );
    let paths: Vec<String> = seen.lock().unwrap().iter().map(|s| s.0.clone()).collect();
    assert_eq!(paths, ["/hook", "/hook"], "the redirect was never followed");
}

#[tokio::test]
async fn a_webhook_url_must_be_https_outside_demo_mode() {
    let app = spawn_app_with(|c| c.mode = Mode::Production).await;
    for url in [
        "http://shop.example.com/hook",
        "ftp://shop.example.com/hook",
        "https://",
        "shop.example.com/hook",
        "https://user:pw@shop.example.com/hook",
    ] {
        let r = app
            .admin_post(
                "/v1/admin/shippers",
                json!({ "name": "Shop", "webhook_url": url }),
            )
            .await;
        assert_eq!(r.status(), 422, "{url}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["code"], "validation_failed");
        assert!(
            e["message"].as_str().unwrap().contains("webhook_url"),
            "{e}"
        );
    }
    let r = app
        .admin_post(
            "/v1/admin/shippers",
            json!({ "name": "Shop", "webhook_url": "http://shop.example.com/hook" }),
        )
        .await;
    let e: Value = r.json().await.unwrap();
    assert!(
        e["message"].as_str().unwrap().contains("https://"),
        "the message says what to use: {e}"
    );
    let r = app
        .admin_post(
            "/v1/admin/shippers",
            json!({ "name": "Shop", "webhook_url": "https://shop.example.com/hook" }),
        )
        .await;
    assert_eq!(r.status(), 201);
}

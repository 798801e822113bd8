use std::process::{Child, Command, Stdio};
use std::time::Duration;

use doorstep_server::{Clock, SmtpConfig, SmtpSecurity};
use serde_json::Value;

use crate::helpers::{extract_code, spawn_app_with};

struct Sink(Child);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_smtp_sink(port: u16, out: &std::path::Path) -> Sink {
    use std::io::BufRead;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/server/smtp_sink.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .arg(out)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 must be installed to run the SMTP test");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.trim() == "ready",
        "the SMTP test server did not start ({}); install it with `pip install aiosmtpd`",
        line.trim()
    );
    Sink(child)
}

#[tokio::test]
async fn email_waits_in_the_outbox_while_smtp_is_down_and_then_goes_out() {
    let port = free_port();
    let app = spawn_app_with(|c| {
        c.smtp = Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            security: SmtpSecurity::Plain,
            username: None,
            password: None,
            from: "Doorstep <dispatch@example.com>".into(),
        });
        c.mode = doorstep_server::Mode::Production;
    })
    .await;

    // Nothing listens yet: the messages fail and stay queued. (Edsger's first email was
    // voided when his second parcel replaced its code: it is never sent.)
    let mut failed = false;
    for _ in 0..200 {
        let outbox = app.admin_get("/v1/admin/outbox").await;
        let emails: Vec<&Value> = outbox
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["channel"] == "email" && m["dropped"].is_null())
            .collect();
        assert!(!emails.is_empty());
        if emails
            .iter()
            .all(|m| m["attempts"].as_u64().unwrap() >= 1 && m["sent"] == false)
        {
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(failed, "sends to a closed port fail and stay in the outbox");

    let dir = tempfile::tempdir().unwrap();
    let mail_file = dir.path().join("mail.txt");
    let _sink = tokio::task::spawn_blocking({
        let mail_file = mail_file.clone();
        move || start_smtp_sink(port, &mail_file)
    })
    .await
    .unwrap();

    let mut all_sent = false;
    let mut outbox = Value::Null;
    for _ in 0..400 {
        // Retries are scheduled on the server's clock, which this test moves.
        app.clock.advance_ms(250);
        outbox = app.admin_get("/v1/admin/outbox").await;
        if outbox
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["channel"] == "email" && m["dropped"].is_null())
            .all(|m| m["sent"] == true)
        {
            all_sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        all_sent,
        "every email went out once the SMTP server was up: {outbox}"
    );

    let mail = std::fs::read_to_string(&mail_file).unwrap();
    let p = app.parcel("shipper requires");
    let message = mail
        .split("--END--")
        .find(|m| m.contains("donald@example.com"))
        .expect("Donald's email arrived");
    let unfolded = message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("\r\n", "\n");
    assert!(
        unfolded.contains(&p.barcode),
        "the message names the parcel"
    );
    assert!(unfolded.contains("only to the courier at your door"));
    assert!(unfolded.contains(&p.customer_url));
    assert_eq!(
        extract_code(&unfolded),
        p.code,
        "the emailed code is the stop's code"
    );
}

type Captured = std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, String)>>>;

/// A tiny HTTP receiver on port 0 that records every POST.
async fn receiver() -> (String, Captured) {
    let seen: Captured = Default::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

async fn wait_for(seen: &Captured, app: &crate::helpers::TestApp, n: usize) {
    for _ in 0..200 {
        if seen.lock().unwrap().len() >= n {
            return;
        }
        app.clock.advance_ms(100);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("expected {n} requests at the receiver");
}

#[tokio::test]
async fn the_shipper_gets_a_signed_webhook_when_a_parcel_is_delivered() {
    use hmac::Mac;
    use serde_json::json;
    let (url, seen) = receiver().await;
    let app = crate::helpers::spawn_app().await;
    let shipper = app.hooked_shipper(&url).await;
    let created = app
        .create_parcel(
            shipper["api_key"].as_str().unwrap(),
            json!({
                "barcode": "HOOK-1",
                "recipient": { "name": "Katherine Johnson" },
                "address": "Nieuwe Herengracht 9",
                "postal_code": "1011",
                "method": "safe_place",
                "delivery_date": crate::helpers::DATE,
                "courier_id": app.seed.courier_id,
            }),
        )
        .await;
    let mut device = app.device().await;
    let parcel: doorstep_protocol::ParcelId =
        serde_json::from_value(created["parcel_id"].clone()).unwrap();
    let stop: doorstep_protocol::StopId =
        serde_json::from_value(created["stop_id"].clone()).unwrap();
    let ev = device.event(
        stop,
        &[parcel],
        crate::helpers::delivered(doorstep_protocol::wire::Verification::NotRequired),
        crate::helpers::MORNING_MS,
    );
    device.sync(&[ev]).await;
    wait_for(&seen, &app, 1).await;
    let (headers, body) = seen.lock().unwrap()[0].clone();
    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["event"], "parcel.delivered");
    assert_eq!(payload["barcode"], "HOOK-1");
    // `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, signed at send time.
    let header = headers["x-doorstep-signature"].to_str().unwrap();
    let (t, v1) = header.split_once(',').unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(
        shipper["webhook_secret"].as_str().unwrap().as_bytes(),
    )
    .unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let want = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(v1, want);
    let sent_at: i64 = t.parse().unwrap();
    assert!((app.clock.now_ms() / 1000 - sent_at).abs() <= 300);
}

#[tokio::test]
async fn a_text_message_goes_to_the_sms_gateway_as_a_form_post() {
    let (url, seen) = receiver().await;
    let app = crate::helpers::spawn_app_with(|c| {
        c.sms = Some(doorstep_server::SmsConfig {
            url,
            username: Some("AC123".into()),
            password: Some("secret".into()),
            from: "+3197000".into(),
            json: false,
        });
    })
    .await;
    wait_for(&seen, &app, 1).await;
    let (headers, body) = seen.lock().unwrap()[0].clone();
    assert!(
        headers["authorization"]
            .to_str()
            .unwrap()
            .starts_with("Basic ")
    );
    assert!(
        body.starts_with("To=%2B31600000004&From=%2B3197000&Body=Delivery+code+"),
        "{body}"
    );
    assert!(body.contains("only+to+the+courier"));
}

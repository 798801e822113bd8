use std::process::{Child, Command, Stdio};
use std::time::Duration;

use doorstep_server::{SmtpConfig, SmtpSecurity};
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

    // Nothing listens yet: the messages fail and stay queued.
    let mut failed = false;
    for _ in 0..200 {
        let outbox = app.admin_get("/v1/admin/outbox").await;
        let emails: Vec<&Value> = outbox
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["channel"] == "email")
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
            .filter(|m| m["channel"] == "email")
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

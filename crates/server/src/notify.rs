//! The outbox worker: sends queued messages (email over SMTP, SMS over an HTTP gateway,
//! shipper webhooks) and retries failures with exponential backoff, so an outage of a
//! provider loses nothing. In demo mode, email and SMS without a configured provider go to
//! the development outbox instead; production mode never does that.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::store::OutboxMessage;
use crate::{AppState, Mode, SmtpConfig, SmtpSecurity};

/// Why a message could not be sent this time.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No provider is configured for the channel.
    #[error("no {0} provider is configured")]
    NoProvider(&'static str),
    /// An address is invalid.
    #[error("invalid address: {0}")]
    Address(String),
    /// SMTP failed.
    #[error("smtp: {0}")]
    Smtp(String),
    /// The HTTP request failed.
    #[error("http: {0}")]
    Http(String),
}

type Smtp = AsyncSmtpTransport<Tokio1Executor>;

fn smtp_transport(cfg: &SmtpConfig) -> Result<Smtp, SendError> {
    let builder = match cfg.security {
        SmtpSecurity::Plain => Smtp::builder_dangerous(&cfg.host),
        SmtpSecurity::Starttls => {
            Smtp::starttls_relay(&cfg.host).map_err(|e| SendError::Smtp(e.to_string()))?
        }
        SmtpSecurity::Tls => Smtp::relay(&cfg.host).map_err(|e| SendError::Smtp(e.to_string()))?,
    };
    let mut builder = builder
        .port(cfg.port)
        .timeout(Some(Duration::from_secs(10)));
    if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
        builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
    }
    Ok(builder.build())
}

struct Senders {
    smtp: Option<(Smtp, String)>,
    http: reqwest::Client,
}

/// Runs until `stop` turns true.
pub async fn run_outbox(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let smtp = match &state.config.smtp {
        Some(cfg) => match smtp_transport(cfg) {
            Ok(t) => Some((t, cfg.from.clone())),
            Err(e) => {
                tracing::error!(error = %e, "SMTP is misconfigured; email will wait in the outbox");
                None
            }
        },
        None => None,
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let senders = Senders { smtp, http };
    let poll = Duration::from_millis(state.config.outbox_poll_ms.max(10));
    loop {
        if *stop.borrow() {
            break;
        }
        process_due(&state, &senders).await;
        tokio::select! {
            _ = stop.changed() => {}
            _ = state.outbox_wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

async fn process_due(state: &AppState, senders: &Senders) {
    let now = state.now();
    let due = match crate::api::db(state, move |s| s.due_messages(now, 50)).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = ?e, "outbox read failed");
            return;
        }
    };
    for msg in due {
        let result = send(state, senders, &msg).await;
        let now = state.now();
        let id = msg.id;
        let channel = msg.channel.clone();
        let outcome = match result {
            Ok(dev_copy) => {
                tracing::info!(outbox_id = id, channel = %channel, dev = dev_copy, "message sent");
                crate::api::db(state, move |s| s.mark_sent(&msg, dev_copy, now)).await
            }
            Err(e) => {
                let exp = msg.attempts.min(20);
                let delay = state
                    .config
                    .outbox_retry_base_ms
                    .saturating_mul(1i64 << exp)
                    .min(3_600_000);
                tracing::warn!(outbox_id = id, channel = %channel, attempts = msg.attempts + 1, error = %e, "message not sent; will retry");
                let text = e.to_string();
                crate::api::db(state, move |s| s.mark_failed(id, &text, now + delay)).await
            }
        };
        if let Err(e) = outcome {
            tracing::error!(error = ?e, outbox_id = id, "outbox update failed");
        }
    }
}

/// Sends one message; Ok(true) when it went to the development outbox.
async fn send(state: &AppState, senders: &Senders, msg: &OutboxMessage) -> Result<bool, SendError> {
    let demo = state.config.mode == Mode::Demo;
    match msg.channel.as_str() {
        "email" => match &senders.smtp {
            Some((smtp, from)) => {
                let email = Message::builder()
                    .from(
                        from.parse()
                            .map_err(|_| SendError::Address("from".into()))?,
                    )
                    .to(msg
                        .recipient
                        .parse()
                        .map_err(|_| SendError::Address("to".into()))?)
                    .subject(msg.subject.clone())
                    .header(ContentType::TEXT_PLAIN)
                    .body(msg.body.clone())
                    .map_err(|e| SendError::Smtp(e.to_string()))?;
                smtp.send(email)
                    .await
                    .map_err(|e| SendError::Smtp(e.to_string()))?;
                Ok(demo)
            }
            None if demo => Ok(true),
            None => Err(SendError::NoProvider("SMTP")),
        },
        "sms" => match &state.config.sms {
            Some(cfg) => {
                let req = senders.http.post(&cfg.url);
                let req = match (&cfg.username, &cfg.password) {
                    (Some(u), p) => req.basic_auth(u, p.as_ref()),
                    _ => req,
                };
                let req = if cfg.json {
                    req.json(&serde_json::json!({"to": msg.recipient, "from": cfg.from, "body": msg.body}))
                } else {
                    let form = format!(
                        "To={}&From={}&Body={}",
                        form_encode(&msg.recipient),
                        form_encode(&cfg.from),
                        form_encode(&msg.body)
                    );
                    req.header("content-type", "application/x-www-form-urlencoded")
                        .body(form)
                };
                let resp = req
                    .send()
                    .await
                    .map_err(|e| SendError::Http(e.without_url().to_string()))?;
                if !resp.status().is_success() {
                    return Err(SendError::Http(format!(
                        "gateway answered {}",
                        resp.status()
                    )));
                }
                Ok(demo)
            }
            None if demo => Ok(true),
            None => Err(SendError::NoProvider("SMS")),
        },
        "webhook" => {
            let mut req = senders
                .http
                .post(&msg.recipient)
                .header("content-type", "application/json")
                .header("x-doorstep-event", &msg.subject);
            if let Some(h) = &msg.headers
                && let Ok(map) =
                    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(h)
            {
                for (k, v) in map {
                    if let Some(v) = v.as_str() {
                        req = req.header(k, v);
                    }
                }
            }
            let resp = req
                .body(msg.body.clone())
                .send()
                .await
                .map_err(|e| SendError::Http(e.without_url().to_string()))?;
            if !resp.status().is_success() {
                return Err(SendError::Http(format!(
                    "webhook answered {}",
                    resp.status()
                )));
            }
            Ok(false)
        }
        _ => Err(SendError::NoProvider("unknown channel")),
    }
}

fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

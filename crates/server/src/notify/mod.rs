//! The outbox worker: sends queued messages (email over SMTP, SMS over an HTTP gateway,
//! shipper webhooks) and retries failures with exponential backoff, so an outage of a
//! provider loses nothing. In demo mode, email and SMS without a configured provider go to
//! the development outbox instead; production mode never does that.
//!
//! No code outlives its use here: before each round the worker voids customer messages
//! whose code expired or was replaced, a message is given up (body wiped) after
//! `outbox_max_attempts` tries, and a recipient gets at most `outbox_recipient_daily_limit`
//! code messages a day. Webhooks are signed at send time (`X-Doorstep-Signature:
//! t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, see [`webhook_signature`]),
//! so each retry carries a fresh timestamp; redirects are never followed.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use std::sync::Arc;

use crate::config::{Mode, ServerConfig, SmtpConfig, SmtpSecurity};
use crate::store::{OutboxMessage, Store, StoreError};

/// What the outbox worker works with: the store, the configuration, and the signal that new
/// messages wait (so it need not wait for its next poll).
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    pub(crate) store: Arc<Store>,
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) wake: Arc<tokio::sync::Notify>,
}

impl Outbox {
    fn now(&self) -> i64 {
        self.config.clock.now_ms()
    }

    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.store.run_blocking(f).await
    }
}

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
    /// A webhook cannot be sent as stored (no secret, not HTTPS in production).
    #[error("webhook: {0}")]
    Webhook(&'static str),
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
pub(crate) async fn run_outbox(state: Outbox, mut stop: tokio::sync::watch::Receiver<bool>) {
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
    // Never follow redirects: a webhook receiver (or a hijacked one) could otherwise send
    // the signed payload, or the SMS gateway's credentials, anywhere. A 3xx is a failed try.
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "the HTTP client could not be built; the outbox is not running");
            return;
        }
    };
    let senders = Senders { smtp, http };
    let poll = Duration::from_millis(state.config.outbox_poll_ms.max(10));
    loop {
        if *stop.borrow() {
            break;
        }
        // A full claim means more may be due: go on at once.
        if process_due(&state, &senders).await >= OUTBOX_CLAIM {
            continue;
        }
        tokio::select! {
            _ = stop.changed() => {}
            _ = state.wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// How long a node holds the messages it claimed before another node may send them.
const OUTBOX_LEASE_MS: i64 = 5 * 60 * 1000;
/// Messages claimed at a time: each try is bounded by a 10 s timeout, so a claim is sent
/// well inside its lease.
const OUTBOX_CLAIM: usize = 10;

/// Sends what is due; returns how many messages were claimed.
async fn process_due(state: &Outbox, senders: &Senders) -> usize {
    let now = state.now();
    match state.db(move |s| s.void_stale_code_messages(now)).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            count = n,
            "unsent messages voided: their codes expired or ended"
        ),
        Err(e) => tracing::error!(error = ?e, "outbox sweep failed"),
    }
    let due = match state
        .db(move |s| s.due_messages(now, OUTBOX_CLAIM as u32, OUTBOX_LEASE_MS))
        .await
    {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = ?e, "outbox read failed");
            return 0;
        }
    };
    let claimed = due.len();
    let limit = state.config.outbox_recipient_daily_limit;
    let max_attempts = state.config.outbox_max_attempts.max(1);
    for msg in due {
        let id = msg.id;
        let channel = msg.channel.clone();
        // Checked before the first try only: later tries keep the first answer.
        if msg.carries_code && msg.attempts == 0 {
            let m = msg.clone();
            let now = state.now();
            match state
                .db(move |s| s.hold_if_over_recipient_limit(&m, limit, now))
                .await
            {
                Ok(false) => {}
                Ok(true) => {
                    tracing::warn!(
                        outbox_id = id,
                        channel = %channel,
                        recipient = %masked(&msg.recipient),
                        limit,
                        "message held back: too many code messages to this recipient in 24 hours"
                    );
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = ?e, outbox_id = id, "outbox limit check failed");
                    continue;
                }
            }
        }
        let result = send(state, senders, &msg).await;
        let now = state.now();
        let outcome = match result {
            Ok(dev_copy) => {
                tracing::info!(outbox_id = id, channel = %channel, dev = dev_copy, "message sent");
                state.db(move |s| s.mark_sent(&msg, dev_copy, now)).await
            }
            Err(e) if msg.attempts + 1 >= max_attempts => {
                let tries = msg.attempts + 1;
                tracing::warn!(outbox_id = id, channel = %channel, attempts = tries, error = %e, "message not sent; giving up");
                let text = format!("gave up after {tries} tries: {e}");
                state.db(move |s| s.give_up(id, &text, now)).await
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
                state
                    .db(move |s| s.mark_failed(id, &text, now + delay))
                    .await
            }
        };
        if let Err(e) = outcome {
            tracing::error!(error = ?e, outbox_id = id, "outbox update failed");
        }
    }
    claimed
}

/// An address or number for the log, with most of it hidden: `e…@example.com`,
/// `+316…04`. Enough to tell recipients apart while investigating, not to contact them.
fn masked(recipient: &str) -> String {
    match recipient.split_once('@') {
        Some((local, domain)) => {
            format!("{}…@{domain}", local.chars().next().unwrap_or('?'))
        }
        None => {
            let chars: Vec<char> = recipient.chars().collect();
            if chars.len() <= 6 {
                "…".into()
            } else {
                let head: String = chars[..4].iter().collect();
                let tail: String = chars[chars.len() - 2..].iter().collect();
                format!("{head}…{tail}")
            }
        }
    }
}

/// The `X-Doorstep-Signature` header value of a webhook sent at `unix_secs`:
/// `t=<unix_secs>,v1=<hex HMAC-SHA256(secret, "<unix_secs>.<body>")>`, as Stripe does it.
/// The timestamp is inside the signed bytes, so a receiver that refuses old timestamps
/// (the README says: older than 5 minutes) cannot be fed a recorded delivery again.
pub fn webhook_signature(secret: &str, unix_secs: i64, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(unix_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!(
        "t={unix_secs},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Sends one message; Ok(true) when it went to the development outbox.
async fn send(state: &Outbox, senders: &Senders, msg: &OutboxMessage) -> Result<bool, SendError> {
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
            if !demo && !msg.recipient.starts_with("https://") {
                return Err(SendError::Webhook(
                    "production sends webhooks only over https; give the shipper an https:// URL",
                ));
            }
            let secret = msg
                .webhook_secret
                .as_deref()
                .ok_or(SendError::Webhook("the shipper has no webhook secret"))?;
            let signature = webhook_signature(secret, state.now().div_euclid(1000), &msg.body);
            let resp = senders
                .http
                .post(&msg.recipient)
                .header("content-type", "application/json")
                .header("x-doorstep-event", &msg.subject)
                .header("x-doorstep-signature", signature)
                .body(msg.body.clone())
                .send()
                .await
                .map_err(|e| SendError::Http(e.without_url().to_string()))?;
            let status = resp.status();
            if status.is_redirection() {
                return Err(SendError::Http(format!(
                    "webhook answered {status}; redirects are not followed, so give the shipper the final URL"
                )));
            }
            if !status.is_success() {
                return Err(SendError::Http(format!("webhook answered {status}")));
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

#[cfg(test)]
mod tests {
    use super::masked;

    #[test]
    fn a_masked_recipient_keeps_only_enough_to_tell_it_apart() {
        assert_eq!(masked("edsger@example.com"), "e…@example.com");
        assert_eq!(masked("+31600000004"), "+316…04");
        assert_eq!(masked("+3161"), "…");
        assert_eq!(masked("@example.com"), "?…@example.com");
    }
}

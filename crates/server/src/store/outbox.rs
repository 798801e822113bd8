//! The outbox: customer messages and webhooks, queued in the transaction that causes them and sent once.

use doorstep_protocol::wire::DevMessage;

use super::backend::sql::{Db, exec, params, qrow};
use super::error::StoreError;
use super::handle::Store;
use super::models::{OutboxMessage, UnsentMessage};

impl Store {
    /// Claims the messages due for sending, oldest first, for `lease_ms`: they are not due
    /// again (for this or any other node) until the lease runs out, so with several nodes on
    /// one database each message is sent by one of them. (On PostgreSQL two nodes claiming
    /// the same rows at once conflict, and the later one runs again and finds them leased.)
    /// A node that dies while sending leaves its messages to be sent after the lease.
    /// Messages that were given up, voided or held back are never due.
    pub fn due_messages(
        &self,
        now: i64,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.write(|c| {
            let mut st = c.prepare_cached(
                "SELECT o.id, o.channel, o.recipient, o.subject, o.body, o.stop_id, o.attempts, \
                 o.created_at, o.code_id IS NOT NULL, s.webhook_secret FROM outbox o \
                 LEFT JOIN shippers s ON s.id = o.shipper_id \
                 WHERE o.sent_at IS NULL AND o.dropped_at IS NULL AND o.next_attempt_at <= ?1 \
                 ORDER BY o.id LIMIT ?2",
            )?;
            let rows = st.query_map(params![now, limit], |r| {
                Ok(OutboxMessage {
                    id: r.get(0)?,
                    channel: r.get(1)?,
                    recipient: r.get(2)?,
                    subject: r.get(3)?,
                    body: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                    stop_id: r.get(5)?,
                    attempts: r.get(6)?,
                    created_at: r.get(7)?,
                    carries_code: r.get(8)?,
                    webhook_secret: r.get(9)?,
                })
            })?;
            let due: Vec<OutboxMessage> = rows.collect::<Result<_, _>>()?;
            for m in &due {
                exec(
                    c,
                    "UPDATE outbox SET next_attempt_at = ?2 WHERE id = ?1",
                    params![m.id, now + lease_ms],
                )?;
            }
            Ok(due)
        })
    }

    /// Marks a message sent and wipes its body (it may hold a code). In demo mode the
    /// message is copied to the development outbox first.
    pub fn mark_sent(
        &self,
        msg: &OutboxMessage,
        dev_copy: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            if dev_copy {
                exec(tx,
                    "INSERT INTO dev_messages (channel, recipient, subject, body, stop_id, sent_at) VALUES (?1,?2,?3,?4,?5,?6)",
                    params![msg.channel, msg.recipient, msg.subject, msg.body, msg.stop_id, now],
                )?;
            }
            exec(tx,
                "UPDATE outbox SET sent_at = ?2, body = NULL, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
                params![msg.id, now],
            )?;
            Ok(())
        })
    }

    /// Records a failed send and when to try again. A message voided while it was being
    /// sent stays void.
    pub fn mark_failed(&self, id: i64, error: &str, next_at: i64) -> Result<(), StoreError> {
        self.write(|tx| {
            exec(
                tx,
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 \
                 WHERE id = ?1 AND dropped_at IS NULL",
                params![id, error, next_at],
            )?;
            Ok(())
        })
    }

    /// Records the last allowed try of a message as failed and gives the message up: it is
    /// never tried again, its body (which may hold a code) is wiped, and the fleet page
    /// lists it with `error`.
    pub fn give_up(&self, id: i64, error: &str, now: i64) -> Result<(), StoreError> {
        self.write(|tx| {
            exec(
                tx,
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, body = NULL, \
                 dropped_at = ?3, drop_reason = 'gave_up' WHERE id = ?1 AND dropped_at IS NULL",
                params![id, error, now],
            )?;
            Ok(())
        })
    }

    /// Voids customer messages that were not sent yet and whose code expired or ended
    /// otherwise (replaced or used up; a new code voids them at once, this catches the
    /// rest): the body is wiped and the message is never sent. Run by the outbox worker
    /// before each round; returns how many were voided.
    pub fn void_stale_code_messages(&self, now: i64) -> Result<usize, StoreError> {
        const STALE: &str = "FROM outbox o JOIN codes c ON c.id = o.code_id \
             WHERE o.sent_at IS NULL AND o.dropped_at IS NULL AND o.code_id IS NOT NULL \
             AND (c.expires_at <= ?1 OR c.superseded_at IS NOT NULL)";
        // Reading first keeps the worker off the writer in the usual case of nothing to do.
        let any: bool = self.read(|c| {
            Ok(qrow(
                c,
                &format!("SELECT EXISTS (SELECT 1 {STALE})"),
                [now],
                |r| r.get(0),
            )?)
        })?;
        if !any {
            return Ok(0);
        }
        self.write(|tx| {
            Ok(exec(tx,
                &format!(
                    "UPDATE outbox SET body = NULL, dropped_at = ?1, drop_reason = 'void', \
                     last_error = CASE WHEN (SELECT superseded_at FROM codes WHERE id = outbox.code_id) IS NULL \
                     THEN ?2 ELSE ?3 END WHERE id IN (SELECT o.id {STALE})"
                ),
                params![now, VOID_EXPIRED, VOID_ENDED],
            )?)
        })
    }

    /// Holds back a customer message when its recipient already got
    /// `per_recipient_per_day` code messages in the 24 hours before it was queued (SMS
    /// pumping: someone making the fleet pay for texts to numbers they control). The
    /// message keeps its row without a body, is never sent, and the fleet page shows why.
    /// Counted: messages that were sent, are waiting, or were given up — not those voided
    /// or held back, as they never reached a provider. Returns whether it was held back.
    pub fn hold_if_over_recipient_limit(
        &self,
        msg: &OutboxMessage,
        per_recipient_per_day: u32,
        now: i64,
    ) -> Result<bool, StoreError> {
        if !msg.carries_code {
            return Ok(false);
        }
        self.write(|tx| {
            let earlier: u32 = qrow(tx,
                "SELECT COUNT(*) FROM outbox WHERE lower(recipient) = lower(CAST(?1 AS TEXT)) AND code_id IS NOT NULL \
                 AND created_at > ?2 AND id < ?3 \
                 AND (drop_reason IS NULL OR drop_reason = 'gave_up')",
                params![msg.recipient, msg.created_at - 86_400_000, msg.id],
                |r| r.get(0),
            )?;
            if earlier < per_recipient_per_day {
                return Ok(false);
            }
            exec(tx,
                "UPDATE outbox SET body = NULL, dropped_at = ?2, drop_reason = 'rate_limited', \
                 last_error = ?3 WHERE id = ?1 AND dropped_at IS NULL",
                params![
                    msg.id,
                    now,
                    format!(
                        "not sent: this recipient already had {earlier} code messages sent or \
                         queued in the 24 hours before (the limit is {per_recipient_per_day}); \
                         check for abuse, or raise outbox_recipient_daily_limit if this is a \
                         real customer"
                    )
                ],
            )?;
            Ok(true)
        })
    }

    /// Messages that will never be sent (given up, voided, held back), newest first, at
    /// most `limit`. Bodies are never read.
    pub fn unsent_messages(&self, limit: u32) -> Result<Vec<UnsentMessage>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, channel, recipient, subject, attempts, drop_reason, last_error, dropped_at \
                 FROM outbox WHERE dropped_at IS NOT NULL AND sent_at IS NULL \
                 ORDER BY dropped_at DESC, id DESC LIMIT ?1",
            )?;
            let rows = st.query_map([limit], |r| {
                Ok(UnsentMessage {
                    id: r.get(0)?,
                    channel: r.get(1)?,
                    recipient: r.get(2)?,
                    subject: r.get(3)?,
                    attempts: r.get(4)?,
                    reason: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                    last_error: r.get(6)?,
                    dropped_at: r.get(7)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The development outbox (demo mode).
    pub fn dev_messages(&self) -> Result<Vec<DevMessage>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, channel, recipient, subject, body, stop_id, sent_at FROM dev_messages ORDER BY id DESC",
            )?;
            let rows = st.query_map(params![], |r| {
                Ok(DevMessage {
                    id: r.get(0)?,
                    channel: r.get(1)?,
                    recipient: r.get(2)?,
                    subject: r.get(3)?,
                    body: r.get(4)?,
                    stop_id: r.get::<_, Option<String>>(5)?.and_then(|s| s.parse().ok()),
                    sent_at_ms: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}

/// `last_error` of a message whose code was replaced before it went out.
pub(super) const VOID_REPLACED: &str = "void: a newer code replaced this one before it was sent";
/// `last_error` of a message whose code was replaced or used up before it went out.
pub(super) const VOID_ENDED: &str =
    "void: the code was replaced or used up before this message was sent";
/// `last_error` of a message whose code expired before it went out.
pub(super) const VOID_EXPIRED: &str = "void: the code expired before this message could be sent";

/// Queues a message. An email or SMS for a stop carries the stop's current code (it is
/// queued right after that code is made), so the row remembers which code: the message is
/// voided when that code is replaced or expires, and it counts towards the recipient's
/// daily limit.
#[allow(clippy::too_many_arguments)]
pub(super) fn enqueue(
    tx: &Db<'_>,
    channel: &str,
    recipient: &str,
    subject: &str,
    body: &str,
    headers: Option<&str>,
    stop_id: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    exec(
        tx,
        "INSERT INTO outbox (channel, recipient, subject, body, headers, stop_id, code_id, next_attempt_at, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, \
                 CASE WHEN ?1 IN ('email', 'sms') THEN \
                   (SELECT id FROM codes WHERE stop_id = ?6 AND superseded_at IS NULL) END, \
                 ?7, ?7)",
        params![channel, recipient, subject, body, headers, stop_id, now],
    )?;
    Ok(())
}

/// Queues a message to the stop's customer: by email and by SMS, to whichever of the two the
/// stop has. `code_of`: the stop whose current code the message holds (the outbox ties the
/// message to that code, so it is voided and wiped when the code is replaced); `None` for a
/// message without a code.
pub(super) fn tell_customer(
    tx: &Db<'_>,
    stop: &super::rows::StopRow,
    texts: &crate::domain::messages::MessageTexts,
    code_of: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    if let Some(email) = &stop.email {
        enqueue(
            tx,
            "email",
            email,
            &texts.subject,
            &texts.body,
            None,
            code_of,
            now,
        )?;
    }
    if let Some(phone) = &stop.phone {
        enqueue(
            tx,
            "sms",
            phone,
            &texts.subject,
            &texts.sms,
            None,
            code_of,
            now,
        )?;
    }
    Ok(())
}

/// Queues a webhook. It is signed when it is sent (with the shipper's secret and the time
/// of that try), so nothing precomputed is stored.
pub(super) fn enqueue_webhook(
    tx: &Db<'_>,
    url: &str,
    event: &str,
    body: &str,
    shipper_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    exec(
        tx,
        "INSERT INTO outbox (channel, recipient, subject, body, shipper_id, next_attempt_at, created_at) \
         VALUES ('webhook', ?1, ?2, ?3, ?4, ?5, ?5)",
        params![url, event, body, shipper_id, now],
    )?;
    Ok(())
}

/// Voids the stop's customer messages that were not sent yet, because their code is about
/// to be replaced: they are never sent and their bodies (holding the old code) are wiped.
pub(super) fn void_unsent_code_messages(
    tx: &Db<'_>,
    stop_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    exec(
        tx,
        "UPDATE outbox SET body = NULL, dropped_at = ?2, drop_reason = 'void', last_error = ?3 \
         WHERE stop_id = ?1 AND code_id IS NOT NULL AND sent_at IS NULL AND dropped_at IS NULL",
        params![stop_id, now, VOID_REPLACED],
    )?;
    Ok(())
}

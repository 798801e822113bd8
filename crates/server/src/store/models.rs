//! What the store hands out: the authenticated device, read models of the pages and the
//! admin API, messages for the outbox.

use doorstep_protocol::wire::{DeviceView, ParcelView};
use doorstep_protocol::{CourierId, DeviceId};

use crate::domain::policy::Decision;

/// A device, as authenticated by its token.
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    /// Device id.
    pub device_id: DeviceId,
    /// Its courier.
    pub courier_id: CourierId,
    /// Revoked devices are refused.
    pub revoked: bool,
    /// The app version it last reported.
    pub app_version: String,
    /// Unix milliseconds of its last request the server noted.
    pub last_seen_at: Option<i64>,
    /// The records it last reported holding unsent, and when the oldest was made (Unix ms).
    pub backlog: Option<(i64, Option<i64>)>,
}

/// What one device uploaded in a time window ([`Store::photo_usage_since`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoUsage {
    /// Photos stored.
    pub count: u64,
    /// Their bytes.
    pub bytes: u64,
    /// When the oldest of them arrived (Unix ms); none without photos.
    pub oldest_at: Option<i64>,
}

/// A device whose record chain broke, for the fleet page.
#[derive(Debug, Clone)]
pub struct ChainBreak {
    /// The device.
    pub device_id: String,
    /// Its courier.
    pub courier_name: String,
    /// When the server first saw the break (Unix ms).
    pub since_ms: i64,
    /// The first record that did not continue the chain.
    pub first_event: String,
    /// Why, in words.
    pub reason: String,
    /// Records held back since (counted, not stored).
    pub held_events: i64,
    /// The fleet manager accepted a re-anchored chain; waiting for the phone's next sync.
    pub accepted: bool,
}

/// One entry of the audit log.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// When (Unix ms).
    pub at_ms: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what (e.g. a device id).
    pub subject: String,
    /// Details.
    pub detail: String,
}

/// A freshly made parcel, with the plaintext code when one was created (seeding only).
#[derive(Debug)]
pub struct CreatedParcel {
    /// What the shipper sees.
    pub view: ParcelView,
    /// The new code, if this parcel created its stop's code.
    pub new_code: Option<String>,
    /// This parcel's own decision (photo etc.).
    pub decision: Decision,
}

/// Counts for the fleet page.
#[derive(Debug, Default, Clone)]
pub struct FleetSummary {
    /// Parcels by status for the day.
    pub by_status: Vec<(String, i64)>,
    /// Parcels needing attention: (barcode, status, recipient).
    pub exceptions: Vec<(String, String, String)>,
    /// Devices.
    pub devices: Vec<DeviceView>,
    /// Couriers: (id, name).
    pub couriers: Vec<(String, String)>,
}

/// One parcel on the label sheet.
#[derive(Debug, Clone)]
pub struct Label {
    /// The barcode value.
    pub barcode: String,
    /// Recipient.
    pub recipient_name: String,
    /// Address.
    pub address: String,
    /// Description and whether a code is needed.
    pub note: String,
}

/// A due outbox message.
#[derive(Clone)]
pub struct OutboxMessage {
    /// Row id.
    pub id: i64,
    /// `email`, `sms`, `webhook`.
    pub channel: String,
    /// Address, number or URL.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Text or JSON.
    pub body: String,
    /// Stop, for dev messages.
    pub stop_id: Option<String>,
    /// Attempts so far.
    pub attempts: u32,
    /// When it was queued (Unix ms).
    pub created_at: i64,
    /// Whether it carries a delivery code (customer messages): these count towards the
    /// per-recipient limit.
    pub carries_code: bool,
    /// For a webhook: the shipper's signing secret, read at send time so every try is
    /// signed with a fresh timestamp. `None` if the shipper has none.
    pub webhook_secret: Option<String>,
}

/// Leaves out the body (it may hold a code) and the webhook secret.
impl std::fmt::Debug for OutboxMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMessage")
            .field("id", &self.id)
            .field("channel", &self.channel)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// A message that will never be sent, for the fleet page (never with its body).
#[derive(Debug, Clone)]
pub struct UnsentMessage {
    /// Row id.
    pub id: i64,
    /// `email`, `sms`, `webhook`.
    pub channel: String,
    /// Address, number or URL.
    pub recipient: String,
    /// Subject or event name.
    pub subject: String,
    /// Tries made.
    pub attempts: u32,
    /// `gave_up`, `void` or `rate_limited`.
    pub reason: String,
    /// Why, in words (the last send error, or why it was voided or held back).
    pub last_error: Option<String>,
    /// When it was dropped (Unix ms).
    pub dropped_at: i64,
}

//! The record chains of the phones: each phone's records are hash-chained and signed; the
//! server keeps the head of each chain under its own key.

use doorstep_protocol::wire::EventStatus;
use subtle::ConstantTimeEq;

use crate::sys::secrets::Secrets;

/// An event's chain hash under the server's key: what the server keeps to recognise a retried
/// event and the head of a device's chain, without keeping anything a code can be tested on.
pub(super) fn chain_mac(secrets: &Secrets, chain_hash: &str) -> Vec<u8> {
    secrets.chain_mac(&[b"chain", chain_hash.to_ascii_lowercase().as_bytes()])
}

/// How many records a revoked phone may still hand in for review.
pub const MAX_RECORDS_FROM_A_REVOKED_PHONE: i64 = 2000;

/// The head of a device's record chain, as `sync` works on it.
pub(super) struct ChainHead {
    pub(super) public_key: String,
    pub(super) last_seq: u64,
    pub(super) chain_mac: Option<Vec<u8>>,
    /// The plain hash kept by servers before keyed hashes (only until the migration ran).
    pub(super) legacy_hash: String,
    pub(super) last_occurred_at: Option<i64>,
    pub(super) broken: bool,
    pub(super) reanchor_allowed: bool,
    pub(super) review_until_seq: Option<i64>,
    /// Revoked (read inside the sync's transaction: a revocation that committed while the
    /// sync waited for its turn counts).
    pub(super) revoked: bool,
}

impl ChainHead {
    /// Whether `prev_hash` names the last record stored from this device.
    pub(super) fn continues(&self, secrets: &Secrets, prev_hash: &str) -> bool {
        match &self.chain_mac {
            Some(m) => bool::from(chain_mac(secrets, prev_hash).ct_eq(m)),
            None => prev_hash.eq_ignore_ascii_case(&self.legacy_hash),
        }
    }
}

/// The answer to an event held back (not stored): the phone keeps it and sends it again.
pub(super) fn held(broken: bool) -> EventStatus {
    EventStatus::Retry {
        message: if broken {
            "this phone's records no longer continue the ones the server holds; the fleet \
             manager must review the phone before they are accepted (the phone keeps them)"
                .into()
        } else {
            "an earlier record of this phone has not arrived yet; send it first".into()
        },
    }
}

//! Signed handover tokens: what the customer's page shows as a QR code, so a courier can hand
//! over a parcel without a typed code, offline, and cannot forge one.
//!
//! Layout (version 1), all integers big-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 1  | version = 1 |
//! | 4  | key id |
//! | 1  | subject kind: 1 = stop, 2 = parcel |
//! | 16 | subject id (UUID) |
//! | 8  | recipient reference |
//! | 4  | not before, Unix seconds |
//! | 4  | expires, Unix seconds |
//! | 8  | nonce |
//! | 64 | Ed25519 signature over all bytes above |
//!
//! The 110 bytes are Base45-encoded (RFC 9285) behind the prefix `DS1:`, about 170
//! characters, all in a QR code's alphanumeric mode.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::ids::{ParcelId, StopId};

/// Text prefix that marks a Doorstep handover token (and its layout version).
pub const TOKEN_PREFIX: &str = "DS1:";
const VERSION: u8 = 1;
const CLAIMS_LEN: usize = 1 + 4 + 1 + 16 + 8 + 4 + 4 + 8;
const TOKEN_LEN: usize = CLAIMS_LEN + 64;
/// Longest text accepted before decoding (the real thing is ~170 characters).
pub const MAX_TOKEN_TEXT: usize = 512;

/// Which signing key made a token: 4 bytes, shown as 8 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 4]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl std::str::FromStr for KeyId {
    type Err = TokenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes =
            decode_hex::<4>(s).ok_or(TokenError::Malformed("key id is not 8 hex digits"))?;
        Ok(Self(bytes))
    }
}

impl Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for KeyId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .pattern(Some("^[0-9a-f]{8}$"))
            .description(Some("Which signing key made a token: 8 hex digits."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for KeyId {}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What a token lets the courier hand over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum TokenSubject {
    /// Every parcel of a stop.
    Stop(StopId),
    /// One parcel.
    Parcel(ParcelId),
}

/// The signed content of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// The key that signs it.
    pub key_id: KeyId,
    /// The stop or parcel it is for.
    pub subject: TokenSubject,
    /// An opaque reference to the recipient (lets the server tie the token to a person
    /// without putting their name in the QR).
    pub recipient_ref: [u8; 8],
    /// Valid from, Unix seconds.
    pub not_before: u32,
    /// Valid until (exclusive), Unix seconds.
    pub expires: u32,
    /// Random, so two tokens for the same stop differ and each can be accepted once.
    pub nonce: [u8; 8],
}

impl TokenClaims {
    fn to_bytes(&self) -> [u8; CLAIMS_LEN] {
        let mut out = [0u8; CLAIMS_LEN];
        out[0] = VERSION;
        out[1..5].copy_from_slice(&self.key_id.0);
        let (kind, id) = match self.subject {
            TokenSubject::Stop(id) => (1u8, *id.as_bytes()),
            TokenSubject::Parcel(id) => (2u8, *id.as_bytes()),
        };
        out[5] = kind;
        out[6..22].copy_from_slice(&id);
        out[22..30].copy_from_slice(&self.recipient_ref);
        out[30..34].copy_from_slice(&self.not_before.to_be_bytes());
        out[34..38].copy_from_slice(&self.expires.to_be_bytes());
        out[38..46].copy_from_slice(&self.nonce);
        out
    }

    fn from_bytes(b: &[u8; CLAIMS_LEN]) -> Result<Self, TokenError> {
        if b[0] != VERSION {
            return Err(TokenError::UnsupportedVersion(b[0]));
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&b[6..22]);
        let subject = match b[5] {
            1 => TokenSubject::Stop(StopId::from_bytes(id)),
            2 => TokenSubject::Parcel(ParcelId::from_bytes(id)),
            _ => return Err(TokenError::Malformed("unknown subject kind")),
        };
        let mut recipient_ref = [0u8; 8];
        recipient_ref.copy_from_slice(&b[22..30]);
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(&b[38..46]);
        Ok(Self {
            key_id: KeyId([b[1], b[2], b[3], b[4]]),
            subject,
            recipient_ref,
            not_before: u32::from_be_bytes([b[30], b[31], b[32], b[33]]),
            expires: u32::from_be_bytes([b[34], b[35], b[36], b[37]]),
            nonce,
        })
    }

    /// Signs the claims and returns the token text for a QR code.
    pub fn sign(&self, key: &SigningKey) -> HandoverToken {
        let claims = self.to_bytes();
        let signature = key.sign(&claims);
        let mut raw = Vec::with_capacity(TOKEN_LEN);
        raw.extend_from_slice(&claims);
        raw.extend_from_slice(&signature.to_bytes());
        HandoverToken(format!("{TOKEN_PREFIX}{}", base45::encode(&raw)))
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a Doorstep token at all, or damaged.
    #[error("this QR code is not a valid delivery token ({0})")]
    Malformed(&'static str),
    /// A newer token layout than this build understands.
    #[error("this delivery token has version {0}, which this app does not support; update the app")]
    UnsupportedVersion(u8),
    /// Signed by a key this device does not know (not pinned, or retired).
    #[error("this delivery token was signed by an unknown key; sync the app and try again")]
    UnknownKey(KeyId),
    /// The signature does not match: forged or altered.
    #[error("this delivery token's signature is not valid")]
    BadSignature,
    /// Not valid yet (or the device clock is behind).
    #[error("this delivery token is not valid yet; check the phone's clock")]
    NotYetValid,
    /// Past its expiry.
    #[error("this delivery token has expired; ask the customer for the delivery code")]
    Expired,
}

/// A token's text as scanned from (or put into) a QR code. Its `Debug` is redacted: a
/// token is a bearer credential.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct HandoverToken(String);

impl fmt::Debug for HandoverToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HandoverToken(<redacted>)")
    }
}

impl HandoverToken {
    /// Wraps scanned text without checking it; [`HandoverToken::verify`] checks.
    pub fn from_text(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// Whether the text looks like a token (so a scanner can tell it from a parcel label).
    pub fn looks_like_token(text: &str) -> bool {
        text.trim().starts_with(TOKEN_PREFIX)
    }

    /// The text, for a QR code or the wire. Never log it.
    pub fn expose_text(&self) -> &str {
        &self.0
    }

    /// Decodes the claims without checking the signature or time. For display and for
    /// picking the key; use [`HandoverToken::verify`] before trusting anything.
    pub fn decode_unverified(&self) -> Result<TokenClaims, TokenError> {
        let (claims, _) = self.split()?;
        TokenClaims::from_bytes(&claims)
    }

    fn split(&self) -> Result<([u8; CLAIMS_LEN], Signature), TokenError> {
        let text = self.0.trim();
        if text.len() > MAX_TOKEN_TEXT {
            return Err(TokenError::Malformed("too long"));
        }
        let body = text
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(TokenError::Malformed("missing DS1: prefix"))?;
        let raw = base45::decode(body).map_err(|_| TokenError::Malformed("not Base45"))?;
        if raw.len() != TOKEN_LEN {
            return Err(TokenError::Malformed("wrong length"));
        }
        let mut claims = [0u8; CLAIMS_LEN];
        claims.copy_from_slice(&raw[..CLAIMS_LEN]);
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&raw[CLAIMS_LEN..]);
        Ok((claims, Signature::from_bytes(&sig)))
    }

    /// Verifies the token against the pinned keys at time `now` (Unix seconds), allowing
    /// `leeway_secs` of clock difference on both ends. Checks run in this order: layout,
    /// key, signature, time — so a forged token is never reported as merely expired.
    pub fn verify(
        &self,
        keys: &TokenKeys,
        now: u64,
        leeway_secs: u64,
    ) -> Result<TokenClaims, TokenError> {
        let (claim_bytes, signature) = self.split()?;
        let claims = TokenClaims::from_bytes(&claim_bytes)?;
        let key = keys
            .get(claims.key_id)
            .ok_or(TokenError::UnknownKey(claims.key_id))?;
        // Strict only: falling back to the lenient check would accept signatures under
        // small-order (weak) keys that `verify_strict` exists to refuse. Honest signatures
        // always pass the strict check.
        key.verify_strict(&claim_bytes, &signature)
            .map_err(|_| TokenError::BadSignature)?;
        // Saturating: a wild clock or leeway must not overflow (a panic in debug builds).
        if now.saturating_add(leeway_secs) < u64::from(claims.not_before) {
            return Err(TokenError::NotYetValid);
        }
        if now >= u64::from(claims.expires).saturating_add(leeway_secs) {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// A server's public token key as published at `/.well-known/doorstep-keys` and pinned by
/// devices at enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PublicTokenKey {
    /// Key id carried in tokens.
    pub key_id: KeyId,
    /// Ed25519 public key, 64 hex digits.
    pub public_key: String,
}

impl PublicTokenKey {
    /// Publishes a verifying key under an id.
    pub fn new(key_id: KeyId, key: &VerifyingKey) -> Self {
        Self {
            key_id,
            public_key: hex::encode(key.as_bytes()),
        }
    }
}

/// The set of public keys a verifier trusts.
#[derive(Debug, Clone, Default)]
pub struct TokenKeys {
    keys: Vec<(KeyId, VerifyingKey)>,
}

impl TokenKeys {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a key.
    pub fn insert(&mut self, id: KeyId, key: VerifyingKey) {
        self.keys.retain(|(k, _)| *k != id);
        self.keys.push((id, key));
    }

    /// The key with this id.
    pub fn get(&self, id: KeyId) -> Option<&VerifyingKey> {
        self.keys.iter().find(|(k, _)| *k == id).map(|(_, v)| v)
    }

    /// Builds the set from published keys; refuses a key that is not a valid Ed25519 point.
    pub fn from_published(published: &[PublicTokenKey]) -> Result<Self, TokenError> {
        let mut keys = Self::new();
        for p in published {
            let bytes = decode_hex::<32>(&p.public_key)
                .ok_or(TokenError::Malformed("public key is not 64 hex digits"))?;
            let key = VerifyingKey::from_bytes(&bytes)
                .map_err(|_| TokenError::Malformed("public key is not an Ed25519 key"))?;
            keys.insert(p.key_id, key);
        }
        Ok(keys)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Exactly `N` bytes from hex (either case); `None` for anything else: a wrong length, an
/// odd length, a sign, a space or any other character that is not a hex digit. Keys, key ids
/// and signatures are read through this, so a truncated or padded one is refused, never cut
/// or extended. (`hex::decode_to_slice` checks the length against `N` exactly.)
pub fn decode_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

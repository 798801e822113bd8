//! The shared language of the Doorstep courier app and the dispatch server.
//!
//! Everything here is pure: no I/O, no clock, no global randomness. Time is passed in as
//! Unix seconds and randomness as a `rand_core::CryptoRng`, so every rule can be tested
//! deterministically.
//!
//! - [`ids`]: typed identifiers (UUIDs under the hood; UUIDv7 for client-made event ids).
//! - [`code`]: one-time delivery codes with a Damm check digit.
//! - [`barcode`]: parsing of scanned parcel labels (GS1, UPU S10, opaque references).
//! - [`token`]: Ed25519-signed handover tokens, encoded in Base45 for QR codes.
//! - [`wire`]: the JSON types of the `/v1` HTTP API.

pub mod barcode;
pub mod code;
pub mod ids;
pub mod token;
pub mod wire;

pub use barcode::{Barcode, BarcodeError};
pub use code::{CodeError, DeliveryCode};
pub use ids::{CourierId, DeviceId, EventId, ParcelId, StopId};
pub use token::{HandoverToken, KeyId, TokenClaims, TokenError, TokenKeys, TokenSubject};

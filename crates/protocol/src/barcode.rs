//! Parsing of scanned parcel labels. (Placeholder: being filled in — GS1 and UPU S10.)

use serde::{Deserialize, Serialize};

/// Longest payload accepted as an opaque reference.
pub const MAX_OPAQUE_LEN: usize = 64;

/// A scanned label, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Barcode {
    /// Any other Code 128 / QR payload, kept as an opaque reference.
    Opaque {
        /// The reference, trimmed.
        value: String,
    },
}

/// Why a scanned payload is not a usable parcel label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BarcodeError {
    /// Nothing was scanned.
    #[error("the barcode is empty")]
    Empty,
    /// Longer than any parcel label.
    #[error("the barcode is too long ({len} characters, at most {max})")]
    TooLong {
        /// Characters received.
        len: usize,
        /// Most accepted.
        max: usize,
    },
}

impl Barcode {
    /// Parses a scanned payload.
    pub fn parse(raw: &str) -> Result<Self, BarcodeError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(BarcodeError::Empty);
        }
        if value.len() > MAX_OPAQUE_LEN {
            return Err(BarcodeError::TooLong { len: value.len(), max: MAX_OPAQUE_LEN });
        }
        Ok(Barcode::Opaque { value: value.to_string() })
    }

    /// The normalised key used to match a scan against the manifest.
    pub fn key(&self) -> String {
        match self {
            Barcode::Opaque { value } => value.clone(),
        }
    }
}

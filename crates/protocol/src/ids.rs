//! Typed identifiers. Each is a UUID underneath, so ids of different kinds can never be
//! mixed up, and each serialises as its hyphenated string form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An id string that is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id: expected a UUID like 0190c6e4-8f3a-7cc1-9a53-2b8e1f6e0c11")]
pub struct IdParseError;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// The nil id (all zeros): "none", e.g. the stop of a record that belongs to no
            /// stop (an unexpected parcel, a depot check-in).
            pub const NIL: Self = Self(Uuid::nil());

            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID underneath.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// The 16 raw bytes, as used in signed tokens.
            pub const fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }

            /// Rebuilds the id from its 16 raw bytes.
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }

            /// A new time-ordered id (UUIDv7) from the given Unix time in milliseconds and
            /// 10 random bytes. Time and randomness are passed in so callers stay testable.
            pub fn new_v7(unix_millis: u64, random: [u8; 10]) -> Self {
                Self(uuid::Builder::from_unix_timestamp_millis(unix_millis, &random).into_uuid())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self).map_err(|_| IdParseError)
            }
        }
    };
}

uuid_id!(
    /// A parcel known to the dispatch server.
    ParcelId
);
uuid_id!(
    /// A stop: the parcels for one recipient at one address on one day. They share one code.
    StopId
);
uuid_id!(
    /// A courier (a person) of the fleet.
    CourierId
);
uuid_id!(
    /// An enrolled phone.
    DeviceId
);
uuid_id!(
    /// A delivery event made on the device (UUIDv7, so ids sort by creation time). The server
    /// stores each event id exactly once.
    EventId
);
uuid_id!(
    /// A shipper (the business whose system creates parcels).
    ShipperId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v7_ids_sort_by_time() {
        let a = EventId::new_v7(1_000, [9; 10]);
        let b = EventId::new_v7(2_000, [0; 10]);
        assert!(a < b);
        assert_eq!(a.as_uuid().get_version_num(), 7);
    }

    #[test]
    fn ids_round_trip_through_text() {
        let id = ParcelId::new_v7(42, [1; 10]);
        assert_eq!(id.to_string().parse::<ParcelId>().unwrap(), id);
        assert!("not-an-id".parse::<ParcelId>().is_err());
    }
}

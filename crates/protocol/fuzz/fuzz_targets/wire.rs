//! The JSON request types of the `/v1` API on arbitrary bytes: never panic, and whatever
//! deserialises serialises and reads back equal.
#![no_main]

use doorstep_protocol::wire::{
    EnrollRequest, EnrollmentLink, ResendRequest, SyncRequest, VerifyRequest,
};
use libfuzzer_sys::fuzz_target;
use serde::{Serialize, de::DeserializeOwned};

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        let json = serde_json::to_vec(&value).expect("serialises");
        let back: T = serde_json::from_slice(&json).expect("reads its own JSON");
        // Floats (locations) may be NaN-free but not bit-equal after a text round trip;
        // compare the JSON instead of the values.
        assert_eq!(serde_json::to_vec(&back).expect("serialises"), json);
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<EnrollRequest>(data);
    round_trip::<VerifyRequest>(data);
    round_trip::<ResendRequest>(data);
    round_trip::<SyncRequest>(data);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(link) = EnrollmentLink::parse(text)
    {
        assert_eq!(EnrollmentLink::parse(&link.to_uri()), Ok(link));
    }
});

//! `DeliveryCode::parse` on arbitrary text: never panics; an accepted code is digits only
//! with a valid Damm check digit, and its `Debug` never shows them.
#![no_main]

use doorstep_protocol::DeliveryCode;
use doorstep_protocol::code::damm_is_valid;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let expected = data.first().map(|b| usize::from(b % 16));
    for expected_len in [None, expected] {
        if let Ok(code) = DeliveryCode::parse(text, expected_len) {
            let digits = code.expose_digits();
            assert!(digits.bytes().all(|b| b.is_ascii_digit()));
            let values: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
            assert!(damm_is_valid(&values));
            assert!(!format!("{code:?}").contains(digits));
            assert_eq!(
                DeliveryCode::parse(digits, Some(code.len())),
                Ok(code.clone())
            );
        }
    }
});

//! `Barcode::parse` on arbitrary text: never panics, and whatever it accepts keeps its
//! promises (the key is stable, the canonical text and JSON read back as the same value).
#![no_main]

use doorstep_protocol::Barcode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Barcode::parse(text) {
        Ok(barcode) => {
            let again = Barcode::parse(&barcode.canonical_text()).expect("canonical text parses");
            assert_eq!(again, barcode);
            assert!(!barcode.key().is_empty());
            let json = serde_json::to_string(&barcode).expect("serialises");
            let back: Barcode = serde_json::from_str(&json).expect("its own JSON deserialises");
            assert_eq!(back, barcode);
        }
        Err(error) => {
            assert!(!error.code().is_empty());
            let _ = error.to_string();
        }
    }
    // Arbitrary JSON as a stored barcode: refused or valid, never a panic.
    if let Ok(barcode) = serde_json::from_slice::<Barcode>(data) {
        assert_eq!(
            Barcode::parse(&barcode.canonical_text()).as_ref(),
            Ok(&barcode)
        );
    }
});

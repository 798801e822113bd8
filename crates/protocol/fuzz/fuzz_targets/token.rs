//! `HandoverToken::verify` on arbitrary text, against a fixed pinned key: never panics, and
//! never accepts anything (the fuzzer cannot sign with the key).
#![no_main]

use doorstep_protocol::{HandoverToken, KeyId, TokenKeys};
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let key = SigningKey::from_bytes(&[7; 32]);
    let mut keys = TokenKeys::new();
    keys.insert(KeyId(*b"fuzz"), key.verifying_key());
    let token = HandoverToken::from_text(text);
    let _ = token.decode_unverified();
    for (now, leeway) in [(0, 0), (1_800_000_000, 300), (u64::MAX, u64::MAX)] {
        assert!(token.verify(&keys, now, leeway).is_err());
    }
    // Text after the prefix, so the fuzzer reaches the Base45 decoder quickly.
    let prefixed = HandoverToken::from_text(format!("DS1:{text}"));
    assert!(prefixed.verify(&keys, 1_800_000_000, 300).is_err());
});

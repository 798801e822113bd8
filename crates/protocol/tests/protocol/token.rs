//! Tests of `doorstep_protocol::token`.

use doorstep_protocol::token::{MAX_TOKEN_TEXT, PublicTokenKey, TOKEN_PREFIX};
use doorstep_protocol::{
    HandoverToken, KeyId, ParcelId, StopId, TokenClaims, TokenError, TokenKeys, TokenSubject,
};
use ed25519_dalek::SigningKey;
use proptest::prelude::*;

const KEY_ID: KeyId = KeyId(*b"k001");
const NOW: u64 = 1_800_000_000;
const LEEWAY: u64 = 120;

fn signing_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn keys_with(id: KeyId, key: &SigningKey) -> TokenKeys {
    let mut keys = TokenKeys::new();
    keys.insert(id, key.verifying_key());
    keys
}

fn claims() -> TokenClaims {
    TokenClaims {
        key_id: KEY_ID,
        subject: TokenSubject::Stop(StopId::new_v7(NOW * 1000, [3; 10])),
        recipient_ref: *b"recip-01",
        not_before: (NOW - 3600) as u32,
        expires: (NOW + 3600) as u32,
        nonce: [9, 8, 7, 6, 5, 4, 3, 2],
    }
}

fn raw_bytes(token: &HandoverToken) -> Vec<u8> {
    let body = token.expose_text().strip_prefix(TOKEN_PREFIX).unwrap();
    base45::decode(body).unwrap()
}

fn from_raw(raw: &[u8]) -> HandoverToken {
    HandoverToken::from_text(format!("{TOKEN_PREFIX}{}", base45::encode(raw)))
}

fn any_claims() -> impl Strategy<Value = TokenClaims> {
    (
        any::<bool>(),
        any::<[u8; 16]>(),
        any::<[u8; 8]>(),
        any::<u32>(),
        any::<u32>(),
        any::<[u8; 8]>(),
    )
        .prop_map(|(is_stop, id, recipient_ref, a, b, nonce)| TokenClaims {
            key_id: KEY_ID,
            subject: if is_stop {
                TokenSubject::Stop(StopId::from_bytes(id))
            } else {
                TokenSubject::Parcel(ParcelId::from_bytes(id))
            },
            recipient_ref,
            not_before: a.min(b),
            expires: a.max(b).saturating_add(1),
            nonce,
        })
}

proptest! {
    #[test]
    fn any_signed_claims_verify_back_to_themselves(claims in any_claims()) {
        let key = signing_key(1);
        let token = claims.sign(&key);
        prop_assert!(token.expose_text().len() <= MAX_TOKEN_TEXT);
        prop_assert!(HandoverToken::looks_like_token(token.expose_text()));
        let now = u64::from(claims.not_before);
        prop_assert_eq!(token.verify(&keys_with(KEY_ID, &key), now, 0), Ok(claims.clone()));
        prop_assert_eq!(token.decode_unverified(), Ok(claims));
    }

    #[test]
    fn a_random_byte_change_anywhere_fails_verification(
        index in 0usize..110,
        flip in 1u8..=255,
    ) {
        let key = signing_key(1);
        let token = claims().sign(&key);
        let mut raw = raw_bytes(&token);
        raw[index] ^= flip;
        prop_assert!(from_raw(&raw).verify(&keys_with(KEY_ID, &key), NOW, LEEWAY).is_err());
    }

    #[test]
    fn verify_never_panics_on_arbitrary_text(text in any::<String>(), now in any::<u64>(), leeway in any::<u64>()) {
        let keys = keys_with(KEY_ID, &signing_key(1));
        prop_assert!(HandoverToken::from_text(text.clone()).verify(&keys, now, leeway).is_err());
        let prefixed = HandoverToken::from_text(format!("{TOKEN_PREFIX}{text}"));
        prop_assert!(prefixed.verify(&keys, now, leeway).is_err());
    }
}

#[test]
fn every_single_byte_change_of_the_token_fails_verification() {
    let key = signing_key(1);
    let keys = keys_with(KEY_ID, &key);
    let token = claims().sign(&key);
    let raw = raw_bytes(&token);
    assert_eq!(raw.len(), 110);
    let mut tried = 0;
    for index in 0..raw.len() {
        for value in 0..=255u8 {
            if value == raw[index] {
                continue;
            }
            let mut changed = raw.clone();
            changed[index] = value;
            let result = from_raw(&changed).verify(&keys, NOW, LEEWAY);
            assert!(
                result.is_err(),
                "byte {index} set to {value} still verifies"
            );
            tried += 1;
        }
    }
    assert_eq!(tried, 110 * 255);
}

#[test]
fn every_character_change_of_the_token_text_fails_verification() {
    const BASE45: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    let key = signing_key(1);
    let keys = keys_with(KEY_ID, &key);
    let token = claims().sign(&key);
    let text: Vec<char> = token.expose_text().chars().collect();
    for index in 0..text.len() {
        for replacement in BASE45.chars().chain(['a', 'é', '\u{1d}']) {
            if replacement == text[index] {
                continue;
            }
            let mut changed = text.clone();
            changed[index] = replacement;
            let changed: String = changed.into_iter().collect();
            let result = HandoverToken::from_text(changed).verify(&keys, NOW, LEEWAY);
            assert!(
                result.is_err(),
                "character {index} set to {replacement:?} still verifies"
            );
        }
    }
}

#[test]
fn garbage_is_refused_as_malformed() {
    let keys = keys_with(KEY_ID, &signing_key(1));
    for text in ["", "hello", "DS1:", "DS1:!!!", "DS1:AB", "DS2:0000"] {
        assert!(
            matches!(
                HandoverToken::from_text(text).verify(&keys, NOW, LEEWAY),
                Err(TokenError::Malformed(_))
            ),
            "{text:?}"
        );
    }
    let long = format!("{TOKEN_PREFIX}{}", "0".repeat(MAX_TOKEN_TEXT));
    assert_eq!(
        HandoverToken::from_text(long).verify(&keys, NOW, LEEWAY),
        Err(TokenError::Malformed("too long"))
    );
}

#[test]
fn a_token_signed_by_an_unpinned_key_id_is_refused_as_unknown_key() {
    let key = signing_key(1);
    let token = claims().sign(&key);
    let keys = keys_with(KeyId(*b"k002"), &key);
    assert_eq!(
        token.verify(&keys, NOW, LEEWAY),
        Err(TokenError::UnknownKey(KEY_ID))
    );
    assert_eq!(
        token.verify(&TokenKeys::new(), NOW, LEEWAY),
        Err(TokenError::UnknownKey(KEY_ID))
    );
}

#[test]
fn a_token_signed_by_another_key_under_the_same_key_id_has_a_bad_signature() {
    let forged = claims().sign(&signing_key(2));
    let keys = keys_with(KEY_ID, &signing_key(1));
    assert_eq!(
        forged.verify(&keys, NOW, LEEWAY),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn a_token_forged_for_a_weak_pinned_key_is_refused() {
    // With the identity point as public key, the lenient Ed25519 check accepts R = identity,
    // S = 0 for every message; the strict check refuses small-order keys.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = ed25519_dalek::VerifyingKey::from_bytes(&identity).unwrap();
    let mut keys = TokenKeys::new();
    keys.insert(KEY_ID, weak);
    let mut raw = raw_bytes(&claims().sign(&signing_key(1)));
    let signature = &mut raw[46..];
    signature.fill(0);
    signature[0] = 1;
    let forged = from_raw(&raw);
    let lenient = ed25519_dalek::Signature::from_slice(&raw[46..]).unwrap();
    assert!(
        ed25519_dalek::Verifier::verify(&weak, &raw[..46], &lenient).is_ok(),
        "the lenient check accepts the forgery"
    );
    assert_eq!(
        forged.verify(&keys, NOW, LEEWAY),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn a_forged_token_is_reported_as_forged_even_when_expired() {
    let forged = claims().sign(&signing_key(2));
    let keys = keys_with(KEY_ID, &signing_key(1));
    assert_eq!(
        forged.verify(&keys, NOW + 1_000_000, 0),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn a_token_before_its_start_is_not_yet_valid_and_after_its_end_expired() {
    let key = signing_key(1);
    let keys = keys_with(KEY_ID, &key);
    let c = claims();
    let token = c.sign(&key);
    let not_before = u64::from(c.not_before);
    let expires = u64::from(c.expires);
    assert_eq!(
        token.verify(&keys, not_before - 1, 0),
        Err(TokenError::NotYetValid)
    );
    assert_eq!(token.verify(&keys, not_before, 0), Ok(c.clone()));
    assert_eq!(token.verify(&keys, expires - 1, 0), Ok(c.clone()));
    assert_eq!(token.verify(&keys, expires, 0), Err(TokenError::Expired));
}

#[test]
fn leeway_tolerates_a_clock_that_is_off_by_up_to_the_leeway_on_both_ends() {
    let key = signing_key(1);
    let keys = keys_with(KEY_ID, &key);
    let c = claims();
    let token = c.sign(&key);
    let not_before = u64::from(c.not_before);
    let expires = u64::from(c.expires);
    assert_eq!(
        token.verify(&keys, not_before - LEEWAY, LEEWAY),
        Ok(c.clone())
    );
    assert_eq!(
        token.verify(&keys, not_before - LEEWAY - 1, LEEWAY),
        Err(TokenError::NotYetValid)
    );
    assert_eq!(
        token.verify(&keys, expires + LEEWAY - 1, LEEWAY),
        Ok(c.clone())
    );
    assert_eq!(
        token.verify(&keys, expires + LEEWAY, LEEWAY),
        Err(TokenError::Expired)
    );
}

#[test]
fn extreme_clocks_and_leeways_do_not_overflow() {
    let key = signing_key(1);
    let keys = keys_with(KEY_ID, &key);
    let token = claims().sign(&key);
    assert_eq!(token.verify(&keys, u64::MAX, 0), Err(TokenError::Expired));
    assert_eq!(
        token.verify(&keys, u64::MAX, u64::MAX),
        Err(TokenError::Expired)
    );
    assert_eq!(token.verify(&keys, 0, u64::MAX), Ok(claims()));
}

#[test]
fn a_newer_layout_version_is_refused_as_unsupported() {
    let key = signing_key(1);
    let mut raw = raw_bytes(&claims().sign(&key));
    raw[0] = 2;
    assert_eq!(
        from_raw(&raw).verify(&keys_with(KEY_ID, &key), NOW, LEEWAY),
        Err(TokenError::UnsupportedVersion(2))
    );
}

#[test]
fn token_errors_and_debug_never_show_the_token() {
    let key = signing_key(1);
    let token = claims().sign(&key);
    let text = token.expose_text();
    assert_eq!(format!("{token:?}"), "HandoverToken(<redacted>)");
    let body = &text[TOKEN_PREFIX.len()..TOKEN_PREFIX.len() + 12];
    for error in [
        token.verify(&TokenKeys::new(), NOW, 0).unwrap_err(),
        token.verify(&keys_with(KEY_ID, &key), 0, 0).unwrap_err(),
        claims()
            .sign(&signing_key(2))
            .verify(&keys_with(KEY_ID, &key), NOW, 0)
            .unwrap_err(),
    ] {
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(body), "{shown}");
    }
}

#[test]
fn published_keys_round_trip_through_json_and_verify_tokens() {
    let key = signing_key(1);
    let published = vec![PublicTokenKey::new(KEY_ID, &key.verifying_key())];
    let json = serde_json::to_string(&published).unwrap();
    assert!(json.contains("\"key_id\":\"6b303031\""), "{json}");
    let back: Vec<PublicTokenKey> = serde_json::from_str(&json).unwrap();
    let keys = TokenKeys::from_published(&back).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(claims().sign(&key).verify(&keys, NOW, 0), Ok(claims()));

    let bad = PublicTokenKey {
        key_id: KEY_ID,
        public_key: "zz".repeat(32),
    };
    assert!(matches!(
        TokenKeys::from_published(&[bad]),
        Err(TokenError::Malformed(_))
    ));
    assert!(
        serde_json::from_str::<PublicTokenKey>(r#"{"key_id":"6b303031","public_key":"00","x":1}"#)
            .is_err()
    );
}

#[test]
fn key_ids_parse_from_8_hex_digits_only() {
    assert_eq!("6B303031".parse::<KeyId>(), Ok(KEY_ID));
    assert!("6b30303".parse::<KeyId>().is_err());
    assert!("6b30303g".parse::<KeyId>().is_err());
    assert_eq!(KEY_ID.to_string(), "6b303031");
}

#[test]
fn hex_decodes_only_at_exactly_its_length_and_only_hex_digits() {
    use doorstep_protocol::token::decode_hex;
    assert_eq!(decode_hex::<2>("0aFf"), Some([0x0a, 0xff]));
    assert_eq!(decode_hex::<0>(""), Some([]));
    for bad in [
        "0aF", "0aFf0", "0aFf00", "", "0a f", " 0af", "+1ff", "-1ff", "0x0a", "0g00", "éé",
    ] {
        assert_eq!(decode_hex::<2>(bad), None, "{bad:?}");
    }
}

proptest! {
    #[test]
    fn hex_round_trips_in_either_case(bytes in proptest::array::uniform32(any::<u8>())) {
        let lower = hex::encode(bytes);
        prop_assert_eq!(lower.len(), 64);
        prop_assert!(!lower.bytes().any(|b| b.is_ascii_uppercase()));
        prop_assert_eq!(doorstep_protocol::token::decode_hex::<32>(&lower), Some(bytes));
        prop_assert_eq!(doorstep_protocol::token::decode_hex::<32>(&lower.to_uppercase()), Some(bytes));
    }
}

//! Tests of `doorstep_protocol::wire`.

use doorstep_protocol::token::PublicTokenKey;
use doorstep_protocol::wire::{
    AppVersionPolicy, CustomerChoice, DeliveryEvent, DeliveryMethod, EnrollRequest, EnrollResponse,
    EnrollmentLink, EnrollmentLinkError, ErrorBody, ErrorCode, EventBody, EventResult, EventStatus,
    ExceptionReason, GENESIS_HASH, Location, MAX_DOOR_TIME_MS, MAX_TYPOS_CAUGHT, Manifest,
    ManifestParcel, ManifestStop, ParcelStatus, Platform, RejectCode, ResendRequest, SyncRequest,
    SyncResponse, Verification, VerifyOutcome, VerifyRequest,
};
use doorstep_protocol::{
    CourierId, DeliveryCode, DeviceId, EventId, HandoverToken, KeyId, ParcelId, StopId,
};
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn parcel(n: u8) -> ParcelId {
    ParcelId::new_v7(1_700_000_000_000, [n; 10])
}

fn stop() -> StopId {
    StopId::new_v7(1_700_000_000_000, [42; 10])
}

/// A valid 7-digit code: 572400 + its Damm check digit.
fn code() -> DeliveryCode {
    let body = [5u8, 7, 2, 4, 0, 0];
    let check = doorstep_protocol::code::damm_check_digit(&body);
    DeliveryCode::parse(&format!("572400{check}"), Some(7)).unwrap()
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let json = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, value, "{json}");
}

/// Adds `"unexpected": 1` to a JSON object and checks that `T` refuses it.
fn assert_refuses_unknown_field<T: Serialize + DeserializeOwned + std::fmt::Debug>(value: &T) {
    let mut json = serde_json::to_value(value).unwrap();
    json.as_object_mut()
        .unwrap()
        .insert("unexpected".into(), 1.into());
    let error = serde_json::from_value::<T>(json).unwrap_err();
    assert!(error.to_string().contains("unknown field"), "{error}");
}

fn event(body: EventBody) -> DeliveryEvent {
    DeliveryEvent {
        id: EventId::new_v7(1_700_000_000_123, [7; 10]),
        seq: 1,
        stop_id: stop(),
        parcel_ids: vec![parcel(1), parcel(2)],
        occurred_at_ms: 1_700_000_000_123,
        first_scan_at_ms: None,
        typos_caught: None,
        location: Some(Location {
            lat: 51.5,
            lon: -0.12,
            accuracy_m: Some(8.0),
        }),
        body,
        prev_hash: GENESIS_HASH.into(),
        signature: String::new(),
    }
}

fn delivered(verification: Verification) -> EventBody {
    EventBody::Delivered {
        verification,
        recipient_name: "A. Customer".into(),
        photo_sha256: Some("ab".repeat(32)),
        method: None,
        place: None,
        signature_sha256: None,
        contents_photo_sha256: None,
        id_check: None,
    }
}

fn signed_event() -> DeliveryEvent {
    let mut e = event(delivered(Verification::OfflineCode { code: code() }));
    e.sign(&SigningKey::from_bytes(&[5; 32]));
    e
}

// ---------------------------------------------------------------------------------------
// Round trips

#[test]
fn requests_round_trip_through_json() {
    round_trip(&EnrollRequest {
        enrollment_code: "ABCD-1234".into(),
        device_public_key: "00".repeat(32),
        app_version: "0.1.0".into(),
        platform: Platform::Android,
    });
    round_trip(&VerifyRequest {
        parcel_id: parcel(1),
        code: code(),
    });
    round_trip(&ResendRequest {
        parcel_id: parcel(1),
    });
    round_trip(&SyncRequest {
        app_version: "0.1.0".into(),
        platform: Platform::Linux,
        events: vec![
            signed_event(),
            event(EventBody::Failed {
                reason: ExceptionReason::NotHome,
                note: Some("gate locked".into()),
                photo_sha256: None,
                id_check: None,
            }),
            event(delivered(Verification::NotRequired)),
            event(delivered(Verification::OnlineCode {
                verification_id: "v-1".into(),
            })),
            event(delivered(Verification::Token {
                token: HandoverToken::from_text("DS1:ABC"),
            })),
        ],
    });
}

#[test]
fn answers_round_trip_through_json() {
    let key = SigningKey::from_bytes(&[1; 32]);
    round_trip(&EnrollResponse {
        device_id: DeviceId::new_v7(1, [1; 10]),
        device_token: "t".into(),
        courier_id: CourierId::new_v7(1, [2; 10]),
        courier_name: "Sam".into(),
        fleet_name: "Fleet".into(),
        token_keys: vec![PublicTokenKey::new(KeyId(*b"k001"), &key.verifying_key())],
    });
    round_trip(&Manifest {
        courier_id: CourierId::new_v7(1, [2; 10]),
        date: "2026-11-25".into(),
        stops: vec![ManifestStop {
            stop_id: stop(),
            sequence: 1,
            recipient_name: "A. Customer".into(),
            address: "1 High St".into(),
            location: None,
            code_required: true,
            code_length: Some(7),
            offline_allowed: false,
            reasons: vec!["declared value 612.00 ≥ 500.00".into()],
            parcels: vec![ManifestParcel {
                parcel_id: parcel(1),
                barcode: "00106141412345678908".into(),
                description: None,
                photo_required: true,
                method: DeliveryMethod::HandToRecipient,
                status: ParcelStatus::Pending,
                methods: Vec::new(),
                safe_places: Vec::new(),
            }],
            customer: Some(CustomerChoice {
                method: Some(DeliveryMethod::Neighbour),
                place: Some("Ana Ruiz, 14".into()),
                instructions: Some("<b>ring twice</b>".into()),
            }),
        }],
        app_policy: Some(AppVersionPolicy {
            minimum: "1.2.0".into(),
            latest: "1.4.0".into(),
            update_url: Some("https://dispatch.example.com/v1/releases/files/ab".into()),
            sha256: Some("ab".into()),
        }),
    });
    for outcome in [
        VerifyOutcome::Verified {
            verification_id: "v".into(),
        },
        VerifyOutcome::Wrong { attempts_left: 3 },
        VerifyOutcome::Locked,
        VerifyOutcome::Expired,
        VerifyOutcome::AlreadyDelivered,
        VerifyOutcome::NotRequired,
    ] {
        round_trip(&outcome);
    }
    round_trip(&SyncResponse {
        results: vec![
            EventResult {
                id: EventId::new_v7(1, [0; 10]),
                status: EventStatus::Accepted,
            },
            EventResult {
                id: EventId::new_v7(2, [0; 10]),
                status: EventStatus::Rejected {
                    code: RejectCode::CodeWrong,
                    message: "wrong code".into(),
                },
            },
        ],
        app_policy: Some(AppVersionPolicy {
            minimum: "0.1.0".into(),
            latest: "0.2.0".into(),
            update_url: None,
            sha256: None,
        }),
    });
}

#[test]
fn verify_outcomes_are_tagged_by_result_in_snake_case() {
    assert_eq!(
        serde_json::to_string(&VerifyOutcome::Wrong { attempts_left: 2 }).unwrap(),
        r#"{"result":"wrong","attempts_left":2}"#
    );
    assert_eq!(
        serde_json::to_string(&VerifyOutcome::AlreadyDelivered).unwrap(),
        r#"{"result":"already_delivered"}"#
    );
}

#[test]
fn error_codes_say_whether_a_retry_can_help() {
    assert!(ErrorCode::Unavailable.is_retryable());
    assert!(ErrorCode::RateLimited.is_retryable());
    assert!(!ErrorCode::CodeFormat.is_retryable());
    assert!(!ErrorCode::BadRequest.is_retryable());
    let body: ErrorBody =
        serde_json::from_str(r#"{"code":"update_required","message":"update"}"#).unwrap();
    assert_eq!(body.code, ErrorCode::UpdateRequired);
}

// ---------------------------------------------------------------------------------------
// Strict parsing

#[test]
fn requests_refuse_unknown_fields() {
    assert_refuses_unknown_field(&EnrollRequest {
        enrollment_code: "x".into(),
        device_public_key: "y".into(),
        app_version: "0.1.0".into(),
        platform: Platform::Ios,
    });
    assert_refuses_unknown_field(&VerifyRequest {
        parcel_id: parcel(1),
        code: code(),
    });
    assert_refuses_unknown_field(&ResendRequest {
        parcel_id: parcel(1),
    });
    assert_refuses_unknown_field(&SyncRequest {
        app_version: "0.1.0".into(),
        platform: Platform::Android,
        events: vec![],
    });
    assert_refuses_unknown_field(&signed_event());
    assert_refuses_unknown_field(&Location {
        lat: 1.0,
        lon: 2.0,
        accuracy_m: None,
    });
}

#[test]
fn nested_event_parts_refuse_unknown_fields() {
    let mut json = serde_json::to_value(signed_event()).unwrap();
    json["body"]["extra"] = 1.into();
    assert!(serde_json::from_value::<DeliveryEvent>(json).is_err());

    let mut json = serde_json::to_value(signed_event()).unwrap();
    json["body"]["verification"]["extra"] = 1.into();
    assert!(serde_json::from_value::<DeliveryEvent>(json).is_err());
}

#[test]
fn a_verify_request_with_a_mistyped_code_is_refused_at_parse_time() {
    let json = format!(r#"{{"parcel_id":"{}","code":"1234567"}}"#, parcel(1));
    // 1234567 is not a valid Damm code (the check digit of 123456 is not 7).
    assert_ne!(
        doorstep_protocol::code::damm_check_digit(&[1, 2, 3, 4, 5, 6]),
        7
    );
    assert!(serde_json::from_str::<VerifyRequest>(&json).is_err());
}

#[test]
fn unknown_enum_values_are_refused() {
    assert!(serde_json::from_str::<Platform>(r#""symbian""#).is_err());
    let json = r#"{"app_version":"1","platform":"android","events":[],"extra":[]}"#;
    assert!(serde_json::from_str::<SyncRequest>(json).is_err());
}

// ---------------------------------------------------------------------------------------
// Delivery events: signature and hash chain

#[test]
fn a_signed_event_verifies_with_the_device_key_only() {
    let e = signed_event();
    assert_eq!(e.signature.len(), 128);
    assert!(e.verify_signature(&SigningKey::from_bytes(&[5; 32]).verifying_key()));
    assert!(!e.verify_signature(&SigningKey::from_bytes(&[6; 32]).verifying_key()));
}

/// A named change to one field of an event.
type FieldChange = (&'static str, fn(&mut DeliveryEvent));

/// Every way to change one field of a signed event.
fn field_changes() -> Vec<FieldChange> {
    vec![
        ("id", |e| e.id = EventId::new_v7(1, [1; 10])),
        ("seq", |e| e.seq += 1),
        ("stop_id", |e| e.stop_id = StopId::new_v7(1, [1; 10])),
        ("parcel_ids removed", |e| {
            e.parcel_ids.pop();
        }),
        ("parcel_ids reordered", |e| e.parcel_ids.reverse()),
        ("occurred_at_ms", |e| e.occurred_at_ms += 1),
        ("location removed", |e| e.location = None),
        ("location moved", |e| {
            if let Some(l) = e.location.as_mut() {
                l.lat += 0.0001;
            }
        }),
        ("accuracy", |e| {
            if let Some(l) = e.location.as_mut() {
                l.accuracy_m = Some(9.0);
            }
        }),
        ("recipient", |e| {
            if let EventBody::Delivered { recipient_name, .. } = &mut e.body {
                recipient_name.push('!');
            }
        }),
        ("photo", |e| {
            if let EventBody::Delivered { photo_sha256, .. } = &mut e.body {
                *photo_sha256 = None;
            }
        }),
        ("verification", |e| {
            if let EventBody::Delivered { verification, .. } = &mut e.body {
                *verification = Verification::NotRequired;
            }
        }),
        ("body kind", |e| {
            e.body = EventBody::Failed {
                reason: ExceptionReason::Refused,
                note: None,
                photo_sha256: None,
                id_check: None,
            }
        }),
        ("prev_hash", |e| e.prev_hash = "11".repeat(32)),
        ("first_scan_at_ms", |e| {
            e.first_scan_at_ms = Some(e.occurred_at_ms - 1)
        }),
        ("typos_caught", |e| e.typos_caught = Some(0)),
    ]
}

#[test]
fn changing_any_field_breaks_the_signature_and_changes_the_chain_hash() {
    let device = SigningKey::from_bytes(&[5; 32]).verifying_key();
    let original = signed_event();
    let original_hash = original.chain_hash();
    for (name, change) in field_changes() {
        let mut changed = original.clone();
        change(&mut changed);
        assert_ne!(changed, original, "{name} did not change the event");
        assert!(
            !changed.verify_signature(&device),
            "{name}: signature still valid"
        );
        assert_ne!(
            changed.chain_hash(),
            original_hash,
            "{name}: same chain hash"
        );
    }
}

#[test]
fn an_event_without_the_door_facts_signs_to_the_bytes_it_signed_to_before_they_existed() {
    let mut e = DeliveryEvent {
        id: EventId::from_bytes([1; 16]),
        seq: 3,
        stop_id: StopId::from_bytes([2; 16]),
        parcel_ids: vec![ParcelId::from_bytes([3; 16])],
        occurred_at_ms: 1_700_000_000_123,
        first_scan_at_ms: None,
        typos_caught: None,
        location: None,
        body: EventBody::Failed {
            reason: ExceptionReason::NotHome,
            note: None,
            photo_sha256: None,
            id_check: None,
        },
        prev_hash: GENESIS_HASH.into(),
        signature: String::new(),
    };
    // Written by hand in the shape `signing_bytes` had before `first_scan_at_ms` and
    // `typos_caught`: records signed then must still verify and chain.
    let before = concat!(
        r#"{"id":"01010101-0101-0101-0101-010101010101","seq":3,"#,
        r#""stop_id":"02020202-0202-0202-0202-020202020202","#,
        r#""parcel_ids":["03030303-0303-0303-0303-030303030303"],"#,
        r#""occurred_at_ms":1700000000123,"location":null,"#,
        r#""body":{"kind":"failed","reason":"not_home","note":null},"#,
        r#""prev_hash":"0000000000000000000000000000000000000000000000000000000000000000"}"#,
    );
    assert_eq!(String::from_utf8(e.signing_bytes()).unwrap(), before);

    // And a record sent by an older app, which has no such fields, reads and verifies.
    let key = SigningKey::from_bytes(&[5; 32]);
    e.sign(&key);
    let mut old_json = serde_json::to_value(&e).unwrap();
    let fields = old_json.as_object_mut().unwrap();
    assert!(!fields.contains_key("first_scan_at_ms") && !fields.contains_key("typos_caught"));
    let read: DeliveryEvent = serde_json::from_value(old_json).unwrap();
    assert_eq!(read, e);
    assert!(read.verify_signature(&key.verifying_key()));
}

#[test]
fn the_door_facts_are_signed_so_changing_the_typo_count_breaks_the_signature() {
    let key = SigningKey::from_bytes(&[5; 32]);
    let mut e = event(delivered(Verification::NotRequired));
    e.first_scan_at_ms = Some(e.occurred_at_ms - 95_000);
    e.typos_caught = Some(2);
    e.sign(&key);
    assert!(e.verify_signature(&key.verifying_key()));
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["first_scan_at_ms"], e.occurred_at_ms - 95_000);
    assert_eq!(json["typos_caught"], 2);
    round_trip(&e);

    let mut fewer = e.clone();
    fewer.typos_caught = Some(0);
    assert!(!fewer.verify_signature(&key.verifying_key()));
    let mut dropped = e.clone();
    dropped.typos_caught = None;
    assert!(!dropped.verify_signature(&key.verifying_key()));
    let mut earlier = e;
    earlier.first_scan_at_ms = earlier.first_scan_at_ms.map(|t| t - 1);
    assert!(!earlier.verify_signature(&key.verifying_key()));
}

#[test]
fn only_door_facts_that_can_be_true_are_plausible() {
    let mut e = event(delivered(Verification::NotRequired));
    let at = e.occurred_at_ms;
    for (first, plausible) in [
        (at - 95_000, true),
        (at, true),
        (at - MAX_DOOR_TIME_MS, true),
        (at + 1, false),
        (at - MAX_DOOR_TIME_MS - 1, false),
        (i64::MIN, false),
    ] {
        e.first_scan_at_ms = Some(first);
        assert_eq!(
            e.plausible_first_scan_at_ms(),
            plausible.then_some(first),
            "{first}"
        );
    }
    for (typos, plausible) in [
        (0, true),
        (MAX_TYPOS_CAUGHT, true),
        (MAX_TYPOS_CAUGHT + 1, false),
    ] {
        e.typos_caught = Some(typos);
        assert_eq!(e.plausible_typos_caught(), plausible.then_some(typos));
    }
    e.first_scan_at_ms = None;
    e.typos_caught = None;
    assert_eq!(e.plausible_first_scan_at_ms(), None);
    assert_eq!(e.plausible_typos_caught(), None);
}

#[test]
fn the_chain_hash_covers_the_signature_too() {
    let original = signed_event();
    let mut resigned = original.clone();
    resigned.sign(&SigningKey::from_bytes(&[6; 32]));
    assert_ne!(resigned.signature, original.signature);
    assert_ne!(resigned.chain_hash(), original.chain_hash());
}

#[test]
fn a_tampered_or_malformed_signature_does_not_verify() {
    let device = SigningKey::from_bytes(&[5; 32]).verifying_key();
    let original = signed_event();
    for signature in [
        String::new(),
        "zz".repeat(64),
        "00".repeat(64),
        original.signature[..126].to_string(),
    ] {
        let mut e = original.clone();
        e.signature = signature;
        assert!(!e.verify_signature(&device));
    }
}

#[test]
fn events_chain_from_the_genesis_hash() {
    let key = SigningKey::from_bytes(&[5; 32]);
    let first = signed_event();
    assert_eq!(first.prev_hash, GENESIS_HASH);
    let mut second = event(EventBody::Failed {
        reason: ExceptionReason::NotHome,
        note: None,
        photo_sha256: None,
        id_check: None,
    });
    second.seq = 2;
    second.prev_hash = first.chain_hash();
    second.sign(&key);
    assert!(second.verify_signature(&key.verifying_key()));
    assert_eq!(second.prev_hash.len(), 64);
    assert_ne!(second.chain_hash(), first.chain_hash());
}

// ---------------------------------------------------------------------------------------
// Enrollment links

#[test]
fn an_enrollment_link_round_trips_through_its_uri() {
    let link = EnrollmentLink {
        server_url: "https://dispatch.example.com:8443/base?x=1&y=2".into(),
        code: "AB CD&=%/é".into(),
    };
    let uri = link.to_uri();
    assert!(uri.starts_with("doorstep://enroll?server=https://dispatch.example.com:8443/base%3Fx"));
    assert_eq!(EnrollmentLink::parse(&uri), Ok(link));
}

#[test]
fn enrollment_links_that_are_incomplete_or_foreign_are_refused() {
    assert_eq!(
        EnrollmentLink::parse("https://example.com"),
        Err(EnrollmentLinkError::NotALink)
    );
    assert_eq!(
        EnrollmentLink::parse("doorstep://enroll?code=X"),
        Err(EnrollmentLinkError::Missing("server"))
    );
    assert_eq!(
        EnrollmentLink::parse("doorstep://enroll?server=http://x&code="),
        Err(EnrollmentLinkError::Missing("code"))
    );
    assert_eq!(
        EnrollmentLink::parse("doorstep://enroll?server=ftp://x&code=A"),
        Err(EnrollmentLinkError::BadServer)
    );
    assert_eq!(
        EnrollmentLink::parse("doorstep://enroll?server=http://x&code=%zz"),
        Err(EnrollmentLinkError::NotALink)
    );
}

#[test]
fn a_percent_escape_with_a_sign_is_refused() {
    assert_eq!(
        EnrollmentLink::parse("doorstep://enroll?server=http://x&code=%+1"),
        Err(EnrollmentLinkError::NotALink)
    );
}

proptest! {
    #[test]
    fn any_enrollment_link_round_trips(
        host in "[a-z0-9.-]{1,30}",
        https in any::<bool>(),
        code in any::<String>().prop_filter("non-empty", |c| !c.is_empty()),
    ) {
        let scheme = if https { "https" } else { "http" };
        let link = EnrollmentLink { server_url: format!("{scheme}://{host}"), code };
        prop_assert_eq!(EnrollmentLink::parse(&link.to_uri()), Ok(link));
    }

    #[test]
    fn enrollment_link_parsing_never_panics(text in any::<String>()) {
        let _ = EnrollmentLink::parse(&text);
        let _ = EnrollmentLink::parse(&format!("doorstep://enroll?{text}"));
    }
}

#[test]
fn every_platform_name_is_the_one_serde_writes_and_reads_back() {
    use doorstep_protocol::wire::Platform;
    for p in Platform::ALL {
        assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        assert_eq!(Platform::from_name(p.as_str()), Some(p));
    }
    assert_eq!(Platform::from_name("Android"), None);
}

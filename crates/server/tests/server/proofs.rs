//! Proofs of delivery that cannot be reused, bypassed or backdated, codes that are used up,
//! a chain with one encoding, and a phone that recovers from a broken chain (issue 9, items
//! 1–6, 8 and 12).

use doorstep_protocol::wire::{EventBody, EventStatus, ExceptionReason, RejectCode, Verification};
use doorstep_protocol::{DeliveryCode, HandoverToken};
use serde_json::{Value, json};

use crate::helpers::{MORNING_MS, TestApp, delivered, spawn_app, spawn_app_with, wrong_code};

fn reject(s: &EventStatus) -> Option<RejectCode> {
    match s {
        EventStatus::Rejected { code, .. } => Some(*code),
        _ => None,
    }
}

fn is_retry(s: &EventStatus) -> bool {
    matches!(s, EventStatus::Retry { .. })
}

fn code(text: &str) -> DeliveryCode {
    DeliveryCode::parse(text, None).unwrap()
}

async fn verification_id(
    device: &crate::helpers::Device,
    parcel: &doorstep_server::DemoParcel,
) -> String {
    let v = device
        .verify(parcel.parcel_id, parcel.code.as_deref().unwrap())
        .await;
    assert_eq!(v["result"], "verified", "{v}");
    v["verification_id"].as_str().unwrap().to_string()
}

async fn token_on_page(app: &TestApp, url: &str) -> Option<HandoverToken> {
    let html = app
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = html.find("<code data-token>")? + "<code data-token>".len();
    let end = start + html[start..].find("</code>")?;
    Some(HandoverToken::from_text(&html[start..end]))
}

async fn new_code_for(
    app: &TestApp,
    stop: doorstep_protocol::StopId,
    messages_before: usize,
) -> String {
    // The earlier messages are out first (else the new code voids the unsent one, and only
    // `messages_before` messages ever arrive).
    if messages_before > 0 {
        app.code_from_dev_outbox(stop, messages_before).await;
    }
    let r = app
        .admin_post(&format!("/v1/admin/stops/{stop}/new-code"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    app.code_from_dev_outbox(stop, messages_before + 1).await
}

// 1. An online verification is single use and bound. ------------------------------------

#[tokio::test]
async fn a_verification_cannot_be_used_by_a_second_event() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let a = app.parcel("recipient asked for one (stop");
    let b = app.parcel("second parcel of the same stop (shares");
    let vid = verification_id(&device, a).await;
    let first = device.event(
        a.stop_id,
        &[a.parcel_id],
        delivered(Verification::OnlineCode {
            verification_id: vid.clone(),
        }),
        MORNING_MS,
    );
    let second = device.event(
        b.stop_id,
        &[b.parcel_id],
        delivered(Verification::OnlineCode {
            verification_id: vid,
        }),
        MORNING_MS,
    );
    let r = device.sync(&[first, second]).await;
    assert_eq!(r[0].status, EventStatus::Accepted);
    assert_eq!(reject(&r[1].status), Some(RejectCode::VerificationUsed));
}

#[tokio::test]
async fn a_verification_is_bound_to_the_phone_that_made_it() {
    let app = spawn_app().await;
    let phone = app.device().await;
    let mut other_phone = app.device().await; // same courier, another phone
    let p = app.parcel("shipper requires");
    let vid = verification_id(&phone, p).await;
    let ev = other_phone.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::OnlineCode {
            verification_id: vid,
        }),
        MORNING_MS,
    );
    let r = other_phone.sync(&[ev]).await;
    assert_eq!(reject(&r[0].status), Some(RejectCode::VerificationUnknown));
}

#[tokio::test]
async fn a_verification_expires_after_its_time_to_live() {
    let app = spawn_app_with(|c| c.verification_ttl_secs = 300).await;
    let mut device = app.device().await;
    let p = app.parcel("shipper requires");
    let vid = verification_id(&device, p).await;
    app.clock.advance_ms(301_000);
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::OnlineCode {
            verification_id: vid,
        }),
        MORNING_MS + 301_000,
    );
    let r = device.sync(&[ev]).await;
    assert_eq!(reject(&r[0].status), Some(RejectCode::VerificationExpired));
}

#[tokio::test]
async fn a_verification_used_days_later_is_refused_even_when_the_record_claims_its_lifetime() {
    let app = spawn_app_with(|c| c.verification_ttl_secs = 300).await;
    let mut device = app.device().await;
    let p = app.parcel("shipper requires");
    let vid = verification_id(&device, p).await;
    // The record says it was made a minute after the check; it reaches the server three days
    // later, beyond the offline window: the server's time decides.
    app.clock.advance_ms(72 * 3_600_000);
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::OnlineCode {
            verification_id: vid,
        }),
        MORNING_MS + 60_000,
    );
    let r = device.sync(&[ev]).await;
    assert_eq!(reject(&r[0].status), Some(RejectCode::Backdated));
}

// 2. Locked stops cannot be bypassed. -------------------------------------------------------

#[tokio::test]
async fn a_locked_stop_cannot_be_handed_over_with_a_verification_made_before_the_lock() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("shipper requires");
    let right = p.code.clone().unwrap();
    let vid = verification_id(&device, p).await;
    for _ in 0..5 {
        device.verify(p.parcel_id, &wrong_code(&right)).await;
    }
    assert_eq!(device.verify(p.parcel_id, &right).await["result"], "locked");
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::OnlineCode {
            verification_id: vid,
        }),
        MORNING_MS,
    );
    let r = device.sync(&[ev]).await;
    assert_eq!(reject(&r[0].status), Some(RejectCode::CodeLocked));
}

#[tokio::test]
async fn a_locked_stop_cannot_be_handed_over_with_the_customers_qr_code() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("shipper requires");
    let token = token_on_page(&app, &p.customer_url)
        .await
        .expect("a QR token");
    for _ in 0..5 {
        device
            .verify(p.parcel_id, &wrong_code(p.code.as_deref().unwrap()))
            .await;
    }
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::Token { token }),
        MORNING_MS,
    );
    let r = device.sync(&[ev]).await;
    assert_eq!(reject(&r[0].status), Some(RejectCode::CodeLocked));
}

// 3. Offline records cannot be backdated. ---------------------------------------------------

#[tokio::test]
async fn an_offline_record_cannot_claim_a_time_before_the_code_was_replaced() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("shipper requires");
    let old = p.code.clone().unwrap();
    app.clock.advance_ms(3_600_000);
    let new = new_code_for(&app, p.stop_id, 1).await;
    assert_ne!(new, old);
    // The record claims 08:00, when the old code was still in force.
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::OfflineCode { code: code(&old) }),
        MORNING_MS,
    );
    let r = device.sync(&[ev]).await;
    assert_eq!(
        reject(&r[0].status),
        Some(RejectCode::CodeReplaced),
        "{:?}",
        r[0].status
    );
    if let EventStatus::Rejected { message, .. } = &r[0].status {
        assert!(
            message.contains("replaced"),
            "the rejection says why: {message}"
        );
    }
}

#[tokio::test]
async fn a_qr_code_issued_before_the_code_was_replaced_is_refused() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("shipper requires");
    let token = token_on_page(&app, &p.customer_url).await.unwrap();
    app.clock.advance_ms(3_600_000);
    new_code_for(&app, p.stop_id, 1).await;
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::Token { token }),
        MORNING_MS + 3_600_000,
    );
    let r = device.sync(&[ev]).await;
    assert_eq!(reject(&r[0].status), Some(RejectCode::CodeReplaced));
}

#[tokio::test]
async fn an_offline_record_cannot_claim_a_time_before_the_phones_previous_record() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    app.clock.advance_ms(2 * 3_600_000);
    let a = app.parcel("low value");
    let p = app.parcel("shipper requires");
    let first = device.event(
        a.stop_id,
        &[a.parcel_id],
        delivered(Verification::NotRequired),
        MORNING_MS + 2 * 3_600_000,
    );
    let backdated = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::OfflineCode {
            code: code(p.code.as_deref().unwrap()),
        }),
        MORNING_MS + 3_600_000,
    );
    let r = device.sync(&[first, backdated]).await;
    assert_eq!(r[0].status, EventStatus::Accepted);
    assert_eq!(reject(&r[1].status), Some(RejectCode::Backdated));
    if let EventStatus::Rejected { message, .. } = &r[1].status {
        assert!(message.contains("previous record"), "{message}");
    }
}

#[tokio::test]
async fn an_offline_record_cannot_claim_a_time_beyond_the_offline_window() {
    let app = spawn_app_with(|c| c.offline_window_secs = 3600).await;
    let mut device = app.device().await;
    app.clock.advance_ms(2 * 3_600_000);
    let p = app.parcel("shipper requires");
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::OfflineCode {
            code: code(p.code.as_deref().unwrap()),
        }),
        MORNING_MS,
    );
    let r = device.sync(&[ev]).await;
    assert_eq!(reject(&r[0].status), Some(RejectCode::Backdated));
}

// 4. A correct code is consumed. ---------------------------------------------------------

#[tokio::test]
async fn a_correct_code_is_consumed_when_the_stop_is_handed_over() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("shipper requires");
    let vid = verification_id(&device, p).await;
    assert!(token_on_page(&app, &p.customer_url).await.is_some());
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::OnlineCode {
            verification_id: vid,
        }),
        MORNING_MS,
    );
    assert_eq!(device.sync(&[ev]).await[0].status, EventStatus::Accepted);

    let live: i64 = app
        .query(&format!(
            "SELECT COUNT(*) FROM codes WHERE stop_id = '{}' AND (superseded_at IS NULL OR length(code_hash) > 0)",
            p.stop_id
        ))
        .await[0]
        .get(0)
        .unwrap();
    assert_eq!(
        live, 0,
        "no hash of the stop's code is left to verify against"
    );
    assert!(
        token_on_page(&app, &p.customer_url).await.is_none(),
        "the customer page no longer shows a QR code"
    );
    let again = device.verify(p.parcel_id, p.code.as_deref().unwrap()).await;
    assert_eq!(again["result"], "already_delivered");
}

// 5. The chain has one encoding. ------------------------------------------------------------

#[tokio::test]
async fn an_upper_case_copy_of_an_unsynced_event_does_not_break_the_phones_chain() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let a = app.parcel("low value");
    let b = app.parcel("no code: neighbour");
    let real = device.event(
        a.stop_id,
        &[a.parcel_id],
        delivered(Verification::NotRequired),
        MORNING_MS,
    );
    let next = device.event(
        b.stop_id,
        &[b.parcel_id],
        EventBody::Failed {
            reason: ExceptionReason::NotHome,
            note: None,
            photo_sha256: None,
            id_check: None,
        },
        MORNING_MS,
    );
    let mut copy = real.clone();
    copy.signature = copy.signature.to_ascii_uppercase();
    assert_eq!(
        copy.chain_hash(),
        real.chain_hash(),
        "one hash for one signature"
    );
    // Someone who saw the unsynced event sends a re-cased copy first.
    assert_eq!(device.sync(&[copy]).await[0].status, EventStatus::Accepted);
    // The phone's own copy is the same record, and its next record continues the chain.
    let r = device.sync(&[real, next]).await;
    assert_eq!(
        r[0].status,
        EventStatus::Accepted,
        "a retry gets the same answer"
    );
    assert_eq!(r[1].status, EventStatus::Accepted);
}

// 6. A device can recover from a broken chain. -----------------------------------------------

/// A phone restored from an old backup: it continues from genesis although the server
/// already holds its first record.
async fn break_the_chain(
    app: &TestApp,
) -> (
    crate::helpers::Device,
    Vec<doorstep_protocol::wire::DeliveryEvent>,
) {
    let mut device = app.device().await;
    let a = app.parcel("low value");
    let first = device.event(
        a.stop_id,
        &[a.parcel_id],
        delivered(Verification::NotRequired),
        MORNING_MS,
    );
    assert_eq!(device.sync(&[first]).await[0].status, EventStatus::Accepted);
    device.seq = 0;
    device.last_hash = doorstep_protocol::wire::GENESIS_HASH.to_string();
    let b = app.parcel("no code: two parcels, one stop");
    let c = app.parcel("second parcel of the same stop (shares");
    let held = vec![
        device.event(
            b.stop_id,
            &[b.parcel_id],
            delivered(Verification::NotRequired),
            MORNING_MS,
        ),
        device.event(
            c.stop_id,
            &[c.parcel_id],
            EventBody::Failed {
                reason: ExceptionReason::NotHome,
                note: None,
                photo_sha256: None,
                id_check: None,
            },
            MORNING_MS,
        ),
    ];
    (device, held)
}

/// The console's phones page and inbox, as one text.
async fn fleet_page(app: &TestApp) -> String {
    app.get_text("/fleet/phones").await + &app.get_text("/fleet/inbox").await
}

fn csrf_of(html: &str) -> String {
    let start =
        html.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

#[tokio::test]
async fn a_broken_chain_is_held_for_the_fleet_manager_and_nothing_is_lost() {
    let app = spawn_app().await;
    let (device, held) = break_the_chain(&app).await;
    let r = device.sync(&held).await;
    assert!(
        r.iter().all(|x| is_retry(&x.status)),
        "held, not refused: {r:?}"
    );
    let stored = app.admin_get("/v1/admin/deliveries").await;
    assert_eq!(
        stored.as_array().unwrap().len(),
        1,
        "held records are counted, not stored"
    );

    let page = fleet_page(&app).await;
    assert!(
        page.contains(&held[0].id.to_string()),
        "the fleet page names the first bad record"
    );
    assert!(page.contains("sequence number 1"), "and says why");

    // The fleet manager accepts the phone's chain as it is now.
    let device_id = app.admin_get("/v1/admin/devices").await[0]["device_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .admin_post(
            &format!("/v1/admin/devices/{device_id}/accept-chain"),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 204);
    let r = device.sync(&held).await;
    assert_eq!(r[0].status, EventStatus::Accepted);
    assert_eq!(r[1].status, EventStatus::Accepted);
    let stored = app.admin_get("/v1/admin/deliveries").await;
    let reviewed: Vec<&Value> = stored
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["review"] == true)
        .collect();
    assert_eq!(
        reviewed.len(),
        2,
        "both held records arrived, marked for review"
    );
    let page = fleet_page(&app).await;
    assert!(
        page.contains("chain_accepted") && page.contains("admin API"),
        "the audit log says who accepted it"
    );
    assert!(page.contains("Every phone's record chain is intact"));
}

#[tokio::test]
async fn a_phone_with_a_broken_chain_can_be_revoked_from_the_fleet_page() {
    let app = spawn_app().await;
    let (device, held) = break_the_chain(&app).await;
    device.sync(&held).await;
    let device_id = app.admin_get("/v1/admin/devices").await[0]["device_id"]
        .as_str()
        .unwrap()
        .to_string();
    let page = fleet_page(&app).await;
    let form = |csrf: &str| {
        app.client
            .post(app.url(&format!("/fleet/devices/{device_id}/revoke")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={csrf}"))
            .send()
    };
    assert_eq!(
        form("forged").await.unwrap().status(),
        403,
        "no CSRF token, no revocation"
    );
    let r = form(&csrf_of(&page)).await.unwrap();
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    let r = app
        .client
        .get(app.url("/v1/manifest"))
        .bearer_auth(&device.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the revoked phone gets no route");
    // Its queued records still reach the server, for review, and change no parcel.
    let r = device.sync(&held).await;
    assert!(r.iter().all(|x| x.status == EventStatus::Accepted), "{r:?}");
    let stored = app.admin_get("/v1/admin/deliveries").await;
    let reviewed: Vec<&Value> = stored
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["review"] == true)
        .collect();
    assert_eq!(reviewed.len(), 2);
    assert!(reviewed.iter().all(|d| d["status"] == "review"));
    let parcel = app.parcel("no code: two parcels, one stop");
    let view = app
        .admin_get(&format!("/v1/admin/parcels/{}", parcel.parcel_id))
        .await;
    assert_eq!(
        view["status"], "pending",
        "a revoked phone's record delivers nothing by itself"
    );
    assert_eq!(device.sync(&held).await, r, "a retry gets the same answers");
    assert!(
        fleet_page(&app).await.contains("device_revoked"),
        "the audit log has the revocation"
    );
}

// 8. No code is recoverable from the database. -----------------------------------------------

#[tokio::test]
async fn no_hash_or_signature_that_covers_an_offline_code_is_kept_at_rest() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let p = app.parcel("shipper requires");
    let typed = p.code.clone().unwrap();
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::OfflineCode { code: code(&typed) }),
        MORNING_MS,
    );
    let chain_hash = ev.chain_hash();
    let signature = ev.signature.clone();
    assert_eq!(device.sync(&[ev]).await[0].status, EventStatus::Accepted);

    let dump: String = {
        use doorstep_server::store::backend::sql::Value;
        let mut all = String::new();
        for table in ["events", "devices", "verifications", "codes"] {
            for row in app.query(&format!("SELECT * FROM {table}")).await {
                for v in &row.0 {
                    match v {
                        Value::Text(t) => all.push_str(t),
                        Value::Blob(b) => all.push_str(&hex::encode(b)),
                        _ => {}
                    }
                    all.push('|');
                }
            }
        }
        all.to_ascii_lowercase()
    };
    assert!(
        !dump.contains(&chain_hash),
        "the plain chain hash of the event is not stored"
    );
    assert!(
        !dump.contains(&signature.to_ascii_lowercase()),
        "the signature over the code is not stored"
    );
    assert!(!dump.contains(&typed), "the code is not stored");
}

// 12. Shippers are separated. ----------------------------------------------------------------

async fn shipper(app: &TestApp, name: &str) -> String {
    let r = app
        .admin_post("/v1/admin/shippers", json!({ "name": name }))
        .await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["api_key"]
        .as_str()
        .unwrap()
        .to_string()
}

fn parcel_body(barcode: &str, courier: &str) -> Value {
    json!({
        "barcode": barcode,
        "recipient": { "name": "Joan Clarke", "email": "joan@example.com", "phone": "+441234567890" },
        "address": "1 Bletchley Park",
        "postal_code": "MK3",
        "method": "hand_to_recipient",
        "delivery_date": crate::helpers::DATE,
        "recipient_requested_code": true,
        "courier_id": courier,
    })
}

#[tokio::test]
async fn a_stop_never_mixes_two_shippers_parcels() {
    let app = spawn_app().await;
    let courier = app.seed.courier_id.to_string();
    let mut stops = Vec::new();
    let mut keys = Vec::new();
    for (name, barcode) in [("Shop A", "SEPA0001"), ("Shop B", "SEPB0001")] {
        let key = shipper(&app, name).await;
        let r = app
            .client
            .post(app.url("/v1/parcels"))
            .bearer_auth(&key)
            .json(&parcel_body(barcode, &courier))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        stops.push((
            v["stop_id"].clone(),
            v["customer_url"].clone(),
            v["parcel_id"].clone(),
        ));
        keys.push(key);
    }
    assert_ne!(
        stops[0].0, stops[1].0,
        "one stop per shipper, even for the same recipient"
    );
    assert_ne!(stops[0].1, stops[1].1, "and one customer page each");
    let r = app
        .client
        .get(app.url(&format!("/v1/parcels/{}", stops[1].2.as_str().unwrap())))
        .bearer_auth(&keys[0])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        404,
        "a shipper never sees another shipper's parcel"
    );
}

#[tokio::test]
async fn a_bad_email_or_phone_number_is_refused_when_the_parcel_is_created() {
    let app = spawn_app().await;
    let courier = app.seed.courier_id.to_string();
    for (field, value) in [
        ("email", "not an address"),
        ("email", "joan@localhost"),
        ("phone", "0612345678"),
        ("phone", "+31 6 1234 5678"),
        ("phone", "+0123456789"),
    ] {
        let mut body = parcel_body("BADADDR01", &courier);
        body["recipient"][field] = json!(value);
        let r = app
            .client
            .post(app.url("/v1/parcels"))
            .bearer_auth(&app.seed.shipper_api_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{field} {value:?}");
        let e: Value = r.json().await.unwrap();
        assert!(e["message"].as_str().unwrap().contains(field), "{e}");
    }
    let stored = app.admin_get("/v1/admin/outbox").await;
    assert!(
        stored
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["recipient"] != "not an address"),
        "nothing was stored for a refused parcel"
    );
}

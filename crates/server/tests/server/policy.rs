use doorstep_protocol::wire::{Manifest, ParcelView};

use crate::helpers::{DATE, spawn_app};

async fn view(app: &crate::helpers::TestApp, label: &str) -> ParcelView {
    let id = app.parcel(label).parcel_id;
    serde_json::from_value(app.admin_get(&format!("/v1/admin/parcels/{id}")).await).unwrap()
}

#[tokio::test]
async fn each_seeded_kind_of_parcel_gets_its_decision_and_reasons() {
    let app = spawn_app().await;

    let low = view(&app, "low value").await;
    assert!(!low.decision.code_required);
    assert_eq!(low.decision.reasons, vec!["no rule asks for a code"]);

    let high = view(&app, "high value").await;
    assert!(
        high.decision.code_required
            && high.decision.photo_required
            && high.decision.offline_allowed
    );
    assert_eq!(high.decision.code_length, Some(7));
    assert!(
        high.decision
            .reasons
            .iter()
            .any(|r| r.contains("declared value 612.00 ≥ 500.00")),
        "{:?}",
        high.decision.reasons
    );

    let very = view(&app, "very high value").await;
    assert!(very.decision.code_required && !very.decision.offline_allowed);
    assert!(
        very.decision
            .reasons
            .iter()
            .any(|r| r.contains("declared value 1499.00 ≥ 1000.00"))
    );

    let age = view(&app, "age-restricted").await;
    assert!(age.decision.code_required && !age.decision.offline_allowed);
    assert!(
        age.decision
            .reasons
            .iter()
            .any(|r| r.contains("age-restricted goods"))
    );

    let opt_in = view(&app, "recipient asked for one").await;
    assert!(
        opt_in
            .decision
            .reasons
            .iter()
            .any(|r| r.contains("recipient asked for a code"))
    );

    let shipper = view(&app, "shipper requires").await;
    assert!(
        shipper
            .decision
            .reasons
            .iter()
            .any(|r| r.contains("shipper requires a code"))
    );

    let safe = view(&app, "safe place").await;
    assert!(!safe.decision.code_required);
}

#[tokio::test]
async fn parcels_for_the_same_recipient_and_address_share_a_stop_and_a_code() {
    let app = spawn_app().await;
    let a = app.parcel("recipient asked for one (stop");
    let b = app.parcel("second parcel of the same stop (shares");
    assert_eq!(a.stop_id, b.stop_id);
    assert!(a.code.is_some());
    assert_eq!(a.code, b.code);
    let stops: std::collections::HashSet<_> = app.seed.parcels.iter().map(|p| p.stop_id).collect();
    assert_eq!(app.seed.parcels.len(), 12);
    assert_eq!(stops.len(), 10);
}

#[tokio::test]
async fn the_manifest_lists_the_route_and_answers_304_when_unchanged() {
    let app = spawn_app().await;
    let device = app.device().await;
    let url = app.url(&format!("/v1/manifest?date={DATE}"));
    let r = app
        .client
        .get(&url)
        .bearer_auth(&device.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let m: Manifest = r.json().await.unwrap();
    assert_eq!(m.stops.len(), 10);
    assert_eq!(m.stops.iter().map(|s| s.parcels.len()).sum::<usize>(), 12);
    let high = m
        .stops
        .iter()
        .find(|s| s.recipient_name == "Grace Hopper")
        .unwrap();
    assert!(high.code_required && high.parcels[0].photo_required);
    assert_eq!(high.code_length, Some(7));

    let again = app
        .client
        .get(&url)
        .bearer_auth(&device.token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
}

#[test]
fn a_policy_file_with_more_than_10_attempts_or_none_is_refused_naming_the_field_and_range() {
    for (text, said) in [
        (
            "[defaults]\nmax_attempts = 11\n",
            "defaults.max_attempts is 11; it must be 1 to 10",
        ),
        (
            "[defaults]\nmax_attempts = 0\n",
            "defaults.max_attempts is 0; it must be 1 to 10",
        ),
        (
            "[[rule]]\nname = \"lenient\"\nthen = { max_attempts = 20 }\n",
            "rule \"lenient\": max_attempts is 20; it must be 1 to 10",
        ),
    ] {
        let err = doorstep_server::Policy::from_toml(text).unwrap_err();
        assert!(err.to_string().contains(said), "{err}");
    }
    assert!(doorstep_server::Policy::from_toml("[defaults]\nmax_attempts = 10\n").is_ok());
    let ok = doorstep_server::Policy::from_toml(
        "[[rule]]\nname = \"city centre\"\nwhen = { postal_code_prefix_in = [\"10\"] }\nthen = { code_required = true }\n",
    )
    .unwrap();
    assert_eq!(ok.rules.len(), 1);
}

#[test]
fn a_policy_with_codes_shorter_than_6_digits_is_refused_as_nist_asks() {
    for (text, said) in [
        (
            "[defaults]\ncode_digits = 5\n",
            "defaults.code_digits is 5; it must be 6 to 12 random digits",
        ),
        (
            "[[rule]]\nname = \"quick\"\nthen = { code_digits = 4 }\n",
            "rule \"quick\": code_digits is 4; it must be 6 to 12 random digits",
        ),
    ] {
        let err = doorstep_server::Policy::from_toml(text).unwrap_err();
        assert!(err.to_string().contains(said), "{err}");
        assert!(err.to_string().contains("NIST SP 800-63B"), "{err}");
    }
    assert!(doorstep_server::Policy::from_toml("[defaults]\ncode_digits = 6\n").is_ok());
}

#[test]
fn the_server_refuses_to_start_with_a_policy_built_in_code_that_breaks_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = doorstep_server::ServerConfig::demo(dir.path());
    config.policy.defaults.max_attempts = 50;
    let err = doorstep_server::AppState::open(config).unwrap_err();
    assert!(
        err.to_string().contains("defaults.max_attempts is 50"),
        "{err}"
    );
}

#[tokio::test]
async fn a_parcel_joining_a_stop_after_its_code_went_out_gets_one_new_code_naming_both() {
    let app = spawn_app().await;
    let device = app.device().await;
    let create = |barcode: &'static str| {
        app.client
            .post(app.url("/v1/parcels"))
            .bearer_auth(&app.seed.shipper_api_key)
            .json(&serde_json::json!({
                "barcode": barcode,
                "recipient": { "name": "Mary Jackson", "email": "mary@example.com" },
                "address": "Oudezijds Voorburgwal 1",
                "postal_code": "1012",
                "method": "hand_to_recipient",
                "delivery_date": DATE,
                "shipper_requires_code": true,
                "courier_id": app.seed.courier_id,
            }))
            .send()
    };
    let first: ParcelView = create("JOIN-1").await.unwrap().json().await.unwrap();
    let old = app.code_from_dev_outbox(first.stop_id, 1).await;
    let second: ParcelView = create("JOIN-2").await.unwrap().json().await.unwrap();
    assert_eq!(first.stop_id, second.stop_id);
    let new = app.code_from_dev_outbox(first.stop_id, 2).await;
    assert_ne!(old, new);
    let msgs: serde_json::Value = app
        .client
        .get(app.url("/v1/dev/outbox"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let newest = msgs
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["stop_id"] == serde_json::json!(first.stop_id.to_string()))
        .unwrap()["body"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(newest.contains("JOIN-1") && newest.contains("JOIN-2") && newest.contains("replaces"));
    assert_eq!(
        device.verify(second.parcel_id, &old).await["result"],
        "wrong"
    );
    assert_eq!(
        device.verify(first.parcel_id, &new).await["result"],
        "verified"
    );
}

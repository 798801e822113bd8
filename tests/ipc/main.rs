//! The app shell's commands through Tauri's real IPC layer (the `test` feature's mock runtime,
//! no window needed), with the real courier core and a real dispatch server on a loopback port.
//! The app's own `tauri.conf.json` and capabilities are used, so a command the capabilities do
//! not grant would fail here too.

mod docs;
mod fleet;
mod helpers;

use helpers::{TestApp, damm_valid_wrong_code};
use serde_json::json;

#[test]
fn a_courier_enrolls_and_hands_over_a_parcel_through_the_ipc_commands() {
    let app = TestApp::spawn();

    let status = app.invoke("app_status", json!({})).unwrap();
    assert_eq!(status["enrolled"], false);

    let status = app
        .invoke(
            "enroll",
            json!({ "input": app.enrollment_uri(), "serverUrl": null }),
        )
        .unwrap();
    assert_eq!(status["enrolled"], true, "{status}");
    assert_eq!(status["courier_name"], "Demo Courier");

    let route = app.invoke("refresh_route", json!({})).unwrap();
    let stops = route["stops"].as_array().unwrap();
    assert_eq!(stops.len(), 10, "the demo route has 10 stops: {route}");

    let parcel = app.code_parcel();
    let view = app
        .invoke("scan_parcel", json!({ "barcode": parcel.barcode }))
        .unwrap();
    assert_eq!(view["step"], "scanning", "{view}");
    assert_eq!(view["last_scan"]["outcome"], "added", "{view}");

    let view = app.invoke("finish_scanning", json!({})).unwrap();
    assert_eq!(view["step"], "code", "{view}");

    let code = parcel.code.clone().unwrap();
    let view = app
        .invoke(
            "submit_code",
            json!({ "code": damm_valid_wrong_code(&code) }),
        )
        .unwrap();
    assert_eq!(view["step"], "code", "{view}");
    assert_eq!(view["attempts_left"], 4, "{view}");

    let view = app.invoke("submit_code", json!({ "code": code })).unwrap();
    assert_eq!(view["step"], "proof", "{view}");
    assert_eq!(view["verification"], "online_code", "{view}");

    let view = app
        .invoke(
            "submit_proof",
            json!({ "proof": { "recipient_name": "Edsger Dijkstra", "photo_path": null } }),
        )
        .unwrap();
    assert_eq!(view["step"], "done", "{view}");
    assert_eq!(view["outcome"], "delivered", "{view}");

    let sync = app.invoke("sync_now", json!({})).unwrap();
    assert_eq!(sync["pending"], 0, "{sync}");
    let queue = app.invoke("sync_queue", json!({})).unwrap();
    assert_eq!(queue[0]["state"], "synced", "{queue}");

    let on_server = app.server_events_for(parcel.parcel_id);
    assert_eq!(on_server, 1, "the server stored the delivery exactly once");
}

#[test]
fn errors_reach_the_ui_as_a_stable_code_and_a_message() {
    let app = TestApp::spawn();
    let err = app.invoke("route", json!({})).unwrap_err();
    assert_eq!(err["code"], "not_enrolled", "{err}");
    assert!(err["message"].as_str().unwrap().contains("enroll"), "{err}");

    let err = app
        .invoke("enroll", json!({ "input": "hello", "serverUrl": null }))
        .unwrap_err();
    assert_eq!(err["code"], "enrollment_link_invalid", "{err}");

    let err = app
        .invoke("submit_code", json!({ "code": "1234567" }))
        .unwrap_err();
    assert!(
        ["no_handover", "not_enrolled", "wrong_step"].contains(&err["code"].as_str().unwrap()),
        "{err}"
    );
}

#[test]
fn a_typo_in_the_code_is_caught_on_the_device_without_spending_an_attempt() {
    let app = TestApp::spawn();
    let parcel = app.code_parcel();
    app.enroll_and_start_handover(&parcel);

    let code = parcel.code.clone().unwrap();
    // Swap two neighbouring (different) digits: the Damm check digit catches every such swap.
    let mut digits: Vec<char> = code.chars().collect();
    let i = (0..digits.len() - 1)
        .find(|&i| digits[i] != digits[i + 1])
        .unwrap();
    digits.swap(i, i + 1);
    let typo: String = digits.into_iter().collect();
    let result = app.invoke("submit_code", json!({ "code": typo }));
    let code_error = match result {
        Ok(view) => view["error"]["code"].clone(),
        Err(err) => err["code"].clone(),
    };
    assert_eq!(code_error, "code_format");

    let view = app.invoke("submit_code", json!({ "code": code })).unwrap();
    assert_eq!(view["step"], "proof", "the right code still works: {view}");
}

#[test]
fn unknown_commands_are_refused() {
    let app = TestApp::spawn();
    assert!(app.invoke("delete_everything", json!({})).is_err());
}

#[test]
fn a_high_value_parcel_needs_a_photo_which_the_ui_hands_over_as_bytes() {
    let app = TestApp::spawn();
    let parcel = app.parcel_labelled("code + photo");
    assert!(parcel.photo_required);
    app.enroll_and_start_handover(&parcel);
    let view = app
        .invoke(
            "submit_code",
            json!({ "code": parcel.code.clone().unwrap() }),
        )
        .unwrap();
    assert_eq!(view["photo_required"], true, "{view}");

    let err = app
        .invoke(
            "submit_proof",
            json!({ "proof": { "recipient_name": "Grace Hopper", "photo_path": null } }),
        )
        .unwrap_err();
    assert_eq!(err["code"], "photo_required", "{err}");

    let err = app
        .invoke_raw("save_photo", b"this is not a picture".to_vec())
        .unwrap_err();
    assert_eq!(err["code"], "photo_invalid", "{err}");

    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
    jpeg.extend_from_slice(&[7u8; 2048]);
    let path = app.invoke_raw("save_photo", jpeg.clone()).unwrap();
    let path = path.as_str().unwrap().to_string();
    assert_eq!(std::fs::read(&path).unwrap(), jpeg);

    let view = app
        .invoke(
            "submit_proof",
            json!({ "proof": { "recipient_name": "Grace Hopper", "photo_path": path } }),
        )
        .unwrap();
    assert_eq!(view["step"], "done", "{view}");
    let sync = app.invoke("sync_now", json!({})).unwrap();
    assert_eq!(sync["pending"], 0, "photo and event synced: {sync}");
    assert_eq!(app.server_events_for(parcel.parcel_id), 1);
}

#[test]
fn the_phone_position_is_accepted_in_the_contract_shape_and_nonsense_is_refused() {
    let app = TestApp::spawn();
    let ok = app.invoke(
        "set_location",
        json!({ "location": { "lat": 52.37, "lon": 4.89, "accuracy_m": 8.0 } }),
    );
    assert_eq!(ok, Ok(serde_json::Value::Null));
    assert!(
        app.invoke("set_location", json!({ "location": null }))
            .is_ok()
    );
    let err = app.invoke(
        "set_location",
        json!({ "location": { "lat": "north", "lon": 4.89, "accuracy_m": null } }),
    );
    assert!(err.is_err(), "a malformed position is refused: {err:?}");
}

#[test]
fn data_from_a_newer_app_keeps_the_app_open_and_tells_the_courier_to_update() {
    let dir = tempfile::tempdir().unwrap();
    let db = rusqlite::Connection::open(dir.path().join("doorstep.sqlite3")).unwrap();
    db.pragma_update(None, "user_version", 9999).unwrap();
    drop(db);

    let (_app, webview) = helpers::app_with_unopenable_store(dir.path());
    for cmd in ["app_status", "route", "sync_status"] {
        let err = helpers::invoke_on(&webview, cmd, json!({})).unwrap_err();
        assert_eq!(err["code"], "update_required", "{cmd}: {err}");
        assert!(
            err["message"].as_str().unwrap().contains("newer"),
            "{cmd}: {err}"
        );
    }
}

#[test]
fn the_update_is_opened_only_from_the_fleets_stored_link_and_never_from_the_ui() {
    let app = TestApp::spawn();
    let err = app.invoke("open_update", json!({})).unwrap_err();
    assert_eq!(err["code"], "not_enrolled", "{err}");

    app.invoke(
        "enroll",
        json!({ "input": app.enrollment_uri(), "serverUrl": null }),
    )
    .unwrap();
    let status = app.invoke("app_status", json!({})).unwrap();
    assert_eq!(status["update"], serde_json::Value::Null, "{status}");
    assert_eq!(
        status["default_server_url"],
        serde_json::Value::Null,
        "{status}"
    );

    // The fleet has published nothing: there is nothing to open, and a link the UI passes is
    // not taken instead.
    let err = app
        .invoke(
            "open_update",
            json!({ "url": "https://evil.example/doorstep.apk" }),
        )
        .unwrap_err();
    assert_eq!(err["code"], "update_url_refused", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("no update link"),
        "{err}"
    );
}

//! The fleet overlay example, `tauri.fleet.conf.json` (docs/mobile.md): merged into
//! `tauri.conf.json` the way the Tauri CLI merges `--config` files (a JSON merge patch, RFC 7396),
//! it gives a configuration Tauri accepts, with the fleet's name, identifier and icons, and the
//! icons it names exist.

use std::path::PathBuf;

use serde_json::Value;

fn repo_path(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn json_file(path: &str) -> Value {
    let text = std::fs::read_to_string(repo_path(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// RFC 7396: objects merge key by key, `null` removes a key, anything else replaces.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let target = target.as_object_mut().unwrap();
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

#[test]
fn the_merge_patch_follows_rfc_7396() {
    let mut target = serde_json::json!({ "a": { "b": 1, "c": 2 }, "d": [1, 2], "e": 3 });
    merge_patch(
        &mut target,
        &serde_json::json!({ "a": { "b": 9, "c": null }, "d": [3], "f": "x" }),
    );
    assert_eq!(
        target,
        serde_json::json!({ "a": { "b": 9 }, "d": [3], "e": 3, "f": "x" })
    );
}

#[test]
fn the_fleet_overlay_merges_into_a_valid_tauri_configuration_with_its_own_name_id_and_icons() {
    let base = json_file("tauri.conf.json");
    let overlay = json_file("tauri.fleet.conf.json");
    for key in ["productName", "identifier"] {
        assert!(
            overlay[key].as_str().is_some_and(|v| !v.trim().is_empty()),
            "tauri.fleet.conf.json sets {key}"
        );
        assert_ne!(
            overlay[key], base[key],
            "the example shows a {key} of its own"
        );
    }
    let icons = overlay["bundle"]["icon"]
        .as_array()
        .expect("tauri.fleet.conf.json sets bundle.icon");
    assert!(!icons.is_empty());

    let mut merged = base.clone();
    merge_patch(&mut merged, &overlay);
    let config: tauri::Config = serde_json::from_value(merged.clone())
        .unwrap_or_else(|e| panic!("the merged configuration is not one Tauri accepts: {e}"));
    assert_eq!(
        config.product_name.as_deref(),
        overlay["productName"].as_str()
    );
    assert_eq!(
        Some(config.identifier.as_str()),
        overlay["identifier"].as_str()
    );
    // What a fleet build keeps from the app's own configuration.
    assert_eq!(config.version, base["version"].as_str().map(str::to_string));
    assert_eq!(merged["app"]["security"], base["app"]["security"]);
    assert_eq!(merged["build"], base["build"]);

    // Android and iOS need a reverse-domain id: letters, digits and underscores in each of at
    // least two parts, none starting with a digit.
    let parts: Vec<&str> = config.identifier.split('.').collect();
    assert!(parts.len() >= 2, "{}", config.identifier);
    for part in parts {
        assert!(
            part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{} is not a valid app id part",
            part
        );
    }
    for icon in &config.bundle.icon {
        let path = repo_path(icon);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("icon {icon}: {e}"));
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "icon {icon} is a PNG (Tauri makes the platform icons from it)"
        );
    }
}

//! `docs/ipc.md` describes every command the UI may call: its command table lists exactly the
//! commands `src-tauri/capabilities/base.json` grants, and each of them is registered in the
//! shell (it answers with a contract error, not Tauri's "not found").

use std::path::PathBuf;

use serde_json::{Value, json};

fn repo_file(path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first column of the table under `## Commands` in docs/ipc.md.
fn documented_commands() -> Vec<String> {
    let doc = repo_file("docs/ipc.md");
    let section = doc
        .split("\n## Commands\n")
        .nth(1)
        .expect("docs/ipc.md has a `## Commands` section");
    let section = section.split("\n## ").next().unwrap();
    let mut commands: Vec<String> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `")?.split_once("` |"))
        .map(|(command, _)| command.to_string())
        .collect();
    commands.sort();
    commands
}

/// The app's own commands that the base capability grants (`allow-sync-now` → `sync_now`).
fn granted_commands() -> Vec<String> {
    let capability: Value =
        serde_json::from_str(&repo_file("src-tauri/capabilities/base.json")).unwrap();
    let mut commands: Vec<String> = capability["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str()?.strip_prefix("allow-"))
        .map(|p| p.replace('-', "_"))
        .collect();
    commands.sort();
    commands
}

#[test]
fn the_ipc_document_lists_exactly_the_commands_the_capabilities_grant() {
    assert_eq!(documented_commands(), granted_commands());
}

#[test]
fn every_documented_command_is_registered_in_the_shell() {
    // A store the shell cannot open: every command answers at once with the core's error,
    // without touching a server or the disk.
    let dir = tempfile::tempdir().unwrap();
    let db = rusqlite::Connection::open(dir.path().join("doorstep.sqlite3")).unwrap();
    db.pragma_update(None, "user_version", 9999).unwrap();
    drop(db);
    let (_app, webview) = crate::helpers::app_with_unopenable_store(dir.path());

    // Every argument any command takes; a command ignores the ones it does not.
    let args = json!({
        "input": "ABCD-1234", "serverUrl": null, "barcode": "X", "code": "1234567",
        "token": "X", "proof": { "recipient_name": "Ben" }, "photoPath": null,
        "reason": "not_home", "note": null, "location": null, "accepted": true,
        "eventId": "x", "correction": "wrong_door",
    });
    for command in documented_commands() {
        let answer = crate::helpers::invoke_on(&webview, &command, args.clone());
        let err = answer.expect_err("the store cannot be opened, so every command fails");
        assert!(
            err["code"].is_string() && err["message"].is_string(),
            "{command} is not answered by the shell: {err}"
        );
    }
}

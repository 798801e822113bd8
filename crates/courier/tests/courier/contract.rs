//! The IPC contract that the UI's tests hold their own copies to: `ui/tests/fixtures/contract.json`,
//! written from the Rust sources of truth (the error codes of [`AppErrorCode::ALL`], the Damm
//! table and check digits of `doorstep-protocol`).
//!
//! The committed file must equal what this test would write, so a change on the Rust side that
//! the UI has not followed fails here, and the UI's Vitest tests fail when its copies differ from
//! the file. After a deliberate change, regenerate it and commit it with the change:
//!
//! ```text
//! UPDATE_FIXTURES=1 cargo test -p doorstep-courier --test courier contract
//! ```

use std::path::PathBuf;

use doorstep_courier::AppErrorCode;
use doorstep_protocol::code::{MAX_RANDOM_DIGITS, MIN_RANDOM_DIGITS, damm_check_digit, damm_table};
use serde_json::{Value, json};

const REGENERATE: &str = "UPDATE_FIXTURES=1 cargo test -p doorstep-courier --test courier contract";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the fixture lives, from the repository root.
const FIXTURE: &str = "ui/tests/fixtures/contract.json";

/// A fixed xorshift64* stream, so the sample is the same on every run and every machine (and
/// does not move when the `rand` crate changes its generators).
fn sample_bodies(count: usize) -> Vec<Vec<u8>> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    // Every length a policy may ask for, in turn.
    let spread = MAX_RANDOM_DIGITS - MIN_RANDOM_DIGITS + 1;
    (0..count)
        .map(|i| {
            let len = MIN_RANDOM_DIGITS + i % spread;
            (0..len).map(|_| (next() % 10) as u8).collect()
        })
        .collect()
}

fn digits_text(digits: &[u8]) -> String {
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

/// The fixture as this build of the core would write it.
fn contract() -> Value {
    let samples: Vec<Value> = sample_bodies(20)
        .iter()
        .map(|body| {
            let check = damm_check_digit(body);
            json!({
                "body": digits_text(body),
                "check_digit": check,
                "code": format!("{}{check}", digits_text(body)),
            })
        })
        .collect();
    json!({
        "about": format!(
            "Written by crates/courier/tests/courier/contract.rs from the Rust sources; do not edit. Regenerate: {REGENERATE}"
        ),
        "error_codes": AppErrorCode::ALL,
        "reject_codes": doorstep_protocol::wire::RejectCode::ALL,
        "damm": {
            "table": damm_table(),
            "samples": samples,
        },
    })
}

#[test]
fn the_committed_ui_contract_fixture_matches_the_rust_sources() {
    let expected = serde_json::to_string_pretty(&contract()).unwrap() + "\n";
    let path = repo_root().join(FIXTURE);
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{FIXTURE} differs from the Rust sources (error codes or Damm check digits changed?).\n\
         Regenerate it with `{REGENERATE}`, then make the UI's tests pass (`npm --prefix ui test`)."
    );
}

#[test]
fn every_error_code_crosses_the_ipc_under_the_name_the_fixture_lists() {
    for code in AppErrorCode::ALL {
        let wire = serde_json::to_value(code).unwrap();
        assert_eq!(wire, Value::String(code.to_string()));
        let back: AppErrorCode = serde_json::from_value(wire).unwrap();
        assert_eq!(back, *code);
    }
}

#[test]
fn the_ipc_document_lists_exactly_the_error_codes() {
    let doc = std::fs::read_to_string(repo_root().join("docs/ipc.md")).unwrap();
    let section = doc
        .split("\n## Error codes\n")
        .nth(1)
        .expect("docs/ipc.md has an `## Error codes` section");
    let section = section.split("\n## ").next().unwrap();
    let documented: Vec<&str> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `")?.split_once("` |"))
        .map(|(code, _)| code)
        .collect();
    let codes: Vec<String> = AppErrorCode::ALL.iter().map(|c| c.to_string()).collect();
    assert_eq!(documented, codes, "the error code table in docs/ipc.md");
}

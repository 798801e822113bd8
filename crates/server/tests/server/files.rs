//! Files are private: the data directory, the database, photos and secrets are open to the
//! server's own user only, and the server refuses secrets that others can read.

use doorstep_server::{AppState, ServerConfig, ServerError};
use sha2::Digest;

use crate::helpers::{mode_of, set_mode, spawn_app_with};

#[tokio::test]
async fn the_data_directory_database_photos_and_secrets_are_private_to_the_server_user() {
    // A data directory the server makes itself (the temp dir is already 0700).
    let app = spawn_app_with(|c| c.data_dir = c.data_dir.join("data")).await;
    let device = app.device().await;
    let photo = b"\xff\xd8\xff private photo".to_vec();
    let sha = hex::encode(sha2::Sha256::digest(&photo));
    let r = app
        .client
        .put(app.url(&format!("/v1/photos/{sha}")))
        .bearer_auth(&device.token)
        .body(photo)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let dir = app.data_dir();
    let mut expected = vec![
        (dir.to_path_buf(), 0o700),
        (dir.join("doorstep.sqlite3"), 0o600),
        (dir.join("photos"), 0o700),
        (dir.join("photos").join(&sha), 0o600),
        (dir.join("secrets"), 0o700),
    ];
    for wal in ["doorstep.sqlite3-wal", "doorstep.sqlite3-shm"] {
        if dir.join(wal).exists() {
            expected.push((dir.join(wal), 0o600));
        }
    }
    for secret in std::fs::read_dir(dir.join("secrets")).unwrap() {
        expected.push((secret.unwrap().path(), 0o600));
    }
    assert!(expected.len() >= 8, "the secrets are there: {expected:?}");
    for (path, mode) in expected {
        assert_eq!(mode_of(&path), mode, "{}", path.display());
    }
}

#[test]
fn a_server_refuses_to_start_with_secrets_that_other_users_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::demo(dir.path());
    drop(AppState::open(config.clone()).expect("a fresh data directory opens"));

    let token = dir.path().join("secrets").join("admin.token");
    set_mode(&token, 0o644);
    let err = AppState::open(config.clone()).expect_err("a readable admin token is refused");
    let ServerError::Config(message) = &err else {
        panic!("a configuration error, not {err:?}");
    };
    assert!(
        message.contains(&format!("chmod 600 {}", token.display())),
        "the message names the file and the fix: {message}"
    );

    set_mode(&token, 0o600);
    let secrets = dir.path().join("secrets");
    set_mode(&secrets, 0o755);
    let err = AppState::open(config.clone()).expect_err("an open secrets directory is refused");
    assert!(
        err.to_string()
            .contains(&format!("chmod 700 {}", secrets.display())),
        "{err}"
    );

    set_mode(&secrets, 0o700);
    assert!(
        AppState::open(config).is_ok(),
        "the fix the message names works"
    );
}

#[test]
fn a_database_left_readable_by_an_older_server_is_made_private_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::demo(dir.path());
    drop(AppState::open(config.clone()).unwrap());
    let db = dir.path().join("doorstep.sqlite3");
    set_mode(&db, 0o644);
    std::fs::create_dir(dir.path().join("photos")).unwrap();
    set_mode(&dir.path().join("photos"), 0o755);

    drop(AppState::open(config).unwrap());
    assert_eq!(mode_of(&db), 0o600);
    assert_eq!(mode_of(&dir.path().join("photos")), 0o700);
}

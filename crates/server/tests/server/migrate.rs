//! `doorstep-server migrate`: a fleet moves from its SQLite file to PostgreSQL, every table
//! checked, and then answers every request as it did on SQLite. A target that holds data and
//! a source that cannot be copied whole are refused, and nothing is written.
//!
//! These tests always need PostgreSQL (`DOORSTEP_TEST_POSTGRES_URL`, default
//! `postgres://root@127.0.0.1:5432/postgres`); the source is SQLite whatever
//! `DOORSTEP_TEST_DATABASE` says.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use doorstep_protocol::wire::{
    DeliveryEvent, EventBody, EventResult, EventStatus, ExceptionReason, GENESIS_HASH, Platform,
    SyncResponse, Verification,
};
use doorstep_protocol::{HandoverToken, ParcelId, StopId};
use doorstep_server::domain::accounts::Role;
use doorstep_server::store::Location;
use doorstep_server::testing::{TestPostgres, TestServer, spawn_test_server};
use doorstep_server::{Clock, DemoParcel, ManualClock};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::{DATE, MORNING_MS, delivered, wrong_code};

/// Runs `doorstep-server migrate --from FROM --to URL EXTRA…`: (success, stdout, stderr).
async fn migrate(from: String, to: &str, extra: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_doorstep-server"));
    cmd.args(["migrate", "--from", &from, "--to", to])
        .args(extra)
        .env_remove("DOORSTEP_SECRETS_DIR")
        .env_remove("DOORSTEP_DATABASE_URL");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sqlite_source(dir: &Path) -> String {
    format!("sqlite:{}", dir.display())
}

/// A SQLite test server on the demo day with a clock that stands still (the PostgreSQL
/// server after it gets the same clock, so both answer at the same moment).
async fn sqlite_server(clock: &Arc<ManualClock>) -> TestServer {
    spawn_test_server(DATE, |config| {
        config.clock = clock.clone();
        // The source is SQLite even when the suite runs on PostgreSQL.
        config.database = None;
    })
    .await
}

/// Runs `sql` on the PostgreSQL database at `url` as it is; its rows.
async fn query(url: &str, sql: &str) -> Vec<Vec<doorstep_server::store::backend::sql::Value>> {
    let location = Location::Postgres(url.to_string());
    let owned = sql.to_string();
    tokio::task::spawn_blocking(move || {
        location.with_connection(|db| {
            Ok(db
                .query(&owned, Vec::new())?
                .into_iter()
                .map(|r| r.0)
                .collect())
        })
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Rows of every table of the target's schema, by table.
async fn target_counts(url: &str) -> Vec<(String, i64)> {
    use doorstep_server::store::backend::sql::Value as V;
    let tables = query(
        url,
        "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
         WHERE table_schema = current_schema() ORDER BY table_name",
    )
    .await;
    let mut counts = Vec::new();
    for t in tables {
        let V::Text(name) = &t[0] else { panic!() };
        let n = match query(url, &format!("SELECT COUNT(*) FROM {name}")).await[0][0] {
            V::Int(n) => n,
            ref v => panic!("{v:?}"),
        };
        counts.push((name.clone(), n));
    }
    counts
}

/// A phone of the test: its key, token and record chain.
#[derive(Clone)]
struct Phone {
    device_id: String,
    token: String,
    key: SigningKey,
    seq: u64,
    last_hash: String,
}

impl Phone {
    fn event(
        &mut self,
        stop: StopId,
        parcels: &[ParcelId],
        body: EventBody,
        at_ms: i64,
    ) -> DeliveryEvent {
        crate::helpers::chain_event(
            &self.key,
            &mut self.seq,
            &mut self.last_hash,
            stop,
            parcels,
            body,
            at_ms,
        )
    }
}

/// Requests to one server, as the fleet's people and phones make them.
struct Fleet<'a> {
    server: &'a TestServer,
    http: reqwest::Client,
}

impl<'a> Fleet<'a> {
    fn new(server: &'a TestServer) -> Self {
        Self {
            server,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    fn parcel(&self, label: &str) -> &'a DemoParcel {
        self.server
            .seed
            .parcels
            .iter()
            .find(|p| p.label.contains(label))
            .unwrap_or_else(|| panic!("no demo parcel labelled {label:?}"))
    }

    /// An answer's status and body, every loopback server address in it replaced: each
    /// restart gets a new port, and messages keep the address of the server that wrote them
    /// (which a later restart may get again).
    async fn answer(&self, r: reqwest::Response) -> (u16, String) {
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        (status, without_ports(&body))
    }

    async fn admin_get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.server.seed.admin_token)
            .send()
            .await
            .unwrap();
        self.answer(r).await
    }

    async fn admin_post(&self, path: &str, body: Value) -> (u16, String) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.server.seed.admin_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        self.answer(r).await
    }

    async fn shipper_get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.server.seed.shipper_api_key)
            .send()
            .await
            .unwrap();
        self.answer(r).await
    }

    async fn page(&self, path: &str) -> (u16, String) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        self.answer(r).await
    }

    async fn phone_get(&self, phone: &Phone, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&phone.token)
            .send()
            .await
            .unwrap();
        self.answer(r).await
    }

    async fn phone_post(&self, phone: &Phone, path: &str, body: Value) -> (u16, String) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(&phone.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        self.answer(r).await
    }

    /// Enrolls a new phone for the demo courier.
    async fn enroll(&self) -> Phone {
        let (status, body) = self
            .admin_post(
                "/v1/admin/enrollments",
                json!({ "courier_id": self.server.seed.courier_id }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let code = serde_json::from_str::<Value>(&body).unwrap()["enrollment_code"]
            .as_str()
            .unwrap()
            .to_string();
        let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        let r = self
            .http
            .post(self.url("/v1/devices/enroll"))
            .json(&json!({
                "enrollment_code": code,
                "device_public_key": hex::encode(key.verifying_key().as_bytes()),
                "app_version": "0.1.0",
                "platform": "linux",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let enrolled = r.json::<Value>().await.unwrap();
        Phone {
            device_id: enrolled["device_id"].as_str().unwrap().to_string(),
            token: enrolled["device_token"].as_str().unwrap().to_string(),
            key,
            seq: 0,
            last_hash: GENESIS_HASH.to_string(),
        }
    }

    async fn verify(&self, phone: &Phone, parcel: ParcelId, code: &str) -> Value {
        let (status, body) = self
            .phone_post(
                phone,
                "/v1/verify",
                json!({ "parcel_id": parcel, "code": code }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    async fn sync(&self, phone: &Phone, events: &[DeliveryEvent]) -> Vec<EventResult> {
        let (status, body) = self
            .phone_post(
                phone,
                "/v1/sync",
                json!({ "app_version": "0.1.0", "platform": Platform::Linux, "events": events }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<SyncResponse>(&body).unwrap().results
    }

    async fn upload_photo(&self, phone: &Phone, photo: &[u8]) -> String {
        let sha = hex::encode(sha2::Sha256::digest(photo));
        let r = self
            .http
            .put(self.url(&format!("/v1/photos/{sha}")))
            .bearer_auth(&phone.token)
            .body(photo.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        sha
    }

    async fn token_on_customer_page(&self, parcel: &DemoParcel) -> HandoverToken {
        let url = self.url(&parcel.customer_url[parcel.customer_url.find("/c/").unwrap()..]);
        let html = self
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let start = html.find("<code data-token>").expect("a QR token") + "<code data-token>".len();
        HandoverToken::from_text(&html[start..start + html[start..].find("</code>").unwrap()])
    }

    /// Waits until the outbox worker has nothing left to do at this (standing) time: every
    /// message sent, tried or dropped, twice in a row.
    async fn settle_outbox(&self) {
        let mut last = String::new();
        for _ in 0..100 {
            let (_, now) = self.admin_get("/v1/admin/outbox").await;
            let entries: Vec<Value> = serde_json::from_str(&now).unwrap();
            let idle = entries.iter().all(|m| {
                m["sent"] == true || m["attempts"].as_u64() > Some(0) || !m["dropped"].is_null()
            });
            if idle && now == last {
                return;
            }
            last = now;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the outbox did not settle: {last}");
    }
}

/// What the fleet did on SQLite: phones enrolled, codes checked wrong and right, handovers
/// with a code, a photo and a customer's QR, and a phone whose chain broke and was accepted
/// by the fleet manager (the audit log).
async fn fleet_activity(fleet: &Fleet<'_>, clock: &ManualClock) -> Phone {
    // Time moves on between the steps, as it does: nothing happens twice in one millisecond.
    let tick = || clock.advance_ms(1_000);
    // The console's accounts: a setup link, a user and their session.
    let store = fleet.server.open_store().await.unwrap();
    let now = clock.now_ms();
    tokio::task::spawn_blocking(move || {
        store.create_setup_link("a setup token", now)?;
        let hash =
            doorstep_server::domain::accounts::hash_password("a long password", &[1; 16]).unwrap();
        let user = store.add_user("alice", Role::Owner, &hash, "test", now)?;
        store.start_session(&user, "a session token", now)
    })
    .await
    .unwrap()
    .unwrap();
    let mut phone = fleet.enroll().await;

    let required = fleet.parcel("shipper requires");
    let code = required.code.clone().unwrap();
    let wrong = fleet
        .verify(&phone, required.parcel_id, &wrong_code(&code))
        .await;
    assert_eq!(wrong["result"], "wrong", "{wrong}");
    let right = fleet.verify(&phone, required.parcel_id, &code).await;
    assert_eq!(right["result"], "verified", "{right}");
    let with_code = phone.event(
        required.stop_id,
        &[required.parcel_id],
        delivered(Verification::OnlineCode {
            verification_id: right["verification_id"].as_str().unwrap().into(),
        }),
        clock.now_ms(),
    );

    let low = fleet.parcel("low value");
    let without_code = phone.event(
        low.stop_id,
        &[low.parcel_id],
        delivered(Verification::NotRequired),
        clock.now_ms(),
    );

    tick();
    let high = fleet.parcel("high value");
    let photo = fleet
        .upload_photo(&phone, b"\xff\xd8\xff a photo of the door")
        .await;
    let right = fleet
        .verify(&phone, high.parcel_id, high.code.as_deref().unwrap())
        .await;
    let with_photo = phone.event(
        high.stop_id,
        &[high.parcel_id],
        EventBody::Delivered {
            verification: Verification::OnlineCode {
                verification_id: right["verification_id"].as_str().unwrap().into(),
            },
            recipient_name: "R. Ecipient".into(),
            photo_sha256: Some(photo),
            method: None,
            place: None,
            signature_sha256: None,
            contents_photo_sha256: None,
            id_check: None,
        },
        clock.now_ms(),
    );

    let pickup = fleet.parcel("pickup point");
    let token = fleet.token_on_customer_page(pickup).await;
    let with_qr = phone.event(
        pickup.stop_id,
        &[pickup.parcel_id],
        delivered(Verification::Token { token }),
        clock.now_ms(),
    );
    // A parcel not on the route reported, and the van checked in at the depot (issue 11).
    let stray = phone.event(
        StopId::NIL,
        &[],
        EventBody::Unexpected {
            barcode: "STRAY-0001".into(),
            photo_sha256: None,
            note: Some("under the seat".into()),
        },
        clock.now_ms(),
    );
    let check_in = phone.event(
        StopId::NIL,
        &[],
        EventBody::DepotCheckIn {
            date: DATE.into(),
            barcodes: vec!["STRAY-0001".into()],
        },
        clock.now_ms(),
    );
    let results = fleet
        .sync(
            &phone,
            &[
                with_code,
                without_code,
                with_photo,
                with_qr,
                stray,
                check_in,
            ],
        )
        .await;
    assert!(
        results.iter().all(|r| r.status == EventStatus::Accepted),
        "{results:?}"
    );

    // A second phone restored from an old backup: its chain breaks, the fleet manager
    // accepts it, and the held records arrive marked for review.
    tick();
    let mut restored = fleet.enroll().await;
    let safe = fleet.parcel("safe place");
    let first = restored.event(
        safe.stop_id,
        &[safe.parcel_id],
        delivered(Verification::NotRequired),
        clock.now_ms(),
    );
    tick();
    assert_eq!(
        fleet.sync(&restored, &[first]).await[0].status,
        EventStatus::Accepted
    );
    restored.seq = 0;
    restored.last_hash = GENESIS_HASH.to_string();
    let two = fleet.parcel("no code: two parcels, one stop");
    let held = vec![restored.event(
        two.stop_id,
        &[two.parcel_id],
        delivered(Verification::NotRequired),
        clock.now_ms(),
    )];
    tick();
    assert!(matches!(
        fleet.sync(&restored, &held).await[0].status,
        EventStatus::Retry { .. }
    ));
    tick();
    let (status, body) = fleet
        .admin_post(
            &format!("/v1/admin/devices/{}/accept-chain", restored.device_id),
            json!({}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    tick();
    assert_eq!(
        fleet.sync(&restored, &held).await[0].status,
        EventStatus::Accepted
    );
    // The release channel: a link release at half rollout, a minimum, a release token (the
    // phone's manifest then carries a policy the copy must give the same way).
    let mut config = fleet.server.config.clone();
    config.release_link_hosts = vec!["downloads.example.com".into()];
    tokio::task::spawn_blocking(move || {
        use doorstep_server::ops::releases::{ReleaseOp, run};
        let platform = doorstep_protocol::wire::Platform::Linux;
        for op in [
            ReleaseOp::Publish {
                platform,
                version: semver::Version::new(0, 1, 0),
                file: None,
                url: Some("https://downloads.example.com/doorstep-0.1.0.AppImage".into()),
                rollout_percent: 100,
            },
            ReleaseOp::Publish {
                platform,
                version: semver::Version::new(0, 2, 0),
                file: None,
                url: Some("https://downloads.example.com/doorstep-0.2.0.AppImage".into()),
                rollout_percent: 50,
            },
            ReleaseOp::Minimum {
                platform,
                version: Some(semver::Version::new(0, 1, 0)),
            },
            ReleaseOp::Token { label: "ci".into() },
        ] {
            run(&config, op).unwrap();
        }
    })
    .await
    .unwrap();
    // The day's numbers, rolled up as the numbers page does once the day is over.
    let store = fleet.server.open_store().await.unwrap();
    let now = clock.now_ms();
    tokio::task::spawn_blocking(move || store.numbers(&[DATE.to_string()], "9999-12-31", now))
        .await
        .unwrap()
        .unwrap();
    fleet.settle_outbox().await;
    phone
}

/// The same requests to a server, and its answers: what the courier's phone, the shipper and
/// the fleet manager see, wrong codes and the phone's next record `next` (which change the
/// database the same way on both), and what they see after.
async fn questions(
    fleet: &Fleet<'_>,
    phone: &Phone,
    next: &DeliveryEvent,
) -> Vec<(String, (u16, String))> {
    let mut answers = Vec::new();
    let manifest = format!("/v1/manifest?date={DATE}");
    answers.push(("manifest".into(), fleet.phone_get(phone, &manifest).await));
    for p in &fleet.server.seed.parcels {
        answers.push((
            format!("parcel {}", p.label),
            fleet
                .shipper_get(&format!("/v1/parcels/{}", p.parcel_id))
                .await,
        ));
    }
    for path in [
        format!("/v1/admin/deliveries?date={DATE}"),
        "/v1/admin/deliveries".to_string(),
        "/v1/admin/devices".to_string(),
        "/v1/admin/outbox".to_string(),
    ] {
        answers.push((path.clone(), fleet.admin_get(&path).await));
    }
    answers.push(("dev outbox".into(), fleet.page("/v1/dev/outbox").await));
    answers.push((
        "fleet page".into(),
        fleet.page(&format!("/fleet?date={DATE}")).await,
    ));

    // A wrong code spends an attempt of the same counter on both.
    let asked = fleet.parcel("recipient asked for one");
    for _ in 0..2 {
        let v = fleet
            .verify(
                phone,
                asked.parcel_id,
                &wrong_code(asked.code.as_deref().unwrap()),
            )
            .await;
        answers.push(("wrong code".into(), (200, v.to_string())));
    }
    // The phone's chain continues where it was (its head is a keyed hash in the database).
    let results = fleet.sync(phone, std::slice::from_ref(next)).await;
    assert_eq!(results[0].status, EventStatus::Accepted, "{results:?}");
    answers.push(("sync".into(), (200, format!("{results:?}"))));
    answers.push((
        "manifest after".into(),
        fleet.phone_get(phone, &manifest).await,
    ));
    answers.push((
        "fleet page after".into(),
        fleet.page(&format!("/fleet?date={DATE}")).await,
    ));
    answers
}

/// Where two answers part, with some context.
fn first_difference(a: &str, b: &str) -> String {
    let at = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((i, _), _)| i);
    let from = a[..at].char_indices().rev().nth(150).map_or(0, |(i, _)| i);
    let end = |s: &str| {
        s[at..]
            .char_indices()
            .nth(300)
            .map_or(s.len(), |(i, _)| at + i)
    };
    format!(
        "at byte {at}:\n  sqlite:   …{}…\n  postgres: …{}…",
        &a[from..end(a)],
        &b[from.min(b.len())..end(b)]
    )
}

/// The rows of the migrate command's table: (table, rows, ok).
fn table_lines(stdout: &str) -> Vec<(String, u64, bool)> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("table "))
        .skip(1)
        .take_while(|l| !l.starts_with("total"))
        .map(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            (
                cells[0].to_string(),
                cells[1].parse().unwrap(),
                cells.get(3) == Some(&"ok"),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_fleet_moved_from_sqlite_to_postgres_answers_as_before() {
    let target = TestPostgres::create();
    let clock = Arc::new(ManualClock::new(MORNING_MS));
    let mut server = sqlite_server(&clock).await;
    let phone = fleet_activity(&Fleet::new(&server), &clock).await;
    server.stop().await;

    let started = std::time::Instant::now();
    let (ok, stdout, stderr) = migrate(sqlite_source(server.data_dir()), &target.url, &[]).await;
    let took = started.elapsed();
    assert!(ok, "{stdout}\n{stderr}");
    eprintln!("migrate took {took:?}:\n{stdout}");
    assert!(
        stdout.contains("Every table matched: 26 tables"),
        "{stdout}"
    );
    let tables = table_lines(&stdout);
    let names: Vec<&str> = tables.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(
        names,
        doorstep_server::store::sqlite_to_postgres::TABLES,
        "{stdout}"
    );
    assert!(tables.iter().all(|(_, _, ok)| *ok), "{stdout}");
    for (table, rows, _) in &tables {
        assert!(*rows > 0, "the activity left rows in {table}: {stdout}");
    }
    for said in [
        "Photos are files",
        "photos (1 file, 23 bytes)",
        "secrets",
        "--database postgres://",
    ] {
        assert!(stdout.contains(said), "{said:?}: {stdout}");
    }
    assert!(
        !stdout.contains("password") && !stdout.contains("search_path"),
        "the URL is shown without its password or options: {stdout}"
    );

    // The same requests to the SQLite server (started again on the file that was copied)
    // and to a server on PostgreSQL with the same data directory and secrets.
    let asked = Fleet::new(&server).parcel("recipient asked for one");
    let next = phone.clone().event(
        asked.stop_id,
        &[asked.parcel_id],
        EventBody::Failed {
            reason: ExceptionReason::NotHome,
            note: None,
            photo_sha256: None,
            id_check: None,
        },
        clock.now_ms(),
    );
    let server = server.restart(|_| {}).await;
    let on_sqlite = questions(&Fleet::new(&server), &phone, &next).await;
    let (_, health) = Fleet::new(&server).page("/v1/health").await;
    assert!(health.contains("sqlite"), "{health}");
    let mut server = server;
    server.stop().await;
    server.config.database = Some(target.url.clone());
    let mut server = server.restart(|_| {}).await;
    let fleet = Fleet::new(&server);
    let (_, health) = fleet.page("/v1/health").await;
    assert!(health.contains("postgres"), "{health}");
    let on_postgres = questions(&fleet, &phone, &next).await;
    assert_eq!(on_sqlite.len(), on_postgres.len());
    for ((what, before), (_, after)) in on_sqlite.iter().zip(&on_postgres) {
        assert_eq!(before.0, 200, "{what}: {}", before.1);
        assert!(
            before == after,
            "{what} answers the same on PostgreSQL: {}",
            first_difference(&before.1, &after.1)
        );
    }
    let wrong: Vec<&(String, (u16, String))> = on_postgres
        .iter()
        .filter(|(w, _)| w == "wrong code")
        .collect();
    assert!(
        wrong[0].1.1.contains("\"attempts_left\""),
        "the wrong code's answer says the attempts left: {}",
        wrong[0].1.1
    );

    // New rows get new ids on PostgreSQL: the identity sequences start after the copied ones.
    let (status, body) = {
        let r = fleet
            .http
            .post(fleet.url("/v1/parcels"))
            .bearer_auth(&server.seed.shipper_api_key)
            .json(&json!({
                "barcode": "MIGRATED-0001",
                "recipient": { "name": "Joan Clarke", "email": "joan@example.com" },
                "address": "1 Bletchley Park",
                "postal_code": "MK3",
                "method": "hand_to_recipient",
                "delivery_date": DATE,
                "recipient_requested_code": true,
                "courier_id": server.seed.courier_id,
            }))
            .send()
            .await
            .unwrap();
        fleet.answer(r).await
    };
    assert_eq!(status, 201, "{body}");
    let stop = serde_json::from_str::<Value>(&body).unwrap()["stop_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut sent = false;
    for _ in 0..100 {
        let (_, messages) = fleet.page("/v1/dev/outbox").await;
        if messages.contains(&stop) {
            sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sent, "the new parcel's code message went out on PostgreSQL");
    server.stop().await;
}

#[tokio::test]
async fn a_second_migration_into_a_database_with_data_is_refused_and_changes_nothing() {
    let target = TestPostgres::create();
    let clock = Arc::new(ManualClock::new(MORNING_MS));
    let mut server = sqlite_server(&clock).await;
    server.stop().await;
    let (ok, stdout, stderr) = migrate(sqlite_source(server.data_dir()), &target.url, &[]).await;
    assert!(ok, "{stdout}\n{stderr}");
    let before = target_counts(&target.url).await;
    assert!(before.contains(&("parcels".to_string(), 13)), "{before:?}");

    let (ok, stdout, stderr) = migrate(sqlite_source(server.data_dir()), &target.url, &[]).await;
    assert!(!ok, "a second run is refused: {stdout}");
    for said in ["is not empty", "parcels (13 rows)", "changed nothing"] {
        assert!(stderr.contains(said), "{said:?}: {stderr}");
    }
    assert_eq!(target_counts(&target.url).await, before, "nothing changed");
}

/// A copy of the stopped server's database in a directory of its own, changed by `change`.
fn changed_copy(server: &TestServer, into: &Path, change: &str) -> PathBuf {
    std::fs::create_dir_all(into).unwrap();
    let copy = into.join("doorstep.sqlite3");
    let conn = rusqlite::Connection::open(server.data_dir().join("doorstep.sqlite3")).unwrap();
    conn.execute("VACUUM INTO ?1", [copy.to_str().unwrap()])
        .unwrap();
    drop(conn);
    rusqlite::Connection::open(&copy)
        .unwrap()
        .execute_batch(change)
        .unwrap();
    copy
}

#[tokio::test]
async fn a_source_that_cannot_be_copied_whole_is_refused_and_nothing_is_written() {
    let target = TestPostgres::create();
    let clock = Arc::new(ManualClock::new(MORNING_MS));
    let mut server = sqlite_server(&clock).await;
    server.stop().await;
    let scratch = tempfile::tempdir().unwrap();
    let secrets = server.data_dir().join("secrets");
    let secrets_arg = secrets.to_str().unwrap();
    let other_secrets = scratch.path().join("other-secrets");
    doorstep_server::sys::secrets::Secrets::load_or_create(&other_secrets).unwrap();

    for (name, change, secrets_dir, said) in [
        (
            "unknown table",
            "CREATE TABLE parcel_notes (id TEXT PRIMARY KEY, note TEXT NOT NULL); \
             INSERT INTO parcel_notes VALUES ('n1', 'ring twice');",
            secrets_arg,
            vec!["does not know: parcel_notes", "copies nothing"],
        ),
        (
            "older",
            "PRAGMA user_version = 4;",
            secrets_arg,
            vec!["schema version 4", "Start the current server on it once"],
        ),
        (
            "newer",
            "PRAGMA user_version = 99;",
            secrets_arg,
            vec!["schema version 99", "newer server"],
        ),
        (
            "other secrets",
            "",
            other_secrets.to_str().unwrap(),
            vec!["are not the ones", "--secrets-dir"],
        ),
    ] {
        let copy = changed_copy(
            &server,
            &scratch.path().join(name.replace(' ', "-")),
            change,
        );
        let (ok, stdout, stderr) = migrate(
            format!("sqlite:{}", copy.display()),
            &target.url,
            &["--secrets-dir", secrets_dir],
        )
        .await;
        assert!(!ok, "{name}: refused: {stdout}");
        for s in said {
            assert!(stderr.contains(s), "{name}: {s:?}: {stderr}");
        }
        assert_eq!(
            target_counts(&target.url).await,
            Vec::new(),
            "{name}: nothing was written to the target, not even its schema"
        );
    }

    // The unchanged copy goes through (the refusals were about the changes).
    let copy = changed_copy(&server, &scratch.path().join("unchanged"), "");
    let (ok, stdout, stderr) = migrate(
        format!("sqlite:{}", copy.display()),
        &target.url,
        &["--secrets-dir", secrets_arg],
    )
    .await;
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("Every table matched"), "{stdout}");
}

#[tokio::test]
async fn a_copy_that_does_not_read_back_the_same_is_rolled_back() {
    let target = TestPostgres::create();
    let clock = Arc::new(ManualClock::new(MORNING_MS));
    let mut server = sqlite_server(&clock).await;
    server.stop().await;
    // A target prepared by a node of this fleet (the schema and the secrets fingerprint) that
    // also holds a fleet setting the source does not have: no table has rows, so the copy
    // goes ahead, and the check finds the difference.
    let secrets = server.data_dir().join("secrets");
    let url = target.url.clone();
    tokio::task::spawn_blocking(move || {
        let secrets = doorstep_server::sys::secrets::Secrets::load_or_create(&secrets).unwrap();
        let location = Location::Postgres(url);
        let settings = doorstep_server::store::StoreSettings {
            public_url: String::new(),
            time_zone: doorstep_server::domain::zone::FleetZone::utc(),
            policy: doorstep_server::Policy::default(),
            customers: Default::default(),
            verification_ttl_ms: 1000,
            offline_window_ms: 1000,
            random: doorstep_server::Randomness::os(),
            pool_size: 2,
        };
        drop(doorstep_server::store::Store::open(&location, secrets, settings).unwrap());
        location
            .with_connection(|db| {
                Ok(db.exec(
                    "INSERT INTO fleet_settings (key, value) VALUES ('left_over', 'x')",
                    Vec::new(),
                )?)
            })
            .unwrap();
    })
    .await
    .unwrap();
    let before = target_counts(&target.url).await;

    let (ok, stdout, stderr) = migrate(sqlite_source(server.data_dir()), &target.url, &[]).await;
    assert!(!ok, "{stdout}");
    for said in [
        "differs from the source in fleet_settings",
        "nothing was copied",
        "rolled back",
        "MISMATCH: the target has 2 rows",
    ] {
        assert!(stderr.contains(said), "{said:?}: {stderr}");
    }
    assert!(
        stderr.lines().any(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.first() == Some(&"fleet_settings") && cells.get(1) == Some(&"1")
        }),
        "the table row of fleet_settings with its 1 source row: {stderr}"
    );
    assert_eq!(
        target_counts(&target.url).await,
        before,
        "nothing of the copy stayed"
    );
    assert!(before.contains(&("parcels".to_string(), 0)), "{before:?}");
}

/// `text` with every `http://127.0.0.1:PORT` written `http://SERVER`.
fn without_ports(text: &str) -> String {
    const HOST: &str = "http://127.0.0.1:";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(HOST) {
        out.push_str(&rest[..at]);
        out.push_str("http://SERVER");
        rest = rest[at + HOST.len()..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

#[test]
fn addresses_are_written_without_their_ports() {
    assert_eq!(
        without_ports("a http://127.0.0.1:4567/c/x and http://127.0.0.1:80, http://example.com"),
        "a http://SERVER/c/x and http://SERVER, http://example.com"
    );
}

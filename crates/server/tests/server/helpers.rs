//! `spawn_app()`: a real server on port 0 with a fresh data directory, a seeded demo route
//! and a clock the test controls; plus a device helper that enrolls and signs events.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use doorstep_protocol::code::damm_check_digit;
use doorstep_protocol::wire::{
    DeliveryEvent, EnrollResponse, EventBody, EventResult, EventStatus, ExceptionReason,
    GENESIS_HASH, Location, Platform, SyncResponse, Verification,
};
use doorstep_protocol::{EventId, ParcelId, StopId};
use doorstep_server::domain::accounts::Role;
use doorstep_server::testing::{TestServer, spawn_test_server};
use doorstep_server::{DemoParcel, DemoSeed, ManualClock, ServerConfig};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

/// The demo day every test uses, and 08:00 UTC on it.
pub const DATE: &str = "2026-11-25";
pub const MORNING_MS: i64 = 1_795_564_800_000 + 8 * 3_600_000;

/// Everything the server logged during the test run (all tests share one buffer).
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.get_or_init(Default::default).lock().unwrap()).into_owned()
}

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let buf = LOGS.get_or_init(Default::default).clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug,hyper=info,h2=info,rustls=info,reqwest=info")
            .with_ansi(false)
            .with_writer(move || LogWriter(buf.clone()))
            .try_init();
    });
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub seed: DemoSeed,
    pub clock: Arc<ManualClock>,
    pub server: TestServer,
    /// The console session of [`USER`], an owner, made at first use.
    session: Arc<tokio::sync::OnceCell<String>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The shared test server on the demo day, with a clock the test moves by hand.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut ServerConfig)) -> TestApp {
    init_logs();
    let clock = Arc::new(ManualClock::new(MORNING_MS));
    let server = spawn_test_server(DATE, |config| {
        config.clock = clock.clone();
        tweak(config);
    })
    .await;
    TestApp::on(server, clock)
}

impl TestApp {
    /// A test app on a server already started, whose clock is `clock`.
    pub fn on(server: TestServer, clock: Arc<ManualClock>) -> TestApp {
        TestApp {
            base: server.url(),
            client: reqwest::Client::new(),
            seed: server.seed.clone(),
            clock,
            server,
            session: Arc::default(),
        }
    }

    /// Stops the server, runs `between` on its data directory, and starts it again on a
    /// new port with the same data, seed and clock.
    pub async fn restart(self, between: impl FnOnce(&std::path::Path)) -> TestApp {
        let server = self.server.restart(between).await;
        TestApp {
            base: server.url(),
            server,
            ..self
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn parcel(&self, label_part: &str) -> &DemoParcel {
        self.seed
            .parcels
            .iter()
            .find(|p| p.label.contains(label_part))
            .unwrap_or_else(|| panic!("no demo parcel labelled {label_part:?}"))
    }

    /// The text of `GET path` (a page), whatever its status.
    pub async fn get_text(&self, path: &str) -> String {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn admin_get(&self, path: &str) -> Value {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(&self.seed.admin_token)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// A shipper whose webhooks go to `url`: its JSON (`api_key`, `webhook_secret`, ...).
    pub async fn hooked_shipper(&self, url: &str) -> Value {
        let r = self
            .admin_post(
                "/v1/admin/shippers",
                json!({ "name": "Hooked Shop", "webhook_url": url }),
            )
            .await;
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    /// `POST /v1/parcels` as the shipper whose API key is `api_key`: the created parcel.
    pub async fn create_parcel(&self, api_key: &str, parcel: Value) -> Value {
        let r = self
            .client
            .post(self.url("/v1/parcels"))
            .bearer_auth(api_key)
            .json(&parcel)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.seed.admin_token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Enrolls a phone with the seeded enrollment code... which is single use, so this
    /// makes a fresh code for the demo courier first.
    pub async fn device(&self) -> Device {
        self.device_for(self.seed.courier_id.to_string()).await
    }

    /// A phone of the demo courier on `platform` (`android`, `ios`, ...) that reports app
    /// `version` at enrollment.
    pub async fn device_running(&self, platform: &str, version: &str) -> Device {
        let code = self.enrollment_code(self.seed.courier_id.to_string()).await;
        self.enroll_as(&code, platform, version)
            .await
            .expect("enrollment works")
    }

    pub async fn device_for(&self, courier_id: String) -> Device {
        let code = self.enrollment_code(courier_id).await;
        self.enroll(&code).await.expect("enrollment works")
    }

    /// A fresh single-use enrollment code for a courier (admin API).
    pub async fn enrollment_code(&self, courier_id: String) -> String {
        let r = self
            .admin_post("/v1/admin/enrollments", json!({ "courier_id": courier_id }))
            .await;
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["enrollment_code"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn enroll(&self, code: &str) -> Result<Device, reqwest::Response> {
        self.enroll_as(code, "linux", "0.1.0").await
    }

    pub async fn enroll_as(
        &self,
        code: &str,
        platform: &str,
        version: &str,
    ) -> Result<Device, reqwest::Response> {
        let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        let r = self
            .client
            .post(self.url("/v1/devices/enroll"))
            .json(&json!({
                "enrollment_code": code,
                "device_public_key": hex::encode(key.verifying_key().as_bytes()),
                "app_version": version,
                "platform": platform,
            }))
            .send()
            .await
            .unwrap();
        if r.status() != 200 {
            return Err(r);
        }
        let e: EnrollResponse = r.json().await.unwrap();
        Ok(Device {
            device_id: e.device_id.to_string(),
            token: e.device_token,
            key,
            seq: 0,
            last_hash: GENESIS_HASH.to_string(),
            client: self.client.clone(),
            base: self.base.clone(),
        })
    }

    /// Waits (bounded) until the dev outbox holds a message for `stop` beyond `skip`, and
    /// returns the code in it.
    pub async fn code_from_dev_outbox(&self, stop: StopId, at_least: usize) -> String {
        for _ in 0..200 {
            let msgs: Value = self
                .client
                .get(self.url("/v1/dev/outbox"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let for_stop: Vec<&Value> = msgs
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["stop_id"] == json!(stop.to_string()) && m["channel"] == "email")
                .collect();
            if for_stop.len() >= at_least {
                // Newest first.
                return extract_code(for_stop[0]["body"].as_str().unwrap())
                    .expect("a code in the message");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no message for the stop arrived in the dev outbox");
    }
}

/// Finds "code is 123 4567" in a message (quoted-printable soft breaks removed).
pub fn extract_code(body: &str) -> Option<String> {
    let body = body.replace("=\r\n", "").replace("=\n", "");
    let start = body.find("code is ")? + "code is ".len();
    let digits: String = body[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ' ')
        .filter(char::is_ascii_digit)
        .collect();
    (!digits.is_empty()).then_some(digits)
}

/// A code that passes the check digit but is not `code`.
pub fn wrong_code(code: &str) -> String {
    let mut digits: Vec<u8> = code.bytes().map(|b| b - b'0').collect();
    digits.pop();
    digits[0] = (digits[0] + 1) % 10;
    let check = damm_check_digit(&digits);
    digits.push(check);
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

pub struct Device {
    pub device_id: String,
    pub token: String,
    pub key: SigningKey,
    pub seq: u64,
    pub last_hash: String,
    client: reqwest::Client,
    base: String,
}

impl Device {
    /// The same phone (key, token, chain) talking to another node.
    pub fn at(&self, base: &str) -> Device {
        Device {
            device_id: self.device_id.clone(),
            token: self.token.clone(),
            key: self.key.clone(),
            seq: self.seq,
            last_hash: self.last_hash.clone(),
            client: self.client.clone(),
            base: base.to_string(),
        }
    }

    /// A request with this phone's token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.token)
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}{}", self.base, path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// The courier's manifest of `date`, as the phone gets it.
    pub async fn manifest(&self, date: &str) -> doorstep_protocol::wire::Manifest {
        let r = self
            .request(reqwest::Method::GET, &format!("/v1/manifest?date={date}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    pub async fn verify(&self, parcel: ParcelId, code: &str) -> Value {
        let r = self
            .post("/v1/verify", json!({ "parcel_id": parcel, "code": code }))
            .await;
        assert_eq!(r.status(), 200, "verify answered {}", r.status());
        r.json().await.unwrap()
    }

    /// The next event of this device's chain (signed).
    pub fn event(
        &mut self,
        stop: StopId,
        parcels: &[ParcelId],
        body: EventBody,
        at_ms: i64,
    ) -> DeliveryEvent {
        chain_event(
            &self.key,
            &mut self.seq,
            &mut self.last_hash,
            stop,
            parcels,
            body,
            at_ms,
        )
    }

    /// The next event of this device's chain about one demo parcel, on its stop.
    pub fn record(&mut self, parcel: &DemoParcel, body: EventBody, at_ms: i64) -> DeliveryEvent {
        self.event(parcel.stop_id, &[parcel.parcel_id], body, at_ms)
    }

    /// Checks `code` for `parcel` online, then records its handover at `at_ms` with that check.
    pub async fn delivered_online(
        &mut self,
        parcel: &DemoParcel,
        code: &str,
        at_ms: i64,
    ) -> DeliveryEvent {
        let v = self.verify(parcel.parcel_id, code).await;
        let id = v["verification_id"]
            .as_str()
            .unwrap_or_else(|| panic!("the code is right: {v}"))
            .to_string();
        self.record(
            parcel,
            delivered(Verification::OnlineCode {
                verification_id: id,
            }),
            at_ms,
        )
    }

    /// Syncs one event; its status.
    pub async fn sync_one(&self, event: DeliveryEvent) -> EventStatus {
        self.sync(&[event]).await.remove(0).status
    }

    pub async fn sync(&self, events: &[DeliveryEvent]) -> Vec<EventResult> {
        let r = self
            .post(
                "/v1/sync",
                json!({ "app_version": "0.1.0", "platform": Platform::Linux, "events": events }),
            )
            .await;
        assert_eq!(r.status(), 200, "sync answered {}", r.status());
        r.json::<SyncResponse>().await.unwrap().results
    }
}

/// The next record of a phone's chain (`seq`, `last_hash` advanced), signed with `key`.
#[allow(clippy::too_many_arguments)]
pub fn chain_event(
    key: &SigningKey,
    seq: &mut u64,
    last_hash: &mut String,
    stop: StopId,
    parcels: &[ParcelId],
    body: EventBody,
    at_ms: i64,
) -> DeliveryEvent {
    *seq += 1;
    let mut ev = DeliveryEvent {
        id: EventId::new_v7(at_ms as u64, rand::random()),
        seq: *seq,
        stop_id: stop,
        parcel_ids: parcels.to_vec(),
        occurred_at_ms: at_ms,
        first_scan_at_ms: None,
        typos_caught: None,
        location: None,
        body,
        prev_hash: last_hash.clone(),
        signature: String::new(),
    };
    ev.sign(key);
    *last_hash = ev.chain_hash();
    ev
}

/// The next record of `device` about `parcel`, recorded at `location` in the morning.
pub fn record_at(
    device: &mut Device,
    parcel: &DemoParcel,
    body: EventBody,
    location: (f64, f64),
) -> DeliveryEvent {
    record_at_time(device, parcel, body, location, MORNING_MS)
}

/// The next record of `device` about `parcel`, recorded at `location` at `at_ms`.
pub fn record_at_time(
    device: &mut Device,
    parcel: &DemoParcel,
    body: EventBody,
    location: (f64, f64),
    at_ms: i64,
) -> DeliveryEvent {
    device.seq += 1;
    let mut ev = DeliveryEvent {
        id: EventId::new_v7(at_ms as u64, rand::random()),
        seq: device.seq,
        stop_id: parcel.stop_id,
        parcel_ids: vec![parcel.parcel_id],
        occurred_at_ms: at_ms,
        first_scan_at_ms: None,
        typos_caught: None,
        location: Some(Location {
            lat: location.0,
            lon: location.1,
            accuracy_m: Some(8.0),
        }),
        body,
        prev_hash: device.last_hash.clone(),
        signature: String::new(),
    };
    ev.sign(&device.key);
    device.last_hash = ev.chain_hash();
    ev
}

pub fn failed(reason: ExceptionReason) -> EventBody {
    EventBody::Failed {
        reason,
        note: None,
        photo_sha256: None,
        id_check: None,
    }
}

pub fn delivered(verification: Verification) -> EventBody {
    EventBody::Delivered {
        verification,
        recipient_name: "R. Ecipient".into(),
        photo_sha256: None,
        method: None,
        place: None,
        signature_sha256: None,
        contents_photo_sha256: None,
        id_check: None,
    }
}

impl TestApp {
    /// Runs a query on the running server's database, on either backend, for tests that
    /// check what is at rest.
    pub async fn query(&self, sql: &str) -> Vec<doorstep_server::store::backend::sql::Row> {
        self.server.query(sql).await
    }
}

impl TestApp {
    /// The server's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self.server.data_dir()
    }
}

/// The permission bits of a file or directory (`0o600`, ...).
#[cfg(unix)]
pub fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Sets the permission bits of a file or directory.
#[cfg(unix)]
pub fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The CSRF token in a fleet page's forms.
pub fn csrf_from(html: &str) -> String {
    let start = html
        .find("name=\"csrf\" value=\"")
        .expect("the page has a form with a CSRF token")
        + "name=\"csrf\" value=\"".len();
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

impl TestApp {
    /// The handover token (QR text) on a customer page; `url` may be from before a restart.
    pub async fn token_on_customer_page(&self, url: &str) -> doorstep_protocol::HandoverToken {
        let html = self
            .get_text(&url[url.find("/c/").expect("a customer page URL")..])
            .await;
        let start = html
            .find("<code data-token>")
            .expect("the page shows a token")
            + "<code data-token>".len();
        let end = start + html[start..].find("</code>").unwrap();
        doorstep_protocol::HandoverToken::from_text(&html[start..end])
    }
}

pub use doorstep_server::testing::{apk, zip_with};

// -- the fleet page, signed in as a fleet manager's browser is (production mode) ----------

/// Who signs in; the audit log names them.
pub const USER: &str = "alice";

pub async fn fleet_app() -> TestApp {
    spawn_app_with(|c| c.mode = doorstep_server::Mode::Production).await
}

/// A client that shows redirects instead of following them.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery staple";

/// Adds a console user with [`PASSWORD`] (as `doorstep-server user add` does).
pub async fn add_user(app: &TestApp, name: &str, role: Role) {
    let (config, name) = (app.server.config.clone(), name.to_string());
    tokio::task::spawn_blocking(move || {
        doorstep_server::ops::accounts::add_user(&config, &name, role, PASSWORD)
    })
    .await
    .unwrap()
    .unwrap();
}

/// Signs in through the sign-in form; the `Cookie` header value of the new session, or the
/// refusal.
pub async fn sign_in(
    app: &TestApp,
    name: &str,
    password: &str,
) -> Result<String, reqwest::Response> {
    let r = browser()
        .post(app.url("/fleet/sign-in"))
        .form(&[("name", name), ("password", password), ("next", "/fleet")])
        .send()
        .await
        .unwrap();
    if r.status() != 303 {
        return Err(r);
    }
    let cookie = r
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap();
    Ok(cookie.split(';').next().unwrap().to_string())
}

/// A new user with `role`, signed in: their `Cookie` header value.
pub async fn signed_in_as(app: &TestApp, name: &str, role: Role) -> String {
    add_user(app, name, role).await;
    sign_in(app, name, PASSWORD)
        .await
        .unwrap_or_else(|r| panic!("{name} could not sign in: {}", r.status()))
}

impl TestApp {
    /// The `Cookie` header of [`USER`]'s console session (an owner), signed in at first use.
    pub async fn session(&self) -> String {
        self.session
            .get_or_init(|| signed_in_as(self, USER, Role::Owner))
            .await
            .clone()
    }
}

/// `GET path` from a browser signed in with `cookie` (redirects shown, not followed).
pub async fn get_as(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    browser()
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// The text of `GET path` from a browser signed in with `cookie`, whatever its status.
pub async fn text_as(app: &TestApp, cookie: &str, path: &str) -> String {
    get_as(app, cookie, path).await.text().await.unwrap()
}

/// Posts `form` (URL-encoded) to `path` from a browser signed in with `cookie`.
pub async fn post_as(
    app: &TestApp,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    browser()
        .post(app.url(path))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// A response header as text (the test fails without it).
pub fn header<'r>(r: &'r reqwest::Response, name: &str) -> &'r str {
    r.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// The text of a CSV download, after checking that it is one: `text/csv`, an attachment
/// whose file name holds `name`.
pub async fn csv_download(r: reqwest::Response, name: &str) -> String {
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/csv"));
    let disposition = header(&r, "content-disposition");
    assert!(
        disposition.starts_with("attachment") && disposition.contains(name),
        "{disposition}"
    );
    r.text().await.unwrap()
}

/// The console's pages a dispatcher reads through the day, as one text: Today, Phones (with the
/// releases) and the Inbox, as the owner.
pub async fn fleet_page(app: &TestApp) -> String {
    let cookie = app.session().await;
    let mut text = String::new();
    for path in ["/fleet", "/fleet/phones", "/fleet/inbox"] {
        let r = browser()
            .get(app.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        text.push_str(&r.text().await.unwrap());
    }
    text
}

/// Posts a fleet form (`application/x-www-form-urlencoded`) as the signed-in fleet manager.
pub async fn post_form(app: &TestApp, path: &str, body: &str) -> reqwest::Response {
    browser()
        .post(app.url(path))
        .header("cookie", app.session().await)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

//! Test harness: the real dispatch server in-process on a free loopback port with a fresh
//! data directory and the demo seed, and devices with their own temp data directories.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use doorstep_courier::view::{HandoverView, SyncStatus};
use doorstep_courier::{Clock, Config, Device, Randomness, SystemClock, date_at};
use doorstep_protocol::wire::{EnrollmentLink, Platform};
use doorstep_server::DemoParcel;
use rand::SeedableRng;

pub use doorstep_server::testing::TestServer;

/// The shared test server (`doorstep_server::testing`) with the demo route for today, on the
/// system clock like the devices.
pub async fn spawn_server() -> TestServer {
    crate::logs::capture();
    doorstep_server::testing::spawn_test_server(&today(), |_| {}).await
}

/// Today's route date as the device computes it (UTC).
pub fn today() -> String {
    date_at(SystemClock.now_ms(), 0)
}

/// What the device core's tests ask of the test server.
#[allow(async_fn_in_trait)]
pub trait TestServerExt {
    /// A fresh single-use enrollment code for the demo courier.
    async fn enrollment_code(&self) -> String;
    /// Every delivery event the server stored for the day (admin view).
    async fn deliveries(&self) -> Vec<serde_json::Value>;
    /// The ids of the events the server accepted, sorted (duplicates kept).
    async fn event_ids(&self) -> Vec<String>;
    /// A demo parcel matching `pred`.
    fn parcel(&self, pred: impl Fn(&DemoParcel) -> bool) -> &DemoParcel;
    /// `GET path` of the admin API, as JSON.
    async fn admin_get(&self, path: &str) -> serde_json::Value;
}

impl TestServerExt for TestServer {
    async fn enrollment_code(&self) -> String {
        let body: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/v1/admin/enrollments", self.url()))
            .bearer_auth(&self.seed.admin_token)
            .json(&serde_json::json!({ "courier_id": self.seed.courier_id }))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        body["enrollment_code"].as_str().unwrap().to_string()
    }

    async fn admin_get(&self, path: &str) -> serde_json::Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.url()))
            .bearer_auth(&self.seed.admin_token)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn deliveries(&self) -> Vec<serde_json::Value> {
        let body = self
            .admin_get(&format!("/v1/admin/deliveries?date={}", self.date))
            .await;
        let list = if body.is_array() {
            body
        } else if body.get("deliveries").is_some() {
            body["deliveries"].clone()
        } else {
            body["events"].clone()
        };
        list.as_array().unwrap().clone()
    }

    async fn event_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .deliveries()
            .await
            .iter()
            .filter(|e| e["status"] == "accepted")
            .map(|e| {
                e.get("event_id")
                    .or_else(|| e.get("id"))
                    .and_then(|v| v.as_str())
                    .unwrap()
                    .to_string()
            })
            .collect();
        ids.sort();
        ids
    }

    fn parcel(&self, pred: impl Fn(&DemoParcel) -> bool) -> &DemoParcel {
        self.seed
            .parcels
            .iter()
            .find(|p| pred(p))
            .expect("the demo route has such a parcel")
    }
}

/// Device settings for tests: short timeouts and backoff, today's route.
pub fn test_config() -> Config {
    let mut config = Config::new("0.1.0", Platform::Linux);
    config.route_date = Some(today());
    config.verify_timeout = Duration::from_millis(500);
    config.request_timeout = Duration::from_secs(5);
    config.backoff_base = Duration::from_millis(20);
    config.backoff_cap = Duration::from_millis(200);
    config.sync_interval = Duration::from_secs(3600);
    config
}

/// Opens a device in `dir`.
pub async fn open_device(dir: &Path, config: Config) -> Device {
    Device::open(
        dir,
        config,
        Arc::new(SystemClock),
        Randomness::from_rng(Box::new(rand::rngs::StdRng::seed_from_u64(7))),
    )
    .await
    .unwrap()
}

/// A device enrolled through `server_url` (the QR payload) with today's route downloaded.
pub async fn enrolled_device(
    server: &TestServer,
    server_url: &str,
    dir: &Path,
    config: Config,
) -> Device {
    let device = open_device(dir, config).await;
    let link = EnrollmentLink {
        server_url: server_url.to_string(),
        code: server.enrollment_code().await,
    };
    let status = device.enroll(&link.to_uri(), None).await.unwrap();
    assert!(status.enrolled);
    let route = device.refresh_route().await.unwrap();
    assert!(!route.stops.is_empty(), "the demo route reached the device");
    device
}

/// A code that passes the check digit but is not `code` (the last random digit changed).
pub fn wrong_code_for(code: &str) -> String {
    let digits: Vec<u8> = code.bytes().map(|b| b - b'0').collect();
    let mut body = digits[..digits.len() - 1].to_vec();
    let last = body.len() - 1;
    body[last] = (body[last] + 1) % 10;
    let check = doorstep_protocol::code::damm_check_digit(&body);
    body.push(check);
    body.iter().map(|d| char::from(b'0' + d)).collect()
}

/// Waits (bounded) until the sync status satisfies `pred`; returns the last status seen.
pub async fn wait_for_status(device: &Device, pred: impl Fn(&SyncStatus) -> bool) -> SyncStatus {
    let mut rx = device.subscribe_sync_status();
    let wait = rx.wait_for(|s| pred(s));
    match tokio::time::timeout(Duration::from_secs(30), wait).await {
        Ok(Ok(s)) => s.clone(),
        _ => device.sync_status(),
    }
}

/// Scans `barcode` and records a failed attempt; returns the event id.
pub async fn record_not_home(device: &Device, barcode: &str) -> String {
    device.reset_handover().await.unwrap();
    device.scan_parcel(barcode).await.unwrap();
    let view = device
        .report_exception(
            doorstep_protocol::wire::ExceptionReason::NotHome,
            None,
            None,
        )
        .await
        .unwrap();
    match view {
        HandoverView::Done { event_id, .. } => event_id,
        other => panic!("expected done, got {other:?}"),
    }
}

/// The device's committed event ids, sorted.
pub fn committed_ids(device: &Device) -> Vec<String> {
    let mut ids: Vec<String> = device
        .sync_queue()
        .unwrap()
        .into_iter()
        .map(|q| q.event_id)
        .collect();
    ids.sort();
    ids
}

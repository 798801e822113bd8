//! `TestApp`: the app's command handler on Tauri's mock runtime, with a real `Device` in a temp
//! directory and a real dispatch server (demo route) on a free loopback port.

use std::sync::Arc;

use doorstep_courier::{Config, Device, Randomness, SystemClock};
use doorstep_protocol::ids::ParcelId;
use doorstep_protocol::wire::{EnrollmentLink, Platform};
use doorstep_server::testing::{TestServer, spawn_test_server};
use doorstep_server::{DemoParcel, DemoSeed};
use serde_json::Value;
use tauri::test::{INVOKE_KEY, MockRuntime, mock_builder};
use tauri::webview::InvokeRequest;

pub struct TestApp {
    _app: tauri::App<MockRuntime>,
    webview: tauri::WebviewWindow<MockRuntime>,
    server_url: String,
    seed: DemoSeed,
    date: String,
    _server: TestServer,
    _device_dir: tempfile::TempDir,
}

fn today_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    doorstep_courier::date_at(secs * 1000, 0)
}

impl TestApp {
    pub fn spawn() -> Self {
        let device_dir = tempfile::tempdir().unwrap();
        let date = today_utc();
        // The shared test server, on the runtime the app's commands run on.
        let server = tauri::async_runtime::block_on(spawn_test_server(&date, |_| {}));
        let server_url = server.url();
        let seed = server.seed.clone();

        let mut device_config = Config::new("0.1.0", Platform::Linux);
        device_config.route_date = Some(date.clone());
        device_config.background_sync = false;
        let device = tauri::async_runtime::block_on(Device::open(
            device_dir.path(),
            device_config,
            Arc::new(SystemClock),
            Randomness::os(),
        ))
        .unwrap();

        let app = doorstep_app::with_commands(mock_builder())
            .build(tauri::generate_context!())
            .unwrap();
        doorstep_app::manage_device(app.handle(), device);
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        Self {
            _app: app,
            webview,
            server_url,
            seed,
            date,
            _server: server,
            _device_dir: device_dir,
        }
    }

    /// Calls a command the way the UI does; `Ok` is the answer, `Err` the `{code, message}`.
    pub fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        invoke_on(&self.webview, cmd, args)
    }

    /// Calls a command with a raw binary body (as `invoke(cmd, uint8Array)` does).
    pub fn invoke_raw(&self, cmd: &str, bytes: Vec<u8>) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: cmd.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: tauri::ipc::InvokeBody::Raw(bytes),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        tauri::test::get_ipc_response(&self.webview, request)
            .map(|body| body.deserialize::<Value>().unwrap())
    }

    /// Enrolls, downloads the route, scans `parcel` and finishes scanning (→ code or proof).
    pub fn enroll_and_start_handover(&self, parcel: &DemoParcel) {
        let uri = self.enrollment_uri();
        let steps = [
            (
                "enroll",
                serde_json::json!({ "input": uri, "serverUrl": null }),
            ),
            ("refresh_route", serde_json::json!({})),
            (
                "scan_parcel",
                serde_json::json!({ "barcode": parcel.barcode }),
            ),
            ("finish_scanning", serde_json::json!({})),
        ];
        for (cmd, args) in steps {
            self.invoke(cmd, args)
                .unwrap_or_else(|e| panic!("{cmd} failed: {e}"));
        }
    }

    /// The seeded parcel with this demo label prefix.
    pub fn parcel_labelled(&self, prefix: &str) -> DemoParcel {
        self.seed
            .parcels
            .iter()
            .find(|p| p.label.starts_with(prefix))
            .cloned()
            .unwrap_or_else(|| panic!("no demo parcel labelled {prefix}"))
    }

    pub fn enrollment_uri(&self) -> String {
        EnrollmentLink {
            server_url: self.server_url.clone(),
            code: self.seed.enrollment_code.clone(),
        }
        .to_uri()
    }

    /// A parcel that needs a code, may be handed over offline and needs no photo.
    pub fn code_parcel(&self) -> DemoParcel {
        self.seed
            .parcels
            .iter()
            .find(|p| p.code_required && p.offline_allowed && !p.photo_required)
            .cloned()
            .expect("the demo route has a code parcel")
    }

    /// How many stored events on the server cover `parcel`.
    pub fn server_events_for(&self, parcel: ParcelId) -> usize {
        let url = format!("{}/v1/admin/deliveries?date={}", self.server_url, self.date);
        let token = self.seed.admin_token.clone();
        let body: Value = tauri::async_runtime::block_on(async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        let events = body
            .as_array()
            .cloned()
            .or_else(|| body["deliveries"].as_array().cloned())
            .or_else(|| body["events"].as_array().cloned())
            .unwrap_or_default();
        let id = parcel.to_string();
        events
            .iter()
            .filter(|e| {
                e["parcel_ids"]
                    .as_array()
                    .is_some_and(|ids| ids.iter().any(|p| p == id.as_str()))
            })
            .count()
    }
}

/// A code that passes the check digit but differs from `code` (last data digit changed).
pub fn damm_valid_wrong_code(code: &str) -> String {
    let mut digits: Vec<u8> = code.bytes().map(|b| b - b'0').collect();
    digits.pop();
    let last = digits.len() - 1;
    digits[last] = (digits[last] + 1) % 10;
    let check = doorstep_protocol::code::damm_check_digit(&digits);
    digits.push(check);
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

/// Calls a command on a mock webview the way the UI does.
pub fn invoke_on(
    webview: &tauri::WebviewWindow<MockRuntime>,
    cmd: &str,
    args: Value,
) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: tauri::ipc::CallbackFn(0),
        error: tauri::ipc::CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: tauri::ipc::InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    tauri::test::get_ipc_response(webview, request).map(|body| body.deserialize::<Value>().unwrap())
}

/// The app as it starts when its data directory cannot be opened: the shell keeps the
/// window and answers every command with the core's error.
pub fn app_with_unopenable_store(
    data_dir: &std::path::Path,
) -> (tauri::App<MockRuntime>, tauri::WebviewWindow<MockRuntime>) {
    let mut config = Config::new("0.1.0", Platform::Linux);
    config.background_sync = false;
    let error = tauri::async_runtime::block_on(Device::open(
        data_dir,
        config,
        Arc::new(SystemClock),
        Randomness::os(),
    ))
    .expect_err("the store was expected to refuse this data directory");
    let app = doorstep_app::with_commands(mock_builder())
        .build(tauri::generate_context!())
        .unwrap();
    tauri::Manager::manage(&app, doorstep_app::commands::Core::failed(&error));
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, webview)
}

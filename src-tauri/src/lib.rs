//! The Doorstep courier app shell: thin Tauri commands over [`doorstep_courier::Device`].
//!
//! - [`commands`]: one command per UI action, each a delegation to the core.
//! - [`fleet`]: the fleet build configuration (server URL, fleet name) and the platform.
//! - `open_update` ([`commands::open_update`]): the one way the app opens a link outside itself
//!   (the opener plugin on mobile, the desktop's browser on desktop), after the core has held the
//!   link to its scope.
//! - `reader` (desktop): serves the desktop barcode reader's WebAssembly from the resources.
//!
//! Everything the app does lives in `crates/courier`, which has no Tauri in it; this crate only
//! wires it to the window: state, commands, the background sync task's events, and the
//! mobile-only plugins.

pub mod commands;
pub mod fleet;
#[cfg(desktop)]
pub mod reader;

use std::sync::Arc;

use doorstep_courier::{Config, Device, Randomness, SystemClock};
use tauri::{Emitter, Manager, Runtime};

/// Name of the event that carries `SyncStatus` to the UI.
pub const SYNC_STATUS_EVENT: &str = "sync-status";

/// Registers the app's commands on a builder. Shared by the real app and the IPC tests.
pub fn with_commands<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        commands::app_status,
        commands::enroll,
        commands::unenroll,
        commands::route,
        commands::refresh_route,
        commands::handover_view,
        commands::scan_parcel,
        commands::finish_scanning,
        commands::check_contents,
        commands::report_unexpected,
        commands::depot_view,
        commands::depot_scan,
        commands::depot_finish,
        commands::correct_delivery,
        commands::submit_code,
        commands::submit_token,
        commands::submit_proof,
        commands::report_exception,
        commands::reset_handover,
        commands::resend_code,
        commands::sync_now,
        commands::sync_status,
        commands::sync_queue,
        commands::save_photo,
        commands::set_location,
        commands::open_update,
    ])
}

/// Puts an opened core into the app's state and forwards its sync status to the UI as
/// [`SYNC_STATUS_EVENT`] whenever it changes.
pub fn manage_device<R: Runtime>(app: &tauri::AppHandle<R>, device: Device) {
    let mut status = device.subscribe_sync_status();
    app.manage(commands::Core::opened(device));
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        while status.changed().await.is_ok() {
            let current = status.borrow_and_update().clone();
            if let Err(e) = handle.emit(SYNC_STATUS_EVENT, current) {
                tracing::warn!(error = %e, "could not send the sync status to the UI");
            }
        }
    });
}

/// Starts the app (desktop `main` and the mobile entry point).
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    init_logging();
    let builder = tauri::Builder::default();
    // On mobile the opener, for `open_update` and a stop's address in the maps app; its script
    // that opens `<a target=_blank>` links is left out: the UI opens nothing by itself.
    #[cfg(mobile)]
    let builder = builder
        .plugin(tauri_plugin_barcode_scanner::init())
        .plugin(tauri_plugin_geolocation::init())
        .plugin(tauri_plugin_haptics::init())
        .plugin(
            tauri_plugin_opener::Builder::new()
                .open_js_links_on_click(false)
                .build(),
        );
    #[cfg(desktop)]
    let builder = reader::register(builder);
    with_commands(builder)
        .on_page_load(|_, payload| {
            if payload.event() == tauri::webview::PageLoadEvent::Finished {
                // scripts/bench-startup.sh times the cold start up to this line.
                tracing::info!("ui loaded");
            }
        })
        .setup(|app| {
            let data_dir = app.path().app_data_dir()?;
            let mut config = Config::new(env!("CARGO_PKG_VERSION"), fleet::platform());
            config.default_server_url = fleet::server_url();
            let opened = tauri::async_runtime::block_on(Device::open(
                data_dir,
                config,
                Arc::new(SystemClock),
                Randomness::os(),
            ));
            match opened {
                Ok(device) => {
                    if let Some(uri) = fleet::auto_enroll_uri() {
                        fleet::enroll_if_needed(&device, &uri);
                    }
                    manage_device(app.handle(), device);
                }
                // Keep the window: the UI shows the error (e.g. "install the newer app").
                Err(e) => {
                    app.manage(commands::Core::failed(&e));
                }
            }
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("error while running the Doorstep app");
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("DOORSTEP_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

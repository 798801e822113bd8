//! Fleet build configuration and platform facts.
//!
//! A fleet manager builds the app for their couriers without code changes: the server URL is read
//! from the environment at build time (`DOORSTEP_SERVER_URL`; on desktop the same variable overrides
//! it at run time): the enrollment form starts with it (`AppStatus.default_server_url`) and the
//! core uses it for an enrollment code typed without a server. The fleet's name comes
//! from the server at enrollment. `DOORSTEP_ENROLL_URI` (desktop, for QA and the demo) enrolls the
//! app at start when it is not enrolled yet.

use doorstep_courier::Device;
use doorstep_protocol::wire::Platform;

/// The platform this build runs on.
pub fn platform() -> Platform {
    if cfg!(target_os = "android") {
        Platform::Android
    } else if cfg!(target_os = "ios") {
        Platform::Ios
    } else if cfg!(target_os = "macos") {
        Platform::Macos
    } else if cfg!(target_os = "windows") {
        Platform::Windows
    } else {
        Platform::Linux
    }
}

fn setting(name: &str, built_in: Option<&'static str>) -> Option<String> {
    let runtime = if cfg!(mobile) {
        None
    } else {
        std::env::var(name).ok()
    };
    runtime
        .or_else(|| built_in.map(str::to_string))
        .filter(|v| !v.trim().is_empty())
}

/// The fleet's dispatch server, if the build (or, on desktop, the environment) names one.
pub fn server_url() -> Option<String> {
    setting("DOORSTEP_SERVER_URL", option_env!("DOORSTEP_SERVER_URL"))
}

/// An enrollment link to use at start (desktop only: QA and the demo).
pub fn auto_enroll_uri() -> Option<String> {
    setting("DOORSTEP_ENROLL_URI", None)
}

/// Enrolls with `uri` when the device is not enrolled yet. A failure is logged and the app
/// opens on its enrollment screen as usual.
pub fn enroll_if_needed(device: &Device, uri: &str) {
    match device.status() {
        Ok(status) if status.enrolled => {}
        Ok(_) => {
            let server = server_url();
            match tauri::async_runtime::block_on(device.enroll(uri, server.as_deref())) {
                Ok(status) => tracing::info!(
                    courier = status.courier_name.as_deref().unwrap_or(""),
                    "enrolled from DOORSTEP_ENROLL_URI"
                ),
                Err(e) => {
                    tracing::warn!(code = %e.code(), error = %e, "automatic enrollment failed")
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not read the enrollment state"),
    }
}

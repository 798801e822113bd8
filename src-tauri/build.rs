//! Tauri build script. Capabilities live in `src-tauri/capabilities/` (the app package's manifest
//! is at the repository root, next to `tauri.conf.json`). The app's own commands are declared
//! here so each gets an `allow-…` permission and the capabilities can grant them one by one.

const COMMANDS: &[&str] = &[
    "app_status",
    "enroll",
    "unenroll",
    "route",
    "refresh_route",
    "handover_view",
    "scan_parcel",
    "finish_scanning",
    "check_contents",
    "report_unexpected",
    "depot_view",
    "depot_scan",
    "depot_finish",
    "correct_delivery",
    "submit_code",
    "submit_token",
    "submit_proof",
    "report_exception",
    "reset_handover",
    "resend_code",
    "sync_now",
    "sync_status",
    "sync_queue",
    "save_photo",
    "set_location",
    "open_update",
];

fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    tauri_build::try_build(attributes).expect("failed to run tauri-build");
}

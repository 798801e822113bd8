//! The app's Tauri commands: each takes the core from state, calls one method, and maps the
//! error to the UI's `{ code, message }`. No logic lives here.
//!
//! Arguments that carry delivery codes or tokens are never logged (`skip_all`).

use doorstep_courier::view::{
    AppError, AppStatus, HandoverView, QueueItem, ResendInfo, Route, SyncStatus,
};
use doorstep_courier::{CourierError, Device};
use doorstep_protocol::wire::ExceptionReason;
use serde::Serialize;
use tauri::State;
use tracing::instrument;

/// A command's error as the UI receives it: `{ "code": "...", "message": "..." }`.
/// Internal and storage failures keep their detail in the log, not in the message.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct IpcError(AppError);

impl From<CourierError> for IpcError {
    fn from(e: CourierError) -> Self {
        match &e {
            CourierError::Internal(_) | CourierError::Storage(_) => {
                tracing::error!(error = ?e, "command failed");
            }
            _ => tracing::debug!(code = e.code(), "command refused"),
        }
        IpcError(e.to_view())
    }
}

type Answer<T> = Result<T, IpcError>;

#[tauri::command]
#[instrument(skip_all)]
pub fn app_status(device: State<'_, Device>) -> Answer<AppStatus> {
    Ok(device.status()?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn enroll(
    device: State<'_, Device>,
    input: String,
    server_url: Option<String>,
) -> Answer<AppStatus> {
    Ok(device.enroll(&input, server_url.as_deref()).await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn unenroll(device: State<'_, Device>) -> Answer<AppStatus> {
    Ok(device.unenroll().await?)
}

#[tauri::command]
#[instrument(skip_all)]
pub fn route(device: State<'_, Device>) -> Answer<Route> {
    Ok(device.route()?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn refresh_route(device: State<'_, Device>) -> Answer<Route> {
    Ok(device.refresh_route().await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn handover_view(device: State<'_, Device>) -> Answer<HandoverView> {
    Ok(device.handover_view().await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn scan_parcel(device: State<'_, Device>, barcode: String) -> Answer<HandoverView> {
    Ok(device.scan_parcel(&barcode).await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn finish_scanning(device: State<'_, Device>) -> Answer<HandoverView> {
    Ok(device.finish_scanning().await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn submit_code(device: State<'_, Device>, code: String) -> Answer<HandoverView> {
    Ok(device.submit_code(&code).await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn submit_token(device: State<'_, Device>, token: String) -> Answer<HandoverView> {
    Ok(device.submit_token(&token).await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn submit_proof(
    device: State<'_, Device>,
    recipient_name: String,
    photo_path: Option<String>,
) -> Answer<HandoverView> {
    Ok(device
        .submit_proof(&recipient_name, photo_path.as_deref().map(std::path::Path::new))
        .await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn report_exception(
    device: State<'_, Device>,
    reason: ExceptionReason,
    note: Option<String>,
) -> Answer<HandoverView> {
    Ok(device.report_exception(reason, note.as_deref()).await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn reset_handover(device: State<'_, Device>) -> Answer<HandoverView> {
    Ok(device.reset_handover().await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn resend_code(device: State<'_, Device>) -> Answer<ResendInfo> {
    Ok(device.resend_code().await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn sync_now(device: State<'_, Device>) -> Answer<SyncStatus> {
    Ok(device.sync_now().await?)
}

#[tauri::command]
#[instrument(skip_all)]
pub fn sync_status(device: State<'_, Device>) -> SyncStatus {
    device.sync_status()
}

#[tauri::command]
#[instrument(skip_all)]
pub fn sync_queue(device: State<'_, Device>) -> Answer<Vec<QueueItem>> {
    Ok(device.sync_queue()?)
}

//! The app's Tauri commands: each takes the core from state, calls one method, and maps the
//! error to the UI's `{ code, message }`. No logic lives here.
//!
//! Arguments that carry delivery codes or tokens are never logged (`skip_all`).

use doorstep_courier::view::{
    AppError, AppStatus, DepotView, HandoverView, IdCheckEntry, ProofInput, QueueItem, ResendInfo,
    Route, SyncStatus,
};
use doorstep_courier::{CourierError, Device};
use doorstep_protocol::wire::{CorrectionReason, DeliveryMethod, ExceptionReason, Location};
use serde::Serialize;
#[cfg(mobile)]
use tauri::Manager;
use tauri::{AppHandle, Runtime, State};
use tracing::instrument;

/// A command's error as the UI receives it: `{ "code": "...", "message": "..." }`, the code one
/// of the closed set [`doorstep_courier::AppErrorCode`] (listed in `docs/ipc.md`).
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
            _ => tracing::debug!(code = %e.code(), "command refused"),
        }
        IpcError(e.to_view())
    }
}

type Answer<T> = Result<T, IpcError>;

/// The core as the app's managed state: the opened [`Device`], or why it could not be opened
/// (e.g. a database written by a newer app). Then every command answers with that error, so the
/// UI shows the courier what to do instead of the app closing at start.
#[derive(Debug)]
pub struct Core(Result<Device, AppError>);

impl Core {
    /// A working core.
    pub fn opened(device: Device) -> Self {
        Self(Ok(device))
    }

    /// A core that failed to open; commands answer with `error`.
    pub fn failed(error: &CourierError) -> Self {
        tracing::error!(error = ?error, "the device store could not be opened");
        Self(Err(error.to_view()))
    }

    fn get(&self) -> Result<&Device, IpcError> {
        self.0.as_ref().map_err(|e| IpcError(e.clone()))
    }
}

#[tauri::command]
#[instrument(skip_all)]
pub fn app_status(core: State<'_, Core>) -> Answer<AppStatus> {
    Ok(core.get()?.status()?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn enroll(
    core: State<'_, Core>,
    input: String,
    server_url: Option<String>,
) -> Answer<AppStatus> {
    Ok(core.get()?.enroll(&input, server_url.as_deref()).await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn unenroll(core: State<'_, Core>) -> Answer<AppStatus> {
    Ok(core.get()?.unenroll().await?)
}

#[tauri::command]
#[instrument(skip_all)]
pub fn route(core: State<'_, Core>) -> Answer<Route> {
    Ok(core.get()?.route()?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn refresh_route(core: State<'_, Core>) -> Answer<Route> {
    Ok(core.get()?.refresh_route().await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn handover_view(core: State<'_, Core>) -> Answer<HandoverView> {
    Ok(core.get()?.handover_view().await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn scan_parcel(core: State<'_, Core>, barcode: String) -> Answer<HandoverView> {
    Ok(core.get()?.scan_parcel(&barcode).await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn finish_scanning(
    core: State<'_, Core>,
    method: Option<DeliveryMethod>,
) -> Answer<HandoverView> {
    Ok(core.get()?.finish_scanning(method).await?)
}

/// `check_contents`: the open-box check — the photo of the contents (from `save_photo`) and
/// whether the customer confirmed them.
#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn check_contents(
    core: State<'_, Core>,
    photo_path: Option<String>,
    accepted: bool,
) -> Answer<HandoverView> {
    Ok(core
        .get()?
        .check_contents(photo_path.as_deref().map(std::path::Path::new), accepted)
        .await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn submit_code(core: State<'_, Core>, code: String) -> Answer<HandoverView> {
    Ok(core.get()?.submit_code(&code).await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn submit_token(core: State<'_, Core>, token: String) -> Answer<HandoverView> {
    Ok(core.get()?.submit_token(&token).await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn submit_proof(core: State<'_, Core>, proof: ProofInput) -> Answer<HandoverView> {
    Ok(core.get()?.submit_proof(&proof).await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn report_exception(
    core: State<'_, Core>,
    reason: ExceptionReason,
    note: Option<String>,
    id_check: Option<IdCheckEntry>,
) -> Answer<HandoverView> {
    Ok(core
        .get()?
        .report_exception(reason, note.as_deref(), id_check)
        .await?)
}

/// `report_unexpected`: a parcel that is not on the route, with its label and an optional
/// photo (from `save_photo`) and note; answers the record's id.
#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn report_unexpected(
    core: State<'_, Core>,
    barcode: String,
    photo_path: Option<String>,
    note: Option<String>,
) -> Answer<String> {
    Ok(core
        .get()?
        .report_unexpected(
            &barcode,
            photo_path.as_deref().map(std::path::Path::new),
            note.as_deref(),
        )
        .await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn depot_view(core: State<'_, Core>) -> Answer<DepotView> {
    Ok(core.get()?.depot_view().await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn depot_scan(core: State<'_, Core>, barcode: String) -> Answer<DepotView> {
    Ok(core.get()?.depot_scan(&barcode).await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn depot_finish(core: State<'_, Core>) -> Answer<DepotView> {
    Ok(core.get()?.depot_finish().await?)
}

/// `correct_delivery`: a correction of one of today's handovers; answers the record's id.
#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn correct_delivery(
    core: State<'_, Core>,
    event_id: String,
    correction: CorrectionReason,
    note: Option<String>,
) -> Answer<String> {
    Ok(core
        .get()?
        .correct_delivery(&event_id, correction, note.as_deref())
        .await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn reset_handover(core: State<'_, Core>) -> Answer<HandoverView> {
    Ok(core.get()?.reset_handover().await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn resend_code(core: State<'_, Core>) -> Answer<ResendInfo> {
    Ok(core.get()?.resend_code().await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn sync_now(core: State<'_, Core>) -> Answer<SyncStatus> {
    Ok(core.get()?.sync_now().await?)
}

#[tauri::command]
#[instrument(skip_all)]
pub fn sync_status(core: State<'_, Core>) -> Answer<SyncStatus> {
    Ok(core.get()?.sync_status())
}

#[tauri::command]
#[instrument(skip_all)]
pub fn sync_queue(core: State<'_, Core>) -> Answer<Vec<QueueItem>> {
    Ok(core.get()?.sync_queue()?)
}

/// `save_photo`: the UI sends a picked or captured photo as raw bytes (a webview gives files,
/// not paths); the core keeps it and answers the path that `submit_proof` takes.
#[tauri::command]
#[instrument(skip_all)]
pub fn save_photo(core: State<'_, Core>, request: tauri::ipc::Request<'_>) -> Answer<String> {
    let tauri::ipc::InvokeBody::Raw(bytes) = request.body() else {
        return Err(CourierError::PhotoInvalid("send the photo as raw bytes").into());
    };
    let path = core.get()?.store_photo(bytes)?;
    Ok(path.to_string_lossy().into_owned())
}

/// `set_location`: where the phone is (from the geolocation plugin on mobile), recorded with the
/// next proof of delivery. `null` forgets it (permission refused, or too old).
#[tauri::command]
#[instrument(skip_all)]
pub fn set_location(core: State<'_, Core>, location: Option<Location>) -> Answer<()> {
    core.get()?.set_location(location);
    Ok(())
}

/// `open_update`: opens the fleet's update link outside the app (Android: the browser downloads
/// the APK and hands it to the system installer; iOS: the App Store or TestFlight; desktop: the
/// browser). The link is the stored policy's, held by the core to the enrolled server's origin
/// and the app stores ([`doorstep_courier::update::update_url_allowed`]); the UI passes none.
#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn open_update<R: Runtime>(app: AppHandle<R>, core: State<'_, Core>) -> Answer<()> {
    let link = core.get()?.update_link()?;
    #[cfg(mobile)]
    {
        let opener = app
            .try_state::<tauri_plugin_opener::Opener<R>>()
            .ok_or_else(|| CourierError::Internal("the opener plugin is not registered".into()))?;
        opener
            .open_url(link.as_str(), None::<&str>)
            .map_err(|e| CourierError::Internal(format!("opening the update link: {e}")))?;
    }
    #[cfg(desktop)]
    {
        let _ = &app;
        open::that_detached(link.as_str())
            .map_err(|e| CourierError::Internal(format!("opening the update link: {e}")))?;
    }
    tracing::info!(host = link.host_str().unwrap_or(""), "update link opened");
    Ok(())
}

//! The app's Tauri commands: each takes the core from state, calls one method, and maps the
//! error to the UI's `{ code, message }`. No logic lives here.
//!
//! Arguments that carry delivery codes or tokens are never logged (`skip_all`).

use doorstep_courier::view::{
    AppError, AppStatus, HandoverView, QueueItem, ResendInfo, Route, SyncStatus,
};
use doorstep_courier::{CourierError, Device};
use doorstep_protocol::wire::{ExceptionReason, Location};
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
pub async fn finish_scanning(core: State<'_, Core>) -> Answer<HandoverView> {
    Ok(core.get()?.finish_scanning().await?)
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
pub async fn submit_proof(
    core: State<'_, Core>,
    recipient_name: String,
    photo_path: Option<String>,
) -> Answer<HandoverView> {
    Ok(core
        .get()?
        .submit_proof(
            &recipient_name,
            photo_path.as_deref().map(std::path::Path::new),
        )
        .await?)
}

#[tauri::command(async)]
#[instrument(skip_all)]
pub async fn report_exception(
    core: State<'_, Core>,
    reason: ExceptionReason,
    note: Option<String>,
) -> Answer<HandoverView> {
    Ok(core
        .get()?
        .report_exception(reason, note.as_deref())
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

/// Largest proof photo accepted from the UI.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;

/// `save_photo`: the UI sends a picked or captured photo as raw bytes (a webview gives files,
/// not paths); the shell keeps it in the app's cache and answers the path that `submit_proof`
/// takes. The core copies it into its store, addressed by SHA-256, when the proof commits.
#[tauri::command]
#[instrument(skip_all)]
pub fn save_photo<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    request: tauri::ipc::Request<'_>,
) -> Answer<String> {
    use tauri::Manager;
    let tauri::ipc::InvokeBody::Raw(bytes) = request.body() else {
        return Err(photo_error("send the photo as raw bytes"));
    };
    let ext = photo_extension(bytes).ok_or_else(|| {
        photo_error("this file is not a photo (JPEG, PNG, WebP or HEIC); choose another one")
    })?;
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(photo_error(
            "this photo is larger than 10 MB; take it again at a lower resolution",
        ));
    }
    let dir = app
        .path()
        .app_cache_dir()
        .map_err(|e| CourierError::Internal(format!("cache dir: {e}")))?
        .join("photos");
    let write = || -> std::io::Result<std::path::PathBuf> {
        std::fs::create_dir_all(&dir)?;
        let mut file = tempfile_in(&dir, ext)?;
        std::io::Write::write_all(&mut file.0, bytes)?;
        file.0.sync_all()?;
        Ok(file.1)
    };
    let path = write().map_err(|e| CourierError::Storage(e.into()))?;
    Ok(path.to_string_lossy().into_owned())
}

fn photo_error(message: &str) -> IpcError {
    IpcError(AppError {
        code: "photo_invalid".into(),
        message: message.into(),
    })
}

/// The file extension for an image by its magic bytes; `None` if it is not a photo format.
pub fn photo_extension(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some("jpg"),
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some("png"),
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => Some("webp"),
        [
            _,
            _,
            _,
            _,
            b'f',
            b't',
            b'y',
            b'p',
            b'h',
            b'e',
            b'i',
            b'c' | b'f',
            ..,
        ] => Some("heic"),
        _ => None,
    }
}

fn tempfile_in(
    dir: &std::path::Path,
    ext: &str,
) -> std::io::Result<(std::fs::File, std::path::PathBuf)> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    for n in 0..100u32 {
        let path = dir.join(format!("photo-{nanos}-{n}.{ext}"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("could not create a photo file"))
}

/// `set_location`: where the phone is (from the geolocation plugin on mobile), recorded with the
/// next proof of delivery. `null` forgets it (permission refused, or too old).
#[tauri::command]
#[instrument(skip_all)]
pub fn set_location(core: State<'_, Core>, location: Option<Location>) -> Answer<()> {
    core.get()?.set_location(location);
    Ok(())
}

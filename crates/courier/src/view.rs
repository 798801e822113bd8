//! The UI-facing types: their JSON is exactly the shapes of the IPC contract
//! (`prompts/ipc.md`), so the Tauri shell returns them unchanged.

use serde::{Deserialize, Serialize};

/// `AppError`: what every command can fail with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppError {
    /// Stable machine code (see [`crate::CourierError::code`]).
    pub code: String,
    /// A sentence for the courier.
    pub message: String,
}

/// `AppStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppStatus {
    /// Whether the phone is enrolled.
    pub enrolled: bool,
    /// The dispatch server.
    pub server_url: Option<String>,
    /// The fleet's name.
    pub fleet_name: Option<String>,
    /// The courier's name.
    pub courier_name: Option<String>,
    /// This device's id.
    pub device_id: Option<String>,
    /// This build's version.
    pub app_version: String,
    /// The fleet's update policy, once known.
    pub update: Option<UpdateInfo>,
}

/// `AppStatus.update`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateInfo {
    /// Oldest supported version.
    pub minimum: String,
    /// Newest version.
    pub latest: String,
    /// Where to get it.
    pub update_url: Option<String>,
    /// Whether this build is below the minimum.
    pub required: bool,
}

/// `ParcelState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParcelState {
    /// Still to deliver.
    Todo,
    /// Handed over.
    Delivered,
    /// A failed attempt was recorded.
    Exception,
    /// The server refused the record; a person must look at it.
    Disputed,
}

/// `RouteParcel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteParcel {
    /// Parcel id.
    pub parcel_id: String,
    /// Label barcode.
    pub barcode: String,
    /// Short description.
    pub description: Option<String>,
    /// Whether a photo is required.
    pub photo_required: bool,
    /// Local status.
    pub status: ParcelState,
}

/// `RouteStop`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteStop {
    /// Stop id.
    pub stop_id: String,
    /// Position on the route.
    pub sequence: u32,
    /// Recipient.
    pub recipient_name: String,
    /// Address.
    pub address: String,
    /// Whether a code is needed.
    pub code_required: bool,
    /// Code length (check digit included).
    pub code_length: Option<u8>,
    /// Whether a typed code may be recorded offline.
    pub offline_allowed: bool,
    /// The policy's reasons.
    pub reasons: Vec<String>,
    /// Status of the stop as a whole.
    pub status: ParcelState,
    /// The parcels.
    pub parcels: Vec<RouteParcel>,
}

/// `Route`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The day.
    pub date: String,
    /// Stops in order.
    pub stops: Vec<RouteStop>,
    /// When it was downloaded.
    pub fetched_at_ms: Option<i64>,
    /// Whether this is the stored copy because the server could not be reached.
    pub from_cache: bool,
}

/// `ScanResult.outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanOutcome {
    /// Added to the current stop.
    Added,
    /// Scanned before in this handover.
    AlreadyScanned,
    /// Not on today's route.
    NotOnRoute,
    /// Delivered before.
    AlreadyDelivered,
    /// Belongs to another stop than the one being handed over.
    OtherStop,
    /// Not a usable label.
    Invalid,
}

/// `ScanResult.other_stop`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherStop {
    /// The parcel's stop.
    pub stop_id: String,
    /// Its position.
    pub sequence: u32,
    /// Its address.
    pub address: String,
}

/// `ScanResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanResult {
    /// What the scan did.
    pub outcome: ScanOutcome,
    /// A sentence for the courier.
    pub message: String,
    /// The parcel, when known.
    pub parcel_id: Option<String>,
    /// The parcel's stop, for `other_stop`.
    pub other_stop: Option<OtherStop>,
}

/// `Verification` (UI form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationKind {
    /// No code needed.
    NotRequired,
    /// Code checked online.
    OnlineCode,
    /// Code recorded offline for the server to check at sync.
    OfflineCode,
    /// Customer's QR token verified on the device.
    Token,
}

/// `HandoverView.outcome` of the `done` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DoneOutcome {
    /// Handed over.
    Delivered,
    /// A failed attempt was recorded.
    Exception,
}

/// `HandoverView`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum HandoverView {
    /// Nothing going on.
    Idle {
        /// The last scan, if it did not start a handover.
        last_scan: Option<ScanResult>,
    },
    /// Scanning the parcels of one stop.
    Scanning {
        /// The stop.
        stop: RouteStop,
        /// Scanned parcel ids.
        scanned: Vec<String>,
        /// The last scan.
        last_scan: Option<ScanResult>,
    },
    /// Taking the code.
    Code {
        /// The stop.
        stop: RouteStop,
        /// Scanned parcel ids.
        scanned: Vec<String>,
        /// Digits to type, check digit included.
        code_length: u8,
        /// Tries left, once the server said.
        attempts_left: Option<u32>,
        /// Whether the server could not be reached.
        offline: bool,
        /// What went wrong with the last try.
        error: Option<AppError>,
    },
    /// Too many wrong codes.
    Locked {
        /// The stop.
        stop: RouteStop,
        /// Scanned parcel ids.
        scanned: Vec<String>,
    },
    /// Taking the proof.
    Proof {
        /// The stop.
        stop: RouteStop,
        /// Scanned parcel ids.
        scanned: Vec<String>,
        /// How the handover was verified.
        verification: VerificationKind,
        /// Whether it happened offline.
        offline: bool,
        /// Whether a photo is required.
        photo_required: bool,
    },
    /// Committed.
    Done {
        /// The stop.
        stop: RouteStop,
        /// Scanned parcel ids.
        scanned: Vec<String>,
        /// What was recorded.
        outcome: DoneOutcome,
        /// The committed event.
        event_id: String,
    },
}

/// `SyncStatus`: also the payload of the `sync-status` event.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SyncStatus {
    /// Events waiting to be sent.
    pub pending: u64,
    /// Events the server refused for good.
    pub disputed: u64,
    /// Whether a sync is running.
    pub syncing: bool,
    /// Whether the last contact with the server worked (`None`: not tried yet).
    pub online: Option<bool>,
    /// When the last sync succeeded.
    pub last_success_ms: Option<i64>,
    /// The last problem, in words a courier understands.
    pub last_error: Option<String>,
}

/// `QueueItem.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueKind {
    /// Parcels handed over.
    Delivered,
    /// A failed attempt.
    Failed,
}

/// `QueueItem.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueState {
    /// Waiting to be sent.
    Pending,
    /// Stored by the server.
    Synced,
    /// Refused by the server; stays visible.
    Disputed,
}

/// `QueueItem`: one committed event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueItem {
    /// The event.
    pub event_id: String,
    /// Where.
    pub stop_address: String,
    /// Who took it (or the stop's recipient, for a failed attempt).
    pub recipient_name: String,
    /// What happened.
    pub kind: QueueKind,
    /// The parcels' barcodes.
    pub barcodes: Vec<String>,
    /// When it was committed on the device.
    pub committed_at_ms: i64,
    /// Sync state.
    pub state: QueueState,
    /// Why the server refused it.
    pub reason: Option<String>,
}

/// Answer of `resend_code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResendInfo {
    /// When the next resend may be asked for, Unix seconds.
    pub next_allowed_at: i64,
}

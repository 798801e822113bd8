//! The UI-facing types: their JSON is exactly the shapes of the IPC contract
//! (`docs/ipc.md`), so the Tauri shell returns them unchanged.

use std::fmt;

use doorstep_protocol::wire::{CustomerChoice, DeliveryMethod, DoorMethod, IdCheck, IdType};
use serde::{Deserialize, Serialize};

/// `AppErrorCode`: the closed set of machine codes an [`AppError`] carries. The UI switches on
/// these, never on the message. `ui/tests/fixtures/contract.json` is written from [`Self::ALL`]
/// by a test, and the UI's tests hold its own list to that file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppErrorCode {
    /// The phone has no enrollment yet: show the enrollment screen.
    NotEnrolled,
    /// The server refused the enrollment code (used, expired, unknown).
    EnrollmentInvalid,
    /// The scanned or typed enrollment value is unusable (no server address, not a Doorstep
    /// server, malformed link).
    EnrollmentLinkInvalid,
    /// The server could not be reached; retrying later can work.
    Network,
    /// The server failed or answered something unreadable; retrying later can work.
    ServerError,
    /// The fleet manager revoked this phone: enroll it again.
    DeviceRevoked,
    /// This build is below the fleet's minimum version, or the local data was written by a
    /// newer one: install the update.
    UpdateRequired,
    /// The update link is not one the app opens (neither the enrolled server nor an app
    /// store), or there is none.
    UpdateUrlRefused,
    /// The scanned value is not a parcel label.
    BarcodeInvalid,
    /// There is no handover going on: scan a parcel first.
    NoHandover,
    /// The command does not fit the handover's current step (or deliveries still wait to be
    /// sent): reload the handover view.
    WrongStep,
    /// The typed code is malformed or fails its check digit; no attempt was spent.
    CodeFormat,
    /// The code cannot be used any more (too many wrong tries, or expired).
    CodeLocked,
    /// The parcel was already delivered.
    AlreadyDelivered,
    /// No connection, and this stop may not record a typed code offline.
    OfflineNotAllowed,
    /// The customer's QR token was refused (signature, expiry, other stop).
    TokenInvalid,
    /// The policy asks for a photo and none was given.
    PhotoRequired,
    /// The bytes handed over are not a usable photo (format or size).
    PhotoInvalid,
    /// No recipient name was given.
    RecipientRequired,
    /// The phone's storage failed; the detail is in the log.
    Storage,
    /// A bug or an impossible state; the detail is in the log.
    Internal,
    /// The scanned parcels may not all be handed over by the chosen method.
    MethodNotAllowed,
    /// The policy asks for a signature and none was given.
    SignatureRequired,
    /// The policy asks for an ID (and age) check that was not done or not confirmed.
    IdCheckRequired,
    /// The recipient does not meet the minimum age: record "refused: age".
    AgeNotMet,
    /// A neighbour, safe place or pickup point delivery must say where.
    PlaceRequired,
    /// The open-box check needs a photo of the contents.
    ContentsPhotoRequired,
    /// Only one of today's handovers can be corrected, once.
    CorrectionNotAllowed,
    /// Some records wait for the server (it asked for them again later, e.g. a photo first).
    SyncHeld,
}

impl AppErrorCode {
    /// Every code, in declaration order: the list written to the UI's contract fixture.
    pub const ALL: &[AppErrorCode] = &{
        use AppErrorCode::*;
        let all = [
            NotEnrolled,
            EnrollmentInvalid,
            EnrollmentLinkInvalid,
            Network,
            ServerError,
            DeviceRevoked,
            UpdateRequired,
            UpdateUrlRefused,
            BarcodeInvalid,
            NoHandover,
            WrongStep,
            CodeFormat,
            CodeLocked,
            AlreadyDelivered,
            OfflineNotAllowed,
            TokenInvalid,
            PhotoRequired,
            PhotoInvalid,
            RecipientRequired,
            Storage,
            Internal,
            MethodNotAllowed,
            SignatureRequired,
            IdCheckRequired,
            AgeNotMet,
            PlaceRequired,
            ContentsPhotoRequired,
            CorrectionNotAllowed,
            SyncHeld,
        ];
        // A new variant fails to compile here until it has a position; each position must
        // hold that variant in `all`, so the list cannot skip or repeat one it names.
        let mut i = 0;
        while i < all.len() {
            let position = match all[i] {
                NotEnrolled => 0,
                EnrollmentInvalid => 1,
                EnrollmentLinkInvalid => 2,
                Network => 3,
                ServerError => 4,
                DeviceRevoked => 5,
                UpdateRequired => 6,
                UpdateUrlRefused => 7,
                BarcodeInvalid => 8,
                NoHandover => 9,
                WrongStep => 10,
                CodeFormat => 11,
                CodeLocked => 12,
                AlreadyDelivered => 13,
                OfflineNotAllowed => 14,
                TokenInvalid => 15,
                PhotoRequired => 16,
                PhotoInvalid => 17,
                RecipientRequired => 18,
                Storage => 19,
                Internal => 20,
                MethodNotAllowed => 21,
                SignatureRequired => 22,
                IdCheckRequired => 23,
                AgeNotMet => 24,
                PlaceRequired => 25,
                ContentsPhotoRequired => 26,
                CorrectionNotAllowed => 27,
                SyncHeld => 28,
            };
            assert!(position == i, "AppErrorCode::ALL is out of order");
            i += 1;
        }
        all
    };
}

/// The code as it crosses the IPC (`not_enrolled`), from the serde names, so the two cannot
/// differ. For log fields: `tracing::info!(code = %e.code())`.
impl fmt::Display for AppErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.serialize(f)
    }
}

/// `AppError`: what every command can fail with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppError {
    /// Stable machine code.
    pub code: AppErrorCode,
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
    /// The fleet's update policy for this phone, as the server last said (every manifest and
    /// sync answer carries it); `None` when the fleet publishes none.
    pub update: Option<UpdateInfo>,
    /// The fleet's dispatch server built into this app (`DOORSTEP_SERVER_URL` at build time),
    /// which the enrollment form starts with; `None` in a build without one.
    pub default_server_url: Option<String>,
}

/// `AppStatus.update`: the fleet's release channel as it applies to this build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateInfo {
    /// Oldest supported version (`0.0.0` when the fleet sets none).
    pub minimum: String,
    /// The newest release offered to this phone (its staged rollout includes it).
    pub latest: String,
    /// Where to get it: the file on the fleet's server, or an app store / TestFlight link.
    /// `open_update` opens it.
    pub update_url: Option<String>,
    /// Whether this build is below the minimum: no new handover until it is updated (recorded
    /// deliveries still sync).
    pub required: bool,
    /// Whether `latest` is newer than this build while nothing is required: a quiet banner.
    pub available: bool,
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
    /// What the customer asked for on their page: a method, its place (a neighbour's name and
    /// house number, a safe place, a pickup point) and instructions for the courier, trimmed,
    /// each `None` when blank; `None` when they asked for nothing. The UI shows it as text,
    /// never as markup.
    #[serde(default)]
    pub customer: Option<CustomerChoice>,
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
        /// The ways every scanned parcel may be handed over, each with its steps at the door;
        /// `finish_scanning` takes one of them.
        methods: Vec<DoorMethod>,
        /// The method the method screen opens on, one of `methods`: the customer's choice when
        /// every scanned parcel allows it, else `hand_to_recipient` when they do; `None` when
        /// neither is offered.
        preselected: Option<DeliveryMethod>,
    },
    /// The open-box check: photograph the contents, then the customer confirms or refuses.
    OpenBox {
        /// The stop.
        stop: RouteStop,
        /// Scanned parcel ids.
        scanned: Vec<String>,
        /// Whether the photo of the contents was taken.
        photo_taken: bool,
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
        /// The method and its steps: signature, ID and minimum age, place.
        door: DoorMethod,
        /// For a safe place: where the shipper allows the parcel to be left (the courier may
        /// also describe another place when the list is empty).
        safe_places: Vec<String>,
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

/// `DepotParcel`: a parcel that should be in the van at the depot check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepotParcel {
    /// Its label (normalised).
    pub barcode: String,
    /// Its stop's address.
    pub address: String,
    /// Whether it was scanned.
    pub checked: bool,
}

/// `DepotView`: the end-of-day check-in of the van.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepotView {
    /// The route's day.
    pub date: String,
    /// Every parcel of the day's route that was not delivered, ticked when scanned.
    pub expected: Vec<DepotParcel>,
    /// Labels scanned that were not expected.
    pub extra: Vec<String>,
    /// The label just scanned (normalised), after `depot_scan`.
    pub last_scanned: Option<String>,
    /// The check-in's record, after `depot_finish`.
    pub recorded_event_id: Option<String>,
}

/// `ProofInput`: what `submit_proof` takes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ProofInput {
    /// Who took the parcels (the neighbour, for a neighbour delivery; may be empty for a safe
    /// place or a pickup point, where the stop's recipient is named).
    pub recipient_name: String,
    /// The proof photo, as `save_photo` answered it.
    #[serde(default)]
    pub photo_path: Option<String>,
    /// The signature image (PNG), as `save_photo` answered it.
    #[serde(default)]
    pub signature_path: Option<String>,
    /// The neighbour's house number, the safe place, or the pickup point's id.
    #[serde(default)]
    pub place: Option<String>,
    /// The ID check, when the method asks for one.
    #[serde(default)]
    pub id_check: Option<IdCheckEntry>,
}

impl ProofInput {
    /// A proof with only the recipient's name.
    pub fn named(recipient_name: &str) -> Self {
        Self {
            recipient_name: recipient_name.to_string(),
            ..Self::default()
        }
    }

    /// The same proof with a photo.
    pub fn with_photo(mut self, path: &std::path::Path) -> Self {
        self.photo_path = Some(path.to_string_lossy().into_owned());
        self
    }
}

/// An ID check as the courier enters it on the device. The year of birth only decides the
/// result here; it is never stored or sent ([`IdCheck`] has no field for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct IdCheckEntry {
    /// The kind of ID seen.
    pub id_type: IdType,
    /// The year of birth on the ID, if the courier typed it.
    #[serde(default)]
    pub year_of_birth: Option<i32>,
    /// The courier tapped "meets the minimum age" after reading the date of birth.
    #[serde(default)]
    pub meets_minimum_age: bool,
    /// The courier confirms seeing the ID in person and that it shows the recipient.
    pub courier_confirmed: bool,
}

impl IdCheckEntry {
    /// The record of this check for `minimum_age` in `year`: passed when the courier
    /// confirmed it and, if an age is asked for, tapped that it is met or typed a year of birth
    /// that meets it whatever the birthday (so a year alone never passes someone who turns the
    /// age later in the year).
    pub fn record(&self, minimum_age: Option<u8>, year: i32) -> IdCheck {
        let age_ok = match minimum_age {
            None => true,
            Some(min) => {
                self.meets_minimum_age
                    || self
                        .year_of_birth
                        .is_some_and(|y| year - y > i32::from(min))
            }
        };
        IdCheck {
            id_type: self.id_type,
            minimum_age,
            passed: self.courier_confirmed && age_ok,
            courier_confirmed: self.courier_confirmed,
        }
    }
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
    /// The last problem, in words a courier understands (English; the UI shows the text of
    /// `last_error_code` in the courier's language).
    pub last_error: Option<String>,
    /// The last problem's closed code: `network`, `server_error`, `sync_held` (the server keeps
    /// some records waiting), ...
    #[serde(default)]
    pub last_error_code: Option<AppErrorCode>,
}

/// `QueueItem.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueKind {
    /// Parcels handed over.
    Delivered,
    /// A failed attempt.
    Failed,
    /// A parcel reported as not on the route.
    Unexpected,
    /// The end-of-day depot check-in.
    DepotCheckIn,
    /// A correction of a handover.
    Correction,
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
    /// Why the server refused it, in English.
    pub reason: Option<String>,
    /// The server's closed code for why it refused it (the UI shows its own text for it).
    #[serde(default)]
    pub reject_code: Option<doorstep_protocol::wire::RejectCode>,
}

/// Answer of `resend_code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResendInfo {
    /// When the next resend may be asked for, Unix seconds.
    pub next_allowed_at: i64,
}

//! JSON types of the `/v1` HTTP API, shared by the server and the app.
//!
//! Requests are parsed strictly (`deny_unknown_fields`): a misspelt field is a clear 400,
//! never silently ignored. Answers are plain structs, so the app ignores nothing it needs.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::code::DeliveryCode;
use crate::ids::{CourierId, DeviceId, EventId, ParcelId, ShipperId, StopId};
use crate::token::{HandoverToken, PublicTokenKey};

/// Stable machine codes of API errors. Clients switch on these, never on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request body or query is malformed (bad JSON, wrong types, unknown fields).
    BadRequest,
    /// A well-formed request with values that break a rule (e.g. an invalid barcode).
    ValidationFailed,
    /// No or invalid credentials.
    Unauthorized,
    /// The device was revoked by the fleet manager.
    DeviceRevoked,
    /// Authenticated, but not allowed (e.g. another courier's parcel).
    Forbidden,
    /// No such resource.
    NotFound,
    /// The request conflicts with the current state (e.g. reused idempotency key).
    Conflict,
    /// The body is larger than the server accepts.
    PayloadTooLarge,
    /// Too many requests; retry later.
    RateLimited,
    /// The enrollment code is unknown, expired or used.
    EnrollmentInvalid,
    /// The typed code is not well formed (check digit, length).
    CodeFormat,
    /// The parcel needs no code.
    CodeNotRequired,
    /// A resend was asked for too soon.
    ResendTooSoon,
    /// The app is older than the fleet's minimum version.
    UpdateRequired,
    /// Server-side failure; details are in the server log, not here.
    Internal,
    /// The server is temporarily unable to answer (e.g. storage busy); retry.
    Unavailable,
}

impl ErrorCode {
    /// Whether retrying the same request later can succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::RateLimited | ErrorCode::Internal | ErrorCode::Unavailable
        )
    }
}

/// The body of every error answer: `{ "code": "...", "message": "..." }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Stable machine code.
    pub code: ErrorCode,
    /// A sentence for people: what happened and what to do.
    pub message: String,
}

/// Where an app runs, reported at enrollment and on sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Android phone.
    Android,
    /// iPhone.
    Ios,
    /// Linux desktop (QA, CI).
    Linux,
    /// macOS desktop.
    Macos,
    /// Windows desktop.
    Windows,
}

impl Platform {
    /// Every platform, in the order the docs list them.
    pub const ALL: [Platform; 5] = [
        Platform::Android,
        Platform::Ios,
        Platform::Linux,
        Platform::Macos,
        Platform::Windows,
    ];

    /// The platform's name on the wire (`android`, `ios`, ...), as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Android => "android",
            Platform::Ios => "ios",
            Platform::Linux => "linux",
            Platform::Macos => "macos",
            Platform::Windows => "windows",
        }
    }

    /// The platform named `name` (as [`Self::as_str`] writes it).
    pub fn from_name(name: &str) -> Option<Platform> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

// ---------------------------------------------------------------------------------------
// Enrollment

/// What the fleet manager's enrollment QR holds: `doorstep://enroll?server=<url>&code=<code>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentLink {
    /// Base URL of the dispatch server, e.g. `https://dispatch.example.com`.
    pub server_url: String,
    /// The short-lived, single-use enrollment code.
    pub code: String,
}

/// Why an enrollment QR or typed value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnrollmentLinkError {
    /// Not an enrollment link.
    #[error("this is not a Doorstep enrollment code; scan the QR on the fleet page")]
    NotALink,
    /// A link without a server or code.
    #[error("the enrollment code is incomplete ({0} missing); ask the fleet manager for a new one")]
    Missing(&'static str),
    /// The server address is not http(s).
    #[error("the server address in the enrollment code must start with http:// or https://")]
    BadServer,
}

impl EnrollmentLink {
    /// The URI put in the QR code.
    pub fn to_uri(&self) -> String {
        format!(
            "doorstep://enroll?server={}&code={}",
            percent_encode(&self.server_url),
            percent_encode(&self.code)
        )
    }

    /// Parses a scanned enrollment URI.
    pub fn parse(text: &str) -> Result<Self, EnrollmentLinkError> {
        let query = text
            .trim()
            .strip_prefix("doorstep://enroll?")
            .ok_or(EnrollmentLinkError::NotALink)?;
        let mut server = None;
        let mut code = None;
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v).ok_or(EnrollmentLinkError::NotALink)?;
            match k {
                "server" => server = Some(v),
                "code" => code = Some(v),
                _ => {}
            }
        }
        let server_url = server
            .filter(|s| !s.is_empty())
            .ok_or(EnrollmentLinkError::Missing("server"))?;
        let code = code
            .filter(|s| !s.is_empty())
            .ok_or(EnrollmentLinkError::Missing("code"))?;
        if !(server_url.starts_with("http://") || server_url.starts_with("https://")) {
            return Err(EnrollmentLinkError::BadServer);
        }
        Ok(Self { server_url, code })
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            // `from_str_radix` alone would also take a sign, as in `%+1`.
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `POST /v1/devices/enroll` — exchange an enrollment code for a device token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The enrollment code from the fleet manager.
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub enrollment_code: String,
    /// The device's Ed25519 public key (64 hex digits); it signs the device's audit chain.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-fA-F]{64}$"))]
    pub device_public_key: String,
    /// App version, e.g. `0.1.0`.
    #[cfg_attr(feature = "openapi", schema(max_length = 40))]
    pub app_version: String,
    /// Platform the app runs on.
    pub platform: Platform,
}

/// Answer to a successful enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollResponse {
    /// The new device's id.
    pub device_id: DeviceId,
    /// Bearer token for all courier API calls (shown once; the server keeps only a hash).
    pub device_token: String,
    /// The courier this device belongs to.
    pub courier_id: CourierId,
    /// The courier's display name.
    pub courier_name: String,
    /// The fleet's name, for the app's header.
    pub fleet_name: String,
    /// Public keys for verifying handover tokens offline.
    pub token_keys: Vec<PublicTokenKey>,
}

/// `GET /.well-known/doorstep-keys` — the server's current token keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenKeysResponse {
    /// Keys in use, newest first.
    pub keys: Vec<PublicTokenKey>,
}

// ---------------------------------------------------------------------------------------
// Manifest

/// `GET /v1/manifest?date=YYYY-MM-DD` — the courier's route for a day (ETag-aware).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Manifest {
    /// Whose route.
    pub courier_id: CourierId,
    /// The day, `YYYY-MM-DD` in the fleet's time zone.
    pub date: String,
    /// Stops in delivery order.
    pub stops: Vec<ManifestStop>,
    /// The fleet's app version policy for the device's platform (the release this device is
    /// offered, the minimum it must run), so a phone learns it at every manifest refresh even
    /// when it has nothing to sync. Absent when the fleet publishes no releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_policy: Option<AppVersionPolicy>,
}

/// One stop of a manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManifestStop {
    /// Stop id.
    pub stop_id: StopId,
    /// Position on the route, from 1.
    pub sequence: u32,
    /// Who receives the parcels.
    pub recipient_name: String,
    /// One-line address for display and maps.
    pub address: String,
    /// Latitude/longitude if known.
    pub location: Option<Location>,
    /// Whether handing over needs the delivery code (or a valid token).
    pub code_required: bool,
    /// Digits of the code, check digit included, when one is required.
    pub code_length: Option<u8>,
    /// Whether a typed code may be recorded offline for deferred verification.
    pub offline_allowed: bool,
    /// The policy's reasons, for the courier's "why" line.
    pub reasons: Vec<String>,
    /// The parcels.
    pub parcels: Vec<ManifestParcel>,
    /// What the customer asked for on their page (a neighbour, a safe place, a pickup point,
    /// instructions for the courier); absent when they asked for nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerChoice>,
}

/// The longest delivery instructions a customer may leave for the courier, in characters.
pub const MAX_INSTRUCTIONS_CHARS: usize = 300;

/// What the customer chose before the courier came. The app opens the method screen on
/// `method` with `place` filled in, and shows `instructions` on the stop — as text, never as
/// markup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerChoice {
    /// How the customer asked for the parcels to be handed over; absent when they only left
    /// instructions (the shipper's method stands).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<DeliveryMethod>,
    /// Where, for the chosen method: the neighbour's name and house number, the safe place,
    /// or the pickup point's name and address (at most [`MAX_PLACE_CHARS`] characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// Free text for the courier (at most [`MAX_INSTRUCTIONS_CHARS`] characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
}

/// One parcel of a stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManifestParcel {
    /// Parcel id.
    pub parcel_id: ParcelId,
    /// The label's barcode value, normalised (see [`crate::barcode::Barcode::key`]).
    pub barcode: String,
    /// Short description (e.g. "Box, 2 kg").
    pub description: Option<String>,
    /// Whether a photo is required as proof.
    pub photo_required: bool,
    /// The delivery method the shipper asked for.
    pub method: DeliveryMethod,
    /// Where the parcel stands on the server.
    pub status: ParcelStatus,
    /// The ways the parcel may be handed over at the door, each with the steps the policy
    /// asks for it (the courier picks one among them). Empty from a server that predates
    /// door steps: then only `method`, with the stop's code and this parcel's photo rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<DoorMethod>,
    /// Where the shipper allows the parcel to be left when it goes to a safe place (the
    /// courier picks one, or describes the place when the list is empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub safe_places: Vec<String>,
}

impl ManifestParcel {
    /// The ways this parcel may be handed over, with their steps (see [`Self::methods`]);
    /// `stop_code_required` fills in the code rule for a manifest from an older server.
    pub fn door_methods(&self, stop_code_required: bool) -> Vec<DoorMethod> {
        if self.methods.is_empty() {
            vec![DoorMethod {
                code_required: stop_code_required,
                photo_required: self.photo_required,
                ..DoorMethod::plain(self.method)
            }]
        } else {
            self.methods.clone()
        }
    }
}

/// One way of handing a parcel over and the steps the policy asks for it at the door.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DoorMethod {
    /// The method.
    pub method: DeliveryMethod,
    /// The stop's delivery code (or the customer's QR) is needed.
    pub code_required: bool,
    /// A proof photo is needed (for a safe place: the parcel in its place).
    pub photo_required: bool,
    /// The recipient (or the neighbour) signs on the screen.
    pub signature_required: bool,
    /// Before the code, the customer opens the box, the courier photographs the contents, and
    /// the customer confirms or refuses them.
    pub open_box_check: bool,
    /// The courier checks an ID of an accepted type against the recipient.
    pub id_check: bool,
    /// The recipient must be at least this old (years); the courier checks an ID for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_age: Option<u8>,
}

impl DoorMethod {
    /// A method with no step asked for.
    pub fn plain(method: DeliveryMethod) -> Self {
        Self {
            method,
            code_required: false,
            photo_required: false,
            signature_required: false,
            open_box_check: false,
            id_check: false,
            minimum_age: None,
        }
    }

    /// Whether an ID must be checked (for itself or for the age).
    pub fn needs_id(&self) -> bool {
        self.id_check || self.minimum_age.is_some()
    }

    /// The steps of several parcels handed over together by this method: each step that any
    /// of them asks for, the highest minimum age.
    pub fn merge(&mut self, other: &DoorMethod) {
        self.code_required |= other.code_required;
        self.photo_required |= other.photo_required;
        self.signature_required |= other.signature_required;
        self.open_box_check |= other.open_box_check;
        self.id_check |= other.id_check;
        self.minimum_age = self.minimum_age.max(other.minimum_age);
    }
}

/// The longest place (a neighbour's house number, a safe place, a pickup point's id) a record
/// takes, in characters.
pub const MAX_PLACE_CHARS: usize = 200;

/// A step at the door that a handover lacks: the one rule the device core applies before it
/// commits and the server applies again at sync ([`DoorMethod::missing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingStep {
    /// A neighbour, safe place or pickup point delivery does not say where.
    Place,
    /// The place is longer than [`MAX_PLACE_CHARS`].
    PlaceTooLong,
    /// No passed ID check (for the minimum age) confirmed by the courier.
    IdCheck,
    /// No proof photo.
    Photo,
    /// No signature.
    Signature,
    /// No photo of the contents from the open-box check.
    ContentsPhoto,
}

impl MissingStep {
    /// A sentence for the courier and the fleet manager.
    pub fn describe(self) -> &'static str {
        match self {
            MissingStep::Place => {
                "a delivery to a neighbour, a safe place or a pickup point must say where"
            }
            MissingStep::PlaceTooLong => "the place is longer than 200 characters",
            MissingStep::IdCheck => {
                "this parcel needs a passed ID check (and age check) confirmed by the courier"
            }
            MissingStep::Photo => "this parcel needs a proof photo",
            MissingStep::Signature => "this parcel needs a signature",
            MissingStep::ContentsPhoto => {
                "this parcel needs the open-box check: a photo of the contents the customer confirmed"
            }
        }
    }
}

/// What a handover shows of the steps at the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handed<'a> {
    /// How it was handed over.
    pub method: DeliveryMethod,
    /// Where (house number, safe place, pickup point id), if said.
    pub place: Option<&'a str>,
    /// The ID check, if one was done.
    pub id_check: Option<&'a IdCheck>,
    /// Whether a proof photo goes with it.
    pub photo: bool,
    /// Whether a signature goes with it.
    pub signature: bool,
    /// Whether the open-box check's photo of the contents goes with it.
    pub contents_photo: bool,
}

impl<'a> Handed<'a> {
    /// What a delivery record shows; `None` for a record that is not a handover.
    pub fn of(body: &'a EventBody) -> Option<Self> {
        let EventBody::Delivered {
            photo_sha256,
            method,
            place,
            signature_sha256,
            contents_photo_sha256,
            id_check,
            ..
        } = body
        else {
            return None;
        };
        Some(Self {
            method: method.unwrap_or(DeliveryMethod::HandToRecipient),
            place: place.as_deref(),
            id_check: id_check.as_ref(),
            photo: photo_sha256.is_some(),
            signature: signature_sha256.is_some(),
            contents_photo: contents_photo_sha256.is_some(),
        })
    }
}

impl DoorMethod {
    /// The first step this method asks for that `handed` lacks, if any.
    pub fn missing(&self, handed: &Handed<'_>) -> Option<MissingStep> {
        let place = handed.place.map(str::trim).unwrap_or("");
        if handed.method != DeliveryMethod::HandToRecipient && place.is_empty() {
            return Some(MissingStep::Place);
        }
        if place.chars().count() > MAX_PLACE_CHARS {
            return Some(MissingStep::PlaceTooLong);
        }
        if self.needs_id() {
            let ok = handed.id_check.is_some_and(|c| {
                c.passed
                    && c.courier_confirmed
                    && self
                        .minimum_age
                        .is_none_or(|min| c.minimum_age.is_some_and(|checked| checked >= min))
            });
            if !ok {
                return Some(MissingStep::IdCheck);
            }
        }
        if self.photo_required && !handed.photo {
            return Some(MissingStep::Photo);
        }
        if self.signature_required && !handed.signature {
            return Some(MissingStep::Signature);
        }
        if self.open_box_check && !handed.contents_photo {
            return Some(MissingStep::ContentsPhoto);
        }
        None
    }
}

/// What the parcels of one handover need by `method`: the merged steps of every parcel, or
/// `None` when one of them may not be handed over that way.
pub fn door_steps<'a>(
    parcels: impl IntoIterator<Item = (&'a ManifestParcel, bool)>,
    method: DeliveryMethod,
) -> Option<DoorMethod> {
    let mut out: Option<DoorMethod> = None;
    for (parcel, stop_code_required) in parcels {
        let found = parcel
            .door_methods(stop_code_required)
            .into_iter()
            .find(|m| m.method == method)?;
        match &mut out {
            Some(o) => o.merge(&found),
            None => out = Some(found),
        }
    }
    out
}

/// How a parcel is meant to be handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMethod {
    /// Into the recipient's hands.
    HandToRecipient,
    /// To a neighbour.
    Neighbour,
    /// Left at a safe place.
    SafePlace,
    /// To a pickup point or locker.
    PickupPoint,
}

impl DeliveryMethod {
    /// Every method, in the order the app offers them.
    pub const ALL: [DeliveryMethod; 4] = [
        DeliveryMethod::HandToRecipient,
        DeliveryMethod::Neighbour,
        DeliveryMethod::SafePlace,
        DeliveryMethod::PickupPoint,
    ];

    /// The wire name, e.g. `safe_place`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMethod::HandToRecipient => "hand_to_recipient",
            DeliveryMethod::Neighbour => "neighbour",
            DeliveryMethod::SafePlace => "safe_place",
            DeliveryMethod::PickupPoint => "pickup_point",
        }
    }
}

/// Server-side parcel state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ParcelStatus {
    /// Not yet delivered.
    Pending,
    /// Delivered.
    Delivered,
    /// A failed attempt was recorded.
    Failed,
    /// Too many wrong codes: return to depot or a new code from the fleet manager.
    Locked,
    /// An offline record was rejected at sync and needs a person to look at it.
    Disputed,
    /// Failed for good (refused, or the last attempt): on its way back to the depot.
    Returning,
    /// Checked in at the depot at the end of the day.
    AtDepot,
}

/// A point on Earth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Degrees north.
    pub lat: f64,
    /// Degrees east.
    pub lon: f64,
    /// Horizontal accuracy in metres, if known.
    pub accuracy_m: Option<f32>,
}

// ---------------------------------------------------------------------------------------
// Code verification

/// `POST /v1/verify` — check a typed code online.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// A parcel of the stop whose code was typed.
    pub parcel_id: ParcelId,
    /// The code as typed (the server checks the check digit too).
    pub code: DeliveryCode,
}

/// The server's answer to a code check. Every outcome is a 200 with one of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum VerifyOutcome {
    /// Right code. `verification_id` goes into the delivery event as proof.
    Verified {
        /// Server-made id of this successful check.
        verification_id: String,
    },
    /// Wrong code; this many tries remain before the parcel locks.
    Wrong {
        /// Tries left.
        attempts_left: u32,
    },
    /// Too many wrong codes: the parcel cannot be handed over with this code.
    Locked,
    /// The code's delivery window is over.
    Expired,
    /// The parcel was already delivered.
    AlreadyDelivered,
    /// The parcel needs no code.
    NotRequired,
}

/// `POST /v1/resend` — ask the server to send the customer a new code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    /// A parcel of the stop.
    pub parcel_id: ParcelId,
}

/// Answer to a resend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResendResponse {
    /// When the next resend may be asked for, Unix seconds.
    pub next_allowed_at: i64,
}

// ---------------------------------------------------------------------------------------
// Delivery events and sync

/// Reason codes for a failed handover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExceptionReason {
    /// Nobody answered.
    NotHome,
    /// The recipient refused the parcel.
    Refused,
    /// Too many wrong codes.
    CodeLocked,
    /// The customer could not give the code.
    NoCode,
    /// The address could not be found or reached.
    AddressProblem,
    /// The parcel is damaged.
    Damaged,
    /// Unsafe to deliver.
    Unsafe,
    /// At the open-box check the customer refused the contents (the record carries the photo).
    RefusedContents,
    /// The recipient could not show an accepted ID, or is younger than the minimum age.
    RefusedAge,
}

/// How the handover was verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Verification {
    /// The policy asked for no code.
    NotRequired,
    /// Checked online before the handover.
    OnlineCode {
        /// The id the server gave when the code was verified.
        verification_id: String,
    },
    /// Typed offline; the server verifies it at sync under the same attempt counter.
    OfflineCode {
        /// The code as typed.
        code: DeliveryCode,
    },
    /// The customer's signed QR token, verified offline on the device.
    Token {
        /// The token text.
        token: HandoverToken,
    },
}

/// What happened at the door.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventBody {
    /// Parcels handed over.
    Delivered {
        /// How the handover was verified.
        verification: Verification,
        /// Who took the parcels.
        recipient_name: String,
        /// SHA-256 (hex) of the proof photo, uploaded before the event.
        photo_sha256: Option<String>,
        /// How it was handed over; absent means into the recipient's hands.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        method: Option<DeliveryMethod>,
        /// Where: the neighbour's house number, the safe place, or the pickup point's id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        place: Option<String>,
        /// SHA-256 (hex) of the signature image (PNG), uploaded before the event like a photo.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature_sha256: Option<String>,
        /// SHA-256 (hex) of the photo of the contents the customer confirmed at the open-box
        /// check.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contents_photo_sha256: Option<String>,
        /// The ID and age check, as the courier confirmed it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id_check: Option<IdCheck>,
    },
    /// A failed attempt.
    Failed {
        /// Why.
        reason: ExceptionReason,
        /// Free text from the courier.
        note: Option<String>,
        /// SHA-256 (hex) of a photo of the attempt (the refused contents, the closed door).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        photo_sha256: Option<String>,
        /// The ID and age check that failed, for `refused_age`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id_check: Option<IdCheck>,
    },
    /// A parcel that is not on the courier's route, reported from the van or a door. The
    /// record's `stop_id` is the nil id and `parcel_ids` is empty.
    Unexpected {
        /// The label's barcode as scanned.
        barcode: String,
        /// SHA-256 (hex) of a photo of the parcel, uploaded before the record.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        photo_sha256: Option<String>,
        /// Free text from the courier.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// End of the day at the depot: the parcels still in the van, scanned one by one. The
    /// record's `stop_id` is the nil id and `parcel_ids` is empty; the server reconciles.
    DepotCheckIn {
        /// The route's day, `YYYY-MM-DD`.
        date: String,
        /// The scanned labels, as scanned.
        barcodes: Vec<String>,
    },
    /// A correction of an earlier delivery record of this phone, the same day (a committed
    /// record is signed and chained and cannot be undone). `stop_id` and `parcel_ids` are the
    /// corrected record's.
    Correction {
        /// The record being corrected.
        corrects: EventId,
        /// What was wrong.
        reason: CorrectionReason,
        /// Free text from the courier.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
}

/// What was wrong with a delivery record the courier corrects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CorrectionReason {
    /// Handed to the wrong door: the courier goes back for it; the parcel is to deliver again.
    WrongDoor,
    /// Recorded as delivered by mistake: the parcel is still in the van.
    NotHandedOver,
}

impl EventBody {
    /// The kind as stored and shown: `delivered`, `failed`, `unexpected`, `depot_check_in`,
    /// `correction`.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Delivered { .. } => "delivered",
            EventBody::Failed { .. } => "failed",
            EventBody::Unexpected { .. } => "unexpected",
            EventBody::DepotCheckIn { .. } => "depot_check_in",
            EventBody::Correction { .. } => "correction",
        }
    }
}

impl EventBody {
    /// Every photo or signature the record refers to (each uploaded before the record).
    pub fn images(&self) -> Vec<&str> {
        match self {
            EventBody::Delivered {
                photo_sha256,
                signature_sha256,
                contents_photo_sha256,
                ..
            } => [photo_sha256, signature_sha256, contents_photo_sha256]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect(),
            EventBody::Failed { photo_sha256, .. } | EventBody::Unexpected { photo_sha256, .. } => {
                photo_sha256.iter().map(String::as_str).collect()
            }
            EventBody::DepotCheckIn { .. } | EventBody::Correction { .. } => Vec::new(),
        }
    }
}

/// An ID the courier may accept at an ID or age check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IdType {
    /// A passport.
    Passport,
    /// A national identity card.
    NationalIdCard,
    /// A driving licence.
    DrivingLicence,
    /// A residence permit.
    ResidencePermit,
}

/// The result of an ID and age check as the record keeps it: which kind of ID was shown and
/// whether it passed — never the ID's number, its image or the date of birth (data
/// minimisation: a proof of delivery must not become a copy of the customer's papers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IdCheck {
    /// The kind of ID the courier saw.
    pub id_type: IdType,
    /// The minimum age checked for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_age: Option<u8>,
    /// Whether the check passed (the ID matches the recipient and, if asked, the age is met).
    pub passed: bool,
    /// The courier confirmed seeing the ID in person.
    pub courier_confirmed: bool,
}

/// One delivery event from a device. Events of a device form a hash chain signed with the
/// device's key, so the server notices removed or edited records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeliveryEvent {
    /// Client-made UUIDv7; the server stores each id once.
    pub id: EventId,
    /// Position in the device's chain, from 1.
    pub seq: u64,
    /// The stop.
    pub stop_id: StopId,
    /// The parcels this event covers (one or more of the stop).
    pub parcel_ids: Vec<ParcelId>,
    /// Device time of the handover, Unix milliseconds.
    pub occurred_at_ms: i64,
    /// Device time the courier scanned the first parcel of the handover, Unix milliseconds:
    /// "time at the door" is from here to `occurred_at_ms`. Absent from records made before
    /// phones reported it and from records that are not a handover at a door.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_scan_at_ms: Option<i64>,
    /// How many typed codes the check digit refused on the phone during the handover (none
    /// of them reached the server). Absent like `first_scan_at_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typos_caught: Option<u32>,
    /// Where, if the device knew.
    pub location: Option<Location>,
    /// What happened.
    pub body: EventBody,
    /// Hex SHA-256 of the previous event's signed bytes + signature (64 zeros for the first).
    pub prev_hash: String,
    /// Hex Ed25519 signature over [`DeliveryEvent::signing_bytes`].
    pub signature: String,
}

/// The request header in which a phone reports how many records it holds unsent (with each
/// manifest request).
pub const UNSENT_RECORDS_HEADER: &str = "doorstep-unsent-records";
/// The request header in which a phone reports when its oldest unsent record was made (Unix
/// milliseconds; absent when it holds none).
pub const OLDEST_UNSENT_HEADER: &str = "doorstep-oldest-unsent-at";

/// The longest time at the door a record may claim (first scan to record); a longer one is a
/// wrong clock or a handover left open, and says nothing about time at the door.
pub const MAX_DOOR_TIME_MS: i64 = 24 * 3_600_000;
/// The most typos a record may claim; more is a stuck key or a bad phone, not a courier.
pub const MAX_TYPOS_CAUGHT: u32 = 1_000;

/// The chain's starting point: the `prev_hash` of a device's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl DeliveryEvent {
    /// The bytes the device signs: the canonical JSON of every field except the signature.
    ///
    /// A field added later is left out when absent, so a record without it signs to the
    /// same bytes as before the field existed: older records keep verifying and chaining.
    pub fn signing_bytes(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Unsigned<'a> {
            id: &'a EventId,
            seq: u64,
            stop_id: &'a StopId,
            parcel_ids: &'a [ParcelId],
            occurred_at_ms: i64,
            #[serde(skip_serializing_if = "Option::is_none")]
            first_scan_at_ms: Option<i64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            typos_caught: Option<u32>,
            location: &'a Option<Location>,
            body: &'a EventBody,
            prev_hash: &'a str,
        }
        serde_json::to_vec(&Unsigned {
            id: &self.id,
            seq: self.seq,
            stop_id: &self.stop_id,
            parcel_ids: &self.parcel_ids,
            occurred_at_ms: self.occurred_at_ms,
            first_scan_at_ms: self.first_scan_at_ms,
            typos_caught: self.typos_caught,
            location: &self.location,
            body: &self.body,
            prev_hash: &self.prev_hash,
        })
        .expect("serialising plain data cannot fail")
    }

    /// The hash the next event carries as `prev_hash`.
    ///
    /// It covers the signature's 64 bytes, not the text they arrived as: hex in upper or
    /// mixed case decodes to the same bytes and so to the same hash, so a re-cased copy of an
    /// event cannot fork the chain. The bytes are hashed in their canonical (lower-case hex)
    /// form, which is exactly what devices hashed before, so chains made earlier continue.
    pub fn chain_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.signing_bytes());
        match crate::token::decode_hex::<64>(&self.signature) {
            Some(bytes) => h.update(hex::encode(bytes).as_bytes()),
            // Not a signature at all: it fails verification anyway; hash the text as is.
            None => h.update(self.signature.as_bytes()),
        }
        hex::encode(h.finalize())
    }

    /// Signs the event with the device key (sets `signature`).
    pub fn sign(&mut self, key: &ed25519_dalek::SigningKey) {
        use ed25519_dalek::Signer;
        self.signature = hex::encode(key.sign(&self.signing_bytes()).to_bytes());
    }

    /// `first_scan_at_ms` if it can be true: not after the record and at most
    /// [`MAX_DOOR_TIME_MS`] before it. A phone sends only such a value (its clock may have
    /// stepped back during the handover); the server keeps only such a value.
    pub fn plausible_first_scan_at_ms(&self) -> Option<i64> {
        self.first_scan_at_ms.filter(|&first| {
            self.occurred_at_ms
                .checked_sub(first)
                .is_some_and(|door| (0..=MAX_DOOR_TIME_MS).contains(&door))
        })
    }

    /// `typos_caught` if it can be true: at most [`MAX_TYPOS_CAUGHT`].
    pub fn plausible_typos_caught(&self) -> Option<u32> {
        self.typos_caught.filter(|&n| n <= MAX_TYPOS_CAUGHT)
    }

    /// Checks the signature against the device's public key.
    pub fn verify_signature(&self, key: &ed25519_dalek::VerifyingKey) -> bool {
        let Some(sig) = crate::token::decode_hex::<64>(&self.signature) else {
            return false;
        };
        key.verify_strict(
            &self.signing_bytes(),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .is_ok()
    }
}

/// `POST /v1/sync` — a batch of events, in chain order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// App version, checked against the fleet's version policy.
    #[cfg_attr(feature = "openapi", schema(max_length = 40))]
    pub app_version: String,
    /// Platform.
    pub platform: Platform,
    /// The events, oldest first.
    #[cfg_attr(feature = "openapi", schema(max_items = 1000))]
    pub events: Vec<DeliveryEvent>,
}

/// Why the server refused an event for good. The device keeps the record and shows it as
/// disputed with this reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// The offline code was wrong.
    CodeWrong,
    /// The parcel was locked by too many wrong codes.
    CodeLocked,
    /// The code's window was over.
    CodeExpired,
    /// The token was invalid (signature, key, time, subject).
    TokenInvalid,
    /// The token was already used.
    TokenReused,
    /// The online verification id is unknown or for another parcel.
    VerificationUnknown,
    /// The parcel was already delivered by another event.
    AlreadyDelivered,
    /// The parcel is not assigned to this device's courier.
    NotAssigned,
    /// A code was needed and the event had none.
    CodeRequired,
    /// Offline handover is not allowed for this parcel.
    OfflineNotAllowed,
    /// The event's signature or hash chain does not check out.
    ChainBroken,
    /// The same event id was sent before with different content.
    IdConflict,
    /// The event refers to a photo the server does not have.
    PhotoMissing,
    /// The online verification was already used by another record.
    VerificationUsed,
    /// The online verification is too old for this record.
    VerificationExpired,
    /// The code was replaced by the fleet manager (a new code for the stop) before the record.
    CodeReplaced,
    /// The record claims a time before the phone's previous record or beyond the offline
    /// window the policy allows.
    Backdated,
    /// A step the policy asks for at the door (signature, ID or age check, open-box check,
    /// the place of a neighbour or safe-place delivery) is missing from the record, or the
    /// record uses a method the parcel may not be handed over by.
    StepMissing,
    /// Something else in the event is invalid.
    Invalid,
}

impl RejectCode {
    /// Every code, in declaration order (the UI translates each; its contract fixture lists
    /// them). The match below makes a new variant fail to compile until it is listed.
    pub const ALL: [RejectCode; 19] = [
        RejectCode::CodeWrong,
        RejectCode::CodeLocked,
        RejectCode::CodeExpired,
        RejectCode::TokenInvalid,
        RejectCode::TokenReused,
        RejectCode::VerificationUnknown,
        RejectCode::AlreadyDelivered,
        RejectCode::NotAssigned,
        RejectCode::CodeRequired,
        RejectCode::OfflineNotAllowed,
        RejectCode::ChainBroken,
        RejectCode::IdConflict,
        RejectCode::PhotoMissing,
        RejectCode::VerificationUsed,
        RejectCode::VerificationExpired,
        RejectCode::CodeReplaced,
        RejectCode::Backdated,
        RejectCode::StepMissing,
        RejectCode::Invalid,
    ];

    /// The position in [`Self::ALL`].
    pub const fn position(self) -> usize {
        match self {
            RejectCode::CodeWrong => 0,
            RejectCode::CodeLocked => 1,
            RejectCode::CodeExpired => 2,
            RejectCode::TokenInvalid => 3,
            RejectCode::TokenReused => 4,
            RejectCode::VerificationUnknown => 5,
            RejectCode::AlreadyDelivered => 6,
            RejectCode::NotAssigned => 7,
            RejectCode::CodeRequired => 8,
            RejectCode::OfflineNotAllowed => 9,
            RejectCode::ChainBroken => 10,
            RejectCode::IdConflict => 11,
            RejectCode::PhotoMissing => 12,
            RejectCode::VerificationUsed => 13,
            RejectCode::VerificationExpired => 14,
            RejectCode::CodeReplaced => 15,
            RejectCode::Backdated => 16,
            RejectCode::StepMissing => 17,
            RejectCode::Invalid => 18,
        }
    }
}

// Each position of `RejectCode::ALL` holds the variant `position` puts there, so the list
// cannot skip or repeat one (and a new variant fails to compile in `position`).
const _: () = {
    let mut i = 0;
    while i < RejectCode::ALL.len() {
        assert!(
            RejectCode::ALL[i].position() == i,
            "RejectCode::ALL is out of order"
        );
        i += 1;
    }
};

/// The server's answer for one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EventStatus {
    /// Stored now.
    Accepted,
    /// Stored before; this is a retry.
    Duplicate,
    /// Refused for good.
    Rejected {
        /// Why.
        code: RejectCode,
        /// A sentence for the courier and the fleet manager.
        message: String,
    },
    /// Not processed now (e.g. an earlier event of the chain is missing); send again later.
    Retry {
        /// Why.
        message: String,
    },
}

/// Per-event answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventResult {
    /// The event.
    pub id: EventId,
    /// What happened to it.
    pub status: EventStatus,
}

/// Answer to a sync batch: one result per event, in the same order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncResponse {
    /// Per-event results.
    pub results: Vec<EventResult>,
    /// The fleet's app version policy for this platform.
    pub app_policy: Option<AppVersionPolicy>,
}

/// App version policy for one device: the fleet's release channel for its platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppVersionPolicy {
    /// Versions below this must update before working (`0.0.0` when the fleet sets none).
    pub minimum: String,
    /// The newest release this device is offered (its staged rollout includes the device).
    pub latest: String,
    /// Where to get it: the file on the fleet's server, or a store / TestFlight link.
    pub update_url: Option<String>,
    /// SHA-256 (hex) of the file at `update_url` when the fleet's server hosts it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Release channel (fleet manager)

/// One published build, as the fleet manager sees it (`GET /v1/admin/releases`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReleaseView {
    /// Its platform.
    pub platform: Platform,
    /// SemVer version.
    pub version: String,
    /// Where devices get it: the server's download URL for an uploaded file, or the link.
    pub url: String,
    /// SHA-256 (hex) of an uploaded file; `None` for a link.
    pub sha256: Option<String>,
    /// Size in bytes of an uploaded file.
    pub size: Option<u64>,
    /// Share of devices offered it, 0–100 (a device is in or out by a stable hash of its id).
    pub rollout_percent: u8,
    /// Paused: offered to no device until resumed (devices that installed it keep it).
    pub paused: bool,
    /// Withdrawn: offered to no device; devices are offered the previous release again.
    pub withdrawn: bool,
    /// Unix milliseconds of publication.
    pub published_at: i64,
    /// Who published it (`admin API`, `release token …`, `CLI`, `fleet page (user)`).
    pub published_by: String,
    /// Devices of this platform whose last reported version is this one.
    pub devices: u32,
}

/// A platform's release channel: its minimum version and its releases, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReleaseChannel {
    /// The platform.
    pub platform: Platform,
    /// The minimum supported version, if set.
    pub minimum: Option<String>,
    /// The release a device that is in every rollout is offered now (the newest that is
    /// neither paused nor withdrawn).
    pub current: Option<String>,
    /// Every release, newest first.
    pub releases: Vec<ReleaseView>,
}

/// `PATCH /v1/admin/releases/{platform}/{version}`: change a release's rollout. Fields left
/// out stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReleaseChange {
    /// New rollout percentage (0–100); it may only grow, so devices once offered stay offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_percent: Option<u8>,
    /// Pause (`true`) or resume (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    /// Withdraw (`true`) or restore (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<bool>,
}

/// `PUT /v1/admin/releases/{platform}/minimum`: the minimum supported version (`null` clears
/// it). It may not be above every published release that is not withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MinimumVersion {
    /// SemVer version, or `null`.
    pub minimum: Option<String>,
}

/// `PUT /v1/photos/{sha256}` answer (the body is the raw JPEG/PNG bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhotoUploadResponse {
    /// The SHA-256 the server computed (equals the path).
    pub sha256: String,
    /// Whether the server had it already.
    pub already_present: bool,
}

// ---------------------------------------------------------------------------------------
// Shipper API

/// A recipient of a parcel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    /// Name as printed on the label.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name: String,
    /// Mobile number in E.164 form (for SMS), if any.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = "^\\+[1-9][0-9]{6,14}$"))]
    pub phone: Option<String>,
    /// Email address, if any.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(format = Email))]
    pub email: Option<String>,
    /// The recipient's language (BCP 47, e.g. `es` or `es-MX`) for messages and the customer
    /// page; English when absent or not translated.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 35))]
    pub language: Option<String>,
}

/// An amount of money as a decimal string, e.g. `{"amount": "612.00", "currency": "EUR"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// Decimal amount with at most two decimals.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{1,12}(\\.[0-9]{1,2})?$"))]
    pub amount: String,
    /// ISO 4217 currency code.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z]{3}$"))]
    pub currency: String,
}

/// `POST /v1/parcels` (shipper API key) — announce a parcel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateParcelRequest {
    /// The label's barcode value.
    pub barcode: String,
    /// Who receives it.
    pub recipient: Recipient,
    /// One-line street address.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 500))]
    pub address: String,
    /// Postal code (policy rules can match on it).
    #[cfg_attr(feature = "openapi", schema(max_length = 20))]
    pub postal_code: String,
    /// Coordinates, if known.
    #[serde(default)]
    pub location: Option<Location>,
    /// Declared value.
    #[serde(default)]
    pub declared_value: Option<Money>,
    /// How it is to be handed over.
    pub method: DeliveryMethod,
    /// Other ways the shipper allows at the door when `method` cannot be done (e.g. a
    /// neighbour or a safe place when nobody is home); the policy may still forbid some.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 4))]
    pub alternatives: Vec<DeliveryMethod>,
    /// Where the recipient allows the parcel to be left (for a safe place), e.g.
    /// "behind the side gate".
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 10))]
    pub safe_places: Vec<String>,
    /// Delivery day, `YYYY-MM-DD` in the fleet's time zone.
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    pub delivery_date: String,
    /// Age-restricted goods.
    #[serde(default)]
    pub age_restricted: bool,
    /// The recipient asked for a delivery code.
    #[serde(default)]
    pub recipient_requested_code: bool,
    /// The shipper requires a delivery code.
    #[serde(default)]
    pub shipper_requires_code: bool,
    /// Courier to assign, if known.
    #[serde(default)]
    pub courier_id: Option<CourierId>,
    /// Short description.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub description: Option<String>,
    /// How many delivery days later the customer may move the delivery on their page
    /// (0: not at all; default 5, at most 7).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 7))]
    pub reschedule_days: Option<u8>,
}

/// The policy's decision for a parcel, with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyDecision {
    /// Whether a delivery code is needed.
    pub code_required: bool,
    /// Digits of the code including the check digit, when one is needed.
    pub code_length: Option<u8>,
    /// Failed attempts allowed before the stop locks.
    pub max_attempts: u32,
    /// Whether a typed code may be recorded offline.
    pub offline_allowed: bool,
    /// Whether a proof photo is needed.
    pub photo_required: bool,
    /// The methods the courier may hand the parcel over by, each with its steps at the door
    /// (empty for a parcel created before door steps existed).
    #[serde(default)]
    pub methods: Vec<DoorMethod>,
    /// Why, e.g. "valuable parcel: declared value 612.00 ≥ 500.00 → code required".
    pub reasons: Vec<String>,
}

/// A parcel as the shipper and fleet manager see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParcelView {
    /// Parcel id.
    pub parcel_id: ParcelId,
    /// The stop it belongs to (parcels of one stop share a code).
    pub stop_id: StopId,
    /// Normalised barcode.
    pub barcode: String,
    /// Current state.
    pub status: ParcelStatus,
    /// The day it is on a route for, `YYYY-MM-DD` (a failed attempt that is tried again
    /// moves it to the next delivery day).
    #[serde(default)]
    pub delivery_date: String,
    /// Failed attempts so far.
    #[serde(default)]
    pub failed_deliveries: u32,
    /// This parcel's policy decision.
    pub decision: PolicyDecision,
    /// The stop's code expiry (Unix seconds), when a code exists.
    pub code_expires_at: Option<i64>,
    /// Link to the customer page.
    pub customer_url: String,
}

/// What a webhook reports about a parcel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum WebhookEvent {
    /// The parcel was handed over and the record accepted.
    #[serde(rename = "parcel.delivered")]
    Delivered,
    /// A failed attempt was recorded (see the courier's reason on the fleet page).
    #[serde(rename = "parcel.failed")]
    Failed,
    /// A record of the parcel was refused for good (`reject_code` says why); a person
    /// should look at it.
    #[serde(rename = "parcel.disputed")]
    Disputed,
    /// The courier corrected the delivery record (e.g. handed to the wrong door): the parcel
    /// is to be delivered again.
    #[serde(rename = "parcel.corrected")]
    Corrected,
    /// A failed attempt will be tried again on `reattempt_date`.
    #[serde(rename = "parcel.reattempt")]
    Reattempt,
    /// The parcel goes back to the depot (refused, or no attempts left).
    #[serde(rename = "parcel.returning")]
    Returning,
    /// The customer chose on their page how or when the parcel is delivered
    /// (`preference` says what they chose).
    #[serde(rename = "parcel.preference_changed")]
    PreferenceChanged,
}

impl WebhookEvent {
    /// The name on the wire, e.g. `parcel.delivered`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::Delivered => "parcel.delivered",
            WebhookEvent::Failed => "parcel.failed",
            WebhookEvent::Disputed => "parcel.disputed",
            WebhookEvent::Corrected => "parcel.corrected",
            WebhookEvent::Reattempt => "parcel.reattempt",
            WebhookEvent::Returning => "parcel.returning",
            WebhookEvent::PreferenceChanged => "parcel.preference_changed",
        }
    }
}

/// The JSON body the server POSTs to a shipper's `webhook_url`, one per parcel and event.
/// The `X-Doorstep-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` header signs it with the
/// shipper's webhook secret over `"<t>.<body>"`; a receiver checks it and refuses old `t`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookPayload {
    /// What happened.
    pub event: WebhookEvent,
    /// The parcel.
    pub parcel_id: ParcelId,
    /// The label's barcode as the shipper sent it.
    pub barcode: String,
    /// The courier's record (client-made UUIDv7; the same on every retry of the webhook).
    pub event_id: EventId,
    /// Device time of the handover or attempt, Unix milliseconds.
    pub occurred_at_ms: i64,
    /// Why the record was refused, for `parcel.disputed`.
    pub reject_code: Option<RejectCode>,
    /// What the customer chose, for `parcel.preference_changed` (`event_id` is then the
    /// change's id and `occurred_at_ms` the server's time of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preference: Option<PreferenceChange>,
}

/// A customer's choice as the shipper's webhook reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreferenceChange {
    /// The method the parcel now goes by.
    pub method: DeliveryMethod,
    /// Where (neighbour, safe place, pickup point), if the method says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// The delivery day, `YYYY-MM-DD` (changed when the customer chose another day).
    pub delivery_date: String,
    /// Whether the customer left instructions for the courier (their text stays with the
    /// fleet).
    pub has_instructions: bool,
}

// ---------------------------------------------------------------------------------------
// Fleet administration (admin token)

/// `POST /v1/admin/couriers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateCourierRequest {
    /// Display name.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
}

/// Answer to `POST /v1/admin/couriers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CourierCreated {
    /// The courier's id.
    pub courier_id: CourierId,
}

/// `POST /v1/admin/enrollments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateEnrollmentRequest {
    /// The courier the phone will belong to.
    pub courier_id: CourierId,
}

/// A fresh enrollment code (single use, short-lived).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollmentCreated {
    /// The code to type.
    pub enrollment_code: String,
    /// The URI the QR holds (see [`EnrollmentLink`]).
    pub uri: String,
    /// Unix seconds after which it no longer works.
    pub expires_at: i64,
}

/// `POST /v1/admin/shippers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateShipperRequest {
    /// Display name.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
    /// Where delivered / failed / disputed webhooks go.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(format = "uri", max_length = 2000))]
    pub webhook_url: Option<String>,
}

/// Answer to `POST /v1/admin/shippers` (the key is shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShipperCreated {
    /// The shipper's id.
    pub shipper_id: ShipperId,
    /// API key for `Authorization: Bearer`.
    pub api_key: String,
    /// Secret for the webhooks' HMAC-SHA256 signature header.
    pub webhook_secret: String,
}

/// An enrolled device as the fleet manager sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceView {
    /// Device id.
    pub device_id: DeviceId,
    /// Its courier.
    pub courier_id: CourierId,
    /// App version last reported.
    pub app_version: String,
    /// Platform.
    pub platform: Platform,
    /// Unix seconds of the last authenticated request.
    pub last_seen_at: Option<i64>,
    /// Whether the device was revoked.
    pub revoked: bool,
    /// Records on the phone not sent yet, as it last reported (with a manifest request).
    #[serde(default)]
    pub unsent_records: Option<u64>,
    /// Unix seconds when the oldest of them was recorded.
    #[serde(default)]
    pub oldest_unsent_at: Option<i64>,
    /// Unix seconds of its last sync (records received).
    #[serde(default)]
    pub last_sync_at: Option<i64>,
}

/// A stored delivery event, for `GET /v1/admin/deliveries?date=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredDelivery {
    /// The event id.
    pub event_id: EventId,
    /// The device that sent it.
    pub device_id: DeviceId,
    /// Position in the device's chain.
    pub seq: u64,
    /// The stop.
    pub stop_id: StopId,
    /// The parcels it covers.
    pub parcel_ids: Vec<ParcelId>,
    /// `delivered` or `failed`.
    pub kind: String,
    /// `accepted` or `rejected`.
    pub status: String,
    /// Why it was rejected.
    pub reject_code: Option<RejectCode>,
    /// Unix milliseconds when the server stored it.
    pub received_at_ms: i64,
    /// Accepted after the phone's record chain was re-anchored: the fleet manager should
    /// review it.
    #[serde(default)]
    pub review: bool,
}

/// A message waiting in or sent from the notification outbox (bodies are never shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutboxEntry {
    /// Row id.
    pub id: i64,
    /// `email`, `sms`, `webhook` or `dev`.
    pub channel: String,
    /// Address, number or URL.
    pub recipient: String,
    /// Subject or event name.
    pub subject: String,
    /// Send attempts so far.
    pub attempts: u32,
    /// Whether it went out.
    pub sent: bool,
    /// The last error, if a send failed.
    pub last_error: Option<String>,
    /// Why it will never be sent, if so: `gave_up` (after the last try), `void` (its code
    /// was replaced or expired first) or `rate_limited` (too many code messages to this
    /// recipient). Its body is wiped; `last_error` says more.
    #[serde(default)]
    pub dropped: Option<String>,
}

/// A message from the development outbox (demo mode only): what the customer would get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DevMessage {
    /// Row id.
    pub id: i64,
    /// `email` or `sms`.
    pub channel: String,
    /// Address or number.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Full text, code included (demo data only).
    pub body: String,
    /// The stop the message is about.
    pub stop_id: Option<StopId>,
    /// Unix milliseconds.
    pub sent_at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrollment_link_round_trips() {
        let link = EnrollmentLink {
            server_url: "http://127.0.0.1:8080".into(),
            code: "ABCD-1234".into(),
        };
        assert_eq!(EnrollmentLink::parse(&link.to_uri()).unwrap(), link);
        assert_eq!(
            EnrollmentLink::parse("hello"),
            Err(EnrollmentLinkError::NotALink)
        );
    }

    #[test]
    fn error_body_uses_snake_case_codes() {
        let body = ErrorBody {
            code: ErrorCode::CodeFormat,
            message: "x".into(),
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"code":"code_format","message":"x"}"#
        );
    }
}

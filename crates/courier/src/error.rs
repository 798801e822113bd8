//! The core's one error type. Every variant has a stable [`CourierError::code`] (an
//! [`AppErrorCode`], the closed set of the UI contract) and a message written for the courier.
//! Messages never contain a delivery code or a token.

use doorstep_protocol::wire::EnrollmentLinkError;

use crate::view::AppErrorCode;

/// Everything that can go wrong in a call to the core.
#[derive(Debug, thiserror::Error)]
pub enum CourierError {
    /// The phone has no enrollment yet.
    #[error("this phone is not enrolled yet; scan the enrollment QR from the fleet manager")]
    NotEnrolled,
    /// The server refused the enrollment code.
    #[error("the enrollment code was not accepted ({0}); ask the fleet manager for a new one")]
    EnrollmentInvalid(String),
    /// The scanned or typed enrollment value is not usable.
    #[error("{0}")]
    EnrollmentLinkInvalid(String),
    /// The server could not be reached.
    #[error("no connection to the server; check the network and try again")]
    Network,
    /// The server answered with an error that is not the courier's doing.
    #[error("the server had a problem ({0}); try again later")]
    Server(String),
    /// The fleet manager revoked this phone.
    #[error("this phone's access was revoked by the fleet manager; enroll it again")]
    DeviceRevoked,
    /// The app is older than the fleet's minimum version.
    #[error("this app version is no longer supported; install the update")]
    UpdateRequired,
    /// The update link is not one the app opens (see [`crate::update::update_url_allowed`]).
    #[error("{0}; ask the fleet manager for the update")]
    UpdateUrlRefused(String),
    /// The scanned value is not a parcel label.
    #[error("{0}")]
    BarcodeInvalid(String),
    /// There is no handover going on.
    #[error("no delivery is in progress; scan a parcel first")]
    NoHandover,
    /// The command does not fit the handover's current step.
    #[error("that cannot be done now ({0})")]
    WrongStep(&'static str),
    /// The typed code is not well formed (typo, length).
    #[error("{0}")]
    CodeFormat(String),
    /// Too many wrong codes.
    #[error("too many wrong codes; this parcel cannot be handed over with a code")]
    CodeLocked,
    /// The parcel was already delivered.
    #[error("this parcel was already delivered")]
    AlreadyDelivered,
    /// Offline handover with a typed code is not allowed for this stop.
    #[error(
        "no connection, and this parcel may only be handed over after the code is checked online; try again with signal, scan the customer's QR, or record an exception"
    )]
    OfflineNotAllowed,
    /// The customer's QR token was refused.
    #[error("{0}")]
    TokenInvalid(String),
    /// The policy asks for a photo and none was given.
    #[error("this parcel needs a photo as proof")]
    PhotoRequired,
    /// The photo handed over is not one (format or size).
    #[error("{0}")]
    PhotoInvalid(&'static str),
    /// No recipient name was given.
    #[error("enter the name of the person who took the parcel")]
    RecipientRequired,
    /// The scanned parcels may not all be handed over by the chosen method.
    #[error(
        "these parcels may not be handed over this way; choose another way or record a failed delivery"
    )]
    MethodNotAllowed,
    /// The policy asks for a signature and none was given.
    #[error("this delivery needs a signature; ask the person to sign on the screen")]
    SignatureRequired,
    /// The policy asks for an ID (and age) check that was not done or not confirmed.
    #[error("check the recipient's ID first and confirm that you saw it")]
    IdCheckRequired,
    /// The recipient does not meet the minimum age.
    #[error(
        "the recipient does not meet the minimum age; do not hand over the parcel: record 'refused: age'"
    )]
    AgeNotMet,
    /// A neighbour, safe place or pickup point delivery without saying where.
    #[error(
        "say where: the neighbour's house number, the safe place, or the pickup point (up to 200 characters)"
    )]
    PlaceRequired,
    /// The open-box check needs a photo of the contents.
    #[error("take a photo of the opened box's contents first")]
    ContentsPhotoRequired,
    /// The record is not one of today's handovers of this phone, or was corrected already.
    #[error("only a handover of today can be corrected, and only once; call the fleet manager")]
    CorrectionNotAllowed,
    /// The local database failed.
    #[error("the phone's storage failed; the app cannot save right now")]
    Storage(StoreError),
    /// The local database was written by a newer version of the app; this one refuses to
    /// touch it rather than misread it.
    #[error("this phone's data was saved by a newer version of the app; install the newer version")]
    DataFromNewerApp(StoreError),
    /// A bug or an impossible state; details are in the log.
    #[error("something went wrong inside the app")]
    Internal(String),
}

impl CourierError {
    /// The stable machine code the UI switches on.
    pub fn code(&self) -> AppErrorCode {
        match self {
            Self::NotEnrolled => AppErrorCode::NotEnrolled,
            Self::EnrollmentInvalid(_) => AppErrorCode::EnrollmentInvalid,
            Self::EnrollmentLinkInvalid(_) => AppErrorCode::EnrollmentLinkInvalid,
            Self::Network => AppErrorCode::Network,
            Self::Server(_) => AppErrorCode::ServerError,
            Self::DeviceRevoked => AppErrorCode::DeviceRevoked,
            Self::UpdateRequired | Self::DataFromNewerApp(_) => AppErrorCode::UpdateRequired,
            Self::UpdateUrlRefused(_) => AppErrorCode::UpdateUrlRefused,
            Self::BarcodeInvalid(_) => AppErrorCode::BarcodeInvalid,
            Self::NoHandover => AppErrorCode::NoHandover,
            Self::WrongStep(_) => AppErrorCode::WrongStep,
            Self::CodeFormat(_) => AppErrorCode::CodeFormat,
            Self::CodeLocked => AppErrorCode::CodeLocked,
            Self::AlreadyDelivered => AppErrorCode::AlreadyDelivered,
            Self::OfflineNotAllowed => AppErrorCode::OfflineNotAllowed,
            Self::TokenInvalid(_) => AppErrorCode::TokenInvalid,
            Self::PhotoRequired => AppErrorCode::PhotoRequired,
            Self::PhotoInvalid(_) => AppErrorCode::PhotoInvalid,
            Self::RecipientRequired => AppErrorCode::RecipientRequired,
            Self::MethodNotAllowed => AppErrorCode::MethodNotAllowed,
            Self::SignatureRequired => AppErrorCode::SignatureRequired,
            Self::IdCheckRequired => AppErrorCode::IdCheckRequired,
            Self::AgeNotMet => AppErrorCode::AgeNotMet,
            Self::PlaceRequired => AppErrorCode::PlaceRequired,
            Self::ContentsPhotoRequired => AppErrorCode::ContentsPhotoRequired,
            Self::CorrectionNotAllowed => AppErrorCode::CorrectionNotAllowed,
            Self::Storage(_) => AppErrorCode::Storage,
            Self::Internal(_) => AppErrorCode::Internal,
        }
    }

    /// Whether trying the same thing again later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Network | Self::Server(_) | Self::Storage(_))
    }

    /// The error as the UI receives it.
    pub fn to_view(&self) -> crate::view::AppError {
        crate::view::AppError {
            code: self.code(),
            message: self.to_string(),
        }
    }
}

impl From<StoreError> for CourierError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NewerSchema { .. } => Self::DataFromNewerApp(e),
            other => Self::Storage(other),
        }
    }
}

impl From<EnrollmentLinkError> for CourierError {
    fn from(e: EnrollmentLinkError) -> Self {
        Self::EnrollmentLinkInvalid(e.to_string())
    }
}

/// A failure of the local SQLite store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Reading or writing a file (data directory, photo) failed.
    #[error("file error: {0}")]
    Io(#[from] std::io::Error),
    /// The database was written by a newer app; this one refuses to touch it.
    #[error(
        "the database has schema version {found}, newer than this app understands ({supported}); install the newer app"
    )]
    NewerSchema {
        /// Version in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// A stored value could not be read back.
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
}

//! What a store operation can fail with.

use super::backend::sql::DbError;

/// Errors of store operations that a client can cause; anything else is `Db`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("storage error: {0}")]
    Db(#[from] DbError),
    /// No such thing.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Not this caller's.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Clashes with stored state.
    #[error("{0}")]
    Conflict(String),
    /// A value breaks a rule.
    #[error("{0}")]
    Validation(String),
    /// The enrollment code is unknown, used or expired.
    #[error("the enrollment code is unknown, expired or already used; ask for a new one")]
    EnrollmentInvalid,
    /// A resend was asked for too soon or too often.
    #[error("a new code was sent recently; try again later")]
    ResendTooSoon {
        /// Unix seconds when it is allowed again (`None`: never again for this stop).
        next_allowed_at: Option<i64>,
    },
    /// The typed code has the wrong length for this stop.
    #[error("the delivery code for this stop has {0} digits")]
    CodeFormat(u8),
    /// The parcel needs no code.
    #[error("this parcel needs no delivery code")]
    CodeNotRequired,
    /// The group commit that held this operation failed; nothing of it was stored.
    #[error("the database could not commit; retry")]
    CommitFailed,
    /// The database was written by a newer server.
    #[error(
        "the database has schema version {found}, this server knows up to {supported}; run a newer server"
    )]
    DatabaseTooNew {
        /// Version found.
        found: i64,
        /// Newest version known here.
        supported: i64,
    },
    /// A migration failed (nothing of it was applied).
    #[error("migration failed: {0}")]
    Migration(String),
    /// The database or its directory cannot be used as it is (missing, set up with other
    /// secrets); the message says how to fix it.
    #[error("{0}")]
    Unusable(String),
    /// The blocking task that ran the operation failed (a panic); nothing is known of it.
    #[error("a storage task failed")]
    TaskFailed,
}

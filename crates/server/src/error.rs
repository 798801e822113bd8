//! The errors that stop the server or one of its commands at start: the data directory, the
//! secrets, the policy file, the database and its schema. Errors of a running request are the
//! HTTP layer's ([`crate::http::ApiError`]).

use crate::domain::policy::PolicyError;
use crate::store::StoreError;
use crate::sys::secrets::SecretsError;

/// Errors that stop the server or a command.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// File system.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// Database.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A store operation failed.
    #[error("{0}")]
    Store(StoreError),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The database was written by a newer server.
    #[error(
        "the database has schema version {found}, this server knows up to {supported}; run a newer server"
    )]
    DatabaseTooNew {
        /// Version in the file.
        found: i64,
        /// Newest version known here.
        supported: i64,
    },
    /// The policy file is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
}

impl From<StoreError> for ServerError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::DatabaseTooNew { found, supported } => {
                Self::DatabaseTooNew { found, supported }
            }
            StoreError::Migration(m) => Self::Migration(m),
            StoreError::Unusable(m) => Self::Config(m),
            e => Self::Store(e),
        }
    }
}

impl From<SecretsError> for ServerError {
    fn from(e: SecretsError) -> Self {
        match e {
            SecretsError::Io(e) => Self::Io(e),
            SecretsError::Unusable(m) => Self::Config(m),
        }
    }
}

//! The data directory: secrets and private files.

pub mod secrets;

//! The data directory: secrets, private files and the content-addressed files (photos,
//! release builds).

pub mod blobs;
pub mod secrets;

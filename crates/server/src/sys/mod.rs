//! The data directory: secrets, private files and the content-addressed files (photos,
//! release builds).

pub mod blobs;
pub mod secrets;

/// The photos' directory in the data directory ([`blobs::Blobs`]).
pub const PHOTOS_DIR: &str = "photos";

/// The release builds' directory in the data directory ([`blobs::Blobs`]).
pub const RELEASES_DIR: &str = "releases";

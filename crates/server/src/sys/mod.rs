//! The data directory: secrets, private files and the content-addressed files (photos,
//! release builds); and the operator's map tiles.

pub mod blobs;
pub(crate) mod map_tiles;
pub mod secrets;

/// The photos' directory in the data directory ([`blobs::Blobs`]).
pub const PHOTOS_DIR: &str = "photos";

/// The release builds' directory in the data directory ([`blobs::Blobs`]).
pub const RELEASES_DIR: &str = "releases";

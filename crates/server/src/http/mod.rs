//! The HTTP plumbing every route module shares — the error type every answer uses and the
//! extractors (strict JSON, query and path; the device, shipper and admin callers) — in its
//! own module, so the API routes (`api`), the pages (`pages`) and the middleware (`limits`)
//! depend on it and not on each other.

pub mod error;
pub mod extract;

pub use error::{ApiError, db, demo_only};
pub use extract::{
    AdminCaller, DeviceCaller, ReleasePublisher, ShipperCaller, StrictJson, StrictPath,
    StrictQuery, SyncingDevice,
};

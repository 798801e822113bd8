//! The HTTP edge: the shared state, the error every answer uses, the extractors (strict JSON,
//! query and path; the device, shipper and admin callers), the middleware, the `/v1` API per
//! resource ([`api`]), the OpenAPI document, the server-rendered pages ([`pages`]) and the
//! release upload both of those take (`release_upload`).

pub mod api;
pub(crate) mod assets;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod openapi;
pub mod pages;
mod release_upload;
mod router;
mod state;

pub use error::ApiError;
pub use extract::{
    AdminCaller, DeviceCaller, DeviceToken, ReleasePublisher, ShipperCaller, StrictJson,
    StrictPath, StrictQuery, SyncingDevice,
};
pub use router::router;
pub use state::{AppState, db, demo_only};

//! The HTTP edge: the shared state, the error every answer uses, the extractors (strict JSON,
//! query and path; the device, shipper and admin callers), the middleware, the `/v1` API per
//! resource ([`api`]), the OpenAPI document and the server-rendered pages ([`pages`]).

pub mod api;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod openapi;
pub mod pages;
mod state;

pub use api::router;
pub use error::{ApiError, db, demo_only};
pub use extract::{
    AdminCaller, DeviceCaller, ReleasePublisher, ShipperCaller, StrictJson, StrictPath,
    StrictQuery, SyncingDevice,
};
pub use state::AppState;

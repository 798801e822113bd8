//! The Doorstep courier device core: everything the app does, with no Tauri in it.
//!
//! - [`Device`]: open one per data directory; one async method per UI command.
//! - [`view`]: the UI-facing types, whose JSON is exactly the IPC contract's shapes.
//! - [`CourierError`]: one error type with a stable [`CourierError::code`], an
//!   [`AppErrorCode`] from the closed set the UI switches on.
//! - [`store`]: the SQLite store (migrations, durable commits, the outbox).
//! - [`handover`]: the handover flow as a pure state machine.
//! - [`sync`]: the sync engine (batches, photos first, backoff with full jitter).
//! - [`update`]: the fleet's release policy as it applies to this build, and the update links
//!   the app may open.
//!
//! Time ([`Clock`]) and randomness ([`Randomness`]) are passed in, the same types the dispatch
//! server takes (crate `doorstep-inputs`).

pub mod api;
mod config;
mod date;
mod device;
mod door;
pub mod error;
pub mod handover;
mod photos;
mod shared;
pub mod store;
pub mod sync;
pub mod update;
mod version;
pub mod view;

pub use config::Config;
pub use date::date_at;
pub use device::Device;
pub use doorstep_inputs::{Clock, ManualClock, Randomness, SystemClock};
pub use error::{CourierError, StoreError};
pub use photos::{MAX_PHOTO_BYTES, photo_extension};
pub use sync::SyncReport;
pub use version::version_below;
pub use view::AppErrorCode;

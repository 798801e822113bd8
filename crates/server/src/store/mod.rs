//! The storage boundary: every SQL statement of the server lives in this module, written once
//! for both backends.
//!
//! Handlers call the domain operations below (create a parcel, verify a code, store a sync
//! batch, ...); each runs in one transaction and is blocking, so callers run it on a blocking
//! thread ([`Store::run_blocking`]). The operations are split by concern — [`devices`] (shippers,
//! couriers, enrollment, devices), [`parcels`] (parcels, stops, the manifest), [`codes`]
//! (codes and verification), [`events`] (sync and the record chains), [`outbox`] (customer
//! messages and webhooks) and [`views`] (what the pages and the admin API read) — over one SQL
//! boundary, [`backend::sql::Db`], with two implementations: [`backend::sqlite`] (the embedded
//! default: one file, WAL, `synchronous=FULL`, group commit) and [`backend::postgres`] (many
//! server nodes on one
//! PostgreSQL database: a pool, serializable transactions retried on conflict).

mod accounts;
pub mod backend;
mod chain;
mod codes;
mod customer;
mod devices;
mod door;
mod error;
mod events;
mod handle;
mod imports;
mod models;
mod numbers;
mod outbox;
mod parcels;
mod proofs;
mod releases;
mod rows;
mod schema;
pub mod sqlite_to_postgres;
mod today;
mod views;

pub use accounts::User;
pub use chain::MAX_RECORDS_FROM_A_REVOKED_PHONE;
pub use customer::{CustomerPage, CustomerParcel, CustomerView};
pub use door::{CorrectionView, UnexpectedParcel, VanReconciliation};
pub use error::StoreError;
pub use handle::{Location, Store, StoreSettings};
pub use imports::{DeliveryRow, ImportOutcome, ImportReport, ImportRow};
pub use models::*;
pub use numbers::DayCells;
pub use proofs::{FarHandover, ParcelHit, Point, ProofOfDelivery, ProofRecord, TimelineEntry};
pub use releases::{ChannelRules, NewRelease};
pub use today::{CourierDay, LastRecord, Route, RouteStop, Today, TodayStop};
pub use views::LockedStop;

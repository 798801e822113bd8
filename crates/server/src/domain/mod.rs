//! The rules, pure: no I/O, no clock, no randomness of their own.

pub mod accounts;
pub mod calendar;
pub mod customer;
pub mod customer_words;
pub mod geo;
pub mod imports;
pub mod messages;
pub mod numbers;
pub mod parcel;
pub mod policy;
pub mod releases;
pub mod today;
pub mod zone;

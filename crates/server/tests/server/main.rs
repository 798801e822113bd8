//! Integration tests of the dispatch server over real sockets.

mod accounts;
mod auth;
mod cli;
mod cluster;
mod codes;
mod connections;
mod customer;
mod door;
#[cfg(unix)]
mod files;
mod fleet_releases;
mod helpers;
mod imports;
mod input;
mod keys;
mod limits;
mod logs;
mod migrate;
mod notify;
mod numbers;
mod openapi;
mod outbox;
mod pages;
mod phones;
mod pod;
mod policy;
mod proofs;
mod releases;
mod sync;
mod today;
mod tokens;

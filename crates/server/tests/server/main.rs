//! Integration tests of the dispatch server over real sockets.

mod auth;
mod cli;
mod codes;
mod helpers;
mod input;
mod logs;
mod notify;
mod pages;
mod policy;
mod sync;
mod tokens;

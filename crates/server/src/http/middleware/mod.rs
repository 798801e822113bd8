//! What every request passes through before its handler: the connection limit, rate limits,
//! timeouts, body limits and encodings.

pub mod connections;
pub mod limiters;
pub mod limits;

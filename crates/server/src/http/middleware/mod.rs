//! What every request passes through before its handler: limits, timeouts, encodings.

pub mod limits;

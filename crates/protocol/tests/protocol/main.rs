//! Integration tests of the protocol crate: one binary, modules mirroring `src/`.

mod barcode;
mod code;
mod token;
mod wire;

//! Tests of `doorstep_protocol::barcode`.

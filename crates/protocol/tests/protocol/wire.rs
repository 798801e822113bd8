//! Tests of `doorstep_protocol::wire`.

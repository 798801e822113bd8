//! Tests of `doorstep_protocol::code`.

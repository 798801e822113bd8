//! Tests of `doorstep_protocol::token`.

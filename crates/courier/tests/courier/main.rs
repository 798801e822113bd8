//! Integration tests against the real dispatch server.

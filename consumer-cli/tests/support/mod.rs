//! Helpers for consumer-cli's integration tests.
pub mod tls_server;

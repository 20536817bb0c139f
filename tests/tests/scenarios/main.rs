//! The workspace-level integration tests, one test binary whose modules are
//! scenarios (`cargo test -p privatelink-tests --test scenarios provider::`
//! runs one of them). One binary rather than one per file because each links
//! the whole AWS SDK: on two cores that link, repeated per file, was most of
//! an incremental `cargo test`. Shared helpers live in the library
//! (`tests/src`), not here.
//!
//! All modules share the process's emulator ([`privatelink_tests::Emulator::shared`]),
//! each test in fresh accounts, so a test never changes server-wide
//! settings on it: one that needs other timings, or a call log of its own,
//! starts its own emulator ([`privatelink_tests::Emulator::start`]).
//!
//! `live` (real AWS) is a separate binary with its own harness, so that a
//! skip never shows as a passed test.

mod approver;
mod cli_help;
mod consumer;
mod cross_region;
mod e2e;
mod gateway;
mod lambda_runtime;
mod lifecycle;
mod operator;
mod provider;
mod regions;
mod registry;

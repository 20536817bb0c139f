//! Workspace-level test support: the local AWS emulator (moto plus this
//! project's PrivateLink layer, `tests/emulator/`) and the fixtures that the
//! integration tests and the demo share.
//!
//! Nothing here is product code: the binaries never link it.

pub mod accounts;
pub mod bare_relay;
pub mod bins;
pub mod bridge;
pub mod demo;
pub mod emulator;
pub mod fixtures;
pub mod gateway_process;
pub mod iam_coverage;
pub mod lambda_runtime;
pub mod machine;
pub mod nlb_stand_in;
pub mod ports;
pub mod provider_cli;
pub mod tls_server;

pub use accounts::Account;
pub use emulator::{Emulator, Fault};

//! Provider side of PrivateLink-as-a-product, and the pieces every binary of
//! the kit shares.
//!
//! The shared pieces (always compiled, also linked by the approver Lambda and
//! the consumer CLI):
//! - [`aws`]: one way to build AWS SDK configuration (region, profile,
//!   credential chain, endpoint override, retries) for every binary;
//! - [`state`]: endpoint/connection states read robustly despite the SDK's
//!   enum casing bug;
//! - [`wait`]: the one deadline + capped-backoff poller for states that have
//!   no SDK waiter.
//!
//! The provider CLI's argument types and dispatch are in `cli` (feature
//! `cli`).

pub mod approval;
pub mod aws;
#[cfg(feature = "cli")]
pub mod cli;
pub mod errors;
pub mod naming;
#[cfg(feature = "provision")]
pub mod operator;
#[cfg(feature = "provision")]
pub mod provision;
pub mod state;
pub mod wait;

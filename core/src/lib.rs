//! What every binary of the kit shares, and nothing it does not: the
//! provider CLI, the approver Lambda and the consumer CLI each link this
//! crate and only the AWS SDK clients they call.
//!
//! - [`approval`]: the approval rules, the reconcile that applies them, the
//!   connection listing and the decision history (the Lambda, the operator's
//!   `sweep` and the manual override all go through it);
//! - [`arn`]: the partition of a region and the ARNs built with it;
//! - [`aws`]: one way to build AWS SDK configuration (region, profile,
//!   credential chain, endpoint override, retries, app name);
//! - [`errors`]: AWS error classification (transient, not found, ...);
//! - [`naming`]: stack names, resource names and the ownership tag;
//! - [`state`]: endpoint/connection states read robustly despite the SDK's
//!   enum casing;
//! - [`wait`]: the one deadline + capped-backoff poller for states that have
//!   no SDK waiter;
//! - `cli` (feature `cli`): the command-line plumbing both CLIs share.

pub mod approval;
pub mod arn;
pub mod aws;
#[cfg(feature = "cli")]
pub mod cli;
pub mod errors;
pub mod naming;
pub mod state;
pub mod wait;

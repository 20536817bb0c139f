//! Provider side of PrivateLink-as-a-product: provisioning, status and
//! teardown of the stack ([`provision`]), the operator commands
//! ([`operator`]) and the provider CLI ([`cli`]).
//!
//! The pieces every binary of the kit shares (approval rules, AWS
//! configuration, error classification, naming, states, waits) live in the
//! `privatelink-core` crate; they are re-exported here under their old paths
//! so provider code says `crate::approval`, `crate::naming`, ...

pub use privatelink_core::{approval, arn, aws, errors, naming, state, wait};

pub mod cli;
pub mod operator;
pub mod provision;

//! Thin AWS adapters, one module per resource family. Each offers
//! `find_*` (read-only, `None` when absent), `create_*`/`set_*` (tag at
//! creation, idempotent where the API allows) and `delete_*` (already gone
//! counts as done). No decisions are made here: [`super::plan`] decides,
//! [`super::apply`] and [`super::down`] call these.

pub mod approver;
pub mod network;
pub mod nlb;
pub mod schedule;
pub mod service;
pub mod tenants_table;
pub mod topic;
pub mod verification_record;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::naming::{StackName, MANAGED_BY, MANAGED_BY_TAG, STACK_TAG};
use crate::wait::{Backoff, WaitError};

use super::ProvisionError;

/// The tags every resource of the stack carries from its creation on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackTags {
    pub stack: StackName,
    pub extra: BTreeMap<String, String>,
}

impl StackTags {
    pub fn new(stack: &StackName, extra: &BTreeMap<String, String>) -> StackTags {
        StackTags {
            stack: stack.clone(),
            extra: extra.clone(),
        }
    }

    /// Ownership tags first, then the operator's own.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut pairs = vec![
            (STACK_TAG.to_string(), self.stack.to_string()),
            (MANAGED_BY_TAG.to_string(), MANAGED_BY.to_string()),
        ];
        pairs.extend(self.extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        pairs
    }
}

/// True when the tag list says the resource belongs to `stack`.
pub fn owned_by<'a>(
    mut tags: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>,
    stack: &StackName,
) -> bool {
    tags.any(|(k, v)| k == Some(STACK_TAG) && v == Some(stack.as_str()))
}

/// The refusal for a resource that has the stack's name but not its tag.
pub fn not_ours(kind: &str, name: &str, stack: &StackName) -> ProvisionError {
    ProvisionError::Refused(format!(
        "a {kind} named {name} exists but is not tagged {STACK_TAG}={stack}: it belongs to \
         something else and is left alone; choose another stack name"
    ))
}

/// How long deletes that wait for dependencies to go (subnets, VPC) retry.
pub const DEPENDENCY_BACKOFF: Backoff = Backoff {
    first: Duration::from_millis(500),
    max: Duration::from_secs(10),
    timeout: Duration::from_secs(300),
};

/// Maps the wait helper's error to ours.
pub fn wait_error(error: WaitError<ProvisionError>) -> ProvisionError {
    match error {
        WaitError::TimedOut {
            what,
            waited,
            last_seen,
        } => ProvisionError::Timeout {
            what,
            waited_seconds: waited.as_secs(),
            last_seen,
        },
        WaitError::Failed(e) => e,
    }
}

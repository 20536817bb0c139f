//! The operator's side of the approver: list connections, override the
//! approver by hand, change the allowlist in both places it lives, run the
//! sweep locally, and read the decision history. Everything decides through
//! [`crate::approval`] (no second copy of the rules); this module only
//! finds the stack and its approver function ([`target`]), views the
//! allowed principals ([`principals`]), and shapes results for people and
//! scripts. The AWS calls on the function and the service's principals are
//! the provider's own adapters ([`crate::provision::resources`]), shared
//! with `up`.
//!
//! - [`connections`]: the connections table and the history table;
//! - [`overrides`]: manual accept/reject, planned purely, then applied;
//! - [`allowlist`]: `allow`/`disallow` in the order that is safe if
//!   interrupted;
//! - [`drift`]: the comparison `status` also shows.

pub mod allowlist;
pub mod connections;
pub mod drift;
pub mod error;
pub mod overrides;
pub mod principals;
pub mod target;

use std::time::SystemTime;

pub use error::OperatorError;
pub use target::{Selector, Target};

use crate::approval::{list_connections_detailed, reconcile, Listed, Report, Trigger};
use crate::state::EndpointState;
use connections::{ConnectionsView, HistoryView};
use target::ApproverFunction;

/// The caller's ARN from STS `GetCallerIdentity`: who made a manual
/// decision.
pub async fn caller_identity(sts: &aws_sdk_sts::Client) -> Result<String, OperatorError> {
    let out = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| OperatorError::aws("GetCallerIdentity", "the caller", &e))?;
    out.arn()
        .map(str::to_string)
        .ok_or_else(|| OperatorError::Mismatch("GetCallerIdentity returned no ARN".into()))
}

/// The service's connections (all pages).
pub async fn listed(
    ec2: &aws_sdk_ec2::Client,
    target: &Target,
) -> Result<Vec<Listed>, OperatorError> {
    Ok(list_connections_detailed(ec2, &target.service_id).await?.0)
}

/// `connections`: every connection of the service in one of `states` (all
/// when empty), with allowlisting read from both places and the drift
/// warning. A missing or unreadable approver function is reported in the
/// view, not an error: the connections are still worth seeing.
pub async fn connections_view(
    ec2: &aws_sdk_ec2::Client,
    lambda: &aws_sdk_lambda::Client,
    target: &Target,
    states: &[EndpointState],
) -> Result<ConnectionsView, OperatorError> {
    let listed = listed(ec2, target).await?;
    let principals = principals::load(ec2, &target.service_id).await?;
    let (allowlist, drift, approver_problem) = match ApproverFunction::load(lambda, target).await {
        Ok(function) => {
            let allowlist = function.allowlist();
            let drift = drift::compare(
                &target.service_id,
                &function.name,
                &principals,
                allowlist.as_ref(),
            );
            (allowlist, Some(drift), None)
        }
        Err(error @ (OperatorError::NotFound(_) | OperatorError::Mismatch(_))) => {
            (None, None, Some(error.to_string()))
        }
        Err(other) => return Err(other),
    };
    Ok(ConnectionsView {
        service_id: target.service_id.clone(),
        connections: connections::rows(
            &listed,
            allowlist.as_ref(),
            &principals,
            states,
            SystemTime::now(),
        ),
        drift,
        approver_problem,
    })
}

/// `history`: the last decision recorded on each connection (optionally
/// only the named endpoints).
pub async fn history_view(
    ec2: &aws_sdk_ec2::Client,
    target: &Target,
    endpoint_ids: &[String],
) -> Result<HistoryView, OperatorError> {
    let listed: Vec<Listed> = listed(ec2, target)
        .await?
        .into_iter()
        .filter(|l| endpoint_ids.is_empty() || endpoint_ids.contains(&l.connection.endpoint_id))
        .collect();
    let rows = connections::rows(
        &listed,
        None,
        &principals::Principals::default(),
        &[],
        SystemTime::now(),
    );
    Ok(HistoryView {
        service_id: target.service_id.clone(),
        connections: rows,
    })
}

/// `sweep`: the approver's reconcile, run from the operator's machine with
/// the function's own configuration (read from Lambda). `dry_run` forces a
/// dry run; a function configured with `APPROVER_DRY_RUN=true` always runs
/// dry.
pub async fn sweep(
    ec2: &aws_sdk_ec2::Client,
    lambda: &aws_sdk_lambda::Client,
    target: &Target,
    dry_run: bool,
) -> Result<Report, OperatorError> {
    let function = ApproverFunction::load(lambda, target).await?;
    let mut config = function.config()?;
    config.dry_run |= dry_run;
    Ok(reconcile(ec2, &config, Trigger::Manual, None).await?)
}

//! The operator's side of the approver: list connections, override the
//! approver by hand, edit the tenant registry (and make the allowed
//! principals and connections follow), run the sweep locally, and read the
//! decision history. Everything decides through [`crate::approval`] (no
//! second copy of the rules); this module only finds the stack, its
//! approver function and its registry ([`target`]), views the allowed
//! principals ([`principals`]), and shapes results for people and scripts.
//! The AWS calls on the function and the service's principals are the
//! provider's own adapters ([`crate::provision::resources`]), shared with
//! `up`; the registry's are `privatelink_registry`'s.
//!
//! - [`connections`]: the connections table and the history table;
//! - [`overrides`]: manual accept/reject, planned purely, then applied;
//! - [`tenants`] and [`import`]: the registry's edits, conditional on the
//!   version read; [`follow`]: the principals and connections after them;
//! - [`drift`]: the principals against the entitled tenants, which `status`
//!   also shows.

pub mod connections;
pub mod drift;
pub mod error;
pub mod follow;
pub mod import;
pub mod overrides;
pub mod principals;
pub mod target;
pub mod tenants;

use std::time::SystemTime;

pub use error::OperatorError;
pub use target::{Selector, Target};

use privatelink_registry::Registry;

use crate::approval::tenant::now_epoch;
use crate::approval::{
    list_connections_detailed, reconcile, Listed, Report, Scope, Tenants, Trigger,
};
use crate::state::EndpointState;
use connections::{ConnectionsView, HistoryView};
use target::ApproverFunction;

/// The caller's ARN from STS `GetCallerIdentity`: who made a manual
/// decision.
pub async fn caller_identity(sts: &aws_sdk_sts::Client) -> Result<String, OperatorError> {
    crate::provision::observe::caller(sts)
        .await?
        .1
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
/// when empty), with each owner's standing in the tenant registry and the
/// drift warning. A registry that cannot be read is reported in the view,
/// not an error: the connections are still worth seeing.
pub async fn connections_view(
    ec2: &aws_sdk_ec2::Client,
    dynamodb: &aws_sdk_dynamodb::Client,
    target: &Target,
    states: &[EndpointState],
) -> Result<ConnectionsView, OperatorError> {
    let listed = listed(ec2, target).await?;
    let principals = principals::load(ec2, &target.service_id).await?;
    let read = match target.table() {
        Ok(table) => {
            let registry = Registry::new(dynamodb.clone(), table);
            registry
                .list()
                .await
                .map(|all| (registry.table().to_string(), all))
                .map_err(|e| e.to_string())
        }
        Err(error) => Err(error.to_string()),
    };
    let now = now_epoch();
    let (tenants, drift, registry_problem) = match read {
        Ok((table, all)) => {
            let drift = drift::compare(&target.service_id, &table, &principals, &all, now);
            (Some(Tenants::new(all, now)), Some(drift), None)
        }
        Err(problem) => (None, None, Some(problem)),
    };
    Ok(ConnectionsView {
        service_id: target.service_id.clone(),
        connections: connections::rows(
            &listed,
            tenants.as_ref(),
            &principals,
            states,
            SystemTime::now(),
        ),
        drift,
        registry_problem,
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
/// the function's own configuration (read from Lambda) and its registry,
/// over the scope the scheduled sweep uses (every connection with
/// revocation on, the requests only without). `dry_run` forces a dry run;
/// a function configured with `APPROVER_DRY_RUN=true` always runs dry.
pub async fn sweep(
    ec2: &aws_sdk_ec2::Client,
    lambda: &aws_sdk_lambda::Client,
    dynamodb: &aws_sdk_dynamodb::Client,
    target: &Target,
    dry_run: bool,
) -> Result<Report, OperatorError> {
    let function = ApproverFunction::load(lambda, target).await?;
    let mut config = function.config()?;
    config.dry_run |= dry_run;
    let registry = Registry::new(
        registry_client(dynamodb, config.table_region.as_deref()),
        config.table.clone(),
    );
    let scope = Scope::for_trigger(&Trigger::Manual, &config);
    Ok(reconcile(ec2, &registry, &config, Trigger::Manual, None, scope).await?)
}

/// The DynamoDB client for the registry the approver reads: `dynamodb`
/// itself, or the same client in `table_region` when the function reads its
/// home region's registry (a stack in several regions).
pub fn registry_client(
    dynamodb: &aws_sdk_dynamodb::Client,
    table_region: Option<&str>,
) -> aws_sdk_dynamodb::Client {
    match table_region {
        Some(region) => aws_sdk_dynamodb::Client::from_conf(
            dynamodb
                .config()
                .to_builder()
                .region(aws_sdk_dynamodb::config::Region::new(region.to_string()))
                .build(),
        ),
        None => dynamodb.clone(),
    }
}

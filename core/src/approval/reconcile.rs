//! The AWS adapter of the approver: observe the service's connections, plan
//! with [`super::decide::decide_all`], apply the plan in batches, and log one
//! record per decision. Re-runnable: a second run on an unchanged account
//! plans only `leave` and makes no mutating call.

use std::collections::HashMap;

use aws_sdk_ec2::types::{Filter, UnsuccessfulItem};
use aws_sdk_ec2::Client;

use crate::errors::{AwsError, ErrorKind};

use super::config::ApproverConfig;
use super::decide::{decide_all, Connection, Decision};
use super::history::{self, LastDecision, Recorded};
use super::record::{DecisionRecord, Hint, Outcome, Report, Trigger};
use super::tenant::{now_epoch, TenantSource, Tenants};

/// The most connections one Describe page returns (AWS caps `MaxResults`
/// here), and the most endpoint ids sent in one Accept/Reject call (AWS
/// documents no limit; 1,000 keeps each request well under size limits).
pub const PAGE_SIZE: i32 = 1000;
pub const BATCH_SIZE: usize = 1000;

/// Why a reconcile did not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconcileError {
    /// Throttling, 5xx, timeouts, network: running again later may work.
    #[error("{error} (service {service_id}; transient, run again later)")]
    Transient { service_id: String, error: AwsError },
    /// The endpoint service does not exist in this account and region.
    #[error("endpoint service {service_id} was not found in this account and region: check APPROVER_SERVICE_ID and the function's region ({error})")]
    UnknownService { service_id: String, error: AwsError },
    /// The credentials may not make this call.
    #[error("not allowed to call {} for {service_id}: grant ec2:DescribeVpcEndpointConnections, ec2:AcceptVpcEndpointConnections and ec2:RejectVpcEndpointConnections on the service, and ec2:CreateTags on its connections for the decision history (`endpoint-service iam-policy` prints the policy) ({error})", error.operation)]
    AccessDenied { service_id: String, error: AwsError },
    /// Anything else that retrying will not fix.
    #[error("{error} (service {service_id}; permanent, retrying will not help)")]
    Permanent { service_id: String, error: AwsError },
    /// The tenant registry could not be read: nothing was decided.
    #[error(
        "could not read the tenant registry {table}: {error}{}",
        registry_hint(error)
    )]
    Registry { table: String, error: AwsError },
}

fn registry_hint(error: &AwsError) -> &'static str {
    match error.kind {
        kind if kind.is_transient() => " (transient, run again later)",
        ErrorKind::NotFound => " (check APPROVER_TABLE; `endpoint-service up` creates the table)",
        ErrorKind::AccessDenied => " (grant dynamodb:BatchGetItem on the table; `endpoint-service iam-policy` prints the policy)",
        _ => "",
    }
}

impl ReconcileError {
    fn from_aws(service_id: &str, error: AwsError) -> Self {
        let service_id = service_id.to_string();
        match error.kind {
            kind if kind.is_transient() => ReconcileError::Transient { service_id, error },
            ErrorKind::NotFound
                if error
                    .code
                    .as_deref()
                    .is_some_and(|c| c.starts_with("InvalidVpcEndpointService")) =>
            {
                ReconcileError::UnknownService { service_id, error }
            }
            ErrorKind::AccessDenied => ReconcileError::AccessDenied { service_id, error },
            _ => ReconcileError::Permanent { service_id, error },
        }
    }

    /// True when running again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            ReconcileError::Transient { .. } => true,
            ReconcileError::Registry { error, .. } => error.kind.is_transient(),
            _ => false,
        }
    }

    /// A stable name for the kind of failure (for Lambda's `errorType`).
    pub fn error_type(&self) -> &'static str {
        match self {
            ReconcileError::Transient { .. } => "Approver.TransientAwsError",
            ReconcileError::UnknownService { .. } => "Approver.UnknownService",
            ReconcileError::AccessDenied { .. } => "Approver.AccessDenied",
            ReconcileError::Permanent { .. } => "Approver.PermanentAwsError",
            ReconcileError::Registry { .. } => "Approver.RegistryUnreadable",
        }
    }

    /// The AWS error behind it.
    pub fn aws_error(&self) -> &AwsError {
        match self {
            ReconcileError::Transient { error, .. }
            | ReconcileError::UnknownService { error, .. }
            | ReconcileError::AccessDenied { error, .. }
            | ReconcileError::Permanent { error, .. }
            | ReconcileError::Registry { error, .. } => error,
        }
    }
}

/// One connection as listed, with what the operator views need besides the
/// decision inputs: its connection id (where the history is written), when
/// it was created, and the last decision recorded on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub connection: Connection,
    pub connection_id: Option<String>,
    pub created: Option<aws_smithy_types::DateTime>,
    pub last: Option<LastDecision>,
}

impl Listed {
    fn recorded(&self) -> Recorded {
        Recorded {
            endpoint_id: self.connection.endpoint_id.clone(),
            connection_id: self.connection_id.clone(),
            last: self.last.clone(),
        }
    }
}

/// Which connections a run reads: its cost follows what it must decide,
/// not the size of the service.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Requests waiting for a decision only (`vpc-endpoint-state=
    /// pendingAcceptance`): a notification, or a sweep with revocation off.
    Pending,
    /// Every connection: a sweep with revocation on (an expiry is noticed
    /// only by looking).
    All,
    /// Every connection of these owners (one `vpc-endpoint-owner` filter
    /// with each account as a value; values of one filter are OR-ed): the
    /// tenants were changed in the registry.
    Owners(Vec<String>),
}

impl Scope {
    /// The scope of a run started by `trigger`.
    pub fn for_trigger(trigger: &Trigger, config: &ApproverConfig) -> Scope {
        match trigger {
            Trigger::Sweep | Trigger::Manual if config.revoke => Scope::All,
            _ => Scope::Pending,
        }
    }

    fn filters(&self) -> Vec<Filter> {
        match self {
            Scope::Pending => vec![filter("vpc-endpoint-state", &["pendingAcceptance"])],
            Scope::All => Vec::new(),
            Scope::Owners(accounts) => {
                let accounts: Vec<&str> = accounts.iter().map(String::as_str).collect();
                vec![filter("vpc-endpoint-owner", &accounts)]
            }
        }
    }
}

fn filter(name: &str, values: &[&str]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .build()
}

/// Every connection of the service, all pages, and the number of pages.
pub async fn list_connections(
    ec2: &Client,
    service_id: &str,
) -> Result<(Vec<Connection>, u32), ReconcileError> {
    let (listed, pages) = list_connections_detailed(ec2, service_id).await?;
    Ok((listed.into_iter().map(|l| l.connection).collect(), pages))
}

/// [`list_connections`] with each connection's id, creation time and last
/// recorded decision.
pub async fn list_connections_detailed(
    ec2: &Client,
    service_id: &str,
) -> Result<(Vec<Listed>, u32), ReconcileError> {
    list_filtered(ec2, service_id, Vec::new()).await
}

/// [`list_connections_detailed`] narrowed by more documented filters
/// (`vpc-endpoint-state`, `vpc-endpoint-owner`).
pub async fn list_filtered(
    ec2: &Client,
    service_id: &str,
    more: Vec<Filter>,
) -> Result<(Vec<Listed>, u32), ReconcileError> {
    // Never by vpc-endpoint-id: that filter is reported as invalid
    // (privatelink-facts §2); a hinted id is matched in code.
    let mut filters = vec![filter("service-id", &[service_id])];
    filters.extend(more);
    let mut pages = ec2
        .describe_vpc_endpoint_connections()
        .set_filters(Some(filters))
        .max_results(PAGE_SIZE)
        .into_paginator()
        .send();
    // A connection without `VpcEndpointRegion` is from the service's own
    // region, the client's.
    let service_region = ec2.config().region().map(|r| r.to_string());
    let mut connections = Vec::new();
    let mut count = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            ReconcileError::from_aws(
                service_id,
                AwsError::from_sdk("DescribeVpcEndpointConnections", &e),
            )
        })?;
        count += 1;
        for sdk in page.vpc_endpoint_connections() {
            // Never act on another service's connection, even if a filter
            // were ignored.
            if let Some(other) = sdk.service_id().filter(|s| *s != service_id) {
                tracing::warn!(
                    service_id,
                    other_service = other,
                    endpoint_id = sdk.vpc_endpoint_id(),
                    "listing returned a connection of another service; ignored"
                );
                continue;
            }
            match Connection::from_sdk(sdk, service_region.as_deref()) {
                Some(connection) => connections.push(Listed {
                    connection,
                    connection_id: sdk.vpc_endpoint_connection_id().map(str::to_string),
                    created: sdk.creation_timestamp().copied(),
                    last: LastDecision::from_tags(sdk.tags()),
                }),
                None => tracing::warn!(service_id, "connection without an endpoint id; ignored"),
            }
        }
    }
    Ok((connections, count))
}

/// Observes the service's connections in `scope`, reads the registry for
/// their owners, decides each from its real owner and state, and applies
/// the decisions (unless `config.dry_run`). `hint` is an endpoint id a
/// notification named: it is logged and checked against the listing, never
/// trusted for a decision.
///
/// The registry is read after the listing, right before the accepts, with
/// strongly consistent reads: a tenant suspended before that read is never
/// accepted by this run; one suspended after it is rejected by the run the
/// suspending command starts after its write (it sees the connection either
/// still pending or already accepted, and rejects both).
pub async fn reconcile(
    ec2: &Client,
    registry: &impl TenantSource,
    config: &ApproverConfig,
    trigger: Trigger,
    hint: Option<&str>,
    scope: Scope,
) -> Result<Report, ReconcileError> {
    let service_id = config.service_id.as_str();
    tracing::info!(
        service_id,
        trigger = %trigger,
        hint,
        scope = ?scope,
        dry_run = config.dry_run,
        "reconciling the service's connections"
    );
    let (listed, mut describe_pages) = list_filtered(ec2, service_id, scope.filters()).await?;
    let connections: Vec<Connection> = listed.iter().map(|l| l.connection.clone()).collect();
    // The owners to decide on: whoever has a request waiting, plus, when
    // the run looks at live connections too, their owners.
    let mut owners: Vec<String> = connections
        .iter()
        .filter(|c| c.state.as_ref().is_some_and(|s| s.is_live()))
        .filter_map(|c| c.owner.clone())
        .collect();
    owners.sort();
    owners.dedup();
    let (found, registry_calls) =
        registry
            .tenants(&owners)
            .await
            .map_err(|error| ReconcileError::Registry {
                table: config.table.clone(),
                error,
            })?;
    let tenants = Tenants::new(found, now_epoch());
    // A quota needs the owner's live endpoints, which a pending-only listing
    // does not hold: one narrow Describe per such owner with a request.
    let mut live: HashMap<String, usize> = HashMap::new();
    if scope == Scope::Pending {
        for owner in &owners {
            // Only an entitled tenant's quota can decide anything.
            let has_quota = matches!(
                tenants.standing(owner),
                super::tenant::Standing::Entitled {
                    max_endpoints: Some(_)
                }
            );
            if has_quota {
                let (theirs, pages) = list_filtered(
                    ec2,
                    service_id,
                    vec![
                        filter("vpc-endpoint-owner", &[owner]),
                        filter("vpc-endpoint-state", &["pending", "available"]),
                    ],
                )
                .await?;
                describe_pages += pages;
                live.insert(owner.clone(), theirs.len());
            }
        }
    }
    let hint = hint.map(|endpoint_id| {
        let found = connections.iter().find(|c| c.endpoint_id == endpoint_id);
        match found {
            Some(c) => tracing::info!(
                service_id,
                hint = endpoint_id,
                real_owner = c.owner.as_deref(),
                real_state = c.state.as_ref().map(|s| s.as_wire()),
                "hinted endpoint found; deciding from its real owner and state"
            ),
            None => tracing::info!(
                service_id,
                hint = endpoint_id,
                "hinted endpoint is not a connection of this service (yet); nothing special done"
            ),
        }
        Hint {
            endpoint_id: endpoint_id.to_string(),
            found: found.is_some(),
        }
    });

    let planned = decide_all(config, &tenants, &connections, &live);
    let mut records: Vec<DecisionRecord> = planned
        .iter()
        .map(|p| DecisionRecord::new(service_id, p, &trigger, config.dry_run))
        .collect();
    let mut report = Report {
        service_id: service_id.to_string(),
        trigger,
        dry_run: config.dry_run,
        describe_pages,
        registry_calls,
        accept_calls: 0,
        reject_calls: 0,
        hint,
        records: Vec::new(),
    };

    let mut failure = None;
    if !config.dry_run {
        failure = apply_all(ec2, service_id, &mut records, &mut report)
            .await
            .err();
        let known: Vec<Recorded> = listed.iter().map(Listed::recorded).collect();
        history::record(ec2, &known, &records).await;
    }

    for record in &records {
        record.emit();
    }
    report.records = records;
    match failure {
        Some(error) => {
            tracing::warn!(
                service_id,
                error = %error,
                transient = error.is_transient(),
                "reconcile stopped by a failed call"
            );
            Err(error)
        }
        None => {
            tracing::info!(
                service_id,
                connections = report.records.len(),
                describe_pages = report.describe_pages,
                accepted = report.accepted().len(),
                rejected = report.rejected().len(),
                failed = report.failed().len(),
                dry_run = report.dry_run,
                "reconcile done"
            );
            Ok(report)
        }
    }
}

/// Sends every Accept, then every Reject, still to be made (records with
/// outcome `not_attempted`), and sets each record's outcome. Stops at the
/// first failed call. Shared by [`reconcile`] and the operator's manual
/// override, so both read `Unsuccessful` the same way.
pub async fn apply_all(
    ec2: &Client,
    service_id: &str,
    records: &mut [DecisionRecord],
    report: &mut Report,
) -> Result<(), ReconcileError> {
    // Accept first: the customers waiting matter most.
    for decision in [Decision::Accept, Decision::Reject] {
        apply(ec2, service_id, decision, records, report).await?;
    }
    Ok(())
}

/// Sends decisions made outside the rule (the operator's manual override,
/// `down --force`) exactly as [`reconcile`] sends its own: [`apply_all`]
/// (1,000-id batches, `Unsuccessful` read per item into each record's
/// outcome), then the decision history written on every connection AWS
/// took (from `listed`, the service's listing, which holds the connection
/// ids), then one log record per decision. The history is written even when
/// a call stopped the batch, so what was done is never left unrecorded.
/// Returns that call's error, if one stopped the batch.
pub async fn apply_decided(
    ec2: &Client,
    service_id: &str,
    trigger: Trigger,
    records: &mut [DecisionRecord],
    listed: &[Listed],
) -> Result<(), ReconcileError> {
    let mut report = Report {
        service_id: service_id.to_string(),
        trigger,
        dry_run: false,
        describe_pages: 0,
        registry_calls: 0,
        accept_calls: 0,
        reject_calls: 0,
        hint: None,
        records: Vec::new(),
    };
    let result = apply_all(ec2, service_id, records, &mut report).await;
    let known: Vec<Recorded> = listed.iter().map(Listed::recorded).collect();
    history::record(ec2, &known, records).await;
    for record in records.iter() {
        record.emit();
    }
    result
}

/// Sends every `decision` (Accept or Reject) still to be made, in batches,
/// and sets each record's outcome from the answer. A failed call marks its
/// batch failed, leaves later batches `not_attempted`, and ends the apply.
async fn apply(
    ec2: &Client,
    service_id: &str,
    decision: Decision,
    records: &mut [DecisionRecord],
    report: &mut Report,
) -> Result<(), ReconcileError> {
    let todo: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.decision == decision && r.outcome == Outcome::NotAttempted)
        .map(|(i, _)| i)
        .collect();
    for batch in todo.chunks(BATCH_SIZE) {
        let ids: Vec<String> = batch
            .iter()
            .map(|&i| records[i].endpoint_id.clone())
            .collect();
        let answer = match decision {
            Decision::Accept => {
                report.accept_calls += 1;
                ec2.accept_vpc_endpoint_connections()
                    .service_id(service_id)
                    .set_vpc_endpoint_ids(Some(ids))
                    .send()
                    .await
                    .map(|out| out.unsuccessful().to_vec())
                    .map_err(|e| AwsError::from_sdk("AcceptVpcEndpointConnections", &e))
            }
            Decision::Reject => {
                report.reject_calls += 1;
                ec2.reject_vpc_endpoint_connections()
                    .service_id(service_id)
                    .set_vpc_endpoint_ids(Some(ids))
                    .send()
                    .await
                    .map(|out| out.unsuccessful().to_vec())
                    .map_err(|e| AwsError::from_sdk("RejectVpcEndpointConnections", &e))
            }
            Decision::Leave => return Ok(()),
        };
        match answer {
            Ok(unsuccessful) => settle(service_id, records, batch, &unsuccessful),
            Err(error) => {
                for &i in batch {
                    records[i].outcome = Outcome::Failed {
                        code: error.code_or_kind(),
                        message: error
                            .message
                            .clone()
                            .unwrap_or_else(|| error.detail.clone()),
                    };
                }
                return Err(ReconcileError::from_aws(service_id, error));
            }
        }
    }
    Ok(())
}

/// Sets the outcome of each record of a batch from the call's
/// `Unsuccessful` list: listed → failed with its code and message, not
/// listed → applied. A failure AWS does not attribute to an endpoint of the
/// batch makes every unlisted item of the batch failed too: success is
/// never assumed.
fn settle(
    service_id: &str,
    records: &mut [DecisionRecord],
    batch: &[usize],
    unsuccessful: &[UnsuccessfulItem],
) {
    let mut by_id: HashMap<&str, (String, String)> = HashMap::new();
    let mut unattributed = Vec::new();
    for item in unsuccessful {
        let code = item
            .error()
            .and_then(|e| e.code())
            .unwrap_or("Unknown")
            .to_string();
        let message = item
            .error()
            .and_then(|e| e.message())
            .unwrap_or("")
            .to_string();
        let listed = item
            .resource_id()
            .filter(|id| batch.iter().any(|&i| records[i].endpoint_id == *id));
        match listed {
            Some(id) => {
                by_id.insert(id, (code, message));
            }
            None => {
                tracing::warn!(
                    service_id,
                    resource_id = item.resource_id(),
                    code,
                    message,
                    "AWS reported a failure for no endpoint of this batch"
                );
                unattributed.push((code, message));
            }
        }
    }
    let outcomes: Vec<Outcome> = batch
        .iter()
        .map(|&i| match by_id.get(records[i].endpoint_id.as_str()) {
            Some((code, message)) => Outcome::Failed {
                code: code.clone(),
                message: message.clone(),
            },
            None => match unattributed.first() {
                Some((code, message)) => Outcome::Failed {
                    code: code.clone(),
                    message: format!(
                        "AWS reported a failure without naming the endpoint: {message}"
                    ),
                },
                None => Outcome::Applied,
            },
        })
        .collect();
    for (&i, outcome) in batch.iter().zip(outcomes) {
        records[i].outcome = outcome;
    }
}

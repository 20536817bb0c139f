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
    /// Every connection of one owner (`vpc-endpoint-owner`): a tenant was
    /// changed in the registry.
    Owner(String),
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
            Scope::Owner(account) => vec![filter("vpc-endpoint-owner", &[account])],
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
            match Connection::from_sdk(sdk) {
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_ec2::operation::accept_vpc_endpoint_connections::AcceptVpcEndpointConnectionsOutput;
    use aws_sdk_ec2::operation::describe_vpc_endpoint_connections::{
        DescribeVpcEndpointConnectionsError, DescribeVpcEndpointConnectionsOutput,
    };
    use aws_sdk_ec2::operation::reject_vpc_endpoint_connections::RejectVpcEndpointConnectionsOutput;
    use aws_sdk_ec2::types::{State, UnsuccessfulItemError, VpcEndpointConnection};
    use aws_smithy_mocks::{
        create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode,
    };
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::approval::allowlist::Allowlist;
    use crate::approval::config::NonAllowlistedPolicy;
    use crate::approval::decide::Reason;
    use crate::approval::tenant::StaticTenants;

    const SVC: &str = "vpce-svc-0123456789abcdef0";
    const ALLOWED: &str = "111111111111";
    const OTHER: &str = "999999999999";

    /// A real EC2 client answered by `rules` (what `mock_client!` builds,
    /// without needing the SDK crate's `test-util` feature and its rebuild).
    fn client(mode: RuleMode, rules: &[&Rule]) -> Client {
        let interceptor = rules
            .iter()
            .fold(MockResponseInterceptor::new().rule_mode(mode), |i, r| {
                i.with_rule(r)
            });
        let config = aws_sdk_ec2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
            .build();
        Client::from_conf(config)
    }

    /// A reconcile of every connection, with ALLOWED the one active tenant.
    async fn run(
        ec2: &Client,
        config: &ApproverConfig,
        trigger: Trigger,
        hint: Option<&str>,
    ) -> Result<Report, ReconcileError> {
        let tenants = StaticTenants::from_allowlist(&Allowlist::parse(ALLOWED).expect("valid"));
        reconcile(ec2, &tenants, config, trigger, hint, Scope::All).await
    }

    fn config(policy: NonAllowlistedPolicy, revoke: bool, dry_run: bool) -> ApproverConfig {
        ApproverConfig {
            service_id: SVC.into(),
            table: "acme-tenants".into(),
            non_allowlisted: policy,
            revoke,
            dry_run,
        }
    }

    fn conn(id: &str, owner: &str, state: &str) -> VpcEndpointConnection {
        VpcEndpointConnection::builder()
            .service_id(SVC)
            .vpc_endpoint_id(id)
            .vpc_endpoint_owner(owner)
            .vpc_endpoint_state(State::from(state))
            .build()
    }

    /// Describe answering from the shared `world`, in pages of `page`.
    fn describe(world: Arc<Mutex<Vec<VpcEndpointConnection>>>, page: usize) -> Rule {
        mock!(Client::describe_vpc_endpoint_connections).then_compute_output(move |input| {
            let all = world.lock().map(|w| w.clone()).unwrap_or_default();
            let start: usize = input.next_token().and_then(|t| t.parse().ok()).unwrap_or(0);
            let end = (start + page).min(all.len());
            let filtered_by_service = input
                .filters()
                .iter()
                .any(|f| f.name() == Some("service-id") && f.values() == [SVC]);
            assert!(filtered_by_service, "{input:?}");
            assert_eq!(input.max_results(), Some(1000));
            DescribeVpcEndpointConnectionsOutput::builder()
                .set_vpc_endpoint_connections(Some(all[start..end].to_vec()))
                .set_next_token((end < all.len()).then(|| end.to_string()))
                .build()
        })
    }

    /// Accept that records the ids it got and moves them to `pending` in
    /// `world`, except `refuse` (reported unsuccessful).
    fn accept(
        world: Arc<Mutex<Vec<VpcEndpointConnection>>>,
        calls: Arc<Mutex<Vec<Vec<String>>>>,
        refuse: &'static [&'static str],
    ) -> Rule {
        mock!(Client::accept_vpc_endpoint_connections).then_compute_output(move |input| {
            let ids = input.vpc_endpoint_ids().to_vec();
            if let Ok(mut calls) = calls.lock() {
                calls.push(ids.clone());
            }
            let mut out = AcceptVpcEndpointConnectionsOutput::builder();
            if let Ok(mut world) = world.lock() {
                for c in world.iter_mut() {
                    let id = c.vpc_endpoint_id().unwrap_or_default().to_string();
                    if ids.contains(&id) && !refuse.contains(&id.as_str()) {
                        *c = conn(&id, c.vpc_endpoint_owner().unwrap_or_default(), "pending");
                    }
                }
            }
            for id in refuse.iter().filter(|r| ids.iter().any(|i| i == *r)) {
                out = out.unsuccessful(
                    UnsuccessfulItem::builder()
                        .resource_id(*id)
                        .error(
                            UnsuccessfulItemError::builder()
                                .code("InvalidVpcEndpointId.NotFound")
                                .message("The endpoint does not exist")
                                .build(),
                        )
                        .build(),
                );
            }
            out.build()
        })
    }

    fn reject(
        world: Arc<Mutex<Vec<VpcEndpointConnection>>>,
        calls: Arc<Mutex<Vec<Vec<String>>>>,
    ) -> Rule {
        mock!(Client::reject_vpc_endpoint_connections).then_compute_output(move |input| {
            let ids = input.vpc_endpoint_ids().to_vec();
            if let Ok(mut calls) = calls.lock() {
                calls.push(ids.clone());
            }
            if let Ok(mut world) = world.lock() {
                for c in world.iter_mut() {
                    let id = c.vpc_endpoint_id().unwrap_or_default().to_string();
                    if ids.contains(&id) {
                        *c = conn(&id, c.vpc_endpoint_owner().unwrap_or_default(), "rejected");
                    }
                }
            }
            RejectVpcEndpointConnectionsOutput::builder().build()
        })
    }

    type Calls = Arc<Mutex<Vec<Vec<String>>>>;

    fn calls() -> Calls {
        Arc::new(Mutex::new(Vec::new()))
    }

    fn taken(calls: &Calls) -> Vec<Vec<String>> {
        calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    #[tokio::test]
    async fn two_pages_are_read_and_decisions_batched_then_a_second_run_changes_nothing() {
        let world = Arc::new(Mutex::new(vec![
            conn("vpce-a1", ALLOWED, "pendingAcceptance"),
            conn("vpce-o1", OTHER, "pendingAcceptance"),
            conn("vpce-a2", ALLOWED, "PENDINGACCEPTANCE"),
            conn("vpce-a3", ALLOWED, "available"),
            conn("vpce-o2", OTHER, "available"),
        ]));
        let (accepts, rejects) = (calls(), calls());
        let d = describe(world.clone(), 3);
        let a = accept(world.clone(), accepts.clone(), &[]);
        let r = reject(world.clone(), rejects.clone());
        let ec2 = client(RuleMode::MatchAny, &[&d, &a, &r]);
        let cfg = config(NonAllowlistedPolicy::Reject, false, false);

        let report = run(&ec2, &cfg, Trigger::Sweep, None)
            .await
            .expect("reconciles");
        assert_eq!(report.describe_pages, 2);
        assert_eq!(d.num_calls(), 2);
        assert_eq!(taken(&accepts), [vec!["vpce-a1", "vpce-a2"]]);
        assert_eq!(taken(&rejects), [vec!["vpce-o1"]]);
        assert_eq!(report.accepted(), ["vpce-a1", "vpce-a2"]);
        assert_eq!(report.rejected(), ["vpce-o1"]);
        let reasons: Vec<_> = report.records.iter().map(|r| r.reason).collect();
        assert_eq!(
            reasons,
            [
                Reason::EntitledTenant,
                Reason::NotATenant,
                Reason::EntitledTenant,
                Reason::AlreadyAccepted,
                Reason::NotEntitledRevocationOff
            ]
        );

        let again = run(&ec2, &cfg, Trigger::Sweep, None)
            .await
            .expect("reconciles");
        assert_eq!(again.mutating_calls(), 0);
        assert_eq!(a.num_calls() + r.num_calls(), 2, "no new mutating call");
        assert!(again
            .records
            .iter()
            .all(|r| r.decision == Decision::Leave && r.outcome == Outcome::NothingToDo));
    }

    #[tokio::test]
    async fn unsuccessful_items_are_failed_with_their_code_and_the_rest_applied() {
        let world = Arc::new(Mutex::new(vec![
            conn("vpce-a1", ALLOWED, "pendingAcceptance"),
            conn("vpce-gone", ALLOWED, "pendingAcceptance"),
        ]));
        let accepts = calls();
        let d = describe(world.clone(), 1000);
        let a = accept(world.clone(), accepts.clone(), &["vpce-gone"]);
        let ec2 = client(RuleMode::MatchAny, &[&d, &a]);
        let report = run(
            &ec2,
            &config(NonAllowlistedPolicy::Reject, false, false),
            Trigger::Manual,
            None,
        )
        .await
        .expect("reconciles");
        assert_eq!(report.accepted(), ["vpce-a1"]);
        let failed = report.failed();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].endpoint_id, "vpce-gone");
        assert_eq!(
            failed[0].outcome,
            Outcome::Failed {
                code: "InvalidVpcEndpointId.NotFound".into(),
                message: "The endpoint does not exist".into()
            }
        );
        assert!(!report.has_transient_failures());
    }

    #[tokio::test]
    async fn an_unattributed_failure_fails_the_whole_batch() {
        let world = Arc::new(Mutex::new(vec![conn(
            "vpce-a1",
            ALLOWED,
            "pendingAcceptance",
        )]));
        let d = describe(world, 1000);
        let a = mock!(Client::accept_vpc_endpoint_connections).then_output(|| {
            AcceptVpcEndpointConnectionsOutput::builder()
                .unsuccessful(
                    UnsuccessfulItem::builder()
                        .error(
                            UnsuccessfulItemError::builder()
                                .code("InternalError")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let ec2 = client(RuleMode::MatchAny, &[&d, &a]);
        let report = run(
            &ec2,
            &config(NonAllowlistedPolicy::Reject, false, false),
            Trigger::Sweep,
            None,
        )
        .await
        .expect("reconciles");
        assert!(report.accepted().is_empty());
        assert_eq!(report.failed().len(), 1);
        assert!(report.has_transient_failures());
    }

    #[tokio::test]
    async fn dry_run_and_leave_pending_make_no_mutating_call() {
        let world = Arc::new(Mutex::new(vec![
            conn("vpce-a1", ALLOWED, "pendingAcceptance"),
            conn("vpce-o1", OTHER, "pendingAcceptance"),
        ]));
        let d = describe(world.clone(), 1000);
        let ec2 = client(RuleMode::MatchAny, &[&d]);

        let dry = run(
            &ec2,
            &config(NonAllowlistedPolicy::Reject, true, true),
            Trigger::Manual,
            None,
        )
        .await
        .expect("reconciles");
        let outcomes: Vec<_> = dry
            .records
            .iter()
            .map(|r| (r.decision, r.outcome.clone()))
            .collect();
        assert_eq!(
            outcomes,
            [
                (Decision::Accept, Outcome::SkippedDryRun),
                (Decision::Reject, Outcome::SkippedDryRun)
            ]
        );
        assert_eq!(dry.mutating_calls(), 0);

        let accepts = calls();
        let a = accept(world.clone(), accepts.clone(), &[]);
        let ec2 = client(RuleMode::MatchAny, &[&d, &a]);
        let leave = run(
            &ec2,
            &config(NonAllowlistedPolicy::LeavePending, false, false),
            Trigger::Sweep,
            None,
        )
        .await
        .expect("reconciles");
        assert_eq!(leave.accepted(), ["vpce-a1"]);
        assert_eq!(leave.reject_calls, 0);
        assert_eq!(leave.records[1].reason, Reason::NotATenant);
    }

    #[tokio::test]
    async fn revocation_rejects_an_available_connection_of_an_account_no_longer_listed() {
        let world = Arc::new(Mutex::new(vec![conn("vpce-o1", OTHER, "Available")]));
        let rejects = calls();
        let d = describe(world.clone(), 1000);
        let r = reject(world.clone(), rejects.clone());
        let ec2 = client(RuleMode::MatchAny, &[&d, &r]);
        let report = run(
            &ec2,
            &config(NonAllowlistedPolicy::Reject, true, false),
            Trigger::Sweep,
            None,
        )
        .await
        .expect("reconciles");
        assert_eq!(taken(&rejects), [vec!["vpce-o1"]]);
        assert_eq!(report.records[0].reason, Reason::NotATenant);
    }

    #[tokio::test]
    async fn thousands_of_connections_are_accepted_in_batches_of_at_most_1000() {
        let world: Vec<_> = (0..2500)
            .map(|i| conn(&format!("vpce-{i:05}"), ALLOWED, "pendingAcceptance"))
            .collect();
        let world = Arc::new(Mutex::new(world));
        let accepts = calls();
        let d = describe(world.clone(), 1000);
        let a = accept(world.clone(), accepts.clone(), &[]);
        let ec2 = client(RuleMode::MatchAny, &[&d, &a]);
        let report = run(
            &ec2,
            &config(NonAllowlistedPolicy::Reject, false, false),
            Trigger::Sweep,
            None,
        )
        .await
        .expect("reconciles");
        assert_eq!(report.describe_pages, 3);
        let sizes: Vec<_> = taken(&accepts).iter().map(Vec::len).collect();
        assert_eq!(sizes, [1000, 1000, 500]);
        assert_eq!(report.accepted().len(), 2500);
    }

    #[tokio::test]
    async fn the_hint_is_checked_but_decides_nothing() {
        let world = Arc::new(Mutex::new(vec![conn(
            "vpce-o1",
            OTHER,
            "pendingAcceptance",
        )]));
        let rejects = calls();
        let d = describe(world.clone(), 1000);
        let r = reject(world.clone(), rejects.clone());
        let ec2 = client(RuleMode::MatchAny, &[&d, &r]);
        let cfg = config(NonAllowlistedPolicy::Reject, false, false);
        let report = run(
            &ec2,
            &cfg,
            Trigger::Sns(vec!["m-1".into()]),
            Some("vpce-o1"),
        )
        .await
        .expect("reconciles");
        assert_eq!(
            report.hint,
            Some(Hint {
                endpoint_id: "vpce-o1".into(),
                found: true
            })
        );
        assert_eq!(report.rejected(), ["vpce-o1"]);
        let report = run(&ec2, &cfg, Trigger::Sweep, Some("vpce-elsewhere"))
            .await
            .expect("reconciles");
        assert_eq!(report.hint.map(|h| h.found), Some(false));
    }

    fn describe_error(code: &'static str) -> Rule {
        mock!(Client::describe_vpc_endpoint_connections).then_error(move || {
            DescribeVpcEndpointConnectionsError::generic(
                ErrorMetadata::builder()
                    .code(code)
                    .message("from the mock")
                    .build(),
            )
        })
    }

    #[tokio::test]
    async fn describe_errors_are_classified() {
        let cases = [
            ("RequestLimitExceeded", "Approver.TransientAwsError", true),
            ("InternalError", "Approver.TransientAwsError", true),
            (
                "InvalidVpcEndpointServiceId.NotFound",
                "Approver.UnknownService",
                false,
            ),
            ("UnauthorizedOperation", "Approver.AccessDenied", false),
            ("InvalidParameterValue", "Approver.PermanentAwsError", false),
        ];
        for (code, error_type, transient) in cases {
            let rule = describe_error(code);
            let ec2 = client(RuleMode::MatchAny, &[&rule]);
            let err = run(
                &ec2,
                &config(NonAllowlistedPolicy::Reject, false, false),
                Trigger::Sweep,
                None,
            )
            .await
            .expect_err(code);
            assert_eq!(err.error_type(), error_type, "{code}: {err}");
            assert_eq!(err.is_transient(), transient, "{code}");
            assert_eq!(err.aws_error().code.as_deref(), Some(code));
        }
    }

    #[tokio::test]
    async fn a_5xx_without_a_code_is_transient() {
        let rule = mock!(Client::describe_vpc_endpoint_connections)
            .sequence()
            .http_status(503, None)
            .build();
        let ec2 = client(RuleMode::MatchAny, &[&rule]);
        let err = run(
            &ec2,
            &config(NonAllowlistedPolicy::Reject, false, false),
            Trigger::Sweep,
            None,
        )
        .await
        .expect_err("503");
        assert!(err.is_transient(), "{err:?}");
    }

    #[tokio::test]
    async fn a_throttled_accept_fails_its_batch_and_skips_the_rejects() {
        let world = Arc::new(Mutex::new(vec![
            conn("vpce-a1", ALLOWED, "pendingAcceptance"),
            conn("vpce-o1", OTHER, "pendingAcceptance"),
        ]));
        let d = describe(world, 1000);
        let a = mock!(Client::accept_vpc_endpoint_connections).then_error(|| {
            aws_sdk_ec2::operation::accept_vpc_endpoint_connections::AcceptVpcEndpointConnectionsError::generic(
                ErrorMetadata::builder().code("RequestLimitExceeded").message("slow down").build(),
            )
        });
        let rejects = calls();
        let r = reject(Arc::new(Mutex::new(Vec::new())), rejects.clone());
        let ec2 = client(RuleMode::MatchAny, &[&d, &a, &r]);
        let err = run(
            &ec2,
            &config(NonAllowlistedPolicy::Reject, false, false),
            Trigger::Sweep,
            None,
        )
        .await
        .expect_err("throttled");
        assert!(err.is_transient());
        assert_eq!(r.num_calls(), 0);
    }
}

//! The fake EC2 of the approver tests (the only one: the handler's tests
//! and `reconcile.rs`, which drives `privatelink_core::approval::reconcile`
//! directly, share it): the real SDK client, answered by aws-smithy-mocks
//! rules whose answers are computed from each request against one shared
//! [`World`].
//!
//! What it models, as the EC2 API reference and `privatelink-facts` §2–3
//! describe it (and as the Python emulator does):
//! - several endpoint services, each with connections in any state, with
//!   connection ids and tags;
//! - `DescribeVpcEndpointConnections`: the filters `service-id`,
//!   `vpc-endpoint-id`, `vpc-endpoint-owner` and `vpc-endpoint-state`
//!   (exact values; OR within one filter, AND across filters; any other
//!   name is `InvalidFilter`), `MaxResults` (5–1000, larger capped) and
//!   opaque `NextToken`s; a page never holds more than [`World::page_cap`]
//!   items (AWS may return fewer than asked), so small caps force paging;
//! - `AcceptVpcEndpointConnections` (`pendingAcceptance` → `pending`) and
//!   `RejectVpcEndpointConnections` (`pendingAcceptance`/`pending`/
//!   `available` → `rejected`): an unknown service fails the call; an id
//!   that is not a connection of that service, or is in another state,
//!   comes back in `Unsuccessful` and is left as it is;
//! - `CreateTags` on connection ids (the decision history), overwriting
//!   keys, all or nothing.
//!
//! Adversities, each off by default: a listing that ignores the
//! `service-id` filter, connections that change state once a listing is
//! complete (a consumer deleting its endpoint between Describe and Accept),
//! throttled calls, a Describe failing with any error code or with a bare
//! HTTP status (a 5xx without a code), and an Accept whose `Unsuccessful`
//! item names no endpoint. Every call is logged in [`World::calls`].
//!
//! The tenant registry is [`FakeRegistry`]: tenants in memory, read the way
//! `privatelink_registry::Registry` reads them (only the accounts asked
//! for, one call per 100 keys, none for no key), with every read logged,
//! an optional failure, and an optional change made right after a read (a
//! tenant suspended while a run is in flight).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::error::ErrorMetadata;
use aws_sdk_ec2::operation::accept_vpc_endpoint_connections::{
    AcceptVpcEndpointConnectionsError, AcceptVpcEndpointConnectionsOutput,
};
use aws_sdk_ec2::operation::create_tags::{CreateTagsError, CreateTagsOutput};
use aws_sdk_ec2::operation::describe_vpc_endpoint_connections::{
    DescribeVpcEndpointConnectionsError, DescribeVpcEndpointConnectionsOutput,
};
use aws_sdk_ec2::operation::reject_vpc_endpoint_connections::{
    RejectVpcEndpointConnectionsError, RejectVpcEndpointConnectionsOutput,
};
use aws_sdk_ec2::types::{
    State, Tag, UnsuccessfulItem, UnsuccessfulItemError, VpcEndpointConnection,
};
use aws_sdk_ec2::Client;
use aws_smithy_mocks::{
    create_mock_http_client, mock, MockResponse, MockResponseInterceptor, Rule, RuleMode,
};
use privatelink_core::approval::{
    AccountId, ApproverConfig, NonAllowlistedPolicy, Tenant, TenantSource, TenantStatus,
};
use privatelink_core::errors::{AwsError, ErrorKind};

pub const SVC: &str = "vpce-svc-0a1b2c3d4e5f60718";
pub const ALLOWED: &str = "111111111111";
pub const OTHER: &str = "999999999999";

/// The connection states AWS reports, in its own (camelCase) spelling.
pub const STATES: [&str; 9] = [
    "pendingAcceptance",
    "pending",
    "available",
    "deleting",
    "deleted",
    "rejected",
    "failed",
    "expired",
    "partial",
];

pub const TABLE: &str = "acme-tenants";

pub fn config(policy: NonAllowlistedPolicy, revoke: bool) -> ApproverConfig {
    ApproverConfig {
        service_id: SVC.into(),
        table: TABLE.into(),
        table_region: None,
        non_allowlisted: policy,
        revoke,
        dry_run: false,
    }
}

/// An active tenant with no expiry and no quota.
pub fn tenant(account: &str) -> Tenant {
    Tenant::active(
        AccountId::parse(account).expect("a 12-digit account id"),
        format!("tenant {account}"),
    )
}

pub fn suspended(account: &str) -> Tenant {
    Tenant {
        status: TenantStatus::Suspended,
        ..tenant(account)
    }
}

/// Keys per `BatchGetItem`, as the registry crate reads.
use privatelink_registry::BATCH_GET_LIMIT;

/// A change made to the registry right after a read has been answered.
pub type AfterRead = Box<dyn FnMut(&mut BTreeMap<String, Tenant>) + Send>;

/// The tenant registry in memory. Clones share it, so a test keeps one to
/// look at while the handler reads another.
#[derive(Clone, Default)]
pub struct FakeRegistry(Arc<RegistryState>);

#[derive(Default)]
struct RegistryState {
    tenants: Mutex<BTreeMap<String, Tenant>>,
    /// The accounts of each read, as asked.
    reads: Mutex<Vec<Vec<String>>>,
    /// Every read with at least one key fails with this.
    fail: Mutex<Option<AwsError>>,
    /// Run once, after the next read with at least one key.
    after_read: Mutex<Option<AfterRead>>,
}

impl FakeRegistry {
    pub fn new(tenants: impl IntoIterator<Item = Tenant>) -> FakeRegistry {
        let registry = FakeRegistry::default();
        registry.edit(|all| {
            for t in tenants {
                all.insert(t.account_id.as_str().to_string(), t);
            }
        });
        registry
    }

    /// From now on every read with a key fails with `code` (classified as
    /// the SDK's errors are).
    pub fn fail_with(&self, operation: &'static str, code: &str) {
        *lock(&self.0.fail) = Some(AwsError {
            operation,
            kind: ErrorKind::from_code(code),
            code: Some(code.to_string()),
            message: Some(format!("{code} from the fake registry")),
            http_status: None,
            detail: format!("{code} from the fake registry"),
        });
    }

    /// `change` runs on the registry right after the next read with a key
    /// is answered: a change made while a run is in flight.
    pub fn after_next_read(
        &self,
        change: impl FnMut(&mut BTreeMap<String, Tenant>) + Send + 'static,
    ) {
        *lock(&self.0.after_read) = Some(Box::new(change));
    }

    /// Changes the registry now.
    pub fn edit(&self, change: impl FnOnce(&mut BTreeMap<String, Tenant>)) {
        change(&mut lock(&self.0.tenants));
    }

    /// The accounts of every read so far.
    pub fn reads(&self) -> Vec<Vec<String>> {
        lock(&self.0.reads).clone()
    }

    /// The `BatchGetItem` calls the reads so far took.
    pub fn calls(&self) -> u32 {
        self.reads().iter().map(|r| batch_calls(r)).sum()
    }
}

fn batch_calls(accounts: &[String]) -> u32 {
    let unique: BTreeSet<&String> = accounts.iter().collect();
    unique.len().div_ceil(BATCH_GET_LIMIT) as u32
}

impl TenantSource for FakeRegistry {
    fn tenants(
        &self,
        accounts: &[String],
    ) -> impl std::future::Future<Output = Result<(Vec<Tenant>, u32), AwsError>> + Send {
        let state = &self.0;
        lock(&state.reads).push(accounts.to_vec());
        let calls = batch_calls(accounts);
        let answer = match lock(&state.fail).clone() {
            Some(error) if calls > 0 => Err(error),
            _ => {
                let mut tenants = lock(&state.tenants);
                let unique: BTreeSet<&String> = accounts.iter().collect();
                let found = unique
                    .into_iter()
                    .filter_map(|a| tenants.get(a).cloned())
                    .collect();
                if calls > 0 {
                    if let Some(mut change) = lock(&state.after_read).take() {
                        change(&mut tenants);
                    }
                }
                Ok((found, calls))
            }
        };
        std::future::ready(answer)
    }
}

/// One connection as EC2 holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeConn {
    pub service_id: String,
    pub endpoint_id: String,
    /// `vpce-con-...`, where `CreateTags` writes; `None`: not reported.
    pub connection_id: Option<String>,
    /// `None`: reported without an owner.
    pub owner: Option<String>,
    /// The state in AWS's spelling (one of [`STATES`], or something new);
    /// `None`: reported without a state. Accept, Reject and the
    /// `vpc-endpoint-state` filter go by this.
    pub state: Option<String>,
    /// How Describe spells the state when not as `state` (e.g. the API
    /// model's `PendingAcceptance`); cleared when the state changes.
    pub spelling: Option<String>,
    /// `VpcEndpointRegion`: the consumer's region for a cross-region
    /// endpoint; `None`: not reported (an endpoint in the service's region).
    pub region: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl FakeConn {
    /// The state as Describe reports it.
    pub fn reported_state(&self) -> Option<&str> {
        self.spelling.as_deref().or(self.state.as_deref())
    }

    fn to_sdk(&self) -> VpcEndpointConnection {
        let mut c = VpcEndpointConnection::builder()
            .service_id(&self.service_id)
            .vpc_endpoint_id(&self.endpoint_id)
            .set_vpc_endpoint_connection_id(self.connection_id.clone())
            .set_vpc_endpoint_owner(self.owner.clone())
            .set_vpc_endpoint_state(self.reported_state().map(State::from))
            .set_vpc_endpoint_region(self.region.clone());
        for (key, value) in &self.tags {
            c = c.tags(Tag::builder().key(key).value(value).build());
        }
        c.build()
    }

    fn set_state(&mut self, state: &str) {
        self.state = Some(state.to_string());
        self.spelling = None;
    }
}

/// A connection of [`SVC`]; `state` as Describe should report it (a known
/// state in another casing is that state, spelled so).
pub fn conn(id: &str, owner: &str, state: &str) -> FakeConn {
    let known = STATES.iter().find(|s| s.eq_ignore_ascii_case(state));
    FakeConn {
        service_id: SVC.into(),
        endpoint_id: id.into(),
        connection_id: Some(format!("vpce-con-{}", id.trim_start_matches("vpce-"))),
        owner: Some(owner.into()),
        state: Some(known.map_or(state, |k| *k).to_string()),
        spelling: known.filter(|k| **k != state).map(|_| state.to_string()),
        region: None,
        tags: BTreeMap::new(),
    }
}

/// [`conn`] from a consumer in `region` (a cross-region endpoint).
pub fn conn_from(id: &str, owner: &str, state: &str, region: &str) -> FakeConn {
    FakeConn {
        region: Some(region.to_string()),
        ..conn(id, owner, state)
    }
}

/// Describe filters: (name, values), in request order.
pub type Filters = Vec<(String, Vec<String>)>;

/// One call as EC2 received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Describe {
        filters: Filters,
        max_results: Option<i32>,
        next_token: Option<String>,
        /// Items returned (0 when the call failed).
        returned: usize,
    },
    Accept {
        service_id: String,
        ids: Vec<String>,
    },
    Reject {
        service_id: String,
        ids: Vec<String>,
    },
    CreateTags {
        resources: Vec<String>,
        tags: Vec<(String, String)>,
    },
}

impl Call {
    pub fn is_mutating(&self) -> bool {
        !matches!(self, Call::Describe { .. })
    }
}

/// One `Unsuccessful` item handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub operation: &'static str,
    pub endpoint_id: String,
    pub code: &'static str,
}

/// How an injected failure comes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// An EC2 error with this code.
    Code(String),
    /// This HTTP status with an empty body: no error code at all.
    Status(u16),
}

/// The account EC2 answers from.
#[derive(Debug, Clone)]
pub struct World {
    pub connections: Vec<FakeConn>,
    /// The endpoint services that exist.
    pub services: BTreeSet<String>,
    /// The most items one Describe page holds, whatever `MaxResults` asks.
    pub page_cap: usize,
    /// A listing that returns every service's connections.
    pub ignore_service_filter: bool,
    /// State changes (endpoint id → new state) made the first time a
    /// listing is complete, i.e. between a reconcile's Describe and its
    /// Accept/Reject.
    pub drift: Vec<(String, String)>,
    /// The n-th Describe call (0-based) fails with `RequestLimitExceeded`.
    pub throttle_describe: Option<usize>,
    /// Every Accept call fails with `RequestLimitExceeded`.
    pub throttle_accept: bool,
    /// The n-th Describe call (0-based) fails so.
    pub fail_describe: Option<(usize, Failure)>,
    /// Every Accept call answers with one `Unsuccessful` item that names no
    /// endpoint, with this code, and changes nothing.
    pub unattributed_accept: Option<String>,
    pub calls: Vec<Call>,
    pub refusals: Vec<Refusal>,
    /// Issued NextTokens: the filters each was issued for, and its offset.
    tokens: BTreeMap<String, (Filters, usize)>,
    describes: usize,
}

impl World {
    pub fn new(connections: Vec<FakeConn>) -> World {
        let mut services: BTreeSet<String> =
            connections.iter().map(|c| c.service_id.clone()).collect();
        services.insert(SVC.into());
        World {
            connections,
            services,
            page_cap: 1000,
            ignore_service_filter: false,
            drift: Vec::new(),
            throttle_describe: None,
            throttle_accept: false,
            fail_describe: None,
            unattributed_accept: None,
            calls: Vec::new(),
            refusals: Vec::new(),
            tokens: BTreeMap::new(),
            describes: 0,
        }
    }
}

fn aws_error(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

type DescribeAnswer =
    MockResponse<DescribeVpcEndpointConnectionsOutput, DescribeVpcEndpointConnectionsError>;

fn describe(
    world: &mut World,
    filters: Filters,
    max_results: Option<i32>,
    next_token: Option<String>,
) -> DescribeAnswer {
    let n = world.describes;
    world.describes += 1;
    let mut log = Call::Describe {
        filters: filters.clone(),
        max_results,
        next_token: next_token.clone(),
        returned: 0,
    };
    let answer = describe_page(world, n, &filters, max_results, next_token.as_deref());
    if let (Call::Describe { returned, .. }, MockResponse::Output(out)) = (&mut log, &answer) {
        *returned = out.vpc_endpoint_connections().len();
    }
    world.calls.push(log);
    answer
}

fn describe_page(
    world: &mut World,
    n: usize,
    filters: &[(String, Vec<String>)],
    max_results: Option<i32>,
    next_token: Option<&str>,
) -> DescribeAnswer {
    let fail = |code: &str, message: &str| {
        MockResponse::Error(DescribeVpcEndpointConnectionsError::generic(aws_error(
            code, message,
        )))
    };
    if world.throttle_describe == Some(n) {
        return fail("RequestLimitExceeded", "Request limit exceeded.");
    }
    match &world.fail_describe {
        Some((at, Failure::Code(code))) if *at == n => {
            return fail(code, &format!("{code} from the fake EC2"))
        }
        Some((at, Failure::Status(status))) if *at == n => {
            let status = (*status).try_into().expect("an HTTP status code");
            return MockResponse::Http(HttpResponse::new(status, "".into()));
        }
        _ => {}
    }
    for (name, values) in filters {
        let known = [
            "service-id",
            "vpc-endpoint-id",
            "vpc-endpoint-owner",
            "vpc-endpoint-state",
        ];
        if !known.contains(&name.as_str()) {
            return fail("InvalidFilter", &format!("The filter {name} is invalid"));
        }
        if values.is_empty() {
            return fail("InvalidFilter", &format!("The filter {name} has no values"));
        }
    }
    let size = match max_results {
        None => 1000,
        Some(m) if !(5..).contains(&m) => {
            return fail(
                "InvalidParameterValue",
                &format!("Value ( {m} ) for parameter maxResults is invalid. Parameter must be between 5 and 1000."),
            )
        }
        Some(m) => (m as usize).min(1000),
    }
    .min(world.page_cap.max(1));
    let start = match next_token {
        None => 0,
        Some(token) => match world.tokens.get(token) {
            // A token is only good for the filters it was issued for.
            Some((issued_for, start)) if issued_for == filters => *start,
            _ => return fail("InvalidPaginationToken", "The pagination token is invalid."),
        },
    };
    let ignore_service = world.ignore_service_filter;
    let matching: Vec<&FakeConn> = world
        .connections
        .iter()
        .filter(|c| {
            filters.iter().all(|(name, values)| {
                let value = match name.as_str() {
                    "service-id" if ignore_service => return true,
                    "service-id" => Some(c.service_id.as_str()),
                    "vpc-endpoint-id" => Some(c.endpoint_id.as_str()),
                    "vpc-endpoint-owner" => c.owner.as_deref(),
                    _ => c.state.as_deref(),
                };
                value.is_some_and(|v| values.iter().any(|want| want == v))
            })
        })
        .collect();
    let end = (start + size).min(matching.len());
    let items: Vec<VpcEndpointConnection> = matching
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(|c| c.to_sdk())
        .collect();
    let next = if end < matching.len() {
        let token = format!("tok-{}-{n}", world.tokens.len());
        world.tokens.insert(token.clone(), (filters.to_vec(), end));
        Some(token)
    } else {
        // A listing is complete: what was to change meanwhile changes now.
        for (id, state) in std::mem::take(&mut world.drift) {
            if let Some(c) = world.connections.iter_mut().find(|c| c.endpoint_id == id) {
                c.set_state(&state);
            }
        }
        None
    };
    MockResponse::Output(
        DescribeVpcEndpointConnectionsOutput::builder()
            .set_vpc_endpoint_connections(Some(items))
            .set_next_token(next)
            .build(),
    )
}

/// Accept or Reject: `Err` for a failed call, else the `Unsuccessful` items.
fn accept_or_reject(
    world: &mut World,
    operation: &'static str,
    service_id: &str,
    ids: &[String],
) -> Result<Vec<UnsuccessfulItem>, ErrorMetadata> {
    let accept = operation == "AcceptVpcEndpointConnections";
    let call = if accept {
        Call::Accept {
            service_id: service_id.into(),
            ids: ids.to_vec(),
        }
    } else {
        Call::Reject {
            service_id: service_id.into(),
            ids: ids.to_vec(),
        }
    };
    world.calls.push(call);
    if accept && world.throttle_accept {
        return Err(aws_error("RequestLimitExceeded", "Request limit exceeded."));
    }
    if let Some(code) = world.unattributed_accept.as_ref().filter(|_| accept) {
        return Ok(vec![UnsuccessfulItem::builder()
            .error(UnsuccessfulItemError::builder().code(code).build())
            .build()]);
    }
    if ids.is_empty() {
        return Err(aws_error(
            "MissingParameter",
            "The request must contain the parameter VpcEndpointId",
        ));
    }
    if !world.services.contains(service_id) {
        return Err(aws_error(
            "InvalidVpcEndpointServiceId.NotFound",
            &format!("The VpcEndpointService Id '{service_id}' does not exist"),
        ));
    }
    let (from, to): (&[&str], &str) = if accept {
        (&["pendingAcceptance"], "pending")
    } else {
        (&["pendingAcceptance", "pending", "available"], "rejected")
    };
    let mut unsuccessful = Vec::new();
    for id in ids {
        let found = world
            .connections
            .iter_mut()
            .find(|c| c.service_id == service_id && c.endpoint_id == *id);
        let refused = match found {
            None => Some((
                "InvalidVpcEndpointId.NotFound",
                format!("The Vpc Endpoint Id '{id}' does not exist"),
            )),
            Some(c) if c.state.as_deref().is_some_and(|s| from.contains(&s)) => {
                c.set_state(to);
                None
            }
            Some(c) => Some((
                "IncorrectState",
                format!(
                    "The VPC endpoint connection {id} is in state '{}' and cannot be changed.",
                    c.state.as_deref().unwrap_or("unknown")
                ),
            )),
        };
        if let Some((code, message)) = refused {
            world.refusals.push(Refusal {
                operation,
                endpoint_id: id.clone(),
                code,
            });
            unsuccessful.push(
                UnsuccessfulItem::builder()
                    .resource_id(id)
                    .error(
                        UnsuccessfulItemError::builder()
                            .code(code)
                            .message(message)
                            .build(),
                    )
                    .build(),
            );
        }
    }
    Ok(unsuccessful)
}

fn create_tags(world: &mut World, resources: &[String], tags: &[Tag]) -> Result<(), ErrorMetadata> {
    let tags: Vec<(String, String)> = tags
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    world.calls.push(Call::CreateTags {
        resources: resources.to_vec(),
        tags: tags.clone(),
    });
    let unknown = resources.iter().find(|r| {
        !world
            .connections
            .iter()
            .any(|c| c.connection_id.as_deref() == Some(r.as_str()))
    });
    if let Some(r) = unknown {
        return Err(aws_error(
            "InvalidID",
            &format!("The ID '{r}' is not valid"),
        ));
    }
    if resources.is_empty() || tags.is_empty() {
        return Err(aws_error(
            "MissingParameter",
            "Resources and Tags are required",
        ));
    }
    for c in world.connections.iter_mut() {
        if c.connection_id
            .as_ref()
            .is_some_and(|id| resources.contains(id))
        {
            for (key, value) in &tags {
                c.tags.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread poisons it; the state is still what it was.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A real EC2 client answered by `rules`, without the SDK's `test-util`
/// feature, and without retries.
pub fn client(rules: &[&Rule]) -> Client {
    let interceptor = rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, r| i.with_rule(r),
    );
    Client::from_conf(
        aws_sdk_ec2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
            .build(),
    )
}

/// The fake: the shared world and the four rules answering from it.
pub struct Fake {
    pub world: Arc<Mutex<World>>,
    pub describe: Rule,
    pub accept: Rule,
    pub reject: Rule,
    pub create_tags: Rule,
}

impl Fake {
    /// Connections of any services (and [`SVC`], with or without any).
    pub fn new(connections: Vec<FakeConn>) -> Fake {
        Fake::from_world(World::new(connections))
    }

    pub fn from_world(world: World) -> Fake {
        let world = Arc::new(Mutex::new(world));
        let w = world.clone();
        let describe =
            mock!(Client::describe_vpc_endpoint_connections).then_compute_response(move |input| {
                let filters = input
                    .filters()
                    .iter()
                    .map(|f| {
                        (
                            f.name().unwrap_or_default().to_string(),
                            f.values().to_vec(),
                        )
                    })
                    .collect();
                describe(
                    &mut lock(&w),
                    filters,
                    input.max_results(),
                    input.next_token().map(str::to_string),
                )
            });
        let w = world.clone();
        let accept =
            mock!(Client::accept_vpc_endpoint_connections).then_compute_response(move |input| {
                match accept_or_reject(
                    &mut lock(&w),
                    "AcceptVpcEndpointConnections",
                    input.service_id().unwrap_or_default(),
                    input.vpc_endpoint_ids(),
                ) {
                    Ok(unsuccessful) => MockResponse::Output(
                        AcceptVpcEndpointConnectionsOutput::builder()
                            .set_unsuccessful(Some(unsuccessful))
                            .build(),
                    ),
                    Err(e) => MockResponse::Error(AcceptVpcEndpointConnectionsError::generic(e)),
                }
            });
        let w = world.clone();
        let reject =
            mock!(Client::reject_vpc_endpoint_connections).then_compute_response(move |input| {
                match accept_or_reject(
                    &mut lock(&w),
                    "RejectVpcEndpointConnections",
                    input.service_id().unwrap_or_default(),
                    input.vpc_endpoint_ids(),
                ) {
                    Ok(unsuccessful) => MockResponse::Output(
                        RejectVpcEndpointConnectionsOutput::builder()
                            .set_unsuccessful(Some(unsuccessful))
                            .build(),
                    ),
                    Err(e) => MockResponse::Error(RejectVpcEndpointConnectionsError::generic(e)),
                }
            });
        let w = world.clone();
        let create_tags = mock!(Client::create_tags).then_compute_response(move |input| {
            match create_tags(&mut lock(&w), input.resources(), input.tags()) {
                Ok(()) => MockResponse::Output(CreateTagsOutput::builder().build()),
                Err(e) => MockResponse::Error(CreateTagsError::generic(e)),
            }
        });
        Fake {
            world,
            describe,
            accept,
            reject,
            create_tags,
        }
    }

    pub fn client(&self) -> Client {
        client(&[
            &self.describe,
            &self.accept,
            &self.reject,
            &self.create_tags,
        ])
    }

    /// Runs `f` on the world.
    pub fn with<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        f(&mut lock(&self.world))
    }

    pub fn calls(&self) -> Vec<Call> {
        self.with(|w| w.calls.clone())
    }

    pub fn connections(&self) -> Vec<FakeConn> {
        self.with(|w| w.connections.clone())
    }

    /// The filters of each Describe call, without the `service-id` one
    /// (every listing has it), in call order.
    pub fn listings(&self) -> Vec<Filters> {
        self.with(|w| {
            w.calls
                .iter()
                .filter_map(|c| match c {
                    Call::Describe { filters, .. } => Some(
                        filters
                            .iter()
                            .filter(|(name, _)| name != "service-id")
                            .cloned()
                            .collect(),
                    ),
                    _ => None,
                })
                .collect()
        })
    }

    /// The endpoint ids of each Accept call.
    pub fn accepted(&self) -> Vec<Vec<String>> {
        self.with(|w| {
            w.calls
                .iter()
                .filter_map(|c| match c {
                    Call::Accept { ids, .. } => Some(ids.clone()),
                    _ => None,
                })
                .collect()
        })
    }

    /// The endpoint ids of each Reject call.
    pub fn rejected(&self) -> Vec<Vec<String>> {
        self.with(|w| {
            w.calls
                .iter()
                .filter_map(|c| match c {
                    Call::Reject { ids, .. } => Some(ids.clone()),
                    _ => None,
                })
                .collect()
        })
    }

    /// The connection's state now.
    pub fn state_of(&self, endpoint_id: &str) -> Option<String> {
        self.with(|w| {
            w.connections
                .iter()
                .find(|c| c.endpoint_id == endpoint_id)
                .and_then(|c| c.state.clone())
        })
    }
}

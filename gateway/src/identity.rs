//! Who is on the other end: VPC endpoint id → owner account → tenant.
//!
//! The owner comes from `DescribeVpcEndpointConnections` of the gateway's
//! endpoint service, filtered by `service-id` only with the endpoint id
//! matched in code (privatelink-facts §2: the `vpc-endpoint-id` filter is
//! reported invalid). One listing returns every connection of the service,
//! so the cache holds the whole listing and is refreshed as a whole:
//!
//! - a hit younger than [`IdentityConfig::ttl`] costs no AWS call;
//! - a miss (unknown or stale id) triggers a new listing, but at most one
//!   per [`IdentityConfig::min_refresh_interval`]; a miss inside that
//!   interval is refused as unknown without calling AWS, so a flood of
//!   made-up endpoint ids costs at most one listing per interval;
//! - only ids AWS listed are ever stored (never ids a client sent), and at
//!   most [`IdentityConfig::max_entries`] of them.
//!
//! The owner's tenant is read through [`TenantSource`] (the registry),
//! cached for [`IdentityConfig::tenant_ttl`] so a suspension takes effect
//! within that time, and judged with [`Tenant::standing`]. Concurrent
//! misses for one owner share one registry read (single flight): a burst of
//! new connections from one tenant costs one read, not one each.
//!
//! When AWS fails (an error or throttling on the listing or on a tenant
//! read), an entry that expired no more than [`IdentityConfig::stale_grace`]
//! ago is still served, with a warning, so a short AWS outage does not
//! refuse every tenant the gateway already knew. Only what AWS itself
//! returned is ever served stale: an id that was in no successful listing
//! is never admitted, and past the grace the refusal is `lookup failed`.
//!
//! The AWS side is the [`ConnectionLister`] trait ([`Ec2Lister`] in
//! production) so tests can count calls.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use privatelink_core::approval::tenant::now_epoch;
use privatelink_core::approval::{list_connections, Connection, Standing, Tenant, TenantSource};
use privatelink_core::state::EndpointState;
use tokio::time::Instant;

/// Lists the endpoint service's connections (one full listing, all pages).
pub trait ConnectionLister: Send + Sync {
    fn list(&self) -> impl Future<Output = Result<Vec<Connection>, String>> + Send;
}

/// [`ConnectionLister`] on EC2: `DescribeVpcEndpointConnections` with the
/// `service-id` filter, paged (the approver's own listing).
#[derive(Debug, Clone)]
pub struct Ec2Lister {
    pub client: aws_sdk_ec2::Client,
    pub service_id: String,
}

impl ConnectionLister for Ec2Lister {
    async fn list(&self) -> Result<Vec<Connection>, String> {
        list_connections(&self.client, &self.service_id)
            .await
            .map(|(connections, _pages)| connections)
            .map_err(|e| e.to_string())
    }
}

/// The registry's DynamoDB client configuration: `base` (the gateway's AWS
/// configuration) in `region` when one is given. The vendor keeps one
/// registry table in its home region and the gateway of every region reads
/// it there, so the table's region can differ from the gateway's own.
pub fn registry_config(
    base: aws_sdk_dynamodb::config::Builder,
    region: Option<&str>,
) -> aws_sdk_dynamodb::Config {
    match region {
        Some(region) => base
            .region(aws_sdk_dynamodb::config::Region::new(region.to_string()))
            .build(),
        None => base.build(),
    }
}

/// Turns an endpoint id into an identity or a refusal: what the TCP and
/// HTTP front ends need of [`Resolver`] (tests use simpler ones).
pub trait Identify: Send + Sync {
    fn identify(&self, endpoint_id: &str)
        -> impl Future<Output = Result<Identity, Refusal>> + Send;
}

impl<L: ConnectionLister, T: TenantSource + Send> Identify for Resolver<L, T> {
    fn identify(
        &self,
        endpoint_id: &str,
    ) -> impl Future<Output = Result<Identity, Refusal>> + Send {
        self.resolve(endpoint_id)
    }
}

/// Cache and rate-limit settings.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// How long a listed endpoint is trusted without listing again.
    pub ttl: Duration,
    /// At most one listing per this interval, whatever the misses.
    pub min_refresh_interval: Duration,
    /// The most endpoints kept (a listing beyond it keeps the first ones
    /// and logs a warning).
    pub max_entries: usize,
    /// How long a tenant read from the registry is trusted.
    pub tenant_ttl: Duration,
    /// How long past its TTL a listing or a tenant is still served when
    /// refreshing it fails (AWS error or throttling). Zero: never.
    pub stale_grace: Duration,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            ttl: Duration::from_secs(300),
            min_refresh_interval: Duration::from_secs(5),
            max_entries: 100_000,
            tenant_ttl: Duration::from_secs(30),
            stale_grace: Duration::from_secs(300),
        }
    }
}

/// An accepted connection's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub endpoint_id: String,
    /// The 12-digit account that owns the endpoint.
    pub account_id: String,
    /// The tenant's name in the registry.
    pub tenant: String,
}

/// Why a connection is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("unknown endpoint {endpoint_id}: not a connection of this service")]
    UnknownEndpoint { endpoint_id: String },
    #[error("unknown endpoint {endpoint_id}: not in the last listing, and the next listing is rate-limited")]
    UnknownRateLimited { endpoint_id: String },
    #[error("endpoint {endpoint_id} is {state}, not available")]
    NotAvailable { endpoint_id: String, state: String },
    #[error("account {account_id} is not a tenant")]
    NotATenant { account_id: String },
    #[error("tenant {account_id} is suspended")]
    Suspended { account_id: String },
    #[error("tenant {account_id} has expired")]
    Expired { account_id: String },
    #[error("identity lookup failed: {0}")]
    LookupFailed(String),
}

impl Refusal {
    /// A short stable name for logs and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::UnknownEndpoint { .. } => "unknown_endpoint",
            Refusal::UnknownRateLimited { .. } => "unknown_endpoint_rate_limited",
            Refusal::NotAvailable { .. } => "endpoint_not_available",
            Refusal::NotATenant { .. } => "not_a_tenant",
            Refusal::Suspended { .. } => "suspended",
            Refusal::Expired { .. } => "expired",
            Refusal::LookupFailed(_) => "lookup_failed",
        }
    }
}

#[derive(Debug, Clone)]
struct EndpointEntry {
    owner: Option<String>,
    state: Option<EndpointState>,
}

#[derive(Debug, Default)]
struct Endpoints {
    by_id: HashMap<String, EndpointEntry>,
    /// When the cached listing was taken.
    listed_at: Option<Instant>,
    /// When a listing was last attempted (successful or not).
    attempted_at: Option<Instant>,
    /// Why the last attempt failed, if it did.
    last_error: Option<String>,
}

/// One registry read for an owner, shared by every lookup that missed
/// while it ran.
type TenantRead = Arc<tokio::sync::OnceCell<Result<Option<Tenant>, Refusal>>>;

/// Resolves endpoint ids to identities. Share it (`Arc`) between
/// connections.
pub struct Resolver<L, T> {
    lister: L,
    tenants: T,
    config: IdentityConfig,
    endpoints: Mutex<Endpoints>,
    tenant_cache: Mutex<HashMap<String, (Option<Tenant>, Instant)>>,
    /// The registry reads in flight, by owner.
    tenant_reads: Mutex<HashMap<String, TenantRead>>,
    /// Held while listing, so concurrent misses wait for one listing
    /// instead of starting their own.
    refresh: tokio::sync::Mutex<()>,
}

impl<L: ConnectionLister, T: TenantSource> Resolver<L, T> {
    /// A resolver; a `ttl` shorter than `min_refresh_interval` is raised to
    /// it (an entry must not go stale while a refresh is refused).
    pub fn new(lister: L, tenants: T, mut config: IdentityConfig) -> Self {
        config.ttl = config.ttl.max(config.min_refresh_interval);
        Resolver {
            lister,
            tenants,
            config,
            endpoints: Mutex::new(Endpoints::default()),
            tenant_cache: Mutex::new(HashMap::new()),
            tenant_reads: Mutex::new(HashMap::new()),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// The identity behind `endpoint_id`, or why it is refused.
    pub async fn resolve(&self, endpoint_id: &str) -> Result<Identity, Refusal> {
        let entry = self.endpoint(endpoint_id).await?;
        match &entry.state {
            Some(EndpointState::Available) => {}
            other => {
                return Err(Refusal::NotAvailable {
                    endpoint_id: endpoint_id.to_string(),
                    state: other
                        .as_ref()
                        .map(|s| s.as_wire().to_string())
                        .unwrap_or_else(|| "of unknown state".into()),
                })
            }
        }
        let Some(owner) = entry.owner else {
            return Err(Refusal::LookupFailed(format!(
                "the listing names no owner for {endpoint_id}"
            )));
        };
        let tenant = self.tenant(&owner).await?;
        let Some(tenant) = tenant else {
            return Err(Refusal::NotATenant { account_id: owner });
        };
        match tenant.standing(now_epoch()) {
            Standing::Entitled { .. } => Ok(Identity {
                endpoint_id: endpoint_id.to_string(),
                account_id: owner,
                tenant: tenant.name,
            }),
            Standing::Suspended => Err(Refusal::Suspended { account_id: owner }),
            Standing::Expired => Err(Refusal::Expired { account_id: owner }),
            Standing::NotATenant => Err(Refusal::NotATenant { account_id: owner }),
        }
    }

    /// A fresh cached entry, if any.
    fn cached(&self, endpoint_id: &str, now: Instant) -> Option<EndpointEntry> {
        self.cached_within(endpoint_id, now, self.config.ttl)
    }

    /// An entry of the last successful listing, if that listing is younger
    /// than `age`.
    fn cached_within(
        &self,
        endpoint_id: &str,
        now: Instant,
        age: Duration,
    ) -> Option<EndpointEntry> {
        let endpoints = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
        let young = endpoints
            .listed_at
            .is_some_and(|at| now.duration_since(at) < age);
        if young {
            endpoints.by_id.get(endpoint_id).cloned()
        } else {
            None
        }
    }

    /// An entry expired no more than the stale grace ago.
    fn stale(&self, endpoint_id: &str, now: Instant) -> Option<EndpointEntry> {
        self.cached_within(endpoint_id, now, self.config.ttl + self.config.stale_grace)
    }

    async fn endpoint(&self, endpoint_id: &str) -> Result<EndpointEntry, Refusal> {
        if let Some(entry) = self.cached(endpoint_id, Instant::now()) {
            return Ok(entry);
        }
        let _refreshing = self.refresh.lock().await;
        let now = Instant::now();
        // Another connection may have listed while this one waited.
        if let Some(entry) = self.cached(endpoint_id, now) {
            return Ok(entry);
        }
        let (attempted, last_error) = {
            let endpoints = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
            (endpoints.attempted_at, endpoints.last_error.clone())
        };
        if attempted.is_some_and(|at| now.duration_since(at) < self.config.min_refresh_interval) {
            // The listing is stale here only because the last refresh
            // failed (a successful one is fresh for at least the interval).
            if let Some(entry) = self.stale(endpoint_id, now) {
                return Ok(entry);
            }
            return Err(match last_error {
                Some(error) => Refusal::LookupFailed(format!(
                    "listing the service's connections: {error} (retried at most every {:?})",
                    self.config.min_refresh_interval
                )),
                None => Refusal::UnknownRateLimited {
                    endpoint_id: endpoint_id.to_string(),
                },
            });
        }
        self.endpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .attempted_at = Some(now);
        let listed = match self.lister.list().await {
            Ok(listed) => listed,
            Err(error) => {
                self.endpoints
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .last_error = Some(error.clone());
                if let Some(entry) = self.stale(endpoint_id, now) {
                    tracing::warn!(
                        endpoint_id,
                        %error,
                        grace_secs = self.config.stale_grace.as_secs(),
                        "listing the service's connections failed; serving the last listing (within the stale grace)"
                    );
                    return Ok(entry);
                }
                return Err(Refusal::LookupFailed(format!(
                    "listing the service's connections: {error}"
                )));
            }
        };
        let total = listed.len();
        let by_id: HashMap<String, EndpointEntry> = listed
            .into_iter()
            .take(self.config.max_entries)
            .map(|c| {
                (
                    c.endpoint_id,
                    EndpointEntry {
                        owner: c.owner,
                        state: c.state,
                    },
                )
            })
            .collect();
        if total > self.config.max_entries {
            tracing::warn!(
                total,
                kept = self.config.max_entries,
                "more connections than the identity cache holds; raise max_entries"
            );
        }
        let found = by_id.get(endpoint_id).cloned();
        {
            let mut endpoints = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
            endpoints.by_id = by_id;
            endpoints.listed_at = Some(now);
            endpoints.last_error = None;
        }
        found.ok_or_else(|| Refusal::UnknownEndpoint {
            endpoint_id: endpoint_id.to_string(),
        })
    }

    async fn tenant(&self, owner: &str) -> Result<Option<Tenant>, Refusal> {
        {
            let cache = self.tenant_cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((tenant, at)) = cache.get(owner) {
                if Instant::now().duration_since(*at) < self.config.tenant_ttl {
                    return Ok(tenant.clone());
                }
            }
        }
        let read: TenantRead = self
            .tenant_reads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(owner.to_string())
            .or_default()
            .clone();
        // The first lookup runs the read; the others wait for its result
        // (if the first is cancelled, one of them takes over).
        let result = read.get_or_init(|| self.read_tenant(owner)).await.clone();
        // Done: the next miss (after the TTL) must read anew, not reuse
        // this result. Only this read's own entry is removed.
        let mut reads = self.tenant_reads.lock().unwrap_or_else(|p| p.into_inner());
        if reads.get(owner).is_some_and(|r| Arc::ptr_eq(r, &read)) {
            reads.remove(owner);
        }
        result
    }

    /// One registry read for `owner`, cached; on failure the cached tenant
    /// if it expired no more than the stale grace ago.
    async fn read_tenant(&self, owner: &str) -> Result<Option<Tenant>, Refusal> {
        let now = Instant::now();
        let found = match self.tenants.tenants(&[owner.to_string()]).await {
            Ok((found, _calls)) => found,
            Err(e) => {
                let cache = self.tenant_cache.lock().unwrap_or_else(|p| p.into_inner());
                let limit = self.config.tenant_ttl + self.config.stale_grace;
                if let Some((tenant, at)) = cache.get(owner) {
                    if now.duration_since(*at) < limit {
                        tracing::warn!(
                            account_id = owner,
                            error = %e.detail,
                            grace_secs = self.config.stale_grace.as_secs(),
                            "reading the tenant registry failed; serving the last read (within the stale grace)"
                        );
                        return Ok(tenant.clone());
                    }
                }
                return Err(Refusal::LookupFailed(format!(
                    "reading the tenant registry: {}",
                    e.detail
                )));
            }
        };
        let tenant = found.into_iter().find(|t| t.account_id.as_str() == owner);
        let mut cache = self.tenant_cache.lock().unwrap_or_else(|p| p.into_inner());
        // Owners come only from the listing, so this is bounded by it; the
        // cap is a second guard. Entries are kept through the stale grace.
        if cache.len() >= self.config.max_entries {
            let keep = self.config.tenant_ttl + self.config.stale_grace;
            cache.retain(|_, (_, at)| now.duration_since(*at) < keep);
        }
        if cache.len() < self.config.max_entries || cache.contains_key(owner) {
            cache.insert(owner.to_string(), (tenant.clone(), now));
        }
        Ok(tenant)
    }

    /// How many endpoints the cache holds (for tests and metrics).
    pub fn cached_endpoints(&self) -> usize {
        self.endpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_id
            .len()
    }
}

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
//! within that time, and judged with [`Tenant::standing`].
//!
//! The AWS side is the [`ConnectionLister`] trait ([`Ec2Lister`] in
//! production) so tests can count calls.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
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
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            ttl: Duration::from_secs(300),
            min_refresh_interval: Duration::from_secs(5),
            max_entries: 100_000,
            tenant_ttl: Duration::from_secs(30),
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
}

/// Resolves endpoint ids to identities. Share it (`Arc`) between
/// connections.
pub struct Resolver<L, T> {
    lister: L,
    tenants: T,
    config: IdentityConfig,
    endpoints: Mutex<Endpoints>,
    tenant_cache: Mutex<HashMap<String, (Option<Tenant>, Instant)>>,
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
        let endpoints = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = endpoints
            .listed_at
            .is_some_and(|at| now.duration_since(at) < self.config.ttl);
        if fresh {
            endpoints.by_id.get(endpoint_id).cloned()
        } else {
            None
        }
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
        let attempted = self
            .endpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .attempted_at;
        if attempted.is_some_and(|at| now.duration_since(at) < self.config.min_refresh_interval) {
            return Err(Refusal::UnknownRateLimited {
                endpoint_id: endpoint_id.to_string(),
            });
        }
        self.endpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .attempted_at = Some(now);
        let listed = self.lister.list().await.map_err(Refusal::LookupFailed)?;
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
        }
        found.ok_or_else(|| Refusal::UnknownEndpoint {
            endpoint_id: endpoint_id.to_string(),
        })
    }

    async fn tenant(&self, owner: &str) -> Result<Option<Tenant>, Refusal> {
        let now = Instant::now();
        {
            let cache = self.tenant_cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((tenant, at)) = cache.get(owner) {
                if now.duration_since(*at) < self.config.tenant_ttl {
                    return Ok(tenant.clone());
                }
            }
        }
        let (found, _calls) = self
            .tenants
            .tenants(&[owner.to_string()])
            .await
            .map_err(|e| Refusal::LookupFailed(format!("tenant registry: {}", e.detail)))?;
        let tenant = found.into_iter().find(|t| t.account_id.as_str() == owner);
        let mut cache = self.tenant_cache.lock().unwrap_or_else(|p| p.into_inner());
        // Owners come only from the listing, so this is bounded by it; the
        // cap is a second guard.
        if cache.len() >= self.config.max_entries {
            let ttl = self.config.tenant_ttl;
            cache.retain(|_, (_, at)| now.duration_since(*at) < ttl);
        }
        if cache.len() < self.config.max_entries {
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

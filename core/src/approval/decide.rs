//! The decision rule, pure: one connection's real owner and state, plus the
//! configuration, give one [`Decision`] and the [`Reason`] for it. This is
//! the security boundary of the product; nothing else decides.

use std::collections::{HashMap, HashSet};

use crate::state::EndpointState;

use super::config::{ApproverConfig, NonAllowlistedPolicy};
use super::tenant::{Standing, Tenants};

/// A connection to the endpoint service as AWS reports it (the provider's
/// view from `DescribeVpcEndpointConnections`), reduced to what the decision
/// needs. Missing fields stay missing: a connection without an owner or a
/// state is never accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub endpoint_id: String,
    pub owner: Option<String>,
    pub state: Option<EndpointState>,
    /// The consumer's region: the endpoint's (`VpcEndpointRegion`, set for a
    /// cross-region endpoint), else the service's own. `None`: unknown.
    pub region: Option<String>,
}

impl Connection {
    /// Reads an SDK connection; `None` when it has no endpoint id (nothing
    /// could be done with it anyway). `service_region` is the service's own
    /// region: the consumer's when AWS reports no `VpcEndpointRegion`.
    pub fn from_sdk(
        c: &aws_sdk_ec2::types::VpcEndpointConnection,
        service_region: Option<&str>,
    ) -> Option<Connection> {
        Some(Connection {
            endpoint_id: c.vpc_endpoint_id()?.to_string(),
            owner: c.vpc_endpoint_owner().map(str::to_string),
            state: c.vpc_endpoint_state().map(EndpointState::from_sdk),
            region: c
                .vpc_endpoint_region()
                .or(service_region)
                .map(str::to_string),
        })
    }
}

/// What to do with one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Accept,
    Reject,
    /// Do nothing.
    Leave,
}

/// Why, as a stable snake_case code for logs and queries. A refusal names
/// the registry's rule that refused (not a tenant, suspended, expired, over
/// quota); the decision (reject or leave) then follows the stack's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// pendingAcceptance, owner an active, unexpired tenant under its quota.
    EntitledTenant,
    /// The owner is not in the registry.
    NotATenant,
    /// The owner's tenant is suspended.
    TenantSuspended,
    /// The owner's tenant expired (`expires_at` passed).
    TenantExpired,
    /// pendingAcceptance, the tenant already has `max_endpoints` live
    /// endpoints (live ones are never rejected for the quota).
    OverQuota,
    /// The tenant's `allowed_regions` do not hold the consumer's region.
    RegionNotAllowed,
    /// pending/available, owner no longer entitled, revocation off.
    NotEntitledRevocationOff,
    /// pending/available, owner entitled: accepted before (possibly by this
    /// approver a moment ago).
    AlreadyAccepted,
    /// rejected, deleted, failed, expired: nothing to decide any more.
    FinalState,
    /// deleting, partial: AWS is busy with it; the next run looks again.
    InTransition,
    /// A state this version does not know; never acted on.
    UnknownState,
    /// AWS reported no owner or no state; never acted on.
    IncompleteConnection,
    /// An operator's accept/reject that differs from what the rule decides
    /// (never produced by [`decide`]; see `operator::overrides`).
    ManualOverride,
    /// `down --force`: the service is being deleted, so its live connections
    /// are rejected first (never produced by [`decide`]; see the provider's
    /// `provision::down`).
    ServiceDeleted,
}

impl Reason {
    /// The snake_case code, as serialized.
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::EntitledTenant => "entitled_tenant",
            Reason::NotATenant => "not_a_tenant",
            Reason::TenantSuspended => "tenant_suspended",
            Reason::TenantExpired => "tenant_expired",
            Reason::OverQuota => "over_quota",
            Reason::RegionNotAllowed => "region_not_allowed",
            Reason::NotEntitledRevocationOff => "not_entitled_revocation_off",
            Reason::AlreadyAccepted => "already_accepted",
            Reason::FinalState => "final_state",
            Reason::InTransition => "in_transition",
            Reason::UnknownState => "unknown_state",
            Reason::IncompleteConnection => "incomplete_connection",
            Reason::ManualOverride => "manual_override",
            Reason::ServiceDeleted => "service_deleted",
        }
    }

    /// True for the registry's refusals (the owner may not have a new
    /// endpoint accepted).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Reason::NotATenant
                | Reason::TenantSuspended
                | Reason::TenantExpired
                | Reason::OverQuota
                | Reason::RegionNotAllowed
        )
    }
}

impl Decision {
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::Reject => "reject",
            Decision::Leave => "leave",
        }
    }
}

/// The refusal for an owner who is not entitled, or who is but not from
/// this region; `None` when entitled from here.
fn refusal(standing: Standing, region_allowed: bool) -> Option<Reason> {
    match standing {
        Standing::NotATenant => Some(Reason::NotATenant),
        Standing::Suspended => Some(Reason::TenantSuspended),
        Standing::Expired => Some(Reason::TenantExpired),
        Standing::Entitled { .. } if !region_allowed => Some(Reason::RegionNotAllowed),
        Standing::Entitled { .. } => None,
    }
}

/// Decides one connection from its real owner and state and the owner's
/// standing in the registry. `live` is how many live (pending or available)
/// endpoints the owner has besides this one, counting accepts already
/// planned in the same run; it matters only for a quota.
pub fn decide(
    config: &ApproverConfig,
    tenants: &Tenants,
    connection: &Connection,
    live: usize,
) -> (Decision, Reason) {
    let (Some(owner), Some(state)) = (&connection.owner, &connection.state) else {
        return (Decision::Leave, Reason::IncompleteConnection);
    };
    let standing = tenants.standing(owner);
    let region_allowed = tenants.allows_region(owner, connection.region.as_deref());
    let by_policy = |reason| match config.non_allowlisted {
        NonAllowlistedPolicy::Reject => (Decision::Reject, reason),
        NonAllowlistedPolicy::LeavePending => (Decision::Leave, reason),
    };
    match state {
        EndpointState::PendingAcceptance => match (refusal(standing, region_allowed), standing) {
            (Some(reason), _) => by_policy(reason),
            (
                None,
                Standing::Entitled {
                    max_endpoints: Some(max),
                },
            ) if live >= max as usize => by_policy(Reason::OverQuota),
            (None, _) => (Decision::Accept, Reason::EntitledTenant),
        },
        EndpointState::Pending | EndpointState::Available => {
            match refusal(standing, region_allowed) {
                None => (Decision::Leave, Reason::AlreadyAccepted),
                Some(reason) if config.revoke => (Decision::Reject, reason),
                Some(_) => (Decision::Leave, Reason::NotEntitledRevocationOff),
            }
        }
        EndpointState::Rejected
        | EndpointState::Deleted
        | EndpointState::Failed
        | EndpointState::Expired => (Decision::Leave, Reason::FinalState),
        EndpointState::Deleting | EndpointState::Partial => (Decision::Leave, Reason::InTransition),
        EndpointState::Other(_) => (Decision::Leave, Reason::UnknownState),
    }
}

/// One connection with its decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub connection: Connection,
    pub decision: Decision,
    pub reason: Reason,
}

/// Decides every connection given, once per endpoint id (the first listing
/// of an id wins; AWS lists each once, this only guards against overlapping
/// pages). `live` counts each owner's live endpoints that are not among
/// `connections` (from a narrower listing); the live ones among
/// `connections` are counted here, and each planned accept counts against
/// the owner's quota for the requests after it (oldest first, in the order
/// given).
pub fn decide_all(
    config: &ApproverConfig,
    tenants: &Tenants,
    connections: &[Connection],
    live: &HashMap<String, usize>,
) -> Vec<Planned> {
    let mut seen = HashSet::new();
    let unique: Vec<&Connection> = connections
        .iter()
        .filter(|c| seen.insert(c.endpoint_id.as_str()))
        .collect();
    let mut live: HashMap<String, usize> = live.clone();
    for c in &unique {
        if let (Some(owner), Some(state)) = (&c.owner, &c.state) {
            if matches!(state, EndpointState::Pending | EndpointState::Available) {
                *live.entry(owner.clone()).or_default() += 1;
            }
        }
    }
    unique
        .into_iter()
        .map(|c| {
            let count = c
                .owner
                .as_ref()
                .and_then(|o| live.get(o))
                .copied()
                .unwrap_or(0);
            let (decision, reason) = decide(config, tenants, c, count);
            if decision == Decision::Accept {
                if let Some(owner) = &c.owner {
                    *live.entry(owner.clone()).or_default() += 1;
                }
            }
            Planned {
                connection: c.clone(),
                decision,
                reason,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::allowlist::AccountId;
    use crate::approval::tenant::{Tenant, TenantStatus};

    const ACTIVE: &str = "111111111111";
    const SUSPENDED: &str = "222222222222";
    const EXPIRED: &str = "333333333333";
    const QUOTA1: &str = "444444444444";
    const REGIONAL: &str = "555555555555";
    const OTHER: &str = "999999999999";
    const NOW: i64 = 1_800_000_000;

    fn config(policy: NonAllowlistedPolicy, revoke: bool) -> ApproverConfig {
        ApproverConfig {
            service_id: "vpce-svc-0123456789abcdef0".into(),
            table: "acme-tenants".into(),
            table_region: None,
            non_allowlisted: policy,
            revoke,
            dry_run: false,
        }
    }

    fn tenants() -> Tenants {
        let t = |id: &str| Tenant::active(AccountId::parse(id).unwrap(), id);
        Tenants::new(
            [
                t(ACTIVE),
                Tenant {
                    status: TenantStatus::Suspended,
                    ..t(SUSPENDED)
                },
                Tenant {
                    expires_at: Some(NOW),
                    ..t(EXPIRED)
                },
                Tenant {
                    max_endpoints: Some(1),
                    expires_at: Some(NOW + 1),
                    ..t(QUOTA1)
                },
                Tenant {
                    allowed_regions: ["us-east-1".to_string(), "eu-west-1".to_string()].into(),
                    ..t(REGIONAL)
                },
            ],
            NOW,
        )
    }

    fn conn(owner: Option<&str>, state: Option<&str>) -> Connection {
        Connection {
            endpoint_id: "vpce-0a".into(),
            owner: owner.map(str::to_string),
            state: state.map(EndpointState::from_wire),
            region: Some("us-east-1".into()),
        }
    }

    #[test]
    fn decision_table() {
        use Decision::*;
        use NonAllowlistedPolicy::{LeavePending as LP, Reject as RJ};
        use Reason::*;
        type Row<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            usize,
            NonAllowlistedPolicy,
            bool,
            Decision,
            Reason,
            Option<&'a str>,
        );
        const HOME: Option<&str> = Some("us-east-1");
        #[rustfmt::skip]
        let table: &[Row] = &[
            // owner           state                   live policy revoke  decision reason  consumer region
            (Some(ACTIVE),    Some("pendingAcceptance"), 0, RJ, false, Accept, EntitledTenant, HOME),
            (Some(ACTIVE),    Some("PENDINGACCEPTANCE"), 9, RJ, false, Accept, EntitledTenant, HOME),
            (Some(ACTIVE),    Some("PendingAcceptance"), 0, LP, true,  Accept, EntitledTenant, HOME),
            (Some(QUOTA1),    Some("pendingAcceptance"), 0, RJ, false, Accept, EntitledTenant, HOME),
            (Some(QUOTA1),    Some("pendingAcceptance"), 1, RJ, false, Reject, OverQuota, HOME),
            (Some(QUOTA1),    Some("pendingAcceptance"), 2, LP, false, Leave,  OverQuota, HOME),
            (Some(OTHER),     Some("pendingAcceptance"), 0, RJ, false, Reject, NotATenant, HOME),
            (Some(OTHER),     Some("pendingacceptance"), 0, LP, false, Leave,  NotATenant, HOME),
            (Some(SUSPENDED), Some("pendingAcceptance"), 0, RJ, false, Reject, TenantSuspended, HOME),
            (Some(SUSPENDED), Some("pendingAcceptance"), 0, LP, true,  Leave,  TenantSuspended, HOME),
            (Some(EXPIRED),   Some("pendingAcceptance"), 0, RJ, false, Reject, TenantExpired, HOME),
            (Some(EXPIRED),   Some("pendingAcceptance"), 0, LP, false, Leave,  TenantExpired, HOME),
            (Some(ACTIVE),    Some("available"),         0, RJ, true,  Leave,  AlreadyAccepted, HOME),
            (Some(ACTIVE),    Some("Pending"),           0, RJ, true,  Leave,  AlreadyAccepted, HOME),
            // A quota never revokes what is already live.
            (Some(QUOTA1),    Some("available"),         5, RJ, true,  Leave,  AlreadyAccepted, HOME),
            (Some(OTHER),     Some("available"),         0, RJ, false, Leave,  NotEntitledRevocationOff, HOME),
            (Some(OTHER),     Some("AVAILABLE"),         0, RJ, true,  Reject, NotATenant, HOME),
            (Some(SUSPENDED), Some("available"),         0, LP, true,  Reject, TenantSuspended, HOME),
            (Some(SUSPENDED), Some("available"),         0, LP, false, Leave,  NotEntitledRevocationOff, HOME),
            (Some(EXPIRED),   Some("pending"),           0, RJ, true,  Reject, TenantExpired, HOME),
            (Some(OTHER),     Some("pending"),           0, RJ, false, Leave,  NotEntitledRevocationOff, HOME),
            (Some(ACTIVE),    Some("rejected"),          0, RJ, true,  Leave,  FinalState, HOME),
            (Some(OTHER),     Some("rejected"),          0, RJ, true,  Leave,  FinalState, HOME),
            (Some(OTHER),     Some("deleted"),           0, RJ, true,  Leave,  FinalState, HOME),
            (Some(ACTIVE),    Some("failed"),            0, RJ, true,  Leave,  FinalState, HOME),
            (Some(ACTIVE),    Some("expired"),           0, RJ, true,  Leave,  FinalState, HOME),
            (Some(OTHER),     Some("deleting"),          0, RJ, true,  Leave,  InTransition, HOME),
            (Some(ACTIVE),    Some("partial"),           0, RJ, true,  Leave,  InTransition, HOME),
            (Some(ACTIVE),    Some("hibernating"),       0, RJ, true,  Leave,  UnknownState, HOME),
            (Some(ACTIVE),    Some(""),                  0, RJ, true,  Leave,  UnknownState, HOME),
            (None,            Some("pendingAcceptance"), 0, RJ, true,  Leave,  IncompleteConnection, HOME),
            (Some(ACTIVE),    None,                      0, RJ, true,  Leave,  IncompleteConnection, HOME),
            // Near-misses of a tenant's id are other owners.
            (Some(" 111111111111"), Some("pendingAcceptance"), 0, RJ, false, Reject, NotATenant, HOME),
            (Some("11111111111"),   Some("pendingAcceptance"), 0, LP, false, Leave,  NotATenant, HOME),
            // A tenant limited to some consumer regions (cross-region
            // PrivateLink): refused from another, by policy; live ones only
            // with revocation on; an unknown region is not one it allows.
            (Some(REGIONAL),  Some("pendingAcceptance"), 0, RJ, false, Accept, EntitledTenant, Some("eu-west-1")),
            (Some(REGIONAL),  Some("pendingAcceptance"), 0, RJ, false, Accept, EntitledTenant, HOME),
            (Some(REGIONAL),  Some("pendingAcceptance"), 0, RJ, false, Reject, RegionNotAllowed, Some("ap-south-1")),
            (Some(REGIONAL),  Some("pendingAcceptance"), 0, LP, true,  Leave,  RegionNotAllowed, Some("ap-south-1")),
            (Some(REGIONAL),  Some("pendingAcceptance"), 0, RJ, false, Reject, RegionNotAllowed, None),
            (Some(REGIONAL),  Some("available"),         0, RJ, true,  Reject, RegionNotAllowed, Some("ap-south-1")),
            (Some(REGIONAL),  Some("pending"),           0, LP, true,  Reject, RegionNotAllowed, Some("ap-south-1")),
            (Some(REGIONAL),  Some("available"),         0, RJ, false, Leave,  NotEntitledRevocationOff, Some("ap-south-1")),
            (Some(REGIONAL),  Some("available"),         0, RJ, true,  Leave,  AlreadyAccepted, Some("eu-west-1")),
            // Standing first: a suspended tenant is refused as suspended.
            (Some(SUSPENDED), Some("pendingAcceptance"), 0, RJ, false, Reject, TenantSuspended, Some("ap-south-1")),
            // Unlimited tenants connect from any region the service supports.
            (Some(ACTIVE),    Some("pendingAcceptance"), 0, RJ, false, Accept, EntitledTenant, Some("ap-south-1")),
            (Some(ACTIVE),    Some("pendingAcceptance"), 0, RJ, false, Accept, EntitledTenant, None),
            (Some(OTHER),     Some("pendingAcceptance"), 0, RJ, false, Reject, NotATenant, Some("ap-south-1")),
        ];
        let tenants = tenants();
        for (owner, state, live, policy, revoke, decision, reason, region) in table {
            let connection = Connection {
                region: region.map(str::to_string),
                ..conn(*owner, *state)
            };
            let got = decide(&config(*policy, *revoke), &tenants, &connection, *live);
            assert_eq!(
                got,
                (*decision, *reason),
                "owner {owner:?} state {state:?} live {live} policy {policy:?} revoke {revoke} \
                 region {region:?}"
            );
        }
    }

    #[test]
    fn the_consumer_region_is_the_endpoints_or_else_the_services() {
        let sdk = |region: Option<&str>| {
            aws_sdk_ec2::types::VpcEndpointConnection::builder()
                .vpc_endpoint_id("vpce-0a")
                .vpc_endpoint_owner(ACTIVE)
                .vpc_endpoint_state(aws_sdk_ec2::types::State::PendingAcceptance)
                .set_vpc_endpoint_region(region.map(str::to_string))
                .build()
        };
        let region = |c: Option<Connection>| c.and_then(|c| c.region);
        assert_eq!(
            region(Connection::from_sdk(
                &sdk(Some("eu-west-1")),
                Some("us-east-1")
            )),
            Some("eu-west-1".into())
        );
        assert_eq!(
            region(Connection::from_sdk(&sdk(None), Some("us-east-1"))),
            Some("us-east-1".into())
        );
        assert_eq!(region(Connection::from_sdk(&sdk(None), None)), None);
    }

    #[test]
    fn reasons_serialize_as_their_stable_codes() {
        use Reason::*;
        for reason in [
            EntitledTenant,
            NotATenant,
            TenantSuspended,
            TenantExpired,
            OverQuota,
            RegionNotAllowed,
            NotEntitledRevocationOff,
            AlreadyAccepted,
            FinalState,
            InTransition,
            UnknownState,
            IncompleteConnection,
            ManualOverride,
            ServiceDeleted,
        ] {
            let json = serde_json::to_value(reason).expect("serializes");
            assert_eq!(json, serde_json::Value::from(reason.as_str()));
        }
        for decision in [Decision::Accept, Decision::Reject, Decision::Leave] {
            let json = serde_json::to_value(decision).expect("serializes");
            assert_eq!(json, serde_json::Value::from(decision.as_str()));
        }
    }

    #[test]
    fn plan_decides_each_endpoint_once() {
        let mut a = conn(Some(ACTIVE), Some("pendingAcceptance"));
        a.endpoint_id = "vpce-1".into();
        let mut dup = conn(Some(OTHER), Some("pendingAcceptance"));
        dup.endpoint_id = "vpce-1".into();
        let mut b = conn(Some(OTHER), Some("pendingAcceptance"));
        b.endpoint_id = "vpce-2".into();
        let planned = decide_all(
            &config(NonAllowlistedPolicy::Reject, false),
            &tenants(),
            &[a, dup, b],
            &HashMap::new(),
        );
        let got: Vec<_> = planned
            .iter()
            .map(|p| (p.connection.endpoint_id.as_str(), p.decision))
            .collect();
        assert_eq!(
            got,
            [("vpce-1", Decision::Accept), ("vpce-2", Decision::Reject)]
        );
    }

    #[test]
    fn plan_counts_the_quota_across_listed_known_and_planned_endpoints() {
        let at = |id: &str, state: &str| Connection {
            endpoint_id: id.into(),
            owner: Some(QUOTA1.into()),
            state: Some(EndpointState::from_wire(state)),
            region: None,
        };
        let config = config(NonAllowlistedPolicy::Reject, false);
        // Two requests, quota 1: the first is accepted, the second is over.
        let planned = decide_all(
            &config,
            &tenants(),
            &[
                at("vpce-1", "pendingAcceptance"),
                at("vpce-2", "pendingAcceptance"),
            ],
            &HashMap::new(),
        );
        let got: Vec<_> = planned.iter().map(|p| (p.decision, p.reason)).collect();
        assert_eq!(
            got,
            [
                (Decision::Accept, Reason::EntitledTenant),
                (Decision::Reject, Reason::OverQuota)
            ]
        );
        // A live endpoint in the listing counts.
        let planned = decide_all(
            &config,
            &tenants(),
            &[at("vpce-1", "available"), at("vpce-2", "pendingAcceptance")],
            &HashMap::new(),
        );
        assert_eq!(planned[1].reason, Reason::OverQuota);
        // So does one known from a narrower listing.
        let planned = decide_all(
            &config,
            &tenants(),
            &[at("vpce-2", "pendingAcceptance")],
            &HashMap::from([(QUOTA1.to_string(), 1)]),
        );
        assert_eq!(planned[0].reason, Reason::OverQuota);
    }
}

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
}

impl Connection {
    /// Reads an SDK connection; `None` when it has no endpoint id (nothing
    /// could be done with it anyway).
    pub fn from_sdk(c: &aws_sdk_ec2::types::VpcEndpointConnection) -> Option<Connection> {
        Some(Connection {
            endpoint_id: c.vpc_endpoint_id()?.to_string(),
            owner: c.vpc_endpoint_owner().map(str::to_string),
            state: c.vpc_endpoint_state().map(EndpointState::from_sdk),
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

/// The refusal for an owner who is not entitled, `None` when entitled.
fn refusal(standing: Standing) -> Option<Reason> {
    match standing {
        Standing::NotATenant => Some(Reason::NotATenant),
        Standing::Suspended => Some(Reason::TenantSuspended),
        Standing::Expired => Some(Reason::TenantExpired),
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
    let by_policy = |reason| match config.non_allowlisted {
        NonAllowlistedPolicy::Reject => (Decision::Reject, reason),
        NonAllowlistedPolicy::LeavePending => (Decision::Leave, reason),
    };
    match state {
        EndpointState::PendingAcceptance => match (refusal(standing), standing) {
            (Some(reason), _) => by_policy(reason),
            (
                None,
                Standing::Entitled {
                    max_endpoints: Some(max),
                },
            ) if live >= max as usize => by_policy(Reason::OverQuota),
            (None, _) => (Decision::Accept, Reason::EntitledTenant),
        },
        EndpointState::Pending | EndpointState::Available => match refusal(standing) {
            None => (Decision::Leave, Reason::AlreadyAccepted),
            Some(reason) if config.revoke => (Decision::Reject, reason),
            Some(_) => (Decision::Leave, Reason::NotEntitledRevocationOff),
        },
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
    const OTHER: &str = "999999999999";
    const NOW: i64 = 1_800_000_000;

    fn config(policy: NonAllowlistedPolicy, revoke: bool) -> ApproverConfig {
        ApproverConfig {
            service_id: "vpce-svc-0123456789abcdef0".into(),
            table: "acme-tenants".into(),
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
            ],
            NOW,
        )
    }

    fn conn(owner: Option<&str>, state: Option<&str>) -> Connection {
        Connection {
            endpoint_id: "vpce-0a".into(),
            owner: owner.map(str::to_string),
            state: state.map(EndpointState::from_wire),
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
        );
        #[rustfmt::skip]
        let table: &[Row] = &[
            // owner           state                   live policy revoke  decision reason
            (Some(ACTIVE),    Some("pendingAcceptance"), 0, RJ, false, Accept, EntitledTenant),
            (Some(ACTIVE),    Some("PENDINGACCEPTANCE"), 9, RJ, false, Accept, EntitledTenant),
            (Some(ACTIVE),    Some("PendingAcceptance"), 0, LP, true,  Accept, EntitledTenant),
            (Some(QUOTA1),    Some("pendingAcceptance"), 0, RJ, false, Accept, EntitledTenant),
            (Some(QUOTA1),    Some("pendingAcceptance"), 1, RJ, false, Reject, OverQuota),
            (Some(QUOTA1),    Some("pendingAcceptance"), 2, LP, false, Leave,  OverQuota),
            (Some(OTHER),     Some("pendingAcceptance"), 0, RJ, false, Reject, NotATenant),
            (Some(OTHER),     Some("pendingacceptance"), 0, LP, false, Leave,  NotATenant),
            (Some(SUSPENDED), Some("pendingAcceptance"), 0, RJ, false, Reject, TenantSuspended),
            (Some(SUSPENDED), Some("pendingAcceptance"), 0, LP, true,  Leave,  TenantSuspended),
            (Some(EXPIRED),   Some("pendingAcceptance"), 0, RJ, false, Reject, TenantExpired),
            (Some(EXPIRED),   Some("pendingAcceptance"), 0, LP, false, Leave,  TenantExpired),
            (Some(ACTIVE),    Some("available"),         0, RJ, true,  Leave,  AlreadyAccepted),
            (Some(ACTIVE),    Some("Pending"),           0, RJ, true,  Leave,  AlreadyAccepted),
            // A quota never revokes what is already live.
            (Some(QUOTA1),    Some("available"),         5, RJ, true,  Leave,  AlreadyAccepted),
            (Some(OTHER),     Some("available"),         0, RJ, false, Leave,  NotEntitledRevocationOff),
            (Some(OTHER),     Some("AVAILABLE"),         0, RJ, true,  Reject, NotATenant),
            (Some(SUSPENDED), Some("available"),         0, LP, true,  Reject, TenantSuspended),
            (Some(SUSPENDED), Some("available"),         0, LP, false, Leave,  NotEntitledRevocationOff),
            (Some(EXPIRED),   Some("pending"),           0, RJ, true,  Reject, TenantExpired),
            (Some(OTHER),     Some("pending"),           0, RJ, false, Leave,  NotEntitledRevocationOff),
            (Some(ACTIVE),    Some("rejected"),          0, RJ, true,  Leave,  FinalState),
            (Some(OTHER),     Some("rejected"),          0, RJ, true,  Leave,  FinalState),
            (Some(OTHER),     Some("deleted"),           0, RJ, true,  Leave,  FinalState),
            (Some(ACTIVE),    Some("failed"),            0, RJ, true,  Leave,  FinalState),
            (Some(ACTIVE),    Some("expired"),           0, RJ, true,  Leave,  FinalState),
            (Some(OTHER),     Some("deleting"),          0, RJ, true,  Leave,  InTransition),
            (Some(ACTIVE),    Some("partial"),           0, RJ, true,  Leave,  InTransition),
            (Some(ACTIVE),    Some("hibernating"),       0, RJ, true,  Leave,  UnknownState),
            (Some(ACTIVE),    Some(""),                  0, RJ, true,  Leave,  UnknownState),
            (None,            Some("pendingAcceptance"), 0, RJ, true,  Leave,  IncompleteConnection),
            (Some(ACTIVE),    None,                      0, RJ, true,  Leave,  IncompleteConnection),
            // Near-misses of a tenant's id are other owners.
            (Some(" 111111111111"), Some("pendingAcceptance"), 0, RJ, false, Reject, NotATenant),
            (Some("11111111111"),   Some("pendingAcceptance"), 0, LP, false, Leave,  NotATenant),
        ];
        let tenants = tenants();
        for (owner, state, live, policy, revoke, decision, reason) in table {
            let got = decide(
                &config(*policy, *revoke),
                &tenants,
                &conn(*owner, *state),
                *live,
            );
            assert_eq!(
                got,
                (*decision, *reason),
                "owner {owner:?} state {state:?} live {live} policy {policy:?} revoke {revoke}"
            );
        }
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

//! The decision rule, pure: one connection's real owner and state, plus the
//! configuration, give one [`Decision`] and the [`Reason`] for it. This is
//! the security boundary of the product; nothing else decides.

use crate::state::EndpointState;

use super::config::{ApproverConfig, NonAllowlistedPolicy};

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

/// Why, as a stable snake_case code for logs and queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// pendingAcceptance, owner on the allowlist.
    AllowlistedRequest,
    /// pendingAcceptance, owner not on the allowlist, policy `reject`.
    NotAllowlistedRejectPolicy,
    /// pendingAcceptance, owner not on the allowlist, policy `leave-pending`.
    NotAllowlistedLeavePendingPolicy,
    /// pending/available, owner no longer on the allowlist, revocation on.
    Revoked,
    /// pending/available, owner not on the allowlist, revocation off.
    NotAllowlistedRevocationOff,
    /// pending/available, owner on the allowlist: accepted before (possibly
    /// by this approver a moment ago).
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
            Reason::AllowlistedRequest => "allowlisted_request",
            Reason::NotAllowlistedRejectPolicy => "not_allowlisted_reject_policy",
            Reason::NotAllowlistedLeavePendingPolicy => "not_allowlisted_leave_pending_policy",
            Reason::Revoked => "revoked",
            Reason::NotAllowlistedRevocationOff => "not_allowlisted_revocation_off",
            Reason::AlreadyAccepted => "already_accepted",
            Reason::FinalState => "final_state",
            Reason::InTransition => "in_transition",
            Reason::UnknownState => "unknown_state",
            Reason::IncompleteConnection => "incomplete_connection",
            Reason::ManualOverride => "manual_override",
            Reason::ServiceDeleted => "service_deleted",
        }
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

/// Decides one connection from its real owner and state.
pub fn decide(config: &ApproverConfig, connection: &Connection) -> (Decision, Reason) {
    let (Some(owner), Some(state)) = (&connection.owner, &connection.state) else {
        return (Decision::Leave, Reason::IncompleteConnection);
    };
    let allowlisted = config.allowlist.contains(owner);
    match state {
        EndpointState::PendingAcceptance if allowlisted => {
            (Decision::Accept, Reason::AllowlistedRequest)
        }
        EndpointState::PendingAcceptance => match config.non_allowlisted {
            NonAllowlistedPolicy::Reject => (Decision::Reject, Reason::NotAllowlistedRejectPolicy),
            NonAllowlistedPolicy::LeavePending => {
                (Decision::Leave, Reason::NotAllowlistedLeavePendingPolicy)
            }
        },
        EndpointState::Pending | EndpointState::Available if allowlisted => {
            (Decision::Leave, Reason::AlreadyAccepted)
        }
        EndpointState::Pending | EndpointState::Available if config.revoke => {
            (Decision::Reject, Reason::Revoked)
        }
        EndpointState::Pending | EndpointState::Available => {
            (Decision::Leave, Reason::NotAllowlistedRevocationOff)
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

/// Decides every connection of `config.service_id`, once per endpoint id
/// (the first listing of an id wins; AWS lists each once, this only guards
/// against overlapping pages).
pub fn plan(config: &ApproverConfig, connections: &[Connection]) -> Vec<Planned> {
    let mut seen = std::collections::HashSet::new();
    connections
        .iter()
        .filter(|c| seen.insert(c.endpoint_id.as_str()))
        .map(|c| {
            let (decision, reason) = decide(config, c);
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
    use crate::approval::allowlist::Allowlist;

    const ALLOWED: &str = "111111111111";
    const OTHER: &str = "999999999999";

    fn config(policy: NonAllowlistedPolicy, revoke: bool) -> ApproverConfig {
        ApproverConfig {
            service_id: "vpce-svc-0123456789abcdef0".into(),
            allowlist: Allowlist::parse(ALLOWED).expect("valid"),
            non_allowlisted: policy,
            revoke,
            dry_run: false,
        }
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
            NonAllowlistedPolicy,
            bool,
            Decision,
            Reason,
        );
        #[rustfmt::skip]
        let table: &[Row] = &[
            // owner         state                    policy revoke  decision reason
            (Some(ALLOWED), Some("pendingAcceptance"), RJ, false, Accept, AllowlistedRequest),
            (Some(ALLOWED), Some("PENDINGACCEPTANCE"), RJ, false, Accept, AllowlistedRequest),
            (Some(ALLOWED), Some("PendingAcceptance"), LP, true,  Accept, AllowlistedRequest),
            (Some(OTHER),   Some("pendingAcceptance"), RJ, false, Reject, NotAllowlistedRejectPolicy),
            (Some(OTHER),   Some("pendingacceptance"), LP, false, Leave,  NotAllowlistedLeavePendingPolicy),
            (Some(OTHER),   Some("pendingAcceptance"), LP, true,  Leave,  NotAllowlistedLeavePendingPolicy),
            (Some(ALLOWED), Some("available"),         RJ, true,  Leave,  AlreadyAccepted),
            (Some(ALLOWED), Some("Pending"),           RJ, true,  Leave,  AlreadyAccepted),
            (Some(OTHER),   Some("available"),         RJ, false, Leave,  NotAllowlistedRevocationOff),
            (Some(OTHER),   Some("AVAILABLE"),         RJ, true,  Reject, Revoked),
            (Some(OTHER),   Some("pending"),           LP, true,  Reject, Revoked),
            (Some(OTHER),   Some("pending"),           RJ, false, Leave,  NotAllowlistedRevocationOff),
            (Some(ALLOWED), Some("rejected"),          RJ, true,  Leave,  FinalState),
            (Some(OTHER),   Some("rejected"),          RJ, true,  Leave,  FinalState),
            (Some(OTHER),   Some("deleted"),           RJ, true,  Leave,  FinalState),
            (Some(ALLOWED), Some("failed"),            RJ, true,  Leave,  FinalState),
            (Some(ALLOWED), Some("expired"),           RJ, true,  Leave,  FinalState),
            (Some(OTHER),   Some("deleting"),          RJ, true,  Leave,  InTransition),
            (Some(ALLOWED), Some("partial"),           RJ, true,  Leave,  InTransition),
            (Some(ALLOWED), Some("hibernating"),       RJ, true,  Leave,  UnknownState),
            (Some(ALLOWED), Some(""),                  RJ, true,  Leave,  UnknownState),
            (None,          Some("pendingAcceptance"), RJ, true,  Leave,  IncompleteConnection),
            (Some(ALLOWED), None,                      RJ, true,  Leave,  IncompleteConnection),
            // Near-misses of an allowlisted id are other owners.
            (Some(" 111111111111"), Some("pendingAcceptance"), RJ, false, Reject, NotAllowlistedRejectPolicy),
            (Some("11111111111"),   Some("pendingAcceptance"), LP, false, Leave,  NotAllowlistedLeavePendingPolicy),
        ];
        for (owner, state, policy, revoke, decision, reason) in table {
            let got = decide(&config(*policy, *revoke), &conn(*owner, *state));
            assert_eq!(
                got,
                (*decision, *reason),
                "owner {owner:?} state {state:?} policy {policy:?} revoke {revoke}"
            );
        }
    }

    #[test]
    fn reasons_serialize_as_their_stable_codes() {
        use Reason::*;
        for reason in [
            AllowlistedRequest,
            NotAllowlistedRejectPolicy,
            NotAllowlistedLeavePendingPolicy,
            Revoked,
            NotAllowlistedRevocationOff,
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
        let mut a = conn(Some(ALLOWED), Some("pendingAcceptance"));
        a.endpoint_id = "vpce-1".into();
        let mut dup = conn(Some(OTHER), Some("pendingAcceptance"));
        dup.endpoint_id = "vpce-1".into();
        let mut b = conn(Some(OTHER), Some("pendingAcceptance"));
        b.endpoint_id = "vpce-2".into();
        let planned = plan(&config(NonAllowlistedPolicy::Reject, false), &[a, dup, b]);
        let got: Vec<_> = planned
            .iter()
            .map(|p| (p.connection.endpoint_id.as_str(), p.decision))
            .collect();
        assert_eq!(
            got,
            [("vpce-1", Decision::Accept), ("vpce-2", Decision::Reject)]
        );
    }
}

//! The operator's manual override: accept or reject named endpoints.
//!
//! [`plan`] is pure: it checks every requested id against the service's real
//! connections (unknown ids, ids of another service of the account, states
//! that cannot take the action) and makes one [`DecisionRecord`] per
//! actionable id, the same record the Lambda writes, with trigger `manual`
//! and the operator's identity. The reason is the approver rule's own
//! ([`decide`]) when the operator does what the rule would do, and
//! `manual_override` when not. [`execute`] then sends them through the
//! approval path's [`apply_decided`] (the approver's own batches, so
//! `Unsuccessful` items are read per item, and the decision history written
//! on the connections), the same path `down --force` rejects through.

use std::collections::{HashMap, HashSet};
use std::fmt;

use aws_sdk_ec2::Client;

use super::error::OperatorError;
use crate::approval::reconcile::apply_decided;
use crate::approval::record::Outcome;
use crate::approval::{
    decide, ApproverConfig, Decision, DecisionRecord, Listed, Planned, Reason, Tenants, Trigger,
};
use crate::state::EndpointState;

/// What the operator asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Accept,
    Reject,
}

impl Action {
    pub fn decision(self) -> Decision {
        match self {
            Action::Accept => Decision::Accept,
            Action::Reject => Decision::Reject,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Action::Accept => "accepted",
            Action::Reject => "rejected",
        }
    }

    /// AWS's rule: only a request can be accepted; a request or an accepted
    /// connection can be rejected.
    fn possible_from(self, state: &EndpointState) -> bool {
        match self {
            Action::Accept => *state == EndpointState::PendingAcceptance,
            Action::Reject => state.is_live(),
        }
    }

    /// States that already are the result of the action: asking again is a
    /// no-op, not an error, so a re-run converges.
    fn already_done(self, state: &EndpointState) -> bool {
        match self {
            Action::Accept => matches!(state, EndpointState::Pending | EndpointState::Available),
            Action::Reject => *state == EndpointState::Rejected,
        }
    }
}

/// Why one requested id was not acted on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum IdProblem {
    /// Not an endpoint id at all.
    Malformed { endpoint_id: String },
    /// No connection of any service of this account has it.
    Unknown { endpoint_id: String },
    /// A connection of another endpoint service of this account.
    OtherService {
        endpoint_id: String,
        service_id: String,
    },
    /// In a state the action cannot start from.
    WrongState {
        endpoint_id: String,
        state: EndpointState,
    },
}

impl fmt::Display for IdProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdProblem::Malformed { endpoint_id } => write!(
                f,
                "{endpoint_id:?} is not a VPC endpoint id: write it like vpce-0123456789abcdef0"
            ),
            IdProblem::Unknown { endpoint_id } => write!(
                f,
                "{endpoint_id}: no connection with this endpoint id in this account and region"
            ),
            IdProblem::OtherService {
                endpoint_id,
                service_id,
            } => write!(
                f,
                "{endpoint_id}: connects to endpoint service {service_id}, not this one; nothing done"
            ),
            IdProblem::WrongState { endpoint_id, state } => write!(
                f,
                "{endpoint_id}: is {} and cannot be changed from that state",
                state.as_wire()
            ),
        }
    }
}

/// An id already in the asked-for state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlreadyDone {
    pub endpoint_id: String,
    pub state: EndpointState,
}

/// What an override will do, before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OverridePlan {
    pub action: Action,
    pub service_id: String,
    pub operator: String,
    pub records: Vec<DecisionRecord>,
    pub already_done: Vec<AlreadyDone>,
    pub problems: Vec<IdProblem>,
}

impl OverridePlan {
    /// Accepts of owners the registry does not entitle (or over their
    /// quota): the operator must confirm these (endpoint id, owner).
    pub fn needs_confirmation(&self) -> Vec<(&str, &str)> {
        self.records
            .iter()
            .filter(|r| r.decision == Decision::Accept && r.reason == Reason::ManualOverride)
            .map(|r| {
                (
                    r.endpoint_id.as_str(),
                    r.owner_account.as_deref().unwrap_or("unknown owner"),
                )
            })
            .collect()
    }
}

/// True for `vpce-` followed by lowercase hex.
fn is_endpoint_id(raw: &str) -> bool {
    raw.strip_prefix("vpce-").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The approver's rule as an override needs it: its configuration and the
/// owners' tenants, read from the registry.
#[derive(Debug, Clone, Copy)]
pub struct Rule<'a> {
    pub config: &'a ApproverConfig,
    pub tenants: &'a Tenants,
}

/// Resolves the override (pure): what each requested id is and what the
/// override does to it. `listed` is the service's connections; `elsewhere`
/// maps endpoint ids of the account's other services to their
/// service; `rule` is the approver's configuration and the owners' tenants
/// when both could be read (without them every accept counts as an
/// override of the rule).
pub fn resolve(
    action: Action,
    service_id: &str,
    requested: &[String],
    listed: &[Listed],
    elsewhere: &HashMap<String, String>,
    rule: Option<Rule<'_>>,
    operator: &str,
) -> OverridePlan {
    let mut result = OverridePlan {
        action,
        service_id: service_id.to_string(),
        operator: operator.to_string(),
        records: Vec::new(),
        already_done: Vec::new(),
        problems: Vec::new(),
    };
    // Each owner's live endpoints, for a quota; accepts planned here count
    // against it for the requests after them, as in the approver's plan.
    let mut live: HashMap<&str, usize> = HashMap::new();
    for l in listed {
        if let (Some(owner), Some(EndpointState::Pending | EndpointState::Available)) =
            (&l.connection.owner, &l.connection.state)
        {
            *live.entry(owner.as_str()).or_default() += 1;
        }
    }
    let mut seen = HashSet::new();
    for id in requested {
        if !seen.insert(id.as_str()) {
            continue;
        }
        if !is_endpoint_id(id) {
            result.problems.push(IdProblem::Malformed {
                endpoint_id: id.clone(),
            });
            continue;
        }
        let Some(found) = listed.iter().find(|l| l.connection.endpoint_id == *id) else {
            result.problems.push(match elsewhere.get(id) {
                Some(other) => IdProblem::OtherService {
                    endpoint_id: id.clone(),
                    service_id: other.clone(),
                },
                None => IdProblem::Unknown {
                    endpoint_id: id.clone(),
                },
            });
            continue;
        };
        let connection = &found.connection;
        let state = connection
            .state
            .clone()
            .unwrap_or_else(|| EndpointState::Other("unknown".into()));
        if action.already_done(&state) {
            result.already_done.push(AlreadyDone {
                endpoint_id: id.clone(),
                state,
            });
            continue;
        }
        if !action.possible_from(&state) || connection.owner.is_none() {
            result.problems.push(IdProblem::WrongState {
                endpoint_id: id.clone(),
                state,
            });
            continue;
        }
        // The rule's own reason when the operator agrees with it.
        let owner = connection.owner.as_deref().unwrap_or_default();
        let count = live.get(owner).copied().unwrap_or(0);
        let reason = match rule.map(|r| decide(r.config, r.tenants, connection, count)) {
            Some((decision, reason)) if decision == action.decision() => reason,
            _ => Reason::ManualOverride,
        };
        if action == Action::Accept {
            *live.entry(owner).or_default() += 1;
        }
        let planned = Planned {
            connection: connection.clone(),
            decision: action.decision(),
            reason,
        };
        let mut record = DecisionRecord::new(service_id, &planned, &Trigger::Manual, false);
        record.operator = Some(operator.to_string());
        result.records.push(record);
    }
    result
}

/// Endpoint id → service id of every connection of the account's endpoint
/// services, to tell "another service's endpoint" from "unknown".
pub async fn connections_elsewhere(ec2: &Client) -> Result<HashMap<String, String>, OperatorError> {
    let mut pages = ec2
        .describe_vpc_endpoint_connections()
        .max_results(crate::approval::reconcile::PAGE_SIZE)
        .into_paginator()
        .send();
    let mut found = HashMap::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            OperatorError::aws(
                "DescribeVpcEndpointConnections",
                "all services of the account",
                &e,
            )
        })?;
        for c in page.vpc_endpoint_connections() {
            if let (Some(endpoint), Some(service)) = (c.vpc_endpoint_id(), c.service_id()) {
                found.insert(endpoint.to_string(), service.to_string());
            }
        }
    }
    Ok(found)
}

/// What an override did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OverrideReport {
    pub action: Action,
    pub service_id: String,
    pub operator: String,
    pub records: Vec<DecisionRecord>,
    pub already_done: Vec<AlreadyDone>,
    pub problems: Vec<IdProblem>,
    /// The call that stopped the batch, if one did.
    pub error: Option<String>,
}

impl OverrideReport {
    /// Ids that failed: per-id problems plus records AWS did not take.
    pub fn failures(&self) -> usize {
        self.problems.len()
            + self
                .records
                .iter()
                .filter(|r| !matches!(r.outcome, Outcome::Applied))
                .count()
    }
}

/// Sends the planned decisions and records them on the connections.
pub async fn execute(ec2: &Client, plan: OverridePlan, listed: &[Listed]) -> OverrideReport {
    let mut records = plan.records;
    let error = apply_decided(ec2, &plan.service_id, Trigger::Manual, &mut records, listed)
        .await
        .err()
        .map(|e| e.to_string());
    OverrideReport {
        action: plan.action,
        service_id: plan.service_id,
        operator: plan.operator,
        records,
        already_done: plan.already_done,
        problems: plan.problems,
        error,
    }
}

impl fmt::Display for OverrideReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = self.action.verb();
        for r in &self.records {
            let owner = r.owner_account.as_deref().unwrap_or("?");
            match &r.outcome {
                Outcome::Applied => writeln!(
                    f,
                    "{}: {verb} (owner {owner}, reason {})",
                    r.endpoint_id,
                    r.reason.as_str()
                )?,
                Outcome::Failed { code, message } => {
                    writeln!(f, "{}: not {verb}: {code}: {message}", r.endpoint_id)?
                }
                other => writeln!(f, "{}: not {verb} ({})", r.endpoint_id, other.status())?,
            }
        }
        for done in &self.already_done {
            writeln!(
                f,
                "{}: already {} ({}); nothing to do",
                done.endpoint_id,
                verb,
                done.state.as_wire()
            )?;
        }
        for problem in &self.problems {
            writeln!(f, "{problem}")?;
        }
        if let Some(error) = &self.error {
            writeln!(f, "stopped: {error}")?;
        }
        let failures = self.failures();
        let done = self.records.len() + self.already_done.len() - (failures - self.problems.len());
        write!(
            f,
            "{done} done, {failures} failed (service {}, as {})",
            self.service_id, self.operator
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::{AccountId, Connection, NonAllowlistedPolicy, Tenant};

    const ALLOWED: &str = "111111111111";
    const OTHER: &str = "999999999999";

    fn listed(id: &str, owner: &str, state: &str) -> Listed {
        Listed {
            connection: Connection {
                endpoint_id: id.into(),
                owner: Some(owner.into()),
                state: Some(EndpointState::from_wire(state)),
                region: Some("us-east-1".into()),
            },
            connection_id: None,
            created: None,
            last: None,
        }
    }

    fn config() -> ApproverConfig {
        ApproverConfig {
            service_id: "vpce-svc-1".into(),
            table: "ops-tenants".into(),
            table_region: None,
            non_allowlisted: NonAllowlistedPolicy::Reject,
            revoke: false,
            dry_run: false,
        }
    }

    fn tenants(max_endpoints: Option<u32>) -> Tenants {
        let acme = Tenant {
            max_endpoints,
            ..Tenant::active(AccountId::parse(ALLOWED).expect("valid"), "Acme")
        };
        Tenants::new([acme], 1_800_000_000)
    }

    fn rule<'a>(config: &'a ApproverConfig, tenants: &'a Tenants) -> Option<Rule<'a>> {
        Some(Rule { config, tenants })
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_id_gets_a_record_or_a_reason() {
        let all = [
            listed("vpce-a1", ALLOWED, "pendingAcceptance"),
            listed("vpce-b2", OTHER, "PendingAcceptance"),
            listed("vpce-c3", ALLOWED, "available"),
            listed("vpce-d4", OTHER, "rejected"),
        ];
        let elsewhere = HashMap::from([("vpce-e5".to_string(), "vpce-svc-2".to_string())]);
        let p = resolve(
            Action::Accept,
            "vpce-svc-1",
            &ids(&[
                "vpce-a1", "vpce-b2", "vpce-c3", "vpce-d4", "vpce-e5", "vpce-f6", "svc", "vpce-a1",
            ]),
            &all,
            &elsewhere,
            rule(&config(), &tenants(None)),
            "arn:aws:iam::123456789012:user/ops",
        );
        let decided: Vec<_> = p
            .records
            .iter()
            .map(|r| (r.endpoint_id.as_str(), r.reason, r.trigger.clone()))
            .collect();
        assert_eq!(
            decided,
            [
                ("vpce-a1", Reason::EntitledTenant, Trigger::Manual),
                ("vpce-b2", Reason::ManualOverride, Trigger::Manual),
            ]
        );
        assert!(p.records.iter().all(|r| r.operator.as_deref()
            == Some("arn:aws:iam::123456789012:user/ops")
            && r.outcome == Outcome::NotAttempted));
        assert_eq!(p.needs_confirmation(), [("vpce-b2", OTHER)]);
        assert_eq!(p.already_done.len(), 1);
        let problems: Vec<String> = p.problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains("vpce-d4: is rejected and cannot be changed"));
        assert!(problems[1].contains("connects to endpoint service vpce-svc-2"));
        assert!(problems[2].contains("vpce-f6: no connection"));
        assert!(problems[3].contains("\"svc\" is not a VPC endpoint id"));
    }

    #[test]
    fn reject_takes_live_connections_and_keeps_the_rules_reason() {
        let mut revoking = config();
        revoking.revoke = true;
        let all = [
            listed("vpce-a1", OTHER, "available"),
            listed("vpce-b2", ALLOWED, "pending"),
            listed("vpce-c3", OTHER, "rejected"),
            listed("vpce-d4", OTHER, "deleted"),
        ];
        let p = resolve(
            Action::Reject,
            "vpce-svc-1",
            &ids(&["vpce-a1", "vpce-b2", "vpce-c3", "vpce-d4"]),
            &all,
            &HashMap::new(),
            rule(&revoking, &tenants(None)),
            "me",
        );
        let reasons: Vec<_> = p
            .records
            .iter()
            .map(|r| (r.endpoint_id.as_str(), r.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                ("vpce-a1", Reason::NotATenant),
                ("vpce-b2", Reason::ManualOverride)
            ]
        );
        assert!(p.needs_confirmation().is_empty());
        assert_eq!(p.already_done[0].endpoint_id, "vpce-c3");
        assert_eq!(p.problems.len(), 1);
    }

    #[test]
    fn an_accept_over_the_quota_is_an_override() {
        let all = [
            listed("vpce-a1", ALLOWED, "available"),
            listed("vpce-b2", ALLOWED, "pendingAcceptance"),
            listed("vpce-c3", ALLOWED, "pendingAcceptance"),
        ];
        let within = resolve(
            Action::Accept,
            "vpce-svc-1",
            &ids(&["vpce-b2", "vpce-c3"]),
            &all,
            &HashMap::new(),
            rule(&config(), &tenants(Some(2))),
            "me",
        );
        let reasons: Vec<_> = within.records.iter().map(|r| r.reason).collect();
        // The first accept fills the quota of 2; the second goes over it.
        assert_eq!(reasons, [Reason::EntitledTenant, Reason::ManualOverride]);
        assert_eq!(within.needs_confirmation(), [("vpce-c3", ALLOWED)]);
    }

    #[test]
    fn without_the_approver_every_accept_is_an_override() {
        let all = [listed("vpce-a1", ALLOWED, "pendingAcceptance")];
        let p = resolve(
            Action::Accept,
            "vpce-svc-1",
            &ids(&["vpce-a1"]),
            &all,
            &HashMap::new(),
            None,
            "me",
        );
        assert_eq!(p.records[0].reason, Reason::ManualOverride);
        assert_eq!(p.needs_confirmation().len(), 1);
    }
}

//! What a reconcile did, in two shapes from the same types: one
//! [`DecisionRecord`] per connection (a JSON log line each, the audit trail),
//! and a [`Report`] for the whole run (a CLI's output, a test's assertions).

use std::fmt;

use crate::state::EndpointState;

use super::decide::{Decision, Planned, Reason};

/// What started a reconcile.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// SNS notifications, by message id: one reconcile serves every record
    /// of one Lambda event, so all their ids are kept
    /// (`{"sns": ["id", ...]}`).
    Sns(Vec<String>),
    /// The scheduled sweep (`"sweep"`).
    Sweep,
    /// An operator (`"manual"`).
    Manual,
    /// `endpoint-service down --force` rejecting the live connections of
    /// the service it is about to delete (`"forced_down"`).
    ForcedDown,
    /// A `tenants` command, after its write to the registry, deciding again
    /// on the changed tenant's connections (`"registry"`).
    Registry,
}

impl Trigger {
    /// `sns`, `sweep`, `manual`, `forced_down` or `registry`.
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Sns(_) => "sns",
            Trigger::Sweep => "sweep",
            Trigger::Manual => "manual",
            Trigger::ForcedDown => "forced_down",
            Trigger::Registry => "registry",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Sns(ids) => write!(f, "sns:{}", ids.join(",")),
            other => f.write_str(other.kind()),
        }
    }
}

/// What became of one decision.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// AWS took the Accept/Reject for this endpoint (it was not listed as
    /// unsuccessful).
    Applied,
    /// AWS refused it: the item's `Unsuccessful` entry, or the whole call's
    /// error.
    Failed { code: String, message: String },
    /// Dry run: the call that would have been made was not.
    SkippedDryRun,
    /// An earlier call of this run failed, so this one was not made.
    NotAttempted,
    /// A `leave` decision: there was nothing to call.
    NothingToDo,
}

impl Outcome {
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Failed { .. } => "failed",
            Outcome::SkippedDryRun => "skipped_dry_run",
            Outcome::NotAttempted => "not_attempted",
            Outcome::NothingToDo => "nothing_to_do",
        }
    }
}

/// One decision about one connection, as logged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DecisionRecord {
    pub service_id: String,
    pub endpoint_id: String,
    pub owner_account: Option<String>,
    /// The consumer's region (see [`Connection::region`]).
    ///
    /// [`Connection::region`]: super::decide::Connection::region
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_region: Option<String>,
    pub state_before: Option<EndpointState>,
    pub decision: Decision,
    pub reason: Reason,
    pub trigger: Trigger,
    pub dry_run: bool,
    pub outcome: Outcome,
    /// Who decided, for [`Trigger::Manual`] and [`Trigger::ForcedDown`]: the
    /// caller's ARN from STS `GetCallerIdentity`. Absent (and not
    /// serialized) otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

impl DecisionRecord {
    pub fn new(service_id: &str, planned: &Planned, trigger: &Trigger, dry_run: bool) -> Self {
        DecisionRecord {
            service_id: service_id.to_string(),
            endpoint_id: planned.connection.endpoint_id.clone(),
            owner_account: planned.connection.owner.clone(),
            consumer_region: planned.connection.region.clone(),
            state_before: planned.connection.state.clone(),
            decision: planned.decision,
            reason: planned.reason,
            trigger: trigger.clone(),
            dry_run,
            outcome: match planned.decision {
                Decision::Leave => Outcome::NothingToDo,
                _ if dry_run => Outcome::SkippedDryRun,
                // Replaced once the call's answer is read.
                _ => Outcome::NotAttempted,
            },
            operator: None,
        }
    }

    /// Writes this record as one `tracing` event with flat fields (which the
    /// JSON formatter turns into one JSON object per line), plus the whole
    /// record as JSON in `record`.
    pub fn emit(&self) {
        let (error_code, error_message) = match &self.outcome {
            Outcome::Failed { code, message } => (Some(code.as_str()), Some(message.as_str())),
            _ => (None, None),
        };
        let message_ids = match &self.trigger {
            Trigger::Sns(ids) => Some(ids.join(",")),
            _ => None,
        };
        let record = serde_json::to_string(self).unwrap_or_default();
        let state_before = self.state_before.as_ref().map(EndpointState::as_wire);
        macro_rules! event {
            ($level:ident) => {
                tracing::$level!(
                    target: "approval::decision",
                    service_id = %self.service_id,
                    endpoint_id = %self.endpoint_id,
                    owner_account = self.owner_account.as_deref(),
                    consumer_region = self.consumer_region.as_deref(),
                    state_before,
                    decision = self.decision.as_str(),
                    reason = self.reason.as_str(),
                    trigger = self.trigger.kind(),
                    sns_message_ids = message_ids.as_deref(),
                    operator = self.operator.as_deref(),
                    dry_run = self.dry_run,
                    outcome = self.outcome.status(),
                    error_code,
                    error_message,
                    record = %record,
                    "decision"
                )
            };
        }
        match self.outcome {
            Outcome::Failed { .. } | Outcome::NotAttempted => event!(warn),
            _ => event!(info),
        }
    }
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub service_id: String,
    pub trigger: Trigger,
    pub dry_run: bool,
    /// `DescribeVpcEndpointConnections` pages read.
    pub describe_pages: u32,
    /// Calls to the tenant registry (`BatchGetItem`).
    pub registry_calls: u32,
    pub accept_calls: u32,
    pub reject_calls: u32,
    /// The hinted endpoint, when the trigger named one, and whether the
    /// listing contained it.
    pub hint: Option<Hint>,
    pub records: Vec<DecisionRecord>,
}

/// A hint from a notification, checked against the listing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hint {
    pub endpoint_id: String,
    pub found: bool,
}

impl Report {
    fn ids(&self, decision: Decision, outcome: impl Fn(&Outcome) -> bool) -> Vec<&str> {
        self.records
            .iter()
            .filter(|r| r.decision == decision && outcome(&r.outcome))
            .map(|r| r.endpoint_id.as_str())
            .collect()
    }

    /// Endpoints accepted by this run.
    pub fn accepted(&self) -> Vec<&str> {
        self.ids(Decision::Accept, |o| *o == Outcome::Applied)
    }

    /// Endpoints rejected by this run (policy or revocation).
    pub fn rejected(&self) -> Vec<&str> {
        self.ids(Decision::Reject, |o| *o == Outcome::Applied)
    }

    /// Records whose Accept/Reject failed or was not attempted.
    pub fn failed(&self) -> Vec<&DecisionRecord> {
        self.records
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Failed { .. } | Outcome::NotAttempted))
            .collect()
    }

    /// True when some item failed with a code worth retrying soon
    /// (throttling, server error): the Lambda then asks to be run again.
    pub fn has_transient_failures(&self) -> bool {
        self.records.iter().any(|r| match &r.outcome {
            Outcome::Failed { code, .. } => {
                crate::errors::ErrorKind::from_code(code).is_transient()
            }
            Outcome::NotAttempted => true,
            _ => false,
        })
    }

    /// Mutating calls made (accept + reject).
    pub fn mutating_calls(&self) -> u32 {
        self.accept_calls + self.reject_calls
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} ({}{}): {} connection(s), {} accepted, {} rejected, {} failed",
            self.service_id,
            self.trigger,
            if self.dry_run { ", dry run" } else { "" },
            self.records.len(),
            self.accepted().len(),
            self.rejected().len(),
            self.failed().len()
        )?;
        for r in &self.records {
            writeln!(
                f,
                "  {} owner {} {}: {} ({}) -> {}",
                r.endpoint_id,
                r.owner_account.as_deref().unwrap_or("?"),
                r.state_before.as_ref().map_or("?", EndpointState::as_wire),
                r.decision.as_str(),
                r.reason.as_str(),
                r.outcome.status()
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_is_one_flat_json_object() {
        let record = DecisionRecord {
            service_id: "vpce-svc-1".into(),
            endpoint_id: "vpce-0a".into(),
            owner_account: Some("111111111111".into()),
            consumer_region: Some("eu-west-1".into()),
            state_before: Some(EndpointState::PendingAcceptance),
            decision: Decision::Accept,
            reason: Reason::EntitledTenant,
            trigger: Trigger::Sns(vec!["m-1".into()]),
            dry_run: false,
            outcome: Outcome::Failed {
                code: "InvalidVpcEndpointId.NotFound".into(),
                message: "gone".into(),
            },
            operator: None,
        };
        assert_eq!(
            serde_json::to_value(&record).expect("serializes"),
            json!({
                "service_id": "vpce-svc-1",
                "endpoint_id": "vpce-0a",
                "owner_account": "111111111111",
                "consumer_region": "eu-west-1",
                "state_before": "pendingAcceptance",
                "decision": "accept",
                "reason": "entitled_tenant",
                "trigger": {"sns": ["m-1"]},
                "dry_run": false,
                "outcome": {"status": "failed", "code": "InvalidVpcEndpointId.NotFound", "message": "gone"}
            })
        );
    }

    #[test]
    fn triggers_and_outcomes() {
        assert_eq!(
            serde_json::to_value(Trigger::Sweep).ok(),
            Some(json!("sweep"))
        );
        assert_eq!(
            serde_json::to_value(Trigger::Manual).ok(),
            Some(json!("manual"))
        );
        assert_eq!(
            serde_json::to_value(Outcome::SkippedDryRun).ok(),
            Some(json!({"status": "skipped_dry_run"}))
        );
        assert_eq!(
            serde_json::to_value(Outcome::Applied).ok(),
            Some(json!({"status": "applied"}))
        );
    }
}

//! The decision history: the last decision about each connection, kept as
//! tags on the connection itself (`vpce-con-...`).
//!
//! Why tags: AWS models a connection as an EC2 resource of the service
//! owner (`VpcEndpointConnection` has `VpcEndpointConnectionId` and `Tags`;
//! `vpc-endpoint-connection` is a taggable resource type), so the ordinary
//! `CreateTags` writes there, `DescribeVpcEndpointConnections` (which every
//! reconcile already makes) reads it back for free, the record lives and
//! dies with the connection, and both the Lambda and the CLI can write it
//! with no extra store to provision. Only the *last* decision is kept; the
//! full audit trail stays in the decision log lines ([`super::record`]).
//!
//! Writing is best effort: the Accept/Reject already happened, so a failed
//! `CreateTags` (e.g. a role without `ec2:CreateTags` on
//! `vpc-endpoint-connection`) is logged as a warning and never undoes or
//! fails the decision.

use std::time::SystemTime;

use aws_sdk_ec2::types::Tag;
use aws_sdk_ec2::Client;
use aws_smithy_types::date_time::{DateTime, Format};

use super::decide::Decision;
use super::record::{DecisionRecord, Outcome};
use crate::errors::AwsError;

/// `accept`, `reject` or `leave`.
pub const DECISION_TAG: &str = "privatelink-kit:decision";
/// Every history tag key, for IAM's `aws:TagKeys` condition.
pub const HISTORY_TAGS: [&str; 6] = [
    DECISION_TAG,
    REASON_TAG,
    TRIGGER_TAG,
    AT_TAG,
    BY_TAG,
    REGION_TAG,
];
/// The reason code ([`Reason::as_str`]).
pub const REASON_TAG: &str = "privatelink-kit:reason";
/// `sns`, `sweep` or `manual`.
pub const TRIGGER_TAG: &str = "privatelink-kit:trigger";
/// When, RFC 3339 in UTC.
pub const AT_TAG: &str = "privatelink-kit:decided-at";
/// Who, for manual decisions: the operator's ARN from STS.
pub const BY_TAG: &str = "privatelink-kit:decided-by";
/// The consumer's region (the endpoint's; cross-region PrivateLink).
pub const REGION_TAG: &str = "privatelink-kit:consumer-region";

/// EC2 tag values are at most 256 characters.
const MAX_TAG_VALUE: usize = 256;

/// The last decision recorded on a connection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LastDecision {
    pub decision: String,
    pub reason: String,
    pub trigger: String,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The consumer's region, when it was known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl LastDecision {
    /// Reads the history tags; `None` when the connection has no decision
    /// recorded (at least the decision tag must be there).
    pub fn from_tags(tags: &[Tag]) -> Option<LastDecision> {
        let get = |key: &str| {
            tags.iter()
                .find(|t| t.key() == Some(key))
                .and_then(Tag::value)
                .map(str::to_string)
        };
        Some(LastDecision {
            decision: get(DECISION_TAG)?,
            reason: get(REASON_TAG).unwrap_or_default(),
            trigger: get(TRIGGER_TAG).unwrap_or_default(),
            at: get(AT_TAG).unwrap_or_default(),
            by: get(BY_TAG),
            region: get(REGION_TAG),
        })
    }

    /// True when this is the decision `record` would write (time aside):
    /// writing it again would change nothing worth a mutating call.
    fn same_as(&self, record: &DecisionRecord) -> bool {
        self.decision == record.decision.as_str()
            && self.reason == record.reason.as_str()
            && self.trigger == record.trigger.kind()
            && self.by.as_deref() == record.operator.as_deref()
    }
}

impl std::fmt::Display for LastDecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}) by {}", self.decision, self.reason, self.trigger)?;
        if let Some(by) = &self.by {
            write!(f, " {by}")?;
        }
        if let Some(region) = &self.region {
            write!(f, " from {region}")?;
        }
        if !self.at.is_empty() {
            write!(f, " at {}", self.at)?;
        }
        Ok(())
    }
}

/// True for the records worth remembering: an Accept/Reject AWS took, and
/// the one `leave` that is a decision about a request (left pending for a
/// person). Dry runs change nothing, so they record nothing.
pub fn worth_recording(record: &DecisionRecord) -> bool {
    if record.dry_run {
        return false;
    }
    match record.decision {
        Decision::Accept | Decision::Reject => record.outcome == Outcome::Applied,
        // A request left pending by the policy: the registry refused it.
        Decision::Leave => {
            record.reason.is_refusal()
                && record.state_before == Some(crate::state::EndpointState::PendingAcceptance)
        }
    }
}

/// The tags that record `record`, made at `at`.
pub fn tags_for(record: &DecisionRecord, at: SystemTime) -> Vec<Tag> {
    let at = DateTime::from(at)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| String::from("unknown"));
    let mut pairs = vec![
        (DECISION_TAG, record.decision.as_str().to_string()),
        (REASON_TAG, record.reason.as_str().to_string()),
        (TRIGGER_TAG, record.trigger.kind().to_string()),
        (AT_TAG, at),
    ];
    if let Some(by) = &record.operator {
        pairs.push((BY_TAG, by.clone()));
    }
    if let Some(region) = &record.consumer_region {
        pairs.push((REGION_TAG, region.clone()));
    }
    pairs
        .into_iter()
        .map(|(key, value)| {
            let value: String = value.chars().take(MAX_TAG_VALUE).collect();
            Tag::builder().key(key).value(value).build()
        })
        .collect()
}

/// A connection whose history can be written: its connection id and what
/// is recorded on it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub endpoint_id: String,
    pub connection_id: Option<String>,
    pub last: Option<LastDecision>,
}

/// Connection ids per `CreateTags` call (AWS allows up to 1,000 and
/// recommends smaller batches).
pub const TAG_BATCH: usize = 200;

/// Writes the history tags for every record worth recording whose tags say
/// something else now. Records with the same tags (decision, reason,
/// trigger, operator, consumer region) share `CreateTags` calls, so a sweep that accepts a
/// thousand requests makes a handful of calls, not a thousand. Returns the
/// number of connections tagged; failures are logged (see the module
/// header) and counted out.
pub async fn record(ec2: &Client, known: &[Recorded], records: &[DecisionRecord]) -> usize {
    let now = SystemTime::now();
    // Same tags → one group, in first-seen order.
    let mut groups: Vec<(&DecisionRecord, Vec<&str>)> = Vec::new();
    for record in records.iter().filter(|r| worth_recording(r)) {
        let Some(found) = known.iter().find(|k| k.endpoint_id == record.endpoint_id) else {
            continue;
        };
        let Some(connection_id) = found.connection_id.as_deref() else {
            tracing::debug!(
                endpoint_id = %record.endpoint_id,
                "AWS reported no connection id; decision not recorded on the connection"
            );
            continue;
        };
        // A decision already written is not written again: a re-run on an
        // unchanged account makes no mutating call.
        if record.decision == Decision::Leave
            && found.last.as_ref().is_some_and(|l| l.same_as(record))
        {
            continue;
        }
        let same_tags = |(first, _): &&mut (&DecisionRecord, Vec<&str>)| {
            first.decision == record.decision
                && first.reason == record.reason
                && first.trigger.kind() == record.trigger.kind()
                && first.operator == record.operator
                && first.consumer_region == record.consumer_region
        };
        match groups.iter_mut().find(|g| same_tags(g)) {
            Some((_, ids)) => ids.push(connection_id),
            None => groups.push((record, vec![connection_id])),
        }
    }
    let mut written = 0;
    for (first, ids) in &groups {
        let tags = tags_for(first, now);
        for batch in ids.chunks(TAG_BATCH) {
            let result = ec2
                .create_tags()
                .set_resources(Some(batch.iter().map(|id| id.to_string()).collect()))
                .set_tags(Some(tags.clone()))
                .send()
                .await;
            match result {
                Ok(_) => written += batch.len(),
                Err(e) => {
                    let error = AwsError::from_sdk("CreateTags", &e);
                    tracing::warn!(
                        service_id = %first.service_id,
                        connection_ids = %batch.join(","),
                        error = %error,
                        "could not record the decision on the connections (grant ec2:CreateTags on vpc-endpoint-connection); the decisions themselves stand"
                    );
                }
            }
        }
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::decide::{Connection, Planned, Reason};
    use crate::approval::record::Trigger;
    use crate::state::EndpointState;

    fn record(decision: Decision, reason: Reason, outcome: Outcome) -> DecisionRecord {
        let planned = Planned {
            connection: Connection {
                endpoint_id: "vpce-1".into(),
                owner: Some("111111111111".into()),
                state: Some(EndpointState::PendingAcceptance),
                region: Some("eu-west-1".into()),
            },
            decision,
            reason,
        };
        let mut record = DecisionRecord::new("vpce-svc-1", &planned, &Trigger::Sweep, false);
        record.outcome = outcome;
        record
    }

    #[test]
    fn tags_round_trip() {
        let mut r = record(Decision::Accept, Reason::ManualOverride, Outcome::Applied);
        r.trigger = Trigger::Manual;
        r.operator = Some("arn:aws:iam::111111111111:user/ops".into());
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let last = LastDecision::from_tags(&tags_for(&r, at)).expect("recorded");
        assert_eq!(
            last,
            LastDecision {
                decision: "accept".into(),
                reason: "manual_override".into(),
                trigger: "manual".into(),
                at: "2023-11-14T22:13:20Z".into(),
                by: Some("arn:aws:iam::111111111111:user/ops".into()),
                region: Some("eu-west-1".into()),
            }
        );
        assert!(last.same_as(&r));
        assert_eq!(LastDecision::from_tags(&[]), None);
    }

    #[test]
    fn long_values_are_cut_to_the_tag_limit() {
        let mut r = record(Decision::Reject, Reason::ManualOverride, Outcome::Applied);
        r.operator = Some("x".repeat(300));
        let tags = tags_for(&r, SystemTime::UNIX_EPOCH);
        let by = tags.iter().find(|t| t.key() == Some(BY_TAG)).expect("by");
        assert_eq!(by.value().map(str::len), Some(256));
    }

    #[test]
    fn only_real_decisions_are_recorded() {
        use Decision::*;
        let cases = [
            (Accept, Reason::EntitledTenant, Outcome::Applied, true),
            (Reject, Reason::TenantSuspended, Outcome::Applied, true),
            (
                Accept,
                Reason::EntitledTenant,
                Outcome::Failed {
                    code: "X".into(),
                    message: String::new(),
                },
                false,
            ),
            (
                Accept,
                Reason::EntitledTenant,
                Outcome::SkippedDryRun,
                false,
            ),
            (Leave, Reason::NotATenant, Outcome::NothingToDo, true),
            (Leave, Reason::AlreadyAccepted, Outcome::NothingToDo, false),
            (Leave, Reason::FinalState, Outcome::NothingToDo, false),
        ];
        for (decision, reason, outcome, expected) in cases {
            let r = record(decision, reason, outcome.clone());
            assert_eq!(
                worth_recording(&r),
                expected,
                "{decision:?} {reason:?} {outcome:?}"
            );
        }
        let mut dry = record(Reject, Reason::TenantSuspended, Outcome::Applied);
        dry.dry_run = true;
        assert!(!worth_recording(&dry));
    }
}

//! `privatelink_core::approval::reconcile` driven directly against the fake
//! EC2 and the fake registry of `common`: paging and batching, `Unsuccessful`
//! items, failures AWS attributes to no endpoint, dry run and leave-pending,
//! revocation, 1,000-id batches, the notification's hint, and how failed
//! calls are classified.

mod common;

use aws_sdk_ec2::Client;
use common::{conn, Call, Failure, Fake, FakeConn, FakeRegistry, World, ALLOWED, OTHER, SVC};
use privatelink_core::approval::reconcile::{reconcile, ReconcileError, Scope};
use privatelink_core::approval::{
    ApproverConfig, Decision, Hint, NonAllowlistedPolicy, Outcome, Reason, Report, Trigger,
};

fn config(policy: NonAllowlistedPolicy, revoke: bool, dry_run: bool) -> ApproverConfig {
    ApproverConfig {
        dry_run,
        ..common::config(policy, revoke)
    }
}

/// A reconcile of every connection, with ALLOWED the one active tenant.
async fn run(
    ec2: &Client,
    config: &ApproverConfig,
    trigger: Trigger,
    hint: Option<&str>,
) -> Result<Report, ReconcileError> {
    let registry = FakeRegistry::new([common::tenant(ALLOWED)]);
    reconcile(ec2, &registry, config, trigger, hint, Scope::All).await
}

fn fake(connections: Vec<FakeConn>, adjust: impl FnOnce(&mut World)) -> Fake {
    let mut world = World::new(connections);
    adjust(&mut world);
    Fake::from_world(world)
}

fn describes(fake: &Fake) -> Vec<Call> {
    fake.calls()
        .into_iter()
        .filter(|c| matches!(c, Call::Describe { .. }))
        .collect()
}

#[tokio::test]
async fn two_pages_are_read_and_decisions_batched_then_a_second_run_changes_nothing() {
    let fake = fake(
        vec![
            conn("vpce-a1", ALLOWED, "pendingAcceptance"),
            conn("vpce-o1", OTHER, "pendingAcceptance"),
            conn("vpce-a2", ALLOWED, "PENDINGACCEPTANCE"),
            conn("vpce-a3", ALLOWED, "available"),
            conn("vpce-o2", OTHER, "available"),
        ],
        |w| w.page_cap = 3,
    );
    let ec2 = fake.client();
    let cfg = config(NonAllowlistedPolicy::Reject, false, false);

    let report = run(&ec2, &cfg, Trigger::Sweep, None)
        .await
        .expect("reconciles");
    assert_eq!(report.describe_pages, 2);
    let listings = describes(&fake);
    assert_eq!(listings.len(), 2);
    for call in &listings {
        let Call::Describe {
            filters,
            max_results,
            ..
        } = call
        else {
            unreachable!()
        };
        assert!(
            filters.contains(&("service-id".to_string(), vec![SVC.to_string()])),
            "{call:?}"
        );
        assert_eq!(*max_results, Some(1000));
    }
    assert_eq!(fake.accepted(), [vec!["vpce-a1", "vpce-a2"]]);
    assert_eq!(fake.rejected(), [vec!["vpce-o1"]]);
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
    assert_eq!(
        fake.accepted().len() + fake.rejected().len(),
        2,
        "no new mutating call"
    );
    assert!(again
        .records
        .iter()
        .all(|r| r.decision == Decision::Leave && r.outcome == Outcome::NothingToDo));
}

#[tokio::test]
async fn unsuccessful_items_are_failed_with_their_code_and_the_rest_applied() {
    // The consumer deletes vpce-gone between the listing and the Accept.
    let fake = fake(
        vec![
            conn("vpce-a1", ALLOWED, "pendingAcceptance"),
            conn("vpce-gone", ALLOWED, "pendingAcceptance"),
        ],
        |w| w.drift = vec![("vpce-gone".into(), "deleted".into())],
    );
    let report = run(
        &fake.client(),
        &config(NonAllowlistedPolicy::Reject, false, false),
        Trigger::Manual,
        None,
    )
    .await
    .expect("reconciles");
    assert_eq!(fake.accepted(), [vec!["vpce-a1", "vpce-gone"]]);
    assert_eq!(report.accepted(), ["vpce-a1"]);
    let failed = report.failed();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].endpoint_id, "vpce-gone");
    assert_eq!(
        failed[0].outcome,
        Outcome::Failed {
            code: "IncorrectState".into(),
            message:
                "The VPC endpoint connection vpce-gone is in state 'deleted' and cannot be changed."
                    .into()
        }
    );
    assert!(!report.has_transient_failures());
}

#[tokio::test]
async fn an_unattributed_failure_fails_the_whole_batch() {
    let fake = fake(vec![conn("vpce-a1", ALLOWED, "pendingAcceptance")], |w| {
        w.unattributed_accept = Some("InternalError".into())
    });
    let report = run(
        &fake.client(),
        &config(NonAllowlistedPolicy::Reject, false, false),
        Trigger::Sweep,
        None,
    )
    .await
    .expect("reconciles");
    assert_eq!(fake.accepted().len(), 1);
    assert!(report.accepted().is_empty());
    assert_eq!(report.failed().len(), 1);
    assert!(report.has_transient_failures());
}

#[tokio::test]
async fn dry_run_and_leave_pending_make_no_mutating_call() {
    let fake = fake(
        vec![
            conn("vpce-a1", ALLOWED, "pendingAcceptance"),
            conn("vpce-o1", OTHER, "pendingAcceptance"),
        ],
        |_| {},
    );
    let ec2 = fake.client();

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
    assert!(!fake.calls().iter().any(Call::is_mutating));

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
    assert!(fake.rejected().is_empty());
    assert_eq!(leave.records[1].reason, Reason::NotATenant);
}

#[tokio::test]
async fn revocation_rejects_an_available_connection_of_an_account_no_longer_listed() {
    let fake = fake(vec![conn("vpce-o1", OTHER, "Available")], |_| {});
    let report = run(
        &fake.client(),
        &config(NonAllowlistedPolicy::Reject, true, false),
        Trigger::Sweep,
        None,
    )
    .await
    .expect("reconciles");
    assert_eq!(fake.rejected(), [vec!["vpce-o1"]]);
    assert_eq!(fake.state_of("vpce-o1").as_deref(), Some("rejected"));
    assert_eq!(report.records[0].reason, Reason::NotATenant);
}

#[tokio::test]
async fn thousands_of_connections_are_accepted_in_batches_of_at_most_1000() {
    let fake = fake(
        (0..2500)
            .map(|i| conn(&format!("vpce-{i:05}"), ALLOWED, "pendingAcceptance"))
            .collect(),
        |_| {},
    );
    let report = run(
        &fake.client(),
        &config(NonAllowlistedPolicy::Reject, false, false),
        Trigger::Sweep,
        None,
    )
    .await
    .expect("reconciles");
    assert_eq!(report.describe_pages, 3);
    let sizes: Vec<_> = fake.accepted().iter().map(Vec::len).collect();
    assert_eq!(sizes, [1000, 1000, 500]);
    assert_eq!(report.accepted().len(), 2500);
}

#[tokio::test]
async fn the_hint_is_checked_but_decides_nothing() {
    let fake = fake(vec![conn("vpce-o1", OTHER, "pendingAcceptance")], |_| {});
    let ec2 = fake.client();
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

/// A reconcile of a service whose first Describe fails so.
async fn failed_listing(failure: Failure) -> ReconcileError {
    let fake = fake(vec![conn("vpce-a1", ALLOWED, "pendingAcceptance")], |w| {
        w.fail_describe = Some((0, failure.clone()))
    });
    let err = run(
        &fake.client(),
        &config(NonAllowlistedPolicy::Reject, false, false),
        Trigger::Sweep,
        None,
    )
    .await
    .expect_err(&format!("{failure:?}"));
    assert!(fake.accepted().is_empty(), "{failure:?}");
    err
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
        let err = failed_listing(Failure::Code(code.into())).await;
        assert_eq!(err.error_type(), error_type, "{code}: {err}");
        assert_eq!(err.is_transient(), transient, "{code}");
        assert_eq!(err.aws_error().code.as_deref(), Some(code));
    }
}

#[tokio::test]
async fn a_5xx_without_a_code_is_transient() {
    let err = failed_listing(Failure::Status(503)).await;
    assert_eq!(err.aws_error().http_status, Some(503), "{err:?}");
    assert!(err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn a_throttled_accept_fails_its_batch_and_skips_the_rejects() {
    let fake = fake(
        vec![
            conn("vpce-a1", ALLOWED, "pendingAcceptance"),
            conn("vpce-o1", OTHER, "pendingAcceptance"),
        ],
        |w| w.throttle_accept = true,
    );
    let err = run(
        &fake.client(),
        &config(NonAllowlistedPolicy::Reject, false, false),
        Trigger::Sweep,
        None,
    )
    .await
    .expect_err("throttled");
    assert!(err.is_transient());
    assert_eq!(fake.accepted(), [vec!["vpce-a1"]]);
    assert!(fake.rejected().is_empty());
}

/// The decision history (`history::record`, which every reconcile and the
/// operator's overrides call): records with the same tags share one
/// `CreateTags` call, a decision already recorded on the connection is not
/// written again, and only decisions worth remembering are written.
#[tokio::test]
async fn same_decisions_share_one_create_tags_call_and_repeats_are_skipped() {
    use privatelink_core::approval::decide::{Connection, Planned};
    use privatelink_core::approval::history::{self, tags_for, Recorded};
    use privatelink_core::approval::{DecisionRecord, LastDecision};
    use privatelink_core::state::EndpointState;

    let decided = [
        (Decision::Accept, Reason::EntitledTenant, Outcome::Applied),
        (Decision::Reject, Reason::TenantSuspended, Outcome::Applied),
        (Decision::Accept, Reason::EntitledTenant, Outcome::Applied),
        (Decision::Leave, Reason::NotATenant, Outcome::NothingToDo),
        (
            Decision::Leave,
            Reason::AlreadyAccepted,
            Outcome::NothingToDo,
        ),
    ];
    let fake = fake(
        (0..decided.len())
            .map(|i| conn(&format!("vpce-{i}"), ALLOWED, "pendingAcceptance"))
            .collect(),
        |_| {},
    );
    let mut records = Vec::new();
    let mut known = Vec::new();
    for (i, (decision, reason, outcome)) in decided.into_iter().enumerate() {
        let planned = Planned {
            connection: Connection {
                endpoint_id: format!("vpce-{i}"),
                owner: Some(ALLOWED.into()),
                state: Some(EndpointState::PendingAcceptance),
                region: None,
            },
            decision,
            reason,
        };
        let mut record = DecisionRecord::new(SVC, &planned, &Trigger::Sweep, false);
        record.outcome = outcome;
        known.push(Recorded {
            endpoint_id: record.endpoint_id.clone(),
            connection_id: Some(format!("vpce-con-{i}")),
            // The leave-pending decision is already recorded.
            last: (i == 3).then(|| {
                LastDecision::from_tags(&tags_for(&record, std::time::SystemTime::UNIX_EPOCH))
                    .expect("tags")
            }),
        });
        records.push(record);
    }
    let written = history::record(&fake.client(), &known, &records).await;
    assert_eq!(written, 3);
    let tagged: Vec<Vec<String>> = fake
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::CreateTags { resources, .. } => Some(resources),
            _ => None,
        })
        .collect();
    assert_eq!(
        tagged,
        [vec!["vpce-con-0", "vpce-con-2"], vec!["vpce-con-1"]]
    );
}

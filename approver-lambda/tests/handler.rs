//! The handler against JSON fixtures of real event shapes (SNS envelopes as
//! Lambda delivers them, an EventBridge schedule, an unrelated SQS event),
//! with EC2 faked by aws-smithy-mocks (`common::Fake`) and the tenant
//! registry in memory (`common::FakeRegistry`): which calls were made, and
//! what EC2 holds afterwards, is asserted. The last test checks the fake
//! itself.

mod common;

use approver_lambda::handler::{handle, Approver, HandlerError};
use aws_sdk_ec2::error::ErrorMetadata;
use aws_sdk_ec2::operation::describe_vpc_endpoint_connections::DescribeVpcEndpointConnectionsError;
use aws_smithy_mocks::mock;
use common::{
    config, conn, conn_from, suspended, tenant, Call, Fake, FakeRegistry, World, ALLOWED, OTHER,
    SVC,
};
use lambda_runtime::Diagnostic;
use privatelink_core::approval::tenant::now_epoch;
use privatelink_core::approval::{
    ApproverConfig, NonAllowlistedPolicy, Tenant, TenantStatus, Trigger,
};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The approver on `fake`, with ALLOWED the one (active) tenant.
fn approver(fake: &Fake, policy: NonAllowlistedPolicy) -> Approver<FakeRegistry> {
    with_registry(
        fake,
        config(policy, false),
        &FakeRegistry::new([tenant(ALLOWED)]),
    )
}

fn with_registry(
    fake: &Fake,
    config: ApproverConfig,
    registry: &FakeRegistry,
) -> Approver<FakeRegistry> {
    Approver::new(fake.client(), Ok(config), |_| registry.clone())
}

/// The filters of a listing of the requests waiting.
fn pending_only() -> common::Filters {
    vec![(
        "vpc-endpoint-state".to_string(),
        vec!["pendingAcceptance".to_string()],
    )]
}

/// The decision history's reason on connection `id`.
fn reason_tag(fake: &Fake, id: &str) -> Option<String> {
    fake.connections()
        .into_iter()
        .find(|c| c.endpoint_id == id)
        .and_then(|c| c.tags.get("privatelink-kit:reason").cloned())
}

const A1: &str = "vpce-0aaaaaaaaaaaaaaa1";

#[tokio::test]
async fn a_connect_notification_accepts_an_entitled_tenants_request() {
    let fake = Fake::new(vec![conn(A1, ALLOWED, "pendingAcceptance")]);
    let registry = FakeRegistry::new([tenant(ALLOWED)]);
    let response = handle(
        &with_registry(
            &fake,
            config(NonAllowlistedPolicy::Reject, false),
            &registry,
        ),
        fixture("sns-connect.json"),
    )
    .await
    .expect("ok");
    // One narrow listing, one registry read for the one owner, one accept.
    assert_eq!(fake.listings(), [pending_only()]);
    assert_eq!(registry.reads(), [vec![ALLOWED.to_string()]]);
    assert_eq!(registry.calls(), 1);
    assert_eq!(reason_tag(&fake, A1).as_deref(), Some("entitled_tenant"));
    assert_eq!(response.status, "reconciled");
    assert_eq!(response.accepted, 1);
    assert_eq!(
        response.trigger,
        Some(Trigger::Sns(vec![
            "11111111-0000-4000-8000-000000000007".into()
        ]))
    );
    assert_eq!(fake.accepted(), [vec![A1.to_string()]]);
    assert!(fake.rejected().is_empty());
}

#[tokio::test]
async fn empty_records_make_no_call() {
    let fake = Fake::new(vec![conn(A1, ALLOWED, "pendingAcceptance")]);
    let response = handle(
        &approver(&fake, NonAllowlistedPolicy::Reject),
        fixture("sns-empty-records.json"),
    )
    .await
    .expect("ok");
    assert_eq!(response.status, "ignored");
    assert_eq!(fake.describe.num_calls(), 0);
}

#[tokio::test]
async fn a_non_json_message_is_still_a_trigger() {
    let fake = Fake::new(vec![
        conn(A1, ALLOWED, "pendingAcceptance"),
        conn("vpce-0000000000000000b", OTHER, "pendingAcceptance"),
    ]);
    let response = handle(
        &approver(&fake, NonAllowlistedPolicy::Reject),
        fixture("sns-non-json-message.json"),
    )
    .await
    .expect("ok");
    assert_eq!((response.accepted, response.rejected), (1, 1));
    assert_eq!(fake.describe.num_calls(), 1);
}

#[tokio::test]
async fn a_message_of_the_wrong_shape_is_still_a_trigger() {
    let fake = Fake::new(vec![conn(A1, ALLOWED, "pendingAcceptance")]);
    let response = handle(
        &approver(&fake, NonAllowlistedPolicy::Reject),
        fixture("sns-wrong-shape.json"),
    )
    .await
    .expect("ok");
    assert_eq!(response.accepted, 1);
}

#[tokio::test]
async fn a_message_naming_another_service_reconciles_ours_only() {
    let fake = Fake::new(vec![conn(A1, ALLOWED, "pendingAcceptance")]);
    let response = handle(
        &approver(&fake, NonAllowlistedPolicy::Reject),
        fixture("sns-other-service.json"),
    )
    .await
    .expect("ok");
    assert_eq!(response.accepted, 1);
    // The one accept is for our service's own tenant's request, not the
    // endpoint the message names.
    assert_eq!(fake.accepted(), [vec![A1.to_string()]]);
}

#[tokio::test]
async fn a_message_claiming_a_tenant_owner_is_not_believed() {
    // The message says 111111111111 owns vpce-0bad...; AWS says 999999999999.
    let fake = Fake::new(vec![conn(
        "vpce-0bad0bad0bad0bad4",
        OTHER,
        "pendingAcceptance",
    )]);
    let response = handle(
        &approver(&fake, NonAllowlistedPolicy::Reject),
        fixture("sns-claims-tenant-owner.json"),
    )
    .await
    .expect("ok");
    assert_eq!(fake.accept.num_calls(), 0);
    assert!(fake.accepted().is_empty());
    assert_eq!(
        fake.rejected(),
        [vec!["vpce-0bad0bad0bad0bad4".to_string()]]
    );
    assert_eq!((response.accepted, response.rejected), (0, 1));

    // Under leave-pending it is left alone.
    let fake = Fake::new(vec![conn(
        "vpce-0bad0bad0bad0bad4",
        OTHER,
        "pendingAcceptance",
    )]);
    handle(
        &approver(&fake, NonAllowlistedPolicy::LeavePending),
        fixture("sns-claims-tenant-owner.json"),
    )
    .await
    .expect("ok");
    assert_eq!(fake.accept.num_calls() + fake.reject.num_calls(), 0);
}

#[tokio::test]
async fn duplicate_deliveries_make_one_reconcile_and_one_accept() {
    let fake = Fake::new(vec![conn(A1, ALLOWED, "pendingAcceptance")]);
    let approver = approver(&fake, NonAllowlistedPolicy::Reject);
    let response = handle(&approver, fixture("sns-duplicate-deliveries.json"))
        .await
        .expect("ok");
    assert_eq!(
        response.trigger,
        Some(Trigger::Sns(vec![
            "11111111-0000-4000-8000-000000000005".into()
        ]))
    );
    assert_eq!(fake.describe.num_calls(), 1);
    assert_eq!(fake.accepted(), [vec![A1.to_string()]]);
    // The same event delivered again (SNS/Lambda at-least-once): no new call.
    handle(&approver, fixture("sns-duplicate-deliveries.json"))
        .await
        .expect("ok");
    assert_eq!(fake.describe.num_calls(), 2);
    assert_eq!(fake.accept.num_calls(), 1);
}

#[tokio::test]
async fn the_accept_event_of_our_own_accept_changes_nothing() {
    for state in ["pending", "available", "Available"] {
        let fake = Fake::new(vec![conn(A1, ALLOWED, state)]);
        let response = handle(
            &approver(&fake, NonAllowlistedPolicy::Reject),
            fixture("sns-accept-of-our-own.json"),
        )
        .await
        .expect("ok");
        assert_eq!(response.status, "reconciled");
        assert_eq!(
            fake.accept.num_calls() + fake.reject.num_calls(),
            0,
            "{state}"
        );
    }
}

#[tokio::test]
async fn the_schedule_sweeps() {
    let fake = Fake::new(vec![
        conn(A1, ALLOWED, "pendingAcceptance"),
        conn("vpce-0000000000000000b", OTHER, "pendingAcceptance"),
    ]);
    let response = handle(
        &approver(&fake, NonAllowlistedPolicy::LeavePending),
        fixture("eventbridge-scheduled.json"),
    )
    .await
    .expect("ok");
    assert_eq!(response.trigger, Some(Trigger::Sweep));
    assert_eq!(fake.accepted(), [vec![A1.to_string()]]);
    assert!(fake.rejected().is_empty());
}

/// The decision history's tag `key` on connection `id`.
fn tag(fake: &Fake, id: &str, key: &str) -> Option<String> {
    fake.connections()
        .into_iter()
        .find(|c| c.endpoint_id == id)
        .and_then(|c| c.tags.get(key).cloned())
}

#[tokio::test]
async fn a_tenant_limited_to_some_regions_is_refused_from_the_others() {
    let home = "vpce-0000000000000000a";
    let allowed = "vpce-0000000000000000b";
    let refused = "vpce-0000000000000000c";
    let live = "vpce-0000000000000000d";
    let fake = Fake::new(vec![
        conn(home, ALLOWED, "pendingAcceptance"),
        conn_from(allowed, ALLOWED, "pendingAcceptance", "eu-west-1"),
        conn_from(refused, ALLOWED, "pendingAcceptance", "ap-south-1"),
        conn_from(live, ALLOWED, "available", "ap-south-1"),
    ]);
    // The fake's client is in us-east-1: an endpoint without
    // VpcEndpointRegion is from there.
    let limited = Tenant {
        allowed_regions: ["us-east-1".to_string(), "eu-west-1".to_string()].into(),
        ..tenant(ALLOWED)
    };
    let registry = FakeRegistry::new([limited]);
    // Revocation off: the live one from another region stays.
    let response = handle(
        &with_registry(
            &fake,
            config(NonAllowlistedPolicy::Reject, false),
            &registry,
        ),
        fixture("eventbridge-scheduled.json"),
    )
    .await
    .expect("ok");
    assert_eq!(response.accepted, 2);
    assert_eq!(
        fake.accepted(),
        [vec![home.to_string(), allowed.to_string()]]
    );
    assert_eq!(fake.rejected(), [vec![refused.to_string()]]);
    assert_eq!(
        reason_tag(&fake, refused).as_deref(),
        Some("region_not_allowed")
    );
    // The history records the consumer's region.
    let region_tag = "privatelink-kit:consumer-region";
    assert_eq!(tag(&fake, home, region_tag).as_deref(), Some("us-east-1"));
    assert_eq!(
        tag(&fake, allowed, region_tag).as_deref(),
        Some("eu-west-1")
    );
    assert_eq!(
        tag(&fake, refused, region_tag).as_deref(),
        Some("ap-south-1")
    );
    assert_eq!(fake.state_of(live).as_deref(), Some("available"));

    // Revocation on: the live one from a region not allowed is rejected.
    handle(
        &with_registry(&fake, config(NonAllowlistedPolicy::Reject, true), &registry),
        fixture("eventbridge-scheduled.json"),
    )
    .await
    .expect("ok");
    assert_eq!(fake.state_of(live).as_deref(), Some("rejected"));
    assert_eq!(
        reason_tag(&fake, live).as_deref(),
        Some("region_not_allowed")
    );
    // The accepted one from an allowed region stays (the fake's accept
    // leaves it pending).
    assert_eq!(fake.state_of(allowed).as_deref(), Some("pending"));
}

#[tokio::test]
async fn other_events_are_logged_and_ignored() {
    let fake = Fake::new(vec![conn(A1, ALLOWED, "pendingAcceptance")]);
    for event in [
        fixture("sqs-event.json"),
        Value::Null,
        serde_json::json!({"hello": "world"}),
    ] {
        let response = handle(&approver(&fake, NonAllowlistedPolicy::Reject), event)
            .await
            .expect("ok");
        assert_eq!(response.status, "ignored");
    }
    assert_eq!(fake.describe.num_calls(), 0);
}

#[tokio::test]
async fn invalid_configuration_accepts_nothing_and_fails_the_invocation() {
    let fake = Fake::new(vec![conn(A1, ALLOWED, "pendingAcceptance")]);
    let registry = FakeRegistry::new([tenant(ALLOWED)]);
    // The table name has a space; the old allowlist variable is ignored.
    let config = ApproverConfig::from_lookup(|name| match name {
        "APPROVER_SERVICE_ID" => Some(common::SVC.into()),
        "APPROVER_TABLE" => Some("acme tenants".into()),
        "APPROVER_ALLOWLIST" => Some(ALLOWED.into()),
        _ => None,
    });
    let approver = Approver::new(fake.client(), config, |_| registry.clone());
    for name in [
        "sns-connect.json",
        "eventbridge-scheduled.json",
        "sqs-event.json",
    ] {
        let error = handle(&approver, fixture(name))
            .await
            .expect_err("fails closed");
        assert!(matches!(error, HandlerError::Configuration(_)));
        let diagnostic = Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "Approver.InvalidConfiguration");
        assert!(
            diagnostic
                .error_message
                .contains("APPROVER_TABLE=\"acme tenants\"")
                && diagnostic
                    .error_message
                    .contains("nothing will be accepted"),
            "{}",
            diagnostic.error_message
        );
    }
    assert_eq!(fake.describe.num_calls() + fake.accept.num_calls(), 0);
    assert!(registry.reads().is_empty());
}

fn failing_describe(code: &'static str) -> Approver<FakeRegistry> {
    let rule =
        mock!(aws_sdk_ec2::Client::describe_vpc_endpoint_connections).then_error(move || {
            DescribeVpcEndpointConnectionsError::generic(
                ErrorMetadata::builder().code(code).message("mock").build(),
            )
        });
    Approver::new(
        common::client(&[&rule]),
        Ok(config(NonAllowlistedPolicy::Reject, false)),
        |_| FakeRegistry::new([tenant(ALLOWED)]),
    )
}

#[tokio::test]
async fn transient_failures_fail_the_invocation_so_lambda_retries() {
    for code in [
        "RequestLimitExceeded",
        "InternalError",
        "ServiceUnavailable",
    ] {
        let error = handle(&failing_describe(code), fixture("sns-connect.json"))
            .await
            .expect_err(code);
        assert!(matches!(error, HandlerError::Transient(_)), "{code}");
        assert_eq!(
            Diagnostic::from(error).error_type,
            "Approver.TransientAwsError"
        );
    }
}

#[tokio::test]
async fn permanent_failures_are_logged_and_the_invocation_succeeds() {
    for code in [
        "InvalidVpcEndpointServiceId.NotFound",
        "UnauthorizedOperation",
    ] {
        let response = handle(
            &failing_describe(code),
            fixture("eventbridge-scheduled.json"),
        )
        .await
        .expect(code);
        assert_eq!(response.status, "permanent_error");
        assert!(response.detail.is_some_and(|d| d.contains(code)), "{code}");
    }
}

#[test]
fn the_help_text_is_printed_for_help() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_approver-lambda"))
        .arg("--help")
        .output()
        .expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("APPROVER_TABLE")
            && text.contains("leave-pending")
            && !text.contains("APPROVER_ALLOWLIST"),
        "{text}"
    );
}

fn world_with(connections: Vec<common::FakeConn>, f: impl FnOnce(&mut World)) -> Fake {
    let mut world = World::new(connections);
    f(&mut world);
    Fake::from_world(world)
}

#[tokio::test]
async fn every_page_is_read_when_ec2_returns_small_pages() {
    let ids: Vec<String> = (0..5)
        .map(|i| format!("vpce-0aaaaaaaaaaaaaa{i:02}"))
        .collect();
    let fake = world_with(
        ids.iter()
            .map(|id| conn(id, ALLOWED, "pendingAcceptance"))
            .collect(),
        |w| w.page_cap = 2,
    );
    let response = handle(
        &approver(&fake, NonAllowlistedPolicy::Reject),
        fixture("eventbridge-scheduled.json"),
    )
    .await
    .expect("ok");
    assert_eq!(response.accepted, 5);
    assert_eq!(fake.describe.num_calls(), 3);
    assert_eq!(fake.accepted(), [ids]);
}

#[tokio::test]
async fn a_consumer_deleting_its_endpoint_before_the_accept_is_a_failed_item_not_a_retry() {
    let fake = world_with(
        vec![
            conn(A1, ALLOWED, "pendingAcceptance"),
            conn("vpce-0aaaaaaaaaaaaaaa2", ALLOWED, "pendingAcceptance"),
        ],
        |w| w.drift = vec![(A1.into(), "deleted".into())],
    );
    let response = handle(
        &approver(&fake, NonAllowlistedPolicy::Reject),
        fixture("sns-connect.json"),
    )
    .await
    .expect("a permanent item failure does not fail the invocation");
    assert_eq!((response.accepted, response.failed), (1, 1));
    assert_eq!(fake.state_of(A1).as_deref(), Some("deleted"));
    assert_eq!(
        fake.state_of("vpce-0aaaaaaaaaaaaaaa2").as_deref(),
        Some("pending")
    );
    let refusals = fake.with(|w| w.refusals.clone());
    assert_eq!(refusals.len(), 1);
    assert_eq!(
        (refusals[0].endpoint_id.as_str(), refusals[0].code),
        (A1, "IncorrectState")
    );
    // Only the applied accept is recorded.
    let tagged: Vec<Vec<String>> = fake
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::CreateTags { resources, .. } => Some(resources),
            _ => None,
        })
        .collect();
    assert_eq!(tagged, [vec!["vpce-con-0aaaaaaaaaaaaaaa2".to_string()]]);
}

#[tokio::test]
async fn a_listing_that_ignores_the_service_filter_never_touches_another_service() {
    let mut theirs = conn("vpce-0bbbbbbbbbbbbbbb1", ALLOWED, "pendingAcceptance");
    theirs.service_id = "vpce-svc-0ffffffffffffffff".into();
    let mut theirs_other = conn("vpce-0bbbbbbbbbbbbbbb2", OTHER, "available");
    theirs_other.service_id = "vpce-svc-0ffffffffffffffff".into();
    let fake = world_with(
        vec![
            theirs.clone(),
            conn(A1, ALLOWED, "pendingAcceptance"),
            theirs_other.clone(),
        ],
        |w| w.ignore_service_filter = true,
    );
    let approver = with_registry(
        &fake,
        config(NonAllowlistedPolicy::Reject, true),
        &FakeRegistry::new([tenant(ALLOWED)]),
    );
    let response = handle(&approver, fixture("eventbridge-scheduled.json"))
        .await
        .expect("ok");
    assert_eq!((response.accepted, response.rejected), (1, 0));
    assert_eq!(fake.accepted(), [vec![A1.to_string()]]);
    let after = fake.connections();
    assert_eq!(after[0], theirs);
    assert_eq!(after[2], theirs_other);
}

#[tokio::test]
async fn decisions_are_recorded_on_the_connection_and_a_repeat_writes_nothing() {
    let fake = Fake::new(vec![
        conn(A1, ALLOWED, "pendingAcceptance"),
        conn("vpce-0000000000000000b", OTHER, "pendingAcceptance"),
    ]);
    let approver = approver(&fake, NonAllowlistedPolicy::LeavePending);
    handle(&approver, fixture("sns-connect.json"))
        .await
        .expect("ok");
    let tags = |id: &str| {
        fake.connections()
            .into_iter()
            .find(|c| c.endpoint_id == id)
            .map(|c| c.tags)
            .unwrap_or_default()
    };
    let accepted = tags(A1);
    assert_eq!(accepted["privatelink-kit:decision"], "accept");
    assert_eq!(accepted["privatelink-kit:reason"], "entitled_tenant");
    assert_eq!(accepted["privatelink-kit:trigger"], "sns");
    let left = tags("vpce-0000000000000000b");
    assert_eq!(left["privatelink-kit:decision"], "leave");
    assert_eq!(left["privatelink-kit:reason"], "not_a_tenant");
    assert_eq!(
        fake.state_of("vpce-0000000000000000b").as_deref(),
        Some("pendingAcceptance")
    );
    let tag_calls = fake.create_tags.num_calls();
    assert!(tag_calls >= 1);

    // The same notification again: nothing to accept, the leave already
    // recorded: no mutating call at all.
    handle(&approver, fixture("sns-connect.json"))
        .await
        .expect("ok");
    assert_eq!(fake.create_tags.num_calls(), tag_calls);
    assert_eq!(fake.accept.num_calls() + fake.reject.num_calls(), 1);
}

const SUSPENDED: &str = "222222222222";
const EXPIRED: &str = "333333333333";
const QUOTA: &str = "444444444444";

/// ALLOWED active, SUSPENDED suspended, EXPIRED past its `expires_at`,
/// QUOTA active with at most `max` live endpoints; OTHER is no tenant.
fn registry(max: u32) -> FakeRegistry {
    FakeRegistry::new([
        tenant(ALLOWED),
        suspended(SUSPENDED),
        Tenant {
            expires_at: Some(now_epoch() - 60),
            ..tenant(EXPIRED)
        },
        Tenant {
            max_endpoints: Some(max),
            // Not expired yet: an expiry in the future changes nothing.
            expires_at: Some(now_epoch() + 86_400),
            ..tenant(QUOTA)
        },
    ])
}

#[tokio::test]
async fn every_registry_refusal_is_decided_by_the_policy_and_names_its_rule() {
    let world = || {
        vec![
            conn("vpce-0000000000000000a", ALLOWED, "pendingAcceptance"),
            conn("vpce-0000000000000000s", SUSPENDED, "pendingAcceptance"),
            conn("vpce-0000000000000000e", EXPIRED, "pendingAcceptance"),
            conn("vpce-0000000000000000o", OTHER, "pendingAcceptance"),
            conn("vpce-0000000000000000q", QUOTA, "available"),
            conn("vpce-0000000000000000r", QUOTA, "pendingAcceptance"),
        ]
    };
    let expected = [
        ("vpce-0000000000000000s", "tenant_suspended"),
        ("vpce-0000000000000000e", "tenant_expired"),
        ("vpce-0000000000000000o", "not_a_tenant"),
        ("vpce-0000000000000000r", "over_quota"),
    ];
    for (policy, refused_state) in [
        (NonAllowlistedPolicy::Reject, "rejected"),
        (NonAllowlistedPolicy::LeavePending, "pendingAcceptance"),
    ] {
        let fake = Fake::new(world());
        let registry = registry(1);
        let response = handle(
            &with_registry(&fake, config(policy, false), &registry),
            fixture("sns-connect.json"),
        )
        .await
        .expect("ok");
        assert_eq!(response.accepted, 1, "{policy:?}");
        assert_eq!(
            fake.state_of("vpce-0000000000000000a").as_deref(),
            Some("pending")
        );
        for (id, reason) in expected {
            assert_eq!(
                fake.state_of(id).as_deref(),
                Some(refused_state),
                "{id} {policy:?}"
            );
            assert_eq!(
                reason_tag(&fake, id).as_deref(),
                Some(reason),
                "{id} {policy:?}"
            );
        }
        // The owners with a request waiting, read once, in one call.
        assert_eq!(
            registry.reads(),
            [[ALLOWED, SUSPENDED, EXPIRED, QUOTA, OTHER]
                .map(str::to_string)
                .into_iter()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()]
        );
        assert_eq!(registry.calls(), 1);
        // The requests, then QUOTA's live endpoints (the only owner with a
        // quota): a quota costs one more narrow listing.
        assert_eq!(
            fake.listings(),
            [
                pending_only(),
                vec![
                    ("vpc-endpoint-owner".to_string(), vec![QUOTA.to_string()]),
                    (
                        "vpc-endpoint-state".to_string(),
                        vec!["pending".to_string(), "available".to_string()]
                    ),
                ]
            ]
        );
    }
}

#[tokio::test]
async fn a_quota_counts_live_endpoints_and_the_accepts_of_the_same_run() {
    let fake = Fake::new(vec![
        conn("vpce-0000000000000000a", QUOTA, "available"),
        conn("vpce-0000000000000000b", QUOTA, "pendingAcceptance"),
        conn("vpce-0000000000000000c", QUOTA, "pendingAcceptance"),
        conn("vpce-0000000000000000d", QUOTA, "rejected"),
    ]);
    let response = handle(
        &with_registry(
            &fake,
            config(NonAllowlistedPolicy::Reject, false),
            &registry(2),
        ),
        fixture("sns-connect.json"),
    )
    .await
    .expect("ok");
    assert_eq!((response.accepted, response.rejected), (1, 1));
    assert_eq!(
        fake.state_of("vpce-0000000000000000b").as_deref(),
        Some("pending")
    );
    assert_eq!(
        fake.state_of("vpce-0000000000000000c").as_deref(),
        Some("rejected")
    );
    assert_eq!(
        reason_tag(&fake, "vpce-0000000000000000c").as_deref(),
        Some("over_quota")
    );
    // A live endpoint over the quota (the quota was lowered) is never
    // revoked for it, even by a sweep that revokes.
    let approver = with_registry(
        &fake,
        config(NonAllowlistedPolicy::Reject, true),
        &registry(1),
    );
    let response = handle(&approver, fixture("eventbridge-scheduled.json"))
        .await
        .expect("ok");
    assert_eq!((response.accepted, response.rejected), (0, 0));
}

#[tokio::test]
async fn the_scope_follows_the_trigger() {
    // SUSPENDED's connection is live; only a sweep that revokes looks at it.
    let world = || {
        Fake::new(vec![
            conn(A1, ALLOWED, "pendingAcceptance"),
            conn("vpce-0000000000000000s", SUSPENDED, "available"),
            conn("vpce-0000000000000000x", ALLOWED, "available"),
        ])
    };
    let cases = [
        ("sns-connect.json", false, vec![pending_only()], 0),
        ("sns-connect.json", true, vec![pending_only()], 0),
        ("eventbridge-scheduled.json", false, vec![pending_only()], 0),
        ("eventbridge-scheduled.json", true, vec![vec![]], 1),
    ];
    for (event, revoke, listings, revoked) in cases {
        let fake = world();
        let registry = registry(1);
        let response = handle(
            &with_registry(
                &fake,
                config(NonAllowlistedPolicy::Reject, revoke),
                &registry,
            ),
            fixture(event),
        )
        .await
        .expect("ok");
        assert_eq!(fake.listings(), listings, "{event} revoke {revoke}");
        assert_eq!(
            (response.accepted, response.rejected),
            (1, revoked),
            "{event} revoke {revoke}"
        );
        let read: Vec<String> = registry.reads().concat();
        assert_eq!(
            read.contains(&SUSPENDED.to_string()),
            revoked == 1,
            "{read:?}"
        );
        if revoked == 1 {
            assert_eq!(
                reason_tag(&fake, "vpce-0000000000000000s").as_deref(),
                Some("tenant_suspended")
            );
            assert_eq!(
                fake.state_of("vpce-0000000000000000x").as_deref(),
                Some("available")
            );
        }
    }
}

#[tokio::test]
async fn a_tenant_suspended_while_a_run_is_in_flight_is_rejected_by_the_next_run() {
    let fake = Fake::new(vec![conn(A1, ALLOWED, "pendingAcceptance")]);
    let registry = FakeRegistry::new([tenant(ALLOWED)]);
    // The registry answers "active", then the operator suspends: the run in
    // flight accepts on what it read.
    registry.after_next_read(|tenants| {
        if let Some(t) = tenants.get_mut(ALLOWED) {
            t.status = TenantStatus::Suspended;
        }
    });
    let approver = with_registry(&fake, config(NonAllowlistedPolicy::Reject, true), &registry);
    let response = handle(&approver, fixture("sns-connect.json"))
        .await
        .expect("ok");
    assert_eq!(response.accepted, 1);
    assert_eq!(fake.state_of(A1).as_deref(), Some("pending"));
    // A repeated notification looks only at requests: nothing to do.
    let response = handle(&approver, fixture("sns-connect.json"))
        .await
        .expect("ok");
    assert_eq!((response.accepted, response.rejected), (0, 0));
    // The next run that looks at live connections reads the suspension.
    let response = handle(&approver, fixture("eventbridge-scheduled.json"))
        .await
        .expect("ok");
    assert_eq!(response.rejected, 1);
    assert_eq!(fake.state_of(A1).as_deref(), Some("rejected"));
    assert_eq!(reason_tag(&fake, A1).as_deref(), Some("tenant_suspended"));
}

#[tokio::test]
async fn registry_failures_retry_when_transient_and_say_what_to_fix_otherwise() {
    for (code, transient, fix) in [
        ("ProvisionedThroughputExceededException", true, "transient"),
        ("ThrottlingException", true, "transient"),
        ("InternalServerError", true, "transient"),
        ("ResourceNotFoundException", false, "check APPROVER_TABLE"),
        ("AccessDeniedException", false, "dynamodb:BatchGetItem"),
    ] {
        let fake = Fake::new(vec![conn(A1, ALLOWED, "pendingAcceptance")]);
        let registry = FakeRegistry::new([tenant(ALLOWED)]);
        registry.fail_with("BatchGetItem", code);
        let approver = with_registry(
            &fake,
            config(NonAllowlistedPolicy::Reject, false),
            &registry,
        );
        let result = handle(&approver, fixture("sns-connect.json")).await;
        match result {
            Err(error) if transient => {
                assert!(matches!(error, HandlerError::Transient(_)), "{code}");
                let diagnostic = Diagnostic::from(error);
                assert_eq!(
                    diagnostic.error_type, "Approver.RegistryUnreadable",
                    "{code}"
                );
                assert!(
                    diagnostic.error_message.contains(code),
                    "{}",
                    diagnostic.error_message
                );
            }
            Ok(response) if !transient => {
                assert_eq!(response.status, "permanent_error", "{code}");
                let detail = response.detail.unwrap_or_default();
                for part in [code, common::TABLE, fix] {
                    assert!(detail.contains(part), "{code}: {part} not in {detail}");
                }
            }
            other => panic!("{code}: {other:?}"),
        }
        // Nothing decided without the registry.
        assert_eq!(
            fake.accept.num_calls() + fake.reject.num_calls(),
            0,
            "{code}"
        );
        assert_eq!(fake.create_tags.num_calls(), 0, "{code}");
        assert_eq!(fake.state_of(A1).as_deref(), Some("pendingAcceptance"));
    }
    // With no request waiting there is nobody to read: an unreadable
    // registry does not fail a run with nothing to decide.
    let fake = Fake::new(vec![conn(A1, ALLOWED, "available")]);
    let registry = FakeRegistry::new([tenant(ALLOWED)]);
    registry.fail_with("BatchGetItem", "ThrottlingException");
    let approver = with_registry(
        &fake,
        config(NonAllowlistedPolicy::Reject, false),
        &registry,
    );
    let response = handle(&approver, fixture("sns-connect.json"))
        .await
        .expect("nothing to read");
    assert_eq!(response.status, "reconciled");
    assert_eq!(registry.calls(), 0);
}

#[tokio::test]
async fn the_registry_is_read_for_just_the_owners_with_a_request() {
    // 250 owners with a request each, 250 others with live endpoints only.
    let mut connections = Vec::new();
    for i in 0..500u64 {
        let owner = format!("{:012}", 100_000_000_000 + i);
        let state = if i < 250 {
            "pendingAcceptance"
        } else {
            "available"
        };
        connections.push(conn(&format!("vpce-0{i:016x}"), &owner, state));
    }
    let fake = Fake::new(connections);
    let registry = FakeRegistry::new([tenant(ALLOWED)]);
    let response = handle(
        &with_registry(
            &fake,
            config(NonAllowlistedPolicy::LeavePending, false),
            &registry,
        ),
        fixture("sns-connect.json"),
    )
    .await
    .expect("ok");
    assert_eq!(response.status, "reconciled");
    let reads = registry.reads();
    assert_eq!(reads.len(), 1, "one read per run");
    let expected: Vec<String> = (0..250u64)
        .map(|i| format!("{:012}", 100_000_000_000 + i))
        .collect();
    assert_eq!(reads[0], expected);
    // BatchGetItem takes 100 keys: 3 calls.
    assert_eq!(registry.calls(), 3);
    assert_eq!(fake.describe.num_calls(), 1);
}

/// The fake itself: Describe filters (OR within, AND across), paging, and
/// the errors of a bad request, through the real SDK client.
#[tokio::test]
async fn the_fake_ec2_honours_filters_and_paging() {
    use aws_sdk_ec2::types::Filter;

    let mut other = conn("vpce-0000000000000000d", ALLOWED, "pendingAcceptance");
    other.service_id = "vpce-svc-0ffffffffffffffff".into();
    let fake = world_with(
        vec![
            conn("vpce-0000000000000000a", ALLOWED, "pendingAcceptance"),
            conn("vpce-0000000000000000b", OTHER, "pendingAcceptance"),
            conn("vpce-0000000000000000c", ALLOWED, "Available"),
            other,
            conn("vpce-0000000000000000e", OTHER, "rejected"),
        ],
        |w| w.page_cap = 2,
    );
    let ec2 = fake.client();
    let list = |filters: Vec<(&'static str, Vec<&'static str>)>, max: Option<i32>| {
        let ec2 = ec2.clone();
        async move {
            let mut request = ec2.describe_vpc_endpoint_connections().set_max_results(max);
            for (name, values) in filters {
                let mut f = Filter::builder().name(name);
                for v in values {
                    f = f.values(v);
                }
                request = request.filters(f.build());
            }
            let mut pages = request.into_paginator().send();
            let mut ids = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| {
                    aws_sdk_ec2::error::ProvideErrorMetadata::code(&e)
                        .unwrap_or_default()
                        .to_string()
                })?;
                for c in page.vpc_endpoint_connections() {
                    let id = c.vpc_endpoint_id().unwrap_or_default();
                    ids.push(id[id.len().saturating_sub(1)..].to_string());
                }
            }
            Ok::<Vec<String>, String>(ids)
        }
    };
    type Filters = Vec<(&'static str, Vec<&'static str>)>;
    let cases: Vec<(Filters, Result<Vec<&str>, &str>)> = vec![
        (vec![], Ok(vec!["a", "b", "c", "d", "e"])),
        (
            vec![("service-id", vec![SVC])],
            Ok(vec!["a", "b", "c", "e"]),
        ),
        (
            vec![
                ("service-id", vec![SVC]),
                ("vpc-endpoint-state", vec!["pendingAcceptance", "available"]),
            ],
            Ok(vec!["a", "b", "c"]),
        ),
        (
            vec![
                ("vpc-endpoint-owner", vec![ALLOWED]),
                ("vpc-endpoint-state", vec!["pendingAcceptance"]),
            ],
            Ok(vec!["a", "d"]),
        ),
        (
            vec![(
                "vpc-endpoint-id",
                vec![
                    "vpce-0000000000000000b",
                    "vpce-0000000000000000e",
                    "vpce-0nope",
                ],
            )],
            Ok(vec!["b", "e"]),
        ),
        // States are matched as AWS spells them.
        (vec![("vpc-endpoint-state", vec!["Available"])], Ok(vec![])),
        (vec![("service-id", vec!["vpce-svc-0nothere"])], Ok(vec![])),
        (
            vec![("vpc-endpoint-type", vec!["Interface"])],
            Err("InvalidFilter"),
        ),
    ];
    for (filters, expected) in cases {
        let got = list(filters.clone(), Some(1000)).await;
        let expected = expected
            .map(|ids| ids.into_iter().map(str::to_string).collect::<Vec<_>>())
            .map_err(str::to_string);
        assert_eq!(got, expected, "{filters:?}");
    }
    assert_eq!(
        list(vec![], Some(4)).await,
        Err("InvalidParameterValue".into())
    );
    // Pages of at most 2: the unfiltered listing took 3 calls.
    let describes: Vec<usize> = fake
        .calls()
        .iter()
        .filter_map(|c| match c {
            Call::Describe { returned, .. } => Some(*returned),
            _ => None,
        })
        .take(3)
        .collect();
    assert_eq!(describes, [2, 2, 1]);
    // Accept/Reject: wrong service, wrong state and unknown ids come back
    // in Unsuccessful and change nothing; an unknown service fails the call.
    let out = ec2
        .accept_vpc_endpoint_connections()
        .service_id(SVC)
        .vpc_endpoint_ids("vpce-0000000000000000a")
        .vpc_endpoint_ids("vpce-0000000000000000c")
        .vpc_endpoint_ids("vpce-0000000000000000d")
        .send()
        .await
        .expect("answers");
    let refused: Vec<(&str, &str)> = out
        .unsuccessful()
        .iter()
        .map(|u| {
            (
                u.resource_id().unwrap_or_default(),
                u.error().and_then(|e| e.code()).unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            ("vpce-0000000000000000c", "IncorrectState"),
            ("vpce-0000000000000000d", "InvalidVpcEndpointId.NotFound")
        ]
    );
    assert_eq!(
        fake.state_of("vpce-0000000000000000a").as_deref(),
        Some("pending")
    );
    assert_eq!(
        fake.state_of("vpce-0000000000000000d").as_deref(),
        Some("pendingAcceptance")
    );
    let out = ec2
        .reject_vpc_endpoint_connections()
        .service_id(SVC)
        .vpc_endpoint_ids("vpce-0000000000000000c")
        .vpc_endpoint_ids("vpce-0000000000000000e")
        .send()
        .await
        .expect("answers");
    assert_eq!(out.unsuccessful().len(), 1);
    assert_eq!(
        fake.state_of("vpce-0000000000000000c").as_deref(),
        Some("rejected")
    );
    let error = ec2
        .reject_vpc_endpoint_connections()
        .service_id("vpce-svc-0nothere")
        .vpc_endpoint_ids("vpce-0000000000000000b")
        .send()
        .await
        .expect_err("unknown service");
    assert_eq!(
        aws_sdk_ec2::error::ProvideErrorMetadata::code(&error),
        Some("InvalidVpcEndpointServiceId.NotFound")
    );
}

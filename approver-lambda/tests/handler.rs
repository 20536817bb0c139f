//! The handler against JSON fixtures of real event shapes (SNS envelopes as
//! Lambda delivers them, an EventBridge schedule, an unrelated SQS event),
//! with EC2 faked by aws-smithy-mocks: which calls were made is asserted.

mod common;

use approver_lambda::handler::{handle, Approver, HandlerError};
use aws_sdk_ec2::error::ErrorMetadata;
use aws_sdk_ec2::operation::describe_vpc_endpoint_connections::DescribeVpcEndpointConnectionsError;
use aws_smithy_mocks::mock;
use common::{config, conn, Fake, ALLOWED, OTHER};
use endpoint_service::approval::{ApproverConfig, NonAllowlistedPolicy, Trigger};
use lambda_runtime::Diagnostic;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn approver(fake: &Fake, policy: NonAllowlistedPolicy) -> Approver {
    Approver {
        ec2: fake.client(),
        config: Ok(config(policy, false)),
    }
}

const A1: &str = "vpce-0aaaaaaaaaaaaaaa1";

#[tokio::test]
async fn a_connect_notification_accepts_the_allowlisted_request() {
    let fake = Fake::new(vec![conn(A1, ALLOWED, "pendingAcceptance")]);
    let response = handle(
        &approver(&fake, NonAllowlistedPolicy::Reject),
        fixture("sns-connect.json"),
    )
    .await
    .expect("ok");
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
    // The one accept is for our service's own allowlisted request, not the
    // endpoint the message names.
    assert_eq!(fake.accepted(), [vec![A1.to_string()]]);
}

#[tokio::test]
async fn a_message_claiming_an_allowlisted_owner_is_not_believed() {
    // The message says 111111111111 owns vpce-0bad...; AWS says 999999999999.
    let fake = Fake::new(vec![conn(
        "vpce-0bad0bad0bad0bad4",
        OTHER,
        "pendingAcceptance",
    )]);
    let response = handle(
        &approver(&fake, NonAllowlistedPolicy::Reject),
        fixture("sns-claims-allowlisted-owner.json"),
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
        fixture("sns-claims-allowlisted-owner.json"),
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
    let config = ApproverConfig::from_lookup(|name| match name {
        "APPROVER_SERVICE_ID" => Some(common::SVC.into()),
        "APPROVER_ALLOWLIST" => Some("111111111111,1111-1111-1111".into()),
        _ => None,
    });
    let approver = Approver {
        ec2: fake.client(),
        config,
    };
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
            diagnostic.error_message.contains("\"1111-1111-1111\"")
                && diagnostic.error_message.contains("111111111111"),
            "{}",
            diagnostic.error_message
        );
    }
    assert_eq!(fake.describe.num_calls() + fake.accept.num_calls(), 0);
}

fn failing_describe(code: &'static str) -> Approver {
    let rule =
        mock!(aws_sdk_ec2::Client::describe_vpc_endpoint_connections).then_error(move || {
            DescribeVpcEndpointConnectionsError::generic(
                ErrorMetadata::builder().code(code).message("mock").build(),
            )
        });
    Approver {
        ec2: common::client(&[&rule]),
        config: Ok(config(NonAllowlistedPolicy::Reject, false)),
    }
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
        text.contains("APPROVER_ALLOWLIST") && text.contains("leave-pending"),
        "{text}"
    );
}

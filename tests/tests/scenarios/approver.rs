//! The approver's reconcile (`privatelink_core::approval`, the code the
//! Lambda and the CLI share) against the local emulator: real SDK calls,
//! real paging and batching, injected throttling.

use anyhow::{Context, Result};
use aws_config::retry::RetryConfig;
use privatelink_core::approval::{
    reconcile, Allowlist, ApproverConfig, NonAllowlistedPolicy, Reason, Report, Trigger,
};
use privatelink_core::state::EndpointState;
use privatelink_tests::fixtures::{
    create_endpoint, endpoint_state, vpc_with_subnets, wait_for_endpoint_state, Provider,
};
use privatelink_tests::{Account, Emulator, Fault};

/// The provider's EC2 client with the retry policy the Lambda runs with
/// (standard, 3 attempts), rather than the harness's 2.
fn provider_ec2(account: &Account) -> aws_sdk_ec2::Client {
    let config = aws_sdk_ec2::config::Builder::from(&account.config)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .build();
    aws_sdk_ec2::Client::from_conf(config)
}

fn approver(
    provider: &Provider,
    allowed: &[&str],
    policy: NonAllowlistedPolicy,
    revoke: bool,
) -> ApproverConfig {
    ApproverConfig {
        service_id: provider.service_id.clone(),
        allowlist: Allowlist::parse(&allowed.join(",")).expect("valid account ids"),
        non_allowlisted: policy,
        revoke,
        dry_run: false,
    }
}

/// A consumer VPC with one subnet in the provider's first zone.
async fn consumer_subnet(consumer: &Account, provider: &Provider) -> Result<(String, String)> {
    let zone = provider.zones[0].id.clone();
    let (vpc_id, subnets) = vpc_with_subnets(consumer, "consumer", &[&zone]).await?;
    Ok((vpc_id, subnets.into_iter().next().context("no subnet")?))
}

async fn connect(
    consumer: &Account,
    provider: &Provider,
    vpc_id: &str,
    subnet_id: &str,
) -> Result<String> {
    create_endpoint(
        consumer,
        &provider.service_name,
        vpc_id,
        &[subnet_id.to_string()],
    )
    .await
}

fn reason_of(report: &Report, endpoint_id: &str) -> Option<Reason> {
    report
        .records
        .iter()
        .find(|r| r.endpoint_id == endpoint_id)
        .map(|r| r.reason)
}

#[tokio::test]
async fn allowlisted_is_accepted_and_others_rejected_or_left() -> Result<()> {
    let emulator = Emulator::shared();
    let (provider_account, consumer, outsider) = tokio::try_join!(
        Account::fresh(emulator),
        Account::fresh(emulator),
        Account::fresh(emulator)
    )?;
    // Both may connect at the service level; only `consumer` is approved.
    let provider = Provider::create(&provider_account, &[&consumer.id, &outsider.id]).await?;
    let (vpc, subnet) = consumer_subnet(&consumer, &provider).await?;
    let (out_vpc, out_subnet) = consumer_subnet(&outsider, &provider).await?;
    let ours = connect(&consumer, &provider, &vpc, &subnet).await?;
    let theirs = connect(&outsider, &provider, &out_vpc, &out_subnet).await?;
    let ec2 = provider_ec2(&provider_account);

    // leave-pending: accept ours, leave theirs for review.
    let config = approver(
        &provider,
        &[&consumer.id],
        NonAllowlistedPolicy::LeavePending,
        false,
    );
    let report = reconcile(&ec2, &config, Trigger::Sweep, None).await?;
    assert_eq!(report.accepted(), [ours.as_str()]);
    assert_eq!(
        reason_of(&report, &theirs),
        Some(Reason::NotAllowlistedLeavePendingPolicy)
    );
    assert_eq!(report.reject_calls, 0);
    wait_for_endpoint_state(&consumer, &ours, EndpointState::Available).await?;
    assert_eq!(
        endpoint_state(&outsider, &theirs).await?,
        EndpointState::PendingAcceptance
    );

    // reject (the default): theirs is rejected; ours is left alone.
    let config = approver(
        &provider,
        &[&consumer.id],
        NonAllowlistedPolicy::Reject,
        false,
    );
    let report = reconcile(
        &ec2,
        &config,
        Trigger::Sns(vec!["m-1".into()]),
        Some(&theirs),
    )
    .await?;
    assert_eq!(report.rejected(), [theirs.as_str()]);
    assert_eq!(report.accept_calls, 0);
    assert_eq!(reason_of(&report, &ours), Some(Reason::AlreadyAccepted));
    assert_eq!(
        endpoint_state(&outsider, &theirs).await?,
        EndpointState::Rejected
    );

    // A third run changes nothing.
    let report = reconcile(&ec2, &config, Trigger::Sweep, None).await?;
    assert_eq!(report.mutating_calls(), 0);
    Ok(())
}

#[tokio::test]
async fn throttling_is_retried_and_converges() -> Result<()> {
    let emulator = Emulator::shared();
    let (provider_account, consumer) =
        tokio::try_join!(Account::fresh(emulator), Account::fresh(emulator))?;
    let provider = Provider::create(&provider_account, &[&consumer.id]).await?;
    let (vpc, subnet) = consumer_subnet(&consumer, &provider).await?;
    let ours = connect(&consumer, &provider, &vpc, &subnet).await?;

    // Two throttles each: the third attempt of each call gets through.
    for action in [
        "DescribeVpcEndpointConnections",
        "AcceptVpcEndpointConnections",
    ] {
        emulator
            .inject_fault(action, 2, Fault::Throttle, &provider_account.id)
            .await?;
    }
    let ours_pending = |faults: &serde_json::Value| {
        faults["faults"]
            .as_array()
            .map(|f| {
                f.iter()
                    .filter(|f| f["account"] == provider_account.id.as_str())
                    .count()
            })
            .unwrap_or(0)
    };
    assert_eq!(ours_pending(&emulator.pending_faults().await?), 2);
    let config = approver(
        &provider,
        &[&consumer.id],
        NonAllowlistedPolicy::Reject,
        false,
    );
    let report = reconcile(
        &provider_ec2(&provider_account),
        &config,
        Trigger::Sweep,
        None,
    )
    .await?;
    assert_eq!(report.accepted(), [ours.as_str()]);
    // Both throttles of both actions were hit and retried through.
    assert_eq!(ours_pending(&emulator.pending_faults().await?), 0);
    wait_for_endpoint_state(&consumer, &ours, EndpointState::Available).await?;
    Ok(())
}

#[tokio::test]
async fn a_thousand_pending_connections_take_one_page_and_one_accept() -> Result<()> {
    let emulator = Emulator::shared();
    let (provider_account, consumer) =
        tokio::try_join!(Account::fresh(emulator), Account::fresh(emulator))?;
    let provider = Provider::create(&provider_account, &[&consumer.id]).await?;
    let (vpc, subnet) = consumer_subnet(&consumer, &provider).await?;

    // 1,000 endpoints from one consumer VPC, 50 requests in flight at a time.
    let mut created = 0;
    while created < 1000 {
        let mut batch = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (consumer, provider, vpc, subnet) = (
                consumer.clone(),
                provider.clone(),
                vpc.clone(),
                subnet.clone(),
            );
            batch.spawn(async move { connect(&consumer, &provider, &vpc, &subnet).await });
        }
        while let Some(joined) = batch.join_next().await {
            joined??;
            created += 1;
        }
    }

    let config = approver(
        &provider,
        &[&consumer.id],
        NonAllowlistedPolicy::Reject,
        false,
    );
    let ec2 = provider_ec2(&provider_account);
    let report = reconcile(&ec2, &config, Trigger::Sweep, None).await?;
    assert_eq!(report.records.len(), 1000);
    assert!(
        report.describe_pages <= 2,
        "{} pages",
        report.describe_pages
    );
    assert_eq!(report.accept_calls, 1, "accepts are batched");
    assert_eq!(report.accepted().len(), 1000);
    assert!(report.failed().is_empty(), "{:?}", report.failed());

    let again = reconcile(&ec2, &config, Trigger::Sweep, None).await?;
    assert_eq!(again.mutating_calls(), 0);
    Ok(())
}

#[tokio::test]
async fn revocation_rejects_an_available_connection_after_its_account_leaves() -> Result<()> {
    let emulator = Emulator::shared();
    let (provider_account, consumer, stays) = tokio::try_join!(
        Account::fresh(emulator),
        Account::fresh(emulator),
        Account::fresh(emulator)
    )?;
    let provider = Provider::create(&provider_account, &[&consumer.id]).await?;
    let (vpc, subnet) = consumer_subnet(&consumer, &provider).await?;
    let ours = connect(&consumer, &provider, &vpc, &subnet).await?;
    let ec2 = provider_ec2(&provider_account);

    let before = approver(
        &provider,
        &[&consumer.id],
        NonAllowlistedPolicy::Reject,
        true,
    );
    reconcile(&ec2, &before, Trigger::Sweep, None).await?;
    wait_for_endpoint_state(&consumer, &ours, EndpointState::Available).await?;

    // Revocation off: an available connection is left even when unlisted.
    let unlisted = approver(&provider, &[&stays.id], NonAllowlistedPolicy::Reject, false);
    let report = reconcile(&ec2, &unlisted, Trigger::Sweep, None).await?;
    assert_eq!(
        reason_of(&report, &ours),
        Some(Reason::NotAllowlistedRevocationOff)
    );
    assert_eq!(report.mutating_calls(), 0);

    // Revocation on: rejected.
    let revoking = approver(&provider, &[&stays.id], NonAllowlistedPolicy::Reject, true);
    let report = reconcile(&ec2, &revoking, Trigger::Manual, None).await?;
    assert_eq!(report.rejected(), [ours.as_str()]);
    assert_eq!(reason_of(&report, &ours), Some(Reason::Revoked));
    assert_eq!(
        endpoint_state(&consumer, &ours).await?,
        EndpointState::Rejected
    );
    Ok(())
}

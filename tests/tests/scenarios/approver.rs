//! The approver's reconcile (`privatelink_core::approval`, the code the
//! Lambda and the CLI share) against the local emulator, with the tenant
//! registry in the emulator's DynamoDB (`privatelink_registry::Registry`):
//! real SDK calls, real paging and batching, injected throttling, the
//! registry's refusals, a tenant suspended while a run is in flight, and a
//! tenant limited to some consumer regions (a cross-region endpoint).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use anyhow::{Context, Result};
use aws_config::retry::RetryConfig;
use privatelink_core::approval::tenant::now_epoch;
use privatelink_core::approval::{
    reconcile, AccountId, ApproverConfig, Decision, NonAllowlistedPolicy, Outcome, Reason,
    ReconcileError, Report, Scope, Tenant, TenantSource, TenantStatus, Trigger,
};
use privatelink_core::errors::{AwsError, ErrorKind};
use privatelink_core::state::EndpointState;
use privatelink_registry::Registry;
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

fn approver(provider: &Provider, policy: NonAllowlistedPolicy, revoke: bool) -> ApproverConfig {
    ApproverConfig {
        service_id: provider.service_id.clone(),
        table: provider.table.clone(),
        table_region: None,
        non_allowlisted: policy,
        revoke,
        dry_run: false,
    }
}

/// One run as the Lambda makes it for `trigger` (its scope follows the
/// trigger), against the provider's registry.
async fn run(
    ec2: &aws_sdk_ec2::Client,
    provider: &Provider,
    config: &ApproverConfig,
    trigger: Trigger,
    hint: Option<&str>,
) -> Result<Report, ReconcileError> {
    let scope = Scope::for_trigger(&trigger, config);
    reconcile(ec2, &provider.registry(), config, trigger, hint, scope).await
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

/// A consumer endpoint in a VPC of its own.
async fn connect_new(consumer: &Account, provider: &Provider) -> Result<String> {
    let (vpc, subnet) = consumer_subnet(consumer, provider).await?;
    connect(consumer, provider, &vpc, &subnet).await
}

fn reason_of(report: &Report, endpoint_id: &str) -> Option<Reason> {
    report
        .records
        .iter()
        .find(|r| r.endpoint_id == endpoint_id)
        .map(|r| r.reason)
}

fn tenant(account: &Account) -> Result<Tenant> {
    Ok(Tenant::active(
        AccountId::parse(&account.id).map_err(|e| anyhow::anyhow!("{e}"))?,
        format!("tenant {}", account.id),
    ))
}

#[tokio::test]
async fn a_tenant_is_accepted_and_others_rejected_or_left() -> Result<()> {
    let emulator = Emulator::shared();
    let (provider_account, consumer, outsider) = tokio::try_join!(
        Account::fresh(emulator),
        Account::fresh(emulator),
        Account::fresh(emulator)
    )?;
    // Both may connect at the service level; only `consumer` is a tenant.
    let provider = Provider::create(&provider_account, &[&consumer.id, &outsider.id]).await?;
    provider.add_tenants(&[&consumer.id]).await?;
    let ours = connect_new(&consumer, &provider).await?;
    let theirs = connect_new(&outsider, &provider).await?;
    let ec2 = provider_ec2(&provider_account);

    // leave-pending: accept ours, leave theirs for review.
    let config = approver(&provider, NonAllowlistedPolicy::LeavePending, false);
    let report = run(&ec2, &provider, &config, Trigger::Sweep, None).await?;
    assert_eq!(report.accepted(), [ours.as_str()]);
    assert_eq!(reason_of(&report, &ours), Some(Reason::EntitledTenant));
    assert_eq!(reason_of(&report, &theirs), Some(Reason::NotATenant));
    assert_eq!(report.reject_calls, 0);
    // Both owners in one BatchGetItem.
    assert_eq!(report.registry_calls, 1);
    wait_for_endpoint_state(&consumer, &ours, EndpointState::Available).await?;
    assert_eq!(
        endpoint_state(&outsider, &theirs).await?,
        EndpointState::PendingAcceptance
    );

    // reject (the default): theirs is rejected; ours, available, is not
    // even listed by a notification's run.
    let config = approver(&provider, NonAllowlistedPolicy::Reject, false);
    let report = run(
        &ec2,
        &provider,
        &config,
        Trigger::Sns(vec!["m-1".into()]),
        Some(&theirs),
    )
    .await?;
    assert_eq!(report.rejected(), [theirs.as_str()]);
    assert_eq!(report.accept_calls, 0);
    assert_eq!(reason_of(&report, &ours), None);
    assert_eq!(
        endpoint_state(&outsider, &theirs).await?,
        EndpointState::Rejected
    );

    // A third run changes nothing.
    let report = run(&ec2, &provider, &config, Trigger::Sweep, None).await?;
    assert_eq!(report.mutating_calls(), 0);
    Ok(())
}

#[tokio::test]
async fn throttling_is_retried_and_converges() -> Result<()> {
    let emulator = Emulator::shared();
    let (provider, consumer) = Provider::with_tenant(emulator).await?;
    let provider_account = provider.account.clone();
    let ours = connect_new(&consumer, &provider).await?;

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
    let config = approver(&provider, NonAllowlistedPolicy::Reject, false);
    let report = run(
        &provider_ec2(&provider_account),
        &provider,
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
async fn a_thousand_pending_connections_take_one_page_one_registry_read_and_one_accept(
) -> Result<()> {
    let emulator = Emulator::shared();
    let (provider, consumer) = Provider::with_tenant(emulator).await?;
    let provider_account = provider.account.clone();
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

    let config = approver(&provider, NonAllowlistedPolicy::Reject, false);
    let ec2 = provider_ec2(&provider_account);
    let report = run(&ec2, &provider, &config, Trigger::Sweep, None).await?;
    assert_eq!(report.records.len(), 1000);
    assert!(
        report.describe_pages <= 2,
        "{} pages",
        report.describe_pages
    );
    assert_eq!(report.registry_calls, 1, "one owner, one read");
    assert_eq!(report.accept_calls, 1, "accepts are batched");
    assert_eq!(report.accepted().len(), 1000);
    assert!(report.failed().is_empty(), "{:?}", report.failed());

    // Nothing waits any more: the next run lists nothing and reads nobody.
    let again = run(&ec2, &provider, &config, Trigger::Sweep, None).await?;
    assert_eq!(again.mutating_calls(), 0);
    assert_eq!(again.records.len(), 0);
    assert_eq!(again.registry_calls, 0);
    Ok(())
}

#[tokio::test]
async fn the_registry_refuses_expired_and_over_quota_tenants() -> Result<()> {
    let emulator = Emulator::shared();
    let (provider_account, expired, quota) = tokio::try_join!(
        Account::fresh(emulator),
        Account::fresh(emulator),
        Account::fresh(emulator)
    )?;
    let provider = Provider::create(&provider_account, &[&expired.id, &quota.id]).await?;
    provider
        .put_tenant(&Tenant {
            expires_at: Some(now_epoch() - 60),
            ..tenant(&expired)?
        })
        .await?;
    provider
        .put_tenant(&Tenant {
            max_endpoints: Some(1),
            ..tenant(&quota)?
        })
        .await?;
    let ec2 = provider_ec2(&provider_account);
    let config = approver(&provider, NonAllowlistedPolicy::Reject, false);

    // The quota'd tenant's first endpoint is accepted...
    let first = connect_new(&quota, &provider).await?;
    let report = run(&ec2, &provider, &config, Trigger::Sweep, None).await?;
    assert_eq!(report.accepted(), [first.as_str()]);
    wait_for_endpoint_state(&quota, &first, EndpointState::Available).await?;

    // ...its second is over the quota, and the expired tenant's refused.
    let second = connect_new(&quota, &provider).await?;
    let late = connect_new(&expired, &provider).await?;
    let report = run(&ec2, &provider, &config, Trigger::Sweep, None).await?;
    assert_eq!(reason_of(&report, &second), Some(Reason::OverQuota));
    assert_eq!(reason_of(&report, &late), Some(Reason::TenantExpired));
    assert_eq!(report.accepted(), Vec::<&str>::new());
    // The listing of requests, then the quota'd owner's live endpoints.
    assert_eq!(report.describe_pages, 2);
    assert_eq!(report.registry_calls, 1);
    assert_eq!(
        endpoint_state(&quota, &second).await?,
        EndpointState::Rejected
    );
    assert_eq!(
        endpoint_state(&expired, &late).await?,
        EndpointState::Rejected
    );
    // A quota never revokes what is live.
    assert_eq!(
        endpoint_state(&quota, &first).await?,
        EndpointState::Available
    );
    Ok(())
}

#[tokio::test]
async fn a_suspended_tenants_available_connection_is_revoked_only_when_revocation_is_on(
) -> Result<()> {
    let emulator = Emulator::shared();
    let (provider, consumer) = Provider::with_tenant(emulator).await?;
    let provider_account = provider.account.clone();
    let ours = connect_new(&consumer, &provider).await?;
    let ec2 = provider_ec2(&provider_account);

    let revoking = approver(&provider, NonAllowlistedPolicy::Reject, true);
    run(&ec2, &provider, &revoking, Trigger::Sweep, None).await?;
    wait_for_endpoint_state(&consumer, &ours, EndpointState::Available).await?;
    provider
        .set_tenant_status(&consumer.id, TenantStatus::Suspended)
        .await?;

    // Revocation off: a sweep lists only requests; a run over everything
    // decides to leave it.
    let keeping = approver(&provider, NonAllowlistedPolicy::Reject, false);
    let report = run(&ec2, &provider, &keeping, Trigger::Sweep, None).await?;
    assert_eq!(reason_of(&report, &ours), None);
    let report = reconcile(
        &ec2,
        &provider.registry(),
        &keeping,
        Trigger::Manual,
        None,
        Scope::All,
    )
    .await?;
    assert_eq!(
        reason_of(&report, &ours),
        Some(Reason::NotEntitledRevocationOff)
    );
    assert_eq!(report.mutating_calls(), 0);

    // Revocation on: the sweep rejects it.
    let report = run(&ec2, &provider, &revoking, Trigger::Sweep, None).await?;
    assert_eq!(report.rejected(), [ours.as_str()]);
    assert_eq!(reason_of(&report, &ours), Some(Reason::TenantSuspended));
    assert_eq!(
        endpoint_state(&consumer, &ours).await?,
        EndpointState::Rejected
    );
    Ok(())
}

#[tokio::test]
async fn an_unreadable_registry_decides_nothing_and_says_what_to_fix() -> Result<()> {
    let emulator = Emulator::shared();
    let (provider, consumer) = Provider::with_tenant(emulator).await?;
    let provider_account = provider.account.clone();
    let ours = connect_new(&consumer, &provider).await?;
    let ec2 = provider_ec2(&provider_account);

    let mut config = approver(&provider, NonAllowlistedPolicy::Reject, false);
    config.table = "no-such-tenants".into();
    let missing = Registry::new(provider_account.dynamodb(), config.table.clone());
    let error = reconcile(
        &ec2,
        &missing,
        &config,
        Trigger::Sweep,
        None,
        Scope::Pending,
    )
    .await
    .expect_err("the table does not exist");
    assert!(!error.is_transient(), "{error}");
    assert_eq!(error.error_type(), "Approver.RegistryUnreadable");
    assert_eq!(error.aws_error().kind, ErrorKind::NotFound, "{error}");
    let message = error.to_string();
    assert!(
        message.contains("no-such-tenants") && message.contains("check APPROVER_TABLE"),
        "{message}"
    );
    assert_eq!(
        endpoint_state(&consumer, &ours).await?,
        EndpointState::PendingAcceptance
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// A tenant suspended while a run is in flight
// ---------------------------------------------------------------------------

/// When, during the approver's run, the operator suspends the tenant (and,
/// for [`Race::RejectFirst`], runs the follow-up reconcile `tenants suspend`
/// runs after its write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Race {
    /// After the listing, before the registry read: the run reads the
    /// suspension and must not accept.
    BeforeTheRead,
    /// After the read (which said active), before the accept: the accept
    /// lands, then the follow-up rejects the accepted connection.
    AcceptFirst,
    /// After the read, and the follow-up runs to the end before the accept:
    /// it rejects the request, and the accept lands on a rejected connection.
    RejectFirst,
}

/// The provider's registry, with the operator's change made at the
/// [`Race`]'s moment of the first read with a key.
struct InFlight<'a> {
    provider: &'a Provider,
    ec2: &'a aws_sdk_ec2::Client,
    account: String,
    race: Race,
    done: AtomicBool,
    /// The follow-up's result, for [`Race::RejectFirst`].
    follow_up: Mutex<Option<Result<Report, ReconcileError>>>,
}

impl InFlight<'_> {
    async fn suspend(&self) -> Result<(), AwsError> {
        self.provider
            .set_tenant_status(&self.account, TenantStatus::Suspended)
            .await
            .map_err(|e| AwsError {
                operation: "PutItem",
                kind: ErrorKind::Other,
                code: None,
                message: Some(format!("{e:#}")),
                http_status: None,
                detail: format!("the test's suspension failed: {e:#}"),
            })?;
        Ok(())
    }
}

impl TenantSource for InFlight<'_> {
    async fn tenants(&self, accounts: &[String]) -> Result<(Vec<Tenant>, u32), AwsError> {
        let first = !accounts.is_empty() && !self.done.swap(true, Ordering::SeqCst);
        if first && self.race == Race::BeforeTheRead {
            self.suspend().await?;
        }
        let read = self.provider.registry().tenants(accounts).await?;
        if first && self.race != Race::BeforeTheRead {
            self.suspend().await?;
            if self.race == Race::RejectFirst {
                let report = follow_up(self.ec2, self.provider, &self.account).await;
                if let Ok(mut slot) = self.follow_up.lock() {
                    *slot = Some(report);
                }
            }
        }
        Ok(read)
    }
}

/// What `endpoint-service tenants suspend` runs after its write: the
/// tenant's connections only, revocation on.
async fn follow_up(
    ec2: &aws_sdk_ec2::Client,
    provider: &Provider,
    account: &str,
) -> Result<Report, ReconcileError> {
    reconcile(
        ec2,
        &provider.registry(),
        &approver(provider, NonAllowlistedPolicy::Reject, true),
        Trigger::Registry,
        None,
        Scope::Owners(vec![account.to_string()]),
    )
    .await
}

#[tokio::test]
async fn a_tenant_suspended_while_a_run_is_in_flight_ends_rejected_in_every_order() -> Result<()> {
    let emulator = Emulator::shared();
    for race in [Race::BeforeTheRead, Race::AcceptFirst, Race::RejectFirst] {
        let (provider, consumer) = Provider::with_tenant(emulator).await?;
        let provider_account = provider.account.clone();
        let ours = connect_new(&consumer, &provider).await?;
        let ec2 = provider_ec2(&provider_account);
        let registry = InFlight {
            provider: &provider,
            ec2: &ec2,
            account: consumer.id.clone(),
            race,
            done: AtomicBool::new(false),
            follow_up: Mutex::new(None),
        };

        // The Lambda's run for the Connect notification.
        let config = approver(&provider, NonAllowlistedPolicy::Reject, true);
        let trigger = Trigger::Sns(vec!["m-1".into()]);
        let scope = Scope::for_trigger(&trigger, &config);
        let report = reconcile(&ec2, &registry, &config, trigger, Some(&ours), scope)
            .await
            .with_context(|| format!("{race:?}: the approver's run"))?;
        let record = report
            .records
            .iter()
            .find(|r| r.endpoint_id == ours)
            .with_context(|| format!("{race:?}: no decision on {ours}"))?;
        let follow_up = match race {
            Race::BeforeTheRead => {
                // The read saw the suspension: no accept, ever.
                assert_eq!(
                    (record.decision, record.reason),
                    (Decision::Reject, Reason::TenantSuspended),
                    "{race:?}"
                );
                assert_eq!(report.accept_calls, 0, "{race:?}");
                None
            }
            Race::AcceptFirst => {
                // The read said active and the accept landed...
                assert_eq!(
                    (record.decision, &record.outcome),
                    (Decision::Accept, &Outcome::Applied),
                    "{race:?}"
                );
                // ...so the follow-up the suspension started finds it
                // accepted, and rejects it.
                Some(follow_up(&ec2, &provider, &consumer.id).await?)
            }
            Race::RejectFirst => {
                // The accept came after the follow-up's reject: AWS refused it.
                assert_eq!(record.decision, Decision::Accept, "{race:?}");
                assert!(
                    matches!(record.outcome, Outcome::Failed { .. }),
                    "{race:?}: {:?}",
                    record.outcome
                );
                let report = registry
                    .follow_up
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .take()
                    .context("the follow-up did not run")?;
                Some(report?)
            }
        };
        if let Some(report) = follow_up {
            assert_eq!(report.trigger, Trigger::Registry, "{race:?}");
            assert_eq!(report.rejected(), [ours.as_str()], "{race:?}");
            assert_eq!(
                reason_of(&report, &ours),
                Some(Reason::TenantSuspended),
                "{race:?}"
            );
            let before = report
                .records
                .iter()
                .find(|r| r.endpoint_id == ours)
                .and_then(|r| r.state_before.clone());
            if race == Race::RejectFirst {
                assert_eq!(before, Some(EndpointState::PendingAcceptance), "{race:?}");
            } else {
                // Accepted a moment ago: pending, or available already.
                assert!(
                    matches!(
                        before,
                        Some(EndpointState::Pending | EndpointState::Available)
                    ),
                    "{race:?}: {before:?}"
                );
            }
        }
        assert_eq!(
            endpoint_state(&consumer, &ours).await?,
            EndpointState::Rejected,
            "{race:?}"
        );
        // And it stays rejected: the emulator's accept-to-available window
        // passes, and a later sweep leaves a final state alone.
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        let sweep = run(&ec2, &provider, &config, Trigger::Sweep, None).await?;
        assert_eq!(sweep.mutating_calls(), 0, "{race:?}");
        assert_eq!(
            endpoint_state(&consumer, &ours).await?,
            EndpointState::Rejected,
            "{race:?}"
        );
    }
    Ok(())
}

/// A cross-region endpoint (AWS cross-Region PrivateLink): made in
/// `consumer`'s region to the provider's service in its home region.
async fn connect_from_region(consumer: &Account, provider: &Provider) -> Result<String> {
    let zones = privatelink_tests::fixtures::zones(consumer).await?;
    let (vpc_id, subnets) = vpc_with_subnets(consumer, "consumer", &[&zones[0].id]).await?;
    let created = consumer
        .ec2()
        .create_vpc_endpoint()
        .vpc_endpoint_type(aws_sdk_ec2::types::VpcEndpointType::Interface)
        .vpc_id(vpc_id)
        .service_name(&provider.service_name)
        .service_region(provider.account.region_name())
        .set_subnet_ids(Some(subnets))
        .private_dns_enabled(false)
        .send()
        .await
        .context("CreateVpcEndpoint with ServiceRegion")?;
    Ok(created
        .vpc_endpoint()
        .and_then(|e| e.vpc_endpoint_id())
        .context("no endpoint id")?
        .to_string())
}

#[tokio::test]
async fn a_tenant_limited_to_some_regions_is_refused_from_the_others_and_it_is_recorded(
) -> Result<()> {
    const REMOTE: &str = "us-west-2";
    let emulator = Emulator::shared();
    let (provider_account, consumer) =
        tokio::try_join!(Account::fresh(emulator), Account::fresh(emulator))?;
    let provider = Provider::create(&provider_account, &[&consumer.id]).await?;
    provider_account
        .ec2()
        .modify_vpc_endpoint_service_configuration()
        .service_id(&provider.service_id)
        .add_supported_regions(REMOTE)
        .send()
        .await
        .context("AddSupportedRegions")?;
    // The tenant may connect from the service's own region only.
    let home = provider_account.region_name().to_string();
    provider
        .put_tenant(&Tenant {
            allowed_regions: [home.clone()].into(),
            ..tenant(&consumer)?
        })
        .await?;
    let remote = consumer.in_region(REMOTE);
    let far = connect_from_region(&remote, &provider).await?;
    let near = connect_new(&consumer, &provider).await?;
    let ec2 = provider_ec2(&provider_account);
    let config = approver(&provider, NonAllowlistedPolicy::Reject, false);
    let report = run(&ec2, &provider, &config, Trigger::Sweep, None).await?;
    assert_eq!(report.accepted(), [near.as_str()]);
    assert_eq!(report.rejected(), [far.as_str()]);
    assert_eq!(reason_of(&report, &far), Some(Reason::RegionNotAllowed));
    let region_of = |id: &str| {
        report
            .records
            .iter()
            .find(|r| r.endpoint_id == id)
            .and_then(|r| r.consumer_region.clone())
    };
    assert_eq!(region_of(&far).as_deref(), Some(REMOTE));
    assert_eq!(region_of(&near), Some(home.clone()));
    // The history on the connections records the consumer's region.
    let (listed, _) = privatelink_core::approval::reconcile::list_connections_detailed(
        &ec2,
        &provider.service_id,
    )
    .await?;
    let last = |id: &str| {
        listed
            .iter()
            .find(|l| l.connection.endpoint_id == id)
            .and_then(|l| l.last.clone())
    };
    let far_last = last(&far).context("far recorded")?;
    assert_eq!(far_last.reason, "region_not_allowed");
    assert_eq!(far_last.region.as_deref(), Some(REMOTE));
    assert_eq!(
        last(&near).and_then(|l| l.region).as_deref(),
        Some(home.as_str())
    );

    // Allowed from REMOTE too: its next endpoint from there is accepted.
    let registry = provider.registry();
    let stored = registry.get(&consumer.id).await?.context("the tenant")?;
    registry
        .replace(
            &Tenant {
                allowed_regions: [home.clone(), REMOTE.to_string()].into(),
                ..stored
            },
            "test",
        )
        .await?;
    let again = connect_from_region(&remote, &provider).await?;
    let report = run(&ec2, &provider, &config, Trigger::Sweep, None).await?;
    assert_eq!(report.accepted(), [again.as_str()]);
    Ok(())
}

//! The compiled approver (the release `bootstrap` that goes into
//! `bootstrap.zip`) under cargo-lambda's Lambda Runtime API emulator, fed
//! the SNS envelope that the emulator's SNS delivered for a real connection
//! request, and acting on the emulator as the provider account, with its
//! tenant registry in the emulator's DynamoDB.
//!
//! Needs cargo-lambda (installed from PyPI by
//! `tests/tools/install-cargo-lambda.sh`, which this runs) and the release
//! build (`cargo lambda build --release`, run here when not up to date; the
//! first one takes several minutes). `PRIVATELINK_APPROVER_BOOTSTRAP` runs
//! another binary instead, e.g. `target/debug/approver-lambda`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use privatelink_core::approval::tenant::now_epoch;
use privatelink_core::approval::{AccountId, Tenant, TenantStatus};
use privatelink_core::state::EndpointState;
use privatelink_tests::bridge::sns_event;
use privatelink_tests::fixtures::{
    create_endpoint, endpoint_state, vpc_with_subnets, wait_for_endpoint_state, Provider,
};
use privatelink_tests::lambda_runtime::{
    approver_bootstrap, function_calls, queue_subscription_arn, FunctionSpec, LambdaRuntime,
};
use privatelink_tests::{Account, Emulator};
use serde_json::Value;

/// The binary, built once per test process (and the build is serialised
/// across processes by a lock file). Blocking, so off the async threads.
async fn bootstrap() -> Result<PathBuf> {
    static BOOTSTRAP: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    tokio::task::spawn_blocking(|| {
        BOOTSTRAP
            .get_or_init(|| approver_bootstrap().map_err(|e| format!("{e:#}")))
            .clone()
            .map_err(anyhow::Error::msg)
    })
    .await
    .context("the build task panicked")?
}

/// A consumer endpoint to the provider's service in its first zone.
async fn connect(consumer: &Account, provider: &Provider) -> Result<String> {
    let zone = provider.zones[0].id.clone();
    let (vpc_id, subnets) = vpc_with_subnets(consumer, "consumer", &[&zone]).await?;
    create_endpoint(consumer, &provider.service_name, &vpc_id, &subnets).await
}

/// The `SnsEvent` Lambda would get for the Connect notification of
/// `endpoint_id`: the envelope the emulator's SNS delivered to the
/// provider's queue, mapped to a Lambda record by the bridge. Returns the
/// event and the SNS message id.
async fn connect_notification(provider: &Provider, endpoint_id: &str) -> Result<(Value, String)> {
    let delivered = provider
        .drain_notifications(Duration::from_secs(15))
        .await?;
    let Some((envelope, _)) = delivered
        .iter()
        .find(|(_, body)| body["eventType"] == "Connect" && body["vpcEndpointId"] == endpoint_id)
    else {
        bail!("no Connect notification for {endpoint_id} was delivered: {delivered:?}");
    };
    let subscription = queue_subscription_arn(provider).await?;
    let event = sns_event(&envelope.to_string(), &subscription)?;
    let message_id = envelope["MessageId"]
        .as_str()
        .context("envelope without MessageId")?
        .to_string();
    // The approver must see it as an SNS event through the strict type, not
    // only through its lenient fallback.
    let typed: aws_lambda_events::event::sns::SnsEvent =
        serde_json::from_value(event.clone()).context("the SnsEvent type refuses the event")?;
    assert_eq!(typed.records[0].sns.message_id, message_id);
    Ok((event, message_id))
}

/// The function for `provider`'s service and registry, with `extra`
/// settings (which may override those).
fn start(bootstrap: &Path, provider: &Provider, extra: &[(&str, &str)]) -> Result<LambdaRuntime> {
    // Lambda's own retry policy (standard, 3 attempts).
    let mut env = vec![("AWS_MAX_ATTEMPTS", "3")];
    env.extend_from_slice(extra);
    LambdaRuntime::start(
        &FunctionSpec::approver_for(bootstrap, provider, &env),
        &provider.account,
    )
}

fn tenant(account: &Account) -> Result<Tenant> {
    Ok(Tenant::active(
        AccountId::parse(&account.id).map_err(|e| anyhow::anyhow!("{e}"))?,
        format!("tenant {}", account.id),
    ))
}

/// The JSON decision line for `endpoint_id`.
fn is_decision(line: &Value, endpoint_id: &str) -> bool {
    line["target"] == "approval::decision" && line["endpoint_id"] == endpoint_id
}

#[tokio::test]
async fn an_sns_notification_gets_a_tenant_accepted() -> Result<()> {
    let bootstrap = bootstrap().await?;
    let emulator = Emulator::shared();
    let (provider, consumer) = Provider::with_tenant(emulator).await?;
    let endpoint_id = connect(&consumer, &provider).await?;
    let (event, message_id) = connect_notification(&provider, &endpoint_id).await?;

    let runtime = start(&bootstrap, &provider, &[])?;
    let invoked = runtime.invoke(&event).await?;
    assert_eq!(invoked.status, 200, "{:?}", invoked.body);
    assert_eq!(invoked.body["status"], "reconciled", "{:?}", invoked.body);
    assert_eq!(invoked.body["accepted"], 1);
    assert_eq!(invoked.body["rejected"], 0);
    wait_for_endpoint_state(&consumer, &endpoint_id, EndpointState::Available).await?;

    // The raw notification was logged, then one JSON decision line.
    let received = runtime
        .wait_for_log("notification received", Duration::from_secs(5), |l| {
            l["message"] == "notification received" && l["message_id"] == message_id.as_str()
        })
        .await?;
    assert!(received["sns_message"]
        .as_str()
        .is_some_and(|m| m.contains(&endpoint_id)));
    let decision = runtime
        .wait_for_log("the decision", Duration::from_secs(5), |l| {
            is_decision(l, &endpoint_id)
        })
        .await?;
    assert_eq!(decision["decision"], "accept");
    assert_eq!(decision["reason"], "entitled_tenant");
    assert_eq!(decision["owner_account"], consumer.id.as_str());
    assert_eq!(decision["state_before"], "pendingAcceptance");
    assert_eq!(decision["trigger"], "sns");
    assert_eq!(decision["sns_message_ids"], message_id.as_str());
    assert_eq!(decision["dry_run"], false);
    assert_eq!(decision["outcome"], "applied");

    // The Accept notification our accept caused: a second run changes nothing.
    let invoked = runtime.invoke(&event).await?;
    assert_eq!(invoked.body["accepted"], 0, "{:?}", invoked.body);
    assert_eq!(
        endpoint_state(&consumer, &endpoint_id).await?,
        EndpointState::Available
    );
    Ok(())
}

#[tokio::test]
async fn a_consumer_that_is_not_a_tenant_is_rejected() -> Result<()> {
    let bootstrap = bootstrap().await?;
    let emulator = Emulator::shared();
    let (provider_account, outsider, listed) = tokio::try_join!(
        Account::fresh(emulator),
        Account::fresh(emulator),
        Account::fresh(emulator)
    )?;
    // The service lets the outsider connect; the registry does not.
    let provider = Provider::create(&provider_account, &[&outsider.id]).await?;
    provider.add_tenants(&[&listed.id]).await?;
    let endpoint_id = connect(&outsider, &provider).await?;
    let (event, _) = connect_notification(&provider, &endpoint_id).await?;

    let runtime = start(&bootstrap, &provider, &[])?;
    let invoked = runtime.invoke(&event).await?;
    assert_eq!(invoked.status, 200, "{:?}", invoked.body);
    assert_eq!(invoked.body["accepted"], 0, "{:?}", invoked.body);
    assert_eq!(invoked.body["rejected"], 1);
    assert_eq!(
        endpoint_state(&outsider, &endpoint_id).await?,
        EndpointState::Rejected
    );
    let decision = runtime
        .wait_for_log("the decision", Duration::from_secs(5), |l| {
            is_decision(l, &endpoint_id)
        })
        .await?;
    assert_eq!(decision["decision"], "reject");
    assert_eq!(decision["reason"], "not_a_tenant");
    assert_eq!(decision["owner_account"], outsider.id.as_str());
    Ok(())
}

#[tokio::test]
async fn an_invalid_configuration_fails_closed() -> Result<()> {
    let bootstrap = bootstrap().await?;
    let emulator = Emulator::shared();
    let (provider, consumer) = Provider::with_tenant(emulator).await?;
    let endpoint_id = connect(&consumer, &provider).await?;
    let (event, _) = connect_notification(&provider, &endpoint_id).await?;

    // The consumer is a tenant, but the table name is not one: the whole
    // configuration is refused, so nothing is accepted. The old allowlist
    // variable, naming the consumer, changes nothing.
    let runtime = start(
        &bootstrap,
        &provider,
        &[
            ("APPROVER_TABLE", "acme tenants"),
            ("APPROVER_ALLOWLIST", &consumer.id),
        ],
    )?;
    let invoked = runtime.invoke(&event).await?;
    assert_eq!(invoked.status, 500, "{:?}", invoked.body);
    assert_eq!(
        invoked.error_type(),
        Some("Approver.InvalidConfiguration"),
        "{:?}",
        invoked.body
    );
    let message = invoked.body["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("APPROVER_TABLE") && message.contains("acme tenants"),
        "the error must say what to fix: {message}"
    );
    let logged = runtime
        .wait_for_log("the configuration error", Duration::from_secs(5), |l| {
            l["level"] == "ERROR" && l["message"] == "invalid configuration"
        })
        .await?;
    assert!(logged["error"]
        .as_str()
        .is_some_and(|e| e.contains("APPROVER_TABLE")));
    assert!(
        !runtime
            .log_lines()
            .iter()
            .any(|l| l["target"] == "approval::decision"),
        "no decision may be made"
    );
    // Still pending after the emulator's accept-to-available window.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        endpoint_state(&consumer, &endpoint_id).await?,
        EndpointState::PendingAcceptance
    );
    Ok(())
}

/// `Filter.N.Name` → its `Filter.N.Value.M` values, from an EC2 query's
/// recorded params.
fn query_filters(params: &Value) -> BTreeMap<String, Vec<String>> {
    let mut names = BTreeMap::new();
    let Some(fields) = params.as_object() else {
        return names;
    };
    for (key, name) in fields {
        let Some(n) = key
            .strip_prefix("Filter.")
            .and_then(|k| k.strip_suffix(".Name"))
        else {
            continue;
        };
        let prefix = format!("Filter.{n}.Value.");
        let mut values: Vec<(u32, String)> = fields
            .iter()
            .filter_map(|(k, v)| {
                let index = k.strip_prefix(&prefix)?.parse().ok()?;
                Some((index, v.as_str()?.to_string()))
            })
            .collect();
        values.sort();
        names.insert(
            name.as_str().unwrap_or_default().to_string(),
            values.into_iter().map(|(_, v)| v).collect(),
        );
    }
    names
}

#[tokio::test]
async fn a_connect_event_costs_one_listing_one_registry_read_and_one_accept_among_many_connections(
) -> Result<()> {
    const LIVE: usize = 50;
    let bootstrap = bootstrap().await?;
    let emulator = Emulator::shared();
    let (provider_account, consumer, newcomer) = tokio::try_join!(
        Account::fresh(emulator),
        Account::fresh(emulator),
        Account::fresh(emulator)
    )?;
    let provider = Provider::create(&provider_account, &[&consumer.id, &newcomer.id]).await?;
    provider.add_tenants(&[&consumer.id, &newcomer.id]).await?;

    // LIVE accepted connections (accepted directly: set-up, not measured).
    let zone = provider.zones[0].id.clone();
    let (vpc_id, subnets) = vpc_with_subnets(&consumer, "consumer", &[&zone]).await?;
    let mut created = tokio::task::JoinSet::new();
    for _ in 0..LIVE {
        let (consumer, name, vpc_id, subnets) = (
            consumer.clone(),
            provider.service_name.clone(),
            vpc_id.clone(),
            subnets.clone(),
        );
        created.spawn(async move { create_endpoint(&consumer, &name, &vpc_id, &subnets).await });
    }
    let mut live = Vec::new();
    while let Some(done) = created.join_next().await {
        live.push(done??);
    }
    provider_account
        .ec2()
        .accept_vpc_endpoint_connections()
        .service_id(&provider.service_id)
        .set_vpc_endpoint_ids(Some(live.clone()))
        .send()
        .await
        .context("AcceptVpcEndpointConnections (set-up)")?;
    // Their notifications are not what this test is about.
    provider.drain_notifications(Duration::from_secs(5)).await?;

    // One new request, and its Connect notification.
    let ours = connect(&newcomer, &provider).await?;
    let (event, _) = connect_notification(&provider, &ours).await?;
    let runtime = start(&bootstrap, &provider, &[])?;
    let invoked = runtime.invoke(&event).await?;
    assert_eq!(invoked.status, 200, "{:?}", invoked.body);
    assert_eq!(invoked.body["accepted"], 1, "{:?}", invoked.body);
    assert_eq!(invoked.body["rejected"], 0, "{:?}", invoked.body);

    let calls = function_calls(emulator, &provider_account.id).await?;
    let actions: Vec<&str> = calls
        .iter()
        .map(|c| c["action"].as_str().unwrap_or_default())
        .collect();
    // Exactly these, whatever the number of connections: one narrow
    // listing, one registry read, one accept, and the accept's history.
    assert_eq!(
        actions,
        [
            "DescribeVpcEndpointConnections",
            "BatchGetItem",
            "AcceptVpcEndpointConnections",
            "CreateTags"
        ],
        "{calls:#?}"
    );
    let describe = query_filters(&calls[0]["params"]);
    assert_eq!(
        describe.get("vpc-endpoint-state"),
        Some(&vec!["pendingAcceptance".to_string()]),
        "{describe:?}"
    );
    assert_eq!(
        describe.get("service-id"),
        Some(&vec![provider.service_id.clone()]),
        "{describe:?}"
    );
    // The registry was asked for the newcomer only, strongly consistent.
    let request = &calls[1]["params"]["RequestItems"][provider.table.as_str()];
    assert_eq!(
        request["Keys"],
        serde_json::json!([{"account_id": {"S": newcomer.id}}]),
        "{request}"
    );
    assert_eq!(request["ConsistentRead"], true, "{request}");
    assert_eq!(calls[2]["params"]["VpcEndpointId.1"], ours.as_str());
    assert!(calls[2]["params"].get("VpcEndpointId.2").is_none());
    wait_for_endpoint_state(&newcomer, &ours, EndpointState::Available).await?;
    Ok(())
}

#[tokio::test]
async fn registry_refusals_are_logged_with_the_rule_that_refused() -> Result<()> {
    let bootstrap = bootstrap().await?;
    let emulator = Emulator::shared();
    let (provider_account, active, suspended, expired, stranger) = tokio::try_join!(
        Account::fresh(emulator),
        Account::fresh(emulator),
        Account::fresh(emulator),
        Account::fresh(emulator),
        Account::fresh(emulator)
    )?;
    let provider = Provider::create(
        &provider_account,
        &[&active.id, &suspended.id, &expired.id, &stranger.id],
    )
    .await?;
    provider.add_tenants(&[&active.id, &suspended.id]).await?;
    provider
        .set_tenant_status(&suspended.id, TenantStatus::Suspended)
        .await?;
    provider
        .put_tenant(&Tenant {
            expires_at: Some(now_epoch() - 60),
            ..tenant(&expired)?
        })
        .await?;
    let endpoints = [
        (
            &active,
            connect(&active, &provider).await?,
            "entitled_tenant",
        ),
        (
            &suspended,
            connect(&suspended, &provider).await?,
            "tenant_suspended",
        ),
        (
            &expired,
            connect(&expired, &provider).await?,
            "tenant_expired",
        ),
        (
            &stranger,
            connect(&stranger, &provider).await?,
            "not_a_tenant",
        ),
    ];
    // One notification is enough: the run decides every request waiting.
    let (event, _) = connect_notification(&provider, &endpoints[0].1).await?;
    let runtime = start(&bootstrap, &provider, &[])?;
    let invoked = runtime.invoke(&event).await?;
    assert_eq!(invoked.status, 200, "{:?}", invoked.body);
    assert_eq!(
        (&invoked.body["accepted"], &invoked.body["rejected"]),
        (&Value::from(1), &Value::from(3)),
        "{:?}",
        invoked.body
    );
    for (owner, endpoint_id, reason) in &endpoints {
        let decision = runtime
            .wait_for_log(reason, Duration::from_secs(5), |l| {
                is_decision(l, endpoint_id)
            })
            .await?;
        assert_eq!(decision["reason"], *reason, "{decision}");
        assert_eq!(decision["owner_account"], owner.id.as_str(), "{decision}");
        assert_eq!(decision["state_before"], "pendingAcceptance", "{decision}");
        assert_eq!(decision["outcome"], "applied", "{decision}");
        let expected = if *reason == "entitled_tenant" {
            "accept"
        } else {
            "reject"
        };
        assert_eq!(decision["decision"], expected, "{decision}");
        // The same reason, in the record written as JSON.
        let record: Value = serde_json::from_str(decision["record"].as_str().unwrap_or_default())?;
        assert_eq!(record["reason"], *reason, "{record}");
    }
    for (owner, endpoint_id, reason) in &endpoints[1..] {
        assert_eq!(
            endpoint_state(owner, endpoint_id).await?,
            EndpointState::Rejected,
            "{reason}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_missing_registry_table_is_logged_with_what_to_fix_and_accepts_nothing() -> Result<()> {
    let bootstrap = bootstrap().await?;
    let emulator = Emulator::shared();
    let (provider, consumer) = Provider::with_tenant(emulator).await?;
    let endpoint_id = connect(&consumer, &provider).await?;
    let (event, _) = connect_notification(&provider, &endpoint_id).await?;

    let runtime = start(
        &bootstrap,
        &provider,
        &[("APPROVER_TABLE", "no-such-tenants")],
    )?;
    let invoked = runtime.invoke(&event).await?;
    // Retrying would not help: logged, and the invocation succeeds.
    assert_eq!(invoked.status, 200, "{:?}", invoked.body);
    assert_eq!(
        invoked.body["status"], "permanent_error",
        "{:?}",
        invoked.body
    );
    let detail = invoked.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("no-such-tenants") && detail.contains("check APPROVER_TABLE"),
        "{detail}"
    );
    let logged = runtime
        .wait_for_log("the registry error", Duration::from_secs(5), |l| {
            l["level"] == "ERROR" && l["error_type"] == "Approver.RegistryUnreadable"
        })
        .await?;
    assert_eq!(logged["table"], "no-such-tenants", "{logged}");
    assert_eq!(logged["aws_code"], "ResourceNotFoundException", "{logged}");
    assert!(
        !runtime
            .log_lines()
            .iter()
            .any(|l| l["target"] == "approval::decision"),
        "no decision may be made without the registry"
    );
    assert_eq!(
        endpoint_state(&consumer, &endpoint_id).await?,
        EndpointState::PendingAcceptance
    );
    Ok(())
}

//! The compiled approver (the release `bootstrap` that goes into
//! `bootstrap.zip`) under cargo-lambda's Lambda Runtime API emulator, fed
//! the SNS envelope that the emulator's SNS delivered for a real connection
//! request, and acting on the emulator as the provider account.
//!
//! Needs cargo-lambda (installed from PyPI by
//! `tests/tools/install-cargo-lambda.sh`, which this runs) and the release
//! build (`cargo lambda build --release`, run here when not up to date; the
//! first one takes several minutes). `PRIVATELINK_APPROVER_BOOTSTRAP` runs
//! another binary instead, e.g. `target/debug/approver-lambda`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use privatelink_core::state::EndpointState;
use privatelink_tests::bridge::sns_event;
use privatelink_tests::fixtures::{
    create_endpoint, endpoint_state, vpc_with_subnets, wait_for_endpoint_state, Provider,
};
use privatelink_tests::lambda_runtime::{
    approver_bootstrap, queue_subscription_arn, FunctionSpec, LambdaRuntime,
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

fn start(bootstrap: &Path, provider: &Provider, allowlist: &str) -> Result<LambdaRuntime> {
    let spec = FunctionSpec::approver(
        bootstrap,
        &[
            ("APPROVER_SERVICE_ID", &provider.service_id),
            ("APPROVER_ALLOWLIST", allowlist),
            // Lambda's own retry policy (standard, 3 attempts).
            ("AWS_MAX_ATTEMPTS", "3"),
        ],
    );
    LambdaRuntime::start(&spec, &provider.account)
}

/// The JSON decision line for `endpoint_id`.
fn is_decision(line: &Value, endpoint_id: &str) -> bool {
    line["target"] == "approval::decision" && line["endpoint_id"] == endpoint_id
}

#[tokio::test]
async fn an_sns_notification_gets_an_allowlisted_consumer_accepted() -> Result<()> {
    let bootstrap = bootstrap().await?;
    let emulator = Emulator::shared();
    let (provider_account, consumer) =
        tokio::try_join!(Account::fresh(emulator), Account::fresh(emulator))?;
    let provider = Provider::create(&provider_account, &[&consumer.id]).await?;
    let endpoint_id = connect(&consumer, &provider).await?;
    let (event, message_id) = connect_notification(&provider, &endpoint_id).await?;

    let runtime = start(&bootstrap, &provider, &consumer.id)?;
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
    assert_eq!(decision["reason"], "allowlisted_request");
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
async fn a_consumer_not_on_the_allowlist_is_rejected() -> Result<()> {
    let bootstrap = bootstrap().await?;
    let emulator = Emulator::shared();
    let (provider_account, outsider, listed) = tokio::try_join!(
        Account::fresh(emulator),
        Account::fresh(emulator),
        Account::fresh(emulator)
    )?;
    // The service lets the outsider connect; the approver does not.
    let provider = Provider::create(&provider_account, &[&outsider.id]).await?;
    let endpoint_id = connect(&outsider, &provider).await?;
    let (event, _) = connect_notification(&provider, &endpoint_id).await?;

    let runtime = start(&bootstrap, &provider, &listed.id)?;
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
    assert_eq!(decision["reason"], "not_allowlisted_reject_policy");
    assert_eq!(decision["owner_account"], outsider.id.as_str());
    Ok(())
}

#[tokio::test]
async fn an_invalid_configuration_fails_closed() -> Result<()> {
    let bootstrap = bootstrap().await?;
    let emulator = Emulator::shared();
    let (provider_account, consumer) =
        tokio::try_join!(Account::fresh(emulator), Account::fresh(emulator))?;
    let provider = Provider::create(&provider_account, &[&consumer.id]).await?;
    let endpoint_id = connect(&consumer, &provider).await?;
    let (event, _) = connect_notification(&provider, &endpoint_id).await?;

    // The consumer is listed, but next to an entry that is not an account
    // id: the whole configuration is refused, so nothing is accepted.
    let allowlist = format!("{},12345", consumer.id);
    let runtime = start(&bootstrap, &provider, &allowlist)?;
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
        message.contains("APPROVER_ALLOWLIST") && message.contains("12345"),
        "the error must say what to fix: {message}"
    );
    let logged = runtime
        .wait_for_log("the configuration error", Duration::from_secs(5), |l| {
            l["level"] == "ERROR" && l["message"] == "invalid configuration"
        })
        .await?;
    assert!(logged["error"]
        .as_str()
        .is_some_and(|e| e.contains("APPROVER_ALLOWLIST")));
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

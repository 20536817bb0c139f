//! `cargo bench --workspace --bench registry`: what the tenant
//! registry costs the approver, against the local emulator (its own server,
//! so the call log holds only this run). Printed figures, not a timed test.
//!
//! Set-up: 10,000 tenants in the registry (imported with the registry's
//! transactional writes: the figure for `tenants import`), and
//! `PRIVATELINK_BENCH_CONNECTIONS` connections (default 2,000) from 200
//! consumer accounts that are tenants.
//!
//! - AWS calls of one Connect event (one new request, reconciled as the
//!   Lambda does: pending-only listing, one registry read, one accept) when
//!   10 % of the connections exist and when all of them do: must not grow.
//! - AWS calls of a sweep: revocation off (pending only) and on (everything).
//! - Approver time per event (median of `EVENTS`), the registry version
//!   (10,000 tenants in DynamoDB) against the environment-variable version
//!   it replaces (300 accounts in memory, every connection listed), in the
//!   same run on the same service.
//! - `tenants import` of 10,000 rows: calls and wall time.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use privatelink_core::approval::{
    reconcile, AccountId, ApproverConfig, NonAllowlistedPolicy, Report, Scope, StaticTenants,
    Tenant, TenantSource, Trigger,
};
use privatelink_registry::{transfer, Write};
use privatelink_tests::fixtures::{create_endpoint, vpc_with_subnets, Provider};
use privatelink_tests::{Account, Emulator};
use serde_json::json;
use tokio::task::JoinSet;

const TENANTS: usize = 10_000;
const CONSUMERS: usize = 200;
/// The most account ids the environment variable could hold (4 KB).
const ENV_TENANTS: usize = 300;
const EVENTS: usize = 15;
/// Endpoints created at once.
const PARALLEL: usize = 16;

struct Consumer {
    account: Account,
    vpc_id: String,
    subnet_ids: Vec<String>,
}

fn main() -> Result<()> {
    let connections: usize = std::env::var("PRIVATELINK_BENCH_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(run(connections))
}

/// Calls recorded by the emulator since the last clear, by action.
async fn calls(emulator: &Emulator) -> Result<BTreeMap<String, usize>> {
    let log = emulator.calls().await?;
    let mut by_action = BTreeMap::new();
    for call in log["calls"].as_array().context("calls")? {
        let action = call["action"].as_str().unwrap_or("?").to_string();
        *by_action.entry(action).or_insert(0) += 1;
    }
    Ok(by_action)
}

fn describe(by_action: &BTreeMap<String, usize>) -> String {
    let total: usize = by_action.values().sum();
    let parts: Vec<String> = by_action.iter().map(|(a, n)| format!("{n} {a}")).collect();
    format!("{total} ({})", parts.join(", "))
}

/// Creates `count` endpoints, spread over the consumers, `PARALLEL` at once.
async fn endpoints(
    consumers: &[Consumer],
    service_name: &str,
    count: usize,
    offset: usize,
) -> Result<()> {
    let mut set = JoinSet::new();
    for i in 0..count {
        let c = &consumers[(offset + i) % consumers.len()];
        let (account, vpc, subnets, name) = (
            c.account.clone(),
            c.vpc_id.clone(),
            c.subnet_ids.clone(),
            service_name.to_string(),
        );
        set.spawn(async move { create_endpoint(&account, &name, &vpc, &subnets).await });
        if set.len() >= PARALLEL {
            set.join_next().await.context("join")???;
        }
        if i > 0 && i % 250 == 0 {
            eprintln!("registry bench:   {i} of {count} endpoints created");
        }
    }
    while let Some(done) = set.join_next().await {
        done??;
    }
    Ok(())
}

/// Accepts every waiting request directly (set-up, not measured).
async fn accept_all(provider: &Provider) -> Result<()> {
    let ids: Vec<String> = provider
        .connections()
        .await?
        .iter()
        .filter(|c| c.vpc_endpoint_state().map(|s| s.as_str()) == Some("pendingAcceptance"))
        .filter_map(|c| c.vpc_endpoint_id().map(str::to_string))
        .collect();
    for chunk in ids.chunks(1000) {
        provider
            .account
            .ec2()
            .accept_vpc_endpoint_connections()
            .service_id(&provider.service_id)
            .set_vpc_endpoint_ids(Some(chunk.to_vec()))
            .send()
            .await
            .context("AcceptVpcEndpointConnections")?;
    }
    Ok(())
}

fn config(provider: &Provider, revoke: bool) -> ApproverConfig {
    ApproverConfig {
        service_id: provider.service_id.clone(),
        table: provider.table.clone(),
        table_region: None,
        non_allowlisted: NonAllowlistedPolicy::Reject,
        revoke,
        dry_run: false,
    }
}

/// One Connect event's reconcile, as the Lambda runs it.
async fn event(provider: &Provider, registry: &impl TenantSource, scope: Scope) -> Result<Report> {
    reconcile(
        &provider.account.ec2(),
        registry,
        &config(provider, false),
        Trigger::Sns(vec!["bench".into()]),
        None,
        scope,
    )
    .await
    .context("reconcile")
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn run(connections: usize) -> Result<()> {
    let started = Instant::now();
    eprintln!("registry bench: starting an emulator of its own");
    let emulator = Emulator::start()?;
    emulator.configure(json!({"pending_seconds": 0.0})).await?;
    let provider_account = Account::fresh(&emulator).await?;

    eprintln!("registry bench: {CONSUMERS} consumer accounts");
    let mut consumers = Vec::new();
    let provider = Provider::create(&provider_account, &[]).await?;
    let zone = provider.zones[0].id.clone();
    for i in 0..CONSUMERS {
        let account = Account::fresh(&emulator).await?;
        let (vpc_id, subnet_ids) =
            vpc_with_subnets(&account, &format!("c{i}"), &[zone.as_str()]).await?;
        consumers.push(Consumer {
            account,
            vpc_id,
            subnet_ids,
        });
    }
    // The service allows every consumer (the principals follow the registry).
    let arns: Vec<String> = consumers
        .iter()
        .map(|c| format!("arn:aws:iam::{}:root", c.account.id))
        .collect();
    for chunk in arns.chunks(100) {
        provider_account
            .ec2()
            .modify_vpc_endpoint_service_permissions()
            .service_id(&provider.service_id)
            .set_add_allowed_principals(Some(chunk.to_vec()))
            .send()
            .await?;
    }

    // 10,000 tenants: the consumers plus made-up accounts.
    let mut tenants: Vec<Tenant> = consumers
        .iter()
        .map(|c| {
            Tenant::active(
                AccountId::parse(&c.account.id).expect("12 digits"),
                "consumer",
            )
        })
        .collect();
    tenants.extend((tenants.len()..TENANTS).map(|n| {
        Tenant::active(
            AccountId::parse(&format!("{:012}", 300_000_000_000u64 + n as u64)).expect("12 digits"),
            format!("tenant {n}"),
        )
    }));
    let csv = transfer::to_csv(&tenants);
    let registry = provider.registry();
    emulator.clear_calls().await?;
    let import_started = Instant::now();
    let rows = transfer::parse_csv(&csv).map_err(|p| anyhow::anyhow!("{p:?}"))?;
    let writes: Vec<Write> = rows.into_iter().map(Write::Create).collect();
    let import_calls = registry.write_all(&writes, "bench").await?;
    let import_time = import_started.elapsed();
    let import_log = calls(&emulator).await?;

    // 10 % of the connections, all accepted, then one new request.
    let tenth = connections / 10;
    eprintln!("registry bench: {tenth} connections (10 %)");
    endpoints(&consumers, &provider.service_name, tenth, 0).await?;
    accept_all(&provider).await?;
    endpoints(&consumers, &provider.service_name, 1, tenth).await?;
    emulator.clear_calls().await?;
    let at_tenth = event(&provider, &registry, Scope::Pending).await?;
    let calls_tenth = calls(&emulator).await?;
    anyhow::ensure!(
        at_tenth.accepted().len() == 1,
        "the request at 10 % was not accepted"
    );

    eprintln!("registry bench: {connections} connections (100 %)");
    endpoints(
        &consumers,
        &provider.service_name,
        connections - tenth - 1,
        tenth + 1,
    )
    .await?;
    accept_all(&provider).await?;
    endpoints(&consumers, &provider.service_name, 1, connections).await?;
    emulator.clear_calls().await?;
    let at_full = event(&provider, &registry, Scope::Pending).await?;
    let calls_full = calls(&emulator).await?;
    anyhow::ensure!(
        at_full.accepted().len() == 1,
        "the request at 100 % was not accepted"
    );

    emulator.clear_calls().await?;
    event(&provider, &registry, Scope::Pending).await?;
    let sweep_pending = calls(&emulator).await?;
    emulator.clear_calls().await?;
    reconcile(
        &provider.account.ec2(),
        &registry,
        &config(&provider, true),
        Trigger::Sweep,
        None,
        Scope::All,
    )
    .await?;
    let sweep_all = calls(&emulator).await?;

    // Time per event: the registry against the environment variable, each
    // event one new request from a consumer.
    let env_tenants = StaticTenants::new(tenants.iter().take(ENV_TENANTS).cloned());
    let mut registry_times = Vec::new();
    let mut env_times = Vec::new();
    for i in 0..EVENTS {
        for (side, times) in [(0, &mut registry_times), (1, &mut env_times)] {
            endpoints(
                &consumers,
                &provider.service_name,
                1,
                connections + 1 + 2 * i + side,
            )
            .await?;
            let t = Instant::now();
            let report = if side == 0 {
                event(&provider, &registry, Scope::Pending).await?
            } else {
                // What the approver did before: every connection listed,
                // the allowlist from the environment.
                event(&provider, &env_tenants, Scope::All).await?
            };
            times.push(t.elapsed());
            anyhow::ensure!(
                report.accepted().len() == 1,
                "event {i} side {side}: not accepted"
            );
        }
    }
    let registry_event = median(registry_times);
    let env_event = median(env_times);

    let mut out = String::new();
    out += &format!(
        "\nregistry bench: {TENANTS} tenants, {connections} connections from {CONSUMERS} accounts \
         (emulator on 127.0.0.1; set-up and run {:.0} s)\n\n",
        started.elapsed().as_secs_f64()
    );
    out += "| measure | figure |\n|---|---|\n";
    out += &format!(
        "| AWS calls per Connect event, {tenth} connections (10 %) | {} |\n",
        describe(&calls_tenth)
    );
    out += &format!(
        "| AWS calls per Connect event, {connections} connections (100 %) | {} |\n",
        describe(&calls_full)
    );
    out += &format!(
        "| AWS calls per sweep, revocation off (nothing waiting) | {} |\n",
        describe(&sweep_pending)
    );
    out += &format!(
        "| AWS calls per sweep, revocation on ({connections} connections, {CONSUMERS} owners) | {} |\n",
        describe(&sweep_all)
    );
    out += &format!(
        "| approver time per event, registry ({TENANTS} tenants, pending-only listing) | {:.1} ms (median of {EVENTS}) |\n",
        registry_event.as_secs_f64() * 1e3
    );
    out += &format!(
        "| approver time per event, environment variable ({ENV_TENANTS} accounts, full listing) | {:.1} ms (median of {EVENTS}) |\n",
        env_event.as_secs_f64() * 1e3
    );
    out += &format!(
        "| ratio registry / environment variable | {:.2} |\n",
        registry_event.as_secs_f64() / env_event.as_secs_f64()
    );
    out += &format!(
        "| tenants import of {TENANTS} rows (CSV parse + conditional transactional writes) | {:.2} s, {import_calls} TransactWriteItems ({}) |\n",
        import_time.as_secs_f64(),
        describe(&import_log)
    );
    let same = calls_tenth == calls_full;
    out += &format!(
        "\ncalls per Connect event at 10 % and 100 %: {}\n",
        if same {
            "equal (does not grow)"
        } else {
            "DIFFERENT"
        }
    );
    print!("{out}");
    anyhow::ensure!(
        same,
        "the calls per Connect event grew with the connections"
    );
    Ok(())
}

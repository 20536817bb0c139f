//! The end-to-end flow against real AWS (issue 12, "live mode").
//!
//! Runs only when four environment variables name three AWS profiles and a
//! region; otherwise it prints one line saying it was skipped and why, and
//! exits 0 without claiming a pass (this file is its own test harness,
//! `harness = false`, so there is no "1 passed"):
//!
//! ```sh
//! PRIVATELINK_LIVE_VENDOR_PROFILE=vendor \
//! PRIVATELINK_LIVE_CUSTOMER_PROFILE=customer-a \
//! PRIVATELINK_LIVE_OTHER_PROFILE=customer-b \
//! PRIVATELINK_LIVE_REGION=us-east-1 \
//!   cargo test -p privatelink-tests --test live
//! ```
//!
//! The same flow as the demo (`privatelink_tests::demo`), with what differs on
//! real AWS: no emulator and no bridge (the real approver package is deployed
//! by `up`, and the connection notification reaches it through SNS), the
//! customers' VPCs are created here (tagged `privatelink-tests=RUN`, subnets
//! in the service's AZ IDs) and deleted at the end, and there is no HTTPS
//! stand-in behind the NLB (the target is a placeholder address). So it
//! checks what can be checked from outside the VPCs (see [`check_connection`])
//! and says what it cannot.
//!
//! It prints what it will create and what that costs before creating
//! anything, and tears everything down on every way out: success, failure,
//! panic, timeout or Ctrl-C (`consumer-cli disconnect` for both customers,
//! `endpoint-service down --force`, then the test VPCs), and finally lists
//! anything it could not delete.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use aws_sdk_ec2::types::Filter;
use privatelink_tests::demo::{
    self, connection_of, recorded_decision, string_at, wait_for_pending_review_within,
    write_stack_config, DemoOptions, StackConfig, DNS_NAME,
};
use privatelink_tests::fixtures;
use privatelink_tests::Account;
use serde_json::Value;

const VENDOR: &str = "PRIVATELINK_LIVE_VENDOR_PROFILE";
const CUSTOMER: &str = "PRIVATELINK_LIVE_CUSTOMER_PROFILE";
const OTHER: &str = "PRIVATELINK_LIVE_OTHER_PROFILE";
const REGION: &str = "PRIVATELINK_LIVE_REGION";

/// The tag key `fixtures::vpc_with_subnets` puts on the VPCs and subnets it
/// makes; the value is this run's name.
const VPC_TAG: &str = "privatelink-tests";

/// List prices in us-east-1 (other regions differ by a few percent): the
/// Network Load Balancer per hour, one NLCU per hour (an idle NLB is billed
/// at most one), an interface endpoint per AZ per hour. Every started hour
/// is billed as a full hour.
const NLB_HOUR: f64 = 0.0225;
const NLCU_HOUR: f64 = 0.006;
const ENDPOINT_AZ_HOUR: f64 = 0.01;

/// Time limits: the whole flow, and each wait inside it.
const FLOW_LIMIT: Duration = Duration::from_secs(60 * 60);
const REVIEW_LIMIT: Duration = Duration::from_secs(15 * 60);
const VPC_DELETE_LIMIT: Duration = Duration::from_secs(10 * 60);

fn main() -> ExitCode {
    // libtest's `--list` (IDEs, runners): this harness lists nothing.
    if std::env::args().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    let names = [VENDOR, CUSTOMER, OTHER, REGION];
    let values: Vec<Option<String>> = names
        .iter()
        .map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
        .collect();
    let set = values.iter().filter(|v| v.is_some()).count();
    if set == 0 {
        println!(
            "live end-to-end test SKIPPED (not run, not passed): set {} to run it against real AWS, see README \"Live mode\"",
            names.join(", ")
        );
        return ExitCode::SUCCESS;
    }
    if set < names.len() {
        let missing: Vec<&str> = names
            .iter()
            .zip(&values)
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| *n)
            .collect();
        eprintln!(
            "live end-to-end test: {} not set; set all four variables (or none, to skip)",
            missing.join(", ")
        );
        return ExitCode::FAILURE;
    }
    let values: Vec<String> = values.into_iter().flatten().collect();
    let settings = Settings {
        vendor: values[0].clone(),
        customer: values[1].clone(),
        other: values[2].clone(),
        region: values[3].clone(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("live end-to-end test: starting tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(live(settings)) {
        Ok(()) => {
            println!("\nlive end-to-end test PASSED");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\nlive end-to-end test FAILED: {e:#}");
            ExitCode::FAILURE
        }
    }
}

struct Settings {
    vendor: String,
    customer: String,
    other: String,
    region: String,
}

/// Everything the run knows, shared with the teardown.
struct Live {
    region: String,
    vendor: Account,
    customer: Account,
    other: Account,
    /// `pl-live-XXXXXX`: the stack name and the VPC tag value.
    run: String,
    workdir: PathBuf,
    created: Mutex<Created>,
    start: Instant,
}

/// What exists (or may exist) so far: what the teardown must remove.
#[derive(Debug, Default)]
struct Created {
    /// Set just before `up` runs (a failed `up` can leave a partial stack).
    stack_config: Option<PathBuf>,
    service_name: Option<String>,
    /// Customer VPCs by account id (also found again by tag).
    vpcs: Vec<(String, String)>,
    /// Customer VPCs a `connect` ran for (what `disconnect` must undo).
    connected: Vec<(String, String)>,
    /// Private hosted zones `connect` reported, by account id.
    zones: Vec<(String, String)>,
}

impl Live {
    fn say(&self, text: &str) {
        println!("\n[{:>6.0}s] {text}", self.start.elapsed().as_secs_f64());
    }
    fn detail(&self, text: &str) {
        println!("          {text}");
    }
    fn created(&self) -> std::sync::MutexGuard<'_, Created> {
        self.created.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn customers(&self) -> [&Account; 2] {
        [&self.customer, &self.other]
    }
    fn account(&self, id: &str) -> Option<&Account> {
        [&self.vendor, &self.customer, &self.other]
            .into_iter()
            .find(|a| a.id == id)
    }
}

async fn live(settings: Settings) -> Result<()> {
    let start = Instant::now();
    println!(
        "live end-to-end test against real AWS, region {}",
        settings.region
    );
    let vendor = Account::from_profile(&settings.vendor, &settings.region).await?;
    let customer = Account::from_profile(&settings.customer, &settings.region).await?;
    let other = Account::from_profile(&settings.other, &settings.region).await?;
    ensure!(
        vendor.id != customer.id && vendor.id != other.id && customer.id != other.id,
        "the three profiles must be three different accounts (vendor {}, customer {}, other {})",
        vendor.id,
        customer.id,
        other.id
    );
    let suffix = format!(
        "{:06x}",
        (std::process::id() as u64 ^ start.elapsed().as_nanos() as u64 ^ now_secs()) & 0xff_ffff
    );
    let run = format!("pl-live-{suffix}");
    let workdir = std::env::temp_dir().join(&run);
    std::fs::create_dir_all(&workdir)?;
    let live = Arc::new(Live {
        region: settings.region.clone(),
        vendor,
        customer,
        other,
        run,
        workdir,
        created: Mutex::new(Created::default()),
        start,
    });

    let zones = fixtures::zones(&live.vendor)
        .await
        .context("listing the vendor's Availability Zones")?;
    print_plan(&live, &settings, zones.len());

    // From here on everything created is removed on every way out.
    let mut guard = Guard {
        live: Some(Arc::clone(&live)),
    };
    let mut task = {
        let live = Arc::clone(&live);
        tokio::spawn(async move { flow(&live).await })
    };
    // Ctrl-C is handled from here on (also during the teardown, which a
    // second Ctrl-C therefore does not stop).
    let (outcome, finished) = tokio::select! {
        joined = tokio::time::timeout(FLOW_LIMIT, &mut task) => match joined {
            Ok(Ok(result)) => (result, true),
            Ok(Err(join)) => (Err(anyhow!("the flow panicked: {join}")), true),
            Err(_) => (
                Err(anyhow!("the flow did not finish within {} minutes", FLOW_LIMIT.as_secs() / 60)),
                false,
            ),
        },
        _ = tokio::signal::ctrl_c() => (Err(anyhow!("interrupted (Ctrl-C)")), false),
    };
    if !finished {
        // Stops the running command too (its child process is killed on drop).
        task.abort();
        let _ = task.await;
    }
    if let Err(e) = &outcome {
        live.say(&format!("the flow stopped: {e:#}; tearing down"));
    }
    let done = teardown(&live).await;
    guard.live = None;
    report_teardown(&live, &done);
    let left = done.left;
    let _ = std::fs::remove_dir_all(&live.workdir);
    println!(
        "\ntotal time: {:.1} minutes",
        live.start.elapsed().as_secs_f64() / 60.0
    );
    match (outcome, left.is_empty()) {
        (Ok(()), true) => Ok(()),
        (Ok(()), false) => bail!(
            "the flow passed, but {} item(s) were left behind",
            left.len()
        ),
        (Err(e), _) => Err(e),
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What the run creates and what it costs, before anything is created.
fn print_plan(live: &Live, settings: &Settings, azs: usize) {
    let per_hour = NLB_HOUR + NLCU_HOUR + 2.0 * azs as f64 * ENDPOINT_AZ_HOUR;
    println!(
        "\nAccounts: vendor {} (profile {}), tenant customer {} (profile {}), other customer {} (profile {}).",
        live.vendor.id,
        settings.vendor,
        live.customer.id,
        settings.customer,
        live.other.id,
        settings.other
    );
    println!(
        "\nThis run creates, in {} (run name {}):",
        live.region, live.run
    );
    println!(
        "  vendor:    `endpoint-service up` stack {}: a VPC 10.0.0.0/16 with a subnet in each of the {azs} AZs,\n             \
         an internal NLB with one listener (port 443) and target group (target 10.0.0.10, a placeholder:\n             \
         nothing listens there, so it stays unhealthy), the endpoint service (acceptance required; allowed\n             \
         principals: the customer and `*`, so that the other account can request), an SNS topic and the\n             \
         connection notification, the approver Lambda (this checkout's cargo-lambda build) with its IAM role,\n             \
         and an EventBridge rule for its sweep",
        live.run
    );
    for (who, account) in [("customer:", &live.customer), ("other:", &live.other)] {
        println!(
            "  {who:<10} account {}: a VPC 10.0.0.0/16 tagged {VPC_TAG}={} with a subnet in each of the service's\n             \
             AZ IDs; `consumer-cli connect`: a security group, an interface endpoint and a private hosted zone\n             \
             {DNS_NAME} with an alias record",
            account.id, live.run
        );
    }
    println!(
        "\nEstimated cost: about ${per_hour:.2} for the run (one started hour of: the NLB ${NLB_HOUR}/h plus at most\n\
         one NLCU ${NLCU_HOUR}/h; 2 interface endpoints x {azs} AZs x ${ENDPOINT_AZ_HOUR}/h). Assumptions: us-east-1 list\n\
         prices (other regions differ slightly), every started hour billed in full, the run ends within the\n\
         hour (about 20 to 40 minutes: the NLB takes minutes to provision and to delete), no data through the\n\
         endpoints. Hosted zones deleted within 12 hours are not charged; Lambda, SNS, EventBridge and\n\
         CloudWatch Logs stay within cents. Anything left behind keeps costing about ${per_hour:.2} per hour."
    );
}

/// A spawned task that is aborted when its handle goes away.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs teardown when dropped without it (a panic outside the flow task).
struct Guard {
    live: Option<Arc<Live>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let Some(live) = self.live.take() else {
            return;
        };
        eprintln!("live end-to-end test: leaving early, tearing down first");
        let handle = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime for the teardown");
            let done = runtime.block_on(teardown(&live));
            report_teardown(&live, &done);
        });
        let _ = handle.join();
    }
}

async fn flow(live: &Live) -> Result<()> {
    live.say("1. Building the approver package (cargo lambda build --release)");
    let package = DemoOptions::build(live.workdir.clone(), false)?.lambda_zip;
    live.detail(&format!("package: {}", package.display()));

    live.say("2. Vendor: `endpoint-service up` (the NLB takes a few minutes)");
    let config = live.workdir.join("stack.toml");
    write_stack_config(
        &config,
        &StackConfig {
            stack: &live.run,
            region: &live.region,
            port: 443,
            allowlisted: &live.customer.id,
            package: &package,
            // A placeholder target: the live test checks the control plane only.
            gateway: None,
        },
    )?;
    live.created().stack_config = Some(config.clone());
    let up = cli(
        &live.vendor,
        "endpoint-service",
        &["up", "--config", demo::path_str(&config)?],
    )
    .await?;
    live.detail(&format!(
        "up made {} changes with {} AWS calls in {:.0} s",
        up.get("changes")
            .and_then(Value::as_array)
            .map_or(0, Vec::len),
        up.pointer("/calls/total")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        up.get("seconds").and_then(Value::as_f64).unwrap_or(0.0)
    ));
    let status = cli(
        &live.vendor,
        "endpoint-service",
        &["status", "--stack", &live.run],
    )
    .await?;
    let service_name = string_at(&status, &["service", "name"])?;
    live.created().service_name = Some(service_name.clone());
    let service_zones: Vec<String> = status
        .pointer("/service/zones")
        .and_then(Value::as_array)
        .map(|z| {
            z.iter()
                .filter_map(|z| z.get("id").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    ensure!(
        !service_zones.is_empty(),
        "status shows no service AZs: {status}"
    );
    ensure!(
        status.pointer("/wiring/approver_subscribed") == Some(&Value::Bool(true))
            && status.pointer("/wiring/sns_may_invoke") == Some(&Value::Bool(true)),
        "the approver is not wired to the notification topic: {}",
        status.get("wiring").cloned().unwrap_or_default()
    );
    live.detail(&format!(
        "service {service_name} in AZ IDs {}; the approver is subscribed to the topic",
        service_zones.join(", ")
    ));

    live.say("3. Customers: a VPC each, with subnets in the service's AZ IDs");
    let mut vpcs = Vec::new();
    for account in live.customers() {
        let theirs = fixtures::zones(account).await?;
        let ids: Vec<&str> = theirs
            .iter()
            .map(|z| z.id.as_str())
            .filter(|id| service_zones.iter().any(|s| s == id))
            .collect();
        ensure!(
            !ids.is_empty(),
            "account {} has none of the service's AZ IDs",
            account.id
        );
        let (vpc, subnets) = fixtures::vpc_with_subnets(account, &live.run, &ids)
            .await
            .with_context(|| format!("creating the test VPC in {}", account.id))?;
        live.created().vpcs.push((account.id.clone(), vpc.clone()));
        live.detail(&format!(
            "account {}: {vpc} with {} subnets ({})",
            account.id,
            subnets.len(),
            ids.join(", ")
        ));
        vpcs.push(vpc);
    }

    live.say("4. Tenant customer: `consumer-cli connect` (the approver accepts via SNS)");
    let connected = connect(live, &live.customer, &service_name, &vpcs[0]).await?;
    let auto_endpoint = string_at(&connected, &["endpoint_id"])?;
    let decision = recorded_decision(&live.vendor, &live.run, &live.customer.id).await?;
    live.detail(&format!(
        "endpoint {auto_endpoint}: {}; decision recorded on the connection: {decision}",
        connected
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or("?")
    ));
    ensure!(
        decision == "accept (sns)",
        "expected the approver's SNS-triggered accept, got {decision}"
    );

    live.say("5. Other customer (not a tenant): left pending, then the operator accepts it");
    live.created()
        .connected
        .push((live.other.id.clone(), vpcs[1].clone()));
    let mut pending = {
        let other = live.other.clone();
        let service_name = service_name.clone();
        let vpc = vpcs[1].clone();
        // Aborted (and its `connect` process killed) if this flow stops early.
        AbortOnDrop(tokio::spawn(async move {
            connect_as(&other, &service_name, &vpc).await
        }))
    };
    let (endpoint, before) =
        wait_for_pending_review_within(&live.vendor, &live.run, &live.other.id, REVIEW_LIMIT)
            .await?;
    live.detail(&format!(
        "endpoint {endpoint}: pendingAcceptance, decision {before}"
    ));
    ensure!(
        before == "leave",
        "expected the approver to leave it, got {before}"
    );
    cli(
        &live.vendor,
        "endpoint-service",
        &["accept", "--stack", &live.run, "--yes", &endpoint],
    )
    .await?;
    let other_connected = (&mut pending.0)
        .await
        .context("the other customer's connect task")??;
    record_zone(live, &live.other, &other_connected);
    let after = recorded_decision(&live.vendor, &live.run, &live.other.id).await?;
    live.detail(&format!("after the override: {after}"));
    ensure!(
        after == "accept (manual)",
        "expected accept (manual), got {after}"
    );

    live.say("6. Checking both connections from here (outside the VPCs)");
    for (account, vpc, report) in [
        (&live.customer, &vpcs[0], &connected),
        (&live.other, &vpcs[1], &other_connected),
    ] {
        for line in check_connection(live, account, &service_name, vpc, report).await? {
            live.detail(&line);
        }
    }
    live.detail(
        "NOT checked: resolving the private name and TCP/TLS/HTTPS through the endpoint. The private \
         hosted zone answers only inside the VPC and the endpoint's addresses are private; a check needs \
         a host in the customer VPC and a real service behind the NLB (its only target is a placeholder).",
    );

    let listed = cli(
        &live.vendor,
        "endpoint-service",
        &["connections", "--stack", &live.run],
    )
    .await?;
    for owner in [&live.customer.id, &live.other.id] {
        let row = connection_of(&listed, owner)
            .ok_or_else(|| anyhow!("the vendor does not see {owner}'s connection"))?;
        ensure!(
            row.get("state")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case("available")),
            "the vendor sees {owner}'s connection as {row}"
        );
    }
    live.detail("the vendor sees both connections as available");
    Ok(())
}

/// `consumer-cli connect` without the HTTPS check (there is no service
/// behind the NLB to answer it), waiting up to 15 minutes for acceptance.
async fn connect(live: &Live, account: &Account, service: &str, vpc: &str) -> Result<Value> {
    live.created()
        .connected
        .push((account.id.clone(), vpc.to_string()));
    let report = connect_as(account, service, vpc).await?;
    record_zone(live, account, &report);
    Ok(report)
}

async fn connect_as(account: &Account, service: &str, vpc: &str) -> Result<Value> {
    cli(
        account,
        "consumer-cli",
        &[
            "connect",
            "--service-name",
            service,
            "--vpc",
            vpc,
            "--dns-name",
            DNS_NAME,
            "--port",
            "443",
            "--wait",
            "15m",
            "--no-verify",
        ],
    )
    .await
}

fn record_zone(live: &Live, account: &Account, report: &Value) {
    if let Some(zone) = report.pointer("/dns/zone_id").and_then(Value::as_str) {
        live.created()
            .zones
            .push((account.id.clone(), zone.to_string()));
    }
}

/// What can be checked about a connection from outside its VPC:
/// - the endpoint is `available` (the customer's own view, `consumer-cli status`);
/// - its regional DNS name, which AWS publishes in public DNS, resolves to
///   exactly the private IPs of the endpoint's network interfaces;
/// - the private hosted zone exists, is private, is associated with the VPC,
///   and has an alias record for the name pointing at the endpoint.
async fn check_connection(
    live: &Live,
    account: &Account,
    service: &str,
    vpc: &str,
    connected: &Value,
) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    let status = cli(
        account,
        "consumer-cli",
        &["status", "--service-name", service, "--vpc", vpc],
    )
    .await?;
    let state = status.get("state").and_then(Value::as_str).unwrap_or("?");
    ensure!(
        state.eq_ignore_ascii_case("available"),
        "{}: the endpoint is {state}",
        account.id
    );
    let endpoint_id = string_at(connected, &["endpoint_id"])?;
    lines.push(format!("{}: endpoint {endpoint_id} available", account.id));

    let ec2 = account.ec2();
    let described = ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(&endpoint_id)
        .send()
        .await?;
    let endpoint = described
        .vpc_endpoints()
        .first()
        .ok_or_else(|| anyhow!("{endpoint_id} not found"))?;
    // The regional name (zonal ones carry `-REGIONa` etc. in their first label).
    let zonal_marker = format!("-{}", live.region);
    let regional = endpoint
        .dns_entries()
        .iter()
        .filter_map(|d| d.dns_name())
        .find(|name| !name.contains(&zonal_marker))
        .ok_or_else(|| anyhow!("{endpoint_id} has no DNS entries"))?
        .to_string();
    let enis = ec2
        .describe_network_interfaces()
        .set_network_interface_ids(Some(endpoint.network_interface_ids().to_vec()))
        .send()
        .await?;
    let mut private: Vec<String> = enis
        .network_interfaces()
        .iter()
        .filter_map(|n| n.private_ip_address().map(str::to_string))
        .collect();
    private.sort();
    // Public DNS for a new endpoint can take a minute to appear.
    let deadline = Instant::now() + Duration::from_secs(180);
    let resolved = loop {
        let mut got: Vec<String> = match tokio::net::lookup_host((regional.as_str(), 443)).await {
            Ok(addrs) => addrs.map(|a| a.ip().to_string()).collect(),
            Err(_) => Vec::new(),
        };
        got.sort();
        got.dedup();
        if got == private || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    };
    if resolved.is_empty() {
        // Some resolvers drop private addresses from public answers (DNS
        // rebinding protection): then this cannot be checked from here.
        lines.push(format!(
            "{}: NOT CHECKED: {regional} did not resolve here (a resolver that drops private \
             addresses from public answers does that); expected {}",
            account.id,
            private.join(", ")
        ));
    } else {
        ensure!(
            resolved == private,
            "{regional} resolves to {resolved:?}, the endpoint's interfaces have {private:?}"
        );
        lines.push(format!(
            "{}: {regional} resolves (public DNS) to the endpoint's private IPs {}",
            account.id,
            private.join(", ")
        ));
    }

    let zone_id = connected
        .pointer("/dns/zone_id")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("connect reported no private hosted zone: {connected}"))?;
    let route53 = aws_sdk_route53::Client::new(&account.config);
    let zone = route53.get_hosted_zone().id(zone_id).send().await?;
    let private_zone = zone
        .hosted_zone()
        .and_then(|z| z.config())
        .is_some_and(|c| c.private_zone());
    let associated = zone.vpcs().iter().any(|v| v.vpc_id() == Some(vpc));
    ensure!(
        private_zone && associated,
        "zone {zone_id}: private {private_zone}, associated with {vpc}: {associated}"
    );
    let records = route53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .send()
        .await?;
    let wanted = format!("{DNS_NAME}.");
    let alias = records
        .resource_record_sets()
        .iter()
        .find(|r| r.name().eq_ignore_ascii_case(&wanted) && r.alias_target().is_some())
        .and_then(|r| r.alias_target())
        .map(|a| a.dns_name().trim_end_matches('.').to_ascii_lowercase())
        .ok_or_else(|| anyhow!("zone {zone_id} has no alias record for {DNS_NAME}"))?;
    let endpoint_names: Vec<String> = endpoint
        .dns_entries()
        .iter()
        .filter_map(|d| d.dns_name())
        .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    ensure!(
        endpoint_names.contains(&alias),
        "the alias for {DNS_NAME} points at {alias}, not at the endpoint ({endpoint_names:?})"
    );
    lines.push(format!(
        "{}: private hosted zone {zone_id} on {vpc}: {DNS_NAME} -> {alias}",
        account.id
    ));
    Ok(lines)
}

/// What the teardown did not manage: steps that failed (a later step may
/// still have removed the resource) and what is really still there.
#[derive(Debug, Default)]
struct Teardown {
    problems: Vec<String>,
    left: Vec<String>,
}

/// Removes everything the run may have created, each step on its own (a
/// failing step does not stop the next, and later steps fall back to plain
/// SDK deletes of what an earlier one should have removed), then looks
/// again for what is still there.
async fn teardown(live: &Live) -> Teardown {
    let (config, service, mut vpcs, connected, mut zones) = {
        let created = live.created();
        (
            created.stack_config.clone(),
            created.service_name.clone(),
            created.vpcs.clone(),
            created.connected.clone(),
            created.zones.clone(),
        )
    };
    live.say("Teardown: disconnect both customers, `down --force`, delete the test VPCs");
    let mut out = Teardown::default();
    // VPCs found by tag too (a failure inside vpc_with_subnets leaves an
    // untracked one), and zones on them (a connect that failed after making
    // its zone did not report it).
    for account in live.customers() {
        match tagged_vpcs(account, &live.run).await {
            Ok(found) => {
                for vpc in found {
                    if !vpcs.iter().any(|(_, v)| *v == vpc) {
                        vpcs.push((account.id.clone(), vpc));
                    }
                }
            }
            Err(e) => out
                .problems
                .push(format!("{}: listing tagged VPCs: {e:#}", account.id)),
        }
        let ours: Vec<&str> = vpcs
            .iter()
            .filter(|(owner, _)| *owner == account.id)
            .map(|(_, vpc)| vpc.as_str())
            .collect();
        match zones_on(account, &ours).await {
            Ok(found) => {
                for zone in found {
                    if !zones.iter().any(|(_, z)| *z == zone) {
                        zones.push((account.id.clone(), zone));
                    }
                }
            }
            Err(e) => out
                .problems
                .push(format!("{}: listing hosted zones: {e:#}", account.id)),
        }
    }
    if let Some(service) = &service {
        for (owner, vpc) in &connected {
            let Some(account) = live.account(owner) else {
                continue;
            };
            match cli(
                account,
                "consumer-cli",
                &["disconnect", "--service-name", service, "--vpc", vpc],
            )
            .await
            {
                Ok(done) => live.detail(&format!(
                    "{owner}: disconnect removed {}",
                    done.get("removed")
                        .map(Value::to_string)
                        .unwrap_or_default()
                )),
                Err(e) => out
                    .problems
                    .push(format!("{owner}: disconnect from {vpc}: {e:#}")),
            }
        }
    }
    if let Some(config) = &config {
        let mut result = Err(anyhow!("not run"));
        for attempt in 1..=2 {
            result = cli(
                &live.vendor,
                "endpoint-service",
                &[
                    "down",
                    "--config",
                    demo::path_str(config).unwrap_or(""),
                    "--force",
                    // The run's tenant registry goes too: nothing is left.
                    "--delete-tenants",
                ],
            )
            .await;
            if result.is_ok() {
                break;
            }
            live.detail(&format!("down attempt {attempt} failed"));
        }
        match result {
            Ok(done) => live.detail(&format!(
                "vendor: down deleted {}",
                done.get("deleted")
                    .map(Value::to_string)
                    .unwrap_or_default()
            )),
            Err(e) => out
                .problems
                .push(format!("vendor: endpoint-service down --force: {e:#}")),
        }
    }
    for (owner, zone) in &zones {
        let Some(account) = live.account(owner) else {
            continue;
        };
        if let Err(e) = delete_zone(account, zone).await {
            out.problems
                .push(format!("{owner}: deleting hosted zone {zone}: {e:#}"));
        }
    }
    for (owner, vpc) in &vpcs {
        let Some(account) = live.account(owner) else {
            continue;
        };
        if let Err(e) = delete_endpoints_in(account, vpc).await {
            out.problems
                .push(format!("{owner}: deleting endpoints in {vpc}: {e:#}"));
        }
        // The endpoints' network interfaces go away some time after the
        // endpoints: retry while the VPC still has dependencies.
        let deadline = Instant::now() + VPC_DELETE_LIMIT;
        loop {
            match demo::delete_vpc(account, vpc).await {
                Ok(()) => {
                    live.detail(&format!("{owner}: deleted {vpc}"));
                    break;
                }
                Err(e) if format!("{e:?}").contains("NotFound") => break,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_secs(15)).await;
                }
                Err(e) => {
                    out.problems.push(format!("{owner}: deleting {vpc}: {e:#}"));
                    break;
                }
            }
        }
    }
    out.left = leftovers(live, &vpcs, &zones).await;
    out
}

/// Private hosted zones associated with any of `vpcs` in `account`.
async fn zones_on(account: &Account, vpcs: &[&str]) -> Result<Vec<String>> {
    if vpcs.is_empty() {
        return Ok(Vec::new());
    }
    let route53 = aws_sdk_route53::Client::new(&account.config);
    let listed = route53
        .list_hosted_zones_by_name()
        .dns_name(DNS_NAME)
        .send()
        .await?;
    let mut found = Vec::new();
    for zone in listed.hosted_zones() {
        if zone.name().trim_end_matches('.') != DNS_NAME
            || !zone.config().is_some_and(|c| c.private_zone())
        {
            continue;
        }
        let detail = route53.get_hosted_zone().id(zone.id()).send().await?;
        if detail
            .vpcs()
            .iter()
            .any(|v| v.vpc_id().is_some_and(|id| vpcs.contains(&id)))
        {
            found.push(zone.id().trim_start_matches("/hostedzone/").to_string());
        }
    }
    Ok(found)
}

/// Deletes a private hosted zone with its records (what `disconnect` does;
/// a no-op when it already did).
async fn delete_zone(account: &Account, zone: &str) -> Result<()> {
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, RrType};
    let route53 = aws_sdk_route53::Client::new(&account.config);
    let records = match route53
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
    {
        Ok(records) => records,
        Err(e) if format!("{e:?}").contains("NoSuchHostedZone") => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let changes: Vec<Change> = records
        .resource_record_sets()
        .iter()
        .filter(|r| !matches!(r.r#type(), RrType::Soa | RrType::Ns))
        .map(|r| {
            Change::builder()
                .action(ChangeAction::Delete)
                .resource_record_set(r.clone())
                .build()
        })
        .collect::<Result<_, _>>()?;
    if !changes.is_empty() {
        route53
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(ChangeBatch::builder().set_changes(Some(changes)).build()?)
            .send()
            .await?;
    }
    route53.delete_hosted_zone().id(zone).send().await?;
    Ok(())
}

/// Deletes the interface endpoints still in `vpc` (what `disconnect` does;
/// a no-op when it already did) and waits until they are gone.
async fn delete_endpoints_in(account: &Account, vpc: &str) -> Result<()> {
    let ec2 = account.ec2();
    let deadline = Instant::now() + VPC_DELETE_LIMIT;
    loop {
        let listed = ec2
            .describe_vpc_endpoints()
            .filters(Filter::builder().name("vpc-id").values(vpc).build())
            .send()
            .await?;
        let live_ids: Vec<String> = listed
            .vpc_endpoints()
            .iter()
            .filter(|e| {
                !e.state()
                    .is_some_and(|s| s.as_str().eq_ignore_ascii_case("deleted"))
            })
            .filter_map(|e| e.vpc_endpoint_id().map(str::to_string))
            .collect();
        if live_ids.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("still there: {}", live_ids.join(", "));
        }
        ec2.delete_vpc_endpoints()
            .set_vpc_endpoint_ids(Some(live_ids))
            .send()
            .await?;
        tokio::time::sleep(Duration::from_secs(15)).await;
    }
}

/// The test's VPCs in `account` (tag `privatelink-tests=RUN`).
async fn tagged_vpcs(account: &Account, run: &str) -> Result<Vec<String>> {
    let out = account
        .ec2()
        .describe_vpcs()
        .filters(
            Filter::builder()
                .name(format!("tag:{VPC_TAG}"))
                .values(run)
                .build(),
        )
        .send()
        .await?;
    Ok(out
        .vpcs()
        .iter()
        .filter_map(|v| v.vpc_id().map(str::to_string))
        .collect())
}

/// What is still there after the teardown: the stack (`status`, which
/// finds every part of it by tag or name), the test VPCs and any endpoint
/// in them, and the hosted zones.
async fn leftovers(
    live: &Live,
    vpcs: &[(String, String)],
    zones: &[(String, String)],
) -> Vec<String> {
    let mut left = Vec::new();
    match cli(
        &live.vendor,
        "endpoint-service",
        &["status", "--stack", &live.run],
    )
    .await
    {
        Ok(status) if status.get("exists") == Some(&Value::Bool(false)) => {}
        Ok(status) => left.push(format!(
            "vendor {}: stack {} still exists: {}",
            live.vendor.id,
            live.run,
            demo::one_line(&status)
        )),
        Err(e) => left.push(format!(
            "vendor {}: could not check stack {}: {e:#}",
            live.vendor.id, live.run
        )),
    }
    for account in live.customers() {
        match tagged_vpcs(account, &live.run).await {
            Ok(found) => {
                for vpc in found {
                    left.push(format!("customer {}: VPC {vpc}", account.id));
                }
            }
            Err(e) => left.push(format!(
                "customer {}: could not list VPCs: {e:#}",
                account.id
            )),
        }
    }
    for (owner, vpc) in vpcs {
        let Some(account) = live.account(owner) else {
            continue;
        };
        let listed = account
            .ec2()
            .describe_vpc_endpoints()
            .filters(Filter::builder().name("vpc-id").values(vpc).build())
            .send()
            .await;
        match listed {
            Ok(listed) => {
                for endpoint in listed.vpc_endpoints() {
                    let gone = endpoint
                        .state()
                        .is_some_and(|s| s.as_str().eq_ignore_ascii_case("deleted"));
                    if !gone {
                        left.push(format!(
                            "customer {owner}: VPC endpoint {}",
                            endpoint.vpc_endpoint_id().unwrap_or("?")
                        ));
                    }
                }
            }
            Err(e) => left.push(format!(
                "customer {owner}: could not list endpoints in {vpc}: {e:?}"
            )),
        }
    }
    for (owner, zone) in zones {
        let Some(account) = live.account(owner) else {
            continue;
        };
        let route53 = aws_sdk_route53::Client::new(&account.config);
        match route53.get_hosted_zone().id(zone).send().await {
            Ok(_) => left.push(format!("customer {owner}: private hosted zone {zone}")),
            Err(e) if format!("{e:?}").contains("NoSuchHostedZone") => {}
            Err(e) => left.push(format!(
                "customer {owner}: could not check zone {zone}: {e:?}"
            )),
        }
    }
    left
}

fn report_teardown(live: &Live, done: &Teardown) {
    if !done.problems.is_empty() {
        live.say("Teardown steps that failed (a later step may have removed the resource):");
        for problem in &done.problems {
            live.detail(problem);
        }
    }
    if done.left.is_empty() {
        live.say("Nothing left behind: the stack, the test VPCs and the hosted zones are gone");
    } else {
        live.say("COULD NOT DELETE (remove by hand; they keep costing money):");
        for item in &done.left {
            live.detail(item);
        }
        live.detail(&format!(
            "retry the stack with: endpoint-service down --stack {} --force --profile VENDOR --region {}",
            live.run, live.region
        ));
    }
}

/// Runs one of the kit's binaries as `account` with `--output json`; its
/// progress lines (stderr) go straight to the terminal, since steps take
/// minutes on real AWS.
async fn cli(account: &Account, name: &str, args: &[&str]) -> Result<Value> {
    demo::cli_streaming(account, name, args).await
}

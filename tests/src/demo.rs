//! The newcomer's first minute: the whole product, with the real binaries,
//! against the local emulator (README's first command, `tests/demo.sh`, and
//! the end-to-end test `tests/tests/scenarios/e2e.rs`).
//!
//! Three accounts in one emulator: the vendor (provider), a customer who is
//! a tenant (the config's allowlist seeds the tenant registry), and a
//! customer who is not. The vendor's app is [`IdentityEchoApp`] (plain HTTP
//! on 127.0.0.1) behind the real `gateway` binary ([`Gateway`]: TLS with a
//! certificate for the service's name from a CA made on the spot), which the
//! stack's `[gateway]` section makes the load balancer's target, with PROXY
//! protocol v2 on. Each customer's endpoint is an [`NlbStandIn`] on a
//! loopback address of its own: the NLB's data plane, which the emulator does
//! not have (test infrastructure, see its docs). So every request a customer
//! makes goes endpoint → gateway → app, and the app's answer says which
//! tenant the gateway told it it serves. The approver Lambda is the compiled
//! binary under the Lambda Runtime API emulator; [`Bridge`] carries the
//! emulator's SNS deliveries to it (test infrastructure, see its docs).
//!
//! Every step says in plain words what it did. Everything started here (the
//! emulator, the runtime emulator, child commands) stops when the returned
//! future is dropped, which is what happens on Ctrl-C.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use crate::bins::binary;
use crate::bridge::{Bridge, Deliver};
use crate::fixtures;
use crate::gateway_process::{Gateway, GatewayOptions, Mode};
use crate::lambda_runtime::{build_release, FunctionSpec, LambdaRuntime};
use crate::nlb_stand_in::{Bound, NlbStandIn, Route};
use crate::ports::free_local_addr;
use crate::tls_server::{echoed, https_get, tenant_line, IdentityEchoApp, TestCa};
use crate::{Account, Emulator};
use privatelink_core::naming::StackName;

/// The name consumers use for the vendor's service.
pub const DNS_NAME: &str = "api.vendor.internal";

/// The name the operator gives the second customer when it makes it a
/// tenant (the first one, seeded from the allowlist, is named by its
/// account id).
pub const OTHER_TENANT_NAME: &str = "Other Corp";

/// Where each customer's endpoint is reached: a loopback address of its own
/// (the service's port is the same for both, as on AWS).
const CUSTOMER_ENDPOINT_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const OTHER_ENDPOINT_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// What the demo showed, for the end-to-end test to assert on.
#[derive(Debug, Default)]
pub struct Summary {
    /// The stack name `up` was given.
    pub stack: String,
    /// The three accounts: vendor, the tenant customer, other customer.
    pub vendor_account: String,
    pub customer_account: String,
    pub other_account: String,
    /// The two customers' VPCs.
    pub customer_vpc: String,
    pub other_vpc: String,
    pub service_name: String,
    pub service_id: String,
    /// The tenant customer's endpoint, accepted by the Lambda.
    pub auto_endpoint: String,
    /// The Lambda's decision for it, as logged (`accept`).
    pub auto_decision: String,
    /// The other customer's endpoint, left pending by the Lambda, accepted by
    /// the operator's override.
    pub manual_endpoint: String,
    pub manual_decision_before_override: String,
    /// The decision recorded after the override (`accept (manual)`).
    pub manual_decision_after_override: String,
    /// `verify` passed for both customers.
    pub verified: Vec<String>,
    /// The target group's `proxy_protocol_v2.enabled` after `up`, as
    /// `status` reported it (the stack's `[gateway]` turns it on).
    pub proxy_protocol_v2: bool,
    /// Per customer account, the tenant the app was told it served (the
    /// `X-PrivateLink-Tenant` header the gateway added) on a request made
    /// through that customer's endpoint.
    pub tenants_seen: BTreeMap<String, String>,
    /// Per customer account, its tenant's name in the registry.
    pub tenant_names: BTreeMap<String, String>,
    /// The tenant customer's request that sent `X-PrivateLink-Tenant` (and
    /// `-Account-Id`) of the other customer: the tenant it claimed and the
    /// tenant the app saw.
    pub impersonation: Option<(String, String)>,
    /// The other customer's request after the operator accepted its
    /// connection but before it was a tenant: the gateway's status and body.
    pub refused_before_tenant: Option<(u16, String)>,
    /// Resources found after teardown (should be empty).
    pub leftovers: Vec<String>,
    /// With the operator tour: the commands it ran, and the changes the
    /// second `up` made (none: the stack had converged).
    pub tour: Vec<String>,
    pub rerun_changes: Option<usize>,
    pub elapsed: Duration,
}

/// Where the demo finds what it runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The approver's `bootstrap.zip` (cargo lambda build --release).
    pub lambda_zip: PathBuf,
    /// The approver's compiled `bootstrap` binary, run under the runtime emulator.
    pub lambda_binary: PathBuf,
    /// A scratch directory for the config file and the CA certificate.
    pub workdir: PathBuf,
    /// Print every step (the demo) or stay quiet (the test).
    pub verbose: bool,
    /// Before teardown, also run every other command of both CLIs once
    /// (the end-to-end test, so the IAM coverage check sees their calls).
    pub operator_tour: bool,
}

impl DemoOptions {
    /// Builds (or finds up to date) the approver package with
    /// `cargo lambda build --release` and uses it.
    pub fn build(workdir: PathBuf, verbose: bool) -> Result<DemoOptions> {
        let package = build_release().context("building the approver with cargo-lambda")?;
        Ok(DemoOptions {
            lambda_zip: package.zip,
            lambda_binary: package.bootstrap,
            workdir,
            verbose,
            operator_tour: false,
        })
    }
}

struct Narrator {
    verbose: bool,
    start: Instant,
}

impl Narrator {
    fn step(&self, text: &str) {
        if self.verbose {
            println!("\n[{:>5.1}s] {text}", self.start.elapsed().as_secs_f64());
        }
    }
    fn detail(&self, text: &str) {
        if self.verbose {
            println!("         {text}");
        }
    }
}

/// Runs the whole flow once on an emulator of its own. Drop the future to
/// stop everything it started.
pub async fn run(options: DemoOptions) -> Result<Summary> {
    run_with(None, options).await
}

/// Runs the whole flow once on `emulator` (which outlives it, so a test can
/// read the emulator's call log afterwards), in fresh accounts.
pub async fn run_on(emulator: &Emulator, options: DemoOptions) -> Result<Summary> {
    run_with(Some(emulator), options).await
}

async fn run_with(given: Option<&Emulator>, options: DemoOptions) -> Result<Summary> {
    let say = Narrator {
        verbose: options.verbose,
        start: Instant::now(),
    };
    let mut summary = Summary::default();

    say.step("1. Starting the local AWS emulator (moto + the PrivateLink layer) on 127.0.0.1");
    let owned;
    let emulator = match given {
        Some(emulator) => emulator,
        None => {
            owned = Emulator::start().context("starting the emulator")?;
            &owned
        }
    };
    say.detail(&format!("emulator: {}", emulator.url()));
    let vendor = Account::fresh(emulator).await?;
    let customer = Account::fresh(emulator).await?;
    let stranger = Account::fresh(emulator).await?;
    summary.vendor_account = vendor.id.clone();
    summary.customer_account = customer.id.clone();
    summary.other_account = stranger.id.clone();
    say.detail(&format!(
        "accounts: vendor {}, customer {} (a tenant), other customer {} (not a tenant)",
        vendor.id, customer.id, stranger.id
    ));

    say.step(
        "2. The vendor's app behind the gateway: plain HTTP, answering \"API OK\" and the \
         X-PrivateLink-* headers it received",
    );
    let app = IdentityEchoApp::start().await?;
    let ca = TestCa::new("privatelink-kit demo CA");
    let ca_file = options.workdir.join("ca.pem");
    std::fs::write(&ca_file, &ca.cert_pem)
        .with_context(|| format!("writing {}", ca_file.display()))?;
    let (cert, key) = ca.write_leaf_pem(&[DNS_NAME], &options.workdir)?;
    // The gateway's ports, and one address per customer endpoint, all on
    // the service's port.
    let (gateway_listen, gateway_health) = (free_local_addr()?, free_local_addr()?);
    let (customer_bound, other_bound) = endpoint_addresses().await?;
    let port = customer_bound.addr()?.port();
    say.detail(&format!(
        "app on http://{}; the gateway will terminate TLS for {DNS_NAME} (certificate from a \
         fresh CA, {}) on {gateway_listen}, health check on {gateway_health}",
        app.addr,
        ca_file.display()
    ));

    say.step("3. Vendor: `endpoint-service up` from a config file");
    let stack = format!("demo{}", &vendor.id[8..]);
    summary.stack = stack.clone();
    let config = options.workdir.join("stack.toml");
    write_stack_config(
        &config,
        &StackConfig {
            stack: &stack,
            region: crate::accounts::REGION,
            port,
            allowlisted: &customer.id,
            package: &options.lambda_zip,
            gateway: Some(GatewayTarget {
                port: gateway_listen.port(),
                health_port: gateway_health.port(),
            }),
        },
    )?;
    say.detail(&format!("config: {}", config.display()));
    let up = cli(
        &vendor,
        "endpoint-service",
        &["up", "--config", path_str(&config)?],
    )
    .await?;
    say.detail(&format!(
        "up made {} changes with {} AWS calls in {:.2} s (NLB in every AZ, endpoint service \
         with acceptance required, topic, notification, approver function and its role, sweep)",
        up.get("changes")
            .and_then(Value::as_array)
            .map_or(0, Vec::len),
        up.pointer("/calls/total")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        up.get("seconds").and_then(Value::as_f64).unwrap_or(0.0),
    ));
    let status = cli(&vendor, "endpoint-service", &["status", "--stack", &stack]).await?;
    let service_name = string_at(&status, &["service", "name"])?;
    let service_id = string_at(&status, &["service", "id"])?;
    let topic_arn = string_at(&status, &["wiring", "topic_arn"])?;
    say.detail(&format!(
        "the value customers need: {service_name} (service {service_id})"
    ));
    summary.service_name = service_name.clone();
    summary.service_id = service_id.clone();
    let targets = status
        .get("targets")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    summary.proxy_protocol_v2 =
        !targets.is_empty() && targets.iter().all(|t| t["proxy_protocol_v2"] == true);
    say.detail(&format!(
        "[gateway]: the target group targets the gateway ({}), PROXY protocol v2 {}, health \
         check HTTP / on {}",
        targets
            .iter()
            .map(|t| format!(
                "{}:{}",
                t["target"].as_str().unwrap_or("?"),
                t["target_port"]
            ))
            .collect::<Vec<_>>()
            .join(", "),
        if summary.proxy_protocol_v2 {
            "on"
        } else {
            "OFF"
        },
        gateway_health.port()
    ));

    say.step("3b. The gateway (the real binary): the NLB's target in front of the app");
    let stack_name = StackName::parse(&stack)?;
    let gateway = Gateway::start(
        &vendor,
        GatewayOptions {
            listen: gateway_listen,
            health: gateway_health,
            upstream: app.addr,
            service_id: service_id.clone(),
            registry_table: stack_name.tenants_table(),
            mode: Mode::Http { cert, key },
            log: options.workdir.join("gateway.log"),
            log_level: "info",
            binary: None,
            drain_secs: 2,
            // The demo's endpoints appear seconds apart: list again on every
            // unknown one (the default allows one listing per 5 s), and read a
            // tenant again after a second, so a tenant added during the demo
            // is served at once.
            extra_args: ["--refresh-interval-secs", "0", "--tenant-ttl-secs", "1"]
                .map(String::from)
                .to_vec(),
        },
    )
    .await?;
    say.detail(&format!(
        "gateway --mode http on {gateway_listen}, upstream http://{}, tenants from table {}; \
         healthy",
        app.addr,
        stack_name.tenants_table()
    ));
    let route = |consumer: &Account, vpc_id: &str| Route {
        provider: vendor.clone(),
        target_group: stack_name.target_group(port),
        consumer: consumer.clone(),
        vpc_id: vpc_id.to_string(),
        service_name: service_name.clone(),
    };

    say.step("4. The approver Lambda: the compiled binary under the Lambda Runtime API emulator");
    // The function runs with the configuration `up` gave it in the
    // (emulated) Lambda service: the registry's table, the policy, the
    // service id.
    let env = deployed_environment(&vendor, &stack).await?;
    say.detail(&format!(
        "configuration from the deployed function: {}",
        env.iter()
            .filter(|(k, _)| k.starts_with("APPROVER_"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let runtime = Arc::new(LambdaRuntime::start(
        &FunctionSpec::approver(&options.lambda_binary, &env_refs),
        &vendor,
    )?);
    let invoker = Arc::clone(&runtime);
    let deliver: Deliver = Arc::new(move |event| {
        let runtime = Arc::clone(&invoker);
        Box::pin(async move {
            let invoked = runtime.invoke(&event).await?;
            match invoked.error_type() {
                None => Ok(()),
                Some(error) => Err(anyhow!("the approver returned {error}: {}", invoked.body)),
            }
        })
    });
    let bridge = Bridge::start(&vendor, &topic_arn, &format!("{stack}-bridge"), deliver).await?;
    say.detail("SNS deliveries of the connection notification now reach it (demo bridge)");

    say.step("5. The tenant customer: `consumer-cli connect` (waits for the Lambda to accept)");
    let (customer_vpc_id, _) = customer_vpc(&customer).await?;
    summary.customer_vpc = customer_vpc_id.clone();
    let customer_nlb = customer_bound.serve(route(&customer, &customer_vpc_id))?;
    // Seeded from the allowlist: the tenant is named by its account id.
    summary
        .tenant_names
        .insert(customer.id.clone(), customer.id.clone());
    let customer_check = Check {
        resolve: format!("{DNS_NAME}:{CUSTOMER_ENDPOINT_IP}"),
        ca_file: ca_file.clone(),
        port,
        expect_body: Some(tenant_line(&customer.id)),
    };
    let connected = connect(&customer, &service_name, &customer_vpc_id, &customer_check).await?;
    summary.auto_endpoint = string_at(&connected, &["endpoint_id"])?;
    summary.auto_decision = recorded_decision(&vendor, &stack, &customer.id).await?;
    if let Some(line) = decision_log(&runtime, &summary.auto_endpoint) {
        say.detail(&format!("the Lambda's decision log line: {line}"));
    }
    say.detail(&format!(
        "endpoint {} is available; decision recorded on the connection: {}",
        summary.auto_endpoint, summary.auto_decision
    ));
    say.detail(&format!(
        "private DNS: {} -> the endpoint; IPs {}; verify over HTTPS: {}",
        connected
            .get("name_to_use")
            .and_then(Value::as_str)
            .unwrap_or(DNS_NAME),
        connected
            .get("addresses")
            .and_then(Value::as_array)
            .map(|a| a
                .iter()
                .filter_map(|x| x.get("ip").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default(),
        if connected.pointer("/verification/passed") == Some(&Value::Bool(true)) {
            "passed"
        } else {
            "see the report"
        }
    ));
    summary.verified.push(customer.id.clone());

    say.step(
        "5b. Through the tenant customer's endpoint, what the app saw (endpoint -> gateway -> app)",
    );
    let seen = app_saw(&customer_nlb, &ca.cert_pem, &[]).await?;
    say.detail(&format!(
        "the app served tenant {:?} (account {}, endpoint {}); the NLB stand-in sent the PROXY \
         v2 header: {}",
        seen.tenant,
        seen.account,
        seen.endpoint,
        customer_nlb
            .drain_log()
            .iter()
            .any(|f| f.as_ref().is_ok_and(|f| f.proxy_header))
    ));
    summary
        .tenants_seen
        .insert(customer.id.clone(), seen.tenant.clone());
    let spoofed = app_saw(
        &customer_nlb,
        &ca.cert_pem,
        &[
            ("X-PrivateLink-Tenant", OTHER_TENANT_NAME),
            ("X-PrivateLink-Account-Id", stranger.id.as_str()),
        ],
    )
    .await?;
    say.detail(&format!(
        "a request sending X-PrivateLink-Tenant: {OTHER_TENANT_NAME:?} (and the other \
         customer's account id): the app still saw tenant {:?}, account {} (the gateway drops \
         the client's copies)",
        spoofed.tenant, spoofed.account
    ));
    summary.impersonation = Some((OTHER_TENANT_NAME.to_string(), spoofed.tenant));

    say.step("6. Other customer (not a tenant): the Lambda leaves it pending for review");
    let (stranger_vpc_id, _) = customer_vpc(&stranger).await?;
    summary.other_vpc = stranger_vpc_id.clone();
    let other_nlb = other_bound.serve(route(&stranger, &stranger_vpc_id))?;
    let other_check = Check {
        resolve: format!("{DNS_NAME}:{OTHER_ENDPOINT_IP}"),
        ca_file: ca_file.clone(),
        port,
        expect_body: Some(tenant_line(OTHER_TENANT_NAME)),
    };
    let stranger_connect = {
        let stranger = stranger.clone();
        let service_name = service_name.clone();
        let vpc = stranger_vpc_id.clone();
        // Not a tenant: the gateway would refuse its check (step 7b shows
        // that, then the operator makes it a tenant and it verifies).
        let no_check = Check {
            expect_body: None,
            ..other_check.clone()
        };
        tokio::spawn(async move { connect(&stranger, &service_name, &vpc, &no_check).await })
    };
    let (endpoint, decision) = wait_for_pending_review(&vendor, &stack, &stranger.id).await?;
    summary.manual_endpoint = endpoint.clone();
    summary.manual_decision_before_override = decision;
    if let Some(line) = decision_log(&runtime, &endpoint) {
        say.detail(&format!("the Lambda's decision log line: {line}"));
    }
    say.detail(&format!(
        "endpoint {endpoint} is pendingAcceptance (decision: {})",
        summary.manual_decision_before_override
    ));
    say.step("7. Vendor's operator: `endpoint-service accept` (the manual override)");
    let accepted = cli(
        &vendor,
        "endpoint-service",
        &["accept", "--stack", &stack, "--yes", &endpoint],
    )
    .await?;
    say.detail(&format!(
        "accepted by {} (asked with --yes: the registry does not entitle the owner)",
        accepted
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or("the operator")
    ));
    stranger_connect
        .await
        .context("the second customer's connect task")??;
    summary.manual_decision_after_override =
        recorded_decision(&vendor, &stack, &stranger.id).await?;
    say.detail(&format!(
        "the second customer's connect finished (endpoint available); decision recorded: {}",
        summary.manual_decision_after_override
    ));

    say.step(
        "7b. The gateway serves tenants only: the other customer is refused until the registry \
         names it",
    );
    let (status, body) = https_get(other_nlb.addr, DNS_NAME, &ca.cert_pem, &[]).await?;
    say.detail(&format!(
        "accepted by the operator, not a tenant: the gateway answered {status} {:?}; nothing \
         reached the app",
        body.trim()
    ));
    summary.refused_before_tenant = Some((status, body));
    cli(
        &vendor,
        "endpoint-service",
        &[
            "tenants",
            "add",
            "--stack",
            &stack,
            &stranger.id,
            "--name",
            OTHER_TENANT_NAME,
        ],
    )
    .await?;
    summary
        .tenant_names
        .insert(stranger.id.clone(), OTHER_TENANT_NAME.to_string());
    say.detail(&format!(
        "vendor: `endpoint-service tenants add {} --name {OTHER_TENANT_NAME:?}`",
        stranger.id
    ));
    // The gateway trusts a tenant read for a second (--tenant-ttl-secs 1),
    // the refusal above included: verify until that has passed.
    verify_within(
        &stranger,
        &service_name,
        &stranger_vpc_id,
        &other_check,
        Duration::from_secs(15),
    )
    .await?;
    let seen = app_saw(&other_nlb, &ca.cert_pem, &[]).await?;
    say.detail(&format!(
        "`consumer-cli verify` passed through the gateway; the app served tenant {:?} \
         (account {}, endpoint {})",
        seen.tenant, seen.account, seen.endpoint
    ));
    summary
        .tenants_seen
        .insert(stranger.id.clone(), seen.tenant);
    summary.verified.push(stranger.id.clone());

    if options.operator_tour {
        say.step("7b. The other commands of both CLIs, once each");
        let tour = Tour {
            vendor: &vendor,
            customer: &customer,
            stack: &stack,
            config: path_str(&config)?,
            service_name: &service_name,
            customer_vpc: &customer_vpc_id,
            check: &customer_check,
            workdir: &options.workdir,
        };
        tour.run(&mut summary).await?;
        for line in &summary.tour {
            say.detail(line);
        }
    }

    say.step(
        "8. Teardown: both customers disconnect, the vendor runs `endpoint-service down --delete-tenants`",
    );
    for (account, vpc) in [(&customer, &customer_vpc_id), (&stranger, &stranger_vpc_id)] {
        let removed = cli(
            account,
            "consumer-cli",
            &["disconnect", "--service-name", &service_name, "--vpc", vpc],
        )
        .await?;
        say.detail(&format!(
            "customer {}: disconnect removed {}",
            account.id,
            removed
                .get("removed")
                .and_then(Value::as_array)
                .map(|r| r
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        ));
    }
    bridge.stop().await?;
    drop(runtime);
    gateway.stop().await?;
    say.detail(&format!(
        "gateway stopped (SIGTERM, drained, exited cleanly); its JSON log: {}",
        options.workdir.join("gateway.log").display()
    ));
    drop((customer_nlb, other_nlb, app));
    let down = cli(
        &vendor,
        "endpoint-service",
        &["down", "--config", path_str(&config)?, "--delete-tenants"],
    )
    .await?;
    say.detail(&format!(
        "vendor: down deleted, in this order: {}",
        down.get("deleted")
            .and_then(Value::as_array)
            .map(|d| d
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default()
    ));
    for account in [&customer, &stranger] {
        delete_customer_vpc(account).await?;
    }

    say.step("9. Checking that nothing is left in any of the three accounts");
    summary.leftovers = leftovers(&[&vendor, &customer, &stranger]).await?;
    if summary.leftovers.is_empty() {
        say.detail("nothing left: no VPC, subnet, endpoint, service, NLB, topic, queue, function, role, table or zone");
    } else {
        for item in &summary.leftovers {
            say.detail(&format!("LEFT BEHIND: {item}"));
        }
    }
    summary.elapsed = say.start.elapsed();
    Ok(summary)
}

/// The operator tour: every command the flow above does not run, against
/// the live stack, so the end-to-end test's IAM coverage check sees what
/// each of them calls (a second `up` reads the function's tags, the
/// `tenants` commands read and write the registry and follow with the
/// principals and a reconcile, `sweep` lists and decides, ...).
struct Tour<'a> {
    vendor: &'a Account,
    customer: &'a Account,
    stack: &'a str,
    config: &'a str,
    service_name: &'a str,
    customer_vpc: &'a str,
    /// How the customer reaches the service (its endpoint's address).
    check: &'a Check,
    /// Where the export is written before it is imported again.
    workdir: &'a Path,
}

impl Tour<'_> {
    async fn run(&self, summary: &mut Summary) -> Result<()> {
        let stack = self.stack;
        let vendor = |args: Vec<String>| async move {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            cli(self.vendor, "endpoint-service", &refs).await
        };
        let owned = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();

        let plan = vendor(owned(&["plan", "--config", self.config])).await?;
        let rerun = vendor(owned(&["up", "--config", self.config])).await?;
        summary.rerun_changes = rerun.get("changes").and_then(Value::as_array).map(Vec::len);
        summary.tour.push(format!(
            "plan: {} change(s); second up: {} change(s)",
            plan.get("changes")
                .and_then(Value::as_array)
                .map_or(0, Vec::len),
            summary.rerun_changes.unwrap_or(0)
        ));
        for command in ["connections", "history", "drift"] {
            vendor(owned(&[command, "--stack", stack])).await?;
        }
        vendor(owned(&["sweep", "--stack", stack, "--dry-run"])).await?;
        vendor(owned(&["sweep", "--stack", stack])).await?;
        let newcomer = crate::accounts::fresh_account_id();
        let tenants = |verb: &str| owned(&["tenants", verb, "--stack", stack, &newcomer]);
        vendor(tenants("add")).await?;
        vendor(tenants("suspend")).await?;
        vendor(tenants("resume")).await?;
        vendor(owned(&["tenants", "list", "--stack", stack])).await?;
        // Export, then import the export again: it writes nothing.
        let exported = vendor(owned(&["tenants", "export", "--stack", stack])).await?;
        let file = self.workdir.join("tenants.json");
        std::fs::write(&file, exported.to_string())
            .with_context(|| format!("writing {}", file.display()))?;
        let imported = vendor(owned(&[
            "tenants",
            "import",
            "--stack",
            stack,
            path_str(&file)?,
        ]))
        .await?;
        vendor(tenants("remove")).await?;
        summary.tour.push(format!(
            "connections, history, drift, sweep --dry-run, sweep; tenants add, suspend, resume, \
             list, export, import ({} written) and remove {newcomer}",
            imported.get("written").and_then(Value::as_u64).unwrap_or(0)
        ));

        let target = [
            "--service-name",
            self.service_name,
            "--vpc",
            self.customer_vpc,
        ];
        let mut status = vec!["status"];
        status.extend(target);
        cli(self.customer, "consumer-cli", &status).await?;
        let mut verify = vec!["verify".to_string()];
        verify.extend(target.iter().map(|a| a.to_string()));
        verify.extend(self.check.args()?);
        let verify: Vec<&str> = verify.iter().map(String::as_str).collect();
        cli(self.customer, "consumer-cli", &verify).await?;
        summary.tour.push("customer: status, verify".to_string());
        Ok(())
    }
}

/// The stack's `[gateway]`: the gateway's listen and health ports (its
/// host, in the stack's VPC, is `10.0.0.10`).
#[derive(Debug, Clone, Copy)]
pub struct GatewayTarget {
    pub port: u16,
    pub health_port: u16,
}

/// What varies in the stack config the demo (and the live test) write.
#[derive(Debug, Clone, Copy)]
pub struct StackConfig<'a> {
    pub stack: &'a str,
    pub region: &'a str,
    /// The service port (the demo: the stand-in's, so `verify --resolve`
    /// reaches it).
    pub port: u16,
    /// The one customer the config's allowlist seeds into the tenant
    /// registry.
    pub allowlisted: &'a str,
    /// The approver's `bootstrap.zip`.
    pub package: &'a Path,
    /// `Some`: the gateway is the target (`[gateway]`, PROXY protocol v2
    /// on); `None`: the app is, at `10.0.0.10` on the service port.
    pub gateway: Option<GatewayTarget>,
}

/// Writes the vendor's stack config to `path`: a new VPC with a subnet in
/// every AZ, the service port, its target (the app, or the gateway with
/// its `[gateway]` section), the customer that seeds the tenant registry,
/// and `leave-pending` so other requests wait for the operator.
/// `allow_any_principal` is the named opt-in that lets an account that is
/// not a tenant *request* a connection at all (the registry still decides
/// who is accepted automatically).
pub fn write_stack_config(path: &Path, config: &StackConfig<'_>) -> Result<()> {
    let StackConfig {
        stack,
        region,
        port,
        allowlisted,
        package,
        gateway,
    } = *config;
    let targets = match gateway {
        None => "targets = [\"10.0.0.10\"]\n".to_string(),
        Some(GatewayTarget { port, health_port }) => format!(
            "\n# The gateway is the target, with PROXY protocol v2 on; the app is its upstream.\n\
             [gateway]\ntargets = [\"10.0.0.10\"]\nport = {port}\nhealth_port = {health_port}\n"
        ),
    };
    let text = format!(
        r#"# Demo stack: see docs/provider.md for every key.
name = "{stack}"
region = "{region}"
# Consumers in these regions may connect too (cross-region PrivateLink).
supported_regions = ["{remote}"]

[network]
vpc_cidr = "10.0.0.0/16"

[service]
ports = [{port}]
{targets}
[access]
allowlist = ["{allowlisted}"]
non_allowlisted = "leave-pending"
allow_any_principal = true

[approver]
package = "{zip}"
"#,
        zip = package.display(),
        remote = if region == "eu-west-1" {
            "eu-central-1"
        } else {
            "eu-west-1"
        },
    );
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Runs one of the kit's binaries as `account` with `--output json` and
/// returns its JSON output; a failure carries the command's stderr.
pub async fn cli(account: &Account, name: &str, args: &[&str]) -> Result<Value> {
    run_json(account, name, args, true).await
}

/// Like [`cli`], but the command's progress lines (stderr) go straight to
/// this terminal, for steps that take minutes (the live mode on real AWS).
pub async fn cli_streaming(account: &Account, name: &str, args: &[&str]) -> Result<Value> {
    run_json(account, name, args, false).await
}

async fn run_json(
    account: &Account,
    name: &str,
    args: &[&str],
    capture_stderr: bool,
) -> Result<Value> {
    let mut command = tokio::process::Command::new(binary(name)?);
    command.args(args).args(["--output", "json"]);
    account.apply_env(command.as_std_mut());
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(if capture_stderr {
            Stdio::piped()
        } else {
            Stdio::inherit()
        })
        .kill_on_drop(true);
    let output = command
        .output()
        .await
        .with_context(|| format!("running {name}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "`{name} {}` failed ({}):\n{}\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim(),
            stdout.trim()
        );
    }
    serde_json::from_str(&stdout)
        .with_context(|| format!("`{name} {}` printed no JSON: {stdout}", args.join(" ")))
}

/// The string at `path` in a command's JSON output, or an error naming it.
pub fn string_at(value: &Value, path: &[&str]) -> Result<String> {
    let mut cursor = value;
    for key in path {
        cursor = cursor
            .get(key)
            .ok_or_else(|| anyhow!("no `{}` in {}", path.join("."), one_line(value)))?;
    }
    cursor.as_str().map(str::to_string).ok_or_else(|| {
        anyhow!(
            "`{}` is not a string in {}",
            path.join("."),
            one_line(value)
        )
    })
}

/// A JSON value on one line, cut at 200 characters.
pub fn one_line(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 200 {
        format!("{}…", &text[..200])
    } else {
        text
    }
}

/// A path as UTF-8 (for a command line).
pub fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| anyhow!("{} is not UTF-8", path.display()))
}

/// The customer's existing VPC (DNS attributes on) with a subnet in every AZ
/// of the region, as a customer's network team would have it.
async fn customer_vpc(account: &Account) -> Result<(String, Vec<String>)> {
    let zones = fixtures::zones(account).await?;
    let ids: Vec<&str> = zones.iter().map(|z| z.id.as_str()).collect();
    fixtures::vpc_with_subnets(account, "customer-vpc", &ids).await
}

/// How a customer reaches the service and what its check expects: the
/// `--resolve NAME:IP` of its endpoint, the CA, the service's port, and the
/// body (`None`: `connect` skips the check).
#[derive(Debug, Clone)]
struct Check {
    resolve: String,
    ca_file: PathBuf,
    port: u16,
    expect_body: Option<String>,
}

impl Check {
    /// The `consumer-cli` arguments of the check.
    fn args(&self) -> Result<Vec<String>> {
        let mut args: Vec<String> = [
            "--dns-name",
            DNS_NAME,
            "--port",
            &self.port.to_string(),
            "--resolve",
            &self.resolve,
            "--ca-file",
            path_str(&self.ca_file)?,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        match &self.expect_body {
            Some(body) => args.extend(["--expect-body".to_string(), body.clone()]),
            None => args.push("--no-verify".to_string()),
        }
        Ok(args)
    }
}

async fn connect(account: &Account, service_name: &str, vpc: &str, check: &Check) -> Result<Value> {
    let mut args: Vec<String> = ["connect", "--service-name", service_name, "--vpc", vpc]
        .iter()
        .map(|a| a.to_string())
        .collect();
    args.extend(check.args()?);
    args.extend(["--wait".to_string(), "120s".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cli(account, "consumer-cli", &args).await
}

/// `consumer-cli verify` until it passes, at most `limit`.
async fn verify_within(
    account: &Account,
    service_name: &str,
    vpc: &str,
    check: &Check,
    limit: Duration,
) -> Result<Value> {
    let mut args: Vec<String> = ["verify", "--service-name", service_name, "--vpc", vpc]
        .iter()
        .map(|a| a.to_string())
        .collect();
    args.extend(check.args()?);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let deadline = Instant::now() + limit;
    loop {
        match cli(account, "consumer-cli", &args).await {
            Ok(report) => return Ok(report),
            Err(e) if Instant::now() > deadline => {
                return Err(e.context(format!("verify did not pass within {} s", limit.as_secs())))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

/// Whom the app was told it served on one request.
#[derive(Debug, Clone)]
struct Seen {
    tenant: String,
    account: String,
    endpoint: String,
}

/// One HTTPS request through `endpoint` (its NLB stand-in, the gateway, the
/// app) with extra `headers`; what the app's answer says it saw. An answer
/// other than `200` is an error that shows it.
async fn app_saw(endpoint: &NlbStandIn, ca_pem: &str, headers: &[(&str, &str)]) -> Result<Seen> {
    let (status, body) = https_get(endpoint.addr, DNS_NAME, ca_pem, headers).await?;
    if status != 200 {
        bail!(
            "the request through {} got {status}: {}",
            endpoint.addr,
            body.trim()
        );
    }
    let header = |name: &str| {
        echoed(&body, name)
            .ok_or_else(|| anyhow!("the app's answer has no X-PrivateLink-{name}: {body}"))
    };
    Ok(Seen {
        tenant: header("tenant")?,
        account: header("account-id")?,
        endpoint: header("endpoint-id")?,
    })
}

/// The two customers' endpoint addresses, bound: 127.0.0.2 and 127.0.0.3
/// on one free port (the service's port).
async fn endpoint_addresses() -> Result<(Bound, Bound)> {
    let mut last = None;
    for _ in 0..20 {
        let first = Bound::bind(IpAddr::V4(CUSTOMER_ENDPOINT_IP), 0).await?;
        let port = first.addr()?.port();
        match Bound::bind(IpAddr::V4(OTHER_ENDPOINT_IP), port).await {
            Ok(second) => return Ok((first, second)),
            // Taken on the second address: try another port.
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .unwrap_or_else(|| anyhow!("no port"))
        .context("binding both endpoint addresses on one port"))
}

/// Polls the operator's `connections` view until `owner`'s request is
/// pending and the Lambda's decision about it is recorded on the connection
/// (the decision history). Returns the endpoint id and that decision.
async fn wait_for_pending_review(
    vendor: &Account,
    stack: &str,
    owner: &str,
) -> Result<(String, String)> {
    wait_for_pending_review_within(vendor, stack, owner, Duration::from_secs(60)).await
}

/// [`wait_for_pending_review`] with a time limit of the caller's (real AWS
/// needs minutes where the emulator needs seconds).
pub async fn wait_for_pending_review_within(
    vendor: &Account,
    stack: &str,
    owner: &str,
    limit: Duration,
) -> Result<(String, String)> {
    let deadline = Instant::now() + limit;
    let poll = if limit > Duration::from_secs(120) {
        Duration::from_secs(5)
    } else {
        Duration::from_millis(300)
    };
    loop {
        let listed = cli(
            vendor,
            "endpoint-service",
            &["connections", "--stack", stack],
        )
        .await?;
        if let Some(found) = connection_of(&listed, owner) {
            let state = found.get("state").and_then(Value::as_str).unwrap_or("");
            let decision = found
                .pointer("/last_decision/decision")
                .and_then(Value::as_str);
            if let (true, Some(decision)) =
                (state.eq_ignore_ascii_case("pendingAcceptance"), decision)
            {
                return Ok((string_at(found, &["endpoint_id"])?, decision.to_string()));
            }
        }
        if Instant::now() > deadline {
            bail!(
                "no pending request from {owner} with a recorded decision after {} s: {listed}",
                limit.as_secs()
            );
        }
        tokio::time::sleep(poll).await;
    }
}

/// The connection row of `owner` in a `connections --output json` listing.
pub fn connection_of<'a>(listed: &'a Value, owner: &str) -> Option<&'a Value> {
    listed
        .get("connections")?
        .as_array()?
        .iter()
        .find(|c| c.get("owner").and_then(Value::as_str) == Some(owner))
}

/// The decision recorded on `owner`'s connection, as `connections` shows it
/// (`decision (trigger)`, e.g. `accept (sns)`).
pub async fn recorded_decision(vendor: &Account, stack: &str, owner: &str) -> Result<String> {
    let listed = cli(
        vendor,
        "endpoint-service",
        &["connections", "--stack", stack],
    )
    .await?;
    let row = connection_of(&listed, owner)
        .ok_or_else(|| anyhow!("no connection of {owner} in {}", one_line(&listed)))?;
    let decision = string_at(row, &["last_decision", "decision"])?;
    let trigger = string_at(row, &["last_decision", "trigger"])?;
    Ok(format!("{decision} ({trigger})"))
}

/// The Lambda's JSON decision log line about `endpoint`, if it printed one.
fn decision_log(runtime: &LambdaRuntime, endpoint: &str) -> Option<String> {
    runtime
        .log_lines()
        .into_iter()
        .find(|line| {
            let text = line.to_string();
            text.contains(endpoint) && text.contains("\"decision\"")
        })
        .map(|line| one_line(&line))
}

/// The environment `up` configured on the approver function.
async fn deployed_environment(vendor: &Account, stack: &str) -> Result<Vec<(String, String)>> {
    let lambda = aws_sdk_lambda::Client::new(&vendor.config);
    let config = lambda
        .get_function_configuration()
        .function_name(privatelink_core::naming::StackName::parse(stack)?.function())
        .send()
        .await
        .context("reading the approver's configuration")?;
    let vars = config
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    Ok(vars.into_iter().collect())
}

async fn delete_customer_vpc(account: &Account) -> Result<()> {
    let ec2 = account.ec2();
    let vpcs = ec2
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("is-default")
                .values("false")
                .build(),
        )
        .send()
        .await?;
    for vpc in vpcs.vpcs() {
        let Some(vpc_id) = vpc.vpc_id() else { continue };
        let subnets = ec2
            .describe_subnets()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("vpc-id")
                    .values(vpc_id)
                    .build(),
            )
            .send()
            .await?;
        for subnet in subnets.subnets() {
            if let Some(id) = subnet.subnet_id() {
                ec2.delete_subnet().subnet_id(id).send().await?;
            }
        }
        ec2.delete_vpc().vpc_id(vpc_id).send().await?;
    }
    Ok(())
}

/// Deletes one VPC the test made, with its subnets and the security groups
/// left in it (not the default group). Used by the live test, which must
/// never touch anything else in a real account.
pub async fn delete_vpc(account: &Account, vpc_id: &str) -> Result<()> {
    let ec2 = account.ec2();
    let in_vpc = || {
        aws_sdk_ec2::types::Filter::builder()
            .name("vpc-id")
            .values(vpc_id)
            .build()
    };
    let groups = ec2
        .describe_security_groups()
        .filters(in_vpc())
        .send()
        .await
        .with_context(|| format!("listing the security groups of {vpc_id}"))?;
    for group in groups.security_groups() {
        if group.group_name() == Some("default") {
            continue;
        }
        if let Some(id) = group.group_id() {
            ec2.delete_security_group()
                .group_id(id)
                .send()
                .await
                .with_context(|| format!("deleting security group {id}"))?;
        }
    }
    let subnets = ec2
        .describe_subnets()
        .filters(in_vpc())
        .send()
        .await
        .with_context(|| format!("listing the subnets of {vpc_id}"))?;
    for subnet in subnets.subnets() {
        if let Some(id) = subnet.subnet_id() {
            ec2.delete_subnet()
                .subnet_id(id)
                .send()
                .await
                .with_context(|| format!("deleting subnet {id}"))?;
        }
    }
    ec2.delete_vpc()
        .vpc_id(vpc_id)
        .send()
        .await
        .with_context(|| format!("deleting VPC {vpc_id}"))?;
    Ok(())
}

/// Everything a stack or a connection could have left in these accounts,
/// listed with plain SDK calls (independent of the kit's own discovery, so a
/// discovery bug cannot hide a leftover). Default VPCs and groups are
/// excluded: every account has them.
pub async fn leftovers(accounts: &[&Account]) -> Result<Vec<String>> {
    let mut left = Vec::new();
    for account in accounts {
        let who = &account.id;
        let ec2 = account.ec2();
        for vpc in ec2.describe_vpcs().send().await?.vpcs() {
            if vpc.is_default() != Some(true) {
                left.push(format!("{who}: VPC {}", vpc.vpc_id().unwrap_or("?")));
            }
        }
        for group in ec2
            .describe_security_groups()
            .send()
            .await?
            .security_groups()
        {
            if group.group_name() != Some("default") {
                left.push(format!(
                    "{who}: security group {}",
                    group.group_id().unwrap_or("?")
                ));
            }
        }
        for endpoint in ec2.describe_vpc_endpoints().send().await?.vpc_endpoints() {
            let state = endpoint.state().map(|s| s.as_str().to_ascii_lowercase());
            if state.as_deref() != Some("deleted") {
                left.push(format!(
                    "{who}: VPC endpoint {}",
                    endpoint.vpc_endpoint_id().unwrap_or("?")
                ));
            }
        }
        let services = ec2
            .describe_vpc_endpoint_service_configurations()
            .send()
            .await?;
        for service in services.service_configurations() {
            left.push(format!(
                "{who}: endpoint service {}",
                service.service_id().unwrap_or("?")
            ));
        }
        let notifications = ec2
            .describe_vpc_endpoint_connection_notifications()
            .send()
            .await?;
        for n in notifications.connection_notification_set() {
            left.push(format!(
                "{who}: notification {}",
                n.connection_notification_id().unwrap_or("?")
            ));
        }
        let elbv2 = account.elbv2();
        for lb in elbv2
            .describe_load_balancers()
            .send()
            .await?
            .load_balancers()
        {
            left.push(format!(
                "{who}: load balancer {}",
                lb.load_balancer_name().unwrap_or("?")
            ));
        }
        for tg in elbv2.describe_target_groups().send().await?.target_groups() {
            left.push(format!(
                "{who}: target group {}",
                tg.target_group_name().unwrap_or("?")
            ));
        }
        for topic in account.sns().list_topics().send().await?.topics() {
            left.push(format!(
                "{who}: SNS topic {}",
                topic.topic_arn().unwrap_or("?")
            ));
        }
        for url in account.sqs().list_queues().send().await?.queue_urls() {
            left.push(format!("{who}: SQS queue {url}"));
        }
        let lambda = aws_sdk_lambda::Client::new(&account.config);
        for f in lambda.list_functions().send().await?.functions() {
            left.push(format!(
                "{who}: Lambda function {}",
                f.function_name().unwrap_or("?")
            ));
        }
        let iam = aws_sdk_iam::Client::new(&account.config);
        for role in iam.list_roles().send().await?.roles() {
            left.push(format!("{who}: IAM role {}", role.role_name()));
        }
        let events = aws_sdk_eventbridge::Client::new(&account.config);
        for rule in events.list_rules().send().await?.rules() {
            left.push(format!(
                "{who}: EventBridge rule {}",
                rule.name().unwrap_or("?")
            ));
        }
        let dynamodb = aws_sdk_dynamodb::Client::new(&account.config);
        for table in dynamodb.list_tables().send().await?.table_names() {
            left.push(format!("{who}: DynamoDB table {table}"));
        }
        let route53 = aws_sdk_route53::Client::new(&account.config);
        for zone in route53.list_hosted_zones().send().await?.hosted_zones() {
            left.push(format!("{who}: hosted zone {}", zone.name()));
        }
    }
    Ok(left)
}

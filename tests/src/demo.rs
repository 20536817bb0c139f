//! The newcomer's first minute: the whole product, with the real binaries,
//! against the local emulator (README's first command, `tests/demo.sh`, and
//! the end-to-end test `tests/tests/scenarios/e2e.rs`).
//!
//! Three accounts in one emulator: the vendor (provider), a customer who is
//! a tenant (the config's allowlist seeds the tenant registry), and a
//! customer who is not. The vendor's app is
//! [`StandIn`], an HTTPS server on 127.0.0.1. The approver Lambda is the
//! compiled binary under the Lambda Runtime API emulator; [`Bridge`] carries
//! the emulator's SNS deliveries to it (test infrastructure, see its docs).
//!
//! Every step says in plain words what it did. Everything started here (the
//! emulator, the runtime emulator, child commands) stops when the returned
//! future is dropped, which is what happens on Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use crate::bins::binary;
use crate::bridge::{Bridge, Deliver};
use crate::fixtures;
use crate::lambda_runtime::{build_release, FunctionSpec, LambdaRuntime};
use crate::tls_server::{StandIn, BODY};
use crate::{Account, Emulator};

/// The name consumers use for the vendor's service.
pub const DNS_NAME: &str = "api.vendor.internal";

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

    say.step("2. The vendor's app: an HTTPS server answering GET / with \"API OK\"");
    let standin = StandIn::start(DNS_NAME, &options.workdir).await?;
    say.detail(&format!(
        "listening on https://{} with a certificate for {DNS_NAME} from a fresh CA ({})",
        standin.addr,
        standin.ca_file.display()
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
            port: standin.port(),
            allowlisted: &customer.id,
            package: &options.lambda_zip,
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
    let connected = connect(&customer, &service_name, &customer_vpc_id, &standin).await?;
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

    say.step("6. Other customer (not a tenant): the Lambda leaves it pending for review");
    let (stranger_vpc_id, _) = customer_vpc(&stranger).await?;
    summary.other_vpc = stranger_vpc_id.clone();
    let stranger_connect = {
        let stranger = stranger.clone();
        let service_name = service_name.clone();
        let vpc = stranger_vpc_id.clone();
        let standin_args = (
            standin.resolve_arg(DNS_NAME),
            standin.ca_file.clone(),
            standin.port(),
        );
        tokio::spawn(
            async move { connect_with(&stranger, &service_name, &vpc, &standin_args).await },
        )
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
        "the second customer's connect finished and verify passed; decision recorded: {}",
        summary.manual_decision_after_override
    ));
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
            standin: &standin,
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
    drop(standin);
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
    standin: &'a StandIn,
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
        let resolve = self.standin.resolve_arg(DNS_NAME);
        let ca = self.standin.ca_file.to_string_lossy().into_owned();
        let port = self.standin.port().to_string();
        let mut verify = vec!["verify"];
        verify.extend(target);
        verify.extend([
            "--dns-name",
            DNS_NAME,
            "--port",
            &port,
            "--resolve",
            &resolve,
            "--ca-file",
            &ca,
            "--expect-body",
            BODY,
        ]);
        cli(self.customer, "consumer-cli", &verify).await?;
        summary.tour.push("customer: status, verify".to_string());
        Ok(())
    }
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
}

/// Writes the vendor's stack config to `path`: a new VPC with a subnet in
/// every AZ, the service port, the customer that seeds the tenant registry,
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
    } = *config;
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
targets = ["10.0.0.10"]

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

async fn connect(
    account: &Account,
    service_name: &str,
    vpc: &str,
    standin: &StandIn,
) -> Result<Value> {
    let args = (
        standin.resolve_arg(DNS_NAME),
        standin.ca_file.clone(),
        standin.port(),
    );
    connect_with(account, service_name, vpc, &args).await
}

async fn connect_with(
    account: &Account,
    service_name: &str,
    vpc: &str,
    (resolve, ca_file, port): &(String, PathBuf, u16),
) -> Result<Value> {
    let port = port.to_string();
    cli(
        account,
        "consumer-cli",
        &[
            "connect",
            "--service-name",
            service_name,
            "--vpc",
            vpc,
            "--dns-name",
            DNS_NAME,
            "--port",
            &port,
            "--resolve",
            resolve,
            "--ca-file",
            path_str(ca_file)?,
            "--expect-body",
            BODY,
            "--wait",
            "120s",
        ],
    )
    .await
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

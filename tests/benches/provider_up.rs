//! `cargo bench --workspace --bench provider_up` (release) or
//! `cargo test -p privatelink-tests --bench provider_up` (debug): how long
//! `endpoint-service up` takes to build a provider stack from empty, next
//! to the equivalent AWS CLI sequence run against the same emulator in the
//! same run, and how many AWS calls (and mutating calls) a converged re-run
//! makes. Printed figures; goals: ≥ 10× faster than the CLI sequence, 0
//! mutating calls on re-run.
//!
//! - `up`: the real binary, built first in this bench's profile (a no-op
//!   when up to date), else the same library call in-process (said so in
//!   the output). Each round uses a fresh
//!   account, so every round starts from empty.
//! - The CLI sequence: the AWS CLI v1 (pinned, installed by
//!   `tests/tools/install-awscli.sh`) making the same creates in the same
//!   order with the same tags and policy documents (built by the same
//!   library functions), one `aws` process per call as a person or a shell
//!   script would. Afterwards `plan` on that account must find nothing to
//!   change: the sequences are equivalent.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use endpoint_service::provision::plan::{desired_environment, Plan};
use endpoint_service::provision::policy::{
    approver_boundary_policy, approver_role_policy, lambda_trust_policy, topic_policy, Scope,
    ROLE_POLICY_NAME, SNS_PERMISSION_SID, SWEEP_PERMISSION_SID,
};
use endpoint_service::provision::spec::{Overrides, StackSpec};
use endpoint_service::provision::{up, Clients};
use privatelink_core::cli::progress::Progress;
use privatelink_core::naming::{StackName, MANAGED_BY, MANAGED_BY_TAG, STACK_TAG};
use privatelink_tests::accounts::REGION;
use privatelink_tests::bins::build_binary;
use privatelink_tests::emulator::repo_root;
use privatelink_tests::provider_cli::{stack_toml, StackDir};
use privatelink_tests::{Account, Emulator};
use serde_json::{json, Value};

const STACK: &str = "bench";
const ROUNDS: usize = 3;
const ALLOWLIST: [&str; 2] = ["111111111111", "222222222222"];

fn main() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(bench())
}

/// How `up` is run.
enum Runner {
    Binary(PathBuf),
    InProcess,
}

async fn bench() -> Result<()> {
    let aws = install_awscli()?;
    let emulator = Emulator::shared();
    let dir = StackDir::new(&stack_toml(STACK, &ALLOWLIST, ""))?;
    let spec = StackSpec::load(
        dir.config(),
        &Overrides {
            check_package: true,
            ..Default::default()
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let runner = match build_binary("endpoint-service") {
        Ok(path) => Runner::Binary(path),
        Err(e) => {
            eprintln!("endpoint-service could not be built ({e:#}); timing the library call");
            Runner::InProcess
        }
    };
    match &runner {
        Runner::Binary(path) => println!("endpoint-service up: {}", path.display()),
        Runner::InProcess => println!(
            "endpoint-service up: in-process library call (binary not built next to this bench)"
        ),
    }

    // Warm-up: the emulator sets each service up lazily on first use.
    let warm = Account::fresh(emulator).await?;
    run_up(&runner, &warm, &spec, dir.config()).await?;

    let mut ours = Vec::new();
    let mut last = None;
    for _ in 0..ROUNDS {
        let account = Account::fresh(emulator).await?;
        let started = Instant::now();
        let report = run_up(&runner, &account, &spec, dir.config()).await?;
        ours.push(started.elapsed());
        if report["changes"].as_array().is_none_or(Vec::is_empty) {
            bail!("up from empty made no changes: {report:#}");
        }
        last = Some(account);
    }
    let account = last.context("no round ran")?;
    let rerun = run_up(&runner, &account, &spec, dir.config()).await?;

    let cli_account = Account::fresh(emulator).await?;
    let started = Instant::now();
    let cli_calls = cli_sequence(&aws, &cli_account, &spec, &dir.dir.join("bootstrap.zip"))?;
    let cli = started.elapsed();
    let leftover = plan_for(&cli_account, &spec).await?;

    ours.sort();
    let median = ours[ours.len() / 2];
    println!();
    println!(
        "provider stack from empty ({} AZs, 1 port, 2 targets, approver, sweep):",
        zones_of(&account).await?
    );
    println!(
        "  endpoint-service up        median {:>8.1} ms  (rounds: {})",
        ms(median),
        ours.iter()
            .map(|d| format!("{:.1}", ms(*d)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  AWS CLI sequence           {:>15.1} ms  ({cli_calls} aws processes)",
        ms(cli)
    );
    println!(
        "  speed-up                   {:>14.1}×  (goal ≥ 10×)",
        cli.as_secs_f64() / median.as_secs_f64()
    );
    println!("converged re-run of up:");
    println!(
        "  AWS calls {} (mutating {}), changes {}  (goal: 0 mutating)",
        rerun["calls"]["total"],
        rerun["calls"]["mutating"],
        rerun["changes"].as_array().map(Vec::len).unwrap_or(0)
    );
    println!(
        "equivalence: plan on the CLI-built stack finds {} change(s){}",
        leftover.steps.len(),
        if leftover.is_empty() {
            ""
        } else {
            " (see below)"
        }
    );
    if !leftover.is_empty() {
        println!("{leftover}");
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn zones_of(account: &Account) -> Result<usize> {
    Ok(privatelink_tests::fixtures::zones(account).await?.len())
}

/// One `up`, returning its JSON report.
async fn run_up(
    runner: &Runner,
    account: &Account,
    spec: &StackSpec,
    config: &Path,
) -> Result<Value> {
    match runner {
        Runner::Binary(path) => {
            let mut command = Command::new(path);
            account.apply_env(&mut command);
            let out = command
                .args(["up", "--output", "json", "-c"])
                .arg(config)
                .output()
                .context("running endpoint-service up")?;
            if !out.status.success() {
                bail!(
                    "endpoint-service up failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Ok(serde_json::from_slice(&out.stdout)?)
        }
        Runner::InProcess => {
            let clients = Clients::new(&account.config)?;
            let report = up::up(&clients, spec, &Progress::silent()).await?;
            Ok(serde_json::to_value(report)?)
        }
    }
}

/// What `plan` finds to change on `account`.
async fn plan_for(account: &Account, spec: &StackSpec) -> Result<Plan> {
    let clients = Clients::new(&account.config)?;
    Ok(up::preview(&clients, spec).await?.plan)
}

fn install_awscli() -> Result<PathBuf> {
    let script = repo_root()
        .join("tests")
        .join("tools")
        .join("install-awscli.sh");
    let out = Command::new(&script)
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let path = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    Ok(PathBuf::from(path))
}

/// Runs one `aws` command as `account` and returns its trimmed stdout.
fn aws(cli: &Path, account: &Account, args: &[&str], calls: &mut usize) -> Result<String> {
    let mut command = Command::new(cli);
    account.apply_env(&mut command);
    command
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_PAGER", "")
        .args(args);
    let out = command
        .output()
        .with_context(|| format!("running aws {}", args.join(" ")))?;
    *calls += 1;
    if !out.status.success() {
        bail!(
            "aws {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn tag_list(stack: &StackName) -> Value {
    json!([{"Key": STACK_TAG, "Value": stack.as_str()}, {"Key": MANAGED_BY_TAG, "Value": MANAGED_BY}])
}

fn tag_spec(resource: &str, stack: &StackName) -> String {
    json!([{"ResourceType": resource, "Tags": tag_list(stack)}]).to_string()
}

/// The same creates as `up`, one `aws` process each; returns how many.
fn cli_sequence(cli: &Path, account: &Account, spec: &StackSpec, zip: &Path) -> Result<usize> {
    let mut n = 0;
    let s = &spec.name;
    let tags = tag_list(s).to_string();
    let zones = aws(
        cli,
        account,
        &[
            "ec2",
            "describe-availability-zones",
            "--query",
            "AvailabilityZones[].[ZoneName,ZoneId]",
            "--output",
            "text",
        ],
        &mut n,
    )?;
    let mut zone_ids: Vec<(String, String)> = zones
        .lines()
        .filter_map(|l| {
            l.split_once('\t')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
        .collect();
    zone_ids.sort();
    // The tenant registry first, as `up` does: the table (tagged on
    // creation), point-in-time recovery, the seeded tenants.
    let table = s.tenants_table();
    aws(
        cli,
        account,
        &[
            "dynamodb",
            "create-table",
            "--table-name",
            &table,
            "--billing-mode",
            "PAY_PER_REQUEST",
            "--attribute-definitions",
            "AttributeName=account_id,AttributeType=S",
            "--key-schema",
            "AttributeName=account_id,KeyType=HASH",
            "--tags",
            &tags,
        ],
        &mut n,
    )?;
    aws(
        cli,
        account,
        &["dynamodb", "wait", "table-exists", "--table-name", &table],
        &mut n,
    )?;
    aws(
        cli,
        account,
        &[
            "dynamodb",
            "update-continuous-backups",
            "--table-name",
            &table,
            "--point-in-time-recovery-specification",
            "PointInTimeRecoveryEnabled=true",
        ],
        &mut n,
    )?;
    let seeds: Vec<Value> = spec
        .allowlist
        .iter()
        .map(|a| {
            json!({"Put": {
                "TableName": table,
                "Item": {
                    "account_id": {"S": a.as_str()},
                    "name": {"S": a.as_str()},
                    "status": {"S": "active"},
                    "updated_by": {"S": "config"},
                    "version": {"N": "1"}
                },
                "ConditionExpression": "attribute_not_exists(account_id)"
            }})
        })
        .collect();
    aws(
        cli,
        account,
        &[
            "dynamodb",
            "transact-write-items",
            "--transact-items",
            &Value::Array(seeds).to_string(),
        ],
        &mut n,
    )?;
    let vpc = aws(
        cli,
        account,
        &[
            "ec2",
            "create-vpc",
            "--cidr-block",
            "10.40.0.0/16",
            "--tag-specifications",
            &tag_spec("vpc", s),
            "--query",
            "Vpc.VpcId",
            "--output",
            "text",
        ],
        &mut n,
    )?;
    let mut subnets = Vec::new();
    for (i, (_, id)) in zone_ids.iter().enumerate() {
        let cidr = format!("10.40.{}.0/20", i * 16);
        subnets.push(aws(
            cli,
            account,
            &[
                "ec2",
                "create-subnet",
                "--vpc-id",
                &vpc,
                "--availability-zone-id",
                id,
                "--cidr-block",
                &cidr,
                "--tag-specifications",
                &tag_spec("subnet", s),
                "--query",
                "Subnet.SubnetId",
                "--output",
                "text",
            ],
            &mut n,
        )?);
    }
    let tg = aws(
        cli,
        account,
        &[
            "elbv2",
            "create-target-group",
            "--name",
            &s.target_group(443),
            "--protocol",
            "TCP",
            "--port",
            "443",
            "--vpc-id",
            &vpc,
            "--target-type",
            "ip",
            "--health-check-enabled",
            "--health-check-protocol",
            "TCP",
            "--health-check-port",
            "traffic-port",
            "--health-check-interval-seconds",
            "10",
            "--healthy-threshold-count",
            "3",
            "--unhealthy-threshold-count",
            "3",
            "--tags",
            &tags,
            "--query",
            "TargetGroups[0].TargetGroupArn",
            "--output",
            "text",
        ],
        &mut n,
    )?;
    aws(
        cli,
        account,
        &[
            "elbv2",
            "register-targets",
            "--target-group-arn",
            &tg,
            "--targets",
            "Id=10.40.0.10,Port=8443",
            "Id=10.40.16.10,Port=8443",
        ],
        &mut n,
    )?;
    let mut args = vec![
        "elbv2",
        "create-load-balancer",
        "--name",
        "bench-nlb",
        "--type",
        "network",
        "--scheme",
        "internal",
        "--tags",
        &tags,
        "--query",
        "LoadBalancers[0].LoadBalancerArn",
        "--output",
        "text",
        "--subnets",
    ];
    args.extend(subnets.iter().map(String::as_str));
    let lb = aws(cli, account, &args, &mut n)?;
    aws(
        cli,
        account,
        &[
            "elbv2",
            "wait",
            "load-balancer-available",
            "--load-balancer-arns",
            &lb,
        ],
        &mut n,
    )?;
    aws(
        cli,
        account,
        &[
            "elbv2",
            "modify-load-balancer-attributes",
            "--load-balancer-arn",
            &lb,
            "--attributes",
            "Key=load_balancing.cross_zone.enabled,Value=true",
        ],
        &mut n,
    )?;
    aws(
        cli,
        account,
        &[
            "elbv2",
            "create-listener",
            "--load-balancer-arn",
            &lb,
            "--protocol",
            "TCP",
            "--port",
            "443",
            "--default-actions",
            &format!("Type=forward,TargetGroupArn={tg}"),
            "--tags",
            &tags,
        ],
        &mut n,
    )?;
    let service_id = aws(
        cli,
        account,
        &[
            "ec2",
            "create-vpc-endpoint-service-configuration",
            "--acceptance-required",
            "--network-load-balancer-arns",
            &lb,
            "--tag-specifications",
            &tag_spec("vpc-endpoint-service", s),
            "--query",
            "ServiceConfiguration.ServiceId",
            "--output",
            "text",
        ],
        &mut n,
    )?;
    let mut args = vec![
        "ec2".to_string(),
        "modify-vpc-endpoint-service-permissions".into(),
        "--service-id".into(),
        service_id.clone(),
        "--add-allowed-principals".into(),
    ];
    args.extend(
        spec.allowlist
            .iter()
            .map(|a| format!("arn:aws:iam::{a}:root")),
    );
    aws(
        cli,
        account,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &mut n,
    )?;
    let topic = aws(
        cli,
        account,
        &[
            "sns",
            "create-topic",
            "--name",
            &s.topic(),
            "--tags",
            &tags,
            "--query",
            "TopicArn",
            "--output",
            "text",
        ],
        &mut n,
    )?;
    let policy = topic_policy(&topic, REGION, &account.id, &service_id).to_string();
    aws(
        cli,
        account,
        &[
            "sns",
            "set-topic-attributes",
            "--topic-arn",
            &topic,
            "--attribute-name",
            "Policy",
            "--attribute-value",
            &policy,
        ],
        &mut n,
    )?;
    aws(
        cli,
        account,
        &[
            "ec2",
            "create-vpc-endpoint-connection-notification",
            "--service-id",
            &service_id,
            "--connection-notification-arn",
            &topic,
            "--connection-events",
            "Accept",
            "Connect",
            "Delete",
            "Reject",
        ],
        &mut n,
    )?;
    let scope = Scope {
        registry_region: None,
        stack: s.clone(),
        region: REGION.into(),
        account: account.id.clone(),
        service_id: Some(service_id.clone()),
    };
    let boundary = aws(
        cli,
        account,
        &[
            "iam",
            "create-policy",
            "--policy-name",
            &s.boundary(),
            "--policy-document",
            &approver_boundary_policy(&scope).to_string(),
            "--tags",
            &tags,
            "--query",
            "Policy.Arn",
            "--output",
            "text",
        ],
        &mut n,
    )?;
    let role = aws(
        cli,
        account,
        &[
            "iam",
            "create-role",
            "--role-name",
            &s.role(),
            "--assume-role-policy-document",
            &lambda_trust_policy().to_string(),
            "--permissions-boundary",
            &boundary,
            "--tags",
            &tags,
            "--query",
            "Role.Arn",
            "--output",
            "text",
        ],
        &mut n,
    )?;
    aws(
        cli,
        account,
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            &s.role(),
            "--policy-name",
            ROLE_POLICY_NAME,
            "--policy-document",
            &approver_role_policy(&scope).to_string(),
        ],
        &mut n,
    )?;
    let env = json!({"Variables": desired_environment(spec, &service_id)}).to_string();
    let zip_arg = format!("fileb://{}", zip.display());
    let lambda_tags = json!({STACK_TAG: s.as_str(), MANAGED_BY_TAG: MANAGED_BY}).to_string();
    let function = aws(
        cli,
        account,
        &[
            "lambda",
            "create-function",
            "--function-name",
            &s.function(),
            "--runtime",
            "provided.al2023",
            "--handler",
            "bootstrap",
            "--role",
            &role,
            "--architectures",
            "x86_64",
            "--zip-file",
            &zip_arg,
            "--environment",
            &env,
            "--timeout",
            "60",
            "--tags",
            &lambda_tags,
            "--query",
            "FunctionArn",
            "--output",
            "text",
        ],
        &mut n,
    )?;
    aws(
        cli,
        account,
        &[
            "lambda",
            "wait",
            "function-active-v2",
            "--function-name",
            &s.function(),
        ],
        &mut n,
    )?;
    aws(
        cli,
        account,
        &[
            "lambda",
            "add-permission",
            "--function-name",
            &s.function(),
            "--statement-id",
            SNS_PERMISSION_SID,
            "--action",
            "lambda:InvokeFunction",
            "--principal",
            "sns.amazonaws.com",
            "--source-arn",
            &topic,
            "--source-account",
            &account.id,
        ],
        &mut n,
    )?;
    aws(
        cli,
        account,
        &[
            "sns",
            "subscribe",
            "--topic-arn",
            &topic,
            "--protocol",
            "lambda",
            "--notification-endpoint",
            &function,
        ],
        &mut n,
    )?;
    let rule = aws(
        cli,
        account,
        &[
            "events",
            "put-rule",
            "--name",
            &s.sweep_rule(),
            "--schedule-expression",
            &spec.approver.sweep_schedule,
            "--state",
            "ENABLED",
            "--tags",
            &tags,
            "--query",
            "RuleArn",
            "--output",
            "text",
        ],
        &mut n,
    )?;
    aws(
        cli,
        account,
        &[
            "lambda",
            "add-permission",
            "--function-name",
            &s.function(),
            "--statement-id",
            SWEEP_PERMISSION_SID,
            "--action",
            "lambda:InvokeFunction",
            "--principal",
            "events.amazonaws.com",
            "--source-arn",
            &rule,
            "--source-account",
            &account.id,
        ],
        &mut n,
    )?;
    aws(
        cli,
        account,
        &[
            "events",
            "put-targets",
            "--rule",
            &s.sweep_rule(),
            "--targets",
            &format!("Id=approver,Arn={function}"),
        ],
        &mut n,
    )?;
    Ok(n)
}

//! Stack lifecycle commands: plan, up, status, down, iam-policy. Each
//! parses its flags, loads and validates the config (before any AWS call),
//! calls the library in [`crate::provision`] and prints the result in the
//! chosen format; failures map to the exit codes in [`super::exit`].

use std::fmt;
use std::path::PathBuf;

use anyhow::anyhow;
use serde_json::Value;

use super::exit::CliError;
use super::output::emit;
use super::regions::each_region;
use super::GlobalArgs;
use crate::aws::AwsOptions;
use crate::naming::StackName;
use crate::provision::down::{down, DownError};
use crate::provision::policy::{self, Scope};
use crate::provision::spec::{Overrides, StackSpec};
use crate::provision::status::status;
use crate::provision::up::{preview, up, UpError};
use crate::provision::{Clients, ProvisionError};
use privatelink_core::cli::progress::Progress;

#[derive(Debug, clap::Subcommand)]
pub enum StackCommand {
    /// Show what `up` would create, change or delete; changes nothing
    Plan(ConfigArgs),
    /// Create the provider stack from a config file, or converge it to the
    /// file (safe to re-run: a converged stack makes no changes)
    Up(ConfigArgs),
    /// Show the service name, AZs, load balancer and target health, the
    /// notification wiring and every connection
    Status(StackArgs),
    /// Delete everything the stack created (refuses while consumers are
    /// connected, unless --force); the tenant registry is kept unless
    /// --delete-tenants
    Down(DownArgs),
    /// Print the least-privilege IAM policies: the operator's (for
    /// plan/up/status/down and the operator commands), the approver Lambda
    /// role's inline, boundary and trust policies
    IamPolicy(IamPolicyArgs),
}

/// A stack config file and the flags that override it.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    /// The stack's TOML config (see endpoint-service/examples/)
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
    /// Use this stack name instead of the file's `name`
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Accept subnets that do not cover every AZ of the region
    #[arg(long)]
    pub allow_partial_az_coverage: bool,
}

/// Which stack: from its config file or by name.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct StackArgs {
    /// The stack's TOML config
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The stack name (when the config file is not at hand)
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DownArgs {
    #[command(flatten)]
    pub target: StackArgs,
    /// Reject live connections first instead of refusing
    #[arg(long)]
    pub force: bool,
    /// Also delete the tenant registry's table and every tenant in it
    /// (kept by default, so that the stack can be built again with its
    /// tenants)
    #[arg(long)]
    pub delete_tenants: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct IamPolicyArgs {
    #[command(flatten)]
    pub target: StackArgs,
    /// The AWS account id to put in the ARNs (default: *)
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
    /// The endpoint service id for the approver policy (default: any
    /// vpce-svc-* of the account; `up` always uses the real one)
    #[arg(long, value_name = "ID")]
    pub service_id: Option<String>,
    /// The service's private DNS name, when it has one (default: the
    /// config's private_dns_name): grants the Route 53 calls for its
    /// verification TXT record, and only for names under it
    #[arg(long, value_name = "NAME")]
    pub private_dns_name: Option<String>,
    /// The public Route 53 hosted zone that holds the private DNS name
    /// (default: any zone of the account)
    #[arg(long, value_name = "ZONE_ID")]
    pub hosted_zone_id: Option<String>,
}

fn load(
    config: &std::path::Path,
    name: Option<&str>,
    partial: bool,
    check_package: bool,
    global: &GlobalArgs,
) -> Result<StackSpec, CliError> {
    let overrides = Overrides {
        name: name.map(str::to_string),
        region: global.aws.region.clone(),
        allow_partial_az_coverage: partial,
        check_package,
    };
    StackSpec::load(config, &overrides).map_err(|e| CliError::Usage(e.to_string()))
}

/// The spec (if a config was given) and the stack name.
fn target(
    args: &StackArgs,
    global: &GlobalArgs,
) -> Result<(Option<StackSpec>, StackName), CliError> {
    match (&args.config, &args.stack) {
        (Some(config), _) => {
            let spec = load(config, None, false, false, global)?;
            let name = spec.name.clone();
            Ok((Some(spec), name))
        }
        (None, Some(stack)) => StackName::parse(stack)
            .map(|name| (None, name))
            .map_err(|e| CliError::Usage(format!("--stack: {e}"))),
        (None, None) => Err(CliError::Usage("give --config FILE or --stack NAME".into())),
    }
}

async fn clients(global: &GlobalArgs, spec: Option<&StackSpec>) -> Result<Clients, CliError> {
    let mut options = AwsOptions::from(&global.aws).for_app(crate::aws::app::ENDPOINT_SERVICE);
    // The spec's region already is `--region` when given; in a spec of one
    // region of several it is that region.
    if let Some(region) = spec.and_then(|s| s.region.clone()) {
        options.region = Some(region);
    }
    let config = options.load().await?;
    Clients::with_registry_region(&config, spec.and_then(|s| s.registry_region.as_deref()))
        .map_err(provision_error)
}

/// Runs a stack command for the spec's regions and prints the result: as
/// today for a one-region file; for a file with `regions`, in every region
/// at once (or the one `--region` picks), each region's report, and which
/// regions failed ([`super::regions`]).
async fn in_regions<T, F, Fut>(
    command: &'static str,
    spec: &StackSpec,
    global: &GlobalArgs,
    run: F,
) -> Result<(), CliError>
where
    T: fmt::Display + serde::Serialize,
    F: Fn(StackSpec, Clients, Progress) -> Fut,
    Fut: std::future::Future<Output = Result<T, CliError>>,
{
    let specs = spec.per_region();
    let progress = Progress::stderr();
    if !spec.is_multi_region() {
        let Some(spec) = specs.into_iter().next() else {
            return Err(CliError::Usage("the config names no region".into()));
        };
        let clients = clients(global, Some(&spec)).await?;
        let report = run(spec, clients, progress).await?;
        return Ok(emit(global.output, &report)?);
    }
    let regions = specs
        .iter()
        .map(|s| {
            (
                s.region.clone().unwrap_or_default(),
                s.registry_region.clone(),
            )
        })
        .collect();
    let (specs, run, progress) = (&specs, &run, &progress);
    let report = each_region(command, regions, |i| async move {
        let spec = specs[i].clone();
        let label = spec.region.clone().unwrap_or_default();
        let clients = clients(global, Some(&spec)).await?;
        run(spec, clients, progress.labelled(&label)).await
    })
    .await;
    emit(global.output, &report)?;
    match report.failure() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

fn up_error(error: UpError) -> CliError {
    match error {
        UpError::Before(e) => provision_error(e),
        UpError::Apply(e) => CliError::Failed(anyhow!(e)),
    }
}

fn down_error(error: DownError) -> CliError {
    match error {
        e @ DownError::LiveConnections(_) => CliError::Refused(e.to_string()),
        DownError::Before(e) => provision_error(e),
        e => CliError::Failed(anyhow!(e)),
    }
}

fn provision_error(error: ProvisionError) -> CliError {
    match error {
        ProvisionError::Refused(m) => CliError::Refused(m),
        ProvisionError::Input(m) => CliError::Usage(m),
        other => CliError::Failed(anyhow!(other)),
    }
}

/// The policies `iam-policy` prints.
#[derive(Debug, serde::Serialize)]
pub struct IamPolicies {
    pub stack: String,
    pub operator_policy: Value,
    pub approver_role_policy: Value,
    /// The customer managed policy `up` creates as the role's permissions
    /// boundary, and its name.
    pub approver_boundary_policy: Value,
    pub approver_boundary_name: String,
    /// The administrator's rights to create and delete that boundary (never
    /// the operator's).
    pub boundary_admin_policy: Value,
    pub approver_trust_policy: Value,
    /// The SNS topic's policy (what `up` sets, with the real service id).
    pub topic_policy: Value,
    /// For the role the gateway runs as (a `[gateway]`): read-only, the
    /// service's connections and the stack's registry.
    pub gateway_role_policy: Value,
}

impl fmt::Display for IamPolicies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
        writeln!(
            f,
            "# Operator policy for plan/up/status/down of stack {}",
            self.stack
        )?;
        writeln!(f, "{}", pretty(&self.operator_policy))?;
        writeln!(
            f,
            "\n# Approver Lambda role: inline policy (what `up` applies)"
        )?;
        writeln!(f, "{}", pretty(&self.approver_role_policy))?;
        writeln!(
            f,
            "\n# Approver Lambda role: permissions boundary, managed policy {} (what `up` creates)",
            self.approver_boundary_name
        )?;
        writeln!(f, "{}", pretty(&self.approver_boundary_policy))?;
        writeln!(
            f,
            "\n# Administrator, once: create that boundary before the first `up` (or run that \
             `up`) and delete it after the last `down`; never the operator's"
        )?;
        writeln!(f, "{}", pretty(&self.boundary_admin_policy))?;
        writeln!(f, "\n# Approver Lambda role: trust policy")?;
        writeln!(f, "{}", pretty(&self.approver_trust_policy))?;
        writeln!(f, "\n# Notification topic: resource policy")?;
        writeln!(f, "{}", pretty(&self.topic_policy))?;
        writeln!(
            f,
            "\n# Gateway role ([gateway]; the gateway runs on your hosts): read-only, \
             the service's connections and the stack's tenant registry"
        )?;
        write!(f, "{}", pretty(&self.gateway_role_policy))
    }
}

pub async fn run(command: StackCommand, global: &GlobalArgs) -> Result<(), CliError> {
    match command {
        StackCommand::Plan(args) => {
            let spec = load(
                &args.config,
                args.name.as_deref(),
                args.allow_partial_az_coverage,
                true,
                global,
            )?;
            in_regions("plan", &spec, global, |spec, clients, _| async move {
                preview(&clients, &spec).await.map_err(provision_error)
            })
            .await?;
        }
        StackCommand::Up(args) => {
            let spec = load(
                &args.config,
                args.name.as_deref(),
                args.allow_partial_az_coverage,
                true,
                global,
            )?;
            in_regions("up", &spec, global, |spec, clients, progress| async move {
                up(&clients, &spec, &progress).await.map_err(up_error)
            })
            .await?;
        }
        StackCommand::Status(args) => match target(&args, global)? {
            (Some(spec), _) => {
                in_regions("status", &spec, global, |spec, clients, _| async move {
                    status(&clients, &spec.name, Some(&spec))
                        .await
                        .map_err(provision_error)
                })
                .await?
            }
            (None, name) => {
                let clients = clients(global, None).await?;
                let report = status(&clients, &name, None)
                    .await
                    .map_err(provision_error)?;
                emit(global.output, &report)?;
            }
        },
        StackCommand::Down(args) => {
            let (force, delete_tenants) = (args.force, args.delete_tenants);
            match target(&args.target, global)? {
                (Some(spec), _) => {
                    if spec.is_multi_region() && delete_tenants && spec.region_chosen {
                        return Err(CliError::Usage(
                            "--delete-tenants deletes the one registry every region of the stack \
                             reads: take the stack down in all its regions at once (drop \
                             --region) to delete it"
                                .into(),
                        ));
                    }
                    in_regions(
                        "down",
                        &spec,
                        global,
                        |spec, clients, progress| async move {
                            down(
                                &clients,
                                &spec.name,
                                Some(&spec.network),
                                force,
                                delete_tenants,
                                &progress,
                            )
                            .await
                            .map_err(down_error)
                        },
                    )
                    .await?
                }
                (None, name) => {
                    let clients = clients(global, None).await?;
                    let progress = Progress::stderr();
                    let report = down(&clients, &name, None, force, delete_tenants, &progress)
                        .await
                        .map_err(down_error)?;
                    emit(global.output, &report)?;
                }
            }
        }
        StackCommand::IamPolicy(args) => {
            let (spec, name) = target(&args.target, global)?;
            // A stack in several regions: the policies of one region, the
            // home region's unless --region picks another (the IAM names and
            // the registry's region differ by region).
            let spec = spec.and_then(|s| s.per_region().into_iter().next());
            let name = spec.as_ref().map_or(name, |s| s.name.clone());
            if let Some(account) = &args.account {
                crate::approval::AccountId::parse(account)
                    .map_err(|e| CliError::Usage(format!("--account: {e}")))?;
            }
            if let Some(id) = &args.service_id {
                if !crate::approval::config::is_service_id(id) {
                    return Err(CliError::Usage(format!("--service-id {id:?} is not an endpoint service id: write it like vpce-svc-0123456789abcdef0")));
                }
            }
            let region = spec
                .as_ref()
                .and_then(|s| s.region.clone())
                .or_else(|| global.aws.region.clone())
                .unwrap_or_else(|| "*".into());
            let scope = Scope {
                stack: name.clone(),
                region,
                account: args.account.clone().unwrap_or_else(|| "*".into()),
                service_id: args.service_id.clone(),
                registry_region: spec.as_ref().and_then(|s| s.registry_region.clone()),
            };
            let dns = args
                .private_dns_name
                .clone()
                .or_else(|| spec.as_ref().and_then(|s| s.private_dns_name.clone()))
                .map(|name| policy::PrivateDns {
                    name,
                    hosted_zone_id: args.hosted_zone_id.clone(),
                });
            if dns.is_none() && args.hosted_zone_id.is_some() {
                return Err(CliError::Usage(
                    "--hosted-zone-id is for the private DNS name's zone: give --private-dns-name \
                     (or a config with private_dns_name)"
                        .into(),
                ));
            }
            let report = IamPolicies {
                stack: name.to_string(),
                operator_policy: policy::operator_policy_for(&scope, dns.as_ref()),
                approver_role_policy: policy::approver_role_policy(&scope),
                approver_boundary_policy: policy::approver_boundary_policy(&scope),
                approver_boundary_name: name.boundary(),
                boundary_admin_policy: policy::boundary_admin_policy(&scope),
                approver_trust_policy: policy::lambda_trust_policy(),
                topic_policy: policy::topic_policy(
                    &scope.topic_arn(),
                    &scope.region,
                    &scope.account,
                    scope.service_id.as_deref().unwrap_or("vpce-svc-*"),
                ),
                gateway_role_policy: policy::gateway_role_policy(&scope),
            };
            emit(global.output, &report)?;
        }
    }
    Ok(())
}

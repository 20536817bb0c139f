//! Operator commands: connections, manual accept/reject, tenants, drift,
//! sweep, history. Each parses its flags, asks for confirmation where the
//! action goes beyond the approver's rules, calls [`crate::operator`] and
//! prints the result; failures map to the exit codes in [`super::exit`].

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::anyhow;
use privatelink_registry::{Registry, RegistryError};

use super::exit::CliError;
use super::output::{emit, OutputFormat};
use super::GlobalArgs;
use crate::approval::tenant::now_epoch;
use crate::approval::{AccountId, ApproverConfig, Tenants};
use crate::aws::AwsOptions;
use crate::naming::StackName;
use crate::operator::import::{self, Format, ImportReport};
use crate::operator::overrides::{self, Action, OverrideReport, Rule};
use crate::operator::target::ApproverFunction;
use crate::operator::tenants::{self, Edit, EditReport, Fields};
use crate::operator::{self as ops, connections, drift, OperatorError, Selector, Target};
use crate::provision::Clients;
use crate::state::EndpointState;

#[derive(Debug, clap::Subcommand)]
pub enum OperatorCommand {
    /// List every connection of the service: owner, state, age, the owner's
    /// tenant standing, and the last decision recorded
    Connections(ConnectionsArgs),
    /// Accept connection requests by endpoint id, overriding the approver
    /// (owners the tenant registry does not entitle need confirmation or
    /// --yes)
    Accept(OverrideArgs),
    /// Reject connections by endpoint id (requests or accepted connections)
    Reject(OverrideArgs),
    /// The tenant registry: who may connect (list, add, suspend, resume,
    /// remove, import, export); the allowed principals and connections
    /// follow every change
    Tenants(TenantsArgs),
    /// Compare the service's allowed principals with the registry's
    /// entitled tenants and report any difference
    Drift(TargetArgs),
    /// Run the approver's sweep from here, with the function's own
    /// configuration, and print every decision
    Sweep(SweepArgs),
    /// Show the last decision recorded on each connection: decision,
    /// reason, trigger, who and when
    History(HistoryArgs),
}

/// Which endpoint service: by stack name or by service id.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct TargetArgs {
    /// The stack name given to `endpoint-service up`
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
    /// The endpoint service id (vpce-svc-...); its stack tag names the
    /// approver function
    #[arg(long, value_name = "ID")]
    pub service_id: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionsArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Only connections in this state (repeatable): pendingAcceptance,
    /// pending, available, rejected, deleting, deleted, failed, expired
    #[arg(long, value_name = "STATE")]
    pub state: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct OverrideArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The consumers' VPC endpoint ids (vpce-...)
    #[arg(value_name = "VPCE_ID", required = true)]
    pub endpoint_ids: Vec<String>,
    /// Accept owners the tenant registry does not entitle without asking
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct TenantsArgs {
    #[command(subcommand)]
    pub command: TenantsCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum TenantsCommand {
    /// List every tenant with its standing now (entitled, suspended,
    /// expired)
    List(TargetArgs),
    /// Add a tenant (active), add its principal and accept its waiting
    /// requests
    Add(AddArgs),
    /// Suspend tenants: their requests are refused, their principals
    /// removed, and with APPROVER_REVOKE=true their connections rejected now
    Suspend(AccountsArgs),
    /// Resume suspended tenants: principals added, waiting requests accepted
    Resume(AccountsArgs),
    /// Remove tenants from the registry (like suspend, without a record)
    Remove(AccountsArgs),
    /// Import tenants from CSV or JSON: new ones are added, changed ones
    /// updated with --update; a re-run writes nothing
    Import(ImportArgs),
    /// Print every tenant as CSV or JSON (imports back unchanged)
    Export(ExportArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The tenant's 12-digit AWS account id
    #[arg(value_name = "ACCOUNT")]
    pub account: String,
    /// A name for people (default: the account id)
    #[arg(long)]
    pub name: Option<String>,
    /// When the entitlement ends, RFC 3339 (e.g. 2027-06-30T00:00:00Z)
    #[arg(long, value_name = "TIME")]
    pub expires_at: Option<String>,
    /// The most live endpoints the tenant may have
    #[arg(long, value_name = "N")]
    pub max_endpoints: Option<u32>,
    /// The consumer regions the tenant may connect from (cross-region
    /// PrivateLink), separated by spaces, `;` or `,` (e.g. "eu-west-1
    /// us-east-1"); "" lifts the limit. Default: every region the service
    /// supports
    #[arg(long, value_name = "REGIONS")]
    pub allowed_regions: Option<String>,
    #[arg(long)]
    pub notes: Option<String>,
    /// Change an existing tenant's fields to the ones given
    #[arg(long)]
    pub update: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct AccountsArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// 12-digit AWS account ids
    #[arg(value_name = "ACCOUNT", required = true)]
    pub accounts: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The file: a header line (account_id,name,status,expires_at,
    /// max_endpoints,allowed_regions,notes) and a tenant per line, or a
    /// JSON array
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The file's format (default: from its extension, .csv or .json)
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Update tenants whose row differs (otherwise reported and skipped)
    #[arg(long)]
    pub update: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// csv or json (default: csv, or json with --output json)
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Decide and print, but accept or reject nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Only these endpoint ids (default: every connection)
    #[arg(value_name = "VPCE_ID")]
    pub endpoint_ids: Vec<String>,
}

impl TargetArgs {
    /// The selector, validated before any AWS call.
    fn selector(&self) -> Result<Selector, CliError> {
        match (&self.stack, &self.service_id) {
            (Some(stack), _) => StackName::parse(stack)
                .map(Selector::Stack)
                .map_err(|e| CliError::Usage(format!("--stack: {e}"))),
            (None, Some(id)) if crate::approval::config::is_service_id(id) => {
                Ok(Selector::ServiceId(id.clone()))
            }
            (None, Some(id)) => Err(CliError::Usage(format!(
                "--service-id {id:?} is not an endpoint service id: write it like vpce-svc-0123456789abcdef0"
            ))),
            (None, None) => Err(CliError::Usage("pass --stack NAME or --service-id ID".into())),
        }
    }
}

/// The SDK clients of one command (the provider's one set, the same `up`
/// uses), in the region from the flags or the environment.
async fn load_clients(global: &GlobalArgs) -> Result<Clients, CliError> {
    let config = AwsOptions::from(&global.aws)
        .for_app(crate::aws::app::ENDPOINT_SERVICE)
        .load()
        .await?;
    Clients::new(&config).map_err(|e| match e {
        crate::provision::ProvisionError::Input(m) => CliError::Usage(m),
        other => CliError::Failed(anyhow!(other)),
    })
}

impl From<OperatorError> for CliError {
    fn from(error: OperatorError) -> Self {
        match error {
            OperatorError::Refused(message) => CliError::Refused(message),
            OperatorError::Registry(e) if matches!(*e, RegistryError::Conflict { .. }) => {
                CliError::Refused(e.to_string())
            }
            other => CliError::Failed(anyhow::Error::new(other)),
        }
    }
}

pub async fn run(command: OperatorCommand, global: &GlobalArgs) -> Result<(), CliError> {
    match command {
        OperatorCommand::Connections(args) => connections_cmd(args, global).await,
        OperatorCommand::Accept(args) => override_cmd(Action::Accept, args, global).await,
        OperatorCommand::Reject(args) => override_cmd(Action::Reject, args, global).await,
        OperatorCommand::Tenants(args) => tenants_cmd(args.command, global).await,
        OperatorCommand::Drift(args) => drift_cmd(args, global).await,
        OperatorCommand::Sweep(args) => sweep_cmd(args, global).await,
        OperatorCommand::History(args) => history_cmd(args, global).await,
    }
}

/// Validated inputs first, then clients and the target.
async fn setup(target: &TargetArgs, global: &GlobalArgs) -> Result<(Clients, Target), CliError> {
    let selector = target.selector()?;
    let clients = load_clients(global).await?;
    let target = crate::operator::target::resolve(&clients.ec2, &selector).await?;
    Ok((clients, target))
}

async fn connections_cmd(args: ConnectionsArgs, global: &GlobalArgs) -> Result<(), CliError> {
    let states: Vec<EndpointState> = args
        .state
        .iter()
        .map(|s| connections::parse_state(s).map_err(|e| CliError::Usage(format!("--state: {e}"))))
        .collect::<Result<_, _>>()?;
    let (clients, target) = setup(&args.target, global).await?;
    let view = ops::connections_view(&clients.ec2, &clients.dynamodb, &target, &states).await?;
    emit(global.output, &view)?;
    Ok(())
}

/// The approver's configuration and the requested endpoints' owners as the
/// registry has them, for deciding reasons; `None` (with a warning) when
/// either cannot be read, so overrides still work.
async fn approver_rule(
    clients: &Clients,
    target: &Target,
    owners: Vec<String>,
) -> Option<(ApproverConfig, Tenants)> {
    let read = async {
        let config = ApproverFunction::load(&clients.lambda, target)
            .await
            .and_then(|f| f.config())?;
        let registry = Registry::new(
            ops::registry_client(&clients.dynamodb, config.table_region.as_deref()),
            config.table.clone(),
        );
        let (found, _) = registry.get_many(&owners).await?;
        Ok::<_, OperatorError>((config, Tenants::new(found, now_epoch())))
    };
    match read.await {
        Ok(rule) => Some(rule),
        Err(error) => {
            eprintln!(
                "warning: the approver's configuration or the tenant registry is unavailable ({error}); every accept counts as an override of the approver"
            );
            None
        }
    }
}

/// Asks `question` on the terminal; without one, refuses with `refusal`
/// (which names the flag that skips the question).
fn confirm(question: &str, refusal: &str) -> Result<(), CliError> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(CliError::Refused(format!(
            "{refusal}; nothing was changed (no terminal to ask on)"
        )));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::Failed(anyhow!("reading the answer: {e}")))?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(CliError::Refused(
            "not confirmed; nothing was changed".into(),
        ))
    }
}

async fn override_cmd(
    action: Action,
    args: OverrideArgs,
    global: &GlobalArgs,
) -> Result<(), CliError> {
    let (clients, target) = setup(&args.target, global).await?;
    let report = run_override(&clients, &target, action, &args.endpoint_ids, args.yes).await?;
    emit(global.output, &report)?;
    partial_if_failed(&report)
}

fn partial_if_failed(report: &OverrideReport) -> Result<(), CliError> {
    match report.failures() {
        0 => Ok(()),
        n => Err(CliError::Partial(format!(
            "{n} of the requested endpoint(s) failed; each is reported above, the others were done"
        ))),
    }
}

/// Plans, confirms and executes one override batch.
async fn run_override(
    clients: &Clients,
    target: &Target,
    action: Action,
    endpoint_ids: &[String],
    yes: bool,
) -> Result<OverrideReport, CliError> {
    let listed = ops::listed(&clients.ec2, target).await?;
    let missing = endpoint_ids
        .iter()
        .any(|id| !listed.iter().any(|l| l.connection.endpoint_id == *id));
    let elsewhere = if missing {
        overrides::connections_elsewhere(&clients.ec2).await?
    } else {
        Default::default()
    };
    let mut owners: Vec<String> = listed
        .iter()
        .filter(|l| endpoint_ids.contains(&l.connection.endpoint_id))
        .filter_map(|l| l.connection.owner.clone())
        .collect();
    owners.sort();
    owners.dedup();
    let rule = approver_rule(clients, target, owners).await;
    let operator = ops::caller_identity(&clients.sts).await?;
    let plan = overrides::resolve(
        action,
        &target.service_id,
        endpoint_ids,
        &listed,
        &elsewhere,
        rule.as_ref()
            .map(|(config, tenants)| Rule { config, tenants }),
        &operator,
    );
    let unlisted = plan.needs_confirmation();
    if !unlisted.is_empty() && !yes {
        let which: Vec<String> = unlisted
            .iter()
            .map(|(id, owner)| format!("{id} (owner {owner})"))
            .collect();
        let which = which.join(", ");
        confirm(
            &format!(
                "Accept {which}, whose owner the tenant registry does not entitle (or is over its quota)?"
            ),
            &format!(
                "not accepting {which}: the tenant registry does not entitle the owner (not a \
                 tenant, suspended, expired or over its quota); pass --yes to accept anyway \
                 (or `endpoint-service tenants add` the account)"
            ),
        )?;
    }
    Ok(overrides::execute(&clients.ec2, plan, &listed).await)
}

/// Account ids from the command line, every bad one reported.
fn parse_accounts(raw: &[String]) -> Result<Vec<AccountId>, CliError> {
    let mut ids = Vec::new();
    let mut errors = Vec::new();
    for entry in raw {
        match AccountId::parse(entry.trim()) {
            Ok(id) if !ids.contains(&id) => ids.push(id),
            Ok(_) => {}
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() {
        Ok(ids)
    } else {
        Err(CliError::Usage(errors.join("; ")))
    }
}

async fn drift_cmd(args: TargetArgs, global: &GlobalArgs) -> Result<(), CliError> {
    let (clients, target) = setup(&args, global).await?;
    let registry = Registry::new(clients.dynamodb.clone(), target.table()?);
    let found = drift::check(&clients.ec2, &registry, &target).await?;
    emit(global.output, &found)?;
    Ok(())
}

async fn sweep_cmd(args: SweepArgs, global: &GlobalArgs) -> Result<(), CliError> {
    let (clients, target) = setup(&args.target, global).await?;
    let report = ops::sweep(
        &clients.ec2,
        &clients.lambda,
        &clients.dynamodb,
        &target,
        args.dry_run,
    )
    .await?;
    emit(global.output, &report)?;
    match report.failed().len() {
        0 => Ok(()),
        n => Err(CliError::Partial(format!(
            "{n} decision(s) could not be applied; each is reported above"
        ))),
    }
}

async fn history_cmd(args: HistoryArgs, global: &GlobalArgs) -> Result<(), CliError> {
    let (clients, target) = setup(&args.target, global).await?;
    let view = ops::history_view(&clients.ec2, &target, &args.endpoint_ids).await?;
    emit(global.output, &view)?;
    Ok(())
}

/// Clients, target and the registry, for a tenants command.
struct TenantsSetup {
    clients: Clients,
    target: Target,
    registry: Registry,
}

async fn tenants_setup(target: &TargetArgs, global: &GlobalArgs) -> Result<TenantsSetup, CliError> {
    let (clients, target) = setup(target, global).await?;
    let registry = Registry::new(clients.dynamodb.clone(), target.table()?);
    Ok(TenantsSetup {
        clients,
        target,
        registry,
    })
}

async fn tenants_cmd(command: TenantsCommand, global: &GlobalArgs) -> Result<(), CliError> {
    match command {
        TenantsCommand::List(target) => {
            let s = tenants_setup(&target, global).await?;
            emit(global.output, &tenants::list(&s.registry).await?)?;
            Ok(())
        }
        TenantsCommand::Export(args) => {
            let format = args.format.unwrap_or(match global.output {
                OutputFormat::Json => Format::Json,
                OutputFormat::Human => Format::Csv,
            });
            let s = tenants_setup(&args.target, global).await?;
            let all = s.registry.list().await.map_err(OperatorError::from)?;
            print_raw(&format.write(&all))
        }
        TenantsCommand::Add(args) => {
            let account = parse_accounts(std::slice::from_ref(&args.account))?;
            let expires_at = args
                .expires_at
                .as_deref()
                .map(privatelink_registry::transfer::parse_time)
                .transpose()
                .map_err(|e| CliError::Usage(format!("--expires-at: {e}")))?;
            let allowed_regions = args
                .allowed_regions
                .as_deref()
                .map(crate::approval::parse_regions)
                .transpose()
                .map_err(|e| CliError::Usage(format!("--allowed-regions: {e}")))?;
            let fields = Fields {
                name: args.name.filter(|n| !n.trim().is_empty()),
                expires_at,
                max_endpoints: args.max_endpoints,
                allowed_regions,
                notes: args.notes,
                update: args.update,
            };
            edit_cmd(Edit::Add, &args.target, &account, &fields, global).await
        }
        TenantsCommand::Suspend(args) => accounts_cmd(Edit::Suspend, args, global).await,
        TenantsCommand::Resume(args) => accounts_cmd(Edit::Resume, args, global).await,
        TenantsCommand::Remove(args) => accounts_cmd(Edit::Remove, args, global).await,
        TenantsCommand::Import(args) => import_cmd(args, global).await,
    }
}

/// Prints a command's text as is (an export); a reader that went away is
/// not an error.
fn print_raw(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::Failed(anyhow!("writing the export: {e}")))
        }
        _ => Ok(()),
    }
}

async fn accounts_cmd(edit: Edit, args: AccountsArgs, global: &GlobalArgs) -> Result<(), CliError> {
    let accounts = parse_accounts(&args.accounts)?;
    edit_cmd(edit, &args.target, &accounts, &Fields::default(), global).await
}

async fn edit_cmd(
    edit: Edit,
    target: &TargetArgs,
    accounts: &[AccountId],
    fields: &Fields,
    global: &GlobalArgs,
) -> Result<(), CliError> {
    let s = tenants_setup(target, global).await?;
    let by = ops::caller_identity(&s.clients.sts).await?;
    let ctx = tenants::Context {
        ec2: &s.clients.ec2,
        lambda: &s.clients.lambda,
        registry: &s.registry,
        target: &s.target,
        region: Some(s.clients.region.as_str()),
        by: &by,
    };
    let report = tenants::edit(&ctx, edit, accounts, fields).await?;
    emit(global.output, &report)?;
    edit_exit(&report)
}

/// Conflicts and refusals first (nothing was written for them: exit 4),
/// then steps after the write that failed (exit 3: run again to finish).
fn edit_exit(report: &EditReport) -> Result<(), CliError> {
    let conflicts = report.conflicts();
    if !conflicts.is_empty() {
        return Err(CliError::Refused(format!(
            "{} tenant(s) changed by someone else since they were read ({}): nothing was \
             written for them; run the command again",
            conflicts.len(),
            list_accounts(&conflicts)
        )));
    }
    let refused = report.refused();
    if !refused.is_empty() {
        return Err(CliError::Refused(format!(
            "{} account(s) not changed as asked ({}); each is reported above",
            refused.len(),
            list_accounts(&refused)
        )));
    }
    followed_exit(&report.followed)
}

fn list_accounts(results: &[&tenants::AccountResult]) -> String {
    results
        .iter()
        .map(|r| r.account.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn followed_exit(followed: &ops::follow::Followed) -> Result<(), CliError> {
    let failed = followed
        .decisions
        .iter()
        .filter(|d| {
            matches!(
                d.outcome,
                crate::approval::Outcome::Failed { .. } | crate::approval::Outcome::NotAttempted
            )
        })
        .count();
    if !followed.problems.is_empty() || failed > 0 {
        return Err(CliError::Partial(
            "the registry was changed, but what follows it did not all succeed (reported \
             above); run the command again to finish"
                .into(),
        ));
    }
    Ok(())
}

async fn import_cmd(args: ImportArgs, global: &GlobalArgs) -> Result<(), CliError> {
    let shown = args.file.display().to_string();
    let format = match args.format.or_else(|| Format::of(&args.file)) {
        Some(format) => format,
        None => {
            return Err(CliError::Usage(format!(
                "{shown}: cannot tell the format from the name: pass --format csv or --format json"
            )))
        }
    };
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| CliError::Usage(format!("{shown}: cannot read it ({e})")))?;
    let rows = format.parse(&text).map_err(|problems| {
        CliError::Usage(format!(
            "{shown}: nothing was imported; fix every problem and run again:\n  {}",
            problems.join("\n  ")
        ))
    })?;
    let s = tenants_setup(&args.target, global).await?;
    let by = ops::caller_identity(&s.clients.sts).await?;
    let ctx = tenants::Context {
        ec2: &s.clients.ec2,
        lambda: &s.clients.lambda,
        registry: &s.registry,
        target: &s.target,
        region: Some(s.clients.region.as_str()),
        by: &by,
    };
    let report: ImportReport = import::import(&ctx, &shown, &rows, args.update).await?;
    emit(global.output, &report)?;
    if let Some(conflict) = &report.conflict {
        return Err(CliError::Refused(conflict.clone()));
    }
    followed_exit(&report.followed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_accounts_are_all_named() {
        let error = parse_accounts(&[
            "111111111111".into(),
            "1234".into(),
            "arn:aws:iam::222222222222:root".into(),
        ])
        .expect_err("bad");
        let text = error.to_string();
        assert!(text.contains("\"1234\""), "{text}");
        assert!(text.contains("alone: 222222222222"), "{text}");
        assert_eq!(error.code(), 2);
        let ok = parse_accounts(&["111111111111".into(), "111111111111".into()]).expect("valid");
        assert_eq!(ok.len(), 1);
    }

    #[test]
    fn targets_are_checked_before_any_call() {
        let stack = TargetArgs {
            stack: Some("Bad Name".into()),
            service_id: None,
        };
        assert!(matches!(stack.selector(), Err(CliError::Usage(_))));
        let service = TargetArgs {
            stack: None,
            service_id: Some("svc-1".into()),
        };
        assert!(matches!(service.selector(), Err(CliError::Usage(m)) if m.contains("vpce-svc-")));
        let ok = TargetArgs {
            stack: None,
            service_id: Some("vpce-svc-0abc".into()),
        };
        assert_eq!(
            ok.selector().ok(),
            Some(Selector::ServiceId("vpce-svc-0abc".into()))
        );
    }

    #[test]
    fn conflicts_and_refusals_are_refused() {
        let conflict: CliError = OperatorError::from(RegistryError::Conflict {
            account: "111111111111".into(),
            detail: "was changed or removed by someone else since it was read".into(),
        })
        .into();
        assert_eq!(conflict.code(), 4);
        assert!(
            conflict.to_string().contains("run the command again"),
            "{conflict}"
        );
        let refused: CliError = OperatorError::Refused("x".into()).into();
        assert_eq!(refused.code(), 4);
    }
}

//! Operator commands: connections, manual accept/reject, allow/disallow,
//! drift, sweep, history. Each parses its flags, asks for confirmation
//! where the action goes beyond the approver's rules, calls
//! [`crate::operator`] and prints the result; failures map to the exit
//! codes in [`super::exit`].

use std::fmt;
use std::io::{BufRead, IsTerminal, Write};

use anyhow::anyhow;

use super::exit::CliError;
use super::output::emit;
use super::GlobalArgs;
use crate::approval::{AccountId, ApproverConfig};
use crate::aws::AwsOptions;
use crate::naming::StackName;
use crate::operator::allowlist::{self, AllowlistReport, Change};
use crate::operator::overrides::{self, Action, OverrideReport};
use crate::operator::target::ApproverFunction;
use crate::operator::{self as ops, connections, drift, OperatorError, Selector, Target};
use crate::state::EndpointState;

#[derive(Debug, clap::Subcommand)]
pub enum OperatorCommand {
    /// List every connection of the service: owner, state, age, whether the
    /// owner is allowlisted, and the last decision recorded
    Connections(ConnectionsArgs),
    /// Accept connection requests by endpoint id, overriding the approver
    /// (owners not on the allowlist need confirmation or --yes)
    Accept(OverrideArgs),
    /// Reject connections by endpoint id (requests or accepted connections)
    Reject(OverrideArgs),
    /// Allow accounts to connect: adds them to the approver's allowlist,
    /// then to the service's allowed principals
    Allow(AllowArgs),
    /// Stop allowing accounts: removes them from the allowed principals,
    /// then from the approver's allowlist; with APPROVER_REVOKE=true also
    /// rejects their live connections (after confirmation or --yes)
    Disallow(DisallowArgs),
    /// Compare the service's allowed principals with the approver's
    /// allowlist and report any difference
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
    /// Accept owners that are not on the allowlist without asking
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct AllowArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// 12-digit AWS account ids
    #[arg(value_name = "ACCOUNT", required = true)]
    pub accounts: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DisallowArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// 12-digit AWS account ids
    #[arg(value_name = "ACCOUNT", required = true)]
    pub accounts: Vec<String>,
    /// Reject the accounts' live connections (APPROVER_REVOKE=true) without
    /// asking
    #[arg(long)]
    pub yes: bool,
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

/// The SDK clients of one command, and the region they act in.
struct Clients {
    ec2: aws_sdk_ec2::Client,
    lambda: aws_sdk_lambda::Client,
    sts: aws_sdk_sts::Client,
    region: Option<String>,
}

impl Clients {
    async fn load(global: &GlobalArgs) -> Result<Clients, CliError> {
        let config = AwsOptions::from(&global.aws)
            .for_app(crate::aws::app::ENDPOINT_SERVICE)
            .load()
            .await?;
        Ok(Clients {
            ec2: aws_sdk_ec2::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            region: config.region().map(|r| r.to_string()),
        })
    }
}

impl From<OperatorError> for CliError {
    fn from(error: OperatorError) -> Self {
        match error {
            OperatorError::EmptyAllowlist(message)
            | OperatorError::UnreadableAllowlist(message) => CliError::Refused(message),
            other => CliError::Failed(anyhow::Error::new(other)),
        }
    }
}

pub async fn run(command: OperatorCommand, global: &GlobalArgs) -> Result<(), CliError> {
    match command {
        OperatorCommand::Connections(args) => connections_cmd(args, global).await,
        OperatorCommand::Accept(args) => override_cmd(Action::Accept, args, global).await,
        OperatorCommand::Reject(args) => override_cmd(Action::Reject, args, global).await,
        OperatorCommand::Allow(args) => allow_cmd(args, global).await,
        OperatorCommand::Disallow(args) => disallow_cmd(args, global).await,
        OperatorCommand::Drift(args) => drift_cmd(args, global).await,
        OperatorCommand::Sweep(args) => sweep_cmd(args, global).await,
        OperatorCommand::History(args) => history_cmd(args, global).await,
    }
}

/// Validated inputs first, then clients and the target.
async fn setup(target: &TargetArgs, global: &GlobalArgs) -> Result<(Clients, Target), CliError> {
    let selector = target.selector()?;
    let clients = Clients::load(global).await?;
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
    let view = ops::connections_view(&clients.ec2, &clients.lambda, &target, &states).await?;
    emit(global.output, &view)?;
    Ok(())
}

/// The approver's configuration for deciding reasons; `None` (with a
/// warning) when the function cannot be read, so overrides still work.
async fn approver_config(
    lambda: &aws_sdk_lambda::Client,
    target: &Target,
) -> Option<ApproverConfig> {
    match ApproverFunction::load(lambda, target)
        .await
        .and_then(|f| f.config())
    {
        Ok(config) => Some(config),
        Err(error) => {
            eprintln!(
                "warning: approver configuration unavailable ({error}); every accept counts as an override of the approver"
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
    let report = run_override(
        &clients,
        &target,
        action,
        &args.endpoint_ids,
        args.yes,
        None,
    )
    .await?;
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

/// Plans, confirms and executes one override batch. `config` overrides the
/// approver configuration read from the function (used after `disallow`).
async fn run_override(
    clients: &Clients,
    target: &Target,
    action: Action,
    endpoint_ids: &[String],
    yes: bool,
    config: Option<ApproverConfig>,
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
    let config = match config {
        Some(config) => Some(config),
        None => approver_config(&clients.lambda, target).await,
    };
    let operator = ops::caller_identity(&clients.sts).await?;
    let plan = overrides::plan(
        action,
        &target.service_id,
        endpoint_ids,
        &listed,
        &elsewhere,
        config.as_ref(),
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
            &format!("Accept {which}, whose owner is not on the approver's allowlist?"),
            &format!(
                "not accepting {which}: the owner is not on the approver's allowlist; \
                 pass --yes to accept anyway (or `allow` the account)"
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

async fn allow_cmd(args: AllowArgs, global: &GlobalArgs) -> Result<(), CliError> {
    let accounts = parse_accounts(&args.accounts)?;
    let (clients, target) = setup(&args.target, global).await?;
    let report = allowlist::apply(
        &clients.ec2,
        &clients.lambda,
        clients.region.as_deref(),
        &target,
        Change::Allow,
        &accounts,
    )
    .await?;
    emit(global.output, &report)?;
    Ok(())
}

/// `disallow`: the allowlist change, and the revocation it caused.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DisallowReport {
    pub allowlist: AllowlistReport,
    /// `APPROVER_REVOKE` as configured.
    pub revoke: bool,
    /// The rejection of the accounts' live connections (revocation on).
    pub revoked: Option<OverrideReport>,
    /// Live connections of the accounts left connected (revocation off).
    pub still_connected: Vec<String>,
}

impl fmt::Display for DisallowReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.allowlist)?;
        if let Some(revoked) = &self.revoked {
            write!(f, "\nrevoked (APPROVER_REVOKE=true):\n{revoked}")?;
        }
        if !self.still_connected.is_empty() {
            write!(
                f,
                "\nnote: APPROVER_REVOKE is off, so these live connections stay: {} \
                 (reject them with `endpoint-service reject ID...`)",
                self.still_connected.join(", ")
            )?;
        }
        Ok(())
    }
}

async fn disallow_cmd(args: DisallowArgs, global: &GlobalArgs) -> Result<(), CliError> {
    let accounts = parse_accounts(&args.accounts)?;
    let (clients, target) = setup(&args.target, global).await?;
    let function = ApproverFunction::load(&clients.lambda, &target).await?;
    let revoke = function.config().map(|c| c.revoke).unwrap_or(false);
    let live: Vec<String> = ops::listed(&clients.ec2, &target)
        .await?
        .into_iter()
        .filter(|l| {
            l.connection
                .state
                .as_ref()
                .is_some_and(EndpointState::is_live)
                && l.connection
                    .owner
                    .as_deref()
                    .is_some_and(|o| accounts.iter().any(|a| a.as_str() == o))
        })
        .map(|l| l.connection.endpoint_id)
        .collect();
    // Asked before anything changes, so a refusal leaves everything as it was.
    if revoke && !live.is_empty() && !args.yes {
        let which = live.join(", ");
        confirm(
            &format!("APPROVER_REVOKE is on: disallowing also rejects {which}. Go ahead?"),
            &format!(
                "not disallowing: APPROVER_REVOKE is on, so this would also reject the live \
                 connection(s) {which}; pass --yes to go ahead"
            ),
        )?;
    }
    let report = allowlist::apply(
        &clients.ec2,
        &clients.lambda,
        clients.region.as_deref(),
        &target,
        Change::Disallow,
        &accounts,
    )
    .await?;
    let (revoked, still_connected) = if revoke && !live.is_empty() {
        // Decided with the new allowlist, so the records say `revoked`.
        let config = ApproverFunction::load(&clients.lambda, &target)
            .await
            .and_then(|f| f.config())
            .ok();
        let done = run_override(&clients, &target, Action::Reject, &live, true, config).await?;
        (Some(done), Vec::new())
    } else {
        (None, live)
    };
    let output = DisallowReport {
        allowlist: report,
        revoke,
        revoked,
        still_connected,
    };
    emit(global.output, &output)?;
    match &output.revoked {
        Some(revoked) => partial_if_failed(revoked),
        None => Ok(()),
    }
}

async fn drift_cmd(args: TargetArgs, global: &GlobalArgs) -> Result<(), CliError> {
    let (clients, target) = setup(&args, global).await?;
    let found = drift::check(&clients.ec2, &clients.lambda, &target).await?;
    emit(global.output, &found)?;
    Ok(())
}

async fn sweep_cmd(args: SweepArgs, global: &GlobalArgs) -> Result<(), CliError> {
    let (clients, target) = setup(&args.target, global).await?;
    let report = ops::sweep(&clients.ec2, &clients.lambda, &target, args.dry_run).await?;
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
    fn empty_allowlists_are_refused() {
        let error: CliError = OperatorError::EmptyAllowlist("x".into()).into();
        assert_eq!(error.code(), 4);
    }
}

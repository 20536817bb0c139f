//! The command line: clap arguments → validated options → library call →
//! one exit-code policy (documented in `docs/consumer.md`):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done (for `connect` and `verify`: every check passed) |
//! | 1 | failed: an AWS call, a wait, a rejected connection, or (`verify`) a check |
//! | 2 | bad input: arguments; nothing was changed |
//! | 3 | partly done: `connect` set everything up but verification failed; `disconnect` kept a zone holding records it did not make |
//! | 4 | refused: VPC DNS attributes off without `--fix-vpc-dns`, or a same-named zone or group that is not ours |

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use clap::{Parser, Subcommand};
use privatelink_core::aws::AwsOptions;
use privatelink_core::cli::exit::{self, CliError};
use privatelink_core::cli::output::emit;
use privatelink_core::cli::GlobalArgs;

use crate::connect::{self, ConnectOptions};
use crate::connection_key::{self, Target};
use crate::iam_policy::{ConsumerPolicyReport, ConsumerScope};
use crate::verify::{self, CheckOptions};
use crate::{disconnect, observe, status, Clients, ConsumerError};
use privatelink_core::cli::progress::Progress;

/// Connect your VPC to a vendor's service over AWS PrivateLink, prove that
/// it works, and take it down again. Uses only your own account's
/// credentials.
#[derive(Debug, Parser)]
#[command(
    name = "consumer-cli",
    version = privatelink_core::cli::VERSION,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create (or finish) the connection: security group, endpoint, wait
    /// for the vendor's acceptance, DNS, then verify
    Connect(ConnectArgs),
    /// Check the connection step by step, with a fix for each failure
    Verify(VerifyArgs),
    /// Show the endpoint, its state, DNS and the last verification
    Status(TargetArgs),
    /// Remove everything connect created (record, zone, endpoint, group)
    Disconnect(DisconnectArgs),
    /// Print the least-privilege IAM policy for connect, verify, status and
    /// disconnect (no AWS call)
    IamPolicy(IamPolicyArgs),
    /// Print a shell completion script (e.g. `consumer-cli completions bash
    /// > /etc/bash_completion.d/consumer-cli`)
    Completions(privatelink_core::cli::CompletionsArgs),
}

/// Where the printed policy applies; what is not given is `*`.
#[derive(Debug, Clone, clap::Args)]
pub struct IamPolicyArgs {
    /// Your AWS account id, for the ARNs (default: *)
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
    /// Your VPC: allow changes for this VPC only (default: any VPC)
    #[arg(long, value_name = "VPC_ID")]
    pub vpc: Option<String>,
    /// The vendor's endpoint service name: allow endpoints to this service
    /// only (default: any service)
    #[arg(long, value_name = "NAME")]
    pub service_name: Option<String>,
    /// The name you give `connect --dns-name`: allow DNS record changes for
    /// this name only (default: any name in your hosted zones)
    #[arg(long, value_name = "NAME")]
    pub dns_name: Option<String>,
    /// The service's Region, for `connect --service-region`: also allow
    /// cross-Region endpoints (`vpce:AllowMultiRegion`), to services in
    /// this Region only (default: same-Region endpoints only)
    #[arg(long, value_name = "REGION")]
    pub service_region: Option<String>,
}

impl IamPolicyArgs {
    /// Checks the flags' shape (the same rules as the other commands').
    pub fn scope(&self, region: Option<&str>) -> Result<ConsumerScope, ConsumerError> {
        if let Some(account) = &self.account {
            privatelink_core::approval::AccountId::parse(account)
                .map_err(|e| ConsumerError::Input(format!("--account: {e}")))?;
        }
        let service_name = self
            .service_name
            .as_deref()
            .map(connection_key::parse_service_name)
            .transpose()?;
        let vpc_id = self
            .vpc
            .as_deref()
            .map(connection_key::parse_vpc_id)
            .transpose()?;
        let service_region = self
            .service_region
            .as_deref()
            .map(|r| connection_key::parse_service_region(service_name.as_deref().unwrap_or(""), r))
            .transpose()?;
        Ok(ConsumerScope {
            service_region,
            account: self.account.clone(),
            region: region.map(str::to_string),
            vpc_id,
            service_name,
            dns_name: self
                .dns_name
                .as_deref()
                .map(connection_key::parse_dns_name)
                .transpose()?,
        })
    }
}

/// Which connection: the vendor's service and your VPC.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// The vendor's endpoint service name (com.amazonaws.vpce.REGION.vpce-svc-ID)
    #[arg(long, value_name = "NAME")]
    pub service_name: String,
    /// Your VPC
    #[arg(long, value_name = "VPC_ID")]
    pub vpc: String,
    /// The service's Region, when it is not your VPC's: the endpoint is made
    /// in your Region to the service in REGION (AWS cross-Region PrivateLink;
    /// the vendor must support your Region); the Region in the service name
    #[arg(long, value_name = "REGION")]
    pub service_region: Option<String>,
}

/// How to check the HTTPS service behind the endpoint.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Use IP for NAME instead of DNS (e.g. from outside the VPC)
    #[arg(long, value_name = "NAME:IP")]
    pub resolve: Option<String>,
    /// Trust only the CA certificates in this PEM file (default: the system's)
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Path to request
    #[arg(long, default_value = "/")]
    pub path: String,
    /// Expected HTTP status (default: any 2xx)
    #[arg(long, value_name = "CODE")]
    pub expect_status: Option<u16>,
    /// Text the response body must contain
    #[arg(long, value_name = "TEXT")]
    pub expect_body: Option<String>,
    /// Time limit for each check step
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub step_timeout: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Subnets for the endpoint, one per AZ (default: one per AZ the service
    /// supports, matched by AZ ID)
    #[arg(long, value_delimiter = ',', value_name = "SUBNET_ID")]
    pub subnets: Vec<String>,
    /// Name to reach the service by, served by a private hosted zone
    /// (default: the vendor's verified private DNS name, if any)
    #[arg(long, value_name = "NAME")]
    pub dns_name: Option<String>,
    /// The service's TCP port
    #[arg(long, default_value_t = 443)]
    pub port: u16,
    /// Who may reach the endpoint (default: the VPC's CIDR); repeatable
    #[arg(long, value_delimiter = ',', value_name = "CIDR")]
    pub allow_cidr: Vec<String>,
    /// How long to wait for the vendor to accept
    #[arg(long, default_value = "15m", value_name = "DURATION")]
    pub wait: String,
    /// Turn on the VPC's enableDnsSupport/enableDnsHostnames if they are off
    #[arg(long)]
    pub fix_vpc_dns: bool,
    /// Skip the verification at the end
    #[arg(long)]
    pub no_verify: bool,
    #[command(flatten)]
    pub check: CheckArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Name to check (default: the one connect set up)
    #[arg(long, value_name = "NAME")]
    pub dns_name: Option<String>,
    /// Port to check (default: the one connect set up)
    #[arg(long)]
    pub port: Option<u16>,
    #[command(flatten)]
    pub check: CheckArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DisconnectArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// How long to wait for the endpoint's deletion
    #[arg(long, default_value = "10m", value_name = "DURATION")]
    pub wait: String,
}

/// Maps a library error to the exit policy.
pub fn exit_error(error: ConsumerError) -> CliError {
    match error {
        ConsumerError::Input(message) => CliError::Usage(message),
        e @ (ConsumerError::VpcDns { .. }
        | ConsumerError::ForeignZone { .. }
        | ConsumerError::ForeignSecurityGroup { .. }) => CliError::Refused(e.to_string()),
        other => CliError::Failed(anyhow::Error::new(other)),
    }
}

impl TargetArgs {
    fn parse(&self) -> Result<Target, ConsumerError> {
        Target::parse(&self.service_name, &self.vpc)?
            .with_service_region(self.service_region.as_deref())
    }
}

impl CheckArgs {
    fn parse(&self) -> Result<CheckOptions, ConsumerError> {
        if !self.path.starts_with('/') {
            return Err(ConsumerError::Input(format!(
                "--path {:?} must start with '/'",
                self.path
            )));
        }
        if let Some(file) = &self.ca_file {
            if !file.is_file() {
                return Err(ConsumerError::Input(format!(
                    "--ca-file {} does not exist or is not a file",
                    file.display()
                )));
            }
        }
        Ok(CheckOptions {
            resolve: self
                .resolve
                .as_deref()
                .map(connection_key::parse_resolve)
                .transpose()?,
            ca_file: self.ca_file.clone(),
            path: self.path.clone(),
            expect_status: self.expect_status,
            expect_body: self.expect_body.clone(),
            step_timeout: connection_key::parse_duration("--step-timeout", &self.step_timeout)?,
        })
    }
}

impl ConnectArgs {
    /// Validates every flag before any AWS call.
    pub fn options(&self) -> Result<ConnectOptions, ConsumerError> {
        if self.port == 0 {
            return Err(ConsumerError::Input("--port must be 1-65535".into()));
        }
        let check = self.check.parse()?;
        let dns_name = self
            .dns_name
            .as_deref()
            .map(connection_key::parse_dns_name)
            .transpose()?;
        if let (Some((resolve_name, _)), Some(name)) = (&check.resolve, &dns_name) {
            if resolve_name != name {
                return Err(ConsumerError::Input(format!(
                    "--resolve is for {resolve_name}, but --dns-name is {name}: write \
                     --resolve {name}:IP"
                )));
            }
        }
        Ok(ConnectOptions {
            target: self.target.parse()?,
            subnets: connection_key::parse_subnet_ids(&self.subnets)?,
            dns_name,
            port: self.port,
            allow_cidrs: self
                .allow_cidr
                .iter()
                .map(|c| connection_key::parse_cidr(c))
                .collect::<Result<_, _>>()?,
            wait: connection_key::parse_duration("--wait", &self.wait)?,
            fix_vpc_dns: self.fix_vpc_dns,
            verify: !self.no_verify,
            check,
        })
    }
}

/// Runs one parsed command line and maps the outcome to an exit code.
pub async fn run(cli: Cli) -> ExitCode {
    privatelink_core::cli::init_logs(cli.global.log_level.as_deref());
    exit::report(dispatch(cli).await)
}

async fn clients(global: &GlobalArgs) -> Result<Clients, CliError> {
    let config = AwsOptions::from(&global.aws)
        .for_app(privatelink_core::aws::app::CONSUMER_CLI)
        .load()
        .await?;
    Clients::new(&config).map_err(exit_error)
}

async fn dispatch(cli: Cli) -> Result<(), CliError> {
    let format = cli.global.output;
    match cli.command {
        Command::Connect(args) => {
            let options = args.options().map_err(exit_error)?;
            let clients = clients(&cli.global).await?;
            let mut progress = Progress::stderr();
            let report = connect::connect(&clients, &options, &mut progress)
                .await
                .map_err(exit_error)?;
            emit(format, &report)?;
            if let Some(failed) = report.verification.as_ref().and_then(|v| v.first_failure()) {
                return Err(CliError::Partial(format!(
                    "connected, but verification failed at {}: {} (fix: {})",
                    failed.name,
                    failed.detail,
                    failed.hint.as_deref().unwrap_or("see above")
                )));
            }
            Ok(())
        }
        Command::Verify(args) => {
            let target = args.target.parse().map_err(exit_error)?;
            let check = args.check.parse().map_err(exit_error)?;
            let dns_name = args
                .dns_name
                .as_deref()
                .map(connection_key::parse_dns_name)
                .transpose()
                .map_err(exit_error)?;
            let clients = clients(&cli.global).await?;
            let observed = observe::observe(&clients, &target, dns_name.as_deref())
                .await
                .map_err(exit_error)?;
            let Some(endpoint) = observed.endpoint.clone() else {
                return Err(exit_error(ConsumerError::NotConnected {
                    service_name: target.service_name.clone(),
                    vpc_id: target.vpc_id.clone(),
                }));
            };
            let port = args.port.unwrap_or_else(|| observed.port());
            let name = dns_name
                .or_else(|| observed.name_to_use())
                .unwrap_or_else(|| endpoint.endpoint_id.clone());
            let (_, ips) = observe::addresses(&clients, &endpoint)
                .await
                .map_err(exit_error)?;
            let report = verify::doctor(
                &clients,
                &target,
                &endpoint,
                &observed.dns,
                &name,
                port,
                &ips,
                &check,
            )
            .await
            .map_err(exit_error)?;
            verify::record(&clients, &report)
                .await
                .map_err(exit_error)?;
            emit(format, &report)?;
            match report.first_failure() {
                Some(failed) => Err(CliError::Failed(anyhow!(
                    "verification failed at {}: {}",
                    failed.name,
                    failed.detail
                ))),
                None => Ok(()),
            }
        }
        Command::Status(args) => {
            let target = args.parse().map_err(exit_error)?;
            let clients = clients(&cli.global).await?;
            let report = status::status(&clients, &target)
                .await
                .map_err(exit_error)?;
            emit(format, &report)?;
            Ok(())
        }
        Command::Completions(args) => args.print::<Cli>("consumer-cli"),
        Command::IamPolicy(args) => {
            let scope = args
                .scope(cli.global.aws.region.as_deref())
                .map_err(exit_error)?;
            emit(format, &ConsumerPolicyReport::new(&scope))?;
            Ok(())
        }
        Command::Disconnect(args) => {
            let target = args.target.parse().map_err(exit_error)?;
            let wait = connection_key::parse_duration("--wait", &args.wait).map_err(exit_error)?;
            let clients = clients(&cli.global).await?;
            let mut progress = Progress::stderr();
            let report = disconnect::disconnect(&clients, &target, wait, &mut progress)
                .await
                .map_err(exit_error)?;
            emit(format, &report)?;
            if report.left.is_empty() {
                Ok(())
            } else {
                Err(CliError::Partial(format!(
                    "disconnected, but kept: {}",
                    report.left.join("; ")
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(args).expect("valid command line")
    }

    #[test]
    fn connect_flags_are_validated_before_any_call() {
        let cli = parse(&[
            "consumer-cli",
            "connect",
            "--service-name",
            "com.amazonaws.vpce.us-east-1.vpce-svc-0123",
            "--vpc",
            "vpc-0abc",
            "--allow-cidr",
            "10.0.0.0/8,192.168.1.0/24",
            "--wait",
            "2m",
            "--resolve",
            "api.vendor.internal:127.0.0.1",
        ]);
        let Command::Connect(args) = cli.command else {
            panic!("expected connect");
        };
        let options = args.options().unwrap();
        assert_eq!(options.allow_cidrs, ["10.0.0.0/8", "192.168.1.0/24"]);
        assert_eq!(options.wait.as_secs(), 120);
        assert_eq!(options.port, 443);

        let mut other_name = args.clone();
        other_name.dns_name = Some("other.vendor.internal".into());
        let err = exit_error(other_name.options().unwrap_err());
        assert_eq!(err.code(), 2);
        assert!(
            err.to_string()
                .contains("--resolve other.vendor.internal:IP"),
            "{err}"
        );

        let mut bad = args.clone();
        bad.allow_cidr = vec!["10.0.0.0".into()];
        let err = exit_error(bad.options().unwrap_err());
        assert_eq!(err.code(), 2);
        assert!(err.to_string().contains("--allow-cidr"), "{err}");
    }

    #[test]
    fn iam_policy_flags_are_checked_and_scope_the_policy() {
        let cli = parse(&[
            "consumer-cli",
            "iam-policy",
            "--account",
            "222222222222",
            "--vpc",
            "vpc-0abc",
        ]);
        let Command::IamPolicy(args) = cli.command else {
            panic!("expected iam-policy");
        };
        let scope = args.scope(Some("eu-west-1")).unwrap();
        assert_eq!(scope.vpc_id.as_deref(), Some("vpc-0abc"));
        assert_eq!(scope.region.as_deref(), Some("eu-west-1"));
        assert!(scope.service_name.is_none());
        let mut bad = args.clone();
        bad.vpc = Some("vpc_1".into());
        assert_eq!(exit_error(bad.scope(None).unwrap_err()).code(), 2);
        let mut bad = args;
        bad.account = Some("12".into());
        assert_eq!(exit_error(bad.scope(None).unwrap_err()).code(), 2);
    }

    #[test]
    fn refusals_and_failures_have_their_codes() {
        let refused = exit_error(ConsumerError::VpcDns {
            vpc_id: "vpc-1".into(),
            missing: "enableDnsHostnames".into(),
            fix: String::new(),
        });
        assert_eq!(refused.code(), 4);
        let failed = exit_error(ConsumerError::Rejected {
            endpoint_id: "vpce-1".into(),
            cleanup: "x".into(),
        });
        assert_eq!(failed.code(), 1);
    }
}

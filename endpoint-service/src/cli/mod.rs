//! The provider CLI's argument types and dispatch (clap). Each command group
//! owns one module: [`stack`] (plan, up, status, down, iam-policy) and
//! [`operator`] (connections, manual accept/reject, tenants, drift,
//! sweep, history). The global flags, the output format, the one exit-code policy
//! and the completions are the ones both CLIs share, from
//! `privatelink_core::cli`.

pub mod operator;
pub mod regions;
pub mod stack;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use privatelink_core::cli::{
    exit, init_logs, output, CompletionsArgs, GlobalArgs, OutputFormat, VERSION,
};

/// Put a service behind AWS PrivateLink, approve the consumers entitled in
/// the tenant registry automatically, and operate it.
#[derive(Debug, Parser)]
#[command(name = "endpoint-service", version = VERSION, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(flatten)]
    Stack(stack::StackCommand),
    #[command(flatten)]
    Operator(operator::OperatorCommand),
    /// Print a shell completion script (e.g. `endpoint-service completions
    /// bash > /etc/bash_completion.d/endpoint-service`)
    Completions(CompletionsArgs),
}

/// Runs one parsed command line and maps the outcome to an exit code.
pub async fn run(cli: Cli) -> ExitCode {
    init_logs(cli.global.log_level.as_deref());
    let result = match cli.command {
        Command::Stack(command) => stack::run(command, &cli.global).await,
        Command::Operator(command) => operator::run(command, &cli.global).await,
        Command::Completions(args) => args.print::<Cli>("endpoint-service"),
    };
    exit::report(result)
}

//! The provider CLI's argument types and dispatch (clap). Each command group
//! owns one module: [`stack`] (plan, up, status, down, iam-policy) and
//! [`operator`] (connections, manual accept/reject, allowlist, sweep,
//! history). Shared here: the global flags, the output format and the one
//! exit-code policy in [`exit`].

pub mod exit;
pub mod operator;
pub mod output;
pub mod stack;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::aws::AwsArgs;
pub use output::OutputFormat;

/// `--version` of both CLIs: the crate version and the git commit it was
/// built from (see `build.rs`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("PRIVATELINK_KIT_COMMIT"),
    ")"
);

/// `completions`: a shell completion script on stdout.
#[derive(Debug, Clone, clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, powershell or elvish
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

impl CompletionsArgs {
    /// Writes the completion script of the CLI `C` (named `name`) to stdout.
    pub fn print<C: clap::CommandFactory>(&self, name: &str) -> Result<(), exit::CliError> {
        let mut command = C::command();
        clap_complete::generate(self.shell, &mut command, name, &mut std::io::stdout());
        Ok(())
    }
}

/// Put a service behind AWS PrivateLink, approve allowlisted consumers
/// automatically, and operate it.
#[derive(Debug, Parser)]
#[command(name = "endpoint-service", version = VERSION, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Output for people (human) or for scripts (json)
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
    /// Log detail on stderr: error, warn, info, debug, trace (default: warn,
    /// or RUST_LOG)
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
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

/// Human-readable logs on stderr, so stdout stays clean for `--output json`
/// (both CLIs of the kit use this).
pub fn init_logs(level: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(level) => EnvFilter::new(level),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

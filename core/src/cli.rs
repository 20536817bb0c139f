//! The command-line plumbing both CLIs share (feature `cli`): the global
//! AWS and output flags, `--version` with the commit, shell completions, log
//! setup, the output format ([`output`]) and the one exit-code policy
//! ([`exit`]).

pub mod exit;
pub mod output;
pub mod progress;

use crate::aws::AwsArgs;
pub use output::OutputFormat;

/// `--version` of both CLIs: the crate version and the git commit it was
/// built from (see `core/build.rs`).
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

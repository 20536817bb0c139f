//! Stack lifecycle commands: plan, up, status, down, iam-policy.

use super::exit::CliError;
use super::GlobalArgs;

#[derive(Debug, clap::Subcommand)]
pub enum StackCommand {}

pub async fn run(command: StackCommand, _global: &GlobalArgs) -> Result<(), CliError> {
    match command {}
}

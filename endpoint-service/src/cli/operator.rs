//! Operator commands: connections, manual accept/reject, allow/disallow,
//! sweep, history.

use super::exit::CliError;
use super::GlobalArgs;

#[derive(Debug, clap::Subcommand)]
pub enum OperatorCommand {}

pub async fn run(command: OperatorCommand, _global: &GlobalArgs) -> Result<(), CliError> {
    match command {}
}

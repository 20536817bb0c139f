//! `endpoint-service`: the provider's command line. Parses arguments and
//! hands them to the library; the exit-code policy lives in
//! [`endpoint_service::cli::exit`].

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = endpoint_service::cli::Cli::parse();
    endpoint_service::cli::run(cli).await
}

//! `consumer-cli`: parses arguments and hands them to the library; the
//! exit-code policy lives in [`consumer_cli::cli`].

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = consumer_cli::cli::Cli::parse();
    consumer_cli::cli::run(cli).await
}

//! Output for people and for scripts from the same result types: every
//! command result implements `Display` (a table or sentences) and
//! `Serialize` (`--output json`, one JSON document on stdout).

use std::fmt::Display;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

/// Prints a command's result on stdout in the chosen format.
pub fn emit<T: Display + Serialize>(format: OutputFormat, value: &T) -> anyhow::Result<()> {
    match format {
        OutputFormat::Human => println!("{value}"),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(value)?),
    }
    Ok(())
}

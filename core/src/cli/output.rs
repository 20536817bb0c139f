//! Output for people and for scripts from the same result types: every
//! command result implements `Display` (a table or sentences) and
//! `Serialize` (`--output json`, one JSON document on stdout).

use std::fmt::Display;
use std::io::Write;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

/// Prints a command's result on stdout in the chosen format. A reader that
/// went away (`endpoint-service iam-policy | head`) is not an error: the
/// command's work is done, only its output is unwanted.
pub fn emit<T: Display + Serialize>(format: OutputFormat, value: &T) -> anyhow::Result<()> {
    let text = match format {
        OutputFormat::Human => value.to_string(),
        OutputFormat::Json => serde_json::to_string_pretty(value)?,
    };
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

//! Finding the workspace's compiled binaries (`endpoint-service`,
//! `consumer-cli`, …) from a test, a bench or the demo, so they run the real
//! programs a user runs. They sit in the profile directory of the target dir:
//! next to the demo binary, or one level above a test or bench executable
//! (`target/debug/deps/`). Also runs them: [`command`] and [`Run`], one
//! runner for every scenario, so each checks exit codes and output the
//! same way.

use std::path::PathBuf;
use std::process::{Command, Output};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::Account;

/// The path of the workspace binary `name`, built by `cargo test
/// --workspace` (tests/run.sh) or `cargo test --workspace --no-run`
/// (tests/demo.sh).
pub fn binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the running executable")?;
    let mut dir = exe.parent().map(PathBuf::from);
    while let Some(candidate_dir) = dir {
        let candidate = candidate_dir.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
        if candidate_dir.file_name().is_some_and(|n| n == "target") {
            break;
        }
        dir = candidate_dir.parent().map(PathBuf::from);
    }
    bail!(
        "the `{name}` binary is not built next to {}: run `cargo test --workspace --no-run` (or tests/run.sh) first",
        exe.display()
    )
}

/// Builds the workspace binary `name` (package of the same name) in the
/// profile of the running executable (`cargo bench` → release) and returns
/// its path. Benchmarks use this so they never time a stale binary; cargo
/// makes it a no-op when the binary is up to date.
pub fn build_binary(name: &str) -> Result<PathBuf> {
    build_binary_of(name, name)
}

/// [`build_binary`] for a binary `name` of the package `package` (the
/// gateway's package is `privatelink-gateway`).
pub fn build_binary_of(package: &str, name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the running executable")?;
    let release = exe.components().any(|c| c.as_os_str() == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build
        .args(["build", "--package", package, "--bin", name])
        .current_dir(crate::emulator::repo_root());
    if release {
        build.arg("--release");
    }
    let status = build
        .status()
        .with_context(|| format!("running cargo build for {name}"))?;
    if !status.success() {
        bail!("building {name} failed ({status})");
    }
    binary(name)
}

/// A command for the workspace binary `name`, acting as `account` when given
/// (its credentials and endpoint in the environment, see
/// [`Account::apply_env`]); without one it gets this process's environment.
pub fn command(name: &str, account: Option<&Account>) -> Result<Command> {
    let mut command = Command::new(binary(name)?);
    if let Some(account) = account {
        account.apply_env(&mut command);
    }
    Ok(command)
}

/// How one run of a binary ended: the exit code (-1 when a signal ended it)
/// and both streams as text.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Runs `command` to the end, blocking.
    pub fn capture(command: &mut Command) -> Result<Run> {
        let output = command
            .output()
            .with_context(|| format!("running {}", command.get_program().display()))?;
        Ok(output.into())
    }

    /// Runs `command` to the end without blocking the async runtime's worker.
    pub async fn capture_async(command: Command) -> Result<Run> {
        let program = command.get_program().display().to_string();
        let output = tokio::process::Command::from(command)
            .output()
            .await
            .with_context(|| format!("running {program}"))?;
        Ok(output.into())
    }

    /// stdout as JSON (for `--output json` runs).
    pub fn json(&self) -> Result<Value> {
        serde_json::from_str(&self.stdout).with_context(|| {
            format!(
                "stdout is not JSON:\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Panics with the run's output unless it exited with `code`.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code {} (expected {code})\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

//! Finding the workspace's compiled binaries (`endpoint-service`,
//! `consumer-cli`, …) from a test, a bench or the demo, so they run the real
//! programs a user runs. They sit in the profile directory of the target dir:
//! next to the demo binary, or one level above a test or bench executable
//! (`target/debug/deps/`).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

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
    let exe = std::env::current_exe().context("locating the running executable")?;
    let release = exe.components().any(|c| c.as_os_str() == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build
        .args(["build", "--package", name, "--bin", name])
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

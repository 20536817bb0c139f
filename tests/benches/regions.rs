//! `cargo test --workspace --bench regions` (or `cargo bench -p privatelink-tests --bench regions`): how long
//! `endpoint-service up` takes from empty for a stack in three regions
//! (`regions = [...]`, run concurrently) against the same stack in one
//! region, in the same run against the same emulator, and the AWS calls of
//! a converged three-region re-run. Goals (issue 15): three regions take at
//! most 1.5× one region's time; the converged re-run makes 0 mutating calls.
//!
//! The real binary built next to this bench (`cargo test --workspace
//! --bench regions` runs it with the test build's binary), run as the
//! scenarios run it ([`provider_cli::run`]). The time of `up` is the emulator's answers and
//! the waits between them, so both profiles give the same ratio. Each round uses
//! fresh accounts, so every `up` starts from empty; the one-region and
//! three-region rounds alternate, so a drift of the machine's speed falls on
//! both.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use privatelink_tests::bins::binary;
use privatelink_tests::provider_cli;
use privatelink_tests::provider_cli::StackDir;
use privatelink_tests::{Account, Emulator};
use serde_json::Value;

const ROUNDS: usize = 5;
const THREE: [&str; 3] = ["us-east-1", "eu-west-1", "ap-south-1"];

fn config(regions: &[&str]) -> String {
    let listed: Vec<String> = regions.iter().map(|r| format!("\"{r}\"")).collect();
    format!(
        r#"name = "bench"
regions = [{}]

[network]
vpc_cidr = "10.40.0.0/16"

[service]
ports = [443]
target_port = 8443
targets = ["10.40.0.10", "10.40.16.10"]

[access]
allowlist = ["111111111111", "222222222222"]

[approver]
package = "bootstrap.zip"
"#,
        listed.join(", ")
    )
}

fn main() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(bench())
}

async fn bench() -> Result<()> {
    let binary = binary("endpoint-service")?;
    let emulator = Emulator::shared();
    let one = StackDir::new(&config(&THREE[..1]))?;
    let three = StackDir::new(&config(&THREE))?;

    // Warm-up: the emulator sets each service and region up lazily.
    up(&Account::fresh(emulator).await?, three.config())?;

    let (mut one_times, mut three_times) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..ROUNDS {
        let account = Account::fresh(emulator).await?;
        let started = Instant::now();
        let report = up(&account, one.config())?;
        one_times.push(started.elapsed());
        if report["changes"].as_array().is_none_or(Vec::is_empty) {
            bail!("one-region up from empty made no changes: {report:#}");
        }

        let account = Account::fresh(emulator).await?;
        let started = Instant::now();
        let report = up(&account, three.config())?;
        three_times.push(started.elapsed());
        if report["succeeded"].as_array().map(Vec::len) != Some(THREE.len()) {
            bail!("three-region up did not succeed everywhere: {report:#}");
        }
        last = Some(account);
    }
    let account = last.context("no round ran")?;
    let rerun = up(&account, three.config())?;

    one_times.sort();
    three_times.sort();
    let (one_median, three_median) = (one_times[ROUNDS / 2], three_times[ROUNDS / 2]);
    println!(
        "machine: {} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model()
    );
    println!(
        "endpoint-service up from empty (binary {}):",
        binary.display()
    );
    println!(
        "  1 region  ({})               median {:>8.1} ms  (rounds: {})",
        THREE[0],
        ms(one_median),
        list(&one_times)
    );
    println!(
        "  3 regions ({}) median {:>8.1} ms  (rounds: {})",
        THREE.join(", "),
        ms(three_median),
        list(&three_times)
    );
    println!(
        "  ratio 3 regions / 1 region  {:>6.2}×  (goal ≤ 1.5×)",
        three_median.as_secs_f64() / one_median.as_secs_f64()
    );
    println!("converged re-run of up in 3 regions:");
    let mut total_mutating = 0;
    for outcome in rerun["regions"].as_array().context("regions")? {
        let calls = &outcome["report"]["calls"];
        total_mutating += calls["mutating"].as_u64().unwrap_or(u64::MAX);
        println!(
            "  {:<11} AWS calls {:>3} (mutating {})",
            outcome["region"].as_str().unwrap_or("?"),
            calls["total"],
            calls["mutating"]
        );
    }
    println!("  mutating calls in all: {total_mutating}  (goal: 0)");
    Ok(())
}

/// One `up` with the workspace's own runner (the binary next to this bench),
/// returning its JSON report.
fn up(account: &Account, config: &Path) -> Result<Value> {
    let config = config.to_str().context("utf-8 config path")?;
    provider_cli::run(account, &["up", "-c", config, "--output", "json"])?
        .expect(0)
        .json()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn list(times: &[Duration]) -> String {
    times
        .iter()
        .map(|d| format!("{:.0}", ms(*d)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

//! `cargo test --workspace --bench regions` (or `cargo bench --workspace --bench regions`): how long
//! `endpoint-service up` takes from empty for a stack in three regions
//! (`regions = [...]`, run concurrently) against the same stack in one
//! region, in the same run against the same emulator, and the AWS calls of
//! a converged three-region re-run. Goals (issue 15): three regions take at
//! most 1.5× one region's time; the converged re-run makes 0 mutating calls.
//!
//! Two series, in one run, on an emulator of its own:
//!
//! - **with a provisioning wait**: a new load balancer stays `provisioning`
//!   for [`PROVISIONING`] (the emulator's `nlb_provisioning_seconds`; on AWS
//!   it takes minutes), so `up` waits with the SDK's `load_balancer_available`
//!   waiter as it does on AWS: a first retry after 15 s, then after a random
//!   15–30 s. Each region draws its own delay, so three regions wait for the
//!   slowest of three draws, not for one. This is what `up` spends its time
//!   on in AWS, and what running the regions at once overlaps. The goal is
//!   judged on this series, in the emulator, with an ASSUMED duration.
//! - **no waits**: the emulator's default, every resource ready at once. Then
//!   `up` is only the emulator's answers, and three regions send one
//!   single-threaded Python process three times the calls on the same
//!   cores: the ratio measures the emulator's throughput, not `up`'s
//!   concurrency. Printed so nothing is hidden.
//!
//! The real binary built next to this bench (`cargo test --workspace
//! --bench regions` runs it with the test build's binary), run as the
//! scenarios run it ([`provider_cli::run`]). Each round uses fresh accounts,
//! so every `up` starts from empty; the one-region and three-region rounds
//! alternate, so a drift of the machine's speed falls on both.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use privatelink_tests::bins::binary;
use privatelink_tests::machine::machine;
use privatelink_tests::provider_cli;
use privatelink_tests::provider_cli::StackDir;
use privatelink_tests::{Account, Emulator};
use serde_json::{json, Value};

/// Rounds of the no-wait series (each about a second per `up`).
const ROUNDS: usize = 5;
/// Rounds of the series with the provisioning wait (30 to 45 s per `up`).
const WAIT_ROUNDS: usize = 3;
/// How long a new load balancer is `provisioning` in the wait series: AWS
/// takes minutes; scaled down, but past the waiter's first retry (15 s), so
/// that its second, random delay (15–30 s) decides when each region sees
/// `active`, as the waiter's random delays do on AWS.
const PROVISIONING: Duration = Duration::from_secs(20);
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
    // Its own emulator: the provisioning time applies to the whole server.
    let emulator = Emulator::start()?;
    let one = StackDir::new(&config(&THREE[..1]))?;
    let three = StackDir::new(&config(&THREE))?;

    // Warm-up: the emulator sets each service and region up lazily.
    up(&Account::fresh(&emulator).await?, three.config())?;
    let no_waits = series(&emulator, &one, &three, ROUNDS).await?;
    emulator
        .configure(json!({"nlb_provisioning_seconds": PROVISIONING.as_secs_f64()}))
        .await?;
    let waits = series(&emulator, &one, &three, WAIT_ROUNDS).await?;
    let rerun = up(&waits.last_account, three.config())?;

    println!("machine: {}", machine());
    println!(
        "endpoint-service up from empty (binary {}):",
        binary.display()
    );
    println!(
        "with a provisioning wait (a new load balancer provisioning for {} s; the SDK waiter retries after 15 s, then after a random 15-30 s):",
        PROVISIONING.as_secs()
    );
    let ratio = waits.print();
    println!(
        "  ratio 3 regions / 1 region  {ratio:>6.2}×  (goal ≤ 1.5×: {})",
        if ratio <= 1.5 { "met" } else { "NOT met" }
    );
    println!(
        "no waits (every resource ready at once; the single emulator process is the bottleneck):"
    );
    let ratio = no_waits.print();
    println!("  ratio 3 regions / 1 region  {ratio:>6.2}×  (the emulator's throughput, see above)");
    println!("converged re-run of up in 3 regions:");
    let mut total_mutating = 0;
    for outcome in rerun["regions"].as_array().context("regions")? {
        let calls = &outcome["report"]["calls"];
        // A report without the count counts as the worst case.
        total_mutating = calls["mutating"]
            .as_u64()
            .map_or(u64::MAX, |n| total_mutating.saturating_add(n));
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

/// One series: `rounds` alternating one-region and three-region `up`s from
/// empty, each in a fresh account.
async fn series(
    emulator: &Emulator,
    one: &StackDir,
    three: &StackDir,
    rounds: usize,
) -> Result<Series> {
    let (mut one_times, mut three_times) = (Vec::new(), Vec::new());
    let mut last = None;
    for round in 1..=rounds {
        eprintln!("regions bench: round {round} of {rounds}");
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
    one_times.sort();
    three_times.sort();
    Ok(Series {
        one_times,
        three_times,
        last_account: last.context("no round ran")?,
    })
}

/// The sorted times of one series and the account of its last three-region
/// stack.
struct Series {
    one_times: Vec<Duration>,
    three_times: Vec<Duration>,
    last_account: Account,
}

impl Series {
    /// Prints both medians and returns their ratio.
    fn print(&self) -> f64 {
        let one = self.one_times[self.one_times.len() / 2];
        let three = self.three_times[self.three_times.len() / 2];
        println!(
            "  1 region  ({})               median {:>8.1} ms  (rounds: {})",
            THREE[0],
            ms(one),
            list(&self.one_times)
        );
        println!(
            "  3 regions ({}) median {:>8.1} ms  (rounds: {})",
            THREE.join(", "),
            ms(three),
            list(&self.three_times)
        );
        three.as_secs_f64() / one.as_secs_f64()
    }
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

//! `cargo bench --workspace --bench consumer` (release) or
//! `cargo test -p privatelink-tests --bench consumer` (debug): how quickly
//! `consumer-cli connect` notices that the vendor's acceptance has made the
//! endpoint `available`, and how much time `connect` spends beyond waiting,
//! against the local emulator. Printed figures with baselines measured in
//! the same run; nothing fails on a slow machine.
//!
//! - noticing: the emulator makes an accepted endpoint `available` exactly
//!   `PENDING_SECONDS` after the accept; we take the moment the accept call
//!   was sent plus that delay as "available" (an upper bound on the latency:
//!   the accept is stamped a little later) and the moment `connect` prints
//!   `endpoint …: available` on stderr as "noticed". Baseline: an in-process
//!   SDK poller polling the same endpoint every 50 ms. Goal ≤ 2 s.
//! - overhead: `connect`'s wall time (process start to exit) minus the time
//!   it spent waiting (its own `timings.wait_ms`); and the wall time of a
//!   re-run with everything in place. Baselines: process start
//!   (`consumer-cli --version`) and one `DescribeVpcEndpoints` round trip.
//!   Goal < 1 s.
//!
//! One warm-up round runs first and is printed apart: the emulator's first
//! calls of a kind are slow (moto sets up lazily), which is not the CLI.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use privatelink_core::state::EndpointState;
use privatelink_tests::bins::build_binary;
use privatelink_tests::emulator::PENDING_SECONDS;
use privatelink_tests::fixtures::{endpoint_state, vpc_with_subnets, Provider};
use privatelink_tests::{Account, Emulator};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const ROUNDS: usize = 5;
const FLOOR_POLL: Duration = Duration::from_millis(50);

fn main() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(bench())
}

/// One round's measurements.
#[derive(Debug, Clone, Copy)]
struct Sample {
    noticed: Duration,
    floor_noticed: Duration,
    overhead: Duration,
    rerun: Duration,
    disconnect: Duration,
}

/// The binary of this bench's profile, built (or found up to date) first.
fn consumer_binary() -> Result<PathBuf> {
    build_binary("consumer-cli")
}

async fn bench() -> Result<()> {
    let binary = consumer_binary()?;
    let profile = if binary.components().any(|c| c.as_os_str() == "release") {
        "release"
    } else {
        "debug"
    };
    let emulator = Emulator::shared();
    let version = time_process(&binary, &["--version"], None).await?;
    // The emulator's first Route 53 and connection calls import and set up
    // code (moto is lazy); one uncounted round keeps that out of the figures.
    let (warm_up, _) = round_trip(&binary, emulator).await?;
    eprintln!("consumer bench: warm-up round (not counted) {warm_up:?}");
    let mut samples = Vec::new();
    let mut rtts = Vec::new();
    for round in 0..ROUNDS {
        let (sample, rtt) = round_trip(&binary, emulator).await?;
        eprintln!("consumer bench: round {} {sample:?}", round + 1);
        samples.push(sample);
        rtts.push(rtt);
    }
    let pick = |f: fn(&Sample) -> Duration| -> Vec<Duration> { samples.iter().map(f).collect() };
    let secs = |d: Duration| format!("{:7.3} s", d.as_secs_f64());
    let row = |label: &str, values: Vec<Duration>, goal: Option<(Duration, &str)>| {
        let (median, max) = stats(values);
        let verdict = match goal {
            Some((limit, text)) => {
                format!("{text:>7}  {}", if max <= limit { "met" } else { "MISSED" })
            }
            None => String::new(),
        };
        println!("{label:<44} {} {} {verdict}", secs(median), secs(max));
    };
    println!();
    println!(
        "consumer-cli connect against the emulator: {ROUNDS} rounds, {profile} binary, \
         accepted endpoints become available {PENDING_SECONDS} s after the accept"
    );
    println!("{:<44} {:>9} {:>9} {:>7}", "", "median", "max", "goal");
    row(
        "available -> connect noticed it",
        pick(|s| s.noticed),
        Some((Duration::from_secs(2), "<= 2 s")),
    );
    row(
        "  baseline: in-process SDK poll every 50 ms",
        pick(|s| s.floor_noticed),
        None,
    );
    row(
        "connect's own time beyond waiting",
        pick(|s| s.overhead),
        Some((Duration::from_secs(1), "< 1 s")),
    );
    row("  re-run with everything in place", pick(|s| s.rerun), None);
    row("  baseline: process start (--version)", vec![version], None);
    row("  baseline: one DescribeVpcEndpoints call", rtts, None);
    row(
        "disconnect (wall, waits for deletion)",
        pick(|s| s.disconnect),
        None,
    );
    println!(
        "(warm-up round, not counted: noticed {:.3} s, own time {:.3} s)",
        warm_up.noticed.as_secs_f64(),
        warm_up.overhead.as_secs_f64()
    );
    Ok(())
}

fn stats(mut values: Vec<Duration>) -> (Duration, Duration) {
    values.sort();
    let median = values.get(values.len() / 2).copied().unwrap_or_default();
    let max = values.last().copied().unwrap_or_default();
    (median, max)
}

async fn time_process(
    binary: &PathBuf,
    args: &[&str],
    account: Option<&Account>,
) -> Result<Duration> {
    let mut command = std::process::Command::new(binary);
    if let Some(account) = account {
        account.apply_env(&mut command);
    }
    command
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let started = Instant::now();
    let status = tokio::process::Command::from(command).status().await?;
    if !status.success() {
        bail!("consumer-cli {args:?} failed: {status}");
    }
    Ok(started.elapsed())
}

/// One connect, timed against the vendor's accept; then a re-run and a
/// disconnect. Also returns one DescribeVpcEndpoints round trip.
async fn round_trip(binary: &PathBuf, emulator: &'static Emulator) -> Result<(Sample, Duration)> {
    let (provider_account, consumer) =
        tokio::try_join!(Account::fresh(emulator), Account::fresh(emulator))?;
    let provider = Provider::create(&provider_account, &[&consumer.id]).await?;
    let zones = [provider.zones[0].id.as_str(), provider.zones[1].id.as_str()];
    let (vpc_id, _) = vpc_with_subnets(&consumer, "consumer", &zones).await?;
    let args = [
        "connect",
        "--service-name",
        &provider.service_name,
        "--vpc",
        &vpc_id,
        "--dns-name",
        "api.vendor.internal",
        "--no-verify",
        "--wait",
        "60s",
        "--output",
        "json",
    ];

    let mut command = std::process::Command::new(binary);
    consumer.apply_env(&mut command);
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = tokio::process::Command::from(command).spawn()?;
    let stderr = child.stderr.take().context("stderr")?;
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut reader = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if lines_tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });

    // The endpoint exists and waits for the vendor.
    let endpoint_id = loop {
        let (_, line) = lines.recv().await.context("connect ended before waiting")?;
        if let Some(rest) = line.split("endpoint ").nth(1) {
            if rest.contains(": pendingAcceptance") {
                break rest.split(':').next().unwrap_or_default().to_string();
            }
        }
    };
    let rtt_started = Instant::now();
    endpoint_state(&consumer, &endpoint_id).await?;
    let rtt = rtt_started.elapsed();

    // The baseline poller, then the vendor accepts.
    let floor_account = consumer.clone();
    let floor_id = endpoint_id.clone();
    let floor = tokio::spawn(async move {
        loop {
            if let Ok(EndpointState::Available) = endpoint_state(&floor_account, &floor_id).await {
                return Instant::now();
            }
            tokio::time::sleep(FLOOR_POLL).await;
        }
    });
    let accept_sent = Instant::now();
    let accepted = provider_account
        .ec2()
        .accept_vpc_endpoint_connections()
        .service_id(&provider.service_id)
        .vpc_endpoint_ids(&endpoint_id)
        .send()
        .await?;
    if !accepted.unsuccessful().is_empty() {
        bail!("accept failed: {:?}", accepted.unsuccessful());
    }
    let available_at = accept_sent + Duration::from_secs_f64(PENDING_SECONDS);

    let noticed_at = loop {
        let (at, line) = lines
            .recv()
            .await
            .context("connect ended before available")?;
        if line.contains(&format!("endpoint {endpoint_id}: available")) {
            break at;
        }
    };
    let out = child.wait_with_output().await?;
    let wall = started.elapsed();
    if !out.status.success() {
        bail!("connect failed: {}", String::from_utf8_lossy(&out.stdout));
    }
    let report: Value = serde_json::from_slice(&out.stdout)?;
    let wait_ms = report["timings"]["wait_ms"].as_u64().context("wait_ms")?;
    let floor_at = floor.await?;

    let consumer_args = ["--service-name", &provider.service_name, "--vpc", &vpc_id];
    let rerun_args: Vec<&str> = args.to_vec();
    let rerun = time_process(binary, &rerun_args, Some(&consumer)).await?;
    let mut disconnect_args = vec!["disconnect"];
    disconnect_args.extend(consumer_args);
    let disconnect = time_process(binary, &disconnect_args, Some(&consumer)).await?;

    Ok((
        Sample {
            noticed: noticed_at.saturating_duration_since(available_at),
            floor_noticed: floor_at.saturating_duration_since(available_at),
            overhead: wall.saturating_sub(Duration::from_millis(wait_ms)),
            rerun,
            disconnect,
        },
        rtt,
    ))
}

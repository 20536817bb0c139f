//! `cargo bench --workspace --bench approver`: the approver Lambda
//! (the release `bootstrap` from `cargo lambda build --release`) next to a
//! Python 3 + boto3 floor, in the same run, against the local emulator.
//! Printed figures, not a timed test: nothing here fails on a slow machine.
//!
//! - init: process start until ready for the first event. For the approver,
//!   until its first `GET /2018-06-01/runtime/invocation/next` reaches a
//!   minimal Lambda Runtime API hosted here (everything it does before
//!   polling — logging, AWS and approver configuration, the EC2 client — is
//!   inside). For the floor, until a process that imports boto3 and creates
//!   an EC2 client says so. Median of several starts each.
//! - per event: the approver handles the SNS event built from the
//!   Connect notification the emulator delivered (one reconcile: one
//!   `DescribeVpcEndpointConnections` page; the first event also accepts);
//!   the floor makes the same Describe call with boto3. Time from handing
//!   the event over to its answer; median after one warm-up.
//! - peak memory: `VmHWM` from `/proc/<pid>/status` of each process after
//!   its events.
//! - the size of `bootstrap.zip` (goal ≤ 8 MB).

use std::convert::Infallible;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use aws_sdk_ec2::types::VpcEndpointType;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use privatelink_tests::bridge::sns_event;
use privatelink_tests::emulator::repo_root;
use privatelink_tests::fixtures::{vpc_with_subnets, Provider};
use privatelink_tests::lambda_runtime::{build_release, queue_subscription_arn, FUNCTION_NAME};
use privatelink_tests::{Account, Emulator};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};

/// Process starts measured per side (plus the one that also runs events).
const INIT_RUNS: usize = 10;
/// Events measured per side, after one warm-up event.
const EVENTS: usize = 50;
const TIMEOUT: Duration = Duration::from_secs(60);

/// The floor: what any Python Lambda with boto3 does before its first
/// event, then the one call every approver event makes.
const FLOOR: &str = r#"
import sys
import boto3
ec2 = boto3.client("ec2")
print("ready", flush=True)
for _ in sys.stdin:
    ec2.describe_vpc_endpoint_connections(
        Filters=[{"Name": "service-id", "Values": [sys.argv[1]]}], MaxResults=1000)
    print("done", flush=True)
"#;

fn main() -> Result<()> {
    eprintln!("approver bench: building the release package (cargo lambda build --release)");
    let package = build_release()?;
    let zip_size = package.zip_size()?;

    let runtime = tokio::runtime::Runtime::new()?;
    let setup = runtime.block_on(Setup::create())?;
    eprintln!("approver bench: measuring the approver");
    let rust = runtime.block_on(measure_approver(&package.bootstrap, &setup))?;
    eprintln!("approver bench: measuring the Python + boto3 floor");
    let python = measure_floor(&floor_python()?, &setup)?;

    print!("{}", table(&package.zip, zip_size, &rust, &python));
    Ok(())
}

/// A provider with one pending connection from a consumer who is a tenant, and
/// the SNS event of its Connect notification.
struct Setup {
    provider: Provider,
    event: Value,
}

impl Setup {
    async fn create() -> Result<Setup> {
        let emulator = Emulator::shared();
        let (provider_account, consumer) =
            tokio::try_join!(Account::fresh(emulator), Account::fresh(emulator))?;
        let provider = Provider::create(&provider_account, &[&consumer.id]).await?;
        provider.add_tenants(&[&consumer.id]).await?;
        let zone = provider.zones[0].id.clone();
        let (vpc_id, subnets) = vpc_with_subnets(&consumer, "consumer", &[&zone]).await?;
        consumer
            .ec2()
            .create_vpc_endpoint()
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .vpc_id(vpc_id)
            .service_name(&provider.service_name)
            .set_subnet_ids(Some(subnets))
            .private_dns_enabled(false)
            .send()
            .await
            .context("CreateVpcEndpoint")?;
        let delivered = provider
            .drain_notifications(Duration::from_secs(15))
            .await?;
        let (envelope, _) = delivered
            .iter()
            .find(|(_, body)| body["eventType"] == "Connect")
            .context("no Connect notification was delivered")?;
        let event = sns_event(
            &envelope.to_string(),
            &queue_subscription_arn(&provider).await?,
        )?;
        Ok(Setup { provider, event })
    }

    /// The environment both sides run with: the provider's credentials
    /// pointed at the emulator, nothing else from ours.
    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command.env_clear();
        self.provider.account.apply_env(&mut command);
        command
    }
}

/// One side's figures.
#[derive(Debug, Default)]
struct Figures {
    init: Vec<Duration>,
    first_event: Duration,
    events: Vec<Duration>,
    peak_kib: u64,
}

// --- the approver, under a minimal Lambda Runtime API ----------------------

/// What the function posted back.
#[derive(Debug)]
enum Answer {
    Response(Value),
    Error(Value),
    InitError(Value),
}

/// A minimal Runtime API (the four calls a function makes), hosted for one
/// function process.
struct RuntimeApi {
    address: SocketAddr,
    state: Arc<ApiState>,
    events: mpsc::Sender<Value>,
    answers: mpsc::Receiver<Answer>,
    server: tokio::task::JoinHandle<()>,
}

struct ApiState {
    first_poll: Mutex<Option<Instant>>,
    polled: Notify,
    events: tokio::sync::Mutex<mpsc::Receiver<Value>>,
    answers: mpsc::Sender<Answer>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    async fn start() -> Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (events_tx, events_rx) = mpsc::channel(1);
        let (answers_tx, answers_rx) = mpsc::channel(16);
        let state = Arc::new(ApiState {
            first_poll: Mutex::new(None),
            polled: Notify::new(),
            events: tokio::sync::Mutex::new(events_rx),
            answers: answers_tx,
        });
        let served = state.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = served.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(route(&state, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(RuntimeApi {
            address,
            state,
            events: events_tx,
            answers: answers_rx,
            server,
        })
    }

    /// Waits for the function's first poll for an event; returns when it
    /// came.
    async fn first_poll(&self) -> Result<Instant> {
        let wait = async {
            loop {
                let notified = self.state.polled.notified();
                if let Some(at) = *self.state.first_poll.lock().expect("not poisoned") {
                    return at;
                }
                notified.await;
            }
        };
        tokio::time::timeout(TIMEOUT, wait)
            .await
            .context("the function never polled for an event")
    }

    /// Hands `event` to the function and waits for its answer.
    async fn invoke(&mut self, event: &Value) -> Result<(Duration, Answer)> {
        let started = Instant::now();
        self.events.send(event.clone()).await?;
        let answer = tokio::time::timeout(TIMEOUT, self.answers.recv())
            .await
            .context("no answer from the function")?
            .context("the runtime API stopped")?;
        Ok((started.elapsed(), answer))
    }
}

fn reply(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
}

async fn route(state: &ApiState, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_string();
    let is_get = request.method() == hyper::Method::GET;
    if is_get && path == "/2018-06-01/runtime/invocation/next" {
        {
            let mut first = state.first_poll.lock().expect("not poisoned");
            if first.is_none() {
                *first = Some(Instant::now());
            }
        }
        state.polled.notify_waiters();
        let Some(event) = state.events.lock().await.recv().await else {
            return reply(StatusCode::GONE, Bytes::new());
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() + 60_000)
            .unwrap_or_default();
        let mut response = reply(StatusCode::OK, Bytes::from(event.to_string()));
        let headers = response.headers_mut();
        let pairs = [
            ("lambda-runtime-aws-request-id", uuid_like()),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                format!("arn:aws:lambda:us-east-1:000000000000:function:{FUNCTION_NAME}"),
            ),
            (
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000;Sampled=0".to_string(),
            ),
        ];
        for (name, value) in pairs {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        }
        return response;
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let answer = if path == "/2018-06-01/runtime/init/error" {
        Answer::InitError(body)
    } else if path.ends_with("/response") {
        Answer::Response(body)
    } else if path.ends_with("/error") {
        Answer::Error(body)
    } else {
        return reply(StatusCode::NOT_FOUND, Bytes::new());
    };
    let _ = state.answers.send(answer).await;
    reply(StatusCode::ACCEPTED, Bytes::new())
}

fn uuid_like() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// Starts the approver against a fresh Runtime API; returns it once it
/// polled, with its init time.
async fn start_approver(bootstrap: &Path, setup: &Setup) -> Result<(Child, RuntimeApi, Duration)> {
    let api = RuntimeApi::start().await?;
    let mut command = setup.command(bootstrap);
    command
        .env("AWS_LAMBDA_RUNTIME_API", api.address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_MAX_ATTEMPTS", "3")
        .env("APPROVER_SERVICE_ID", &setup.provider.service_id)
        .env("APPROVER_TABLE", &setup.provider.table)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", bootstrap.display()))?;
    drain(&mut child);
    match api.first_poll().await {
        Ok(at) => Ok((child, api, at.duration_since(started))),
        Err(e) => {
            let _ = child.kill();
            let status = child.wait();
            Err(e.context(format!("{} exited: {status:?}", bootstrap.display())))
        }
    }
}

async fn measure_approver(bootstrap: &Path, setup: &Setup) -> Result<Figures> {
    let mut figures = Figures::default();
    // One start unmeasured, so both sides start with the file cache warm.
    stop(start_approver(bootstrap, setup).await?.0);
    for _ in 0..INIT_RUNS {
        let (child, _api, init) = start_approver(bootstrap, setup).await?;
        stop(child);
        figures.init.push(init);
    }
    let (child, mut api, init) = start_approver(bootstrap, setup).await?;
    figures.init.push(init);
    let result = async {
        for i in 0..=EVENTS {
            let (elapsed, answer) = api.invoke(&setup.event).await?;
            let body = match answer {
                Answer::Response(body) => body,
                Answer::Error(error) => bail!("the approver failed event {i}: {error}"),
                Answer::InitError(error) => bail!("the approver failed to start: {error}"),
            };
            if body["status"] != "reconciled" {
                bail!("event {i} was not reconciled: {body}");
            }
            if i == 0 {
                if body["accepted"] != 1 {
                    bail!("the first event should accept the pending connection: {body}");
                }
                figures.first_event = elapsed;
            } else {
                figures.events.push(elapsed);
            }
        }
        figures.peak_kib = peak_kib(child.id())?;
        Ok(())
    }
    .await;
    stop(child);
    result.map(|()| figures)
}

// --- the Python + boto3 floor ----------------------------------------------

/// The emulator venv's Python, which has boto3 (pinned with moto).
fn floor_python() -> Result<PathBuf> {
    let venv = std::env::var_os("PRIVATELINK_EMULATOR_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv-emulator"));
    let python = venv.join("bin").join("python");
    if !python.exists() {
        bail!(
            "{} is missing (tests/emulator/install.sh makes it)",
            python.display()
        );
    }
    Ok(python)
}

struct Floor {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

fn start_floor(python: &Path, setup: &Setup) -> Result<(Floor, Duration)> {
    let mut command = setup.command(python);
    command
        .args(["-c", FLOOR, &setup.provider.service_id])
        // botocore reads AWS_DEFAULT_REGION, not AWS_REGION.
        .env("AWS_DEFAULT_REGION", privatelink_tests::accounts::REGION)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let started = Instant::now();
    let mut child = command.spawn().context("starting the Python floor")?;
    let stdout = child.stdout.take().context("stdout is piped")?;
    let mut floor = Floor {
        child,
        lines: BufReader::new(stdout).lines(),
    };
    floor.expect("ready")?;
    Ok((floor, started.elapsed()))
}

impl Floor {
    fn expect(&mut self, want: &str) -> Result<()> {
        match self.lines.next() {
            Some(Ok(line)) if line == want => Ok(()),
            other => bail!("the Python floor said {other:?}, not {want:?}"),
        }
    }

    fn event(&mut self) -> Result<Duration> {
        let started = Instant::now();
        let stdin = self.child.stdin.as_mut().context("stdin is piped")?;
        stdin.write_all(b"go\n")?;
        stdin.flush()?;
        self.expect("done")?;
        Ok(started.elapsed())
    }
}

fn measure_floor(python: &Path, setup: &Setup) -> Result<Figures> {
    let mut figures = Figures::default();
    stop(start_floor(python, setup)?.0.child);
    for _ in 0..INIT_RUNS {
        let (floor, init) = start_floor(python, setup)?;
        stop(floor.child);
        figures.init.push(init);
    }
    let (mut floor, init) = start_floor(python, setup)?;
    figures.init.push(init);
    let result = (|| {
        figures.first_event = floor.event()?;
        for _ in 0..EVENTS {
            figures.events.push(floor.event()?);
        }
        figures.peak_kib = peak_kib(floor.child.id())?;
        Ok(())
    })();
    stop(floor.child);
    result.map(|()| figures)
}

// --- helpers ---------------------------------------------------------------

/// Reads and drops a child's output so it never blocks on a full pipe.
fn drain(child: &mut Child) {
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || BufReader::new(out).lines().for_each(drop));
    }
    if let Some(err) = child.stderr.take() {
        std::thread::spawn(move || BufReader::new(err).lines().for_each(drop));
    }
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The resident-set high-water mark of a live process, in KiB.
fn peak_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/<pid>/status")
}

fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn table(zip: &Path, zip_size: u64, rust: &Figures, python: &Figures) -> String {
    let (ri, pi) = (median(&rust.init), median(&python.init));
    let (re, pe) = (median(&rust.events), median(&python.events));
    let init_ratio = pi.as_secs_f64() / ri.as_secs_f64().max(1e-9);
    let event_ratio = pe.as_secs_f64() / re.as_secs_f64().max(1e-9);
    let memory_ratio = rust.peak_kib as f64 / (python.peak_kib.max(1)) as f64;
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let mut out = String::new();
    out.push_str(&format!(
        "\napprover vs Python 3 + boto3 floor ({} {}; {} init runs and {} events per side)\n\n",
        std::env::consts::ARCH,
        std::env::consts::OS,
        rust.init.len(),
        rust.events.len()
    ));
    out.push_str(&format!(
        "{:<28} {:>14} {:>16} {:>28}\n",
        "", "approver", "python+boto3", "ratio"
    ));
    out.push_str(&format!(
        "{:<28} {:>14} {:>16} {:>28}\n",
        "init (median)",
        ms(ri),
        ms(pi),
        format!(
            "{init_ratio:.1}x faster (goal >= 20x: {})",
            verdict(init_ratio >= 20.0)
        )
    ));
    out.push_str(&format!(
        "{:<28} {:>14} {:>16} {:>28}\n",
        "first event",
        ms(rust.first_event),
        ms(python.first_event),
        ""
    ));
    out.push_str(&format!(
        "{:<28} {:>14} {:>16} {:>28}\n",
        "per event (median)",
        ms(re),
        ms(pe),
        format!("{event_ratio:.1}x faster")
    ));
    out.push_str(&format!(
        "{:<28} {:>14} {:>16} {:>28}\n",
        "peak memory (VmHWM)",
        mib(rust.peak_kib),
        mib(python.peak_kib),
        format!(
            "{memory_ratio:.2} of floor (goal <= 0.25: {})",
            verdict(memory_ratio <= 0.25)
        )
    ));
    out.push_str(&format!(
        "\n{}: {} bytes ({:.2} MiB; goal <= 8 MB: {})\n",
        zip.strip_prefix(repo_root()).unwrap_or(zip).display(),
        zip_size,
        zip_size as f64 / (1024.0 * 1024.0),
        verdict(zip_size <= 8_000_000)
    ));
    out.push_str(
        "\napprover: first event accepts the pending connection; later ones read one Describe page.\n\
         floor: the same Describe call through boto3 (no decision logic, no logging).\n",
    );
    out
}

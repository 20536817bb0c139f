//! The approver Lambda as it ships, run locally: the release `bootstrap`
//! built and zipped by cargo-lambda, started under cargo-lambda's Lambda
//! Runtime API emulator (`cargo lambda watch`), and invoked over the
//! emulator's Invoke API. The SNS side (an SQS-delivered notification made
//! into the `SnsEvent` Lambda would get) is [`crate::bridge`].
//!
//! How the prebuilt binary is run: `cargo lambda watch` normally compiles
//! and starts the function itself (`cargo run`, in the dev profile). With
//! `--only-lambda-apis` it only serves the Runtime and Invoke APIs, and we
//! start the binary ourselves with `AWS_LAMBDA_RUNTIME_API` pointing at
//! `http://HOST:PORT/.rt/<function>`. So nothing is compiled twice: the
//! binary is exactly the one in `bootstrap.zip`. The watch server still runs
//! `cargo metadata` on the workspace at start-up (it only invokes functions
//! that are binaries of the workspace), so it is started in the repo root.

use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::emulator::repo_root;
use crate::fixtures::Provider;
use crate::ports::free_local_addr;
use crate::Account;

/// The approver's binary (and so its function) name in the workspace.
pub const FUNCTION_NAME: &str = "approver-lambda";

/// Set to a binary to run instead of building the release package (e.g.
/// `target/debug/approver-lambda` for a quick local loop).
pub const BOOTSTRAP_ENV: &str = "PRIVATELINK_APPROVER_BOOTSTRAP";

/// How long an invocation may take before we give up on it.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(90);

/// The `cargo-lambda` binary from the project's tools venv, installed first
/// if needed (`tests/tools/install-cargo-lambda.sh`, idempotent and quick
/// when nothing changed; serialised between test binaries by a lock file).
pub fn cargo_lambda() -> Result<PathBuf> {
    let root = repo_root();
    let script = root
        .join("tests")
        .join("tools")
        .join("install-cargo-lambda.sh");
    let lock = root.join("target").join(".cargo-lambda-install.lock");
    std::fs::create_dir_all(root.join("target")).context("creating target/")?;
    let out = Command::new("flock")
        .arg(&lock)
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!("{} failed ({})", script.display(), out.status);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout
        .lines()
        .last()
        .map(PathBuf::from)
        .with_context(|| format!("{} printed no path", script.display()))?;
    if !path.exists() {
        bail!(
            "{} printed {}, which does not exist",
            script.display(),
            path.display()
        );
    }
    Ok(path)
}

/// The approver as `cargo lambda build --release` packages it.
#[derive(Debug, Clone)]
pub struct Package {
    /// `target/lambda/approver-lambda/bootstrap`.
    pub bootstrap: PathBuf,
    /// `target/lambda/approver-lambda/bootstrap.zip`: what is uploaded.
    pub zip: PathBuf,
}

impl Package {
    /// The size of `bootstrap.zip` in bytes.
    pub fn zip_size(&self) -> Result<u64> {
        Ok(std::fs::metadata(&self.zip)
            .with_context(|| format!("reading {}", self.zip.display()))?
            .len())
    }
}

/// The release package, built once per process: every test of the one
/// scenarios binary that needs it (the Lambda runtime tests, the end-to-end
/// flow) shares the build, so no build rewrites `bootstrap` while another
/// test runs it (a rewrite of a running binary fails with "Text file busy").
/// Concurrent callers wait for the first build.
pub fn build_release() -> Result<Package> {
    static BUILT: OnceLock<Result<Package, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| build_release_now().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

/// Builds (or finds up to date) the release package for the host's
/// architecture: `cargo lambda build --release --output-format zip`, then
/// the same without the zip format, which only copies the already built
/// binary to `bootstrap` beside the zip. The first build of the AWS SDK in
/// release takes several minutes on 2 cores; a build with nothing changed
/// takes under a second. cargo's own progress goes to stderr.
fn build_release_now() -> Result<Package> {
    let root = repo_root();
    let cargo_lambda = cargo_lambda()?;
    // cargo-lambda compiles through cargo-zigbuild and finds zig as
    // `python3 -m ziglang`: the venv's bin must come first on PATH.
    let venv_bin = cargo_lambda
        .parent()
        .context("cargo-lambda has no parent directory")?;
    let path = std::env::join_paths(std::iter::once(venv_bin.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .context("building PATH")?;
    let lock = root.join("target").join(".approver-lambda-build.lock");
    for format in [&["--output-format", "zip"][..], &[][..]] {
        let status = Command::new("flock")
            .arg(&lock)
            .arg(&cargo_lambda)
            .args(["lambda", "build", "--release", "--package", FUNCTION_NAME])
            .args(format)
            .current_dir(&root)
            .env("PATH", &path)
            .stdout(Stdio::null())
            .status()
            .context("running cargo lambda build")?;
        if !status.success() {
            bail!("cargo lambda build --release {format:?} failed ({status})");
        }
    }
    let dir = root.join("target").join("lambda").join(FUNCTION_NAME);
    let package = Package {
        bootstrap: dir.join("bootstrap"),
        zip: dir.join("bootstrap.zip"),
    };
    for file in [&package.bootstrap, &package.zip] {
        if !file.exists() {
            bail!("cargo lambda build did not produce {}", file.display());
        }
    }
    Ok(package)
}

/// The binary to run: `$PRIVATELINK_APPROVER_BOOTSTRAP` if set, else the
/// release `bootstrap` (built if needed).
pub fn approver_bootstrap() -> Result<PathBuf> {
    match std::env::var_os(BOOTSTRAP_ENV) {
        Some(path) => {
            let path = PathBuf::from(path);
            let path = if path.is_relative() {
                repo_root().join(path)
            } else {
                path
            };
            if !path.exists() {
                bail!("{BOOTSTRAP_ENV}={} does not exist", path.display());
            }
            Ok(path)
        }
        None => Ok(build_release()?.bootstrap),
    }
}

/// One line the function or the runtime emulator printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub stream: Stream,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The function's stdout: its JSON log lines (CloudWatch in AWS).
    FunctionStdout,
    FunctionStderr,
    /// `cargo lambda watch` itself.
    Emulator,
}

type Lines = Arc<Mutex<Vec<OutputLine>>>;

/// The answer to one invocation.
#[derive(Debug, Clone)]
pub struct Invoked {
    /// HTTP status of the Invoke API: 200, or 500 when the function
    /// returned an error.
    pub status: u16,
    /// The function's response, or `{"errorType", "errorMessage"}`.
    pub body: Value,
    pub elapsed: Duration,
}

impl Invoked {
    /// The Lambda error type, when the function returned an error.
    pub fn error_type(&self) -> Option<&str> {
        if self.status == 200 {
            return None;
        }
        self.body.get("errorType").and_then(Value::as_str)
    }
}

/// A function running under `cargo lambda watch --only-lambda-apis` on a
/// free loopback port. Both processes share one process group, killed when
/// this is dropped.
#[derive(Debug)]
pub struct LambdaRuntime {
    name: String,
    port: u16,
    watch: Child,
    // Behind a lock so `invoke` takes `&self` (a bridge may share the
    // runtime) and can still see whether the function died.
    function: Mutex<Child>,
    lines: Lines,
}

/// What to run and with which settings.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub binary: PathBuf,
    /// The function name; must be a binary of the workspace (cargo-lambda
    /// checks), so in practice [`FUNCTION_NAME`].
    pub name: String,
    /// The function's configuration (`APPROVER_*`, `RUST_LOG`, ...), set
    /// after the AWS settings so they may override those too.
    pub env: Vec<(String, String)>,
}

impl FunctionSpec {
    /// The approver binary with the given `APPROVER_*` settings.
    pub fn approver(binary: &Path, env: &[(&str, &str)]) -> FunctionSpec {
        FunctionSpec {
            binary: binary.to_path_buf(),
            name: FUNCTION_NAME.to_string(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The approver deciding for `provider`'s service from its tenant
    /// registry (`APPROVER_SERVICE_ID`, `APPROVER_TABLE`), then `extra`
    /// (which may override either).
    pub fn approver_for(
        binary: &Path,
        provider: &Provider,
        extra: &[(&str, &str)],
    ) -> FunctionSpec {
        let mut env = vec![
            ("APPROVER_SERVICE_ID", provider.service_id.as_str()),
            ("APPROVER_TABLE", provider.table.as_str()),
        ];
        env.extend_from_slice(extra);
        FunctionSpec::approver(binary, &env)
    }
}

/// The AWS calls the approver function made as `account`, in order, as
/// the emulator recorded them (`{"service", "action", "params", ...}`):
/// those whose User-Agent names the function's app.
pub async fn function_calls(emulator: &crate::Emulator, account: &str) -> Result<Vec<Value>> {
    let log = emulator.calls().await?;
    let calls = log["calls"]
        .as_array()
        .context("the emulator's call log has no `calls`")?;
    Ok(calls
        .iter()
        .filter(|c| {
            c["account"] == account && c["app"] == privatelink_core::aws::app::APPROVER_LAMBDA
        })
        .cloned()
        .collect())
}

impl LambdaRuntime {
    /// Starts the runtime emulator and the function, acting as `account`
    /// (AWS credentials, region and endpoint from [`Account::apply_env`]).
    /// The function starts from a clean environment, as in Lambda, with
    /// the variables Lambda sets for a function.
    pub fn start(spec: &FunctionSpec, account: &Account) -> Result<LambdaRuntime> {
        let root = repo_root();
        let cargo_lambda = cargo_lambda()?;
        let lines: Lines = Arc::default();
        let port = free_local_addr()?.port();

        let mut watch = Command::new(&cargo_lambda)
            .args(["lambda", "watch", "--only-lambda-apis"])
            .args(["--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &port.to_string()])
            .arg("--color=never")
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {} lambda watch", cargo_lambda.display()))?;
        collect(&mut watch, Stream::Emulator, Stream::Emulator, &lines);
        let group = watch.id();
        if let Err(e) = wait_for_port(port, &mut watch, Duration::from_secs(60)) {
            kill_group(group, &mut [&mut watch]);
            return Err(e.context(format!(
                "cargo lambda watch did not start; it printed:\n{}",
                render(&lines, |l| l.stream == Stream::Emulator)
            )));
        }

        let mut command = Command::new(&spec.binary);
        command.env_clear();
        account.apply_env(&mut command);
        command
            .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt/{}", spec.name),
            )
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(group as i32);
        let mut function = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                kill_group(group, &mut [&mut watch]);
                return Err(anyhow!(e).context(format!("starting {}", spec.binary.display())));
            }
        };
        collect(
            &mut function,
            Stream::FunctionStdout,
            Stream::FunctionStderr,
            &lines,
        );
        Ok(LambdaRuntime {
            name: spec.name.clone(),
            port,
            watch,
            function: Mutex::new(function),
            lines,
        })
    }

    /// The Invoke API's base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Invokes the function synchronously with `event`
    /// (`POST /2015-03-31/functions/<name>/invocations`).
    pub async fn invoke(&self, event: &Value) -> Result<Invoked> {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let request = hyper::Request::builder()
            .method("POST")
            .uri(format!(
                "{}/2015-03-31/functions/{}/invocations",
                self.url(),
                self.name
            ))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(event.to_string())))?;
        let started = Instant::now();
        let call = async {
            let response = client.request(request).await?;
            let status = response.status().as_u16();
            let bytes = response.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, bytes))
        };
        let (status, bytes) = match tokio::time::timeout(INVOKE_TIMEOUT, call).await {
            Ok(answer) => answer.context("invoking the function")?,
            Err(_) => {
                let exited = self
                    .function
                    .lock()
                    .ok()
                    .and_then(|mut f| f.try_wait().ok().flatten());
                bail!(
                    "no answer from the function within {INVOKE_TIMEOUT:?} (function exited: {exited:?}); output:\n{}",
                    render(&self.lines, |_| true)
                );
            }
        };
        let elapsed = started.elapsed();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(Invoked {
            status,
            body,
            elapsed,
        })
    }

    /// Everything printed so far.
    pub fn output(&self) -> Vec<OutputLine> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The function's stdout lines that are JSON objects (its log lines).
    pub fn log_lines(&self) -> Vec<Value> {
        self.output()
            .into_iter()
            .filter(|l| l.stream == Stream::FunctionStdout)
            .filter_map(|l| serde_json::from_str::<Value>(&l.text).ok())
            .filter(Value::is_object)
            .collect()
    }

    /// Waits until a log line matches `predicate` (output is read by other
    /// threads, so a line may arrive just after the invocation's answer).
    pub async fn wait_for_log(
        &self,
        what: &str,
        timeout: Duration,
        predicate: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.log_lines().into_iter().find(|l| predicate(l)) {
                return Ok(line);
            }
            if Instant::now() >= deadline {
                bail!(
                    "timed out waiting for a log line ({what}); the function printed:\n{}",
                    render(&self.lines, |l| l.stream != Stream::Emulator)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for LambdaRuntime {
    fn drop(&mut self) {
        let group = self.watch.id();
        match self.function.get_mut() {
            Ok(function) => kill_group(group, &mut [function, &mut self.watch]),
            Err(poisoned) => kill_group(group, &mut [poisoned.into_inner(), &mut self.watch]),
        }
    }
}

/// Kills the process group, then each child (in case one left the group)
/// and reaps them.
fn kill_group(group: u32, children: &mut [&mut Child]) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status();
    for child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn collect(child: &mut Child, out: Stream, err: Stream, lines: &Lines) {
    fn pump(source: impl Read + Send + 'static, stream: Stream, lines: Lines) {
        std::thread::spawn(move || {
            for line in BufReader::new(source).lines() {
                let Ok(text) = line else { break };
                if let Ok(mut lines) = lines.lock() {
                    lines.push(OutputLine { stream, text });
                }
            }
        });
    }
    if let Some(stdout) = child.stdout.take() {
        pump(stdout, out, lines.clone());
    }
    if let Some(stderr) = child.stderr.take() {
        pump(stderr, err, lines.clone());
    }
}

fn render(lines: &Lines, keep: impl Fn(&OutputLine) -> bool) -> String {
    let lines = lines.lock().map(|l| l.clone()).unwrap_or_default();
    lines
        .iter()
        .filter(|l| keep(l))
        .map(|l| format!("  [{:?}] {}", l.stream, l.text))
        .collect::<Vec<_>>()
        .join("\n")
}

fn wait_for_port(port: u16, child: &mut Child, timeout: Duration) -> Result<()> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + timeout;
    loop {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("it exited ({status})");
        }
        if Instant::now() >= deadline {
            bail!("nothing listened on 127.0.0.1:{port} within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The ARN of the provider's SQS subscription to its notification topic:
/// what Lambda puts in `EventSubscriptionArn` (the subscription that
/// delivered the message).
pub async fn queue_subscription_arn(provider: &Provider) -> Result<String> {
    let out = provider
        .account
        .sns()
        .list_subscriptions_by_topic()
        .topic_arn(&provider.topic_arn)
        .send()
        .await
        .context("ListSubscriptionsByTopic")?;
    out.subscriptions()
        .iter()
        .find(|s| s.protocol() == Some("sqs"))
        .and_then(|s| s.subscription_arn())
        .map(str::to_string)
        .with_context(|| format!("no SQS subscription on {}", provider.topic_arn))
}

//! Starting, reaching and steering the local AWS emulator.
//!
//! One emulator serves a whole test process: [`Emulator::shared`] attaches to
//! the one named by `PRIVATELINK_EMULATOR_URL` (the demo and `tests/run.sh`
//! may start one for everything), or else starts its own on a free loopback
//! port. A started emulator is told our pid and exits when we do, so no test
//! run leaves a server behind. Tests isolate themselves by account, not by
//! server: every test works in fresh account ids (see [`crate::accounts`]),
//! and injected faults are scoped to an account.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

use crate::ports::free_local_addr;

/// How long `pending` lasts after an accept in emulators we start. Long
/// enough for a poller to see it, short enough for tests.
pub const PENDING_SECONDS: f64 = 1.0;

/// A running emulator.
#[derive(Debug)]
pub struct Emulator {
    url: String,
    // Held so the child is not reaped early; it exits with this process.
    _child: Option<Mutex<Child>>,
}

/// A fault to inject into the emulator's next calls of one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The protocol's throttling error (EC2: `RequestLimitExceeded`).
    Throttle,
    /// An HTTP 500 `InternalError`.
    ServerError,
}

impl Emulator {
    /// The emulator for this test process (attached or started once).
    pub fn shared() -> &'static Emulator {
        static SHARED: OnceLock<Emulator> = OnceLock::new();
        SHARED.get_or_init(|| match Emulator::attach_or_start() {
            Ok(emulator) => emulator,
            Err(e) => panic!("the local AWS emulator is not available: {e:#}"),
        })
    }

    fn attach_or_start() -> Result<Emulator> {
        if let Ok(url) = std::env::var("PRIVATELINK_EMULATOR_URL") {
            return Ok(Emulator { url, _child: None });
        }
        Emulator::start()
    }

    /// Starts a fresh emulator on a free loopback port.
    pub fn start() -> Result<Emulator> {
        let root = repo_root();
        let python = ensure_installed(&root)?;
        let port = free_local_addr()?.port();
        let log_dir = root.join("target").join("emulator-logs");
        std::fs::create_dir_all(&log_dir).context("creating target/emulator-logs")?;
        let log_path = log_dir.join(format!("emulator-{port}.log"));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut child = Command::new(&python)
            .args(["-m", "privatelink_emulator", "--host", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            .args(["--pending-seconds", &PENDING_SECONDS.to_string()])
            .args(["--parent-pid", &std::process::id().to_string()])
            .env("PYTHONPATH", root.join("tests").join("emulator"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("starting {}", python.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let ready = wait_for_ready(stdout, Duration::from_secs(60));
        if let Err(e) = ready {
            let _ = child.kill();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<_> = log.lines().rev().take(20).collect();
            bail!(
                "{e}; last lines of {}:\n{}",
                log_path.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(Emulator {
            url: format!("http://127.0.0.1:{port}"),
            _child: Some(Mutex::new(child)),
        })
    }

    /// The endpoint URL to give the SDK (`--endpoint-url`, `AWS_ENDPOINT_URL`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Makes the next `count` calls of `action` (e.g.
    /// `DescribeVpcEndpointConnections`) from `account` fail with `fault`.
    pub async fn inject_fault(
        &self,
        action: &str,
        count: u32,
        fault: Fault,
        account: &str,
    ) -> Result<()> {
        let kind = match fault {
            Fault::Throttle => "throttle",
            Fault::ServerError => "server-error",
        };
        self.control(
            "POST",
            "/_privatelink/faults",
            Some(json!({"action": action, "count": count, "kind": kind, "account": account})),
        )
        .await
        .map(drop)
    }

    /// Changes the emulator's timings (`pending_seconds`, `deleting_seconds`,
    /// `deleted_visible_seconds`, `route53_pending_seconds`,
    /// `nlb_provisioning_seconds`; see
    /// tests/emulator/README.md). They apply to the whole server: a test that
    /// slows transitions starts its own emulator ([`Emulator::start`]).
    pub async fn configure(&self, settings: Value) -> Result<Value> {
        self.control("POST", "/_privatelink/config", Some(settings))
            .await
    }

    /// Faults injected but not yet triggered.
    pub async fn pending_faults(&self) -> Result<Value> {
        self.control("GET", "/_privatelink/faults", None).await
    }

    /// Every AWS request the emulator served since it started (or since
    /// [`Emulator::clear_calls`]): `{"calls": [{"account", "region",
    /// "service", "action", "app", "params", "status"}, ...]}`, where `app`
    /// is the `app/NAME` token of the caller's User-Agent.
    pub async fn calls(&self) -> Result<Value> {
        self.control("GET", "/_privatelink/calls", None).await
    }

    /// Forgets the recorded calls.
    pub async fn clear_calls(&self) -> Result<()> {
        self.control("DELETE", "/_privatelink/calls", None)
            .await
            .map(drop)
    }

    async fn control(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let response = client
            .request(request)
            .await
            .with_context(|| format!("{method} {path} on the emulator"))?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!(
                "{method} {path} on the emulator: {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).context("the emulator's control API answered non-JSON")
    }
}

/// The workspace root (this crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The emulator's Python, installing the emulator first if needed (the
/// install script is idempotent and quick when nothing changed).
fn ensure_installed(root: &Path) -> Result<PathBuf> {
    let venv = std::env::var_os("PRIVATELINK_EMULATOR_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv-emulator"));
    let python = venv.join("bin").join("python");
    // Serialise installs between test binaries started at the same time by
    // letting the script run under one lock file.
    let script = root.join("tests").join("emulator").join("install.sh");
    let status = Command::new("flock")
        .arg(root.join("target").join(".emulator-install.lock"))
        .arg(&script)
        .env("PRIVATELINK_EMULATOR_VENV", &venv)
        .stdout(Stdio::null())
        .status()
        .or_else(|_| Command::new(&script).status())
        .with_context(|| format!("running {}", script.display()))?;
    if !status.success() {
        bail!("{} failed ({status})", script.display());
    }
    if !python.exists() {
        bail!("{} did not create {}", script.display(), python.display());
    }
    Ok(python)
}

fn wait_for_ready(stdout: std::process::ChildStdout, timeout: Duration) -> Result<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains("privatelink-emulator ready on") {
                let _ = tx.send(());
                // Keep draining so the child never blocks on a full pipe.
            }
        }
    });
    let started = Instant::now();
    rx.recv_timeout(timeout).map_err(|_| {
        anyhow!(
            "the emulator did not report ready within {:?}",
            started.elapsed()
        )
    })
}

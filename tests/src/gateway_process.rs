//! The real `gateway` binary as the demo and the gateway bench run it: HTTP
//! mode (TLS with the demo's certificate, the app over plain HTTP upstream)
//! or TCP mode, as the provider, against the emulator. Started, waited for
//! until its health check answers, stopped with SIGTERM (its graceful drain)
//! and killed if it does not exit. Its JSON log lines go to a file, shown
//! when it fails to start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::bins::binary;
use crate::Account;

/// What the gateway is started with.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    pub listen: SocketAddr,
    pub health: SocketAddr,
    /// The app, host:port, plain HTTP.
    pub upstream: SocketAddr,
    pub service_id: String,
    pub registry_table: String,
    pub mode: Mode,
    /// Where its log lines go.
    pub log: PathBuf,
    /// Its `RUST_LOG` (`info`: a line per connection and request).
    pub log_level: &'static str,
    /// The binary; `None`: the one built next to this test ([`binary`]).
    pub binary: Option<PathBuf>,
    /// Its `--drain-secs`: how long it drains open connections on SIGTERM.
    pub drain_secs: u64,
    /// More arguments (cache times and the like).
    pub extra_args: Vec<String>,
}

/// How the gateway serves: `--mode http` with a certificate, or `--mode tcp`.
#[derive(Debug, Clone)]
pub enum Mode {
    Http { cert: PathBuf, key: PathBuf },
    Tcp,
}

/// A running gateway; killed when dropped (stop it with [`Gateway::stop`]).
#[derive(Debug)]
pub struct Gateway {
    child: tokio::process::Child,
    pub options: GatewayOptions,
}

impl Gateway {
    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Starts it as `provider` and waits (at most 20 s) for its health
    /// check to answer `200`.
    pub async fn start(provider: &Account, options: GatewayOptions) -> Result<Gateway> {
        let log = std::fs::File::create(&options.log)
            .with_context(|| format!("creating {}", options.log.display()))?;
        let program = match &options.binary {
            Some(path) => path.clone(),
            None => binary("gateway")?,
        };
        let mut command = tokio::process::Command::new(program);
        provider.apply_env(command.as_std_mut());
        match &options.mode {
            Mode::Http { cert, key } => {
                command
                    .args(["--mode", "http", "--cert"])
                    .arg(cert)
                    .arg("--key")
                    .arg(key);
            }
            Mode::Tcp => {
                command.args(["--mode", "tcp"]);
            }
        }
        command
            .args(["--listen", &options.listen.to_string()])
            .args(["--health-listen", &options.health.to_string()])
            .args(["--upstream", &options.upstream.to_string()])
            .args(["--service-id", &options.service_id])
            .args(["--registry-table", &options.registry_table])
            .args(["--drain-secs", &options.drain_secs.to_string()])
            .args(&options.extra_args)
            .env("RUST_LOG", options.log_level)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        let child = command.spawn().context("starting the gateway")?;
        let mut gateway = Gateway { child, options };
        let started = Instant::now();
        while health(gateway.options.health).await.as_deref() != Some("HTTP/1.1 200 OK") {
            if let Some(status) = gateway.child.try_wait()? {
                bail!(
                    "the gateway exited ({status}) before its health check answered:\n{}",
                    gateway.log_text()
                );
            }
            if started.elapsed() > Duration::from_secs(20) {
                bail!(
                    "the gateway's health check did not answer within 20 s:\n{}",
                    gateway.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(gateway)
    }

    /// Its log so far.
    pub fn log_text(&self) -> String {
        read(&self.options.log)
    }

    /// SIGTERM: it stops accepting, turns its health check to `503` and
    /// drains open connections (see [`Gateway::wait`]).
    pub fn terminate(&self) -> Result<()> {
        let pid = self.child.id().context("the gateway has exited already")?;
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -TERM {pid} failed ({status})");
        }
        Ok(())
    }

    /// SIGTERM, then [`Gateway::wait`].
    pub async fn stop(self) -> Result<String> {
        self.terminate()?;
        self.wait().await
    }

    /// Waits for it to exit, successfully, within its drain time and 10 s
    /// more (killed after that). Returns its log.
    pub async fn wait(mut self) -> Result<String> {
        let bound = Duration::from_secs(self.options.drain_secs + 10);
        match tokio::time::timeout(bound, self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                if !status.success() {
                    bail!("the gateway exited with {status}:\n{}", self.log_text());
                }
            }
            Err(_) => {
                self.child.kill().await?;
                bail!(
                    "the gateway did not exit within {bound:?} (killed):\n{}",
                    self.log_text()
                );
            }
        }
        Ok(self.log_text())
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The health check's status line, or `None` when nothing answers.
async fn health(addr: SocketAddr) -> Option<String> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: health\r\nConnection: close\r\n\r\n")
        .await
        .ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.ok()?;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .map(str::to_string)
}

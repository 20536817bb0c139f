//! `cargo bench --workspace --bench gateway`: what the gateway (release
//! build, TCP and HTTP mode) adds, next to HAProxy doing the same job, in
//! the same run, on 127.0.0.1 only. Printed figures, not a timed test:
//! nothing here fails on a slow machine.
//!
//! Two workloads, each in [`ROUNDS`] rounds that alternate the three paths
//! so a neighbour's burst of CPU hurts them alike; [`CONNECTIONS`]
//! kept-alive connections, one request in flight each, back to back, for
//! [`WARM_UP`] unmeasured then [`MEASURE`] measured. Requests per second and
//! the p50 / p99 of the round trips, pooled over the rounds:
//!
//! - **TCP**: a [`MESSAGE`]-byte message and its echo.
//!   - direct: client → upstream (a tokio echo server in this process);
//!   - thread relay and tokio relay: client → a bare relay → upstream
//!     (see below);
//!   - gateway: client → `gateway --mode tcp` → upstream;
//!   - haproxy: client → `haproxy` (`mode tcp`, `accept-proxy`) → upstream.
//! - **HTTPS**: `GET /` over TLS 1.3 and HTTP/1.1, a small answer.
//!   - direct: client → an HTTPS server (rustls + hyper, this process);
//!   - thread relay and tokio relay: client → a bare relay → the same
//!     HTTPS server;
//!   - gateway: client → `gateway --mode http` (TLS ends there; identity
//!     headers stripped and added) → a plain HTTP app (this process);
//!   - haproxy: client → `haproxy` (`mode http`, `accept-proxy ssl`, the
//!     same three headers deleted and set, to the values the gateway sets)
//!     → the same app, which echoes them: both answers are the same size.
//!
//! The relays are the floor: this bench's own binary, started again as a
//! process that only copies bytes (`privatelink_tests::bare_relay`: no
//! PROXY header, no TLS), once with two blocking threads per connection
//! and once on tokio's runtime, which waits in `epoll_wait` as the gateway
//! and HAProxy do. What a relay adds over direct is what a proxy in its
//! own process costs on the machine before doing anything: two more
//! hand-offs between processes, each a wake-up of a sleeping thread. On a
//! host that wakes idle cores slowly that alone can exceed the p50 goal,
//! so both are printed beside it.
//!
//! Through the gateway and HAProxy the client first writes the NLB's PROXY
//! v2 header with the AWS endpoint TLV (as the demo's NLB stand-in writes
//! it). The gateway resolves it for each connection, from the emulator (a
//! real endpoint service, an accepted endpoint and an active tenant in the
//! registry table) on the first and from its cache after; HAProxy only
//! parses it. Neither writes per-request logs here (the gateway at `warn`, HAProxy
//! without a `log` line). HAProxy is skipped, and said so, when its binary
//! is missing (Debian: `apt-get install -y haproxy`).
//!
//! The client, the upstream, the proxy and the emulator share the machine,
//! so the figures compare the paths with each other, not with a production
//! host. For the same reason each proxy's CPU time per request is printed
//! too (from /proc, its loaded rounds): a steadier comparison than
//! throughput when the cores are shared; with it, how long the proxy
//! waited for a CPU and how often it was preempted, and the gateway's
//! latency over HAProxy's from p90 to p99.9 (where the two differ).
//!
//! `GATEWAY_BENCH_ONLY=tcp` or `=https` runs one workload.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use privatelink_tests::bare_relay;
use privatelink_tests::bins::build_binary_of;
use privatelink_tests::emulator::repo_root;
use privatelink_tests::fixtures::{accepted_endpoint, Provider};
use privatelink_tests::gateway_process::{Gateway, GatewayOptions, Mode};
use privatelink_tests::machine::machine;
use privatelink_tests::nlb_stand_in;
use privatelink_tests::ports::free_local_addr;
use privatelink_tests::tls_server::{self, Behaviour, IdentityEchoApp, TestCa};
use privatelink_tests::Emulator;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The loaded series: requests per second and latency under load.
const CONNECTIONS: usize = 32;
/// The unloaded series: one connection, so a request never queues behind
/// another and its latency is the path's own (what the p50 goal is about).
const ONE: usize = 1;
const MESSAGE: usize = 64;
const WARM_UP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(4);
const ROUNDS: usize = 3;
/// A bound on the count too: no connection measures more than this many
/// round trips per round, whatever the machine.
const MAX_PER_CONNECTION: usize = 500_000;

/// The goals for the gateway.
const MAX_ADDED_P50_MICROS: f64 = 100.0;

/// Set (to `KIND:LISTEN>UPSTREAM`) in this bench's own child process: it
/// runs as a bare relay instead of the bench.
const RELAY_ENV: &str = "GATEWAY_BENCH_RELAY";

fn main() -> Result<()> {
    if let Ok(spec) = std::env::var(RELAY_ENV) {
        let parsed = spec.split_once(':').and_then(|(kind, addrs)| {
            let (listen, upstream) = addrs.split_once('>')?;
            Some((kind, listen.parse().ok()?, upstream.parse().ok()?))
        });
        let Some((kind, listen, upstream)) = parsed else {
            bail!("{RELAY_ENV}={spec}: expected KIND:LISTEN>UPSTREAM");
        };
        return bare_relay::serve(bare_relay::Kind::parse(kind)?, listen, upstream);
    }
    eprintln!("gateway bench: building the gateway in this bench's profile");
    let gateway_bin = build_binary_of("privatelink-gateway", "gateway")?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(run(&gateway_bin))
}

async fn run(gateway_bin: &Path) -> Result<()> {
    eprintln!(
        "gateway bench: an endpoint service, an accepted endpoint and a tenant in the emulator"
    );
    let setup = Setup::create().await?;
    let bench = Bench {
        gateway_bin,
        // A consumer's address in its VPC, and the NLB's.
        header: nlb_stand_in::header(
            "10.1.0.5:40000".parse()?,
            "10.0.0.10:443".parse()?,
            &setup.endpoint,
        )?,
        setup,
        haproxy: which("haproxy"),
    };

    // GATEWAY_BENCH_ONLY=tcp or =https: one workload (both when unset).
    let only = std::env::var("GATEWAY_BENCH_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only.eq_ignore_ascii_case(name);
    let tcp = if wanted("tcp") {
        Some(bench_tcp(&bench).await?)
    } else {
        None
    };
    let https = if wanted("https") {
        Some(bench_https(&bench).await?)
    } else {
        None
    };

    println!("{}", intro());
    if let Some(tcp) = &tcp {
        print!(
            "{}",
            report("TCP", &format!("{MESSAGE} B echoed per request"), tcp)
        );
    }
    if let Some(https) = &https {
        print!("{}", report("HTTPS", "GET / over TLS 1.3, HTTP/1.1", https));
    }
    Ok(())
}

/// TCP: a message and its echo, directly, through the gateway and HAProxy.
async fn bench_tcp(bench: &Bench<'_>) -> Result<Series> {
    let echo = echo_upstream().await?;
    bench
        .compare(&Workload::Echo, echo, echo, Mode::Tcp, |listen| {
            Ok(haproxy_tcp(listen, echo))
        })
        .await
}

/// HTTPS: `GET /` from an HTTPS server directly, and from the plain HTTP
/// identity-echo app through the gateway and HAProxy.
async fn bench_https(bench: &Bench<'_>) -> Result<Series> {
    let dir = bench_dir()?;
    let ca = TestCa::new("gateway bench CA");
    let (cert, key) = ca.write_leaf_pem(&[SERVER_NAME], &dir)?;
    let app = IdentityEchoApp::start().await?;
    let direct_https = tls_server::serve(
        &ca,
        &[SERVER_NAME],
        Behaviour::Respond {
            status: 200,
            body: tls_server::BODY.into(),
        },
    )
    .await;
    let mode = Mode::Http {
        cert: cert.clone(),
        key: key.clone(),
    };
    bench
        .compare(
            &Workload::https(&ca)?,
            direct_https.addr,
            app.addr,
            mode,
            |listen| {
                // HAProxy reads the certificate and its key from one file.
                let both = dir.join("haproxy.pem");
                std::fs::write(
                    &both,
                    std::fs::read_to_string(&cert)? + &std::fs::read_to_string(&key)?,
                )
                .with_context(|| format!("writing {}", both.display()))?;
                Ok(haproxy_http(listen, app.addr, &both, &bench.setup))
            },
        )
        .await
}

/// What every workload's comparison shares.
struct Bench<'a> {
    gateway_bin: &'a Path,
    setup: Setup,
    /// The NLB's PROXY v2 header for the set-up's endpoint.
    header: Vec<u8>,
    /// HAProxy's binary; `None`: skipped.
    haproxy: Option<PathBuf>,
}

/// A workload's paths, running.
struct Paths {
    direct: SocketAddr,
    /// The bare relays in front of `direct`: blocking threads, tokio.
    relays: [Proc; 2],
    gateway: Gateway,
    haproxy: Option<Proc>,
}

impl Bench<'_> {
    /// Starts the gateway (in `mode`) and HAProxy (configured by
    /// `haproxy_sections(its listen address)`) in front of `upstream`,
    /// measures them and `direct` with `workload`, then stops both.
    async fn compare(
        &self,
        workload: &Workload,
        direct: SocketAddr,
        upstream: SocketAddr,
        mode: Mode,
        haproxy_sections: impl FnOnce(SocketAddr) -> Result<String>,
    ) -> Result<Series> {
        let name = workload.name().to_lowercase();
        let gateway = start_gateway(self.gateway_bin, &self.setup, upstream, mode, &name).await?;
        let haproxy = match &self.haproxy {
            Some(bin) => {
                let listen = free_local_addr()?;
                Some(Proc::haproxy(bin, listen, &haproxy_sections(listen)?, &name).await?)
            }
            None => None,
        };
        let relays = [
            Proc::relay(bare_relay::Kind::Threads, direct, &name).await?,
            Proc::relay(bare_relay::Kind::Tokio, direct, &name).await?,
        ];
        let mut paths = Paths {
            direct,
            relays,
            gateway,
            haproxy,
        };
        let series = Series {
            loaded: self.measure_at(CONNECTIONS, workload, &paths).await?,
            unloaded: self.measure_at(ONE, workload, &paths).await?,
        };
        paths.gateway.stop().await?;
        if let Some(h) = &mut paths.haproxy {
            h.stop();
        }
        Ok(series)
    }

    async fn measure_at(
        &self,
        connections: usize,
        workload: &Workload,
        paths: &Paths,
    ) -> Result<PathFigures> {
        let header = Some(self.header.as_slice());
        let (direct, gateway, haproxy) = (paths.direct, &paths.gateway, paths.haproxy.as_ref());
        let gateway_addr = gateway.options.listen;
        // Every path answers before anything is measured (a refused identity
        // would show here, not as a fast failure).
        let direct_answer = workload.once(direct, None).await.context("directly")?;
        for relay in &paths.relays {
            let answer = workload
                .once(relay.addr, None)
                .await
                .with_context(|| format!("through a relay; its log: {}", relay.log_tail()))?;
            if answer != direct_answer {
                bail!("a relay changed the answer: {answer:?}, not {direct_answer:?}");
            }
        }
        let through_gateway = workload
            .once(gateway_addr, header)
            .await
            .with_context(|| format!("through the gateway; its log: {}", gateway.log_text()))?;
        if let Some(h) = haproxy {
            let through_haproxy = workload
                .once(h.addr, header)
                .await
                .with_context(|| format!("through haproxy; its log: {}", h.log_tail()))?;
            // The same work on both: the same answer (in HTTP, the app echoes
            // the identity headers it was sent).
            if through_haproxy != through_gateway {
                bail!(
                    "the answers differ, so the comparison would not be fair:\n\
                     through the gateway: {through_gateway:?}\nthrough haproxy: {through_haproxy:?}"
                );
            }
        }
        let mut figures = PathFigures {
            direct: Figures::default(),
            relays: Default::default(),
            gateway: Figures::default(),
            haproxy: haproxy.map(|_| Figures::default()),
        };
        for round in 1..=ROUNDS {
            eprintln!(
                "gateway bench: {}, {connections} connection(s), round {round} of {ROUNDS}",
                workload.name()
            );
            figures
                .direct
                .add(load(connections, workload, direct, None).await?, None);
            // Not their CPU: a thread relay's threads end with their
            // connections, and /proc's per-thread figures with them.
            for (relay, f) in paths.relays.iter().zip(&mut figures.relays) {
                f.add(load(connections, workload, relay.addr, None).await?, None);
            }
            let cpu = CpuClock::of(gateway.pid());
            let run = load(connections, workload, gateway_addr, header)
                .await
                .with_context(|| format!("gateway log: {}", gateway.log_text()))?;
            figures.gateway.add(run, cpu.used());
            if let (Some(h), Some(f)) = (haproxy, figures.haproxy.as_mut()) {
                let cpu = CpuClock::of(Some(h.child.id()));
                let run = load(connections, workload, h.addr, header)
                    .await
                    .with_context(|| format!("haproxy log: {}", h.log_tail()))?;
                f.add(run, cpu.used());
            }
        }
        Ok(figures)
    }
}

/// The name in the HTTPS workload's certificate (SNI and `Host`).
const SERVER_NAME: &str = "api.bench.example.com";

async fn start_gateway(
    bin: &Path,
    setup: &Setup,
    upstream: SocketAddr,
    mode: Mode,
    name: &str,
) -> Result<Gateway> {
    Gateway::start(
        &setup.provider.account,
        GatewayOptions {
            listen: free_local_addr()?,
            health: free_local_addr()?,
            upstream,
            service_id: setup.provider.service_id.clone(),
            registry_table: setup.provider.table.clone(),
            mode,
            log: bench_dir()?.join(format!("gateway-{name}.log")),
            // No per-request or per-connection lines: HAProxy logs nothing either.
            log_level: "warn",
            binary: Some(bin.to_path_buf()),
            drain_secs: 2,
            extra_args: Vec::new(),
        },
    )
    .await
}

/// The paths of one workload, measured in alternating rounds, at one
/// concurrency.
struct PathFigures {
    direct: Figures,
    /// As [`Paths::relays`].
    relays: [Figures; 2],
    gateway: Figures,
    haproxy: Option<Figures>,
}

/// A workload's loaded ([`CONNECTIONS`]) and unloaded ([`ONE`]) series.
struct Series {
    loaded: PathFigures,
    unloaded: PathFigures,
}

/// One path's round trips over all rounds.
#[derive(Default)]
struct Figures {
    /// Round-trip times, nanoseconds, sorted.
    samples: Vec<u64>,
    measured: Duration,
    /// The proxy's CPU time (user and system, all threads) while it
    /// served `served` requests, warm-up included; `None` for the direct
    /// path, or where /proc cannot tell.
    cpu: Option<(Sched, u64)>,
}

impl Figures {
    fn add(&mut self, run: Run, cpu: Option<Sched>) {
        self.samples.extend(run.samples);
        // Kept sorted: the report reads many quantiles.
        self.samples.sort_unstable();
        self.measured += run.measured;
        if let Some(used) = cpu {
            let (total, served) = self.cpu.get_or_insert((Sched::default(), 0));
            total.add(used);
            *served += run.served;
        }
    }
    fn per_second(&self) -> f64 {
        self.samples.len() as f64 / self.measured.as_secs_f64()
    }
    /// The `q` quantile in microseconds.
    fn quantile_micros(&self, q: f64) -> f64 {
        let i = ((self.samples.len() as f64 - 1.0) * q).round() as usize;
        self.samples.get(i).copied().unwrap_or(0) as f64 / 1000.0
    }
    /// The proxy's CPU time per request, microseconds.
    fn cpu_per_request_micros(&self) -> Option<f64> {
        let (total, served) = self.cpu?;
        (served > 0).then(|| total.run.as_secs_f64() * 1e6 / served as f64)
    }
    /// Per request: the proxy's time waiting for a CPU (µs), how many
    /// times it was put on one, and how many times it was taken off one
    /// while it still had work.
    fn waits_per_request(&self) -> Option<(f64, f64, f64)> {
        let (total, served) = self.cpu?;
        (served > 0).then(|| {
            (
                total.wait.as_secs_f64() * 1e6 / served as f64,
                total.slices as f64 / served as f64,
                total.preempted as f64 / served as f64,
            )
        })
    }
}

/// A process's scheduling so far ([`Sched`]), to subtract from later. A
/// proxy's CPU per request is a steadier comparison than its throughput
/// when client, app and proxy share the cores; its wait for a CPU per
/// request says how much of its latency is the other processes' turn.
struct CpuClock {
    pid: Option<u32>,
    start: Option<Sched>,
}

impl CpuClock {
    fn of(pid: Option<u32>) -> CpuClock {
        CpuClock {
            pid,
            start: pid.and_then(sched),
        }
    }
    fn used(&self) -> Option<Sched> {
        sched(self.pid?)?.since(self.start?)
    }
}

/// A process's scheduling so far, summed over its threads
/// (`/proc/PID/task/*/schedstat`).
#[derive(Debug, Clone, Copy, Default)]
struct Sched {
    /// Time on a CPU.
    run: Duration,
    /// Time runnable but waiting for a CPU (the run queue).
    wait: Duration,
    /// Times put on a CPU.
    slices: u64,
    /// Times taken off a CPU while it still had work (preempted).
    preempted: u64,
}

impl Sched {
    fn since(self, start: Sched) -> Option<Sched> {
        Some(Sched {
            run: self.run.checked_sub(start.run)?,
            wait: self.wait.checked_sub(start.wait)?,
            slices: self.slices.checked_sub(start.slices)?,
            preempted: self.preempted.checked_sub(start.preempted)?,
        })
    }
    fn add(&mut self, other: Sched) {
        self.run += other.run;
        self.wait += other.wait;
        self.slices += other.slices;
        self.preempted += other.preempted;
    }
}

fn sched(pid: u32) -> Option<Sched> {
    let mut total = Sched::default();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let task = task.ok()?.path();
        let stat = std::fs::read_to_string(task.join("schedstat")).ok()?;
        let mut fields = stat.split_whitespace().map(|f| f.parse::<u64>().ok());
        let status = std::fs::read_to_string(task.join("status")).ok()?;
        let preempted = status
            .lines()
            .find_map(|l| l.strip_prefix("nonvoluntary_ctxt_switches:"))
            .and_then(|n| n.trim().parse().ok())?;
        total.add(Sched {
            run: Duration::from_nanos(fields.next()??),
            wait: Duration::from_nanos(fields.next()??),
            slices: fields.next()??,
            preempted,
        });
    }
    Some(total)
}

/// What one connection does, request after request.
enum Workload {
    /// Writes [`MESSAGE`] bytes and reads their echo.
    Echo,
    /// TLS to [`SERVER_NAME`] (trusting only the bench's CA), then
    /// HTTP/1.1 `GET /` and the whole answer, which must be `200`.
    Https(tokio_rustls::TlsConnector),
}

/// One open connection of a workload.
enum Conn {
    Echo(TcpStream),
    Https(hyper::client::conn::http1::SendRequest<Empty<Bytes>>),
}

impl Workload {
    fn https(ca: &TestCa) -> Result<Workload> {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca.cert_pem.as_bytes()) {
            roots.add(cert.context("reading the bench CA")?)?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .context("TLS 1.3")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Workload::Https(tokio_rustls::TlsConnector::from(Arc::new(
            config,
        ))))
    }

    fn name(&self) -> &'static str {
        match self {
            Workload::Echo => "TCP",
            Workload::Https(_) => "HTTPS",
        }
    }

    async fn open(&self, addr: SocketAddr, header: Option<&[u8]>) -> Result<Conn> {
        let tcp = connect(addr, header).await?;
        match self {
            Workload::Echo => Ok(Conn::Echo(tcp)),
            Workload::Https(connector) => {
                let name = rustls::pki_types::ServerName::try_from(SERVER_NAME)?;
                let tls = connector.connect(name, tcp).await.context("TLS")?;
                let (sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
                tokio::spawn(connection);
                Ok(Conn::Https(sender))
            }
        }
    }

    /// One connection, one request, with a 10 s bound: the answer.
    async fn once(&self, addr: SocketAddr, header: Option<&[u8]>) -> Result<Bytes> {
        tokio::time::timeout(Duration::from_secs(10), async {
            let mut conn = self.open(addr, header).await?;
            conn.request().await
        })
        .await
        .context("no answer within 10 s")?
    }
}

impl Conn {
    /// One request and its whole answer.
    async fn request(&mut self) -> Result<Bytes> {
        match self {
            Conn::Echo(s) => {
                let message = [b'x'; MESSAGE];
                let mut echo = [0u8; MESSAGE];
                s.write_all(&message).await?;
                s.read_exact(&mut echo)
                    .await
                    .context("the connection was closed instead of echoing")?;
                if echo != message {
                    bail!("the echo differs from the message");
                }
                Ok(Bytes::copy_from_slice(&echo))
            }
            Conn::Https(sender) => {
                let request = hyper::Request::get("/")
                    .header("host", SERVER_NAME)
                    .body(Empty::<Bytes>::new())?;
                let response = sender.send_request(request).await?;
                let status = response.status();
                let body = response.into_body().collect().await?.to_bytes();
                if status != 200 {
                    bail!("{status}: {}", String::from_utf8_lossy(&body));
                }
                Ok(body)
            }
        }
    }
}

/// One path's load, one round.
struct Run {
    /// The measured round trips, nanoseconds.
    samples: Vec<u64>,
    measured: Duration,
    /// Every request answered, warm-up included.
    served: u64,
}

/// `connections` connections to `addr` (each writing `header` first),
/// busy for [`WARM_UP`] + [`MEASURE`].
async fn load(
    connections: usize,
    workload: &Workload,
    addr: SocketAddr,
    header: Option<&[u8]>,
) -> Result<Run> {
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(workload.open(addr, header).await?);
    }
    let start = Instant::now() + Duration::from_millis(200);
    let measure_from = start + WARM_UP;
    let stop_at = measure_from + MEASURE;
    let mut tasks = tokio::task::JoinSet::new();
    for mut conn in conns {
        tasks.spawn(async move {
            tokio::time::sleep_until(start.into()).await;
            let mut samples = Vec::with_capacity(64 * 1024);
            let mut served = 0u64;
            loop {
                let sent = Instant::now();
                if sent >= stop_at || samples.len() >= MAX_PER_CONNECTION {
                    break;
                }
                conn.request().await?;
                served += 1;
                if sent >= measure_from {
                    samples.push(sent.elapsed().as_nanos() as u64);
                }
            }
            anyhow::Ok((samples, served))
        });
    }
    let mut run = Run {
        samples: Vec::new(),
        measured: MEASURE,
        served: 0,
    };
    while let Some(joined) = tasks.join_next().await {
        let (samples, served) = joined?.context("a connection failed mid-run")?;
        run.samples.extend(samples);
        run.served += served;
    }
    Ok(run)
}

async fn connect(addr: SocketAddr, header: Option<&[u8]>) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    if let Some(header) = header {
        s.write_all(header).await?;
    }
    Ok(s)
}

/// An echo server on 127.0.0.1: every byte read is written back.
async fn echo_upstream() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// A provider whose service has one accepted, available endpoint of a
/// consumer who is an active tenant.
struct Setup {
    provider: Provider,
    endpoint: String,
    /// The endpoint's owner, an active tenant.
    consumer: String,
}

impl Setup {
    async fn create() -> Result<Setup> {
        let (provider, consumer) = Provider::with_tenant(Emulator::shared()).await?;
        let endpoint = accepted_endpoint(&consumer, &provider).await?;
        Ok(Setup {
            provider,
            endpoint,
            consumer: consumer.id,
        })
    }
}

/// HAProxy doing the gateway's TCP job without identity: the PROXY header
/// read and dropped, bytes passed through.
fn haproxy_tcp(listen: SocketAddr, upstream: SocketAddr) -> String {
    format!(
        "frontend bench\n  mode tcp\n  bind {listen} accept-proxy\n  default_backend upstream\n\
         backend upstream\n  mode tcp\n  server echo {upstream}\n"
    )
}

/// HAProxy doing the gateway's HTTP job without identity: the PROXY header
/// read, TLS ended, the identity headers a client sent deleted and set to
/// fixed values (the ones the gateway sets for this bench's connections, so
/// both send and get back as many bytes), `X-Forwarded-For` set to the
/// PROXY header's source and `X-Forwarded-Proto` to `https` (as the
/// gateway sets them), HTTP/1.1 to the app over kept-alive connections.
/// The client sends no hop-by-hop headers: neither proxy has any to remove.
fn haproxy_http(listen: SocketAddr, upstream: SocketAddr, pem: &Path, setup: &Setup) -> String {
    let tenant = format!("tenant {}", setup.consumer);
    format!(
        "frontend bench\n  mode http\n  bind {listen} accept-proxy ssl crt {} alpn http/1.1\n\
         \x20 http-request del-header x-privatelink-endpoint-id\n\
         \x20 http-request del-header x-privatelink-account-id\n\
         \x20 http-request del-header x-privatelink-tenant\n\
         \x20 http-request set-header x-privatelink-endpoint-id {}\n\
         \x20 http-request set-header x-privatelink-account-id {}\n\
         \x20 http-request set-header x-privatelink-tenant \"{tenant}\"\n\
         \x20 http-request set-header x-forwarded-for %[src]\n\
         \x20 http-request set-header x-forwarded-proto https\n\
         \x20 http-request del-header forwarded\n\
         \x20 default_backend app\n\
         backend app\n  mode http\n  http-reuse always\n  server app {upstream}\n",
        pem.display(),
        setup.endpoint,
        setup.consumer,
    )
}

/// HAProxy as this bench runs it: its process, address and log file.
struct Proc {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Proc {
    /// HAProxy listening on `addr` with these frontend and backend
    /// sections, as many threads as the machine has cores.
    async fn haproxy(bin: &Path, addr: SocketAddr, sections: &str, name: &str) -> Result<Proc> {
        let dir = bench_dir()?;
        let log = dir.join(format!("haproxy-{name}.log"));
        let config = dir.join(format!("haproxy-{name}.cfg"));
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::fs::write(
            &config,
            format!(
                "global\n  maxconn 4096\n  nbthread {threads}\n\
                 defaults\n  timeout connect 5s\n  timeout client 300s\n  timeout server 300s\n\
                 {sections}"
            ),
        )
        .with_context(|| format!("writing {}", config.display()))?;
        let mut command = Command::new(bin);
        // -db: foreground, no daemon, so this process owns it.
        command.arg("-db").arg("-f").arg(&config);
        Proc::start(command, addr, log).await
    }

    /// This bench's binary again, as a bare relay of `kind` to `upstream`
    /// ([`RELAY_ENV`]).
    async fn relay(kind: bare_relay::Kind, upstream: SocketAddr, name: &str) -> Result<Proc> {
        let addr = free_local_addr()?;
        let log = bench_dir()?.join(format!("relay-{}-{name}.log", kind.name()));
        let mut command = Command::new(std::env::current_exe().context("this bench's binary")?);
        command.env(RELAY_ENV, format!("{}:{addr}>{upstream}", kind.name()));
        Proc::start(command, addr, log).await
    }

    async fn start(mut command: Command, addr: SocketAddr, log: PathBuf) -> Result<Proc> {
        let file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        let child = command
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        let mut proc = Proc { child, addr, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(addr).await.is_err() {
            if Instant::now() > deadline || proc.child.try_wait()?.is_some() {
                let tail = proc.log_tail();
                proc.stop();
                bail!("{command:?} never listened on {addr}: {tail}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(proc)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where the bench's logs, configurations and certificates go.
fn bench_dir() -> Result<PathBuf> {
    let dir = repo_root()
        .join("target")
        .join("bench-logs")
        .join("gateway");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn intro() -> String {
    format!(
        "gateway bench: {CONNECTIONS} kept-alive connections (loaded) and {ONE} (unloaded), one \
         request in flight each; {ROUNDS} rounds of {WARM_UP:?} warm-up + {MEASURE:?} measured \
         per path and series\nmachine: {}",
        machine()
    )
}

/// Requests per second, p50 and p99 (µs) of one path.
fn figures(f: &Figures) -> (f64, f64, f64) {
    (
        f.per_second(),
        f.quantile_micros(0.50),
        f.quantile_micros(0.99),
    )
}

fn report(workload: &str, what: &str, series: &Series) -> String {
    let mut out = format!(
        "\n{workload} ({what}):\n\
         | path         | {CONNECTIONS} conns: requests/s | p50 (µs) | p99 (µs) | {ONE} conn: p50 (µs) | p99 (µs) |\n\
         | ------------ | ---------------: | -------: | -------: | ---------------: | -------: |\n"
    );
    let mut row = |name: &str, loaded: &Figures, unloaded: &Figures| {
        let (l, u) = (figures(loaded), figures(unloaded));
        out.push_str(&format!(
            "| {name:<12} | {:>16.0} | {:>8.1} | {:>8.1} | {:>16.1} | {:>8.1} |\n",
            l.0, l.1, l.2, u.1, u.2
        ));
        (l, u)
    };
    let (loaded, unloaded) = (&series.loaded, &series.unloaded);
    let (dl, du) = row("direct", &loaded.direct, &unloaded.direct);
    let (_, threads) = row("thread relay", &loaded.relays[0], &unloaded.relays[0]);
    let (_, tokio) = row("tokio relay", &loaded.relays[1], &unloaded.relays[1]);
    let (gl, gu) = row("gateway", &loaded.gateway, &unloaded.gateway);
    let h = loaded
        .haproxy
        .as_ref()
        .zip(unloaded.haproxy.as_ref())
        .map(|(l, u)| row("haproxy", l, u));
    let added = gu.1 - du.1;
    out.push_str(&format!(
        "gateway p50 − direct p50, {ONE} connection: {added:.1} µs (goal ≤ {MAX_ADDED_P50_MICROS} µs: {}); \
         at {CONNECTIONS}: {:.1} µs (queueing on the shared cores)\n",
        met(added <= MAX_ADDED_P50_MICROS),
        gl.1 - dl.1
    ));
    out.push_str(&format!(
        "the floor, {ONE} connection, p50 over direct: a relay that only copies bytes adds \
         {:.1} µs with blocking threads, {:.1} µs on tokio; the gateway adds {:.1} µs over the \
         tokio relay\n",
        threads.1 - du.1,
        tokio.1 - du.1,
        gu.1 - tokio.1
    ));
    match h {
        Some((hl, hu)) => {
            out.push_str(&format!(
                "gateway / haproxy throughput, {CONNECTIONS} connections: {:.2} (goal ≥ 1: {})\n",
                gl.0 / hl.0,
                met(gl.0 >= hl.0)
            ));
            out.push_str(&format!(
                "gateway / haproxy p99, {CONNECTIONS} connections: {:.2} ({:.1} vs {:.1} µs; goal ≤ 1: {})\n",
                gl.2 / hl.2,
                gl.2,
                hl.2,
                met(gl.2 <= hl.2)
            ));
            if let Some(haproxy) = loaded.haproxy.as_ref() {
                let ratios: Vec<String> = [0.90, 0.95, 0.99, 0.999]
                    .iter()
                    .map(|&q| {
                        let g = loaded.gateway.quantile_micros(q);
                        format!("p{} {:.2}", q * 100.0, g / haproxy.quantile_micros(q))
                    })
                    .collect();
                out.push_str(&format!(
                    "gateway / haproxy latency, {CONNECTIONS} connections: {}\n",
                    ratios.join(", ")
                ));
            }
            out.push_str(&format!(
                "gateway − haproxy p50, {ONE} connection: {:.1} µs\n",
                gu.1 - hu.1
            ));
            if let (Some(g), Some(h)) = (
                loaded.gateway.cpu_per_request_micros(),
                loaded
                    .haproxy
                    .as_ref()
                    .and_then(Figures::cpu_per_request_micros),
            ) {
                out.push_str(&format!(
                    "CPU per request, {CONNECTIONS} connections: gateway {g:.1} µs, haproxy {h:.1} µs \
                     (gateway / haproxy {:.2})\n",
                    g / h
                ));
            }
            if let (Some(g), Some(h)) = (
                loaded.gateway.waits_per_request(),
                loaded.haproxy.as_ref().and_then(Figures::waits_per_request),
            ) {
                out.push_str(&format!(
                    "scheduling, {CONNECTIONS} connections, per request: waiting for a CPU: \
                     gateway {:.1} µs, haproxy {:.1} µs; put on a CPU: gateway {:.2}, haproxy {:.2} \
                     times; preempted: gateway {:.3}, haproxy {:.3} times\n",
                    g.0, h.0, g.1, h.1, g.2, h.2
                ));
            }
        }
        None => out.push_str(
            "haproxy: SKIPPED, no `haproxy` binary on PATH (Debian: apt-get install -y haproxy); \
             the throughput and p99 goals were not compared\n",
        ),
    }
    out
}

fn met(yes: bool) -> &'static str {
    if yes {
        "met"
    } else {
        "NOT met"
    }
}

//! `gateway`: the NLB's target. Reads the PROXY header of every
//! connection, resolves the VPC endpoint to its owner and tenant, and
//! forwards accepted connections to the upstream app (TCP mode: bytes;
//! HTTP mode: TLS terminated, identity headers added). JSON logs on
//! stderr; SIGTERM (or Ctrl-C) stops accepting, turns the health check to
//! 503 and drains open connections for `--drain-secs`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use privatelink_core::aws::AwsOptions;
use privatelink_gateway::certs::CertStore;
use privatelink_gateway::identity::{registry_config, Ec2Lister, IdentityConfig, Resolver};
use privatelink_gateway::proxy::ProxyLimits;
use privatelink_gateway::{http, tcp};
use privatelink_registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Bytes pass through (optionally with a new PROXY v2 header upstream).
    Tcp,
    /// TLS terminated here (HTTP/2 or HTTP/1.1 by ALPN); HTTP/1.1 with
    /// identity headers upstream.
    Http,
}

/// The PrivateLink gateway: identity for every connection behind the NLB.
#[derive(Debug, Parser)]
#[command(name = "gateway", version)]
struct Args {
    /// Address the NLB targets.
    #[arg(long, env = "GATEWAY_LISTEN", default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
    /// The upstream app, host:port (plain TCP or plain HTTP).
    #[arg(long, env = "GATEWAY_UPSTREAM")]
    upstream: String,
    #[arg(long, env = "GATEWAY_MODE", value_enum, default_value = "tcp")]
    mode: Mode,
    /// The endpoint service whose connections are listed (vpce-svc-...).
    #[arg(long, env = "GATEWAY_SERVICE_ID")]
    service_id: String,
    /// The tenant registry's DynamoDB table (`endpoint-service tenants`
    /// edits it): the only source of tenants.
    #[arg(long, env = "GATEWAY_REGISTRY_TABLE")]
    registry_table: String,
    /// The registry table's region when it is not the gateway's (one
    /// registry in the vendor's home region, read by every region's
    /// gateway). Default: the gateway's region.
    #[arg(long, env = "GATEWAY_REGISTRY_REGION")]
    registry_region: Option<String>,
    /// Certificate chain, PEM (HTTP mode).
    #[arg(long, env = "GATEWAY_CERT", required_if_eq("mode", "http"))]
    cert: Option<PathBuf>,
    /// Private key, PEM (HTTP mode).
    #[arg(long, env = "GATEWAY_KEY", required_if_eq("mode", "http"))]
    key: Option<PathBuf>,
    /// TCP mode: send a PROXY v2 header with the tenant TLVs upstream.
    #[arg(long, env = "GATEWAY_SEND_PROXY_V2")]
    send_proxy_v2: bool,
    /// Health-check listener for the NLB target group (HTTP, `200 ok`;
    /// `503` while draining).
    #[arg(long, env = "GATEWAY_HEALTH_LISTEN")]
    health_listen: Option<SocketAddr>,
    /// Largest PROXY header accepted, bytes.
    #[arg(long, default_value_t = 1024)]
    max_header_bytes: usize,
    /// Time for the whole PROXY header to arrive, milliseconds.
    #[arg(long, default_value_t = 5000)]
    header_timeout_ms: u64,
    /// Connections handled at once.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Close a connection on which no byte moved either way for this many
    /// seconds (both modes; below the NLB's 350 s so the gateway, not the
    /// NLB, closes it).
    #[arg(long, env = "GATEWAY_IDLE_TIMEOUT_SECS", default_value_t = 300)]
    idle_timeout_secs: u64,
    /// HTTP mode, HTTP/1.1: seconds for a request's head to arrive, counted
    /// from when the connection starts waiting for it (so it also limits a
    /// kept-alive connection's wait for its next request).
    #[arg(long, env = "GATEWAY_HEADER_READ_TIMEOUT_SECS", default_value_t = 30)]
    header_read_timeout_secs: u64,
    /// HTTP mode: read --cert and --key every this many seconds and serve
    /// a changed, valid pair to new connections (0: never reload).
    #[arg(long, env = "GATEWAY_CERT_RELOAD_SECS", default_value_t = 10)]
    cert_reload_secs: u64,
    /// How long a listing of the service's connections is trusted, seconds.
    #[arg(long, default_value_t = 300)]
    cache_ttl_secs: u64,
    /// At most one listing per this many seconds, whatever the misses.
    #[arg(long, default_value_t = 5)]
    refresh_interval_secs: u64,
    /// How long a tenant read from the registry is trusted, seconds.
    #[arg(long, default_value_t = 30)]
    tenant_ttl_secs: u64,
    /// When refreshing the listing or a tenant fails (AWS error or
    /// throttling), how long past its TTL the last good answer is still
    /// served, seconds (0: refuse as soon as a refresh fails). Ids never
    /// listed are never admitted.
    #[arg(long, env = "GATEWAY_STALE_GRACE_SECS", default_value_t = 300)]
    stale_grace_secs: u64,
    /// How long open connections may finish after SIGTERM, seconds.
    #[arg(long, default_value_t = 30)]
    drain_secs: u64,
    /// AWS region (default: the standard chain).
    #[arg(long)]
    region: Option<String>,
    /// AWS endpoint URL for every service (e.g. a local emulator).
    #[arg(long)]
    endpoint_url: Option<String>,
    /// Named AWS profile.
    #[arg(long)]
    profile: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!(error = %message, "gateway stopped");
            eprintln!("gateway: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let aws = AwsOptions {
        profile: args.profile.clone(),
        region: args.region.clone(),
        endpoint_url: args.endpoint_url.clone(),
        ..AwsOptions::default()
    }
    .for_app("gateway")
    .load()
    .await
    .map_err(|e| e.to_string())?;
    // Tenants live in the registry table only: a flag or environment
    // variable cannot grow with them.
    let tenants = Registry::new(
        aws_sdk_dynamodb::Client::from_conf(registry_config(
            (&aws).into(),
            args.registry_region.as_deref(),
        )),
        args.registry_table.clone(),
    );
    let lister = Ec2Lister {
        client: aws_sdk_ec2::Client::new(&aws),
        service_id: args.service_id.clone(),
    };
    let resolver = Arc::new(Resolver::new(
        lister,
        tenants,
        IdentityConfig {
            ttl: Duration::from_secs(args.cache_ttl_secs),
            min_refresh_interval: Duration::from_secs(args.refresh_interval_secs),
            tenant_ttl: Duration::from_secs(args.tenant_ttl_secs),
            stale_grace: Duration::from_secs(args.stale_grace_secs),
            ..IdentityConfig::default()
        },
    ));
    let limits = ProxyLimits {
        max_header_bytes: args.max_header_bytes,
        read_timeout: Duration::from_millis(args.header_timeout_ms),
        require_endpoint_tlv: true,
    };
    let drain = Duration::from_secs(args.drain_secs);
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(signals(stop));
    if let Some(addr) = args.health_listen {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("binding the health check to {addr}: {e}"))?;
        tokio::spawn(health(listener, stopped.clone()));
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("binding {}: {e}", args.listen))?;
    tracing::info!(listen = %args.listen, upstream = %args.upstream, mode = ?args.mode, "gateway listening");
    match args.mode {
        Mode::Tcp => {
            let upstream = tokio::net::lookup_host(&args.upstream)
                .await
                .ok()
                .and_then(|mut addrs| addrs.next())
                .ok_or_else(|| format!("--upstream {} does not resolve", args.upstream))?;
            let config = tcp::TcpConfig {
                limits,
                send_proxy_v2: args.send_proxy_v2,
                max_connections: args.max_connections,
                idle_timeout: Duration::from_secs(args.idle_timeout_secs),
                ..tcp::TcpConfig::default()
            };
            tcp::serve(
                listener,
                Arc::new(config),
                resolver,
                Arc::new(tcp::TcpUpstream(upstream)),
                stopped,
                drain,
            )
            .await
            .map_err(|e| e.to_string())
        }
        Mode::Http => {
            let (cert, key) = args
                .cert
                .as_ref()
                .zip(args.key.as_ref())
                .ok_or("HTTP mode needs --cert and --key")?;
            let store = CertStore::load(cert, key).map_err(|e| e.to_string())?;
            let tls = store.server_config().map_err(|e| e.to_string())?;
            if args.cert_reload_secs > 0 {
                tokio::spawn(store.watch(Duration::from_secs(args.cert_reload_secs)));
            }
            if args.header_read_timeout_secs == 0 || args.idle_timeout_secs == 0 {
                return Err(
                    "--header-read-timeout-secs and --idle-timeout-secs must be at least 1".into(),
                );
            }
            let config = http::HttpConfig {
                limits,
                upstream: format!("http://{}", args.upstream)
                    .parse()
                    .map_err(|e| format!("--upstream {}: {e}", args.upstream))?,
                handshake_timeout: Duration::from_secs(10),
                max_connections: args.max_connections,
                header_read_timeout: Duration::from_secs(args.header_read_timeout_secs),
                idle_timeout: Duration::from_secs(args.idle_timeout_secs),
            };
            http::serve(listener, Arc::new(config), tls, resolver, stopped, drain)
                .await
                .map_err(|e| e.to_string())
        }
    }
}

/// Turns `stop` true on SIGTERM or Ctrl-C.
async fn signals(stop: watch::Sender<bool>) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = terminate => {},
        _ = tokio::signal::ctrl_c() => {},
    }
    tracing::info!("stopping: no new connections, draining open ones");
    let _ = stop.send(true);
}

/// `200 ok` until draining, then `503 draining`, for any request.
///
/// A target group with PROXY protocol v2 on sends the header on its health
/// check connections too, with no client addresses ("After you enable proxy
/// protocol, the proxy protocol header is also included in health check
/// connections from the load balancer", ELB guide, target groups for
/// Network Load Balancers). So a connection that starts with a PROXY header
/// has it read and dropped first; one without is answered as is (a person
/// with curl, or a target group without PROXY).
async fn health(listener: TcpListener, stopped: watch::Receiver<bool>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let stopped = stopped.clone();
        tokio::spawn(async move {
            let mut first = [0u8; 6];
            let peeked =
                match tokio::time::timeout(Duration::from_secs(5), stream.peek(&mut first)).await {
                    Ok(Ok(n)) => n,
                    _ => return,
                };
            let proxied = first[..peeked].starts_with(b"PROXY")
                || first[..peeked].starts_with(b"\r\n\r\n\0\r");
            let rest = if proxied {
                let limits = ProxyLimits {
                    require_endpoint_tlv: false,
                    ..ProxyLimits::default()
                };
                match privatelink_gateway::proxy::read_header(&mut stream, &limits).await {
                    Ok(read) => read.rest,
                    Err(error) => {
                        tracing::warn!(error = %error, kind = error.kind(), "health check: bad PROXY header");
                        return;
                    }
                }
            } else {
                Vec::new()
            };
            let stream = privatelink_gateway::http::Prefixed::new(rest, stream);
            let service = hyper::service::service_fn(move |_req| {
                let draining = *stopped.borrow();
                async move {
                    let (status, body) = if draining {
                        (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
                    } else {
                        (StatusCode::OK, "ok\n")
                    };
                    let mut response =
                        Response::new(Full::new(Bytes::from_static(body.as_bytes())));
                    *response.status_mut() = status;
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

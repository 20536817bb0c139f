//! TCP mode: no TLS termination. After a valid PROXY header and an
//! accepted identity the gateway connects to the upstream and copies bytes
//! both ways until both sides close or nothing moves for
//! [`TcpConfig::idle_timeout`]; a refused connection is closed and the upstream never sees
//! it (no upstream connection is even opened).
//!
//! Optionally ([`TcpConfig::send_proxy_v2`]) the gateway first writes a new
//! PROXY v2 header to the upstream with the client's addresses as the NLB
//! reported them and these TLVs:
//!
//! | type | value |
//! | --- | --- |
//! | `0xEA` ([`PP2_TYPE_AWS`]) | subtype `0x01` + the VPC endpoint id, as the NLB sends it |
//! | `0xE0` ([`TLV_TENANT_ACCOUNT`]) | the tenant's 12-digit account id, ASCII |
//! | `0xE1` ([`TLV_TENANT_NAME`]) | the tenant's name in the registry, UTF-8 |
//!
//! `0xE0`–`0xEF` is the protocol's range for custom types
//! (`PP2_TYPE_MIN_CUSTOM`..`PP2_TYPE_MAX_CUSTOM`); `0xEA` is AWS's, so the
//! gateway's own are `0xE0` and `0xE1`. The upstream can trust them only
//! because nothing but the gateway can reach it: any PROXY header the
//! client itself sent after the NLB's is just data to the gateway.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::identity::{Identify, Identity, Refusal};
use crate::idle::{Activity, Watched};
use crate::proxy::{
    self, ProxyError, ProxyHeader, ProxyLimits, PP2_SUBTYPE_AWS_VPCE_ID, PP2_TYPE_AWS,
};

/// Custom TLV type carrying the tenant's account id to the upstream.
pub const TLV_TENANT_ACCOUNT: u8 = 0xE0;
/// Custom TLV type carrying the tenant's name to the upstream.
pub const TLV_TENANT_NAME: u8 = 0xE1;

/// TCP mode's settings.
#[derive(Debug, Clone)]
pub struct TcpConfig {
    pub limits: ProxyLimits,
    /// Write a PROXY v2 header with the identity TLVs to the upstream.
    pub send_proxy_v2: bool,
    /// How long connecting to the upstream may take.
    pub connect_timeout: Duration,
    /// The most connections handled at once; more wait in the accept queue.
    pub max_connections: usize,
    /// A forwarded connection with no byte in either direction for this
    /// long is closed (both sides).
    pub idle_timeout: Duration,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            limits: ProxyLimits::default(),
            send_proxy_v2: false,
            connect_timeout: Duration::from_secs(5),
            max_connections: 10_000,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// Opens the upstream connection (a TCP address in production; tests
/// count the calls).
pub trait Connect: Send + Sync {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send;
    fn connect(&self) -> impl Future<Output = std::io::Result<Self::Stream>> + Send;
}

/// [`Connect`] to a TCP address.
#[derive(Debug, Clone, Copy)]
pub struct TcpUpstream(pub SocketAddr);

impl Connect for TcpUpstream {
    type Stream = TcpStream;
    async fn connect(&self) -> std::io::Result<TcpStream> {
        let stream = TcpStream::connect(self.0).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// A connection that was forwarded, and how it went.
#[derive(Debug)]
pub struct Forwarded {
    pub header: ProxyHeader,
    pub identity: Identity,
    /// Client → upstream bytes (the client's, not the gateway's header).
    pub bytes_up: u64,
    /// Upstream → client bytes.
    pub bytes_down: u64,
    /// Set when the copy ended with an error rather than both sides closing.
    pub copy_error: Option<String>,
}

/// Why a connection was not forwarded.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error(transparent)]
    Header(#[from] ProxyError),
    #[error("refused: {0}")]
    Refused(Refusal),
    #[error("upstream unreachable: {0}")]
    Upstream(String),
}

impl ConnError {
    pub fn kind(&self) -> &'static str {
        match self {
            ConnError::Header(e) => e.kind(),
            ConnError::Refused(r) => r.kind(),
            ConnError::Upstream(_) => "upstream",
        }
    }
}

/// The header to the upstream: see the module documentation.
pub fn upstream_header(header: &ProxyHeader, identity: &Identity) -> std::io::Result<Vec<u8>> {
    let mut aws = Vec::with_capacity(1 + identity.endpoint_id.len());
    aws.push(PP2_SUBTYPE_AWS_VPCE_ID);
    aws.extend_from_slice(identity.endpoint_id.as_bytes());
    proxy::build_v2(
        header.source,
        header.destination,
        &[
            (PP2_TYPE_AWS, &aws),
            (TLV_TENANT_ACCOUNT, identity.account_id.as_bytes()),
            (TLV_TENANT_NAME, identity.tenant.as_bytes()),
        ],
    )
}

/// Handles one client connection: header, identity, then the copy. Nothing
/// reaches the upstream (no connection is opened) unless the header is
/// valid, carries an endpoint id, and the identity is accepted.
pub async fn handle<S, R, C>(
    mut client: S,
    config: &TcpConfig,
    resolver: &R,
    upstream: &C,
) -> Result<Forwarded, ConnError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    R: Identify,
    C: Connect,
{
    let read = proxy::read_header(&mut client, &config.limits).await?;
    let Some(endpoint_id) = read.header.endpoint_id.clone() else {
        // TCP mode always needs an identity, whatever the limits say.
        return Err(ProxyError::MissingEndpointTlv.into());
    };
    let identity = resolver
        .identify(&endpoint_id)
        .await
        .map_err(ConnError::Refused)?;
    let mut up = tokio::time::timeout(config.connect_timeout, upstream.connect())
        .await
        .map_err(|_| {
            ConnError::Upstream(format!("connect timed out ({:?})", config.connect_timeout))
        })?
        .map_err(|e| ConnError::Upstream(e.to_string()))?;
    let mut prefix = Vec::new();
    if config.send_proxy_v2 {
        prefix = upstream_header(&read.header, &identity)
            .map_err(|e| ConnError::Upstream(format!("building the PROXY header: {e}")))?;
    }
    prefix.extend_from_slice(&read.rest);
    if !prefix.is_empty() {
        up.write_all(&prefix)
            .await
            .map_err(|e| ConnError::Upstream(e.to_string()))?;
    }
    let (bytes_up, bytes_down, copy_error) =
        match copy_until_idle(&mut client, &mut up, config.idle_timeout).await {
            Ok((a, b)) => (a, b, None),
            Err(e) => (0, 0, Some(e.to_string())),
        };
    Ok(Forwarded {
        header: read.header,
        identity,
        bytes_up: bytes_up + read.rest.len() as u64,
        bytes_down,
        copy_error,
    })
}

/// `copy_bidirectional`, ended with a `TimedOut` error when no byte moved
/// either way for `idle`.
async fn copy_until_idle<S, U>(
    client: &mut S,
    up: &mut U,
    idle: Duration,
) -> std::io::Result<(u64, u64)>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    U: AsyncRead + AsyncWrite + Unpin + Send,
{
    let activity = Activity::new();
    let mut watched = Watched::new(client, activity.clone());
    tokio::select! {
        result = tokio::io::copy_bidirectional(&mut watched, up) => result,
        _ = activity.idle(idle) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("idle for {idle:?}"),
        )),
    }
}

/// Accepts connections on `listener` until `shutdown` turns true, each
/// handled by [`handle`] in its own task, at most
/// [`TcpConfig::max_connections`] at once; then waits up to `drain` for the
/// open ones to finish. Logs one line per connection (JSON when the
/// subscriber is JSON): peer, outcome, endpoint, account, tenant, bytes,
/// duration.
pub async fn serve<R, C>(
    listener: TcpListener,
    config: Arc<TcpConfig>,
    resolver: Arc<R>,
    upstream: Arc<C>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    drain: Duration,
) -> std::io::Result<()>
where
    R: Identify + 'static,
    C: Connect + 'static,
{
    let permits = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            permit = permits.clone().acquire_owned() => permit.expect("never closed"),
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
        };
        while tasks.try_join_next().is_some() {}
        let (config, resolver, upstream) = (config.clone(), resolver.clone(), upstream.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let _ = stream.set_nodelay(true);
            let started = Instant::now();
            let result = handle(stream, &config, &*resolver, &*upstream).await;
            log_outcome(peer, &result, started.elapsed());
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(drain, async { while tasks.join_next().await.is_some() {} }).await;
    tasks.abort_all();
    Ok(())
}

fn log_outcome(peer: SocketAddr, result: &Result<Forwarded, ConnError>, took: Duration) {
    let duration_ms = took.as_secs_f64() * 1000.0;
    match result {
        Ok(f) => tracing::info!(
            %peer,
            outcome = "forwarded",
            endpoint_id = %f.identity.endpoint_id,
            account_id = %f.identity.account_id,
            tenant = %f.identity.tenant,
            source = ?f.header.source,
            bytes_up = f.bytes_up,
            bytes_down = f.bytes_down,
            copy_error = f.copy_error.as_deref(),
            duration_ms,
            "connection"
        ),
        Err(e) => tracing::warn!(
            %peer,
            outcome = "refused",
            reason = e.kind(),
            detail = %e,
            duration_ms,
            "connection"
        ),
    }
}

//! HTTP mode: the PROXY header first (as in TCP mode), then TLS terminated
//! with rustls ([`crate::certs`]: the certificate reloads when its files
//! change), then HTTP/2 or HTTP/1.1 as ALPN chose (and only that),
//! forwarded to a plain-HTTP upstream over HTTP/1.1 whatever the
//! client spoke (a plain-HTTP app rarely speaks cleartext HTTP/2) with the
//! identity in three headers. An HTTP/1.1 client connection gets an
//! upstream connection of its own ([`crate::upstream`]); HTTP/2 clients
//! share a pool. The headers:
//!
//! - `X-PrivateLink-Endpoint-Id`: the VPC endpoint id;
//! - `X-PrivateLink-Account-Id`: the 12-digit account that owns it;
//! - `X-PrivateLink-Tenant`: the tenant's name in the registry.
//!
//! With them `X-Forwarded-For` (the client's address in its VPC, from the
//! PROXY header) and `X-Forwarded-Proto: https`. Any of these the client
//! sent (in any case), and the other headers an app might read a client's
//! address from, are removed first, so the upstream sees exactly the
//! gateway's; hop-by-hop headers stay on their hop, both ways (all in
//! [`crate::headers`]). A WebSocket handshake from an HTTP/1.1 client is
//! passed on with its `Upgrade`, and after the app's `101` the connection
//! carries the socket's bytes ([`crate::websocket`]). A connection whose
//! PROXY header is
//! missing or malformed is closed before TLS; one whose identity is refused
//! completes TLS and gets `403` with a one-line reason for every request,
//! and the upstream never sees it.
//!
//! Limits: [`HttpConfig::header_read_timeout`] for an HTTP/1.1 request's
//! head and [`HttpConfig::idle_timeout`] for a connection on which no byte
//! moves (see their documentation).
//!
//! Logs: one line per request (`access`: tenant, endpoint, account,
//! method, path, status, declared response bytes, duration), one per
//! WebSocket when it ends (`websocket`: tenant, bytes each way, duration)
//! and one per connection (`connection`: served, refused or closed before
//! HTTP).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::certs::CertStore;
pub use crate::certs::TlsError;
use crate::headers::{for_client, for_upstream, IdentityHeaders};
use crate::identity::{Identify, Identity, Refusal};
use crate::idle::{Activity, Watched};
use crate::proxy::{self, ProxyError, ProxyLimits};
use crate::upstream::Dedicated;
use crate::websocket::{self, Tunnel};

/// The body type of every response the gateway sends.
pub type Body = BoxBody<Bytes, hyper::Error>;

/// HTTP mode's settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub limits: ProxyLimits,
    /// The upstream app, plain HTTP (`http://host:port`).
    pub upstream: hyper::Uri,
    /// How long the TLS handshake may take.
    pub handshake_timeout: Duration,
    /// The most connections handled at once.
    pub max_connections: usize,
    /// HTTP/1.1: how long a request's head (request line and headers) may
    /// take to arrive, counted from when the connection starts waiting for
    /// it: after the TLS handshake, then after each response. So it also
    /// bounds how long a kept-alive connection waits for its next request
    /// (hyper's `header_read_timeout`). HTTP/2 has no per-request head
    /// limit; the idle timeout covers it.
    pub header_read_timeout: Duration,
    /// A connection with no byte moving either way for this long is closed,
    /// whatever it is doing: a request stalled mid-body, a response the
    /// upstream never sends, an HTTP/2 connection nobody uses.
    pub idle_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            limits: ProxyLimits::default(),
            upstream: hyper::Uri::from_static("http://127.0.0.1:8080"),
            handshake_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// A rustls server configuration from a PEM certificate chain and a PEM
/// private key (PKCS#8, PKCS#1 or SEC1), offering HTTP/2 and HTTP/1.1 by
/// ALPN. The certificate is fixed; [`CertStore`] gives one that reloads.
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    CertStore::load(cert, key)?.server_config()
}

/// A stream that yields `prefix` before reading from `inner` (the bytes
/// read past the PROXY header: the start of the TLS handshake).
pub struct Prefixed<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    pub fn new(prefix: Vec<u8>, inner: S) -> Self {
        Prefixed {
            prefix,
            pos: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.pos < self.prefix.len() {
            let n = (self.prefix.len() - self.pos).min(buf.remaining());
            let start = self.pos;
            buf.put_slice(&self.prefix[start..start + n]);
            self.pos += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The 403 a refused connection gets for every request.
pub fn refusal_response(refusal: &Refusal) -> Response<Body> {
    text(StatusCode::FORBIDDEN, format!("refused: {refusal}\n"))
}

/// Where one client connection's requests go: HTTP/1.1 clients get their
/// own upstream connection ([`Dedicated`], see [`crate::upstream`]);
/// HTTP/2 clients, whose streams run at once, share the pool.
pub enum UpstreamPath {
    Pooled(Box<Client<HttpConnector, Incoming>>),
    Dedicated(Arc<Dedicated>),
}

/// `host:port` of the upstream URI (port 80 when it names none).
fn upstream_addr(upstream: &hyper::Uri) -> String {
    format!(
        "{}:{}",
        upstream.host().unwrap_or("127.0.0.1"),
        upstream.port_u16().unwrap_or(80)
    )
}

/// Forwards one request for an accepted identity: the answer, and the
/// tunnel to run once it is written when it accepts a WebSocket.
pub async fn forward(
    route: &UpstreamPath,
    upstream: &hyper::Uri,
    identity: &IdentityHeaders,
    mut request: Request<Incoming>,
) -> (Response<Body>, Option<Tunnel>) {
    // The pool wants the absolute URI (it picks the connection by it); a
    // connection of our own is sent the origin form (`/path?query`), which
    // is what an HTTP/1.1 client sends: its URI is kept as it is.
    let origin_form = request.uri().scheme().is_none() && request.uri().authority().is_none();
    let target = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let uri = match route {
        UpstreamPath::Dedicated(_) if origin_form => None,
        UpstreamPath::Dedicated(_) => Some(hyper::Uri::builder().path_and_query(target).build()),
        UpstreamPath::Pooled(_) => Some(
            hyper::Uri::builder()
                .scheme(upstream.scheme_str().unwrap_or("http"))
                .authority(
                    upstream
                        .authority()
                        .map(|a| a.as_str())
                        .unwrap_or("127.0.0.1"),
                )
                .path_and_query(target)
                .build(),
        ),
    };
    let uri = match uri.transpose() {
        Ok(uri) => uri,
        Err(e) => {
            let status = StatusCode::BAD_REQUEST;
            return (text(status, format!("bad request target: {e}\n")), None);
        }
    };
    let client_version = request.version();
    // Read before the hop's headers go; hyper's end of the client's side
    // of the switch, taken before the request is passed on.
    let handshake = websocket::is_handshake(request.method(), client_version, request.headers());
    // RFC 6455's handshake has no body; with one, the switch would wait
    // for its end.
    if handshake && !hyper::body::Body::is_end_stream(request.body()) {
        let body = "a WebSocket handshake has no body\n";
        return (text(StatusCode::BAD_REQUEST, body.into()), None);
    }
    let client_side = handshake.then(|| hyper::upgrade::on(&mut request));
    if client_version == Version::HTTP_2 {
        // HTTP/2 names the host in `:authority`, which becomes `Host` in
        // HTTP/1.1 (else the upstream would see its own address).
        if let Some(authority) = request.uri().authority() {
            if !request.headers().contains_key(hyper::header::HOST) {
                if let Ok(host) = HeaderValue::from_str(authority.as_str()) {
                    request.headers_mut().insert(hyper::header::HOST, host);
                }
            }
        }
    }
    // The upstream is always spoken to in HTTP/1.1 (see the module docs).
    *request.version_mut() = Version::HTTP_11;
    if let Some(uri) = uri {
        *request.uri_mut() = uri;
    }
    // The client's hop ends here; the gateway's headers go on last.
    let (mut parts, body) = request.into_parts();
    if for_upstream(&mut parts.headers, &body, identity).is_err() {
        let body = "only the chunked transfer coding is supported\n";
        return (text(StatusCode::NOT_IMPLEMENTED, body.into()), None);
    }
    if client_side.is_some() {
        websocket::ask_for_switch(&mut parts.headers);
    }
    let mut request = Request::from_parts(parts, body);
    let answer = match route {
        UpstreamPath::Pooled(client) => client.request(request).await.map_err(|e| e.to_string()),
        UpstreamPath::Dedicated(dedicated) => {
            // HTTP/1.1 requires `Host`: a client that sent none gets the
            // upstream's `host:port` (the pool would leave out port 80).
            if !request.headers().contains_key(hyper::header::HOST) {
                if let Ok(host) = HeaderValue::from_str(&upstream_addr(upstream)) {
                    request.headers_mut().insert(hyper::header::HOST, host);
                }
            }
            if client_side.is_some() {
                websocket::send(&upstream_addr(upstream), request).await
            } else {
                dedicated.send(request).await.map_err(|e| e.to_string())
            }
        }
    };
    let bad_gateway = |why: &str| {
        tracing::warn!("{why}");
        (text(StatusCode::BAD_GATEWAY, format!("{why}\n")), None)
    };
    let mut response = match answer {
        Ok(response) => response,
        Err(e) => {
            tracing::warn!(error = %e, "upstream request failed");
            return (
                text(StatusCode::BAD_GATEWAY, "upstream unavailable\n".into()),
                None,
            );
        }
    };
    let switched = response.status() == StatusCode::SWITCHING_PROTOCOLS;
    let accepted = websocket::is_accepted(response.status(), response.headers());
    let upstream_side = accepted.then(|| hyper::upgrade::on(&mut response));
    // The upstream's hop ends here too.
    let (mut parts, body) = response.into_parts();
    if for_client(&mut parts.headers, &body).is_err() {
        return bad_gateway("the upstream answered with a transfer coding other than chunked");
    }
    let tunnel = match (client_side, upstream_side) {
        (Some(client_side), Some(upstream_side)) => {
            websocket::ask_for_switch(&mut parts.headers);
            Some(Tunnel::new(client_side, upstream_side))
        }
        // A switch nobody asked for, or to another protocol: the client
        // would be left on a connection neither end speaks.
        _ if switched => return bad_gateway("the upstream switched protocols unasked"),
        _ => None,
    };
    (Response::from_parts(parts, body.boxed()), tunnel)
}

/// Why a connection ended before HTTP.
#[derive(Debug, thiserror::Error)]
pub enum HttpConnError {
    #[error(transparent)]
    Header(#[from] ProxyError),
    #[error("TLS handshake failed: {0}")]
    Tls(String),
}

/// What every request of one connection shares, behind one `Arc`: a
/// request costs a reference count, not a copy of the identity.
struct PerConnection {
    /// The identity and its header values, or why it was refused.
    verdict: Result<(Identity, IdentityHeaders), Refusal>,
    route: UpstreamPath,
    upstream: hyper::Uri,
    /// An accepted WebSocket's tunnel, left by its handshake's request for
    /// the connection's task to run once hyper hands the connection over.
    tunnel: std::sync::Mutex<Option<Tunnel>>,
}

/// How many times one wake-up of a connection's task polls its client and
/// upstream sides in turn (see [`handle`]).
const PASSES: usize = 3;

/// Handles one TCP connection in HTTP mode.
pub async fn handle<R: Identify>(
    mut stream: TcpStream,
    config: &HttpConfig,
    tls: TlsAcceptor,
    resolver: &R,
    client: &Client<HttpConnector, Incoming>,
    mut drained: tokio::sync::watch::Receiver<bool>,
) -> Result<Result<Identity, Refusal>, HttpConnError> {
    let read = proxy::read_header(&mut stream, &config.limits).await?;
    let Some(endpoint_id) = read.header.endpoint_id.clone() else {
        return Err(ProxyError::MissingEndpointTlv.into());
    };
    let client_addr = read.header.source;
    let verdict = resolver.identify(&endpoint_id).await;
    let activity = Activity::new();
    let tls_stream = tokio::time::timeout(
        config.handshake_timeout,
        tls.accept(Watched::new(
            Prefixed::new(read.rest, stream),
            activity.clone(),
        )),
    )
    .await
    .map_err(|_| HttpConnError::Tls("timed out".into()))?
    .map_err(|e| HttpConnError::Tls(e.to_string()))?;
    let h2 = tls_stream.get_ref().1.alpn_protocol() == Some(&b"h2"[..]);
    // A refused connection never reaches the upstream: no connection for it.
    let dedicated =
        (!h2 && verdict.is_ok()).then(|| Dedicated::new(upstream_addr(&config.upstream)));
    let route = match &dedicated {
        Some(dedicated) => UpstreamPath::Dedicated(dedicated.clone()),
        None => UpstreamPath::Pooled(Box::new(client.clone())),
    };
    // Polls the dedicated upstream connection in this task (never ends).
    let drive = async move {
        match dedicated {
            Some(dedicated) => dedicated.drive().await,
            None => std::future::pending().await,
        }
    };
    let shared = Arc::new(PerConnection {
        verdict: verdict
            .as_ref()
            .map(|identity| {
                let headers = IdentityHeaders::new(identity, client_addr);
                (identity.clone(), headers)
            })
            .map_err(Clone::clone),
        route,
        upstream: config.upstream.clone(),
        tunnel: std::sync::Mutex::new(None),
    });
    let after = shared.clone();
    // Owned captures only: HTTP/2 runs each request as its own task.
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let shared = shared.clone();
        async move {
            let started = Instant::now();
            let method = request.method().clone();
            // Copied only for a line that will be written.
            let path =
                tracing::enabled!(tracing::Level::INFO).then(|| request.uri().path().to_owned());
            let version = request.version();
            let response = match &shared.verdict {
                Ok((_, headers)) => {
                    let (response, tunnel) =
                        forward(&shared.route, &shared.upstream, headers, request).await;
                    if tunnel.is_some() {
                        *shared.tunnel.lock().expect("never poisoned") = tunnel;
                    }
                    response
                }
                Err(refusal) => refusal_response(refusal),
            };
            if let Some(path) = path {
                access_log(
                    &method,
                    &path,
                    version,
                    shared.verdict.as_ref().map(|(identity, _)| identity),
                    &response,
                    started.elapsed(),
                );
            }
            Ok::<_, Infallible>(response)
        }
    });
    // ALPN decided the version (a client that offered no ALPN speaks
    // HTTP/1.1), and only that version is served: hyper's builders, not
    // hyper-util's auto builder, whose upgradeable connection would guess
    // the version from the first bytes whatever ALPN said.
    let io = TokioIo::new(tls_stream);
    let connection: Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>> = if h2 {
        let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        builder.timer(TokioTimer::new());
        Box::pin(builder.serve_connection(io, service))
    } else {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(config.header_read_timeout);
        Box::pin(builder.serve_connection(io, service).with_upgrades())
    };
    let idle = activity.idle(config.idle_timeout);
    tokio::pin!(connection, idle, drive);
    let served = std::future::poll_fn(|cx| {
        // The client's side and the upstream's hand each other work through
        // channels that wake this same task. Polled in a fixed order, a few
        // times over, a request read from the client is written to the
        // upstream, and an answer read from the upstream is written to the
        // client, in the pass that read it, not after a trip to the back of
        // the runtime's queue behind every other connection (the hand-off's
        // wake still gives the task one more turn, with nothing left to do).
        for _ in 0..PASSES {
            let _ = drive.as_mut().poll(cx);
            if let Poll::Ready(served) = connection.as_mut().poll(cx) {
                if let Err(e) = served {
                    tracing::debug!(error = %e, "HTTP connection ended with an error");
                }
                return Poll::Ready(true);
            }
        }
        let _ = drive.as_mut().poll(cx);
        if idle.as_mut().poll(cx).is_ready() {
            tracing::debug!(idle = ?config.idle_timeout, "closing an idle HTTP connection");
            return Poll::Ready(false);
        }
        Poll::Pending
    })
    .await;
    // The connection ended in a WebSocket's `101`: it is the tunnel's now,
    // under the same idle timeout, until the drain ends.
    let tunnel = after.tunnel.lock().expect("never poisoned").take();
    if let (Some(tunnel), Ok((identity, _))) = (tunnel, &after.verdict) {
        // Its kept-alive connection to the app is not needed any more.
        if let UpstreamPath::Dedicated(dedicated) = &after.route {
            dedicated.close();
        }
        let started = Instant::now();
        let carried = websocket::Carried::default();
        let how = if !served {
            Ended::Idle
        } else {
            tokio::select! {
                run = tunnel.run(&carried) => match run {
                    Ok(()) => Ended::Closed,
                    Err(e) => Ended::Failed(e),
                },
                _ = idle => Ended::Idle,
                _ = drained.wait_for(|over| *over) => Ended::Drained,
            }
        };
        websocket_log(
            identity,
            &how,
            &carried,
            config.idle_timeout,
            started.elapsed(),
        );
    }
    Ok(verdict)
}

/// How a WebSocket ended.
enum Ended {
    /// Both ends closed it.
    Closed,
    /// No byte moved either way for the idle timeout.
    Idle,
    /// The gateway's drain (SIGTERM) ran out of time.
    Drained,
    /// An end failed, or the switch did not complete.
    Failed(String),
}

/// One JSON line per WebSocket, when it ends: the identity, how it ended,
/// the bytes each way, and how long it was open.
fn websocket_log(
    identity: &Identity,
    how: &Ended,
    carried: &websocket::Carried,
    idle_timeout: Duration,
    took: Duration,
) {
    let (outcome, detail) = match how {
        Ended::Closed => ("closed", None),
        Ended::Idle => ("idle", Some(format!("no byte moved for {idle_timeout:?}"))),
        Ended::Drained => ("drained", Some("the gateway is stopping".to_string())),
        Ended::Failed(e) => ("failed", Some(e.clone())),
    };
    let (from_client, to_client) = carried.so_far();
    tracing::info!(
        outcome,
        endpoint_id = %identity.endpoint_id,
        account_id = %identity.account_id,
        tenant = %identity.tenant,
        from_client,
        to_client,
        detail,
        duration_ms = took.as_secs_f64() * 1000.0,
        "websocket"
    );
}

/// A client for the upstream (plain HTTP/1.1, pooled), for HTTP/2 clients.
pub fn upstream_client() -> Client<HttpConnector, Incoming> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Accepts connections until `shutdown` turns true, then waits up to
/// `drain` for open ones. One log line per connection. When the drain runs
/// out, open WebSockets are ended (each with its `websocket` line) and
/// whatever is still open is cut off.
pub async fn serve<R: Identify + 'static>(
    listener: TcpListener,
    config: Arc<HttpConfig>,
    tls: Arc<rustls::ServerConfig>,
    resolver: Arc<R>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    drain: Duration,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    let client = upstream_client();
    let permits = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let (drain_over, drained) = tokio::sync::watch::channel(false);
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
        let (config, resolver, acceptor, client, drained) = (
            config.clone(),
            resolver.clone(),
            acceptor.clone(),
            client.clone(),
            drained.clone(),
        );
        tasks.spawn(async move {
            let _permit = permit;
            let _ = stream.set_nodelay(true);
            let started = Instant::now();
            let result = handle(stream, &config, acceptor, &*resolver, &client, drained).await;
            log_outcome(peer, &result, started.elapsed());
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(drain, async { while tasks.join_next().await.is_some() {} }).await;
    let _ = drain_over.send(true);
    let _ = tokio::time::timeout(Duration::from_millis(100), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    Ok(())
}

/// One JSON line per request: identity (or refusal), method, path,
/// status, response bytes when the upstream declared them, duration. The
/// body streams on after this line, so its bytes are the declared length.
fn access_log(
    method: &hyper::Method,
    path: &str,
    version: Version,
    verdict: Result<&Identity, &Refusal>,
    response: &Response<Body>,
    took: Duration,
) {
    let bytes = response
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let duration_ms = took.as_secs_f64() * 1000.0;
    let status = response.status().as_u16();
    match verdict {
        Ok(identity) => tracing::info!(
            outcome = "request",
            endpoint_id = %identity.endpoint_id,
            account_id = %identity.account_id,
            tenant = %identity.tenant,
            %method,
            path,
            version = ?version,
            status,
            bytes,
            duration_ms,
            "access"
        ),
        Err(refusal) => tracing::info!(
            outcome = "request_refused",
            reason = refusal.kind(),
            %method,
            path,
            version = ?version,
            status,
            duration_ms,
            "access"
        ),
    }
}

fn log_outcome(
    peer: SocketAddr,
    result: &Result<Result<Identity, Refusal>, HttpConnError>,
    took: Duration,
) {
    let duration_ms = took.as_secs_f64() * 1000.0;
    match result {
        Ok(Ok(identity)) => tracing::info!(
            %peer,
            outcome = "served",
            endpoint_id = %identity.endpoint_id,
            account_id = %identity.account_id,
            tenant = %identity.tenant,
            duration_ms,
            "connection"
        ),
        Ok(Err(refusal)) => tracing::warn!(
            %peer,
            outcome = "refused",
            status = 403,
            reason = refusal.kind(),
            detail = %refusal,
            duration_ms,
            "connection"
        ),
        Err(e) => tracing::warn!(
            %peer,
            outcome = "closed",
            detail = %e,
            duration_ms,
            "connection"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn prefixed_yields_the_prefix_then_the_stream() {
        let (mut a, b) = tokio::io::duplex(64);
        a.write_all(b" world").await.unwrap();
        drop(a);
        let mut s = Prefixed::new(b"hello".to_vec(), b);
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "hello world");
    }
}

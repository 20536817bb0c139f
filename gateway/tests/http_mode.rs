//! HTTP mode end to end on 127.0.0.1: a test client writes the NLB's PROXY
//! header, then does TLS (rustls, a throw-away rcgen CA) and HTTP/1.1 or
//! HTTP/2 through the gateway to an upstream that reports the identity
//! headers it received; clients that stall; certificates replaced on disk.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use privatelink_core::approval::TenantStatus;
use privatelink_gateway::certs::CertStore;
use privatelink_gateway::http::{serve, tls_config, HttpConfig, TlsError};
use privatelink_gateway::identity::{IdentityConfig, Resolver};
use privatelink_gateway::proxy::ProxyLimits;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

const NAME: &str = "gateway.test";

struct Pki {
    dir: PathBuf,
    ca: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    /// A new leaf for `name` from the same CA: (certificate chain PEM, key
    /// PEM, leaf DER).
    fn leaf(&self, name: &str) -> (String, String, CertificateDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        (leaf.pem(), key.serialize_pem(), leaf.der().clone())
    }
    fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }
    fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A CA and a leaf for [`NAME`], written as PEM files in a fresh folder.
fn pki() -> Pki {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "privatelink-gateway-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "test CA");
    let ca = params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(params, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec![NAME.to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), leaf.pem() + &ca.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    Pki {
        dir,
        ca: ca.der().clone(),
        issuer,
    }
}

/// An upstream that answers with the identity, forwarding and hop-by-hop
/// headers it got, one line per value (`name: value`), and counts requests
/// and connections. Its answers carry hop-by-hop headers of its own
/// (`Keep-Alive`, and `X-Upstream-Hop` named in `Connection`) and one
/// that is not (`X-Upstream-Kept`). A request's body, when it has one,
/// comes back as a line `body: ...`; a request with `x-close` gets
/// `Connection: close` (the app ends its connection after the answer).
/// A WebSocket handshake (`Upgrade: websocket`) gets `101` unless it has
/// `x-refuse`; then the app writes the same lines and `--`, and echoes
/// every byte it reads until the client closes. A request with
/// `x-other-101` gets a `101` to `h2c` (a switch the gateway never asks
/// for).
async fn upstream() -> (SocketAddr, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let connections = Arc::new(AtomicUsize::new(0));
    let (counter, accepted) = (requests.clone(), connections.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            accepted.fetch_add(1, Ordering::SeqCst);
            let counter = counter.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let mut lines = String::new();
                        for (name, value) in req.headers() {
                            let echoed = ["x-privatelink-", "x-forwarded-"]
                                .iter()
                                .any(|p| name.as_str().starts_with(p))
                                || [
                                    "host",
                                    "forwarded",
                                    "connection",
                                    "keep-alive",
                                    "te",
                                    "upgrade",
                                    "x-secret",
                                ]
                                .contains(&name.as_str());
                            if echoed {
                                lines.push_str(&format!("{}: {}\n", name, value.to_str().unwrap()));
                            }
                        }
                        lines.push_str(&format!("path: {}\n", req.uri()));
                        lines.push_str(&format!("version: {:?}\n", req.version()));
                        let close = req.headers().contains_key("x-close");
                        let switch = req
                            .headers()
                            .get("upgrade")
                            .is_some_and(|u| u == "websocket")
                            && !req.headers().contains_key("x-refuse");
                        let upgrade = switch.then(|| hyper::upgrade::on(&mut req));
                        let other_101 = req.headers().contains_key("x-other-101");
                        async move {
                            if other_101 {
                                let response = Response::builder()
                                    .status(StatusCode::SWITCHING_PROTOCOLS)
                                    .header("connection", "upgrade")
                                    .header("upgrade", "h2c")
                                    .body(Full::new(Bytes::new()))
                                    .unwrap();
                                return Ok(response);
                            }
                            if let Some(upgrade) = upgrade {
                                tokio::spawn(async move {
                                    let mut io = TokioIo::new(upgrade.await.unwrap());
                                    io.write_all(format!("{lines}--\n").as_bytes())
                                        .await
                                        .unwrap();
                                    let mut buf = [0u8; 1024];
                                    loop {
                                        match io.read(&mut buf).await {
                                            Ok(0) | Err(_) => return,
                                            Ok(n) => io.write_all(&buf[..n]).await.unwrap(),
                                        }
                                    }
                                });
                                let response = Response::builder()
                                    .status(StatusCode::SWITCHING_PROTOCOLS)
                                    .header("connection", "upgrade, x-upstream-hop")
                                    .header("upgrade", "websocket")
                                    .header("x-upstream-hop", "1")
                                    .header("sec-websocket-accept", "from the app")
                                    .body(Full::new(Bytes::new()))
                                    .unwrap();
                                return Ok(response);
                            }
                            let body = req.into_body().collect().await?.to_bytes();
                            if !body.is_empty() {
                                lines.push_str(&format!(
                                    "body: {}\n",
                                    String::from_utf8_lossy(&body)
                                ));
                            }
                            let connection = if close {
                                "close, x-upstream-hop"
                            } else {
                                "x-upstream-hop"
                            };
                            let response = Response::builder()
                                .header("keep-alive", "timeout=5")
                                .header("connection", connection)
                                .header("x-upstream-hop", "1")
                                .header("x-upstream-kept", "1")
                                .body(Full::new(Bytes::from(lines)))
                                .unwrap();
                            Ok::<_, hyper::Error>(response)
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (addr, requests, connections)
}

/// What the test upstream echoes of `GET /orders?x=1` from the tenant's
/// endpoint (as `sorted_lines`): only the gateway's identity and
/// forwarding headers, whatever the client sent.
const SEEN_BY_APP: [&str; 8] = [
    "host: gateway.test",
    "path: /orders?x=1",
    "version: HTTP/1.1",
    "x-forwarded-for: 192.0.2.10",
    "x-forwarded-proto: https",
    "x-privatelink-account-id: 111111111111",
    "x-privatelink-endpoint-id: vpce-0123456789abcdef0",
    "x-privatelink-tenant: Acme",
];

/// The upstream's answer, line by line, sorted.
fn sorted_lines(body: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = body.lines().collect();
    lines.sort();
    lines
}

struct Running {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    /// Connections the upstream accepted.
    upstream_connections: Arc<AtomicUsize>,
    ca: CertificateDer<'static>,
    _stop: tokio::sync::watch::Sender<bool>,
}

async fn start() -> Running {
    start_with_upstream(None).await
}

async fn start_with_upstream(upstream_override: Option<SocketAddr>) -> Running {
    let pki = pki();
    let tls = tls_config(&pki.cert(), &pki.key()).unwrap();
    start_with(upstream_override, |_| {}, tls, &pki).await
}

/// The gateway with `tweak` applied to its settings and `tls` as its TLS
/// configuration.
async fn start_with(
    upstream_override: Option<SocketAddr>,
    tweak: impl FnOnce(&mut HttpConfig),
    tls: Arc<rustls::ServerConfig>,
    pki: &Pki,
) -> Running {
    let (up, requests, upstream_connections) = upstream().await;
    let up = upstream_override.unwrap_or(up);
    let lister = CountingLister::new(vec![
        available(ENDPOINT, OWNER),
        available("vpce-0bbbbbbbbbbbbbbb2", "222222222222"),
    ]);
    let tenants = MutableTenants::with(vec![
        tenant(OWNER, "Acme", TenantStatus::Active, None),
        tenant("222222222222", "Globex", TenantStatus::Suspended, None),
    ]);
    let resolver = Resolver::new(lister, tenants, IdentityConfig::default());
    let mut config = HttpConfig {
        limits: ProxyLimits {
            read_timeout: Duration::from_millis(500),
            ..ProxyLimits::default()
        },
        upstream: format!("http://{up}").parse().unwrap(),
        handshake_timeout: Duration::from_secs(2),
        max_connections: 100,
        ..HttpConfig::default()
    };
    tweak(&mut config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(serve(
        listener,
        Arc::new(config),
        tls,
        Arc::new(resolver),
        stopped,
        Duration::from_secs(1),
    ));
    Running {
        addr,
        requests,
        upstream_connections,
        ca: pki.ca.clone(),
        _stop: stop,
    }
}

fn connector(ca: &CertificateDer<'static>) -> TlsConnector {
    connector_alpn(ca, &[])
}

/// A TLS client trusting `ca` and offering `alpn` (none: no ALPN).
fn connector_alpn(ca: &CertificateDer<'static>, alpn: &[&[u8]]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

/// PROXY header, then TLS for `name`: the client's stream.
async fn tls_to(
    gw: &Running,
    name: &str,
    alpn: &[&[u8]],
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut tcp = TcpStream::connect(gw.addr).await?;
    tcp.write_all(&nlb_v2_ipv4(ENDPOINT)).await?;
    connector_alpn(&gw.ca, alpn)
        .connect(ServerName::try_from(name.to_string()).unwrap(), tcp)
        .await
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// PROXY header, TLS, HTTP/1.1: a sender for requests on one connection.
async fn connect(gw: &Running, header: Vec<u8>) -> Result<Sender, String> {
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    tcp.write_all(&header).await.unwrap();
    let tls = connector(&gw.ca)
        .connect(ServerName::try_from(NAME).unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn get(sender: &mut Sender, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let mut req = Request::builder().uri("/orders?x=1").header("host", NAME);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = sender
        .send_request(req.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn identity_headers_are_added_and_spoofed_ones_removed() {
    let gw = start().await;
    let mut sender = connect(&gw, nlb_v2_ipv4(ENDPOINT)).await.unwrap();
    let spoofed = [
        ("X-PrivateLink-Tenant", "Evil Corp"),
        ("x-privatelink-account-id", "999999999999"),
        ("X-PRIVATELINK-ENDPOINT-ID", "vpce-0eeeeeeeeeeeeeee5"),
        ("x-PrivateLink-tenant", "Evil Corp again"),
    ];
    for _ in 0..2 {
        // Two requests on one kept-alive connection.
        let (status, body) = get(&mut sender, &spoofed).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(sorted_lines(&body), SEEN_BY_APP);
    }
    assert_eq!(gw.requests.load(Ordering::SeqCst), 2);
}

/// What a client means for its own hop (RFC 9110 §7.6.1) ends at the
/// gateway, and so does the upstream's: a client cannot have a proxy
/// behind the gateway drop an identity header by naming it in
/// `Connection`, and the client's `X-Forwarded-For` is replaced by the
/// address in the PROXY header.
#[tokio::test]
async fn hop_by_hop_headers_end_at_the_gateway_both_ways() {
    let gw = start().await;
    let mut sender = connect(&gw, nlb_v2_ipv4(ENDPOINT)).await.unwrap();
    let request = Request::builder()
        .uri("/orders?x=1")
        .header("host", NAME)
        .header("connection", "x-secret, x-privatelink-tenant")
        .header("connection", "keep-alive")
        .header("x-secret", "for the gateway only")
        .header("keep-alive", "timeout=9")
        .header("te", "trailers")
        .header("x-forwarded-for", "203.0.113.66")
        .header("x-forwarded-proto", "http")
        .header("forwarded", "for=203.0.113.66")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert_eq!(sorted_lines(&body), SEEN_BY_APP);
    assert_eq!(headers.get("x-upstream-kept").unwrap(), "1");
    for hop in ["keep-alive", "x-upstream-hop"] {
        assert!(
            !headers.contains_key(hop),
            "{hop} reached the client: {headers:?}"
        );
    }
    // The app ends its connection after an answer: the client's stays
    // open (the `Connection: close` was the app's hop's), and its next
    // request goes on a new upstream connection.
    let (status, _) = get(&mut sender, &[("x-close", "1")]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = get(&mut sender, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(gw.upstream_connections.load(Ordering::SeqCst), 2);
    assert_eq!(gw.requests.load(Ordering::SeqCst), 3);
}

/// A body in chunks (no length given) reaches the app whatever the method:
/// the gateway says `chunked` to the app itself once the client's
/// `Transfer-Encoding` is gone (hyper's client would send a GET's body as
/// empty). Another coding is not forwarded: `501`.
#[tokio::test]
async fn bodies_of_unknown_length_reach_the_app_and_other_codings_are_501() {
    let gw = start().await;
    let tls = tls_to(&gw, NAME, &[b"http/1.1"]).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let chunks = || Chunks(vec![Bytes::from_static(b"abc"), Bytes::from_static(b"def")].into());
    for method in ["GET", "POST"] {
        let request = Request::builder()
            .method(method)
            .uri("/upload")
            .header("host", NAME)
            // Said by hand: hyper's client, too, would send a GET's body
            // of unknown length as empty.
            .header("transfer-encoding", "chunked")
            .body(chunks())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{method}");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains("body: abcdef\n"), "{method}: {body}");
    }
    assert_eq!(gw.requests.load(Ordering::SeqCst), 2);

    // HTTP/2 has no `Transfer-Encoding`: a body without `content-length`
    // is of unknown length too, and goes to the app's HTTP/1.1 chunked.
    let tls = tls_to(&gw, NAME, &[b"h2"]).await.unwrap();
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = Request::builder()
        .uri(format!("https://{NAME}/upload"))
        .body(chunks())
        .unwrap();
    let response = h2.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(body.contains("body: abcdef\n"), "HTTP/2: {body}");
    assert_eq!(gw.requests.load(Ordering::SeqCst), 3);

    let request = Request::builder()
        .method("POST")
        .uri("/upload")
        .header("host", NAME)
        .header("transfer-encoding", "gzip, chunked")
        .body(chunks())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_IMPLEMENTED);
    assert_eq!(gw.requests.load(Ordering::SeqCst), 3, "the app saw it");
}

/// A body sent chunk by chunk, its length not given (hyper's client
/// sends it `chunked`).
struct Chunks(std::collections::VecDeque<Bytes>);

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|c| Ok(hyper::body::Frame::data(c))))
    }
}

#[tokio::test]
async fn refused_identities_get_403_with_the_reason_and_never_reach_the_upstream() {
    let gw = start().await;
    for (endpoint, reason) in [
        ("vpce-0ddddddddddddddd4", "unknown endpoint"),
        ("vpce-0bbbbbbbbbbbbbbb2", "suspended"),
    ] {
        let mut sender = connect(&gw, nlb_v2_ipv4(endpoint)).await.unwrap();
        let (status, body) = get(&mut sender, &[("X-PrivateLink-Tenant", "Acme")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(
            body.starts_with("refused: ") && body.contains(reason),
            "{body}"
        );
    }
    assert_eq!(gw.requests.load(Ordering::SeqCst), 0);
    assert_eq!(gw.upstream_connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn every_http1_client_connection_has_an_upstream_connection_of_its_own() {
    let gw = start().await;
    let mut first = connect(&gw, nlb_v2_ipv4(ENDPOINT)).await.unwrap();
    let mut second = connect(&gw, nlb_v2_ipv4(ENDPOINT)).await.unwrap();
    // Interleaved, one at a time: a shared pool would carry all six on one
    // idle upstream connection.
    for _ in 0..3 {
        for sender in [&mut first, &mut second] {
            let (status, body) = get(sender, &[]).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert!(body.contains("x-privatelink-tenant: Acme"), "{body}");
        }
    }
    assert_eq!(gw.requests.load(Ordering::SeqCst), 6);
    assert_eq!(gw.upstream_connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_bad_proxy_header_closes_the_connection_before_tls() {
    let gw = start().await;
    for header in [
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        v2_header("192.0.2.1:1", "10.0.0.1:443", &[]),
        b"PROXY TCP4 192.0.2.1 10.0.0.1 1 443\r\n".to_vec(),
    ] {
        let err = connect(&gw, header).await.unwrap_err();
        assert!(!err.is_empty());
    }
    assert_eq!(gw.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn tls_failures_end_the_connection() {
    let gw = start().await;
    // A client that does not trust the gateway's CA.
    let other = pki();
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    tcp.write_all(&nlb_v2_ipv4(ENDPOINT)).await.unwrap();
    let err = connector(&other.ca)
        .connect(ServerName::try_from(NAME).unwrap(), tcp)
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    // A client that speaks plain HTTP after a valid PROXY header.
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    tcp.write_all(&nlb_v2_ipv4(ENDPOINT)).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), tcp.read_to_end(&mut answer))
        .await
        .expect("closed by the gateway");
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    assert_eq!(gw.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_unreachable_upstream_is_502() {
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let gw = start_with_upstream(Some(closed)).await;
    let mut sender = connect(&gw, nlb_v2_ipv4(ENDPOINT)).await.unwrap();
    let (status, _) = get(&mut sender, &[]).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
}

#[test]
fn certificate_and_key_files_are_checked() {
    let files = pki();
    let (cert, key) = (files.dir.join("cert.pem"), files.dir.join("key.pem"));
    assert!(tls_config(&cert, &key).is_ok());
    let missing = files.dir.join("nope.pem");
    assert!(matches!(
        tls_config(&missing, &key),
        Err(TlsError::Certs { .. })
    ));
    assert!(matches!(
        tls_config(&key, &key),
        Err(TlsError::NoCerts { .. })
    ));
    assert!(matches!(
        tls_config(&cert, &cert),
        Err(TlsError::Key { .. })
    ));
    let other = pki();
    let err = tls_config(&cert, &other.dir.join("key.pem")).unwrap_err();
    assert!(matches!(err, TlsError::Config(_)), "{err}");
}

/// A client's WebSocket: the answer to its handshake, and once the switch
/// is done, its end of the socket.
struct Ws {
    response: Response<hyper::body::Incoming>,
    /// `None` when the answer is not `101`.
    socket: Option<TokioIo<hyper::upgrade::Upgraded>>,
    /// The connection's sender, for requests after an answer that is not
    /// `101`.
    sender: Sender,
}

/// A WebSocket handshake for `/orders?x=1` on a new client connection,
/// with `extra` headers.
async fn websocket(gw: &Running, extra: &[(&str, &str)]) -> Ws {
    let tls = tls_to(gw, NAME, &[b"http/1.1"]).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn.with_upgrades());
    let mut request = Request::builder()
        .uri("/orders?x=1")
        .header("host", NAME)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    for (k, v) in extra {
        request = request.header(*k, *v);
    }
    let mut response = sender
        .send_request(request.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let socket = if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        Some(TokioIo::new(
            hyper::upgrade::on(&mut response).await.unwrap(),
        ))
    } else {
        None
    };
    Ws {
        response,
        socket,
        sender,
    }
}

/// Reads what the test app writes first on a WebSocket: the lines it saw,
/// up to `--`.
async fn app_saw(socket: &mut TokioIo<hyper::upgrade::Upgraded>) -> String {
    let mut seen = Vec::new();
    while !seen.ends_with(b"--\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut byte))
            .await
            .expect("the app's first lines within 5 s")
            .unwrap();
        assert_eq!(n, 1, "closed after {}", String::from_utf8_lossy(&seen));
        seen.push(byte[0]);
    }
    String::from_utf8(seen[..seen.len() - 3].to_vec()).unwrap()
}

/// The gateway's JSON log lines, as written while a `#[tokio::test]` runs
/// (every task of its runtime runs on the test's thread, where
/// [`Logs::capture`] sets the subscriber).
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    /// The fields of the first line whose message is `message`, waiting
    /// up to 5 s for it.
    async fn wait_for(&self, message: &str) -> serde_json::Value {
        for _ in 0..100 {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            let found = text
                .lines()
                .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
                .find(|line| line["fields"]["message"] == message);
            if let Some(line) = found {
                return line["fields"].clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {message:?} log line within 5 s");
    }
}

/// A WebSocket handshake reaches the app with the identity headers (the
/// client's copies and whatever it named in `Connection` dropped) and
/// only `Connection: upgrade` and `Upgrade: websocket` of the hop's own;
/// after the app's `101` bytes go both ways until the client closes, and
/// the app's end closes with it.
#[tokio::test]
async fn a_websocket_reaches_the_app_with_the_identity_and_carries_bytes_both_ways() {
    let (logs, _guard) = Logs::capture();
    let gw = start().await;
    let spoofed = [
        ("x-privatelink-tenant", "Evil Corp"),
        ("connection", "x-privatelink-tenant, x-secret"),
        ("x-secret", "for the gateway only"),
    ];
    let ws = websocket(&gw, &spoofed).await;
    let headers = ws.response.headers().clone();
    let mut socket = ws.socket.expect("switched");
    assert_eq!(headers.get("upgrade").unwrap(), "websocket");
    assert_eq!(headers.get("connection").unwrap(), "upgrade");
    assert_eq!(headers.get("sec-websocket-accept").unwrap(), "from the app");
    assert!(!headers.contains_key("x-upstream-hop"), "{headers:?}");
    let seen = app_saw(&mut socket).await;
    let mut expected: Vec<&str> = SEEN_BY_APP.to_vec();
    expected.extend(["connection: upgrade", "upgrade: websocket"]);
    expected.sort();
    assert_eq!(sorted_lines(&seen), expected);
    let messages = [
        &b"ping"[..],
        &[0x81, 0x05, b'h', b'e', b'l', b'l', b'o'][..],
    ];
    for message in messages {
        socket.write_all(message).await.unwrap();
        let mut echo = vec![0u8; message.len()];
        socket.read_exact(&mut echo).await.unwrap();
        assert_eq!(echo, message);
    }
    socket.shutdown().await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut rest)).await;
    assert!(
        read.is_ok(),
        "the tunnel stayed open after the client closed"
    );
    assert!(rest.is_empty(), "{rest:?}");
    // The handshake, and nothing else, reached the app.
    assert_eq!(gw.requests.load(Ordering::SeqCst), 1);
    // One line when it ends: the tenant and the bytes each way.
    let line = logs.wait_for("websocket").await;
    assert_eq!(line["outcome"], "closed", "{line}");
    assert_eq!(line["tenant"], "Acme", "{line}");
    assert_eq!(line["endpoint_id"], ENDPOINT, "{line}");
    let sent: usize = messages.iter().map(|m| m.len()).sum();
    assert_eq!(line["from_client"], sent, "{line}");
    assert_eq!(
        line["to_client"],
        seen.len() + "--\n".len() + sent,
        "{line}"
    );
}

/// An app that says no to a WebSocket answers as it would any request,
/// and the client's connection goes on serving requests; an `Upgrade` to
/// anything but `websocket` is the client's hop's only and is never passed
/// on; a `101` the gateway did not ask for is `502`; a handshake with a
/// body is `400`; and a refused identity's handshake gets `403` like any
/// request.
#[tokio::test]
async fn websockets_the_app_refuses_and_other_upgrades_are_plain_requests() {
    let gw = start().await;
    let ws = websocket(&gw, &[("x-refuse", "1")]).await;
    assert!(ws.socket.is_none());
    assert_eq!(ws.response.status(), StatusCode::OK);
    let body = ws.response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    // Asked of the app with the switch; answered without it.
    assert!(body.contains("upgrade: websocket\n"), "{body}");
    let mut sender = ws.sender;
    let (status, body) = get(&mut sender, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(sorted_lines(&body), SEEN_BY_APP);

    let ws = websocket(&gw, &[("x-other-101", "1")]).await;
    assert_eq!(ws.response.status(), StatusCode::BAD_GATEWAY);
    assert!(ws.socket.is_none());

    let mut sender = connect(&gw, nlb_v2_ipv4(ENDPOINT)).await.unwrap();
    let request = Request::builder()
        .uri("/orders?x=1")
        .header("host", NAME)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .body(Full::new(Bytes::from_static(b"a body")))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let requests_so_far = 3;
    assert_eq!(gw.requests.load(Ordering::SeqCst), requests_so_far);

    let mut sender = connect(&gw, nlb_v2_ipv4(ENDPOINT)).await.unwrap();
    for upgrade in ["h2c", "TLS/1.2"] {
        let (status, body) = get(
            &mut sender,
            &[("connection", "upgrade"), ("upgrade", upgrade)],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(sorted_lines(&body), SEEN_BY_APP, "{upgrade}");
    }
    assert_eq!(gw.requests.load(Ordering::SeqCst), requests_so_far + 2);

    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    tcp.write_all(&nlb_v2_ipv4("vpce-0bbbbbbbbbbbbbbb2"))
        .await
        .unwrap();
    let tls = connector(&gw.ca)
        .connect(ServerName::try_from(NAME).unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn.with_upgrades());
    let request = Request::builder()
        .uri("/")
        .header("host", NAME)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(gw.requests.load(Ordering::SeqCst), requests_so_far + 2);
}

/// A WebSocket on which nothing moves is closed after the idle timeout;
/// its log line says so, with the bytes it carried.
#[tokio::test]
async fn an_idle_websocket_is_closed_after_the_idle_timeout() {
    let (logs, _guard) = Logs::capture();
    let pki = pki();
    let tls = tls_config(&pki.cert(), &pki.key()).unwrap();
    let gw = start_with(
        None,
        |c| c.idle_timeout = Duration::from_millis(400),
        tls,
        &pki,
    )
    .await;
    let mut socket = websocket(&gw, &[]).await.socket.expect("switched");
    let seen = app_saw(&mut socket).await;
    let started = Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "still open after 5 s");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300), "{took:?}");
    let line = logs.wait_for("websocket").await;
    assert_eq!(line["outcome"], "idle", "{line}");
    assert_eq!(line["tenant"], "Acme", "{line}");
    assert_eq!(line["from_client"], 0, "{line}");
    assert_eq!(line["to_client"], seen.len() + "--\n".len(), "{line}");
}

/// On SIGTERM an open WebSocket is given the drain; when it runs out the
/// WebSocket is closed, with its log line.
#[tokio::test]
async fn an_open_websocket_is_closed_when_the_drain_runs_out() {
    let (logs, _guard) = Logs::capture();
    let gw = start().await;
    let mut socket = websocket(&gw, &[]).await.socket.expect("switched");
    app_saw(&mut socket).await;
    socket.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    socket.read_exact(&mut echo).await.unwrap();
    let started = Instant::now();
    gw._stop.send(true).unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "still open 5 s after the stop");
    // The drain is 1 s (see `start_with`).
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900), "{took:?}");
    let line = logs.wait_for("websocket").await;
    assert_eq!(line["outcome"], "drained", "{line}");
    assert_eq!(line["from_client"], 4, "{line}");
}

/// ALPN's choice holds: a client that chose `http/1.1` and sends HTTP/2's
/// opening is not served HTTP/2 (it would get an upstream connection per
/// stream), and nothing reaches the app.
#[tokio::test]
async fn http2_on_a_connection_that_chose_http1_is_not_served() {
    let gw = start().await;
    let tls = tls_to(&gw, NAME, &[b"http/1.1"]).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let answered = async {
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let request = Request::builder()
            .uri(format!("https://{NAME}/orders?x=1"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        sender
            .send_request(request)
            .await
            .map(|r| r.status())
            .map_err(|e| e.to_string())
    };
    let answered = tokio::time::timeout(Duration::from_secs(5), answered)
        .await
        .expect("an answer or an error within 5 s");
    assert!(answered.is_err(), "{answered:?}");
    assert_eq!(gw.requests.load(Ordering::SeqCst), 0);
}

/// Reads until the gateway closes the connection (or 5 s pass): what it
/// sent, and how long after `since` it closed.
async fn read_until_closed(
    tls: &mut tokio_rustls::client::TlsStream<TcpStream>,
    since: Instant,
) -> (Vec<u8>, Duration) {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "still open after 5 s");
    (answer, since.elapsed())
}

/// A client that stalls in its request head, or completes TLS and never
/// sends a byte, is closed after the header timeout, not the idle timeout.
#[tokio::test]
async fn a_client_that_stalls_in_its_headers_is_closed_after_the_header_timeout() {
    let pki = pki();
    let tls = tls_config(&pki.cert(), &pki.key()).unwrap();
    let gw = start_with(
        None,
        |c| {
            c.header_read_timeout = Duration::from_millis(300);
            c.idle_timeout = Duration::from_secs(30);
        },
        tls,
        &pki,
    )
    .await;
    let mut tls = tls_to(&gw, NAME, &[]).await.unwrap();
    let started = Instant::now();
    // Half a request head, then nothing.
    tls.write_all(b"GET /slow HTTP/1.1\r\nHost: gateway.test\r\n")
        .await
        .unwrap();
    let mut silent = tls_to(&gw, NAME, &[b"http/1.1"]).await.unwrap();
    for tls in [&mut tls, &mut silent] {
        let (answer, took) = read_until_closed(tls, started).await;
        assert!(took >= Duration::from_millis(250), "{took:?}");
        // Closed without an answer, or with 408: never forwarded.
        assert!(
            answer.is_empty() || answer.starts_with(b"HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    assert_eq!(gw.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_connection_with_no_traffic_is_closed_after_the_idle_timeout() {
    let pki = pki();
    let tls = tls_config(&pki.cert(), &pki.key()).unwrap();
    let gw = start_with(
        None,
        |c| {
            c.header_read_timeout = Duration::from_secs(30);
            c.idle_timeout = Duration::from_millis(400);
        },
        tls,
        &pki,
    )
    .await;
    // HTTP/1.1: one request is answered, then the kept-alive connection
    // goes quiet and is closed long before the 30 s header timeout.
    let mut tls = tls_to(&gw, NAME, &[]).await.unwrap();
    tls.write_all(b"GET /once HTTP/1.1\r\nHost: gateway.test\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (answer, took) = read_until_closed(&mut tls, started).await;
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    // HTTP/2: a connection that never sends a request is closed too.
    let mut tls = tls_to(&gw, NAME, &[b"h2"]).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let started = Instant::now();
    let (_, took) = read_until_closed(&mut tls, started).await;
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(gw.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn http2_clients_get_the_same_identity_headers_over_http1_upstream() {
    let gw = start().await;
    let tls = tls_to(&gw, NAME, &[b"h2", b"http/1.1"]).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    for _ in 0..2 {
        // Two streams on one connection, with spoofed identity headers.
        let request = Request::builder()
            .uri(format!("https://{NAME}/orders?x=1"))
            .header("x-privatelink-tenant", "Evil Corp")
            .header("x-privatelink-account-id", "999999999999")
            .header("x-privatelink-endpoint-id", "vpce-0eeeeeeeeeeeeeee5")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.version(), hyper::Version::HTTP_2);
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert_eq!(sorted_lines(&body), SEEN_BY_APP);
    }
    assert_eq!(gw.requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn http2_clients_of_a_refused_identity_get_403() {
    let gw = start().await;
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    tcp.write_all(&nlb_v2_ipv4("vpce-0bbbbbbbbbbbbbbb2"))
        .await
        .unwrap();
    let tls = connector_alpn(&gw.ca, &[b"h2"])
        .connect(ServerName::try_from(NAME).unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = Request::builder()
        .uri(format!("https://{NAME}/"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("suspended"));
    assert_eq!(gw.requests.load(Ordering::SeqCst), 0);
}

/// The end-entity certificate the gateway presented for `name`.
async fn served_certificate(gw: &Running, name: &str) -> std::io::Result<CertificateDer<'static>> {
    let tls = tls_to(gw, name, &[]).await?;
    Ok(tls.get_ref().1.peer_certificates().unwrap()[0].clone())
}

#[tokio::test]
async fn replaced_certificate_files_are_served_to_new_connections() {
    let pki = pki();
    let store = CertStore::load(&pki.cert(), &pki.key()).unwrap();
    let original = store.current_certificate();
    tokio::spawn(store.clone().watch(Duration::from_millis(100)));
    let gw = start_with(None, |_| {}, store.server_config().unwrap(), &pki).await;
    assert_eq!(served_certificate(&gw, NAME).await.unwrap(), original);
    // An open connection keeps its certificate across the change.
    let mut open = tls_to(&gw, NAME, &[]).await.unwrap();

    let (cert, key, leaf) = pki.leaf("renamed.test");
    std::fs::write(pki.key(), key).unwrap();
    std::fs::write(pki.cert(), cert).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // Until the reload, the old certificate (for gateway.test) fails
        // verification for renamed.test.
        if let Ok(served) = served_certificate(&gw, "renamed.test").await {
            assert_eq!(served, leaf);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served_certificate(&gw, NAME).await.is_err());
    open.write_all(b"GET / HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    open.read_to_end(&mut answer).await.unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"));

    // A bad pair (a key that is not the certificate's) is not taken.
    let (_, other_key, _) = pki.leaf("other.test");
    std::fs::write(pki.key(), other_key).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(store.current_certificate(), leaf);
    assert_eq!(served_certificate(&gw, "renamed.test").await.unwrap(), leaf);
}

#[test]
fn a_bad_new_pair_is_refused_once_and_the_old_one_kept() {
    let pki = pki();
    let store = CertStore::load(&pki.cert(), &pki.key()).unwrap();
    let original = store.current_certificate();
    assert!(!store.reload().unwrap(), "unchanged files are not reloaded");
    // The certificate replaced, its key not yet: refused, old one kept.
    let (cert, key, leaf) = pki.leaf("next.test");
    std::fs::write(pki.cert(), &cert).unwrap();
    let err = store.reload().unwrap_err();
    assert!(matches!(err, TlsError::Config(_)), "{err}");
    assert_eq!(store.current_certificate(), original);
    // The same bad pair is not retried (one log line, not one per poll).
    assert!(!store.reload().unwrap());
    // Not PEM at all.
    std::fs::write(pki.key(), "not a key").unwrap();
    assert!(matches!(store.reload(), Err(TlsError::Key { .. })));
    // The key arrives: the new pair is taken.
    std::fs::write(pki.key(), &key).unwrap();
    assert!(store.reload().unwrap());
    assert_eq!(store.current_certificate(), leaf);
    // A vanished file: an error naming it, the pair in use kept.
    std::fs::remove_file(pki.cert()).unwrap();
    let err = store.reload().unwrap_err();
    assert!(err.to_string().contains("cert.pem"), "{err}");
    assert_eq!(store.current_certificate(), leaf);
}

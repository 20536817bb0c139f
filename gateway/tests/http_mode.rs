//! HTTP mode end to end on 127.0.0.1: a test client writes the NLB's PROXY
//! header, then does TLS (rustls, a throw-away rcgen CA) and HTTP/1.1
//! through the gateway to an upstream that reports the identity headers it
//! received.

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
use hyper_util::rt::TokioIo;
use privatelink_core::approval::TenantStatus;
use privatelink_gateway::http::{serve, tls_config, HttpConfig, TlsError};
use privatelink_gateway::identity::{IdentityConfig, Resolver};
use privatelink_gateway::proxy::ProxyLimits;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

const NAME: &str = "gateway.test";

struct Pki {
    dir: PathBuf,
    ca: CertificateDer<'static>,
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
    }
}

/// An upstream that answers with the identity headers it got, one line
/// per value (`name: value`), and counts requests.
async fn upstream() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let mut lines = String::new();
                        for (name, value) in req.headers() {
                            if name.as_str().starts_with("x-privatelink-") {
                                lines.push_str(&format!("{}: {}\n", name, value.to_str().unwrap()));
                            }
                        }
                        lines.push_str(&format!("path: {}\n", req.uri()));
                        async move {
                            Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                                Bytes::from(lines),
                            )))
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, requests)
}

struct Running {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    ca: CertificateDer<'static>,
    _stop: tokio::sync::watch::Sender<bool>,
}

async fn start() -> Running {
    start_with_upstream(None).await
}

async fn start_with_upstream(upstream_override: Option<SocketAddr>) -> Running {
    let pki = pki();
    let (up, requests) = upstream().await;
    let up = upstream_override.unwrap_or(up);
    let tls = tls_config(&pki.dir.join("cert.pem"), &pki.dir.join("key.pem")).unwrap();
    let lister = CountingLister::new(vec![
        available(ENDPOINT, OWNER),
        available("vpce-0bbbbbbbbbbbbbbb2", "222222222222"),
    ]);
    let tenants = MutableTenants::with(vec![
        tenant(OWNER, "Acme", TenantStatus::Active, None),
        tenant("222222222222", "Globex", TenantStatus::Suspended, None),
    ]);
    let resolver = Resolver::new(lister, tenants, IdentityConfig::default());
    let config = HttpConfig {
        limits: ProxyLimits {
            read_timeout: Duration::from_millis(500),
            ..ProxyLimits::default()
        },
        upstream: format!("http://{up}").parse().unwrap(),
        handshake_timeout: Duration::from_secs(2),
        max_connections: 100,
    };
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
        ca: pki.ca.clone(),
        _stop: stop,
    }
}

fn connector(ca: &CertificateDer<'static>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
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
        let mut lines: Vec<&str> = body.lines().collect();
        lines.sort();
        assert_eq!(
            lines,
            vec![
                "path: /orders?x=1",
                "x-privatelink-account-id: 111111111111",
                "x-privatelink-endpoint-id: vpce-0123456789abcdef0",
                "x-privatelink-tenant: Acme",
            ]
        );
    }
    assert_eq!(gw.requests.load(Ordering::SeqCst), 2);
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

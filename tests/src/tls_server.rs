//! The workspace's one HTTPS test server: a throw-away CA made with rcgen,
//! leaf certificates for chosen names, and a rustls + hyper server on
//! 127.0.0.1 that answers every request with a chosen status and body, or
//! misbehaves on purpose (never answers TLS, never answers HTTP). The TLS
//! handshake and the HTTP exchange are real, so `consumer-cli verify` is
//! tested against what it meets in production.
//!
//! Used by consumer-cli's HTTPS-check tests (a dev-dependency), the consumer
//! scenarios, and the demo's [`StandIn`] for the vendor's application. Behind
//! the gateway (which terminates TLS) the demo's app is [`IdentityEchoApp`],
//! plain HTTP, and [`https_get`] is the demo's own client for the requests
//! `consumer-cli verify` cannot make (an impersonation header).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A certificate authority that exists only for one test.
pub struct TestCa {
    pub cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new(common_name: &str) -> TestCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf certificate for `names`, with its key.
    pub fn leaf(&self, names: &[&str]) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().expect("leaf key");
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("leaf params");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        (
            vec![cert.der().clone(), self.cert_der.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }

    /// Writes a leaf certificate for `names` (chain: leaf, then this CA) and
    /// its key as PEM files into `dir`: what a server that reads PEM files,
    /// such as the gateway (`--cert`, `--key`), needs.
    pub fn write_leaf_pem(&self, names: &[&str], dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
        let key = KeyPair::generate().context("leaf key")?;
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .context("leaf params")?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .context("leaf certificate")?;
        let (cert_file, key_file) = (dir.join("server.pem"), dir.join("server.key"));
        std::fs::write(&cert_file, format!("{}{}", cert.pem(), self.cert_pem))
            .with_context(|| format!("writing {}", cert_file.display()))?;
        std::fs::write(&key_file, key.serialize_pem())
            .with_context(|| format!("writing {}", key_file.display()))?;
        Ok((cert_file, key_file))
    }

    /// Writes the CA certificate as PEM into `dir`.
    pub fn write_pem(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.cert_pem).expect("writing ca.pem");
        path
    }
}

/// What the server does with a connection.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Completes TLS and answers every request with this status and body.
    Respond { status: u16, body: String },
    /// Accepts TCP and then says nothing (no TLS handshake).
    Silent,
    /// Completes TLS, then never answers the HTTP request.
    StallAfterHandshake,
}

/// A running server; stops when dropped.
#[derive(Debug)]
pub struct TlsServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a server on 127.0.0.1 with a certificate for `names` from `ca`.
/// Panics if it cannot: a test fixture failing is the test's failure.
pub async fn serve(ca: &TestCa, names: &[&str], behaviour: Behaviour) -> TlsServer {
    let (chain, key) = ca.leaf(names);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let behaviour = behaviour.clone();
            tokio::spawn(async move {
                match behaviour {
                    Behaviour::Silent => {
                        let _held = tcp;
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                    Behaviour::StallAfterHandshake => {
                        let Ok(_tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                    Behaviour::Respond { status, body } => {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let service = hyper::service::service_fn(move |_request| {
                            let body = body.clone();
                            async move {
                                Ok::<_, Infallible>(
                                    hyper::Response::builder()
                                        .status(status)
                                        .body(Full::new(Bytes::from(body)))
                                        .expect("response"),
                                )
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tls), service)
                            .await;
                    }
                }
            });
        }
    });
    TlsServer { addr, task }
}

/// The body the [`StandIn`] answers with, which `verify --expect-body` checks.
pub const BODY: &str = "API OK";

/// A stand-in for the vendor's application: answers with `200` [`BODY`],
/// with a certificate for the service's name from a CA of its own.
///
/// The demo and the end-to-end test register it as the NLB's target and point
/// `consumer-cli verify` at it with `--resolve NAME:127.0.0.1:PORT` and
/// `--ca-file`, because the emulator's endpoint IPs are not routable.
#[derive(Debug)]
pub struct StandIn {
    pub addr: SocketAddr,
    /// PEM file of the CA that issued the server's certificate.
    pub ca_file: PathBuf,
    _server: TlsServer,
}

impl StandIn {
    /// Starts the server for `dns_name` on a free loopback port, writing the
    /// CA certificate to `dir/ca.pem`.
    pub async fn start(dns_name: &str, dir: &Path) -> anyhow::Result<StandIn> {
        let ca = TestCa::new("privatelink-kit demo CA");
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, &ca.cert_pem)
            .with_context(|| format!("writing {}", ca_file.display()))?;
        let behaviour = Behaviour::Respond {
            status: 200,
            body: BODY.into(),
        };
        let server = serve(&ca, &[dns_name], behaviour).await;
        Ok(StandIn {
            addr: server.addr,
            ca_file,
            _server: server,
        })
    }

    /// The `--resolve NAME:IP` argument that sends `dns_name` to this
    /// server (the port is the service's port, [`StandIn::port`]).
    pub fn resolve_arg(&self, dns_name: &str) -> String {
        format!("{dns_name}:{}", self.addr.ip())
    }

    /// The port it listens on, which the demo makes the service's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// The request headers [`IdentityEchoApp`] echoes: the identity the gateway
/// adds (`X-PrivateLink-Endpoint-Id`, `-Account-Id`, `-Tenant`).
pub const IDENTITY_HEADER_PREFIX: &str = "x-privatelink-";

/// The line of [`IdentityEchoApp`]'s body that says which tenant it served,
/// e.g. for `consumer-cli verify --expect-body`.
pub fn tenant_line(tenant: &str) -> String {
    format!("{IDENTITY_HEADER_PREFIX}tenant: {tenant}")
}

/// The value of header `name` (lowercase, without the prefix: `tenant`,
/// `account-id`, `endpoint-id`) as [`IdentityEchoApp`] echoed it in `body`;
/// `None` when the request did not carry it.
pub fn echoed(body: &str, name: &str) -> Option<String> {
    let wanted = format!("{IDENTITY_HEADER_PREFIX}{name}: ");
    body.lines()
        .find_map(|line| line.strip_prefix(&wanted))
        .map(str::to_string)
}

/// The vendor's app as it runs behind the gateway: plain HTTP/1.1 on
/// 127.0.0.1 (the gateway terminates TLS), answering every request with
/// `200`, [`BODY`] and then, one per line (`name: value`, names in lower
/// case, sorted, every value of a repeated header), the `X-PrivateLink-*`
/// headers it received. So a response shows which tenant the app was told
/// it serves, and whether a copy a client sent got through. Stops when
/// dropped.
#[derive(Debug)]
pub struct IdentityEchoApp {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for IdentityEchoApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl IdentityEchoApp {
    pub async fn start() -> anyhow::Result<IdentityEchoApp> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the app")?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(|request: hyper::Request<_>| {
                        let mut seen: Vec<String> = request
                            .headers()
                            .iter()
                            .filter(|(name, _)| name.as_str().starts_with(IDENTITY_HEADER_PREFIX))
                            .map(|(name, value)| {
                                format!("{name}: {}", String::from_utf8_lossy(value.as_bytes()))
                            })
                            .collect();
                        seen.sort();
                        let body = format!("{BODY}\n{}\n", seen.join("\n"));
                        async move {
                            Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(body))))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        Ok(IdentityEchoApp { addr, task })
    }
}

/// One HTTPS `GET /` to `addr` as `server_name` (SNI and `Host`), trusting
/// only `ca_pem`, with extra request `headers`: the status and the body.
/// The demo's client for what `consumer-cli verify` does not send (a header
/// that tries to impersonate another tenant).
pub async fn https_get(
    addr: SocketAddr,
    server_name: &str,
    ca_pem: &str,
    headers: &[(&str, &str)],
) -> anyhow::Result<(u16, String)> {
    use http_body_util::{BodyExt, Empty};
    use rustls::pki_types::pem::PemObject;

    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(cert.context("reading the CA certificate")?)
            .context("trusting the CA certificate")?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from(server_name.to_string())
        .with_context(|| format!("{server_name} is not a server name"))?;
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        let tls = connector
            .connect(name, tcp)
            .await
            .with_context(|| format!("TLS with {server_name} at {addr}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(connection);
        let mut request = hyper::Request::get("/").header("host", server_name);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = sender
            .send_request(request.body(Empty::<Bytes>::new())?)
            .await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, String::from_utf8_lossy(&body).into_owned()))
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .with_context(|| format!("no answer from {addr} within 10 s"))?
}

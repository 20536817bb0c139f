//! A stand-in for the vendor's application: an HTTPS server on 127.0.0.1 that
//! answers `GET /` with `API OK`, with a certificate for the service's name
//! issued by a throwaway CA made with rcgen.
//!
//! The demo and the end-to-end test register it as the NLB's target and point
//! `consumer-cli verify` at it with `--resolve NAME:127.0.0.1:PORT` and
//! `--ca-file`, because the emulator's endpoint IPs are not routable. The TLS
//! handshake and the HTTP exchange are real (rustls + hyper).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// The body the stand-in answers with, which `verify --expect-body` checks.
pub const BODY: &str = "API OK";

/// A running stand-in server; stops when dropped.
#[derive(Debug)]
pub struct StandIn {
    pub addr: SocketAddr,
    /// PEM file of the CA that issued the server's certificate.
    pub ca_file: PathBuf,
    task: JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    /// Starts the server for `dns_name` on a free loopback port, writing the
    /// CA certificate to `dir/ca.pem`.
    pub async fn start(dns_name: &str, dir: &Path) -> Result<StandIn> {
        let (ca_pem, chain, key) = certificates(dns_name)?;
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca_pem)
            .with_context(|| format!("writing {}", ca_file.display()))?;

        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("installing the stand-in's certificate")?;
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the stand-in's port on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(serve(listener, acceptor));
        Ok(StandIn {
            addr,
            ca_file,
            task,
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

type Chain = Vec<CertificateDer<'static>>;

/// A CA (PEM) and a leaf certificate chain + key for `dns_name`.
fn certificates(dns_name: &str) -> Result<(String, Chain, PrivateKeyDer<'static>)> {
    let ca_key = KeyPair::generate().context("generating the CA key")?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "privatelink-kit demo CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().context("generating the server key")?;
    let mut leaf_params = CertificateParams::new(vec![dns_name.to_string()])
        .with_context(|| format!("a certificate for {dns_name}"))?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, dns_name);
    let leaf = leaf_params.signed_by(&leaf_key, &issuer)?;

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    Ok((
        ca_cert.pem(),
        vec![leaf.der().clone(), ca_cert.der().clone()],
        key,
    ))
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            // A failed handshake (a client that distrusts us, say) is the
            // client's finding to report, not ours.
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(answer);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

async fn answer(request: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>> {
    let (status, body) = match request.uri().path() {
        "/" => (200, BODY),
        _ => (404, "not found"),
    };
    Ok(Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(body)))?)
}

//! What a client in the VPC experiences, step by step, each with its own
//! timeout and its own message: the name resolves (to the endpoint's
//! addresses), TCP connects, the TLS handshake validates the certificate for
//! that name (rustls; the system's roots or `--ca-file`), an HTTP GET
//! (hyper) answers with the expected status and body. After a failure the
//! later steps are reported as not run.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::Step;

/// Largest response body read (the check needs only a prefix).
const BODY_LIMIT: usize = 1 << 20;

/// What to check.
#[derive(Debug, Clone)]
pub struct HttpsCheck {
    /// The name clients use; the certificate must be valid for it.
    pub name: String,
    pub port: u16,
    /// Use this address instead of resolving `name` (`--resolve`).
    pub resolve: Option<IpAddr>,
    /// The endpoint's addresses, when known: the name must resolve to them.
    pub endpoint_ips: Vec<IpAddr>,
    /// Trust only these CA certificates (PEM) instead of the system's.
    pub ca_file: Option<PathBuf>,
    pub path: String,
    /// Expected status; any 2xx when `None`.
    pub expect_status: Option<u16>,
    /// Text the body must contain.
    pub expect_body: Option<String>,
    /// Limit for each step.
    pub timeout: Duration,
}

/// Runs the client-side steps.
pub async fn run(check: &HttpsCheck) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut names = vec!["dns", "tcp", "tls", "http", "status"];
    if check.expect_body.is_some() {
        names.push("body");
    }
    let result = run_steps(check, &mut steps).await;
    if result.is_err() {
        let failed = steps.last().map(|s| s.name.clone()).unwrap_or_default();
        for name in names.iter().skip(steps.len()) {
            steps.push(Step::skip(name, format!("not run: {failed} failed")));
        }
    }
    steps
}

/// Pushes one step per check; `Err` after the first failure.
async fn run_steps(check: &HttpsCheck, steps: &mut Vec<Step>) -> Result<(), ()> {
    let secs = check.timeout.as_secs_f64();
    // 1. Name resolution.
    let ip =
        match check.resolve {
            Some(ip) => {
                steps.push(Step::skip(
                    "dns",
                    format!(
                        "{} taken as {ip} from --resolve (DNS not consulted{})",
                        check.name,
                        ips_note(&check.endpoint_ips)
                    ),
                ));
                ip
            }
            None => {
                let lookup = tokio::net::lookup_host((check.name.as_str(), check.port));
                match tokio::time::timeout(check.timeout, lookup).await {
                    Err(_) => return fail(
                        steps,
                        Step::fail(
                            "dns",
                            format!("no answer within {secs}s resolving {}", check.name),
                            "check that this host uses the VPC's resolver (the .2 address) and \
                             that the VPC has enableDnsSupport on",
                        ),
                    ),
                    Ok(Err(e)) => {
                        return fail(
                            steps,
                            Step::fail(
                                "dns",
                                format!("{} does not resolve: {e}", check.name),
                                "run verify from inside the VPC (private DNS and private hosted \
                             zones answer only there), or pass --resolve NAME:IP to test a \
                             given address",
                            ),
                        )
                    }
                    Ok(Ok(addrs)) => {
                        let resolved: Vec<IpAddr> = addrs.map(|a: SocketAddr| a.ip()).collect();
                        let Some(first) = resolved.first().copied() else {
                            return fail(
                                steps,
                                Step::fail(
                                    "dns",
                                    format!("{} resolves to no address", check.name),
                                    "re-run connect to recreate the record",
                                ),
                            );
                        };
                        if !check.endpoint_ips.is_empty()
                            && !resolved.iter().any(|ip| check.endpoint_ips.contains(ip))
                        {
                            return fail(
                                steps,
                                Step::fail(
                                    "dns",
                                    format!(
                                        "{} resolves to {}, not to the endpoint's addresses {}",
                                        check.name,
                                        join(&resolved),
                                        join(&check.endpoint_ips)
                                    ),
                                    "another zone or record answers for this name in this VPC: \
                                 remove it, or choose another --dns-name",
                                ),
                            );
                        }
                        steps.push(Step::pass(
                            "dns",
                            format!("{} resolves to {}", check.name, join(&resolved)),
                        ));
                        first
                    }
                }
            }
        };

    // 2. TCP.
    let addr = SocketAddr::new(ip, check.port);
    let tcp = match tokio::time::timeout(check.timeout, TcpStream::connect(addr)).await {
        Err(_) => {
            return fail(
                steps,
                Step::fail(
                    "tcp",
                    format!("no answer within {secs}s connecting to {addr}"),
                    format!(
                        "the endpoint's security group must allow tcp/{} from this host; the \
                         vendor's load balancer must listen on that port",
                        check.port
                    ),
                ),
            )
        }
        Ok(Err(e)) => {
            return fail(
                steps,
                Step::fail(
                    "tcp",
                    format!("cannot connect to {addr}: {e}"),
                    format!(
                        "check the port (--port {}) and that the vendor's service is up \
                         behind the endpoint",
                        check.port
                    ),
                ),
            )
        }
        Ok(Ok(tcp)) => {
            steps.push(Step::pass("tcp", format!("connected to {addr}")));
            tcp
        }
    };

    // 3. TLS.
    let tls = match tls_handshake(check, tcp).await {
        Ok(tls) => {
            steps.push(Step::pass(
                "tls",
                format!("certificate valid for {}", check.name),
            ));
            tls
        }
        Err(step) => return fail(steps, step),
    };

    // 4. HTTP.
    let (status, body) = match tokio::time::timeout(check.timeout, get(check, tls)).await {
        Err(_) => {
            return fail(
                steps,
                Step::fail(
                    "http",
                    format!("no HTTP response within {secs}s for GET {}", check.path),
                    "the TLS connection works but the service does not answer: ask the \
                     vendor whether it is healthy",
                ),
            )
        }
        Ok(Err(e)) => {
            return fail(
                steps,
                Step::fail(
                    "http",
                    format!("GET {} failed: {e}", check.path),
                    "the service does not speak HTTP/1.1 on this port, or closed the \
                     connection: check --port and --path",
                ),
            )
        }
        Ok(Ok(answer)) => {
            steps.push(Step::pass(
                "http",
                format!("GET {} answered {}", check.path, answer.0),
            ));
            answer
        }
    };

    // 5. Status.
    let status_ok = match check.expect_status {
        Some(expected) => status == expected,
        None => (200..300).contains(&status),
    };
    let expected = check
        .expect_status
        .map(|s| s.to_string())
        .unwrap_or_else(|| "2xx".into());
    if !status_ok {
        return fail(
            steps,
            Step::fail(
                "status",
                format!("HTTP status {status}, expected {expected}"),
                "the connection works; the service answered with an error: check --path \
                 and your credentials, or ask the vendor",
            ),
        );
    }
    steps.push(Step::pass("status", format!("HTTP status {status}")));

    // 6. Body.
    if let Some(wanted) = &check.expect_body {
        let text = String::from_utf8_lossy(&body);
        if !text.contains(wanted.as_str()) {
            let excerpt: String = text.chars().take(80).collect();
            return fail(
                steps,
                Step::fail(
                    "body",
                    format!(
                        "the response body does not contain {wanted:?} (it starts {excerpt:?})"
                    ),
                    "something else answers on this name and port: check --dns-name, --path \
                     and the vendor's service",
                ),
            );
        }
        steps.push(Step::pass("body", format!("the body contains {wanted:?}")));
    }
    Ok(())
}

fn fail(steps: &mut Vec<Step>, step: Step) -> Result<(), ()> {
    steps.push(step);
    Err(())
}

fn join(ips: &[IpAddr]) -> String {
    ips.iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn ips_note(ips: &[IpAddr]) -> String {
    if ips.is_empty() {
        String::new()
    } else {
        format!("; the endpoint's addresses are {}", join(ips))
    }
}

/// The trust anchors: the `--ca-file` certificates only, or the system's.
fn roots(check: &HttpsCheck) -> Result<RootCertStore, Step> {
    let mut roots = RootCertStore::empty();
    match &check.ca_file {
        Some(path) => {
            let certs: Result<Vec<CertificateDer<'static>>, _> =
                CertificateDer::pem_file_iter(path).and_then(|iter| iter.collect());
            let certs = certs.map_err(|e| {
                Step::fail(
                    "tls",
                    format!("cannot read --ca-file {}: {e}", path.display()),
                    "pass a PEM file with the vendor's CA certificate(s)",
                )
            })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(Step::fail(
                    "tls",
                    format!("--ca-file {} holds no usable certificate", path.display()),
                    "pass a PEM file with BEGIN CERTIFICATE blocks",
                ));
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
    }
    Ok(roots)
}

async fn tls_handshake(check: &HttpsCheck, tcp: TcpStream) -> Result<TlsStream<TcpStream>, Step> {
    let secs = check.timeout.as_secs_f64();
    let roots = roots(check)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Step::fail("tls", format!("TLS set-up failed: {e}"), "report this bug"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server_name = ServerName::try_from(check.name.clone()).map_err(|e| {
        Step::fail(
            "tls",
            format!("{} cannot be used as a TLS server name: {e}", check.name),
            "use a DNS name with --dns-name",
        )
    })?;
    let connector = TlsConnector::from(Arc::new(config));
    match tokio::time::timeout(check.timeout, connector.connect(server_name, tcp)).await {
        Err(_) => Err(Step::fail(
            "tls",
            format!("no TLS handshake within {secs}s"),
            format!(
                "something accepts connections on port {} but does not answer TLS: check \
                 --port, and that the vendor serves TLS there",
                check.port
            ),
        )),
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(tls_failure(check, &e)),
    }
}

/// One clear message per kind of certificate problem.
fn tls_failure(check: &HttpsCheck, error: &std::io::Error) -> Step {
    let rustls_error = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let name = &check.name;
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(cert)) => match cert {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Step::fail(
                    "tls",
                    format!("the server's certificate is not valid for {name}"),
                    format!(
                        "use the name the vendor's certificate covers (--dns-name), or ask the \
                     vendor for a certificate that includes {name}"
                    ),
                )
            }
            CertificateError::UnknownIssuer => Step::fail(
                "tls",
                format!("the server's certificate for {name} is signed by an unknown authority"),
                "pass the vendor's CA certificate with --ca-file (a PEM file)",
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => Step::fail(
                "tls",
                format!("the server's certificate for {name} has expired"),
                "ask the vendor to renew it",
            ),
            other => Step::fail(
                "tls",
                format!("the server's certificate was refused: {other:?}"),
                "ask the vendor to check their certificate chain",
            ),
        },
        Some(other) => Step::fail(
            "tls",
            format!("TLS handshake failed: {other}"),
            "check that the service speaks TLS on this port",
        ),
        None => Step::fail(
            "tls",
            format!("TLS handshake failed: {error}"),
            "check that the service speaks TLS on this port",
        ),
    }
}

/// GET with hyper over the TLS stream; the status and a body prefix.
async fn get(
    check: &HttpsCheck,
    tls: TlsStream<TcpStream>,
) -> Result<(u16, Bytes), Box<dyn std::error::Error + Send + Sync>> {
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(tls)).await?;
    let driver = tokio::spawn(connection);
    let host = if check.port == 443 {
        check.name.clone()
    } else {
        format!("{}:{}", check.name, check.port)
    };
    let request = hyper::Request::get(check.path.as_str())
        .header(hyper::header::HOST, host)
        .header(hyper::header::USER_AGENT, "consumer-cli verify")
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), BODY_LIMIT)
        .collect()
        .await?
        .to_bytes();
    driver.abort();
    Ok((status, body))
}

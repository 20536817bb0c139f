//! The HTTPS check against a local rustls server with a CA made by rcgen:
//! each way a service can be wrong gets its own clear message.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use consumer_cli::verify::https::{run, HttpsCheck};
use consumer_cli::verify::{Outcome, Step};
use privatelink_tests::tls_server::{serve, Behaviour, TestCa};

const NAME: &str = "api.vendor.internal";

fn check(port: u16, ca_file: PathBuf) -> HttpsCheck {
    HttpsCheck {
        name: NAME.into(),
        port,
        resolve: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        endpoint_ips: vec![],
        ca_file: Some(ca_file),
        path: "/health".into(),
        expect_status: None,
        expect_body: Some("API OK".into()),
        timeout: Duration::from_millis(700),
    }
}

fn ok(status: u16, body: &str) -> Behaviour {
    Behaviour::Respond {
        status,
        body: body.into(),
    }
}

/// The failed step, asserting that exactly one failed and the rest of the
/// later steps were not run.
fn failed(steps: &[Step]) -> &Step {
    let failures: Vec<&Step> = steps
        .iter()
        .filter(|s| s.outcome == Outcome::Fail)
        .collect();
    assert_eq!(failures.len(), 1, "{steps:#?}");
    let index = steps
        .iter()
        .position(|s| s.outcome == Outcome::Fail)
        .unwrap();
    assert!(
        steps[index + 1..]
            .iter()
            .all(|s| s.outcome == Outcome::Skip),
        "{steps:#?}"
    );
    assert!(failures[0].hint.is_some(), "a failure says what to fix");
    failures[0]
}

/// A fresh directory for one test's CA file.
fn dir() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("consumer-cli-https-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::test]
async fn healthy_service_passes_every_step() {
    let ca = TestCa::new("vendor CA");
    let server = serve(&ca, &[NAME], ok(200, "API OK: v1")).await;
    let steps = run(&check(server.addr.port(), ca.write_pem(&dir()))).await;
    let names: Vec<(&str, Outcome)> = steps.iter().map(|s| (s.name.as_str(), s.outcome)).collect();
    assert_eq!(
        names,
        [
            ("dns", Outcome::Skip),
            ("tcp", Outcome::Pass),
            ("tls", Outcome::Pass),
            ("http", Outcome::Pass),
            ("status", Outcome::Pass),
            ("body", Outcome::Pass),
        ]
    );
    assert!(steps[0].detail.contains("from --resolve"), "{:?}", steps[0]);
    assert_eq!(steps[4].detail, "HTTP status 200");
}

#[tokio::test]
async fn wrong_hostname() {
    let ca = TestCa::new("vendor CA");
    let server = serve(&ca, &["other.vendor.internal"], ok(200, "API OK")).await;
    let steps = run(&check(server.addr.port(), ca.write_pem(&dir()))).await;
    let step = failed(&steps);
    assert_eq!(step.name, "tls");
    assert_eq!(
        step.detail,
        "the server's certificate is not valid for api.vendor.internal"
    );
    assert!(step.hint.as_ref().unwrap().contains("--dns-name"));
}

#[tokio::test]
async fn untrusted_ca() {
    let ca = TestCa::new("vendor CA");
    let stranger = TestCa::new("someone else's CA");
    let server = serve(&ca, &[NAME], ok(200, "API OK")).await;
    let steps = run(&check(server.addr.port(), stranger.write_pem(&dir()))).await;
    let step = failed(&steps);
    assert_eq!(step.name, "tls");
    assert_eq!(
        step.detail,
        "the server's certificate for api.vendor.internal is signed by an unknown authority"
    );
    assert!(step.hint.as_ref().unwrap().contains("--ca-file"));
}

#[tokio::test]
async fn non_2xx_status() {
    let ca = TestCa::new("vendor CA");
    let server = serve(&ca, &[NAME], ok(503, "down for maintenance")).await;
    let steps = run(&check(server.addr.port(), ca.write_pem(&dir()))).await;
    let step = failed(&steps);
    assert_eq!(step.name, "status");
    assert_eq!(step.detail, "HTTP status 503, expected 2xx");

    // An explicit expectation is checked exactly.
    let mut exact = check(server.addr.port(), ca.write_pem(&dir()));
    exact.expect_status = Some(204);
    exact.expect_body = None;
    let steps = run(&exact).await;
    assert_eq!(failed(&steps).detail, "HTTP status 503, expected 204");
}

#[tokio::test]
async fn unexpected_body() {
    let ca = TestCa::new("vendor CA");
    let server = serve(&ca, &[NAME], ok(200, "<html>default page</html>")).await;
    let steps = run(&check(server.addr.port(), ca.write_pem(&dir()))).await;
    let step = failed(&steps);
    assert_eq!(step.name, "body");
    assert_eq!(
        step.detail,
        "the response body does not contain \"API OK\" (it starts \"<html>default page</html>\")"
    );
}

#[tokio::test]
async fn silent_server_times_out_in_the_handshake() {
    let ca = TestCa::new("vendor CA");
    let server = serve(&ca, &[NAME], Behaviour::Silent).await;
    let started = Instant::now();
    let steps = run(&check(server.addr.port(), ca.write_pem(&dir()))).await;
    let step = failed(&steps);
    assert_eq!(step.name, "tls");
    assert_eq!(step.detail, "no TLS handshake within 0.7s");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the step timeout applies"
    );
}

#[tokio::test]
async fn stalled_service_times_out_in_http() {
    let ca = TestCa::new("vendor CA");
    let server = serve(&ca, &[NAME], Behaviour::StallAfterHandshake).await;
    let steps = run(&check(server.addr.port(), ca.write_pem(&dir()))).await;
    let step = failed(&steps);
    assert_eq!(step.name, "http");
    assert_eq!(step.detail, "no HTTP response within 0.7s for GET /health");
}

#[tokio::test]
async fn closed_port_fails_at_tcp() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let ca = TestCa::new("vendor CA");
    let steps = run(&check(port, ca.write_pem(&dir()))).await;
    let step = failed(&steps);
    assert_eq!(step.name, "tcp");
    assert!(
        step.detail
            .starts_with(&format!("cannot connect to 127.0.0.1:{port}")),
        "{step:?}"
    );
}

#[tokio::test]
async fn name_must_resolve_to_the_endpoint() {
    // "localhost" resolves, but not to the endpoint's addresses.
    let ca = TestCa::new("vendor CA");
    let mut c = check(1, ca.write_pem(&dir()));
    c.name = "localhost".into();
    c.resolve = None;
    c.endpoint_ips = vec!["10.0.0.7".parse().unwrap()];
    let steps = run(&c).await;
    let step = failed(&steps);
    assert_eq!(step.name, "dns");
    assert!(
        step.detail
            .contains("not to the endpoint's addresses 10.0.0.7"),
        "{step:?}"
    );
}

//! The `gateway` binary in TCP mode: EC2 answered by a stand-in on
//! 127.0.0.1 (DescribeVpcEndpointConnections, EC2's XML), the tenants from
//! `--allowlist`, the health check, JSON logs, and the drain on SIGTERM.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::Response;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SERVICE: &str = "vpce-svc-0123456789abcdef0";

/// Answers every EC2 call with one available connection of [`ENDPOINT`]
/// owned by [`OWNER`]; counts calls.
async fn fake_ec2() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let xml = format!(
                        r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeVpcEndpointConnectionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>req-1</requestId>
  <vpcEndpointConnectionSet>
    <item>
      <serviceId>{SERVICE}</serviceId>
      <vpcEndpointId>{ENDPOINT}</vpcEndpointId>
      <vpcEndpointOwner>{OWNER}</vpcEndpointOwner>
      <vpcEndpointState>available</vpcEndpointState>
    </item>
  </vpcEndpointConnectionSet>
</DescribeVpcEndpointConnectionsResponse>"#
                    );
                    async move {
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(
                            xml,
                        ))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, calls)
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The health check's status line, or `None` when nothing answers.
async fn health(addr: SocketAddr) -> Option<String> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .await
        .ok()?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.ok()?;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .map(str::to_string)
}

#[tokio::test]
async fn the_binary_forwards_refuses_and_drains_on_sigterm() {
    let (ec2, ec2_calls) = fake_ec2().await;
    let upstream = Upstream::start().await;
    let (listen, health_addr) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["--listen", &listen.to_string()])
        .args(["--upstream", &upstream.addr.to_string()])
        .args(["--service-id", SERVICE])
        .args(["--allowlist", OWNER])
        .args(["--health-listen", &health_addr.to_string()])
        .args(["--endpoint-url", &format!("http://{ec2}")])
        .args(["--region", "us-east-1", "--drain-secs", "10"])
        .env_remove("AWS_PROFILE")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let started = Instant::now();
    while health(health_addr).await.as_deref() != Some("HTTP/1.1 200 OK") {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the gateway never came up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Accepted: forwarded both ways.
    let mut s = TcpStream::connect(listen).await.unwrap();
    let mut bytes = nlb_v2_ipv4(ENDPOINT);
    bytes.extend_from_slice(b"ping");
    s.write_all(&bytes).await.unwrap();
    s.shutdown().await.unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    assert_eq!(answer, b"echo:ping");

    // Unknown endpoint: closed, nothing forwarded.
    let mut s = TcpStream::connect(listen).await.unwrap();
    let _ = s.write_all(&nlb_v2_ipv4("vpce-0ddddddddddddddd4")).await;
    let _ = s.shutdown().await;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer).await;
    assert!(answer.is_empty());
    assert_eq!(upstream.accepted(), 1);

    // A connection open when SIGTERM arrives is drained, not cut.
    let mut open = TcpStream::connect(listen).await.unwrap();
    let mut bytes = nlb_v2_ipv4(ENDPOINT);
    bytes.extend_from_slice(b"late");
    open.write_all(&bytes).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while upstream.accepted() < 2 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if health(health_addr).await.as_deref() == Some("HTTP/1.1 503 Service Unavailable") {
            break;
        }
        assert!(Instant::now() < deadline, "health never turned 503");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // New connections are no longer accepted.
    assert!(TcpStream::connect(listen).await.is_err());
    open.shutdown().await.unwrap();
    let mut answer = Vec::new();
    open.read_to_end(&mut answer).await.unwrap();
    assert_eq!(answer, b"echo:late");

    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(output.status.success(), "{:?}", output.status);
    let logs = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let outcome = |o: &str| {
        lines
            .iter()
            .filter(|l| l["fields"]["outcome"] == o)
            .cloned()
            .collect::<Vec<_>>()
    };
    let forwarded = outcome("forwarded");
    assert_eq!(forwarded.len(), 2, "{logs}");
    assert_eq!(forwarded[0]["fields"]["account_id"], OWNER);
    assert_eq!(forwarded[0]["fields"]["endpoint_id"], ENDPOINT);
    assert_eq!(forwarded[0]["fields"]["bytes_up"], 4);
    let refused = outcome("refused");
    assert_eq!(refused.len(), 1, "{logs}");
    // Within the refresh interval after the first listing: refused without
    // listing again.
    assert_eq!(
        refused[0]["fields"]["reason"],
        "unknown_endpoint_rate_limited"
    );
    assert_eq!(ec2_calls.load(Ordering::SeqCst), 1);
}

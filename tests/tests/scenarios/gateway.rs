//! The real `gateway` binary (TCP mode) acting as the provider against the
//! emulator: endpoint owners from the provider's DescribeVpcEndpointConnections,
//! tenants from its registry table. A PROXY v2 header whose AWS TLV names an
//! entitled tenant's available endpoint is forwarded to a local upstream;
//! a non-tenant, a suspended tenant and an unknown endpoint are refused
//! with nothing forwarded. Also the JSON log lines, the health check, and
//! the drain on SIGTERM.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use privatelink_core::approval::TenantStatus;
use privatelink_tests::fixtures::{accepted_endpoint, Provider};
use privatelink_tests::gateway_process::{Gateway, GatewayOptions, Mode};
use privatelink_tests::ports::free_local_addr;
use privatelink_tests::{nlb_stand_in, Account, Emulator};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The NLB's v2 header for a TCP/IPv4 connection (client 192.0.2.10:40000
/// to 10.0.0.5:443) with the AWS TLV naming `endpoint`, as the NLB stand-in
/// writes it.
fn nlb_v2_ipv4(endpoint: &str) -> Result<Vec<u8>> {
    let source = SocketAddr::from(([192, 0, 2, 10], 40000));
    let destination = SocketAddr::from(([10, 0, 0, 5], 443));
    nlb_stand_in::header(source, destination, endpoint)
}

/// An upstream on 127.0.0.1 that reads each connection to EOF and answers
/// `echo:` + its bytes; returns its address and a count of connections.
async fn upstream() -> Result<(SocketAddr, Arc<AtomicUsize>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut data = b"echo:".to_vec();
                let _ = s.read_to_end(&mut data).await;
                let _ = s.write_all(&data).await;
                let _ = s.shutdown().await;
            });
        }
    });
    Ok((addr, accepted))
}

/// The health check's status line, or `None` when nothing answers.
async fn health(addr: SocketAddr) -> Option<String> {
    health_after(addr, &[]).await
}

/// The health check's status line when the request follows `prefix` (the
/// PROXY header an NLB with PROXY v2 on sends on its health checks too).
async fn health_after(addr: SocketAddr, prefix: &[u8]) -> Option<String> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    let mut request = prefix.to_vec();
    request.extend_from_slice(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    s.write_all(&request).await.ok()?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.ok()?;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .map(str::to_string)
}

/// Sends a header for `endpoint` (and `payload`), half-closes, and returns
/// what came back before the gateway closed.
async fn exchange(gateway: SocketAddr, endpoint: &str, payload: &[u8]) -> Result<Vec<u8>> {
    let mut s = TcpStream::connect(gateway).await?;
    let mut bytes = nlb_v2_ipv4(endpoint)?;
    bytes.extend_from_slice(payload);
    // A refused connection may be closed before all is written or read.
    let _ = s.write_all(&bytes).await;
    let _ = s.shutdown().await;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer).await;
    Ok(answer)
}

#[tokio::test]
async fn the_binary_forwards_tenants_refuses_others_and_drains_on_sigterm() -> Result<()> {
    let emulator = Emulator::shared();
    let (provider_account, tenant, outsider, suspended) = tokio::try_join!(
        Account::fresh(emulator),
        Account::fresh(emulator),
        Account::fresh(emulator),
        Account::fresh(emulator)
    )?;
    let provider = Provider::create(
        &provider_account,
        &[&tenant.id, &outsider.id, &suspended.id],
    )
    .await?;
    provider.add_tenants(&[&tenant.id, &suspended.id]).await?;
    provider
        .set_tenant_status(&suspended.id, TenantStatus::Suspended)
        .await?;
    let (tenant_endpoint, outsider_endpoint, suspended_endpoint) = tokio::try_join!(
        accepted_endpoint(&tenant, &provider),
        accepted_endpoint(&outsider, &provider),
        accepted_endpoint(&suspended, &provider)
    )?;

    let (upstream, accepted) = upstream().await?;
    let (listen, health_addr) = (free_local_addr()?, free_local_addr()?);
    let log = std::env::temp_dir().join(format!("gateway-scenario-{}.log", std::process::id()));
    let gateway = Gateway::start(
        &provider.account,
        GatewayOptions {
            listen,
            health: health_addr,
            upstream,
            service_id: provider.service_id.clone(),
            registry_table: provider.table.clone(),
            mode: Mode::Tcp,
            log: log.clone(),
            log_level: "info",
            binary: None,
            drain_secs: 10,
            // One listing for the whole test: the unknown endpoint below is
            // refused without listing again.
            extra_args: ["--refresh-interval-secs", "600"]
                .map(String::from)
                .to_vec(),
        },
    )
    .await?;
    // The NLB's health checks carry a PROXY v2 `LOCAL` header (no
    // addresses, no TLV) when the target group has PROXY v2 on. Written by
    // hand, as is the v1 header below: `nlb_stand_in::header` makes only
    // the `PROXY` command with addresses and the endpoint TLV.
    let local_v2 = b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00";
    assert_eq!(
        health_after(health_addr, local_v2).await.as_deref(),
        Some("HTTP/1.1 200 OK"),
        "a health check with a PROXY v2 LOCAL header"
    );
    assert_eq!(
        health_after(health_addr, b"PROXY UNKNOWN\r\n")
            .await
            .as_deref(),
        Some("HTTP/1.1 200 OK"),
        "a health check with a PROXY v1 header"
    );

    // The tenant's endpoint: forwarded both ways.
    assert_eq!(
        exchange(listen, &tenant_endpoint, b"ping").await?,
        b"echo:ping"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    // Not a tenant, suspended, unknown: closed, nothing forwarded.
    for endpoint in [
        outsider_endpoint.as_str(),
        suspended_endpoint.as_str(),
        "vpce-0ddddddddddddddd4",
    ] {
        let answer = exchange(listen, endpoint, b"nope").await?;
        assert!(answer.is_empty(), "{endpoint}: {answer:?}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    // A connection open when SIGTERM arrives is drained, not cut.
    let mut open = TcpStream::connect(listen).await?;
    let mut bytes = nlb_v2_ipv4(&tenant_endpoint)?;
    bytes.extend_from_slice(b"late");
    open.write_all(&bytes).await?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while accepted.load(Ordering::SeqCst) < 2 {
        assert!(
            Instant::now() < deadline,
            "the open connection never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gateway.terminate()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while health(health_addr).await.as_deref() != Some("HTTP/1.1 503 Service Unavailable") {
        assert!(Instant::now() < deadline, "health never turned 503");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // New connections are no longer accepted. The health check and the
    // accept loop see SIGTERM separately, so the listener may close a
    // moment after the check turns 503 (a loaded machine showed it).
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(listen).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "new connections still accepted 5 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    open.shutdown().await?;
    let mut answer = Vec::new();
    open.read_to_end(&mut answer).await?;
    assert_eq!(answer, b"echo:late");

    // Exits 0 once the open connection is done (an error otherwise).
    let logs = gateway.wait().await?;
    let _ = std::fs::remove_file(&log);
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).with_context(|| format!("not JSON: {l}")))
        .collect::<Result<_>>()?;
    let outcome = |o: &str| {
        lines
            .iter()
            .filter(|l| l["fields"]["outcome"] == o)
            .collect::<Vec<_>>()
    };
    let forwarded = outcome("forwarded");
    assert_eq!(forwarded.len(), 2, "{logs}");
    assert_eq!(forwarded[0]["fields"]["account_id"], tenant.id.as_str());
    assert_eq!(
        forwarded[0]["fields"]["endpoint_id"],
        tenant_endpoint.as_str()
    );
    assert_eq!(
        forwarded[0]["fields"]["tenant"],
        format!("tenant {}", tenant.id)
    );
    assert_eq!(forwarded[0]["fields"]["bytes_up"], 4);
    let reasons: Vec<&Value> = outcome("refused")
        .iter()
        .map(|l| &l["fields"]["reason"])
        .collect();
    assert_eq!(
        reasons,
        ["not_a_tenant", "suspended", "unknown_endpoint_rate_limited"],
        "{logs}"
    );

    // Exactly one listing of the service's connections, as the provider.
    let calls = emulator.calls().await?;
    let listings = calls["calls"]
        .as_array()
        .context("no calls in the emulator's log")?
        .iter()
        .filter(|c| {
            c["app"] == "gateway"
                && c["account"] == provider.account.id.as_str()
                && c["action"] == "DescribeVpcEndpointConnections"
        })
        .count();
    assert_eq!(listings, 1);
    Ok(())
}

//! TCP mode end to end on 127.0.0.1: a test client writes a real PROXY
//! header and data to the gateway (`tcp::serve`), which forwards to a
//! recording upstream only after accepting the identity.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use privatelink_core::approval::TenantStatus;
use privatelink_gateway::identity::{IdentityConfig, Resolver};
use privatelink_gateway::proxy::{self, ProxyLimits};
use privatelink_gateway::tcp::{
    serve, TcpConfig, TcpUpstream, TLV_TENANT_ACCOUNT, TLV_TENANT_NAME,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Running {
    addr: SocketAddr,
    upstream: Upstream,
    lister: CountingLister,
    _stop: tokio::sync::watch::Sender<bool>,
}

async fn start(config: TcpConfig, tenants: MutableTenants) -> Running {
    let upstream = Upstream::start().await;
    let lister = CountingLister::new(vec![
        available(ENDPOINT, OWNER),
        available("vpce-0bbbbbbbbbbbbbbb2", "222222222222"),
        connection("vpce-0ccccccccccccccc3", OWNER, "pendingAcceptance"),
    ]);
    let resolver = Resolver::new(lister.clone(), tenants, IdentityConfig::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(serve(
        listener,
        Arc::new(config),
        Arc::new(resolver),
        Arc::new(TcpUpstream(upstream.addr)),
        stopped,
        Duration::from_secs(1),
    ));
    Running {
        addr,
        upstream,
        lister,
        _stop: stop,
    }
}

fn tenants() -> MutableTenants {
    MutableTenants::with(vec![
        tenant(OWNER, "Acme", TenantStatus::Active, None),
        tenant("222222222222", "Globex", TenantStatus::Suspended, None),
    ])
}

/// Writes `bytes`, closes the write half, and reads the answer to EOF.
async fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // A refused client may be closed before it finishes writing.
    let _ = s.write_all(bytes).await;
    let _ = s.shutdown().await;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer))
        .await
        .expect("the gateway answers or closes")
        .ok();
    answer
}

fn with_data(mut header: Vec<u8>, data: &[u8]) -> Vec<u8> {
    header.extend_from_slice(data);
    header
}

#[tokio::test]
async fn v2_ipv4_with_an_accepted_identity_is_forwarded_both_ways() {
    let gw = start(TcpConfig::default(), tenants()).await;
    let answer = exchange(
        gw.addr,
        &with_data(nlb_v2_ipv4(ENDPOINT), b"hello upstream"),
    )
    .await;
    assert_eq!(answer, b"echo:hello upstream");
    assert_eq!(gw.upstream.accepted(), 1);
    assert_eq!(gw.upstream.received.lock().unwrap()[0], b"hello upstream");
}

#[tokio::test]
async fn v2_ipv6_is_forwarded_with_a_new_header_carrying_the_tenant() {
    let config = TcpConfig {
        send_proxy_v2: true,
        ..TcpConfig::default()
    };
    let gw = start(config, tenants()).await;
    let header = v2_header(
        "[2001:db8::10]:40000",
        "[2001:db8::5]:443",
        &[aws_tlv(ENDPOINT)],
    );
    let answer = exchange(gw.addr, &with_data(header, b"payload")).await;
    assert!(answer.ends_with(b"payload"));
    let got = gw.upstream.received.lock().unwrap()[0].clone();
    // The upstream reads the gateway's header with the same parser.
    let lenient = ProxyLimits {
        require_endpoint_tlv: true,
        ..ProxyLimits::default()
    };
    let parsed = proxy::parse(&got, &lenient).unwrap().unwrap();
    assert_eq!(parsed.endpoint_id.as_deref(), Some(ENDPOINT));
    assert_eq!(parsed.source, Some("[2001:db8::10]:40000".parse().unwrap()));
    assert_eq!(&got[parsed.header_len..], b"payload");
    let v2 = ppp::v2::Header::try_from(&got[..parsed.header_len]).unwrap();
    let tlvs: Vec<_> = v2.tlvs().map(|t| t.unwrap()).collect();
    let value = |kind: u8| {
        tlvs.iter()
            .find(|t| t.kind == kind)
            .map(|t| t.value.to_vec())
    };
    assert_eq!(value(TLV_TENANT_ACCOUNT), Some(OWNER.as_bytes().to_vec()));
    assert_eq!(value(TLV_TENANT_NAME), Some(b"Acme".to_vec()));
}

#[tokio::test]
async fn bad_fronts_are_closed_and_nothing_reaches_the_upstream() {
    let config = TcpConfig {
        limits: ProxyLimits {
            read_timeout: Duration::from_millis(300),
            ..ProxyLimits::default()
        },
        ..TcpConfig::default()
    };
    let gw = start(config, tenants()).await;
    let full = nlb_v2_ipv4(ENDPOINT);
    let mut oversized = b"\r\n\r\n\0\r\nQUIT\n\x21\x11".to_vec();
    oversized.extend_from_slice(&9000u16.to_be_bytes());
    oversized.extend(std::iter::repeat_n(0u8, 9000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "v1 (no endpoint TLV)",
            b"PROXY TCP4 192.0.2.1 10.0.0.1 1 443\r\nhi".to_vec(),
        ),
        (
            "v2 without the TLV",
            with_data(v2_header("192.0.2.1:1", "10.0.0.1:443", &[]), b"hi"),
        ),
        ("truncated", full[..full.len() - 3].to_vec()),
        ("garbage", b"GET / HTTP/1.1\r\n\r\n".to_vec()),
        ("empty", Vec::new()),
        ("oversized", oversized),
        (
            "unknown endpoint",
            with_data(nlb_v2_ipv4("vpce-0ddddddddddddddd4"), b"hi"),
        ),
        (
            "suspended tenant",
            with_data(nlb_v2_ipv4("vpce-0bbbbbbbbbbbbbbb2"), b"hi"),
        ),
        (
            "pending endpoint",
            with_data(nlb_v2_ipv4("vpce-0ccccccccccccccc3"), b"hi"),
        ),
    ];
    for (name, bytes) in cases {
        let answer = exchange(gw.addr, &bytes).await;
        assert!(answer.is_empty(), "{name}: {answer:?}");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(gw.upstream.accepted(), 0);
    // One listing served all of them (the unknown id came within the
    // interval after the first listing, or was the first).
    assert!(gw.lister.calls() <= 2, "{}", gw.lister.calls());
}

#[tokio::test]
async fn a_client_that_never_finishes_its_header_is_closed_within_the_timeout() {
    let config = TcpConfig {
        limits: ProxyLimits {
            read_timeout: Duration::from_millis(300),
            ..ProxyLimits::default()
        },
        ..TcpConfig::default()
    };
    let gw = start(config, tenants()).await;
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(&nlb_v2_ipv4(ENDPOINT)[..10]).await.unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    // The client keeps its side open; the gateway closes.
    let n = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut buf))
        .await
        .expect("closed by the gateway")
        .unwrap_or(0);
    assert_eq!(n, 0);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(gw.upstream.accepted(), 0);
}

#[tokio::test]
async fn the_bytes_after_the_header_in_the_same_packet_are_not_lost() {
    let gw = start(TcpConfig::default(), tenants()).await;
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let answer = exchange(gw.addr, &with_data(nlb_v2_ipv4(ENDPOINT), &big)).await;
    assert_eq!(&answer[..5], b"echo:");
    assert_eq!(&answer[5..], &big[..]);
}

#[tokio::test]
async fn an_idle_forwarded_connection_is_closed() {
    let config = TcpConfig {
        idle_timeout: Duration::from_millis(300),
        ..TcpConfig::default()
    };
    let gw = start(config, tenants()).await;
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(&with_data(nlb_v2_ipv4(ENDPOINT), b"then nothing"))
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut answer))
        .await
        .expect("closed by the gateway");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert_eq!(gw.upstream.accepted(), 1);
}

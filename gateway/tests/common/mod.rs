//! What the gateway's tests share: PROXY headers as a client writes them,
//! a counting stand-in for DescribeVpcEndpointConnections, a tenant source
//! whose tenants can change, and a recording upstream on 127.0.0.1.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ppp::v2;
use privatelink_core::approval::{AccountId, Connection, Tenant, TenantSource, TenantStatus};
use privatelink_core::errors::{AwsError, ErrorKind};
use privatelink_core::state::EndpointState;
use privatelink_gateway::identity::ConnectionLister;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const ENDPOINT: &str = "vpce-0123456789abcdef0";
pub const OWNER: &str = "111111111111";

/// The NLB's v2 header for a TCP/IPv4 connection with the endpoint TLV,
/// written byte by byte (independent of the `ppp` builder the gateway
/// uses): signature, 0x21 (v2, PROXY), 0x11 (IPv4, stream), length,
/// addresses, then TLV 0xEA with subtype 0x01 and the id.
pub fn nlb_v2_ipv4(endpoint: &str) -> Vec<u8> {
    let mut tlv = vec![0xEA];
    tlv.extend_from_slice(&((1 + endpoint.len()) as u16).to_be_bytes());
    tlv.push(0x01);
    tlv.extend_from_slice(endpoint.as_bytes());
    let mut out = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    out.push(0x21);
    out.push(0x11);
    out.extend_from_slice(&((12 + tlv.len()) as u16).to_be_bytes());
    out.extend_from_slice(&[192, 0, 2, 10]);
    out.extend_from_slice(&[10, 0, 0, 5]);
    out.extend_from_slice(&40000u16.to_be_bytes());
    out.extend_from_slice(&443u16.to_be_bytes());
    out.extend_from_slice(&tlv);
    out
}

/// A v2 header built with `ppp`: `src`/`dst` and TLVs (kind, value).
pub fn v2_header(src: &str, dst: &str, tlvs: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let src: SocketAddr = src.parse().unwrap();
    let dst: SocketAddr = dst.parse().unwrap();
    let mut b = v2::Builder::with_addresses(
        v2::Version::Two | v2::Command::Proxy,
        v2::Protocol::Stream,
        (src, dst),
    );
    for (kind, value) in tlvs {
        b = b.write_tlv(*kind, value).unwrap();
    }
    b.build().unwrap()
}

/// The AWS TLV value for `endpoint`.
pub fn aws_tlv(endpoint: &str) -> (u8, Vec<u8>) {
    let mut v = vec![0x01];
    v.extend_from_slice(endpoint.as_bytes());
    (0xEA, v)
}

pub fn available(endpoint: &str, owner: &str) -> Connection {
    connection(endpoint, owner, "available")
}

pub fn connection(endpoint: &str, owner: &str, state: &str) -> Connection {
    Connection {
        endpoint_id: endpoint.to_string(),
        owner: Some(owner.to_string()),
        state: Some(EndpointState::from_wire(state)),
        region: None,
    }
}

/// A stand-in for DescribeVpcEndpointConnections that counts its calls.
#[derive(Clone, Default)]
pub struct CountingLister {
    pub connections: Arc<Mutex<Vec<Connection>>>,
    pub calls: Arc<AtomicUsize>,
    pub fail: Arc<Mutex<bool>>,
}

impl CountingLister {
    pub fn new(connections: Vec<Connection>) -> Self {
        CountingLister {
            connections: Arc::new(Mutex::new(connections)),
            ..Default::default()
        }
    }
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    pub fn set(&self, connections: Vec<Connection>) {
        *self.connections.lock().unwrap() = connections;
    }
}

impl ConnectionLister for CountingLister {
    async fn list(&self) -> Result<Vec<Connection>, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        // A real listing takes time; concurrent misses must share it.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        if *self.fail.lock().unwrap() {
            return Err("RequestLimitExceeded".into());
        }
        Ok(self.connections.lock().unwrap().clone())
    }
}

/// Tenants that tests can change, counting reads; a read can be made to
/// take time (`delay`, so concurrent lookups overlap) or to fail as DynamoDB
/// throttling (`fail`).
#[derive(Clone, Default)]
pub struct MutableTenants {
    pub by_account: Arc<Mutex<HashMap<String, Tenant>>>,
    pub reads: Arc<AtomicUsize>,
    pub delay: Arc<Mutex<std::time::Duration>>,
    pub fail: Arc<Mutex<bool>>,
}

impl MutableTenants {
    pub fn with(tenants: Vec<Tenant>) -> Self {
        let t = MutableTenants::default();
        for tenant in tenants {
            t.put(tenant);
        }
        t
    }
    pub fn put(&self, tenant: Tenant) {
        self.by_account
            .lock()
            .unwrap()
            .insert(tenant.account_id.as_str().to_string(), tenant);
    }
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
    pub fn set_delay(&self, delay: std::time::Duration) {
        *self.delay.lock().unwrap() = delay;
    }
    pub fn set_fail(&self, fail: bool) {
        *self.fail.lock().unwrap() = fail;
    }
}

impl TenantSource for MutableTenants {
    async fn tenants(&self, accounts: &[String]) -> Result<(Vec<Tenant>, u32), AwsError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let delay = *self.delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if *self.fail.lock().unwrap() {
            return Err(AwsError {
                operation: "BatchGetItem",
                kind: ErrorKind::Throttling,
                code: Some("ProvisionedThroughputExceededException".into()),
                message: Some("Rate of requests exceeds the allowed throughput".into()),
                http_status: Some(400),
                detail: "ProvisionedThroughputExceededException: Rate of requests exceeds the allowed throughput".into(),
            });
        }
        let map = self.by_account.lock().unwrap();
        Ok((
            accounts
                .iter()
                .filter_map(|a| map.get(a).cloned())
                .collect(),
            1,
        ))
    }
}

pub fn tenant(account: &str, name: &str, status: TenantStatus, expires_at: Option<i64>) -> Tenant {
    Tenant {
        status,
        expires_at,
        ..Tenant::active(AccountId::parse(account).unwrap(), name)
    }
}

/// An upstream on 127.0.0.1 that records every connection's bytes (read
/// to EOF) and answers `echo:` + those bytes.
#[derive(Clone)]
pub struct Upstream {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
    pub received: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Upstream {
    pub async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up = Upstream {
            addr: listener.local_addr().unwrap(),
            accepted: Arc::default(),
            received: Arc::default(),
        };
        let (accepted, received) = (up.accepted.clone(), up.received.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                accepted.fetch_add(1, Ordering::SeqCst);
                let received = received.clone();
                tokio::spawn(async move {
                    let mut data = Vec::new();
                    let _ = s.read_to_end(&mut data).await;
                    let mut answer = b"echo:".to_vec();
                    answer.extend_from_slice(&data);
                    received.lock().unwrap().push(data);
                    let _ = s.write_all(&answer).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        up
    }
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

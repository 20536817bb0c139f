//! The Network Load Balancer's data plane for one VPC endpoint, on a
//! loopback address: test and demo infrastructure, never product code. The
//! emulator models the control plane only (the load balancer, its target
//! groups and their attributes exist as records), so nothing carries a
//! consumer's bytes to the targets; this does, the way the NLB does for
//! PrivateLink traffic:
//!
//! - it listens where the consumer's endpoint would be (a loopback address
//!   of its own, on the service's port), and on every connection asks the
//!   emulator which endpoint that is: the consumer's endpoint to the service
//!   in its VPC, while it is `available` (no traffic flows before that);
//! - it reads the target group of the port from the emulator (by the
//!   stack's deterministic name) on every connection: the registered
//!   target's port, and `proxy_protocol_v2.enabled`. Only when the attribute
//!   is on does it prepend a PROXY protocol v2 header, built with `ppp`, with
//!   the client's addresses and AWS's TLV `0xEA` (subtype `0x01`, the
//!   endpoint id), as the NLB does (ELB guide, "Edit target group
//!   attributes", proxy protocol; docs/provider.md, `[gateway]`). A stack
//!   without a `[gateway]` therefore gets no header, as on AWS;
//! - then it copies bytes both ways to the target. The registered target
//!   addresses are VPC addresses that do not exist here, so every target
//!   is reached on 127.0.0.1 at its registered port.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context, Result};
use aws_sdk_ec2::types::Filter;
use ppp::v2;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::Account;

/// AWS's PROXY v2 TLV type (`PP2_TYPE_AWS`) and its subtype for the VPC
/// endpoint id (`PP2_SUBTYPE_AWS_VPCE_ID`).
pub const PP2_TYPE_AWS: u8 = 0xEA;
pub const PP2_SUBTYPE_AWS_VPCE_ID: u8 = 0x01;

/// The target group attribute the stand-in obeys.
pub const PROXY_PROTOCOL_V2: &str = "proxy_protocol_v2.enabled";

/// Which endpoint a stand-in serves and which target group it forwards to.
#[derive(Debug, Clone)]
pub struct Route {
    /// The provider: owns the load balancer and its target groups.
    pub provider: Account,
    /// The target group of the service port (`STACK-tg-PORT`).
    pub target_group: String,
    /// The consumer whose endpoint this is, its VPC and the service.
    pub consumer: Account,
    pub vpc_id: String,
    pub service_name: String,
}

/// What the stand-in did with one connection, for the demo to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub endpoint_id: String,
    pub target: SocketAddr,
    /// A PROXY v2 header was sent first (the attribute was on).
    pub proxy_header: bool,
}

/// A listening socket of a stand-in that does not serve yet: bound early so
/// its address can go into the consumer's commands before the route is
/// known (the endpoint is created by `connect` itself).
#[derive(Debug)]
pub struct Bound {
    listener: TcpListener,
}

impl Bound {
    /// Binds `ip:port` (`port` 0: any free port).
    pub async fn bind(ip: IpAddr, port: u16) -> Result<Bound> {
        let listener = TcpListener::bind((ip, port)).await.with_context(|| {
            format!(
                "binding the NLB stand-in to {ip}:{port} (each endpoint gets an address of \
                 127.0.0.0/8; on systems without that whole range on loopback, e.g. macOS, add \
                 one with `sudo ifconfig lo0 alias {ip}`)"
            )
        })?;
        Ok(Bound { listener })
    }

    pub fn addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Starts serving `route`.
    pub fn serve(self, route: Route) -> Result<NlbStandIn> {
        let addr = self.addr()?;
        let log: Log = Arc::default();
        let listener = self.listener;
        let record = Arc::clone(&log);
        let task = tokio::spawn(async move {
            while let Ok((client, peer)) = listener.accept().await {
                let route = route.clone();
                let record = Arc::clone(&record);
                tokio::spawn(async move {
                    if let Err(e) = forward(client, peer, addr, &route, &record).await {
                        push(&record, Err(format!("{e:#}")));
                    }
                });
            }
        });
        Ok(NlbStandIn { addr, log, task })
    }
}

/// Each connection's outcome, recorded once its target is connected (and
/// the header written) or it failed.
type Log = Arc<Mutex<Vec<Result<Forwarded, String>>>>;

fn push(log: &Log, item: Result<Forwarded, String>) {
    if let Ok(mut log) = log.lock() {
        log.push(item);
    }
}

/// A serving stand-in; stops when dropped.
#[derive(Debug)]
pub struct NlbStandIn {
    pub addr: SocketAddr,
    log: Log,
    task: JoinHandle<()>,
}

impl Drop for NlbStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl NlbStandIn {
    /// What it did with the connections since the last call.
    pub fn drain_log(&self) -> Vec<Result<Forwarded, String>> {
        self.log
            .lock()
            .map(|mut log| std::mem::take(&mut *log))
            .unwrap_or_default()
    }
}

/// One connection: find the endpoint and the target, maybe the header
/// (recorded then), then bytes both ways until either side closes.
async fn forward(
    mut client: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    route: &Route,
    log: &Log,
) -> Result<()> {
    let endpoint_id = available_endpoint(route).await?;
    let (target_port, proxy_header) = target_group(route).await?;
    let target = SocketAddr::from(([127, 0, 0, 1], target_port));
    let mut upstream = TcpStream::connect(target)
        .await
        .with_context(|| format!("connecting to the target {target}"))?;
    if proxy_header {
        upstream
            .write_all(&header(peer, local, &endpoint_id)?)
            .await
            .context("writing the PROXY header")?;
    }
    push(
        log,
        Ok(Forwarded {
            endpoint_id,
            target,
            proxy_header,
        }),
    );
    // Either side closing ends it; errors after that are the peers' own.
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    Ok(())
}

/// The PROXY v2 header the NLB sends: `PROXY` command, TCP over the
/// client's address family, the client and the address it connected to,
/// and the AWS TLV with the endpoint id.
pub fn header(source: SocketAddr, destination: SocketAddr, endpoint_id: &str) -> Result<Vec<u8>> {
    let mut value = vec![PP2_SUBTYPE_AWS_VPCE_ID];
    value.extend_from_slice(endpoint_id.as_bytes());
    v2::Builder::with_addresses(
        v2::Version::Two | v2::Command::Proxy,
        v2::Protocol::Stream,
        (source, destination),
    )
    .write_tlv(PP2_TYPE_AWS, &value)
    .and_then(|b| b.build())
    .context("building the PROXY v2 header")
}

/// The consumer's endpoint to the service in its VPC, if it is available.
async fn available_endpoint(route: &Route) -> Result<String> {
    let filter = |name: &str, value: &str| Filter::builder().name(name).values(value).build();
    let found = route
        .consumer
        .ec2()
        .describe_vpc_endpoints()
        .filters(filter("vpc-id", &route.vpc_id))
        .filters(filter("service-name", &route.service_name))
        .send()
        .await
        .context("DescribeVpcEndpoints")?;
    found
        .vpc_endpoints()
        .iter()
        .find(|e| {
            e.state()
                .is_some_and(|s| s.as_str().eq_ignore_ascii_case("available"))
        })
        .and_then(|e| e.vpc_endpoint_id())
        .map(str::to_string)
        .ok_or_else(|| {
            anyhow!(
                "no available endpoint of {} in {} to {}: no traffic flows before the provider \
                 accepts it",
                route.consumer.id,
                route.vpc_id,
                route.service_name
            )
        })
}

/// The registered target's port and the group's PROXY v2 attribute.
async fn target_group(route: &Route) -> Result<(u16, bool)> {
    let elb = route.provider.elbv2();
    let groups = elb
        .describe_target_groups()
        .names(&route.target_group)
        .send()
        .await
        .with_context(|| format!("DescribeTargetGroups {}", route.target_group))?;
    let arn = groups
        .target_groups()
        .first()
        .and_then(|g| g.target_group_arn())
        .with_context(|| format!("no target group {}", route.target_group))?;
    let attributes = elb
        .describe_target_group_attributes()
        .target_group_arn(arn)
        .send()
        .await
        .context("DescribeTargetGroupAttributes")?;
    let proxy = attributes
        .attributes()
        .iter()
        .any(|a| a.key() == Some(PROXY_PROTOCOL_V2) && a.value() == Some("true"));
    let health = elb
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await
        .context("DescribeTargetHealth")?;
    let Some(port) = health
        .target_health_descriptions()
        .iter()
        .find_map(|d| d.target()?.port())
    else {
        bail!("target group {} has no target", route.target_group)
    };
    Ok((u16::try_from(port).context("target port")?, proxy))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header parses back (with `ppp`, as the gateway reads it) to the
    /// addresses and the AWS TLV: subtype 0x01, then the endpoint id.
    #[test]
    fn the_header_carries_the_addresses_and_the_endpoint_tlv() {
        let source: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let destination: SocketAddr = "127.0.0.2:443".parse().unwrap();
        let bytes = header(source, destination, "vpce-0123456789abcdef0").unwrap();
        let parsed = v2::Header::try_from(&bytes[..]).unwrap();
        assert_eq!(parsed.command, v2::Command::Proxy);
        match parsed.addresses {
            v2::Addresses::IPv4(a) => {
                assert_eq!(a.source_address, std::net::Ipv4Addr::new(127, 0, 0, 1));
                assert_eq!(a.destination_address, std::net::Ipv4Addr::new(127, 0, 0, 2));
                assert_eq!((a.source_port, a.destination_port), (40000, 443));
            }
            other => panic!("{other:?}"),
        }
        let tlvs: Vec<(u8, Vec<u8>)> = parsed
            .tlvs()
            .map(|t| {
                let t = t.unwrap();
                (t.kind, t.value.to_vec())
            })
            .collect();
        let mut expected = vec![PP2_SUBTYPE_AWS_VPCE_ID];
        expected.extend_from_slice(b"vpce-0123456789abcdef0");
        assert_eq!(tlvs, [(PP2_TYPE_AWS, expected)]);
    }
}

//! Finding a connection's resources again from its key alone (the service
//! name and the VPC): the endpoint and security group by tags, our hosted
//! zones by their caller reference, and which DNS set-up serves the name.
//! Used by `verify`, `status` and `disconnect`; read-only.

use std::net::IpAddr;

use crate::connection_key::{Target, DNS_NAME_TAG, PORT_TAG};
use crate::dns::{self, ZoneInfo};
use crate::endpoint::{self, EndpointInfo};
use crate::report::{Address, DnsSummary};
use crate::verify::api::DnsSetup;
use crate::vpc;
use crate::{Clients, ConsumerError};

/// What exists for one connection.
#[derive(Debug, Clone)]
pub struct Observed {
    pub endpoint: Option<EndpointInfo>,
    pub zones: Vec<ZoneInfo>,
    pub dns: DnsSetup,
}

impl Observed {
    /// The port chosen at connect time (tag), else 443.
    pub fn port(&self) -> u16 {
        self.endpoint
            .as_ref()
            .and_then(|e| e.tag(PORT_TAG))
            .and_then(|p| p.parse().ok())
            .unwrap_or(443)
    }

    /// The name clients use.
    pub fn name_to_use(&self) -> Option<String> {
        match &self.dns {
            DnsSetup::PrivateDns(name) => Some(name.clone()),
            DnsSetup::Zone(zone) => Some(zone.name.clone()),
            DnsSetup::None => self
                .endpoint
                .as_ref()
                .and_then(|e| e.regional_dns())
                .map(|d| d.dns_name.clone()),
        }
    }
}

/// How the name is served, for reports.
pub fn summary(dns: &DnsSetup) -> DnsSummary {
    match dns {
        DnsSetup::PrivateDns(name) => DnsSummary::PrivateDns { name: name.clone() },
        DnsSetup::Zone(zone) => DnsSummary::HostedZone {
            name: zone.name.clone(),
            zone_id: zone.zone_id.clone(),
        },
        DnsSetup::None => DnsSummary::None,
    }
}

/// Looks everything up. `dns_name` prefers one of our zones by name (else
/// the name recorded on the endpoint at connect time).
pub async fn observe(
    clients: &Clients,
    target: &Target,
    dns_name: Option<&str>,
) -> Result<Observed, ConsumerError> {
    let endpoint = endpoint::find(&clients.ec2, target).await?;
    let zones = dns::find_ours(&clients.r53, target).await?;
    let wanted = dns_name.map(dns::normal).or_else(|| {
        endpoint
            .as_ref()
            .and_then(|e| e.tag(DNS_NAME_TAG))
            .map(dns::normal)
    });
    let zone = zones
        .iter()
        .find(|z| Some(&z.name) == wanted.as_ref())
        .or_else(|| zones.first())
        .cloned();
    let dns = match (&endpoint, zone) {
        (Some(e), _) if e.private_dns_enabled => {
            let account = vpc::describe_vpc(&clients.ec2, &target.vpc_id)
                .await?
                .owner_id;
            let service =
                vpc::describe_service(&clients.ec2, target, &account, &clients.region).await?;
            match service.private_dns_name {
                Some(name) => DnsSetup::PrivateDns(name),
                None => DnsSetup::None,
            }
        }
        (_, Some(zone)) => DnsSetup::Zone(zone),
        _ => DnsSetup::None,
    };
    Ok(Observed {
        endpoint,
        zones,
        dns,
    })
}

/// The endpoint's addresses for reports, and as IPs for verification.
pub async fn addresses(
    clients: &Clients,
    endpoint: &EndpointInfo,
) -> Result<(Vec<Address>, Vec<IpAddr>), ConsumerError> {
    let found = endpoint::addresses(&clients.ec2, endpoint).await?;
    let report = found
        .iter()
        .map(|(zone, subnet, ip)| Address {
            zone: zone.clone(),
            subnet_id: subnet.clone(),
            ip: ip.to_string(),
        })
        .collect();
    Ok((report, found.into_iter().map(|(_, _, ip)| ip).collect()))
}

//! `connect`: preflight, security group, endpoint, wait, DNS, verify —
//! each step finds what an earlier run made before creating anything, so a
//! re-run after success changes nothing and a re-run after a crash at any
//! step converges without duplicates.

use std::time::{Duration, Instant};

use privatelink_core::state::EndpointState;

use crate::connection_key::Target;
use crate::dns::{self, Alias};
use crate::endpoint::{self, NewEndpoint};
use crate::observe;
use crate::preflight;
use crate::report::{ConnectReport, Timings};
use crate::security_group;
use crate::verify::{self, api::DnsSetup, CheckOptions};
use crate::vpc::{self, ServiceInfo};
use crate::{Clients, ConsumerError};
use privatelink_core::cli::progress::Progress;

/// Everything `connect` needs, validated.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub target: Target,
    /// Subnets to use; empty means one per service AZ, chosen by AZ ID.
    pub subnets: Vec<String>,
    pub dns_name: Option<String>,
    pub port: u16,
    /// Who may reach the endpoint; empty means the VPC's CIDR.
    pub allow_cidrs: Vec<String>,
    pub wait: Duration,
    pub fix_vpc_dns: bool,
    pub verify: bool,
    pub check: CheckOptions,
}

fn ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

/// Runs `connect`. Progress goes to `progress` (stderr); the result is
/// returned for printing.
pub async fn connect(
    clients: &Clients,
    options: &ConnectOptions,
    progress: &mut Progress,
) -> Result<ConnectReport, ConsumerError> {
    let started = Instant::now();
    let target = &options.target;
    let ec2 = &clients.ec2;
    let mut changes = Vec::new();
    let mut timings = Timings::default();

    // 1. Preflight: read-only until every check has passed.
    let phase = Instant::now();
    let vpc_info = vpc::describe_vpc(ec2, &target.vpc_id).await?;
    let service = vpc::describe_service(ec2, target, &vpc_info.owner_id, &clients.region).await?;
    let attributes = vpc::dns_attributes(ec2, &target.vpc_id).await?;
    let subnets = vpc::subnets(ec2, &target.vpc_id).await?;
    let cross_region = target.is_cross_region(&clients.region);
    let chosen = preflight::select_subnets(
        &target.vpc_id,
        &preflight::endpoint_zone_ids(&service.zone_ids, &subnets, cross_region),
        &subnets,
        &options.subnets,
    )?;
    if options.fix_vpc_dns {
        changes.extend(vpc::fix_dns_attributes(ec2, &target.vpc_id, attributes).await?);
    } else {
        attributes.check(&target.vpc_id)?;
    }
    progress.line(&format!(
        "preflight ok: service {}{} by {}, subnets {}",
        service.service_id,
        match (&target.service_region, cross_region) {
            (Some(region), true) => format!(" in {region} (cross-Region)"),
            _ => String::new(),
        },
        service.owner,
        chosen
            .iter()
            .map(|s| format!("{} ({})", s.subnet_id, s.zone_id))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    timings.preflight_ms = ms(phase);

    // 2. Security group.
    let phase = Instant::now();
    let cidrs = if options.allow_cidrs.is_empty() {
        vec![vpc_info.cidr.clone()]
    } else {
        options.allow_cidrs.clone()
    };
    let group_id = security_group::ensure(ec2, target, options.port, &cidrs, &mut changes).await?;
    timings.security_group_ms = ms(phase);

    // 3. Endpoint.
    let phase = Instant::now();
    let subnet_ids: Vec<String> = chosen.iter().map(|s| s.subnet_id.clone()).collect();
    let lookup = endpoint::lookup(ec2, target).await?;
    let mut found = lookup.best().cloned();
    if found.is_none() {
        let created = endpoint::create(
            ec2,
            target,
            &NewEndpoint {
                subnet_ids: &subnet_ids,
                security_group_id: &group_id,
                dns_name: options.dns_name.as_deref(),
                port: options.port,
                generation: lookup.retired,
            },
        )
        .await?;
        changes.push(format!("created endpoint {}", created.endpoint_id));
        found = Some(created);
    }
    let Some(current) = found else {
        return Err(ConsumerError::missing("CreateVpcEndpoint", "VpcEndpoint"));
    };
    let mut in_place = current.subnet_ids.clone();
    in_place.sort();
    let mut wanted = subnet_ids.clone();
    wanted.sort();
    if !in_place.is_empty() && in_place != wanted {
        // An existing endpoint is never moved: that would cut traffic.
        progress.line(&format!(
            "note: endpoint {} stays in subnets {} (asked for {}); run disconnect first to \
             move it",
            current.endpoint_id,
            in_place.join(", "),
            wanted.join(", ")
        ));
    }
    progress.line(&format!(
        "endpoint {}: {}",
        current.endpoint_id, current.state
    ));
    timings.endpoint_ms = ms(phase);

    // 4. Wait for acceptance.
    let phase = Instant::now();
    let available = match current.state {
        EndpointState::Available => current,
        _ => {
            endpoint::wait_available(ec2, target, &current.endpoint_id, options.wait, progress)
                .await?
        }
    };
    timings.wait_ms = ms(phase);

    // 5. DNS.
    let phase = Instant::now();
    let dns_setup = ensure_dns(clients, options, &service, &available, &mut changes).await?;
    timings.dns_ms = ms(phase);

    // 6. Summary and verification.
    let phase = Instant::now();
    let (addresses, ips) = observe::addresses(clients, &available).await?;
    let regional = available
        .regional_dns()
        .map(|d| d.dns_name.clone())
        .unwrap_or_default();
    let name_to_use = match &dns_setup {
        DnsSetup::PrivateDns(name) => name.clone(),
        DnsSetup::Zone(zone) => zone.name.clone(),
        DnsSetup::None => regional,
    };
    let verification = if options.verify {
        // The endpoint as it is now (private DNS may have just been turned on).
        let latest = endpoint::describe(ec2, &available.endpoint_id)
            .await?
            .unwrap_or_else(|| available.clone());
        let report = verify::doctor(
            clients,
            target,
            &latest,
            &dns_setup,
            &name_to_use,
            options.port,
            &ips,
            &options.check,
        )
        .await?;
        verify::record(clients, &report).await?;
        Some(report)
    } else {
        None
    };
    timings.verify_ms = ms(phase);
    timings.total_ms = ms(started);

    Ok(ConnectReport {
        service_name: target.service_name.clone(),
        vpc_id: target.vpc_id.clone(),
        endpoint_id: available.endpoint_id.clone(),
        state: available.state.clone(),
        security_group_id: group_id,
        addresses,
        dns: observe::summary(&dns_setup),
        name_to_use,
        changes,
        verification,
        timings,
    })
}

/// Which DNS set-up a connection gets (pure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsChoice {
    /// Turn on private DNS for the vendor's verified name.
    PrivateDns(String),
    /// Our private hosted zone for this name.
    Zone(String),
    /// No name; clients use the endpoint's DNS name.
    None,
}

/// Private DNS when the vendor has a verified name and no other name was
/// asked for; a private hosted zone for `--dns-name`; else nothing. An
/// unverified private DNS name is never used: AWS would not serve it.
pub fn choose_dns(
    private_dns_name: Option<&str>,
    verified: bool,
    wanted: Option<&str>,
) -> DnsChoice {
    let private = private_dns_name.filter(|_| verified).map(dns::normal);
    let wanted = wanted.map(dns::normal);
    match (private, wanted) {
        (Some(private), None) => DnsChoice::PrivateDns(private),
        (Some(private), Some(wanted)) if private == wanted => DnsChoice::PrivateDns(private),
        (_, Some(wanted)) => DnsChoice::Zone(wanted),
        (None, None) => DnsChoice::None,
    }
}

async fn ensure_dns(
    clients: &Clients,
    options: &ConnectOptions,
    service: &ServiceInfo,
    endpoint: &endpoint::EndpointInfo,
    changes: &mut Vec<String>,
) -> Result<DnsSetup, ConsumerError> {
    let choice = choose_dns(
        service.private_dns_name.as_deref(),
        service.private_dns_verified,
        options.dns_name.as_deref(),
    );
    let name = match choice {
        DnsChoice::None => return Ok(DnsSetup::None),
        DnsChoice::PrivateDns(private) => {
            if !endpoint.private_dns_enabled {
                endpoint::enable_private_dns(&clients.ec2, &endpoint.endpoint_id).await?;
                changes.push(format!(
                    "turned on private DNS ({private}) for {}",
                    endpoint.endpoint_id
                ));
            }
            return Ok(DnsSetup::PrivateDns(private));
        }
        DnsChoice::Zone(name) => name,
    };
    let regional = endpoint.regional_dns().ok_or_else(|| {
        ConsumerError::missing("DescribeVpcEndpoints", "a Regional DnsEntries item")
    })?;
    let alias = Alias {
        dns_name: dns::normal(&regional.dns_name),
        hosted_zone_id: regional.hosted_zone_id.clone(),
    };
    let zone = dns::ensure_zone(
        &clients.r53,
        &options.target,
        &name,
        &clients.region,
        &alias,
        changes,
    )
    .await?;
    dns::upsert_alias(&clients.r53, &zone.zone_id, &name, &alias, changes).await?;
    Ok(DnsSetup::Zone(zone))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_choice() {
        let p = |name: &str| DnsChoice::PrivateDns(name.into());
        let z = |name: &str| DnsChoice::Zone(name.into());
        let cases = [
            (Some("api.vendor.com"), true, None, p("api.vendor.com")),
            (
                Some("API.vendor.com."),
                true,
                Some("api.vendor.com"),
                p("api.vendor.com"),
            ),
            (
                Some("api.vendor.com"),
                true,
                Some("my.internal"),
                z("my.internal"),
            ),
            // Not verified: AWS would not serve it, so it is not used.
            (Some("api.vendor.com"), false, None, DnsChoice::None),
            (
                Some("api.vendor.com"),
                false,
                Some("api.vendor.com"),
                z("api.vendor.com"),
            ),
            (None, false, Some("my.internal"), z("my.internal")),
            (None, false, None, DnsChoice::None),
        ];
        for (private, verified, wanted, expected) in cases {
            assert_eq!(
                choose_dns(private, verified, wanted),
                expected,
                "{private:?} {verified} {wanted:?}"
            );
        }
    }
}

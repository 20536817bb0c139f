//! Read-only lookups for preflight (the vendor's service as this account
//! sees it, the VPC, its DNS attributes and subnets) and the one optional
//! fix, turning the VPC's DNS attributes on (`--fix-vpc-dns`).

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, VpcAttributeName};
use aws_sdk_ec2::Client;
use privatelink_core::errors::AwsError;
use serde::Serialize;

use crate::connection_key::{self, Target};
use crate::error::SdkResultExt;
use crate::preflight::{DnsAttributes, SubnetInfo};
use crate::ConsumerError;

/// The vendor's service, as the consumer's account sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceInfo {
    pub service_id: String,
    pub service_name: String,
    pub owner: String,
    /// The AZ IDs the service and this account have in common.
    pub zone_ids: Vec<String>,
    pub acceptance_required: bool,
    /// The vendor's private DNS name, if any.
    pub private_dns_name: Option<String>,
    /// True when that name is verified (only then does private DNS work).
    pub private_dns_verified: bool,
}

/// The consumer's VPC.
#[derive(Debug, Clone, Serialize)]
pub struct VpcInfo {
    pub vpc_id: String,
    pub cidr: String,
    pub owner_id: String,
}

pub async fn describe_vpc(ec2: &Client, vpc_id: &str) -> Result<VpcInfo, ConsumerError> {
    let out = ec2.describe_vpcs().vpc_ids(vpc_id).send().await;
    let out = match out {
        Err(e) if e.code() == Some("InvalidVpcID.NotFound") => {
            return Err(ConsumerError::VpcNotFound(vpc_id.to_string()))
        }
        other => other.aws("DescribeVpcs")?,
    };
    let vpc = out
        .vpcs()
        .first()
        .ok_or_else(|| ConsumerError::VpcNotFound(vpc_id.to_string()))?;
    Ok(VpcInfo {
        vpc_id: vpc_id.to_string(),
        cidr: vpc
            .cidr_block()
            .ok_or_else(|| ConsumerError::missing("DescribeVpcs", "CidrBlock"))?
            .to_string(),
        owner_id: vpc.owner_id().unwrap_or_default().to_string(),
    })
}

/// `DescribeVpcEndpointServices(ServiceNames=[name])`, with
/// `ServiceRegions=[R]` for `--service-region R`; a service that does not
/// exist, is not shared with this account or (from another Region) does not
/// support `consumer_region` is `InvalidServiceName`, explained by
/// [`not_visible`].
pub async fn describe_service(
    ec2: &Client,
    target: &Target,
    account: &str,
    consumer_region: &str,
) -> Result<ServiceInfo, ConsumerError> {
    let service_name = target.service_name.as_str();
    let not_visible = || not_visible(target, account, consumer_region);
    let out = ec2
        .describe_vpc_endpoint_services()
        .service_names(service_name)
        .set_service_regions(target.service_region.clone().map(|r| vec![r]))
        .send()
        .await;
    let out = match out {
        Err(e) if e.code() == Some("InvalidServiceName") => return Err(not_visible()),
        other => other.aws("DescribeVpcEndpointServices")?,
    };
    let detail = out
        .service_details()
        .iter()
        .find(|d| d.service_name() == Some(service_name))
        .ok_or_else(not_visible)?;
    let verified = detail
        .private_dns_name_verification_state()
        .is_some_and(|s| s.as_str().eq_ignore_ascii_case("verified"));
    Ok(ServiceInfo {
        service_id: detail.service_id().unwrap_or_default().to_string(),
        service_name: service_name.to_string(),
        owner: detail.owner().unwrap_or_default().to_string(),
        zone_ids: detail.availability_zone_ids().to_vec(),
        acceptance_required: detail.acceptance_required().unwrap_or(true),
        private_dns_name: detail.private_dns_name().map(str::to_string),
        private_dns_verified: verified,
    })
}

/// Why a service is not visible, with what to do: from another Region, the
/// vendor must support this Region (or `--service-region` is missing);
/// otherwise the name or the vendor's allow list is wrong.
pub fn not_visible(target: &Target, account: &str, consumer_region: &str) -> ConsumerError {
    let service_name = target.service_name.clone();
    let named = connection_key::service_name_region(&service_name).map(str::to_string);
    match (&target.service_region, named) {
        (Some(service_region), _) if service_region != consumer_region => {
            ConsumerError::ServiceNotInYourRegion {
                service_id: service_name
                    .rsplit('.')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                service_name,
                service_region: service_region.clone(),
                consumer_region: consumer_region.to_string(),
                account: account.to_string(),
            }
        }
        (None, Some(service_region)) if service_region != consumer_region => {
            ConsumerError::ServiceInAnotherRegion {
                service_name,
                service_region,
                consumer_region: consumer_region.to_string(),
            }
        }
        _ => ConsumerError::ServiceNotVisible {
            service_name,
            account: account.to_string(),
        },
    }
}

pub async fn dns_attributes(ec2: &Client, vpc_id: &str) -> Result<DnsAttributes, ConsumerError> {
    let support = ec2
        .describe_vpc_attribute()
        .vpc_id(vpc_id)
        .attribute(VpcAttributeName::EnableDnsSupport)
        .send()
        .await
        .aws("DescribeVpcAttribute")?;
    let hostnames = ec2
        .describe_vpc_attribute()
        .vpc_id(vpc_id)
        .attribute(VpcAttributeName::EnableDnsHostnames)
        .send()
        .await
        .aws("DescribeVpcAttribute")?;
    Ok(DnsAttributes {
        enable_dns_support: support
            .enable_dns_support()
            .and_then(|v| v.value())
            .unwrap_or(false),
        enable_dns_hostnames: hostnames
            .enable_dns_hostnames()
            .and_then(|v| v.value())
            .unwrap_or(false),
    })
}

/// Turns on the attributes that are off (support first: hostnames need it).
pub async fn fix_dns_attributes(
    ec2: &Client,
    vpc_id: &str,
    attributes: DnsAttributes,
) -> Result<Vec<String>, ConsumerError> {
    let on = || AttributeBooleanValue::builder().value(true).build();
    let mut changed = Vec::new();
    if !attributes.enable_dns_support {
        ec2.modify_vpc_attribute()
            .vpc_id(vpc_id)
            .enable_dns_support(on())
            .send()
            .await
            .aws("ModifyVpcAttribute")?;
        changed.push(format!("turned on enableDnsSupport of {vpc_id}"));
    }
    if !attributes.enable_dns_hostnames {
        ec2.modify_vpc_attribute()
            .vpc_id(vpc_id)
            .enable_dns_hostnames(on())
            .send()
            .await
            .aws("ModifyVpcAttribute")?;
        changed.push(format!("turned on enableDnsHostnames of {vpc_id}"));
    }
    Ok(changed)
}

/// Every subnet of the VPC with its AZ ID.
pub async fn subnets(ec2: &Client, vpc_id: &str) -> Result<Vec<SubnetInfo>, ConsumerError> {
    let subnets = ec2
        .describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| ConsumerError::Aws(AwsError::from_sdk("DescribeSubnets", &e)))?;
    Ok(subnets
        .iter()
        .map(|s| SubnetInfo {
            subnet_id: s.subnet_id().unwrap_or_default().to_string(),
            zone_id: s.availability_zone_id().unwrap_or_default().to_string(),
            zone_name: s.availability_zone().unwrap_or_default().to_string(),
            available_ips: s.available_ip_address_count().unwrap_or(0),
        })
        .collect())
}

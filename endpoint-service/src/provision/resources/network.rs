//! The VPC and subnets: the region's Availability Zones, finding the
//! stack's (or the operator's) VPC and subnets, creating them tagged, and
//! deleting what the stack created.

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_sdk_ec2::Client;

use super::{owned_by, wait_error, StackTags, DEPENDENCY_BACKOFF};
use crate::naming::{StackName, STACK_TAG};
use crate::provision::observe::{SubnetObs, VpcObs, Zone};
use crate::provision::spec::{Ipv4Cidr, NetworkSpec};
use crate::provision::{aws_err, gone_is_ok, ProvisionError};
use crate::wait::{until, Poll};
use privatelink_core::cli::progress::Progress;

fn tag_spec(resource: ResourceType, tags: &StackTags) -> TagSpecification {
    let mut spec = TagSpecification::builder().resource_type(resource);
    for (k, v) in tags.pairs() {
        spec = spec.tags(Tag::builder().key(k).value(v).build());
    }
    spec.build()
}

fn stack_filter(stack: &StackName) -> Filter {
    Filter::builder()
        .name(format!("tag:{STACK_TAG}"))
        .values(stack.as_str())
        .build()
}

/// The available Availability Zones of the region (not Local or
/// Wavelength Zones), sorted by name.
pub async fn zones(ec2: &Client) -> Result<Vec<Zone>, ProvisionError> {
    let out = ec2
        .describe_availability_zones()
        .send()
        .await
        .map_err(aws_err("DescribeAvailabilityZones", "the region"))?;
    let mut zones: Vec<Zone> = out
        .availability_zones()
        .iter()
        .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
        .filter(|z| z.state().is_none_or(|s| s.as_str() == "available"))
        .filter_map(|z| {
            Some(Zone {
                name: z.zone_name()?.to_string(),
                id: z.zone_id()?.to_string(),
            })
        })
        .collect();
    zones.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(zones)
}

fn vpc_obs(vpc: &aws_sdk_ec2::types::Vpc, stack: &StackName) -> Option<VpcObs> {
    Some(VpcObs {
        id: vpc.vpc_id()?.to_string(),
        cidr: vpc.cidr_block().unwrap_or_default().to_string(),
        owned: owned_by(vpc.tags().iter().map(|t| (t.key(), t.value())), stack),
    })
}

fn subnet_obs(s: &aws_sdk_ec2::types::Subnet, stack: &StackName) -> Option<SubnetObs> {
    Some(SubnetObs {
        id: s.subnet_id()?.to_string(),
        vpc_id: s.vpc_id().unwrap_or_default().to_string(),
        zone_name: s.availability_zone().unwrap_or_default().to_string(),
        zone_id: s.availability_zone_id().unwrap_or_default().to_string(),
        cidr: s.cidr_block().unwrap_or_default().to_string(),
        owned: owned_by(s.tags().iter().map(|t| (t.key(), t.value())), stack),
    })
}

/// The VPC and subnets: the operator's by id, or the ones the stack
/// created, by tag.
pub async fn find_network(
    ec2: &Client,
    stack: &StackName,
    network: Option<&NetworkSpec>,
) -> Result<(Option<VpcObs>, Vec<SubnetObs>), ProvisionError> {
    if let Some(NetworkSpec::Existing { vpc_id, subnet_ids }) = network {
        let vpcs = ec2.describe_vpcs().vpc_ids(vpc_id).send().await;
        let vpc = match vpcs {
            Ok(out) => out.vpcs().first().and_then(|v| vpc_obs(v, stack)),
            Err(e) => {
                let e = aws_err("DescribeVpcs", vpc_id.clone())(e);
                if e.aws().is_some_and(crate::provision::is_missing) {
                    return Err(ProvisionError::Input(format!(
                        "network.vpc_id: VPC {vpc_id} does not exist in this account and region: \
                         fix the id or the region"
                    )));
                }
                return Err(e);
            }
        };
        let subnets = ec2
            .describe_subnets()
            .set_subnet_ids(Some(subnet_ids.clone()))
            .send()
            .await;
        let subnets = match subnets {
            Ok(out) => out
                .subnets()
                .iter()
                .filter_map(|s| subnet_obs(s, stack))
                .collect(),
            Err(e) => {
                let e = aws_err("DescribeSubnets", subnet_ids.join(","))(e);
                if e.aws().is_some_and(crate::provision::is_missing) {
                    return Err(ProvisionError::Input(format!(
                        "network.subnet_ids: {}: fix the subnet ids (they must be in {vpc_id})",
                        e.aws()
                            .map(|a| a.message.clone().unwrap_or_default())
                            .unwrap_or_default()
                    )));
                }
                return Err(e);
            }
        };
        return Ok((vpc, subnets));
    }
    let vpcs = ec2
        .describe_vpcs()
        .filters(stack_filter(stack))
        .send()
        .await
        .map_err(aws_err("DescribeVpcs", format!("VPC of stack {stack}")))?;
    let found: Vec<VpcObs> = vpcs
        .vpcs()
        .iter()
        .filter_map(|v| vpc_obs(v, stack))
        .collect();
    if found.len() > 1 {
        let ids: Vec<&str> = found.iter().map(|v| v.id.as_str()).collect();
        return Err(ProvisionError::Refused(format!(
            "several VPCs are tagged {STACK_TAG}={stack} ({}): delete the extra ones by hand, \
             then run again",
            ids.join(", ")
        )));
    }
    let vpc = found.into_iter().next();
    let subnets = match &vpc {
        None => Vec::new(),
        Some(vpc) => ec2
            .describe_subnets()
            .filters(stack_filter(stack))
            .filters(Filter::builder().name("vpc-id").values(&vpc.id).build())
            .send()
            .await
            .map_err(aws_err("DescribeSubnets", format!("subnets of {}", vpc.id)))?
            .subnets()
            .iter()
            .filter_map(|s| subnet_obs(s, stack))
            .collect(),
    };
    Ok((vpc, subnets))
}

/// Creates the stack's VPC, tagged.
pub async fn create_vpc(
    ec2: &Client,
    tags: &StackTags,
    cidr: &Ipv4Cidr,
) -> Result<VpcObs, ProvisionError> {
    let out = ec2
        .create_vpc()
        .cidr_block(cidr.to_string())
        .tag_specifications(tag_spec(ResourceType::Vpc, tags))
        .send()
        .await
        .map_err(aws_err("CreateVpc", format!("VPC {cidr}")))?;
    out.vpc()
        .and_then(|v| vpc_obs(v, &tags.stack))
        .ok_or(ProvisionError::Missing {
            operation: "CreateVpc",
            field: "Vpc",
        })
}

/// Creates one subnet of the stack in `zone`, tagged.
pub async fn create_subnet(
    ec2: &Client,
    tags: &StackTags,
    vpc_id: &str,
    zone: &Zone,
    cidr: &Ipv4Cidr,
) -> Result<SubnetObs, ProvisionError> {
    let out = ec2
        .create_subnet()
        .vpc_id(vpc_id)
        .availability_zone_id(&zone.id)
        .cidr_block(cidr.to_string())
        .tag_specifications(tag_spec(ResourceType::Subnet, tags))
        .send()
        .await
        .map_err(aws_err(
            "CreateSubnet",
            format!("subnet {cidr} in {}", zone.id),
        ))?;
    out.subnet()
        .and_then(|s| subnet_obs(s, &tags.stack))
        .ok_or(ProvisionError::Missing {
            operation: "CreateSubnet",
            field: "Subnet",
        })
}

/// Retries `attempt` while AWS answers `DependencyViolation` (network
/// interfaces of a just-deleted load balancer linger for a while).
async fn while_dependencies<F, Fut>(
    what: &str,
    progress: &Progress,
    mut attempt: F,
) -> Result<(), ProvisionError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), ProvisionError>>,
{
    until(
        what,
        DEPENDENCY_BACKOFF,
        || {
            let call = attempt();
            async move {
                match gone_is_ok(call.await) {
                    Ok(()) => Ok(Poll::Ready(())),
                    Err(ProvisionError::Aws { error, .. })
                        if error.code.as_deref() == Some("DependencyViolation") =>
                    {
                        Ok(Poll::NotYet("DependencyViolation".to_string()))
                    }
                    Err(e) => Err(e),
                }
            }
        },
        |seen| progress.waiting(what, seen),
    )
    .await
    .map_err(wait_error)
}

/// Deletes a subnet; already gone is done.
pub async fn delete_subnet(
    ec2: &Client,
    id: &str,
    progress: &Progress,
) -> Result<(), ProvisionError> {
    while_dependencies(&format!("subnet {id} to be free"), progress, || async {
        ec2.delete_subnet()
            .subnet_id(id)
            .send()
            .await
            .map(drop)
            .map_err(aws_err("DeleteSubnet", id.to_string()))
    })
    .await
}

/// Deletes a VPC; already gone is done.
pub async fn delete_vpc(ec2: &Client, id: &str, progress: &Progress) -> Result<(), ProvisionError> {
    while_dependencies(&format!("VPC {id} to be free"), progress, || async {
        ec2.delete_vpc()
            .vpc_id(id)
            .send()
            .await
            .map(drop)
            .map_err(aws_err("DeleteVpc", id.to_string()))
    })
    .await
}

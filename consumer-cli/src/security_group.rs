//! The endpoint's security group: found by the connection's tags, created
//! tagged (name unique per VPC), and given one ingress rule per allowed
//! CIDR for the service port. Deleted last, after the endpoint's network
//! interfaces are gone.

use std::time::Duration;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, SecurityGroup};
use aws_sdk_ec2::Client;
use privatelink_core::errors::AwsError;
use privatelink_core::wait::{self, Backoff, Poll, WaitError};

use crate::connection_key::Target;
use crate::error::SdkResultExt;
use crate::ConsumerError;

/// Our security group as found.
#[derive(Debug, Clone)]
pub struct GroupInfo {
    pub group_id: String,
    /// (from port, to port, CIDR) of every TCP/all-traffic IPv4 ingress rule.
    pub ingress: Vec<(i32, i32, String)>,
}

impl GroupInfo {
    /// The CIDRs from `wanted` that no rule lets in on `port` yet.
    pub fn missing_cidrs(&self, port: u16, wanted: &[String]) -> Vec<String> {
        let port = i32::from(port);
        wanted
            .iter()
            .filter(|cidr| {
                !self
                    .ingress
                    .iter()
                    .any(|(from, to, c)| c == *cidr && *from <= port && port <= *to)
            })
            .cloned()
            .collect()
    }

    pub(crate) fn from_sdk(group: &SecurityGroup) -> GroupInfo {
        let mut ingress = Vec::new();
        for permission in group.ip_permissions() {
            let protocol = permission.ip_protocol().unwrap_or_default();
            let (from, to) = match protocol {
                "-1" => (0, 65535),
                "tcp" | "6" => (
                    permission.from_port().unwrap_or(0),
                    permission.to_port().unwrap_or(65535),
                ),
                _ => continue,
            };
            for range in permission.ip_ranges() {
                if let Some(cidr) = range.cidr_ip() {
                    ingress.push((from, to, cidr.to_string()));
                }
            }
        }
        GroupInfo {
            group_id: group.group_id().unwrap_or_default().to_string(),
            ingress,
        }
    }
}

/// Our group for this connection, by tags.
pub async fn find(ec2: &Client, target: &Target) -> Result<Option<GroupInfo>, ConsumerError> {
    let out = ec2
        .describe_security_groups()
        .set_filters(Some(target.filters()))
        .send()
        .await
        .aws("DescribeSecurityGroups")?;
    let mut groups: Vec<&SecurityGroup> = out.security_groups().iter().collect();
    groups.sort_by_key(|g| g.group_id().unwrap_or_default().to_string());
    Ok(groups.first().map(|g| GroupInfo::from_sdk(g)))
}

/// Finds or creates the group and makes sure `cidrs` may reach `port`.
/// Records what it changed in `changes`.
pub async fn ensure(
    ec2: &Client,
    target: &Target,
    port: u16,
    cidrs: &[String],
    changes: &mut Vec<String>,
) -> Result<String, ConsumerError> {
    let group = match find(ec2, target).await? {
        Some(group) => group,
        None => {
            let created = ec2
                .create_security_group()
                .group_name(target.security_group_name())
                .description(format!(
                    "PrivateLink endpoint to {} (consumer-cli)",
                    target.service_name
                ))
                .vpc_id(&target.vpc_id)
                .tag_specifications(target.tag_spec(ResourceType::SecurityGroup, vec![]))
                .send()
                .await;
            match created {
                Err(e) if e.code() == Some("InvalidGroup.Duplicate") => {
                    return Err(ConsumerError::ForeignSecurityGroup {
                        group_name: target.security_group_name(),
                        vpc_id: target.vpc_id.clone(),
                    })
                }
                other => {
                    let out = other.aws("CreateSecurityGroup")?;
                    let id = out
                        .group_id()
                        .ok_or_else(|| ConsumerError::missing("CreateSecurityGroup", "GroupId"))?;
                    changes.push(format!("created security group {id}"));
                    GroupInfo {
                        group_id: id.to_string(),
                        ingress: Vec::new(),
                    }
                }
            }
        }
    };
    let missing = group.missing_cidrs(port, cidrs);
    if !missing.is_empty() {
        let permission = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(i32::from(port))
            .to_port(i32::from(port))
            .set_ip_ranges(Some(
                missing
                    .iter()
                    .map(|c| {
                        IpRange::builder()
                            .cidr_ip(c)
                            .description("PrivateLink clients (consumer-cli)")
                            .build()
                    })
                    .collect(),
            ))
            .build();
        let out = ec2
            .authorize_security_group_ingress()
            .group_id(&group.group_id)
            .ip_permissions(permission)
            .send()
            .await;
        match out {
            // A rule added by an earlier, interrupted run.
            Err(e) if e.code() == Some("InvalidPermission.Duplicate") => {}
            other => {
                other.aws("AuthorizeSecurityGroupIngress")?;
                changes.push(format!(
                    "allowed tcp/{port} from {} in {}",
                    missing.join(", "),
                    group.group_id
                ));
            }
        }
    }
    Ok(group.group_id)
}

/// Deletes the group; retries while the endpoint's network interfaces still
/// use it (`DependencyViolation`), up to `timeout`. Gone already is fine.
pub async fn delete(ec2: &Client, group_id: &str, timeout: Duration) -> Result<(), ConsumerError> {
    let backoff = Backoff {
        first: Duration::from_millis(250),
        max: Duration::from_secs(5),
        timeout,
    };
    let result = wait::until(
        &format!("security group {group_id} to be free of network interfaces"),
        backoff,
        || async {
            match ec2.delete_security_group().group_id(group_id).send().await {
                Ok(_) => Ok(Poll::Ready(())),
                Err(e) if e.code() == Some("InvalidGroup.NotFound") => Ok(Poll::Ready(())),
                Err(e) if e.code() == Some("DependencyViolation") => {
                    Ok(Poll::NotYet("still in use".to_string()))
                }
                Err(e) => Err(AwsError::from_sdk("DeleteSecurityGroup", &e)),
            }
        },
        |_| {},
    )
    .await;
    match result {
        Ok(()) => Ok(()),
        Err(WaitError::Failed(e)) => Err(e.into()),
        Err(WaitError::TimedOut { what, waited, .. }) => Err(ConsumerError::Timeout {
            what,
            waited_secs: waited.as_secs(),
        }),
    }
}

/// Every group of ours in the VPC (for disconnect).
pub async fn find_all(ec2: &Client, target: &Target) -> Result<Vec<String>, ConsumerError> {
    let out = ec2
        .describe_security_groups()
        .set_filters(Some(target.filters()))
        .send()
        .await
        .aws("DescribeSecurityGroups")?;
    Ok(out
        .security_groups()
        .iter()
        .filter_map(|g| g.group_id().map(str::to_string))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_cidrs_respects_port_ranges() {
        let group = GroupInfo {
            group_id: "sg-1".into(),
            ingress: vec![
                (443, 443, "10.0.0.0/16".into()),
                (0, 65535, "192.168.0.0/24".into()),
                (80, 80, "172.16.0.0/12".into()),
            ],
        };
        let wanted = [
            "10.0.0.0/16".to_string(),
            "192.168.0.0/24".to_string(),
            "172.16.0.0/12".to_string(),
        ];
        assert_eq!(group.missing_cidrs(443, &wanted), ["172.16.0.0/12"]);
        assert_eq!(
            group.missing_cidrs(8443, &wanted),
            ["10.0.0.0/16", "172.16.0.0/12"]
        );
    }
}

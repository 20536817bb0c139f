//! The interface endpoint: found by the connection's tags, created with a
//! `ClientToken` derived from the inputs and tags at creation (private DNS
//! off: it cannot be turned on before the vendor accepts), waited for
//! through `pendingAcceptance` → `pending` → `available`, and deleted.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{ResourceType, Tag, VpcEndpoint, VpcEndpointType};
use aws_sdk_ec2::Client;
use privatelink_core::errors::AwsError;
use privatelink_core::state::EndpointState;
use privatelink_core::wait::{self, Backoff, Poll, WaitError};
use serde::Serialize;

use crate::connection_key::{Target, DNS_NAME_TAG, PORT_TAG};
use crate::error::SdkResultExt;
use crate::ConsumerError;
use privatelink_core::cli::progress::Progress;

/// Poll schedule while waiting for acceptance: the cap keeps the time from
/// `available` to noticing it under a second (plus one round trip).
pub const POLL_FIRST: Duration = Duration::from_millis(200);
pub const POLL_MAX: Duration = Duration::from_millis(800);

/// One DNS entry of the endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsEntry {
    pub dns_name: String,
    pub hosted_zone_id: String,
}

/// The endpoint as found.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointInfo {
    pub endpoint_id: String,
    pub state: EndpointState,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    #[serde(skip)]
    pub network_interface_ids: Vec<String>,
    pub dns_entries: Vec<DnsEntry>,
    pub private_dns_enabled: bool,
    pub tags: BTreeMap<String, String>,
    /// `LastError` when the endpoint failed.
    pub last_error: Option<String>,
}

impl EndpointInfo {
    fn from_sdk(e: &VpcEndpoint) -> EndpointInfo {
        EndpointInfo {
            endpoint_id: e.vpc_endpoint_id().unwrap_or_default().to_string(),
            state: e
                .state()
                .map(EndpointState::from_sdk)
                .unwrap_or_else(|| EndpointState::Other("unknown".into())),
            subnet_ids: e.subnet_ids().to_vec(),
            security_group_ids: e
                .groups()
                .iter()
                .filter_map(|g| g.group_id().map(str::to_string))
                .collect(),
            network_interface_ids: e.network_interface_ids().to_vec(),
            dns_entries: e
                .dns_entries()
                .iter()
                .map(|d| DnsEntry {
                    dns_name: d.dns_name().unwrap_or_default().to_string(),
                    hosted_zone_id: d.hosted_zone_id().unwrap_or_default().to_string(),
                })
                .collect(),
            private_dns_enabled: e.private_dns_enabled().unwrap_or(false),
            tags: e
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect(),
            last_error: e.last_error().map(|l| {
                format!(
                    "{}: {}",
                    l.code().unwrap_or("unknown"),
                    l.message().unwrap_or("")
                )
            }),
        }
    }

    /// The Regional DNS entry (not a zonal one, not a private DNS name).
    pub fn regional_dns(&self) -> Option<&DnsEntry> {
        regional_entry(&self.endpoint_id, &self.dns_entries)
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }
}

/// Picks the Regional entry by shape: AWS documents
/// `ENDPOINT_ID-SUFFIX.SERVICE_ID.REGION.vpce.amazonaws.com` for it and the
/// same first label plus `-AZ` for zonal ones; the private DNS name does not
/// start with the endpoint id. The order of entries is not documented.
pub fn regional_entry<'a>(endpoint_id: &str, entries: &'a [DnsEntry]) -> Option<&'a DnsEntry> {
    entries
        .iter()
        .filter(|e| {
            e.dns_name.starts_with(endpoint_id) && e.dns_name.ends_with(".vpce.amazonaws.com")
        })
        .min_by_key(|e| {
            e.dns_name
                .split('.')
                .next()
                .map(str::len)
                .unwrap_or(usize::MAX)
        })
}

/// What a lookup by tags found.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    /// Endpoints still there (not deleted or deleting), in any other state,
    /// rejected and failed included. Wider than a live connection
    /// ([`EndpointState::is_live`]): a rejected endpoint must still be found
    /// so it can be reported and cleaned up.
    pub present: Vec<EndpointInfo>,
    /// Endpoints of ours already deleted (still listed by EC2 for a while).
    pub retired: usize,
}

impl Lookup {
    /// The endpoint to continue with: when a person made a second one with
    /// our tags (the client token prevents it otherwise), the most advanced
    /// one wins.
    pub fn best(&self) -> Option<&EndpointInfo> {
        let rank = |s: &EndpointState| match s {
            EndpointState::Available => 0,
            EndpointState::Pending => 1,
            EndpointState::PendingAcceptance => 2,
            _ => 3,
        };
        self.present.iter().min_by_key(|e| rank(&e.state))
    }
}

/// Our endpoints for this connection, by tags.
pub async fn lookup(ec2: &Client, target: &Target) -> Result<Lookup, ConsumerError> {
    let out = ec2
        .describe_vpc_endpoints()
        .set_filters(Some(target.filters()))
        .send()
        .await
        .aws("DescribeVpcEndpoints")?;
    let mut found = Lookup::default();
    for endpoint in out.vpc_endpoints().iter().map(EndpointInfo::from_sdk) {
        if matches!(
            endpoint.state,
            EndpointState::Deleted | EndpointState::Deleting
        ) {
            found.retired += 1;
        } else {
            found.present.push(endpoint);
        }
    }
    Ok(found)
}

/// The endpoint of ours for this connection (the most advanced one still
/// present), if any.
pub async fn find(ec2: &Client, target: &Target) -> Result<Option<EndpointInfo>, ConsumerError> {
    Ok(lookup(ec2, target).await?.best().cloned())
}

/// Every endpoint of ours for this connection still present (not deleted
/// or deleting).
pub async fn find_all(ec2: &Client, target: &Target) -> Result<Vec<EndpointInfo>, ConsumerError> {
    Ok(lookup(ec2, target).await?.present)
}

/// One endpoint by id (`None` when it no longer exists).
pub async fn describe(ec2: &Client, endpoint_id: &str) -> Result<Option<EndpointInfo>, AwsError> {
    let out = ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(endpoint_id)
        .send()
        .await;
    match out {
        Err(e) if e.code().is_some_and(|c| c.ends_with("NotFound")) => Ok(None),
        Err(e) => Err(AwsError::from_sdk("DescribeVpcEndpoints", &e)),
        Ok(out) => Ok(out.vpc_endpoints().first().map(EndpointInfo::from_sdk)),
    }
}

/// What to create.
#[derive(Debug, Clone)]
pub struct NewEndpoint<'a> {
    pub subnet_ids: &'a [String],
    pub security_group_id: &'a str,
    pub dns_name: Option<&'a str>,
    pub port: u16,
    /// How many of our endpoints were deleted before: part of the client
    /// token, so a connection made again after a deletion gets a new
    /// endpoint instead of the deleted one the old token names.
    pub generation: usize,
}

/// Creates the endpoint (idempotent through its client token).
pub async fn create(
    ec2: &Client,
    target: &Target,
    spec: &NewEndpoint<'_>,
) -> Result<EndpointInfo, ConsumerError> {
    let mut extra = vec![Tag::builder()
        .key(PORT_TAG)
        .value(spec.port.to_string())
        .build()];
    if let Some(name) = spec.dns_name {
        extra.push(Tag::builder().key(DNS_NAME_TAG).value(name).build());
    }
    let out = ec2
        .create_vpc_endpoint()
        .vpc_endpoint_type(VpcEndpointType::Interface)
        .vpc_id(&target.vpc_id)
        .service_name(&target.service_name)
        // Cross-Region PrivateLink: the service's Region (AWS: the default
        // is the current Region).
        .set_service_region(target.service_region.clone())
        .set_subnet_ids(Some(spec.subnet_ids.to_vec()))
        .security_group_ids(spec.security_group_id)
        .private_dns_enabled(false)
        .client_token(target.client_token(spec.subnet_ids, spec.security_group_id, spec.generation))
        .tag_specifications(target.tag_spec(ResourceType::VpcEndpoint, extra))
        .send()
        .await
        .aws("CreateVpcEndpoint")?;
    let endpoint = out
        .vpc_endpoint()
        .ok_or_else(|| ConsumerError::missing("CreateVpcEndpoint", "VpcEndpoint"))?;
    Ok(EndpointInfo::from_sdk(endpoint))
}

/// Waits until the endpoint is `available`, showing each state. Rejected,
/// failed, gone or too slow end the wait with the cleanup command.
pub async fn wait_available(
    ec2: &Client,
    target: &Target,
    endpoint_id: &str,
    timeout: Duration,
    progress: &mut Progress,
) -> Result<EndpointInfo, ConsumerError> {
    let cleanup = target.cleanup_command();
    let backoff = Backoff {
        first: POLL_FIRST,
        max: POLL_MAX,
        timeout,
    };
    let result: Result<Result<EndpointInfo, ConsumerError>, WaitError<AwsError>> = wait::until(
        &format!("endpoint {endpoint_id} to become available"),
        backoff,
        || async {
            let Some(endpoint) = describe(ec2, endpoint_id).await? else {
                return Ok(Poll::Ready(Err(ConsumerError::EndpointFailed {
                    endpoint_id: endpoint_id.to_string(),
                    state: "gone".into(),
                    reason: " (deleted while waiting)".into(),
                    cleanup: cleanup.clone(),
                })));
            };
            Ok(match &endpoint.state {
                EndpointState::Available => Poll::Ready(Ok(endpoint)),
                EndpointState::Rejected => Poll::Ready(Err(ConsumerError::Rejected {
                    endpoint_id: endpoint_id.to_string(),
                    cleanup: cleanup.clone(),
                })),
                state if state.is_final() || *state == EndpointState::Deleting => {
                    Poll::Ready(Err(ConsumerError::EndpointFailed {
                        endpoint_id: endpoint_id.to_string(),
                        state: state.to_string(),
                        reason: endpoint
                            .last_error
                            .as_ref()
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default(),
                        cleanup: cleanup.clone(),
                    }))
                }
                state => Poll::NotYet(state.to_string()),
            })
        },
        |seen| progress.update(&format!("endpoint {endpoint_id}: {seen}")),
    )
    .await;
    match result {
        Ok(Ok(endpoint)) => {
            progress.finish(&format!("endpoint {endpoint_id}: available"));
            Ok(endpoint)
        }
        Ok(Err(e)) => {
            progress.finish(&format!("endpoint {endpoint_id}: stopped waiting"));
            Err(e)
        }
        Err(WaitError::Failed(e)) => Err(e.into()),
        Err(WaitError::TimedOut {
            waited, last_seen, ..
        }) => {
            progress.finish(&format!("endpoint {endpoint_id}: still {last_seen}"));
            Err(ConsumerError::WaitTimedOut {
                endpoint_id: endpoint_id.to_string(),
                waited_secs: waited.as_secs(),
                last_seen,
                cleanup,
            })
        }
    }
}

/// The private IPs of the endpoint's network interfaces, by AZ name.
pub async fn addresses(
    ec2: &Client,
    endpoint: &EndpointInfo,
) -> Result<Vec<(String, String, IpAddr)>, ConsumerError> {
    if endpoint.network_interface_ids.is_empty() {
        return Ok(Vec::new());
    }
    let out = ec2
        .describe_network_interfaces()
        .set_network_interface_ids(Some(endpoint.network_interface_ids.clone()))
        .send()
        .await
        .aws("DescribeNetworkInterfaces")?;
    let mut ips: Vec<(String, String, IpAddr)> = out
        .network_interfaces()
        .iter()
        .filter_map(|n| {
            let ip = n.private_ip_address()?.parse().ok()?;
            Some((
                n.availability_zone().unwrap_or_default().to_string(),
                n.subnet_id().unwrap_or_default().to_string(),
                ip,
            ))
        })
        .collect();
    ips.sort();
    Ok(ips)
}

/// Turns on private DNS (after acceptance; AWS refuses it before).
pub async fn enable_private_dns(ec2: &Client, endpoint_id: &str) -> Result<(), ConsumerError> {
    ec2.modify_vpc_endpoint()
        .vpc_endpoint_id(endpoint_id)
        .private_dns_enabled(true)
        .send()
        .await
        .aws("ModifyVpcEndpoint")?;
    Ok(())
}

/// Writes one tag on the endpoint (the last verification).
pub async fn set_tag(
    ec2: &Client,
    endpoint_id: &str,
    key: &str,
    value: &str,
) -> Result<(), ConsumerError> {
    ec2.create_tags()
        .resources(endpoint_id)
        .tags(Tag::builder().key(key).value(value).build())
        .send()
        .await
        .aws("CreateTags")?;
    Ok(())
}

/// Deletes the endpoint and waits until it is gone, showing its state.
/// Gone already is fine.
pub async fn delete(
    ec2: &Client,
    endpoint_id: &str,
    timeout: Duration,
    progress: &mut Progress,
) -> Result<(), ConsumerError> {
    let out = ec2
        .delete_vpc_endpoints()
        .vpc_endpoint_ids(endpoint_id)
        .send()
        .await
        .aws("DeleteVpcEndpoints")?;
    if let Some(item) = out.unsuccessful().first() {
        let code = item.error().and_then(|e| e.code()).unwrap_or("unknown");
        if !code.ends_with("NotFound") {
            return Err(ConsumerError::Aws(AwsError {
                operation: "DeleteVpcEndpoints",
                kind: privatelink_core::errors::ErrorKind::from_code(code),
                code: Some(code.to_string()),
                message: item.error().and_then(|e| e.message()).map(str::to_string),
                http_status: None,
                detail: format!("{endpoint_id}: {code}"),
            }));
        }
    }
    let backoff = Backoff {
        first: POLL_FIRST,
        max: Duration::from_secs(5),
        timeout,
    };
    let result = wait::until(
        &format!("endpoint {endpoint_id} to be deleted"),
        backoff,
        || async {
            Ok(match describe(ec2, endpoint_id).await? {
                None => Poll::Ready(()),
                Some(e) if e.state == EndpointState::Deleted => Poll::Ready(()),
                Some(e) => Poll::NotYet(e.state.to_string()),
            })
        },
        |seen| progress.update(&format!("endpoint {endpoint_id}: {seen}")),
    )
    .await;
    match result {
        Ok(()) => {
            progress.finish(&format!("endpoint {endpoint_id}: deleted"));
            Ok(())
        }
        Err(WaitError::Failed(e)) => Err(ConsumerError::Aws(e)),
        Err(WaitError::TimedOut { what, waited, .. }) => Err(ConsumerError::Timeout {
            what,
            waited_secs: waited.as_secs(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, zone: &str) -> DnsEntry {
        DnsEntry {
            dns_name: name.into(),
            hosted_zone_id: zone.into(),
        }
    }

    #[test]
    fn regional_entry_is_chosen_by_shape_not_position() {
        let id = "vpce-0a1b";
        let entries = [
            entry(
                "vpce-0a1b-xyz-us-east-1a.vpce-svc-1.us-east-1.vpce.amazonaws.com",
                "Z1",
            ),
            entry("api.vendor.com", "Z9"),
            entry(
                "vpce-0a1b-xyz.vpce-svc-1.us-east-1.vpce.amazonaws.com",
                "Z1",
            ),
            entry(
                "vpce-0a1b-xyz-us-east-1b.vpce-svc-1.us-east-1.vpce.amazonaws.com",
                "Z1",
            ),
        ];
        let regional = regional_entry(id, &entries).unwrap();
        assert_eq!(
            regional.dns_name,
            "vpce-0a1b-xyz.vpce-svc-1.us-east-1.vpce.amazonaws.com"
        );
        assert!(regional_entry(id, &entries[1..2]).is_none());
    }
}

//! The VPC endpoint service (acceptance required, allowed principals,
//! optional private DNS name), its connection notification, and its
//! connections (listed for `status` and `down`; `down --force` rejects
//! them through the shared approval path, not here).

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_sdk_ec2::Client;

use super::StackTags;
use crate::approval::reconcile::list_connections_detailed;
use crate::approval::Listed;
use crate::naming::{StackName, STACK_TAG};
use crate::provision::observe::{NotificationObs, PrivateDnsObs, ServiceObs};
use crate::provision::policy::CONNECTION_EVENTS;
use crate::provision::{aws_err, is_missing, ProvisionError};
use crate::state::EndpointState;

/// A deterministic idempotency token (EC2 `ClientToken`, at most 64 ASCII
/// characters) from the stack name and what the request is about: a retry
/// after a lost response returns the first result instead of a duplicate.
pub fn client_token(stack: &StackName, what: &str, key: &str) -> String {
    // FNV-1a, 64 bits: stable across runs and platforms.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{stack}-{what}-{hash:016x}")
}

fn service_obs(
    s: &aws_sdk_ec2::types::ServiceConfiguration,
    principals: BTreeSet<String>,
) -> Option<ServiceObs> {
    Some(ServiceObs {
        id: s.service_id()?.to_string(),
        name: s.service_name().unwrap_or_default().to_string(),
        state: s
            .service_state()
            .map(|x| x.as_str().to_string())
            .unwrap_or_default(),
        acceptance_required: s.acceptance_required().unwrap_or(false),
        load_balancer_arns: s.network_load_balancer_arns().iter().cloned().collect(),
        zone_names: s.availability_zones().to_vec(),
        zone_ids: s.availability_zone_ids().to_vec(),
        principals,
        private_dns_name: s.private_dns_name().map(str::to_string),
        private_dns: s.private_dns_name_configuration().map(|c| PrivateDnsObs {
            state: c.state().map(|x| x.as_str().to_string()),
            record_type: c.r#type().map(str::to_string),
            name: c.name().map(str::to_string),
            value: c.value().map(str::to_string),
        }),
        supported_regions: s
            .supported_regions()
            .iter()
            .filter_map(|r| r.region().map(str::to_string))
            .collect(),
    })
}

/// The service's allowed principals.
pub async fn principals(
    ec2: &Client,
    service_id: &str,
) -> Result<BTreeSet<String>, ProvisionError> {
    let mut out = BTreeSet::new();
    let mut pages = ec2
        .describe_vpc_endpoint_service_permissions()
        .service_id(service_id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws_err(
            "DescribeVpcEndpointServicePermissions",
            service_id.to_string(),
        ))?;
        out.extend(
            page.allowed_principals()
                .iter()
                .filter_map(|p| p.principal().map(str::to_string)),
        );
    }
    Ok(out)
}

/// The stack's endpoint service, found by its tag.
pub async fn find_service(
    ec2: &Client,
    stack: &StackName,
) -> Result<Option<ServiceObs>, ProvisionError> {
    // All pages: with a filter, EC2 may return the match on a later page.
    let mut configurations = Vec::new();
    let mut pages = ec2
        .describe_vpc_endpoint_service_configurations()
        .filters(
            Filter::builder()
                .name(format!("tag:{STACK_TAG}"))
                .values(stack.as_str())
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws_err(
            "DescribeVpcEndpointServiceConfigurations",
            format!("service of stack {stack}"),
        ))?;
        configurations.extend(page.service_configurations().iter().cloned());
    }
    let live: Vec<_> = configurations
        .iter()
        .filter(|s| {
            !matches!(
                s.service_state()
                    .map(|x| x.as_str().to_ascii_lowercase())
                    .as_deref(),
                Some("deleted" | "deleting")
            )
        })
        .collect();
    if live.len() > 1 {
        let ids: Vec<&str> = live.iter().filter_map(|s| s.service_id()).collect();
        return Err(ProvisionError::Refused(format!(
            "several endpoint services are tagged {STACK_TAG}={stack} ({}): delete the extra ones, then run again",
            ids.join(", ")
        )));
    }
    let Some(config) = live.first() else {
        return Ok(None);
    };
    let id = config.service_id().unwrap_or_default();
    let principals = principals(ec2, id).await?;
    Ok(service_obs(config, principals))
}

/// Creates the endpoint service on the load balancer, acceptance
/// required, tagged; the token makes a retried create return the same one.
pub async fn create_service(
    ec2: &Client,
    tags: &StackTags,
    lb_arn: &str,
) -> Result<ServiceObs, ProvisionError> {
    let mut spec = TagSpecification::builder().resource_type(ResourceType::VpcEndpointService);
    for (k, v) in tags.pairs() {
        spec = spec.tags(Tag::builder().key(k).value(v).build());
    }
    let out = ec2
        .create_vpc_endpoint_service_configuration()
        .acceptance_required(true)
        .network_load_balancer_arns(lb_arn)
        .tag_specifications(spec.build())
        .client_token(client_token(&tags.stack, "svc", lb_arn))
        .send()
        .await
        .map_err(aws_err(
            "CreateVpcEndpointServiceConfiguration",
            format!("service on {lb_arn}"),
        ))?;
    out.service_configuration()
        .and_then(|s| service_obs(s, BTreeSet::new()))
        .ok_or(ProvisionError::Missing {
            operation: "CreateVpcEndpointServiceConfiguration",
            field: "ServiceConfiguration",
        })
}

/// Requires acceptance and attaches the load balancer (if missing).
pub async fn set_service(
    ec2: &Client,
    service_id: &str,
    add_lb: Option<&str>,
) -> Result<(), ProvisionError> {
    ec2.modify_vpc_endpoint_service_configuration()
        .service_id(service_id)
        .acceptance_required(true)
        .set_add_network_load_balancer_arns(add_lb.map(|a| vec![a.to_string()]))
        .send()
        .await
        .map(drop)
        .map_err(aws_err(
            "ModifyVpcEndpointServiceConfiguration",
            service_id.to_string(),
        ))
}

/// Adds and removes the regions whose consumers may connect (cross-region
/// PrivateLink); no call when both lists are empty.
pub async fn set_supported_regions(
    ec2: &Client,
    service_id: &str,
    add: &[String],
    remove: &[String],
) -> Result<(), ProvisionError> {
    if add.is_empty() && remove.is_empty() {
        return Ok(());
    }
    ec2.modify_vpc_endpoint_service_configuration()
        .service_id(service_id)
        .set_add_supported_regions((!add.is_empty()).then(|| add.to_vec()))
        .set_remove_supported_regions((!remove.is_empty()).then(|| remove.to_vec()))
        .send()
        .await
        .map(drop)
        .map_err(aws_err(
            "ModifyVpcEndpointServiceConfiguration",
            format!("supported regions of {service_id}"),
        ))
}

/// The most principals one `ModifyVpcEndpointServicePermissions` call adds
/// or removes. ASSUMED: AWS documents no limit on the lists' length; 100
/// keeps each request small (about 4 KB of ARNs) and is the batch size the
/// rest of the kit uses (BatchGetItem, TransactWriteItems).
pub const PRINCIPALS_PER_CALL: usize = 100;

/// Adds and removes allowed principals, at most [`PRINCIPALS_PER_CALL`] of
/// each per call (10,000 tenants are 100 calls, not one request AWS may
/// refuse); no call when both lists are empty. A failure stops the run:
/// the batches before it stay applied, and running again finishes the job
/// (the plan compares with what the service then allows).
pub async fn set_principals(
    ec2: &Client,
    service_id: &str,
    add: &[String],
    remove: &[String],
) -> Result<(), ProvisionError> {
    let mut adds = add.chunks(PRINCIPALS_PER_CALL);
    let mut removes = remove.chunks(PRINCIPALS_PER_CALL);
    loop {
        let (add, remove) = (adds.next(), removes.next());
        if add.is_none() && remove.is_none() {
            return Ok(());
        }
        ec2.modify_vpc_endpoint_service_permissions()
            .service_id(service_id)
            .set_add_allowed_principals(add.map(<[String]>::to_vec))
            .set_remove_allowed_principals(remove.map(<[String]>::to_vec))
            .send()
            .await
            .map_err(aws_err(
                "ModifyVpcEndpointServicePermissions",
                service_id.to_string(),
            ))?;
    }
}

/// Sets (or removes) the service's private DNS name.
pub async fn set_private_dns(
    ec2: &Client,
    service_id: &str,
    name: Option<&str>,
) -> Result<(), ProvisionError> {
    let call = ec2
        .modify_vpc_endpoint_service_configuration()
        .service_id(service_id);
    let call = match name {
        Some(name) => call.private_dns_name(name),
        None => call.remove_private_dns_name(true),
    };
    call.send().await.map(drop).map_err(aws_err(
        "ModifyVpcEndpointServiceConfiguration",
        format!("{service_id} private DNS name"),
    ))
}

/// The service's private DNS name verification as EC2 reports it now.
pub async fn private_dns_state(
    ec2: &Client,
    service_id: &str,
) -> Result<Option<PrivateDnsObs>, ProvisionError> {
    let out = ec2
        .describe_vpc_endpoint_service_configurations()
        .service_ids(service_id)
        .send()
        .await
        .map_err(aws_err(
            "DescribeVpcEndpointServiceConfigurations",
            service_id.to_string(),
        ))?;
    Ok(out
        .service_configurations()
        .first()
        .and_then(|s| service_obs(s, BTreeSet::new()))
        .and_then(|s| s.private_dns))
}

/// Asks EC2 to check the private DNS name's TXT record (domain ownership),
/// which consumers need before they can use the name.
pub async fn start_private_dns_verification(
    ec2: &Client,
    service_id: &str,
) -> Result<(), ProvisionError> {
    ec2.start_vpc_endpoint_service_private_dns_verification()
        .service_id(service_id)
        .send()
        .await
        .map(drop)
        .map_err(aws_err(
            "StartVpcEndpointServicePrivateDnsVerification",
            service_id.to_string(),
        ))
}

/// The service's connection notification (the first one, if several).
pub async fn find_notification(
    ec2: &Client,
    service_id: &str,
) -> Result<Option<NotificationObs>, ProvisionError> {
    let out = ec2
        .describe_vpc_endpoint_connection_notifications()
        .filters(
            Filter::builder()
                .name("service-id")
                .values(service_id)
                .build(),
        )
        .send()
        .await
        .map_err(aws_err(
            "DescribeVpcEndpointConnectionNotifications",
            service_id.to_string(),
        ))?;
    Ok(out.connection_notification_set().iter().find_map(|n| {
        Some(NotificationObs {
            id: n.connection_notification_id()?.to_string(),
            topic_arn: n
                .connection_notification_arn()
                .unwrap_or_default()
                .to_string(),
            events: n.connection_events().iter().cloned().collect(),
            state: n
                .connection_notification_state()
                .map(|s| s.as_str().to_string()),
        })
    }))
}

fn events() -> Vec<String> {
    CONNECTION_EVENTS.iter().map(|e| e.to_string()).collect()
}

/// Creates the notification for Connect, Accept, Reject and Delete.
pub async fn create_notification(
    ec2: &Client,
    stack: &StackName,
    service_id: &str,
    topic_arn: &str,
) -> Result<NotificationObs, ProvisionError> {
    let out = ec2
        .create_vpc_endpoint_connection_notification()
        .service_id(service_id)
        .connection_notification_arn(topic_arn)
        .set_connection_events(Some(events()))
        .client_token(client_token(
            stack,
            "nfn",
            &format!("{service_id} {topic_arn}"),
        ))
        .send()
        .await
        .map_err(aws_err(
            "CreateVpcEndpointConnectionNotification",
            service_id.to_string(),
        ))?;
    let n = out
        .connection_notification()
        .ok_or(ProvisionError::Missing {
            operation: "CreateVpcEndpointConnectionNotification",
            field: "ConnectionNotification",
        })?;
    Ok(NotificationObs {
        id: n
            .connection_notification_id()
            .unwrap_or_default()
            .to_string(),
        topic_arn: topic_arn.to_string(),
        events: events().into_iter().collect(),
        state: n
            .connection_notification_state()
            .map(|s| s.as_str().to_string()),
    })
}

/// Points the notification at the topic with all four events.
pub async fn set_notification(
    ec2: &Client,
    id: &str,
    topic_arn: &str,
) -> Result<(), ProvisionError> {
    ec2.modify_vpc_endpoint_connection_notification()
        .connection_notification_id(id)
        .connection_notification_arn(topic_arn)
        .set_connection_events(Some(events()))
        .send()
        .await
        .map(drop)
        .map_err(aws_err(
            "ModifyVpcEndpointConnectionNotification",
            id.to_string(),
        ))
}

/// Deletes the connection notification; gone already is fine, and a
/// refusal reported per item in `Unsuccessful` is an error (the call itself
/// succeeds in that case).
pub async fn delete_notification(ec2: &Client, id: &str) -> Result<(), ProvisionError> {
    let out = ec2
        .delete_vpc_endpoint_connection_notifications()
        .connection_notification_ids(id)
        .send()
        .await
        .map_err(aws_err(
            "DeleteVpcEndpointConnectionNotifications",
            id.to_string(),
        ));
    let out = match out {
        Err(ProvisionError::Aws { error, .. }) if is_missing(&error) => return Ok(()),
        other => other?,
    };
    unsuccessful_is_error(out.unsuccessful(), "connection notification", id)
}

/// The first `Unsuccessful` item that is not "already gone", as an error.
fn unsuccessful_is_error(
    items: &[aws_sdk_ec2::types::UnsuccessfulItem],
    what: &str,
    id: &str,
) -> Result<(), ProvisionError> {
    for item in items {
        let code = item.error().and_then(|e| e.code()).unwrap_or_default();
        if code.ends_with("NotFound") {
            continue;
        }
        let message = item.error().and_then(|e| e.message()).unwrap_or_default();
        return Err(ProvisionError::Refused(format!(
            "{what} {id} was not deleted: {code}: {message}"
        )));
    }
    Ok(())
}

/// One connection as `status` and `down` show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConnectionObs {
    pub endpoint_id: String,
    pub owner: Option<String>,
    pub state: EndpointState,
    /// Seconds since the epoch.
    pub created: Option<i64>,
}

impl ConnectionObs {
    pub fn from_listed(l: &Listed) -> ConnectionObs {
        ConnectionObs {
            endpoint_id: l.connection.endpoint_id.clone(),
            owner: l.connection.owner.clone(),
            state: l
                .connection
                .state
                .clone()
                .unwrap_or_else(|| EndpointState::Other("unknown".into())),
            created: l.created.map(|t| t.secs()),
        }
    }
}

/// Every connection of the service (all pages) with its connection id and
/// recorded decision: the same listing the approver and the operator
/// commands use.
pub async fn listed(ec2: &Client, service_id: &str) -> Result<Vec<Listed>, ProvisionError> {
    let (listed, _pages) = list_connections_detailed(ec2, service_id)
        .await
        .map_err(|e| ProvisionError::Aws {
            resource: service_id.to_string(),
            error: e.aws_error().clone(),
        })?;
    Ok(listed)
}

/// Every connection of the service (all pages), as `status` shows it.
pub async fn connections(
    ec2: &Client,
    service_id: &str,
) -> Result<Vec<ConnectionObs>, ProvisionError> {
    Ok(listed(ec2, service_id)
        .await?
        .iter()
        .map(ConnectionObs::from_listed)
        .collect())
}

/// Deletes the endpoint service. Connections still live make AWS refuse
/// (`ExistingVpcEndpointConnections`), reported as such.
pub async fn delete_service(ec2: &Client, service_id: &str) -> Result<(), ProvisionError> {
    let out = ec2
        .delete_vpc_endpoint_service_configurations()
        .service_ids(service_id)
        .send()
        .await
        .map_err(aws_err(
            "DeleteVpcEndpointServiceConfigurations",
            service_id.to_string(),
        ));
    let out = match out {
        Err(ProvisionError::Aws { error, .. }) if is_missing(&error) => return Ok(()),
        other => other?,
    };
    unsuccessful_is_error(out.unsuccessful(), "endpoint service", service_id)
}

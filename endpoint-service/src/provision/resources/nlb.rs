//! The internal Network Load Balancer, its target groups (one per service
//! port, with health check and targets) and TCP listeners. Found by their
//! deterministic names, and only used when they carry the stack's tag.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
    ProtocolEnum, Tag, TargetDescription, TargetGroupAttribute, TargetTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;

use super::{not_ours, owned_by, StackTags};
use crate::naming::StackName;
use crate::provision::observe::{
    HealthCheckObs, ListenerObs, LoadBalancerObs, TargetGroupObs, TargetObs,
};
use crate::provision::spec::{HealthCheckSpec, TargetKind};
use crate::provision::{aws_err, gone_is_ok, missing_as_none, ProvisionError};
use privatelink_core::cli::progress::Progress;

/// The load balancer attribute for cross-zone load balancing (off by
/// default on NLBs; on here so every AZ's endpoint reaches every target).
pub const CROSS_ZONE: &str = "load_balancing.cross_zone.enabled";

/// The target group attribute that makes the NLB prepend a PROXY protocol
/// v2 header, with the VPC endpoint id TLV for PrivateLink traffic, to every
/// connection (and health check) it sends to the targets (ELB guide, "Edit
/// target group attributes", proxy protocol). Off by default.
pub const PROXY_PROTOCOL_V2: &str = "proxy_protocol_v2.enabled";

fn elb_tags(tags: &StackTags) -> Vec<Tag> {
    tags.pairs()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Tags of up to 20 resources per call, by ARN.
async fn tags_of(
    elb: &Client,
    arns: &[String],
) -> Result<BTreeMap<String, Vec<(String, String)>>, ProvisionError> {
    let mut out = BTreeMap::new();
    for chunk in arns.chunks(20) {
        let described = elb
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(aws_err("DescribeTags", chunk.join(",")))?;
        for d in described.tag_descriptions() {
            let pairs = d
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            out.insert(d.resource_arn().unwrap_or_default().to_string(), pairs);
        }
    }
    Ok(out)
}

fn is_owned(tags: &BTreeMap<String, Vec<(String, String)>>, arn: &str, stack: &StackName) -> bool {
    tags.get(arn).is_some_and(|pairs| {
        owned_by(
            pairs
                .iter()
                .map(|(k, v)| (Some(k.as_str()), Some(v.as_str()))),
            stack,
        )
    })
}

/// The load balancer, the stack's target groups (by name prefix) and the
/// load balancer's listeners.
pub async fn find_all(
    elb: &Client,
    stack: &StackName,
) -> Result<
    (
        Option<LoadBalancerObs>,
        Vec<TargetGroupObs>,
        Vec<ListenerObs>,
    ),
    ProvisionError,
> {
    let name = stack.load_balancer();
    let lb = missing_as_none(
        elb.describe_load_balancers()
            .names(&name)
            .send()
            .await
            .map_err(aws_err("DescribeLoadBalancers", name.clone())),
    )?
    .and_then(|out| out.load_balancers().first().cloned());

    let prefix = format!("{stack}-tg-");
    let mut groups = Vec::new();
    let mut pages = elb.describe_target_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws_err("DescribeTargetGroups", format!("{prefix}*")))?;
        for tg in page.target_groups() {
            let Some(port) = tg
                .target_group_name()
                .and_then(|n| n.strip_prefix(&prefix))
                .and_then(|p| p.parse::<u16>().ok())
            else {
                continue;
            };
            groups.push((port, tg.clone()));
        }
    }

    let mut arns: Vec<String> = groups
        .iter()
        .filter_map(|(_, tg)| tg.target_group_arn().map(str::to_string))
        .collect();
    if let Some(arn) = lb.as_ref().and_then(|l| l.load_balancer_arn()) {
        arns.push(arn.to_string());
    }
    let tags = if arns.is_empty() {
        BTreeMap::new()
    } else {
        tags_of(elb, &arns).await?
    };

    let load_balancer = match lb {
        None => None,
        Some(lb) => {
            let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
            if !is_owned(&tags, &arn, stack) {
                return Err(not_ours("load balancer", &name, stack));
            }
            let attributes = elb
                .describe_load_balancer_attributes()
                .load_balancer_arn(&arn)
                .send()
                .await
                .map_err(aws_err("DescribeLoadBalancerAttributes", arn.clone()))?;
            let cross_zone = attributes
                .attributes()
                .iter()
                .any(|a| a.key() == Some(CROSS_ZONE) && a.value() == Some("true"));
            Some(LoadBalancerObs {
                name: name.clone(),
                state: lb
                    .state()
                    .and_then(|s| s.code())
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default(),
                scheme: lb
                    .scheme()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                subnet_ids: lb
                    .availability_zones()
                    .iter()
                    .filter_map(|z| z.subnet_id().map(str::to_string))
                    .collect(),
                zone_names: lb
                    .availability_zones()
                    .iter()
                    .filter_map(|z| z.zone_name().map(str::to_string))
                    .collect(),
                cross_zone,
                arn,
            })
        }
    };

    let mut target_groups = Vec::new();
    for (port, tg) in groups {
        let arn = tg.target_group_arn().unwrap_or_default().to_string();
        let name = tg.target_group_name().unwrap_or_default().to_string();
        if !is_owned(&tags, &arn, stack) {
            return Err(not_ours("target group", &name, stack));
        }
        let health = elb
            .describe_target_health()
            .target_group_arn(&arn)
            .send()
            .await
            .map_err(aws_err("DescribeTargetHealth", name.clone()))?;
        let attributes = elb
            .describe_target_group_attributes()
            .target_group_arn(&arn)
            .send()
            .await
            .map_err(aws_err("DescribeTargetGroupAttributes", name.clone()))?;
        let proxy_protocol_v2 = attributes
            .attributes()
            .iter()
            .any(|a| a.key() == Some(PROXY_PROTOCOL_V2) && a.value() == Some("true"));
        let targets = health
            .target_health_descriptions()
            .iter()
            .filter_map(|d| {
                let target = d.target()?;
                Some(TargetObs {
                    id: target.id()?.to_string(),
                    port: target
                        .port()
                        .and_then(|p| u16::try_from(p).ok())
                        .unwrap_or(0),
                    health: d
                        .target_health()
                        .and_then(|h| h.state())
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "unknown".into()),
                    reason: d
                        .target_health()
                        .and_then(|h| h.description().or(h.reason().map(|r| r.as_str())))
                        .map(str::to_string),
                })
            })
            .collect();
        target_groups.push(TargetGroupObs {
            port,
            target_type: tg
                .target_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            health_check: HealthCheckObs {
                protocol: tg
                    .health_check_protocol()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default(),
                port: tg.health_check_port().unwrap_or("traffic-port").to_string(),
                path: tg.health_check_path().map(str::to_string),
                interval_seconds: tg.health_check_interval_seconds().unwrap_or_default(),
                healthy_threshold: tg.healthy_threshold_count().unwrap_or_default(),
                unhealthy_threshold: tg.unhealthy_threshold_count().unwrap_or_default(),
            },
            proxy_protocol_v2,
            targets,
            arn,
            name,
        });
    }
    target_groups.sort_by_key(|t| t.port);

    let listeners = match &load_balancer {
        None => Vec::new(),
        Some(lb) => {
            let out = elb
                .describe_listeners()
                .load_balancer_arn(&lb.arn)
                .send()
                .await
                .map_err(aws_err("DescribeListeners", lb.name.clone()))?;
            let mut listeners: Vec<ListenerObs> = out
                .listeners()
                .iter()
                .filter_map(|l| {
                    Some(ListenerObs {
                        arn: l.listener_arn()?.to_string(),
                        port: u16::try_from(l.port()?).ok()?,
                        target_group_arn: l
                            .default_actions()
                            .iter()
                            .find_map(|a| a.target_group_arn().map(str::to_string)),
                    })
                })
                .collect();
            listeners.sort_by_key(|l| l.port);
            listeners
        }
    };
    Ok((load_balancer, target_groups, listeners))
}

/// True when the observed health check is the one the spec asks for.
pub fn health_check_matches(observed: &HealthCheckObs, spec: &HealthCheckSpec) -> bool {
    let port = spec
        .port
        .map(|p| p.to_string())
        .unwrap_or_else(|| "traffic-port".into());
    observed
        .protocol
        .eq_ignore_ascii_case(spec.protocol.as_str())
        && observed.port == port
        && (spec.path.is_none() || observed.path == spec.path)
        && observed.interval_seconds == i32::from(spec.interval_seconds)
        && observed.healthy_threshold == i32::from(spec.healthy_threshold)
        && observed.unhealthy_threshold == i32::from(spec.unhealthy_threshold)
}

/// Creates the target group of one service port (TCP), tagged.
pub async fn create_target_group(
    elb: &Client,
    tags: &StackTags,
    port: u16,
    vpc_id: &str,
    kind: TargetKind,
    health: &HealthCheckSpec,
) -> Result<String, ProvisionError> {
    let name = tags.stack.target_group(port);
    let out = elb
        .create_target_group()
        .name(&name)
        .protocol(ProtocolEnum::Tcp)
        .port(i32::from(port))
        .vpc_id(vpc_id)
        .target_type(TargetTypeEnum::from(kind.as_str()))
        .health_check_enabled(true)
        .health_check_protocol(ProtocolEnum::from(health.protocol.as_str()))
        .health_check_port(
            health
                .port
                .map(|p| p.to_string())
                .unwrap_or_else(|| "traffic-port".into()),
        )
        .set_health_check_path(health.path.clone())
        .health_check_interval_seconds(i32::from(health.interval_seconds))
        .healthy_threshold_count(i32::from(health.healthy_threshold))
        .unhealthy_threshold_count(i32::from(health.unhealthy_threshold))
        .set_tags(Some(elb_tags(tags)))
        .send()
        .await
        .map_err(aws_err("CreateTargetGroup", name.clone()))?;
    out.target_groups()
        .first()
        .and_then(|t| t.target_group_arn())
        .map(str::to_string)
        .ok_or(ProvisionError::Missing {
            operation: "CreateTargetGroup",
            field: "TargetGroupArn",
        })
}

/// Sets a target group's health check to the spec's.
pub async fn set_health_check(
    elb: &Client,
    arn: &str,
    health: &HealthCheckSpec,
) -> Result<(), ProvisionError> {
    elb.modify_target_group()
        .target_group_arn(arn)
        .health_check_enabled(true)
        .health_check_protocol(ProtocolEnum::from(health.protocol.as_str()))
        .health_check_port(
            health
                .port
                .map(|p| p.to_string())
                .unwrap_or_else(|| "traffic-port".into()),
        )
        .set_health_check_path(health.path.clone())
        .health_check_interval_seconds(i32::from(health.interval_seconds))
        .healthy_threshold_count(i32::from(health.healthy_threshold))
        .unhealthy_threshold_count(i32::from(health.unhealthy_threshold))
        .send()
        .await
        .map(drop)
        .map_err(aws_err("ModifyTargetGroup", arn.to_string()))
}

/// Turns PROXY protocol v2 on or off for a target group's new connections.
pub async fn set_proxy_protocol_v2(
    elb: &Client,
    arn: &str,
    enabled: bool,
) -> Result<(), ProvisionError> {
    elb.modify_target_group_attributes()
        .target_group_arn(arn)
        .attributes(
            TargetGroupAttribute::builder()
                .key(PROXY_PROTOCOL_V2)
                .value(enabled.to_string())
                .build(),
        )
        .send()
        .await
        .map(drop)
        .map_err(aws_err("ModifyTargetGroupAttributes", arn.to_string()))
}

fn descriptions(targets: &[(String, u16)]) -> Vec<TargetDescription> {
    targets
        .iter()
        .map(|(id, port)| {
            TargetDescription::builder()
                .id(id)
                .port(i32::from(*port))
                .build()
        })
        .collect()
}

/// Registers and deregisters targets (registering is idempotent in AWS).
pub async fn set_targets(
    elb: &Client,
    arn: &str,
    register: &[(String, u16)],
    deregister: &[(String, u16)],
) -> Result<(), ProvisionError> {
    if !register.is_empty() {
        elb.register_targets()
            .target_group_arn(arn)
            .set_targets(Some(descriptions(register)))
            .send()
            .await
            .map_err(aws_err("RegisterTargets", arn.to_string()))?;
    }
    if !deregister.is_empty() {
        elb.deregister_targets()
            .target_group_arn(arn)
            .set_targets(Some(descriptions(deregister)))
            .send()
            .await
            .map_err(aws_err("DeregisterTargets", arn.to_string()))?;
    }
    Ok(())
}

/// Creates the internal NLB in `subnet_ids`, tagged, and waits until it is
/// active.
pub async fn create_load_balancer(
    elb: &Client,
    tags: &StackTags,
    subnet_ids: &[String],
    progress: &Progress,
) -> Result<String, ProvisionError> {
    let name = tags.stack.load_balancer();
    let out = elb
        .create_load_balancer()
        .name(&name)
        .r#type(LoadBalancerTypeEnum::Network)
        .scheme(LoadBalancerSchemeEnum::Internal)
        .set_subnets(Some(subnet_ids.to_vec()))
        .set_tags(Some(elb_tags(tags)))
        .send()
        .await
        .map_err(aws_err("CreateLoadBalancer", name.clone()))?;
    let arn = out
        .load_balancers()
        .first()
        .and_then(|l| l.load_balancer_arn())
        .map(str::to_string)
        .ok_or(ProvisionError::Missing {
            operation: "CreateLoadBalancer",
            field: "LoadBalancerArn",
        })?;
    wait_active(elb, &arn, &name, progress).await?;
    Ok(arn)
}

/// Waits for `provisioning` to end with the SDK's `load_balancer_available`
/// waiter (ELBv2's own acceptors: every load balancer `active`; retry while
/// `provisioning` or not yet found).
async fn wait_active(
    elb: &Client,
    arn: &str,
    name: &str,
    progress: &Progress,
) -> Result<(), ProvisionError> {
    use aws_sdk_elasticloadbalancingv2::client::Waiters;
    const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);
    let what = format!("load balancer {name} to be active");
    progress.waiting(&what, "provisioning");
    elb.wait_until_load_balancer_available()
        .load_balancer_arns(arn)
        .wait(TIMEOUT)
        .await
        .map(drop)
        .map_err(|e| ProvisionError::Timeout {
            what,
            waited_seconds: TIMEOUT.as_secs(),
            last_seen: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
        })
}

/// Turns cross-zone load balancing on.
pub async fn set_cross_zone(elb: &Client, arn: &str) -> Result<(), ProvisionError> {
    elb.modify_load_balancer_attributes()
        .load_balancer_arn(arn)
        .attributes(
            LoadBalancerAttribute::builder()
                .key(CROSS_ZONE)
                .value("true")
                .build(),
        )
        .send()
        .await
        .map(drop)
        .map_err(aws_err("ModifyLoadBalancerAttributes", arn.to_string()))
}

/// Sets the load balancer's subnets (NLBs can add AZs).
pub async fn set_subnets(
    elb: &Client,
    arn: &str,
    subnet_ids: &[String],
) -> Result<(), ProvisionError> {
    elb.set_subnets()
        .load_balancer_arn(arn)
        .set_subnets(Some(subnet_ids.to_vec()))
        .send()
        .await
        .map(drop)
        .map_err(aws_err("SetSubnets", arn.to_string()))
}

fn forward(target_group_arn: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group_arn)
        .build()
}

/// Creates the TCP listener of one port, forwarding to its target group.
pub async fn create_listener(
    elb: &Client,
    tags: &StackTags,
    lb_arn: &str,
    port: u16,
    target_group_arn: &str,
) -> Result<String, ProvisionError> {
    let out = elb
        .create_listener()
        .load_balancer_arn(lb_arn)
        .protocol(ProtocolEnum::Tcp)
        .port(i32::from(port))
        .default_actions(forward(target_group_arn))
        .set_tags(Some(elb_tags(tags)))
        .send()
        .await
        .map_err(aws_err(
            "CreateListener",
            format!("listener on port {port}"),
        ))?;
    out.listeners()
        .first()
        .and_then(|l| l.listener_arn())
        .map(str::to_string)
        .ok_or(ProvisionError::Missing {
            operation: "CreateListener",
            field: "ListenerArn",
        })
}

/// Points a listener at a target group.
pub async fn set_listener_target(
    elb: &Client,
    arn: &str,
    target_group_arn: &str,
) -> Result<(), ProvisionError> {
    elb.modify_listener()
        .listener_arn(arn)
        .default_actions(forward(target_group_arn))
        .send()
        .await
        .map(drop)
        .map_err(aws_err("ModifyListener", arn.to_string()))
}

pub async fn delete_listener(elb: &Client, arn: &str) -> Result<(), ProvisionError> {
    gone_is_ok(
        elb.delete_listener()
            .listener_arn(arn)
            .send()
            .await
            .map(drop)
            .map_err(aws_err("DeleteListener", arn.to_string())),
    )
}

pub async fn delete_target_group(elb: &Client, arn: &str) -> Result<(), ProvisionError> {
    gone_is_ok(
        elb.delete_target_group()
            .target_group_arn(arn)
            .send()
            .await
            .map(drop)
            .map_err(aws_err("DeleteTargetGroup", arn.to_string())),
    )
}

/// Deletes the load balancer and waits until it is gone (the SDK waiter).
pub async fn delete_load_balancer(
    elb: &Client,
    arn: &str,
    progress: &Progress,
) -> Result<(), ProvisionError> {
    gone_is_ok(
        elb.delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await
            .map(drop)
            .map_err(aws_err("DeleteLoadBalancer", arn.to_string())),
    )?;
    use aws_sdk_elasticloadbalancingv2::client::Waiters;
    progress.waiting("the load balancer to be deleted", "deleting");
    elb.wait_until_load_balancers_deleted()
        .load_balancer_arns(arn)
        .wait(std::time::Duration::from_secs(600))
        .await
        .map(drop)
        .map_err(|e| ProvisionError::Timeout {
            what: format!("load balancer {arn} to be deleted"),
            waited_seconds: 600,
            last_seen: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
        })
}

/// The desired (target id, port) pairs of one service port.
pub fn desired_targets(
    ids: &[String],
    port: u16,
    target_port: Option<u16>,
) -> BTreeSet<(String, u16)> {
    ids.iter()
        .map(|id| (id.clone(), target_port.unwrap_or(port)))
        .collect()
}

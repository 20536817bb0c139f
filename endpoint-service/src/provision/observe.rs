//! Read-only discovery of everything a stack owns, with no local state:
//! EC2 resources by the ownership tag, the others by their deterministic
//! name plus a check of that tag (a same-named resource without it belongs
//! to someone else and is never touched).
//!
//! The `find_*` functions are public so that other commands (the
//! operator's accept/reject/allowlist commands, `status`) find the endpoint
//! service and the approver function from the stack name alone.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::resources::{
    approver, network, nlb, schedule, service, tenants_table, topic, verification_record,
};
use super::spec::NetworkSpec;
use super::{aws_err, registry_err, Clients, ProvisionError};
use crate::approval::tenant::now_epoch;
use crate::approval::Tenant;
use crate::naming::StackName;

/// One Availability Zone of the region, as this account names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Zone {
    pub name: String,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VpcObs {
    pub id: String,
    pub cidr: String,
    /// Created by this stack (carries its tag): `down` deletes it.
    pub owned: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SubnetObs {
    pub id: String,
    pub vpc_id: String,
    pub zone_name: String,
    pub zone_id: String,
    pub cidr: String,
    pub owned: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoadBalancerObs {
    pub arn: String,
    pub name: String,
    pub state: String,
    pub scheme: String,
    pub subnet_ids: BTreeSet<String>,
    pub zone_names: Vec<String>,
    pub cross_zone: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HealthCheckObs {
    pub protocol: String,
    /// `traffic-port` or a number.
    pub port: String,
    pub path: Option<String>,
    pub interval_seconds: i32,
    pub healthy_threshold: i32,
    pub unhealthy_threshold: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TargetObs {
    pub id: String,
    pub port: u16,
    pub health: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TargetGroupObs {
    pub arn: String,
    pub name: String,
    /// The service port this group belongs to (from its name).
    pub port: u16,
    pub target_type: String,
    pub health_check: HealthCheckObs,
    /// The attribute `proxy_protocol_v2.enabled` (off unless set).
    pub proxy_protocol_v2: bool,
    pub targets: Vec<TargetObs>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListenerObs {
    pub arn: String,
    pub port: u16,
    pub target_group_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PrivateDnsObs {
    pub state: Option<String>,
    pub record_type: Option<String>,
    pub name: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServiceObs {
    pub id: String,
    pub name: String,
    pub state: String,
    pub acceptance_required: bool,
    pub load_balancer_arns: BTreeSet<String>,
    pub zone_names: Vec<String>,
    pub zone_ids: Vec<String>,
    pub principals: BTreeSet<String>,
    pub private_dns_name: Option<String>,
    pub private_dns: Option<PrivateDnsObs>,
    /// The regions whose consumers may connect (`SupportedRegions`: AWS
    /// lists the home region too).
    pub supported_regions: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TopicObs {
    pub arn: String,
    pub policy: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NotificationObs {
    pub id: String,
    pub topic_arn: String,
    pub events: BTreeSet<String>,
    pub state: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoleObs {
    pub arn: String,
    pub trust: Option<Value>,
    /// The inline policy [`super::policy::ROLE_POLICY_NAME`].
    pub policy: Option<Value>,
    /// The ARN of the role's permissions boundary, if it has one.
    pub boundary: Option<String>,
}

/// The approver role's permissions boundary: a customer managed policy
/// named after the stack ([`crate::naming::StackName::boundary`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BoundaryObs {
    pub arn: String,
    /// The default version's document.
    pub document: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FunctionObs {
    pub arn: String,
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub role: Option<String>,
    pub architecture: Option<String>,
    pub code_sha256: Option<String>,
    pub environment: BTreeMap<String, String>,
    pub state: Option<String>,
    /// Statements of the function's resource policy, by Sid.
    pub permissions: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SubscriptionObs {
    pub arn: String,
    pub endpoint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleObs {
    pub arn: String,
    pub schedule: Option<String>,
    pub state: Option<String>,
    pub target_arns: Vec<String>,
}

/// The tenant registry's table ([`crate::naming::StackName::tenants_table`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TenantsTableObs {
    pub name: String,
    pub arn: String,
    /// DynamoDB's `TableStatus` (`ACTIVE`, `CREATING`, `DELETING`, ...).
    pub status: String,
    /// Point-in-time recovery is enabled.
    pub pitr: bool,
    pub tags: BTreeMap<String, String>,
}

/// The private DNS name's TXT verification record in a public Route 53
/// zone of the operator's account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerificationObs {
    pub zone_id: String,
    pub zone_name: String,
    /// Fully qualified, with a trailing dot.
    pub record_name: String,
    pub value: String,
    pub present: bool,
}

/// Everything found for one stack.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Observed {
    pub account: String,
    /// Who is running the command (GetCallerIdentity's ARN, read once with
    /// the account): `down --force` records it as the rejections' decider.
    #[serde(skip)]
    pub caller_arn: Option<String>,
    pub region: String,
    pub zones: Vec<Zone>,
    pub vpc: Option<VpcObs>,
    pub subnets: Vec<SubnetObs>,
    pub load_balancer: Option<LoadBalancerObs>,
    pub target_groups: Vec<TargetGroupObs>,
    pub listeners: Vec<ListenerObs>,
    pub service: Option<ServiceObs>,
    pub topic: Option<TopicObs>,
    pub notification: Option<NotificationObs>,
    /// Subscriptions of the topic (the approver's and any others).
    pub subscriptions: Vec<SubscriptionObs>,
    /// The approver role's permissions boundary policy.
    pub boundary: Option<BoundaryObs>,
    pub role: Option<RoleObs>,
    pub function: Option<FunctionObs>,
    pub rule: Option<RuleObs>,
    /// Only looked up when the service has a private DNS name.
    pub verification: Option<VerificationObs>,
    /// The tenant registry's table.
    pub tenants_table: Option<TenantsTableObs>,
    /// The registry's tenants (one Scan, all pages), read by
    /// [`observe_tenants`] for the commands that use them (`plan`, `up`,
    /// `status`), and only when the table exists.
    #[serde(skip)]
    pub tenants: Vec<Tenant>,
    /// When the tenants were read (seconds since the Unix epoch): who is
    /// entitled (unexpired) is judged at this moment, so the plan stays pure.
    pub now: i64,
}

impl Observed {
    /// The target group of a service port.
    pub fn target_group(&self, port: u16) -> Option<&TargetGroupObs> {
        self.target_groups.iter().find(|t| t.port == port)
    }

    /// The listener of a service port.
    pub fn listener(&self, port: u16) -> Option<&ListenerObs> {
        self.listeners.iter().find(|l| l.port == port)
    }

    /// The approver's subscription to the topic.
    pub fn approver_subscription(&self) -> Option<&SubscriptionObs> {
        let function = self.function.as_ref()?;
        self.subscriptions
            .iter()
            .find(|s| s.endpoint == function.arn)
    }

    /// True when nothing of the stack exists but, perhaps, its tenant
    /// registry (`down` keeps it unless asked: the tenants outlive the
    /// stack).
    pub fn is_empty(&self) -> bool {
        self.vpc.as_ref().is_none_or(|v| !v.owned)
            && !self.subnets.iter().any(|s| s.owned)
            && self.load_balancer.is_none()
            && self.target_groups.is_empty()
            && self.service.is_none()
            && self.topic.is_none()
            && self.boundary.is_none()
            && self.role.is_none()
            && self.function.is_none()
            && self.rule.is_none()
    }
}

/// The calling account id and the caller's ARN (one GetCallerIdentity):
/// the kit's one adapter for STS (`up` and `status` need the account, the
/// operator commands record who decided).
pub async fn caller(sts: &aws_sdk_sts::Client) -> Result<(String, Option<String>), ProvisionError> {
    let out = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(aws_err("GetCallerIdentity", "the calling account"))?;
    let account = out
        .account()
        .map(str::to_string)
        .ok_or(ProvisionError::Missing {
            operation: "GetCallerIdentity",
            field: "Account",
        })?;
    Ok((account, out.arn().map(str::to_string)))
}

/// Finds the stack's endpoint service by its ownership tag.
pub async fn find_service(
    ec2: &aws_sdk_ec2::Client,
    stack: &StackName,
) -> Result<Option<ServiceObs>, ProvisionError> {
    service::find_service(ec2, stack).await
}

/// Finds the stack's approver function by name, checking its tag.
pub async fn find_function(
    lambda: &aws_sdk_lambda::Client,
    stack: &StackName,
) -> Result<Option<FunctionObs>, ProvisionError> {
    approver::find_function(lambda, stack).await
}

/// Looks up the private DNS verification record when the service has a
/// private DNS name with its verification values (Route 53 calls only
/// then).
pub async fn observe_verification(
    clients: &Clients,
    observed: &mut Observed,
) -> Result<(), ProvisionError> {
    let Some(service) = &observed.service else {
        return Ok(());
    };
    let (Some(name), Some(dns)) = (&service.private_dns_name, &service.private_dns) else {
        return Ok(());
    };
    let (Some(record), Some(value)) = (&dns.name, &dns.value) else {
        return Ok(());
    };
    observed.verification =
        verification_record::find_record(&clients.route53, record, value, name).await?;
    Ok(())
}

/// Reads the registry's tenants (one Scan, all pages) when the stack's
/// table exists and is usable; records the moment as `observed.now`.
pub async fn observe_tenants(
    clients: &Clients,
    observed: &mut Observed,
) -> Result<(), ProvisionError> {
    observed.now = now_epoch();
    // A table being created or deleted cannot be read; the plan refuses
    // to go on with it (and says to wait).
    let Some(table) = observed
        .tenants_table
        .as_ref()
        .filter(|t| !matches!(t.status.as_str(), "CREATING" | "DELETING"))
    else {
        return Ok(());
    };
    let registry = privatelink_registry::Registry::new(clients.dynamodb.clone(), &table.name);
    observed.tenants = registry.list().await.map_err(registry_err)?;
    Ok(())
}

/// Observes everything the stack owns. `network` is the spec's network
/// (an existing VPC is looked up by id); `None` finds only what the stack
/// created (for `status` and `down` without a config file).
pub async fn observe(
    clients: &Clients,
    stack: &StackName,
    network: Option<&NetworkSpec>,
) -> Result<Observed, ProvisionError> {
    let (account, caller_arn) = caller(&clients.sts).await?;
    let boundary_arn = super::policy::boundary_arn(&clients.region, &account, stack);
    let (zones, (vpc, subnets), lb_parts, service, (boundary, role), function, rule, tenants_table) =
        tokio::try_join!(
            network::zones(&clients.ec2),
            network::find_network(&clients.ec2, stack, network),
            nlb::find_all(&clients.elbv2, stack),
            service::find_service(&clients.ec2, stack),
            async {
                tokio::try_join!(
                    approver::find_boundary(&clients.iam, stack, &boundary_arn),
                    approver::find_role(&clients.iam, stack),
                )
            },
            approver::find_function(&clients.lambda, stack),
            schedule::find_rule(&clients.events, stack),
            tenants_table::find_table(&clients.dynamodb, stack),
        )?;
    let (load_balancer, target_groups, listeners) = lb_parts;
    let topic_arn = format!(
        "arn:{}:sns:{}:{account}:{}",
        crate::arn::partition(&clients.region),
        clients.region,
        stack.topic()
    );
    let notification = match &service {
        Some(service) => service::find_notification(&clients.ec2, &service.id).await?,
        None => None,
    };
    let (topic, subscriptions) = topic::find_topic(&clients.sns, stack, &topic_arn).await?;
    Ok(Observed {
        account,
        caller_arn,
        region: clients.region.clone(),
        zones,
        vpc,
        subnets,
        load_balancer,
        target_groups,
        listeners,
        service,
        topic,
        notification,
        subscriptions,
        boundary,
        role,
        function,
        rule,
        verification: None,
        tenants_table,
        tenants: Vec::new(),
        now: now_epoch(),
    })
}

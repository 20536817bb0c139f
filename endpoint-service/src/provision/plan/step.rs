//! The plan's types: a [`Step`] is a [`Change`] (what `apply` executes,
//! with its data) and why; a [`Plan`] is the ordered steps of one stack.
//! How they print for people and serialize for `--output json`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::ser::SerializeStruct;

use super::super::spec::{Architecture, HealthCheckSpec, Ipv4Cidr, TargetKind};
use crate::approval::config::LEGACY_ENV_ALLOWLIST;
use crate::approval::AccountId;

/// The word people read first: what a step does to what it acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        })
    }
}

/// One change `apply` can make, with the data it executes. Ids that only
/// exist once an earlier step of the same run has created their resource
/// (the VPC, the target groups, the load balancer, the service, the topic,
/// the role, the function, the rule) are not in it: `apply` reads them from
/// the observation it keeps current.
///
/// Serialized (`plan --output json`) as the step's `resource`: `kind` names
/// what it acts on (the same kind for the create, update and delete of one
/// resource), beside the variant's data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind")]
pub enum Change {
    /// The tenant registry's DynamoDB table.
    #[serde(rename = "tenants_table")]
    CreateTenantsTable,
    #[serde(rename = "tenants_table_backups")]
    EnablePitr,
    #[serde(rename = "tenants_table_tags")]
    SetTenantsTableTags,
    /// New tenants of the registry, created active: the config's allowlist
    /// (seeds) and, once, a legacy `APPROVER_ALLOWLIST`.
    #[serde(rename = "tenants")]
    CreateTenants { accounts: Vec<AccountId> },
    #[serde(rename = "vpc")]
    CreateVpc { cidr: Ipv4Cidr },
    #[serde(rename = "subnet")]
    CreateSubnet {
        zone_name: String,
        zone_id: String,
        cidr: Ipv4Cidr,
    },
    #[serde(rename = "target_group")]
    CreateTargetGroup {
        port: u16,
        target_type: TargetKind,
        health_check: HealthCheckSpec,
    },
    #[serde(rename = "health_check")]
    SetHealthCheck {
        port: u16,
        health_check: HealthCheckSpec,
    },
    /// The target group attribute `proxy_protocol_v2.enabled` of a port:
    /// on with a `[gateway]` (the NLB then prepends a PROXY v2 header with
    /// the VPC endpoint's id to every connection), off without one.
    #[serde(rename = "proxy_protocol_v2")]
    SetProxyProtocolV2 { port: u16, enabled: bool },
    /// The targets of a target group created by this run.
    #[serde(rename = "targets")]
    RegisterTargets {
        port: u16,
        targets: Vec<(String, u16)>,
    },
    #[serde(rename = "targets")]
    UpdateTargets {
        port: u16,
        register: Vec<(String, u16)>,
        deregister: Vec<(String, u16)>,
    },
    /// In the stack's subnets, those this run creates included.
    #[serde(rename = "load_balancer")]
    CreateLoadBalancer,
    #[serde(rename = "load_balancer_subnets")]
    SetLoadBalancerSubnets,
    #[serde(rename = "cross_zone")]
    EnableCrossZone,
    #[serde(rename = "listener")]
    CreateListener { port: u16 },
    /// Forward to the port's target group (which this run may create).
    #[serde(rename = "listener")]
    UpdateListener { port: u16 },
    #[serde(rename = "listener")]
    DeleteListener { port: u16, arn: String },
    #[serde(rename = "target_group")]
    DeleteTargetGroup { port: u16, arn: String },
    #[serde(rename = "service")]
    CreateService,
    /// Require acceptance (and, with `attach_load_balancer`, add the stack's
    /// load balancer); also how the service offers the load balancer's new
    /// Availability Zones.
    #[serde(rename = "service")]
    UpdateService { attach_load_balancer: bool },
    /// The other regions whose consumers may connect (the home region is
    /// never in either list).
    #[serde(rename = "supported_regions")]
    SetSupportedRegions {
        add: Vec<String>,
        remove: Vec<String>,
    },
    #[serde(rename = "principals")]
    SetPrincipals {
        add: Vec<String>,
        remove: Vec<String>,
    },
    /// `None` removes the name.
    #[serde(rename = "private_dns_name")]
    SetPrivateDnsName { name: Option<String> },
    /// The TXT record proving `name`'s domain, in this account's public
    /// Route 53 zone of it if there is one.
    #[serde(rename = "verification_record")]
    CreateVerificationRecord { name: String },
    #[serde(rename = "private_dns_verification")]
    StartPrivateDnsVerification,
    #[serde(rename = "topic")]
    CreateTopic,
    /// For the service (which this run may create).
    #[serde(rename = "topic_policy")]
    SetTopicPolicy,
    #[serde(rename = "notification")]
    CreateNotification,
    #[serde(rename = "notification")]
    UpdateNotification,
    #[serde(rename = "boundary")]
    CreateBoundary { document: serde_json::Value },
    #[serde(rename = "role")]
    CreateRole,
    #[serde(rename = "role_boundary")]
    SetRoleBoundary,
    #[serde(rename = "role_trust")]
    SetRoleTrust,
    /// For the service (which this run may create).
    #[serde(rename = "role_policy")]
    PutRolePolicy,
    /// `environment` is all of it but the service id, which `apply` adds:
    /// a run that creates the service learns it only then.
    #[serde(rename = "function")]
    CreateFunction {
        architecture: Architecture,
        environment: BTreeMap<String, String>,
    },
    #[serde(rename = "function_code")]
    UpdateFunctionCode { architecture: Architecture },
    /// Runtime, handler, the stack's role and `environment` (all of it but
    /// the service id, as for [`Change::CreateFunction`]).
    #[serde(rename = "function_configuration")]
    UpdateFunctionConfiguration {
        environment: BTreeMap<String, String>,
    },
    /// Replaces a statement with the same id.
    #[serde(rename = "sns_permission")]
    AddSnsPermission,
    #[serde(rename = "subscription")]
    CreateSubscription,
    #[serde(rename = "sweep_rule")]
    CreateSweepRule { schedule: String },
    #[serde(rename = "sweep_rule")]
    UpdateSweepRule { schedule: String },
    /// Replaces a statement with the same id.
    #[serde(rename = "sweep_permission")]
    AddSweepPermission,
    #[serde(rename = "sweep_target")]
    AddSweepTarget,
}

impl Change {
    pub fn action(&self) -> Action {
        use Change::*;
        match self {
            CreateTenantsTable
            | CreateTenants { .. }
            | CreateVpc { .. }
            | CreateSubnet { .. }
            | CreateTargetGroup { .. }
            | RegisterTargets { .. }
            | CreateLoadBalancer
            | CreateListener { .. }
            | CreateService
            | CreateVerificationRecord { .. }
            | CreateTopic
            | CreateNotification
            | CreateBoundary { .. }
            | CreateRole
            | CreateFunction { .. }
            | AddSnsPermission
            | CreateSubscription
            | CreateSweepRule { .. }
            | AddSweepPermission
            | AddSweepTarget => Action::Create,
            EnablePitr
            | SetTenantsTableTags
            | SetHealthCheck { .. }
            | SetProxyProtocolV2 { .. }
            | UpdateTargets { .. }
            | SetLoadBalancerSubnets
            | EnableCrossZone
            | UpdateListener { .. }
            | UpdateService { .. }
            | SetSupportedRegions { .. }
            | SetPrincipals { .. }
            | SetPrivateDnsName { .. }
            | StartPrivateDnsVerification
            | SetTopicPolicy
            | UpdateNotification
            | SetRoleBoundary
            | SetRoleTrust
            | PutRolePolicy
            | UpdateFunctionCode { .. }
            | UpdateFunctionConfiguration { .. }
            | UpdateSweepRule { .. } => Action::Update,
            DeleteListener { .. } | DeleteTargetGroup { .. } => Action::Delete,
        }
    }
}

/// What the change acts on, in words.
impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Change::*;
        match self {
            CreateTenantsTable => write!(f, "tenant registry table"),
            EnablePitr => write!(f, "point-in-time recovery of the tenant registry"),
            SetTenantsTableTags => write!(f, "tags of the tenant registry table"),
            CreateTenants { accounts } => write!(f, "{} tenant(s) in the registry", accounts.len()),
            CreateVpc { .. } => write!(f, "VPC"),
            CreateSubnet {
                zone_name,
                zone_id,
                cidr,
            } => write!(f, "subnet {cidr} in {zone_name} ({zone_id})"),
            CreateTargetGroup { port, .. } | DeleteTargetGroup { port, .. } => {
                write!(f, "target group for port {port}")
            }
            SetHealthCheck { port, .. } => write!(f, "health check of port {port}"),
            SetProxyProtocolV2 { port, .. } => write!(f, "PROXY protocol v2 of port {port}"),
            RegisterTargets { port, .. } | UpdateTargets { port, .. } => {
                write!(f, "targets of port {port}")
            }
            CreateLoadBalancer => write!(f, "network load balancer"),
            SetLoadBalancerSubnets => write!(f, "load balancer subnets"),
            EnableCrossZone => write!(f, "cross-zone load balancing"),
            CreateListener { port } | UpdateListener { port } | DeleteListener { port, .. } => {
                write!(f, "TCP listener on port {port}")
            }
            CreateService | UpdateService { .. } => write!(f, "endpoint service"),
            SetSupportedRegions { .. } => write!(f, "supported regions"),
            SetPrincipals { .. } => write!(f, "allowed principals"),
            SetPrivateDnsName { .. } => write!(f, "private DNS name"),
            CreateVerificationRecord { .. } => write!(f, "private DNS verification TXT record"),
            StartPrivateDnsVerification => write!(f, "private DNS name verification"),
            CreateTopic => write!(f, "SNS topic"),
            SetTopicPolicy => write!(f, "SNS topic policy"),
            CreateNotification | UpdateNotification => write!(f, "connection notification"),
            CreateBoundary { .. } => write!(f, "approver permissions boundary policy"),
            CreateRole => write!(f, "approver IAM role"),
            SetRoleBoundary => write!(f, "approver role's permissions boundary"),
            SetRoleTrust => write!(f, "approver role trust policy"),
            PutRolePolicy => write!(f, "approver role policy"),
            CreateFunction { .. } => write!(f, "approver Lambda function"),
            UpdateFunctionCode { .. } => write!(f, "approver code"),
            UpdateFunctionConfiguration { .. } => write!(f, "approver configuration"),
            AddSnsPermission => write!(f, "permission for SNS to invoke the approver"),
            CreateSubscription => write!(f, "approver subscription to the topic"),
            CreateSweepRule { .. } | UpdateSweepRule { .. } => write!(f, "sweep schedule"),
            AddSweepPermission => write!(f, "permission for the schedule to invoke the approver"),
            AddSweepTarget => write!(f, "sweep schedule target"),
        }
    }
}

/// One change and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub change: Change,
    /// Why, in words.
    pub reason: String,
}

impl Step {
    pub(super) fn new(change: Change, reason: impl Into<String>) -> Step {
        Step {
            change,
            reason: reason.into(),
        }
    }

    pub fn action(&self) -> Action {
        self.change.action()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.action(), self.change, self.reason)
    }
}

/// `{"action", "resource", "reason"}`: the action word stays a field of its
/// own for `--output json` readers, as it was before steps were typed.
impl serde::Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut step = s.serialize_struct("Step", 3)?;
        step.serialize_field("action", &self.action())?;
        step.serialize_field("resource", &self.change)?;
        step.serialize_field("reason", &self.reason)?;
        step.end()
    }
}

/// The ordered changes for one stack.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    pub stack: String,
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return write!(f, "stack {}: up to date, nothing to change", self.stack);
        }
        writeln!(f, "stack {}: {} change(s)", self.stack, self.steps.len())?;
        for (i, step) in self.steps.iter().enumerate() {
            write!(
                f,
                "\n{:>3}. {:<7} {}\n       {}",
                i + 1,
                step.action(),
                step.change,
                step.reason
            )?;
        }
        Ok(())
    }
}

/// The accounts `up` adds to the registry as active tenants: those of the
/// config's allowlist (it seeds the registry) and, once, those of a legacy
/// `APPROVER_ALLOWLIST` still in the approver's environment; in both cases
/// only accounts the registry does not hold yet. A tenant in the registry is
/// never changed by `up`: after seeding, the registry is the source of truth.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seeds {
    pub from_config: Vec<AccountId>,
    pub from_legacy: Vec<AccountId>,
    /// Entries of the legacy variable that are not account ids (the old
    /// approver refused such a list, so they entitled no one).
    pub skipped: Vec<String>,
}

impl Seeds {
    pub fn is_empty(&self) -> bool {
        self.from_config.is_empty() && self.from_legacy.is_empty()
    }

    /// Every account to create, sorted.
    pub fn accounts(&self) -> Vec<AccountId> {
        let all: BTreeSet<&AccountId> = self.from_config.iter().chain(&self.from_legacy).collect();
        all.into_iter().cloned().collect()
    }

    pub(super) fn reason(&self) -> String {
        let mut parts = Vec::new();
        if !self.from_config.is_empty() {
            parts.push(format!(
                "{} from access.allowlist ({})",
                self.from_config.len(),
                sample(self.from_config.iter().map(AccountId::as_str))
            ));
        }
        if !self.from_legacy.is_empty() {
            parts.push(format!(
                "{} moved once from the approver's {LEGACY_ENV_ALLOWLIST} ({})",
                self.from_legacy.len(),
                sample(self.from_legacy.iter().map(AccountId::as_str))
            ));
        }
        if !self.skipped.is_empty() {
            parts.push(format!(
                "skipped {} entr(ies) of {LEGACY_ENV_ALLOWLIST} that are not account ids: {}",
                self.skipped.len(),
                sample(self.skipped.iter().map(String::as_str))
            ));
        }
        format!("active, name = account id; {}", parts.join("; "))
    }
}

/// Up to five items, then how many more.
pub(super) fn sample<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.into_iter().collect();
    let shown = items.iter().take(5).copied().collect::<Vec<_>>().join(", ");
    match items.len() {
        n if n > 5 => format!("{shown}, ... and {} more", n - 5),
        _ => shown,
    }
}

//! The plan: what `up` must create, change or delete to turn what was
//! observed into what the spec asks for, in an order that works. Pure:
//! no AWS call, tested on its own; a converged stack plans nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::observe::Observed;
use super::policy::{self, Scope, SNS_PERMISSION_SID, SWEEP_PERMISSION_SID};
use super::resources::approver::{permission_matches, HANDLER, RUNTIME};
use super::resources::nlb::{desired_targets, health_check_matches};
use super::resources::tenants_table::tags_match;
use super::resources::StackTags;
use super::spec::{subnet_cidr, NetworkSpec, StackSpec};
use super::ProvisionError;
use crate::approval::config::{
    ENV_DRY_RUN, ENV_NON_ALLOWLISTED_POLICY, ENV_REVOKE, ENV_SERVICE_ID, ENV_TABLE,
    LEGACY_ENV_ALLOWLIST,
};
use crate::approval::{AccountId, Tenant};

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

/// What a step acts on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resource {
    /// The tenant registry's DynamoDB table.
    TenantsTable,
    TenantsTableBackups,
    TenantsTableTags,
    /// New tenants of the registry, created active: the config's allowlist
    /// (seeds) and, once, a legacy `APPROVER_ALLOWLIST`.
    Tenants {
        accounts: Vec<AccountId>,
    },
    Vpc,
    Subnet {
        zone_name: String,
        zone_id: String,
        cidr: String,
    },
    TargetGroup {
        port: u16,
    },
    HealthCheck {
        port: u16,
    },
    Targets {
        port: u16,
    },
    LoadBalancer,
    LoadBalancerSubnets,
    CrossZone,
    Listener {
        port: u16,
    },
    Service,
    Principals,
    PrivateDnsName,
    VerificationRecord,
    PrivateDnsVerification,
    Topic,
    TopicPolicy,
    Notification,
    Boundary,
    Role,
    RoleBoundary,
    RoleTrust,
    RolePolicy,
    Function,
    FunctionCode,
    FunctionConfiguration,
    SnsPermission,
    Subscription,
    SweepRule,
    SweepPermission,
    SweepTarget,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::TenantsTable => write!(f, "tenant registry table"),
            Resource::TenantsTableBackups => {
                write!(f, "point-in-time recovery of the tenant registry")
            }
            Resource::TenantsTableTags => write!(f, "tags of the tenant registry table"),
            Resource::Tenants { accounts } => {
                write!(f, "{} tenant(s) in the registry", accounts.len())
            }
            Resource::Vpc => write!(f, "VPC"),
            Resource::Subnet {
                zone_name,
                zone_id,
                cidr,
            } => write!(f, "subnet {cidr} in {zone_name} ({zone_id})"),
            Resource::TargetGroup { port } => write!(f, "target group for port {port}"),
            Resource::HealthCheck { port } => write!(f, "health check of port {port}"),
            Resource::Targets { port } => write!(f, "targets of port {port}"),
            Resource::LoadBalancer => write!(f, "network load balancer"),
            Resource::LoadBalancerSubnets => write!(f, "load balancer subnets"),
            Resource::CrossZone => write!(f, "cross-zone load balancing"),
            Resource::Listener { port } => write!(f, "TCP listener on port {port}"),
            Resource::Service => write!(f, "endpoint service"),
            Resource::Principals => write!(f, "allowed principals"),
            Resource::PrivateDnsName => write!(f, "private DNS name"),
            Resource::VerificationRecord => write!(f, "private DNS verification TXT record"),
            Resource::PrivateDnsVerification => write!(f, "private DNS name verification"),
            Resource::Topic => write!(f, "SNS topic"),
            Resource::TopicPolicy => write!(f, "SNS topic policy"),
            Resource::Notification => write!(f, "connection notification"),
            Resource::Boundary => write!(f, "approver permissions boundary policy"),
            Resource::Role => write!(f, "approver IAM role"),
            Resource::RoleBoundary => write!(f, "approver role's permissions boundary"),
            Resource::RoleTrust => write!(f, "approver role trust policy"),
            Resource::RolePolicy => write!(f, "approver role policy"),
            Resource::Function => write!(f, "approver Lambda function"),
            Resource::FunctionCode => write!(f, "approver code"),
            Resource::FunctionConfiguration => write!(f, "approver configuration"),
            Resource::SnsPermission => write!(f, "permission for SNS to invoke the approver"),
            Resource::Subscription => write!(f, "approver subscription to the topic"),
            Resource::SweepRule => write!(f, "sweep schedule"),
            Resource::SweepPermission => {
                write!(f, "permission for the schedule to invoke the approver")
            }
            Resource::SweepTarget => write!(f, "sweep schedule target"),
        }
    }
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Step {
    pub action: Action,
    pub resource: Resource,
    /// Why, in words.
    pub reason: String,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.action, self.resource, self.reason)
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
                step.action,
                step.resource,
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

    fn reason(&self) -> String {
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
fn sample<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.into_iter().collect();
    let shown = items.iter().take(5).copied().collect::<Vec<_>>().join(", ");
    match items.len() {
        n if n > 5 => format!("{shown}, ... and {} more", n - 5),
        _ => shown,
    }
}

/// What `up` seeds into the registry (pure: from the spec and what was
/// observed, the registry's tenants included).
pub fn seeds(spec: &StackSpec, observed: &Observed) -> Seeds {
    let known: BTreeSet<&str> = observed
        .tenants
        .iter()
        .map(|t| t.account_id.as_str())
        .collect();
    let from_config: Vec<AccountId> = spec
        .allowlist
        .iter()
        .filter(|a| !known.contains(a.as_str()))
        .cloned()
        .collect();
    let mut from_legacy = BTreeSet::new();
    let mut skipped = Vec::new();
    let legacy = observed
        .function
        .as_ref()
        .and_then(|f| f.environment.get(LEGACY_ENV_ALLOWLIST));
    // The old approver split its list on commas and whitespace.
    for entry in legacy
        .into_iter()
        .flat_map(|text| text.split(|c: char| c == ',' || c.is_whitespace()))
        .filter(|e| !e.is_empty())
    {
        match AccountId::parse(entry) {
            Ok(id) if known.contains(id.as_str()) || spec.allowlist.contains(id.as_str()) => {}
            Ok(id) => {
                from_legacy.insert(id);
            }
            Err(_) => skipped.push(entry.to_string()),
        }
    }
    Seeds {
        from_config,
        from_legacy: from_legacy.into_iter().collect(),
        skipped,
    }
}

/// The account principals of the tenants entitled at `now` (active and
/// unexpired), in the partition of `region`: what the allowed principals
/// are when they follow the registry.
pub fn entitled_principals<'a>(
    tenants: impl IntoIterator<Item = &'a Tenant>,
    now: i64,
    region: &str,
) -> BTreeSet<String> {
    tenants
        .into_iter()
        .filter(|t| t.is_entitled(now))
        .map(|t| crate::arn::account_principal(region, t.account_id.as_str()))
        .collect()
}

/// The principals allowed to see and request the service: `*` with
/// `allow_any_principal` (the approver alone decides), else the entitled
/// tenants of the registry once seeded ([`seeds`], active by definition).
pub fn desired_principals(spec: &StackSpec, observed: &Observed) -> BTreeSet<String> {
    if spec.allow_any_principal {
        return BTreeSet::from(["*".to_string()]);
    }
    let seeded: Vec<Tenant> = seeds(spec, observed)
        .accounts()
        .into_iter()
        .map(|a| Tenant::active(a.clone(), a.as_str()))
        .collect();
    entitled_principals(
        observed.tenants.iter().chain(&seeded),
        observed.now,
        &observed.region,
    )
}

/// The approver's environment (names from the approval config module): the
/// service and the registry's table, never the tenants themselves, so its
/// size does not grow with them (Lambda allows 4 KB of variables in all).
pub fn desired_environment(spec: &StackSpec, service_id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (ENV_SERVICE_ID.to_string(), service_id.to_string()),
        (ENV_TABLE.to_string(), spec.name.tenants_table()),
        (
            ENV_NON_ALLOWLISTED_POLICY.to_string(),
            spec.non_allowlisted.as_str().to_string(),
        ),
        (ENV_REVOKE.to_string(), spec.revoke.to_string()),
        (ENV_DRY_RUN.to_string(), "false".to_string()),
    ])
}

/// The policy scope of this stack in the observed account.
pub fn scope(spec: &StackSpec, observed: &Observed) -> Scope {
    Scope {
        stack: spec.name.clone(),
        region: observed.region.clone(),
        account: observed.account.clone(),
        service_id: observed.service.as_ref().map(|s| s.id.clone()),
    }
}

/// The subnets the load balancer should use: the configured ones, or the
/// stack's own (existing plus to-create, by AZ ID).
fn network_plan(
    spec: &StackSpec,
    observed: &Observed,
    steps: &mut Vec<Step>,
) -> Result<BTreeSet<String>, ProvisionError> {
    let region_zone_ids: BTreeSet<&str> = observed.zones.iter().map(|z| z.id.as_str()).collect();
    match &spec.network {
        NetworkSpec::Create { cidr } => {
            match &observed.vpc {
                None => steps.push(Step {
                    action: Action::Create,
                    resource: Resource::Vpc,
                    reason: format!("no VPC tagged with the stack; {cidr}"),
                }),
                Some(vpc) if vpc.cidr != cidr.to_string() => {
                    return Err(ProvisionError::Refused(format!(
                        "network.vpc_cidr is {cidr} but the stack's VPC {} has {}: a VPC's CIDR cannot be changed; \
                         set vpc_cidr back to {} (or run `down` first)",
                        vpc.id, vpc.cidr, vpc.cidr
                    )))
                }
                Some(_) => {}
            }
            let mut desired = BTreeSet::new();
            for (index, zone) in observed.zones.iter().enumerate() {
                match observed
                    .subnets
                    .iter()
                    .find(|s| s.owned && s.zone_id == zone.id)
                {
                    Some(subnet) => {
                        desired.insert(subnet.id.clone());
                    }
                    None => {
                        let block = subnet_cidr(cidr, index).ok_or_else(|| {
                            ProvisionError::Refused(format!(
                                "the region has {} Availability Zones, more than {cidr} can be split into: use a larger vpc_cidr",
                                observed.zones.len()
                            ))
                        })?;
                        steps.push(Step {
                            action: Action::Create,
                            resource: Resource::Subnet {
                                zone_name: zone.name.clone(),
                                zone_id: zone.id.clone(),
                                cidr: block.to_string(),
                            },
                            reason: "one subnet in every Availability Zone of the region".into(),
                        });
                    }
                }
            }
            Ok(desired)
        }
        NetworkSpec::Existing { vpc_id, subnet_ids } => {
            if observed.vpc.as_ref().map(|v| &v.id) != Some(vpc_id) {
                return Err(ProvisionError::Input(format!(
                    "network.vpc_id: VPC {vpc_id} was not found in account {} ({})",
                    observed.account, observed.region
                )));
            }
            let mut by_zone: BTreeMap<&str, &str> = BTreeMap::new();
            for id in subnet_ids {
                let Some(subnet) = observed.subnets.iter().find(|s| &s.id == id) else {
                    return Err(ProvisionError::Input(format!(
                        "network.subnet_ids: subnet {id} was not found"
                    )));
                };
                if &subnet.vpc_id != vpc_id {
                    return Err(ProvisionError::Input(format!(
                        "network.subnet_ids: subnet {id} is in {}, not in network.vpc_id {vpc_id}",
                        subnet.vpc_id
                    )));
                }
                if let Some(other) = by_zone.insert(subnet.zone_id.as_str(), id.as_str()) {
                    return Err(ProvisionError::Input(format!(
                        "network.subnet_ids: {other} and {id} are both in {} ({}): a load balancer takes one subnet per Availability Zone; keep one",
                        subnet.zone_name, subnet.zone_id
                    )));
                }
            }
            let missing: Vec<String> = observed
                .zones
                .iter()
                .filter(|z| !by_zone.contains_key(z.id.as_str()))
                .map(|z| format!("{} ({})", z.name, z.id))
                .collect();
            if !missing.is_empty() && !spec.allow_partial_az_coverage {
                return Err(ProvisionError::Refused(format!(
                    "the subnets cover {} of the {} Availability Zones of {}; not covered: {}. Consumers can only \
                     connect from AZs the load balancer is in: add one subnet in each of them to network.subnet_ids, \
                     or accept partial coverage with network.allow_partial_az_coverage = true \
                     (or --allow-partial-az-coverage)",
                    by_zone.len(),
                    region_zone_ids.len(),
                    observed.region,
                    missing.join(", ")
                )));
            }
            Ok(subnet_ids.iter().cloned().collect())
        }
    }
}

/// Computes the plan. `package_sha256` is the base64 SHA-256 of the
/// approver zip (what Lambda reports as `CodeSha256`).
pub fn plan(
    spec: &StackSpec,
    observed: &Observed,
    package_sha256: &str,
) -> Result<Plan, ProvisionError> {
    let mut steps = Vec::new();
    let push = |steps: &mut Vec<Step>, action, resource, reason: &str| {
        steps.push(Step {
            action,
            resource,
            reason: reason.to_string(),
        })
    };
    // The tenant registry first: the approver's environment names its
    // table and the allowed principals follow its tenants, so both come
    // after it; and an operator without DynamoDB rights learns it before
    // anything else is built.
    match &observed.tenants_table {
        None => {
            push(
                &mut steps,
                Action::Create,
                Resource::TenantsTable,
                "on demand, key account_id, tagged with the stack",
            );
            push(
                &mut steps,
                Action::Update,
                Resource::TenantsTableBackups,
                "point-in-time recovery on",
            );
        }
        Some(table) if matches!(table.status.as_str(), "CREATING" | "DELETING") => {
            return Err(ProvisionError::Refused(format!(
                "the tenant registry's table {} is {}: wait until it is done (a minute or so), \
                 then run `up` again",
                table.name, table.status
            )))
        }
        Some(table) => {
            if !table.pitr {
                push(
                    &mut steps,
                    Action::Update,
                    Resource::TenantsTableBackups,
                    "point-in-time recovery is off; turn it on",
                );
            }
            if !tags_match(&table.tags, &StackTags::new(&spec.name, &spec.tags)) {
                push(
                    &mut steps,
                    Action::Update,
                    Resource::TenantsTableTags,
                    "the stack's tags are missing or changed",
                );
            }
        }
    }
    let seeds = seeds(spec, observed);
    if !seeds.is_empty() {
        push(
            &mut steps,
            Action::Create,
            Resource::Tenants {
                accounts: seeds.accounts(),
            },
            &seeds.reason(),
        );
    }

    let network_before = steps.len();
    let mut lb_subnets = network_plan(spec, observed, &mut steps)?;
    let subnets_to_create = steps[network_before..]
        .iter()
        .filter(|s| matches!(s.resource, Resource::Subnet { .. }))
        .count();

    // Target groups, health checks, targets.
    let vpc_new = observed.vpc.is_none();
    for &port in &spec.ports {
        let desired = desired_targets(&spec.targets.ids, port, spec.target_port);
        match observed.target_group(port) {
            Some(tg) if !vpc_new => {
                if !tg.target_type.eq_ignore_ascii_case(spec.targets.kind.as_str()) {
                    return Err(ProvisionError::Refused(format!(
                        "target group {} holds {} targets but service.targets lists {} targets: a target group's type \
                         cannot change; list {} targets, or run `down` and `up` again",
                        tg.name, tg.target_type, spec.targets.kind.as_str(), tg.target_type
                    )));
                }
                if !health_check_matches(&tg.health_check, &spec.health_check) {
                    push(&mut steps, Action::Update, Resource::HealthCheck { port }, "the health check differs from health_check");
                }
                let observed_targets: BTreeSet<(String, u16)> =
                    tg.targets.iter().map(|t| (t.id.clone(), t.port)).collect();
                let register: Vec<String> = desired.difference(&observed_targets).map(|(i, p)| format!("{i}:{p}")).collect();
                let deregister: Vec<String> = observed_targets.difference(&desired).map(|(i, p)| format!("{i}:{p}")).collect();
                if !register.is_empty() || !deregister.is_empty() {
                    let mut reason = Vec::new();
                    if !register.is_empty() {
                        reason.push(format!("register {}", register.join(", ")));
                    }
                    if !deregister.is_empty() {
                        reason.push(format!("deregister {}", deregister.join(", ")));
                    }
                    push(&mut steps, Action::Update, Resource::Targets { port }, &reason.join("; "));
                }
            }
            Some(tg) => {
                return Err(ProvisionError::Refused(format!(
                    "target group {} exists but the stack's VPC does not: delete the target group (or run `down`), then run `up` again",
                    tg.name
                )))
            }
            None => {
                push(&mut steps, Action::Create, Resource::TargetGroup { port }, "TCP, with the configured health check");
                push(&mut steps, Action::Create, Resource::Targets { port }, &format!("register {} target(s)", desired.len()));
            }
        }
    }

    // Load balancer.
    let lb_new = observed.load_balancer.is_none();
    match &observed.load_balancer {
        None => {
            push(
                &mut steps,
                Action::Create,
                Resource::LoadBalancer,
                "internal NLB with a subnet in every covered AZ",
            );
            push(
                &mut steps,
                Action::Update,
                Resource::CrossZone,
                "turn cross-zone load balancing on",
            );
        }
        Some(lb) => {
            let missing: Vec<&String> = lb_subnets.difference(&lb.subnet_ids).collect();
            if subnets_to_create > 0 || !missing.is_empty() {
                push(
                    &mut steps,
                    Action::Update,
                    Resource::LoadBalancerSubnets,
                    "add the load balancer to the new subnets",
                );
            }
            if !lb.cross_zone {
                push(
                    &mut steps,
                    Action::Update,
                    Resource::CrossZone,
                    "cross-zone load balancing is off",
                );
            }
        }
    }
    lb_subnets.clear();

    // Listeners (new, repointed) and leftovers of removed ports.
    for &port in &spec.ports {
        let tg_arn = observed.target_group(port).map(|t| t.arn.as_str());
        match observed.listener(port) {
            None => push(
                &mut steps,
                Action::Create,
                Resource::Listener { port },
                "forward to the port's target group",
            ),
            Some(l) if tg_arn.is_none() || l.target_group_arn.as_deref() != tg_arn => push(
                &mut steps,
                Action::Update,
                Resource::Listener { port },
                "forward to the port's target group",
            ),
            Some(_) => {}
        }
    }
    for l in &observed.listeners {
        if !spec.ports.contains(&l.port) {
            push(
                &mut steps,
                Action::Delete,
                Resource::Listener { port: l.port },
                "port no longer in service.ports",
            );
        }
    }
    for tg in &observed.target_groups {
        if !spec.ports.contains(&tg.port) {
            push(
                &mut steps,
                Action::Delete,
                Resource::TargetGroup { port: tg.port },
                "port no longer in service.ports",
            );
        }
    }

    // Endpoint service.
    let principals = desired_principals(spec, observed);
    let service_new = observed.service.is_none();
    match &observed.service {
        None => {
            push(
                &mut steps,
                Action::Create,
                Resource::Service,
                "acceptance required, on the load balancer",
            );
            if !principals.is_empty() {
                push(
                    &mut steps,
                    Action::Update,
                    Resource::Principals,
                    &format!("allow [{}]", sample(principals.iter().map(String::as_str))),
                );
            }
            if let Some(name) = &spec.private_dns_name {
                push(
                    &mut steps,
                    Action::Update,
                    Resource::PrivateDnsName,
                    &format!("set {name}"),
                );
            }
        }
        Some(service) => {
            let lb_attached = observed
                .load_balancer
                .as_ref()
                .is_some_and(|lb| service.load_balancer_arns.contains(&lb.arn));
            if lb_new || !lb_attached {
                push(
                    &mut steps,
                    Action::Update,
                    Resource::Service,
                    "attach the stack's load balancer",
                );
            } else if !service.acceptance_required {
                push(
                    &mut steps,
                    Action::Update,
                    Resource::Service,
                    "acceptance is not required; require it",
                );
            } else if steps
                .iter()
                .any(|s| s.resource == Resource::LoadBalancerSubnets)
            {
                push(
                    &mut steps,
                    Action::Update,
                    Resource::Service,
                    "offer the load balancer's new Availability Zones",
                );
            }
            let add: Vec<&String> = principals.difference(&service.principals).collect();
            let remove: Vec<&String> = service.principals.difference(&principals).collect();
            if !add.is_empty() || !remove.is_empty() {
                push(
                    &mut steps,
                    Action::Update,
                    Resource::Principals,
                    &format!(
                        "follow the registry: add [{}], remove [{}]",
                        sample(add.iter().map(|s| s.as_str())),
                        sample(remove.iter().map(|s| s.as_str()))
                    ),
                );
            }
            if service.private_dns_name != spec.private_dns_name {
                let reason = match &spec.private_dns_name {
                    Some(name) => format!("set {name}"),
                    None => "remove the private DNS name".to_string(),
                };
                push(
                    &mut steps,
                    Action::Update,
                    Resource::PrivateDnsName,
                    &reason,
                );
            }
        }
    }

    // The TXT record proving the private DNS name's domain: with a new
    // name, written after it is set (when a public Route 53 zone holds the
    // domain); otherwise only when it went missing.
    if spec.private_dns_name.is_some() {
        let name_changes = steps.iter().any(|s| s.resource == Resource::PrivateDnsName);
        let missing = observed.verification.as_ref().is_some_and(|v| !v.present);
        if name_changes || missing {
            push(
                &mut steps,
                Action::Create,
                Resource::VerificationRecord,
                "TXT record in the domain's public Route 53 zone, if this account has one",
            );
        }
        // Consumers can use the name only once AWS has verified the domain,
        // and AWS checks the record only when asked: ask until it is verified.
        let verified = observed
            .service
            .as_ref()
            .and_then(|s| s.private_dns.as_ref())
            .and_then(|d| d.state.as_deref())
            == Some("verified");
        if name_changes || !verified {
            push(
                &mut steps,
                Action::Update,
                Resource::PrivateDnsVerification,
                "ask AWS to check the TXT record (consumers can use the name once verified)",
            );
        }
    }

    // Topic and notification.
    let scope = scope(spec, observed);
    let topic_arn = scope.topic_arn();
    match &observed.topic {
        None => {
            push(
                &mut steps,
                Action::Create,
                Resource::Topic,
                "receives the connection notifications",
            );
            push(
                &mut steps,
                Action::Update,
                Resource::TopicPolicy,
                "only vpce.amazonaws.com may publish, for this service",
            );
        }
        Some(topic) => {
            let desired = observed
                .service
                .as_ref()
                .map(|s| policy::topic_policy(&topic_arn, &scope.region, &scope.account, &s.id));
            if service_new || topic.policy != desired {
                push(
                    &mut steps,
                    Action::Update,
                    Resource::TopicPolicy,
                    "only vpce.amazonaws.com may publish, for this service",
                );
            }
        }
    }
    match &observed.notification {
        Some(n) if !service_new => {
            let events: BTreeSet<String> = policy::CONNECTION_EVENTS
                .iter()
                .map(|e| e.to_string())
                .collect();
            if n.topic_arn != topic_arn || n.events != events {
                push(
                    &mut steps,
                    Action::Update,
                    Resource::Notification,
                    "Connect, Accept, Reject and Delete to the stack's topic",
                );
            }
        }
        _ => push(
            &mut steps,
            Action::Create,
            Resource::Notification,
            "Connect, Accept, Reject and Delete to the topic",
        ),
    }

    // The approver role's permissions boundary, before the role: the most
    // the role may ever do, whatever its own policy says. Its document
    // depends only on the stack, region and account, so a converged stack
    // never changes it; the operator policy denies changing it in place
    // (see policy::approver_boundary_policy), so a different one is refused.
    let boundary = policy::approver_boundary_policy(&scope);
    match &observed.boundary {
        None => push(
            &mut steps,
            Action::Create,
            Resource::Boundary,
            "the most the approver role may do; created before the role",
        ),
        Some(b) if b.document.as_ref() != Some(&boundary) => {
            return Err(ProvisionError::Refused(format!(
                "the approver's permissions boundary policy {} differs from what this version of \
                 endpoint-service generates. The operator policy does not allow changing it \
                 (that would change what the approver role may do); an administrator must \
                 replace its document with the one `endpoint-service iam-policy` prints \
                 (approver_boundary_policy), then run `up` again",
                b.arn
            )))
        }
        Some(_) => {}
    }

    // Approver role.
    let role_new = observed.role.is_none();
    match &observed.role {
        None => {
            push(
                &mut steps,
                Action::Create,
                Resource::Role,
                "assumable by Lambda only, inside the permissions boundary",
            );
            push(
                &mut steps,
                Action::Update,
                Resource::RolePolicy,
                "list, accept and reject connections of this service only; read its tenants; own logs",
            );
        }
        Some(role) => {
            if role.boundary.as_deref() != Some(scope.boundary_arn().as_str()) {
                push(
                    &mut steps,
                    Action::Update,
                    Resource::RoleBoundary,
                    "the role's permissions boundary is not the stack's boundary policy",
                );
            }
            if role.trust.as_ref() != Some(&policy::lambda_trust_policy()) {
                push(
                    &mut steps,
                    Action::Update,
                    Resource::RoleTrust,
                    "assumable by Lambda only",
                );
            }
            if service_new || role.policy.as_ref() != Some(&policy::approver_role_policy(&scope)) {
                push(
                    &mut steps,
                    Action::Update,
                    Resource::RolePolicy,
                    "list, accept and reject connections of this service only; read its tenants; own logs",
                );
            }
        }
    }

    // Approver function.
    let function_new = observed.function.is_none();
    match &observed.function {
        None => push(
            &mut steps,
            Action::Create,
            Resource::Function,
            &format!(
                "{RUNTIME}, {}, from {}",
                spec.approver.architecture.as_str(),
                spec.approver.package.display()
            ),
        ),
        Some(f) => {
            if f.code_sha256.as_deref() != Some(package_sha256)
                || f.architecture.as_deref() != Some(spec.approver.architecture.as_str())
            {
                push(
                    &mut steps,
                    Action::Update,
                    Resource::FunctionCode,
                    "the package or architecture changed",
                );
            }
            let role_ok = observed
                .role
                .as_ref()
                .is_some_and(|r| f.role.as_deref() == Some(r.arn.as_str()));
            let env_ok = observed
                .service
                .as_ref()
                .is_some_and(|s| f.environment == desired_environment(spec, &s.id));
            let runtime_ok =
                f.runtime.as_deref() == Some(RUNTIME) && f.handler.as_deref() == Some(HANDLER);
            if role_new || service_new || !role_ok || !env_ok || !runtime_ok {
                let reason = if f.environment.contains_key(LEGACY_ENV_ALLOWLIST) {
                    format!(
                        "name the tenant registry and drop {LEGACY_ENV_ALLOWLIST} (its accounts are \
                         tenants now)"
                    )
                } else {
                    "service id, registry table, policy, role or runtime changed".to_string()
                };
                push(
                    &mut steps,
                    Action::Update,
                    Resource::FunctionConfiguration,
                    &reason,
                );
            }
        }
    }
    let function = observed.function.as_ref().filter(|_| !function_new);
    let sns_ok = function
        .and_then(|f| f.permissions.get(SNS_PERMISSION_SID))
        .is_some_and(|s| permission_matches(s, "sns.amazonaws.com", &topic_arn, &scope.account));
    if !sns_ok {
        push(
            &mut steps,
            Action::Create,
            Resource::SnsPermission,
            "sns.amazonaws.com, from the stack's topic only",
        );
    }
    if function_new || observed.approver_subscription().is_none() {
        push(
            &mut steps,
            Action::Create,
            Resource::Subscription,
            "the approver runs on every notification",
        );
    }

    // Sweep schedule.
    match &observed.rule {
        None => push(
            &mut steps,
            Action::Create,
            Resource::SweepRule,
            &spec.approver.sweep_schedule,
        ),
        Some(rule) => {
            if rule.schedule.as_deref() != Some(spec.approver.sweep_schedule.as_str())
                || !rule
                    .state
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("ENABLED"))
            {
                push(
                    &mut steps,
                    Action::Update,
                    Resource::SweepRule,
                    &format!("{}, enabled", spec.approver.sweep_schedule),
                );
            }
        }
    }
    let sweep_ok = function
        .and_then(|f| f.permissions.get(SWEEP_PERMISSION_SID))
        .is_some_and(|s| {
            permission_matches(s, "events.amazonaws.com", &scope.rule_arn(), &scope.account)
        });
    if !sweep_ok {
        push(
            &mut steps,
            Action::Create,
            Resource::SweepPermission,
            "events.amazonaws.com, from the sweep rule only",
        );
    }
    let target_ok = function.is_some_and(|f| {
        observed
            .rule
            .as_ref()
            .is_some_and(|r| r.target_arns.contains(&f.arn))
    });
    if !target_ok {
        push(
            &mut steps,
            Action::Create,
            Resource::SweepTarget,
            "the rule invokes the approver",
        );
    }
    approver_before_principals(&mut steps);
    Ok(Plan {
        stack: spec.name.to_string(),
        steps,
    })
}

/// When both the allowed principals and the approver's configuration change,
/// the approver goes first: an account the principals newly allow can
/// request at once, and the approver must then already be the one that
/// reads the registry (an approver still configured from a legacy
/// `APPROVER_ALLOWLIST` would refuse a tenant that is not on that list under
/// the `reject` policy). An account being removed may, for that moment,
/// still request and is rejected or left pending, which is what its removal
/// asks for anyway. The registry's own steps (table, seeded tenants) come
/// first of all, so the approver never reads a registry that lacks a tenant
/// the principals allow.
fn approver_before_principals(steps: &mut Vec<Step>) {
    let principals = steps
        .iter()
        .position(|s| s.resource == Resource::Principals && s.action == Action::Update);
    let function = steps
        .iter()
        .position(|s| s.resource == Resource::FunctionConfiguration && s.action == Action::Update);
    if let (Some(p), Some(f)) = (principals, function) {
        if p < f {
            let step = steps.remove(p);
            // `f` moved one place left by the removal.
            steps.insert(f, step);
        }
    }
}

#[cfg(test)]
mod tests;

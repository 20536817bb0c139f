//! The plan: what `up` must create, change or delete to turn what was
//! observed into what the spec asks for, in an order that works. Pure:
//! no AWS call, tested on its own; a converged stack plans nothing.
//!
//! Each step is a [`Change`] that carries what `apply` executes (the
//! targets to register, the principals to add, the environment, ...), so
//! `apply` runs it as planned and there is no step it cannot run. The plan
//! is built one resource family at a time, in the order the families must
//! run (see [`plan`]).

use std::collections::{BTreeMap, BTreeSet};

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
    ENV_TABLE_REGION, LEGACY_ENV_ALLOWLIST,
};
use crate::approval::{AccountId, Tenant};

mod step;
use step::sample;
pub use step::{Action, Change, Plan, Seeds, Step};

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
    with_service_id(&approver_environment(spec), service_id)
}

/// The `environment` of a [`Change::CreateFunction`] or
/// [`Change::UpdateFunctionConfiguration`] completed with the service's id:
/// what the approver gets.
pub fn with_service_id(
    environment: &BTreeMap<String, String>,
    service_id: &str,
) -> BTreeMap<String, String> {
    let mut environment = environment.clone();
    environment.insert(ENV_SERVICE_ID.to_string(), service_id.to_string());
    environment
}

/// [`desired_environment`] but the service id: what a plan knows before a
/// run that creates the service.
fn approver_environment(spec: &StackSpec) -> BTreeMap<String, String> {
    let mut environment = BTreeMap::from([
        (ENV_TABLE.to_string(), spec.name.tenants_table()),
        (
            ENV_NON_ALLOWLISTED_POLICY.to_string(),
            spec.non_allowlisted.as_str().to_string(),
        ),
        (ENV_REVOKE.to_string(), spec.revoke.to_string()),
        (ENV_DRY_RUN.to_string(), "false".to_string()),
    ]);
    if let Some(home) = &spec.registry_region {
        environment.insert(ENV_TABLE_REGION.to_string(), home.clone());
    }
    environment
}

/// The policy scope of this stack in the observed account.
pub fn scope(spec: &StackSpec, observed: &Observed) -> Scope {
    Scope {
        stack: spec.name.clone(),
        region: observed.region.clone(),
        account: observed.account.clone(),
        service_id: observed.service.as_ref().map(|s| s.id.clone()),
        registry_region: spec.registry_region.clone(),
    }
}
/// Computes the plan. `package_sha256` is the base64 SHA-256 of the
/// approver zip (what Lambda reports as `CodeSha256`).
///
/// One resource family after the other, each after what it needs: the
/// tenant registry; the network, target groups, load balancer and
/// listeners; the endpoint service on that load balancer and its private
/// DNS name; the topic and notification of the service; the approver's
/// boundary, role and function, its subscription to the topic and its
/// sweep; the allowed principals last (see [`principals`]).
pub fn plan(
    spec: &StackSpec,
    observed: &Observed,
    package_sha256: &str,
) -> Result<Plan, ProvisionError> {
    let scope = scope(spec, observed);
    let mut steps = Vec::new();
    registry(spec, observed, &mut steps)?;
    let subnets = network(spec, observed, &mut steps)?;
    target_groups(spec, observed, &mut steps)?;
    let new_zones = load_balancer(observed, &subnets, &mut steps);
    listeners(spec, observed, &mut steps);
    service(observed, new_zones, &mut steps);
    supported_regions(spec, observed, &mut steps)?;
    private_dns(spec, observed, &mut steps);
    topic(observed, &scope, &mut steps);
    approver_iam(observed, &scope, &mut steps)?;
    function(spec, observed, package_sha256, &mut steps);
    subscription(observed, &scope, &mut steps);
    sweep(spec, observed, &scope, &mut steps);
    principals(spec, observed, &mut steps);
    Ok(Plan {
        stack: spec.name.to_string(),
        steps,
    })
}

/// The tenant registry first: the approver's environment names its table
/// and the allowed principals follow its tenants, so both come after it;
/// and an operator without DynamoDB rights learns it before anything else
/// is built.
fn registry(
    spec: &StackSpec,
    observed: &Observed,
    steps: &mut Vec<Step>,
) -> Result<(), ProvisionError> {
    // Outside the home region the registry is the home region's: its table
    // and tenants are the home stack's to create, so this region's plan only
    // reads them (and the principals follow them, or the seeds until the
    // home region's `up` has written them).
    if spec.registry_region.is_some() {
        return Ok(());
    }
    match &observed.tenants_table {
        None => {
            steps.push(Step::new(
                Change::CreateTenantsTable,
                "on demand, key account_id, tagged with the stack",
            ));
            steps.push(Step::new(Change::EnablePitr, "point-in-time recovery on"));
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
                steps.push(Step::new(
                    Change::EnablePitr,
                    "point-in-time recovery is off; turn it on",
                ));
            }
            if !tags_match(&table.tags, &StackTags::new(&spec.name, &spec.tags)) {
                steps.push(Step::new(
                    Change::SetTenantsTableTags,
                    "the stack's tags are missing or changed",
                ));
            }
        }
    }
    let seeds = seeds(spec, observed);
    if !seeds.is_empty() {
        steps.push(Step::new(
            Change::CreateTenants {
                accounts: seeds.accounts(),
            },
            seeds.reason(),
        ));
    }
    Ok(())
}

/// The subnets the load balancer should be in.
struct LoadBalancerSubnets {
    /// By id: the configured ones, or the stack's own that exist.
    known: BTreeSet<String>,
    /// The stack's own that this run creates (ids known only then).
    creating: bool,
}

/// The VPC and one subnet per Availability Zone of the region when the
/// stack creates its network; a check of the configured ones otherwise.
fn network(
    spec: &StackSpec,
    observed: &Observed,
    steps: &mut Vec<Step>,
) -> Result<LoadBalancerSubnets, ProvisionError> {
    let region_zone_ids: BTreeSet<&str> = observed.zones.iter().map(|z| z.id.as_str()).collect();
    match &spec.network {
        NetworkSpec::Create { cidr } => {
            match &observed.vpc {
                None => steps.push(Step::new(
                    Change::CreateVpc { cidr: *cidr },
                    format!("no VPC tagged with the stack; {cidr}"),
                )),
                Some(vpc) if vpc.cidr != cidr.to_string() => {
                    return Err(ProvisionError::Refused(format!(
                        "network.vpc_cidr is {cidr} but the stack's VPC {} has {}: a VPC's CIDR cannot be changed; \
                         set vpc_cidr back to {} (or run `down` first)",
                        vpc.id, vpc.cidr, vpc.cidr
                    )))
                }
                Some(_) => {}
            }
            let mut subnets = LoadBalancerSubnets {
                known: BTreeSet::new(),
                creating: false,
            };
            for (index, zone) in observed.zones.iter().enumerate() {
                match observed
                    .subnets
                    .iter()
                    .find(|s| s.owned && s.zone_id == zone.id)
                {
                    Some(subnet) => {
                        subnets.known.insert(subnet.id.clone());
                    }
                    None => {
                        let block = subnet_cidr(cidr, index).ok_or_else(|| {
                            ProvisionError::Refused(format!(
                                "the region has {} Availability Zones, more than {cidr} can be split into: use a larger vpc_cidr",
                                observed.zones.len()
                            ))
                        })?;
                        steps.push(Step::new(
                            Change::CreateSubnet {
                                zone_name: zone.name.clone(),
                                zone_id: zone.id.clone(),
                                cidr: block,
                            },
                            "one subnet in every Availability Zone of the region",
                        ));
                        subnets.creating = true;
                    }
                }
            }
            Ok(subnets)
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
            Ok(LoadBalancerSubnets {
                known: subnet_ids.iter().cloned().collect(),
                creating: false,
            })
        }
    }
}

/// One target group per port: its health check, PROXY protocol v2 (on
/// exactly with a `[gateway]`) and targets. The attribute is set before the
/// targets change: with a new gateway, no connection should reach it without
/// the header that names its endpoint (the gateway refuses those).
fn target_groups(
    spec: &StackSpec,
    observed: &Observed,
    steps: &mut Vec<Step>,
) -> Result<(), ProvisionError> {
    let vpc_new = observed.vpc.is_none();
    let proxy_v2 = spec.proxy_protocol_v2();
    let proxy_reason = |enabled: bool| {
        if enabled {
            "the gateway is the target: it reads the VPC endpoint id from the PROXY v2 header"
        } else {
            "no [gateway]: the app is the target and expects no PROXY header"
        }
    };
    for &port in &spec.ports {
        let desired = desired_targets(&spec.targets.ids, port, spec.target_port);
        match observed.target_group(port) {
            Some(tg) if !vpc_new => {
                if !tg.target_type.eq_ignore_ascii_case(spec.targets.kind.as_str()) {
                    return Err(ProvisionError::Refused(format!(
                        "target group {} holds {} targets but the configured targets (service.targets or gateway.targets) \
                         are {} targets: a target group's type cannot change; list {} targets, or run `down` and `up` again",
                        tg.name, tg.target_type, spec.targets.kind.as_str(), tg.target_type
                    )));
                }
                if !health_check_matches(&tg.health_check, &spec.health_check) {
                    steps.push(Step::new(
                        Change::SetHealthCheck {
                            port,
                            health_check: spec.health_check.clone(),
                        },
                        "the health check differs from health_check",
                    ));
                }
                if tg.proxy_protocol_v2 != proxy_v2 {
                    steps.push(Step::new(
                        Change::SetProxyProtocolV2 {
                            port,
                            enabled: proxy_v2,
                        },
                        proxy_reason(proxy_v2),
                    ));
                }
                let observed_targets: BTreeSet<(String, u16)> =
                    tg.targets.iter().map(|t| (t.id.clone(), t.port)).collect();
                let register: Vec<(String, u16)> =
                    desired.difference(&observed_targets).cloned().collect();
                let deregister: Vec<(String, u16)> =
                    observed_targets.difference(&desired).cloned().collect();
                if !register.is_empty() || !deregister.is_empty() {
                    let listed = |targets: &[(String, u16)]| {
                        targets
                            .iter()
                            .map(|(id, port)| format!("{id}:{port}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    let mut reason = Vec::new();
                    if !register.is_empty() {
                        reason.push(format!("register {}", listed(&register)));
                    }
                    if !deregister.is_empty() {
                        reason.push(format!("deregister {}", listed(&deregister)));
                    }
                    steps.push(Step::new(
                        Change::UpdateTargets {
                            port,
                            register,
                            deregister,
                        },
                        reason.join("; "),
                    ));
                }
            }
            Some(tg) => {
                return Err(ProvisionError::Refused(format!(
                    "target group {} exists but the stack's VPC does not: delete the target group (or run `down`), then run `up` again",
                    tg.name
                )))
            }
            None => {
                steps.push(Step::new(
                    Change::CreateTargetGroup {
                        port,
                        target_type: spec.targets.kind,
                        health_check: spec.health_check.clone(),
                    },
                    "TCP, with the configured health check",
                ));
                // AWS creates target groups with the attribute off.
                if proxy_v2 {
                    steps.push(Step::new(
                        Change::SetProxyProtocolV2 {
                            port,
                            enabled: true,
                        },
                        proxy_reason(true),
                    ));
                }
                steps.push(Step::new(
                    Change::RegisterTargets {
                        port,
                        targets: desired.iter().cloned().collect(),
                    },
                    format!("register {} target(s)", desired.len()),
                ));
            }
        }
    }
    Ok(())
}

/// The internal NLB in every subnet of `subnets`, cross-zone. Returns
/// whether it is being added to subnets (the service then offers their
/// Availability Zones).
fn load_balancer(
    observed: &Observed,
    subnets: &LoadBalancerSubnets,
    steps: &mut Vec<Step>,
) -> bool {
    let Some(lb) = &observed.load_balancer else {
        steps.push(Step::new(
            Change::CreateLoadBalancer,
            "internal NLB with a subnet in every covered AZ",
        ));
        steps.push(Step::new(
            Change::EnableCrossZone,
            "turn cross-zone load balancing on",
        ));
        return false;
    };
    let grows = subnets.creating || !subnets.known.is_subset(&lb.subnet_ids);
    if grows {
        steps.push(Step::new(
            Change::SetLoadBalancerSubnets,
            "add the load balancer to the new subnets",
        ));
    }
    if !lb.cross_zone {
        steps.push(Step::new(
            Change::EnableCrossZone,
            "cross-zone load balancing is off",
        ));
    }
    grows
}

/// A listener per port forwarding to the port's target group; the listener
/// and target group of a port no longer served deleted (the listener
/// first: it uses the target group).
fn listeners(spec: &StackSpec, observed: &Observed, steps: &mut Vec<Step>) {
    for &port in &spec.ports {
        let tg_arn = observed.target_group(port).map(|t| t.arn.as_str());
        match observed.listener(port) {
            None => steps.push(Step::new(
                Change::CreateListener { port },
                "forward to the port's target group",
            )),
            Some(l) if tg_arn.is_none() || l.target_group_arn.as_deref() != tg_arn => {
                steps.push(Step::new(
                    Change::UpdateListener { port },
                    "forward to the port's target group",
                ))
            }
            Some(_) => {}
        }
    }
    for l in &observed.listeners {
        if !spec.ports.contains(&l.port) {
            steps.push(Step::new(
                Change::DeleteListener {
                    port: l.port,
                    arn: l.arn.clone(),
                },
                "port no longer in service.ports",
            ));
        }
    }
    for tg in &observed.target_groups {
        if !spec.ports.contains(&tg.port) {
            steps.push(Step::new(
                Change::DeleteTargetGroup {
                    port: tg.port,
                    arn: tg.arn.clone(),
                },
                "port no longer in service.ports",
            ));
        }
    }
}

/// The endpoint service on the stack's load balancer, acceptance required,
/// offering the load balancer's zones (`new_zones`: it is being added to
/// subnets).
fn service(observed: &Observed, new_zones: bool, steps: &mut Vec<Step>) {
    let Some(service) = &observed.service else {
        steps.push(Step::new(
            Change::CreateService,
            "acceptance required, on the load balancer",
        ));
        return;
    };
    // A load balancer this run creates is not attached yet either.
    let lb_attached = observed
        .load_balancer
        .as_ref()
        .is_some_and(|lb| service.load_balancer_arns.contains(&lb.arn));
    let reason = if !lb_attached {
        "attach the stack's load balancer"
    } else if !service.acceptance_required {
        "acceptance is not required; require it"
    } else if new_zones {
        "offer the load balancer's new Availability Zones"
    } else {
        return;
    };
    steps.push(Step::new(
        Change::UpdateService {
            attach_load_balancer: !lb_attached,
        },
        reason,
    ));
}

/// The other regions whose consumers may connect to the service. The home
/// region is implied: AWS lists it among the service's `SupportedRegions`
/// and refuses to remove it, so it is in neither list of the step.
fn supported_regions(
    spec: &StackSpec,
    observed: &Observed,
    steps: &mut Vec<Step>,
) -> Result<(), ProvisionError> {
    let home = &observed.region;
    if spec.supported_regions.contains(home) {
        return Err(ProvisionError::Refused(format!(
            "supported_regions lists {home}, the region this stack is in, which the service \
             always supports: list only the other regions"
        )));
    }
    let empty = BTreeSet::new();
    let current = observed
        .service
        .as_ref()
        .map_or(&empty, |s| &s.supported_regions);
    let add: Vec<String> = spec
        .supported_regions
        .difference(current)
        .cloned()
        .collect();
    let remove: Vec<String> = current
        .difference(&spec.supported_regions)
        .filter(|r| *r != home)
        .cloned()
        .collect();
    if add.is_empty() && remove.is_empty() {
        return Ok(());
    }
    let listed = |regions: &[String]| sample(regions.iter().map(String::as_str));
    let reason = match (add.is_empty(), remove.is_empty()) {
        (false, true) => format!("accept endpoints from [{}]", listed(&add)),
        (true, false) => format!("no longer accept endpoints from [{}]", listed(&remove)),
        _ => format!(
            "follow supported_regions: add [{}], remove [{}]",
            listed(&add),
            listed(&remove)
        ),
    };
    steps.push(Step::new(
        Change::SetSupportedRegions { add, remove },
        reason,
    ));
    Ok(())
}

/// The service's private DNS name, and the proof of its domain.
fn private_dns(spec: &StackSpec, observed: &Observed, steps: &mut Vec<Step>) {
    let name_changes = match &observed.service {
        None => spec.private_dns_name.is_some(),
        Some(service) => service.private_dns_name != spec.private_dns_name,
    };
    if name_changes {
        let reason = match &spec.private_dns_name {
            Some(name) => format!("set {name}"),
            None => "remove the private DNS name".to_string(),
        };
        steps.push(Step::new(
            Change::SetPrivateDnsName {
                name: spec.private_dns_name.clone(),
            },
            reason,
        ));
    }
    let Some(name) = &spec.private_dns_name else {
        return;
    };
    // The TXT record proving the name's domain: with a new name, written
    // after it is set (when a public Route 53 zone holds the domain);
    // otherwise only when it went missing.
    let missing = observed.verification.as_ref().is_some_and(|v| !v.present);
    if name_changes || missing {
        steps.push(Step::new(
            Change::CreateVerificationRecord { name: name.clone() },
            "TXT record in the domain's public Route 53 zone, if this account has one",
        ));
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
        steps.push(Step::new(
            Change::StartPrivateDnsVerification,
            "ask AWS to check the TXT record (consumers can use the name once verified)",
        ));
    }
}

/// The topic the service notifies (only the service may publish) and the
/// service's notification to it.
fn topic(observed: &Observed, scope: &Scope, steps: &mut Vec<Step>) {
    let topic_arn = scope.topic_arn();
    let service_new = observed.service.is_none();
    let policy_reason = "only vpce.amazonaws.com may publish, for this service";
    match &observed.topic {
        None => {
            steps.push(Step::new(
                Change::CreateTopic,
                "receives the connection notifications",
            ));
            steps.push(Step::new(Change::SetTopicPolicy, policy_reason));
        }
        Some(topic) => {
            let desired = observed
                .service
                .as_ref()
                .map(|s| policy::topic_policy(&topic_arn, &scope.region, &scope.account, &s.id));
            if service_new || topic.policy != desired {
                steps.push(Step::new(Change::SetTopicPolicy, policy_reason));
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
                steps.push(Step::new(
                    Change::UpdateNotification,
                    "Connect, Accept, Reject and Delete to the stack's topic",
                ));
            }
        }
        _ => steps.push(Step::new(
            Change::CreateNotification,
            "Connect, Accept, Reject and Delete to the topic",
        )),
    }
}

/// The approver role and, before it, its permissions boundary: the most
/// the role may ever do, whatever its own policy says. The boundary's
/// document depends only on the stack, region and account, so a converged
/// stack never changes it; the operator policy denies changing it in place
/// (see policy::approver_boundary_policy), so a different one is refused.
fn approver_iam(
    observed: &Observed,
    scope: &Scope,
    steps: &mut Vec<Step>,
) -> Result<(), ProvisionError> {
    let boundary = policy::approver_boundary_policy(scope);
    match &observed.boundary {
        None => steps.push(Step::new(
            Change::CreateBoundary { document: boundary },
            "the most the approver role may do; created before the role",
        )),
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
    let policy_reason =
        "list, accept and reject connections of this service only; read its tenants; own logs";
    let Some(role) = &observed.role else {
        steps.push(Step::new(
            Change::CreateRole,
            "assumable by Lambda only, inside the permissions boundary",
        ));
        steps.push(Step::new(Change::PutRolePolicy, policy_reason));
        return Ok(());
    };
    if role.boundary.as_deref() != Some(scope.boundary_arn().as_str()) {
        steps.push(Step::new(
            Change::SetRoleBoundary,
            "the role's permissions boundary is not the stack's boundary policy",
        ));
    }
    if role.trust.as_ref() != Some(&policy::lambda_trust_policy()) {
        steps.push(Step::new(Change::SetRoleTrust, "assumable by Lambda only"));
    }
    // A new service is one the policy does not name yet.
    if observed.service.is_none()
        || role.policy.as_ref() != Some(&policy::approver_role_policy(scope))
    {
        steps.push(Step::new(Change::PutRolePolicy, policy_reason));
    }
    Ok(())
}

/// The approver function: its code, and its configuration (the stack's
/// role, the runtime, an environment naming the service and the registry).
fn function(spec: &StackSpec, observed: &Observed, package_sha256: &str, steps: &mut Vec<Step>) {
    let architecture = spec.approver.architecture;
    let environment = approver_environment(spec);
    let Some(f) = &observed.function else {
        steps.push(Step::new(
            Change::CreateFunction {
                architecture,
                environment,
            },
            format!(
                "{RUNTIME}, {}, from {}",
                architecture.as_str(),
                spec.approver.package.display()
            ),
        ));
        return;
    };
    if f.code_sha256.as_deref() != Some(package_sha256)
        || f.architecture.as_deref() != Some(architecture.as_str())
    {
        steps.push(Step::new(
            Change::UpdateFunctionCode { architecture },
            "the package or architecture changed",
        ));
    }
    // A role or service this run creates is not the one configured either.
    let role_ok = observed
        .role
        .as_ref()
        .is_some_and(|r| f.role.as_deref() == Some(r.arn.as_str()));
    let env_ok = observed
        .service
        .as_ref()
        .is_some_and(|s| f.environment == with_service_id(&environment, &s.id));
    let runtime_ok = f.runtime.as_deref() == Some(RUNTIME) && f.handler.as_deref() == Some(HANDLER);
    if !role_ok || !env_ok || !runtime_ok {
        let reason = if f.environment.contains_key(LEGACY_ENV_ALLOWLIST) {
            format!(
                "name the tenant registry and drop {LEGACY_ENV_ALLOWLIST} (its accounts are \
                 tenants now)"
            )
        } else {
            "service id, registry table, policy, role or runtime changed".to_string()
        };
        steps.push(Step::new(
            Change::UpdateFunctionConfiguration { environment },
            reason,
        ));
    }
}

/// SNS may invoke the approver, from the stack's topic only, and the
/// approver subscribes to the topic.
fn subscription(observed: &Observed, scope: &Scope, steps: &mut Vec<Step>) {
    let sns_ok = observed
        .function
        .as_ref()
        .and_then(|f| f.permissions.get(SNS_PERMISSION_SID))
        .is_some_and(|s| {
            permission_matches(s, "sns.amazonaws.com", &scope.topic_arn(), &scope.account)
        });
    if !sns_ok {
        steps.push(Step::new(
            Change::AddSnsPermission,
            "sns.amazonaws.com, from the stack's topic only",
        ));
    }
    if observed.approver_subscription().is_none() {
        steps.push(Step::new(
            Change::CreateSubscription,
            "the approver runs on every notification",
        ));
    }
}

/// The schedule that runs the approver's sweep: the rule, the permission
/// to invoke the approver (from the rule only) and the rule's target.
fn sweep(spec: &StackSpec, observed: &Observed, scope: &Scope, steps: &mut Vec<Step>) {
    let schedule = &spec.approver.sweep_schedule;
    match &observed.rule {
        None => steps.push(Step::new(
            Change::CreateSweepRule {
                schedule: schedule.clone(),
            },
            schedule.clone(),
        )),
        Some(rule) => {
            if rule.schedule.as_ref() != Some(schedule)
                || !rule
                    .state
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("ENABLED"))
            {
                steps.push(Step::new(
                    Change::UpdateSweepRule {
                        schedule: schedule.clone(),
                    },
                    format!("{schedule}, enabled"),
                ));
            }
        }
    }
    let function = observed.function.as_ref();
    let permission_ok = function
        .and_then(|f| f.permissions.get(SWEEP_PERMISSION_SID))
        .is_some_and(|s| {
            permission_matches(s, "events.amazonaws.com", &scope.rule_arn(), &scope.account)
        });
    if !permission_ok {
        steps.push(Step::new(
            Change::AddSweepPermission,
            "events.amazonaws.com, from the sweep rule only",
        ));
    }
    let target_ok = function.is_some_and(|f| {
        observed
            .rule
            .as_ref()
            .is_some_and(|r| r.target_arns.contains(&f.arn))
    });
    if !target_ok {
        steps.push(Step::new(
            Change::AddSweepTarget,
            "the rule invokes the approver",
        ));
    }
}

/// The principals allowed to see and request the service, last of all: an
/// account they newly allow can request at once, so whatever answers its
/// request must be in place first. Above all the approver must then already
/// be the one that reads the registry (the registry's own steps, table and
/// seeded tenants, come first of all): an approver still configured from a
/// legacy `APPROVER_ALLOWLIST` would refuse a tenant that is not on that
/// list under the `reject` policy. An account being removed may, for that
/// moment, still request and is rejected or left pending, which is what its
/// removal asks for anyway.
fn principals(spec: &StackSpec, observed: &Observed, steps: &mut Vec<Step>) {
    let desired = desired_principals(spec, observed);
    let (add, remove): (Vec<String>, Vec<String>) = match &observed.service {
        None => (desired.into_iter().collect(), Vec::new()),
        Some(service) => (
            desired.difference(&service.principals).cloned().collect(),
            service.principals.difference(&desired).cloned().collect(),
        ),
    };
    if add.is_empty() && remove.is_empty() {
        return;
    }
    let listed = |principals: &[String]| sample(principals.iter().map(String::as_str));
    let reason = match &observed.service {
        None => format!("allow [{}]", listed(&add)),
        Some(_) => format!(
            "follow the registry: add [{}], remove [{}]",
            listed(&add),
            listed(&remove)
        ),
    };
    steps.push(Step::new(Change::SetPrincipals { add, remove }, reason));
}

#[cfg(test)]
mod tests;

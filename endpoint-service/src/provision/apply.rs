//! Runs a [`Plan`] step by step through the resource adapters. Each step's
//! [`Change`] carries what to do, and every change has its arm here, so a
//! planned step is always one `apply` can run. The observation is kept
//! current so later steps use the ids earlier steps created.
//! A failure stops at that step and says what was done before it; running
//! `up` again observes (by tag and name) and continues from there.

use std::collections::BTreeSet;
use std::fmt;

use super::observe::{
    BoundaryObs, HealthCheckObs, ListenerObs, LoadBalancerObs, Observed, RoleObs, RuleObs,
    TargetGroupObs, TargetObs, TopicObs, Zone,
};
use super::plan::{scope, with_service_id, Change, Plan, Step};
use super::policy::{self, SNS_PERMISSION_SID, SWEEP_PERMISSION_SID};
use super::resources::approver::{self, FunctionSpec};
use super::resources::{
    network, nlb, schedule, service, tenants_table, topic, verification_record, StackTags,
};
use super::spec::{NetworkSpec, StackSpec};
use super::{registry_err, Clients, ProvisionError};
use crate::approval::{AccountId, Tenant};
use privatelink_core::cli::progress::Progress;
use privatelink_registry::{Registry, RegistryError, Write};

/// Why `apply` stopped.
#[derive(Debug, thiserror::Error)]
pub struct ApplyError {
    /// Steps completed before the failing one.
    pub done: usize,
    pub total: usize,
    pub step: Step,
    /// In the message (not a `source`, so it is printed once).
    pub error: ProvisionError,
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "step {}/{} ({} {}) failed: {}. ",
            self.done + 1,
            self.total,
            self.step.action(),
            self.step.change,
            self.error
        )?;
        if self.done == 0 {
            write!(f, "Nothing was changed before it.")?;
        } else {
            write!(
                f,
                "The {} step(s) before it were done and are kept.",
                self.done
            )?;
        }
        write!(
            f,
            " Run `up` again to continue: it finds what exists by the stack's tag."
        )
    }
}

fn unknown(what: &str) -> ProvisionError {
    ProvisionError::Refused(format!("{what} is not known at this step; run `up` again"))
}

/// The ids and ARNs a step needs from an earlier step or from the
/// observation. Missing means the earlier step did not record it; `up`
/// again observes it.
fn known(value: Option<String>, what: &str) -> Result<String, ProvisionError> {
    value.ok_or_else(|| unknown(what))
}

fn service_id(o: &Observed) -> Result<String, ProvisionError> {
    known(
        o.service.as_ref().map(|s| s.id.clone()),
        "the endpoint service",
    )
}

fn topic_arn(o: &Observed) -> Result<String, ProvisionError> {
    known(o.topic.as_ref().map(|t| t.arn.clone()), "the topic")
}

fn load_balancer_arn(o: &Observed) -> Result<String, ProvisionError> {
    known(
        o.load_balancer.as_ref().map(|l| l.arn.clone()),
        "the load balancer",
    )
}

fn role_arn(o: &Observed) -> Result<String, ProvisionError> {
    known(o.role.as_ref().map(|r| r.arn.clone()), "the approver role")
}

fn boundary_arn(o: &Observed) -> Result<String, ProvisionError> {
    known(
        o.boundary.as_ref().map(|b| b.arn.clone()),
        "the approver's permissions boundary",
    )
}

fn function_arn(o: &Observed) -> Result<String, ProvisionError> {
    known(o.function.as_ref().map(|f| f.arn.clone()), "the function")
}

fn rule_arn(o: &Observed) -> Result<String, ProvisionError> {
    known(o.rule.as_ref().map(|r| r.arn.clone()), "the sweep rule")
}

/// The subnets the load balancer uses.
pub fn load_balancer_subnets(spec: &StackSpec, observed: &Observed) -> Vec<String> {
    match &spec.network {
        NetworkSpec::Existing { subnet_ids, .. } => subnet_ids.clone(),
        NetworkSpec::Create { .. } => {
            let ids: BTreeSet<String> = observed
                .subnets
                .iter()
                .filter(|s| s.owned && observed.zones.iter().any(|z| z.id == s.zone_id))
                .map(|s| s.id.clone())
                .collect();
            ids.into_iter().collect()
        }
    }
}

/// Runs every step of `plan` in order. `zip` is the approver package.
pub async fn apply(
    clients: &Clients,
    spec: &StackSpec,
    observed: &mut Observed,
    plan: &Plan,
    zip: &[u8],
    progress: &Progress,
) -> Result<(), ApplyError> {
    let total = plan.steps.len();
    for (done, step) in plan.steps.iter().enumerate() {
        progress.step(done + 1, total, &step.to_string());
        if let Err(error) = apply_step(clients, spec, observed, step, zip, progress).await {
            return Err(ApplyError {
                done,
                total,
                step: step.clone(),
                error,
            });
        }
    }
    Ok(())
}

async fn apply_step(
    clients: &Clients,
    spec: &StackSpec,
    observed: &mut Observed,
    step: &Step,
    zip: &[u8],
    progress: &Progress,
) -> Result<(), ProvisionError> {
    let tags = StackTags::new(&spec.name, &spec.tags);
    let stack = &spec.name;
    let vpc_id = |o: &Observed| known(o.vpc.as_ref().map(|v| v.id.clone()), "the VPC");
    match &step.change {
        Change::CreateTenantsTable => {
            observed.tenants_table =
                Some(tenants_table::create_table(&clients.dynamodb, &tags, progress).await?);
        }
        Change::EnablePitr => {
            let table = observed
                .tenants_table
                .as_mut()
                .ok_or_else(|| unknown("the tenant registry's table"))?;
            tenants_table::enable_pitr(&clients.dynamodb, &table.name, progress).await?;
            table.pitr = true;
        }
        Change::SetTenantsTableTags => {
            let table = observed
                .tenants_table
                .as_mut()
                .ok_or_else(|| unknown("the tenant registry's table"))?;
            tenants_table::set_tags(&clients.dynamodb, &table.arn, &tags).await?;
            table.tags.extend(tags.pairs());
        }
        Change::CreateTenants { accounts } => {
            let table = known(
                observed.tenants_table.as_ref().map(|t| t.name.clone()),
                "the tenant registry's table",
            )?;
            let registry = Registry::new(clients.dynamodb.clone(), table);
            let created = seed(&registry, accounts, progress).await?;
            observed.tenants.extend(created);
        }
        Change::CreateVpc { cidr } => {
            observed.vpc = Some(network::create_vpc(&clients.ec2, &tags, cidr).await?);
        }
        Change::CreateSubnet {
            zone_name,
            zone_id,
            cidr,
        } => {
            let zone = Zone {
                name: zone_name.clone(),
                id: zone_id.clone(),
            };
            let subnet =
                network::create_subnet(&clients.ec2, &tags, &vpc_id(observed)?, &zone, cidr)
                    .await?;
            observed.subnets.push(subnet);
        }
        Change::CreateTargetGroup {
            port,
            target_type,
            health_check,
        } => {
            let arn = nlb::create_target_group(
                &clients.elbv2,
                &tags,
                *port,
                &vpc_id(observed)?,
                *target_type,
                health_check,
            )
            .await?;
            observed.target_groups.push(TargetGroupObs {
                arn,
                name: stack.target_group(*port),
                port: *port,
                target_type: target_type.as_str().to_string(),
                health_check: HealthCheckObs {
                    protocol: health_check.protocol.as_str().to_string(),
                    port: health_check
                        .port
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| "traffic-port".into()),
                    path: health_check.path.clone(),
                    interval_seconds: i32::from(health_check.interval_seconds),
                    healthy_threshold: i32::from(health_check.healthy_threshold),
                    unhealthy_threshold: i32::from(health_check.unhealthy_threshold),
                },
                // A new target group has the attribute off (AWS's default).
                proxy_protocol_v2: false,
                targets: Vec::new(),
            });
        }
        Change::SetHealthCheck { port, health_check } => {
            let arn = known(
                observed.target_group(*port).map(|t| t.arn.clone()),
                "the target group",
            )?;
            nlb::set_health_check(&clients.elbv2, &arn, health_check).await?;
        }
        Change::SetProxyProtocolV2 { port, enabled } => {
            let tg = observed
                .target_groups
                .iter_mut()
                .find(|t| t.port == *port)
                .ok_or_else(|| unknown("the target group"))?;
            nlb::set_proxy_protocol_v2(&clients.elbv2, &tg.arn, *enabled).await?;
            tg.proxy_protocol_v2 = *enabled;
        }
        Change::RegisterTargets { port, targets } => {
            set_targets(clients, observed, *port, targets, &[]).await?;
        }
        Change::UpdateTargets {
            port,
            register,
            deregister,
        } => {
            set_targets(clients, observed, *port, register, deregister).await?;
        }
        Change::CreateLoadBalancer => {
            let subnets = load_balancer_subnets(spec, observed);
            let arn = nlb::create_load_balancer(&clients.elbv2, &tags, &subnets, progress).await?;
            observed.load_balancer = Some(LoadBalancerObs {
                arn,
                name: stack.load_balancer(),
                state: "active".into(),
                scheme: "internal".into(),
                subnet_ids: subnets.into_iter().collect(),
                zone_names: Vec::new(),
                cross_zone: false,
            });
        }
        Change::SetLoadBalancerSubnets => {
            let subnets = load_balancer_subnets(spec, observed);
            let lb = observed
                .load_balancer
                .as_mut()
                .ok_or_else(|| unknown("the load balancer"))?;
            nlb::set_subnets(&clients.elbv2, &lb.arn, &subnets).await?;
            lb.subnet_ids = subnets.into_iter().collect();
        }
        Change::EnableCrossZone => {
            let lb = observed
                .load_balancer
                .as_mut()
                .ok_or_else(|| unknown("the load balancer"))?;
            nlb::set_cross_zone(&clients.elbv2, &lb.arn).await?;
            lb.cross_zone = true;
        }
        Change::CreateListener { port } => {
            let lb = load_balancer_arn(observed)?;
            let tg = known(
                observed.target_group(*port).map(|t| t.arn.clone()),
                "the target group",
            )?;
            let arn = nlb::create_listener(&clients.elbv2, &tags, &lb, *port, &tg).await?;
            observed.listeners.push(ListenerObs {
                arn,
                port: *port,
                target_group_arn: Some(tg),
            });
        }
        Change::UpdateListener { port } => {
            let tg = known(
                observed.target_group(*port).map(|t| t.arn.clone()),
                "the target group",
            )?;
            let listener = observed
                .listeners
                .iter_mut()
                .find(|l| l.port == *port)
                .ok_or_else(|| unknown("the listener"))?;
            nlb::set_listener_target(&clients.elbv2, &listener.arn, &tg).await?;
            listener.target_group_arn = Some(tg);
        }
        Change::DeleteListener { port, arn } => {
            nlb::delete_listener(&clients.elbv2, arn).await?;
            observed.listeners.retain(|l| l.port != *port);
        }
        Change::DeleteTargetGroup { port, arn } => {
            nlb::delete_target_group(&clients.elbv2, arn).await?;
            observed.target_groups.retain(|t| t.port != *port);
        }
        Change::CreateService => {
            let lb = load_balancer_arn(observed)?;
            observed.service = Some(service::create_service(&clients.ec2, &tags, &lb).await?);
        }
        Change::UpdateService {
            attach_load_balancer,
        } => {
            let attach = match attach_load_balancer {
                true => Some(load_balancer_arn(observed)?),
                false => None,
            };
            let svc = observed
                .service
                .as_mut()
                .ok_or_else(|| unknown("the endpoint service"))?;
            service::set_service(&clients.ec2, &svc.id, attach.as_deref()).await?;
            svc.load_balancer_arns.extend(attach);
            svc.acceptance_required = true;
        }
        Change::SetSupportedRegions { add, remove } => {
            let svc = observed
                .service
                .as_mut()
                .ok_or_else(|| unknown("the endpoint service"))?;
            service::set_supported_regions(&clients.ec2, &svc.id, add, remove).await?;
            svc.supported_regions.extend(add.iter().cloned());
            for region in remove {
                svc.supported_regions.remove(region);
            }
        }
        Change::SetPrincipals { add, remove } => {
            // A seeded account that an operator added meanwhile, suspended or
            // expiring, is left as the registry holds it (see `seed`): the
            // service does not allow what the registry does not entitle.
            let withheld: BTreeSet<String> = observed
                .tenants
                .iter()
                .filter(|t| !t.is_entitled(observed.now))
                .map(|t| crate::arn::account_principal(&observed.region, t.account_id.as_str()))
                .collect();
            let add: Vec<String> = add
                .iter()
                .filter(|p| !withheld.contains(*p))
                .cloned()
                .collect();
            let svc = observed
                .service
                .as_mut()
                .ok_or_else(|| unknown("the endpoint service"))?;
            service::set_principals(&clients.ec2, &svc.id, &add, remove).await?;
            svc.principals.extend(add);
            svc.principals.retain(|p| !remove.contains(p));
        }
        Change::SetPrivateDnsName { name } => {
            let svc = observed
                .service
                .as_mut()
                .ok_or_else(|| unknown("the endpoint service"))?;
            service::set_private_dns(&clients.ec2, &svc.id, name.as_deref()).await?;
            svc.private_dns_name = name.clone();
            // The old name's verification no longer applies: later steps read it anew.
            svc.private_dns = None;
        }
        Change::CreateVerificationRecord { name } => {
            // The verification values exist only once the name is set: read
            // them back (one service, by id) and keep them for the next step.
            let svc = observed
                .service
                .as_mut()
                .ok_or_else(|| unknown("the endpoint service"))?;
            let dns = service::private_dns_state(&clients.ec2, &svc.id).await?;
            svc.private_dns = dns.clone();
            let (Some(record), Some(value)) = (
                dns.as_ref().and_then(|d| d.name.clone()),
                dns.as_ref().and_then(|d| d.value.clone()),
            ) else {
                progress.note(
                    "  the service reports no verification record yet; `status` shows it later",
                );
                return Ok(());
            };
            match verification_record::find_record(&clients.route53, &record, &value, name).await? {
                Some(found) if found.present => observed.verification = Some(found),
                Some(mut missing) => {
                    verification_record::upsert_record(&clients.route53, &missing).await?;
                    missing.present = true;
                    observed.verification = Some(missing);
                }
                None => progress.note(&format!(
                    "  no public Route 53 zone in this account holds {name}: create TXT {} = \"{value}\" at your DNS host",
                    verification_record::record_name(&record, name)
                )),
            }
        }
        Change::StartPrivateDnsVerification => {
            let svc = observed
                .service
                .as_mut()
                .ok_or_else(|| unknown("the endpoint service"))?;
            // As EC2 has it now: read by the record step of this run, or
            // read here (the name may have just been set).
            let before = match &svc.private_dns {
                Some(dns) if dns.state.is_some() => Some(dns.clone()),
                _ => service::private_dns_state(&clients.ec2, &svc.id).await?,
            };
            match before.as_ref().and_then(|d| d.state.as_deref()) {
                None => progress
                    .note("  the service reports no verification state yet; run `up` again later"),
                Some("verified") => progress.note("  the private DNS name is already verified"),
                Some(_) => {
                    service::start_private_dns_verification(&clients.ec2, &svc.id).await?;
                    let after = service::private_dns_state(&clients.ec2, &svc.id).await?;
                    let state = after.as_ref().and_then(|d| d.state.clone());
                    progress.note(&format!(
                        "  private DNS name verification: {}{}",
                        state.as_deref().unwrap_or("unknown"),
                        match state.as_deref() {
                            Some("verified") => "",
                            Some("failed") => {
                                " (the TXT record was not found; fix it, then run `up` again)"
                            }
                            _ => " (AWS is checking; `status` shows the result)",
                        }
                    ));
                    svc.private_dns = after;
                    return Ok(());
                }
            }
            svc.private_dns = before;
        }
        Change::CreateTopic => {
            let arn = topic::create_topic(&clients.sns, &tags).await?;
            observed.topic = Some(TopicObs { arn, policy: None });
        }
        Change::SetTopicPolicy => {
            let service_id = service_id(observed)?;
            let (region, account) = (observed.region.clone(), observed.account.clone());
            let t = observed
                .topic
                .as_mut()
                .ok_or_else(|| unknown("the topic"))?;
            let document = policy::topic_policy(&t.arn, &region, &account, &service_id);
            topic::set_policy(&clients.sns, &t.arn, &document).await?;
            t.policy = Some(document);
        }
        Change::CreateNotification => {
            let service_id = service_id(observed)?;
            let topic_arn = topic_arn(observed)?;
            observed.notification = Some(
                service::create_notification(&clients.ec2, stack, &service_id, &topic_arn).await?,
            );
        }
        Change::UpdateNotification => {
            let topic_arn = topic_arn(observed)?;
            let n = observed
                .notification
                .as_mut()
                .ok_or_else(|| unknown("the notification"))?;
            service::set_notification(&clients.ec2, &n.id, &topic_arn).await?;
            n.topic_arn = topic_arn;
        }
        Change::CreateBoundary { document } => {
            let arn = approver::create_boundary(&clients.iam, &tags, document).await?;
            observed.boundary = Some(BoundaryObs {
                arn,
                document: Some(document.clone()),
            });
        }
        Change::CreateRole => {
            let boundary = boundary_arn(observed)?;
            let arn = approver::create_role(&clients.iam, &tags, &boundary, progress).await?;
            observed.role = Some(RoleObs {
                arn,
                trust: Some(policy::lambda_trust_policy()),
                policy: None,
                boundary: Some(boundary),
            });
        }
        Change::SetRoleBoundary => {
            let boundary = boundary_arn(observed)?;
            approver::set_role_boundary(&clients.iam, stack, &boundary).await?;
            if let Some(role) = observed.role.as_mut() {
                role.boundary = Some(boundary);
            }
        }
        Change::SetRoleTrust => {
            approver::set_trust(&clients.iam, stack).await?;
        }
        Change::PutRolePolicy => {
            // The policy names the service, which this run may have created.
            if observed.service.is_none() {
                return Err(unknown("the endpoint service"));
            }
            let document = policy::approver_role_policy(&scope(spec, observed));
            approver::put_role_policy(&clients.iam, stack, &document).await?;
            if let Some(role) = observed.role.as_mut() {
                role.policy = Some(document);
            }
        }
        Change::CreateFunction {
            architecture,
            environment,
        } => {
            let role_arn = role_arn(observed)?;
            let environment = with_service_id(environment, &service_id(observed)?);
            let function = FunctionSpec {
                role_arn: &role_arn,
                zip,
                architecture: architecture.as_str(),
                environment: &environment,
            };
            approver::create_function(&clients.lambda, &tags, &function, progress).await?;
            observed.function = approver::find_function(&clients.lambda, stack).await?;
        }
        Change::UpdateFunctionCode { architecture } => {
            approver::update_code(&clients.lambda, stack, zip, architecture.as_str()).await?;
        }
        Change::UpdateFunctionConfiguration { environment } => {
            let role_arn = role_arn(observed)?;
            let environment = with_service_id(environment, &service_id(observed)?);
            let function = FunctionSpec {
                role_arn: &role_arn,
                zip,
                architecture: spec.approver.architecture.as_str(),
                environment: &environment,
            };
            approver::update_configuration(&clients.lambda, stack, &function).await?;
        }
        Change::AddSnsPermission => {
            let topic_arn = topic_arn(observed)?;
            replace_permission(
                clients,
                observed,
                stack,
                SNS_PERMISSION_SID,
                "sns.amazonaws.com",
                &topic_arn,
            )
            .await?;
        }
        Change::CreateSubscription => {
            let topic_arn = topic_arn(observed)?;
            let function_arn = function_arn(observed)?;
            let subscription = topic::subscribe(&clients.sns, &topic_arn, &function_arn).await?;
            observed.subscriptions.push(subscription);
        }
        Change::CreateSweepRule { schedule } | Change::UpdateSweepRule { schedule } => {
            let arn = schedule::put_rule(&clients.events, &tags, schedule).await?;
            let targets = observed
                .rule
                .take()
                .map(|r| r.target_arns)
                .unwrap_or_default();
            observed.rule = Some(RuleObs {
                arn,
                schedule: Some(schedule.clone()),
                state: Some("ENABLED".into()),
                target_arns: targets,
            });
        }
        Change::AddSweepPermission => {
            let rule_arn = rule_arn(observed)?;
            replace_permission(
                clients,
                observed,
                stack,
                SWEEP_PERMISSION_SID,
                "events.amazonaws.com",
                &rule_arn,
            )
            .await?;
        }
        Change::AddSweepTarget => {
            let function_arn = function_arn(observed)?;
            schedule::put_target(&clients.events, stack, &function_arn).await?;
            if let Some(rule) = observed.rule.as_mut() {
                rule.target_arns = vec![function_arn];
            }
        }
    }
    Ok(())
}

/// Registers and deregisters the targets of `port`'s target group (which
/// this run may have created).
async fn set_targets(
    clients: &Clients,
    observed: &mut Observed,
    port: u16,
    register: &[(String, u16)],
    deregister: &[(String, u16)],
) -> Result<(), ProvisionError> {
    let tg = observed
        .target_groups
        .iter_mut()
        .find(|t| t.port == port)
        .ok_or_else(|| unknown("the target group"))?;
    nlb::set_targets(&clients.elbv2, &tg.arn, register, deregister).await?;
    tg.targets
        .retain(|t| !deregister.contains(&(t.id.clone(), t.port)));
    tg.targets
        .extend(register.iter().map(|(id, port)| TargetObs {
            id: id.clone(),
            port: *port,
            health: "initial".into(),
            reason: None,
        }));
    Ok(())
}

/// Who a seeded tenant's `updated_by` names: the stack's config file.
pub const SEED_AUTHOR: &str = "config";

/// Creates `accounts` as active tenants (name = account id), 100 to a
/// `TransactWriteItems`. Each create is conditional on the account being
/// absent, so a tenant written meanwhile (an operator's `tenants add`) is
/// never overwritten: when a transaction loses that race, its accounts are
/// created one by one and the ones that exist are left as they are.
/// Returns the tenants as the registry now holds them (created, or found),
/// so the allowed principals follow what is really there.
async fn seed(
    registry: &Registry,
    accounts: &[AccountId],
    progress: &Progress,
) -> Result<Vec<Tenant>, ProvisionError> {
    let tenants: Vec<Tenant> = accounts
        .iter()
        .map(|a| Tenant::active(a.clone(), a.as_str()))
        .collect();
    let writes: Vec<Write> = tenants.iter().cloned().map(Write::Create).collect();
    match registry.write_all(&writes, SEED_AUTHOR).await {
        Ok(_) => return Ok(tenants),
        Err(RegistryError::Conflict { .. }) => {}
        Err(other) => return Err(registry_err(other)),
    }
    let mut held = Vec::new();
    for tenant in &tenants {
        match registry.create(tenant, SEED_AUTHOR).await {
            Ok(stored) => held.push(stored),
            Err(RegistryError::Conflict { account, .. }) => {
                progress.note(&format!(
                    "  tenant {account} is in the registry already: left as it is"
                ));
                held.extend(registry.get(&account).await.map_err(registry_err)?);
            }
            Err(other) => return Err(registry_err(other)),
        }
    }
    Ok(held)
}

/// Adds a permission statement, replacing a stale one with the same id.
async fn replace_permission(
    clients: &Clients,
    observed: &mut Observed,
    stack: &crate::naming::StackName,
    sid: &str,
    principal: &str,
    source_arn: &str,
) -> Result<(), ProvisionError> {
    let account = observed.account.clone();
    let function = observed
        .function
        .as_mut()
        .ok_or_else(|| unknown("the function"))?;
    if function.permissions.contains_key(sid) {
        approver::remove_permission(&clients.lambda, stack, sid).await?;
    }
    approver::add_permission(&clients.lambda, stack, sid, principal, source_arn, &account).await?;
    function.permissions.insert(
        sid.to_string(),
        serde_json::json!({"Sid": sid, "Principal": {"Service": principal}, "Condition": {"ArnLike": {"AWS:SourceArn": source_arn}}}),
    );
    Ok(())
}

//! `status`: what consumers need (the service name), what operators need
//! (AZs with their IDs, load balancer and target health, the notification
//! wiring, the tenant registry) and every connection with its owner, state,
//! age and the owner's standing in the registry. One report type for the
//! table and for JSON.

use std::collections::BTreeSet;
use std::fmt;

use super::calls::CallSummary;
use super::observe::{
    observe, observe_tenants, observe_verification, Observed, PrivateDnsObs, VerificationObs,
};
use super::plan::entitled_principals;
use super::policy::{topic_policy, SNS_PERMISSION_SID, SWEEP_PERMISSION_SID};
use super::resources::approver::permission_matches;
use super::resources::service::{connections, ConnectionObs};
use super::spec::StackSpec;
use super::{Clients, ProvisionError};
use crate::approval::{Standing, Tenants};
use crate::naming::StackName;
use crate::state::EndpointState;

#[derive(Debug, Clone, serde::Serialize)]
pub struct ZoneStatus {
    pub name: String,
    pub id: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ServiceStatus {
    pub id: String,
    /// What consumers put in `consumer-cli connect`.
    pub name: String,
    pub state: String,
    pub acceptance_required: bool,
    pub zones: Vec<ZoneStatus>,
    pub allowed_principals: Vec<String>,
    /// The regions whose consumers may connect: the stack's own first, then
    /// the others (`supported_regions`, cross-region PrivateLink).
    pub supported_regions: Vec<String>,
    pub private_dns_name: Option<String>,
    /// The TXT record that proves the private DNS name's domain.
    pub private_dns_verification: Option<PrivateDnsObs>,
    /// That record in a public Route 53 zone of this account, if one
    /// holds the domain.
    pub private_dns_record: Option<VerificationObs>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadBalancerStatus {
    pub name: String,
    pub state: String,
    pub scheme: String,
    pub cross_zone: bool,
    pub zones: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TargetStatus {
    pub listener_port: u16,
    pub target: String,
    pub target_port: u16,
    /// The target group sends a PROXY protocol v2 header (a `[gateway]`).
    pub proxy_protocol_v2: bool,
    pub health: String,
    pub reason: Option<String>,
}

/// How notifications reach the approver.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Wiring {
    pub topic_arn: Option<String>,
    /// The topic policy is exactly the vpce-only one `up` sets (SNS always
    /// has *a* policy: its default lets the whole account publish).
    pub topic_policy_set: bool,
    pub notification_id: Option<String>,
    pub notification_events: Vec<String>,
    pub notification_to_topic: bool,
    pub approver_function: Option<String>,
    pub approver_subscribed: bool,
    /// The function's resource policy lets SNS invoke it from this topic
    /// and account only (exactly what `up` adds).
    pub sns_may_invoke: bool,
    pub sweep_schedule: Option<String>,
    pub sweep_invokes_approver: bool,
}

impl Wiring {
    /// Every link from the service to the approver is in place.
    pub fn complete(&self) -> bool {
        self.topic_policy_set
            && self.notification_to_topic
            && self.approver_subscribed
            && self.sns_may_invoke
            && self.sweep_invokes_approver
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ConnectionStatus {
    pub endpoint_id: String,
    pub owner: Option<String>,
    pub state: EndpointState,
    pub age_seconds: Option<i64>,
    /// The owner is a tenant entitled now (active, unexpired; quota aside).
    pub entitled: bool,
    /// The owner's standing: `entitled`, `suspended`, `expired` or
    /// `not a tenant`.
    pub tenant: String,
}

/// The tenant registry's table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RegistryStatus {
    pub table: String,
    pub arn: String,
    pub state: String,
    /// Point-in-time recovery is on.
    pub point_in_time_recovery: bool,
    pub tenants: usize,
    /// Active and unexpired now.
    pub entitled: usize,
}

/// The service's allowed principals compared with the registry: they follow
/// its entitled tenants (or are `*` alone, with `allow_any_principal`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PrincipalsCheck {
    pub in_sync: bool,
    /// Allowed to request but not an entitled tenant (their requests are
    /// refused by the approver).
    pub not_entitled: Vec<String>,
    /// Entitled tenants the service does not allow yet (they cannot see
    /// it).
    pub not_allowed: Vec<String>,
}

/// Everything `status` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusReport {
    pub stack: String,
    pub region: String,
    pub account: String,
    pub exists: bool,
    pub service: Option<ServiceStatus>,
    pub load_balancer: Option<LoadBalancerStatus>,
    pub targets: Vec<TargetStatus>,
    pub wiring: Wiring,
    /// The tenant registry (kept by `down` unless asked, so it may exist
    /// when nothing else does).
    pub registry: Option<RegistryStatus>,
    pub connections: Vec<ConnectionStatus>,
    /// The allowed principals compared with the registry's entitled tenants
    /// (when the service exists).
    pub principals: Option<PrincipalsCheck>,
    pub calls: CallSummary,
}

/// Compares the allowed principals with the entitled tenants (pure).
pub fn check_principals(observed: &Observed, allowed: &BTreeSet<String>) -> PrincipalsCheck {
    let any = BTreeSet::from(["*".to_string()]);
    let desired = if allowed.contains("*") {
        any
    } else {
        entitled_principals(&observed.tenants, observed.now, &observed.region)
    };
    let not_entitled: Vec<String> = allowed.difference(&desired).cloned().collect();
    let not_allowed: Vec<String> = desired.difference(allowed).cloned().collect();
    PrincipalsCheck {
        in_sync: not_entitled.is_empty() && not_allowed.is_empty(),
        not_entitled,
        not_allowed,
    }
}

fn wiring(observed: &Observed) -> Wiring {
    let function = observed.function.as_ref();
    let topic = observed.topic.as_ref();
    Wiring {
        topic_arn: topic.map(|t| t.arn.clone()),
        topic_policy_set: topic.is_some_and(|t| {
            observed.service.as_ref().is_some_and(|service| {
                t.policy.as_ref()
                    == Some(&topic_policy(
                        &t.arn,
                        &observed.region,
                        &observed.account,
                        &service.id,
                    ))
            })
        }),
        notification_id: observed.notification.as_ref().map(|n| n.id.clone()),
        notification_events: observed
            .notification
            .as_ref()
            .map(|n| n.events.iter().cloned().collect())
            .unwrap_or_default(),
        notification_to_topic: observed
            .notification
            .as_ref()
            .is_some_and(|n| topic.is_some_and(|t| t.arn == n.topic_arn)),
        approver_function: function.map(|f| f.arn.clone()),
        approver_subscribed: observed.approver_subscription().is_some(),
        sns_may_invoke: function.is_some_and(|f| {
            f.permissions
                .get(SNS_PERMISSION_SID)
                .zip(topic)
                .is_some_and(|(statement, t)| {
                    permission_matches(statement, "sns.amazonaws.com", &t.arn, &observed.account)
                })
        }),
        sweep_schedule: observed.rule.as_ref().and_then(|r| r.schedule.clone()),
        sweep_invokes_approver: function.is_some_and(|f| {
            f.permissions
                .get(SWEEP_PERMISSION_SID)
                .zip(observed.rule.as_ref())
                .is_some_and(|(statement, rule)| {
                    permission_matches(
                        statement,
                        "events.amazonaws.com",
                        &rule.arn,
                        &observed.account,
                    )
                })
                && observed
                    .rule
                    .as_ref()
                    .is_some_and(|r| r.target_arns.contains(&f.arn))
        }),
    }
}

/// Builds the report from an observation (with its tenants, read at
/// `observed.now`) and the service's connections.
pub fn report(
    stack: &StackName,
    observed: &Observed,
    found: &[ConnectionObs],
    calls: CallSummary,
) -> StatusReport {
    let now = observed.now;
    let service = observed.service.as_ref().map(|s| ServiceStatus {
        id: s.id.clone(),
        name: s.name.clone(),
        state: s.state.clone(),
        acceptance_required: s.acceptance_required,
        // Names map to IDs through this account's own AZ list: the two
        // lists of the service need not be in the same order.
        zones: s
            .zone_names
            .iter()
            .map(|name| ZoneStatus {
                name: name.clone(),
                id: observed
                    .zones
                    .iter()
                    .find(|z| &z.name == name)
                    .map(|z| z.id.clone())
                    .unwrap_or_else(|| "?".into()),
            })
            .collect(),
        allowed_principals: s.principals.iter().cloned().collect(),
        supported_regions: std::iter::once(observed.region.clone())
            .chain(
                s.supported_regions
                    .iter()
                    .filter(|r| **r != observed.region)
                    .cloned(),
            )
            .collect(),
        private_dns_name: s.private_dns_name.clone(),
        private_dns_verification: s
            .private_dns
            .clone()
            .filter(|_| s.private_dns_name.is_some()),
        private_dns_record: observed.verification.clone(),
    });
    let load_balancer = observed
        .load_balancer
        .as_ref()
        .map(|lb| LoadBalancerStatus {
            name: lb.name.clone(),
            state: lb.state.clone(),
            scheme: lb.scheme.clone(),
            cross_zone: lb.cross_zone,
            zones: lb.zone_names.clone(),
        });
    let targets = observed
        .target_groups
        .iter()
        .flat_map(|tg| {
            tg.targets.iter().map(|t| TargetStatus {
                listener_port: tg.port,
                target: t.id.clone(),
                target_port: t.port,
                proxy_protocol_v2: tg.proxy_protocol_v2,
                health: t.health.clone(),
                reason: t.reason.clone(),
            })
        })
        .collect();
    let tenants = Tenants::new(observed.tenants.iter().cloned(), now);
    let connections = found
        .iter()
        .map(|c| {
            let standing = c
                .owner
                .as_deref()
                .map(|o| tenants.standing(o))
                .unwrap_or(Standing::NotATenant);
            ConnectionStatus {
                endpoint_id: c.endpoint_id.clone(),
                owner: c.owner.clone(),
                state: c.state.clone(),
                age_seconds: c.created.map(|t| (now - t).max(0)),
                entitled: matches!(standing, Standing::Entitled { .. }),
                tenant: match standing {
                    Standing::NotATenant => "not a tenant",
                    Standing::Suspended => "suspended",
                    Standing::Expired => "expired",
                    Standing::Entitled { .. } => "entitled",
                }
                .to_string(),
            }
        })
        .collect();
    let registry = observed.tenants_table.as_ref().map(|t| RegistryStatus {
        table: t.name.clone(),
        arn: t.arn.clone(),
        state: t.status.clone(),
        point_in_time_recovery: t.pitr,
        tenants: observed.tenants.len(),
        entitled: observed
            .tenants
            .iter()
            .filter(|t| t.is_entitled(now))
            .count(),
    });
    // Computed from what was observed anyway: no extra AWS call.
    let principals = observed
        .service
        .as_ref()
        .filter(|_| observed.tenants_table.is_some())
        .map(|s| check_principals(observed, &s.principals));
    StatusReport {
        stack: stack.to_string(),
        region: observed.region.clone(),
        account: observed.account.clone(),
        exists: !observed.is_empty(),
        service,
        load_balancer,
        targets,
        wiring: wiring(observed),
        registry,
        connections,
        principals,
        calls,
    }
}

/// Observes the stack, its tenants and its connections. With a spec, its
/// network is used (an existing VPC is looked up by id).
pub async fn status(
    clients: &Clients,
    stack: &StackName,
    spec: Option<&StackSpec>,
) -> Result<StatusReport, ProvisionError> {
    let mut observed = observe(clients, stack, spec.map(|s| &s.network)).await?;
    observe_verification(clients, &mut observed).await?;
    observe_tenants(clients, &mut observed).await?;
    let found = match &observed.service {
        Some(s) => connections(&clients.ec2, &s.id).await?,
        None => Vec::new(),
    };
    Ok(report(stack, &observed, &found, clients.calls.summary()))
}

fn age(seconds: Option<i64>) -> String {
    match seconds {
        None => "-".into(),
        Some(s) if s < 120 => format!("{s}s"),
        Some(s) if s < 7200 => format!("{}m", s / 60),
        Some(s) if s < 172_800 => format!("{}h", s / 3600),
        Some(s) => format!("{}d", s / 86_400),
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "NO"
    }
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "stack {} (account {}, {})",
            self.stack, self.account, self.region
        )?;
        if !self.exists {
            write!(
                f,
                "nothing exists for this stack: run `endpoint-service up --config FILE`"
            )?;
            if let Some(r) = &self.registry {
                write!(
                    f,
                    "\ntenant registry: table {} kept, {} tenant(s) (`down --delete-tenants` deletes it)",
                    r.table, r.tenants
                )?;
            }
            return Ok(());
        }
        match &self.service {
            None => writeln!(f, "endpoint service: MISSING (run `up`)")?,
            Some(s) => {
                writeln!(f, "\nservice name (give this to consumers): {}", s.name)?;
                writeln!(
                    f,
                    "service id: {}  state: {}  acceptance required: {}",
                    s.id,
                    s.state,
                    yes(s.acceptance_required)
                )?;
                let zones: Vec<String> = s
                    .zones
                    .iter()
                    .map(|z| format!("{} ({})", z.name, z.id))
                    .collect();
                writeln!(f, "availability zones: {}", zones.join(", "))?;
                writeln!(f, "allowed principals: {}", s.allowed_principals.join(", "))?;
                writeln!(
                    f,
                    "consumer regions: {} (this stack's region first)",
                    s.supported_regions.join(", ")
                )?;
                if let Some(name) = &s.private_dns_name {
                    write!(f, "private DNS name: {name}")?;
                    match &s.private_dns_verification {
                        Some(v) if v.state.as_deref() == Some("verified") => {
                            write!(f, " (verified: consumers can use it)")?
                        }
                        Some(v) => write!(
                            f,
                            " ({}, not usable by consumers until verified; `up` asks AWS to \
                             verify it): {} record {}.{} = \"{}\"",
                            v.state.as_deref().unwrap_or("?"),
                            v.record_type.as_deref().unwrap_or("TXT"),
                            v.name.as_deref().unwrap_or("?"),
                            name.trim_start_matches("*."),
                            v.value.as_deref().unwrap_or("?")
                        )?,
                        None => {}
                    }
                    writeln!(f)?;
                    match &s.private_dns_record {
                        Some(r) => writeln!(
                            f,
                            "  TXT record in Route 53 zone {} ({}): {}",
                            r.zone_name,
                            r.zone_id,
                            if r.present { "present" } else { "MISSING (run `up`)" }
                        )?,
                        None => writeln!(f, "  no public Route 53 zone of this account holds the domain: create the record at your DNS host")?,
                    }
                }
            }
        }
        match &self.load_balancer {
            None => writeln!(f, "load balancer: MISSING")?,
            Some(lb) => writeln!(
                f,
                "\nload balancer: {} {} {}, cross-zone {}",
                lb.name,
                lb.scheme,
                lb.state,
                if lb.cross_zone { "on" } else { "OFF" }
            )?,
        }
        if !self.targets.is_empty() {
            writeln!(
                f,
                "  {:<6} {:<22} {:<6} {:<9} {:<10} reason",
                "port", "target", "to", "proxy v2", "health"
            )?;
            for t in &self.targets {
                writeln!(
                    f,
                    "  {:<6} {:<22} {:<6} {:<9} {:<10} {}",
                    t.listener_port,
                    t.target,
                    t.target_port,
                    if t.proxy_protocol_v2 { "on" } else { "off" },
                    t.health,
                    t.reason.as_deref().unwrap_or("")
                )?;
            }
        }
        let w = &self.wiring;
        writeln!(
            f,
            "\nnotifications: {}",
            if w.complete() {
                "wired"
            } else {
                "INCOMPLETE (run `up`)"
            }
        )?;
        writeln!(
            f,
            "  topic: {} (vpce-only policy: {})",
            w.topic_arn.as_deref().unwrap_or("MISSING"),
            yes(w.topic_policy_set)
        )?;
        writeln!(
            f,
            "  notification: {} [{}] to topic: {}",
            w.notification_id.as_deref().unwrap_or("MISSING"),
            w.notification_events.join(","),
            yes(w.notification_to_topic)
        )?;
        writeln!(
            f,
            "  approver: {} subscribed: {} SNS may invoke: {}",
            w.approver_function.as_deref().unwrap_or("MISSING"),
            yes(w.approver_subscribed),
            yes(w.sns_may_invoke)
        )?;
        writeln!(
            f,
            "  sweep: {} invokes approver: {}",
            w.sweep_schedule.as_deref().unwrap_or("MISSING"),
            yes(w.sweep_invokes_approver)
        )?;
        match &self.registry {
            None => writeln!(f, "\ntenant registry: MISSING (run `up`)")?,
            Some(r) => writeln!(
                f,
                "\ntenant registry: table {} ({}), point-in-time recovery {}, {} tenant(s), {} entitled",
                r.table,
                r.state,
                if r.point_in_time_recovery { "on" } else { "OFF (run `up`)" },
                r.tenants,
                r.entitled
            )?,
        }
        if let Some(p) = self.principals.as_ref().filter(|p| !p.in_sync) {
            writeln!(
                f,
                "warning: the allowed principals do not follow the registry (run `up`)"
            )?;
            if !p.not_entitled.is_empty() {
                writeln!(
                    f,
                    "  - allowed but not entitled: {}",
                    p.not_entitled.join(", ")
                )?;
            }
            if !p.not_allowed.is_empty() {
                writeln!(
                    f,
                    "  - entitled but not allowed: {}",
                    p.not_allowed.join(", ")
                )?;
            }
        }
        writeln!(f, "\nconnections: {}", self.connections.len())?;
        if !self.connections.is_empty() {
            writeln!(
                f,
                "  {:<24} {:<14} {:<18} {:<6} tenant",
                "endpoint", "owner", "state", "age"
            )?;
            for c in &self.connections {
                writeln!(
                    f,
                    "  {:<24} {:<14} {:<18} {:<6} {}",
                    c.endpoint_id,
                    c.owner.as_deref().unwrap_or("?"),
                    c.state.to_string(),
                    age(c.age_seconds),
                    c.tenant
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::{AccountId, Tenant, TenantStatus};
    use crate::provision::observe::{ServiceObs, TenantsTableObs, Zone};

    fn tenant(id: &str, status: TenantStatus, expires_at: Option<i64>) -> Tenant {
        Tenant {
            status,
            expires_at,
            ..Tenant::active(AccountId::parse(id).unwrap(), id)
        }
    }

    fn observed(principals: &[&str]) -> Observed {
        Observed {
            account: "999999999999".into(),
            region: "us-east-1".into(),
            zones: vec![
                Zone {
                    name: "us-east-1a".into(),
                    id: "use1-az6".into(),
                },
                Zone {
                    name: "us-east-1b".into(),
                    id: "use1-az1".into(),
                },
            ],
            service: Some(ServiceObs {
                id: "vpce-svc-1".into(),
                name: "com.amazonaws.vpce.us-east-1.vpce-svc-1".into(),
                state: "Available".into(),
                acceptance_required: true,
                load_balancer_arns: Default::default(),
                // The service's own lists need not be in the same order.
                zone_names: vec!["us-east-1b".into(), "us-east-1a".into()],
                zone_ids: vec!["use1-az6".into(), "use1-az1".into()],
                principals: principals.iter().map(|p| p.to_string()).collect(),
                private_dns_name: None,
                private_dns: None,
                supported_regions: ["us-east-1".to_string(), "eu-west-1".to_string()].into(),
            }),
            tenants_table: Some(TenantsTableObs {
                name: "acme-tenants".into(),
                arn: "arn:aws:dynamodb:us-east-1:999999999999:table/acme-tenants".into(),
                status: "ACTIVE".into(),
                pitr: true,
                tags: Default::default(),
            }),
            tenants: vec![
                tenant("111111111111", TenantStatus::Active, None),
                tenant("222222222222", TenantStatus::Suspended, None),
                tenant("333333333333", TenantStatus::Active, Some(5_000)),
            ],
            now: 10_000,
            ..Default::default()
        }
    }

    #[test]
    fn connections_show_age_and_the_owners_standing_in_the_registry() {
        let found: Vec<ConnectionObs> = [
            (
                "vpce-a",
                Some("111111111111"),
                EndpointState::Available,
                Some(1_000),
            ),
            (
                "vpce-b",
                Some("222222222222"),
                EndpointState::PendingAcceptance,
                Some(4_000),
            ),
            (
                "vpce-c",
                Some("333333333333"),
                EndpointState::Rejected,
                None,
            ),
            (
                "vpce-d",
                Some("444444444444"),
                EndpointState::Rejected,
                None,
            ),
            ("vpce-e", None, EndpointState::Rejected, None),
        ]
        .into_iter()
        .map(|(id, owner, state, created)| ConnectionObs {
            endpoint_id: id.into(),
            owner: owner.map(str::to_string),
            state,
            created,
        })
        .collect();
        let stack = StackName::parse("acme").unwrap();
        let report = report(
            &stack,
            &observed(&["arn:aws:iam::111111111111:root"]),
            &found,
            CallSummary::default(),
        );
        let zones: Vec<(&str, &str)> = report
            .service
            .as_ref()
            .unwrap()
            .zones
            .iter()
            .map(|z| (z.name.as_str(), z.id.as_str()))
            .collect();
        assert_eq!(
            zones,
            [("us-east-1b", "use1-az1"), ("us-east-1a", "use1-az6")]
        );
        let rows: Vec<(bool, &str, Option<i64>)> = report
            .connections
            .iter()
            .map(|c| (c.entitled, c.tenant.as_str(), c.age_seconds))
            .collect();
        assert_eq!(
            rows,
            [
                (true, "entitled", Some(9_000)),
                (false, "suspended", Some(6_000)),
                (false, "expired", None),
                (false, "not a tenant", None),
                (false, "not a tenant", None)
            ]
        );
        let registry = report.registry.as_ref().unwrap();
        assert_eq!((registry.tenants, registry.entitled), (3, 1));
        assert!(registry.point_in_time_recovery);
        assert!(report.principals.as_ref().unwrap().in_sync);
        let text = report.to_string();
        for expected in [
            "service name (give this to consumers): com.amazonaws.vpce.us-east-1.vpce-svc-1",
            "consumer regions: us-east-1, eu-west-1 (this stack's region first)",
            "2h",
            "100m",
            "INCOMPLETE",
            "tenant registry: table acme-tenants (ACTIVE), point-in-time recovery on, 3 tenant(s), 1 entitled",
        ] {
            assert!(text.contains(expected), "{expected}: {text}");
        }
        assert!(!text.contains("do not follow the registry"), "{text}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["connections"][1]["state"], "pendingAcceptance");
        assert_eq!(json["registry"]["tenants"], 3);
    }

    #[test]
    fn status_warns_when_the_principals_do_not_follow_the_registry() {
        let stack = StackName::parse("acme").unwrap();
        let render = |principals: &[&str]| {
            report(&stack, &observed(principals), &[], CallSummary::default())
        };

        // `*` alone (allow_any_principal) follows the registry by definition.
        assert!(render(&["*"]).principals.unwrap().in_sync);

        // A suspended tenant still allowed (someone edited by hand, or an
        // interrupted run), and the entitled one missing.
        let drifted = render(&["arn:aws:iam::222222222222:root"]);
        let check = drifted.principals.as_ref().unwrap();
        assert!(!check.in_sync);
        assert_eq!(check.not_entitled, ["arn:aws:iam::222222222222:root"]);
        assert_eq!(check.not_allowed, ["arn:aws:iam::111111111111:root"]);
        let text = drifted.to_string();
        assert!(
            text.contains("do not follow the registry (run `up`)"),
            "{text}"
        );
        let json = serde_json::to_value(&drifted).unwrap();
        assert_eq!(json["principals"]["in_sync"], false);
    }

    #[test]
    fn a_kept_registry_shows_when_nothing_else_exists() {
        let mut kept = observed(&[]);
        kept.service = None;
        let report = report(
            &StackName::parse("acme").unwrap(),
            &kept,
            &[],
            CallSummary::default(),
        );
        assert!(!report.exists);
        let text = report.to_string();
        assert!(
            text.contains(
                "table acme-tenants kept, 3 tenant(s) (`down --delete-tenants` deletes it)"
            ),
            "{text}"
        );
    }
}

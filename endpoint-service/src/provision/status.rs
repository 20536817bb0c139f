//! `status`: what consumers need (the service name), what operators need
//! (AZs with their IDs, load balancer and target health, the notification
//! wiring) and every connection with its owner, state, age and whether the
//! owner is allowlisted. One report type for the table and for JSON.

use std::fmt;

use super::calls::CallSummary;
use super::observe::{observe, Observed, PrivateDnsObs};
use super::policy::{SNS_PERMISSION_SID, SWEEP_PERMISSION_SID};
use super::resources::service::{connections, ConnectionObs};
use super::spec::StackSpec;
use super::{Clients, ProvisionError};
use crate::approval::config::ENV_ALLOWLIST;
use crate::approval::Allowlist;
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
    pub private_dns_name: Option<String>,
    /// The TXT record that proves the private DNS name's domain.
    pub private_dns_verification: Option<PrivateDnsObs>,
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
    pub health: String,
    pub reason: Option<String>,
}

/// How notifications reach the approver.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Wiring {
    pub topic_arn: Option<String>,
    pub topic_policy_set: bool,
    pub notification_id: Option<String>,
    pub notification_events: Vec<String>,
    pub notification_to_topic: bool,
    pub approver_function: Option<String>,
    pub approver_subscribed: bool,
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
    pub allowlisted: bool,
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
    /// The allowlist used for the `allowlisted` column: the config file's,
    /// else the approver's environment.
    pub allowlist: Vec<String>,
    pub connections: Vec<ConnectionStatus>,
    pub calls: CallSummary,
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn wiring(observed: &Observed) -> Wiring {
    let function = observed.function.as_ref();
    let topic = observed.topic.as_ref();
    Wiring {
        topic_arn: topic.map(|t| t.arn.clone()),
        topic_policy_set: topic.is_some_and(|t| t.policy.is_some()),
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
        sns_may_invoke: function.is_some_and(|f| f.permissions.contains_key(SNS_PERMISSION_SID)),
        sweep_schedule: observed.rule.as_ref().and_then(|r| r.schedule.clone()),
        sweep_invokes_approver: function.is_some_and(|f| {
            f.permissions.contains_key(SWEEP_PERMISSION_SID)
                && observed
                    .rule
                    .as_ref()
                    .is_some_and(|r| r.target_arns.contains(&f.arn))
        }),
    }
}

/// Builds the report from an observation and the service's connections.
pub fn report(
    stack: &StackName,
    observed: &Observed,
    allowlist: &Allowlist,
    found: &[ConnectionObs],
    now: i64,
    calls: CallSummary,
) -> StatusReport {
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
        private_dns_name: s.private_dns_name.clone(),
        private_dns_verification: s
            .private_dns
            .clone()
            .filter(|_| s.private_dns_name.is_some()),
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
                health: t.health.clone(),
                reason: t.reason.clone(),
            })
        })
        .collect();
    let connections = found
        .iter()
        .map(|c| ConnectionStatus {
            endpoint_id: c.endpoint_id.clone(),
            owner: c.owner.clone(),
            state: c.state.clone(),
            age_seconds: c.created.map(|t| (now - t).max(0)),
            allowlisted: c.owner.as_deref().is_some_and(|o| allowlist.contains(o)),
        })
        .collect();
    StatusReport {
        stack: stack.to_string(),
        region: observed.region.clone(),
        account: observed.account.clone(),
        exists: !observed.is_empty(),
        service,
        load_balancer,
        targets,
        wiring: wiring(observed),
        allowlist: allowlist.iter().map(|a| a.to_string()).collect(),
        connections,
        calls,
    }
}

/// Observes the stack and its connections. With a spec, its network and
/// allowlist are used; without, the approver's environment says who is
/// allowlisted.
pub async fn status(
    clients: &Clients,
    stack: &StackName,
    spec: Option<&StackSpec>,
) -> Result<StatusReport, ProvisionError> {
    let observed = observe(clients, stack, spec.map(|s| &s.network)).await?;
    let found = match &observed.service {
        Some(s) => connections(&clients.ec2, &s.id).await?,
        None => Vec::new(),
    };
    let allowlist = match spec {
        Some(spec) => spec.allowlist.clone(),
        None => observed
            .function
            .as_ref()
            .and_then(|f| f.environment.get(ENV_ALLOWLIST))
            .and_then(|text| Allowlist::parse(text).ok())
            .unwrap_or_default(),
    };
    Ok(report(
        stack,
        &observed,
        &allowlist,
        &found,
        now_seconds(),
        clients.calls.summary(),
    ))
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
            return write!(
                f,
                "nothing exists for this stack: run `endpoint-service up --config FILE`"
            );
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
                if let Some(name) = &s.private_dns_name {
                    write!(f, "private DNS name: {name}")?;
                    if let Some(v) = &s.private_dns_verification {
                        write!(
                            f,
                            " ({}): create {} record {}.{} = \"{}\"",
                            v.state.as_deref().unwrap_or("?"),
                            v.record_type.as_deref().unwrap_or("TXT"),
                            v.name.as_deref().unwrap_or("?"),
                            name.trim_start_matches("*."),
                            v.value.as_deref().unwrap_or("?")
                        )?;
                    }
                    writeln!(f)?;
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
                "  {:<6} {:<22} {:<6} {:<10} reason",
                "port", "target", "to", "health"
            )?;
            for t in &self.targets {
                writeln!(
                    f,
                    "  {:<6} {:<22} {:<6} {:<10} {}",
                    t.listener_port,
                    t.target,
                    t.target_port,
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
        writeln!(f, "\nconnections: {}", self.connections.len())?;
        if !self.connections.is_empty() {
            writeln!(
                f,
                "  {:<24} {:<14} {:<18} {:<6} allowlisted",
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
                    if c.allowlisted { "yes" } else { "no" }
                )?;
            }
        }
        Ok(())
    }
}

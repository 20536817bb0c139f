//! `status`: what consumers need (the service name), what operators need
//! (AZs with their IDs, load balancer and target health, the notification
//! wiring) and every connection with its owner, state, age and whether the
//! owner is allowlisted. One report type for the table and for JSON.

use std::fmt;

use super::calls::CallSummary;
use super::observe::{observe, observe_verification, Observed, PrivateDnsObs, VerificationObs};
use super::policy::{topic_policy, SNS_PERMISSION_SID, SWEEP_PERMISSION_SID};
use super::resources::approver::permission_matches;
use super::resources::service::{connections, ConnectionObs};
use super::spec::StackSpec;
use super::{Clients, ProvisionError};
use crate::approval::config::ENV_ALLOWLIST;
use crate::approval::Allowlist;
use crate::naming::StackName;
use crate::operator::drift::{self, Drift};
use crate::operator::principals::Principals;
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
    /// The service's allowed principals compared with the approver's
    /// `APPROVER_ALLOWLIST` (both exist), the same check as `drift`.
    pub drift: Option<Drift>,
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
    // Computed from what was observed anyway: no extra AWS call.
    let drift = match (&observed.service, &observed.function) {
        (Some(service), Some(function)) => Some(drift::compare(
            &service.id,
            &stack.function(),
            &Principals::from_list(service.principals.iter().map(String::as_str)),
            function
                .environment
                .get(ENV_ALLOWLIST)
                .and_then(|text| Allowlist::parse(text).ok())
                .as_ref(),
        )),
        _ => None,
    };
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
        drift,
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
    let mut observed = observe(clients, stack, spec.map(|s| &s.network)).await?;
    observe_verification(clients, &mut observed).await?;
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
        if let Some(drift) = self.drift.as_ref().filter(|d| !d.in_sync) {
            writeln!(f, "\n{drift}")?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::observe::{ServiceObs, Zone};

    #[test]
    fn connections_show_age_and_whether_the_owner_is_allowlisted() {
        let observed = Observed {
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
                principals: Default::default(),
                private_dns_name: None,
                private_dns: None,
            }),
            ..Default::default()
        };
        let allowlist = Allowlist::parse("111111111111").unwrap();
        let found = vec![
            ConnectionObs {
                endpoint_id: "vpce-a".into(),
                owner: Some("111111111111".into()),
                state: EndpointState::Available,
                created: Some(1_000),
            },
            ConnectionObs {
                endpoint_id: "vpce-b".into(),
                owner: Some("222222222222".into()),
                state: EndpointState::PendingAcceptance,
                created: Some(4_000),
            },
            ConnectionObs {
                endpoint_id: "vpce-c".into(),
                owner: None,
                state: EndpointState::Rejected,
                created: None,
            },
        ];
        let stack = StackName::parse("acme").unwrap();
        let report = report(
            &stack,
            &observed,
            &allowlist,
            &found,
            10_000,
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
        let rows: Vec<(bool, Option<i64>)> = report
            .connections
            .iter()
            .map(|c| (c.allowlisted, c.age_seconds))
            .collect();
        assert_eq!(
            rows,
            [(true, Some(9_000)), (false, Some(6_000)), (false, None)]
        );
        let text = report.to_string();
        assert!(
            text.contains(
                "service name (give this to consumers): com.amazonaws.vpce.us-east-1.vpce-svc-1"
            ),
            "{text}"
        );
        assert!(
            text.contains("2h") && text.contains("100m") && text.contains("INCOMPLETE"),
            "{text}"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["connections"][1]["state"], "pendingAcceptance");
    }

    fn with_function(principals: &[&str], allowlist_env: &str) -> Observed {
        use crate::provision::observe::FunctionObs;
        Observed {
            account: "999999999999".into(),
            region: "us-east-1".into(),
            service: Some(ServiceObs {
                id: "vpce-svc-1".into(),
                name: "com.amazonaws.vpce.us-east-1.vpce-svc-1".into(),
                state: "Available".into(),
                acceptance_required: true,
                load_balancer_arns: Default::default(),
                zone_names: vec![],
                zone_ids: vec![],
                principals: principals.iter().map(|p| p.to_string()).collect(),
                private_dns_name: None,
                private_dns: None,
            }),
            function: Some(FunctionObs {
                arn: "arn:aws:lambda:us-east-1:999999999999:function:acme-approver".into(),
                runtime: None,
                handler: None,
                role: None,
                architecture: None,
                code_sha256: None,
                environment: [(ENV_ALLOWLIST.to_string(), allowlist_env.to_string())]
                    .into_iter()
                    .collect(),
                state: None,
                permissions: Default::default(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn status_warns_when_principals_and_approver_allowlist_disagree() {
        let stack = StackName::parse("acme").unwrap();
        let allowlist = Allowlist::parse("111111111111").unwrap();
        let render = |observed: &Observed| {
            report(&stack, observed, &allowlist, &[], 0, CallSummary::default())
        };

        let in_sync = render(&with_function(
            &["arn:aws:iam::111111111111:root"],
            "111111111111",
        ));
        assert!(in_sync.drift.as_ref().unwrap().in_sync);
        assert!(!in_sync.to_string().contains("drift"), "{in_sync}");

        // Someone added a principal in the console, not through `allow`.
        let drifted = render(&with_function(
            &[
                "arn:aws:iam::111111111111:root",
                "arn:aws:iam::222222222222:root",
            ],
            "111111111111",
        ));
        let drift = drifted.drift.as_ref().unwrap();
        assert!(!drift.in_sync);
        assert_eq!(drift.only_in_principals[0].as_str(), "222222222222");
        let text = drifted.to_string();
        assert!(text.contains("allowlist drift"), "{text}");
        assert!(text.contains("222222222222"), "{text}");
        let json = serde_json::to_value(&drifted).unwrap();
        assert_eq!(json["drift"]["in_sync"], false);
    }
}

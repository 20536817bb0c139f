//! `down`: deletes everything the stack owns, in an order AWS accepts.
//! Live connections ([`EndpointState::is_live`]: pending acceptance,
//! pending, available) make it refuse and name them, unless forced, in which
//! case they are rejected first through the approval path the operator's
//! `reject` uses ([`apply_decided`]: the same batches, `Unsuccessful` items
//! reported per connection, and the decision history written on each
//! connection with trigger `forced_down`, reason `service_deleted` and the
//! caller as decided-by), so a forced rejection is as traceable as any.
//! Every delete treats "already gone" as done, so after a partial failure
//! running `down` again finishes the job. Resources the stack did not
//! create (an operator's VPC and subnets) are never touched. The tenant
//! registry's table is kept unless asked (`--delete-tenants`): the tenants
//! are the vendor's customer records, and a stack built again finds them.

use std::fmt;

use super::calls::CallSummary;
use super::observe::observe;
use super::resources::service::{self, ConnectionObs};
use super::resources::{
    approver, network, nlb, schedule, tenants_table, topic, wait_error, DEPENDENCY_BACKOFF,
};
use super::spec::NetworkSpec;
use super::{Clients, ProvisionError};
use crate::approval::reconcile::apply_decided;
use crate::approval::{Decision, DecisionRecord, Listed, Outcome, Planned, Reason, Trigger};
use crate::errors::ErrorKind;
use crate::naming::StackName;
use crate::state::EndpointState;
use crate::wait::{until, Poll};
use privatelink_core::cli::progress::Progress;

/// What `down` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DownReport {
    pub stack: String,
    /// Connections rejected first (`--force`).
    pub rejected: Vec<String>,
    /// What was deleted, in order.
    pub deleted: Vec<String>,
    /// What was left because the stack did not create it.
    pub kept: Vec<String>,
    /// The tenant registry's table, kept because `--delete-tenants` was
    /// not given.
    pub kept_tenants_table: Option<String>,
    pub calls: CallSummary,
}

impl fmt::Display for DownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.deleted.is_empty() && self.rejected.is_empty() {
            write!(f, "stack {}: nothing to delete", self.stack)?;
        } else {
            write!(f, "stack {} is down", self.stack)?;
            if !self.rejected.is_empty() {
                write!(f, "\nrejected connections: {}", self.rejected.join(", "))?;
            }
            for d in &self.deleted {
                write!(f, "\n  deleted {d}")?;
            }
        }
        for k in &self.kept {
            write!(f, "\n  kept {k} (not created by the stack)")?;
        }
        if let Some(table) = &self.kept_tenants_table {
            write!(
                f,
                "\n  kept table {table}: the tenant registry, so the tenants outlive the stack \
                 (an `up` of the same stack uses them again); to delete it and every tenant, run \
                 `endpoint-service down --stack {} --delete-tenants`",
                self.stack
            )?;
        }
        write!(
            f,
            "\n{} AWS calls ({} mutating)",
            self.calls.total, self.calls.mutating
        )
    }
}

/// Why `down` stopped.
#[derive(Debug, thiserror::Error)]
pub enum DownError {
    /// Live connections and no `--force`: nothing was changed.
    #[error("{}", refusal(.0))]
    LiveConnections(Vec<ConnectionObs>),
    /// Observing failed or was refused (e.g. a same-named resource that
    /// is not the stack's); nothing was changed.
    #[error(transparent)]
    Before(ProvisionError),
    /// A delete failed; what was deleted before it is listed.
    #[error("{error}. Deleted before the failure: [{}]. Run `down` again to finish.", .deleted.join(", "))]
    Failed {
        deleted: Vec<String>,
        error: ProvisionError,
    },
}

fn refusal(live: &[ConnectionObs]) -> String {
    let list: Vec<String> = live
        .iter()
        .map(|c| {
            format!(
                "{} (owner {}, {})",
                c.endpoint_id,
                c.owner.as_deref().unwrap_or("?"),
                c.state
            )
        })
        .collect();
    format!(
        "refusing to delete the service: {} live connection(s): {}. Consumers would lose access. \
         Ask them to disconnect, or pass --force to reject these connections first.",
        live.len(),
        list.join(", ")
    )
}

/// Rejects the live connections before the service is deleted, through the
/// shared approval path, and returns the endpoint ids rejected. Any
/// connection AWS did not reject (its `Unsuccessful` item, or a call that
/// stopped the batch) is an error naming it: deleting the service would
/// then fail anyway, and the operator should see why.
async fn reject_live(
    clients: &Clients,
    service_id: &str,
    live: &[&Listed],
    listed: &[Listed],
    caller_arn: Option<&str>,
) -> Result<Vec<String>, ProvisionError> {
    let mut records: Vec<DecisionRecord> = live
        .iter()
        .map(|l| {
            let planned = Planned {
                connection: l.connection.clone(),
                decision: Decision::Reject,
                reason: Reason::ServiceDeleted,
            };
            let mut record = DecisionRecord::new(service_id, &planned, &Trigger::ForcedDown, false);
            // Who forced it, as the operator's `reject` records it.
            record.operator = caller_arn.map(str::to_string);
            record
        })
        .collect();
    apply_decided(
        &clients.ec2,
        service_id,
        Trigger::ForcedDown,
        &mut records,
        listed,
    )
    .await
    .map_err(|e| ProvisionError::Aws {
        resource: service_id.to_string(),
        error: e.aws_error().clone(),
    })?;
    let failed: Vec<String> = records
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Applied => None,
            Outcome::Failed { code, message } => {
                Some(format!("{}: {code} {message}", r.endpoint_id))
            }
            other => Some(format!("{}: {}", r.endpoint_id, other.status())),
        })
        .collect();
    if !failed.is_empty() {
        return Err(ProvisionError::Refused(format!(
            "could not reject every connection of {service_id}: {}",
            failed.join("; ")
        )));
    }
    Ok(records.into_iter().map(|r| r.endpoint_id).collect())
}

/// Tears the stack down; the tenant registry's table too only with
/// `delete_tenants`.
pub async fn down(
    clients: &Clients,
    stack: &StackName,
    network_spec: Option<&NetworkSpec>,
    force: bool,
    delete_tenants: bool,
    progress: &Progress,
) -> Result<DownReport, DownError> {
    let mut report = DownReport {
        stack: stack.to_string(),
        ..Default::default()
    };
    let fail = |report: &DownReport, error| DownError::Failed {
        deleted: report.deleted.clone(),
        error,
    };
    let observed = observe(clients, stack, network_spec)
        .await
        .map_err(DownError::Before)?;

    if let Some(svc) = &observed.service {
        let listed = service::listed(&clients.ec2, &svc.id)
            .await
            .map_err(DownError::Before)?;
        let live: Vec<&Listed> = listed
            .iter()
            .filter(|l| {
                l.connection
                    .state
                    .as_ref()
                    .is_some_and(EndpointState::is_live)
            })
            .collect();
        if !live.is_empty() && !force {
            return Err(DownError::LiveConnections(
                live.into_iter().map(ConnectionObs::from_listed).collect(),
            ));
        }
        if !live.is_empty() {
            let ids: Vec<&str> = live
                .iter()
                .map(|l| l.connection.endpoint_id.as_str())
                .collect();
            progress.note(&format!(
                "rejecting {} live connection(s): {}",
                ids.len(),
                ids.join(", ")
            ));
            report.rejected = reject_live(
                clients,
                &svc.id,
                &live,
                &listed,
                observed.caller_arn.as_deref(),
            )
            .await
            .map_err(|e| fail(&report, e))?;
        }
    }

    macro_rules! step {
        ($what:expr, $call:expr) => {{
            let what: String = $what;
            progress.note(&format!("deleting {what}"));
            $call.await.map_err(|e| fail(&report, e))?;
            report.deleted.push(what);
        }};
    }

    if let Some(n) = &observed.notification {
        step!(
            format!("connection notification {}", n.id),
            service::delete_notification(&clients.ec2, &n.id)
        );
    }
    if let Some(svc) = &observed.service {
        let id = svc.id.clone();
        let ec2 = clients.ec2.clone();
        // Rejected connections may take a moment to stop counting as live.
        step!(format!("endpoint service {id}"), async {
            until(
                &format!("endpoint service {id} to be deletable"),
                DEPENDENCY_BACKOFF,
                || async {
                    match service::delete_service(&ec2, &id).await {
                        Ok(()) => Ok(Poll::Ready(())),
                        Err(ProvisionError::Refused(m))
                            if force && m.contains("ExistingVpcEndpointConnections") =>
                        {
                            Ok(Poll::NotYet("ExistingVpcEndpointConnections".into()))
                        }
                        Err(e) => Err(e),
                    }
                },
                |seen| progress.waiting("the endpoint service to be deletable", seen),
            )
            .await
            .map_err(wait_error)
        });
    }
    for l in &observed.listeners {
        step!(
            format!("listener on port {}", l.port),
            nlb::delete_listener(&clients.elbv2, &l.arn)
        );
    }
    for tg in &observed.target_groups {
        step!(
            format!("target group {}", tg.name),
            nlb::delete_target_group(&clients.elbv2, &tg.arn)
        );
    }
    if let Some(lb) = &observed.load_balancer {
        step!(
            format!("load balancer {}", lb.name),
            nlb::delete_load_balancer(&clients.elbv2, &lb.arn, progress)
        );
    }
    if observed.rule.is_some() {
        step!(
            format!("sweep rule {}", stack.sweep_rule()),
            schedule::delete_rule(&clients.events, stack)
        );
    }
    if observed.function.is_some() {
        step!(
            format!("function {}", stack.function()),
            approver::delete_function(&clients.lambda, stack)
        );
    }
    if observed.role.is_some() {
        step!(
            format!("role {}", stack.role()),
            approver::delete_role(&clients.iam, stack)
        );
    }
    // The registry after the approver, its one reader.
    // Another region's registry (the home region's) is never this region's
    // to delete or to report as kept.
    let own_table = observed
        .tenants_table
        .as_ref()
        .filter(|_| clients.registry_region.is_none());
    if let Some(table) = own_table {
        if delete_tenants {
            step!(
                format!(
                    "table {} (the tenant registry, with every tenant)",
                    table.name
                ),
                tenants_table::delete_table(&clients.dynamodb, &table.name, progress)
            );
        } else {
            report.kept_tenants_table = Some(table.name.clone());
        }
    }
    // The boundary after the role: IAM deletes a policy only once no role
    // uses it, as a boundary included. Creating and deleting it is an
    // administrator's right, not the operator's (docs/provider.md, "The
    // approver's permissions boundary"): when the caller may not delete it,
    // it is kept and said so, and the rest of `down` stands.
    if let Some(b) = &observed.boundary {
        let what = format!("policy {}", stack.boundary());
        progress.note(&format!("deleting {what}"));
        match approver::delete_boundary(&clients.iam, &b.arn).await {
            Ok(()) => report.deleted.push(what),
            Err(e) if e.aws().is_some_and(|a| a.kind == ErrorKind::AccessDenied) => {
                report.kept.push(format!(
                    "{what}: the permissions boundary is an administrator's to delete \
                     (`aws iam delete-policy --policy-arn {}`)",
                    b.arn
                ));
            }
            Err(e) => return Err(fail(&report, e)),
        }
    }
    if let Some(t) = &observed.topic {
        for s in &observed.subscriptions {
            step!(
                format!("subscription {}", s.arn),
                topic::unsubscribe(&clients.sns, &s.arn)
            );
        }
        step!(
            format!("topic {}", t.arn),
            topic::delete_topic(&clients.sns, &t.arn)
        );
    }
    for s in &observed.subnets {
        if s.owned {
            step!(
                format!("subnet {} ({})", s.id, s.zone_id),
                network::delete_subnet(&clients.ec2, &s.id, progress)
            );
        } else {
            report.kept.push(format!("subnet {}", s.id));
        }
    }
    if let Some(vpc) = &observed.vpc {
        if vpc.owned {
            step!(
                format!("VPC {}", vpc.id),
                network::delete_vpc(&clients.ec2, &vpc.id, progress)
            );
        } else {
            report.kept.push(format!("VPC {}", vpc.id));
        }
    }
    report.calls = clients.calls.summary();
    Ok(report)
}

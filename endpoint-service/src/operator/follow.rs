//! What follows a write to the tenant registry, so a change takes effect in
//! seconds rather than at the next sweep:
//!
//! 1. the allowed principals follow the changed tenants (an entitled tenant
//!    is an account principal, anyone else is not), unless the service
//!    allows `*` (`allow_any_principal`), where the registry alone decides;
//! 2. the approver's own reconcile runs for the changed tenants' connections
//!    (trigger `registry`), with the function's configuration: a suspended
//!    or removed tenant's requests are refused and, with `APPROVER_REVOKE=true`,
//!    its accepted connections rejected; a new or resumed tenant's waiting
//!    requests are accepted.
//!
//! The write comes first: the registry is what the approver reads, so once
//! it is written no run of the approver accepts the tenant again, whatever
//! happens here. Both steps compare before they change anything, so running
//! the same `tenants` command again finishes what an interrupted one left.

use std::fmt;

use privatelink_registry::Registry;

use super::error::OperatorError;
use super::principals;
use super::target::{ApproverFunction, Target};
use crate::approval::tenant::now_epoch;
use crate::approval::{
    reconcile, AccountId, ApproverConfig, Decision, DecisionRecord, Reason, Scope, Tenant, Trigger,
};

/// Up to this many changed tenants, the reconcile reads only their
/// connections (one `vpc-endpoint-owner` filter with each as a value);
/// more, and it reads the service's connections (all of them with
/// revocation on, the requests only without).
pub const OWNER_SCOPED_MAX: usize = 10;

/// The approver's configuration, read before the write so a function that
/// reads another table stops the command before anything changes.
#[derive(Debug, Clone)]
pub struct Approver {
    pub config: Option<ApproverConfig>,
    /// Why there is no configuration (the connections are then not decided
    /// again by the command; the approver's next run decides them).
    pub problem: Option<String>,
}

impl Approver {
    /// Reads the target's approver function. A function that is missing or
    /// misconfigured is reported, not an error (the registry can still be
    /// edited); one that reads another table is an error.
    pub async fn load(
        lambda: &aws_sdk_lambda::Client,
        target: &Target,
        table: &str,
    ) -> Result<Approver, OperatorError> {
        match ApproverFunction::load(lambda, target)
            .await
            .and_then(|f| f.config_for(table))
        {
            Ok(config) => Ok(Approver {
                config: Some(config),
                problem: None,
            }),
            Err(error @ (OperatorError::NotFound(_) | OperatorError::ApproverConfig { .. })) => {
                Ok(Approver {
                    config: None,
                    problem: Some(error.to_string()),
                })
            }
            Err(other) => Err(other),
        }
    }
}

/// One changed tenant, as it is now (`None`: not in the registry).
#[derive(Debug, Clone)]
pub struct Changed {
    pub account: AccountId,
    pub now: Option<Tenant>,
}

/// What followed the write.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Followed {
    pub service_id: String,
    /// Whether the principals were compared (not when no account was
    /// changed, or the comparison failed).
    pub principals_checked: bool,
    /// Account principals added (newly entitled).
    pub principals_added: Vec<AccountId>,
    /// Account principals removed (no longer entitled).
    pub principals_removed: Vec<AccountId>,
    /// `*` is allowed, so the principals were left alone.
    pub any_principal: bool,
    /// `APPROVER_REVOKE` as configured; absent when the function could not
    /// be read.
    pub revoke: Option<bool>,
    /// The accepts and rejects the reconcile made (or, dry, would make).
    pub decisions: Vec<DecisionRecord>,
    /// Live connections of tenants no longer entitled that stay up because
    /// revocation is off.
    pub still_connected: Vec<DecisionRecord>,
    /// Why the connections were not decided again, if they were not.
    pub approver_problem: Option<String>,
    /// Steps that failed; the registry write stands, and running the
    /// command again finishes them.
    pub problems: Vec<String>,
}

/// Makes the principals and the connections follow `changed`. `reconcile_for`
/// names the accounts whose connections are decided again (those whose
/// entitlement may have changed); every account in `changed` gets its
/// principal checked.
pub async fn follow(
    ec2: &aws_sdk_ec2::Client,
    registry: &Registry,
    approver: &Approver,
    target: &Target,
    region: Option<&str>,
    changed: &[Changed],
    reconcile_for: &[AccountId],
) -> Followed {
    let mut followed = Followed {
        service_id: target.service_id.clone(),
        revoke: approver.config.as_ref().map(|c| c.revoke),
        approver_problem: approver.problem.clone(),
        ..Followed::default()
    };
    if let Err(error) = follow_principals(ec2, target, region, changed, &mut followed).await {
        followed
            .problems
            .push(format!("the allowed principals were not updated: {error}"));
    }
    if let Some(config) = &approver.config {
        if let Some(scope) = scope(config, reconcile_for) {
            match reconcile(
                ec2,
                registry,
                config,
                Trigger::Registry,
                None,
                scope.clone(),
            )
            .await
            {
                Ok(report) => {
                    for record in report.records {
                        if record.decision != Decision::Leave {
                            followed.decisions.push(record);
                        } else if record.reason == Reason::NotEntitledRevocationOff {
                            followed.still_connected.push(record);
                        }
                    }
                }
                Err(error) => followed.problems.push(format!(
                    "the connections were not decided again ({scope:?}): {error}"
                )),
            }
        }
    }
    followed
}

/// The one reconcile to run for `accounts` (see [`OWNER_SCOPED_MAX`]).
pub fn scope(config: &ApproverConfig, accounts: &[AccountId]) -> Option<Scope> {
    match accounts.len() {
        0 => None,
        n if n <= OWNER_SCOPED_MAX => Some(Scope::Owners(
            accounts.iter().map(|a| a.as_str().to_string()).collect(),
        )),
        // Without revocation only requests can change state.
        _ if config.revoke => Some(Scope::All),
        _ => Some(Scope::Pending),
    }
}

/// Which of `changed` to add as principals and which to remove, given the
/// principals now (pure).
pub fn principal_changes(
    principals: &principals::Principals,
    changed: &[Changed],
    now: i64,
) -> (Vec<AccountId>, Vec<AccountId>) {
    let mut add = Vec::new();
    let mut remove = Vec::new();
    for c in changed {
        let entitled = c.now.as_ref().is_some_and(|t| t.is_entitled(now));
        let allowed = principals.accounts.contains(&c.account);
        match (entitled, allowed) {
            (true, false) => add.push(c.account.clone()),
            (false, true) => remove.push(c.account.clone()),
            _ => {}
        }
    }
    (add, remove)
}

async fn follow_principals(
    ec2: &aws_sdk_ec2::Client,
    target: &Target,
    region: Option<&str>,
    changed: &[Changed],
    followed: &mut Followed,
) -> Result<(), OperatorError> {
    if changed.is_empty() {
        return Ok(());
    }
    let current = principals::load(ec2, &target.service_id).await?;
    if current.any() {
        followed.any_principal = true;
    } else {
        let (add, remove) = principal_changes(&current, changed, now_epoch());
        principals::modify(ec2, &target.service_id, region, &add, &remove).await?;
        followed.principals_added = add;
        followed.principals_removed = remove;
    }
    followed.principals_checked = true;
    Ok(())
}

fn ids(list: &[AccountId]) -> String {
    list.iter()
        .map(AccountId::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Followed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let service = &self.service_id;
        if !self.principals_checked {
            // Nothing changed, or the comparison failed (in `problems`).
        } else if self.any_principal {
            writeln!(
                f,
                "  allowed principals of {service}: * (every account may request; left as is)"
            )?;
        } else if self.principals_added.is_empty() && self.principals_removed.is_empty() {
            writeln!(f, "  allowed principals of {service}: already up to date")?;
        } else {
            if !self.principals_added.is_empty() {
                writeln!(
                    f,
                    "  allowed principals of {service}: added {}",
                    ids(&self.principals_added)
                )?;
            }
            if !self.principals_removed.is_empty() {
                writeln!(
                    f,
                    "  allowed principals of {service}: removed {}",
                    ids(&self.principals_removed)
                )?;
            }
        }
        for d in &self.decisions {
            let verb = match d.decision {
                Decision::Accept => "accepted",
                _ => "rejected",
            };
            writeln!(
                f,
                "  {verb} {} (owner {}, was {}, reason {}) -> {}",
                d.endpoint_id,
                d.owner_account.as_deref().unwrap_or("?"),
                d.state_before.as_ref().map_or("?", |s| s.as_wire()),
                d.reason.as_str(),
                d.outcome.status()
            )?;
        }
        if !self.still_connected.is_empty() {
            let which: Vec<String> = self
                .still_connected
                .iter()
                .map(|d| {
                    format!(
                        "{} (owner {})",
                        d.endpoint_id,
                        d.owner_account.as_deref().unwrap_or("?")
                    )
                })
                .collect();
            writeln!(
                f,
                "  note: APPROVER_REVOKE is off, so these connections stay up: {}; reject them \
                 with `endpoint-service reject --service-id {service} VPCE_ID...`",
                which.join(", ")
            )?;
        }
        if let Some(problem) = &self.approver_problem {
            writeln!(
                f,
                "  warning: connections not decided again ({problem}); the approver's next run decides them"
            )?;
        }
        for problem in &self.problems {
            writeln!(f, "  failed: {problem}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::{NonAllowlistedPolicy, TenantStatus};

    fn id(s: &str) -> AccountId {
        AccountId::parse(s).expect("valid")
    }

    fn changed(account: &str, status: Option<TenantStatus>) -> Changed {
        Changed {
            account: id(account),
            now: status.map(|status| Tenant {
                status,
                ..Tenant::active(id(account), account)
            }),
        }
    }

    #[test]
    fn principals_follow_entitlement_and_change_only_what_differs() {
        let current = principals::Principals::from_list([
            "arn:aws:iam::111111111111:root",
            "arn:aws:iam::222222222222:root",
        ]);
        let (add, remove) = principal_changes(
            &current,
            &[
                changed("111111111111", Some(TenantStatus::Active)),
                changed("222222222222", Some(TenantStatus::Suspended)),
                changed("333333333333", Some(TenantStatus::Active)),
                changed("444444444444", None),
            ],
            0,
        );
        assert_eq!(add, [id("333333333333")]);
        assert_eq!(remove, [id("222222222222")]);
    }

    #[test]
    fn few_tenants_are_reconciled_by_their_owners_only() {
        let mut config = ApproverConfig {
            service_id: "vpce-svc-1".into(),
            table: "ops-tenants".into(),
            table_region: None,
            non_allowlisted: NonAllowlistedPolicy::Reject,
            revoke: false,
            dry_run: false,
        };
        assert_eq!(scope(&config, &[]), None);
        assert_eq!(
            scope(&config, &[id("111111111111"), id("222222222222")]),
            Some(Scope::Owners(vec![
                "111111111111".into(),
                "222222222222".into()
            ]))
        );
        let many: Vec<AccountId> = (0..=OWNER_SCOPED_MAX)
            .map(|i| id(&format!("{:012}", 100_000_000_000u64 + i as u64)))
            .collect();
        assert_eq!(scope(&config, &many), Some(Scope::Pending));
        config.revoke = true;
        assert_eq!(scope(&config, &many), Some(Scope::All));
    }
}

//! `allow` and `disallow`: change the allowlist everywhere it lives, the
//! service's allowed principals and the approver's `APPROVER_ALLOWLIST`, in
//! an order that is safe if interrupted, and re-runnable.
//!
//! The invariant kept at every step is *principals ⊆ approver allowlist*:
//! an account that can request a connection is always one the approver
//! accepts, so a customer is never let in through one gate only to be
//! rejected at the other. Hence:
//! - `allow` updates the approver first, then the principals. Interrupted in
//!   between, the approver would accept an account that cannot yet request
//!   anything: harmless, and the re-run adds the principal.
//! - `disallow` removes the principals first, then the approver entry.
//!   Interrupted in between, the account can no longer request, and the
//!   approver still lists it: harmless, and the re-run removes it.
//!
//! Both steps compare before writing, so a re-run makes only the missing
//! change, and an unchanged allowlist makes no mutating call. Revocation
//! of live connections (`disallow` with `APPROVER_REVOKE=true`) runs after
//! both steps, through the manual override (see `cli::operator`).

use std::fmt;

use super::drift::{self, Drift};
use super::error::OperatorError;
use super::principals;
use super::target::ApproverFunction;
use super::target::Target;
use crate::approval::config::ENV_ALLOWLIST;
use crate::approval::{AccountId, Allowlist};

/// Which way the allowlist changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Allow,
    Disallow,
}

/// What `allow`/`disallow` changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AllowlistReport {
    pub change: Change,
    pub accounts: Vec<AccountId>,
    pub service_id: String,
    pub function: String,
    /// Principals actually added or removed (the rest were already so).
    pub principals_changed: Vec<AccountId>,
    /// True when `APPROVER_ALLOWLIST` was rewritten.
    pub approver_changed: bool,
    /// `APPROVER_ALLOWLIST` now.
    pub approver_allowlist: Allowlist,
    /// The comparison after the change.
    pub drift: Drift,
}

/// The approver allowlist after the change, or why it cannot be made.
pub fn next_allowlist(
    change: Change,
    current: Option<&Allowlist>,
    accounts: &[AccountId],
    function: &str,
) -> Result<Allowlist, OperatorError> {
    let mut ids: Vec<AccountId> = current
        .map(|c| c.iter().cloned().collect())
        .unwrap_or_default();
    match change {
        Change::Allow => ids.extend(accounts.iter().cloned()),
        Change::Disallow => ids.retain(|id| !accounts.contains(id)),
    }
    let next = Allowlist::from_ids(ids);
    if next.is_empty() {
        return Err(OperatorError::EmptyAllowlist(format!(
            "disallowing {} would leave {function}'s {ENV_ALLOWLIST} empty, which the approver \
             treats as invalid configuration: allow another account first, or take the stack down",
            accounts
                .iter()
                .map(AccountId::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(next)
}

/// Applies the change in the safe order (see the module header).
pub async fn apply(
    ec2: &aws_sdk_ec2::Client,
    lambda: &aws_sdk_lambda::Client,
    region: Option<&str>,
    target: &Target,
    change: Change,
    accounts: &[AccountId],
) -> Result<AllowlistReport, OperatorError> {
    let function = ApproverFunction::load(lambda, target).await?;
    let current = function.allowlist_to_change()?;
    let next = next_allowlist(change, current.as_ref(), accounts, &function.name)?;
    let principals = principals::load(ec2, &target.service_id).await?;
    let approver_changed = current.as_ref() != Some(&next);

    let principals_changed: Vec<AccountId> = accounts
        .iter()
        .filter(|a| match change {
            Change::Allow => !principals.accounts.contains(*a),
            Change::Disallow => principals.accounts.contains(*a),
        })
        .cloned()
        .collect();
    match change {
        Change::Allow => {
            if approver_changed {
                function.set_allowlist(lambda, &next).await?;
            }
            principals::modify(ec2, &target.service_id, region, &principals_changed, &[]).await?;
        }
        Change::Disallow => {
            principals::modify(ec2, &target.service_id, region, &[], &principals_changed).await?;
            if approver_changed {
                function.set_allowlist(lambda, &next).await?;
            }
        }
    }
    let drift = drift::check(ec2, lambda, target).await?;
    Ok(AllowlistReport {
        change,
        accounts: accounts.to_vec(),
        service_id: target.service_id.clone(),
        function: function.name,
        principals_changed,
        approver_changed,
        approver_allowlist: next,
        drift,
    })
}

impl fmt::Display for AllowlistReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |ids: &[AccountId]| {
            ids.iter()
                .map(AccountId::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (verb, place) = match self.change {
            Change::Allow => ("allowed", "added"),
            Change::Disallow => ("disallowed", "removed"),
        };
        writeln!(f, "{verb}: {}", list(&self.accounts))?;
        if self.principals_changed.is_empty() {
            writeln!(
                f,
                "  allowed principals of {}: already up to date",
                self.service_id
            )?;
        } else {
            writeln!(
                f,
                "  allowed principals of {}: {place} ({})",
                self.service_id,
                list(&self.principals_changed)
            )?;
        }
        writeln!(
            f,
            "  {ENV_ALLOWLIST} of {}: {} (now {})",
            self.function,
            if self.approver_changed {
                "updated"
            } else {
                "already up to date"
            },
            self.approver_allowlist
        )?;
        write!(f, "{}", self.drift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> AccountId {
        AccountId::parse(s).expect("valid")
    }

    #[test]
    fn next_allowlists() {
        let current = Allowlist::parse("111111111111,222222222222").expect("valid");
        let allowed = next_allowlist(
            Change::Allow,
            Some(&current),
            &[id("333333333333"), id("111111111111")],
            "f",
        )
        .expect("ok");
        assert_eq!(
            allowed.to_string(),
            "111111111111,222222222222,333333333333"
        );
        let without = next_allowlist(Change::Disallow, Some(&current), &[id("222222222222")], "f")
            .expect("ok");
        assert_eq!(without.to_string(), "111111111111");
        let from_nothing =
            next_allowlist(Change::Allow, None, &[id("444444444444")], "f").expect("ok");
        assert_eq!(from_nothing.to_string(), "444444444444");
        let empty = next_allowlist(Change::Disallow, Some(&without), &[id("111111111111")], "f")
            .expect_err("empty");
        assert!(
            empty.to_string().contains("APPROVER_ALLOWLIST empty"),
            "{empty}"
        );
    }
}

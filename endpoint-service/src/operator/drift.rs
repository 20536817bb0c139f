//! Drift between the two places the allowlist lives: the service's allowed
//! principals (who may *request* a connection) and the approver's
//! `APPROVER_ALLOWLIST` (whose requests are *accepted*). `allow`/`disallow`
//! keep them equal; anything else (a console edit, an interrupted run) shows
//! up here. [`check`] is public so `status` can show the same warning.

use std::fmt;

use super::error::OperatorError;
use super::principals::{self, Principals};
use super::target::ApproverFunction;
use super::target::Target;
use crate::approval::{AccountId, Allowlist};

/// The comparison. Empty lists and no problem mean "in sync".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    /// True when both places list the same accounts and nothing else is
    /// allowed.
    pub in_sync: bool,
    pub service_id: String,
    pub function: String,
    /// Allowed to request, but the approver does not accept them: their
    /// requests are rejected or left pending. Fix: `allow` or `disallow`.
    pub only_in_principals: Vec<AccountId>,
    /// Accepted by the approver, but not allowed to request: harmless (an
    /// interrupted `allow`/`disallow` leaves this). Fix: re-run it.
    pub only_in_approver: Vec<AccountId>,
    /// Principals the kit does not manage (roles, users, `*`).
    pub other_principals: Vec<String>,
    /// Why the approver's allowlist could not be read, if it could not.
    pub approver_problem: Option<String>,
}

/// Compares the two lists (pure). `approver` is `None` when the approver's
/// allowlist is unset or invalid.
pub fn compare(
    service_id: &str,
    function: &str,
    principals: &Principals,
    approver: Option<&Allowlist>,
) -> Drift {
    let approver_ids: Vec<AccountId> = approver
        .map(|a| a.iter().cloned().collect())
        .unwrap_or_default();
    let mut drift = Drift {
        in_sync: false,
        service_id: service_id.to_string(),
        function: function.to_string(),
        only_in_principals: principals
            .accounts
            .iter()
            .filter(|a| !approver_ids.contains(a))
            .cloned()
            .collect(),
        only_in_approver: approver_ids
            .iter()
            .filter(|a| !principals.accounts.contains(*a))
            .cloned()
            .collect(),
        other_principals: principals.others.clone(),
        approver_problem: approver.is_none().then(|| {
            "APPROVER_ALLOWLIST is unset or invalid: the approver accepts nothing".to_string()
        }),
    };
    drift.in_sync = drift.only_in_principals.is_empty()
        && drift.only_in_approver.is_empty()
        && drift.other_principals.is_empty()
        && drift.approver_problem.is_none();
    drift
}

/// Reads both places and compares them.
pub async fn check(
    ec2: &aws_sdk_ec2::Client,
    lambda: &aws_sdk_lambda::Client,
    target: &Target,
) -> Result<Drift, OperatorError> {
    let function = ApproverFunction::load(lambda, target).await?;
    let principals = principals::load(ec2, &target.service_id).await?;
    Ok(compare(
        &target.service_id,
        &function.name,
        &principals,
        function.allowlist().as_ref(),
    ))
}

fn ids(list: &[AccountId]) -> String {
    list.iter()
        .map(AccountId::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.in_sync {
            return write!(
                f,
                "allowlist in sync: the allowed principals of {} and {} list the same accounts",
                self.service_id, self.function
            );
        }
        write!(
            f,
            "warning: allowlist drift between {} (allowed principals) and {} (APPROVER_ALLOWLIST)",
            self.service_id, self.function
        )?;
        if let Some(problem) = &self.approver_problem {
            write!(f, "\n  - {problem}")?;
        }
        if !self.only_in_principals.is_empty() {
            write!(
                f,
                "\n  - may connect but are not accepted by the approver: {} \
                 (fix: `endpoint-service allow ID` to accept them, or `disallow ID`)",
                ids(&self.only_in_principals)
            )?;
        }
        if !self.only_in_approver.is_empty() {
            write!(
                f,
                "\n  - accepted by the approver but not allowed to connect: {} \
                 (harmless; fix: `endpoint-service allow ID` or `disallow ID` again)",
                ids(&self.only_in_approver)
            )?;
        }
        if !self.other_principals.is_empty() {
            write!(
                f,
                "\n  - principals not managed by this kit: {} (remove them with \
                 ModifyVpcEndpointServicePermissions if unintended; `*` lets every account request)",
                self.other_principals.join(", ")
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> Allowlist {
        Allowlist::parse(text).expect("valid")
    }

    #[test]
    fn differences_in_both_directions() {
        let principals = Principals::from_list([
            "arn:aws:iam::111111111111:root",
            "arn:aws:iam::222222222222:root",
        ]);
        let same = compare(
            "svc",
            "fn",
            &principals,
            Some(&list("222222222222,111111111111")),
        );
        assert!(same.in_sync, "{same}");
        assert!(same.to_string().contains("in sync"));

        let drift = compare(
            "svc",
            "fn",
            &principals,
            Some(&list("111111111111,333333333333")),
        );
        assert!(!drift.in_sync);
        assert_eq!(ids(&drift.only_in_principals), "222222222222");
        assert_eq!(ids(&drift.only_in_approver), "333333333333");
        let text = drift.to_string();
        assert!(text.starts_with("warning: allowlist drift"), "{text}");
        assert!(
            text.contains("not accepted by the approver: 222222222222"),
            "{text}"
        );
        assert!(
            text.contains("not allowed to connect: 333333333333"),
            "{text}"
        );
    }

    #[test]
    fn an_unreadable_allowlist_or_foreign_principal_is_drift() {
        let principals = Principals::from_list(["arn:aws:iam::111111111111:root", "*"]);
        let drift = compare("svc", "fn", &principals, None);
        assert!(drift.approver_problem.is_some());
        assert_eq!(drift.other_principals, ["*"]);
        assert_eq!(ids(&drift.only_in_principals), "111111111111");
        assert!(drift.only_in_approver.is_empty());
    }
}

//! Drift between who may *request* a connection (the service's allowed
//! principals) and who is *entitled* (the tenant registry: active and
//! unexpired). The `tenants` commands make the principals follow each
//! change; anything else (a console edit, an interrupted command, a tenant
//! whose `expires_at` passed) shows up here. [`compare`] is pure and public
//! so `status` can show the same warning from what it observed.
//!
//! With `*` allowed (`allow_any_principal`) every account may request and
//! the registry alone decides: the kit does not manage account principals
//! then, so none of them is drift.

use std::collections::BTreeSet;
use std::fmt;

use privatelink_registry::Registry;

use super::error::OperatorError;
use super::principals::{self, Principals};
use super::target::Target;
use crate::approval::tenant::now_epoch;
use crate::approval::{AccountId, Tenant};

/// The comparison. Empty lists mean "in sync".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    /// True when the account principals are exactly the entitled tenants
    /// (or `*`) and nothing else is allowed.
    pub in_sync: bool,
    pub service_id: String,
    /// The tenant registry's table.
    pub table: String,
    /// `*` is an allowed principal: every account may request.
    pub any_principal: bool,
    /// Allowed to request, but not entitled (not a tenant, suspended,
    /// expired): their requests are refused.
    pub only_in_principals: Vec<AccountId>,
    /// Entitled, but not allowed to request: they cannot connect (an
    /// interrupted `tenants` command leaves this).
    pub only_in_registry: Vec<AccountId>,
    /// Principals the kit does not manage (roles, users; `*` is reported
    /// in `any_principal`).
    pub other_principals: Vec<String>,
}

/// Compares the principals with the tenants entitled at `now` (pure).
pub fn compare(
    service_id: &str,
    table: &str,
    principals: &Principals,
    tenants: &[Tenant],
    now: i64,
) -> Drift {
    let entitled: BTreeSet<&AccountId> = tenants
        .iter()
        .filter(|t| t.is_entitled(now))
        .map(|t| &t.account_id)
        .collect();
    let any_principal = principals.any();
    let (only_in_principals, only_in_registry) = if any_principal {
        (Vec::new(), Vec::new())
    } else {
        (
            principals
                .accounts
                .iter()
                .filter(|a| !entitled.contains(a))
                .cloned()
                .collect(),
            entitled
                .iter()
                .filter(|a| !principals.accounts.contains(**a))
                .map(|a| (*a).clone())
                .collect(),
        )
    };
    let other_principals: Vec<String> = principals
        .others
        .iter()
        .filter(|p| *p != "*")
        .cloned()
        .collect();
    Drift {
        in_sync: only_in_principals.is_empty()
            && only_in_registry.is_empty()
            && other_principals.is_empty(),
        service_id: service_id.to_string(),
        table: table.to_string(),
        any_principal,
        only_in_principals,
        only_in_registry,
        other_principals,
    }
}

/// Reads the principals and the whole registry, and compares them.
pub async fn check(
    ec2: &aws_sdk_ec2::Client,
    registry: &Registry,
    target: &Target,
) -> Result<Drift, OperatorError> {
    let principals = principals::load(ec2, &target.service_id).await?;
    let tenants = registry.list().await?;
    Ok(compare(
        &target.service_id,
        registry.table(),
        &principals,
        &tenants,
        now_epoch(),
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
            return if self.any_principal {
                write!(
                    f,
                    "in sync: {} allows every account (*) to request; the registry {} alone decides",
                    self.service_id, self.table
                )
            } else {
                write!(
                    f,
                    "in sync: the allowed principals of {} are the entitled tenants of {}",
                    self.service_id, self.table
                )
            };
        }
        write!(
            f,
            "warning: drift between {} (allowed principals) and {} (entitled tenants)",
            self.service_id, self.table
        )?;
        if !self.only_in_principals.is_empty() {
            write!(
                f,
                "\n  - may connect but are not entitled (not a tenant, suspended or expired): {} \
                 (fix: `endpoint-service tenants add ID` to entitle them, or `tenants remove ID` \
                 to take the principal away)",
                ids(&self.only_in_principals)
            )?;
        }
        if !self.only_in_registry.is_empty() {
            write!(
                f,
                "\n  - entitled but not allowed to connect: {} \
                 (fix: `endpoint-service tenants resume ID` adds the principal)",
                ids(&self.only_in_registry)
            )?;
        }
        if !self.other_principals.is_empty() {
            write!(
                f,
                "\n  - principals not managed by this kit: {} (remove them with \
                 ModifyVpcEndpointServicePermissions if unintended)",
                self.other_principals.join(", ")
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::TenantStatus;

    const NOW: i64 = 1_800_000_000;

    fn tenant(id: &str, status: TenantStatus, expires_at: Option<i64>) -> Tenant {
        Tenant {
            status,
            expires_at,
            ..Tenant::active(AccountId::parse(id).expect("valid"), id)
        }
    }

    #[test]
    fn principals_follow_the_entitled_tenants() {
        let tenants = [
            tenant("111111111111", TenantStatus::Active, None),
            tenant("222222222222", TenantStatus::Active, Some(NOW + 1)),
            tenant("333333333333", TenantStatus::Suspended, None),
            tenant("444444444444", TenantStatus::Active, Some(NOW)),
        ];
        let same = compare(
            "svc",
            "t",
            &Principals::from_list([
                "arn:aws:iam::111111111111:root",
                "arn:aws:iam::222222222222:root",
            ]),
            &tenants,
            NOW,
        );
        assert!(same.in_sync, "{same}");
        assert!(same.to_string().starts_with("in sync"), "{same}");

        let drift = compare(
            "svc",
            "t",
            &Principals::from_list([
                "arn:aws:iam::111111111111:root",
                "arn:aws:iam::333333333333:root",
                "arn:aws:iam::444444444444:root",
                "arn:aws:iam::555555555555:root",
                "arn:aws:iam::666666666666:role/x",
            ]),
            &tenants,
            NOW,
        );
        assert!(!drift.in_sync);
        // Suspended, expired and unknown accounts may connect: drift.
        assert_eq!(
            ids(&drift.only_in_principals),
            "333333333333, 444444444444, 555555555555"
        );
        assert_eq!(ids(&drift.only_in_registry), "222222222222");
        assert_eq!(drift.other_principals, ["arn:aws:iam::666666666666:role/x"]);
        let text = drift.to_string();
        assert!(text.starts_with("warning: drift"), "{text}");
        assert!(
            text.contains("not entitled (not a tenant, suspended or expired): 333333333333"),
            "{text}"
        );
        assert!(
            text.contains("entitled but not allowed to connect: 222222222222"),
            "{text}"
        );
    }

    #[test]
    fn any_principal_leaves_the_registry_to_decide() {
        let tenants = [tenant("111111111111", TenantStatus::Active, None)];
        let drift = compare(
            "svc",
            "t",
            &Principals::from_list(["*", "arn:aws:iam::333333333333:root"]),
            &tenants,
            NOW,
        );
        assert!(drift.in_sync && drift.any_principal, "{drift}");
        assert!(drift.to_string().contains("every account (*)"), "{drift}");
    }
}

//! The endpoint service's allowed principals as the operator commands see
//! them: who may create an endpoint to it at all. The kit allows whole
//! accounts (`arn:PARTITION:iam::ID:root`, the partition from the region,
//! [`crate::arn`]); any other principal (a role, a user, `*`) is kept and
//! reported, never touched. The AWS calls are the service's adapter's
//! ([`crate::provision::resources::service`]), the same `up` makes.

use std::collections::BTreeSet;

use super::error::OperatorError;
use crate::approval::AccountId;
use crate::arn;
use crate::provision::resources::service;

/// The principal that allows every identity of `account`, in the partition
/// of `region` (`aws` when no region is known).
pub fn principal_for(account: &AccountId, region: Option<&str>) -> String {
    arn::account_principal(region.unwrap_or_default(), account.as_str())
}

/// The account of an account principal (`arn:*:iam::ID:root`); `None` for
/// roles, users, `*` and anything else.
pub fn account_of(principal: &str) -> Option<AccountId> {
    let parts: Vec<&str> = principal.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "iam", "", account, "root"] => AccountId::parse(account).ok(),
        _ => None,
    }
}

/// The allowed principals, split into whole accounts and the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Principals {
    pub accounts: BTreeSet<AccountId>,
    /// Roles, users, `*`: not managed by the kit.
    pub others: Vec<String>,
}

impl Principals {
    pub fn from_list<'a>(principals: impl IntoIterator<Item = &'a str>) -> Principals {
        let mut result = Principals::default();
        for p in principals {
            match account_of(p) {
                Some(account) => {
                    result.accounts.insert(account);
                }
                None => result.others.push(p.to_string()),
            }
        }
        result.others.sort();
        result.others.dedup();
        result
    }

    pub fn allows(&self, account: &str) -> bool {
        self.accounts.iter().any(|a| a.as_str() == account)
    }

    /// True when `*` is allowed (`allow_any_principal`): every account may
    /// request, so the kit leaves the principals alone and the registry
    /// alone decides.
    pub fn any(&self) -> bool {
        self.others.iter().any(|p| p == "*")
    }
}

/// Reads the service's allowed principals (all pages, through the
/// service's adapter).
pub async fn load(
    ec2: &aws_sdk_ec2::Client,
    service_id: &str,
) -> Result<Principals, OperatorError> {
    let all = service::principals(ec2, service_id).await?;
    Ok(Principals::from_list(all.iter().map(String::as_str)))
}

/// Adds and removes account principals in one call (nothing when both are
/// empty).
pub async fn modify(
    ec2: &aws_sdk_ec2::Client,
    service_id: &str,
    region: Option<&str>,
    add: &[AccountId],
    remove: &[AccountId],
) -> Result<(), OperatorError> {
    if add.is_empty() && remove.is_empty() {
        return Ok(());
    }
    let arns = |ids: &[AccountId]| -> Vec<String> {
        ids.iter().map(|a| principal_for(a, region)).collect()
    };
    service::set_principals(ec2, service_id, &arns(add), &arns(remove)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_account_principals_are_accounts() {
        let p = Principals::from_list([
            "arn:aws:iam::111111111111:root",
            "arn:aws-cn:iam::222222222222:root",
            "arn:aws:iam::333333333333:role/x",
            "arn:aws:iam::44444444444:root",
            "*",
            "*",
        ]);
        let accounts: Vec<&str> = p.accounts.iter().map(AccountId::as_str).collect();
        assert_eq!(accounts, ["111111111111", "222222222222"]);
        assert_eq!(
            p.others,
            [
                "*",
                "arn:aws:iam::333333333333:role/x",
                "arn:aws:iam::44444444444:root"
            ]
        );
        assert!(p.allows("111111111111") && !p.allows("333333333333"));
        assert!(p.any());
        assert!(!Principals::from_list(["arn:aws:iam::111111111111:root"]).any());
    }

    #[test]
    fn principals_name_the_partition() {
        let id = AccountId::parse("111111111111").expect("valid");
        assert_eq!(
            principal_for(&id, Some("us-east-1")),
            "arn:aws:iam::111111111111:root"
        );
        assert_eq!(
            principal_for(&id, Some("cn-north-1")),
            "arn:aws-cn:iam::111111111111:root"
        );
        assert_eq!(
            principal_for(&id, Some("us-gov-west-1")),
            "arn:aws-us-gov:iam::111111111111:root"
        );
        assert_eq!(account_of(&principal_for(&id, None)), Some(id));
    }
}

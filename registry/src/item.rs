//! One tenant as one DynamoDB item, both ways. Pure.
//!
//! | attribute | type | |
//! |---|---|---|
//! | `account_id` | S | the partition key, 12 digits |
//! | `name` | S | |
//! | `status` | S | `active` or `suspended` |
//! | `expires_at` | N | seconds since the Unix epoch, optional |
//! | `max_endpoints` | N | optional |
//! | `allowed_regions` | SS | the consumer regions the tenant may connect from; absent: every region the service supports (a list of strings `L` is read too) |
//! | `notes` | S | optional |
//! | `updated_by` | S | the caller's ARN, or `config` for a seed |
//! | `updated_at` | N | seconds since the Unix epoch |
//! | `version` | N | incremented by every write; writes are conditional on it |
//!
//! An item that does not read back as a tenant (a bad account id or
//! status, a number that is not one) is an error naming the attribute: the
//! approver then refuses to decide for that owner rather than guess.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use privatelink_core::approval::{is_region_name, AccountId, Tenant, TenantStatus};

/// The table's partition key.
pub const KEY: &str = "account_id";
pub const NAME: &str = "name";
pub const STATUS: &str = "status";
pub const EXPIRES_AT: &str = "expires_at";
pub const MAX_ENDPOINTS: &str = "max_endpoints";
pub const ALLOWED_REGIONS: &str = "allowed_regions";
pub const NOTES: &str = "notes";
pub const UPDATED_BY: &str = "updated_by";
pub const UPDATED_AT: &str = "updated_at";
pub const VERSION: &str = "version";

pub type Item = HashMap<String, AttributeValue>;

/// The key of `account`'s item.
pub fn key(account: &str) -> Item {
    HashMap::from([(KEY.to_string(), AttributeValue::S(account.to_string()))])
}

/// The item that stores `tenant`.
pub fn to_item(tenant: &Tenant) -> Item {
    let mut item = key(tenant.account_id.as_str());
    item.insert(NAME.into(), AttributeValue::S(tenant.name.clone()));
    item.insert(
        STATUS.into(),
        AttributeValue::S(tenant.status.as_str().into()),
    );
    if let Some(at) = tenant.expires_at {
        item.insert(EXPIRES_AT.into(), AttributeValue::N(at.to_string()));
    }
    if let Some(max) = tenant.max_endpoints {
        item.insert(MAX_ENDPOINTS.into(), AttributeValue::N(max.to_string()));
    }
    // A string set cannot be empty: no limit, no attribute.
    if !tenant.allowed_regions.is_empty() {
        item.insert(
            ALLOWED_REGIONS.into(),
            AttributeValue::Ss(tenant.allowed_regions.iter().cloned().collect()),
        );
    }
    if let Some(notes) = tenant.notes.as_ref().filter(|n| !n.is_empty()) {
        item.insert(NOTES.into(), AttributeValue::S(notes.clone()));
    }
    if let Some(by) = &tenant.updated_by {
        item.insert(UPDATED_BY.into(), AttributeValue::S(by.clone()));
    }
    if let Some(at) = tenant.updated_at {
        item.insert(UPDATED_AT.into(), AttributeValue::N(at.to_string()));
    }
    item.insert(
        VERSION.into(),
        AttributeValue::N(tenant.version.to_string()),
    );
    item
}

/// Why an item is not a tenant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("registry item {account:?}: attribute {attribute} {problem}")]
pub struct ItemError {
    pub account: String,
    pub attribute: &'static str,
    pub problem: String,
}

/// Reads an item back.
pub fn from_item(item: &Item) -> Result<Tenant, ItemError> {
    let raw_account = match item.get(KEY) {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => String::new(),
    };
    let fail = |attribute: &'static str, problem: String| ItemError {
        account: raw_account.clone(),
        attribute,
        problem,
    };
    let string = |name: &'static str| -> Result<Option<String>, ItemError> {
        match item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(s)) => Ok(Some(s.clone())),
            Some(other) => Err(fail(name, format!("is not a string: {other:?}"))),
        }
    };
    fn number<T: std::str::FromStr>(
        item: &Item,
        name: &'static str,
        fail: &dyn Fn(&'static str, String) -> ItemError,
    ) -> Result<Option<T>, ItemError> {
        match item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(n)) => n
                .parse()
                .map(Some)
                .map_err(|_| fail(name, format!("is not a whole number in range: {n}"))),
            Some(other) => Err(fail(name, format!("is not a number: {other:?}"))),
        }
    }
    let account_id =
        AccountId::parse(&raw_account).map_err(|e| fail(KEY, format!("is invalid: {e}")))?;
    let status_raw = string(STATUS)?.ok_or_else(|| fail(STATUS, "is missing".into()))?;
    let status = TenantStatus::parse(&status_raw).ok_or_else(|| {
        fail(
            STATUS,
            format!("is {status_raw:?}; write active or suspended"),
        )
    })?;
    let allowed_regions = match item.get(ALLOWED_REGIONS) {
        None | Some(AttributeValue::Null(_)) => BTreeSet::new(),
        Some(AttributeValue::Ss(set)) => set.iter().cloned().collect(),
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|v| match v {
                AttributeValue::S(s) => Ok(s.clone()),
                other => Err(fail(
                    ALLOWED_REGIONS,
                    format!("holds {other:?}, not a region name"),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(fail(
                ALLOWED_REGIONS,
                format!("is not a string set or list: {other:?}"),
            ))
        }
    };
    if let Some(bad) = allowed_regions.iter().find(|r| !is_region_name(r)) {
        return Err(fail(
            ALLOWED_REGIONS,
            format!("holds {bad:?}, not a region name (like eu-west-1)"),
        ));
    }
    Ok(Tenant {
        name: string(NAME)?.unwrap_or_else(|| account_id.as_str().to_string()),
        account_id,
        status,
        expires_at: number(item, EXPIRES_AT, &fail)?,
        max_endpoints: number(item, MAX_ENDPOINTS, &fail)?,
        allowed_regions,
        notes: string(NOTES)?,
        updated_by: string(UPDATED_BY)?,
        updated_at: number(item, UPDATED_AT, &fail)?,
        version: number(item, VERSION, &fail)?.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Tenant {
        Tenant {
            account_id: AccountId::parse("111111111111").unwrap(),
            name: "Acme".into(),
            status: TenantStatus::Suspended,
            expires_at: Some(1_900_000_000),
            max_endpoints: Some(3),
            allowed_regions: ["eu-west-1".to_string(), "us-east-1".to_string()].into(),
            notes: Some("invoice overdue".into()),
            updated_by: Some("arn:aws:iam::999999999999:user/ops".into()),
            updated_at: Some(1_800_000_000),
            version: 7,
        }
    }

    #[test]
    fn round_trips_every_field() {
        assert_eq!(from_item(&to_item(&full())), Ok(full()));
        let minimal = Tenant::active(AccountId::parse("222222222222").unwrap(), "B");
        assert_eq!(from_item(&to_item(&minimal)), Ok(minimal));
    }

    #[test]
    fn a_bad_item_names_the_attribute() {
        let mut item = to_item(&full());
        item.insert(STATUS.into(), AttributeValue::S("paused".into()));
        let e = from_item(&item).unwrap_err();
        assert_eq!(e.attribute, STATUS);
        assert!(e.to_string().contains("write active or suspended"), "{e}");

        let mut item = to_item(&full());
        item.insert(MAX_ENDPOINTS.into(), AttributeValue::N("-1".into()));
        assert_eq!(from_item(&item).unwrap_err().attribute, MAX_ENDPOINTS);

        let mut item = to_item(&full());
        item.insert(KEY.into(), AttributeValue::S("1111".into()));
        assert_eq!(from_item(&item).unwrap_err().attribute, KEY);

        for bad in [
            AttributeValue::S("eu-west-1".into()),
            AttributeValue::Ss(vec!["EU West".into()]),
            AttributeValue::L(vec![AttributeValue::N("1".into())]),
        ] {
            let mut item = to_item(&full());
            item.insert(ALLOWED_REGIONS.into(), bad);
            assert_eq!(from_item(&item).unwrap_err().attribute, ALLOWED_REGIONS);
        }
    }

    #[test]
    fn allowed_regions_are_a_string_set_or_a_list() {
        let item = to_item(&full());
        match &item[ALLOWED_REGIONS] {
            AttributeValue::Ss(set) => assert_eq!(set, &["eu-west-1", "us-east-1"]),
            other => panic!("{other:?}"),
        }
        let mut listed = item.clone();
        listed.insert(
            ALLOWED_REGIONS.into(),
            AttributeValue::L(vec![
                AttributeValue::S("us-east-1".into()),
                AttributeValue::S("eu-west-1".into()),
            ]),
        );
        assert_eq!(from_item(&listed), Ok(full()));
        // No limit: no attribute (a string set cannot be empty).
        let unlimited = Tenant::active(AccountId::parse("222222222222").unwrap(), "B");
        assert!(!to_item(&unlimited).contains_key(ALLOWED_REGIONS));
    }
}

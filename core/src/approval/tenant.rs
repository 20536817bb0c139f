//! Tenants: who the vendor has entitled to connect, and whether a tenant is
//! entitled right now. Pure: the item lives in the tenant registry
//! (DynamoDB, crate `privatelink-registry`); this is its shape and the rule
//! that reads it. The approver reads the registry through
//! [`TenantSource`], so the decision never depends on where tenants come
//! from ([`StaticTenants`] is the in-memory source of unit tests and of the
//! benchmark's baseline, the old environment-variable allowlist).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::future::Future;

use crate::errors::AwsError;

use super::allowlist::AccountId;

/// A tenant's status as the vendor set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }

    /// `active` or `suspended` (any case); `None` otherwise.
    pub fn parse(raw: &str) -> Option<TenantStatus> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "active" => Some(TenantStatus::Active),
            "suspended" => Some(TenantStatus::Suspended),
            _ => None,
        }
    }
}

impl fmt::Display for TenantStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One tenant: one item of the registry, keyed by account id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tenant {
    pub account_id: AccountId,
    pub name: String,
    pub status: TenantStatus,
    /// Seconds since the Unix epoch; from then on the tenant is not
    /// entitled (an entitlement that ends by itself: a trial, a contract).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// The most live (pending or available) endpoints the tenant may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_endpoints: Option<u32>,
    /// The consumer regions the tenant may connect from (cross-region
    /// PrivateLink); empty: every region the service supports.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub allowed_regions: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Who made the last change (the caller's ARN, or `config` for a seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// When, in seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// Incremented by every write; writes are conditional on the version
    /// read, so two operators never lose each other's edit.
    #[serde(default)]
    pub version: u64,
}

impl Tenant {
    /// A new active tenant with no expiry and no quota.
    pub fn active(account_id: AccountId, name: impl Into<String>) -> Tenant {
        Tenant {
            account_id,
            name: name.into(),
            status: TenantStatus::Active,
            expires_at: None,
            max_endpoints: None,
            allowed_regions: BTreeSet::new(),
            notes: None,
            updated_by: None,
            updated_at: None,
            version: 0,
        }
    }

    /// Whether the tenant is entitled at `now` (seconds since the epoch),
    /// quota aside.
    pub fn standing(&self, now: i64) -> Standing {
        match self.status {
            TenantStatus::Suspended => Standing::Suspended,
            TenantStatus::Active if self.expires_at.is_some_and(|at| at <= now) => {
                Standing::Expired
            }
            TenantStatus::Active => Standing::Entitled {
                max_endpoints: self.max_endpoints,
            },
        }
    }

    /// Whether the tenant may connect from `region` (the consumer's region;
    /// `None`: unknown, allowed only when the tenant is not limited).
    pub fn allows_region(&self, region: Option<&str>) -> bool {
        self.allowed_regions.is_empty() || region.is_some_and(|r| self.allowed_regions.contains(r))
    }

    /// Entitled at `now`: active and not expired (the allowed principals
    /// follow this).
    pub fn is_entitled(&self, now: i64) -> bool {
        matches!(self.standing(now), Standing::Entitled { .. })
    }
}

/// What the registry says of one owner at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Not in the registry.
    NotATenant,
    Suspended,
    Expired,
    /// Active and unexpired; at most `max_endpoints` live endpoints.
    Entitled {
        max_endpoints: Option<u32>,
    },
}

/// The tenants read for one decision run, and the moment they were read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tenants {
    pub by_account: HashMap<String, Tenant>,
    /// Seconds since the Unix epoch, when the registry was read.
    pub now: i64,
}

impl Tenants {
    pub fn new(tenants: impl IntoIterator<Item = Tenant>, now: i64) -> Tenants {
        Tenants {
            by_account: tenants
                .into_iter()
                .map(|t| (t.account_id.as_str().to_string(), t))
                .collect(),
            now,
        }
    }

    /// Whether `owner` may connect from `region` (true for an owner that is
    /// not a tenant: its standing refuses it already).
    pub fn allows_region(&self, owner: &str, region: Option<&str>) -> bool {
        self.by_account
            .get(owner)
            .is_none_or(|tenant| tenant.allows_region(region))
    }

    /// The standing of `owner` (an exact 12-digit match; anything else is
    /// not a tenant).
    pub fn standing(&self, owner: &str) -> Standing {
        match self.by_account.get(owner) {
            None => Standing::NotATenant,
            Some(tenant) => tenant.standing(self.now),
        }
    }
}

/// True for a region name such as `eu-west-1` (lowercase letters, digits
/// and `-`, with at least one `-`).
pub fn is_region_name(raw: &str) -> bool {
    raw.contains('-')
        && !raw.starts_with('-')
        && !raw.ends_with('-')
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Parses a list of region names separated by spaces, `;` or `,` (empty:
/// no limit), each checked; the error names every bad entry and what to
/// write.
pub fn parse_regions(raw: &str) -> Result<BTreeSet<String>, String> {
    let entries: Vec<&str> = raw
        .split(|c: char| c.is_whitespace() || c == ';' || c == ',')
        .filter(|e| !e.is_empty())
        .collect();
    let bad: Vec<&str> = entries
        .iter()
        .copied()
        .filter(|e| !is_region_name(e))
        .collect();
    if !bad.is_empty() {
        return Err(format!(
            "{bad:?} {} not region names: write them like eu-west-1, separated by spaces or ;",
            if bad.len() == 1 { "is" } else { "are" }
        ));
    }
    Ok(entries.into_iter().map(str::to_string).collect())
}

/// Seconds since the Unix epoch, now.
pub fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Reads tenants by account id. The registry's adapter reads exactly the
/// accounts asked for (BatchGetItem, strongly consistent); the approver asks
/// only for the owners it must decide on, right before it accepts.
pub trait TenantSource: Sync {
    /// The tenants among `accounts` (absent accounts are not tenants), and
    /// the number of AWS calls the read took.
    fn tenants(
        &self,
        accounts: &[String],
    ) -> impl Future<Output = Result<(Vec<Tenant>, u32), AwsError>> + Send;
}

/// Tenants held in memory: unit tests, and the benchmark's baseline (the
/// allowlist the approver used to read from its environment).
#[derive(Debug, Clone, Default)]
pub struct StaticTenants(pub BTreeMap<String, Tenant>);

impl StaticTenants {
    pub fn new(tenants: impl IntoIterator<Item = Tenant>) -> StaticTenants {
        StaticTenants(
            tenants
                .into_iter()
                .map(|t| (t.account_id.as_str().to_string(), t))
                .collect(),
        )
    }
}

impl TenantSource for StaticTenants {
    fn tenants(
        &self,
        accounts: &[String],
    ) -> impl Future<Output = Result<(Vec<Tenant>, u32), AwsError>> + Send {
        let found = accounts
            .iter()
            .filter_map(|a| self.0.get(a).cloned())
            .collect();
        std::future::ready(Ok((found, 0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(status: TenantStatus, expires_at: Option<i64>, max: Option<u32>) -> Tenant {
        Tenant {
            status,
            expires_at,
            max_endpoints: max,
            ..Tenant::active(AccountId::parse("111111111111").unwrap(), "Acme")
        }
    }

    #[test]
    fn standing_follows_status_then_expiry() {
        let now = 1_000;
        assert_eq!(
            tenant(TenantStatus::Active, None, Some(3)).standing(now),
            Standing::Entitled {
                max_endpoints: Some(3)
            }
        );
        assert_eq!(
            tenant(TenantStatus::Active, Some(1_001), None).standing(now),
            Standing::Entitled {
                max_endpoints: None
            }
        );
        // Expiry is inclusive: at the instant itself the tenant is expired.
        assert_eq!(
            tenant(TenantStatus::Active, Some(1_000), None).standing(now),
            Standing::Expired
        );
        assert_eq!(
            tenant(TenantStatus::Suspended, Some(1_001), None).standing(now),
            Standing::Suspended
        );
        assert_eq!(
            tenant(TenantStatus::Suspended, Some(10), None).standing(now),
            Standing::Suspended
        );
    }

    #[test]
    fn only_exact_account_ids_are_tenants() {
        let tenants = Tenants::new([tenant(TenantStatus::Active, None, None)], 0);
        assert!(matches!(
            tenants.standing("111111111111"),
            Standing::Entitled { .. }
        ));
        assert_eq!(tenants.standing(" 111111111111"), Standing::NotATenant);
        assert_eq!(tenants.standing("11111111111"), Standing::NotATenant);
    }

    #[test]
    fn status_parses_both_ways() {
        for s in [TenantStatus::Active, TenantStatus::Suspended] {
            assert_eq!(TenantStatus::parse(s.as_str()), Some(s));
            assert_eq!(TenantStatus::parse(&s.as_str().to_uppercase()), Some(s));
        }
        assert_eq!(TenantStatus::parse("paused"), None);
    }
}

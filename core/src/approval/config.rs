//! The approver's configuration, read from a key lookup (the Lambda's
//! environment, or a CLI's flags mapped to the same names).
//!
//! Invalid configuration fails closed: [`ApproverConfig::from_lookup`] returns
//! every problem at once, each saying what is wrong and what to write, and
//! the caller then accepts nothing.

use std::fmt;

/// The endpoint service whose connections are decided (`vpce-svc-...`).
pub const ENV_SERVICE_ID: &str = "APPROVER_SERVICE_ID";
/// The tenant registry: the DynamoDB table the approver reads tenants from.
pub const ENV_TABLE: &str = "APPROVER_TABLE";
/// The region of that table when it is not the function's own: a stack in
/// several regions keeps one registry, in its home region, and every
/// region's approver reads it there (docs/regions.md says why).
pub const ENV_TABLE_REGION: &str = "APPROVER_TABLE_REGION";
/// Where earlier versions kept the allowlist (account ids separated by
/// commas or spaces). Read only by `up`, which moves it into the registry
/// once; the approver ignores it.
pub const LEGACY_ENV_ALLOWLIST: &str = "APPROVER_ALLOWLIST";
/// What to do with requests from other accounts: `reject` (default) or
/// `leave-pending`.
pub const ENV_NON_ALLOWLISTED_POLICY: &str = "APPROVER_NON_ALLOWLISTED_POLICY";
/// `true` to reject accepted connections whose owner left the allowlist
/// (default `false`).
pub const ENV_REVOKE: &str = "APPROVER_REVOKE";
/// `true` to decide and log without calling Accept/Reject (default `false`).
pub const ENV_DRY_RUN: &str = "APPROVER_DRY_RUN";

/// Every variable the approver reads, with its help text, for `--help`
/// output and documentation.
pub const ENV_VARS: [(&str, &str); 6] = [
    (
        ENV_SERVICE_ID,
        "required; the endpoint service to decide for, e.g. vpce-svc-0123456789abcdef0",
    ),
    (
        ENV_TABLE,
        "required; the tenant registry's DynamoDB table, e.g. acme-tenants",
    ),
    (
        ENV_TABLE_REGION,
        "the table's region when it is not the function's own (a stack in several regions reads its home region's registry), e.g. us-east-1",
    ),
    (
        ENV_NON_ALLOWLISTED_POLICY,
        "reject (default) | leave-pending: what to do with requests the tenant registry refuses (not a tenant, suspended, expired, over quota)",
    ),
    (
        ENV_REVOKE,
        "true | false (default): also reject available/pending connections whose owner is no longer entitled (not a tenant, suspended, expired)",
    ),
    (
        ENV_DRY_RUN,
        "true | false (default): decide and log every decision, but call neither Accept nor Reject",
    ),
];

/// What to do with a connection request the registry refuses (not a
/// tenant, suspended, expired, over quota).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NonAllowlistedPolicy {
    /// Reject it (the consumer sees `rejected` at once).
    #[default]
    Reject,
    /// Leave it in `pendingAcceptance` for a person to review.
    LeavePending,
}

impl NonAllowlistedPolicy {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "reject" => Some(NonAllowlistedPolicy::Reject),
            "leave-pending" => Some(NonAllowlistedPolicy::LeavePending),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            NonAllowlistedPolicy::Reject => "reject",
            NonAllowlistedPolicy::LeavePending => "leave-pending",
        }
    }
}

impl fmt::Display for NonAllowlistedPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A valid approver configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApproverConfig {
    pub service_id: String,
    /// The tenant registry's table name.
    pub table: String,
    /// The table's region; `None`: the function's own.
    pub table_region: Option<String>,
    pub non_allowlisted: NonAllowlistedPolicy,
    pub revoke: bool,
    pub dry_run: bool,
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigProblem {
    #[error("{name} is not set: {what}")]
    Missing {
        name: &'static str,
        what: &'static str,
    },
    #[error(
        "{name}={value:?} is not an endpoint service id: write it like vpce-svc-0123456789abcdef0"
    )]
    ServiceId { name: &'static str, value: String },
    #[error(
        "{name}={value:?} is not a DynamoDB table name: 3 to 255 letters, digits, '_', '-' or '.'"
    )]
    Table { name: &'static str, value: String },
    #[error("{name}={value:?} is not an AWS region: write it like us-east-1")]
    Region { name: &'static str, value: String },
    #[error("{name}={value:?} is not a policy: write reject or leave-pending")]
    Policy { name: &'static str, value: String },
    #[error("{name}={value:?} is not a boolean: write true or false")]
    Bool { name: &'static str, value: String },
}

/// Why the configuration is unusable: every problem found, in variable
/// order. While it exists the approver accepts nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid approver configuration (nothing will be accepted): "
        )?;
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// True for `vpce-svc-` followed by lowercase letters and digits.
pub fn is_service_id(raw: &str) -> bool {
    raw.strip_prefix("vpce-svc-").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// DynamoDB's table-name rule: 3 to 255 of `[a-zA-Z0-9_.-]`.
pub fn is_table_name(raw: &str) -> bool {
    (3..=255).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The shape of a region name (`us-east-1`, `us-gov-west-1`): lowercase
/// letters, digits and '-', with at least one '-'.
pub fn is_region(raw: &str) -> bool {
    raw.contains('-')
        && !raw.starts_with('-')
        && !raw.ends_with('-')
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn parse_bool(name: &'static str, value: Option<String>) -> Result<bool, ConfigProblem> {
    match value {
        None => Ok(false),
        Some(value) => match value.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(ConfigProblem::Bool { name, value }),
        },
    }
}

impl ApproverConfig {
    /// Reads the configuration from `lookup` (variable name → value), using
    /// the `ENV_*` names. Unset optional variables take their defaults; a
    /// set but invalid value is always an error, never a default.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();

        let service_id = match lookup(ENV_SERVICE_ID) {
            None => {
                problems.push(ConfigProblem::Missing {
                    name: ENV_SERVICE_ID,
                    what: "set it to the endpoint service id, e.g. vpce-svc-0123456789abcdef0",
                });
                None
            }
            Some(value) if is_service_id(value.trim()) => Some(value.trim().to_string()),
            Some(value) => {
                problems.push(ConfigProblem::ServiceId {
                    name: ENV_SERVICE_ID,
                    value,
                });
                None
            }
        };

        let table = match lookup(ENV_TABLE) {
            None => {
                problems.push(ConfigProblem::Missing {
                    name: ENV_TABLE,
                    what: "set it to the tenant registry's DynamoDB table name (`endpoint-service up` does)",
                });
                None
            }
            Some(value) if is_table_name(value.trim()) => Some(value.trim().to_string()),
            Some(value) => {
                problems.push(ConfigProblem::Table {
                    name: ENV_TABLE,
                    value,
                });
                None
            }
        };

        let table_region = match lookup(ENV_TABLE_REGION) {
            None => None,
            Some(value) if is_region(value.trim()) => Some(value.trim().to_string()),
            Some(value) => {
                problems.push(ConfigProblem::Region {
                    name: ENV_TABLE_REGION,
                    value,
                });
                None
            }
        };

        let non_allowlisted = match lookup(ENV_NON_ALLOWLISTED_POLICY) {
            None => NonAllowlistedPolicy::default(),
            Some(value) => match NonAllowlistedPolicy::parse(&value) {
                Some(policy) => policy,
                None => {
                    problems.push(ConfigProblem::Policy {
                        name: ENV_NON_ALLOWLISTED_POLICY,
                        value,
                    });
                    NonAllowlistedPolicy::default()
                }
            },
        };

        let revoke = parse_bool(ENV_REVOKE, lookup(ENV_REVOKE)).unwrap_or_else(|p| {
            problems.push(p);
            false
        });
        let dry_run = parse_bool(ENV_DRY_RUN, lookup(ENV_DRY_RUN)).unwrap_or_else(|p| {
            problems.push(p);
            false
        });

        match (service_id, table) {
            (Some(service_id), Some(table)) if problems.is_empty() => Ok(ApproverConfig {
                service_id,
                table,
                table_region,
                non_allowlisted,
                revoke,
                dry_run,
            }),
            _ => Err(ConfigError { problems }),
        }
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<ApproverConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ApproverConfig::from_lookup(|name| map.get(name).cloned())
    }

    const SVC: (&str, &str) = (ENV_SERVICE_ID, "vpce-svc-0123456789abcdef0");
    const LIST: (&str, &str) = (ENV_TABLE, "acme-tenants");

    #[test]
    fn defaults_are_the_safe_ones() {
        let c = config(&[SVC, LIST]).expect("valid");
        assert_eq!(c.service_id, "vpce-svc-0123456789abcdef0");
        assert_eq!(c.table, "acme-tenants");
        assert_eq!(c.non_allowlisted, NonAllowlistedPolicy::Reject);
        assert!(!c.revoke);
        assert!(!c.dry_run);
        assert_eq!(c.table_region, None, "the function's own region");
    }

    #[test]
    fn the_table_region_is_read_and_a_bad_one_accepts_nothing() {
        let c = config(&[SVC, LIST, (ENV_TABLE_REGION, " us-east-1 ")]).expect("valid");
        assert_eq!(c.table_region.as_deref(), Some("us-east-1"));
        let error = config(&[SVC, LIST, (ENV_TABLE_REGION, "US East")]).expect_err("not a region");
        assert_eq!(
            error.to_string(),
            "invalid approver configuration (nothing will be accepted): \
             APPROVER_TABLE_REGION=\"US East\" is not an AWS region: write it like us-east-1"
        );
    }

    #[test]
    fn every_option_is_read() {
        let c = config(&[
            SVC,
            LIST,
            (ENV_NON_ALLOWLISTED_POLICY, "Leave-Pending"),
            (ENV_REVOKE, "TRUE"),
            (ENV_DRY_RUN, "true"),
        ])
        .expect("valid");
        assert_eq!(c.non_allowlisted, NonAllowlistedPolicy::LeavePending);
        assert!(c.revoke && c.dry_run);
    }

    #[test]
    fn problems_say_what_is_wrong_and_what_to_write() {
        type Vars<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(Vars, &[&str])] = &[
            (&[], &["APPROVER_SERVICE_ID is not set", "APPROVER_TABLE is not set"]),
            (&[LIST], &["APPROVER_SERVICE_ID is not set"]),
            (&[SVC], &["APPROVER_TABLE is not set"]),
            (
                &[(ENV_SERVICE_ID, "svc-123"), LIST],
                &["APPROVER_SERVICE_ID=\"svc-123\" is not an endpoint service id"],
            ),
            (
                &[SVC, (ENV_TABLE, "")],
                &["APPROVER_TABLE=\"\" is not a DynamoDB table name"],
            ),
            (
                &[SVC, (ENV_TABLE, "acme tenants")],
                &["APPROVER_TABLE=\"acme tenants\" is not a DynamoDB table name"],
            ),
            (
                &[SVC, LIST, (ENV_NON_ALLOWLISTED_POLICY, "accept")],
                &["APPROVER_NON_ALLOWLISTED_POLICY=\"accept\" is not a policy: write reject or leave-pending"],
            ),
            (
                &[SVC, LIST, (ENV_REVOKE, "yes")],
                &["APPROVER_REVOKE=\"yes\" is not a boolean: write true or false"],
            ),
            (
                &[SVC, LIST, (ENV_DRY_RUN, "")],
                &["APPROVER_DRY_RUN=\"\" is not a boolean"],
            ),
        ];
        for (vars, expected) in cases {
            let error = config(vars).expect_err("invalid");
            assert_eq!(error.problems.len(), expected.len(), "{vars:?}: {error}");
            let message = error.to_string();
            assert!(message.contains("nothing will be accepted"), "{message}");
            for fragment in *expected {
                assert!(message.contains(fragment), "{vars:?}: {message}");
            }
        }
    }

    #[test]
    fn service_ids() {
        for ok in ["vpce-svc-0123456789abcdef0", "vpce-svc-abc"] {
            assert!(is_service_id(ok), "{ok}");
        }
        for bad in [
            "vpce-svc-",
            "vpce-0123",
            "vpce-svc-ABC",
            "vpce-svc-12 3",
            "",
        ] {
            assert!(!is_service_id(bad), "{bad}");
        }
    }
}

//! `tenants list | add | suspend | resume | remove | export`: the tenant
//! registry, edited one account at a time (`import` is [`super::import`]).
//!
//! Every edit reads the tenant, plans the change purely ([`plan_edit`]) and
//! writes it conditionally on the version it read, so an edit made by
//! someone else in between is never overwritten: that account is reported
//! as a conflict, to be run again, and the others go ahead. Re-running an
//! edit changes nothing in the registry (the tenant is already as asked)
//! but still makes the principals and connections follow
//! ([`super::follow`]), which finishes an interrupted run.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use privatelink_registry::{Registry, RegistryError};

use super::connections::TenantStanding;
use super::error::OperatorError;
use super::follow::{self, Approver, Changed, Followed};
use super::target::Target;
use crate::approval::tenant::now_epoch;
use crate::approval::{AccountId, Tenant, TenantStatus};

/// Which edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Edit {
    Add,
    Suspend,
    Resume,
    Remove,
}

impl Edit {
    fn verb(self) -> &'static str {
        match self {
            Edit::Add => "add",
            Edit::Suspend => "suspend",
            Edit::Resume => "resume",
            Edit::Remove => "remove",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Edit::Add => "added",
            Edit::Suspend => "suspended",
            Edit::Resume => "resumed",
            Edit::Remove => "removed",
        }
    }
}

/// The fields `add` sets (those not given keep their value on `--update`,
/// or their default on a new tenant).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    pub name: Option<String>,
    pub expires_at: Option<i64>,
    pub max_endpoints: Option<u32>,
    /// The consumer regions the tenant may connect from (`Some` of an empty
    /// set: no limit any more).
    pub allowed_regions: Option<BTreeSet<String>>,
    pub notes: Option<String>,
    /// Change an existing tenant whose fields differ (otherwise refused).
    pub update: bool,
}

/// What happened to one account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Created,
    Updated,
    Removed,
    /// Already as asked: nothing written.
    Unchanged {
        note: Option<String>,
    },
    /// Not in the registry (suspend and remove: nothing to do).
    NotATenant,
    /// Not done as asked; nothing written.
    Refused {
        reason: String,
    },
    /// Someone else changed the tenant since it was read; nothing written.
    Conflict {
        detail: String,
    },
}

/// One account's edit, pure: what to write, or why nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Create(Tenant),
    Replace(Tenant),
    Remove(Tenant),
    Nothing(Outcome),
}

/// Plans `edit` of `account` given the tenant as read (`current`).
pub fn plan_edit(
    edit: Edit,
    account: &AccountId,
    current: Option<&Tenant>,
    fields: &Fields,
) -> Step {
    match (edit, current) {
        (Edit::Add, None) => Step::Create(Tenant {
            expires_at: fields.expires_at,
            max_endpoints: fields.max_endpoints,
            allowed_regions: fields.allowed_regions.clone().unwrap_or_default(),
            notes: fields.notes.clone(),
            ..Tenant::active(
                account.clone(),
                fields
                    .name
                    .clone()
                    .unwrap_or_else(|| account.as_str().to_string()),
            )
        }),
        (Edit::Add, Some(t)) => {
            let wanted = Tenant {
                name: fields.name.clone().unwrap_or_else(|| t.name.clone()),
                expires_at: fields.expires_at.or(t.expires_at),
                max_endpoints: fields.max_endpoints.or(t.max_endpoints),
                allowed_regions: fields
                    .allowed_regions
                    .clone()
                    .unwrap_or_else(|| t.allowed_regions.clone()),
                notes: fields.notes.clone().or_else(|| t.notes.clone()),
                ..t.clone()
            };
            let differs = differences(t, &wanted);
            if differs.is_empty() {
                Step::Nothing(Outcome::Unchanged {
                    note: (t.status == TenantStatus::Suspended).then(|| {
                        format!("a suspended tenant: `tenants resume {account}` entitles it again")
                    }),
                })
            } else if fields.update {
                Step::Replace(wanted)
            } else {
                Step::Nothing(Outcome::Refused {
                    reason: format!(
                        "a tenant already, with other {}: pass --update to change it",
                        differs.join(", ")
                    ),
                })
            }
        }
        (Edit::Suspend, Some(t)) => with_status(t, TenantStatus::Suspended),
        (Edit::Resume, Some(t)) => with_status(t, TenantStatus::Active),
        (Edit::Remove, Some(t)) => Step::Remove(t.clone()),
        (Edit::Suspend | Edit::Remove, None) => Step::Nothing(Outcome::NotATenant),
        (Edit::Resume, None) => Step::Nothing(Outcome::Refused {
            reason: format!("not a tenant: add it with `tenants add {account}`"),
        }),
    }
}

fn with_status(tenant: &Tenant, status: TenantStatus) -> Step {
    if tenant.status == status {
        Step::Nothing(Outcome::Unchanged { note: None })
    } else {
        Step::Replace(Tenant {
            status,
            ..tenant.clone()
        })
    }
}

/// The fields a file or a command sets that differ between two tenants
/// (not who changed them, when, or the version).
pub fn differences(a: &Tenant, b: &Tenant) -> Vec<&'static str> {
    let mut names = Vec::new();
    if a.name != b.name {
        names.push("name");
    }
    if a.status != b.status {
        names.push("status");
    }
    if a.expires_at != b.expires_at {
        names.push("expires_at");
    }
    if a.max_endpoints != b.max_endpoints {
        names.push("max_endpoints");
    }
    if a.allowed_regions != b.allowed_regions {
        names.push("allowed_regions");
    }
    if a.notes.as_deref().unwrap_or_default() != b.notes.as_deref().unwrap_or_default() {
        names.push("notes");
    }
    names
}

/// One account's result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccountResult {
    pub account: AccountId,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The tenant as stored now (absent: not in the registry, or unknown
    /// after a conflict).
    pub tenant: Option<Tenant>,
    pub standing: Option<TenantStanding>,
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EditReport {
    pub edit: Edit,
    pub table: String,
    /// Who wrote (the caller's ARN, stored as `updated_by`).
    pub by: String,
    pub accounts: Vec<AccountResult>,
    pub followed: Followed,
}

impl EditReport {
    /// Accounts that lost to someone else's edit, and accounts refused.
    pub fn conflicts(&self) -> Vec<&AccountResult> {
        self.accounts
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Conflict { .. }))
            .collect()
    }

    pub fn refused(&self) -> Vec<&AccountResult> {
        self.accounts
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Refused { .. }))
            .collect()
    }
}

/// Where a tenants command works.
pub struct Context<'a> {
    pub ec2: &'a aws_sdk_ec2::Client,
    pub lambda: &'a aws_sdk_lambda::Client,
    pub registry: &'a Registry,
    pub target: &'a Target,
    pub region: Option<&'a str>,
    /// The caller's ARN.
    pub by: &'a str,
}

/// Applies `edit` to each account (read, plan, conditional write), then
/// makes the principals and connections follow.
pub async fn edit(
    ctx: &Context<'_>,
    edit: Edit,
    accounts: &[AccountId],
    fields: &Fields,
) -> Result<EditReport, OperatorError> {
    let approver = Approver::load(ctx.lambda, ctx.target, ctx.registry.table()).await?;
    let now = now_epoch();
    let mut results = Vec::new();
    let mut changed = Vec::new();
    let mut reconcile_for = Vec::new();
    // One strongly consistent read for every account (BatchGetItem, 100 a
    // call); each write is then conditional on the version read here.
    let ids: Vec<String> = accounts.iter().map(|a| a.as_str().to_string()).collect();
    let (found, _) = ctx.registry.get_many(&ids).await?;
    let mut read: HashMap<String, Tenant> = found
        .into_iter()
        .map(|t| (t.account_id.as_str().to_string(), t))
        .collect();
    for account in accounts {
        let current = read.remove(account.as_str());
        let step = plan_edit(edit, account, current.as_ref(), fields);
        let (outcome, tenant) = match apply(ctx, step, current.clone()).await? {
            Applied::Written(outcome, tenant) => {
                reconcile_for.push(account.clone());
                (outcome, tenant)
            }
            Applied::Nothing(outcome) => {
                // Already as asked, or nothing to do: the principals and
                // connections are checked again anyway (a re-run finishes
                // an interrupted one).
                if matches!(outcome, Outcome::Unchanged { .. } | Outcome::NotATenant) {
                    reconcile_for.push(account.clone());
                }
                (outcome, current)
            }
            Applied::Lost(detail) => {
                results.push(AccountResult {
                    account: account.clone(),
                    outcome: Outcome::Conflict { detail },
                    tenant: None,
                    standing: None,
                });
                continue;
            }
        };
        if !matches!(outcome, Outcome::Refused { .. }) {
            changed.push(Changed {
                account: account.clone(),
                now: tenant.clone(),
            });
        }
        results.push(AccountResult {
            account: account.clone(),
            standing: Some(standing(tenant.as_ref(), now)),
            outcome,
            tenant,
        });
    }
    let followed = follow::follow(
        ctx.ec2,
        ctx.registry,
        &approver,
        ctx.target,
        ctx.region,
        &changed,
        &reconcile_for,
    )
    .await;
    Ok(EditReport {
        edit,
        table: ctx.registry.table().to_string(),
        by: ctx.by.to_string(),
        accounts: results,
        followed,
    })
}

/// The standing of a tenant as read (`None`: not a tenant).
pub fn standing(tenant: Option<&Tenant>, now: i64) -> TenantStanding {
    tenant.map_or(TenantStanding::NotATenant, |t| t.standing(now).into())
}

enum Applied {
    Written(Outcome, Option<Tenant>),
    Nothing(Outcome),
    Lost(String),
}

async fn apply(
    ctx: &Context<'_>,
    step: Step,
    current: Option<Tenant>,
) -> Result<Applied, OperatorError> {
    let written = match step {
        Step::Nothing(outcome) => return Ok(Applied::Nothing(outcome)),
        Step::Create(tenant) => ctx
            .registry
            .create(&tenant, ctx.by)
            .await
            .map(|t| Applied::Written(Outcome::Created, Some(t))),
        Step::Replace(tenant) => ctx
            .registry
            .replace(&tenant, ctx.by)
            .await
            .map(|t| Applied::Written(Outcome::Updated, Some(t))),
        Step::Remove(tenant) => ctx
            .registry
            .remove(&tenant)
            .await
            .map(|()| Applied::Written(Outcome::Removed, None)),
    };
    match written {
        Ok(applied) => Ok(applied),
        Err(RegistryError::Conflict { detail, .. }) => Ok(Applied::Lost(format!(
            "{detail}{}: nothing was written; run the command again",
            current.map_or(String::new(), |t| format!(
                " (read at version {})",
                t.version
            ))
        ))),
        Err(other) => Err(other.into()),
    }
}

impl fmt::Display for EditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for a in &self.accounts {
            let name = a
                .tenant
                .as_ref()
                .map_or(String::new(), |t| format!(" ({})", t.name));
            // The standing after an add or resume says whether it took
            // (an expired tenant resumed is still not entitled); after a
            // suspend or remove it would only repeat the verb.
            let now = match (self.edit, a.standing) {
                (Edit::Add | Edit::Resume, Some(s)) => format!("; now {}", s.as_str()),
                _ => String::new(),
            };
            let account = &a.account;
            match &a.outcome {
                Outcome::Created | Outcome::Updated | Outcome::Removed => {
                    writeln!(f, "{account}{name}: {}{now}", self.edit.done())?
                }
                Outcome::Unchanged { note } => writeln!(
                    f,
                    "{account}{name}: already {}, nothing written{now}{}",
                    match self.edit {
                        Edit::Add => "a tenant",
                        other => other.done(),
                    },
                    note.as_ref().map_or(String::new(), |n| format!(" ({n})"))
                )?,
                Outcome::NotATenant => writeln!(
                    f,
                    "{account}: not a tenant, nothing to {}",
                    self.edit.verb()
                )?,
                Outcome::Refused { reason } => writeln!(f, "{account}{name}: not done: {reason}")?,
                Outcome::Conflict { detail } => writeln!(f, "{account}: not done: {detail}")?,
            }
        }
        write!(f, "{}", self.followed)?;
        write!(f, "registry {} (as {})", self.table, self.by)
    }
}

/// One row of `tenants list`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TenantRow {
    #[serde(flatten)]
    pub tenant: Tenant,
    pub standing: TenantStanding,
}

/// `tenants list`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TenantsList {
    pub table: String,
    pub tenants: Vec<TenantRow>,
}

/// Every tenant, with its standing now.
pub async fn list(registry: &Registry) -> Result<TenantsList, OperatorError> {
    let now = now_epoch();
    let tenants = registry
        .list()
        .await?
        .into_iter()
        .map(|t| TenantRow {
            standing: t.standing(now).into(),
            tenant: t,
        })
        .collect();
    Ok(TenantsList {
        table: registry.table().to_string(),
        tenants,
    })
}

impl fmt::Display for TenantsList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use privatelink_registry::transfer::format_time;
        if self.tenants.is_empty() {
            return write!(
                f,
                "{}: no tenants (add one with `endpoint-service tenants add ACCOUNT`)",
                self.table
            );
        }
        writeln!(f, "{}: {} tenant(s)", self.table, self.tenants.len())?;
        let rows: Vec<Vec<String>> = self
            .tenants
            .iter()
            .map(|r| {
                let t = &r.tenant;
                vec![
                    t.account_id.to_string(),
                    t.name.clone(),
                    t.status.to_string(),
                    r.standing.as_str().to_string(),
                    t.expires_at.map_or("-".into(), format_time),
                    t.max_endpoints.map_or("-".into(), |m| m.to_string()),
                    t.updated_by.clone().unwrap_or_else(|| "-".into()),
                    t.notes.clone().unwrap_or_default(),
                ]
            })
            .collect();
        super::connections::table(
            f,
            &[
                "ACCOUNT",
                "NAME",
                "STATUS",
                "STANDING",
                "EXPIRES",
                "MAX",
                "UPDATED BY",
                "NOTES",
            ],
            &rows,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_sdk_lambda::operation::get_function::GetFunctionOutput;
    use aws_sdk_lambda::types::{EnvironmentResponse, FunctionConfiguration};
    use aws_smithy_mocks::{
        create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode,
    };
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::naming::StackName;

    fn id(s: &str) -> AccountId {
        AccountId::parse(s).expect("valid")
    }

    fn acme(version: u64) -> Tenant {
        Tenant {
            version,
            ..Tenant::active(id("111111111111"), "Acme")
        }
    }

    #[test]
    fn add_creates_or_leaves_or_refuses_without_update() {
        let account = id("111111111111");
        let fields = Fields {
            name: Some("Acme".into()),
            max_endpoints: Some(2),
            ..Fields::default()
        };
        let Step::Create(new) = plan_edit(Edit::Add, &account, None, &fields) else {
            panic!("a new tenant is created");
        };
        assert_eq!((new.name.as_str(), new.max_endpoints), ("Acme", Some(2)));
        assert_eq!(new.status, TenantStatus::Active);
        let unnamed = plan_edit(Edit::Add, &account, None, &Fields::default());
        assert!(matches!(unnamed, Step::Create(t) if t.name == "111111111111"));

        // The same add again: nothing to write.
        let stored = Tenant {
            max_endpoints: Some(2),
            ..acme(3)
        };
        assert_eq!(
            plan_edit(Edit::Add, &account, Some(&stored), &fields),
            Step::Nothing(Outcome::Unchanged { note: None })
        );
        assert_eq!(
            plan_edit(Edit::Add, &account, Some(&stored), &Fields::default()),
            Step::Nothing(Outcome::Unchanged { note: None })
        );
        // Other fields: refused, unless --update (which keeps the version
        // read, so the write is conditional on it).
        let other = Fields {
            max_endpoints: Some(5),
            ..fields.clone()
        };
        let refused = plan_edit(Edit::Add, &account, Some(&stored), &other);
        assert!(
            matches!(&refused, Step::Nothing(Outcome::Refused { reason }) if reason.contains("other max_endpoints: pass --update")),
            "{refused:?}"
        );
        let updated = plan_edit(
            Edit::Add,
            &account,
            Some(&stored),
            &Fields {
                update: true,
                ..other
            },
        );
        assert!(
            matches!(&updated, Step::Replace(t) if t.max_endpoints == Some(5) && t.version == 3 && t.name == "Acme"),
            "{updated:?}"
        );
    }

    #[test]
    fn add_sets_keeps_or_clears_the_allowed_regions() {
        let account = id("111111111111");
        let regions = |list: &[&str]| list.iter().map(|r| r.to_string()).collect::<BTreeSet<_>>();
        let limited = Fields {
            allowed_regions: Some(regions(&["eu-west-1"])),
            ..Fields::default()
        };
        let Step::Create(new) = plan_edit(Edit::Add, &account, None, &limited) else {
            panic!("a new tenant is created");
        };
        assert_eq!(new.allowed_regions, regions(&["eu-west-1"]));
        let stored = Tenant {
            allowed_regions: regions(&["eu-west-1"]),
            ..acme(2)
        };
        // Not given: kept.
        assert_eq!(
            plan_edit(Edit::Add, &account, Some(&stored), &Fields::default()),
            Step::Nothing(Outcome::Unchanged { note: None })
        );
        // Other regions: refused without --update, replaced with it.
        let other = Fields {
            allowed_regions: Some(regions(&["eu-west-1", "us-east-1"])),
            ..Fields::default()
        };
        let refused = plan_edit(Edit::Add, &account, Some(&stored), &other);
        assert!(
            matches!(&refused, Step::Nothing(Outcome::Refused { reason }) if reason.contains("other allowed_regions")),
            "{refused:?}"
        );
        // An empty list lifts the limit.
        let cleared = plan_edit(
            Edit::Add,
            &account,
            Some(&stored),
            &Fields {
                allowed_regions: Some(BTreeSet::new()),
                update: true,
                ..Fields::default()
            },
        );
        assert!(
            matches!(&cleared, Step::Replace(t) if t.allowed_regions.is_empty() && t.version == 2),
            "{cleared:?}"
        );
    }

    #[test]
    fn suspend_resume_remove_keep_the_version_read() {
        let account = id("111111111111");
        let none = Fields::default();
        let suspended = plan_edit(Edit::Suspend, &account, Some(&acme(4)), &none);
        assert!(
            matches!(&suspended, Step::Replace(t) if t.status == TenantStatus::Suspended && t.version == 4),
            "{suspended:?}"
        );
        let Step::Replace(t) = suspended else {
            unreachable!()
        };
        assert_eq!(
            plan_edit(Edit::Suspend, &account, Some(&t), &none),
            Step::Nothing(Outcome::Unchanged { note: None })
        );
        assert!(matches!(
            plan_edit(Edit::Resume, &account, Some(&t), &none),
            Step::Replace(r) if r.status == TenantStatus::Active
        ));
        assert!(matches!(
            plan_edit(Edit::Remove, &account, Some(&acme(4)), &none),
            Step::Remove(r) if r.version == 4
        ));
        for edit in [Edit::Suspend, Edit::Remove] {
            assert_eq!(
                plan_edit(edit, &account, None, &none),
                Step::Nothing(Outcome::NotATenant)
            );
        }
        assert!(matches!(
            plan_edit(Edit::Resume, &account, None, &none),
            Step::Nothing(Outcome::Refused { .. })
        ));
    }

    #[test]
    fn differences_ignore_who_when_and_version() {
        let a = acme(1);
        let b = Tenant {
            updated_by: Some("x".into()),
            updated_at: Some(5),
            version: 9,
            notes: Some(String::new()),
            ..acme(1)
        };
        assert!(differences(&a, &b).is_empty());
        let c = Tenant {
            status: TenantStatus::Suspended,
            expires_at: Some(1),
            ..acme(1)
        };
        assert_eq!(differences(&a, &c), ["status", "expires_at"]);
    }

    /// Real SDK clients answered by `rules` (a call without a rule fails).
    macro_rules! mocked {
        ($sdk:ident, $rules:expr) => {{
            let interceptor = $rules.iter().fold(
                MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
                |i, r: &&Rule| i.with_rule(r),
            );
            let config = $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .region($sdk::config::Region::new("us-east-1"))
                .credentials_provider($sdk::config::Credentials::new(
                    "AKID", "SECRET", None, None, "test",
                ))
                .http_client(create_mock_http_client())
                .interceptor(interceptor)
                .retry_config($sdk::config::retry::RetryConfig::disabled())
                .build();
            $sdk::Client::from_conf(config)
        }};
    }

    /// Someone else suspends the tenant between this command's read and its
    /// write: the write is refused, the account reported as a conflict to
    /// run again, and nothing follows (no principal or connection call).
    #[tokio::test]
    async fn an_edit_that_loses_the_race_is_a_conflict_and_nothing_follows() {
        let stack = StackName::parse("ops").expect("valid");
        let target = Target {
            service_id: "vpce-svc-0123456789abcdef0".into(),
            function: Some(stack.function()),
            stack: Some(stack.clone()),
        };
        let env = HashMap::from([
            ("APPROVER_SERVICE_ID".to_string(), target.service_id.clone()),
            ("APPROVER_TABLE".to_string(), stack.tenants_table()),
            ("APPROVER_REVOKE".to_string(), "true".to_string()),
        ]);
        let function = mock!(aws_sdk_lambda::Client::get_function).then_output(move || {
            GetFunctionOutput::builder()
                .configuration(
                    FunctionConfiguration::builder()
                        .environment(
                            EnvironmentResponse::builder()
                                .set_variables(Some(env.clone()))
                                .build(),
                        )
                        .build(),
                )
                .tags(crate::naming::STACK_TAG, "ops")
                .build()
        });
        let table = stack.tenants_table();
        let read = mock!(aws_sdk_dynamodb::Client::batch_get_item).then_output(move || {
            BatchGetItemOutput::builder()
                .responses(
                    table.clone(),
                    vec![privatelink_registry::item::to_item(&acme(3))],
                )
                .build()
        });
        let lost = mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| {
            PutItemError::generic(
                ErrorMetadata::builder()
                    .code("ConditionalCheckFailedException")
                    .message("The conditional request failed")
                    .build(),
            )
        });
        let lambda = mocked!(aws_sdk_lambda, [&function]);
        let dynamodb = mocked!(aws_sdk_dynamodb, [&read, &lost]);
        let ec2 = mocked!(aws_sdk_ec2, Vec::<&Rule>::new());
        let registry = Registry::new(dynamodb, stack.tenants_table());
        let ctx = Context {
            ec2: &ec2,
            lambda: &lambda,
            registry: &registry,
            target: &target,
            region: Some("us-east-1"),
            by: "arn:aws:iam::123456789012:user/ops",
        };
        let report = edit(
            &ctx,
            Edit::Suspend,
            &[id("111111111111")],
            &Fields::default(),
        )
        .await
        .expect("a conflict is a result, not an error");
        assert_eq!(lost.num_calls(), 1);
        let [result] = report.accounts.as_slice() else {
            panic!("one account: {report:?}");
        };
        let Outcome::Conflict { detail } = &result.outcome else {
            panic!("a conflict: {result:?}");
        };
        assert!(
            detail.contains("by someone else since it was read"),
            "{detail}"
        );
        assert!(detail.contains("read at version 3"), "{detail}");
        assert!(detail.contains("run the command again"), "{detail}");
        assert_eq!(report.conflicts().len(), 1);
        // Nothing followed: no EC2 call was made (each would have failed).
        assert!(report.followed.problems.is_empty(), "{:?}", report.followed);
        assert!(report.followed.decisions.is_empty());
    }
}

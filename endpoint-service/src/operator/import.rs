//! `tenants import FILE`: many tenants at once from CSV or JSON
//! (`privatelink_registry::transfer` reads them, every problem at once).
//!
//! The registry is read for exactly the file's accounts (`BatchGetItem`,
//! 100 a call), the difference planned purely ([`plan`]): new accounts are
//! created, rows equal to their tenant are left alone, and a row that
//! differs from an existing tenant is updated with `--update`, otherwise
//! reported and skipped. The writes go in transactions of up to 100, each
//! write conditional (absent for a create, the version read for an update),
//! so a tenant changed by someone else meanwhile stops the import instead
//! of being overwritten. Running the same import again writes nothing.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use privatelink_registry::{RegistryError, Write, TRANSACT_LIMIT};

use super::error::OperatorError;
use super::follow::{self, Approver, Changed, Followed};
use super::tenants::{differences, Context};
use crate::approval::{AccountId, Tenant};

/// The file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    /// By the file's extension (`.csv`, `.json`, any case).
    pub fn of(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// Reads tenants, or every problem of the text.
    pub fn parse(self, text: &str) -> Result<Vec<Tenant>, Vec<String>> {
        match self {
            Format::Csv => privatelink_registry::transfer::parse_csv(text),
            Format::Json => privatelink_registry::transfer::parse_json(text),
        }
    }

    /// Writes tenants.
    pub fn write(self, tenants: &[Tenant]) -> String {
        match self {
            Format::Csv => privatelink_registry::transfer::to_csv(tenants),
            Format::Json => privatelink_registry::transfer::to_json(tenants),
        }
    }
}

/// A row that differs from its tenant, skipped without `--update`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub account: AccountId,
    pub fields: Vec<&'static str>,
}

/// What an import will write (pure).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportPlan {
    pub creates: Vec<Tenant>,
    /// Changed tenants, each with the version it was read at.
    pub updates: Vec<Tenant>,
    pub unchanged: Vec<AccountId>,
    pub skipped: Vec<Skipped>,
}

/// Plans the import of `rows` against the tenants read (`existing`).
pub fn diff(rows: &[Tenant], existing: &[Tenant], update: bool) -> ImportPlan {
    let existing: HashMap<&AccountId, &Tenant> =
        existing.iter().map(|t| (&t.account_id, t)).collect();
    let mut result = ImportPlan::default();
    for row in rows {
        match existing.get(&row.account_id) {
            None => result.creates.push(Tenant {
                version: 0,
                updated_by: None,
                updated_at: None,
                ..row.clone()
            }),
            Some(current) => {
                let fields = differences(current, row);
                if fields.is_empty() {
                    result.unchanged.push(row.account_id.clone());
                } else if update {
                    result.updates.push(Tenant {
                        version: current.version,
                        updated_by: current.updated_by.clone(),
                        updated_at: current.updated_at,
                        ..row.clone()
                    });
                } else {
                    result.skipped.push(Skipped {
                        account: row.account_id.clone(),
                        fields,
                    });
                }
            }
        }
    }
    result
}

/// True when the change can alter a decision (not only the name or notes).
fn entitlement_changed(before: Option<&Tenant>, after: &Tenant) -> bool {
    before.is_none_or(|b| {
        b.status != after.status
            || b.expires_at != after.expires_at
            || b.max_endpoints != after.max_endpoints
            || b.allowed_regions != after.allowed_regions
    })
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub table: String,
    pub file: String,
    pub by: String,
    pub rows: usize,
    pub created: Vec<AccountId>,
    pub updated: Vec<AccountId>,
    pub unchanged: usize,
    pub skipped: Vec<Skipped>,
    /// Tenants written (created + updated).
    pub written: usize,
    /// `TransactWriteItems` calls.
    pub write_calls: u32,
    /// The write that lost to someone else's, stopping the import.
    pub conflict: Option<String>,
    pub followed: Followed,
}

/// Imports `rows` (read from `file`).
pub async fn import(
    ctx: &Context<'_>,
    file: &str,
    rows: &[Tenant],
    update: bool,
) -> Result<ImportReport, OperatorError> {
    let approver = Approver::load(ctx.lambda, ctx.target, ctx.registry.table()).await?;
    let accounts: Vec<String> = rows.iter().map(|t| t.account_id.to_string()).collect();
    let (existing, _) = ctx.registry.get_many(&accounts).await?;
    let planned = diff(rows, &existing, update);
    let before: HashMap<&AccountId, &Tenant> =
        existing.iter().map(|t| (&t.account_id, t)).collect();

    let writes: Vec<Write> = planned
        .creates
        .iter()
        .cloned()
        .map(Write::Create)
        .chain(planned.updates.iter().cloned().map(Write::Replace))
        .collect();
    let mut written: Vec<&Tenant> = Vec::new();
    let mut write_calls = 0;
    let mut conflict = None;
    for chunk in writes.chunks(TRANSACT_LIMIT) {
        match ctx.registry.write_all(chunk, ctx.by).await {
            Ok(calls) => {
                write_calls += calls;
                written.extend(chunk.iter().map(|w| match w {
                    Write::Create(t) | Write::Replace(t) => t,
                }));
            }
            Err(RegistryError::Conflict { account, detail }) => {
                write_calls += 1;
                conflict = Some(format!(
                    "tenant {account} {detail}: this batch of up to {TRANSACT_LIMIT} was not \
                     written; run the import again (what is written already stays as it is)"
                ));
                break;
            }
            Err(other) => return Err(other.into()),
        }
    }

    // Every row's principal follows its tenant as stored now; only the
    // tenants written with another entitlement are decided again.
    let is_written = |a: &AccountId| written.iter().any(|t| t.account_id == *a);
    let changed: Vec<Changed> = rows
        .iter()
        .map(|row| Changed {
            account: row.account_id.clone(),
            now: if is_written(&row.account_id) {
                Some(row.clone())
            } else {
                before.get(&row.account_id).map(|t| (*t).clone())
            },
        })
        .collect();
    let reconcile_for: Vec<AccountId> = written
        .iter()
        .filter(|t| entitlement_changed(before.get(&t.account_id).copied(), t))
        .map(|t| t.account_id.clone())
        .collect();
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

    let created: Vec<AccountId> = written
        .iter()
        .filter(|t| !before.contains_key(&t.account_id))
        .map(|t| t.account_id.clone())
        .collect();
    let updated: Vec<AccountId> = written
        .iter()
        .filter(|t| before.contains_key(&t.account_id))
        .map(|t| t.account_id.clone())
        .collect();
    Ok(ImportReport {
        table: ctx.registry.table().to_string(),
        file: file.to_string(),
        by: ctx.by.to_string(),
        rows: rows.len(),
        written: written.len(),
        created,
        updated,
        unchanged: planned.unchanged.len(),
        skipped: planned.skipped,
        write_calls,
        conflict,
        followed,
    })
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} row(s): {} created, {} updated, {} unchanged, {} skipped; {} written in {} transaction(s)",
            self.file,
            self.rows,
            self.created.len(),
            self.updated.len(),
            self.unchanged,
            self.skipped.len(),
            self.written,
            self.write_calls
        )?;
        for s in &self.skipped {
            writeln!(
                f,
                "  skipped {}: differs from the registry in {} (pass --update to write it)",
                s.account,
                s.fields.join(", ")
            )?;
        }
        if let Some(conflict) = &self.conflict {
            writeln!(f, "  stopped: {conflict}")?;
        }
        write!(f, "{}", self.followed)?;
        write!(f, "registry {} (as {})", self.table, self.by)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::TenantStatus;

    fn tenant(id: &str, name: &str, status: TenantStatus, version: u64) -> Tenant {
        Tenant {
            status,
            version,
            ..Tenant::active(AccountId::parse(id).expect("valid"), name)
        }
    }

    #[test]
    fn new_rows_are_created_equal_rows_left_and_changed_rows_need_update() {
        let existing = [
            Tenant {
                updated_by: Some("arn:aws:iam::1:user/a".into()),
                ..tenant("111111111111", "Acme", TenantStatus::Active, 3)
            },
            tenant("222222222222", "Globex", TenantStatus::Active, 1),
        ];
        let rows = [
            tenant("111111111111", "Acme", TenantStatus::Active, 0),
            tenant("222222222222", "Globex", TenantStatus::Suspended, 0),
            tenant("333333333333", "Initech", TenantStatus::Active, 0),
        ];
        let without = diff(&rows, &existing, false);
        let created: Vec<&str> = without
            .creates
            .iter()
            .map(|t| t.account_id.as_str())
            .collect();
        assert_eq!(created, ["333333333333"]);
        assert!(without.updates.is_empty());
        assert_eq!(without.unchanged.len(), 1);
        assert_eq!(without.skipped[0].fields, ["status"]);

        let with = diff(&rows, &existing, true);
        assert!(with.skipped.is_empty());
        // An update is conditional on the version read.
        assert_eq!(with.updates[0].version, 1);
        assert_eq!(with.updates[0].status, TenantStatus::Suspended);

        // Everything imported: a second run writes nothing.
        let after = [
            existing[0].clone(),
            tenant("222222222222", "Globex", TenantStatus::Suspended, 2),
            tenant("333333333333", "Initech", TenantStatus::Active, 1),
        ];
        let again = diff(&rows, &after, true);
        assert!(again.creates.is_empty() && again.updates.is_empty());
        assert_eq!(again.unchanged.len(), 3);
    }

    #[test]
    fn only_entitlement_changes_are_decided_again() {
        let a = tenant("111111111111", "Acme", TenantStatus::Active, 1);
        let renamed = Tenant {
            name: "Acme Corp".into(),
            ..a.clone()
        };
        assert!(!entitlement_changed(Some(&a), &renamed));
        let quota = Tenant {
            max_endpoints: Some(1),
            ..a.clone()
        };
        assert!(entitlement_changed(Some(&a), &quota));
        assert!(entitlement_changed(None, &a));
    }

    #[test]
    fn formats_follow_the_extension() {
        assert_eq!(Format::of(Path::new("t.CSV")), Some(Format::Csv));
        assert_eq!(Format::of(Path::new("dir/t.json")), Some(Format::Json));
        assert_eq!(Format::of(Path::new("tenants")), None);
        assert_eq!(Format::of(Path::new("t.txt")), None);
    }
}

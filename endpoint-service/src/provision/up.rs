//! `plan` and `up` end to end: read the package, observe, plan, and (for
//! `up`) apply; the reports both commands print.

use std::fmt;
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::apply::{apply, ApplyError};
use super::calls::CallSummary;
use super::observe::{observe, observe_tenants, observe_verification};
use super::plan::{plan, Plan, Step};
use super::spec::StackSpec;
use super::{Clients, ProvisionError};
use privatelink_core::cli::progress::Progress;

/// The approver package and its hash as Lambda reports it (`CodeSha256`:
/// base64 of the SHA-256 of the zip).
pub fn read_package(spec: &StackSpec) -> Result<(Vec<u8>, String), ProvisionError> {
    let bytes = std::fs::read(&spec.approver.package).map_err(|error| ProvisionError::Package {
        path: spec.approver.package.display().to_string(),
        error,
    })?;
    let digest = Sha256::digest(&bytes);
    let sha = aws_smithy_types::base64::encode(&digest[..]);
    Ok((bytes, sha))
}

/// What `plan` found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlanReport {
    #[serde(flatten)]
    pub plan: Plan,
    pub calls: CallSummary,
}

impl fmt::Display for PlanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.plan)?;
        write!(
            f,
            "\n\n{} AWS calls ({} mutating)",
            self.calls.total, self.calls.mutating
        )
    }
}

/// Observes and plans without changing anything.
pub async fn preview(clients: &Clients, spec: &StackSpec) -> Result<PlanReport, ProvisionError> {
    let (_, sha) = read_package(spec)?;
    let mut observed = observe(clients, &spec.name, Some(&spec.network)).await?;
    observe_verification(clients, &mut observed).await?;
    observe_tenants(clients, &mut observed).await?;
    let plan = plan(spec, &observed, &sha)?;
    Ok(PlanReport {
        plan,
        calls: clients.calls.summary(),
    })
}

/// What `up` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UpReport {
    pub stack: String,
    pub region: String,
    pub account: String,
    pub changes: Vec<Step>,
    pub service_id: Option<String>,
    /// The name consumers connect to.
    pub service_name: Option<String>,
    pub seconds: f64,
    pub calls: CallSummary,
}

impl fmt::Display for UpReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() {
            writeln!(f, "stack {} is up to date: nothing changed", self.stack)?;
        } else {
            writeln!(
                f,
                "stack {} is up: {} change(s) made",
                self.stack,
                self.changes.len()
            )?;
        }
        if let Some(name) = &self.service_name {
            writeln!(f, "service name (give this to consumers): {name}")?;
        }
        write!(
            f,
            "{} AWS calls ({} mutating) in {:.1}s, account {}, {}",
            self.calls.total, self.calls.mutating, self.seconds, self.account, self.region
        )
    }
}

/// Why `up` failed.
#[derive(Debug, thiserror::Error)]
pub enum UpError {
    /// Before any change: observing or planning failed, or a refusal.
    #[error(transparent)]
    Before(#[from] ProvisionError),
    /// A step failed; earlier steps are kept.
    #[error(transparent)]
    Apply(#[from] ApplyError),
}

/// Converges the account to the spec.
pub async fn up(
    clients: &Clients,
    spec: &StackSpec,
    progress: &Progress,
) -> Result<UpReport, UpError> {
    let started = Instant::now();
    let (zip, sha) = read_package(spec)?;
    let mut observed = observe(clients, &spec.name, Some(&spec.network)).await?;
    observe_verification(clients, &mut observed).await?;
    observe_tenants(clients, &mut observed).await?;
    let plan = plan(spec, &observed, &sha)?;
    if plan.is_empty() {
        progress.note(&format!("stack {}: up to date", spec.name));
    }
    apply(clients, spec, &mut observed, &plan, &zip, progress).await?;
    Ok(UpReport {
        stack: spec.name.to_string(),
        region: observed.region.clone(),
        account: observed.account.clone(),
        changes: plan.steps,
        service_id: observed.service.as_ref().map(|s| s.id.clone()),
        service_name: observed.service.as_ref().map(|s| s.name.clone()),
        seconds: started.elapsed().as_secs_f64(),
        calls: clients.calls.summary(),
    })
}

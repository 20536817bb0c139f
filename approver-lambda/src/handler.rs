//! The adapter from one Lambda invocation to the shared reconcile of
//! `privatelink_core::approval`: it reads the event, logs what arrived,
//! runs one reconcile against the tenant registry, and turns the result
//! into the Lambda's answer. No decision is made here.
//!
//! Error policy: `Err` (so Lambda retries the event) only for transient AWS
//! failures (EC2's or the registry's) and for invalid configuration (see
//! [`handle`]); every permanent problem (an unknown service or table, a
//! role that may not read them) is logged with what to fix and the
//! invocation succeeds.

use aws_sdk_ec2::Client;
use lambda_runtime::Diagnostic;
use privatelink_core::approval::{
    reconcile, ApproverConfig, ConfigError, ReconcileError, Scope, TenantSource, Trigger,
};
use serde_json::Value;

use crate::event::{parse_event, truncate, Invocation, Notification};

/// Logged messages and events are cut to this many bytes (CloudWatch takes
/// 256 KiB per event; a notification is tiny, anything longer is noise).
const MAX_LOGGED: usize = 32 * 1024;

/// What the handler works with: the EC2 client, and the configuration as
/// it was read at start-up with the tenant registry it names, or why the
/// configuration is unusable. `R` is the registry's reader:
/// `privatelink_registry::Registry` in the function, an in-memory
/// [`TenantSource`] in tests.
#[derive(Debug, Clone)]
pub struct Approver<R> {
    pub ec2: Client,
    pub setup: Result<Ready<R>, ConfigError>,
}

/// A valid configuration and the registry it names.
#[derive(Debug, Clone)]
pub struct Ready<R> {
    pub config: ApproverConfig,
    pub registry: R,
}

impl<R> Approver<R> {
    /// The approver for `config`; `registry` opens the table a valid
    /// configuration names (an invalid one names none, and the handler then
    /// reads nothing).
    pub fn new(
        ec2: Client,
        config: Result<ApproverConfig, ConfigError>,
        registry: impl FnOnce(&ApproverConfig) -> R,
    ) -> Approver<R> {
        Approver {
            ec2,
            setup: config.map(|config| Ready {
                registry: registry(&config),
                config,
            }),
        }
    }

    /// The configuration, when valid.
    pub fn config(&self) -> Option<&ApproverConfig> {
        self.setup.as_ref().ok().map(|ready| &ready.config)
    }
}

/// Why an invocation asks to be retried.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// A transient AWS failure stopped the reconcile.
    #[error(transparent)]
    Transient(ReconcileError),
    /// The reconcile finished but some Accept/Reject items failed with a
    /// transient code (e.g. throttling reported in `Unsuccessful`).
    #[error("{count} decision(s) on {service_id} failed transiently (first: {first}); retrying")]
    TransientItems {
        service_id: String,
        count: usize,
        first: String,
    },
    /// The configuration is invalid; nothing was accepted.
    #[error(transparent)]
    Configuration(ConfigError),
}

impl HandlerError {
    /// The stable `errorType` Lambda reports.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Transient(e) => e.error_type(),
            HandlerError::TransientItems { .. } => "Approver.TransientItemFailures",
            HandlerError::Configuration(_) => "Approver.InvalidConfiguration",
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Diagnostic {
        Diagnostic {
            error_type: error.error_type().to_string(),
            error_message: error.to_string(),
        }
    }
}

/// The invocation's answer (ignored by SNS and EventBridge; useful when
/// invoked by hand and in tests).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Response {
    /// `reconciled`, `ignored` or `permanent_error`.
    pub status: &'static str,
    pub trigger: Option<Trigger>,
    pub accepted: usize,
    pub rejected: usize,
    pub failed: usize,
    /// Why nothing was done, or the permanent error.
    pub detail: Option<String>,
}

impl Response {
    fn ignored(detail: String) -> Self {
        Response {
            status: "ignored",
            trigger: None,
            accepted: 0,
            rejected: 0,
            failed: 0,
            detail: Some(detail),
        }
    }
}

/// Handles one invocation: logs what arrived, then runs one reconcile for
/// a trigger (an SNS event with records, the schedule) and ignores the rest.
///
/// With an invalid configuration every invocation logs the configuration
/// error, accepts nothing and returns `Err`. `Err` rather than `Ok` because
/// the function is broken until an operator fixes it, and that must show in
/// the `Errors` metric and alarms; a retried event is harmless (it will
/// again accept nothing), and after the fix a retried event and the next
/// sweep do the pending work.
pub async fn handle<R: TenantSource>(
    approver: &Approver<R>,
    event: Value,
) -> Result<Response, HandlerError> {
    let invocation = parse_event(&event);
    let service_id = approver.config().map(|c| c.service_id.as_str());
    if let Invocation::Sns(notifications) = &invocation {
        // Logged first, whatever happens next: the body is undocumented and
        // this is how its real format gets captured.
        for n in notifications {
            log_notification(n, service_id);
        }
    }
    let Ready { config, registry } = match &approver.setup {
        Ok(ready) => ready,
        Err(error) => {
            tracing::error!(
                error = %error,
                "invalid configuration: nothing is accepted until it is fixed"
            );
            return Err(HandlerError::Configuration(error.clone()));
        }
    };
    let (trigger, hint) = match &invocation {
        Invocation::Unrecognized { reason } => {
            let raw = event.to_string();
            let (raw, truncated) = truncate(&raw, MAX_LOGGED);
            tracing::warn!(reason, event = raw, truncated, "event ignored");
            return Ok(Response::ignored(format!("not a trigger: {reason}")));
        }
        Invocation::Sns(notifications) if notifications.is_empty() => {
            tracing::info!("SNS event with no records; nothing to do");
            return Ok(Response::ignored("SNS event with no records".into()));
        }
        Invocation::Sns(notifications) => {
            let mut ids: Vec<String> = Vec::new();
            for n in notifications {
                if !ids.contains(&n.message_id) {
                    ids.push(n.message_id.clone());
                }
            }
            if ids.len() < notifications.len() {
                tracing::info!(
                    records = notifications.len(),
                    distinct = ids.len(),
                    "duplicate deliveries in one event; one reconcile serves them all"
                );
            }
            let hints: Vec<&str> = notifications
                .iter()
                .flat_map(|n| n.endpoint_ids.iter().map(String::as_str))
                .collect();
            if hints.len() > 1 {
                tracing::info!(hints = ?hints, "notifications name several endpoints; the first is the hint");
            }
            (Trigger::Sns(ids), hints.first().map(|h| h.to_string()))
        }
        Invocation::Sweep { event_id } => {
            tracing::info!(event_id = event_id.as_deref(), "scheduled sweep");
            (Trigger::Sweep, None)
        }
    };

    // A notification asks for the requests waiting (its own among them); a
    // sweep looks at every connection only when it may revoke.
    let scope = Scope::for_trigger(&trigger, config);
    let run = reconcile(
        &approver.ec2,
        registry,
        config,
        trigger.clone(),
        hint.as_deref(),
        scope,
    );
    match run.await {
        Ok(report) => {
            let failed = report.failed();
            if report.has_transient_failures() {
                let first = failed
                    .first()
                    .map(|r| format!("{} {:?}", r.endpoint_id, r.outcome))
                    .unwrap_or_default();
                return Err(HandlerError::TransientItems {
                    service_id: report.service_id.clone(),
                    count: failed.len(),
                    first,
                });
            }
            if !failed.is_empty() {
                tracing::warn!(
                    failed = failed.len(),
                    "some decisions failed permanently (see their records); the next run decides again"
                );
            }
            Ok(Response {
                status: "reconciled",
                accepted: report.accepted().len(),
                rejected: report.rejected().len(),
                failed: failed.len(),
                trigger: Some(trigger),
                detail: None,
            })
        }
        Err(error) if error.is_transient() => {
            tracing::warn!(error = %error, "transient failure; asking Lambda to retry");
            Err(HandlerError::Transient(error))
        }
        Err(error) => {
            // The message says what to fix (the table or service to check,
            // the permission to grant); `table` is set for the registry's.
            let table = match &error {
                ReconcileError::Registry { table, .. } => Some(table.as_str()),
                _ => None,
            };
            tracing::error!(
                error = %error,
                error_type = error.error_type(),
                aws_code = error.aws_error().code.as_deref(),
                aws_operation = error.aws_error().operation,
                table,
                "permanent failure; retrying would not help, so the invocation succeeds"
            );
            Ok(Response {
                status: "permanent_error",
                trigger: Some(trigger),
                accepted: 0,
                rejected: 0,
                failed: 0,
                detail: Some(error.to_string()),
            })
        }
    }
}

/// Logs one notification raw (its body is undocumented: this is how its
/// real format gets captured) with what was found in it.
fn log_notification(n: &Notification, service_id: Option<&str>) {
    let (message, truncated) = truncate(&n.message, MAX_LOGGED);
    tracing::info!(
        message_id = %n.message_id,
        topic_arn = n.topic_arn.as_deref(),
        subject = n.subject.as_deref(),
        sns_message = message,
        truncated,
        is_json = n.is_json,
        endpoint_ids = ?n.endpoint_ids,
        service_ids = ?n.service_ids,
        "notification received"
    );
    if !n.is_json {
        tracing::warn!(
            message_id = %n.message_id,
            "notification body is not JSON; used only as a trigger"
        );
    }
    if let Some(ours) = service_id {
        let others: Vec<&str> = n
            .service_ids
            .iter()
            .map(String::as_str)
            .filter(|s| *s != ours)
            .collect();
        if !others.is_empty() && !n.service_ids.iter().any(|s| s == ours) {
            tracing::warn!(
                message_id = %n.message_id,
                named = ?others,
                configured = ours,
                "notification names another endpoint service; still only a trigger for ours"
            );
        }
    }
}

//! The approver: which PrivateLink connection requests to accept, reject or
//! leave, and the reconcile that applies those decisions. Shared by the
//! approver Lambda (SNS notifications and the scheduled sweep) and the
//! provider CLI (manual override, local sweep): no decision rule lives
//! anywhere else.
//!
//! Pure parts: [`allowlist`] (account ids), [`config`] (the environment
//! contract, failing closed), [`decide`] (the rule), [`record`] (the audit
//! records and the run's report). The AWS adapters are [`reconcile`] and
//! [`history`] (the last decision, kept as tags on the connection); error
//! classification is in [`crate::errors`].

pub mod allowlist;
pub mod config;
pub mod decide;
pub mod history;
pub mod reconcile;
pub mod record;
pub mod tenant;

pub use allowlist::{AccountId, Allowlist, AllowlistError};
pub use config::{ApproverConfig, ConfigError, ConfigProblem, NonAllowlistedPolicy};
pub use decide::{decide, decide_all, Connection, Decision, Planned, Reason};
pub use history::LastDecision;
pub use reconcile::{
    list_connections, list_connections_detailed, list_filtered, reconcile, Listed, ReconcileError,
    Scope,
};
pub use record::{DecisionRecord, Hint, Outcome, Report, Trigger};
pub use tenant::{
    is_region_name, parse_regions, Standing, StaticTenants, Tenant, TenantSource, TenantStatus,
    Tenants,
};

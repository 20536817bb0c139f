//! Provisioning, status and teardown of a provider stack (feature
//! `provision`): spec → observe → plan → apply, re-runnable, with no local
//! state file.
//!
//! - [`spec`]: the TOML configuration, validated before any AWS call;
//! - [`observe`]: read-only discovery of what the stack owns, by the
//!   ownership tag or deterministic name plus tag check (public `find_*`
//!   functions for other commands, e.g. the operator's);
//! - [`plan`]: the pure diff of spec and observation into ordered steps;
//! - [`apply`]: runs the steps through one adapter module per resource in
//!   [`resources`];
//! - [`policy`]: every IAM/resource policy document, one source for `up`
//!   and `iam-policy`;
//! - [`status`] and [`down`]: what consumers and operators need to see, and
//!   the safe teardown;
//! - [`calls`]: counting the AWS calls a command makes.

pub mod apply;
pub mod calls;
pub mod down;
pub mod observe;
pub mod plan;
pub mod policy;
pub mod resources;
pub mod spec;
pub mod status;
pub mod up;

use aws_config::SdkConfig;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::errors::{AwsError, ErrorKind};
pub use calls::{CallLog, CallSummary};
pub use observe::Observed;
pub use plan::{Plan, Step};
pub use spec::StackSpec;

/// One client per service the provider stack touches, all counting their
/// calls into the same [`CallLog`].
#[derive(Debug, Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub sns: aws_sdk_sns::Client,
    pub iam: aws_sdk_iam::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub sts: aws_sdk_sts::Client,
    pub route53: aws_sdk_route53::Client,
    /// The tenant registry's table and its items, in the registry's region
    /// (the home region's, for a stack in several regions).
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// The region every client works in (but DynamoDB, with
    /// `registry_region`).
    pub region: String,
    /// The tenant registry's region when it is another region's (the home
    /// region's, for a stack in several regions): this region's stack reads
    /// the registry but never creates, changes or deletes its table.
    pub registry_region: Option<String>,
    pub calls: CallLog,
}

impl Clients {
    /// Clients built from one SDK configuration. Fails only when no region
    /// is configured.
    pub fn new(config: &SdkConfig) -> Result<Clients, ProvisionError> {
        Clients::with_registry_region(config, None)
    }

    /// [`Clients::new`], with the DynamoDB client in `registry_region` when
    /// the registry is another region's (the home region of a stack in
    /// several regions).
    pub fn with_registry_region(
        config: &SdkConfig,
        registry_region: Option<&str>,
    ) -> Result<Clients, ProvisionError> {
        let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
            ProvisionError::Input(
                "no AWS region: set region in the stack file, pass --region, or set AWS_REGION"
                    .into(),
            )
        })?;
        let calls = CallLog::default();
        macro_rules! client {
            ($sdk:ident) => {
                $sdk::Client::from_conf(
                    $sdk::config::Builder::from(config)
                        .interceptor(calls.interceptor())
                        .build(),
                )
            };
        }
        Ok(Clients {
            ec2: client!(aws_sdk_ec2),
            elbv2: client!(aws_sdk_elasticloadbalancingv2),
            sns: client!(aws_sdk_sns),
            iam: client!(aws_sdk_iam),
            lambda: client!(aws_sdk_lambda),
            events: client!(aws_sdk_eventbridge),
            sts: client!(aws_sdk_sts),
            route53: client!(aws_sdk_route53),
            dynamodb: match registry_region {
                Some(region) => aws_sdk_dynamodb::Client::from_conf(
                    aws_sdk_dynamodb::config::Builder::from(config)
                        .region(aws_sdk_dynamodb::config::Region::new(region.to_string()))
                        .interceptor(calls.interceptor())
                        .build(),
                ),
                None => client!(aws_sdk_dynamodb),
            },
            region,
            registry_region: registry_region.map(str::to_string),
            calls,
        })
    }
}

/// Why a provisioning command failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// An AWS call failed; `resource` says on what.
    // The AWS error is part of the message, not a `source`, so that
    // `{:#}` chains do not print it twice.
    #[error("{resource}: {error}")]
    Aws { resource: String, error: AwsError },
    /// A wait ran out of time (distinct from an API error).
    #[error("timed out after {waited_seconds}s waiting for {what} (last seen: {last_seen})")]
    Timeout {
        what: String,
        waited_seconds: u64,
        last_seen: String,
    },
    /// The account is not in a state the command can safely act on (a name
    /// taken by a resource the stack does not own, partial AZ coverage, an
    /// immutable setting changed).
    #[error("{0}")]
    Refused(String),
    /// Bad input found while running (e.g. an unknown VPC id).
    #[error("{0}")]
    Input(String),
    /// AWS answered without a field it always sends.
    #[error("{operation} returned no {field}")]
    Missing {
        operation: &'static str,
        field: &'static str,
    },
    /// A request could not be built (a required field was missing).
    #[error("building a request: {0}")]
    Request(String),
    /// The approver package could not be read.
    #[error("reading the approver package {path}: {error}")]
    Package { path: String, error: std::io::Error },
}

impl ProvisionError {
    /// The AWS error behind this one, if any.
    pub fn aws(&self) -> Option<&AwsError> {
        match self {
            ProvisionError::Aws { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Error codes that mean "no such resource" across the services used here.
const MISSING_CODES: &[&str] = &[
    "NoSuchEntity",
    "ResourceNotFoundException",
    "NotFound",
    "LoadBalancerNotFound",
    "TargetGroupNotFound",
    "ListenerNotFound",
    "InvalidVpcID.NotFound",
    "InvalidSubnetID.NotFound",
    "InvalidVpcEndpointServiceId.NotFound",
    "InvalidVpcEndpointService.NotFound",
    "InvalidConnectionNotification",
];

/// Maps a registry error (its items) to ours, naming the table.
pub(crate) fn registry_err(error: privatelink_registry::RegistryError) -> ProvisionError {
    use privatelink_registry::RegistryError;
    match error {
        RegistryError::Aws { table, error } => ProvisionError::Aws {
            resource: format!("tenant registry {table}"),
            error,
        },
        other => ProvisionError::Refused(other.to_string()),
    }
}

/// True when the error says the resource does not exist.
pub fn is_missing(error: &AwsError) -> bool {
    error.kind == ErrorKind::NotFound
        || error
            .code
            .as_deref()
            .is_some_and(|code| MISSING_CODES.contains(&code))
}

/// Maps an SDK error to a [`ProvisionError`] naming the operation and the
/// resource it was about.
pub(crate) fn aws_err<E>(
    operation: &'static str,
    resource: impl Into<String>,
) -> impl FnOnce(SdkError<E, HttpResponse>) -> ProvisionError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let resource = resource.into();
    move |err| ProvisionError::Aws {
        resource,
        error: AwsError::from_sdk(operation, &err),
    }
}

/// Unwraps an SDK builder result.
pub(crate) fn built<T>(
    result: Result<T, aws_smithy_types::error::operation::BuildError>,
) -> Result<T, ProvisionError> {
    result.map_err(|e| ProvisionError::Request(e.to_string()))
}

/// `Ok(None)` for a "not found" error, the error otherwise.
pub(crate) fn missing_as_none<T>(
    result: Result<T, ProvisionError>,
) -> Result<Option<T>, ProvisionError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ProvisionError::Aws { error, .. }) if is_missing(&error) => Ok(None),
        Err(other) => Err(other),
    }
}

/// `Ok(())` for a "not found" error: deleting what is gone is done.
pub(crate) fn gone_is_ok(result: Result<(), ProvisionError>) -> Result<(), ProvisionError> {
    missing_as_none(result).map(drop)
}

//! Why an operator command could not do its work: the AWS call that failed
//! (with the resource it was about), a registry write that lost to someone
//! else's, or a stack that cannot be found or is not configured the way the
//! operator commands need.

use privatelink_registry::RegistryError;

use crate::approval::{ConfigError, ReconcileError};
use crate::errors::AwsError;
use crate::provision::ProvisionError;

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// An AWS call failed.
    #[error("{source} ({resource})")]
    Aws {
        resource: String,
        #[source]
        source: Box<AwsError>,
    },
    /// Listing or deciding connections failed.
    #[error(transparent)]
    Reconcile(Box<ReconcileError>),
    /// The stack, service or function is not there.
    #[error("{0}")]
    NotFound(String),
    /// The service and function do not belong together, or one is not
    /// configured as the kit makes it.
    #[error("{0}")]
    Mismatch(String),
    /// The approver function's configuration is invalid.
    #[error("approver function {function}: {source}")]
    ApproverConfig {
        function: String,
        #[source]
        source: ConfigError,
    },
    /// The tenant registry could not be read or written.
    #[error(transparent)]
    Registry(Box<RegistryError>),
    /// A change the command refuses to make as asked (a tenant that exists
    /// with other fields, a file with problems): nothing was written.
    #[error("{0}")]
    Refused(String),
    /// A wait for AWS ran out of time.
    #[error("{0}")]
    TimedOut(String),
}

impl OperatorError {
    /// Wraps an SDK error of `operation` on `resource`.
    pub fn aws<E>(
        operation: &'static str,
        resource: impl Into<String>,
        error: &aws_sdk_ec2::error::SdkError<
            E,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    ) -> OperatorError
    where
        E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        OperatorError::Aws {
            resource: resource.into(),
            source: Box::new(AwsError::from_sdk(operation, error)),
        }
    }
}

/// An error of a shared resource adapter (the operator commands call the
/// same adapters as `up`), kept in the operator's terms: an AWS error stays
/// an AWS error with its resource, a timeout stays a timeout.
impl From<ProvisionError> for OperatorError {
    fn from(error: ProvisionError) -> Self {
        match error {
            ProvisionError::Aws { resource, error } => OperatorError::Aws {
                resource,
                source: Box::new(error),
            },
            timeout @ ProvisionError::Timeout { .. } => {
                OperatorError::TimedOut(timeout.to_string())
            }
            other => OperatorError::Mismatch(other.to_string()),
        }
    }
}

impl From<RegistryError> for OperatorError {
    fn from(error: RegistryError) -> Self {
        OperatorError::Registry(Box::new(error))
    }
}

impl From<ReconcileError> for OperatorError {
    fn from(error: ReconcileError) -> Self {
        OperatorError::Reconcile(Box::new(error))
    }
}

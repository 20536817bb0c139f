//! What can go wrong for a consumer, each with what to do about it. Every
//! message names the resource and the fix; [`crate::cli`] maps the variants
//! to exit codes.

use privatelink_core::errors::AwsError;

/// A failed consumer command.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// Bad input; nothing was sent to AWS.
    #[error("{0}")]
    Input(String),

    #[error(transparent)]
    Aws(#[from] AwsError),

    #[error(
        "the endpoint service {service_name} is not visible to account {account}: check the \
         name, the region, and ask the vendor to allow the principal arn:aws:iam::{account}:root"
    )]
    ServiceNotVisible {
        service_name: String,
        account: String,
    },

    #[error(
        "the endpoint service {service_name} in {service_region} cannot be reached from \
         {consumer_region} by account {account}. Ask the vendor to add {consumer_region} to the \
         service's supported Regions (aws ec2 modify-vpc-endpoint-service-configuration \
         --region {service_region} --service-id {service_id} --add-supported-regions \
         {consumer_region}) \
         and to allow the principal arn:aws:iam::{account}:root; or connect from a VPC in \
         {service_region}"
    )]
    ServiceNotInYourRegion {
        service_name: String,
        service_id: String,
        service_region: String,
        consumer_region: String,
        account: String,
    },

    #[error(
        "the endpoint service {service_name} is in {service_region}, not in {consumer_region}: \
         to connect your VPC in {consumer_region} across Regions, add --service-region \
         {service_region} (the vendor must support {consumer_region}); or use a VPC in \
         {service_region} with --region {service_region}"
    )]
    ServiceInAnotherRegion {
        service_name: String,
        service_region: String,
        consumer_region: String,
    },

    #[error("VPC {0} does not exist in this account and region: check --vpc and --region")]
    VpcNotFound(String),

    #[error(
        "VPC {vpc_id} has {missing} turned off; PrivateLink DNS needs both enableDnsSupport and \
         enableDnsHostnames. Re-run with --fix-vpc-dns, or run:\n{fix}"
    )]
    VpcDns {
        vpc_id: String,
        missing: String,
        fix: String,
    },

    #[error(
        "no subnet of VPC {vpc_id} is in an Availability Zone the service supports: the service \
         is in AZ IDs [{service_zones}], the VPC has subnets in [{vpc_zones}]. Create a subnet in \
         one of the service's AZ IDs (AZ IDs, not names: names differ between accounts)"
    )]
    NoMatchingSubnets {
        vpc_id: String,
        service_zones: String,
        vpc_zones: String,
    },

    #[error("{0}")]
    Subnets(String),

    #[error(
        "the vendor rejected the connection of endpoint {endpoint_id}. Ask the vendor to allow \
         your account, then clean up and retry:\n  {cleanup}"
    )]
    Rejected {
        endpoint_id: String,
        cleanup: String,
    },

    #[error("endpoint {endpoint_id} is {state}{reason}. Clean up and retry:\n  {cleanup}")]
    EndpointFailed {
        endpoint_id: String,
        state: String,
        reason: String,
        cleanup: String,
    },

    #[error(
        "timed out after {waited_secs}s waiting for endpoint {endpoint_id} to become available \
         (last seen: {last_seen}). The vendor has not accepted it yet: re-run the same command \
         to keep waiting (nothing is created twice), or clean up:\n  {cleanup}"
    )]
    WaitTimedOut {
        endpoint_id: String,
        waited_secs: u64,
        last_seen: String,
        cleanup: String,
    },

    #[error(
        "a private hosted zone {name} ({zone_id}) associated with VPC {vpc_id} already exists \
         and was not created by consumer-cli; it is left untouched. Use another --dns-name, or \
         add the record yourself: an ALIAS A record to {target}. The endpoint is in place; to \
         remove it instead:\n  {cleanup}"
    )]
    ForeignZone {
        name: String,
        zone_id: String,
        vpc_id: String,
        target: String,
        cleanup: String,
    },

    #[error(
        "security group {group_name} already exists in VPC {vpc_id} without consumer-cli's tags; \
         it is left untouched. Delete or rename it, then re-run"
    )]
    ForeignSecurityGroup { group_name: String, vpc_id: String },

    #[error(
        "nothing connected: no endpoint to {service_name} made by consumer-cli in VPC {vpc_id}. \
         Run connect first"
    )]
    NotConnected {
        service_name: String,
        vpc_id: String,
    },

    #[error("timed out after {waited_secs}s waiting for {what}; re-run the command to continue")]
    Timeout { what: String, waited_secs: u64 },

    /// The AWS answer lacked a field it always has.
    #[error("{operation} returned no {field}")]
    Missing {
        operation: &'static str,
        field: &'static str,
    },
}

impl ConsumerError {
    pub(crate) fn missing(operation: &'static str, field: &'static str) -> ConsumerError {
        ConsumerError::Missing { operation, field }
    }
}

/// Shorthand for SDK results: classify the error and name the operation.
pub(crate) trait SdkResultExt<T> {
    fn aws(self, operation: &'static str) -> Result<T, ConsumerError>;
}

impl<T, E> SdkResultExt<T>
    for Result<
        T,
        aws_sdk_ec2::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
    >
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    fn aws(self, operation: &'static str) -> Result<T, ConsumerError> {
        self.map_err(|e| ConsumerError::Aws(AwsError::from_sdk(operation, &e)))
    }
}

//! Customer side of PrivateLink-as-a-product: connect one VPC to a vendor's
//! endpoint service with consumer credentials only, prove that it works,
//! report on it and take it down again.
//!
//! Layout (pure logic apart from the thin AWS adapters):
//! - [`connection_key`]: what a connection is keyed on (service name + VPC), the
//!   ownership tags and tokens derived from it, input validation;
//! - [`preflight`]: pure checks before anything is created (subnet choice by
//!   AZ ID, VPC DNS attributes);
//! - [`vpc`], [`security_group`], [`endpoint`], [`dns`]: one adapter per AWS
//!   resource (`find_*` read-only, `ensure_*` idempotent, `delete_*` fine if
//!   already gone);
//! - [`verify`]: the doctor (HTTPS check with hyper + rustls, API checks);
//! - [`connect`], [`status`], [`disconnect`]: the commands' flows;
//! - [`iam_policy`]: the least-privilege IAM policy for these commands;
//! - [`report`]: their result types (human `Display` and `Serialize`);
//! - [`observe`]: finding a connection's resources again from its key;
//! - [`cli`]: clap arguments, dispatch and the exit-code policy.

pub mod cli;
pub mod connect;
pub mod connection_key;
pub mod disconnect;
pub mod dns;
pub mod endpoint;
pub mod error;
pub mod iam_policy;
pub mod observe;
pub mod preflight;
pub mod report;
pub mod security_group;
pub mod status;
pub mod time;
pub mod verify;
pub mod vpc;

pub use error::ConsumerError;

/// The AWS clients every command uses, built once from one `SdkConfig`.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub r53: aws_sdk_route53::Client,
    /// The region (needed to associate a VPC with a hosted zone).
    pub region: String,
}

impl Clients {
    pub fn new(config: &aws_config::SdkConfig) -> Result<Clients, ConsumerError> {
        let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
            ConsumerError::Input(
                "no AWS region: pass --region or set AWS_REGION (the VPC's region)".into(),
            )
        })?;
        Ok(Clients {
            ec2: aws_sdk_ec2::Client::new(config),
            r53: aws_sdk_route53::Client::new(config),
            region,
        })
    }
}

//! Which endpoint service and approver function a command works on, found
//! without any local state: by the stack's ownership tag
//! ([`naming::STACK_TAG`]) on the endpoint service, and by the function's
//! deterministic name ([`StackName::function`]) plus the same tag.
//!
//! `--service-id` works too: the service's own stack tag then names the
//! function. A service without the tag can still be listed and overridden,
//! but has no approver configuration to compare with.

use aws_sdk_ec2::types::Filter;

use super::error::OperatorError;
use crate::errors::ErrorKind;
use crate::naming::{self, StackName};

/// How the user named the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Stack(StackName),
    ServiceId(String),
}

/// The endpoint service and, when the stack is known, its approver function.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Target {
    pub service_id: String,
    pub stack: Option<StackName>,
    /// The approver function's name (`STACK-approver`), when the stack is
    /// known; whether it exists is checked where it is read.
    pub function: Option<String>,
}

impl Target {
    /// The approver function's name, or an error saying why there is none.
    pub fn function(&self) -> Result<&str, OperatorError> {
        self.function.as_deref().ok_or_else(|| {
            OperatorError::NotFound(format!(
                "endpoint service {} has no {} tag, so its approver function is unknown: \
                 use --stack NAME for a stack made by `endpoint-service up`",
                self.service_id,
                naming::STACK_TAG
            ))
        })
    }
}

/// Finds the target's endpoint service in the caller's account and region.
pub async fn resolve(
    ec2: &aws_sdk_ec2::Client,
    selector: &Selector,
) -> Result<Target, OperatorError> {
    match selector {
        Selector::Stack(stack) => {
            let ids = services_tagged(ec2, stack).await?;
            match ids.as_slice() {
                [] => Err(OperatorError::NotFound(format!(
                    "no endpoint service tagged {}={stack} in this account and region: \
                     check --stack and --region (or pass --service-id)",
                    naming::STACK_TAG
                ))),
                [one] => Ok(Target {
                    service_id: one.clone(),
                    stack: Some(stack.clone()),
                    function: Some(stack.function()),
                }),
                many => Err(OperatorError::Mismatch(format!(
                    "{} endpoint services are tagged {}={stack} ({}): pass --service-id to pick one",
                    many.len(),
                    naming::STACK_TAG,
                    many.join(", ")
                ))),
            }
        }
        Selector::ServiceId(service_id) => {
            let out = ec2
                .describe_vpc_endpoint_service_configurations()
                .service_ids(service_id)
                .send()
                .await
                .map_err(|e| {
                    let error = OperatorError::aws(
                        "DescribeVpcEndpointServiceConfigurations",
                        service_id.clone(),
                        &e,
                    );
                    match &error {
                        OperatorError::Aws { source, .. } if source.kind == ErrorKind::NotFound => {
                            not_found(service_id)
                        }
                        _ => error,
                    }
                })?;
            let config = out
                .service_configurations()
                .iter()
                .find(|c| c.service_id() == Some(service_id.as_str()))
                .ok_or_else(|| not_found(service_id))?;
            let stack = config
                .tags()
                .iter()
                .find(|t| t.key() == Some(naming::STACK_TAG))
                .and_then(|t| t.value())
                .and_then(|v| StackName::parse(v).ok());
            Ok(Target {
                service_id: service_id.clone(),
                function: stack.as_ref().map(StackName::function),
                stack,
            })
        }
    }
}

fn not_found(service_id: &str) -> OperatorError {
    OperatorError::NotFound(format!(
        "endpoint service {service_id} was not found in this account and region: \
         check --service-id and --region"
    ))
}

/// Ids of the endpoint services carrying the stack tag, all pages.
async fn services_tagged(
    ec2: &aws_sdk_ec2::Client,
    stack: &StackName,
) -> Result<Vec<String>, OperatorError> {
    let mut pages = ec2
        .describe_vpc_endpoint_service_configurations()
        .filters(
            Filter::builder()
                .name(format!("tag:{}", naming::STACK_TAG))
                .values(stack.as_str())
                .build(),
        )
        .into_paginator()
        .send();
    let mut ids = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            OperatorError::aws(
                "DescribeVpcEndpointServiceConfigurations",
                format!("stack {stack}"),
                &e,
            )
        })?;
        for config in page.service_configurations() {
            // Deleted services linger in listings for a while.
            let gone = config
                .service_state()
                .is_some_and(|s| s.as_str().eq_ignore_ascii_case("deleted"));
            if let (Some(id), false) = (config.service_id(), gone) {
                ids.push(id.to_string());
            }
        }
    }
    Ok(ids)
}

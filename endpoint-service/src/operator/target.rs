//! Which endpoint service and approver function a command works on, found
//! without any local state: by the stack's ownership tag
//! ([`naming::STACK_TAG`]) on the endpoint service, and by the function's
//! deterministic name ([`StackName::function`]) plus the same tag.
//!
//! `--service-id` works too: the service's own stack tag then names the
//! function. A service without the tag can still be listed and overridden,
//! but has no approver configuration to compare with.
//!
//! The tenant registry is the stack's table ([`StackName::tenants_table`]).
//!
//! [`ApproverFunction`] is the approver's configuration as the operator
//! commands see it, checked to belong to the target (tagged with the
//! stack, `APPROVER_SERVICE_ID` the target service). It is read through the
//! function's one adapter, [`crate::provision::resources::approver`], the
//! same `up` uses.

use std::collections::HashMap;

use aws_sdk_ec2::types::Filter;

use super::error::OperatorError;
use crate::approval::config::{ENV_SERVICE_ID, ENV_TABLE};
use crate::approval::ApproverConfig;
use crate::errors::ErrorKind;
use crate::naming::{self, StackName};
use crate::provision::resources::approver;

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

impl Target {
    /// The tenant registry's table, or an error saying why it is unknown.
    pub fn table(&self) -> Result<String, OperatorError> {
        self.stack
            .as_ref()
            .map(StackName::tenants_table)
            .ok_or_else(|| {
                OperatorError::NotFound(format!(
                    "endpoint service {} has no {} tag, so its tenant registry is unknown: \
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

/// The approver function, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApproverFunction {
    pub name: String,
    pub env: HashMap<String, String>,
}

impl ApproverFunction {
    /// Reads the target's approver function and checks it belongs to the
    /// target: tagged with the stack, configured for the service.
    pub async fn load(
        lambda: &aws_sdk_lambda::Client,
        target: &Target,
    ) -> Result<ApproverFunction, OperatorError> {
        let name = target.function()?.to_string();
        let Some(read) = approver::read_environment(lambda, &name).await? else {
            return Err(OperatorError::NotFound(format!(
                "approver function {name} was not found: run `endpoint-service up` for the stack, or check --region"
            )));
        };
        if let Some(stack) = &target.stack {
            let tagged = read.stack_tag.as_deref();
            if tagged != Some(stack.as_str()) {
                return Err(OperatorError::Mismatch(format!(
                    "function {name} is not tagged {}={stack} (found {}): it was not made for this stack; refusing to read or change it",
                    naming::STACK_TAG,
                    tagged.map_or("no tag".to_string(), |t| format!("{t:?}"))
                )));
            }
        }
        let function = ApproverFunction {
            name,
            env: read.variables,
        };
        match function.env.get(ENV_SERVICE_ID) {
            Some(id) if id.trim() == target.service_id => Ok(function),
            other => Err(OperatorError::Mismatch(format!(
                "approver function {} decides for {} but the target service is {}: fix {ENV_SERVICE_ID} (re-run `endpoint-service up`)",
                function.name,
                other.map_or("nothing (unset)", String::as_str),
                target.service_id
            ))),
        }
    }

    /// The full approver configuration, or every problem with it.
    pub fn config(&self) -> Result<ApproverConfig, OperatorError> {
        ApproverConfig::from_lookup(|key| self.env.get(key).cloned()).map_err(|source| {
            OperatorError::ApproverConfig {
                function: self.name.clone(),
                source,
            }
        })
    }

    /// The configuration, checked to read the registry at `table`: a
    /// function reading another table would never see the operator's edits.
    pub fn config_for(&self, table: &str) -> Result<ApproverConfig, OperatorError> {
        let config = self.config()?;
        if config.table != table {
            return Err(OperatorError::Mismatch(format!(
                "approver function {} reads tenants from {}={} but the stack's registry is {table}: \
                 re-run `endpoint-service up` for the stack so the approver reads its own table",
                self.name, ENV_TABLE, config.table
            )));
        }
        Ok(config)
    }
}

//! The approver Lambda: its IAM role (trust: Lambda only; inline policy
//! from [`crate::provision::policy`]; permissions boundary: the stack's
//! boundary policy, created before the role), the function (provided.al2023,
//! handler `bootstrap`, the APPROVER_* environment), and the resource
//! policy statements that let SNS and the sweep schedule invoke it.
//!
//! The one adapter of the function: `up`/`down` write it here, the
//! operator commands read its environment through [`read_environment`]
//! (which service and tenant registry it decides for), and every update
//! waits with the SDK's `function_updated_v2` waiter.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_lambda::client::Waiters;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, Environment, FunctionCode, Runtime};
use aws_smithy_runtime_api::client::waiters::error::WaiterError;
use serde_json::Value;

use super::{not_ours, owned_by, wait_error, StackTags};
use crate::errors::ErrorKind;
use crate::naming::StackName;
use crate::provision::observe::{BoundaryObs, FunctionObs, RoleObs};
use crate::provision::policy::{lambda_trust_policy, parse_document, ROLE_POLICY_NAME};
use crate::provision::{aws_err, built, gone_is_ok, missing_as_none, ProvisionError};
use crate::wait::{until, Backoff, Poll};
use privatelink_core::cli::progress::Progress;

/// The Lambda runtime for a Rust `bootstrap` binary.
pub const RUNTIME: &str = "provided.al2023";
pub const HANDLER: &str = "bootstrap";

/// The stack's role, if it exists and is the stack's.
pub async fn find_role(
    iam: &aws_sdk_iam::Client,
    stack: &StackName,
) -> Result<Option<RoleObs>, ProvisionError> {
    let name = stack.role();
    let out = missing_as_none(
        iam.get_role()
            .role_name(&name)
            .send()
            .await
            .map_err(aws_err("GetRole", name.clone())),
    )?;
    let Some(role) = out.as_ref().and_then(|o| o.role()) else {
        return Ok(None);
    };
    if !owned_by(
        role.tags().iter().map(|t| (Some(t.key()), Some(t.value()))),
        stack,
    ) {
        return Err(not_ours("IAM role", &name, stack));
    }
    let policy = missing_as_none(
        iam.get_role_policy()
            .role_name(&name)
            .policy_name(ROLE_POLICY_NAME)
            .send()
            .await
            .map_err(aws_err("GetRolePolicy", name.clone())),
    )?
    .and_then(|p| parse_document(p.policy_document()));
    Ok(Some(RoleObs {
        arn: role.arn().to_string(),
        trust: role.assume_role_policy_document().and_then(parse_document),
        policy,
        boundary: role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_string),
    }))
}

/// The stack's boundary policy (`arn`), if it exists and is the stack's,
/// with its default version's document.
pub async fn find_boundary(
    iam: &aws_sdk_iam::Client,
    stack: &StackName,
    arn: &str,
) -> Result<Option<BoundaryObs>, ProvisionError> {
    let out = missing_as_none(
        iam.get_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(aws_err("GetPolicy", arn.to_string())),
    )?;
    let Some(policy) = out.as_ref().and_then(|o| o.policy()) else {
        return Ok(None);
    };
    if !owned_by(
        policy
            .tags()
            .iter()
            .map(|t| (Some(t.key()), Some(t.value()))),
        stack,
    ) {
        return Err(not_ours("IAM policy", &stack.boundary(), stack));
    }
    let document = match policy.default_version_id() {
        Some(version) => missing_as_none(
            iam.get_policy_version()
                .policy_arn(arn)
                .version_id(version)
                .send()
                .await
                .map_err(aws_err("GetPolicyVersion", arn.to_string())),
        )?
        .and_then(|v| {
            v.policy_version()
                .and_then(|v| v.document().map(str::to_string))
        })
        .and_then(|d| parse_document(&d)),
        None => None,
    };
    Ok(Some(BoundaryObs {
        arn: arn.to_string(),
        document,
    }))
}

/// Creates the boundary policy, tagged; returns its ARN.
pub async fn create_boundary(
    iam: &aws_sdk_iam::Client,
    tags: &StackTags,
    document: &Value,
) -> Result<String, ProvisionError> {
    let name = tags.stack.boundary();
    let mut call = iam
        .create_policy()
        .policy_name(&name)
        .policy_document(document.to_string())
        .description(format!(
            "Permissions boundary of the PrivateLink connection approver of stack {}",
            tags.stack
        ));
    for (k, v) in tags.pairs() {
        call = call.tags(built(
            aws_sdk_iam::types::Tag::builder().key(k).value(v).build(),
        )?);
    }
    let out = call
        .send()
        .await
        .map_err(aws_err("CreatePolicy", name.clone()));
    // The operator's policy does not allow creating the boundary (that would
    // let the operator write any boundary, and so any role permission): an
    // administrator creates it once, by running `up` or from `iam-policy`.
    let out = match out {
        Err(e) if e.aws().is_some_and(|a| a.kind == ErrorKind::AccessDenied) => {
            return Err(ProvisionError::Refused(format!(
                "{e}\nThe approver's permissions boundary policy {name} does not exist yet, and \
                 creating it is an administrator's step: have an administrator run this `up` \
                 once, or create it with the `approver_boundary_policy` document and the \
                 `boundary_admin_policy` rights that `endpoint-service iam-policy` prints; then \
                 run `up` again, which continues from here (the steps before this one are done)"
            )))
        }
        other => other?,
    };
    out.policy()
        .and_then(|p| p.arn())
        .map(str::to_string)
        .ok_or(ProvisionError::Missing {
            operation: "CreatePolicy",
            field: "Policy.Arn",
        })
}

/// Deletes the boundary policy (after the role); gone is done. It has one
/// version only (no version is ever added), so no version needs deleting
/// first.
pub async fn delete_boundary(iam: &aws_sdk_iam::Client, arn: &str) -> Result<(), ProvisionError> {
    gone_is_ok(
        iam.delete_policy()
            .policy_arn(arn)
            .send()
            .await
            .map(drop)
            .map_err(aws_err("DeletePolicy", arn.to_string())),
    )
}

/// Makes `boundary_arn` the role's permissions boundary (a role made before
/// the kit had one).
pub async fn set_role_boundary(
    iam: &aws_sdk_iam::Client,
    stack: &StackName,
    boundary_arn: &str,
) -> Result<(), ProvisionError> {
    iam.put_role_permissions_boundary()
        .role_name(stack.role())
        .permissions_boundary(boundary_arn)
        .send()
        .await
        .map(drop)
        .map_err(aws_err("PutRolePermissionsBoundary", stack.role()))
}

/// True for the error IAM may give while a just-created boundary policy is
/// not visible to `CreateRole` yet (IAM is eventually consistent).
fn boundary_not_ready(error: &ProvisionError) -> bool {
    error.aws().is_some_and(|e| {
        e.code.as_deref() == Some("NoSuchEntity")
            || (e.code.as_deref() == Some("InvalidInput")
                && e.message.as_deref().is_some_and(|m| m.contains("policy")))
    })
}

/// Creates the role with its trust policy and permissions boundary, tagged,
/// retrying for a while if the boundary policy `up` has just created is not
/// visible yet.
pub async fn create_role(
    iam: &aws_sdk_iam::Client,
    tags: &StackTags,
    boundary_arn: &str,
    progress: &Progress,
) -> Result<String, ProvisionError> {
    let name = tags.stack.role();
    let what = format!(
        "policy {} to be usable as a boundary",
        tags.stack.boundary()
    );
    until(
        &what,
        Backoff::with_timeout(Duration::from_secs(30)),
        || async {
            let mut call = iam
                .create_role()
                .role_name(&name)
                .assume_role_policy_document(lambda_trust_policy().to_string())
                .permissions_boundary(boundary_arn)
                .description(format!(
                    "PrivateLink connection approver of stack {}",
                    tags.stack
                ));
            for (k, v) in tags.pairs() {
                call = call.tags(built(
                    aws_sdk_iam::types::Tag::builder().key(k).value(v).build(),
                )?);
            }
            match call
                .send()
                .await
                .map_err(aws_err("CreateRole", name.clone()))
            {
                Ok(out) => out.role().map(|r| Poll::Ready(r.arn().to_string())).ok_or(
                    ProvisionError::Missing {
                        operation: "CreateRole",
                        field: "Role",
                    },
                ),
                Err(e) if boundary_not_ready(&e) => {
                    Ok(Poll::NotYet("boundary not found yet".into()))
                }
                Err(e) => Err(e),
            }
        },
        |seen| progress.waiting(&what, seen),
    )
    .await
    .map_err(wait_error)
}

pub async fn set_trust(iam: &aws_sdk_iam::Client, stack: &StackName) -> Result<(), ProvisionError> {
    iam.update_assume_role_policy()
        .role_name(stack.role())
        .policy_document(lambda_trust_policy().to_string())
        .send()
        .await
        .map(drop)
        .map_err(aws_err("UpdateAssumeRolePolicy", stack.role()))
}

pub async fn put_role_policy(
    iam: &aws_sdk_iam::Client,
    stack: &StackName,
    policy: &Value,
) -> Result<(), ProvisionError> {
    iam.put_role_policy()
        .role_name(stack.role())
        .policy_name(ROLE_POLICY_NAME)
        .policy_document(policy.to_string())
        .send()
        .await
        .map(drop)
        .map_err(aws_err("PutRolePolicy", stack.role()))
}

/// Deletes the inline policy, then the role; gone is done.
pub async fn delete_role(
    iam: &aws_sdk_iam::Client,
    stack: &StackName,
) -> Result<(), ProvisionError> {
    let name = stack.role();
    gone_is_ok(
        iam.delete_role_policy()
            .role_name(&name)
            .policy_name(ROLE_POLICY_NAME)
            .send()
            .await
            .map(drop)
            .map_err(aws_err("DeleteRolePolicy", name.clone())),
    )?;
    gone_is_ok(
        iam.delete_role()
            .role_name(&name)
            .send()
            .await
            .map(drop)
            .map_err(aws_err("DeleteRole", name.clone())),
    )
}

/// The stack's function with its resource policy, if it exists and is the
/// stack's.
pub async fn find_function(
    lambda: &aws_sdk_lambda::Client,
    stack: &StackName,
) -> Result<Option<FunctionObs>, ProvisionError> {
    let name = stack.function();
    let out = missing_as_none(
        lambda
            .get_function()
            .function_name(&name)
            .send()
            .await
            .map_err(aws_err("GetFunction", name.clone())),
    )?;
    let Some(out) = out else { return Ok(None) };
    let owned = out.tags().is_some_and(|tags| {
        owned_by(
            tags.iter()
                .map(|(k, v)| (Some(k.as_str()), Some(v.as_str()))),
            stack,
        )
    });
    if !owned {
        return Err(not_ours("Lambda function", &name, stack));
    }
    let Some(config) = out.configuration() else {
        return Err(ProvisionError::Missing {
            operation: "GetFunction",
            field: "Configuration",
        });
    };
    let policy = missing_as_none(
        lambda
            .get_policy()
            .function_name(&name)
            .send()
            .await
            .map_err(aws_err("GetPolicy", name.clone())),
    )?;
    let mut permissions = BTreeMap::new();
    if let Some(document) = policy
        .as_ref()
        .and_then(|p| p.policy())
        .and_then(parse_document)
    {
        for statement in document["Statement"].as_array().into_iter().flatten() {
            if let Some(sid) = statement["Sid"].as_str() {
                permissions.insert(sid.to_string(), statement.clone());
            }
        }
    }
    Ok(Some(FunctionObs {
        arn: config.function_arn().unwrap_or_default().to_string(),
        runtime: config.runtime().map(|r| r.as_str().to_string()),
        handler: config.handler().map(str::to_string),
        role: config.role().map(str::to_string),
        architecture: config
            .architectures()
            .first()
            .map(|a| a.as_str().to_string()),
        code_sha256: config.code_sha256().map(str::to_string),
        environment: config
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        state: config.state().map(|s| s.as_str().to_string()),
        permissions,
    }))
}

fn environment(env: &BTreeMap<String, String>) -> Environment {
    Environment::builder()
        .set_variables(Some(
            env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        ))
        .build()
}

/// The function's desired configuration.
#[derive(Debug, Clone)]
pub struct FunctionSpec<'a> {
    pub role_arn: &'a str,
    pub zip: &'a [u8],
    pub architecture: &'a str,
    pub environment: &'a BTreeMap<String, String>,
}

/// True for the error Lambda gives while a new role is not yet usable
/// (IAM is eventually consistent).
fn role_not_ready(error: &ProvisionError) -> bool {
    error.aws().is_some_and(|e| {
        e.code.as_deref() == Some("InvalidParameterValueException")
            && e.message.as_deref().is_some_and(|m| m.contains("role"))
    })
}

/// Creates the function, tagged, retrying while its new role propagates,
/// then waits until it is active.
pub async fn create_function(
    lambda: &aws_sdk_lambda::Client,
    tags: &StackTags,
    spec: &FunctionSpec<'_>,
    progress: &Progress,
) -> Result<String, ProvisionError> {
    let name = tags.stack.function();
    let what = format!("role {} to be usable by Lambda", tags.stack.role());
    let arn = until(
        &what,
        Backoff::with_timeout(Duration::from_secs(90)),
        || async {
            let result = lambda
                .create_function()
                .function_name(&name)
                .runtime(Runtime::from(RUNTIME))
                .handler(HANDLER)
                .role(spec.role_arn)
                .architectures(Architecture::from(spec.architecture))
                .code(
                    FunctionCode::builder()
                        .zip_file(Blob::new(spec.zip.to_vec()))
                        .build(),
                )
                .environment(environment(spec.environment))
                .description(format!(
                    "Approves PrivateLink connections of stack {}",
                    tags.stack
                ))
                .timeout(60)
                .set_tags(Some(tags.pairs().into_iter().collect()))
                .send()
                .await
                .map_err(aws_err("CreateFunction", name.clone()));
            match result {
                Ok(out) => Ok(Poll::Ready(
                    out.function_arn().unwrap_or_default().to_string(),
                )),
                Err(e) if role_not_ready(&e) => Ok(Poll::NotYet("role not assumable yet".into())),
                Err(e) => Err(e),
            }
        },
        |seen| progress.waiting(&what, seen),
    )
    .await
    .map_err(wait_error)?;
    progress.waiting(&format!("function {name} to be active"), "pending");
    lambda
        .wait_until_function_active_v2()
        .function_name(&name)
        .wait(Duration::from_secs(300))
        .await
        .map_err(|e| ProvisionError::Timeout {
            what: format!("function {name} to be active"),
            waited_seconds: 300,
            last_seen: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
        })?;
    Ok(arn)
}

/// How long an update of the function may take to be applied.
const UPDATE_WAIT: Duration = Duration::from_secs(300);

/// Waits, with the SDK's waiter, until Lambda has applied an update of the
/// function (`LastUpdateStatus` `Successful`). Told apart: an update Lambda
/// could not apply (`Failed`, with Lambda's reason), a wait that ran out
/// (a timeout), and a `GetFunction` that failed (that AWS error).
async fn wait_updated(lambda: &aws_sdk_lambda::Client, name: &str) -> Result<(), ProvisionError> {
    let waited = lambda
        .wait_until_function_updated_v2()
        .function_name(name)
        .wait(UPDATE_WAIT)
        .await;
    match waited {
        Ok(_) => Ok(()),
        Err(WaiterError::FailureState(failed)) => {
            let reason = failed
                .final_poll()
                .as_result()
                .ok()
                .and_then(|out| out.configuration())
                .and_then(|c| c.last_update_status_reason())
                .unwrap_or("no reason given")
                .to_string();
            Err(ProvisionError::Refused(format!(
                "Lambda could not apply the update of function {name}: {reason}"
            )))
        }
        Err(WaiterError::OperationFailed(failed)) => Err(aws_err("GetFunction", name.to_string())(
            failed.into_error(),
        )),
        Err(other) => Err(ProvisionError::Timeout {
            what: format!("function {name} to finish updating"),
            waited_seconds: UPDATE_WAIT.as_secs(),
            last_seen: aws_smithy_types::error::display::DisplayErrorContext(&other).to_string(),
        }),
    }
}

/// The function's environment as Lambda holds it, and the stack tag that
/// says whose function it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionEnvironment {
    pub variables: HashMap<String, String>,
    /// The value of the stack's ownership tag, if the function has one.
    pub stack_tag: Option<String>,
}

/// Reads the function's environment (`GetFunction`); `None` when there is
/// no function of that name. Ownership is the caller's to judge: the
/// operator commands refuse a function of another stack with their own
/// message.
pub async fn read_environment(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> Result<Option<FunctionEnvironment>, ProvisionError> {
    let out = missing_as_none(
        lambda
            .get_function()
            .function_name(name)
            .send()
            .await
            .map_err(aws_err("GetFunction", name.to_string())),
    )?;
    Ok(out.map(|out| {
        let config = out.configuration();
        FunctionEnvironment {
            variables: config
                .and_then(|c| c.environment())
                .and_then(|e| e.variables())
                .cloned()
                .unwrap_or_default(),
            stack_tag: out
                .tags()
                .and_then(|t| t.get(crate::naming::STACK_TAG))
                .cloned(),
        }
    }))
}

/// Replaces the code (and architecture).
pub async fn update_code(
    lambda: &aws_sdk_lambda::Client,
    stack: &StackName,
    zip: &[u8],
    architecture: &str,
) -> Result<(), ProvisionError> {
    let name = stack.function();
    lambda
        .update_function_code()
        .function_name(&name)
        .zip_file(Blob::new(zip.to_vec()))
        .architectures(Architecture::from(architecture))
        .send()
        .await
        .map_err(aws_err("UpdateFunctionCode", name.clone()))?;
    wait_updated(lambda, &name).await
}

/// Sets runtime, handler, role and environment.
pub async fn update_configuration(
    lambda: &aws_sdk_lambda::Client,
    stack: &StackName,
    spec: &FunctionSpec<'_>,
) -> Result<(), ProvisionError> {
    let name = stack.function();
    lambda
        .update_function_configuration()
        .function_name(&name)
        .runtime(Runtime::from(RUNTIME))
        .handler(HANDLER)
        .role(spec.role_arn)
        .environment(environment(spec.environment))
        .send()
        .await
        .map_err(aws_err("UpdateFunctionConfiguration", name.clone()))?;
    wait_updated(lambda, &name).await
}

/// True when the statement is exactly the one [`add_permission`] makes:
/// `principal` may invoke, only from `source_arn` and `source_account`. A
/// broadened statement (a wildcard ARN, no account condition) is not a
/// match, so `up` replaces it.
pub fn permission_matches(
    statement: &Value,
    principal: &str,
    source_arn: &str,
    source_account: &str,
) -> bool {
    let condition = &statement["Condition"];
    statement["Effect"] == "Allow"
        && statement["Action"] == "lambda:InvokeFunction"
        && statement["Principal"]["Service"] == principal
        && condition["ArnLike"]["AWS:SourceArn"] == source_arn
        && condition["StringEquals"]["AWS:SourceAccount"] == source_account
        && condition.as_object().is_some_and(|c| c.len() == 2)
}

/// Lets `principal` (a service) invoke the function from `source_arn` only.
pub async fn add_permission(
    lambda: &aws_sdk_lambda::Client,
    stack: &StackName,
    sid: &str,
    principal: &str,
    source_arn: &str,
    source_account: &str,
) -> Result<(), ProvisionError> {
    let name = stack.function();
    lambda
        .add_permission()
        .function_name(&name)
        .statement_id(sid)
        .action("lambda:InvokeFunction")
        .principal(principal)
        .source_arn(source_arn)
        .source_account(source_account)
        .send()
        .await
        .map(drop)
        .map_err(aws_err("AddPermission", format!("{name} {sid}")))
}

pub async fn remove_permission(
    lambda: &aws_sdk_lambda::Client,
    stack: &StackName,
    sid: &str,
) -> Result<(), ProvisionError> {
    let name = stack.function();
    gone_is_ok(
        lambda
            .remove_permission()
            .function_name(&name)
            .statement_id(sid)
            .send()
            .await
            .map(drop)
            .map_err(aws_err("RemovePermission", format!("{name} {sid}"))),
    )
}

pub async fn delete_function(
    lambda: &aws_sdk_lambda::Client,
    stack: &StackName,
) -> Result<(), ProvisionError> {
    let name = stack.function();
    gone_is_ok(
        lambda
            .delete_function()
            .function_name(&name)
            .send()
            .await
            .map(drop)
            .map_err(aws_err("DeleteFunction", name.clone())),
    )
}

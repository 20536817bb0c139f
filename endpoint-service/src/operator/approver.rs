//! The approver Lambda's configuration as the operator commands see it:
//! read with `GetFunction` (environment, revision, tags) and changed with
//! `UpdateFunctionConfiguration`, keeping every other variable as it was.
//! The function is the stack's (`STACK-approver`, tagged with the stack);
//! its `APPROVER_SERVICE_ID` must be the target service.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_lambda::types::Environment;

use super::error::OperatorError;
use super::target::Target;
use crate::approval::config::{ENV_ALLOWLIST, ENV_SERVICE_ID};
use crate::approval::{Allowlist, ApproverConfig};
use crate::errors::ErrorKind;
use crate::naming;
use crate::wait::{self, Backoff, Poll};

/// How long a configuration update may stay `InProgress`.
const UPDATE_TIMEOUT: Duration = Duration::from_secs(120);

/// The approver function, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApproverFunction {
    pub name: String,
    /// Lambda's revision id at the time of reading: an update sends it back,
    /// so a concurrent change makes the update fail instead of being lost.
    pub revision_id: Option<String>,
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
        let out = lambda
            .get_function()
            .function_name(&name)
            .send()
            .await
            .map_err(|e| {
                let error = OperatorError::aws("GetFunction", name.clone(), &e);
                match &error {
                    OperatorError::Aws { source, .. }
                        if source.kind == ErrorKind::NotFound
                            || source.code.as_deref() == Some("ResourceNotFoundException") =>
                    {
                        OperatorError::NotFound(format!(
                            "approver function {name} was not found: run `endpoint-service up` for the stack, or check --region"
                        ))
                    }
                    _ => error,
                }
            })?;
        if let Some(stack) = &target.stack {
            let tagged = out.tags().and_then(|t| t.get(naming::STACK_TAG));
            if tagged.map(String::as_str) != Some(stack.as_str()) {
                return Err(OperatorError::Mismatch(format!(
                    "function {name} is not tagged {}={stack} (found {}): it was not made for this stack; refusing to read or change it",
                    naming::STACK_TAG,
                    tagged.map_or("no tag".to_string(), |t| format!("{t:?}"))
                )));
            }
        }
        let config = out.configuration();
        let env = config
            .and_then(|c| c.environment())
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        let function = ApproverFunction {
            name,
            revision_id: config.and_then(|c| c.revision_id()).map(str::to_string),
            env,
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

    /// The allowlist as configured; `None` when unset or invalid (the
    /// approver then accepts nothing). For views; a change must start from
    /// [`ApproverFunction::allowlist_to_change`].
    pub fn allowlist(&self) -> Option<Allowlist> {
        self.env
            .get(ENV_ALLOWLIST)
            .and_then(|text| Allowlist::parse(text).ok())
    }

    /// The allowlist a change starts from: `None` when unset, an error when
    /// set but invalid. Treating an invalid list as empty would make `allow`
    /// rewrite it with only the new account and silently drop every other
    /// customer on it.
    pub fn allowlist_to_change(&self) -> Result<Option<Allowlist>, OperatorError> {
        current_allowlist(&self.name, self.env.get(ENV_ALLOWLIST).map(String::as_str))
    }

    /// Replaces `APPROVER_ALLOWLIST`, keeping every other variable, and
    /// waits until Lambda has applied it. Sends the revision id read by
    /// [`ApproverFunction::load`], so a concurrent change fails this update
    /// (`PreconditionFailedException`) instead of being overwritten.
    pub async fn set_allowlist(
        &self,
        lambda: &aws_sdk_lambda::Client,
        allowlist: &Allowlist,
    ) -> Result<(), OperatorError> {
        let mut env = self.env.clone();
        env.insert(ENV_ALLOWLIST.to_string(), allowlist.to_string());
        let mut update = lambda
            .update_function_configuration()
            .function_name(&self.name)
            .environment(Environment::builder().set_variables(Some(env)).build());
        if let Some(revision) = &self.revision_id {
            update = update.revision_id(revision);
        }
        update.send().await.map_err(|e| {
            OperatorError::aws("UpdateFunctionConfiguration", self.name.clone(), &e)
        })?;
        self.wait_until_updated(lambda).await
    }

    /// Polls until the configuration update is no longer `InProgress`.
    async fn wait_until_updated(
        &self,
        lambda: &aws_sdk_lambda::Client,
    ) -> Result<(), OperatorError> {
        let what = format!("the configuration update of {}", self.name);
        let mut announced = false;
        let result = wait::until(
            &what,
            Backoff::with_timeout(UPDATE_TIMEOUT),
            || async {
                let out = lambda
                    .get_function_configuration()
                    .function_name(&self.name)
                    .send()
                    .await
                    .map_err(|e| {
                        OperatorError::aws("GetFunctionConfiguration", self.name.clone(), &e)
                    })?;
                // Compared as text: the SDK enum may not know every value.
                let status = out.last_update_status().map(|s| s.as_str().to_string());
                match status.as_deref() {
                    Some(s) if s.eq_ignore_ascii_case("InProgress") => {
                        Ok(Poll::NotYet(s.to_string()))
                    }
                    Some(s) if s.eq_ignore_ascii_case("Failed") => {
                        Err(OperatorError::Mismatch(format!(
                            "Lambda could not apply the new configuration of {}: {}",
                            self.name,
                            out.last_update_status_reason().unwrap_or("no reason given")
                        )))
                    }
                    _ => Ok(Poll::Ready(())),
                }
            },
            |_| {
                if !announced {
                    eprintln!("waiting for {what} to finish...");
                    announced = true;
                }
            },
        )
        .await;
        result.map_err(|e| match e {
            wait::WaitError::Failed(error) => error,
            timed_out => OperatorError::TimedOut(timed_out.to_string()),
        })
    }
}

/// See [`ApproverFunction::allowlist_to_change`].
fn current_allowlist(
    function: &str,
    raw: Option<&str>,
) -> Result<Option<Allowlist>, OperatorError> {
    let Some(text) = raw else { return Ok(None) };
    Allowlist::parse(text).map(Some).map_err(|errors| {
        OperatorError::UnreadableAllowlist(format!(
            "approver function {function}: {ENV_ALLOWLIST} is invalid ({}), so changing it could \
             drop the customers on it; nothing was changed. Fix the allowlist in the stack's \
             config file and run `endpoint-service up` (it converges {ENV_ALLOWLIST}), then retry",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })
}

#[cfg(test)]
mod allowlist_tests {
    use super::*;

    #[test]
    fn a_change_starts_from_the_whole_list_or_refuses() {
        assert_eq!(current_allowlist("f", None).expect("unset is fine"), None);
        let list = current_allowlist("f", Some("111111111111,222222222222"))
            .expect("valid")
            .expect("set");
        assert_eq!(list.to_string(), "111111111111,222222222222");
        // One bad entry among good ones: refused, never read as empty.
        let error =
            current_allowlist("f", Some("111111111111,12345,222222222222")).expect_err("invalid");
        let text = error.to_string();
        assert!(text.contains("APPROVER_ALLOWLIST is invalid"), "{text}");
        assert!(text.contains("12345"), "{text}");
        assert!(text.contains("nothing was changed"), "{text}");
        assert!(matches!(error, OperatorError::UnreadableAllowlist(_)));
    }
}

//! The EventBridge rule that runs the approver's sweep on a schedule, and
//! its target.

use aws_sdk_eventbridge::types::{RuleState, Tag, Target};
use aws_sdk_eventbridge::Client;

use super::{not_ours, owned_by, StackTags};
use crate::naming::StackName;
use crate::provision::observe::RuleObs;
use crate::provision::{aws_err, built, gone_is_ok, missing_as_none, ProvisionError};

/// Id of the rule's one target (the approver function).
pub const TARGET_ID: &str = "approver";

/// The stack's rule, if it exists and is the stack's.
pub async fn find_rule(
    events: &Client,
    stack: &StackName,
) -> Result<Option<RuleObs>, ProvisionError> {
    let name = stack.sweep_rule();
    let out = missing_as_none(
        events
            .describe_rule()
            .name(&name)
            .send()
            .await
            .map_err(aws_err("DescribeRule", name.clone())),
    )?;
    let Some(rule) = out else { return Ok(None) };
    let arn = rule.arn().unwrap_or_default().to_string();
    let tags = events
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(aws_err("ListTagsForResource", arn.clone()))?;
    if !owned_by(
        tags.tags().iter().map(|t| (Some(t.key()), Some(t.value()))),
        stack,
    ) {
        return Err(not_ours("EventBridge rule", &name, stack));
    }
    let targets = events
        .list_targets_by_rule()
        .rule(&name)
        .send()
        .await
        .map_err(aws_err("ListTargetsByRule", name.clone()))?;
    Ok(Some(RuleObs {
        arn,
        schedule: rule.schedule_expression().map(str::to_string),
        state: rule.state().map(|s| s.as_str().to_string()),
        target_arns: targets
            .targets()
            .iter()
            .map(|t| t.arn().to_string())
            .collect(),
    }))
}

/// Creates or updates the rule (PutRule is an upsert), tagged.
pub async fn put_rule(
    events: &Client,
    tags: &StackTags,
    schedule: &str,
) -> Result<String, ProvisionError> {
    let name = tags.stack.sweep_rule();
    let mut call = events
        .put_rule()
        .name(&name)
        .schedule_expression(schedule)
        .state(RuleState::Enabled)
        .description(format!(
            "Sweep of pending PrivateLink connections, stack {}",
            tags.stack
        ));
    for (k, v) in tags.pairs() {
        call = call.tags(built(Tag::builder().key(k).value(v).build())?);
    }
    let out = call
        .send()
        .await
        .map_err(aws_err("PutRule", name.clone()))?;
    out.rule_arn()
        .map(str::to_string)
        .ok_or(ProvisionError::Missing {
            operation: "PutRule",
            field: "RuleArn",
        })
}

/// Points the rule at the function (PutTargets is an upsert by id).
pub async fn put_target(
    events: &Client,
    stack: &StackName,
    function_arn: &str,
) -> Result<(), ProvisionError> {
    let name = stack.sweep_rule();
    let out = events
        .put_targets()
        .rule(&name)
        .targets(built(
            Target::builder().id(TARGET_ID).arn(function_arn).build(),
        )?)
        .send()
        .await
        .map_err(aws_err("PutTargets", name.clone()))?;
    if out.failed_entry_count() > 0 {
        let reasons: Vec<String> = out
            .failed_entries()
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.error_code().unwrap_or("?"),
                    e.error_message().unwrap_or("")
                )
            })
            .collect();
        return Err(ProvisionError::Refused(format!(
            "PutTargets on {name} failed: {}",
            reasons.join("; ")
        )));
    }
    Ok(())
}

/// Removes the target, then the rule; gone is done.
pub async fn delete_rule(events: &Client, stack: &StackName) -> Result<(), ProvisionError> {
    let name = stack.sweep_rule();
    gone_is_ok(
        events
            .remove_targets()
            .rule(&name)
            .ids(TARGET_ID)
            .send()
            .await
            .map(drop)
            .map_err(aws_err("RemoveTargets", name.clone())),
    )?;
    gone_is_ok(
        events
            .delete_rule()
            .name(&name)
            .send()
            .await
            .map(drop)
            .map_err(aws_err("DeleteRule", name.clone())),
    )
}

//! The SNS topic that receives the connection notifications (policy: only
//! `vpce.amazonaws.com`, for this service), and the approver's
//! subscription to it.

use aws_sdk_sns::types::Tag;
use aws_sdk_sns::Client;
use serde_json::Value;

use super::{not_ours, owned_by, StackTags};
use crate::naming::StackName;
use crate::provision::observe::{SubscriptionObs, TopicObs};
use crate::provision::policy::parse_document;
use crate::provision::{aws_err, built, gone_is_ok, missing_as_none, ProvisionError};

/// The topic at its deterministic ARN (if it exists and is the stack's),
/// and its subscriptions.
pub async fn find_topic(
    sns: &Client,
    stack: &StackName,
    arn: &str,
) -> Result<(Option<TopicObs>, Vec<SubscriptionObs>), ProvisionError> {
    let attributes = missing_as_none(
        sns.get_topic_attributes()
            .topic_arn(arn)
            .send()
            .await
            .map_err(aws_err("GetTopicAttributes", arn.to_string())),
    )?;
    let Some(attributes) = attributes else {
        return Ok((None, Vec::new()));
    };
    let tags = sns
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(aws_err("ListTagsForResource", arn.to_string()))?;
    if !owned_by(
        tags.tags().iter().map(|t| (Some(t.key()), Some(t.value()))),
        stack,
    ) {
        return Err(not_ours("topic", &stack.topic(), stack));
    }
    let policy = attributes
        .attributes()
        .and_then(|a| a.get("Policy"))
        .and_then(|p| parse_document(p));
    let mut subscriptions = Vec::new();
    let mut pages = sns
        .list_subscriptions_by_topic()
        .topic_arn(arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws_err("ListSubscriptionsByTopic", arn.to_string()))?;
        subscriptions.extend(page.subscriptions().iter().filter_map(|s| {
            Some(SubscriptionObs {
                arn: s.subscription_arn()?.to_string(),
                endpoint: s.endpoint().unwrap_or_default().to_string(),
            })
        }));
    }
    Ok((
        Some(TopicObs {
            arn: arn.to_string(),
            policy,
        }),
        subscriptions,
    ))
}

/// Creates the topic, tagged (CreateTopic returns the existing topic of
/// the same name).
pub async fn create_topic(sns: &Client, tags: &StackTags) -> Result<String, ProvisionError> {
    let name = tags.stack.topic();
    let mut call = sns.create_topic().name(&name);
    for (k, v) in tags.pairs() {
        call = call.tags(built(Tag::builder().key(k).value(v).build())?);
    }
    let out = call
        .send()
        .await
        .map_err(aws_err("CreateTopic", name.clone()))?;
    out.topic_arn()
        .map(str::to_string)
        .ok_or(ProvisionError::Missing {
            operation: "CreateTopic",
            field: "TopicArn",
        })
}

pub async fn set_policy(sns: &Client, arn: &str, policy: &Value) -> Result<(), ProvisionError> {
    sns.set_topic_attributes()
        .topic_arn(arn)
        .attribute_name("Policy")
        .attribute_value(policy.to_string())
        .send()
        .await
        .map(drop)
        .map_err(aws_err("SetTopicAttributes", format!("{arn} Policy")))
}

/// Subscribes the approver function (Subscribe is idempotent for the same
/// endpoint).
pub async fn subscribe(
    sns: &Client,
    topic_arn: &str,
    function_arn: &str,
) -> Result<SubscriptionObs, ProvisionError> {
    let out = sns
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("lambda")
        .endpoint(function_arn)
        .return_subscription_arn(true)
        .send()
        .await
        .map_err(aws_err(
            "Subscribe",
            format!("{function_arn} to {topic_arn}"),
        ))?;
    Ok(SubscriptionObs {
        arn: out.subscription_arn().unwrap_or_default().to_string(),
        endpoint: function_arn.to_string(),
    })
}

pub async fn unsubscribe(sns: &Client, arn: &str) -> Result<(), ProvisionError> {
    gone_is_ok(
        sns.unsubscribe()
            .subscription_arn(arn)
            .send()
            .await
            .map(drop)
            .map_err(aws_err("Unsubscribe", arn.to_string())),
    )
}

/// Deletes the topic (idempotent in SNS).
pub async fn delete_topic(sns: &Client, arn: &str) -> Result<(), ProvisionError> {
    gone_is_ok(
        sns.delete_topic()
            .topic_arn(arn)
            .send()
            .await
            .map(drop)
            .map_err(aws_err("DeleteTopic", arn.to_string())),
    )
}

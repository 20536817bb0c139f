//! The SNS → Lambda bridge of the demo and the end-to-end test. TEST/DEMO
//! INFRASTRUCTURE ONLY: in AWS, SNS invokes the approver function itself and
//! nothing like this exists.
//!
//! Why it is needed: the emulator's SNS (moto) cannot invoke a Lambda function
//! without Docker, and the approver runs as the compiled binary under the
//! Lambda Runtime API emulator (`cargo lambda watch`) anyway. So the bridge
//! subscribes an SQS queue to the provider's notification topic, long-polls
//! it, and for every delivery invokes the function with the `SnsEvent` that
//! Lambda would have built from the same notification.
//!
//! The mapping from an SQS-delivered SNS envelope to a Lambda SNS record
//! ([`sns_event`]) follows the two documented shapes: the HTTP/SQS envelope
//! (`SigningCertURL`, `UnsubscribeURL`) and the Lambda record
//! (`EventSource: aws:sns`, `EventSubscriptionArn`, `Sns` with
//! `SigningCertUrl`, `UnsubscribeUrl`). Every other field is carried over
//! unchanged, so the approver sees the envelope the emulator's SNS produced.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use serde_json::{json, Map, Value};
use tokio::task::JoinHandle;

use crate::Account;

/// Where the bridge hands each event: the runtime emulator's invoke call.
pub type Deliver =
    Arc<dyn Fn(Value) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> + Send + Sync>;

/// A running bridge; stops (and deletes its subscription and queue) on
/// [`Bridge::stop`], and stops polling when dropped.
#[derive(Debug)]
pub struct Bridge {
    pub queue_url: String,
    pub subscription_arn: String,
    account: Account,
    task: JoinHandle<()>,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Bridge {
    /// Subscribes a new queue `name` in `account` to `topic_arn` and starts
    /// forwarding deliveries to `deliver`, one invocation per notification
    /// (as Lambda does for SNS). Delivery errors are printed, not retried: the
    /// approver's scheduled sweep is what covers a lost notification.
    pub async fn start(
        account: &Account,
        topic_arn: &str,
        name: &str,
        deliver: Deliver,
    ) -> Result<Bridge> {
        let sqs = account.sqs();
        let queue_url = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .context("creating the bridge's SQS queue")?
            .queue_url
            .ok_or_else(|| anyhow!("CreateQueue returned no URL"))?;
        let queue_arn = format!(
            "arn:aws:sqs:{}:{}:{name}",
            account.region().as_ref(),
            account.id
        );
        let subscription_arn = account
            .sns()
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(&queue_arn)
            .send()
            .await
            .context("subscribing the bridge's queue to the notification topic")?
            .subscription_arn
            .ok_or_else(|| anyhow!("Subscribe returned no ARN"))?;

        let task = tokio::spawn(forward(
            sqs,
            queue_url.clone(),
            subscription_arn.clone(),
            deliver,
        ));
        Ok(Bridge {
            queue_url,
            subscription_arn,
            account: account.clone(),
            task,
        })
    }

    /// Stops forwarding and deletes the subscription and the queue.
    pub async fn stop(self) -> Result<()> {
        self.task.abort();
        self.account
            .sns()
            .unsubscribe()
            .subscription_arn(&self.subscription_arn)
            .send()
            .await
            .context("removing the bridge's subscription")?;
        self.account
            .sqs()
            .delete_queue()
            .queue_url(&self.queue_url)
            .send()
            .await
            .context("deleting the bridge's queue")?;
        Ok(())
    }
}

async fn forward(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    subscription_arn: String,
    deliver: Deliver,
) {
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await;
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                eprintln!("[bridge] receiving from SQS failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                continue;
            }
        };
        for message in messages {
            let body = message.body.unwrap_or_default();
            match sns_event(&body, &subscription_arn) {
                Ok(event) => {
                    if let Err(e) = deliver(event).await {
                        eprintln!("[bridge] invoking the approver failed: {e:#}");
                    }
                }
                Err(e) => eprintln!("[bridge] not an SNS envelope, dropped: {e:#}"),
            }
            if let Some(handle) = message.receipt_handle {
                let _ = sqs
                    .delete_message()
                    .queue_url(&queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await;
            }
        }
    }
}

/// The Lambda `SnsEvent` (one record) for an SNS envelope delivered to SQS.
pub fn sns_event(sqs_body: &str, subscription_arn: &str) -> Result<Value> {
    let envelope: Map<String, Value> =
        serde_json::from_str(sqs_body).context("the SQS body is not a JSON object")?;
    if envelope.get("Type").and_then(Value::as_str) != Some("Notification") {
        return Err(anyhow!("the SQS body is not an SNS Notification envelope"));
    }
    let mut sns = Map::new();
    for (key, value) in envelope {
        // Lambda spells these two with `Url`; HTTP and SQS deliveries with `URL`.
        let key = match key.as_str() {
            "SigningCertURL" => "SigningCertUrl".to_string(),
            "UnsubscribeURL" => "UnsubscribeUrl".to_string(),
            _ => key,
        };
        sns.insert(key, value);
    }
    sns.entry("MessageAttributes").or_insert_with(|| json!({}));
    Ok(json!({
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": subscription_arn,
            "Sns": sns,
        }]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_an_sqs_delivered_envelope_to_a_lambda_record() {
        let body = json!({
            "Type": "Notification",
            "MessageId": "m-1",
            "TopicArn": "arn:aws:sns:us-east-1:111122223333:t",
            "Message": "{\"events\":[]}",
            "Timestamp": "2026-11-25T10:00:00.000Z",
            "SignatureVersion": "1",
            "Signature": "c2ln",
            "SigningCertURL": "https://sns.example/cert.pem",
            "UnsubscribeURL": "https://sns.example/unsub"
        })
        .to_string();
        let event = sns_event(&body, "arn:sub").unwrap();
        let record = &event["Records"][0];
        assert_eq!(record["EventSource"], "aws:sns");
        assert_eq!(record["EventSubscriptionArn"], "arn:sub");
        assert_eq!(
            record["Sns"]["SigningCertUrl"],
            "https://sns.example/cert.pem"
        );
        assert_eq!(record["Sns"]["UnsubscribeUrl"], "https://sns.example/unsub");
        assert_eq!(record["Sns"]["Message"], "{\"events\":[]}");
        assert!(record["Sns"].get("SigningCertURL").is_none());
        // The approver's own event type accepts it.
        let parsed: aws_lambda_events::event::sns::SnsEvent =
            serde_json::from_value(event).unwrap();
        assert_eq!(parsed.records[0].sns.message_id, "m-1");
    }

    #[test]
    fn refuses_what_is_not_a_notification() {
        assert!(sns_event("not json", "arn:sub").is_err());
        assert!(sns_event(r#"{"Type":"SubscriptionConfirmation"}"#, "arn:sub").is_err());
    }
}

//! Reading an invocation's raw event, pure and total: every JSON value gives
//! an [`Invocation`], nothing panics. What AWS publishes for endpoint
//! connection events is undocumented (privatelink-facts §1.2), so a
//! notification is only a trigger; its body is scanned for ids to log and
//! to use as a hint, never for anything a decision depends on.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::SnsEvent;
use privatelink_core::approval::config::is_service_id;
use serde::Deserialize;
use serde_json::Value;

/// The most ids of each kind kept from one message (the rest are noise).
const MAX_IDS: usize = 16;

/// What an invocation asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// SNS notifications (possibly none: `Records` was empty).
    Sns(Vec<Notification>),
    /// The scheduled sweep (an EventBridge `Scheduled Event`).
    Sweep { event_id: Option<String> },
    /// Neither; the reason says what was seen.
    Unrecognized { reason: String },
}

/// One SNS record, reduced to what is logged and hinted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub message_id: String,
    pub topic_arn: Option<String>,
    pub subject: Option<String>,
    /// The message exactly as published.
    pub message: String,
    /// Whether the message parsed as JSON.
    pub is_json: bool,
    /// Strings in the message that look like endpoint ids (`vpce-` then
    /// letters and digits), in order of appearance, deduplicated.
    pub endpoint_ids: Vec<String>,
    /// Strings in the message that look like endpoint service ids.
    pub service_ids: Vec<String>,
}

impl Notification {
    fn new(
        message_id: String,
        topic_arn: Option<String>,
        subject: Option<String>,
        message: String,
    ) -> Self {
        let parsed = serde_json::from_str::<Value>(&message).ok();
        let (endpoint_ids, service_ids) = parsed.as_ref().map(scan_ids).unwrap_or_default();
        Notification {
            message_id,
            topic_arn,
            subject,
            message,
            is_json: parsed.is_some(),
            endpoint_ids,
            service_ids,
        }
    }
}

/// True for an interface endpoint id: `vpce-` and then only lowercase
/// letters and digits (so not `vpce-svc-...` nor `vpce-nfn-...`).
pub fn is_endpoint_id(raw: &str) -> bool {
    raw.strip_prefix("vpce-").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// Every string value in `value` (at any depth, keys excluded) that looks
/// like an endpoint id or a service id. Iterative, so no input depth can
/// overflow the stack.
pub fn scan_ids(value: &Value) -> (Vec<String>, Vec<String>) {
    let mut endpoints: Vec<String> = Vec::new();
    let mut services: Vec<String> = Vec::new();
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => {
                let s = s.trim();
                if is_endpoint_id(s) {
                    if endpoints.len() < MAX_IDS && !endpoints.iter().any(|e| e == s) {
                        endpoints.push(s.to_string());
                    }
                } else if is_service_id(s)
                    && services.len() < MAX_IDS
                    && !services.iter().any(|e| e == s)
                {
                    services.push(s.to_string());
                }
            }
            // Reversed so values come off the stack in document order.
            Value::Array(items) => stack.extend(items.iter().rev()),
            Value::Object(map) => stack.extend(map.values().rev()),
            _ => {}
        }
    }
    (endpoints, services)
}

/// Reads a raw invocation event.
pub fn parse_event(event: &Value) -> Invocation {
    if let Some(records) = event.get("Records") {
        return parse_records(event, records);
    }
    let source = event.get("source").and_then(Value::as_str);
    let detail_type = event.get("detail-type").and_then(Value::as_str);
    match (source, detail_type) {
        (Some("aws.events"), Some("Scheduled Event")) => {
            let event_id = EventBridgeEvent::<Value>::deserialize(event)
                .ok()
                .and_then(|e| e.id)
                .or_else(|| event.get("id").and_then(Value::as_str).map(str::to_string));
            Invocation::Sweep { event_id }
        }
        (Some(source), Some(detail_type)) => Invocation::Unrecognized {
            reason: format!(
                "an EventBridge event from {source:?} ({detail_type:?}), not the scheduled sweep"
            ),
        },
        _ => Invocation::Unrecognized {
            reason: format!(
                "neither an SNS event nor a scheduled event (a JSON {})",
                kind(event)
            ),
        },
    }
}

fn parse_records(event: &Value, records: &Value) -> Invocation {
    let Some(items) = records.as_array() else {
        return Invocation::Unrecognized {
            reason: format!("Records is a JSON {}, not an array", kind(records)),
        };
    };
    if let Ok(sns) = SnsEvent::deserialize(event) {
        return Invocation::Sns(
            sns.records
                .into_iter()
                .map(|r| {
                    Notification::new(
                        r.sns.message_id,
                        Some(r.sns.topic_arn),
                        r.sns.subject,
                        r.sns.message,
                    )
                })
                .collect(),
        );
    }
    // Not the exact shape the type expects (a field missing or of another
    // type): still a notification if the records say they come from SNS.
    // Nothing is trusted from it anyway, and a missed trigger would delay
    // a customer until the next sweep.
    let sns_records: Vec<&Value> = items
        .iter()
        .filter(|r| {
            r.get("EventSource").and_then(Value::as_str) == Some("aws:sns")
                || r.get("Sns").is_some_and(Value::is_object)
        })
        .collect();
    if sns_records.is_empty() {
        let sources: Vec<&str> = items
            .iter()
            .filter_map(|r| {
                r.get("eventSource")
                    .or_else(|| r.get("EventSource"))
                    .and_then(Value::as_str)
            })
            .collect();
        return Invocation::Unrecognized {
            reason: format!("Records that are not SNS records (event sources {sources:?})"),
        };
    }
    Invocation::Sns(
        sns_records
            .into_iter()
            .map(|r| {
                let sns = r.get("Sns").unwrap_or(&Value::Null);
                let text = |key: &str| sns.get(key).and_then(Value::as_str).map(str::to_string);
                let message = match sns.get("Message") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                Notification::new(
                    text("MessageId").unwrap_or_else(|| "unknown".into()),
                    text("TopicArn"),
                    text("Subject"),
                    message,
                )
            })
            .collect(),
    )
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `text` cut to at most `max` bytes on a character boundary, and whether
/// it was cut.
pub fn truncate(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let end = text
        .char_indices()
        .map(|(i, _)| i)
        .take_while(|&i| i <= max)
        .last()
        .unwrap_or(0);
    (text.get(..end).unwrap_or(""), true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_found_at_any_depth_in_order() {
        let body = json!({
            "b": ["vpce-0abc", {"c": "vpce-svc-0123"}],
            "a": "vpce-nfn-0999",
            "d": " vpce-0def ",
            "e": "vpce-0abc",
            "vpce-0key": 1
        });
        let (endpoints, services) = scan_ids(&body);
        assert_eq!(endpoints, ["vpce-0abc", "vpce-0def"]);
        assert_eq!(services, ["vpce-svc-0123"]);
    }

    #[test]
    fn endpoint_ids() {
        for ok in ["vpce-0123456789abcdef0", "vpce-1"] {
            assert!(is_endpoint_id(ok), "{ok}");
        }
        for bad in [
            "vpce-",
            "vpce-svc-1",
            "vpce-nfn-1",
            "VPCE-1",
            "vpce-AB",
            "vpc-1",
        ] {
            assert!(!is_endpoint_id(bad), "{bad}");
        }
    }

    #[test]
    fn other_events() {
        let cases = [
            (json!({"Records": 3}), "Records is a JSON number"),
            (
                json!({"Records": [{"eventSource": "aws:sqs", "body": "x"}]}),
                "\"aws:sqs\"",
            ),
            (
                json!({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification"}),
                "not the scheduled sweep",
            ),
            (json!("hello"), "a JSON string"),
            (json!(null), "a JSON null"),
        ];
        for (event, fragment) in cases {
            match parse_event(&event) {
                Invocation::Unrecognized { reason } => {
                    assert!(reason.contains(fragment), "{reason}")
                }
                other => panic!("{event}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_loosely_shaped_sns_record_is_still_a_trigger() {
        let event = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"MessageId": "m-1", "Message": {"x": "vpce-0abc"}}}]});
        match parse_event(&event) {
            Invocation::Sns(n) => {
                assert_eq!(n.len(), 1);
                assert_eq!(n[0].message_id, "m-1");
                assert!(n[0].is_json);
                assert_eq!(n[0].endpoint_ids, ["vpce-0abc"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("abc", 5), ("abc", false));
        assert_eq!(truncate("abcdef", 3), ("abc", true));
        assert_eq!(truncate("ééé", 3), ("é", true));
        assert_eq!(truncate("é", 0), ("", true));
    }
}

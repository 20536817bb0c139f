//! Properties of the security boundary over arbitrary input: whatever the
//! event says and whatever connections AWS lists (owners near-missing the
//! allowlist, states in any casing, missing fields), no non-allowlisted
//! owner is ever accepted, nothing but `pendingAcceptance` is accepted, and
//! nothing panics.
//!
//! The bulk (10,000 cases) runs the pure parts, event parsing and planning;
//! a smaller run goes through the real handler and SDK client with EC2
//! faked, and checks the Accept calls actually made.

mod common;

use approver_lambda::event::{parse_event, Invocation};
use approver_lambda::handler::{handle, Approver};
use endpoint_service::approval::{
    plan, AccountId, Allowlist, ApproverConfig, Connection, Decision, NonAllowlistedPolicy,
};
use endpoint_service::state::EndpointState;
use proptest::prelude::*;
use serde_json::{json, Value};

const POOL: [&str; 4] = [
    "111111111111",
    "222222222222",
    "012345678901",
    "999999999999",
];
const STATES: [&str; 10] = [
    "pendingAcceptance",
    "pending",
    "available",
    "rejected",
    "deleting",
    "deleted",
    "failed",
    "expired",
    "partial",
    "PendingAcceptance ",
];

fn cased(word: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<bool>(), word.len()).prop_map(move |upper| {
        word.chars()
            .zip(upper)
            .map(|(c, u)| {
                if u {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    })
}

fn state() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        8 => proptest::sample::select(STATES.to_vec()).prop_flat_map(cased).prop_map(Some),
        1 => ".{0,20}".prop_map(Some),
        1 => Just(None),
    ]
}

fn owner() -> impl Strategy<Value = Option<String>> {
    let pool = proptest::sample::select(POOL.to_vec()).prop_map(str::to_string);
    prop_oneof![
        6 => pool.clone().prop_map(Some),
        // Near-misses of listed ids.
        2 => (pool.clone(), "[ 0\t\n-]{1,2}", any::<bool>())
            .prop_map(|(id, extra, front)| Some(if front { extra + &id } else { id + &extra })),
        1 => pool.prop_map(|id| Some(id[1..].to_string())),
        1 => "[0-9]{12}".prop_map(Some),
        1 => ".{0,14}".prop_map(Some),
        1 => Just(None),
    ]
}

fn connections() -> impl Strategy<Value = Vec<Connection>> {
    proptest::collection::vec(
        ("vpce-[0-9a-f]{1,3}", owner(), state()).prop_map(|(id, owner, state)| Connection {
            endpoint_id: id,
            owner,
            state: state.map(|s| EndpointState::from_wire(&s)),
        }),
        0..24,
    )
}

fn config() -> impl Strategy<Value = ApproverConfig> {
    (
        proptest::sample::subsequence(POOL[..3].to_vec(), 1..=3),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(ids, leave, revoke, dry_run)| ApproverConfig {
            service_id: common::SVC.into(),
            allowlist: Allowlist::from_ids(
                ids.into_iter().filter_map(|id| AccountId::parse(id).ok()),
            ),
            non_allowlisted: if leave {
                NonAllowlistedPolicy::LeavePending
            } else {
                NonAllowlistedPolicy::Reject
            },
            revoke,
            dry_run,
        })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        "vpce-[0-9a-f]{1,4}".prop_map(Value::from),
        "vpce-svc-[0-9a-f]{1,4}".prop_map(Value::from),
        proptest::sample::select(POOL.to_vec()).prop_map(Value::from),
        proptest::sample::select(STATES.to_vec()).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("vpcEndpointId".to_string()),
                    Just("vpcEndpointOwner".to_string()),
                    Just("serviceId".to_string()),
                    Just("endpointState".to_string()),
                    "[a-zA-Z]{1,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A message body: arbitrary text, arbitrary JSON, or a well-formed claim
/// that an allowlisted owner made a request.
fn message() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        json_value().prop_map(|v| v.to_string()),
        ("vpce-[0-9a-f]{1,3}", proptest::sample::select(POOL.to_vec())).prop_map(|(id, owner)| {
            json!({"vpcEndpointId": id, "vpcEndpointOwner": owner, "vpcEndpointState": "pendingAcceptance", "eventType": "Connect"}).to_string()
        }),
    ]
}

fn sns_record(message_id: String, message: Value) -> Value {
    json!({
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:111122223333:t:s",
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": "arn:aws:sns:us-east-1:111122223333:t",
            "Subject": null,
            "Message": message,
            "Timestamp": "2026-11-22T05:00:00.000Z",
            "SignatureVersion": "1",
            "Signature": "x",
            "SigningCertUrl": "https://example.invalid/c.pem",
            "UnsubscribeUrl": "https://example.invalid/u",
            "MessageAttributes": {}
        }
    })
}

/// Events: well-formed SNS envelopes, envelopes with a wrong field type,
/// schedules, and arbitrary JSON.
fn event() -> impl Strategy<Value = Value> {
    let records = proptest::collection::vec(
        (
            "[a-f0-9-]{0,12}",
            prop_oneof![
                4 => message().prop_map(Value::from),
                1 => json_value(),
            ],
        )
            .prop_map(|(id, m)| sns_record(id, m)),
        0..5,
    );
    prop_oneof![
        5 => records.prop_map(|r| json!({"Records": r})),
        1 => Just(json!({"source": "aws.events", "detail-type": "Scheduled Event", "id": "e", "detail": {}})),
        2 => json_value(),
        1 => json_value().prop_map(|v| json!({"Records": v})),
    ]
}

/// The security property on one plan.
fn check_plan(config: &ApproverConfig, connections: &[Connection]) -> Result<(), TestCaseError> {
    for p in plan(config, connections) {
        let owner = p.connection.owner.as_deref();
        let listed = owner.is_some_and(|o| config.allowlist.contains(o));
        match p.decision {
            Decision::Accept => {
                prop_assert!(
                    listed,
                    "accepted owner {owner:?} not in {}",
                    config.allowlist
                );
                prop_assert!(owner.is_some_and(|o| POOL[..3].contains(&o)));
                prop_assert_eq!(
                    p.connection.state.as_ref(),
                    Some(&EndpointState::PendingAcceptance)
                );
            }
            Decision::Reject => prop_assert!(!listed, "rejected allowlisted owner {owner:?}"),
            Decision::Leave => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn no_event_and_no_listing_accepts_a_non_allowlisted_owner(
        config in config(),
        event in event(),
        connections in connections(),
    ) {
        // Parsing any event is total; hints only ever are endpoint ids.
        if let Invocation::Sns(notifications) = parse_event(&event) {
            for n in notifications {
                for id in &n.endpoint_ids {
                    prop_assert!(approver_lambda::event::is_endpoint_id(id));
                }
            }
        }
        check_plan(&config, &connections)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_handler_only_ever_calls_accept_for_allowlisted_pending_requests(
        config in config(),
        event in event(),
        listed in proptest::collection::vec(
            ("vpce-[0-9a-f]{1,3}", owner(), state()),
            0..12,
        ),
    ) {
        let sdk: Vec<_> = listed
            .iter()
            .map(|(id, owner, state)| {
                let mut c = aws_sdk_ec2::types::VpcEndpointConnection::builder()
                    .service_id(common::SVC)
                    .vpc_endpoint_id(id);
                if let Some(owner) = owner {
                    c = c.vpc_endpoint_owner(owner);
                }
                if let Some(state) = state {
                    c = c.vpc_endpoint_state(aws_sdk_ec2::types::State::from(state.as_str()));
                }
                c.build()
            })
            .collect();
        let fake = common::Fake::new(sdk.clone());
        let approver = Approver { ec2: fake.client(), config: Ok(config.clone()) };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let result = runtime.block_on(handle(&approver, event));
        prop_assert!(result.is_ok(), "{result:?}");
        for id in fake.accepted().into_iter().flatten() {
            // The first listing of an id is the one decided.
            let c = sdk.iter().find(|c| c.vpc_endpoint_id() == Some(id.as_str()));
            let owner = c.and_then(|c| c.vpc_endpoint_owner());
            let state = c.and_then(|c| c.vpc_endpoint_state()).map(EndpointState::from_sdk);
            prop_assert!(owner.is_some_and(|o| config.allowlist.contains(o)), "{id} owner {owner:?}");
            prop_assert_eq!(state, Some(EndpointState::PendingAcceptance));
            prop_assert!(!config.dry_run);
        }
    }
}

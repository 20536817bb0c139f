"""Connection notifications: who is notified, the topic policy check, publishing.

AWS publishes `Connect`/`Accept`/`Reject`/`Delete` events to the SNS topics of matching
connection notifications, as the service principal `vpce.amazonaws.com`
(https://docs.aws.amazon.com/vpc/latest/privatelink/create-notification-endpoint-service.html).
Here the message goes through moto's own SNS backend of the topic's account and Region, so
subscribers (SQS, HTTP) get moto's real SNS envelope. As on AWS, a notification that cannot
be delivered (no such topic, topic policy does not allow it, subscriber failure) is dropped:
it is logged to stderr and never fails the EC2 call that caused it.
"""

import json
import re
import sys
from datetime import datetime, timezone
from typing import Any

from moto.sns.models import sns_backends

from .connections import Connection, notifications_of
from .paging import wildcard_match

SERVICE_PRINCIPAL = "vpce.amazonaws.com"
TOPIC_ARN = re.compile(
    r"^arn:aws[a-z-]*:sns:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):[A-Za-z0-9_.-]+$"
)


def fire(event: str, connection: Connection) -> None:
    """Publish `event` for `connection` to every notification subscribed to it."""
    service, endpoint = connection.service, connection.endpoint
    provider, consumer = service.ec2_backend, endpoint.ec2_backend
    service_arn = (
        f"arn:aws:ec2:{provider.region_name}:{provider.account_id}:"
        f"vpc-endpoint-service/{service.id}"
    )
    # ASSUMED: an endpoint's own notification is published with the endpoint's ARN and
    # the consumer's account as source (AWS documents only the service case).
    endpoint_arn = (
        f"arn:aws:ec2:{consumer.region_name}:{consumer.account_id}:vpc-endpoint/{endpoint.id}"
    )
    targets = [
        (n, service_arn, provider.account_id)
        for n in notifications_of(provider).values()
        if n.service_id == service.id and event in n.events
    ] + [
        (n, endpoint_arn, consumer.account_id)
        for n in notifications_of(consumer).values()
        if n.vpc_endpoint_id == endpoint.id and event in n.events
    ]
    for notification, source_arn, source_account in targets:
        body = message_body(event, connection, notification.notification_id)
        try:
            _deliver(notification.topic_arn, body, source_arn, source_account)
        except Exception as exc:  # noqa: BLE001 - a failed delivery must not fail the call
            _log(
                f"dropped {event} notification to {notification.topic_arn}: "
                f"{type(exc).__name__}: {exc}"
            )


def message_body(event: str, connection: Connection, notification_id: str) -> str:
    """ASSUMED format: AWS does not document the published message (see README.md)."""
    now = datetime.now(timezone.utc)
    return json.dumps(
        {
            "eventType": event,
            "serviceId": connection.service.id,
            "vpcEndpointId": connection.endpoint.id,
            "vpcEndpointOwner": connection.consumer_account,
            "vpcEndpointState": connection.state,
            "connectionNotificationId": notification_id,
            "timestamp": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        },
        separators=(",", ":"),
    )


def _deliver(topic_arn: str, body: str, source_arn: str, source_account: str) -> None:
    match = TOPIC_ARN.match(topic_arn)
    # dict.get: look the backend up without creating one for an unknown account.
    backend = match and dict.get(dict.get(sns_backends, match["account"]) or {}, match["region"])
    topic = backend.topics.get(topic_arn) if backend else None
    if topic is None:
        _log(f"dropped notification: topic {topic_arn} does not exist")
        return
    if not publish_allowed(topic._policy_json, topic_arn, source_arn, source_account):
        _log(
            f"dropped notification: the policy of {topic_arn} does not let "
            f"{SERVICE_PRINCIPAL} publish for {source_arn}"
        )
        return
    backend.publish(body, arn=topic_arn)


def publish_allowed(
    policy: dict[str, Any], topic_arn: str, source_arn: str, source_account: str
) -> bool:
    """IAM-style evaluation of the statements that name the vpce service principal.

    Deliver iff an Allow statement applies and no Deny statement does. A statement
    applies when its Principal names `vpce.amazonaws.com`, its Action covers
    `sns:Publish`, its Resource covers the topic and all its conditions hold. Statements
    with NotPrincipal/NotAction/NotResource, unknown condition operators or unknown
    condition keys never apply (so an Allow fails closed).
    """
    context = {
        "aws:sourcearn": source_arn,
        "aws:sourceaccount": source_account,
        "aws:sourceowner": source_account,
    }
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    effects = {s.get("Effect") for s in statements if _applies(s, topic_arn, context)}
    return "Allow" in effects and "Deny" not in effects


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _applies(statement: dict[str, Any], topic_arn: str, context: dict[str, str]) -> bool:
    if {"NotPrincipal", "NotAction", "NotResource"} & statement.keys():
        return False
    principal = statement.get("Principal")
    if not isinstance(principal, dict) or SERVICE_PRINCIPAL not in _as_list(
        principal.get("Service")
    ):
        return False
    if not any(wildcard_match(a, "sns:Publish", True) for a in _as_list(statement.get("Action"))):
        return False
    if not any(wildcard_match(r, topic_arn) for r in _as_list(statement.get("Resource"))):
        return False
    return all(
        _condition_holds(operator, key, values, context)
        for operator, entries in (statement.get("Condition") or {}).items()
        for key, values in entries.items()
    )


def _condition_holds(operator: str, key: str, values: Any, context: dict[str, str]) -> bool:
    actual = context.get(key.lower())
    operator = operator.removesuffix("IfExists")  # the keys always exist here
    if actual is None:
        return False
    if operator == "StringEquals":
        return actual in map(str, _as_list(values))
    if operator in ("StringLike", "ArnLike", "ArnEquals"):
        # IAM: ArnEquals and ArnLike both accept wildcards.
        return any(wildcard_match(str(v), actual) for v in _as_list(values))
    return False


def _log(message: str) -> None:
    print(f"privatelink-emulator: {message}", file=sys.stderr, flush=True)

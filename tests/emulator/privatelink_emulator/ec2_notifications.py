"""EC2 actions for connection notifications (moto has none of them).

Create/Describe/Modify/DeleteVpcEndpointConnectionNotification(s), following the EC2 API
reference (API_CreateVpcEndpointConnectionNotification.html and neighbours). A
notification belongs to the account and Region that created it, and names either one of
that account's endpoint services or one of its interface endpoints. Delivery is in
`notify.py`.

Each function is installed as a method of moto's `EC2Response` by `ec2_patches.apply()`.
"""

import json
from typing import Any

from moto.core.responses import ActionResult

from .connections import EVENTS, LOCK, ConnectionNotification, client_tokens, notifications_of
from .errors import (
    endpoint_id_not_found,
    error,
    idempotent_mismatch,
    invalid_value,
    missing_parameter,
    service_id_not_found,
    unsuccessful,
)
from .ids import check_endpoint_id, check_service_id
from .notify import TOPIC_ARN
from .paging import matches, page, parse_filters


def _not_found(notification_id: str) -> Any:
    # ASSUMED wording; the code is the one in the EC2 error list.
    return error(
        "InvalidConnectionNotification",
        f"The connection notification '{notification_id}' does not exist",
    )


def _topic_arn(arn: str | None) -> str:
    if not arn:
        raise missing_parameter("ConnectionNotificationArn")
    if not TOPIC_ARN.match(arn):
        # ASSUMED: AWS's exact check is undocumented; any SNS topic ARN is accepted.
        raise invalid_value(f"Value ({arn}) for parameter connectionNotificationArn is invalid.")
    return arn


def _events(events: list[str] | None) -> list[str]:
    if not events:
        raise missing_parameter("ConnectionEvents")
    for event in events:
        if event not in EVENTS:
            raise invalid_value(
                f"Value ({event}) for parameter connectionEvents is invalid. "
                f"Valid values: {', '.join(EVENTS)}"
            )
    return list(dict.fromkeys(events))  # drop repeats, keep order


def create_vpc_endpoint_connection_notification(self: Any) -> ActionResult:
    self.error_on_dryrun()
    backend = self.ec2_backend
    service_id = self._get_param("ServiceId")
    endpoint_id = self._get_param("VpcEndpointId")
    token = self._get_param("ClientToken")
    fingerprint = json.dumps(
        [
            service_id,
            endpoint_id,
            self._get_param("ConnectionNotificationArn"),
            self._get_param("ConnectionEvents"),
        ]
    )
    with LOCK:
        tokens = client_tokens(backend, "CreateVpcEndpointConnectionNotification")
        seen, notification_id = tokens.get(token, (None, None))
        # ASSUMED: a token whose notification was deleted since is free again.
        notification = notifications_of(backend).get(notification_id)
        if notification is not None and seen != fingerprint:
            raise idempotent_mismatch(token)
        if notification is None:
            if bool(service_id) == bool(endpoint_id):
                # The API takes "ServiceId or VpcEndpointId"; ASSUMED error code.
                raise error(
                    "InvalidParameterCombination",
                    "Specify exactly one of ServiceId and VpcEndpointId.",
                )
            check_service_id(service_id)
            check_endpoint_id(endpoint_id)
            if service_id and service_id not in backend.configurations:
                raise service_id_not_found(service_id)
            if endpoint_id:
                endpoint = backend.vpc_end_points.get(endpoint_id)
                # "You can create a connection notification for interface endpoints only."
                if endpoint is None or (endpoint.vpc_endpoint_type or "").lower() != "interface":
                    raise endpoint_id_not_found(endpoint_id)
            notification = ConnectionNotification(
                _topic_arn(self._get_param("ConnectionNotificationArn")),
                _events(self._get_param("ConnectionEvents")),
                service_id,
                endpoint_id,
                self.region,
            )
            notifications_of(backend)[notification.notification_id] = notification
            if token:
                tokens[token] = (fingerprint, notification.notification_id)
    return ActionResult({"ConnectionNotification": notification.to_api(), "ClientToken": token})


def describe_vpc_endpoint_connection_notifications(self: Any) -> ActionResult:
    self.error_on_dryrun()
    filters = parse_filters(
        self._get_param("Filters", []),
        (
            "connection-notification-arn",
            "connection-notification-id",
            "connection-notification-state",
            "connection-notification-type",
            "service-id",
            "vpc-endpoint-id",
        ),
    )
    wanted = self._get_param("ConnectionNotificationId")
    with LOCK:
        items = list(notifications_of(self.ec2_backend).values())
    if wanted:
        items = [n for n in items if n.notification_id == wanted]
        if not items:
            raise _not_found(wanted)
    items = [n.to_api() for n in items if matches(filters, lambda f: n.filter_values()[f])]
    # ASSUMED: no minimum MaxResults is documented for this call.
    chunk, token = page(items, self._get_int_param("MaxResults"), self._get_param("NextToken"), 1)
    return ActionResult({"ConnectionNotificationSet": chunk, "NextToken": token})


def modify_vpc_endpoint_connection_notification(self: Any) -> ActionResult:
    self.error_on_dryrun()
    notification_id = self._get_param("ConnectionNotificationId")
    arn = self._get_param("ConnectionNotificationArn")
    events = self._get_param("ConnectionEvents")
    with LOCK:
        notification = notifications_of(self.ec2_backend).get(notification_id)
        if notification is None:
            raise _not_found(notification_id)
        if arn is not None:
            notification.topic_arn = _topic_arn(arn)
        if events is not None:
            notification.events = _events(events)
    return ActionResult({"ReturnValue": True})


def delete_vpc_endpoint_connection_notifications(self: Any) -> ActionResult:
    self.error_on_dryrun()
    failed = []
    with LOCK:
        notifications = notifications_of(self.ec2_backend)
        for notification_id in self._get_param("ConnectionNotificationIds", []):
            if notifications.pop(notification_id, None) is None:
                failed.append(unsuccessful(notification_id, _not_found(notification_id)))
    return ActionResult({"Unsuccessful": failed})


ACTIONS = {
    f.__name__: f
    for f in (
        create_vpc_endpoint_connection_notification,
        describe_vpc_endpoint_connection_notifications,
        modify_vpc_endpoint_connection_notification,
        delete_vpc_endpoint_connection_notifications,
    )
}

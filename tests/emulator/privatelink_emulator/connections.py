"""The connection and connection-notification model.

Owns:
- `SETTINGS`: runtime knobs shared with the control API (how long `pending`, `deleting`
  and a `deleted` endpoint last).
- `LOCK`: held by every PrivateLink action, so a state change and the notifications it
  fires happen atomically with respect to other requests on the threaded server.
- `Connection`: one consumer interface endpoint attached to one provider endpoint service.
  It is the single source of truth for the state both sides see: the consumer's
  `VpcEndpoint.State` and the provider's `VpcEndpointConnection.VpcEndpointState` are
  both read from it (see `endpoint_state_property`).
- `ConnectionNotification`: an SNS topic subscribed to connection events.

All state hangs off moto's own objects (service configuration, endpoint, EC2 backend),
so moto's `POST /moto-api/reset` clears it together with everything else.
"""

import itertools
import threading
import time
from typing import Any

from moto.moto_api._internal import mock_random

LOCK = threading.RLock()

# Wire values, in AWS's casing (the API model's enum says PascalCase, the service sends
# these; see privatelink-facts.md section 2).
PENDING_ACCEPTANCE = "pendingAcceptance"
PENDING = "pending"
AVAILABLE = "available"
REJECTED = "rejected"
DELETING = "deleting"
DELETED = "deleted"
ACTIVE_STATES = (PENDING_ACCEPTANCE, PENDING, AVAILABLE)

EVENTS = ("Accept", "Connect", "Delete", "Reject")


class Settings:
    """Runtime configuration, changed through `POST /_privatelink/config`.

    - `pending_seconds`: `pending` -> `available` (after an accept, or a new connection
      to a service without acceptance);
    - `deleting_seconds`: `deleting` -> `deleted` after DeleteVpcEndpoints;
    - `deleted_visible_seconds`: how long a `deleted` endpoint (and its connection) is
      still listed before it is gone;
    - `route53_pending_seconds`: a Route 53 change is PENDING, then INSYNC
      (`route53_strict.py`);
    - `nlb_provisioning_seconds`: a new load balancer is `provisioning`, then `active`
      (`elbv2_patches.py`).
    """

    KEYS = (
        "pending_seconds",
        "deleting_seconds",
        "deleted_visible_seconds",
        "route53_pending_seconds",
        "nlb_provisioning_seconds",
    )

    def __init__(self) -> None:
        self.pending_seconds = 2.0
        self.deleting_seconds = 0.5
        self.deleted_visible_seconds = 60.0
        self.route53_pending_seconds = 0.5  # a Route 53 change: PENDING -> INSYNC
        # 0: `active` at the first Describe, as moto does, so tests never wait for the
        # SDK waiter's 15 s poll. Benchmarks that measure waits set it (regions bench).
        self.nlb_provisioning_seconds = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.KEYS}


SETTINGS = Settings()


class Lifecycle:
    """An endpoint's state with its timed steps, computed when read.

    `pending` -> `available` after `pending_seconds`, `deleting` -> `deleted` after
    `deleting_seconds`; a `deleted` endpoint is `gone` `deleted_visible_seconds` later.
    The steps happen lazily: the first read after the delay makes them for good, so a
    later, longer setting cannot send a state back.
    """

    def __init__(self, state: str) -> None:
        self._since = time.monotonic()
        self._state = state

    @property
    def state(self) -> str:
        now = time.monotonic()
        if self._state == PENDING and now - self._since >= SETTINGS.pending_seconds:
            self._state, self._since = AVAILABLE, self._since + SETTINGS.pending_seconds
        if self._state == DELETING and now - self._since >= SETTINGS.deleting_seconds:
            self._state, self._since = DELETED, self._since + SETTINGS.deleting_seconds
        return self._state

    @state.setter
    def state(self, value: str) -> None:
        self._state, self._since = value, time.monotonic()

    @property
    def gone(self) -> bool:
        """Deleted long enough ago that it is no longer listed."""
        return (
            self.state == DELETED
            and time.monotonic() - self._since >= SETTINGS.deleted_visible_seconds
        )


class Connection(Lifecycle):
    """A consumer endpoint's connection to a provider's endpoint service."""

    _sequence = itertools.count()

    def __init__(self, service: Any, endpoint: Any, state: str) -> None:
        super().__init__(state)
        self.sequence = next(self._sequence)  # creation order, across services
        self.connection_id = f"vpce-con-{mock_random.get_random_hex(17)}"
        self.service = service
        self.endpoint = endpoint

    @property
    def consumer_account(self) -> str:
        return self.endpoint.ec2_backend.account_id

    def to_api(self) -> dict[str, Any]:
        """The `VpcEndpointConnection` shape of DescribeVpcEndpointConnections."""
        result = {
            "ServiceId": self.service.id,
            "VpcEndpointId": self.endpoint.id,
            "VpcEndpointOwner": self.consumer_account,
            "VpcEndpointState": self.state,
            "CreationTimestamp": self.endpoint.creation_timestamp,
            "DnsEntries": self.endpoint.dns_entries,
            "NetworkLoadBalancerArns": list(self.service.network_load_balancer_arns),
            "IpAddressType": "ipv4",
            "VpcEndpointConnectionId": self.connection_id,
            "VpcEndpointRegion": self.endpoint.ec2_backend.region_name,
        }
        if self.service.gateway_load_balancer_arns:
            result["GatewayLoadBalancerArns"] = list(self.service.gateway_load_balancer_arns)
        return result


class ConnectionNotification:
    """A `ConnectionNotification` (EC2 API reference), for a service or an endpoint."""

    def __init__(
        self,
        topic_arn: str,
        events: list[str],
        service_id: str | None,
        vpc_endpoint_id: str | None,
        region: str,
    ) -> None:
        self.notification_id = f"vpce-nfn-{mock_random.get_random_hex(17)}"
        self.topic_arn = topic_arn
        self.events = events
        self.service_id = service_id
        self.vpc_endpoint_id = vpc_endpoint_id
        self.region = region

    def to_api(self) -> dict[str, Any]:
        result = {
            "ConnectionNotificationId": self.notification_id,
            "ConnectionNotificationType": "Topic",
            "ConnectionNotificationArn": self.topic_arn,
            "ConnectionEvents": list(self.events),
            "ConnectionNotificationState": "Enabled",
            "ServiceRegion": self.region,
        }
        if self.service_id:
            result["ServiceId"] = self.service_id
        if self.vpc_endpoint_id:
            result["VpcEndpointId"] = self.vpc_endpoint_id
        return result

    def filter_values(self) -> dict[str, list[str]]:
        """Values per documented DescribeVpcEndpointConnectionNotifications filter."""
        return {
            "connection-notification-arn": [self.topic_arn],
            "connection-notification-id": [self.notification_id],
            "connection-notification-state": ["Enabled"],
            "connection-notification-type": ["Topic"],
            "service-id": [self.service_id or ""],
            "vpc-endpoint-id": [self.vpc_endpoint_id or ""],
        }


# --- where the state lives on moto's objects -------------------------------------------


def connections_of(service: Any) -> list[Connection]:
    """The service's connections, in creation order (the documented stable order)."""
    return service.__dict__.setdefault("_pl_connections", [])


def orphans_of(ec2_backend: Any) -> list[Connection]:
    """Connections of this account's deleted services: AWS keeps listing them."""
    return ec2_backend.__dict__.setdefault("_pl_orphans", [])


def provider_connections(ec2_backend: Any) -> list[Connection]:
    """Every connection the account sees as a provider, in creation order: those of its
    services and of its deleted services, without the ones that are gone."""
    lists = [connections_of(s) for s in list(ec2_backend.configurations.values())]
    lists.append(orphans_of(ec2_backend))
    for connections in lists:
        connections[:] = [c for c in connections if not c.gone]
    return sorted((c for cs in lists for c in cs), key=lambda c: c.sequence)


def lifecycle_of(endpoint: Any) -> Lifecycle:
    """The endpoint's state holder: its connection, or its own for other endpoints."""
    connection = endpoint.__dict__.get("_pl_connection")
    if connection is not None:
        return connection
    return endpoint.__dict__.setdefault("_pl_lifecycle", Lifecycle(AVAILABLE))


def purge_gone(ec2_backend: Any) -> None:
    """Drops this account's endpoints whose `deleted` state has run out."""
    for endpoint_id, endpoint in list(ec2_backend.vpc_end_points.items()):
        if lifecycle_of(endpoint).gone:
            ec2_backend.vpc_end_points.pop(endpoint_id, None)


def connection_of(endpoint: Any) -> Connection | None:
    return endpoint.__dict__.get("_pl_connection")


def attach(service: Any, endpoint: Any, state: str) -> Connection:
    connection = Connection(service, endpoint, state)
    connections_of(service).append(connection)
    endpoint.__dict__["_pl_connection"] = connection
    return connection


def notifications_of(ec2_backend: Any) -> dict[str, ConnectionNotification]:
    """Notifications created in this account and Region, in creation order."""
    return ec2_backend.__dict__.setdefault("_pl_notifications", {})


def client_tokens(ec2_backend: Any, action: str) -> dict[str, tuple[str, str]]:
    """ClientToken -> (request fingerprint, resource id), per account, Region and action."""
    return ec2_backend.__dict__.setdefault("_pl_tokens", {}).setdefault(action, {})


def _get_endpoint_state(endpoint: Any) -> str:
    return lifecycle_of(endpoint).state


def _set_endpoint_state(endpoint: Any, value: str) -> None:
    # moto assigns `state` itself (in VPCEndPoint.__init__ and delete_vpc_endpoints);
    # for a connected endpoint the assignment goes to the shared connection.
    lifecycle_of(endpoint).state = value


endpoint_state_property = property(_get_endpoint_state, _set_endpoint_state)

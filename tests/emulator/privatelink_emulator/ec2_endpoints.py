"""EC2 actions of the connection lifecycle: consumer endpoints and provider decisions.

Replaces moto's CreateVpcEndpoint, DescribeVpcEndpoints and DeleteVpcEndpoints, and adds
DescribeVpcEndpointConnections, AcceptVpcEndpointConnections and
RejectVpcEndpointConnections. Every CreateVpcEndpoint is first checked as AWS checks it
(`ec2_endpoint_checks.py`). An Interface endpoint to a custom service
(`com.amazonaws.vpce.REGION.vpce-svc-...`) is validated against the provider's service
in whatever account owns it (in `ServiceRegion`, possibly another Region than the
endpoint's: README §17) and creates a `Connection`; endpoints to AWS services and
Gateway endpoints keep moto's behaviour (plus ClientToken idempotency). Deleted endpoints
are `deleting`, then `deleted`, then gone (`connections.Lifecycle`).

Each function is installed as a method of moto's `EC2Response` by `ec2_patches.apply()`.
"""

import base64
import hashlib
import json
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.responses import EC2Response
from moto.moto_api._internal import mock_random

from . import ec2_endpoint_checks, notify
from .connections import (
    ACTIVE_STATES,
    DELETED,
    DELETING,
    LOCK,
    PENDING,
    PENDING_ACCEPTANCE,
    REJECTED,
    attach,
    client_tokens,
    connection_of,
    connections_of,
    provider_connections,
    purge_gone,
)
from .errors import (
    endpoint_id_not_found,
    error,
    idempotent_mismatch,
    invalid_service_name,
    missing_parameter,
    service_id_not_found,
    unsuccessful,
)
from .ids import check_endpoint_ids, check_service_id
from .lookup import service_zone_ids
from .paging import matches, page, parse_filters

# moto's own handlers, captured before ec2_patches.apply() replaces them.
MOTO_CREATE_VPC_ENDPOINT = EC2Response.create_vpc_endpoint
MOTO_DESCRIBE_VPC_ENDPOINTS = EC2Response.describe_vpc_endpoints

# The Route 53 zone that holds vpce DNS names, per Region. Values as seen in AWS's own
# DescribeVpcEndpoints examples (us-east-1: awsdocs amazon-vpc-user-guide
# vpce-interface.md) and kubernetes-sigs/external-dns's canonical zone table.
VPCE_HOSTED_ZONE_IDS = {
    "us-east-1": "Z7HUB22UULQXV",
    "us-east-2": "ZC8PG0KIFKBRI",
    "us-west-1": "Z12I86A8N7VCZO",
    "us-west-2": "Z1YSA3EXCYUU9Z",
    "eu-west-1": "Z38GZ743OKFT7T",
    "eu-west-2": "Z7K1066E3PUKB",
    "eu-central-1": "Z273ZU8SZ5RJPC",
    "ap-northeast-1": "Z2E726K9Y6RL4W",
    "ap-southeast-1": "Z18LLCSTV4NVNL",
    "ap-southeast-2": "ZDK2GCRPAFKGO",
}


def hosted_zone_id(region: str) -> str:
    """The Region's vpce zone; ASSUMED for other Regions: a stable made-up ID."""
    if region in VPCE_HOSTED_ZONE_IDS:
        return VPCE_HOSTED_ZONE_IDS[region]
    digest = base64.b32encode(hashlib.sha256(region.encode()).digest()).decode()
    return "Z" + digest[:13]


def _dns_entries(endpoint: Any, service: Any, zone_names: list[str]) -> list[dict]:
    """Regional entry first, then one zonal entry per subnet AZ, sharing one suffix.

    Formats from "DNS hostnames" (privatelink-share-your-services.md):
    ENDPOINT_ID-RAND.SERVICE_ID.SERVICE_REGION.vpce.amazonaws.com and
    ...-RAND-AZ.SERVICE_ID.... The hosted zone is the one of the endpoint's own Region
    (for a cross-Region endpoint ASSUMED, README §17).
    """
    region = service.ec2_backend.region_name
    suffix = f"{service.id}.{region}.vpce.amazonaws.com"
    prefix = f"{endpoint.id}-{mock_random.get_random_string(8, lower_case=True)}"
    zone = hosted_zone_id(endpoint.ec2_backend.region_name)
    names = [f"{prefix}.{suffix}"] + [f"{prefix}-{az}.{suffix}" for az in zone_names]
    return [{"DnsName": name, "HostedZoneId": zone} for name in names]


def _fingerprint(self: Any) -> str:
    """The request's parameters apart from ClientToken and DryRun, canonically."""
    params = {k: v for k, v in dict(self.params).items() if k not in ("ClientToken", "DryRun")}
    return json.dumps(params, sort_keys=True, default=str)


def _create_connected_endpoint(self: Any) -> Any:
    """Validate against the provider's service, let moto create, then connect."""
    backend = self.ec2_backend
    name = self._get_param("ServiceName")
    service = ec2_endpoint_checks.reachable_service(self, name)
    if service is None:
        raise invalid_service_name(name)
    # Cross-Region (README §17): "provider and consumer AZs do not have to line up"
    # (AZ IDs of another Region never match anyway); one subnet per AZ still holds.
    remote = service.ec2_backend.region_name != self.region
    supported = service_zone_ids(service)
    subnet_by_zone: dict[str, str] = {}
    zone_names = []
    for subnet_id in self._get_param("SubnetIds", []):
        subnet = backend.get_subnet(subnet_id)
        if not remote and subnet.availability_zone_id not in supported:
            raise error(
                "InvalidParameter",
                f"The VPC endpoint service {name} does not support the availability "
                f"zone of the subnet: {subnet_id}.",
            )
        if subnet.availability_zone_id in subnet_by_zone:
            raise error(
                "DuplicateSubnetsInSameZone",
                "Found another VPC endpoint subnet in the availability zone of "
                f"{subnet_by_zone[subnet.availability_zone_id]}.",
            )
        subnet_by_zone[subnet.availability_zone_id] = subnet_id
        zone_names.append(subnet.availability_zone)

    endpoint = MOTO_CREATE_VPC_ENDPOINT(self).result["VpcEndpoint"]
    endpoint.dns_entries = _dns_entries(endpoint, service, zone_names)
    endpoint.service_region = service.ec2_backend.region_name  # VpcEndpoint.ServiceRegion
    # Without acceptance: `pending`, then `available` after SETTINGS.pending_seconds
    # (the AWS CLI's create-vpc-endpoint example output shows `pending`).
    state = PENDING_ACCEPTANCE if service.acceptance_required else PENDING
    notify.fire("Connect", attach(service, endpoint, state))
    return endpoint


def create_vpc_endpoint(self: Any) -> ActionResult:
    token = self._get_param("ClientToken")
    fingerprint = _fingerprint(self)
    with LOCK:
        purge_gone(self.ec2_backend)
        # EC2 idempotency (ec2-api-idempotency.html): same token + same parameters
        # returns the original result; a different request with it is an error.
        tokens = client_tokens(self.ec2_backend, "CreateVpcEndpoint")
        if token in tokens and tokens[token][1] not in self.ec2_backend.vpc_end_points:
            del tokens[token]  # ASSUMED: a token is forgotten once its endpoint is gone
        if token in tokens:
            seen, endpoint_id = tokens[token]
            if seen != fingerprint:
                raise idempotent_mismatch(token)
            endpoint = self.ec2_backend.get_vpc_end_point(endpoint_id)
        else:
            checked = ec2_endpoint_checks.check(self)
            if checked.service is not None:
                endpoint = _create_connected_endpoint(self)
            else:
                endpoint = MOTO_CREATE_VPC_ENDPOINT(self).result["VpcEndpoint"]
            ec2_endpoint_checks.finish(endpoint, checked)
        if token:
            tokens[token] = (fingerprint, endpoint.id)
    return ActionResult({"VpcEndpoint": endpoint, "ClientToken": token})


def describe_vpc_endpoints(self: Any) -> ActionResult:
    check_endpoint_ids(self._get_param("VpcEndpointIds", []))
    with LOCK:
        purge_gone(self.ec2_backend)  # a `deleted` endpoint is listed for a while only
        return MOTO_DESCRIBE_VPC_ENDPOINTS(self)


def delete_vpc_endpoints(self: Any) -> ActionResult:
    backend = self.ec2_backend
    failed, endpoints = [], []
    ids = self._get_param("VpcEndpointIds", [])
    check_endpoint_ids(ids)
    with LOCK:
        purge_gone(backend)
        for endpoint_id in ids:
            endpoint = backend.vpc_end_points.get(endpoint_id)
            if endpoint is None or endpoint.state in (DELETING, DELETED):
                # moto reports nothing; AWS reports unknown and already deleted ids.
                failed.append(
                    unsuccessful(
                        endpoint_id,
                        error(
                            "InvalidVpcEndpoint.NotFound",
                            f"The Vpc Endpoint Id '{endpoint_id}' does not exist",
                        ),
                    )
                )
            else:
                endpoints.append(endpoint)
        # moto frees the network interfaces (or routes) and sets `deleted`; the state
        # (for a connected endpoint the shared connection state, see
        # connections.endpoint_state_property) is `deleting` first, for
        # SETTINGS.deleting_seconds (API: DescribeVpcEndpoints, State).
        backend.delete_vpc_endpoints([e.id for e in endpoints])
        for endpoint in endpoints:
            endpoint.state = DELETING
            connection = connection_of(endpoint)
            if connection is not None:
                notify.fire("Delete", connection)
    return ActionResult({"Unsuccessful": failed})


def _connection_values(connection: Any, name: str) -> list[str]:
    # `vpc-endpoint-region`: "The Region of the endpoint or `cross-region` to find
    # endpoints for other Regions" (API: DescribeVpcEndpointConnections; README §17).
    endpoint_region = connection.endpoint.ec2_backend.region_name
    regions = [endpoint_region]
    if endpoint_region != connection.service.ec2_backend.region_name:
        regions.append("cross-region")
    return {
        "service-id": [connection.service.id],
        "vpc-endpoint-id": [connection.endpoint.id],
        "vpc-endpoint-owner": [connection.consumer_account],
        "vpc-endpoint-state": [connection.state],
        "vpc-endpoint-region": regions,
        "ip-address-type": ["ipv4"],
    }[name]


def describe_vpc_endpoint_connections(self: Any) -> ActionResult:
    self.error_on_dryrun()
    filters = parse_filters(
        self._get_param("Filters", []),
        (
            "service-id",
            "vpc-endpoint-id",
            "vpc-endpoint-owner",
            "vpc-endpoint-state",
            "vpc-endpoint-region",
            "ip-address-type",
        ),
    )
    with LOCK:
        # Also the connections of deleted services (rejected ones stay listed on AWS).
        connections = provider_connections(self.ec2_backend)
        items = [
            c.to_api() for c in connections if matches(filters, lambda f: _connection_values(c, f))
        ]
    chunk, token = page(items, self._get_int_param("MaxResults"), self._get_param("NextToken"), 5)
    return ActionResult({"VpcEndpointConnections": chunk, "NextToken": token})


def _decide(self: Any, event: str, allowed_from: tuple[str, ...], new_state: str) -> ActionResult:
    """Accept or reject: per-endpoint problems go to Unsuccessful, the rest proceed."""
    self.error_on_dryrun()
    service_id = self._get_param("ServiceId")
    if not service_id:
        raise missing_parameter("ServiceId")
    check_service_id(service_id)
    check_endpoint_ids(self._get_param("VpcEndpointIds", []))
    failed = []
    with LOCK:
        service = self.ec2_backend.configurations.get(service_id)
        if service is None:
            raise service_id_not_found(service_id)
        by_endpoint = {c.endpoint.id: c for c in connections_of(service)}
        for endpoint_id in self._get_param("VpcEndpointIds", []):
            connection = by_endpoint.get(endpoint_id)
            if connection is None:
                failed.append(unsuccessful(endpoint_id, endpoint_id_not_found(endpoint_id)))
            elif connection.state not in allowed_from:
                # ASSUMED code and wording: AWS does not document this case.
                failed.append(
                    unsuccessful(
                        endpoint_id,
                        error(
                            "IncorrectState",
                            f"The VPC endpoint connection {endpoint_id} is in state "
                            f"'{connection.state}' and cannot be {event.lower()}ed.",
                        ),
                    )
                )
            else:
                connection.state = new_state
                notify.fire(event, connection)
    return ActionResult({"Unsuccessful": failed})


def accept_vpc_endpoint_connections(self: Any) -> ActionResult:
    # pendingAcceptance -> pending -> available (the delay is SETTINGS.pending_seconds).
    return _decide(self, "Accept", (PENDING_ACCEPTANCE,), PENDING)


def reject_vpc_endpoint_connections(self: Any) -> ActionResult:
    # "A provider may reject a connection that is already available."
    return _decide(self, "Reject", ACTIVE_STATES, REJECTED)


ACTIONS = {
    f.__name__: f
    for f in (
        create_vpc_endpoint,
        describe_vpc_endpoints,
        delete_vpc_endpoints,
        describe_vpc_endpoint_connections,
        accept_vpc_endpoint_connections,
        reject_vpc_endpoint_connections,
    )
}

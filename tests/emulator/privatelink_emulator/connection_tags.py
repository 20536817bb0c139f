"""Tags on VPC endpoint connections (`vpce-con-...`), as the provider sees them.

AWS models a connection as an EC2 resource of the service owner: `VpcEndpointConnection`
has `VpcEndpointConnectionId` and `Tags` (API: VpcEndpointConnection), `vpc-endpoint-connection`
is a taggable `ResourceType` (API: TagSpecification), and IAM names it
`arn:aws:ec2:REGION:ACCOUNT:vpc-endpoint-connection/ID`. So the provider tags a connection
with the ordinary CreateTags/DeleteTags on its connection id, and
DescribeVpcEndpointConnections returns the tags.

moto accepts any `vpce-...` id in CreateTags without checking it exists. This module:
- checks that every `vpce-con-` id in CreateTags/DeleteTags is a connection of a service the
  caller owns in this Region; otherwise `InvalidVpcEndpointConnectionId.NotFound` (code
  ASSUMED: AWS documents no code for this case), and nothing is tagged (CreateTags is
  all-or-nothing, like moto's own validation);
- stores the tags in moto's tag store of the service owner, so DescribeTags and
  `POST /moto-api/reset` treat them like any other EC2 tags;
- adds `Tags` to every `VpcEndpointConnection` (empty list when none).

Installed by `ec2_patches.apply()` through `apply()` below.
"""

from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.responses import EC2Response
from moto.ec2.models import validate_resource_ids

from .connections import LOCK, Connection, connections_of
from .errors import error

CONNECTION_PREFIX = "vpce-con-"

# moto's handlers and the model's serialiser, captured before apply() wraps them.
MOTO_CREATE_TAGS = EC2Response.create_tags
MOTO_DELETE_TAGS = EC2Response.delete_tags
PLAIN_TO_API = Connection.to_api


def connection_not_found(connection_id: str) -> Any:
    return error(
        "InvalidVpcEndpointConnectionId.NotFound",
        f"The VPC endpoint connection Id '{connection_id}' does not exist",
    )


def _owned_connection_ids(backend: Any) -> set[str]:
    """Connection ids of the services this account owns in this Region."""
    return {
        c.connection_id
        for service in list(backend.configurations.values())
        for c in connections_of(service)
    }


def _split_resources(self: Any) -> tuple[list[str], list[str]]:
    """(connection ids, other ids) of the request; unknown connection ids are an error."""
    resources = self._get_param("Resources", [])
    connections = [r for r in resources if r.startswith(CONNECTION_PREFIX)]
    others = [r for r in resources if not r.startswith(CONNECTION_PREFIX)]
    if connections:
        owned = _owned_connection_ids(self.ec2_backend)
        for connection_id in connections:
            if connection_id not in owned:
                raise connection_not_found(connection_id)
    return connections, others


def create_tags(self: Any) -> ActionResult:
    with LOCK:
        connections, others = _split_resources(self)
        if not connections:
            return MOTO_CREATE_TAGS(self)
        # moto's id check rejects `vpce-con-` ids, so its steps are repeated here
        # for the other ids, then everything is tagged at once.
        if others:
            validate_resource_ids(others)
            self.ec2_backend.do_resources_exist(others)
        tags = {tag["Key"]: tag["Value"] for tag in self._get_param("Tags", [])}
        self.error_on_dryrun()
        self.ec2_backend.create_tags(connections + others, tags)
        return EmptyResult()


def delete_tags(self: Any) -> ActionResult:
    with LOCK:
        connections, others = _split_resources(self)
        if not connections:
            return MOTO_DELETE_TAGS(self)
        if others:
            validate_resource_ids(others)
        tags = {tag["Key"]: tag.get("Value") for tag in self._get_param("Tags", [])}
        self.error_on_dryrun()
        self.ec2_backend.delete_tags(connections + others, tags)
        return EmptyResult()


def connection_tags(connection: Connection) -> list[dict[str, str]]:
    stored = connection.service.ec2_backend.tags.get(connection.connection_id, {})
    return [{"Key": k, "Value": v} for k, v in sorted(stored.items())]


def to_api_with_tags(self: Connection) -> dict[str, Any]:
    result = PLAIN_TO_API(self)
    result["Tags"] = connection_tags(self)
    return result


ACTIONS = {f.__name__: f for f in (create_tags, delete_tags)}


def apply() -> None:
    """Wrap CreateTags/DeleteTags and add `Tags` to connections. Idempotent."""
    Connection.to_api = to_api_with_tags
    for name, function in ACTIONS.items():
        setattr(EC2Response, name, function)

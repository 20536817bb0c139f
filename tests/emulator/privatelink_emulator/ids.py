"""Resource id shapes: endpoint service ids like AWS's, and `.Malformed` errors.

AWS answers an id that cannot be one (`svc-foo`, `foo`, `vpce-svc-XYZ`) with the
`.Malformed` code, before looking anything up; a well-formed id that names nothing is
`.NotFound`. moto checks no shapes, so every action of this layer that takes these ids
calls `check_service_id` / `check_endpoint_id` first.

Service ids are `vpce-svc-` + 17 hex digits on AWS; moto 5.2.1 makes 8, so `apply()`
gives every new service configuration a 17-digit id (and the name and DNS name built
from it).
"""

import re
from typing import Any

from moto.ec2.models.vpc_service_configuration import VPCServiceConfiguration
from moto.moto_api._internal import mock_random

from .errors import error

# The rule AWS states in its own error for endpoint ids: "expecting 'vpce-...; the Id may
# only contain lowercase alphanumeric characters and a single dash" (the message as AWS
# returned it, quoted in terraform-aws-modules/terraform-aws-vpc #312). A well-formed id
# that names nothing is `.NotFound`. Service ids: the same rule after `vpce-svc-`
# (ASSUMED: their prefix has two dashes).
SERVICE_ID = re.compile(r"^vpce-svc-[a-z0-9]+$")
ENDPOINT_ID = re.compile(r"^vpce-[a-z0-9]+$")


def check_service_id(value: Any) -> None:
    if value is not None and not SERVICE_ID.match(str(value)):
        # Wording as AWS returned it for InvalidVpcEndpointServiceId.Malformed (quoted in
        # public integration tests run against AWS).
        raise error("InvalidVpcEndpointServiceId.Malformed", f"Invalid Id: '{value}'")


def check_endpoint_id(value: Any) -> None:
    if value is not None and not ENDPOINT_ID.match(str(value)):
        raise error(
            "InvalidVpcEndpointId.Malformed",
            f"Invalid Id: '{value}' (expecting 'vpce-...; the Id may only contain lowercase "
            "alphanumeric characters and a single dash')",
        )


def check_service_ids(values: Any) -> None:
    for value in values or []:
        check_service_id(value)


def check_endpoint_ids(values: Any) -> None:
    for value in values or []:
        check_endpoint_id(value)


MOTO_INIT = VPCServiceConfiguration.__init__


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    MOTO_INIT(self, *args, **kwargs)
    region = self.ec2_backend.region_name
    self.id = f"vpce-svc-{mock_random.get_random_hex(length=17)}"
    self.service_name = f"com.amazonaws.vpce.{region}.{self.id}"
    self.endpoint_dns_name = f"{self.id}.{region}.vpce.amazonaws.com"


def apply() -> None:
    """Patch moto in place. Idempotent."""
    VPCServiceConfiguration.__init__ = _init

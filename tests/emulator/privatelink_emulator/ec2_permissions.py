"""Allowed principals of an endpoint service, as AWS validates and lists them.

Replaces moto's handlers of:
- ModifyVpcEndpointServicePermissions: a principal AWS would not take (`12345`,
  `not-an-arn`, an STS session ARN `arn:aws:sts::ACCOUNT:assumed-role/...`) is refused
  with `InvalidPrincipal: Invalid Principal: 'X'` and nothing changes (code and wording
  as AWS returned them, terraform-provider-aws #16657). The answer has
  `AddedPrincipals` (wire name `addedPrincipalSet`; API: ModifyVpcEndpointServicePermissions).
- DescribeVpcEndpointServicePermissions: each `AllowedPrincipal` has `PrincipalType`
  (`All|Service|OrganizationUnit|Account|User|Role`), `Principal`,
  `ServicePermissionId` (`vpce-svc-perm-` + 17 hex) and `ServiceId` (API:
  AllowedPrincipal; AWS CLI example output), in a stable (sorted) order, with the
  documented filters `principal` and `principal-type` and `MaxResults`/`NextToken`.

Each function is installed as a method of moto's `EC2Response` by `ec2_patches.apply()`.
"""

import re
from typing import Any

from moto.core.responses import ActionResult
from moto.moto_api._internal import mock_random

from .connections import LOCK
from .errors import error
from .ids import check_service_id
from .paging import matches, page, parse_filters

# An account id is 12 digits.
_IAM = r"arn:aws[a-z-]*:iam::\d{12}:"
PRINCIPAL_TYPES = (
    # Documented forms (Guide: configure-endpoint-service.html, "Manage permissions"):
    # everyone, an account's root, a role, a user. Paths are not supported (API:
    # DescribeVpcEndpointServicePermissions: "Principal ARNs with path components aren't
    # supported"), so a name has no `/`.
    ("All", re.compile(r"^\*$")),
    ("Account", re.compile(rf"^{_IAM}root$")),
    ("Role", re.compile(rf"^{_IAM}role/[\w+=,.@-]+$")),
    ("User", re.compile(rf"^{_IAM}user/[\w+=,.@-]+$")),
    # A service principal (aws-cdk #29512: allowed in the console and the API).
    ("Service", re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com$")),
    # ASSUMED: organization and OU ARNs, the `OrganizationUnit` type of the API enum.
    (
        "OrganizationUnit",
        re.compile(r"^arn:aws[a-z-]*:organizations::\d{12}:(organization|ou)/o-[a-z0-9/-]+$"),
    ),
)


def principal_type(principal: str) -> str | None:
    for name, pattern in PRINCIPAL_TYPES:
        if pattern.match(principal):
            return name
    return None


def _permission_ids(service: Any) -> dict[str, str]:
    return service.__dict__.setdefault("_pl_permission_ids", {})


def _permission(service: Any, principal: str) -> dict[str, Any]:
    ids = _permission_ids(service)
    if principal not in ids:
        ids[principal] = f"vpce-svc-perm-{mock_random.get_random_hex(17)}"
    return {
        "PrincipalType": principal_type(principal) or "Account",
        "Principal": principal,
        "ServicePermissionId": ids[principal],
        "ServiceId": service.id,
    }


def _owned_service(self: Any) -> Any:
    service_id = self._get_param("ServiceId")
    check_service_id(service_id)
    # moto's lookup: unknown or not the caller's -> InvalidVpcEndpointServiceId.NotFound.
    return self.ec2_backend.describe_vpc_endpoint_service_configurations([service_id])[0]


def modify_vpc_endpoint_service_permissions(self: Any) -> ActionResult:
    add = self._get_param("AddAllowedPrincipals", [])
    remove = self._get_param("RemoveAllowedPrincipals", [])
    with LOCK:
        service = _owned_service(self)
        for principal in add:
            if principal_type(principal) is None:
                raise error("InvalidPrincipal", f"Invalid Principal: '{principal}'")
        self.ec2_backend.modify_vpc_endpoint_service_permissions(service.id, add, remove)
        ids = _permission_ids(service)
        for principal in remove:
            if principal not in add:
                ids.pop(principal, None)
        added = [_permission(service, p) for p in dict.fromkeys(add)]
    return ActionResult({"AddedPrincipals": added, "ReturnValue": True})


def describe_vpc_endpoint_service_permissions(self: Any) -> ActionResult:
    filters = parse_filters(self._get_param("Filters", []), ("principal", "principal-type"))
    with LOCK:
        service = _owned_service(self)
        # moto stores the principals in a set-derived list: sort for a stable order.
        allowed = [_permission(service, p) for p in sorted(service.principals)]
    allowed = [
        a
        for a in allowed
        if matches(
            filters,
            lambda f: [a["Principal"] if f == "principal" else a["PrincipalType"]],
        )
    ]
    chunk, token = page(allowed, self._get_int_param("MaxResults"), self._get_param("NextToken"), 5)
    return ActionResult({"AllowedPrincipals": chunk, "NextToken": token})


ACTIONS = {
    f.__name__: f
    for f in (modify_vpc_endpoint_service_permissions, describe_vpc_endpoint_service_permissions)
}

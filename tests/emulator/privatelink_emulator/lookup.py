"""Cross-account lookups over moto's EC2 backends, service visibility and AZ IDs.

moto keeps one EC2 backend per account and Region (`ec2_backends[account][region]`).
Indexing that mapping creates missing backends, so lookups here only walk the ones that
already exist: an account that never called EC2 in a Region owns nothing there anyway.
"""

import re
from collections.abc import Iterator
from typing import Any

from moto.ec2.models import ec2_backends

SERVICE_NAME = re.compile(
    r"^com\.amazonaws\.vpce\.(?P<region>[a-z0-9-]+)\.(?P<id>vpce-svc-[0-9a-f]+)$"
)


def existing_backends(region: str) -> Iterator[Any]:
    # dict.* methods bypass BackendDict.__getitem__ (which would create backends); the
    # list() copies make the walk safe while other request threads add accounts.
    for account_backends in list(dict.values(ec2_backends)):
        backend = dict.get(account_backends, region)
        if backend is not None:
            yield backend


def find_service(service_name: str, region: str) -> Any | None:
    """The endpoint service configuration called `service_name`, in any account."""
    match = SERVICE_NAME.match(service_name or "")
    if not match or match["region"] != region:
        return None
    for backend in existing_backends(region):
        service = backend.configurations.get(match["id"])
        if service is not None and service.service_name == service_name:
            return service
    return None


def can_see(service: Any, account_id: str) -> bool:
    """Owner, or allowed by `*`, `arn:aws:iam::ACCOUNT:root` or any IAM ARN of ACCOUNT.

    Any role/user ARN of the account counts for the whole account: moto does not tell
    which principal of an account made a call (ASSUMED simplification, see README.md).
    """
    if service.ec2_backend.account_id == account_id:
        return True
    account_arn = re.compile(rf"^arn:aws[a-z-]*:iam::{account_id}:")
    return any(p == "*" or account_arn.match(p) for p in service.principals)


def zone_ids_by_name(ec2_backend: Any) -> dict[str, str]:
    """This account's AZ name -> AZ ID mapping (moto's DescribeAvailabilityZones)."""
    return {z.name: z.zone_id for z in ec2_backend.describe_availability_zones()}


def service_zone_ids(service: Any) -> list[str]:
    """The service's AZ IDs: the same physical zones in every account."""
    names = zone_ids_by_name(service.ec2_backend)
    return sorted({names[n] for n in service.availability_zones if n in names})


def zone_names_for(ec2_backend: Any, zone_ids: list[str]) -> list[str]:
    """The given AZ IDs as AZ names in `ec2_backend`'s account (names are per account)."""
    return sorted(n for n, i in zone_ids_by_name(ec2_backend).items() if i in zone_ids)

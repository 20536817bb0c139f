"""Availability Zones: each account has its own AZ name -> AZ ID mapping.

AWS maps AZ names to the physical zones (AZ IDs) independently per account, so
`us-east-1a` of one account may be `use1-az4` and of another `use1-az6`; only the AZ ID
names the same physical zone everywhere (Guide: AZ IDs,
https://docs.aws.amazon.com/global-infrastructure/latest/regions/az-ids.html). moto 5.2.1
has one fixed table for every account, so code that matches zones by name across
accounts passed against it and would fail on AWS.

Here every account except moto's default `123456789012` gets a permutation of the
Region's AZ IDs over the Region's AZ names: `random.Random(sha256("ACCOUNT/REGION"))`
shuffles the IDs (in moto's name order) until no name keeps moto's ID, so any other
account differs from the default one in every zone, and the mapping is stable (a test
can compute it, or read it from DescribeAvailabilityZones). Names and IDs themselves are
moto's. AWS has uniform mappings in Regions launched after November 2012; this applies
the permutation in every Region (stricter than AWS there).

Everything that turns a name into an ID or back reads the account's table:
DescribeAvailabilityZones (with its ZoneNames/ZoneIds/filters), CreateSubnet by
`AvailabilityZone` or `AvailabilityZoneId` (the subnet keeps the account's zone, so
DescribeSubnets, its `availability-zone`/`availability-zone-id` filters, ELBv2
`AvailabilityZones` and endpoint-service zones follow), and `lookup.py`
(`zone_ids_by_name` goes through DescribeAvailabilityZones).
"""

import hashlib
import random
from functools import lru_cache
from typing import Any

from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend, Zone
from moto.ec2.models.subnets import SubnetBackend
from moto.utilities.utils import filter_resources

DEFAULT_ACCOUNT = "123456789012"

MOTO_CREATE_SUBNET = SubnetBackend.create_subnet


@lru_cache(maxsize=4096)
def account_zones(account_id: str, region: str) -> tuple[Zone, ...]:
    """The Region's zones as `account_id` sees them: moto's names, permuted AZ IDs."""
    base = RegionsAndZonesBackend.zones.get(region, [])
    if account_id == DEFAULT_ACCOUNT or len(base) < 2:
        return tuple(base)
    moto_ids = [zone.zone_id for zone in base]
    ids = list(moto_ids)
    rng = random.Random(hashlib.sha256(f"{account_id}/{region}".encode()).digest())
    while True:  # a derangement: expected ~e tries
        rng.shuffle(ids)
        if all(mine != moto for mine, moto in zip(ids, moto_ids)):
            break
    return tuple(
        Zone(name=zone.name, region_name=region, zone_id=zone_id, zone_type=zone.zone_type)
        for zone, zone_id in zip(base, ids)
    )


def describe_availability_zones(
    self: Any,
    filters: list[dict[str, Any]] | None = None,
    zone_names: list[str] | None = None,
    zone_ids: list[str] | None = None,
) -> list[Zone]:
    """moto's implementation over the caller's own table."""
    zones = list(account_zones(self.account_id, self.region_name))
    attr_pairs = (
        ("zone-id", "zone_id"),
        ("zone-type", "zone_type"),
        ("zone-name", "name"),
        ("region-name", "region_name"),
        ("state", "state"),
    )
    result = filter_resources(zones, filters, attr_pairs) if filters else zones
    result = [z for z in result if not zone_ids or z.zone_id in zone_ids]
    return [z for z in result if not zone_names or z.name in zone_names]


def create_subnet(
    self: Any,
    vpc_id: str,
    cidr_block: str,
    ipv6_cidr_block: str | None = None,
    availability_zone: str | None = None,
    availability_zone_id: str | None = None,
    ipv6_native: bool = False,
    tags: dict[str, dict[str, str]] | None = None,
) -> Any:
    zones = account_zones(self.account_id, self.region_name)
    if availability_zone:
        zone = next((z for z in zones if z.name == availability_zone), None)
    else:
        zone = next((z for z in zones if z.zone_id == availability_zone_id), None)
    if zone is None:  # not a zone of this Region: moto's own handling and errors
        return MOTO_CREATE_SUBNET(
            self,
            vpc_id,
            cidr_block,
            ipv6_cidr_block,
            availability_zone,
            availability_zone_id,
            ipv6_native=ipv6_native,
            tags=tags,
        )
    subnet = MOTO_CREATE_SUBNET(
        self,
        vpc_id,
        cidr_block,
        ipv6_cidr_block,
        zone.name,
        None,
        ipv6_native=ipv6_native,
        tags=tags,
    )
    subnet._availability_zone = zone
    return subnet


def apply() -> None:
    """Patch moto in place. Idempotent; call before any EC2 backend exists."""
    RegionsAndZonesBackend.describe_availability_zones = describe_availability_zones
    SubnetBackend.create_subnet = create_subnet

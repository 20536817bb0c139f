"""Provider-side service configuration: filters, AvailabilityZoneIds, stable permissions."""

import pytest
from botocore.exceptions import ClientError


def test_configuration_filters(world):
    provider = world.account()
    blue = world.service(provider, tags={"team": "blue"})
    red = world.service(provider, tags={"team": "red", "cost": "x"})
    ec2 = provider.client("ec2")

    def ids(*filters):
        found = ec2.describe_vpc_endpoint_service_configurations(
            Filters=[{"Name": n, "Values": v} for n, v in filters]
        )["ServiceConfigurations"]
        return [s["ServiceId"] for s in found]

    assert ids() == [blue["ServiceId"], red["ServiceId"]]
    assert ids(("service-id", [red["ServiceId"]])) == [red["ServiceId"]]
    assert ids(("service-name", [blue["ServiceName"]])) == [blue["ServiceId"]]
    assert ids(("service-state", ["Available"])) == [blue["ServiceId"], red["ServiceId"]]
    assert ids(("service-state", ["Deleting"])) == []
    assert ids(("tag:team", ["red"])) == [red["ServiceId"]]
    assert ids(("tag:team", ["bl*"])) == [blue["ServiceId"]]
    assert ids(("tag-key", ["cost"])) == [red["ServiceId"]]
    assert ids(("tag:team", ["blue", "red"]), ("tag-key", ["cost"])) == [red["ServiceId"]]
    with pytest.raises(ClientError) as excinfo:
        ids(("colour", ["blue"]))
    assert excinfo.value.response["Error"]["Code"] == "InvalidFilter"


def test_configuration_shows_availability_zone_ids(world):
    provider = world.account()
    created = world.service(provider, zones=("use1-az6", "use1-az2"))
    assert created["AvailabilityZoneIds"] == ["use1-az2", "use1-az6"]
    [described] = provider.client("ec2").describe_vpc_endpoint_service_configurations()[
        "ServiceConfigurations"
    ]
    assert described["AvailabilityZones"] == world.zone_names(provider, ["use1-az6", "use1-az2"])
    assert described["AvailabilityZoneIds"] == ["use1-az2", "use1-az6"]


def test_permissions_are_listed_in_a_stable_order(world):
    provider = world.account()
    principals = [f"arn:aws:iam::{n:012d}:root" for n in (9, 3, 7, 1, 5)]
    service = world.service(provider, tuple(principals))
    ec2 = provider.client("ec2")
    for _ in range(3):
        allowed = ec2.describe_vpc_endpoint_service_permissions(ServiceId=service["ServiceId"])
        assert [p["Principal"] for p in allowed["AllowedPrincipals"]] == sorted(principals)

"""Each account has its own AZ name -> AZ ID mapping, and every API agrees with it."""

import hashlib
import random
import uuid

import boto3

from conftest import NO_RETRY, REGION

# moto 5.2.1's us-east-1 table, which the default account 123456789012 keeps.
MOTO_US_EAST_1 = [
    ("us-east-1a", "use1-az6"),
    ("us-east-1b", "use1-az1"),
    ("us-east-1c", "use1-az2"),
    ("us-east-1d", "use1-az4"),
    ("us-east-1e", "use1-az3"),
    ("us-east-1f", "use1-az5"),
]


def _predicted(account_id: str) -> dict[str, str]:
    """The documented algorithm: a seeded shuffle of the IDs that moves every zone."""
    names = [name for name, _ in MOTO_US_EAST_1]
    moto_ids = [zone_id for _, zone_id in MOTO_US_EAST_1]
    ids = list(moto_ids)
    rng = random.Random(hashlib.sha256(f"{account_id}/{REGION}".encode()).digest())
    while True:
        rng.shuffle(ids)
        if all(a != b for a, b in zip(ids, moto_ids)):
            return dict(zip(names, ids))


def _mapping(ec2) -> dict[str, str]:
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    return {z["ZoneName"]: z["ZoneId"] for z in zones}


def test_each_account_has_its_own_mapping_and_the_default_keeps_motos(world, server_url):
    one, two = world.account(), world.account()
    mapping_one = _mapping(one.client("ec2"))
    mapping_two = _mapping(two.client("ec2"))
    assert mapping_one == _predicted(one.id)
    assert mapping_two == _predicted(two.id)
    assert sorted(mapping_one) == sorted(name for name, _ in MOTO_US_EAST_1)
    assert sorted(mapping_one.values()) == sorted(i for _, i in MOTO_US_EAST_1)
    # Every name of a fresh account names another physical zone than in the default one.
    assert all(mapping_one[name] != zone_id for name, zone_id in MOTO_US_EAST_1)

    default = boto3.client(
        "ec2",
        endpoint_url=server_url,
        region_name=REGION,
        config=NO_RETRY,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert _mapping(default) == dict(MOTO_US_EAST_1)

    # ZoneIds / ZoneNames / zone-id filter go through the same table.
    ec2 = one.client("ec2")
    name_of_az6 = next(n for n, i in mapping_one.items() if i == "use1-az6")
    by_id = ec2.describe_availability_zones(ZoneIds=["use1-az6"])["AvailabilityZones"]
    assert [(z["ZoneName"], z["ZoneId"]) for z in by_id] == [(name_of_az6, "use1-az6")]
    by_name = ec2.describe_availability_zones(ZoneNames=[name_of_az6])["AvailabilityZones"]
    assert [z["ZoneId"] for z in by_name] == ["use1-az6"]
    by_filter = ec2.describe_availability_zones(
        Filters=[{"Name": "zone-id", "Values": ["use1-az6"]}]
    )["AvailabilityZones"]
    assert [z["ZoneName"] for z in by_filter] == [name_of_az6]


def test_subnets_by_name_and_by_id_follow_the_accounts_mapping(world):
    account = world.account()
    mapping = _mapping(account.client("ec2"))
    vpc, (by_name, by_id) = world.network(account, ("us-east-1a", "use1-az6"))
    ec2 = account.client("ec2")
    subnets = {
        s["SubnetId"]: (s["AvailabilityZone"], s["AvailabilityZoneId"])
        for s in ec2.describe_subnets(SubnetIds=[by_name, by_id])["Subnets"]
    }
    name_of_az6 = next(n for n, i in mapping.items() if i == "use1-az6")
    assert subnets == {
        by_name: ("us-east-1a", mapping["us-east-1a"]),
        by_id: (name_of_az6, "use1-az6"),
    }
    for name, value, expected in (
        ("availability-zone", name_of_az6, [by_id]),
        ("availability-zone-id", mapping["us-east-1a"], [by_name]),
    ):
        found = ec2.describe_subnets(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": name, "Values": [value]}]
        )["Subnets"]
        assert [s["SubnetId"] for s in found] == expected


def test_load_balancer_and_service_zones_are_each_callers_names(world):
    provider, consumer = world.account(), world.account()
    service = world.service(provider, ("*",), zones=("use1-az6", "use1-az1"))
    provider_names = world.zone_names(provider, ["use1-az6", "use1-az1"])
    consumer_names = world.zone_names(consumer, ["use1-az6", "use1-az1"])

    [lb] = provider.client("elbv2").describe_load_balancers(
        LoadBalancerArns=service["NetworkLoadBalancerArns"]
    )["LoadBalancers"]
    assert sorted(z["ZoneName"] for z in lb["AvailabilityZones"]) == sorted(provider_names)

    assert sorted(service["AvailabilityZones"]) == sorted(provider_names)
    [detail] = consumer.client("ec2").describe_vpc_endpoint_services(
        ServiceNames=[service["ServiceName"]]
    )["ServiceDetails"]
    assert detail["AvailabilityZones"] == sorted(consumer_names)
    assert detail["AvailabilityZoneIds"] == ["use1-az1", "use1-az6"]

    # A consumer subnet named by the consumer's own name of use1-az6 is accepted.
    vpc, subnets = world.network(consumer, (consumer_names[0],))
    endpoint = world.endpoint(consumer, service, subnets, vpc, ClientToken=str(uuid.uuid4()))
    zonal = endpoint["DnsEntries"][1]["DnsName"]
    assert f"-{consumer_names[0]}." in zonal

"""Endpoint service visibility across accounts and enforcement of allowed principals."""

import pytest
from botocore.exceptions import ClientError


def _visible_names(account, **kwargs):
    return account.client("ec2").describe_vpc_endpoint_services(**kwargs)["ServiceNames"]


def test_allowed_consumer_sees_service_with_details(world):
    provider, consumer = world.account(), world.account()
    service = world.service(provider, (f"arn:aws:iam::{consumer.id}:root",))
    name = service["ServiceName"]
    ec2 = consumer.client("ec2")

    assert name in _visible_names(consumer)
    by_name = ec2.describe_vpc_endpoint_services(ServiceNames=[name])["ServiceDetails"]
    by_filter = ec2.describe_vpc_endpoint_services(
        Filters=[{"Name": "service-name", "Values": [name]}]
    )["ServiceDetails"]
    assert by_name == by_filter and len(by_name) == 1
    detail = by_name[0]
    assert detail["ServiceId"] == service["ServiceId"]
    assert detail["Owner"] == provider.id
    assert detail["AcceptanceRequired"] is True
    # The service is in use1-az6 and use1-az1; the names are the consumer's own.
    assert detail["AvailabilityZones"] == sorted(
        world.zone_names(consumer, ["use1-az6", "use1-az1"])
    )
    assert detail["AvailabilityZoneIds"] == ["use1-az1", "use1-az6"]
    assert detail["BaseEndpointDnsNames"] == [
        f"{service['ServiceId']}.us-east-1.vpce.amazonaws.com"
    ]
    assert detail["ServiceType"] == [{"ServiceType": "Interface"}]
    assert "PrivateDnsName" not in detail


def test_private_dns_name_is_shown(world):
    provider, consumer = world.account(), world.account()
    service = world.service(provider, ("*",), PrivateDnsName="api.example.com")
    [detail] = consumer.client("ec2").describe_vpc_endpoint_services(
        ServiceNames=[service["ServiceName"]]
    )["ServiceDetails"]
    assert detail["PrivateDnsName"] == "api.example.com"
    assert detail["PrivateDnsNames"] == [{"PrivateDnsName": "api.example.com"}]
    # Not verified until the provider proves the domain (test_private_dns.py).
    assert detail["PrivateDnsNameVerificationState"] == "pendingVerification"


def test_not_allowed_consumer_cannot_see_or_connect(world):
    provider, stranger = world.account(), world.account()
    service = world.service(provider, ("arn:aws:iam::000000000001:root",))
    name = service["ServiceName"]
    ec2 = stranger.client("ec2")

    assert name not in _visible_names(stranger)
    assert (
        ec2.describe_vpc_endpoint_services(Filters=[{"Name": "service-name", "Values": [name]}])[
            "ServiceDetails"
        ]
        == []
    )
    with pytest.raises(ClientError) as excinfo:
        ec2.describe_vpc_endpoint_services(ServiceNames=[name])
    assert excinfo.value.response["Error"] == {
        "Code": "InvalidServiceName",
        "Message": f"The Vpc Endpoint Service '{name}' does not exist",
    }
    vpc, subnets = world.network(stranger, ("use1-az6",))
    with pytest.raises(ClientError) as excinfo:
        world.endpoint(stranger, service, subnets, vpc)
    assert excinfo.value.response["Error"]["Code"] == "InvalidServiceName"


@pytest.mark.parametrize("principal", ["*", "arn:aws:iam::{consumer}:role/app"])
def test_wildcard_and_role_principals_allow_the_account(world, principal):
    provider, consumer = world.account(), world.account()
    service = world.service(provider, (principal.format(consumer=consumer.id),))
    assert service["ServiceName"] in _visible_names(consumer)


def test_owner_sees_own_service_and_tag_filters_work(world):
    provider = world.account()
    service = world.service(provider, tags={"team": "blue"})
    ec2 = provider.client("ec2")
    for filters in (
        [{"Name": "tag:team", "Values": ["blue"]}],
        [{"Name": "tag-key", "Values": ["team"]}],
    ):
        details = ec2.describe_vpc_endpoint_services(Filters=filters)["ServiceDetails"]
        assert [d["ServiceId"] for d in details] == [service["ServiceId"]]
    assert (
        ec2.describe_vpc_endpoint_services(Filters=[{"Name": "tag:team", "Values": ["red"]}])[
            "ServiceDetails"
        ]
        == []
    )


def test_unknown_service_name_is_refused(world):
    consumer = world.account()
    vpc, subnets = world.network(consumer, ("use1-az6",))
    name = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"
    with pytest.raises(ClientError) as excinfo:
        world.endpoint(consumer, {"ServiceName": name}, subnets, vpc)
    assert excinfo.value.response["Error"]["Code"] == "InvalidServiceName"


def test_aws_service_endpoints_keep_moto_behaviour(world):
    consumer = world.account()
    vpc, subnets = world.network(consumer, ("use1-az6",))
    endpoint = world.endpoint(consumer, {"ServiceName": "com.amazonaws.us-east-1.s3"}, subnets, vpc)
    assert endpoint["State"] == "available"

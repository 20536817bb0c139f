"""Cross-Region PrivateLink (README §17): supported Regions, ServiceRegion, the provider's
view of endpoints in other Regions, DescribeVpcEndpointServices with ServiceRegions."""

import time

import pytest
from botocore.exceptions import ClientError

from conftest import PENDING_SECONDS

HOME, REMOTE, OTHER = "us-east-1", "us-west-2", "eu-west-1"


def remote_network(account, region=REMOTE, zones=("a", "b")):
    """A VPC in `region` with one subnet per listed AZ letter."""
    ec2 = account.client("ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.1.{i}.0/24", AvailabilityZone=f"{region}{zone}"
        )["Subnet"]["SubnetId"]
        for i, zone in enumerate(zones)
    ]
    return vpc, subnets


def regions_of(provider, service_id):
    config = provider.client("ec2").describe_vpc_endpoint_service_configurations(
        ServiceIds=[service_id]
    )["ServiceConfigurations"][0]
    return config["SupportedRegions"], config["RemoteAccessEnabled"]


def cross_region_endpoint(consumer, service, region=REMOTE, **kwargs):
    vpc, subnets = remote_network(consumer, region)
    return consumer.client("ec2", region).create_vpc_endpoint(
        VpcEndpointType="Interface",
        VpcId=vpc,
        ServiceName=service["ServiceName"],
        SubnetIds=subnets,
        **kwargs,
    )["VpcEndpoint"]


def test_home_region_is_always_supported(world):
    provider = world.account()
    plain = world.service(provider)
    assert regions_of(provider, plain["ServiceId"]) == (
        [{"Region": HOME, "ServiceState": "Available"}],
        False,
    )
    remote = world.service(provider, SupportedRegions=[REMOTE, HOME, REMOTE])
    assert regions_of(provider, remote["ServiceId"]) == (
        [
            {"Region": HOME, "ServiceState": "Available"},
            {"Region": REMOTE, "ServiceState": "Available"},
        ],
        True,
    )


def test_add_and_remove_supported_regions(world):
    provider = world.account()
    service = world.service(provider)
    ec2 = provider.client("ec2")
    ec2.modify_vpc_endpoint_service_configuration(
        ServiceId=service["ServiceId"], AddSupportedRegions=[REMOTE, OTHER, REMOTE]
    )
    regions, _ = regions_of(provider, service["ServiceId"])
    assert [r["Region"] for r in regions] == [HOME, REMOTE, OTHER]
    ec2.modify_vpc_endpoint_service_configuration(
        ServiceId=service["ServiceId"], RemoveSupportedRegions=[OTHER, "ap-south-1"]
    )
    regions, remote = regions_of(provider, service["ServiceId"])
    assert [r["Region"] for r in regions] == [HOME, REMOTE]
    assert remote is True

    with pytest.raises(ClientError) as excinfo:
        ec2.modify_vpc_endpoint_service_configuration(
            ServiceId=service["ServiceId"], RemoveSupportedRegions=[HOME]
        )
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameter"
    with pytest.raises(ClientError) as excinfo:
        ec2.modify_vpc_endpoint_service_configuration(
            ServiceId=service["ServiceId"], AddSupportedRegions=["mars-north-1"]
        )
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as excinfo:
        world.service(provider, SupportedRegions=["mars-north-1"])
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValue"
    # A refused call changes nothing.
    regions, _ = regions_of(provider, service["ServiceId"])
    assert [r["Region"] for r in regions] == [HOME, REMOTE]


def test_cross_region_endpoint_connects_and_the_provider_sees_its_region(world):
    provider, consumer = world.account(), world.account()
    service = world.service(
        provider, (f"arn:aws:iam::{consumer.id}:root",), SupportedRegions=[REMOTE]
    )
    endpoint = cross_region_endpoint(consumer, service, ServiceRegion=HOME)
    vpce, svc = endpoint["VpcEndpointId"], service["ServiceId"]
    assert endpoint["State"] == "pendingAcceptance"
    assert endpoint["ServiceRegion"] == HOME
    # DNS names carry the service's Region (Guide: DNS hostnames, `service_region`).
    assert all(f".{svc}.{HOME}.vpce.amazonaws.com" in e["DnsName"] for e in endpoint["DnsEntries"])
    assert {e["HostedZoneId"] for e in endpoint["DnsEntries"]} == {"Z1YSA3EXCYUU9Z"}

    ec2 = provider.client("ec2")
    connection = ec2.describe_vpc_endpoint_connections()["VpcEndpointConnections"][0]
    assert connection["VpcEndpointId"] == vpce
    assert connection["VpcEndpointRegion"] == REMOTE
    assert connection["VpcEndpointOwner"] == consumer.id

    def listed(value):
        answer = ec2.describe_vpc_endpoint_connections(
            Filters=[{"Name": "vpc-endpoint-region", "Values": [value]}]
        )
        return [c["VpcEndpointId"] for c in answer["VpcEndpointConnections"]]

    assert listed(REMOTE) == [vpce]
    assert listed("cross-region") == [vpce]
    assert listed(HOME) == []

    ec2.accept_vpc_endpoint_connections(ServiceId=svc, VpcEndpointIds=[vpce])
    consumer_ec2 = consumer.client("ec2", REMOTE)
    time.sleep(PENDING_SECONDS + 0.2)
    described = consumer_ec2.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"][0]
    assert described["State"] == "available"
    assert described["ServiceRegion"] == HOME
    # The endpoint lives in the consumer's Region only.
    assert consumer.client("ec2").describe_vpc_endpoints()["VpcEndpoints"] == []
    for region, found in ((HOME, [vpce]), (REMOTE, [])):
        answer = consumer_ec2.describe_vpc_endpoints(
            Filters=[{"Name": "service-region", "Values": [region]}]
        )
        assert [e["VpcEndpointId"] for e in answer["VpcEndpoints"]] == found


def test_same_region_connections_are_not_cross_region(world):
    provider, _, _, endpoint = world.connected()
    ec2 = provider.client("ec2")
    assert endpoint["ServiceRegion"] == HOME
    answer = ec2.describe_vpc_endpoint_connections(
        Filters=[{"Name": "vpc-endpoint-region", "Values": ["cross-region"]}]
    )
    assert answer["VpcEndpointConnections"] == []
    answer = ec2.describe_vpc_endpoint_connections(
        Filters=[{"Name": "vpc-endpoint-region", "Values": [HOME]}]
    )
    assert [c["VpcEndpointId"] for c in answer["VpcEndpointConnections"]] == [
        endpoint["VpcEndpointId"]
    ]


def test_a_region_the_service_does_not_support_is_refused(world):
    provider, consumer = world.account(), world.account()
    service = world.service(
        provider, (f"arn:aws:iam::{consumer.id}:root",), SupportedRegions=[OTHER]
    )
    name = service["ServiceName"]
    for kwargs in ({"ServiceRegion": HOME}, {}):
        with pytest.raises(ClientError) as excinfo:
            cross_region_endpoint(consumer, service, **kwargs)
        assert excinfo.value.response["Error"] == {
            "Code": "InvalidServiceName",
            "Message": f"The Vpc Endpoint Service '{name}' does not exist",
        }
    # A service that is not cross-Region enabled at all: the same answer.
    plain = world.service(provider, (f"arn:aws:iam::{consumer.id}:root",))
    with pytest.raises(ClientError) as excinfo:
        cross_region_endpoint(consumer, plain, ServiceRegion=HOME)
    assert excinfo.value.response["Error"]["Code"] == "InvalidServiceName"
    # Supported, but not allowed: the same answer.
    stranger = world.account()
    with pytest.raises(ClientError) as excinfo:
        cross_region_endpoint(stranger, service, region=OTHER, ServiceRegion=HOME)
    assert excinfo.value.response["Error"]["Code"] == "InvalidServiceName"
    assert provider.client("ec2").describe_vpc_endpoint_connections()[
        "VpcEndpointConnections"
    ] == []


def test_removing_a_region_blocks_new_endpoints_only(world):
    provider, consumer = world.account(), world.account()
    service = world.service(
        provider,
        (f"arn:aws:iam::{consumer.id}:root",),
        acceptance_required=False,
        SupportedRegions=[REMOTE],
    )
    first = cross_region_endpoint(consumer, service, ServiceRegion=HOME)
    provider.client("ec2").modify_vpc_endpoint_service_configuration(
        ServiceId=service["ServiceId"], RemoveSupportedRegions=[REMOTE]
    )
    with pytest.raises(ClientError) as excinfo:
        cross_region_endpoint(consumer, service, ServiceRegion=HOME)
    assert excinfo.value.response["Error"]["Code"] == "InvalidServiceName"
    connections = provider.client("ec2").describe_vpc_endpoint_connections()
    assert [c["VpcEndpointId"] for c in connections["VpcEndpointConnections"]] == [
        first["VpcEndpointId"]
    ]


def test_describe_services_with_service_regions(world):
    provider, consumer = world.account(), world.account()
    allowed = (f"arn:aws:iam::{consumer.id}:root",)
    remote = world.service(provider, allowed, SupportedRegions=[REMOTE])
    local_only = world.service(provider, allowed)
    ec2 = consumer.client("ec2", REMOTE)

    answer = ec2.describe_vpc_endpoint_services(
        ServiceRegions=[HOME], ServiceNames=[remote["ServiceName"]]
    )
    detail = answer["ServiceDetails"][0]
    assert detail["ServiceId"] == remote["ServiceId"]
    assert detail["ServiceRegion"] == HOME
    assert detail["AvailabilityZoneIds"] == sorted(remote["AvailabilityZoneIds"])
    assert detail["AvailabilityZones"] == sorted(
        world.zone_names(consumer, remote["AvailabilityZoneIds"])
    )
    # Only the services of the Regions asked for, supporting the caller's Region.
    listed = ec2.describe_vpc_endpoint_services(ServiceRegions=[HOME])["ServiceNames"]
    assert remote["ServiceName"] in listed
    assert local_only["ServiceName"] not in listed
    assert not any(n.startswith(f"com.amazonaws.{HOME}.") for n in listed)
    for kwargs in ({"ServiceRegions": [HOME]}, {}):
        with pytest.raises(ClientError) as excinfo:
            ec2.describe_vpc_endpoint_services(ServiceNames=[local_only["ServiceName"]], **kwargs)
        assert excinfo.value.response["Error"]["Code"] == "InvalidServiceName"
    with pytest.raises(ClientError) as excinfo:
        ec2.describe_vpc_endpoint_services(ServiceNames=[remote["ServiceName"]])
    assert excinfo.value.response["Error"]["Code"] == "InvalidServiceName"
    # The caller's own Region stays the default.
    own = ec2.describe_vpc_endpoint_services()["ServiceNames"]
    assert remote["ServiceName"] not in own
    assert any(n.startswith(f"com.amazonaws.{REMOTE}.") for n in own)

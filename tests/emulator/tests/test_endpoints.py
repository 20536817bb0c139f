"""CreateVpcEndpoint to a custom service: validation, idempotency, DNS entries, state."""

import re

import pytest
from botocore.exceptions import ClientError


def test_subnet_in_unsupported_zone_is_refused(world):
    provider, consumer = world.account(), world.account()
    service = world.service(provider, ("*",), zones=("use1-az6", "use1-az1"))
    vpc, subnets = world.network(consumer, ("use1-az6", "use1-az2"))
    with pytest.raises(ClientError) as excinfo:
        world.endpoint(consumer, service, subnets, vpc)
    assert excinfo.value.response["Error"] == {
        "Code": "InvalidParameter",
        "Message": f"The VPC endpoint service {service['ServiceName']} does not support "
        f"the availability zone of the subnet: {subnets[1]}.",
    }


def test_two_subnets_in_one_zone_are_refused(world):
    provider, consumer = world.account(), world.account()
    service = world.service(provider, ("*",))
    vpc, subnets = world.network(consumer, ("use1-az6", "use1-az6"))
    with pytest.raises(ClientError) as excinfo:
        world.endpoint(consumer, service, subnets, vpc)
    assert excinfo.value.response["Error"]["Code"] == "DuplicateSubnetsInSameZone"
    assert subnets[0] in excinfo.value.response["Error"]["Message"]
    assert consumer.client("ec2").describe_vpc_endpoints()["VpcEndpoints"] == []


def test_client_token_returns_the_same_endpoint_or_mismatch(world):
    provider, consumer = world.account(), world.account()
    service = world.service(provider, ("*",))
    vpc, subnets = world.network(consumer, ("use1-az6", "use1-az1"))
    first = world.endpoint(consumer, service, subnets, vpc, ClientToken="token-1")
    again = world.endpoint(consumer, service, subnets, vpc, ClientToken="token-1")
    assert again["VpcEndpointId"] == first["VpcEndpointId"]
    ec2 = consumer.client("ec2")
    assert len(ec2.describe_vpc_endpoints()["VpcEndpoints"]) == 1
    provider_view = provider.client("ec2").describe_vpc_endpoint_connections()
    assert len(provider_view["VpcEndpointConnections"]) == 1

    with pytest.raises(ClientError) as excinfo:
        world.endpoint(consumer, service, subnets[:1], vpc, ClientToken="token-1")
    assert excinfo.value.response["Error"]["Code"] == "IdempotentParameterMismatch"
    assert len(ec2.describe_vpc_endpoints()["VpcEndpoints"]) == 1


def test_dns_entries_have_the_aws_shape(world):
    provider, consumer = world.account(), world.account()
    service = world.service(provider, ("*",))
    vpc, subnets = world.network(consumer, ("use1-az6", "use1-az1"))
    endpoint = world.endpoint(consumer, service, subnets, vpc)
    vpce, svc = endpoint["VpcEndpointId"], service["ServiceId"]
    entries = endpoint["DnsEntries"]
    assert {e["HostedZoneId"] for e in entries} == {"Z7HUB22UULQXV"}
    regional = re.fullmatch(
        rf"{vpce}-([a-z0-9]{{8}})\.{svc}\.us-east-1\.vpce\.amazonaws\.com", entries[0]["DnsName"]
    )
    assert regional
    rand = regional[1]
    assert [e["DnsName"] for e in entries[1:]] == [
        f"{vpce}-{rand}-{az}.{svc}.us-east-1.vpce.amazonaws.com"
        for az in world.zone_names(consumer, ["use1-az6", "use1-az1"])
    ]
    described = consumer.client("ec2").describe_vpc_endpoints()["VpcEndpoints"][0]
    assert described["DnsEntries"] == entries


@pytest.mark.parametrize(
    ("acceptance_required", "state"), [(True, "pendingAcceptance"), (False, "pending")]
)
def test_initial_state_follows_acceptance_required(world, acceptance_required, state):
    provider, consumer, service, endpoint = world.connected(acceptance_required)
    assert endpoint["State"] == state
    ec2 = consumer.client("ec2")
    assert ec2.describe_vpc_endpoints()["VpcEndpoints"][0]["State"] == state
    by_state = ec2.describe_vpc_endpoints(
        Filters=[{"Name": "vpc-endpoint-state", "Values": [state]}]
    )["VpcEndpoints"]
    assert [e["VpcEndpointId"] for e in by_state] == [endpoint["VpcEndpointId"]]
    connection = provider.client("ec2").describe_vpc_endpoint_connections()[
        "VpcEndpointConnections"
    ][0]
    assert connection["VpcEndpointState"] == state

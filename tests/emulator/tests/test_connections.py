"""Provider side: DescribeVpcEndpointConnections, accept/reject, delete, service deletion."""

import re
import time

import pytest
from botocore.exceptions import ClientError

from conftest import PENDING_SECONDS


def _connections(provider, **kwargs):
    return provider.client("ec2").describe_vpc_endpoint_connections(**kwargs)[
        "VpcEndpointConnections"
    ]


def _states(provider, consumer, endpoint_id):
    """(consumer's State, provider's VpcEndpointState) of one endpoint."""
    mine = consumer.client("ec2").describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])
    theirs = _connections(provider, Filters=[{"Name": "vpc-endpoint-id", "Values": [endpoint_id]}])
    return mine["VpcEndpoints"][0]["State"], theirs[0]["VpcEndpointState"]


def test_provider_sees_connection_owned_by_consumer(world):
    provider, consumer, service, endpoint = world.connected()
    [connection] = _connections(provider)
    assert connection["ServiceId"] == service["ServiceId"]
    assert connection["VpcEndpointId"] == endpoint["VpcEndpointId"]
    assert connection["VpcEndpointOwner"] == consumer.id
    assert connection["VpcEndpointState"] == "pendingAcceptance"
    assert connection["DnsEntries"] == endpoint["DnsEntries"]
    assert connection["NetworkLoadBalancerArns"] == service["NetworkLoadBalancerArns"]
    assert connection["IpAddressType"] == "ipv4"
    assert connection["VpcEndpointRegion"] == "us-east-1"
    assert re.fullmatch(r"vpce-con-[0-9a-f]{17}", connection["VpcEndpointConnectionId"])
    assert connection["CreationTimestamp"] == endpoint["CreationTimestamp"]
    # The consumer owns no service, so it sees no connections.
    assert _connections(consumer) == []


def test_accept_goes_pending_then_available_on_both_sides(world):
    provider, consumer, service, endpoint = world.connected()
    endpoint_id = endpoint["VpcEndpointId"]
    result = provider.client("ec2").accept_vpc_endpoint_connections(
        ServiceId=service["ServiceId"], VpcEndpointIds=[endpoint_id]
    )
    assert result["Unsuccessful"] == []
    assert _states(provider, consumer, endpoint_id) == ("pending", "pending")
    deadline = time.monotonic() + PENDING_SECONDS + 5
    while _states(provider, consumer, endpoint_id) != ("available", "available"):
        assert time.monotonic() < deadline, "never became available"
        time.sleep(0.1)


@pytest.mark.parametrize("accept_first", [False, True])
def test_reject_pending_or_available_connection(world, accept_first):
    provider, consumer, service, endpoint = world.connected(acceptance_required=not accept_first)
    endpoint_id = endpoint["VpcEndpointId"]
    result = provider.client("ec2").reject_vpc_endpoint_connections(
        ServiceId=service["ServiceId"], VpcEndpointIds=[endpoint_id]
    )
    assert result["Unsuccessful"] == []
    assert _states(provider, consumer, endpoint_id) == ("rejected", "rejected")


def test_batch_reports_unknown_and_wrong_state_and_does_the_rest(world):
    provider, consumer, service, first = world.connected()
    vpc, subnets = world.network(consumer, ("use1-az1",))
    second = world.endpoint(consumer, service, subnets, vpc)
    ec2 = provider.client("ec2")
    ec2.accept_vpc_endpoint_connections(
        ServiceId=service["ServiceId"], VpcEndpointIds=[first["VpcEndpointId"]]
    )
    result = ec2.accept_vpc_endpoint_connections(
        ServiceId=service["ServiceId"],
        VpcEndpointIds=["vpce-00000000000000000", first["VpcEndpointId"], second["VpcEndpointId"]],
    )
    failed = {item["ResourceId"]: item["Error"] for item in result["Unsuccessful"]}
    assert failed["vpce-00000000000000000"] == {
        "Code": "InvalidVpcEndpointId.NotFound",
        "Message": "The Vpc Endpoint Id 'vpce-00000000000000000' does not exist",
    }
    assert failed[first["VpcEndpointId"]]["Code"] == "IncorrectState"
    assert len(failed) == 2
    assert _states(provider, consumer, second["VpcEndpointId"])[1] in ("pending", "available")


def test_decisions_on_a_service_the_caller_does_not_own(world):
    provider, consumer, service, endpoint = world.connected()
    for call in ("accept_vpc_endpoint_connections", "reject_vpc_endpoint_connections"):
        with pytest.raises(ClientError) as excinfo:
            getattr(consumer.client("ec2"), call)(
                ServiceId=service["ServiceId"], VpcEndpointIds=[endpoint["VpcEndpointId"]]
            )
        assert excinfo.value.response["Error"]["Code"] == "InvalidVpcEndpointServiceId.NotFound"


def test_consumer_delete_marks_connection_deleted(world):
    provider, consumer, service, endpoint = world.connected()
    endpoint_id = endpoint["VpcEndpointId"]
    ec2 = consumer.client("ec2")
    result = ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id, "vpce-0123456789abcdef0"])
    assert result["Unsuccessful"] == [
        {
            "ResourceId": "vpce-0123456789abcdef0",
            "Error": {
                "Code": "InvalidVpcEndpoint.NotFound",
                "Message": "The Vpc Endpoint Id 'vpce-0123456789abcdef0' does not exist",
            },
        }
    ]
    assert _states(provider, consumer, endpoint_id) == ("deleting", "deleting")
    deadline = time.monotonic() + 10
    while _states(provider, consumer, endpoint_id) != ("deleted", "deleted"):
        assert time.monotonic() < deadline, "never became deleted"
        time.sleep(0.1)
    again = ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])["Unsuccessful"]
    assert [item["Error"]["Code"] for item in again] == ["InvalidVpcEndpoint.NotFound"]
    # Accepting a deleted connection is a wrong-state item, not a crash.
    failed = provider.client("ec2").accept_vpc_endpoint_connections(
        ServiceId=service["ServiceId"], VpcEndpointIds=[endpoint_id]
    )["Unsuccessful"]
    assert [item["Error"]["Code"] for item in failed] == ["IncorrectState"]


def test_paging_over_thirty_connections(world):
    provider, consumer = world.account(), world.account()
    service = world.service(provider, ("*",))
    vpc, subnets = world.network(consumer, ("use1-az6",))
    created = [world.endpoint(consumer, service, subnets, vpc)["VpcEndpointId"] for _ in range(30)]
    ec2 = provider.client("ec2")

    seen, token, pages = [], None, 0
    while True:
        kwargs = {"MaxResults": 5, **({"NextToken": token} if token else {})}
        page = ec2.describe_vpc_endpoint_connections(**kwargs)
        assert len(page["VpcEndpointConnections"]) == 5
        seen += [c["VpcEndpointId"] for c in page["VpcEndpointConnections"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert (pages, seen) == (6, created)  # creation order, nothing twice
    # No MaxResults: one page of up to 1000; above 1000 is capped (documented).
    assert len(_connections(provider)) == 30
    assert len(_connections(provider, MaxResults=5000)) == 30
    paginated = ec2.get_paginator("describe_vpc_endpoint_connections").paginate(
        PaginationConfig={"PageSize": 7}
    )
    assert [c["VpcEndpointId"] for p in paginated for c in p["VpcEndpointConnections"]] == created

    for kwargs, code in (
        ({"MaxResults": 4}, "InvalidParameterValue"),
        ({"NextToken": "not-a-token"}, "InvalidNextToken"),
    ):
        with pytest.raises(ClientError) as excinfo:
            ec2.describe_vpc_endpoint_connections(**kwargs)
        assert excinfo.value.response["Error"]["Code"] == code


def test_filters(world):
    provider, consumer_a, consumer_b = world.account(), world.account(), world.account()
    service_1 = world.service(provider, ("*",))
    service_2 = world.service(provider, ("*",))
    vpc_a, subnets_a = world.network(consumer_a, ("use1-az6",))
    vpc_b, subnets_b = world.network(consumer_b, ("use1-az6",))
    e1 = world.endpoint(consumer_a, service_1, subnets_a, vpc_a)["VpcEndpointId"]
    e2 = world.endpoint(consumer_b, service_1, subnets_b, vpc_b)["VpcEndpointId"]
    e3 = world.endpoint(consumer_a, service_2, subnets_a, vpc_a)["VpcEndpointId"]
    provider.client("ec2").reject_vpc_endpoint_connections(
        ServiceId=service_1["ServiceId"], VpcEndpointIds=[e2]
    )

    def ids(*filters):
        found = _connections(provider, Filters=[{"Name": n, "Values": v} for n, v in filters])
        return [c["VpcEndpointId"] for c in found]

    assert ids(("service-id", [service_1["ServiceId"]])) == [e1, e2]
    assert ids(("service-id", [service_1["ServiceId"], service_2["ServiceId"]])) == [e1, e2, e3]
    assert ids(("vpc-endpoint-state", ["pendingAcceptance"])) == [e1, e3]
    assert ids(("vpc-endpoint-state", ["rejected", "available"])) == [e2]
    assert ids(("vpc-endpoint-owner", [consumer_a.id])) == [e1, e3]
    assert ids(("vpc-endpoint-id", [e3, e2])) == [e2, e3]
    assert ids(
        ("vpc-endpoint-owner", [consumer_a.id]), ("service-id", [service_2["ServiceId"]])
    ) == [e3]
    with pytest.raises(ClientError) as excinfo:
        ids(("vpc-endpoint-id ", [e1]))
    assert excinfo.value.response["Error"]["Code"] == "InvalidFilter"
    assert "vpc-endpoint-id " in excinfo.value.response["Error"]["Message"]


def test_service_with_active_connections_cannot_be_deleted(world):
    provider, consumer, service, endpoint = world.connected()
    ec2 = provider.client("ec2")
    result = ec2.delete_vpc_endpoint_service_configurations(ServiceIds=[service["ServiceId"]])
    assert result["Unsuccessful"] == [
        {
            "ResourceId": service["ServiceId"],
            "Error": {
                "Code": "ExistingVpcEndpointConnections",
                "Message": "Service has existing active VPC Endpoint connections",
            },
        }
    ]
    assert ec2.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]
    ec2.reject_vpc_endpoint_connections(
        ServiceId=service["ServiceId"], VpcEndpointIds=[endpoint["VpcEndpointId"]]
    )
    result = ec2.delete_vpc_endpoint_service_configurations(ServiceIds=[service["ServiceId"]])
    assert result["Unsuccessful"] == []
    assert ec2.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"] == []

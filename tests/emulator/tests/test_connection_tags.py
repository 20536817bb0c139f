"""Tags on VPC endpoint connections: CreateTags/DeleteTags on `vpce-con-` ids round-trip
through DescribeVpcEndpointConnections, for the service owner only."""

import pytest
from botocore.exceptions import ClientError


def _connection(provider):
    [connection] = provider.client("ec2").describe_vpc_endpoint_connections()[
        "VpcEndpointConnections"
    ]
    return connection


def test_new_connection_has_no_tags(world):
    provider, _, _, _ = world.connected()
    assert _connection(provider)["Tags"] == []


def test_tags_round_trip_and_overwrite(world):
    provider, _, _, endpoint = world.connected()
    ec2 = provider.client("ec2")
    connection_id = _connection(provider)["VpcEndpointConnectionId"]
    ec2.create_tags(
        Resources=[connection_id],
        Tags=[{"Key": "kit:decision", "Value": "reject"}, {"Key": "kit:by", "Value": "sweep"}],
    )
    ec2.create_tags(Resources=[connection_id], Tags=[{"Key": "kit:decision", "Value": "accept"}])
    connection = _connection(provider)
    assert connection["VpcEndpointId"] == endpoint["VpcEndpointId"]
    assert connection["Tags"] == [
        {"Key": "kit:by", "Value": "sweep"},
        {"Key": "kit:decision", "Value": "accept"},
    ]
    # The tags live in EC2's ordinary tag store.
    described = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [connection_id]}])
    assert {t["Key"] for t in described["Tags"]} == {"kit:by", "kit:decision"}
    ec2.delete_tags(Resources=[connection_id], Tags=[{"Key": "kit:by"}])
    assert _connection(provider)["Tags"] == [{"Key": "kit:decision", "Value": "accept"}]


def test_tags_survive_state_changes(world):
    provider, _, service, endpoint = world.connected()
    ec2 = provider.client("ec2")
    connection_id = _connection(provider)["VpcEndpointConnectionId"]
    ec2.create_tags(Resources=[connection_id], Tags=[{"Key": "k", "Value": "v"}])
    ec2.reject_vpc_endpoint_connections(
        ServiceId=service["ServiceId"], VpcEndpointIds=[endpoint["VpcEndpointId"]]
    )
    connection = _connection(provider)
    assert connection["VpcEndpointState"] == "rejected"
    assert connection["Tags"] == [{"Key": "k", "Value": "v"}]


def test_unknown_or_foreign_connection_ids_are_not_found(world):
    provider, consumer, _, _ = world.connected()
    connection_id = _connection(provider)["VpcEndpointConnectionId"]
    for account, resource in (
        (provider, "vpce-con-0123456789abcdef0"),
        # The consumer does not own the connection: it is a resource of the provider.
        (consumer, connection_id),
    ):
        with pytest.raises(ClientError) as caught:
            account.client("ec2").create_tags(
                Resources=[resource], Tags=[{"Key": "k", "Value": "v"}]
            )
        assert caught.value.response["Error"]["Code"] == "InvalidVpcEndpointConnectionId.NotFound"
    assert _connection(provider)["Tags"] == []


def test_other_resources_are_tagged_as_before(world):
    provider = world.account()
    ec2 = provider.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "k", "Value": "v"}])
    [described] = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"]
    assert described["Tags"] == [{"Key": "k", "Value": "v"}]

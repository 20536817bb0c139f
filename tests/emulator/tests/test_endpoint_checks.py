"""CreateVpcEndpoint refuses what AWS refuses: service names, endpoint types, security
groups; and attaches the VPC's default security group when none is given."""

import pytest
from botocore.exceptions import ClientError


def _create_error(consumer, **kwargs):
    with pytest.raises(ClientError) as excinfo:
        consumer.client("ec2").create_vpc_endpoint(**kwargs)
    return excinfo.value.response["Error"]


@pytest.mark.parametrize(
    "name",
    ["foo", "com.amazonaws.vpce.us-east-1.svc-foo", "com.amazonaws.us-east-1.nosuchservice"],
)
def test_malformed_or_unknown_service_names_are_refused(world, name):
    consumer = world.account()
    vpc, subnets = world.network(consumer, ("use1-az6",))
    error = _create_error(
        consumer, VpcEndpointType="Interface", VpcId=vpc, ServiceName=name, SubnetIds=subnets
    )
    assert error == {
        "Code": "InvalidServiceName",
        "Message": f"The Vpc Endpoint Service '{name}' does not exist",
    }
    assert consumer.client("ec2").describe_vpc_endpoints()["VpcEndpoints"] == []


@pytest.mark.parametrize("endpoint_type", [None, "Gateway"])
def test_gateway_type_or_no_type_to_an_endpoint_service_is_refused(world, endpoint_type):
    provider, consumer = world.account(), world.account()
    service = world.service(provider, ("*",))
    vpc, _ = world.network(consumer, ("use1-az6",))
    kwargs = {"VpcEndpointType": endpoint_type} if endpoint_type else {}
    error = _create_error(consumer, VpcId=vpc, ServiceName=service["ServiceName"], **kwargs)
    # No type is a Gateway endpoint (API: CreateVpcEndpoint, "Default: Gateway").
    assert error == {
        "Code": "InvalidParameter",
        "Message": "Endpoint type (Gateway) does not match available service types "
        "([Interface]).",
    }
    assert provider.client("ec2").describe_vpc_endpoint_connections()[
        "VpcEndpointConnections"
    ] == []


def test_security_groups_must_exist_in_the_endpoint_vpc(world):
    provider, consumer = world.account(), world.account()
    service = world.service(provider, ("*",))
    vpc, subnets = world.network(consumer, ("use1-az6",))
    other_vpc, _ = world.network(consumer, ("use1-az6",))
    ec2 = consumer.client("ec2")
    elsewhere = ec2.create_security_group(
        GroupName="elsewhere", Description="x", VpcId=other_vpc
    )["GroupId"]
    missing = "sg-0123456789abcdef0"

    error = _create_error(
        consumer,
        VpcEndpointType="Interface",
        VpcId=vpc,
        ServiceName=service["ServiceName"],
        SubnetIds=subnets,
        SecurityGroupIds=[missing],
    )
    assert error == {
        "Code": "InvalidGroup.NotFound",
        "Message": f"The security group '{missing}' does not exist",
    }
    error = _create_error(
        consumer,
        VpcEndpointType="Interface",
        VpcId=vpc,
        ServiceName=service["ServiceName"],
        SubnetIds=subnets,
        SecurityGroupIds=[elsewhere],
    )
    assert error["Code"] == "InvalidParameter"
    assert elsewhere in error["Message"]
    assert ec2.describe_vpc_endpoints()["VpcEndpoints"] == []


def test_no_security_group_means_the_vpc_default_group(world):
    provider, consumer = world.account(), world.account()
    service = world.service(provider, ("*",))
    vpc, subnets = world.network(consumer, ("use1-az6",))
    ec2 = consumer.client("ec2")
    [default] = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    endpoint = world.endpoint(consumer, service, subnets, vpc)
    assert [g["GroupId"] for g in endpoint["Groups"]] == [default["GroupId"]]
    [described] = ec2.describe_vpc_endpoints()["VpcEndpoints"]
    assert [g["GroupId"] for g in described["Groups"]] == [default["GroupId"]]

    mine = ec2.create_security_group(GroupName="mine", Description="x", VpcId=vpc)["GroupId"]
    chosen = world.endpoint(consumer, service, subnets, vpc, SecurityGroupIds=[mine])
    assert [g["GroupId"] for g in chosen["Groups"]] == [mine]


def test_aws_service_gateway_endpoints_still_work(world):
    consumer = world.account()
    vpc, _ = world.network(consumer, ("use1-az6",))
    endpoint = consumer.client("ec2").create_vpc_endpoint(
        VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3"
    )["VpcEndpoint"]
    assert endpoint["VpcEndpointType"] == "Gateway"
    error = _create_error(
        consumer,
        VpcEndpointType="Interface",
        VpcId=vpc,
        ServiceName="com.amazonaws.us-east-1.dynamodb",
    )
    assert error["Code"] == "InvalidParameter"
    assert "([Gateway])" in error["Message"]

"""Allowed principals as AWS validates and lists them; resource id shapes (`.Malformed`
codes, 17-digit service ids); connections of deleted services and of removed principals."""

import re

import pytest
from botocore.exceptions import ClientError


def _error(call, **kwargs):
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    return excinfo.value.response["Error"]


@pytest.mark.parametrize(
    "principal",
    [
        "12345",
        "not-an-arn",
        "arn:aws:sts::111122223333:assumed-role/admin/session",
        "arn:aws:iam::abc:root",
        "arn:aws:iam::1234567890123:root",
    ],
)
def test_invalid_principals_are_refused(world, principal):
    provider = world.account()
    service = world.service(provider)
    ec2 = provider.client("ec2")
    error = _error(
        ec2.modify_vpc_endpoint_service_permissions,
        ServiceId=service["ServiceId"],
        AddAllowedPrincipals=["arn:aws:iam::111122223333:root", principal],
    )
    assert error == {"Code": "InvalidPrincipal", "Message": f"Invalid Principal: '{principal}'"}
    # Nothing was added.
    allowed = ec2.describe_vpc_endpoint_service_permissions(ServiceId=service["ServiceId"])
    assert allowed["AllowedPrincipals"] == []


def test_permissions_have_type_and_id(world):
    provider = world.account()
    service = world.service(provider)
    ec2 = provider.client("ec2")
    principals = {
        "*": "All",
        "arn:aws:iam::111122223333:root": "Account",
        "arn:aws:iam::111122223333:role/consumer": "Role",
        "arn:aws:iam::111122223333:user/alice": "User",
        "elasticloadbalancing.amazonaws.com": "Service",
    }
    added = ec2.modify_vpc_endpoint_service_permissions(
        ServiceId=service["ServiceId"], AddAllowedPrincipals=list(principals)
    )
    assert added["ReturnValue"] is True
    assert {a["Principal"]: a["PrincipalType"] for a in added["AddedPrincipals"]} == principals
    listed = ec2.describe_vpc_endpoint_service_permissions(ServiceId=service["ServiceId"])[
        "AllowedPrincipals"
    ]
    assert [p["Principal"] for p in listed] == sorted(principals)
    for item in listed:
        assert item["PrincipalType"] == principals[item["Principal"]]
        assert item["ServiceId"] == service["ServiceId"]
        assert re.fullmatch(r"vpce-svc-perm-[0-9a-f]{17}", item["ServicePermissionId"])
    # The ids are stable, and the same as in the Modify answer.
    ids = {a["Principal"]: a["ServicePermissionId"] for a in added["AddedPrincipals"]}
    assert {p["Principal"]: p["ServicePermissionId"] for p in listed} == ids
    roles = ec2.describe_vpc_endpoint_service_permissions(
        ServiceId=service["ServiceId"], Filters=[{"Name": "principal-type", "Values": ["Role"]}]
    )["AllowedPrincipals"]
    assert [p["Principal"] for p in roles] == ["arn:aws:iam::111122223333:role/consumer"]


def test_service_ids_have_17_hex_digits(world):
    service = world.service(world.account())
    assert re.fullmatch(r"vpce-svc-[0-9a-f]{17}", service["ServiceId"])
    assert service["ServiceName"] == f"com.amazonaws.vpce.us-east-1.{service['ServiceId']}"
    assert service["BaseEndpointDnsNames"] == [
        f"{service['ServiceId']}.us-east-1.vpce.amazonaws.com"
    ]


@pytest.mark.parametrize("bad", ["svc-foo", "foo", "vpce-svc-XYZ"])
def test_malformed_service_ids(world, bad):
    ec2 = world.account().client("ec2")
    calls = [
        (ec2.describe_vpc_endpoint_service_configurations, {"ServiceIds": [bad]}),
        (ec2.describe_vpc_endpoint_service_permissions, {"ServiceId": bad}),
        (
            ec2.modify_vpc_endpoint_service_permissions,
            {"ServiceId": bad, "AddAllowedPrincipals": ["*"]},
        ),
        (ec2.modify_vpc_endpoint_service_configuration, {"ServiceId": bad}),
        (ec2.delete_vpc_endpoint_service_configurations, {"ServiceIds": [bad]}),
        (ec2.accept_vpc_endpoint_connections, {"ServiceId": bad, "VpcEndpointIds": []}),
        (ec2.reject_vpc_endpoint_connections, {"ServiceId": bad, "VpcEndpointIds": []}),
        (ec2.start_vpc_endpoint_service_private_dns_verification, {"ServiceId": bad}),
        (
            ec2.create_vpc_endpoint_connection_notification,
            {
                "ServiceId": bad,
                "ConnectionNotificationArn": "arn:aws:sns:us-east-1:111122223333:t",
                "ConnectionEvents": ["Connect"],
            },
        ),
    ]
    for call, kwargs in calls:
        assert _error(call, **kwargs) == {
            "Code": "InvalidVpcEndpointServiceId.Malformed",
            "Message": f"Invalid Id: '{bad}'",
        }, call.__name__
    # Well-formed but unknown is NotFound.
    unknown = "vpce-svc-0123456789abcdef0"
    error = _error(ec2.describe_vpc_endpoint_service_permissions, ServiceId=unknown)
    assert error["Code"] == "InvalidVpcEndpointServiceId.NotFound"


@pytest.mark.parametrize("bad", ["foo", "vpce-XYZ", "vpce-svc-0123456789abcdef0"])
def test_malformed_endpoint_ids(world, bad):
    provider, consumer, service, _ = world.connected()
    ec2 = consumer.client("ec2")
    calls = [
        (ec2.describe_vpc_endpoints, {"VpcEndpointIds": [bad]}),
        (ec2.delete_vpc_endpoints, {"VpcEndpointIds": [bad]}),
        (ec2.modify_vpc_endpoint, {"VpcEndpointId": bad, "PrivateDnsEnabled": False}),
        (
            provider.client("ec2").accept_vpc_endpoint_connections,
            {"ServiceId": service["ServiceId"], "VpcEndpointIds": [bad]},
        ),
    ]
    for call, kwargs in calls:
        error = _error(call, **kwargs)
        assert error["Code"] == "InvalidVpcEndpointId.Malformed", call.__name__
        assert error["Message"] == (
            f"Invalid Id: '{bad}' (expecting 'vpce-...; the Id may only contain lowercase "
            "alphanumeric characters and a single dash')"
        )
    # Well-formed (lowercase alphanumeric after one dash) but unknown is NotFound, hex or not.
    for unknown in ["vpce-0123456789abcdef0", "vpce-zzzzzzzz"]:
        error = _error(ec2.describe_vpc_endpoints, VpcEndpointIds=[unknown])
        assert error["Code"] == "InvalidVpcEndpointId.NotFound", unknown


def test_rejected_connections_outlive_their_service(world):
    provider, consumer, service, endpoint = world.connected()
    endpoint_id = endpoint["VpcEndpointId"]
    ec2 = provider.client("ec2")
    ec2.reject_vpc_endpoint_connections(
        ServiceId=service["ServiceId"], VpcEndpointIds=[endpoint_id]
    )
    assert ec2.delete_vpc_endpoint_service_configurations(ServiceIds=[service["ServiceId"]])[
        "Unsuccessful"
    ] == []
    [connection] = ec2.describe_vpc_endpoint_connections()["VpcEndpointConnections"]
    assert (connection["ServiceId"], connection["VpcEndpointId"]) == (
        service["ServiceId"],
        endpoint_id,
    )
    assert connection["VpcEndpointState"] == "rejected"
    error = _error(
        ec2.reject_vpc_endpoint_connections,
        ServiceId=service["ServiceId"],
        VpcEndpointIds=[endpoint_id],
    )
    assert error == {
        "Code": "InvalidVpcEndpointServiceId.NotFound",
        "Message": f"The VpcEndpointService Id '{service['ServiceId']}' does not exist",
    }
    [mine] = consumer.client("ec2").describe_vpc_endpoints()["VpcEndpoints"]
    assert mine["State"] == "rejected"


def test_removing_a_principal_keeps_existing_connections(world):
    provider, consumer, service, endpoint = world.connected()
    ec2 = provider.client("ec2")
    ec2.accept_vpc_endpoint_connections(
        ServiceId=service["ServiceId"], VpcEndpointIds=[endpoint["VpcEndpointId"]]
    )
    ec2.modify_vpc_endpoint_service_permissions(
        ServiceId=service["ServiceId"],
        RemoveAllowedPrincipals=[f"arn:aws:iam::{consumer.id}:root"],
    )
    [connection] = ec2.describe_vpc_endpoint_connections()["VpcEndpointConnections"]
    assert connection["VpcEndpointState"] in ("pending", "available")
    [mine] = consumer.client("ec2").describe_vpc_endpoints()["VpcEndpoints"]
    assert mine["State"] == connection["VpcEndpointState"]
    # New connections are refused: the service no longer exists for the consumer.
    vpc, subnets = world.network(consumer, ("use1-az6",))
    error = _error(world.endpoint, consumer=consumer, service=service, subnets=subnets, vpc=vpc)
    assert error["Code"] == "InvalidServiceName"

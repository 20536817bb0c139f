"""Private DNS names: domain verification on the provider side, private DNS on the
consumer's endpoint (CreateVpcEndpoint / ModifyVpcEndpoint `PrivateDnsEnabled`)."""

import re
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import PENDING_SECONDS


def _configuration(provider, service):
    [config] = provider.client("ec2").describe_vpc_endpoint_service_configurations(
        ServiceIds=[service["ServiceId"]]
    )["ServiceConfigurations"]
    return config


def _zone(account, name, vpc=None):
    kwargs = {"VPC": {"VPCRegion": "us-east-1", "VPCId": vpc}} if vpc else {}
    return account.client("route53").create_hosted_zone(
        Name=name, CallerReference=uuid.uuid4().hex, **kwargs
    )["HostedZone"]["Id"]


def _txt(account, zone_id, name, value):
    account.client("route53").change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": "TXT",
                        "TTL": 1800,
                        "ResourceRecords": [{"Value": f'"{value}"'}],
                    },
                }
            ]
        },
    )


def _verify(provider, service):
    ec2 = provider.client("ec2")
    result = ec2.start_vpc_endpoint_service_private_dns_verification(
        ServiceId=service["ServiceId"]
    )
    assert result["ReturnValue"] is True
    return _configuration(provider, service)["PrivateDnsNameConfiguration"]["State"]


def verified_service(world, provider, principals, name, **extra):
    """A service whose private DNS name `name` is verified through a public zone."""
    service = world.service(provider, principals, PrivateDnsName=name, **extra)
    dns = _configuration(provider, service)["PrivateDnsNameConfiguration"]
    domain = name.split(".", 1)[1]
    _txt(provider, _zone(provider, domain), f"{dns['Name']}.{name}", dns["Value"])
    assert _verify(provider, service) == "verified"
    return service


def _dns_vpc(world, consumer, zones=("use1-az6",), hostnames=True):
    vpc, subnets = world.network(consumer, zones)
    if hostnames:
        consumer.client("ec2").modify_vpc_attribute(
            VpcId=vpc, EnableDnsHostnames={"Value": True}
        )
    return vpc, subnets


def _error(call, **kwargs):
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    return excinfo.value.response["Error"]


def _wait_available(consumer, endpoint_id):
    deadline = time.monotonic() + PENDING_SECONDS + 5
    ec2 = consumer.client("ec2")
    while True:
        [e] = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
        if e["State"] == "available":
            return e
        assert time.monotonic() < deadline, e["State"]
        time.sleep(0.1)


def test_a_new_name_is_pending_verification_with_real_looking_values(world):
    provider, consumer = world.account(), world.account()
    service = world.service(provider, ("*",), PrivateDnsName="api.example.com")
    dns = service["PrivateDnsNameConfiguration"]
    assert dns["State"] == "pendingVerification"
    assert dns["Type"] == "TXT"
    assert re.fullmatch(r"_[a-z0-9]{20}", dns["Name"])
    assert re.fullmatch(r"vpce:[A-Za-z0-9]{20}", dns["Value"])
    assert _configuration(provider, service)["PrivateDnsNameConfiguration"] == dns
    [detail] = consumer.client("ec2").describe_vpc_endpoint_services(
        ServiceNames=[service["ServiceName"]]
    )["ServiceDetails"]
    assert detail["PrivateDnsNameVerificationState"] == "pendingVerification"


def test_verification_needs_the_txt_record_in_a_public_zone_of_the_provider(world):
    provider, other, consumer = world.account(), world.account(), world.account()
    service = world.service(provider, ("*",), PrivateDnsName="api.example.com")
    dns = service["PrivateDnsNameConfiguration"]
    record = f"{dns['Name']}.api.example.com"

    assert _verify(provider, service) == "failed"  # no record anywhere
    # The record in a private zone, in another account's public zone, or with another
    # value does not count.
    vpc, _ = world.network(provider, ("us-east-1a",))
    _txt(provider, _zone(provider, "example.com", vpc=vpc), record, dns["Value"])
    _txt(other, _zone(other, "example.com"), record, dns["Value"])
    public = _zone(provider, "example.com")
    _txt(provider, public, record, dns["Value"].lower())
    assert _verify(provider, service) == "failed"

    _txt(provider, public, record, dns["Value"])
    assert _verify(provider, service) == "verified"
    [detail] = consumer.client("ec2").describe_vpc_endpoint_services(
        ServiceNames=[service["ServiceName"]]
    )["ServiceDetails"]
    assert detail["PrivateDnsNameVerificationState"] == "verified"


def test_a_parent_domain_record_verifies_and_a_new_name_starts_over(world):
    provider = world.account()
    service = world.service(provider, PrivateDnsName="*.api.example.com")
    dns = service["PrivateDnsNameConfiguration"]
    _txt(provider, _zone(provider, "example.com"), f"{dns['Name']}.example.com", dns["Value"])
    assert _verify(provider, service) == "verified"

    ec2 = provider.client("ec2")
    ec2.modify_vpc_endpoint_service_configuration(
        ServiceId=service["ServiceId"], PrivateDnsName="other.example.org"
    )
    again = _configuration(provider, service)["PrivateDnsNameConfiguration"]
    assert again["State"] == "pendingVerification"
    assert again["Value"] != dns["Value"]
    ec2.modify_vpc_endpoint_service_configuration(
        ServiceId=service["ServiceId"], RemovePrivateDnsName=True
    )
    config = _configuration(provider, service)
    assert "PrivateDnsName" not in config
    assert not config.get("PrivateDnsNameConfiguration")
    error = _error(
        ec2.start_vpc_endpoint_service_private_dns_verification, ServiceId=service["ServiceId"]
    )
    assert error["Code"] == "InvalidParameter"


def test_verification_errors(world):
    provider, consumer = world.account(), world.account()
    service = world.service(provider, ("*",), PrivateDnsName="api.example.com")
    start = consumer.client("ec2").start_vpc_endpoint_service_private_dns_verification
    # Another account's service does not exist for the caller.
    assert _error(start, ServiceId=service["ServiceId"])["Code"] == (
        "InvalidVpcEndpointServiceId.NotFound"
    )
    assert _error(start, ServiceId="svc-foo")["Code"] == "InvalidVpcEndpointServiceId.Malformed"


def test_private_dns_is_turned_on_after_acceptance(world):
    provider, consumer = world.account(), world.account()
    name = "api.vendor-a.example"
    service = verified_service(world, provider, (f"arn:aws:iam::{consumer.id}:root",), name)
    vpc, subnets = _dns_vpc(world, consumer)
    ec2 = consumer.client("ec2")

    # Created with PrivateDnsEnabled=false (the only way while acceptance is required).
    endpoint = world.endpoint(consumer, service, subnets, vpc, PrivateDnsEnabled=False)
    endpoint_id = endpoint["VpcEndpointId"]
    assert endpoint["PrivateDnsEnabled"] is False
    before = _error(ec2.modify_vpc_endpoint, VpcEndpointId=endpoint_id, PrivateDnsEnabled=True)
    assert before == {
        "Code": "InvalidParameter",
        "Message": "Private DNS can only be enabled after the endpoint connection is "
        f"accepted by the owner of {service['ServiceName']}.",
    }

    provider.client("ec2").accept_vpc_endpoint_connections(
        ServiceId=service["ServiceId"], VpcEndpointIds=[endpoint_id]
    )
    _wait_available(consumer, endpoint_id)
    assert ec2.modify_vpc_endpoint(VpcEndpointId=endpoint_id, PrivateDnsEnabled=True)["Return"]
    [described] = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
    assert described["PrivateDnsEnabled"] is True
    entries = described["DnsEntries"]
    assert entries[:-1] == endpoint["DnsEntries"]
    assert entries[-1]["DnsName"] == name
    assert re.fullmatch(r"Z[A-Z0-9]{20}", entries[-1]["HostedZoneId"])

    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint_id, PrivateDnsEnabled=False)
    [described] = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
    assert described["PrivateDnsEnabled"] is False
    assert described["DnsEntries"] == endpoint["DnsEntries"]


def test_private_dns_is_refused_without_a_verified_name_or_vpc_dns(world):
    provider, consumer = world.account(), world.account()
    unverified = world.service(
        provider, ("*",), acceptance_required=False, PrivateDnsName="api.nowhere.example"
    )
    verified = verified_service(
        world, provider, ("*",), "api.vendor-b.example", acceptance_required=False
    )
    vpc, subnets = _dns_vpc(world, consumer)
    ec2 = consumer.client("ec2")
    for service in (unverified, verified):
        endpoint = world.endpoint(consumer, service, subnets, vpc, PrivateDnsEnabled=False)
        _wait_available(consumer, endpoint["VpcEndpointId"])
        if service is unverified:
            error = _error(
                ec2.modify_vpc_endpoint,
                VpcEndpointId=endpoint["VpcEndpointId"],
                PrivateDnsEnabled=True,
            )
            assert error == {
                "Code": "InvalidParameter",
                "Message": "Private DNS can't be enabled because the service "
                f"{service['ServiceName']} does not provide a private DNS name.",
            }

    # A VPC without DNS hostnames (the default for a new VPC).
    plain_vpc, plain_subnets = _dns_vpc(world, consumer, hostnames=False)
    endpoint = world.endpoint(consumer, verified, plain_subnets, plain_vpc, PrivateDnsEnabled=False)
    _wait_available(consumer, endpoint["VpcEndpointId"])
    error = _error(
        ec2.modify_vpc_endpoint, VpcEndpointId=endpoint["VpcEndpointId"], PrivateDnsEnabled=True
    )
    assert error == {
        "Code": "InvalidParameter",
        "Message": "Enabling private DNS requires both enableDnsSupport and "
        f"enableDnsHostnames VPC attributes set to true for {plain_vpc}",
    }
    with pytest.raises(ClientError):
        world.endpoint(consumer, verified, plain_subnets, plain_vpc, PrivateDnsEnabled=True)


def test_create_defaults_private_dns_to_the_verified_name(world):
    provider, consumer = world.account(), world.account()
    plain = world.service(provider, ("*",), acceptance_required=False)
    verified = verified_service(
        world, provider, ("*",), "api.vendor-c.example", acceptance_required=False
    )
    needs_acceptance = verified_service(world, provider, ("*",), "api.vendor-d.example")
    vpc, subnets = _dns_vpc(world, consumer)

    # No verified name: off by default, and asking for it is an error.
    assert world.endpoint(consumer, plain, subnets, vpc)["PrivateDnsEnabled"] is False
    error = _error(
        world.endpoint,
        consumer=consumer,
        service=plain,
        subnets=subnets,
        vpc=vpc,
        PrivateDnsEnabled=True,
    )
    assert error["Code"] == "InvalidParameter"
    assert "does not provide a private DNS name" in error["Message"]

    # A verified name: on by default, with the name in DnsEntries.
    endpoint = world.endpoint(consumer, verified, subnets, vpc)
    assert endpoint["PrivateDnsEnabled"] is True
    assert endpoint["DnsEntries"][-1]["DnsName"] == "api.vendor-c.example"

    # ... but not while the connection waits for acceptance.
    error = _error(
        world.endpoint, consumer=consumer, service=needs_acceptance, subnets=subnets, vpc=vpc
    )
    assert "can only be enabled after the endpoint connection is accepted" in error["Message"]

"""Route 53: alias targets must exist in the zone named, CREATE does not overwrite, a
private zone's VPC must be the caller's, and changes are PENDING before INSYNC."""

import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import control

VPCE_ZONE = "Z7HUB22UULQXV"  # us-east-1's vpce zone


def _private_zone(world, account, name="svc.vendor.internal"):
    vpc, _ = world.network(account, ("use1-az6",))
    route53 = account.client("route53")
    zone = route53.create_hosted_zone(
        Name=name, CallerReference=str(uuid.uuid4()), VPC={"VPCRegion": "us-east-1", "VPCId": vpc}
    )["HostedZone"]["Id"]
    return route53, zone, vpc


def _alias(route53, zone, target_name, target_zone, name="api.svc.vendor.internal"):
    return route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": "A",
                        "AliasTarget": {
                            "HostedZoneId": target_zone,
                            "DNSName": target_name,
                            "EvaluateTargetHealth": False,
                        },
                    },
                }
            ]
        },
    )


def _error(call, *args, **kwargs):
    with pytest.raises(ClientError) as excinfo:
        call(*args, **kwargs)
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def test_alias_to_a_vpc_endpoint_needs_the_vpce_zone_and_a_real_name(world):
    provider, consumer, service, endpoint = world.connected()
    route53, zone, _ = _private_zone(world, consumer)
    regional = endpoint["DnsEntries"][0]
    assert regional["HostedZoneId"] == VPCE_ZONE
    _alias(route53, zone, regional["DnsName"], regional["HostedZoneId"])

    assert _error(_alias, route53, zone, regional["DnsName"], zone.rsplit("/", 1)[-1]) == (
        "InvalidChangeBatch",
        f"Tried to create an alias that targets {regional['DnsName']}., type A in zone "
        f"{zone.rsplit('/', 1)[-1]}, but the alias target name does not lie within the "
        "target zone",
    )
    made_up = regional["DnsName"].replace(endpoint["VpcEndpointId"], "vpce-0000000000000000f")
    assert _error(_alias, route53, zone, made_up, VPCE_ZONE) == (
        "InvalidChangeBatch",
        f"Tried to create an alias that targets {made_up}., type A in zone {VPCE_ZONE}, but "
        "that target was not found",
    )


def test_alias_to_a_load_balancer_needs_its_canonical_zone(world):
    account = world.account()
    _, subnets = world.network(account, ("use1-az6", "use1-az1"))
    [lb] = account.client("elbv2").create_load_balancer(
        Name=f"nlb-{uuid.uuid4().hex[:8]}", Type="network", Scheme="internal", Subnets=subnets
    )["LoadBalancers"]
    route53, zone, _ = _private_zone(world, account)
    _alias(route53, zone, f"dualstack.{lb['DNSName']}", lb["CanonicalHostedZoneId"])
    code, message = _error(_alias, route53, zone, lb["DNSName"], VPCE_ZONE)
    assert code == "InvalidChangeBatch"
    assert message.endswith("but the alias target name does not lie within the target zone")
    code, message = _error(
        _alias, route53, zone, "nope-1.us-east-1.elb.amazonaws.com", lb["CanonicalHostedZoneId"]
    )
    assert (code, message.endswith("but that target was not found")) == ("InvalidChangeBatch", True)


def test_alias_to_a_record_of_the_callers_zone_needs_that_record(world):
    account = world.account()
    route53, zone, _ = _private_zone(world, account)
    zone_id = zone.rsplit("/", 1)[-1]
    code, message = _error(_alias, route53, zone, "real.svc.vendor.internal", zone_id)
    assert code == "InvalidChangeBatch" and message.endswith("that target was not found")
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "real.svc.vendor.internal",
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "10.0.0.5"}],
                    },
                }
            ]
        },
    )
    _alias(route53, zone, "real.svc.vendor.internal", zone_id)
    code, message = _error(_alias, route53, zone, "elsewhere.example.com", zone_id)
    assert code == "InvalidChangeBatch" and message.endswith("does not lie within the target zone")


def test_create_of_an_existing_record_is_refused(world):
    account = world.account()
    route53, zone, _ = _private_zone(world, account)

    def change(action, value, name="www.svc.vendor.internal"):
        return {
            "Action": action,
            "ResourceRecordSet": {
                "Name": name,
                "Type": "A",
                "TTL": 60,
                "ResourceRecords": [{"Value": value}],
            },
        }

    route53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [change("CREATE", "10.0.0.1")]}
    )
    assert _error(
        route53.change_resource_record_sets,
        HostedZoneId=zone,
        ChangeBatch={"Changes": [change("CREATE", "10.0.0.2", "WWW.svc.vendor.internal.")]},
    ) == (
        "InvalidChangeBatch",
        "Tried to create resource record set [name='www.svc.vendor.internal.', type='A'] "
        "but it already exists",
    )
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [change("DELETE", "10.0.0.1"), change("CREATE", "10.0.0.3")]},
    )
    route53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [change("UPSERT", "10.0.0.4")]}
    )
    records = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    www = [r for r in records if r["Name"] == "www.svc.vendor.internal."]
    assert [r["ResourceRecords"] for r in www] == [[{"Value": "10.0.0.4"}]]


def test_private_zone_vpc_must_be_the_callers(world):
    owner, other = world.account(), world.account()
    foreign_vpc, _ = world.network(other, ("use1-az6",))
    route53 = owner.client("route53")
    for vpc in (foreign_vpc, "vpc-0123456789abcdef0"):
        code, _ = _error(
            route53.create_hosted_zone,
            Name="svc.vendor.internal",
            CallerReference=str(uuid.uuid4()),
            VPC={"VPCRegion": "us-east-1", "VPCId": vpc},
        )
        assert code == "InvalidVPCId"
    assert route53.list_hosted_zones()["HostedZones"] == []
    _, zone, _ = _private_zone(world, owner)
    assert (
        _error(
            route53.associate_vpc_with_hosted_zone,
            HostedZoneId=zone,
            VPC={"VPCRegion": "us-east-1", "VPCId": foreign_vpc},
        )[0]
        == "InvalidVPCId"
    )
    # In the wrong Region the caller's own VPC does not exist either.
    own_vpc = route53.get_hosted_zone(Id=zone)["VPCs"][0]["VPCId"]
    assert (
        _error(
            route53.associate_vpc_with_hosted_zone,
            HostedZoneId=zone,
            VPC={"VPCRegion": "us-west-2", "VPCId": own_vpc},
        )[0]
        == "InvalidVPCId"
    )


def test_changes_are_pending_then_insync(world, server_url):
    account = world.account()
    route53, zone, _ = _private_zone(world, account)
    info = route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "txt.svc.vendor.internal",
                        "Type": "TXT",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": '"hello"'}],
                    },
                }
            ]
        },
    )["ChangeInfo"]
    assert info["Status"] == "PENDING"
    assert info["Id"].startswith("/change/C")
    assert route53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "PENDING"
    route53.get_waiter("resource_record_sets_changed").wait(
        Id=info["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 10}
    )
    seen = route53.get_change(Id=info["Id"])["ChangeInfo"]
    assert (seen["Id"], seen["Status"]) == (info["Id"], "INSYNC")
    assert _error(route53.get_change, Id="C0000000000000000000") == (
        "NoSuchChange",
        "A change with the specified change ID does not exist.",
    )
    # Another account does not see the change.
    assert _error(world.account().client("route53").get_change, Id=info["Id"])[0] == "NoSuchChange"


def test_pending_time_is_a_runtime_knob(world, server_url):
    status, config = control(server_url, "GET", "config")
    assert (status, config["route53_pending_seconds"]) == (200, 0.5)
    assert control(server_url, "POST", "config", {"route53_pending_seconds": -1})[0] == 400
    try:
        control(server_url, "POST", "config", {"route53_pending_seconds": 30})
        account = world.account()
        route53, zone, _ = _private_zone(world, account)
        change = route53.get_hosted_zone(Id=zone)  # the zone exists at once
        assert change["HostedZone"]["Id"] == zone
        created = route53.create_hosted_zone(
            Name="public.example.com", CallerReference=str(uuid.uuid4())
        )["ChangeInfo"]
        time.sleep(0.6)
        assert route53.get_change(Id=created["Id"])["ChangeInfo"]["Status"] == "PENDING"
        control(server_url, "POST", "config", {"route53_pending_seconds": 0})
        assert route53.get_change(Id=created["Id"])["ChangeInfo"]["Status"] == "INSYNC"
    finally:
        control(server_url, "POST", "config", {"route53_pending_seconds": 0.5})

"""CreateHostedZone with a VPC makes a private zone associated with it, with or without
HostedZoneConfig.PrivateZone; without a VPC the zone stays public."""

import uuid


def _zone(route53, zone_id):
    return route53.get_hosted_zone(Id=zone_id)


def test_a_vpc_alone_makes_the_zone_private(world):
    account = world.account()
    vpc, _ = world.network(account, ("us-east-1a",))
    route53 = account.client("route53")
    created = route53.create_hosted_zone(
        Name="api.vendor.internal",
        CallerReference=str(uuid.uuid4()),
        VPC={"VPCRegion": "us-east-1", "VPCId": vpc},
    )
    assert created["HostedZone"]["Config"]["PrivateZone"] is True
    assert created["VPC"] == {"VPCRegion": "us-east-1", "VPCId": vpc}
    zone = _zone(route53, created["HostedZone"]["Id"])
    assert zone["HostedZone"]["Config"]["PrivateZone"] is True
    assert zone["VPCs"] == [{"VPCRegion": "us-east-1", "VPCId": vpc}]
    by_vpc = route53.list_hosted_zones_by_vpc(VPCId=vpc, VPCRegion="us-east-1")
    assert [z["Name"] for z in by_vpc["HostedZoneSummaries"]] == ["api.vendor.internal."]


def test_explicit_private_flag_still_works(world):
    account = world.account()
    vpc, _ = world.network(account, ("us-east-1a",))
    route53 = account.client("route53")
    created = route53.create_hosted_zone(
        Name="api.vendor.internal",
        CallerReference=str(uuid.uuid4()),
        VPC={"VPCRegion": "us-east-1", "VPCId": vpc},
        HostedZoneConfig={"Comment": "mine", "PrivateZone": True},
    )
    zone = _zone(route53, created["HostedZone"]["Id"])
    assert zone["HostedZone"]["Config"] == {"Comment": "mine", "PrivateZone": True}
    assert zone["VPCs"] == [{"VPCRegion": "us-east-1", "VPCId": vpc}]


def test_without_a_vpc_the_zone_is_public(world):
    account = world.account()
    route53 = account.client("route53")
    created = route53.create_hosted_zone(
        Name="public.example.com", CallerReference=str(uuid.uuid4())
    )
    assert created["HostedZone"]["Config"]["PrivateZone"] is False
    assert "VPC" not in created

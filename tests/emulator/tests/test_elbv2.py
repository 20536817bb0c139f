"""ELBv2: ARNs name the load balancer type; a load balancer behind an endpoint service
cannot be deleted."""

import re
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import control


def test_network_load_balancer_arn_says_net_and_application_says_app(world):
    account = world.account()
    vpc, subnets = world.network(account, ("use1-az6", "use1-az1"))
    elb = account.client("elbv2")
    arns = {}
    for kind in ("network", "application"):
        name = f"{kind[:3]}-{uuid.uuid4().hex[:8]}"
        [lb] = elb.create_load_balancer(
            Name=name,
            Type=kind,
            Scheme="internal",
            Subnets=subnets,
            Tags=[{"Key": "kind", "Value": kind}],
        )["LoadBalancers"]
        arns[kind] = lb["LoadBalancerArn"]
        token = {"network": "net", "application": "app"}[kind]
        assert re.fullmatch(
            rf"arn:aws:elasticloadbalancing:us-east-1:{account.id}:loadbalancer/{token}/"
            rf"{name}/[0-9a-f]{{16}}",
            lb["LoadBalancerArn"],
        )
    [described] = elb.describe_load_balancers(LoadBalancerArns=[arns["network"]])[
        "LoadBalancers"
    ]
    assert described["Type"] == "network"
    [tags] = elb.describe_tags(ResourceArns=[arns["network"]])["TagDescriptions"]
    assert tags["Tags"] == [{"Key": "kind", "Value": "network"}]
    target_group = elb.create_target_group(
        Name=f"tg-{uuid.uuid4().hex[:8]}", Protocol="TCP", Port=443, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    [listener] = elb.create_listener(
        LoadBalancerArn=arns["network"],
        Protocol="TCP",
        Port=443,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}],
    )["Listeners"]
    assert ":listener/net/" in listener["ListenerArn"]


def test_load_balancer_of_an_endpoint_service_is_in_use(world):
    provider = world.account()
    service = world.service(provider)
    [nlb] = service["NetworkLoadBalancerArns"]
    elb = provider.client("elbv2")
    with pytest.raises(ClientError) as excinfo:
        elb.delete_load_balancer(LoadBalancerArn=nlb)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    error = excinfo.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "ResourceInUse",
        f"Load balancer '{nlb}' cannot be deleted because it is currently associated with "
        "another service",
    )
    assert elb.describe_load_balancers(LoadBalancerArns=[nlb])["LoadBalancers"]

    provider.client("ec2").delete_vpc_endpoint_service_configurations(
        ServiceIds=[service["ServiceId"]]
    )
    elb.delete_load_balancer(LoadBalancerArn=nlb)
    with pytest.raises(ClientError) as excinfo:
        elb.describe_load_balancers(LoadBalancerArns=[nlb])
    assert excinfo.value.response["Error"]["Code"] == "LoadBalancerNotFound"


def test_proxy_protocol_v2_is_listed_off_by_default_and_takes_true_or_false(world):
    account = world.account()
    vpc, _ = world.network(account, ("use1-az6",))
    elb = account.client("elbv2")
    arn = elb.create_target_group(
        Name=f"tg-{uuid.uuid4().hex[:8]}", Protocol="TCP", Port=443, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]

    def proxy_v2() -> str:
        attributes = elb.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
        return {a["Key"]: a["Value"] for a in attributes}["proxy_protocol_v2.enabled"]

    assert proxy_v2() == "false"
    for value in ("true", "false"):
        elb.modify_target_group_attributes(
            TargetGroupArn=arn, Attributes=[{"Key": "proxy_protocol_v2.enabled", "Value": value}]
        )
        assert proxy_v2() == value
    with pytest.raises(ClientError) as excinfo:
        elb.modify_target_group_attributes(
            TargetGroupArn=arn, Attributes=[{"Key": "proxy_protocol_v2.enabled", "Value": "yes"}]
        )
    assert excinfo.value.response["Error"]["Code"] == "ValidationError"
    assert proxy_v2() == "false"


def test_a_new_load_balancer_is_provisioning_for_nlb_provisioning_seconds(world, server_url):
    account = world.account()
    _, subnets = world.network(account, ("use1-az6",))
    elb = account.client("elbv2")

    def state(arn: str) -> str:
        [lb] = elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
        return lb["State"]["Code"]

    def create() -> str:
        [lb] = elb.create_load_balancer(
            Name=f"nlb-{uuid.uuid4().hex[:8]}", Type="network", Scheme="internal", Subnets=subnets
        )["LoadBalancers"]
        assert lb["State"]["Code"] == "provisioning"
        return lb["LoadBalancerArn"]

    # The default (0 s): active at the first Describe, as moto does.
    assert control(server_url, "GET", "config")[1]["nlb_provisioning_seconds"] == 0
    assert state(create()) == "active"
    try:
        control(server_url, "POST", "config", {"nlb_provisioning_seconds": 1})
        arn = create()
        assert [state(arn), state(arn)] == ["provisioning", "provisioning"]
        time.sleep(1.1)
        assert state(arn) == "active"
        # Once active it stays active, whatever the setting becomes.
        control(server_url, "POST", "config", {"nlb_provisioning_seconds": 30})
        assert state(arn) == "active"
    finally:
        control(server_url, "POST", "config", {"nlb_provisioning_seconds": 0})

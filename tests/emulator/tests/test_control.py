"""The control API: health, injected faults per protocol, runtime config; and AWS-style
errors instead of HTML pages when moto fails."""

import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import PENDING_SECONDS, control


@pytest.fixture(autouse=True)
def no_leftover_faults(server_url):
    yield
    control(server_url, "DELETE", "faults")


def _fail(call, **kwargs):
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    response = excinfo.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPHeaders"].get("x-privatelink-fault"),
    )


def test_health(server_url):
    assert control(server_url, "GET", "health") == (200, {"ok": True})


def test_ec2_throttle_counts_and_is_scoped_to_one_account(server_url, world):
    target, bystander = world.account(), world.account()
    fault = {"action": "DescribeVpcs", "count": 2, "kind": "throttle", "account": target.id}
    assert control(server_url, "POST", "faults", fault) == (
        200,
        {"faults": [fault]},
    )
    bystander.client("ec2").describe_vpcs()
    ec2 = target.client("ec2")
    for _ in range(2):
        assert _fail(ec2.describe_vpcs) == (503, "RequestLimitExceeded", "injected")
    ec2.describe_vpcs()
    assert control(server_url, "GET", "faults") == (200, {"faults": []})


def test_server_error_on_a_query_service(server_url, world):
    account = world.account()
    control(
        server_url,
        "POST",
        "faults",
        {"action": "ListTopics", "count": 1, "kind": "server-error", "account": account.id},
    )
    sns = account.client("sns")
    assert _fail(sns.list_topics) == (500, "InternalFailure", "injected")
    sns.list_topics()


@pytest.mark.parametrize(
    ("service", "call", "action", "expected"),
    [
        ("sns", "list_topics", "ListTopics", (400, "Throttling")),
        ("sqs", "list_queues", "ListQueues", (400, "ThrottlingException")),  # JSON
        ("route53", "list_hosted_zones", "ListHostedZones", (400, "Throttling")),  # REST-XML
        ("lambda", "list_functions", "ListFunctions", (429, "TooManyRequestsException")),
    ],
)
def test_throttle_in_each_protocol(server_url, world, service, call, action, expected):
    account = world.account()
    control(
        server_url,
        "POST",
        "faults",
        {"action": action, "count": 1, "kind": "throttle", "account": account.id},
    )
    client = account.client(service)
    assert _fail(getattr(client, call)) == (*expected, "injected")
    getattr(client, call)()


def test_fault_requests_are_validated_listed_and_cleared(server_url):
    for body in (
        {"action": "DescribeVpcs", "kind": "explode"},
        {"action": "", "kind": "throttle"},
        {"action": "DescribeVpcs", "kind": "throttle", "count": 0},
        {"action": "DescribeVpcs", "kind": "throttle", "account": "123"},
    ):
        status, reply = control(server_url, "POST", "faults", body)
        assert status == 400 and "error" in reply
    fault = {"action": "NeverCalled", "count": 3, "kind": "server-error", "account": None}
    control(server_url, "POST", "faults", fault)
    assert control(server_url, "GET", "faults") == (200, {"faults": [fault]})
    assert control(server_url, "DELETE", "faults") == (200, {"faults": []})


def test_pending_seconds_can_be_changed_at_runtime(server_url, world):
    status, config = control(server_url, "GET", "config")
    assert (status, config["pending_seconds"]) == (200, PENDING_SECONDS)
    assert control(server_url, "POST", "config", {"pending_seconds": -1})[0] == 400
    try:
        assert control(server_url, "POST", "config", {"pending_seconds": 0}) == (
            200,
            {**config, "pending_seconds": 0.0},
        )
        provider, consumer, service, endpoint = world.connected()
        provider.client("ec2").accept_vpc_endpoint_connections(
            ServiceId=service["ServiceId"], VpcEndpointIds=[endpoint["VpcEndpointId"]]
        )
        [described] = consumer.client("ec2").describe_vpc_endpoints()["VpcEndpoints"]
        assert described["State"] == "available"
    finally:
        control(server_url, "POST", "config", {"pending_seconds": PENDING_SECONDS})


def test_unimplemented_action_is_an_aws_invalid_action_error(server_url, world):
    ec2 = world.account().client("ec2")
    status, code, _ = _fail(
        ec2.modify_vpc_endpoint_service_payer_responsibility,
        ServiceId="vpce-svc-00000000",
        PayerResponsibility="ServiceOwner",
    )
    assert (status, code) == (400, "InvalidAction")
    request = urllib.request.Request(
        server_url,
        method="POST",
        data=b"Action=ModifyVpcEndpointServicePayerResponsibility&Version=2016-11-15"
        b"&ServiceId=vpce-svc-00000000&PayerResponsibility=ServiceOwner",
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/"
            "aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=10)
    body = excinfo.value.read().decode()
    assert excinfo.value.code == 400
    assert excinfo.value.headers["Content-Type"].startswith("text/xml")
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>')
    assert (
        "<Code>InvalidAction</Code><Message>The action ModifyVpcEndpointServicePayer"
        "Responsibility is not valid for this web service.</Message>"
    ) in body


def test_moto_crash_is_an_aws_internal_failure(world):
    sns = world.account().client("sns")
    topic = sns.create_topic(Name="crash")["TopicArn"]
    with pytest.raises(ClientError) as excinfo:
        sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue="{oops")
    response = excinfo.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert response["Error"]["Code"] == "InternalFailure"
    assert "JSONDecodeError" in response["Error"]["Message"]

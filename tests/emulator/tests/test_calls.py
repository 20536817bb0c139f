"""Call recording: every AWS request served, with account, service, action, app tag,
parameters and status, on `GET /_privatelink/calls`."""

import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, control


def _client(account, service, app):
    return boto3.client(
        service,
        endpoint_url=account.url,
        region_name=REGION,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, user_agent_appid=app),
        aws_access_key_id=account.credentials["AccessKeyId"],
        aws_secret_access_key=account.credentials["SecretAccessKey"],
        aws_session_token=account.credentials["SessionToken"],
    )


def test_calls_are_recorded_per_protocol_and_filtered_by_app(world, server_url):
    account = world.account()
    app = f"cov-{uuid.uuid4().hex[:8]}"
    ec2 = _client(account, "ec2", app)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]  # EC2 query
    ec2.describe_vpcs(VpcIds=[vpc])
    _client(account, "sqs", app).list_queues(QueueNamePrefix="x")  # JSON
    with pytest.raises(ClientError):  # REST-JSON, 404
        _client(account, "lambda", app).get_function(FunctionName="nope")
    route53 = _client(account, "route53", app)  # REST-XML
    zone = route53.create_hosted_zone(
        Name="calls.example.com", CallerReference="ref-1"
    )["HostedZone"]["Id"].rsplit("/", 1)[-1]
    account.client("sts").get_caller_identity()  # no app tag

    status, body = control(server_url, "GET", f"calls?app={app}")
    assert status == 200
    calls = body["calls"]
    assert [(c["service"], c["action"], c["status"]) for c in calls] == [
        ("ec2", "CreateVpc", 200),
        ("ec2", "DescribeVpcs", 200),
        ("sqs", "ListQueues", 200),
        ("lambda", "GetFunction", 404),
        ("route53", "CreateHostedZone", 201),
    ]
    assert {(c["account"], c["region"], c["app"]) for c in calls} == {(account.id, REGION, app)}
    assert calls[0]["params"] == {"CidrBlock": "10.0.0.0/16"}
    assert calls[1]["params"] == {"VpcId.1": vpc}
    assert calls[2]["params"] == {"QueueNamePrefix": "x"}
    assert calls[3]["params"] == {
        "path": "/2015-03-31/functions/nope",
        "labels": {"FunctionName": "nope"},
        "query": {},
        "body": None,
    }
    created = calls[4]["params"]
    assert created["path"] == "/2013-04-01/hostedzone"
    assert created["body"]["Name"] == "calls.example.com"
    assert created["body"]["CallerReference"] == "ref-1"

    route53.get_hosted_zone(Id=zone)
    [last] = control(server_url, "GET", f"calls?app={app}")[1]["calls"][-1:]
    assert last["action"] == "GetHostedZone"
    assert last["params"]["labels"] == {"Id": zone}

    mine = control(server_url, "GET", f"calls?account={account.id}")[1]["calls"]
    untagged = [c for c in mine if c["app"] is None]
    assert [(c["service"], c["action"]) for c in untagged] == [("sts", "GetCallerIdentity")]

    assert control(server_url, "DELETE", "calls") == (200, {"calls": []})
    assert control(server_url, "GET", "calls") == (200, {"calls": []})
    assert control(server_url, "PUT", "calls")[0] == 405


def test_injected_faults_are_recorded_with_their_status(world, server_url):
    account = world.account()
    app = f"cov-{uuid.uuid4().hex[:8]}"
    control(
        server_url,
        "POST",
        "faults",
        {"action": "ListTopics", "count": 1, "kind": "throttle", "account": account.id},
    )
    sns = _client(account, "sns", app)
    with pytest.raises(ClientError):
        sns.list_topics()
    sns.list_topics()
    calls = control(server_url, "GET", f"calls?app={app}")[1]["calls"]
    assert [(c["service"], c["action"], c["status"]) for c in calls] == [
        ("sns", "ListTopics", 400),
        ("sns", "ListTopics", 200),
    ]

"""Connection notifications: the CRUD API, and delivery through SNS to SQS."""

import json

import pytest
from botocore.exceptions import ClientError


def _topic_with_queue(account, policy=None):
    """(topic ARN, queue URL): a topic with an SQS subscriber, and optionally a policy."""
    sns, sqs = account.client("sns"), account.client("sqs")
    topic = sns.create_topic(Name="endpoint-events")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="endpoint-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    if policy is not None:
        sns.set_topic_attributes(
            TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy)
        )
    return topic, queue_url


def _vpce_policy(topic, source_arn, account_id):
    """The topic policy AWS documents for endpoint service notifications."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "vpce.amazonaws.com"},
                "Action": "SNS:Publish",
                "Resource": topic,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": source_arn},
                    "StringEquals": {"aws:SourceAccount": account_id},
                },
            }
        ],
    }


def _service_arn(provider, service):
    return f"arn:aws:ec2:us-east-1:{provider.id}:vpc-endpoint-service/{service['ServiceId']}"


def _received(account, queue_url):
    messages = (
        account.client("sqs")
        .receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        .get("Messages", [])
    )
    return [json.loads(m["Body"]) for m in messages]


def test_notification_crud_and_filters(world):
    provider = world.account()
    service = world.service(provider)
    other = world.service(provider)
    ec2 = provider.client("ec2")
    topic = f"arn:aws:sns:us-east-1:{provider.id}:events"

    created = ec2.create_vpc_endpoint_connection_notification(
        ServiceId=service["ServiceId"],
        ConnectionNotificationArn=topic,
        ConnectionEvents=["Connect", "Accept"],
        ClientToken="n-1",
    )
    notification = created["ConnectionNotification"]
    nid = notification["ConnectionNotificationId"]
    assert nid.startswith("vpce-nfn-")
    assert notification == {
        "ConnectionNotificationId": nid,
        "ServiceId": service["ServiceId"],
        "ConnectionNotificationType": "Topic",
        "ConnectionNotificationArn": topic,
        "ConnectionEvents": ["Connect", "Accept"],
        "ConnectionNotificationState": "Enabled",
        "ServiceRegion": "us-east-1",
    }
    assert created["ClientToken"] == "n-1"
    again = ec2.create_vpc_endpoint_connection_notification(
        ServiceId=service["ServiceId"],
        ConnectionNotificationArn=topic,
        ConnectionEvents=["Connect", "Accept"],
        ClientToken="n-1",
    )
    assert again["ConnectionNotification"]["ConnectionNotificationId"] == nid
    second = ec2.create_vpc_endpoint_connection_notification(
        ServiceId=other["ServiceId"],
        ConnectionNotificationArn=topic + "2",
        ConnectionEvents=["Delete"],
    )["ConnectionNotification"]["ConnectionNotificationId"]

    def ids(**kwargs):
        found = ec2.describe_vpc_endpoint_connection_notifications(**kwargs)
        return [n["ConnectionNotificationId"] for n in found["ConnectionNotificationSet"]]

    assert ids() == [nid, second]
    assert ids(ConnectionNotificationId=second) == [second]
    for name, values, expected in (
        ("connection-notification-arn", [topic], [nid]),
        ("connection-notification-id", [second], [second]),
        ("connection-notification-state", ["Enabled"], [nid, second]),
        ("connection-notification-type", ["Topic"], [nid, second]),
        ("service-id", [other["ServiceId"]], [second]),
        ("vpc-endpoint-id", ["vpce-00000000000000000"], []),
    ):
        assert ids(Filters=[{"Name": name, "Values": values}]) == expected, name
    page = ec2.describe_vpc_endpoint_connection_notifications(MaxResults=1)
    assert len(page["ConnectionNotificationSet"]) == 1 and page["NextToken"]
    rest = ec2.describe_vpc_endpoint_connection_notifications(NextToken=page["NextToken"])
    assert [n["ConnectionNotificationId"] for n in rest["ConnectionNotificationSet"]] == [second]

    assert (
        ec2.modify_vpc_endpoint_connection_notification(
            ConnectionNotificationId=nid,
            ConnectionEvents=["Reject"],
            ConnectionNotificationArn=topic + "3",
        )["ReturnValue"]
        is True
    )
    [modified] = ec2.describe_vpc_endpoint_connection_notifications(ConnectionNotificationId=nid)[
        "ConnectionNotificationSet"
    ]
    assert (modified["ConnectionEvents"], modified["ConnectionNotificationArn"]) == (
        ["Reject"],
        topic + "3",
    )

    result = ec2.delete_vpc_endpoint_connection_notifications(
        ConnectionNotificationIds=[nid, "vpce-nfn-00000000000000000"]
    )
    assert [(u["ResourceId"], u["Error"]["Code"]) for u in result["Unsuccessful"]] == [
        ("vpce-nfn-00000000000000000", "InvalidConnectionNotification")
    ]
    assert ids() == [second]


def test_notification_create_errors(world):
    provider = world.account()
    service = world.service(provider)
    ec2 = provider.client("ec2")
    topic = f"arn:aws:sns:us-east-1:{provider.id}:events"
    ec2.create_vpc_endpoint_connection_notification(
        ServiceId=service["ServiceId"],
        ConnectionNotificationArn=topic,
        ConnectionEvents=["Connect"],
        ClientToken="n-2",
    )
    for kwargs, code in (
        (
            {"ServiceId": service["ServiceId"], "ConnectionEvents": ["Bogus"]},
            "InvalidParameterValue",
        ),
        (
            {"ServiceId": "vpce-svc-00000000", "ConnectionEvents": ["Connect"]},
            "InvalidVpcEndpointServiceId.NotFound",
        ),
        (
            {
                "ServiceId": service["ServiceId"],
                "ConnectionEvents": ["Accept"],
                "ClientToken": "n-2",
            },
            "IdempotentParameterMismatch",
        ),
    ):
        with pytest.raises(ClientError) as excinfo:
            ec2.create_vpc_endpoint_connection_notification(
                ConnectionNotificationArn=topic, **kwargs
            )
        assert excinfo.value.response["Error"]["Code"] == code, kwargs


def test_all_four_events_are_delivered_to_sqs(world):
    provider, consumer = world.account(), world.account()
    service = world.service(provider, (f"arn:aws:iam::{consumer.id}:root",))
    topic, queue_url = _topic_with_queue(provider)
    provider.client("sns").set_topic_attributes(
        TopicArn=topic,
        AttributeName="Policy",
        AttributeValue=json.dumps(
            _vpce_policy(topic, _service_arn(provider, service), provider.id)
        ),
    )
    ec2 = provider.client("ec2")
    nid = ec2.create_vpc_endpoint_connection_notification(
        ServiceId=service["ServiceId"],
        ConnectionNotificationArn=topic,
        ConnectionEvents=["Connect", "Accept", "Reject", "Delete"],
    )["ConnectionNotification"]["ConnectionNotificationId"]
    vpc, subnets = world.network(consumer, ("use1-az6",))
    first = world.endpoint(consumer, service, subnets, vpc)["VpcEndpointId"]
    second = world.endpoint(consumer, service, subnets, vpc)["VpcEndpointId"]
    ec2.accept_vpc_endpoint_connections(ServiceId=service["ServiceId"], VpcEndpointIds=[first])
    ec2.reject_vpc_endpoint_connections(ServiceId=service["ServiceId"], VpcEndpointIds=[second])
    consumer.client("ec2").delete_vpc_endpoints(VpcEndpointIds=[first])

    envelopes = _received(provider, queue_url)
    assert {e["Type"] for e in envelopes} == {"Notification"}
    assert {e["TopicArn"] for e in envelopes} == {topic}
    messages = [json.loads(e["Message"]) for e in envelopes]
    assert sorted(
        (m["eventType"], m["vpcEndpointId"], m["vpcEndpointState"]) for m in messages
    ) == sorted(
        [
            ("Connect", first, "pendingAcceptance"),
            ("Connect", second, "pendingAcceptance"),
            ("Accept", first, "pending"),
            ("Reject", second, "rejected"),
            ("Delete", first, "deleting"),
        ]
    )
    for message in messages:
        assert message["serviceId"] == service["ServiceId"]
        assert message["vpcEndpointOwner"] == consumer.id
        assert message["connectionNotificationId"] == nid
        assert message["timestamp"].endswith("Z")


def test_only_subscribed_events_are_delivered(world):
    provider, consumer = world.account(), world.account()
    service = world.service(provider, ("*",), acceptance_required=False)
    topic, queue_url = _topic_with_queue(provider)
    provider.client("sns").set_topic_attributes(
        TopicArn=topic,
        AttributeName="Policy",
        AttributeValue=json.dumps(
            _vpce_policy(topic, _service_arn(provider, service), provider.id)
        ),
    )
    provider.client("ec2").create_vpc_endpoint_connection_notification(
        ServiceId=service["ServiceId"],
        ConnectionNotificationArn=topic,
        ConnectionEvents=["Delete"],
    )
    vpc, subnets = world.network(consumer, ("use1-az6",))
    endpoint = world.endpoint(consumer, service, subnets, vpc)["VpcEndpointId"]
    assert _received(provider, queue_url) == []
    consumer.client("ec2").delete_vpc_endpoints(VpcEndpointIds=[endpoint])
    [envelope] = _received(provider, queue_url)
    assert json.loads(envelope["Message"])["eventType"] == "Delete"


@pytest.mark.parametrize("policy_kind", ["default", "other-service", "other-account"])
def test_not_delivered_unless_the_topic_policy_allows_it(world, policy_kind):
    provider, consumer = world.account(), world.account()
    service = world.service(provider, ("*",))
    topic, queue_url = _topic_with_queue(provider)
    if policy_kind != "default":  # moto's default policy does not name vpce.amazonaws.com
        source_arn = _service_arn(provider, service)
        account = provider.id
        if policy_kind == "other-service":
            source_arn = source_arn.rsplit("/", 1)[0] + "/vpce-svc-0ther"
        else:
            account = "000000000000"
        provider.client("sns").set_topic_attributes(
            TopicArn=topic,
            AttributeName="Policy",
            AttributeValue=json.dumps(_vpce_policy(topic, source_arn, account)),
        )
    provider.client("ec2").create_vpc_endpoint_connection_notification(
        ServiceId=service["ServiceId"],
        ConnectionNotificationArn=topic,
        ConnectionEvents=["Connect"],
    )
    vpc, subnets = world.network(consumer, ("use1-az6",))
    world.endpoint(consumer, service, subnets, vpc)
    assert _received(provider, queue_url) == []


def test_publish_failure_does_not_fail_the_ec2_call(world):
    provider, consumer, service, endpoint = world.connected()
    sns = provider.client("sns")
    topic = sns.create_topic(Name="dangling")["TopicArn"]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{provider.id}:gone"
    )
    sns.set_topic_attributes(
        TopicArn=topic,
        AttributeName="Policy",
        AttributeValue=json.dumps(_vpce_policy(topic, "*", provider.id)),
    )
    ec2 = provider.client("ec2")
    ec2.create_vpc_endpoint_connection_notification(
        ServiceId=service["ServiceId"],
        ConnectionNotificationArn=topic,
        ConnectionEvents=["Accept"],
    )
    result = ec2.accept_vpc_endpoint_connections(
        ServiceId=service["ServiceId"], VpcEndpointIds=[endpoint["VpcEndpointId"]]
    )
    assert result["Unsuccessful"] == []


def test_endpoint_notification_reaches_the_consumer(world):
    provider, consumer, service, endpoint = world.connected()
    topic, queue_url = _topic_with_queue(consumer)
    endpoint_arn = f"arn:aws:ec2:us-east-1:{consumer.id}:vpc-endpoint/{endpoint['VpcEndpointId']}"
    consumer.client("sns").set_topic_attributes(
        TopicArn=topic,
        AttributeName="Policy",
        AttributeValue=json.dumps(_vpce_policy(topic, endpoint_arn, consumer.id)),
    )
    consumer.client("ec2").create_vpc_endpoint_connection_notification(
        VpcEndpointId=endpoint["VpcEndpointId"],
        ConnectionNotificationArn=topic,
        ConnectionEvents=["Accept", "Reject"],
    )
    provider.client("ec2").accept_vpc_endpoint_connections(
        ServiceId=service["ServiceId"], VpcEndpointIds=[endpoint["VpcEndpointId"]]
    )
    [envelope] = _received(consumer, queue_url)
    assert json.loads(envelope["Message"])["eventType"] == "Accept"

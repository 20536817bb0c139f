"""DynamoDB for the tenant registry: what AWS refuses is refused (README §16).

Clients here skip botocore's own parameter validation: the Rust SDK does not check
lengths or ranges before sending, so the server has to.
"""

import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, control

RAW = Config(retries={"total_max_attempts": 1, "mode": "standard"}, parameter_validation=False)
KEY_MISMATCH = "The provided key element does not match the schema"


def _dynamodb(account, app: str | None = None) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=account.url,
        region_name=REGION,
        config=RAW.merge(Config(user_agent_appid=app)) if app else RAW,
        aws_access_key_id=account.credentials["AccessKeyId"],
        aws_secret_access_key=account.credentials["SecretAccessKey"],
        aws_session_token=account.credentials["SessionToken"],
    )


def _table(ddb, **extra) -> str:
    """A registry table as the product creates it: `account_id` (S) hash key only."""
    name = f"tenants-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "account_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "account_id", "KeyType": "HASH"}],
        **extra,
    )
    return name


def _key(i: int) -> dict[str, Any]:
    return {"account_id": {"S": f"{i:012d}"}}


def _item(i: int, version: int = 1, **attrs: Any) -> dict[str, Any]:
    return {**_key(i), "version": {"N": str(version)}, **attrs}


def _error(call, **kwargs) -> dict[str, Any]:
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    return excinfo.value.response


def _refused(call, code: str, message: str | None = None, **kwargs) -> dict[str, Any]:
    response = _error(call, **kwargs)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, response["Error"]
    assert response["Error"]["Code"] == code, response["Error"]
    if message is not None:
        assert response["Error"]["Message"] == message
    return response


@pytest.fixture
def ddb(world):
    return _dynamodb(world.account())


def test_batch_get_item_limits_and_duplicates(ddb):
    table = _table(ddb)
    for i in range(3):
        ddb.put_item(TableName=table, Item=_item(i))

    got = ddb.batch_get_item(
        RequestItems={table: {"Keys": [_key(i) for i in range(100)], "ConsistentRead": True}}
    )
    assert sorted(i["account_id"]["S"] for i in got["Responses"][table]) == [
        f"{i:012d}" for i in range(3)
    ]
    assert got["UnprocessedKeys"] == {}

    # Over 100 keys of one table: the model constraint (moto's message, as AWS words it).
    _refused(
        ddb.batch_get_item,
        "ValidationException",
        f"1 validation error detected: Value at 'requestItems.{table}.member.keys' failed to "
        "satisfy constraint: Member must have length less than or equal to 100",
        RequestItems={table: {"Keys": [_key(i) for i in range(101)]}},
    )
    # Over 100 keys in all (API_BatchGetItem: "Too many items requested ...").
    other = _table(ddb)
    _refused(
        ddb.batch_get_item,
        "ValidationException",
        "Too many items requested for the BatchGetItem call",
        RequestItems={
            table: {"Keys": [_key(i) for i in range(60)]},
            other: {"Keys": [_key(i) for i in range(41)]},
        },
    )
    _refused(
        ddb.batch_get_item,
        "ValidationException",
        "Provided list of item keys contains duplicates",
        RequestItems={table: {"Keys": [_key(1), _key(2), _key(1)]}},
    )
    # At least one key per table and one table (moto answered an empty result).
    _refused(
        ddb.batch_get_item,
        "ValidationException",
        f"1 validation error detected: Value '[]' at 'requestItems.{table}.member.keys' failed "
        "to satisfy constraint: Member must have length greater than or equal to 1",
        RequestItems={table: {"Keys": []}},
    )
    _refused(ddb.batch_get_item, "ValidationException", RequestItems={})


def test_keys_must_match_the_key_schema(ddb):
    table = _table(ddb)
    ddb.put_item(TableName=table, Item=_item(1))
    wrong_type = {"account_id": {"N": "1"}}
    extra = {**_key(1), "version": {"N": "1"}}
    other = {"tenant": {"S": "x"}}

    for key in (wrong_type, extra, other, {}):
        _refused(ddb.get_item, "ValidationException", KEY_MISMATCH, TableName=table, Key=key)
        _refused(
            ddb.batch_get_item,
            "ValidationException",
            KEY_MISMATCH,
            RequestItems={table: {"Keys": [_key(2), key]}},
        )
        _refused(ddb.delete_item, "ValidationException", KEY_MISMATCH, TableName=table, Key=key)
        _refused(
            ddb.update_item,
            "ValidationException",
            KEY_MISMATCH,
            TableName=table,
            Key=key,
            UpdateExpression="SET version = :v",
            ExpressionAttributeValues={":v": {"N": "2"}},
        )
        _refused(
            ddb.transact_write_items,
            "ValidationException",
            KEY_MISMATCH,
            TransactItems=[{"Delete": {"TableName": table, "Key": key}}],
        )
    # Nothing was deleted or changed by any of them.
    assert ddb.get_item(TableName=table, Key=_key(1), ConsistentRead=True)["Item"] == _item(1)


def test_transact_write_items_limits_and_one_action_per_item(ddb):
    table = _table(ddb)

    def put(i: int) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": table,
                "Item": _item(i),
                "ConditionExpression": "attribute_not_exists(account_id)",
            }
        }

    _refused(
        ddb.transact_write_items,
        "ValidationException",
        "1 validation error detected at 'transactItems' failed to satisfy constraint: "
        "Member must have length less than or equal to 100.",
        TransactItems=[put(i) for i in range(101)],
    )
    _refused(
        ddb.transact_write_items,
        "ValidationException",
        "1 validation error detected: Value '[]' at 'transactItems' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1",
        TransactItems=[],
    )
    assert ddb.scan(TableName=table)["Count"] == 0

    same_item = "Transaction request cannot include multiple operations on one item"
    _refused(
        ddb.transact_write_items,
        "ValidationException",
        same_item,
        TransactItems=[put(1000), put(1000)],
    )
    _refused(
        ddb.transact_write_items,
        "ValidationException",
        same_item,
        TransactItems=[
            {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": _key(1001),
                    "ConditionExpression": "attribute_not_exists(account_id)",
                }
            },
            {
                "Update": {
                    "TableName": table,
                    "Key": _key(1001),
                    "UpdateExpression": "SET version = :v",
                    "ExpressionAttributeValues": {":v": {"N": "1"}},
                }
            },
        ],
    )
    assert ddb.scan(TableName=table)["Count"] == 0

    ddb.transact_write_items(TransactItems=[put(i) for i in range(100)])
    assert ddb.scan(TableName=table, Select="COUNT")["Count"] == 100


def test_a_failed_condition_cancels_the_whole_transaction(ddb):
    table = _table(ddb)
    ddb.put_item(TableName=table, Item=_item(1))
    ddb.put_item(TableName=table, Item=_item(2))

    response = _refused(
        ddb.transact_write_items,
        "TransactionCanceledException",
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, ConditionalCheckFailed, None]",
        TransactItems=[
            {
                "Put": {
                    "TableName": table,
                    "Item": _item(3),
                    "ConditionExpression": "attribute_not_exists(account_id)",
                }
            },
            {
                "Put": {
                    "TableName": table,
                    "Item": _item(1, 5),
                    "ConditionExpression": "attribute_not_exists(account_id)",
                }
            },
            {
                "Update": {
                    "TableName": table,
                    "Key": _key(2),
                    "UpdateExpression": "SET version = :next",
                    "ConditionExpression": "version = :v",
                    "ExpressionAttributeValues": {":v": {"N": "1"}, ":next": {"N": "2"}},
                }
            },
        ],
    )
    assert [r["Code"] for r in response["CancellationReasons"]] == [
        "None",
        "ConditionalCheckFailed",
        "None",
    ]
    read = {"TableName": table, "ConsistentRead": True}
    assert "Item" not in ddb.get_item(Key=_key(3), **read)
    assert ddb.get_item(Key=_key(1), **read)["Item"] == _item(1)
    assert ddb.get_item(Key=_key(2), **read)["Item"] == _item(2)


def test_transaction_actions_are_checked_like_single_writes(ddb):
    table = _table(ddb)
    ddb.put_item(TableName=table, Item=_item(1))

    # A table that does not exist fails the request (moto: a cancellation reason).
    _refused(
        ddb.transact_write_items,
        "ResourceNotFoundException",
        TransactItems=[{"Delete": {"TableName": "no-such-table", "Key": _key(1)}}],
    )
    # A Put without the key attribute (moto: a cancellation with reason "KeyError").
    _refused(
        ddb.transact_write_items,
        "ValidationException",
        "One or more parameter values were invalid: Missing the key account_id in the item",
        TransactItems=[{"Put": {"TableName": table, "Item": {"version": {"N": "1"}}}}],
    )
    # Expression values must be defined (moto: HTTP 500) and used (moto: accepted).
    _refused(
        ddb.transact_write_items,
        "ValidationException",
        "Invalid ConditionExpression: An expression attribute value used in expression is not "
        "defined; attribute value: :v",
        TransactItems=[
            {"Put": {"TableName": table, "Item": _item(2), "ConditionExpression": "version = :v"}}
        ],
    )
    _refused(
        ddb.transact_write_items,
        "ValidationException",
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:v}",
        TransactItems=[
            {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": _key(1),
                    "ConditionExpression": "attribute_exists(account_id)",
                    "ExpressionAttributeValues": {":v": {"N": "1"}},
                }
            }
        ],
    )
    assert ddb.scan(TableName=table)["Count"] == 1


def test_conditional_writes_fail_with_conditional_check_failed(ddb):
    table = _table(ddb)
    ddb.put_item(
        TableName=table, Item=_item(1), ConditionExpression="attribute_not_exists(account_id)"
    )
    failed = ("ConditionalCheckFailedException", "The conditional request failed")

    _refused(
        ddb.put_item,
        *failed,
        TableName=table,
        Item=_item(1, 9),
        ConditionExpression="attribute_not_exists(account_id)",
    )
    stale = {":v": {"N": "7"}}
    _refused(
        ddb.update_item,
        *failed,
        TableName=table,
        Key=_key(1),
        UpdateExpression="SET version = :next",
        ConditionExpression="version = :v",
        ExpressionAttributeValues={**stale, ":next": {"N": "8"}},
    )
    _refused(
        ddb.delete_item,
        *failed,
        TableName=table,
        Key=_key(1),
        ConditionExpression="version = :v",
        ExpressionAttributeValues=stale,
    )
    assert ddb.get_item(TableName=table, Key=_key(1), ConsistentRead=True)["Item"] == _item(1)

    # The current version passes.
    ddb.update_item(
        TableName=table,
        Key=_key(1),
        UpdateExpression="SET version = :next",
        ConditionExpression="version = :v",
        ExpressionAttributeValues={":v": {"N": "1"}, ":next": {"N": "2"}},
    )
    ddb.delete_item(
        TableName=table,
        Key=_key(1),
        ConditionExpression="version = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    assert "Item" not in ddb.get_item(TableName=table, Key=_key(1), ConsistentRead=True)


def test_expression_attribute_names_and_values_are_checked(ddb):
    table = _table(ddb)
    ddb.put_item(TableName=table, Item=_item(1))
    cases = [
        # (parameters, message); moto answered 200 or HTTP 500 to each.
        (
            {
                "ConditionExpression": "attribute_not_exists(account_id)",
                "ExpressionAttributeValues": {":v": {"N": "1"}},
            },
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:v}",
        ),
        (
            {"ConditionExpression": "version = :v"},
            "Invalid ConditionExpression: An expression attribute value used in expression is "
            "not defined; attribute value: :v",
        ),
        (
            {"ConditionExpression": "attribute_not_exists(#id)"},
            "Invalid ConditionExpression: An expression attribute name used in the document "
            "path is not defined; attribute name: #id",
        ),
        (
            {
                "ConditionExpression": "attribute_not_exists(account_id)",
                "ExpressionAttributeNames": {},
            },
            "ExpressionAttributeNames must not be empty",
        ),
        (
            {"ExpressionAttributeValues": {":v": {"N": "1"}}},
            "ExpressionAttributeValues can only be specified when using expressions: "
            "ConditionExpression is null",
        ),
        (
            {"ConditionExpression": "version = "},
            None,  # "Invalid ConditionExpression: Syntax error; ..."
        ),
    ]
    for params, message in cases:
        for call, target in (
            (ddb.put_item, {"Item": _item(2)}),
            (ddb.delete_item, {"Key": _key(1)}),
        ):
            response = _refused(
                call, "ValidationException", message, TableName=table, **target, **params
            )
            if message is None:
                assert response["Error"]["Message"].startswith(
                    "Invalid ConditionExpression: Syntax error; "
                )
    read = {"TableName": table, "ConsistentRead": True}
    assert "Item" not in ddb.get_item(Key=_key(2), **read)
    assert ddb.get_item(Key=_key(1), **read)["Item"] == _item(1)


def test_consistent_reads_see_the_latest_write(ddb):
    table = _table(ddb)
    ddb.put_item(TableName=table, Item=_item(1))
    ddb.update_item(
        TableName=table,
        Key=_key(1),
        UpdateExpression="SET version = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    got = ddb.get_item(TableName=table, Key=_key(1), ConsistentRead=True)
    assert got["Item"]["version"] == {"N": "2"}
    batch = ddb.batch_get_item(RequestItems={table: {"Keys": [_key(1)], "ConsistentRead": True}})
    assert batch["Responses"][table] == [_item(1, 2)]


def test_items_are_limited_to_400_kb(ddb):
    table = _table(ddb)
    name_and_key = len("account_id") + len("000000000001") + len("payload")
    exactly = 400 * 1024 - name_and_key

    # 409,600 bytes of names and values are accepted (moto stopped at 405,000) ...
    ddb.put_item(TableName=table, Item={**_key(1), "payload": {"S": "x" * exactly}})
    # ... one more is not.
    _refused(
        ddb.put_item,
        "ValidationException",
        "Item size has exceeded the maximum allowed size",
        TableName=table,
        Item={**_key(2), "payload": {"S": "x" * (exactly + 1)}},
    )
    # Replacing an attribute counts the new value only (moto counted both).
    ddb.update_item(
        TableName=table,
        Key=_key(1),
        UpdateExpression="SET payload = :b",
        ExpressionAttributeValues={":b": {"S": "y" * exactly}},
    )
    grow = {
        "TableName": table,
        "Key": _key(1),
        "UpdateExpression": "SET extra = :e",
        "ExpressionAttributeValues": {":e": {"S": "z"}},
    }
    _refused(
        ddb.update_item,
        "ValidationException",
        "Item size to update has exceeded the maximum allowed size",
        **grow,
    )
    # In a transaction it is a cancellation with reason ValidationError (moto: a
    # ValidationException).
    response = _refused(
        ddb.transact_write_items, "TransactionCanceledException", TransactItems=[{"Update": grow}]
    )
    assert response["CancellationReasons"] == [
        {
            "Code": "ValidationError",
            "Message": "Item size to update has exceeded the maximum allowed size",
        }
    ]
    item = ddb.get_item(TableName=table, Key=_key(1), ConsistentRead=True)["Item"]
    assert set(item) == {"account_id", "payload"} and item["payload"]["S"][0] == "y"


def test_scan_pages_with_limit_and_exclusive_start_key(ddb):
    table = _table(ddb)
    for i in range(5):
        ddb.put_item(TableName=table, Item=_item(i))
    seen, start, pages = [], None, 0
    while True:
        page = ddb.scan(
            TableName=table, Limit=2, **({"ExclusiveStartKey": start} if start else {})
        )
        pages += 1
        seen += [item["account_id"]["S"] for item in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
        assert set(start) == {"account_id"}
    assert sorted(seen) == [f"{i:012d}" for i in range(5)] and pages == 3

    for limit in (0, -1):  # moto: HTTP 500 for 0, a page for -1
        _refused(
            ddb.scan,
            "ValidationException",
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
            "constraint: Member must have value greater than or equal to 1",
            TableName=table,
            Limit=limit,
        )
    for start in ({"account_id": {"N": "1"}}, {"tenant": {"S": "x"}}, {**_key(1), "x": {"S": "y"}}):
        _refused(  # moto: HTTP 500, or a page
            ddb.scan,
            "ValidationException",
            "The provided starting key is invalid: " + KEY_MISMATCH,
            TableName=table,
            Limit=2,
            ExclusiveStartKey=start,
        )


def test_table_lifecycle_backups_and_tags(ddb, world):
    table = _table(ddb, Tags=[{"Key": "owner", "Value": "registry"}])
    described = ddb.describe_table(TableName=table)["Table"]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert described["KeySchema"] == [{"AttributeName": "account_id", "KeyType": "HASH"}]
    arn = described["TableArn"]

    enabled = ddb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )["ContinuousBackupsDescription"]
    for description in (
        enabled,
        ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"],
    ):
        assert description["ContinuousBackupsStatus"] == "ENABLED"
        assert description["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == (
            "ENABLED"
        )

    # A tag key that exists gets the new value (moto listed the key twice).
    ddb.tag_resource(
        ResourceArn=arn, Tags=[{"Key": "owner", "Value": "ops"}, {"Key": "env", "Value": "test"}]
    )
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "owner", "Value": "ops"},
        {"Key": "env", "Value": "test"},
    ]
    # A table that does not exist, also one of another account (moto: 200, nothing tagged).
    missing = arn[: -len(table)] + "no-such-table"
    foreign = _dynamodb(world.account())
    for client, target in ((ddb, missing), (foreign, arn)):
        not_found = f"Requested resource not found: ResourcArn: {target} not found"
        _refused(
            client.tag_resource,
            "ResourceNotFoundException",
            not_found,
            ResourceArn=target,
            Tags=[{"Key": "a", "Value": "b"}],
        )
        _refused(
            client.list_tags_of_resource, "ResourceNotFoundException", not_found, ResourceArn=target
        )
    _refused(
        ddb.tag_resource,
        "ValidationException",
        f"Invalid TableArn: Invalid ResourceArn provided as input {table}",
        ResourceArn=table,
        Tags=[{"Key": "a", "Value": "b"}],
    )

    deleted = ddb.delete_table(TableName=table)["TableDescription"]
    assert deleted["TableStatus"] == "DELETING"  # moto said ACTIVE
    _refused(ddb.describe_table, "ResourceNotFoundException", TableName=table)
    _refused(ddb.delete_table, "ResourceNotFoundException", TableName=table)


def test_dynamodb_calls_are_recorded(world, server_url):
    account = world.account()
    app = f"ddb-{uuid.uuid4().hex[:8]}"
    ddb = _dynamodb(account, app)
    table = _table(ddb)
    ddb.put_item(TableName=table, Item=_item(1))
    ddb.batch_get_item(RequestItems={table: {"Keys": [_key(1)], "ConsistentRead": True}})
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[])

    calls = control(server_url, "GET", f"calls?app={app}")[1]["calls"]
    assert [(c["service"], c["action"], c["status"]) for c in calls] == [
        ("dynamodb", "CreateTable", 200),
        ("dynamodb", "PutItem", 200),
        ("dynamodb", "BatchGetItem", 200),
        ("dynamodb", "TransactWriteItems", 400),
    ]
    assert {(c["account"], c["region"]) for c in calls} == {(account.id, REGION)}
    assert calls[2]["params"] == {
        "RequestItems": {table: {"Keys": [_key(1)], "ConsistentRead": True}}
    }


def test_a_failed_transaction_rolls_back_each_time_and_costs_one_copy(ddb):
    """The backup of a table is taken once per transaction (a cost fix of moto's
    per-action deep copy); every failed transaction still writes nothing, and a
    later transaction does not reuse an earlier one's backup."""
    table = _table(ddb)

    def put(i: int) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": table,
                "Item": _item(i),
                "ConditionExpression": "attribute_not_exists(account_id)",
            }
        }

    ddb.transact_write_items(TransactItems=[put(i) for i in range(100)])
    for attempt in range(2):
        # 99 new items and one that exists: cancelled, nothing of it written.
        response = _refused(
            ddb.transact_write_items,
            "TransactionCanceledException",
            TransactItems=[put(i) for i in range(100 + attempt * 100, 199 + attempt * 100)]
            + [put(5)],
        )
        reasons = [r["Code"] for r in response["CancellationReasons"]]
        assert reasons == ["None"] * 99 + ["ConditionalCheckFailed"]
        assert ddb.scan(TableName=table)["Count"] == 100
    ddb.transact_write_items(TransactItems=[put(i) for i in range(300, 400)])
    assert ddb.scan(TableName=table)["Count"] == 200
    # The rolled-back table is the one later reads and writes see.
    assert ddb.get_item(TableName=table, Key=_key(5), ConsistentRead=True)["Item"] == _item(5)

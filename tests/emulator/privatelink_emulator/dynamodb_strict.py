"""DynamoDB: the calls of the tenant registry refused where AWS refuses them (README §16).

moto 5.2.1 serves DynamoDB itself; this module only adds what it got wrong for the calls
the product makes (CreateTable, DescribeTable, DeleteTable, Update/DescribeContinuousBackups,
TagResource, ListTagsOfResource, GetItem, BatchGetItem, Scan, PutItem, UpdateItem,
DeleteItem, TransactWriteItems). API reference pages are under
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/ (`API_GetItem.html`, ...).

- Keys must match the table's key schema: the same attribute names, of the defined types
  ("The provided key element does not match the schema"). moto answered a GetItem,
  BatchGetItem or DeleteItem with a key of the wrong type as if the item did not exist,
  ignored extra key attributes in BatchGetItem and TransactWriteItems, and crashed (500) on
  a Scan `ExclusiveStartKey` of the wrong shape. Wording: API_GetItem.html ("you must
  provide all of the attributes" of the primary key); the messages are the ones AWS
  answers, as recorded by dynalite's tests (mhart/dynalite, run against DynamoDB).
- Expressions (API_PutItem.html etc., `ExpressionAttributeNames`/`Values`): a `#name` or
  `:value` used but not defined is a ValidationException (moto: 500 KeyError); every
  supplied name and value must be used (moto checked values only in UpdateItem); the maps
  must not be empty and need an expression; a condition that does not parse is a
  ValidationException (moto: 500; the detail after "Syntax error;" is moto's, ASSUMED).
- Request sizes from the API model: BatchGetItem `RequestItems` and `Keys` and
  TransactWriteItems `TransactItems` need at least 1 member, Scan `Limit` at least 1
  (moto accepted empty lists and crashed on Limit 0). The `Keys` message is AWS's
  (aws/aws-sdk-js #1150); the others are ASSUMED in the same constraint form.
- TransactWriteItems: an Update that makes an item larger than 400 KB cancels the
  transaction with the reason `ValidationError` (API_TransactWriteItems.html, "An item
  size becomes too large ... because of changes made by the transaction"); moto answered
  a plain ValidationException.
- Item size: 400 KB = 409,600 bytes of attribute names and values (UTF-8)
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html,
  "Items"); moto stopped at 405,000 bytes and counted a replaced attribute twice.
- TagResource / UntagResource / ListTagsOfResource: a malformed ARN is a
  ValidationException, a table that does not exist ResourceNotFoundException (moto tagged
  nothing and said yes); a tag key that exists gets the new value (API_Tag.html: "If you
  try to add an existing tag (same key), the existing tag value will be updated"; moto
  kept both).
- DeleteTable answers `TableStatus: DELETING` (API_DeleteTable.html; moto said ACTIVE).
"""

import copy
import re
import threading
from collections.abc import Callable
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.dynamodb.comparisons import create_condition_expression_parser
from moto.dynamodb.exceptions import (
    ItemSizeTooLarge,
    ItemSizeToUpdateTooLarge,
    MockValidationException,
    ResourceNotFoundException,
)
import moto.dynamodb.models as moto_dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.responses import DynamoHandler

MAX_ITEM_BYTES = 400 * 1024
KEY_MISMATCH = "The provided key element does not match the schema"
BAD_START_KEY = "The provided starting key is invalid: "
NAME_TOKEN = re.compile(r"#[A-Za-z0-9_]+")
VALUE_TOKEN = re.compile(r":[A-Za-z0-9_]+")
TABLE_ARN = re.compile(r"arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/[A-Za-z0-9_.-]{3,255}")
# The expressions each write may carry, in the order AWS names them when none is given.
CONDITION = ("ConditionExpression",)
UPDATE = ("UpdateExpression", "ConditionExpression")

Action = Callable[[DynamoHandler], ActionResult]
MOTO: dict[str, Any] = {}
_TRANSACTION = threading.local()


class ValidationError(Exception):
    """A transaction cancellation reason: moto records `type(e).__name__` as its code."""


def _invalid(message: str) -> MockValidationException:
    return MockValidationException(message)


def _type(value: Any) -> str | None:
    return next(iter(value)) if isinstance(value, dict) and len(value) == 1 else None


def check_key(table: Table, key: Any, prefix: str = "") -> None:
    """The attributes of `key` are exactly the table's key attributes, of their types."""
    schema = {table.hash_key_attr: table.hash_key_type}
    if table.range_key_attr is not None:
        schema[table.range_key_attr] = table.range_key_type or ""
    if (
        not isinstance(key, dict)
        or set(key) != set(schema)
        or any(_type(key[name]) != kind for name, kind in schema.items())
    ):
        raise _invalid(prefix + KEY_MISMATCH)


def check_expressions(params: dict[str, Any], members: tuple[str, ...]) -> None:
    """`ExpressionAttributeNames`/`Values` against the expressions of one write."""
    names = params.get("ExpressionAttributeNames")
    values = params.get("ExpressionAttributeValues")
    given = {m: params[m] for m in members if params.get(m) is not None}
    if "ConditionExpression" in given and not given["ConditionExpression"].strip():
        raise _invalid("Invalid ConditionExpression: The expression can not be empty;")
    if not given:
        if names is not None:
            raise _invalid("ExpressionAttributeNames can only be specified when using expressions")
        if values is not None:
            absent = " and ".join(members) + (" are null" if len(members) > 1 else " is null")
            raise _invalid(
                f"ExpressionAttributeValues can only be specified when using expressions: {absent}"
            )
        return
    if names == {}:
        raise _invalid("ExpressionAttributeNames must not be empty")
    if values == {}:
        raise _invalid("ExpressionAttributeValues must not be empty")
    names, values = names or {}, values or {}
    used_names: set[str] = set()
    used_values: set[str] = set()
    for member, text in given.items():
        for token in NAME_TOKEN.findall(text):
            if token not in names:
                raise _invalid(
                    f"Invalid {member}: An expression attribute name used in the document "
                    f"path is not defined; attribute name: {token}"
                )
            used_names.add(token)
        for token in VALUE_TOKEN.findall(text):
            if token not in values:
                raise _invalid(
                    f"Invalid {member}: An expression attribute value used in expression is "
                    f"not defined; attribute value: {token}"
                )
            used_values.add(token)
    for kind, supplied, used in (("Names", names, used_names), ("Values", values, used_values)):
        unused = [key for key in supplied if key not in used]
        if unused:
            raise _invalid(
                f"Value provided in ExpressionAttribute{kind} unused in expressions: "
                f"keys: {{{', '.join(unused)}}}"
            )
    if "ConditionExpression" in given:
        try:
            create_condition_expression_parser(
                given["ConditionExpression"], names, values
            ).parse()
        except JsonRESTError:
            raise
        except Exception as exc:  # noqa: BLE001 - moto's parser fails with assorted errors
            raise _invalid(f"Invalid ConditionExpression: Syntax error; {exc}") from None


def _table(handler: DynamoHandler, name: Any) -> Table:
    return handler.dynamodb_backend.get_table(name)


# --- Handler actions (`self.body` is the request's JSON) -------------------------------


def get_item(self: DynamoHandler) -> ActionResult:
    check_key(_table(self, self.body["TableName"]), self.body.get("Key"))
    return MOTO["get_item"](self)


def delete_item(self: DynamoHandler) -> ActionResult:
    check_key(_table(self, self.body["TableName"]), self.body.get("Key"))
    check_expressions(self.body, CONDITION)
    return MOTO["delete_item"](self)


def put_item(self: DynamoHandler) -> ActionResult:
    check_expressions(self.body, CONDITION)
    return MOTO["put_item"](self)


def update_item(self: DynamoHandler) -> ActionResult:
    check_key(_table(self, self.body["TableName"]), self.body.get("Key"))
    check_expressions(self.body, UPDATE)
    return MOTO["update_item"](self)


def batch_get_item(self: DynamoHandler) -> ActionResult:
    requests = self.body.get("RequestItems") or {}
    if not requests:
        raise _invalid(
            "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy "
            "constraint: Member must have length greater than or equal to 1"
        )
    for name, request in requests.items():
        if not request.get("Keys"):
            raise _invalid(
                f"1 validation error detected: Value '[]' at 'requestItems.{name}.member.keys' "
                "failed to satisfy constraint: Member must have length greater than or equal to 1"
            )
    if sum(len(request["Keys"]) for request in requests.values()) <= 100:  # else moto says so
        for name, request in requests.items():
            table = _table(self, name)
            for key in request["Keys"]:
                check_key(table, key)
    return MOTO["batch_get_item"](self)


def scan(self: DynamoHandler) -> ActionResult:
    limit = self.body.get("Limit")
    if limit is not None and limit < 1:
        raise _invalid(
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
            "constraint: Member must have value greater than or equal to 1"
        )
    start = self.body.get("ExclusiveStartKey")
    if start is not None and not self.body.get("IndexName"):
        check_key(_table(self, self.body["TableName"]), start, BAD_START_KEY)
    return MOTO["scan"](self)


def transact_write_items(self: DynamoHandler) -> ActionResult:
    actions = self.body.get("TransactItems") or []
    if not actions:
        raise _invalid(
            "1 validation error detected: Value '[]' at 'transactItems' failed to satisfy "
            "constraint: Member must have length greater than or equal to 1"
        )
    for action in actions if len(actions) <= 100 else []:  # over 100: moto says so
        if len(action) != 1:
            continue  # moto: "TransactItems can only contain one of ..."
        kind, params = next(iter(action.items()))
        table = _table(self, params.get("TableName"))
        if kind == "Put":
            item = params.get("Item") or {}
            for name in table.table_key_attrs:
                if name not in item:
                    raise _invalid(
                        "One or more parameter values were invalid: "
                        f"Missing the key {name} in the item"
                    )
        elif kind in ("Update", "Delete", "ConditionCheck"):
            check_key(table, params.get("Key"))
        check_expressions(params, UPDATE if kind == "Update" else CONDITION)
    return MOTO["transact_write_items"](self)


def _check_table_arn(self: DynamoHandler) -> None:
    arn = self.body.get("ResourceArn")
    if not isinstance(arn, str) or not TABLE_ARN.fullmatch(arn):
        raise _invalid(f"Invalid TableArn: Invalid ResourceArn provided as input {arn}")
    if not any(t.table_arn == arn for t in list(self.dynamodb_backend.tables.values())):
        raise ResourceNotFoundException(
            f"Requested resource not found: ResourcArn: {arn} not found"
        )


def tag_resource(self: DynamoHandler) -> ActionResult:
    _check_table_arn(self)
    return MOTO["tag_resource"](self)


def untag_resource(self: DynamoHandler) -> ActionResult:
    _check_table_arn(self)
    return MOTO["untag_resource"](self)


def list_tags_of_resource(self: DynamoHandler) -> ActionResult:
    _check_table_arn(self)
    return MOTO["list_tags_of_resource"](self)


def delete_table(self: DynamoHandler) -> ActionResult:
    result = MOTO["delete_table"](self)
    result.result["TableDescription"]["TableStatus"] = "DELETING"  # type: ignore[index]
    return result


# --- Backend and model -----------------------------------------------------------------


def backend_tag_resource(
    self: DynamoDBBackend, table_arn: str, tags: list[dict[str, str]]
) -> None:
    """An existing key gets the new value instead of a second tag with the same key."""
    for table in list(self.tables.values()):
        if table.table_arn == table_arn:
            values = {tag["Key"]: tag["Value"] for tag in tags}
            for tag in table.tags:
                if tag["Key"] in values:
                    tag["Value"] = values.pop(tag["Key"])
            table.tags.extend({"Key": k, "Value": v} for k, v in values.items())


def backend_update_item(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
    try:
        return MOTO["backend_update_item"](self, *args, **kwargs)
    except ItemSizeToUpdateTooLarge as exc:
        if getattr(_TRANSACTION, "active", False):
            raise ValidationError(exc.exception_msg) from None
        raise


class _OncePerTable:
    """Stands in for the `copy` module inside moto's DynamoDB models.

    Not a behaviour change, a cost fix: moto's `transact_write_items` takes
    its rollback backup with `copy.deepcopy(table)` once per *action*, so a
    transaction of 100 puts to one table copies the whole table 100 times
    (and a 10,000-tenant import took minutes and gigabytes). Within one
    transaction (on this thread) the backup of a table is made once and
    reused; everywhere else this is plain `copy`."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        backups = getattr(_TRANSACTION, "backups", None)
        if backups is None or not isinstance(value, Table):
            return copy.deepcopy(value, memo)
        if id(value) not in backups:
            backups[id(value)] = copy.deepcopy(value, memo)
        return backups[id(value)]


def backend_transact_write_items(
    self: DynamoDBBackend, transact_items: list[dict[str, Any]]
) -> None:
    _TRANSACTION.active = True
    _TRANSACTION.backups = {}
    try:
        MOTO["backend_transact_write_items"](self, transact_items)
    finally:
        _TRANSACTION.active = False
        _TRANSACTION.backups = None


def _size(value: Any) -> int:
    return value.size() if type(value) is DynamoType else bytesize(str(value))


def limited_size_dict_setitem(self: LimitedSizeDict, key: str, value: Any) -> None:
    """400 KB of names and values; the attribute being replaced does not count twice."""
    others = sum(bytesize(k) + _size(v) for k, v in self.items() if k != key)
    if others + bytesize(key) + _size(value) > MAX_ITEM_BYTES:
        raise ItemSizeTooLarge
    dict.__setitem__(self, key, value)


HANDLER_ACTIONS: dict[str, Action] = {
    "get_item": get_item,
    "delete_item": delete_item,
    "put_item": put_item,
    "update_item": update_item,
    "batch_get_item": batch_get_item,
    "scan": scan,
    "transact_write_items": transact_write_items,
    "tag_resource": tag_resource,
    "untag_resource": untag_resource,
    "list_tags_of_resource": list_tags_of_resource,
    "delete_table": delete_table,
}


def apply() -> None:
    """Patch moto in place. Idempotent."""
    if MOTO:
        return
    for name, action in HANDLER_ACTIONS.items():
        MOTO[name] = getattr(DynamoHandler, name)
        setattr(DynamoHandler, name, action)
    moto_dynamodb_models.copy = _OncePerTable()  # type: ignore[assignment]
    MOTO["backend_update_item"] = DynamoDBBackend.update_item
    MOTO["backend_transact_write_items"] = DynamoDBBackend.transact_write_items
    for cls, name, patch in (
        (DynamoDBBackend, "update_item", backend_update_item),
        (DynamoDBBackend, "transact_write_items", backend_transact_write_items),
        (DynamoDBBackend, "tag_resource", backend_tag_resource),
        (LimitedSizeDict, "__setitem__", limited_size_dict_setitem),
    ):
        setattr(cls, name, patch)

"""The one door to the DynamoDB table: every call bounded (timeouts, a few retries), paged reads,
batched reads and writes, transactions, and typed errors (StateError, TransientStateError,
ConditionFailed) instead of botocore's. The repositories beside this file each keep one concern
of the table, and document their own key layouts.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters import aws
from chalicelib.adapters.aws import pause

ATTEMPTS = 5  # of a batch DynamoDB left partly unprocessed, or a transaction in conflict
TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems
BATCH_WRITE_ITEMS = 25  # DynamoDB's limit per BatchWriteItem
BATCH_GET_KEYS = 100  # and per BatchGetItem
# Errors a later try may not meet (botocore has retried them already within its own attempts).
TRANSIENT_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
                             "InternalServerError", "ServiceUnavailable", "TransactionConflictException",
                             "TransactionInProgressException", "InternalError"})
T = TypeVar("T")
Item = dict[str, Any]


class StateError(RuntimeError):
    """DynamoDB refused a call; the message names the call and DynamoDB's error code."""


class TransientStateError(StateError):
    """DynamoDB is unreachable, throttling or failing for now: try again later."""


class ConditionFailed(StateError):
    """A conditional write found the item not as expected (nothing was written)."""


class Table:
    def __init__(self, name: str, client: Any = None):
        self.name = name
        self.client = client or aws.client("dynamodb")

    def create(self) -> None:
        """For the local stack and tests; deployed stacks get the table from the template."""
        try:
            self.client.create_table(
                TableName=self.name, BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                      {"AttributeName": "sk", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceInUseException":
                raise _typed_error("create_table", e) from None

    # --- reads -------------------------------------------------------------------------------------

    def get(self, pk: str, sk: str, projection: Sequence[str] = ()) -> Item | None:
        """One item, read consistently (only the `projection` attributes, when given)."""
        params: dict[str, Any] = {"TableName": self.name, "Key": key(pk, sk), "ConsistentRead": True}
        if projection:
            names = {f"#p{i}": name for i, name in enumerate(projection)}
            params.update(ProjectionExpression=", ".join(names), ExpressionAttributeNames=names)
        item: Item | None = _door("get_item", lambda: self.client.get_item(**params)).get("Item")
        return item

    def query(self, pk: str, prefix: str = "", projection: str | None = None,
              names: Mapping[str, str] | None = None, consistent: bool = False) -> list[Item]:
        """Every item of partition `pk` whose sort key starts with `prefix`, all pages (read
        consistently, when `consistent`)."""
        items: list[Item] = []
        start = None
        # DynamoDB refuses an empty string as a key value: no prefix, no begins_with.
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "pk = :p" + (" AND begins_with(sk, :s)" if prefix else ""),
            "ExpressionAttributeValues": {":p": {"S": pk}, **({":s": {"S": prefix}} if prefix else {})}}
        if projection:
            request["ProjectionExpression"] = projection
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        if consistent:
            request["ConsistentRead"] = True
        while True:
            paging: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            page = _door("query", lambda: self.client.query(**request, **paging))
            items += page["Items"]
            start = page.get("LastEvaluatedKey")
            if not start:
                return items

    def newest(self, pk: str, limit: int) -> list[tuple[str, Item]]:
        """The newest `limit` items of a partition keyed "<time>#...", each with its time (ISO 8601, UTC)."""
        page = _door("query", lambda: self.client.query(
            TableName=self.name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": pk}},
            ScanIndexForward=False, Limit=limit))
        return [(datetime.fromtimestamp(float(i["sk"]["S"].split("#", 1)[0]), timezone.utc).isoformat(
            timespec="seconds"), i) for i in page["Items"]]

    def existing(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Item]:
        """The items among `keys` that exist, read consistently, 100 keys a call (what DynamoDB
        leaves unprocessed is asked again, bounded)."""
        found: dict[tuple[str, str], Item] = {}
        unique = list(dict.fromkeys(keys))
        for begin in range(0, len(unique), BATCH_GET_KEYS):
            todo = [key(pk, sk) for pk, sk in unique[begin:begin + BATCH_GET_KEYS]]
            for attempt in range(ATTEMPTS):
                asked = todo
                response = _door("batch_get_item", lambda: self.client.batch_get_item(
                    RequestItems={self.name: {"Keys": asked, "ConsistentRead": True}}))
                for item in response["Responses"].get(self.name, []):
                    found[(item["pk"]["S"], item["sk"]["S"])] = item
                todo = response.get("UnprocessedKeys", {}).get(self.name, {}).get("Keys", [])
                if not todo:
                    break
                pause(attempt)
            if todo:
                raise TransientStateError(f"DynamoDB left {len(todo)} keys unread after {ATTEMPTS} attempts")
        return found

    # --- writes ------------------------------------------------------------------------------------

    def put(self, item: Item, condition: str | None = None, values: Mapping[str, Any] | None = None) -> None:
        """Write an item whole; ConditionFailed when `condition` does not hold."""
        params: dict[str, Any] = {"TableName": self.name, "Item": item}
        if condition:
            params["ConditionExpression"] = condition
        if values:
            params["ExpressionAttributeValues"] = dict(values)
        _door("put_item", lambda: self.client.put_item(**params))

    def update(self, pk: str, sk: str, expression: str, names: Mapping[str, str] | None = None,
               values: Mapping[str, Any] | None = None, condition: str | None = None) -> None:
        """Update one item; ConditionFailed when `condition` does not hold."""
        self.update_with(self.update_params(pk, sk, expression, names, values, condition))

    def update_with(self, params: Mapping[str, Any]) -> None:
        """An update made by update_params (or counter_update)."""
        _door("update_item", lambda: self.client.update_item(**params))

    def update_params(self, pk: str, sk: str, expression: str, names: Mapping[str, str] | None = None,
                      values: Mapping[str, Any] | None = None, condition: str | None = None) -> dict[str, Any]:
        """An update as UpdateItem and a transaction's Update take it."""
        params: dict[str, Any] = {"TableName": self.name, "Key": key(pk, sk), "UpdateExpression": expression}
        if names:
            params["ExpressionAttributeNames"] = dict(names)
        if values:
            params["ExpressionAttributeValues"] = dict(values)
        if condition:
            params["ConditionExpression"] = condition
        return params

    def delete(self, pk: str, sk: str, condition: str | None = None, values: Mapping[str, Any] | None = None) -> None:
        params: dict[str, Any] = {"TableName": self.name, "Key": key(pk, sk)}
        if condition:
            params["ConditionExpression"] = condition
        if values:
            params["ExpressionAttributeValues"] = dict(values)
        _door("delete_item", lambda: self.client.delete_item(**params))

    def batch_write(self, requests: Sequence[Item]) -> None:
        """Every request written, 25 per call; what DynamoDB leaves unprocessed is resent, bounded."""
        for begin in range(0, len(requests), BATCH_WRITE_ITEMS):
            pending: dict[str, Any] = {self.name: list(requests[begin:begin + BATCH_WRITE_ITEMS])}
            for attempt in range(ATTEMPTS):
                asked = pending
                pending = _door("batch_write_item", lambda: self.client.batch_write_item(
                    RequestItems=asked)).get("UnprocessedItems") or {}
                if not pending:
                    break
                pause(attempt)
            else:
                raise TransientStateError(f"DynamoDB left {len(pending[self.name])} writes unprocessed")

    def transact(self, writes: Sequence[Item]) -> bool:
        """All of `writes` (at most 100) or none: True when written, False when a condition failed
        (nothing written: read again). A conflict with another writer is tried again, bounded."""
        for attempt in range(ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=list(writes))
                return True
            except ClientError as e:
                if e.response["Error"]["Code"] != "TransactionCanceledException":
                    raise _typed_error("transact_write_items", e) from None
                codes = [r.get("Code") for r in e.response.get("CancellationReasons") or []]
                if "ConditionalCheckFailed" in codes:
                    return False
                # Another container's write touched the same items at the same moment.
                if "TransactionConflict" not in codes or attempt == ATTEMPTS - 1:
                    raise TransientStateError(f"DynamoDB transact_write_items: cancelled ({codes})") from None
                pause(attempt)
            except BotoCoreError as e:
                raise TransientStateError(f"DynamoDB transact_write_items: {type(e).__name__}") from None
        raise AssertionError("unreachable")

    def transact_all(self, writes: Sequence[Item]) -> None:
        """Unconditional writes, 100 per transaction."""
        for start in range(0, len(writes), TRANSACTION_ITEMS):
            self.transact(writes[start:start + TRANSACTION_ITEMS])


def _door(what: str, call: Callable[[], T]) -> T:
    """Every call but a transaction's: botocore's errors as ours."""
    try:
        return call()
    except ClientError as e:
        raise _typed_error(what, e) from None
    except BotoCoreError as e:
        raise TransientStateError(f"DynamoDB {what}: {type(e).__name__}") from None


def _typed_error(what: str, error: ClientError) -> StateError:
    code = error.response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return ConditionFailed(f"DynamoDB {what}: the condition did not hold")
    cls = TransientStateError if code in TRANSIENT_CODES or error.response.get("ResponseMetadata", {}).get(
        "HTTPStatusCode", 0) >= 500 else StateError
    return cls(f"DynamoDB {what}: {code or 'error'}")


def key(pk: str, sk: str) -> Item:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def counter_update(table: Table, pk: str, sk: str, changes: Mapping[str, int],
                   also: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The update that adds to counters of one item (and sets `also`'s attributes)."""
    names = {f"#c{i}": name for i, name in enumerate(changes)} | {f"#s{i}": n for i, n in enumerate(also or {})}
    values = {f":n{i}": {"N": str(v)} for i, v in enumerate(changes.values())} \
        | {f":s{i}": v for i, v in enumerate((also or {}).values())}
    parts = []
    if changes:
        parts.append("ADD " + ", ".join(f"#c{i} :n{i}" for i in range(len(changes))))
    if also:
        parts.append("SET " + ", ".join(f"#s{i} = :s{i}" for i in range(len(also))))
    return table.update_params(pk, sk, " ".join(parts), names, values)


def typed(value: Any) -> Any:
    """A plain value (dicts, lists, strings, numbers) as DynamoDB's typed form."""
    if isinstance(value, float):
        value = Decimal(str(value))
    elif isinstance(value, dict):
        return {"M": {k: typed(v) for k, v in value.items()}}
    return TypeSerializer().serialize(value)


def plain(value: Any) -> Any:
    """A DynamoDB-typed value as plain Python (whole numbers as int, others as float)."""
    return _undecimal(TypeDeserializer().deserialize(value))


def _undecimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _undecimal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_undecimal(v) for v in value]
    return value

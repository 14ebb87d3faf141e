"""The whole service in one process, for the `service` fixture (tests/conftest.py) and for scripts
(bench/soak.py): Chalice's test client, moto, the fake Dropbox, and the SQS event source.

Nothing here imports `dropbox` at module level: the SDK reads its hosts once, at import, so a
script calls `point_sdk_at_free_port()` (or sets DROPBOX_API_HOST itself) before anything imports
the SDK. Under pytest, tests/conftest.py does that.
"""
from __future__ import annotations

import contextlib
import copy
import json
import os
import socket
import threading
from collections.abc import Iterator, Mapping

KEY = "test-service-key"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
TABLE, QUEUE = "image-categorizer", "image-categorizer-sort"


def isolate_aws() -> None:
    """Never reach real AWS, whatever the machine's environment says."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_SESSION_TOKEN="testing", AWS_DEFAULT_REGION="us-east-1")


def point_sdk_at_free_port() -> socket.socket:
    """Reserve a port for the fake Dropbox and point the SDK at it; close the returned socket just
    before the fake binds the port. Must run before `dropbox` is imported."""
    import sys
    if "dropbox" in sys.modules:
        raise RuntimeError("dropbox was imported before its hosts could point at the fake")
    hold = socket.socket()
    hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hold.bind(("127.0.0.1", 0))
    os.environ["DROPBOX_API_HOST"] = os.environ["DROPBOX_API_CONTENT_HOST"] = \
        f"127.0.0.1:{hold.getsockname()[1]}"
    return hold


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def running_service(dropbox_fake, **env_overrides: str) -> Iterator["Service"]:
    """The app as Lambda would run it, on an already-started fake Dropbox, inside an active moto
    mock (`moto.mock_aws()`): the table and queues are created, the environment set (and restored
    on exit), the store's backoff shrunk to 10 ms, and moto's DynamoDB calls kept from costing
    more as the table grows (linear_moto_dynamodb)."""
    import boto3
    from chalice.test import Client

    import app
    from chalicelib import wiring
    from chalicelib.adapters.dropbox_store import DropboxStore
    from chalicelib.adapters.state import StateStore
    from chalicelib.adapters.work_queue import WorkQueue
    from chalicelib.flows import webhook
    from local.event_source import SqsEventSource

    env = {"SERVICE_KEY": KEY, "DROPBOX_APP_KEY": dropbox_fake.app_key,
           "DROPBOX_APP_SECRET": dropbox_fake.app_secret, "DROPBOX_REFRESH_TOKEN": dropbox_fake.refresh_token,
           "DROPBOX_CA_CERTS": dropbox_fake.ca_path, "STATE_TABLE": TABLE,
           "SORT_QUEUE": QUEUE, "MAX_RECEIVES": "3", **env_overrides}
    backoff = DropboxStore.__dict__.get("backoff_base")
    # A warm container: this process started long before its first notification, and a cold
    # start's budget counted from then would find every webhook out of time.
    webhook._first_request_started = None
    with _environment(env), linear_moto_dynamodb():
        StateStore(env["STATE_TABLE"]).create_table()
        queue_url = WorkQueue(env["SORT_QUEUE"]).create(max_receives=int(env["MAX_RECEIVES"]))
        DropboxStore.backoff_base = 0.01
        wiring.reset()
        try:
            with Client(app.app) as client:
                source = SqsEventSource(boto3.client("sqs"), queue_url,
                                        lambda event: client.lambda_.invoke("classify", event))
                yield Service(client, dropbox_fake, source)
        finally:
            wiring.reset()
            DropboxStore.backoff_base = backoff


class Service:
    def __init__(self, client, dropbox, source):
        self.client, self.dropbox, self.source = client, dropbox, source

    def post(self, path: str, body: object, headers: dict | None = None):
        return self.client.http.post(path, headers=AUTH if headers is None else headers, body=json.dumps(body))

    def get(self, path: str, headers: dict | None = None):
        return self.client.http.get(path, headers=AUTH if headers is None else headers)

    def notify(self) -> dict:
        from local.dropbox_emulator import signed_notification
        body, signature = signed_notification([self.dropbox.account_id], self.dropbox.app_secret)
        response = self.client.http.post("/webhook", body=body, headers={
            "Content-Type": "application/json", "X-Dropbox-Signature": signature})
        assert response.status_code == 200, response.body
        return json.loads(response.body)

    def configure(self, classes: list[str], **extra) -> dict:
        response = self.post("/configure", {"classes": classes, **extra})
        assert response.status_code == 200, response.body
        return json.loads(response.body)


class _KeepsNothing(list):
    def append(self, item) -> None:
        pass


@contextlib.contextmanager
def untracked_moto_models(services: tuple[str, ...] = ("dynamodb", "sqs")) -> Iterator[None]:
    """moto keeps every model instance it ever made, for its dashboard, until the mock stops; that
    includes the copy of the whole table DynamoDB makes for each transaction, so a soak's memory
    grows with transactions times table size (24 GB, then killed, at 400 photos with the user's
    chaos). While this runs, `services`' models keep none (moto's S3 reads its list; these do not)."""
    import moto.dynamodb.models  # registers the models
    import moto.sqs.models
    from moto.core.model_instances import model_data
    models = [model for service in services for model in model_data.get(service, {}).values()]
    for model in models:
        model.instances_tracked = _KeepsNothing()
    try:
        yield
    finally:
        for model in models:
            model.instances_tracked = []


# --- AWS faults ------------------------------------------------------------------------------------

class AwsFaults:
    """Refuses a fraction of one AWS service's calls (`service`, optionally only `operations`) with
    an error answer before the request is sent, as AWS does when it throttles or fails: the call
    changes nothing, and botocore's retry mode sees the error and retries it. With `lost_answers`
    it instead lets the call do its work and then raises a read timeout, as when the answer is
    lost on the way back: the caller cannot tell that it happened. With `naming`, only requests
    whose body holds those bytes are refused (b'"file#': the writes that record an outcome).

    Refusals hook `before-send` (not `before-call`): botocore emits before-send inside its retry
    loop, once per attempt, and a handler that returns a response stands in for the HTTP answer, so
    the client's own retry mode (standard, in chalicelib/) retries it. moto answers through a
    before-send handler of its own, which botocore calls too (it calls every handler and uses the
    first response). Registered first, this one answers first and points the refused request at an
    address moto does not serve, so moto leaves it alone. Lost answers hook `after-call`, which
    runs after the retry loop, once the call has succeeded.

    Register on a boto3/botocore session before the clients are made (`install`): clients copy
    their session's handlers when they are created.
    """

    def __init__(self, service: str, rate: float, seed: int = 0, *, operations: frozenset[str] | None = None,
                 status: int = 500, error: str = "InternalError", lost_answers: bool = False,
                 naming: bytes | None = None):
        import random
        self.service, self.rate, self._rng, self.naming = service, rate, random.Random(seed), naming
        self.operations, self.status, self.error, self.lost_answers = operations, status, error, lost_answers
        self._lock = threading.Lock()
        self.calls = self.hits = 0
        self.by_operation: dict[str, int] = {}

    def _draw(self, operation: str) -> bool:
        with self._lock:
            if self.operations is not None and operation not in self.operations:
                return False
            self.calls += 1
            if self._rng.random() >= self.rate:
                return False
            self.hits += 1
            self.by_operation[operation] = self.by_operation.get(operation, 0) + 1
            return True

    def _refuse(self, request, **kwargs):
        from botocore.awsrequest import AWSResponse
        body = request.body or b""
        if self.naming is not None and self.naming not in (body.encode() if isinstance(body, str) else body):
            return None
        if not self._draw((request.headers.get("X-Amz-Target") or b"").decode().rsplit(".", 1)[-1]):
            return None
        body = json.dumps({"__type": self.error, "message": f"{self.error} (injected by local/in_process.py)"})
        request.url = "https://refused.invalid/"
        return AWSResponse(request.url, self.status, {"Content-Type": "application/x-amz-json-1.0",
                                                      "x-amzn-RequestId": "injected"}, _Raw(body.encode()))

    def _lose(self, model, **kwargs):
        from botocore.exceptions import ReadTimeoutError
        if self._draw(model.name):
            raise ReadTimeoutError(endpoint_url=f"https://{self.service}.invalid/ (answer lost by local/in_process.py)")

    def install(self, session=None) -> "AwsFaults":
        """On `session` (a botocore or boto3 Session; default: boto3's default session)."""
        if session is None:
            import boto3
            session = boto3._get_default_session()
        self._events = getattr(session, "_session", session).get_component("event_emitter")
        if self.lost_answers:
            self._events.register(f"after-call.{self.service}", self._lose, unique_id=self._id)
        else:
            self._events.register_first(f"before-send.{self.service}", self._refuse, unique_id=self._id)
        return self

    def uninstall(self) -> None:
        event = "after-call" if self.lost_answers else "before-send"
        self._events.unregister(f"{event}.{self.service}", unique_id=self._id)

    @property
    def _id(self) -> str:
        return f"local-aws-faults-{id(self)}"


class DynamoThrottle(AwsFaults):
    """A fraction of DynamoDB calls answered 400 ProvisionedThroughputExceededException, as
    DynamoDB does when throttling; botocore's standard mode retries each one."""

    def __init__(self, rate: float, seed: int = 0):
        super().__init__("dynamodb", rate, seed, status=400,
                         error="com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException")

    @property
    def throttled(self) -> int:
        return self.hits


class _Raw:
    """The raw stream botocore's AWSResponse reads a body from."""

    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **kwargs):
        yield self._body


@contextlib.contextmanager
def short_throttle_backoff(seconds: float = 0.01) -> Iterator[None]:
    """botocore's standard mode waits rand(0, 1) * 2**i seconds after the i-th throttle; scale that
    to `seconds` so a soak with hundreds of throttles stays quick. Everything else is unchanged."""
    from botocore.retries.standard import ExponentialBackoff
    saved = ExponentialBackoff._DEFAULT_BACKOFF_CONFIG
    ExponentialBackoff._DEFAULT_BACKOFF_CONFIG = {**saved, "throttling_base_scale": seconds}
    try:
        yield
    finally:
        ExponentialBackoff._DEFAULT_BACKOFF_CONFIG = saved


# --- moto's DynamoDB transactions ------------------------------------------------------------------

@contextlib.contextmanager
def item_level_transaction_rollback() -> Iterator[None]:
    """moto's `transact_write_items` deep-copies every table a transaction names, on every
    transaction, to roll back if it fails: its cost grows with the table, so a backfill's grows
    with the square of its photos (1,000 took 1766 s, nearly all of it in those copies). While this
    runs, a transaction instead keeps each item it names as it was (or its absence) and on
    rollback puts back exactly those: the same all-or-nothing, the same errors. A table with a
    stream keeps moto's copy (the copy also rolls back its stream records)."""
    from moto.dynamodb.models import DynamoDBBackend
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        return _transact_write_items(self, transact_items, original)

    DynamoDBBackend.transact_write_items = transact_write_items
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original


class _ItemJournal:
    """The items a transaction names, as they were before it, to put back on rollback."""

    def __init__(self) -> None:
        self._items: dict[tuple[int, object, object], tuple[object, object, object, object]] = {}
        self._buckets: dict[tuple[int, object], tuple[object, object, bool]] = {}

    def keep(self, backend, table_name: str, key: dict) -> None:
        table = backend.get_table(table_name)
        hash_value, range_value = backend.get_keys_value(table, key)  # raises as get_item would
        if range_value is not None and (id(table), hash_value) not in self._buckets:
            # moto's get_item makes an empty bucket for a hash it has not seen; the copy dropped it.
            self._buckets[id(table), hash_value] = (table, hash_value, hash_value in table.items)
        if (id(table), hash_value, range_value) not in self._items:
            self._items[id(table), hash_value, range_value] = (
                table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value)))

    def restore(self) -> None:
        for table, hash_value, range_value, before in self._items.values():
            if range_value is None:
                if before is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = before
            elif before is None:
                table.items[hash_value].pop(range_value, None)
            else:
                table.items[hash_value][range_value] = before
        for table, hash_value, existed in self._buckets.values():
            if not existed and not table.items.get(hash_value, True):
                del table.items[hash_value]


def _transact_write_items(self, transact_items: list[dict], original) -> None:
    """moto 5.2.5's DynamoDBBackend.transact_write_items with _ItemJournal for its table copies
    (`original` for a table with a stream)."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed, MockValidationException, MultipleTransactionsException,
        TooManyTransactionsException, TransactionCanceledException, TransactWriteSingleOpException)

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    for item in transact_items:  # where moto copies the tables (and fails as it does)
        _, op = next(iter(item.items()))
        table_name = op.get("TableName")
        if table_name and table_name in self.tables and self.tables[table_name].stream_shard is not None:
            return original(self, transact_items)
    journal = _ItemJournal()
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list = []  # [(Code, Message, Item), ..]
    for item in transact_items:
        original_item = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            expression_attribute_names = op.get("ExpressionAttributeNames")
            expression_attribute_values = op.get("ExpressionAttributeValues")
            return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")
            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            check_unicity(table_name, key)
            journal.keep(self, table_name, key)  # before anything below can change the item
            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(
                    condition_expression, expression_attribute_names, expression_attribute_values)
                if not condition_op.expr(current):
                    if return_values_on_condition_check_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            if op_type == "Put":
                self.put_item(table_name, op["Item"], condition_expression=condition_expression,
                              expression_attribute_names=expression_attribute_names,
                              expression_attribute_values=expression_attribute_values)
            elif op_type == "Delete":
                self.delete_item(table_name, key, condition_expression=condition_expression,
                                 expression_attribute_names=expression_attribute_names,
                                 expression_attribute_values=expression_attribute_values)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                 condition_expression=condition_expression,
                                 expression_attribute_names=expression_attribute_names,
                                 expression_attribute_values=expression_attribute_values)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            journal.restore()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # noqa: BLE001  (moto reports any other failure per item too)
            errors.append((type(e).__name__, str(e), original_item))
    if any(code is not None for code, _, _ in errors):
        journal.restore()
        raise TransactionCanceledException(errors)


@contextlib.contextmanager
def one_bucket_queries() -> Iterator[None]:
    """moto answers a Query on a table's key by sorting every item of the table and keeping those
    of the asked hash key: a Query's cost grows with the table, so a backfill's (one a photo, and
    one a photo in the soak's check) with the square of its photos. While this runs, such a Query
    looks only at that hash key's items (moto's dict of them): the same items in the same order.
    A Query of an index is moto's own."""
    from moto.dynamodb.models.table import Table
    original_query, original_all_items = Table.query, Table.all_items
    asked = threading.local()

    def query(self, hash_key, *args, **kwargs):
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name is not None or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        asked.table, asked.hash_key = self, hash_key
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            asked.table = None

    def all_items(self):
        if getattr(asked, "table", None) is not self:
            return original_all_items(self)
        # Its dict's key equals the asked one exactly when moto's filter would keep its items
        # (DynamoType's hash and equality both go by type and value).
        bucket = self.items.get(asked.hash_key)
        if bucket is None:
            return []
        items = list(bucket.values()) if self.range_key_attr else [bucket]
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    Table.query, Table.all_items = query, all_items
    try:
        yield
    finally:
        Table.query, Table.all_items = original_query, original_all_items


@contextlib.contextmanager
def linear_moto_dynamodb() -> Iterator[None]:
    """moto's DynamoDB without the two costs that grow with the whole table on every call: the
    table copies of transactions and the full sort of a Query."""
    with item_level_transaction_rollback(), one_bucket_queries():
        yield

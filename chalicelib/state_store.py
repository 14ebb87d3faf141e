"""Durable state in one DynamoDB table: configuration, cursors, outcomes, jobs and counters.

Layout (pk / sk):
  config        / current        the user's SortConfig
  account#<id>  / cursor         list_folder cursor + version, and the sync lease
  file#<id>     / <request key>  one outcome per queued request (also the record a later undo reads)
  stats         / all            counters over all time
  job#<id>      / job            counters of one /sort run
  events        / <time>#<id>    recent skipped and failed files with the reason, for /status
"""
from __future__ import annotations

import hashlib
import os
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from .messages import SortRequest
from .outcomes import Counts, Outcome
from .sort_config import SortConfig

# Every DynamoDB call is bounded: short timeouts and a few retries (throttling included).
BOTO_CONFIG = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 4, "mode": "standard"})
EVENT_TTL_SECONDS = 30 * 24 * 3600
RECENT_EVENTS = 20
CONFLICT_ATTEMPTS = 5
# DynamoDB allows 100 items per transaction; an outcome takes at most 2 plus the counter updates.
RECORDS_PER_TRANSACTION = 40


def request_key(request: SortRequest) -> str:
    """The same queued request (redelivered, or handled twice) always maps to the same key."""
    raw = "\0".join((request.file_id, request.rev, request.path.lower(), request.job_id or ""))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


class StateStore:
    def __init__(self, table_name: str, dynamodb=None):
        self.table_name = table_name
        self._db = dynamodb or boto3.client("dynamodb", config=BOTO_CONFIG)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "StateStore":
        return cls(env.get("STATE_TABLE", "image-categorizer"))

    def create_table(self) -> None:
        """For the local stack and tests; deployed stacks get the table from the template."""
        try:
            self._db.create_table(
                TableName=self.table_name, BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                      {"AttributeName": "sk", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                           {"AttributeName": "sk", "KeyType": "RANGE"}])
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceInUseException":
                raise

    # --- configuration -------------------------------------------------------------------

    def get_config(self) -> SortConfig | None:
        item = self._get("config", "current")
        return None if item is None else SortConfig.from_dict(_plain(item["value"]))

    def put_config(self, config: SortConfig) -> None:
        value = _typed({k: v for k, v in config.to_dict().items() if v is not None})
        self._db.put_item(TableName=self.table_name, Item={
            "pk": {"S": "config"}, "sk": {"S": "current"}, "value": value,
            "updated_at": {"N": str(time.time())}})

    # --- cursor and sync lease -----------------------------------------------------------

    def get_cursor(self, account: str) -> tuple[str | None, int]:
        item = self._get(f"account#{account}", "cursor") or {}
        return item.get("cursor", {}).get("S"), int(item.get("version", {}).get("N", "0"))

    def put_cursor(self, account: str, cursor: str, expected_version: int) -> bool:
        """Store the cursor only if nobody else stored one since we read it (False then)."""
        try:
            self._db.update_item(
                TableName=self.table_name, Key=_key(f"account#{account}", "cursor"),
                UpdateExpression="SET #c = :c, version = :next",
                ConditionExpression="attribute_not_exists(version) OR version = :v",
                ExpressionAttributeNames={"#c": "cursor"},
                ExpressionAttributeValues={":c": {"S": cursor}, ":v": {"N": str(expected_version)},
                                           ":next": {"N": str(expected_version + 1)}})
            return True
        except ClientError as e:
            if _conditional(e):
                return False
            raise

    def acquire_lease(self, account: str, seconds: float) -> str | None:
        """The sync lease of an account: its owner token, or None when another sync holds it.

        A caller that does not get the lease leaves a `pending` mark, so the holder syncs once
        more before it lets go: a notification that arrives mid-sync is never lost.
        """
        owner = uuid.uuid4().hex
        for attempt in range(2):
            now = time.time()
            try:
                self._db.update_item(
                    TableName=self.table_name, Key=_key(f"account#{account}", "cursor"),
                    UpdateExpression="SET lease_owner = :o, lease_until = :u, pending = :f",
                    ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now",
                    ExpressionAttributeValues={":o": {"S": owner}, ":u": {"N": str(now + seconds)},
                                               ":f": {"BOOL": False}, ":now": {"N": str(now)}})
                return owner
            except ClientError as e:
                if not _conditional(e):
                    raise
            if attempt == 0:
                self._db.update_item(TableName=self.table_name, Key=_key(f"account#{account}", "cursor"),
                                     UpdateExpression="SET pending = :t",
                                     ExpressionAttributeValues={":t": {"BOOL": True}})
            # Try once more: the holder may have let go between our two writes.
        return None

    def release_lease(self, account: str, owner: str, force: bool = False) -> bool:
        """Let go of the lease; False (lease kept, pending mark cleared) when a sync is pending.

        `force` lets go regardless, leaving any pending mark for the next sync.
        """
        key = _key(f"account#{account}", "cursor")
        pending_clear = "" if force else " AND (attribute_not_exists(pending) OR pending = :f)"
        values = {":o": {"S": owner}} if force else {":o": {"S": owner}, ":f": {"BOOL": False}}
        try:
            self._db.update_item(
                TableName=self.table_name, Key=key, UpdateExpression="REMOVE lease_owner, lease_until",
                ConditionExpression="lease_owner = :o" + pending_clear, ExpressionAttributeValues=values)
            return True
        except ClientError as e:
            if not _conditional(e):
                raise
            if force:
                return True
        try:
            self._db.update_item(TableName=self.table_name, Key=key, UpdateExpression="SET pending = :f",
                                 ConditionExpression="lease_owner = :o",
                                 ExpressionAttributeValues={":o": {"S": owner}, ":f": {"BOOL": False}})
        except ClientError as e:
            if not _conditional(e):
                raise
            return True  # the lease expired and passed on; the new holder will sync
        return False

    # --- outcomes, counters, jobs --------------------------------------------------------

    def create_job(self, total: int, skipped: int = 0) -> str:
        job_id = uuid.uuid4().hex[:16]
        self._db.put_item(TableName=self.table_name, Item={
            **_key(f"job#{job_id}", "job"), "total": {"N": str(total)},
            "skipped_on_listing": {"N": str(skipped)}, "created_at": {"N": str(time.time())}})
        return job_id

    def add_queued(self, count: int) -> None:
        if count:
            self._db.update_item(TableName=self.table_name, Key=_key("stats", "all"),
                                 UpdateExpression="ADD queued :n",
                                 ExpressionAttributeValues={":n": {"N": str(count)}})

    def record(self, request: SortRequest, outcome: Outcome) -> bool:
        """Record how a request ended, once: False when it was recorded before (a redelivery)."""
        return self.record_many([(request, outcome)])[0]

    def record_many(self, records: Sequence[tuple[SortRequest, Outcome]]) -> list[bool]:
        """Record a batch in one transaction (each outcome once, as `record`), falling back to one
        transaction per outcome when some were recorded before."""
        results: list[bool] = []
        for start in range(0, len(records), RECORDS_PER_TRANSACTION):
            chunk = records[start:start + RECORDS_PER_TRANSACTION]
            if self._transact(self._writes(chunk)):
                results += [True] * len(chunk)
            elif len(chunk) == 1:
                results.append(False)
            else:
                results += [self._transact(self._writes([record])) for record in chunk]
        return results

    def _writes(self, records: Sequence[tuple[SortRequest, Outcome]]) -> list[dict]:
        """The outcome items, their events, and one counter update per counter item touched."""
        now = time.time()
        writes, counts = [], {}
        for request, outcome in records:
            item = {**_key(f"file#{request.file_id}", request_key(request)),
                    "kind": {"S": outcome.kind}, "from": {"S": request.path}, "at": {"N": str(now)}}
            for name, value in (("to", outcome.to_path), ("label", outcome.label), ("reason", outcome.why),
                                ("job_id", request.job_id)):
                if value is not None:
                    item[name] = {"S": value}
            if outcome.score is not None:
                item["score"] = {"N": f"{outcome.score:.6f}"}
            writes.append({"Put": {"TableName": self.table_name, "Item": item,
                                   "ConditionExpression": "attribute_not_exists(pk)"}})
            if outcome.kind in ("skipped", "failed"):
                writes.append({"Put": {"TableName": self.table_name, "Item": {
                    **_key("events", f"{now:017.6f}#{request.file_id}"), "kind": {"S": outcome.kind},
                    "path": {"S": request.path}, "reason": {"S": outcome.why or ""},
                    "expires_at": {"N": str(int(now + EVENT_TTL_SECONDS))}}}})
            counter = f"folder:{outcome.folder}" if outcome.kind == "sorted" else outcome.kind
            for key in ("stats", *((f"job#{request.job_id}",) if request.job_id else ())):
                per_item = counts.setdefault(key, {})
                per_item[counter] = per_item.get(counter, 0) + 1
        for key, per_item in counts.items():
            names = {f"#c{i}": name for i, name in enumerate(per_item)}
            writes.append({"Update": {
                "TableName": self.table_name, "Key": _key(key, "all" if key == "stats" else "job"),
                "UpdateExpression": "ADD " + ", ".join(f"{n} :n{i}" for i, n in enumerate(names)),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {f":n{i}": {"N": str(v)} for i, v in enumerate(per_item.values())}}})
        return writes

    def _transact(self, writes: list[dict]) -> bool:
        """True when written; False when an outcome in it was recorded before (nothing written)."""
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                self._db.transact_write_items(TransactItems=writes)
                return True
            except ClientError as e:
                if e.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                codes = [r.get("Code") for r in e.response.get("CancellationReasons") or []]
                if "ConditionalCheckFailed" in codes:
                    return False
                # Another container's record touched the same counters at the same moment.
                if "TransactionConflict" not in codes or attempt == CONFLICT_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0.02, 0.05) * 2 ** attempt)
        raise AssertionError("unreachable")

    def outcomes(self, file_id: str) -> list[dict]:
        """Every recorded outcome of a file (where it came from and went), for undo and tests."""
        response = self._db.query(TableName=self.table_name, KeyConditionExpression="pk = :p",
                                  ExpressionAttributeValues={":p": {"S": f"file#{file_id}"}})
        return [_plain({"M": i}) for i in response["Items"]]

    def totals(self) -> tuple[int, Counts]:
        item = self._get("stats", "all") or {}
        return int(item.get("queued", {}).get("N", "0")), _counts(item)

    def job(self, job_id: str) -> tuple[int, Counts] | None:
        item = self._get(f"job#{job_id}", "job")
        return None if item is None else (int(item["total"]["N"]), _counts(item))

    def recent_events(self, limit: int = RECENT_EVENTS) -> list[dict]:
        response = self._db.query(TableName=self.table_name, KeyConditionExpression="pk = :p",
                                  ExpressionAttributeValues={":p": {"S": "events"}},
                                  ScanIndexForward=False, Limit=limit)
        return [{"kind": i["kind"]["S"], "path": i["path"]["S"], "reason": i["reason"]["S"],
                 "at": float(i["sk"]["S"].split("#", 1)[0])} for i in response["Items"]]

    def _get(self, pk: str, sk: str) -> dict | None:
        return self._db.get_item(TableName=self.table_name, Key=_key(pk, sk), ConsistentRead=True).get("Item")


def _key(pk: str, sk: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _conditional(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _counts(item: dict) -> Counts:
    def number(name: str) -> int:
        return int(item.get(name, {}).get("N", "0"))
    folders = {k.split(":", 1)[1]: int(v["N"]) for k, v in item.items() if k.startswith("folder:")}
    return Counts(folders, number("unsorted"), number("skipped"), number("failed"), number("gone"))


def _typed(value) -> dict:
    if isinstance(value, float):
        value = Decimal(str(value))
    elif isinstance(value, dict):
        return {"M": {k: _typed(v) for k, v in value.items()}}
    return TypeSerializer().serialize(value)


def _plain(typed: dict):
    """A DynamoDB-typed value as plain Python (whole numbers as int, others as float)."""
    return _undecimal(TypeDeserializer().deserialize(typed))


def _undecimal(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _undecimal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_undecimal(v) for v in value]
    return value

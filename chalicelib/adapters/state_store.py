"""Durable state in one DynamoDB table: configuration, cursors, outcomes, jobs and counters.

Layout (pk / sk):
  config        / current        the user's SortConfig, and a version every change of it bumps
  account#<id>  / cursor         list_folder cursor + version, and the sync lease
  file#<id>     / <request key>  one outcome per queued request
  photo#<id>    / ledger         what the service did to a photo, by its Dropbox file id: where it is
                                 counted, where the service put it and by which job, a move in flight
                                 (moving_<request key>, written before the move), whether an undo put it back
  stats         / all            counters over all time, one count per photo
  job#<id>      / job            counters of one /sort run
  events        / <time>#<id>    recent skipped and failed files with the reason, for /status
  examples      / <folder>#<role>#<id>   a photo's features as an example (or counter-example)
  examples      / version        bumped at every change of the examples, so caches know to read again
  bytes#<hash>  / first          the photo a content (Dropbox's content_hash) is known by (dropbox_originals.py)
  job#<id>      / preview#<id>   where a dry run would put a photo (a preview job also keeps its classes)
"""
from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.rules.configuration import MAX_EXAMPLES, SortConfig
from chalicelib.rules.messages import SortRequest, request_key
from chalicelib.rules.outcomes import Counts, Outcome
from chalicelib.rules.ports import Example, JobRecord, LedgerEntry, OriginalClaim

# Every DynamoDB call is bounded: short timeouts and a few retries (throttling included).
BOTO_CONFIG = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 4, "mode": "standard"})
EVENT_TTL_SECONDS = 30 * 24 * 3600
RECENT_EVENTS = 20
RECENT_JOBS = 10
# Events are read several per file shown, since one file can have several (a webhook and a sort).
EVENTS_READ_PER_SHOWN = 5
CONFLICT_ATTEMPTS = 5
# DynamoDB allows 100 items per transaction; an outcome takes at most 5 (its item, an event or its
# decision, its photo's ledger, and in its job's lists of moves and of files left in the inbox) plus
# the counter updates (the totals, and one per job in the chunk).
RECORDS_PER_TRANSACTION = 13
TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems
BATCH_WRITE_ITEMS = 25  # DynamoDB's limit per BatchWriteItem
BATCH_GET_KEYS = 100  # and per BatchGetItem
BATCH_WRITE_ATTEMPTS = 5


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

    def config_version(self) -> int:
        """Bumped by every put_config, in the same write: a consistent read of this one number tells
        a cache whether the configuration changed (0 before the first)."""
        item = self._db.get_item(TableName=self.table_name, Key=_key("config", "current"), ConsistentRead=True,
                                 ProjectionExpression="#n", ExpressionAttributeNames={"#n": "version"}).get("Item")
        return int(item["version"]["N"]) if item and "version" in item else 0

    def put_config(self, config: SortConfig) -> None:
        self._db.update_item(
            TableName=self.table_name, Key=_key("config", "current"),
            UpdateExpression="SET #v = :v, updated_at = :t ADD #n :one",
            ExpressionAttributeNames={"#v": "value", "#n": "version"},
            ExpressionAttributeValues={":v": _typed(_config_dict(config)), ":t": {"N": str(time.time())},
                                       ":one": {"N": "1"}})

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

    def create_job(self, total: int, skipped: int = 0, source: str = "sort", preview: SortConfig | None = None) -> str:
        """A new job's id; `preview`: the classes of a dry run (its source is then "preview")."""
        job_id, now = uuid.uuid4().hex[:16], time.time()
        item = {**_key(f"job#{job_id}", "job"), "total": {"N": str(total)},
                "skipped_on_listing": {"N": str(skipped)}, "created_at": {"N": str(now)}}
        if preview is not None:
            item["preview"], source = _typed(_config_dict(preview)), "preview"
        self._db.put_item(TableName=self.table_name, Item=item)
        # The list of recent jobs, newest last in key order (for GET /jobs and the page).
        self._db.put_item(TableName=self.table_name, Item={
            **_key("jobs", f"{now:017.6f}#{job_id}"), "source": {"S": source},
            "expires_at": {"N": str(int(now + EVENT_TTL_SECONDS))}})
        return job_id

    def recent_jobs(self, limit: int = RECENT_JOBS) -> list[tuple[str, str, str]]:
        """(job id, "sort" or "webhook", when in UTC) of the last `limit` jobs, newest first."""
        return [(i["sk"]["S"].split("#", 1)[1], i["source"]["S"], at) for at, i in self._newest("jobs", limit)]

    def job_moves(self, job_id: str) -> list[tuple[str, str, str]]:
        """(file id, where it was, where the job put it) of every photo the job moved."""
        return [(i["sk"]["S"].split("#", 1)[1], i["from"]["S"], i["to"]["S"])
                for i in self._query(f"job#{job_id}", "moved#")]

    def note_left(self, job_id: str, files: Sequence[tuple[str, Outcome]]) -> None:
        """Files the job's listing left in the inbox (not photos), by (file id, outcome)."""
        self._batch_write([{"PutRequest": {"Item": _left_item(job_id, file_id, outcome.file, outcome)}}
                           for file_id, outcome in files])

    def job_left(self, job_id: str) -> list[dict]:
        """Each file the job left in the inbox: its path, "skipped" or "failed", and why."""
        return [{"path": i["path"]["S"], "kind": i["kind"]["S"], "reason": i["reason"]["S"]}
                for i in self._query(f"job#{job_id}", "left#")]

    def job_previews(self, job_id: str) -> list[dict]:
        """Where a dry run would put each photo it decided, by path: the folder, the class, the score."""
        return sorted(({"path": i["path"]["S"], "kind": i["kind"]["S"], "to": i["to"]["S"],
                        "folder": i["folder"]["S"], "class": i.get("label", {}).get("S"),
                        "score": float(i["score"]["N"]), "by": i.get("by", {}).get("S"),
                        "reason": i.get("reason", {}).get("S"), "detail": i.get("detail", {}).get("S")}
                       for i in self._query(f"job#{job_id}", "preview#")), key=lambda p: p["path"])

    def ledger(self, file_ids: Sequence[str]) -> dict[str, LedgerEntry]:
        """What the service did to each of these photos that it ever handled, in a few reads."""
        return {pk.split("#", 1)[1]: _entry(item)
                for (pk, _), item in self._existing([(f"photo#{i}", "ledger") for i in file_ids]).items()}

    def moving(self, moves: Sequence[tuple[SortRequest, str]]) -> None:
        """Before a move: these requests are moving their photos into these folders. A redelivered
        request that finds its photo there knows its own earlier try moved it; learning waits."""
        by_photo: dict[str, list[tuple[SortRequest, str]]] = {}
        for request, folder in moves:  # a transaction touches each item once: a photo queued twice is one update
            by_photo.setdefault(request.file_id, []).append((request, folder))
        self._update_ledgers([(file_id, "SET " + ", ".join(f"#m{n} = :f{n}" for n in range(len(pairs))),
                               {f"#m{n}": _moving(r) for n, (r, _) in enumerate(pairs)},
                               {f":f{n}": {"S": folder} for n, (_, folder) in enumerate(pairs)})
                              for file_id, pairs in by_photo.items()])

    def mark_undone(self, job_id: str, file_ids: Sequence[str]) -> None:
        """These photos of the job are back in the inbox: counted nowhere, and left there by the
        webhook until a POST /sort (`clear_undone`). The job says when it was undone."""
        entries = self.ledger(file_ids)
        self._update_ledgers([(i, "SET undone = :j REMOVE #c, #t, job", {"#c": "counter", "#t": "to"},
                               {":j": {"S": job_id}}) for i in dict.fromkeys(file_ids)])
        taken: dict[str, int] = {}
        for entry in entries.values():
            if entry.counter is not None:
                taken[entry.counter] = taken.get(entry.counter, 0) - 1
        if taken:
            self._db.update_item(**self._adding("stats", "all", taken))
        self._db.update_item(**self._adding(f"job#{job_id}", "job", {"undone": len(file_ids)},
                                            {"undone_at": {"N": str(time.time())}}))

    def clear_undone(self, file_ids: Sequence[str]) -> None:
        self._update_ledgers([(i, "REMOVE undone", {}, {}) for i, entry in self.ledger(file_ids).items()
                              if entry.undone])

    def _update_ledgers(self, updates: Sequence[tuple[str, str, Mapping[str, str], Mapping[str, dict]]]) -> None:
        """(file id, update expression, names, values) on each photo's ledger, 100 per transaction."""
        writes = []
        for file_id, expression, names, values in updates:
            update = {"TableName": self.table_name, "Key": _key(f"photo#{file_id}", "ledger"),
                      "UpdateExpression": expression}
            if names:
                update["ExpressionAttributeNames"] = dict(names)
            if values:
                update["ExpressionAttributeValues"] = dict(values)
            writes.append({"Update": update})
        for start in range(0, len(writes), TRANSACTION_ITEMS):
            self._transact(writes[start:start + TRANSACTION_ITEMS])

    def _adding(self, pk: str, sk: str, changes: Mapping[str, int], also: Mapping[str, dict] | None = None) -> dict:
        """The update that adds to counters of one item (and sets `also`'s attributes)."""
        names = {f"#c{i}": name for i, name in enumerate(changes)} | {f"#s{i}": n for i, n in enumerate(also or {})}
        values = {f":n{i}": {"N": str(v)} for i, v in enumerate(changes.values())} \
            | {f":s{i}": v for i, v in enumerate((also or {}).values())}
        parts = []
        if changes:
            parts.append("ADD " + ", ".join(f"#c{i} :n{i}" for i in range(len(changes))))
        if also:
            parts.append("SET " + ", ".join(f"#s{i} = :s{i}" for i in range(len(also))))
        return {"TableName": self.table_name, "Key": _key(pk, sk), "UpdateExpression": " ".join(parts),
                "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}

    def add_queued(self, count: int) -> None:
        if count:
            self._db.update_item(TableName=self.table_name, Key=_key("stats", "all"),
                                 UpdateExpression="ADD queued :n",
                                 ExpressionAttributeValues={":n": {"N": str(count)}})

    def record(self, request: SortRequest, outcome: Outcome) -> bool:
        """Record how a request ended, once: False when it was recorded before (a redelivery)."""
        return self.record_many([(request, outcome)])[0]

    def record_many(self, records: Sequence[tuple[SortRequest, Outcome]]) -> list[bool]:
        """Record each request's outcome once, one transaction per chunk: False for one recorded
        before (a redelivery, or the same request twice in the batch). Each photo is counted once,
        where it is now: a later outcome of the same file moves its count rather than adding one."""
        results: list[bool] = []
        for start in range(0, len(records), RECORDS_PER_TRANSACTION):
            results += self._record_chunk(records[start:start + RECORDS_PER_TRANSACTION])
        return results

    def _record_chunk(self, chunk: Sequence[tuple[SortRequest, Outcome]]) -> list[bool]:
        keys = [(f"file#{request.file_id}", request_key(request)) for request, _ in chunk]
        markers = [(f"photo#{f}", "ledger") for f in dict.fromkeys(request.file_id for request, _ in chunk)]
        found: dict[tuple[str, str], dict] = {}  # first optimistic: a new photo's first outcome needs no read
        for attempt in range(CONFLICT_ATTEMPTS):
            fresh = {key: i for i, key in reversed(list(enumerate(keys))) if key not in found}
            if not fresh:
                return [False] * len(chunk)
            counted = {pk.split("#", 1)[1]: found[(pk, sk)]["counter"]["S"]
                       for pk, sk in markers if "counter" in found.get((pk, sk), {})}
            if self._transact(self._writes([chunk[i] for i in sorted(fresh.values())], counted)):
                return [fresh.get(key) == i for i, key in enumerate(keys)]
            # Recorded before, or another container counted one of these photos meanwhile: read what is there.
            if attempt:
                time.sleep(random.uniform(0.02, 0.05) * 2 ** attempt)
            found = self._existing(keys + markers)
        raise RuntimeError(f"recording {len(chunk)} outcomes kept conflicting with other writers")

    def _existing(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict]:
        """The items among `keys` that exist, read consistently (BatchGetItem, bounded retries of
        what DynamoDB leaves unprocessed)."""
        found: dict[tuple[str, str], dict] = {}
        unique = list(dict.fromkeys(keys))
        for begin in range(0, len(unique), BATCH_GET_KEYS):
            todo = [_key(pk, sk) for pk, sk in unique[begin:begin + BATCH_GET_KEYS]]
            for attempt in range(CONFLICT_ATTEMPTS):
                response = self._db.batch_get_item(RequestItems={
                    self.table_name: {"Keys": todo, "ConsistentRead": True}})
                for item in response["Responses"].get(self.table_name, []):
                    found[(item["pk"]["S"], item["sk"]["S"])] = item
                todo = response.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
                if not todo:
                    break
                time.sleep(random.uniform(0.02, 0.05) * 2 ** attempt)
            if todo:
                raise RuntimeError(f"DynamoDB left {len(todo)} keys unread after {CONFLICT_ATTEMPTS} attempts")
        return found

    def _writes(self, records: Sequence[tuple[SortRequest, Outcome]], counted: Mapping[str, str]) -> list[dict]:
        """The outcome items, their events, each photo's ledger (its count conditional on what was
        read, in `counted`), and one counter update per counter item touched."""
        now = time.time()
        writes: list[dict] = []
        counts: dict[str, dict[str, int]] = {}
        photos: dict[str, str] = {}
        put_at: dict[str, tuple[str, str | None]] = {}
        recorded: dict[str, list[SortRequest]] = {}
        for request, outcome in records:
            key = request_key(request)
            item = {**_key(f"file#{request.file_id}", key),
                    "kind": {"S": outcome.kind}, "from": {"S": request.path}, "at": {"N": str(now)}}
            for name, value in (("to", outcome.to_path), ("label", outcome.label), ("reason", outcome.why),
                                ("job_id", request.job_id)):
                if value is not None:
                    item[name] = {"S": value}
            if outcome.score is not None:
                item["score"] = {"N": f"{outcome.score:.6f}"}
            writes.append({"Put": {"TableName": self.table_name, "Item": item,
                                   "ConditionExpression": "attribute_not_exists(pk)"}})
            counter = _counter(outcome)
            if request.job_id:
                job = counts.setdefault(f"job#{request.job_id}", {})
                job[counter] = job.get(counter, 0) + 1
            if outcome.kind in ("skipped", "failed") and request.job_id:
                writes.append({"Put": {"TableName": self.table_name, "Item": _left_item(
                    request.job_id, request.file_id, request.path, outcome)}})
            if request.dry_run:
                # A dry run tells only its job where each photo would go: no count, decision or placement.
                if outcome.kind in ("sorted", "unsorted") and request.job_id and outcome.score is not None:
                    writes.append({"Put": {"TableName": self.table_name, "Item": _preview_item(request, outcome)}})
                continue
            if outcome.kind in ("sorted", "unsorted") and outcome.score is not None:
                writes.append({"Put": {"TableName": self.table_name, "Item": _decision_item(request, outcome, now)}})
            if outcome.kind in ("skipped", "failed"):
                writes.append({"Put": {"TableName": self.table_name, "Item": {
                    **_key("events", f"{now:017.6f}#{key}"), "kind": {"S": outcome.kind},
                    "path": {"S": request.path}, "reason": {"S": outcome.why or ""},
                    "expires_at": {"N": str(int(now + EVENT_TTL_SECONDS))}}}})
            photos[request.file_id] = counter  # the latest outcome of a photo is where it is now
            recorded.setdefault(request.file_id, []).append(request)
            if outcome.kind in ("sorted", "unsorted") and outcome.to_path:
                put_at[request.file_id] = (outcome.to_path.lower(), request.job_id)
                if request.job_id:  # what an undo of the job moves back; no longer left in the inbox
                    writes.append({"Put": {"TableName": self.table_name, "Item": {
                        **_key(f"job#{request.job_id}", f"moved#{request.file_id}"), "from": {"S": request.path},
                        "to": {"S": outcome.to_path}}}})
                    writes.append({"Delete": {"TableName": self.table_name,
                                              "Key": _key(f"job#{request.job_id}", f"left#{request.file_id}")}})
        stats = counts.setdefault("stats", {})
        for file_id, counter in photos.items():
            before = counted.get(file_id)
            # The photo's ledger: its moves in flight are over; where the service put it, by which job.
            sets, removes = [], [f"#m{n}" for n in range(len(recorded[file_id]))]
            names = {f"#m{n}": _moving(r) for n, r in enumerate(recorded[file_id])}
            values: dict[str, dict] = {}
            update = {"TableName": self.table_name, "Key": _key(f"photo#{file_id}", "ledger")}
            if file_id in put_at:
                to, job_id = put_at[file_id]
                sets.append("#t = :t")
                names["#t"], values[":t"] = "to", {"S": to}
                if job_id:
                    sets.append("job = :j")
                    values[":j"] = {"S": job_id}
                else:
                    removes.append("job")
            # A photo once placed stays counted where it went: a later failure or a late request
            # finding it gone does not un-sort it.
            if not (before == counter or (_placed(before) and not _placed(counter))):
                stats[counter] = stats.get(counter, 0) + 1
                if before is not None:
                    stats[before] = stats.get(before, 0) - 1
                sets.append("#c = :c")
                names["#c"], values[":c"] = "counter", {"S": counter}
                if before is None:
                    update["ConditionExpression"] = "attribute_not_exists(#c)"
                else:
                    update["ConditionExpression"] = "#c = :before"
                    values[":before"] = {"S": before}
            update["UpdateExpression"] = " ".join(part for part in (
                "SET " + ", ".join(sets) if sets else "", "REMOVE " + ", ".join(removes) if removes else "") if part)
            update["ExpressionAttributeNames"] = names
            if values:
                update["ExpressionAttributeValues"] = values
            writes.append({"Update": update})
        writes += [{"Update": self._adding(key, "all" if key == "stats" else "job", per_item)}
                   for key, per_item in counts.items() if per_item]
        return writes

    def _transact(self, writes: list[dict]) -> bool:
        """True when written; False when a condition failed (nothing written: read again)."""
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

    # --- the photo each content is known by (chalicelib/adapters/dropbox_originals.py) ----------------------

    def originals(self, content_hashes: Sequence[str]) -> dict[str, OriginalClaim]:
        return {pk.split("#", 1)[1]: OriginalClaim(pk.split("#", 1)[1], i["file_id"]["S"], i["path"]["S"])
                for (pk, _), i in self._existing([(f"bytes#{h}", "first") for h in content_hashes]).items()}

    def claim_originals(self, claims: Sequence[OriginalClaim]) -> list[bool]:
        """One conditional write per claim: claims are independent, so none waits for another. A
        claim the same file made before stands (its answer may have been lost on the way back)."""
        return [self._claim_original(claim) for claim in claims]

    def _claim_original(self, claim: OriginalClaim) -> bool:
        values = {":me": {"S": claim.file_id}}
        if claim.replaces is None:
            condition = "attribute_not_exists(pk) OR file_id = :me"
        else:
            condition, values[":was"] = "file_id IN (:was, :me)", {"S": claim.replaces}
        try:
            self._db.put_item(TableName=self.table_name, Item={
                **_key(f"bytes#{claim.content_hash}", "first"), "file_id": {"S": claim.file_id},
                "path": {"S": claim.path}}, ConditionExpression=condition, ExpressionAttributeValues=values)
            return True
        except ClientError as e:
            if _conditional(e):
                return False
            raise

    def withdraw_originals(self, held: Sequence[tuple[str, str]]) -> None:
        for content_hash, file_id in held:
            try:
                self._db.delete_item(TableName=self.table_name, Key=_key(f"bytes#{content_hash}", "first"),
                                     ConditionExpression="file_id = :me",
                                     ExpressionAttributeValues={":me": {"S": file_id}})
            except ClientError as e:
                if not _conditional(e):  # another photo holds it: nothing of ours to give up
                    raise

    def outcomes(self, file_id: str) -> list[dict]:
        """Every recorded outcome of a file (where it came from and went), for undo and tests."""
        response = self._db.query(TableName=self.table_name, KeyConditionExpression="pk = :p",
                                  ExpressionAttributeValues={":p": {"S": f"file#{file_id}"}})
        return [_plain({"M": i}) for i in response["Items"]]

    def totals(self) -> tuple[int, Counts]:
        item = self._get("stats", "all") or {}
        return int(item.get("queued", {}).get("N", "0")), _counts(item)

    def job(self, job_id: str) -> JobRecord | None:
        item = self._get(f"job#{job_id}", "job")
        if item is None:
            return None
        preview = SortConfig.from_dict(_plain(item["preview"])) if "preview" in item else None
        undone_at = float(item["undone_at"]["N"]) if "undone_at" in item else None
        return JobRecord(int(item["total"]["N"]), _counts(item), preview, undone_at)

    def recent_events(self, limit: int = RECENT_EVENTS) -> list[dict]:
        """The most recent problem of each of the last `limit` files that had one, newest first,
        with the time in UTC (a file queued by both the webhook and POST /sort is listed once)."""
        latest: dict[str, dict] = {}
        for at, i in self._newest("events", limit * EVENTS_READ_PER_SHOWN):
            latest.setdefault(i["path"]["S"], {"kind": i["kind"]["S"], "path": i["path"]["S"],
                                               "reason": i["reason"]["S"], "at": at})
        return list(latest.values())[:limit]

    def recent_decisions(self, limit: int = RECENT_EVENTS) -> list[dict]:
        """The last `limit` photos sorted or left unsorted, newest first: where each went, its score,
        the runner-up class and what decided it, with the time in UTC."""
        return [{"path": i["path"]["S"], "to": i.get("to", {}).get("S"), "folder": i["folder"]["S"],
                 "score": float(i["score"]["N"]), "by": i.get("by", {}).get("S"),
                 "runner_up": {"class": i["runner_up"]["S"], "score": float(i["runner_up_score"]["N"])}
                 if "runner_up" in i else None, "at": at} for at, i in self._newest("decisions", limit)]

    def _newest(self, pk: str, limit: int) -> list[tuple[str, dict]]:
        """The newest `limit` items of a partition keyed "<time>#...", each with its time (ISO 8601, UTC)."""
        response = self._db.query(TableName=self.table_name, KeyConditionExpression="pk = :p",
                                  ExpressionAttributeValues={":p": {"S": pk}}, ScanIndexForward=False, Limit=limit)
        return [(datetime.fromtimestamp(float(i["sk"]["S"].split("#", 1)[0]), timezone.utc).isoformat(
            timespec="seconds"), i) for i in response["Items"]]

    # --- examples (chalicelib/flows/learning.py) --------------------------------------------------

    def put_examples(self, examples: Sequence[Example]) -> None:
        now = time.time()
        self._batch_write([{"PutRequest": {"Item": {
            **_key("examples", f"{e.folder.casefold()}#{e.role}#{e.file_id}"), "path": {"S": e.path.lower()},
            "features": {"B": e.features}, "at": {"N": f"{now:.6f}"}}}} for e in examples])
        for folder, role in {(e.folder.casefold(), e.role) for e in examples}:
            items = sorted(self._examples_query(f"{folder}#{role}#", "sk, #a"), key=lambda i: float(i["at"]["N"]))
            self._batch_write([{"DeleteRequest": {"Key": _key("examples", i["sk"]["S"])}}
                               for i in items[:-MAX_EXAMPLES]])  # only the newest are kept
        if examples:
            self._bump_examples_version()

    def forget_examples(self, paths: Sequence[str]) -> int:
        gone = [p.lower() for p in paths]
        doomed = [item["sk"]["S"] for item in self._examples_query("", "sk, #p") if "path" in item
                  and any(item["path"]["S"] == g or item["path"]["S"].startswith(g + "/") for g in gone)]
        self._batch_write([{"DeleteRequest": {"Key": _key("examples", sk)}} for sk in doomed])
        if doomed:
            self._bump_examples_version()
        return len(doomed)

    def examples_version(self) -> int:
        item = self._get("examples", "version")
        return int(item["n"]["N"]) if item else 0

    def _bump_examples_version(self) -> None:
        self._db.update_item(TableName=self.table_name, Key=_key("examples", "version"),
                             UpdateExpression="ADD n :one", ExpressionAttributeValues={":one": {"N": "1"}})

    def examples(self, folders: Sequence[str]) -> dict[str, tuple[list[bytes], list[bytes]]]:
        found = {}
        for folder in folders:
            items = sorted(self._examples_query(f"{folder.casefold()}#", "sk, features, #a"),
                           key=lambda i: float(i["at"]["N"]))
            roles = [(i["sk"]["S"].split("#")[-2], i["features"]["B"]) for i in items]
            found[folder.casefold()] = ([f for r, f in roles if r == "example"],
                                        [f for r, f in roles if r == "counter"])
        return found

    def example_counts(self) -> dict[str, tuple[int, int]]:
        counts: dict[str, list[int]] = {}
        for item in self._examples_query("", "sk"):
            if item["sk"]["S"] == "version":
                continue
            folder, role, _ = item["sk"]["S"].rsplit("#", 2)
            counts.setdefault(folder, [0, 0])[0 if role == "example" else 1] += 1
        return {folder: (n[0], n[1]) for folder, n in counts.items()}

    def _examples_query(self, prefix: str, projection: str) -> list[dict]:
        names = {k: v for k, v in (("#p", "path"), ("#a", "at")) if k in projection}
        return self._query("examples", prefix, projection, names)

    def _query(self, pk: str, prefix: str = "", projection: str | None = None,
               names: Mapping[str, str] | None = None) -> list[dict]:
        """Every item of partition `pk` whose sort key starts with `prefix`, all pages."""
        items, start = [], None
        # DynamoDB refuses an empty string as a key value: no prefix, no begins_with.
        request = {"TableName": self.table_name,
                   "KeyConditionExpression": "pk = :p" + (" AND begins_with(sk, :s)" if prefix else ""),
                   "ExpressionAttributeValues": {":p": {"S": pk}, **({":s": {"S": prefix}} if prefix else {})}}
        if projection:
            request["ProjectionExpression"] = projection
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        while True:
            response = self._db.query(**request, **({"ExclusiveStartKey": start} if start else {}))
            items += response["Items"]
            start = response.get("LastEvaluatedKey")
            if not start:
                return items

    def _batch_write(self, requests: list[dict]) -> None:
        """Every request written, 25 per call; what DynamoDB leaves unprocessed is resent, bounded."""
        for begin in range(0, len(requests), BATCH_WRITE_ITEMS):
            pending = {self.table_name: requests[begin:begin + BATCH_WRITE_ITEMS]}
            for attempt in range(BATCH_WRITE_ATTEMPTS):
                pending = self._db.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(random.uniform(0.02, 0.05) * 2 ** attempt)
            else:
                raise RuntimeError(f"DynamoDB left {len(pending[self.table_name])} writes unprocessed")

    def _get(self, pk: str, sk: str) -> dict | None:
        return self._db.get_item(TableName=self.table_name, Key=_key(pk, sk), ConsistentRead=True).get("Item")


def _key(pk: str, sk: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _moving(request: SortRequest) -> str:
    """The ledger attribute that says this request is moving its photo (written before the move)."""
    return f"moving_{request_key(request)}"


def _entry(item: dict) -> LedgerEntry:
    return LedgerEntry(counter=item.get("counter", {}).get("S"), to=item.get("to", {}).get("S"),
                       job_id=item.get("job", {}).get("S"), undone="undone" in item,
                       moving={name.removeprefix("moving_"): value["S"] for name, value in item.items()
                               if name.startswith("moving_")})


def _conditional(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _counter(outcome: Outcome) -> str:
    return f"folder:{outcome.folder}" if outcome.kind == "sorted" else outcome.kind


def _placed(counter: str | None) -> bool:
    return counter is not None and (counter == "unsorted" or counter.startswith("folder:"))


def _counts(item: dict) -> Counts:
    def number(name: str) -> int:
        return int(item.get(name, {}).get("N", "0"))
    folders = {k.split(":", 1)[1]: int(v["N"]) for k, v in item.items() if k.startswith("folder:") and int(v["N"])}
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


def _decision_item(request: SortRequest, outcome: Outcome, now: float) -> dict:
    """A photo's decision as /status lists it, kept EVENT_TTL_SECONDS."""
    item = {**_key("decisions", f"{now:017.6f}#{request_key(request)}"), "path": {"S": request.path},
            "folder": {"S": outcome.folder or ""}, "score": {"N": f"{outcome.score:.6f}"},
            "expires_at": {"N": str(int(now + EVENT_TTL_SECONDS))}}
    for name, value in (("to", outcome.to_path), ("by", outcome.by)):
        if value is not None:
            item[name] = {"S": value}
    if outcome.runner_up is not None:
        item["runner_up"], item["runner_up_score"] = {"S": outcome.runner_up[0]}, {"N": f"{outcome.runner_up[1]:.6f}"}
    return item


def _config_dict(config: SortConfig) -> dict:
    return {k: v for k, v in config.to_dict().items() if v is not None}


def _preview_item(request: SortRequest, outcome: Outcome) -> dict:
    """Where a dry run would put a photo, for its job's answer."""
    item = {**_key(f"job#{request.job_id}", f"preview#{request.file_id}"), "path": {"S": request.path},
            "kind": {"S": outcome.kind}, "folder": {"S": outcome.folder or ""}, "score": {"N": f"{outcome.score:.6f}"},
            "to": {"S": f"/{outcome.folder}/{request.path.rsplit('/', 1)[-1]}"}}
    for name, value in (("label", outcome.label), ("by", outcome.by), ("reason", outcome.reason),
                        ("detail", outcome.detail)):
        if value is not None:
            item[name] = {"S": value}
    return item


def _left_item(job_id: str, file_id: str, path: str, outcome: Outcome) -> dict:
    return {**_key(f"job#{job_id}", f"left#{file_id}"), "path": {"S": path}, "kind": {"S": outcome.kind},
            "reason": {"S": outcome.why or ""}}

"""The local stack's state kept across restarts: the DynamoDB table that moto holds in memory
(classes, cursors, outcomes and counts, examples, jobs) is written to a file when the stack stops
and loaded into the new table when it starts. Binary attributes (the examples' features) are
stored as base64.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

BATCH_WRITE_ITEMS = 25


def _encode(value):
    if isinstance(value, dict):
        return {("B64" if k == "B" else k): (base64.b64encode(v).decode() if k == "B" else _encode(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    return value


def _decode(value):
    if isinstance(value, dict):
        return {("B" if k == "B64" else k): (base64.b64decode(v) if k == "B64" else _decode(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def save(dynamodb, table: str, path: Path) -> int:
    """Every item of `table` into `path` (written whole, then renamed); how many."""
    items, start = [], None
    while True:
        page = dynamodb.scan(TableName=table, **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps([_encode(i) for i in items]))
    partial.replace(path)
    return len(items)


def load(dynamodb, table: str, path: Path) -> int:
    """The items saved in `path` (if any) put back into `table`; how many."""
    if not path.is_file():
        return 0
    items = [_decode(i) for i in json.loads(path.read_text())]
    for start in range(0, len(items), BATCH_WRITE_ITEMS):
        pending = {table: [{"PutRequest": {"Item": i}} for i in items[start:start + BATCH_WRITE_ITEMS]]}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    return len(items)

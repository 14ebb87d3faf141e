"""The photos the user put in class folders, as features (chalicelib/flows/learning.py).

  examples / <folder>#<role>#<file id>   a photo's features as an example or counter-example
  examples / version                     n: bumped at every change, so caches know to read again;
                                         <role>#<folder>: how many of each the folder has, changed
                                         in the same transaction as the examples (so /status reads
                                         one item, not the partition); counted: set once they are
                                         right (data from before the counters is counted once)
"""
from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterable, Sequence

from chalicelib.adapters.state.table import (
    ATTEMPTS,
    TRANSACTION_ITEMS,
    ConditionFailed,
    Item,
    Table,
    TransientStateError,
    counter_update,
    key,
)
from chalicelib.rules.configuration import MAX_EXAMPLES
from chalicelib.rules.ports import Example

_ROLES = ("example", "counter")
_CHUNK = TRANSACTION_ITEMS - 1  # examples per transaction, beside the counts' update
# An example's write in a transaction, given its key and whether it is stored now (None: no write).
_Write = Callable[[str, bool], Item | None]


def _counter(sk: str) -> str:
    """The counts' attribute an example's key adds to: "<folder>#<role>#<id>" -> "<role>#<folder>"."""
    folder, role, _ = sk.rsplit("#", 2)
    return f"{role}#{folder}"


class ExampleRepository:
    def __init__(self, table: Table):
        self.table = table

    def put_examples(self, examples: Sequence[Example]) -> None:
        now = time.time()
        # The same photo twice in one batch is one item (a transaction touches an item once).
        items = {sk: item for sk, item in ((f"{e.folder.casefold()}#{e.role}#{e.file_id}", {
            **key("examples", f"{e.folder.casefold()}#{e.role}#{e.file_id}"), "path": {"S": e.path.lower()},
            "features": {"B": e.features}, "at": {"N": f"{now:.6f}"}}) for e in examples)}
        sks = list(items)
        for start in range(0, len(sks), _CHUNK):
            self._write(sks[start:start + _CHUNK], lambda sk, exists: {"Put": {
                "TableName": self.table.name, "Item": items[sk],
                "ConditionExpression": "attribute_exists(sk)" if exists else "attribute_not_exists(sk)"}}, +1)
        touched = {_counter(sk) for sk in sks}
        if touched:
            self._keep_newest(touched)

    def _keep_newest(self, counters: Iterable[str]) -> None:
        """Only the newest MAX_EXAMPLES of a folder's role are kept: read only where the counts say
        there are more (or are not counted yet)."""
        counts = self.table.get("examples", "version") or {}
        for counter in counters:
            if "counted" in counts and int(counts.get(counter, {}).get("N", "0")) <= MAX_EXAMPLES:
                continue
            role, folder = counter.split("#", 1)
            items = sorted(self._query(f"{folder}#{role}#", "sk, #a"), key=lambda i: float(i["at"]["N"]))
            self._delete([i["sk"]["S"] for i in items[:-MAX_EXAMPLES]])

    def forget_examples(self, paths: Sequence[str]) -> int:
        gone = [p.lower() for p in paths]
        doomed = [item["sk"]["S"] for item in self._query("", "sk, #p") if "path" in item
                  and any(item["path"]["S"] == g or item["path"]["S"].startswith(g + "/") for g in gone)]
        return self._delete(doomed)

    def _delete(self, sks: Sequence[str]) -> int:
        """Delete these examples and take them off the counts; how many there were."""
        deleted = 0
        for start in range(0, len(sks), _CHUNK):
            deleted += self._write(sks[start:start + _CHUNK], lambda sk, exists: {"Delete": {
                "TableName": self.table.name, "Key": key("examples", sk),
                "ConditionExpression": "attribute_exists(sk)"}} if exists else None, -1)
        return deleted

    def _write(self, sks: Sequence[str], write: _Write, sign: int) -> int:
        """One transaction: `write(sk, exists)` for each example, the counts changed by `sign` for
        each example added (+1: one not stored yet) or deleted (-1: one stored), and the version
        bumped. Each write's condition is what was read, so a race with another writer reads
        again (bounded), and a redelivered example is counted once. How many were counted."""
        for attempt in range(ATTEMPTS):
            stored = self.table.existing([("examples", sk) for sk in sks])
            writes: list[Item] = []
            change: collections.Counter[str] = collections.Counter()
            for sk in sks:
                exists = ("examples", sk) in stored
                op = write(sk, exists)
                if op is None:
                    continue
                writes.append(op)
                if exists == (sign < 0):
                    change[_counter(sk)] += sign
            if not writes:
                return 0
            if self.table.transact([*writes, {"Update": counter_update(
                    self.table, "examples", "version", {"n": 1, **change})}]):
                return sum(abs(n) for n in change.values())
        raise TransientStateError(f"examples changed under {ATTEMPTS} tries to write {len(sks)}")

    def examples_version(self) -> int:
        item = self.table.get("examples", "version", ["n"])
        return int(item["n"]["N"]) if item and "n" in item else 0

    def examples(self, folders: Sequence[str]) -> dict[str, tuple[list[bytes], list[bytes]]]:
        found = {}
        for folder in folders:
            items = sorted(self._query(f"{folder.casefold()}#", "sk, features, #a"), key=lambda i: float(i["at"]["N"]))
            roles = [(i["sk"]["S"].split("#")[-2], i["features"]["B"]) for i in items]
            found[folder.casefold()] = ([f for r, f in roles if r == "example"],
                                        [f for r, f in roles if r == "counter"])
        return found

    def example_counts(self) -> dict[str, tuple[int, int]]:
        """Per folder, from the counts (one item); counted from the examples once, for data stored
        before there were counts."""
        item = self.table.get("examples", "version")
        if item is None or "counted" not in item:
            return self._recount(item)
        counts: dict[str, list[int]] = {}
        for name, value in item.items():
            role, _, folder = name.partition("#")
            if role in _ROLES:
                counts.setdefault(folder, [0, 0])[_ROLES.index(role)] += int(value["N"])
        return {folder: (n[0], n[1]) for folder, n in counts.items() if n != [0, 0]}

    def _recount(self, item: Item | None) -> dict[str, tuple[int, int]]:
        """Count the examples and store the counts, unless an example changed meanwhile (the
        version says): then the next call counts again."""
        version = item.get("n") if item else None
        change: collections.Counter[str] = collections.Counter()
        for found in self.table.query("examples", "", "sk", consistent=True):
            if found["sk"]["S"] != "version":
                change[_counter(found["sk"]["S"])] += 1
        stale = {name: {"N": "0"} for name in item or {} if name.partition("#")[0] in _ROLES}
        counts = stale | {name: {"N": str(n)} for name, n in change.items()} | {"counted": {"BOOL": True}}
        names = {f"#a{i}": name for i, name in enumerate(counts)}
        values = {f":a{i}": value for i, value in enumerate(counts.values())}
        try:
            self.table.update("examples", "version", "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(counts))),
                              names | {"#n": "n"}, values | ({":v": version} if version else {}),
                              condition="#n = :v" if version else "attribute_not_exists(#n)")
        except ConditionFailed:
            pass
        result: dict[str, list[int]] = {}
        for name, n in change.items():
            role, _, folder = name.partition("#")
            result.setdefault(folder, [0, 0])[_ROLES.index(role)] += n
        return {folder: (n[0], n[1]) for folder, n in result.items()}

    def _query(self, prefix: str, projection: str) -> list[Item]:
        names = {k: v for k, v in (("#p", "path"), ("#a", "at")) if k in projection}
        return self.table.query("examples", prefix, projection, names)


"""The photos the user put in class folders, as features (chalicelib/flows/learning.py).

  examples / <folder>#<role>#<file id>   a photo's features as an example or counter-example
  examples / version                     bumped at every change, so caches know to read again
"""
from __future__ import annotations

import time
from collections.abc import Sequence

from chalicelib.adapters.state.table import Item, Table, key
from chalicelib.rules.configuration import MAX_EXAMPLES
from chalicelib.rules.ports import Example


class ExampleRepository:
    def __init__(self, table: Table):
        self.table = table

    def put_examples(self, examples: Sequence[Example]) -> None:
        now = time.time()
        self.table.batch_write([{"PutRequest": {"Item": {
            **key("examples", f"{e.folder.casefold()}#{e.role}#{e.file_id}"), "path": {"S": e.path.lower()},
            "features": {"B": e.features}, "at": {"N": f"{now:.6f}"}}}} for e in examples])
        for folder, role in {(e.folder.casefold(), e.role) for e in examples}:
            items = sorted(self._query(f"{folder}#{role}#", "sk, #a"), key=lambda i: float(i["at"]["N"]))
            self.table.batch_write([{"DeleteRequest": {"Key": key("examples", i["sk"]["S"])}}
                                    for i in items[:-MAX_EXAMPLES]])  # only the newest are kept
        if examples:
            self._bump_version()

    def forget_examples(self, paths: Sequence[str]) -> int:
        gone = [p.lower() for p in paths]
        doomed = [item["sk"]["S"] for item in self._query("", "sk, #p") if "path" in item
                  and any(item["path"]["S"] == g or item["path"]["S"].startswith(g + "/") for g in gone)]
        self.table.batch_write([{"DeleteRequest": {"Key": key("examples", sk)}} for sk in doomed])
        if doomed:
            self._bump_version()
        return len(doomed)

    def examples_version(self) -> int:
        item = self.table.get("examples", "version")
        return int(item["n"]["N"]) if item else 0

    def _bump_version(self) -> None:
        self.table.update("examples", "version", "ADD n :one", values={":one": {"N": "1"}})

    def examples(self, folders: Sequence[str]) -> dict[str, tuple[list[bytes], list[bytes]]]:
        found = {}
        for folder in folders:
            items = sorted(self._query(f"{folder.casefold()}#", "sk, features, #a"), key=lambda i: float(i["at"]["N"]))
            roles = [(i["sk"]["S"].split("#")[-2], i["features"]["B"]) for i in items]
            found[folder.casefold()] = ([f for r, f in roles if r == "example"],
                                        [f for r, f in roles if r == "counter"])
        return found

    def example_counts(self) -> dict[str, tuple[int, int]]:
        counts: dict[str, list[int]] = {}
        for item in self._query("", "sk"):
            if item["sk"]["S"] == "version":
                continue
            folder, role, _ = item["sk"]["S"].rsplit("#", 2)
            counts.setdefault(folder, [0, 0])[0 if role == "example" else 1] += 1
        return {folder: (n[0], n[1]) for folder, n in counts.items()}

    def _query(self, prefix: str, projection: str) -> list[Item]:
        names = {k: v for k, v in (("#p", "path"), ("#a", "at")) if k in projection}
        return self.table.query("examples", prefix, projection, names)

"""Each account's place in Dropbox's change feed, and the lease that lets one sync at a time read it.

  account#<id> / cursor    list_folder cursor + version; the sync lease (owner, until, pending)
"""
from __future__ import annotations

import time
import uuid

from chalicelib.adapters.state.table import ConditionFailed, Table


class CursorRepository:
    def __init__(self, table: Table):
        self.table = table

    def get_cursor(self, account: str) -> tuple[str | None, int]:
        item = self.table.get(f"account#{account}", "cursor") or {}
        return item.get("cursor", {}).get("S"), int(item.get("version", {}).get("N", "0"))

    def put_cursor(self, account: str, cursor: str, expected_version: int) -> bool:
        """Store the cursor only if nobody else stored one since we read it (False then)."""
        try:
            self.table.update(f"account#{account}", "cursor", "SET #c = :c, version = :next", {"#c": "cursor"},
                              {":c": {"S": cursor}, ":v": {"N": str(expected_version)},
                               ":next": {"N": str(expected_version + 1)}},
                              condition="attribute_not_exists(version) OR version = :v")
            return True
        except ConditionFailed:
            return False

    def acquire_lease(self, account: str, seconds: float) -> str | None:
        """The sync lease of an account: its owner token, or None when another sync holds it.

        A caller that does not get the lease leaves a `pending` mark, so the holder syncs once
        more before it lets go: a notification that arrives mid-sync is never lost.
        """
        owner = uuid.uuid4().hex
        for attempt in range(2):
            now = time.time()
            try:
                self.table.update(f"account#{account}", "cursor",
                                  "SET lease_owner = :o, lease_until = :u, pending = :f",
                                  values={":o": {"S": owner}, ":u": {"N": str(now + seconds)}, ":f": {"BOOL": False},
                                          ":now": {"N": str(now)}},
                                  condition="attribute_not_exists(lease_until) OR lease_until < :now")
                return owner
            except ConditionFailed:
                pass
            if attempt == 0:
                self.table.update(f"account#{account}", "cursor", "SET pending = :t", values={":t": {"BOOL": True}})
            # Try once more: the holder may have let go between our two writes.
        return None

    def release_lease(self, account: str, owner: str, force: bool = False) -> bool:
        """Let go of the lease; False (lease kept, pending mark cleared) when a sync is pending.

        `force` lets go regardless, leaving any pending mark for the next sync.
        """
        pk = f"account#{account}"
        pending_clear = "" if force else " AND (attribute_not_exists(pending) OR pending = :f)"
        values = {":o": {"S": owner}} if force else {":o": {"S": owner}, ":f": {"BOOL": False}}
        try:
            self.table.update(pk, "cursor", "REMOVE lease_owner, lease_until", values=values,
                              condition="lease_owner = :o" + pending_clear)
            return True
        except ConditionFailed:
            if force:
                return True
        try:
            self.table.update(pk, "cursor", "SET pending = :f", values={":o": {"S": owner}, ":f": {"BOOL": False}},
                              condition="lease_owner = :o")
        except ConditionFailed:
            return True  # the lease expired and passed on; the new holder will sync
        return False

"""What /status lists as recent: problems and decisions (written with each outcome, by ledger.py).

  events    / <time>#<request key>   a file skipped or failed, with the reason (kept 30 days)
  decisions / <time>#<request key>   a photo sorted or left unsorted: which (its file id), where, its
                                     score, the runner-up
"""
from __future__ import annotations

from chalicelib.adapters.state.table import Table

EVENT_TTL_SECONDS = 30 * 24 * 3600  # how long a problem, a decision or a job is listed
RECENT_EVENTS = 20
# Events are read several per file shown, since one file can have several (a webhook and a sort).
EVENTS_READ_PER_SHOWN = 5


class EventRepository:
    def __init__(self, table: Table):
        self.table = table

    def recent_events(self, limit: int = RECENT_EVENTS) -> list[dict[str, object]]:
        """The most recent problem of each of the last `limit` files that had one, newest first,
        with the time in UTC (a file queued by both the webhook and POST /sort is listed once)."""
        latest: dict[str, dict[str, object]] = {}
        for at, i in self.table.newest("events", limit * EVENTS_READ_PER_SHOWN):
            latest.setdefault(i["path"]["S"], {"kind": i["kind"]["S"], "path": i["path"]["S"],
                                               "reason": i["reason"]["S"], "at": at})
        return list(latest.values())[:limit]

    def recent_decisions(self, limit: int = RECENT_EVENTS) -> list[dict[str, object]]:
        """The last `limit` photos sorted or left unsorted, newest first: where each went, its score,
        the runner-up class and what decided it, with the time in UTC."""
        return [{"path": i["path"]["S"], "file_id": i.get("file_id", {}).get("S"), "to": i.get("to", {}).get("S"),
                 "folder": i["folder"]["S"],
                 "score": float(i["score"]["N"]), "by": i.get("by", {}).get("S"),
                 "runner_up": {"class": i["runner_up"]["S"], "score": float(i["runner_up_score"]["N"])}
                 if "runner_up" in i else None, "at": at,
                 **({"tags": [t["S"] for t in i["tags"]["L"]]} if "tags" in i else {})}
                for at, i in self.table.newest("decisions", limit)]

"""Jobs: every sort, webhook batch and dry run, its progress and the files it moved or left.

  job#<id> / job            its total and counters (kept by the ledger's records), what each further
                            page of its listing added (more_<page>), a preview's classes, when it was undone
  job#<id> / moved#<id>     a photo the job moved: where from, where to (what an undo moves back)
  job#<id> / tagged#<id>    a photo the job tagged where it is: its path, the tags it added (what an undo takes off)
  job#<id> / left#<id>      a file the job left in the inbox, and why
  job#<id> / preview#<id>   where a dry run would put a photo
  jobs     / <time>#<id>    the recent jobs, newest last in key order
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from chalicelib.adapters.state.configuration import config_dict
from chalicelib.adapters.state.events import EVENT_TTL_SECONDS
from chalicelib.adapters.state.table import Item, Table, key, plain, typed
from chalicelib.rules.configuration import SortConfig
from chalicelib.rules.outcomes import Counts, Outcome
from chalicelib.rules.ports import JobRecord

RECENT_JOBS = 10


class JobRepository:
    def __init__(self, table: Table):
        self.table = table

    def create_job(self, total: int, skipped: int = 0, source: str = "sort", preview: SortConfig | None = None) -> str:
        """A new job's id; `preview`: the classes of a dry run (its source is then "preview")."""
        job_id, now = uuid.uuid4().hex[:16], time.time()
        item = {**key(f"job#{job_id}", "job"), "total": {"N": str(total)},
                "skipped_on_listing": {"N": str(skipped)}, "created_at": {"N": str(now)}}
        if preview is not None:
            item["preview"], source = typed(config_dict(preview)), "preview"
        self.table.put(item)
        self.table.put({**key("jobs", f"{now:017.6f}#{job_id}"), "source": {"S": source},
                        "expires_at": {"N": str(int(now + EVENT_TTL_SECONDS))}})
        return job_id

    def grow_job(self, job_id: str, page: str, total: int, skipped: int = 0) -> None:
        """The job's listing found more on `page` (its key: the same page again sets the same value,
        so a write retried after its answer was lost counts once)."""
        if total or skipped:
            self.table.update(f"job#{job_id}", "job", "SET #p = :p", names={"#p": f"more_{page}"},
                              values={":p": {"L": [{"N": str(total)}, {"N": str(skipped)}]}})

    def job(self, job_id: str) -> JobRecord | None:
        item = self.table.get(f"job#{job_id}", "job")
        if item is None:
            return None
        preview = SortConfig.from_dict(plain(item["preview"])) if "preview" in item else None
        undone_at = float(item["undone_at"]["N"]) if "undone_at" in item else None
        # The files its listing left in the inbox (no image by their name) are the job's too: counted
        # skipped, as each one it lists under "left" is, and as --folder counts them.
        more = [(int(v["L"][0]["N"]), int(v["L"][1]["N"])) for k, v in item.items() if k.startswith("more_")]
        listed = int(item.get("skipped_on_listing", {}).get("N", "0")) + sum(skipped for _, skipped in more)
        found = counts(item)
        found.skipped += listed
        return JobRecord(int(item["total"]["N"]) + sum(total for total, _ in more) + listed, found, preview, undone_at)

    def recent_jobs(self, limit: int = RECENT_JOBS) -> list[tuple[str, str, str]]:
        """(job id, "sort", "webhook" or "preview", when in UTC) of the last `limit` jobs, newest first."""
        return [(i["sk"]["S"].split("#", 1)[1], i["source"]["S"], at) for at, i in self.table.newest("jobs", limit)]

    def job_moves(self, job_id: str) -> list[tuple[str, str, str]]:
        """(file id, where it was, where the job put it) of every photo the job moved."""
        return [(i["sk"]["S"].split("#", 1)[1], i["from"]["S"], i["to"]["S"])
                for i in self.table.query(f"job#{job_id}", "moved#")]

    def job_tags(self, job_id: str) -> list[tuple[str, str, tuple[str, ...]]]:
        """(file id, where it was, the tags the job added) of every photo the job tagged."""
        return [(i["sk"]["S"].split("#", 1)[1], i["path"]["S"], tuple(t["S"] for t in i["tags"]["L"]))
                for i in self.table.query(f"job#{job_id}", "tagged#")]

    def note_left(self, job_id: str, files: Sequence[tuple[str, Outcome]]) -> None:
        """Files the job's listing left in the inbox (not photos), by (file id, outcome)."""
        self.table.batch_write([{"PutRequest": {"Item": left_item(job_id, file_id, outcome.file, outcome)}}
                                for file_id, outcome in files])

    def job_left(self, job_id: str) -> list[dict[str, object]]:
        """Each file the job left in the inbox: its path, "skipped" or "failed", and why."""
        return [{"path": i["path"]["S"], "kind": i["kind"]["S"], "reason": i["reason"]["S"]}
                for i in self.table.query(f"job#{job_id}", "left#")]

    def job_previews(self, job_id: str) -> list[dict[str, object]]:
        """Where a dry run would put each photo it decided, by path: the folder, the class, the score."""
        return sorted(({"path": i["path"]["S"], "kind": i["kind"]["S"], "to": i["to"]["S"],
                        "folder": i["folder"]["S"], "class": i.get("label", {}).get("S"),
                        "score": float(i["score"]["N"]), "by": i.get("by", {}).get("S"),
                        "reason": i.get("reason", {}).get("S"), "detail": i.get("detail", {}).get("S"),
                        **({"tags": [t["S"] for t in i["tags"]["L"]]} if "tags" in i else {})}
                       for i in self.table.query(f"job#{job_id}", "preview#")), key=lambda p: p["path"])


def counts(item: Item) -> Counts:
    """The counters of a job's item, or of the totals."""
    def number(name: str) -> int:
        return int(item.get(name, {}).get("N", "0"))
    def by_name(prefix: str) -> dict[str, int]:
        return {k.split(":", 1)[1]: int(v["N"]) for k, v in item.items() if k.startswith(prefix) and int(v["N"])}
    return Counts(by_name("folder:"), number("unsorted"), number("skipped"), number("failed"), number("gone"),
                  by_name("tagged:"), number("tagged"))


def left_item(job_id: str, file_id: str, path: str, outcome: Outcome) -> Item:
    return {**key(f"job#{job_id}", f"left#{file_id}"), "path": {"S": path}, "kind": {"S": outcome.kind},
            "reason": {"S": outcome.why or ""}}

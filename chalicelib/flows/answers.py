"""The JSON answers of /configure, /status and /jobs/{id}: what the classes cover, what was queued,
where it went, and what went wrong."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Protocol

from chalicelib.adapters.dropbox_store import StoreNotFound, TagsRefused
from chalicelib.rules.configuration import INBOX, ConfigError, SortConfig, resolve_classes
from chalicelib.rules.ports import ConfigState, JobRecord, QueueDepth, Totals
from chalicelib.rules.vocabulary import Resolution

Resolve = Callable[[str], Resolution]
# Examples and counter-examples learned, per folder (casefolded).
Taught = Mapping[str, tuple[int, int]]
# A JSON object as a route answers it: built here, only serialised after.
Answer = dict[str, object]


class TagsCheck(Protocol):
    def tags(self, paths: Sequence[str]) -> list[set[str]]: ...


def configure(config: SortConfig, resolve: Resolve, state: ConfigState, default_threshold: float,
              taught: Taught, dropbox: TagsCheck) -> Answer:
    """Resolve and store the classes of a parsed body (configuration.parse); raises
    configuration.ConfigError (a 400) for a class the model can neither see nor has examples of,
    or for "action": "tag" on an account that takes no tags (asked of the inbox: nothing changes)."""
    resolutions = resolve_classes(config, resolve)
    if config.tags:
        try:
            dropbox.tags([f"/{INBOX}"])
        except TagsRefused as e:
            raise ConfigError(f'"action": "tag": {e}') from None
        except StoreNotFound:
            pass  # no inbox yet: the first photo tagged tells, and is left untouched
    state.put_config(config)
    return configuration(config, resolutions, default_threshold, taught)


def current(state: ConfigState, resolve: Resolve, default_threshold: float, taught: Taught) -> Answer | None:
    config = state.get_config()
    if config is None:
        return None
    return configuration(config, [resolve(c) for c in config.classes], default_threshold, taught)


def configuration(config: SortConfig, resolutions: list[Resolution], default_threshold: float,
                  taught: Taught) -> Answer:
    def learned(name: str) -> dict[str, int]:
        examples, corrections = taught.get(config.folder_for(name).casefold(), (0, 0))
        return {"examples": examples, "corrections": corrections}

    def threshold(name: str) -> Answer:
        """The threshold a class's score must reach, and where it comes from: the class's own, the
        configuration's for every class, or the model's default."""
        given = config.threshold_for(name)
        return {"threshold": default_threshold if given is None else given, "threshold_is_default": given is None,
                "threshold_from": config.threshold_from(name)}

    return {
        "classes": list(config.classes),
        "threshold": default_threshold if config.threshold is None else config.threshold,
        "threshold_is_default": config.threshold is None,
        "unsorted_folder": "/" + config.folder_for(None),
        "duplicates": config.duplicates,
        "inbox": "/" + config.inbox,
        "by_date": config.by_date,
        "action": config.action,
        "videos": config.videos,
        "covers": [{"class": r.name, "folder": "/" + config.folder_for(r.name), "imagenet_classes": len(r.indices),
                    "description": r.describe(), **threshold(r.name), **learned(r.name)} for r in resolutions],
    }


def status(totals: Totals, queue: QueueDepth, taught: Taught) -> Answer:
    """Counts, the queue, recent problems and decisions, and per folder the examples and corrections learned."""
    queued, counts = totals.totals()
    return {
        "queued": queued,
        "finished": counts.finished,
        **counts.to_dict(),
        "queue": queue.depth(),
        "recent_problems": totals.recent_events(),
        "recent_decisions": _with_undone(totals, totals.recent_decisions()),
        "learned": {folder: {"examples": e, "corrections": c} for folder, (e, c) in sorted(taught.items())},
    }


def _with_undone(totals: Totals, decisions: list[Answer]) -> list[Answer]:
    """Each decision says whether an undo has put its photo back in the inbox since (its ledger
    says so, in one read): the list agrees with Dropbox after an undo."""
    ids = [d["file_id"] for d in decisions if isinstance(d.get("file_id"), str)]
    undone = {file_id for file_id, entry in totals.ledger([str(i) for i in ids]).items() if entry.undone} if ids else set()
    return [{**d, "undone": d.get("file_id") in undone} for d in decisions]


def jobs(totals: Totals) -> list[Answer]:
    """The recent jobs, newest first: each one's progress, what started it and when."""
    return [{**(job(totals, job_id) or {"job_id": job_id}), "source": source, "at": at}
            for job_id, source, at in totals.recent_jobs()]


def _state(found: JobRecord, done: int) -> str:
    """"undone" once an undo put its photos back; else "running" or "finished"."""
    if found.undone_at is not None:
        return "undone"
    return "finished" if done >= found.total else "running"


def _utc(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="seconds")


def job(totals: Totals, job_id: str, with_files: bool = False) -> Answer | None:
    """A job's progress; `with_files`: also each file it left in the inbox, and why, and for a dry
    run where each photo would go. A dry run's counts are where its photos would go."""
    found = totals.job(job_id)
    if found is None:
        return None
    total, done = found.total, found.counts.finished
    answer: Answer = {"job_id": job_id, "dry_run": found.preview is not None, "total": total, "done": done,
              "percent": 100.0 if total == 0 else round(100.0 * done / total, 1),
              "finished": done >= total, "state": _state(found, done), "undone_at": _utc(found.undone_at),
              **found.counts.to_dict()}
    if found.preview is not None:
        answer["classes"] = list(found.preview.classes)
        answer["action"] = found.preview.action
    if with_files:
        answer["left"] = totals.job_left(job_id)
        if found.preview is not None:
            answer["preview"] = totals.job_previews(job_id)
    return answer

"""The ledger: what the service did to each photo, by its Dropbox file id, and every request's
outcome with the counts, events and job records that go with it (one transaction per chunk).

  photo#<id> / ledger          where the photo is counted, where the service put it and by which job
                               (with the best classes that decided it, and when), the tags it added
                               ("action": "tag"; a string set: the tags the user added are not in it),
                               the moves in flight (moving_<request key>, written before each move),
                               and whether an undo put it back in the inbox
  file#<id>  / <request key>   one outcome per queued request (a redelivery finds it and counts nothing)
  pair#<folder/name> / photo   the photo last placed (or tagged, or left unsorted, where it is) from that
                               inbox path without its extension ("/all/img_1"): a Live Photo's video or a
                               RAW uploaded after it, or listed again without it, goes with it
  shot#<photo id> / <file id>  the files that followed that photo (a correction takes them along)
  stats      / all             counters over all time, one count per photo, and how many requests were queued
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters.aws import pause
from chalicelib.adapters.state.events import EVENT_TTL_SECONDS
from chalicelib.adapters.state.jobs import counts, left_item
from chalicelib.adapters.state.table import Item, Table, TransientStateError, counter_update, key, plain
from chalicelib.rules.messages import SortRequest, request_key
from chalicelib.rules.configuration import folder_name
from chalicelib.rules.outcomes import DECIDED, Counts, Outcome
from chalicelib.rules.photo_files import kind_of, pair_key
from chalicelib.rules.ports import LedgerEntry
from chalicelib.rules.tags import tag_text

CONFLICT_ATTEMPTS = 5
TAGGED = "tagged"  # the counter of tagged photos; "tagged:Cat" of those tagged with a class
# DynamoDB allows 100 items per transaction; an outcome takes at most 6 (its item, an event or its
# decision, its photo's ledger, in its job's lists of moves and of files left in the inbox, and the
# photo by its name or the photo it followed) plus the counter updates (the totals, and one per job
# in the chunk).
RECORDS_PER_TRANSACTION = 13
# An undo marks this many photos and takes their counts off the totals in one transaction (of 100).
UNDONE_PER_TRANSACTION = 99


class LedgerRepository:
    def __init__(self, table: Table):
        self.table = table

    # --- each photo's entry ------------------------------------------------------------------------

    def ledger(self, file_ids: Sequence[str]) -> dict[str, LedgerEntry]:
        """What the service did to each of these photos that it ever handled, in a few reads."""
        return {pk.split("#", 1)[1]: _entry(item)
                for (pk, _), item in self.table.existing([(f"photo#{i}", "ledger") for i in file_ids]).items()}

    def photos_named(self, keys: Sequence[str]) -> dict[str, str]:
        """The file id of the photo last placed from each of these inbox paths without extension
        (photo_files.pair_key), where there is one."""
        return {pk.removeprefix("pair#"): item["file_id"]["S"]
                for (pk, _), item in self.table.existing([(f"pair#{k}", "photo") for k in keys]).items()}

    def followers(self, file_id: str) -> list[str]:
        """The files that followed this photo into its folder (its Live Photo video, its RAW...)."""
        return [item["sk"]["S"] for item in self.table.query(f"shot#{file_id}", consistent=True)]

    def moving(self, moves: Sequence[tuple[SortRequest, str]]) -> None:
        """Before a move: these requests are moving their photos into these folders. A redelivered
        request that finds its photo there knows its own earlier try moved it; learning waits."""
        by_photo: dict[str, list[tuple[SortRequest, str]]] = {}
        for request, folder in moves:  # a transaction touches each item once: a photo queued twice is one update
            by_photo.setdefault(request.file_id, []).append((request, folder))
        self.table.transact_all([{"Update": self._entry_update(
            file_id, "SET " + ", ".join(f"#m{n} = :f{n}" for n in range(len(pairs))),
            {f"#m{n}": _moving(r) for n, (r, _) in enumerate(pairs)},
            {f":f{n}": {"S": folder} for n, (_, folder) in enumerate(pairs)})} for file_id, pairs in by_photo.items()])

    def mark_undone(self, job_id: str, file_ids: Sequence[str]) -> None:
        """These photos of the job are back in the inbox: counted nowhere, and left there by the
        webhook until a POST /sort (`clear_undone`). Each chunk of photos and the counts they take
        off the totals are one transaction, so a fault between them never leaves a photo counted;
        the same undo again (its answer lost, say) finds them undone by this job and takes nothing
        off twice. The job says when it was undone, and how many photos went back."""
        ids = list(dict.fromkeys(file_ids))
        marked = sum(self._mark_undone(job_id, ids[start:start + UNDONE_PER_TRANSACTION])
                     for start in range(0, len(ids), UNDONE_PER_TRANSACTION))
        self.table.update_with(counter_update(self.table, f"job#{job_id}", "job", {"undone": marked},
                                              {"undone_at": {"N": str(time.time())}}))

    def _mark_undone(self, job_id: str, file_ids: Sequence[str]) -> int:
        """One transaction: each photo not yet undone by this job, on condition that its count is
        still the one read, and the totals less those counts. How many photos it marked."""
        for attempt in range(CONFLICT_ATTEMPTS):
            entries = self.ledger(file_ids)
            fresh = [(i, entries.get(i, LedgerEntry())) for i in file_ids
                     if entries.get(i, LedgerEntry()).undone_by != job_id]
            if not fresh:
                return 0
            taken: dict[str, int] = {}
            writes: list[Item] = []
            for file_id, entry in fresh:
                values: dict[str, Any] = {":j": {"S": job_id}}
                if entry.counter is None:
                    condition = "attribute_not_exists(#c)"
                else:
                    condition, values[":before"] = "#c = :before", {"S": entry.counter}
                    taken[entry.counter] = taken.get(entry.counter, 0) - 1
                writes.append({"Update": self._entry_update(
                    file_id, "SET undone = :j REMOVE #c, #t, job, top, decided_at, tags", {"#c": "counter", "#t": "to"},
                    values, condition)})
            if taken:
                writes.append({"Update": counter_update(self.table, "stats", "all", _expanded(taken))})
            if self.table.transact(writes):
                return len(fresh)
            if attempt:  # a photo counted anew meanwhile (a late outcome): read its count again
                pause(attempt)
        raise TransientStateError(f"marking {len(file_ids)} photos undone kept conflicting with other writers")

    def clear_undone(self, file_ids: Sequence[str]) -> None:
        self.table.transact_all([{"Update": self._entry_update(i, "REMOVE undone")}
                                 for i, entry in self.ledger(file_ids).items() if entry.undone])

    def _entry_update(self, file_id: str, expression: str, names: Mapping[str, str] | None = None,
                      values: Mapping[str, Any] | None = None, condition: str | None = None) -> dict[str, Any]:
        return self.table.update_params(f"photo#{file_id}", "ledger", expression, names, values, condition)

    # --- outcomes and counts -----------------------------------------------------------------------

    def add_queued(self, count: int) -> None:
        if count:
            self.table.update("stats", "all", "ADD queued :n", values={":n": {"N": str(count)}})

    def totals(self) -> tuple[int, Counts]:
        item = self.table.get("stats", "all") or {}
        return int(item.get("queued", {}).get("N", "0")), counts(item)

    def outcomes(self, file_id: str) -> list[dict[str, Any]]:
        """Every recorded outcome of a file (where it came from and went), for tests."""
        return [plain({"M": i}) for i in self.table.query(f"file#{file_id}")]

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
        # A redelivery that tagged again (a tagged photo stays in the inbox, so it is read and tagged
        # anew) noted its request in flight: with nothing to record, that note goes.
        again: dict[str, set[str]] = {}
        for (request, outcome), first in zip(records, results):
            if not first and outcome.kind == "tagged":
                again.setdefault(request.file_id, set()).add(_moving(request))
        if again:  # one update per photo: a transaction touches each item once
            self.table.transact_all([{"Update": self._entry_update(
                file_id, "REMOVE " + ", ".join(f"#m{n}" for n in range(len(notes))),
                {f"#m{n}": note for n, note in enumerate(sorted(notes))})} for file_id, notes in again.items()])
        return results

    def _record_chunk(self, chunk: Sequence[tuple[SortRequest, Outcome]]) -> list[bool]:
        keys = [(f"file#{request.file_id}", request_key(request)) for request, _ in chunk]
        entries = [(f"photo#{f}", "ledger") for f in dict.fromkeys(request.file_id for request, _ in chunk)]
        found: dict[tuple[str, str], Item] = {}  # first optimistic: a new photo's first outcome needs no read
        for attempt in range(CONFLICT_ATTEMPTS):
            fresh = {k: i for i, k in reversed(list(enumerate(keys))) if k not in found}
            if not fresh:
                return [False] * len(chunk)
            counted = {pk.split("#", 1)[1]: found[(pk, sk)]["counter"]["S"]
                       for pk, sk in entries if "counter" in found.get((pk, sk), {})}
            if self.table.transact(self._writes([chunk[i] for i in sorted(fresh.values())], counted)):
                return [fresh.get(k) == i for i, k in enumerate(keys)]
            # Recorded before, or another container counted one of these photos meanwhile: read what is there.
            if attempt:
                pause(attempt)
            found = self.table.existing(keys + entries)
        raise TransientStateError(f"recording {len(chunk)} outcomes kept conflicting with other writers")

    def _writes(self, records: Sequence[tuple[SortRequest, Outcome]], counted: Mapping[str, str]) -> list[Item]:
        """The outcome items and what goes with them, each photo's ledger (its count conditional on
        what was read, in `counted`), and one counter update per counter item touched."""
        now = time.time()
        writes: list[Item] = []
        photos: dict[str, _Photo] = {}
        pairs: dict[str, str] = {}  # pair_key -> the photo's file id
        shots: set[tuple[str, str]] = set()  # (photo, a file that followed it)
        tally = _Tally()
        for request, outcome in records:
            writes += _outcome_writes(self.table.name, request, outcome, now)
            counter = _counter(outcome)
            if request.job_id:
                tally.add(f"job#{request.job_id}", counter, 1)
            if request.dry_run:
                continue  # a dry run tells only its job where each photo would go
            photo = photos.setdefault(request.file_id, _Photo())
            photo.counter = counter  # the latest outcome of a photo is where it is now
            photo.requests.append(request)
            if outcome.kind in ("sorted", "unsorted") and outcome.to_path and not outcome.by_another:
                photo.placed = (outcome.to_path.lower(), request.job_id)
                if outcome.top:
                    photo.decided = (outcome.top, now)
                if outcome.reason == "with_photo" and request.goes_with:
                    shots.add((request.goes_with, request.file_id))  # once per item, as pairs
            # A photo placed, or with "action": "tag" decided where it is (tagged, or left unsorted):
            # a file of its shot listed later (uploaded after it, or listed again) goes with it.
            if (outcome.kind in ("sorted", "unsorted", "tagged") and not outcome.by_another
                    and (outcome.to_path or outcome.kind != "sorted") and kind_of(request.path) in ("photo", "raw")
                    and outcome.reason != "with_photo"):
                pairs[pair_key(request.path)] = request.file_id  # once per item: a transaction touches each once
            if outcome.kind == "tagged" and not outcome.by_another:
                photo.tagged = (photo.tagged or ()) + outcome.added
                photo.tagged_by = request.job_id
                if outcome.top:
                    photo.decided = (outcome.top, now)
        for file_id, photo in photos.items():
            writes.append({"Update": self._recorded(file_id, photo, counted.get(file_id), tally)})
        writes += [{"Put": {"TableName": self.table.name, "Item": {**key(f"pair#{name}", "photo"), "file_id": {"S": file_id}}}}
                   for name, file_id in pairs.items()]
        writes += [{"Put": {"TableName": self.table.name, "Item": key(f"shot#{lead}", follower)}} for lead, follower in shots]
        writes += [{"Update": counter_update(self.table, pk, "all" if pk == "stats" else "job", _expanded(changes))}
                   for pk, changes in tally.changes.items() if changes]
        return writes

    def _recorded(self, file_id: str, photo: _Photo, before: str | None, tally: _Tally) -> dict[str, Any]:
        """The update of a photo's ledger once its requests are recorded: their moves are no longer
        in flight; where the service put it, by which job; where it counts now."""
        sets: list[str] = []
        removes = [f"#m{n}" for n in range(len(photo.requests))]
        names = {f"#m{n}": _moving(r) for n, r in enumerate(photo.requests)}
        values: dict[str, Any] = {}
        condition = None
        if photo.placed is not None:
            to, job_id = photo.placed
            sets.append("#t = :t")
            names["#t"], values[":t"] = "to", {"S": to}
            if job_id:
                sets.append("job = :j")
                values[":j"] = {"S": job_id}
            else:
                removes.append("job")
        adds: list[str] = []
        if photo.tagged is not None:  # tagged where it is: no "to"; the tags it added join those of earlier tries
            if photo.tagged_by:
                sets.append("job = :j")
                values[":j"] = {"S": photo.tagged_by}
            else:
                removes.append("job")
            if photo.tagged:
                adds.append("tags :tags")
                values[":tags"] = {"SS": sorted(set(photo.tagged))}
        if photo.decided is not None:  # what decided the move: the review queue shows it
            top, at = photo.decided
            sets.append("top = :top, decided_at = :at")
            values[":top"] = {"S": json.dumps([[label, round(score, 4)] for label, score in top])}
            values[":at"] = {"N": f"{at:.6f}"}
        # A photo once placed stays counted where it went: a later failure or a late request
        # finding it gone does not un-sort it.
        if not (before == photo.counter or (_placed(before) and not _placed(photo.counter))):
            tally.add("stats", photo.counter, 1)
            if before is not None:
                tally.add("stats", before, -1)
            sets.append("#c = :c")
            names["#c"], values[":c"] = "counter", {"S": photo.counter}
            if before is None:
                condition = "attribute_not_exists(#c)"
            else:
                condition, values[":before"] = "#c = :before", {"S": before}
        expression = " ".join(part for part in ("SET " + ", ".join(sets) if sets else "",
                                                "REMOVE " + ", ".join(removes) if removes else "",
                                                "ADD " + ", ".join(adds) if adds else "") if part)
        return self._entry_update(file_id, expression, names, values, condition)


@dataclass
class _Photo:
    """One photo's records in a chunk: the latest counter, the requests, where it was placed."""

    counter: str = ""
    requests: list[SortRequest] = field(default_factory=list)
    placed: tuple[str, str | None] | None = None
    decided: tuple[tuple[tuple[str, float], ...], float] | None = None  # its best classes, and when
    tagged: tuple[str, ...] | None = None  # tagged where it is: the tags the service added
    tagged_by: str | None = None  # the job of that tagging


@dataclass
class _Tally:
    """Counter changes per counter item (the totals, each job)."""

    changes: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, pk: str, counter: str, n: int) -> None:
        item = self.changes.setdefault(pk, {})
        item[counter] = item.get(counter, 0) + n


def _expanded(changes: Mapping[str, int]) -> dict[str, int]:
    """Counter changes as stored: a tagged photo's one counter ("tagged:Cat|Person") is a photo
    under "tagged" and one under each of its classes ("tagged:Cat", "tagged:Person")."""
    out: dict[str, int] = {}
    for counter, n in changes.items():
        names = [TAGGED, *(f"{TAGGED}:{c}" for c in counter.split(":", 1)[1].split("|"))] \
            if counter.startswith(f"{TAGGED}:") else [counter]
        for name in names:
            out[name] = out.get(name, 0) + n
    return {name: n for name, n in out.items() if n}


def _outcome_writes(table: str, request: SortRequest, outcome: Outcome, now: float) -> list[Item]:
    """What a request's outcome writes: the outcome itself (once), and, as it ended, the file its
    job left in the inbox, a dry run's preview, the decision or the problem /status lists, and the
    move an undo of its job reads (then no longer left in the inbox)."""
    rk = request_key(request)
    item = {**key(f"file#{request.file_id}", rk), "kind": {"S": outcome.kind}, "from": {"S": request.path},
            "at": {"N": str(now)}}
    for name, value in (("to", outcome.to_path), ("label", outcome.label), ("reason", outcome.why),
                        ("job_id", request.job_id)):
        if value is not None:
            item[name] = {"S": value}
    if outcome.score is not None:
        item["score"] = {"N": f"{outcome.score:.6f}"}
    puts = []
    decided = outcome.kind in DECIDED
    moved = decided and outcome.to_path and request.job_id and not outcome.by_another  # what an undo moves back
    # What an undo takes off (also when the job added none: the user had them all; it is counted nowhere after).
    tagged = outcome.kind == "tagged" and request.job_id and not outcome.by_another
    if outcome.kind in ("skipped", "failed") and request.job_id:
        puts.append(left_item(request.job_id, request.file_id, request.path, outcome))
    if request.dry_run:
        if decided and request.job_id and outcome.score is not None:
            puts.append(_preview_item(request, outcome))
    else:
        if decided and outcome.score is not None:
            puts.append(_decision_item(request, outcome, now))
        if outcome.kind in ("skipped", "failed"):
            puts.append({**key("events", f"{now:017.6f}#{rk}"), "kind": {"S": outcome.kind},
                         "path": {"S": request.path}, "reason": {"S": outcome.why or ""},
                         "expires_at": {"N": str(int(now + EVENT_TTL_SECONDS))}})
        if moved:
            puts.append({**key(f"job#{request.job_id}", f"moved#{request.file_id}"), "from": {"S": request.path},
                         "to": {"S": outcome.to_path}})
        if tagged:
            puts.append({**key(f"job#{request.job_id}", f"tagged#{request.file_id}"), "path": {"S": request.path},
                         "tags": {"L": [{"S": text} for text in sorted(set(outcome.added))]}})
    writes: list[Item] = [{"Put": {"TableName": table, "Item": item,
                                   "ConditionExpression": "attribute_not_exists(pk)"}}]
    writes += [{"Put": {"TableName": table, "Item": put}} for put in puts]
    if not request.dry_run and decided and (outcome.to_path or outcome.kind == "tagged") and request.job_id:
        # no longer left in the inbox as a file the job could not sort
        writes.append({"Delete": {"TableName": table, "Key": key(f"job#{request.job_id}", f"left#{request.file_id}")}})
    return writes


def _moving(request: SortRequest) -> str:
    """The ledger attribute that says this request is moving its photo (written before the move)."""
    return f"moving_{request_key(request)}"


def _entry(item: Item) -> LedgerEntry:
    return LedgerEntry(counter=item.get("counter", {}).get("S"), to=item.get("to", {}).get("S"),
                       job_id=item.get("job", {}).get("S"), undone="undone" in item,
                       undone_by=item.get("undone", {}).get("S"), tags=tuple(sorted(item.get("tags", {}).get("SS", []))),
                       top=tuple((str(c), float(s)) for c, s in json.loads(item["top"]["S"])) if "top" in item else (),
                       decided_at=float(item["decided_at"]["N"]) if "decided_at" in item else None,
                       moving={name.removeprefix("moving_"): value["S"] for name, value in item.items()
                               if name.startswith("moving_")})


def _counter(outcome: Outcome) -> str:
    """Where a photo counts: "folder:Cat", "tagged:Cat|Person" (every class it is tagged with), or its kind."""
    if outcome.kind == "tagged":
        return f"{TAGGED}:" + "|".join(folder_name(label) for label in outcome.tags)
    return f"folder:{outcome.folder}" if outcome.kind == "sorted" else outcome.kind


def _placed(counter: str | None) -> bool:
    return counter is not None and (counter == "unsorted" or counter.startswith(("folder:", f"{TAGGED}:")))


def _decision_item(request: SortRequest, outcome: Outcome, now: float) -> Item:
    """A photo's decision as /status lists it, kept EVENT_TTL_SECONDS."""
    item = {**key("decisions", f"{now:017.6f}#{request_key(request)}"), "path": {"S": request.path},
            "file_id": {"S": request.file_id},
            "folder": {"S": outcome.folder or ""}, "score": {"N": f"{outcome.score:.6f}"},
            "expires_at": {"N": str(int(now + EVENT_TTL_SECONDS))}}
    if outcome.tags:
        item["tags"] = {"L": [{"S": tag_text(label)} for label in outcome.tags]}
    for name, value in (("to", outcome.to_path), ("by", outcome.by)):
        if value is not None:
            item[name] = {"S": value}
    if outcome.runner_up is not None:
        item["runner_up"], item["runner_up_score"] = {"S": outcome.runner_up[0]}, {"N": f"{outcome.runner_up[1]:.6f}"}
    return item


def _preview_item(request: SortRequest, outcome: Outcome) -> Item:
    """Where a dry run would put a photo, for its job's answer."""
    # A photo sorting would tag, or leave untagged, stays where it is.
    to = f"/{outcome.destination}/{request.path.rsplit('/', 1)[-1]}" if outcome.folder else request.path
    item = {**key(f"job#{request.job_id}", f"preview#{request.file_id}"), "path": {"S": request.path},
            "kind": {"S": outcome.kind}, "folder": {"S": outcome.folder or ""}, "score": {"N": f"{outcome.score:.6f}"},
            "to": {"S": to}}
    if outcome.kind == "tagged":
        item["tags"] = {"L": [{"S": text} for text in outcome.added]}
    for name, value in (("label", outcome.label), ("by", outcome.by), ("reason", outcome.reason),
                        ("detail", outcome.detail)):
        if value is not None:
            item[name] = {"S": value}
    return item

"""POST /undo: put every photo a job moved back into the inbox it came from.

A photo goes back only if the ledger says this job's move still stands (no later job sorted it
again, no undo took it back) and Dropbox says it is still where the job put it: the same file id
at that very path (the rule, shared with `main.py --folder DIR --undo`: chalicelib/rules/undo.py;
this module gathers the facts). One the user moved, deleted or replaced since is left alone and
named in the answer. It is moved by its file id (never whatever file sits at that path) back to
the path it came from, never over another file (a name taken meanwhile gets a numbered one, as in
a sort), and then stays in the inbox: the webhook leaves undone photos there until the user asks again
with POST /sort. The photos are counted nowhere any more and give up the claim on their bytes,
so a copy of one is no duplicate of a sorted photo. Class folders (and the date folders of
"by_date") emptied by the undo stay: Dropbox has no "delete if empty", and a delete racing a move
into that folder would delete a photo (the service never deletes). A job is undone once: the second time is AlreadyUndone (a 409). An undo
asked again because the first try failed part way (AWS failing after the moves, or its answer
lost) counts the photos that try put back as moved back: nothing moves or counts twice.

A job that tagged photos where they are ("action": "tag") is undone by taking off exactly the tags
it added (the ledger's record of them; a tag the photo had before, the user's, stays), under the
same rule: only a photo still where the job tagged it, and not sorted again since.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import TypedDict

from chalicelib.adapters.dropbox_store import MOVE_BATCH_LIMIT, NotAFolder, StoreNotFound
from chalicelib.rules import undo
from chalicelib.rules.configuration import top_folder
from chalicelib.rules.ports import FileInfo, UndoState, UndoStore

log = logging.getLogger(__name__)


class AlreadyUndone(RuntimeError):
    """The job was undone before: its photos are back in the inbox already."""


# A photo put back: where it was and is now, and what it no longer holds a claim on.
_MovedBack = TypedDict("_MovedBack", {"from": str, "to": str, "file_id": str, "content_hash": str | None})


def undo_job(job_id: str, state: UndoState, store: UndoStore) -> dict[str, object]:
    """The answer of POST /undo: how many photos went back, and each one left where it is, with why."""
    job = state.job(job_id)
    if job is not None and job.undone_at is not None:
        when = datetime.fromtimestamp(job.undone_at, timezone.utc).isoformat(timespec="seconds")
        raise AlreadyUndone(f"job {job_id!r} was already undone at {when}: its photos are back in the inbox")
    moves = state.job_moves(job_id)
    where = _where_now(store, {top_folder(to).casefold() for _, _, to in moves})
    ledger = state.ledger([file_id for file_id, _, _ in moves])
    back: list[tuple[str, str, str, str | None]] = []  # (file id, where it is, where it came from, content hash)
    left: list[dict[str, str]] = []
    moved_back: list[_MovedBack] = []
    for file_id, came_from, to in moves:
        now, content_hash = where.get(file_id, (None, None))
        entry = ledger.get(file_id)
        if entry is not None and entry.undone_by == job_id:
            # An earlier try of this undo put it back, and its answer was lost (a 503, say): say so again.
            landed = _back_in(store, file_id, came_from)
            if landed is None:
                left.append({"path": to, "reason": undo.NOT_THERE})
            else:
                moved_back.append({"from": to, "to": landed.path_display, "file_id": file_id,
                                   "content_hash": landed.content_hash})
            continue
        # This job's move stands while the ledger still holds it (no later job, no undo since).
        sorted_again = entry is None or entry.job_id != job_id or entry.to != to.lower()
        match undo.verdict(to, now, sorted_again):
            case undo.Back(now):
                back.append((file_id, now, came_from, content_hash))
            case undo.Left(reason):
                left.append({"path": to, "reason": reason})
    for start in range(0, len(back), MOVE_BATCH_LIMIT):
        chunk = back[start:start + MOVE_BATCH_LIMIT]
        for (file_id, now, came_from, content_hash), result in zip(
                chunk, store.move_batch([(file_id, came_from) for file_id, _, came_from, _ in chunk])):
            # On the store's error for that move, Dropbox may have made it and lost its answer.
            landed = _back_in(store, file_id, came_from) if isinstance(result, Exception) else result
            if landed is None:
                left.append({"path": now, "reason": str(result)})
            else:
                moved_back.append({"from": now, "to": landed.path_display, "file_id": file_id,
                                   "content_hash": content_hash})
    untagged, left_tagged = _untag(job_id, state, store)
    left += left_tagged
    state.mark_undone(job_id, [m["file_id"] for m in moved_back] + [file_id for file_id, _ in untagged])
    try:
        state.withdraw_originals([(m["content_hash"], m["file_id"]) for m in moved_back if m["content_hash"]])
    except Exception:  # noqa: BLE001: tidiness only; a claim of a photo not sorted now makes no copy
        log.exception("could not withdraw the content claims of job %s's photos", job_id)
    return {"job_id": job_id, "moved_back": len(moved_back), "untagged": len(untagged), "left": left,
            "photos": [{"from": m["from"], "to": m["to"]} for m in moved_back]
                      + [photo for _, photo in untagged]}


def _untag(job_id: str, state: UndoState, store: UndoStore) -> tuple[list[tuple[str, dict[str, object]]],
                                                                       list[dict[str, str]]]:
    """Take off the tags the job added: (file id, the photo as the answer names it) of each photo
    untagged, and each one left as it is, with why."""
    tagged = state.job_tags(job_id)
    ledger = state.ledger([file_id for file_id, _, _ in tagged]) if tagged else {}
    untagged: list[tuple[str, dict[str, object]]] = []
    left: list[dict[str, str]] = []
    for file_id, path, added in tagged:
        entry = ledger.get(file_id)
        info = store.get_file(file_id)
        if entry is not None and entry.undone_by == job_id:  # an earlier try of this undo took them off
            untagged.append((file_id, {"path": info.path_display if info else path, "tags_removed": list(added)}))
            continue
        sorted_again = entry is None or entry.job_id != job_id
        match undo.verdict(path, info.path_display if info else None, sorted_again):
            case undo.Back(now):
                for text in added:
                    store.remove_tag(now, text)  # False: the user took it off already
                untagged.append((file_id, {"path": now, "tags_removed": list(added)}))
            case undo.Left(reason):
                left.append({"path": path, "reason": reason})
    return untagged, left


def _where_now(store: UndoStore, folders: set[str]) -> dict[str, tuple[str, str | None]]:
    """Where each photo in these top-level folders is, and its content hash, by file id."""
    where: dict[str, tuple[str, str | None]] = {}
    for folder in sorted(folders):
        try:
            found, _ = store.list_folder(f"/{folder}")
        except (StoreNotFound, NotAFolder):
            continue  # the folder is gone: so are its photos (any other error is a 503: try again)
        where |= {f.id: (f.path_display, f.content_hash) for f in found}
    return where


def _back_in(store: UndoStore, file_id: str, came_from: str) -> FileInfo | None:
    """The photo, if it is back in the folder it came from (whichever inbox that was then)."""
    landed = store.get_file(file_id)
    return landed if landed is not None and _folder_of(landed.path_lower) == _folder_of(came_from) else None


def _folder_of(path: str) -> str:
    return path.rsplit("/", 1)[0].casefold()

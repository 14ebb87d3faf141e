"""POST /undo: put every photo a job moved back into the inbox.

A photo goes back only if it is still where the job put it (the same Dropbox file id at that very
path): one the user moved, deleted or replaced since is left alone and named in the answer. It
goes back to the path it came from, never over another file (a name taken meanwhile gets a
numbered one, as in a sort), and then stays in the inbox: the webhook leaves undone photos there
until the user asks again with POST /sort. The photos are counted nowhere any more.
"""
from __future__ import annotations

from .dropbox_store import MOVE_BATCH_LIMIT, NotAFolder, StoreError, StoreNotFound
from .ports import UndoState, UndoStore
from .sort_config import top_folder


def undo_job(job_id: str, state: UndoState, store: UndoStore) -> dict:
    """The answer of POST /undo: how many photos went back, and each one left where it is, with why."""
    moves = state.job_moves(job_id)
    where: dict[str, str] = {}
    for folder in sorted({top_folder(to).casefold() for _, _, to in moves}):
        try:
            found, _ = store.list_folder(f"/{folder}")
        except (StoreNotFound, NotAFolder):
            continue  # the folder is gone: so are its photos (any other error is a 503: try again)
        where |= {f.id: f.path_display for f in found}
    back, left = [], []
    for file_id, came_from, to in moves:
        now = where.get(file_id)
        if now is None:
            left.append({"path": to, "reason": "not there any more (moved or deleted since): left alone"})
        elif now.casefold() != to.casefold():
            left.append({"path": to, "reason": f"moved since, to {now}: left where it is"})
        else:
            back.append((file_id, now, came_from))
    moved_back = []
    for start in range(0, len(back), MOVE_BATCH_LIMIT):
        chunk = back[start:start + MOVE_BATCH_LIMIT]
        for (file_id, now, came_from), result in zip(chunk, store.move_batch([(n, c) for _, n, c in chunk])):
            if isinstance(result, StoreError):
                left.append({"path": now, "reason": str(result)})
            else:
                moved_back.append({"from": now, "to": result.path_display, "file_id": file_id})
    state.mark_undone(job_id, [m["file_id"] for m in moved_back])
    return {"job_id": job_id, "moved_back": len(moved_back), "left": left,
            "photos": [{"from": m["from"], "to": m["to"]} for m in moved_back]}

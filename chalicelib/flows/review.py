"""The page's photos: thumbnails, the review queue, and one-click corrections.

Thumbnails are Dropbox's own (files/get_thumbnail_batch, by file id or path), of files in the app's
folders only (the inbox, the classes' folders, the unsorted and duplicates folders). The review
queue is what a person should look at: the photos in the unsorted folder and the ones sorted with a
small margin over the runner-up, newest first, each with its best classes from its ledger. Dropbox
says where each one is now (the thumbnail call answers with it), so a photo the user moved since
drops out of the queue.

A correction moves one photo by its file id, never over another file, from a class folder or the
unsorted folder to another of them: exactly what the user could do in Dropbox, and learned the same
way (chalicelib/flows/learning.py): an example of the class it went to, a counter-example of the
class the service had put it in. What it taught where it was is forgotten. The files that followed
it there (its Live Photo video, its RAW) go along. Its answer carries the correction that puts it
back, which the page offers as Undo.
"""
from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from chalicelib.adapters.dropbox_store import NotAFolder, StoreNotFound
from chalicelib.rules.configuration import SortConfig, is_date_folder, top_folder
from chalicelib.rules.messages import LearnRequest
from chalicelib.rules.ports import FileInfo, Queue, ReviewState, ReviewStore

# A photo sorted with less than this over its runner-up is a close call, worth a look.
REVIEW_MARGIN = 0.1
REVIEW_LIMIT = 24  # photos in the queue: one page, and one thumbnail call
DECISIONS_READ = 200  # recent decisions searched for close calls
MAX_THUMBNAILS = 100  # per request: four Dropbox calls
THUMBNAIL_SIZE = "w256h256"


class Refused(ValueError):
    """A request the review routes cannot do as asked; the message says why (a 400)."""


class Unknown(LookupError):
    """No such photo in Dropbox (a 404)."""


class Moved(RuntimeError):
    """The photo is not where a correction can take it from any more (a 409)."""


@dataclass(frozen=True)
class _Candidate:
    file_id: str
    folder: str  # where it should be: the unsorted folder, or the class folder the service put it in
    why: str  # "unsorted" or "close call"
    top: tuple[tuple[str, float], ...]
    at: float | None


def app_folders(config: SortConfig) -> set[str]:
    """The top-level folders the service reads and writes, casefolded."""
    return {top_folder(config.inbox).casefold(), *config.labels_by_folder(), *([config.duplicates_folder.casefold()]
                                                            if config.duplicates_folder else [])}


def thumbnails(body: object, config: SortConfig, store: ReviewStore) -> list[dict[str, object]]:
    """The answer of POST /thumbnails {"files": [file id or path, ...]}: per file, where it is now and
    its JPEG thumbnail (base64), or why there is none."""
    asked = body.get("files") if isinstance(body, dict) else None
    if not isinstance(asked, list) or not asked or not all(isinstance(f, str) and f for f in asked):
        raise Refused('expected {"files": ["id:...", "/Cat/a.jpg", ...]}: file ids or paths')
    if len(asked) > MAX_THUMBNAILS:
        raise Refused(f"at most {MAX_THUMBNAILS} files per request, got {len(asked)}")
    folders = app_folders(config)
    for wanted in asked:
        if not wanted.startswith("id:") and not _inside(wanted, folders):
            raise Refused(f"{wanted!r} is not a file in the app's folders "
                          f"({', '.join(sorted(_shown(config)))})")
    answers: list[dict[str, object]] = []
    for wanted, result in zip(asked, store.thumbnails(asked, THUMBNAIL_SIZE)):
        if isinstance(result, Exception):
            answers.append({"file": wanted, "error": str(result)})
        elif not _inside(result[0].path_display, folders):  # an id of a file elsewhere
            answers.append({"file": wanted, "error": "not in the app's folders"})
        else:
            info, jpeg = result
            answers.append({"file": wanted, "file_id": info.id, "path": info.path_display,
                            "jpeg": base64.b64encode(jpeg).decode()})
    return answers


def review(config: SortConfig, state: ReviewState, store: ReviewStore) -> dict[str, object]:
    """The answer of GET /review: the photos to look at, newest first, each with its best classes,
    where it is, and its thumbnail; and where a correction can send them."""
    unsorted = _listed(store, f"/{config.unsorted_folder}")
    newest = sorted(unsorted, key=lambda f: f.modified or 0.0, reverse=True)[:REVIEW_LIMIT]
    # The recent decisions' own scores pick the close calls to read; each one's ledger says whether
    # its latest decision still is one (it may have been undone, or sorted again since).
    close = list(dict.fromkeys(str(d["file_id"]) for d in state.recent_decisions(DECISIONS_READ)
                               if isinstance(d.get("file_id"), str) and d.get("to")
                               and d["folder"] != config.unsorted_folder and _margin(d) < REVIEW_MARGIN))
    entries = state.ledger(list(dict.fromkeys([f.id for f in newest] + close)))
    candidates = [_Candidate(f.id, config.unsorted_folder, "unsorted", entry.top if entry else (),
                             (entry.decided_at if entry and entry.decided_at else f.modified))
                  for f in newest for entry in [entries.get(f.id)]]
    labels = config.labels_by_folder()
    for file_id in set(close) - {c.file_id for c in candidates}:
        entry = entries.get(file_id)
        if (entry is None or entry.undone or entry.to is None or len(entry.top) < 2
                or entry.top[0][1] - entry.top[1][1] >= REVIEW_MARGIN):
            continue
        label = labels.get(top_folder(entry.to))  # the ledger keeps paths in lower case
        if label is not None:
            candidates.append(_Candidate(file_id, config.folder_for(label), "close call", entry.top, entry.decided_at))
    candidates = sorted(candidates, key=lambda c: c.at or 0.0, reverse=True)[:REVIEW_LIMIT]
    photos = []
    found = store.thumbnails([c.file_id for c in candidates], THUMBNAIL_SIZE) if candidates else []
    for candidate, result in zip(candidates, found):
        if isinstance(result, Exception):
            continue  # deleted since, or Dropbox makes no thumbnail of it: nothing to show
        info, jpeg = result
        if top_folder(info.path_display).casefold() != candidate.folder.casefold() or not _directly_in(info):
            continue  # the user moved it since: their decision stands
        photos.append({"file_id": candidate.file_id, "path": info.path_display, "folder": candidate.folder,
                       "why": candidate.why, "at": candidate.at,
                       "top": [{"class": label, "score": round(score, 4)} for label, score in candidate.top],
                       "jpeg": base64.b64encode(jpeg).decode()})
    return {"photos": photos, "unsorted": len(unsorted), "margin": REVIEW_MARGIN,
            "folders": [*(config.folder_for(c) for c in config.classes), config.unsorted_folder]}


def correct(body: object, config: SortConfig, state: ReviewState, store: ReviewStore,
            queue: Queue) -> dict[str, object]:
    """The answer of POST /correct {"file_id": "id:...", "to": "Dog"}: the photo moved to that class's
    folder (or the unsorted folder), to be learned as the user's correction, and the correction
    that puts it back."""
    file_id = body.get("file_id") if isinstance(body, dict) else None
    to = body.get("to") if isinstance(body, dict) else None
    if not isinstance(file_id, str) or not file_id.startswith("id:") or not isinstance(to, str) or not to:
        raise Refused('expected {"file_id": "id:...", "to": "<class or its folder, or the unsorted folder>"}')
    target = _folder_of(to, config)
    info = store.get_file(file_id)
    if info is None:
        raise Unknown(f"no photo {file_id!r} in Dropbox (deleted?)")
    here = top_folder(info.path_display)
    if not _directly_in(info) or here.casefold() not in config.labels_by_folder():
        raise Moved(f"{info.path_display} is not in a class folder or /{config.unsorted_folder} any more: "
                    "moved since, so left where it is")
    if here.casefold() == target.casefold():
        raise Refused(f"{info.path_display} is in /{target} already")
    # A photo in a date folder ("/Cat/2024/a.jpg", by_date) keeps its date folder in the other class.
    dated = info.path_display.strip("/").split("/")[1:-1]
    along = _beside(info, state.followers(file_id), store)
    result, *_ = store.move_batch([(source, "/".join(["", target, *dated, name]))
                                   for source, name in [(file_id, info.name), *along]])
    if isinstance(result, Exception):
        raise result
    # What the photo taught where it was no longer holds; where it is now, learning decides.
    state.forget_examples([info.path_display])
    queue.send([LearnRequest(file_id, result.path_display)])
    return {"file_id": file_id, "from": info.path_display, "to": result.path_display,
            "undo": {"file_id": file_id, "to": here}}


def _beside(photo: FileInfo, followers: Sequence[str], store: ReviewStore) -> list[tuple[str, str]]:
    """The files that followed the photo (its Live Photo video, its RAW...) and are still beside
    it, by (file id, name): a correction takes them along; one the user moved is left."""
    folder = photo.path_lower.rsplit("/", 1)[0]
    found = [store.get_file(file_id) for file_id in followers]
    return [(f.id, f.name) for f in found if f is not None and f.path_lower.rsplit("/", 1)[0] == folder]


def _folder_of(to: str, config: SortConfig) -> str:
    """The folder a correction sends a photo to: a configured class, by name or folder, or unsorted."""
    for label, folder in ((label, config.folder_for(label)) for label in (*config.classes, None)):
        if to.casefold() in {folder.casefold(), (label or folder).casefold()}:
            return folder
    raise Refused(f"{to!r} is no configured class: one of {', '.join([*config.classes, config.unsorted_folder])}")


def _listed(store: ReviewStore, folder: str) -> list[FileInfo]:
    try:
        return store.list_folder(folder)[0]
    except (StoreNotFound, NotAFolder):
        return []  # nothing left unsorted yet


def _margin(decision: dict[str, object]) -> float:
    runner_up = decision.get("runner_up")
    score = decision.get("score")
    if not isinstance(runner_up, dict) or not isinstance(score, float):
        return 1.0
    return score - float(runner_up["score"])


def _directly_in(info: FileInfo) -> bool:
    """Directly in a top folder, or in a date folder of one ("/Cat/2024/a.jpg", as by_date sorts)."""
    parts = info.path_display.strip("/").split("/")
    return len(parts) == 2 or len(parts) == 3 and is_date_folder(parts[1])


def _inside(path: str, folders: set[str]) -> bool:
    parts = path.strip("/").split("/")
    return (path.startswith("/") and len(parts) >= 2 and parts[0].casefold() in folders
            and all(p and p not in (".", "..") for p in parts))


def _shown(config: SortConfig) -> list[str]:
    return ["/" + f for f in (config.inbox, *(config.folder_for(c) for c in (*config.classes, None)),
                              *([config.duplicates_folder] if config.duplicates_folder else []))]

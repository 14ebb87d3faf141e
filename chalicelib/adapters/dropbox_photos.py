"""The sorting core's PhotoStore on Dropbox, for the classify Lambda.

A photo is a queued SortRequest, read by its file id (the download itself says where the file is
now: one round trip, not two) and moved with the batch's other photos in one files/move_batch_v2,
since Dropbox serialises writes per account. Dropbox round trips dominate a batch, so each
photo's reads run in parallel.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from chalicelib.adapters.dropbox_store import (
    DropboxStore,
    NotAFolder,
    StoreError,
    StoreNotFound,
    TagsRefused,
    TooLarge,
    TransientStoreError,
)
from chalicelib.rules.configuration import in_inbox, top_folder
from chalicelib.rules.messages import SortRequest, request_key
from chalicelib.rules.outcomes import Outcome
from chalicelib.rules.photo_files import MAX_BYTES, MAX_RAW_BYTES, ImageTooLarge, NoPreview, kind_of, preview_of, too_large
from chalicelib.rules.ports import FileInfo, Lead, Ledger, LedgerEntry, Move, Photo, Tagging
from chalicelib.rules.sorting import MOVED_BY_US, SORTED_ALREADY

log = logging.getLogger(__name__)

THREADS = 10  # one per message of an SQS batch
T = TypeVar("T")
SOURCES = ("download", "thumbnail")
# The ledger's in-flight note of a request tagging its photo ("#tags cat,person"), where a move notes
# its folder (no folder name starts with "#"): a redelivery after a cut-off try knows the tags it
# finds on the photo were its own.
TAGGING = "#tags "


class MoveLedger(Ledger, Protocol):
    def moving(self, moves: Sequence[tuple[SortRequest, str]]) -> None:
        """Before a move: these requests are moving their photos into these folders."""
        ...


class DropboxPhotos:
    def __init__(self, dropbox: DropboxStore, ledger: MoveLedger, source: str = "download"):
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
        self._dropbox, self._ledger, self.source = dropbox, ledger, source
        self._folders: set[str] = set()  # made already by this container
        self._pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="read")

    def read(self, refs: Sequence[SortRequest], inbox: str) -> list[Photo[SortRequest] | Outcome]:
        found = list(self._pool.map(lambda ref: self._read(ref, inbox), refs))
        return self._ours_among(refs, found)

    def _ours_among(self, refs: Sequence[SortRequest], found: list[T | Outcome]) -> list[T | Outcome]:
        """A photo found out of the inbox is the user's doing, unless the ledger says this very
        request was moving it into that folder (an earlier try, cut off before its record), or
        that the service put it right there (the same photo queued twice: by the webhook and by
        POST /sort); then it is sorted for this request's job too."""
        away = [i for i, item in enumerate(found) if isinstance(item, Outcome) and item.reason == "moved_away"]
        if not away:
            return found
        entries = self._ledger.ledger([refs[i].file_id for i in away])
        for i in away:
            item, entry = found[i], entries.get(refs[i].file_id)
            assert isinstance(item, Outcome) and item.to_path is not None
            if entry is None:
                continue
            folder = entry.moving.get(request_key(refs[i]))
            if folder is not None and folder.casefold() == item.to_path.strip("/").rsplit("/", 1)[0].casefold():
                found[i] = Outcome(item.file, "gone", to_path=item.to_path, reason=MOVED_BY_US,
                                   detail="moved there by an earlier try of this request")
            elif entry.to == item.to_path.lower() and not entry.undone:
                found[i] = Outcome(item.file, "gone", to_path=item.to_path, reason=SORTED_ALREADY,
                                   detail="sorted by another request of the service")
        return found

    def read_anywhere(self, refs: Sequence[SortRequest]) -> list[Photo[SortRequest] | Outcome]:
        """As `read`, wherever the photos are now (a class folder's examples), not only in the inbox."""
        return list(self._pool.map(lambda ref: self._read(ref, None), refs))

    def _read(self, request: SortRequest, inbox: str | None) -> Photo[SortRequest] | Outcome:
        """The photo, if it is in the inbox `inbox` (None: anywhere): a RAW's preview, and only
        the metadata of a video or a sidecar (they are moved, never looked at)."""
        info: FileInfo | None
        data: bytes | None
        kind = kind_of(request.path)
        try:
            if kind in ("video", "sidecar"):
                info, data = self._dropbox.get_file(request.file_id), b""
            elif kind == "raw":
                info, raw = self._dropbox.download_file(request.file_id, max_bytes=MAX_RAW_BYTES)
                data = preview_of(raw)
            elif self.source == "download":
                info, data = self._dropbox.download_file(request.file_id, max_bytes=MAX_BYTES)
            else:
                info, data = self._dropbox.get_file(request.file_id), None
            if info is None:
                return _deleted(request)
            if inbox is not None and not in_inbox(info.path_lower, inbox):
                return _away(request, info.path_display)
            if kind in ("photo", None) and (error := too_large(info.size)) is not None:
                return Outcome.skipped(request.path, error)
            return Photo(request, request.path, info.path_display, data if data is not None else self._thumbnail(info),
                         info.content_hash or info.rev, info.content_hash, info.client_modified,
                         request.goes_with is not None)
        except StoreNotFound:
            return _deleted(request)
        except TooLarge as e:
            return Outcome.skipped(request.path, ImageTooLarge(str(e)))
        except NoPreview as e:
            return Outcome.skipped(request.path, e)
        except Exception as e:  # noqa: BLE001: each photo ends on its own, whatever went wrong
            return _trouble(request, e)

    def _thumbnail(self, info: FileInfo) -> bytes:
        """Dropbox's 256 px JPEG thumbnail, or the original where Dropbox makes none."""
        try:
            return self._dropbox.thumbnail(info.id)
        except (StoreNotFound, TransientStoreError):
            raise
        except StoreError:
            return self._dropbox.download(info.id, max_bytes=MAX_BYTES)

    def move(self, moves: Sequence[Move[SortRequest]], inbox: str) -> list[str | Outcome]:
        """Folders first, then every move at once; a folder that cannot be made ends only the
        photos bound for it."""
        broken = {folder: self._make_folder(folder) for folder in dict.fromkeys(m.folder for m in moves)}
        todo = [m for m in moves if broken[m.folder] is None]
        # Written ahead (a failure here moves nothing): should this container die after the move,
        # the redelivery knows it was ours.
        if todo:
            self._ledger.moving([(m.photo.ref, m.folder) for m in todo])
        try:
            moved = self._dropbox.move_batch(
                [(m.photo.path, f"/{m.folder}/{m.name or m.photo.path.rsplit('/', 1)[-1]}") for m in todo]) if todo else []
        except StoreError as e:
            moved = [e] * len(todo)
        results = iter(moved)
        # A photo queued twice (the webhook and POST /sort) is moved by the first of its two moves.
        return self._ours_among([m.photo.ref for m in moves], [
            _blocked(m.photo.ref, m.folder, error) if (error := broken[m.folder]) is not None
            else self._moved(m.photo, next(results), inbox) for m in moves])

    def leads(self, refs: Sequence[SortRequest], inbox: str, placed: Mapping[SortRequest, str]) -> list[Lead | None]:
        """Where each file's photo is: put by this batch (`placed`), else as the ledger says and
        Dropbox shows it now (the user may have moved it on: the file follows it there)."""
        here = {ref.file_id: path for ref, path in placed.items()}
        ids = [i for i in dict.fromkeys(ref.goes_with for ref in refs) if i is not None and i not in here]
        entries = self._ledger.ledger(ids) if ids else {}
        now = dict(zip(ids, self._pool.map(self._dropbox.get_file, ids)))
        return [_lead(here.get(ref.goes_with) or now.get(ref.goes_with), entries.get(ref.goes_with), inbox)
                if ref.goes_with is not None else None for ref in refs]

    def tag(self, taggings: Sequence[Tagging[SortRequest]], inbox: str) -> list[tuple[str, ...] | Outcome]:
        """Tag each photo by its path (Dropbox's tag routes take no id), in parallel; the tags it
        had are left, and only those it lacked are added and said (with those an earlier try of
        the same request added before it was cut off: the ledger's note of them)."""
        entries = self._ledger.ledger([t.photo.ref.file_id for t in taggings])
        had = list(self._pool.map(lambda t: self._tags_of(t, inbox), taggings))
        plans: list[tuple[list[str], set[str]] | Outcome] = []
        for tagging, found in zip(taggings, had):
            if isinstance(found, Outcome):
                plans.append(found)
                continue
            entry = entries.get(tagging.photo.ref.file_id)
            note = entry.moving.get(request_key(tagging.photo.ref), "") if entry is not None else ""
            if entry is not None and entry.tags and not entry.undone and not note:
                # The same photo queued twice (the webhook and POST /sort): the other request tagged it.
                plans.append(Outcome(tagging.photo.ref.path, "gone", to_path=tagging.photo.path,
                                     reason=SORTED_ALREADY, detail="tagged by another request of the service"))
                continue
            earlier = set(note.removeprefix(TAGGING).split(",")) if note.startswith(TAGGING) else set()
            plans.append(([text for text in tagging.tags if text not in found], earlier & found))
        # Written ahead, as for a move, and only the tags this request adds (never one the user had):
        # should this container die after tagging, the redelivery knows them for its own.
        self._ledger.moving([(t.photo.ref, TAGGING + ",".join(sorted({*plan[0], *plan[1]})))
                             for t, plan in zip(taggings, plans) if not isinstance(plan, Outcome)])
        return list(self._pool.map(lambda t, p: self._add_tags(t, p, inbox), taggings, plans))

    def _tags_of(self, tagging: Tagging[SortRequest], inbox: str) -> set[str] | Outcome:
        """The photo's tags, once it is still the file that was classified, where it was read (as a
        move checks: a file swapped or rewritten since is classified again, never tagged for what it was)."""
        photo = tagging.photo
        try:
            info = self._dropbox.get_file(photo.ref.file_id)
            if info is None or info.path_lower != photo.path.lower():
                return self._not_at(photo.ref, inbox)
            if (info.content_hash or info.rev) != photo.version:
                return Outcome(photo.ref.path, "retry", reason="changed",
                               detail="the file changed while it was being classified; it is sorted again")
            return self._dropbox.tags([photo.path])[0]
        except Exception as e:  # noqa: BLE001: each photo ends on its own, whatever went wrong
            return self._tag_trouble(photo.ref, e, inbox)

    def _add_tags(self, tagging: Tagging[SortRequest], plan: tuple[list[str], set[str]] | Outcome, inbox: str
                  ) -> tuple[str, ...] | Outcome:
        if isinstance(plan, Outcome):
            return plan
        missing, ours = plan
        try:
            for text in missing:
                self._dropbox.add_tag(tagging.photo.path, text)
        except Exception as e:  # noqa: BLE001: each photo ends on its own, whatever went wrong
            return self._tag_trouble(tagging.photo.ref, e, inbox)
        return tuple(text for text in tagging.tags if text in missing or text in ours)

    def _tag_trouble(self, request: SortRequest, error: Exception, inbox: str) -> Outcome:
        if isinstance(error, StoreNotFound):
            return self._not_at(request, inbox)
        if isinstance(error, TagsRefused):
            return Outcome(request.path, "failed", reason="tags_refused", detail=str(error))
        return _trouble(request, error)

    def _not_at(self, request: SortRequest, inbox: str) -> Outcome:
        """What ends a photo that is not where it was read any more: moved or deleted meanwhile."""
        try:
            info = self._dropbox.get_file(request.file_id)
        except StoreError as e:
            return _trouble(request, e)
        if info is not None and in_inbox(info.path_lower, inbox):
            return Outcome(request.path, "retry", reason="renamed",
                           detail=f"renamed to {info.path_display} while it was being sorted")
        return _deleted(request) if info is None else _away(request, info.path_display)

    def _make_folder(self, folder: str) -> StoreError | None:
        if folder.casefold() not in self._folders:
            try:
                self._dropbox.ensure_folder(f"/{folder}")
            except StoreError as e:
                return e
            self._folders.add(folder.casefold())
        return None

    def _moved(self, photo: Photo[SortRequest], result: FileInfo | StoreError, inbox: str) -> str | Outcome:
        """The moved file's path when it is the photo that was classified; otherwise what ends it."""
        request = photo.ref
        if isinstance(result, FileInfo):
            if result.id == request.file_id and (result.content_hash or result.rev) == photo.version:
                return result.path_display
            return self._put_back(photo, result)
        if not isinstance(result, StoreNotFound):
            return _trouble(request, result)
        # Not where we read it: moved or deleted meanwhile (perhaps by an earlier try of this request).
        return self._not_at(request, inbox)


    def _put_back(self, photo: Photo[SortRequest], moved: FileInfo) -> Outcome:
        """The path held another file, or new content, by the time of the move (the user swapped
        or overwrote it): that file was never classified as it is. It goes back where it was, and
        the request comes back to classify what is there now."""
        log.warning("%s changed after it was classified; moving it back", photo.path)
        try:
            self._dropbox.move(moved.path_display, photo.path)
        except StoreError as e:
            return _trouble(photo.ref, e)
        return Outcome(photo.ref.path, "retry", reason="changed", detail="the file changed while it was being "
                       "classified; it was put back and is sorted again")


def _lead(where: str | FileInfo | None, entry: LedgerEntry | None, inbox: str) -> Lead | None:
    """Where a file's photo is: moved by this batch to `where` (a path), or, as Dropbox's metadata
    (`where`) and the ledger's `entry` say, out of the inbox (the file follows it), to be sorted,
    or staying in the inbox (also when its sort failed: it is sorted again, a blocked class folder
    removed, and the file with it); None when it is deleted or skipped (the file goes on its own)."""
    if isinstance(where, str):
        return Lead.placed(where)
    if where is None:
        return None  # deleted: nothing to go with
    if in_inbox(where.path_lower, inbox):
        if entry is None or entry.counter is None:
            return Lead("waiting", where.path_display)
        if entry.undone or entry.counter.startswith("tagged") or entry.counter in ("unsorted", "failed"):
            return Lead("stays", where.path_display)  # put back by an undo, tagged where it is, or failed
        return None  # skipped: the photo is never sorted, the file is sorted on its own
    return Lead.placed(where.path_display)  # where the service put it, or where the user moved it since


def _blocked(request: SortRequest, folder: str, error: StoreError) -> Outcome:
    if isinstance(error, NotAFolder):
        return Outcome(request.path, "failed", reason="folder_blocked",
                       detail=f"/{top_folder(folder)} is a file, not a folder: rename or remove it, then sort again "
                              "(POST /sort) to sort what is left in the inbox")
    return _trouble(request, error)


def _deleted(request: SortRequest) -> Outcome:
    return Outcome(request.path, "gone", reason="deleted", detail="deleted before it was sorted")


def _away(request: SortRequest, path: str) -> Outcome:
    return Outcome(request.path, "gone", to_path=path, reason="moved_away",
                   detail="moved out of the inbox by someone else")


def _trouble(request: SortRequest, error: Exception) -> Outcome:
    """Dropbox busy: try again later. Dropbox refusing: failed, with its words. Anything else is
    a bug, which must not lose the photo: try again, and the dead-letter queue keeps it."""
    if isinstance(error, TransientStoreError):
        return Outcome(request.path, "retry", reason="dropbox_busy", detail=str(error))
    if isinstance(error, StoreError):
        return Outcome(request.path, "failed", reason="dropbox_refused", detail=str(error))
    log.error("unexpected error with %s", request.path, exc_info=error)
    return Outcome(request.path, "retry", reason="internal_error", detail=type(error).__name__)

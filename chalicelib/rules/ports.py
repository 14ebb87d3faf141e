"""Where the outside world comes in: the ports the sorting core and the service's edges use.

The core (sorting.py) sees a PhotoStore and a PhotoClassifier only; Dropbox (dropbox_photos.py)
and a local folder (cli/folder_photos.py) are its two stores. The service's edges see the state,
the queue and Dropbox's change feed through the smaller ports below, each the few methods its
user calls, so a reader knows what a function touches from its signature.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Literal, Protocol, TypeVar

from chalicelib.rules.outcomes import Counts, Outcome
from chalicelib.rules.photo_files import ImageError

if TYPE_CHECKING:
    import numpy as np

    from chalicelib.rules.configuration import SortConfig
    from chalicelib.rules.examples import Examples
    from chalicelib.rules.messages import LearnRequest, SortRequest

R = TypeVar("R")


# --- the sorting core's ports ----------------------------------------------------------------------

@dataclass(frozen=True)
class Photo(Generic[R]):
    """A photo read from a store: `ref` is the store's own handle on it (a queued request, a local
    file's path), `reported_as` the path its Outcome names it by (the path it was queued with; in a
    local folder, its path relative to DIR), `path` where it is now ("/All/a.jpg"), `version`
    what tells these bytes from any others at that path (a content hash, a file's identity), so a
    move can refuse a file that changed after it was classified; `content_hash` Dropbox's hash of
    the whole file (photo_files.content_hash), which tells exact copies; `modified` the time the
    store dates it by when its EXIF has no date (Dropbox's client_modified, a file's mtime)."""

    ref: R
    reported_as: str
    path: str
    data: bytes
    version: str
    content_hash: str | None = None
    modified: float | None = None
    companion: bool = False  # listed beside a photo of its name it goes with (a Live Photo's video...)


@dataclass(frozen=True)
class Move(Generic[R]):
    photo: Photo[R]
    folder: str  # a top-level folder, "Cat", or a date folder in it, "Cat/2024"
    name: str | None = None  # the name it gets there ("IMG_1 (1).MOV", beside its photo renamed so); None: its own


@dataclass(frozen=True)
class Lead:
    """Where the photo a file goes with is (a Live Photo's video, a RAW beside its JPEG): "placed"
    by the service in `folder` ("Cat", "Cat/2024") as `stem` + its extension, sorted by `label`
    (None: unsorted); "waiting" to be sorted; or "stays" in the inbox (an undo put it back, or it
    is tagged where it is). `path` names that photo to the user."""

    state: Literal["placed", "waiting", "stays"]
    path: str
    folder: str | None = None
    stem: str | None = None

    @staticmethod
    def placed(path: str) -> "Lead":
        """The photo is at `path` ("/Cat/IMG_1 (1).HEIC", "Cat/IMG_1.JPG"), out of the inbox."""
        folder, _, name = path.strip("/").rpartition("/")
        return Lead("placed", path, folder, name.rsplit(".", 1)[0])
    label: str | None = None


@dataclass(frozen=True)
class Tagging(Generic[R]):
    photo: Photo[R]
    tags: tuple[str, ...]  # tag texts (rules/tags.tag_text): "ice_cream"


class PhotoStore(Protocol[R]):
    def read(self, refs: Sequence[R], inbox: str) -> list[Photo[R] | Outcome]:
        """Each photo's bytes (a RAW's preview; nothing for a video or a sidecar: they are only
        moved) and where it is now, or the Outcome that ends it without a decision
        (too large, deleted, unreadable; kind "retry" when the store is only busy). A file moved
        out of the inbox `inbox` ("All", "Photos/Inbox") by someone else is an Outcome of kind
        "gone" whose `to_path` says where it is now."""
        ...

    def move(self, moves: Sequence[Move[R]], inbox: str) -> list[str | Outcome]:
        """Move each photo into its folder (made when missing, with its parents), never
        overwriting: a clash gets " (1)". Per move, the path it now has, or the Outcome that ends
        it as for `read`."""
        ...

    def leads(self, refs: Sequence[R], inbox: str, placed: Mapping[R, str]) -> list[Lead | None]:
        """Per companion (a Photo read with `companion`), where the photo it goes with is, or None
        when it goes on its own (that photo could not be sorted, or is gone). `placed`: where this
        batch put its photos, by ref (the ledger does not know them yet)."""
        ...

    def tag(self, taggings: Sequence[Tagging[R]], inbox: str) -> list[tuple[str, ...] | Outcome]:
        """Give each photo its tags where it is, never touching its content, and keeping the tags
        it has. Per photo, the tags this sort added (also those an earlier try of the same request
        added before it was cut off; not those it had from anyone else), or the Outcome that ends it
        (reason sorting.SORTED_ALREADY: another request of the service tagged it, this one adds none)."""
        ...


class Originals(Protocol[R]):
    """The photos sorted before, by their bytes: which photo is an exact copy of one of them."""

    def earlier(self, photos: Sequence[Photo[R]], claim: bool) -> list[str | None]:
        """Per photo (no two with the same content_hash), where an earlier photo with the same bytes
        is now, or None when there is none left. With `claim`, a photo without an earlier one is
        from now on the one its bytes are known by (a dry run does not claim)."""
        ...

    def withdraw(self, photos: Sequence[Photo[R]]) -> None:
        """These photos claimed their bytes but were not sorted (their move failed): they are no
        longer what those bytes are known by."""
        ...


@dataclass(frozen=True)
class Decision:
    """`label` is the winning class, or None for "unsorted" (best score below the threshold);
    `by` what decided it: "name", "examples" or "name and examples"; `labels` every class whose
    score reaches its own threshold, best first (the tags of "action": "tag")."""

    label: str | None
    score: float
    ranking: tuple[tuple[str, float], ...]
    by: str | None = None
    labels: tuple[str, ...] = ()


class PhotoClassifier(Protocol):
    def classify_batch(self, photos: Sequence[bytes], classes: Sequence[str],
                       threshold: float | Sequence[float | None] | None = None,
                       examples: Examples | None = None) -> list[Decision | ImageError]:
        """`threshold`: one for every class, or one per class in class order (None: the model's default)."""
        ...


class PhotoFeatures(Protocol):
    def features_batch(self, photos: Sequence[bytes]) -> list[np.ndarray | ImageError]:
        """Each photo's unit features, as an example of a class is kept."""
        ...


class PhotoModel(PhotoClassifier, PhotoFeatures, Protocol):
    """The model as the service holds it (vision.classifier.Classifier): it decides photos, gives
    the features their examples are kept as, and loads every detector ahead of need."""

    def preload(self) -> None:
        """Every model loaded now, not at first need (before a SnapStart snapshot)."""
        ...


# --- the service's ports ---------------------------------------------------------------------------

@dataclass(frozen=True)
class FileInfo:
    """A file in Dropbox as the service sees it: `id` ("id:...") stays the same across moves."""

    id: str
    name: str
    path_display: str
    path_lower: str
    rev: str
    size: int
    content_hash: str | None
    modified: float | None = None  # Dropbox's server_modified, seconds since the epoch
    client_modified: float | None = None  # when the file was last changed where it was uploaded from


@dataclass(frozen=True)
class Page:
    """A page of a listing: files added or changed, paths deleted (lower case), the cursor that
    continues after this page, and whether more pages follow."""

    files: list[FileInfo]
    deleted: list[str]
    cursor: str
    more: bool


class ChangeFeed(Protocol):
    """Dropbox's listing of a folder and of what changed in it since a cursor, whole or a page at
    a time (read as asked for: a listing stopped early costs no more)."""

    def list_folder(self, path: str) -> tuple[list[FileInfo], str]: ...

    def folder_pages(self, path: str, limit: int | None = None) -> Iterator[Page]: ...

    def change_pages(self, cursor: str) -> Iterator[Page]: ...



class Queue(Protocol):
    def send(self, requests: Sequence[SortRequest | LearnRequest]) -> None: ...

    def send_sync(self, account: str, delay_seconds: int = 0) -> None: ...


class QueueDepth(Protocol):
    def depth(self) -> dict[str, int]: ...


class Recorder(Protocol):
    def record_many(self, records: Sequence[tuple[SortRequest, Outcome]]) -> list[bool]:
        """Each request's outcome, once: False for one recorded before (a redelivery)."""
        ...


class SyncState(Recorder, Protocol):
    """The per-account cursor and sync lease, and the counters of what was queued."""

    def get_cursor(self, account: str) -> tuple[str | None, int]: ...

    def put_cursor(self, account: str, cursor: str, expected_version: int) -> bool: ...

    def acquire_lease(self, account: str, seconds: float) -> str | None: ...

    def release_lease(self, account: str, owner: str, force: bool = False) -> bool: ...

    def create_job(self, total: int, skipped: int = 0, source: str = "sort",
                   preview: SortConfig | None = None) -> str: ...

    def note_left(self, job_id: str, files: Sequence[tuple[str, Outcome]]) -> None:
        """Files a job's listing left in the inbox, by (file id, outcome)."""
        ...

    def grow_job(self, job_id: str, page: str, total: int, skipped: int = 0) -> None:
        """The job's listing found more on its page `page`: `total` more photos queued, `skipped` more files left."""
        ...

    def ledger(self, file_ids: Sequence[str]) -> dict[str, LedgerEntry]: ...

    def photos_named(self, keys: Sequence[str]) -> dict[str, str]:
        """The photo the service last placed from each inbox path without extension (pair_key)."""
        ...

    def clear_undone(self, file_ids: Sequence[str]) -> None:
        """The user asks to sort these photos again (POST /sort): they are no longer undone."""
        ...

    def add_queued(self, count: int) -> None: ...


class ConfigState(Protocol):
    def get_config(self) -> SortConfig | None: ...

    def put_config(self, config: SortConfig) -> None:
        """Store the classes and bump config_version() in the same write."""
        ...

    def config_version(self) -> int:
        """Changes whenever the configuration is stored: one small read, so a cache knows to read
        the classes again (0 before the first)."""
        ...


@dataclass(frozen=True)
class Example:
    """A photo as an example (role "example") or a counter-example (role "counter") of the class
    of `folder`, as stored: unit features, float16 bytes."""

    folder: str
    role: str
    file_id: str
    path: str
    features: bytes


@dataclass(frozen=True)
class LedgerEntry:
    """What the service did to one photo, known by its Dropbox file id (the one record every
    feature reads): `counter` where it is counted ("folder:Cat", "unsorted", "gone", ...); `to`
    where the service put it (lower case) and `job_id` the job whose move that was, while no undo
    took it back; `moving` the requests moving it right now (request key -> folder), written
    before the move and cleared when its outcome is recorded; `undone` when an undo put it back in
    the inbox, where it stays until the user asks (POST /sort); `top` the best classes of the
    decision that put it there, with their scores, and `decided_at` when (seconds since the epoch);
    `tags` the tags the service added to it where it is ("action": "tag"), while no undo took them off."""

    counter: str | None = None
    to: str | None = None
    job_id: str | None = None
    undone: bool = False
    undone_by: str | None = None  # the job whose undo put it back
    moving: Mapping[str, str] = field(default_factory=dict)
    top: tuple[tuple[str, float], ...] = ()
    decided_at: float | None = None
    tags: tuple[str, ...] = ()


class Ledger(Protocol):
    def ledger(self, file_ids: Sequence[str]) -> dict[str, LedgerEntry]:
        """The entries of those photos the service ever handled, in a few reads."""
        ...


class ExampleState(Ledger, Protocol):
    def put_examples(self, examples: Sequence[Example]) -> None: ...

    def forget_examples(self, paths: Sequence[str]) -> int:
        """Drop the examples at these paths or under them (lower case); how many went."""
        ...

    def examples(self, folders: Sequence[str]) -> dict[str, tuple[list[bytes], list[bytes]]]:
        """Per folder (casefolded): its examples' and counter-examples' features, oldest first."""
        ...

    def examples_version(self) -> int:
        """Changes whenever an example is learned or forgotten."""
        ...

    def example_counts(self) -> dict[str, tuple[int, int]]:
        """Per folder (casefolded): how many examples and counter-examples."""
        ...


class ExampleSyncState(SyncState, ExampleState, Protocol):
    """What following the class folders needs of the state: a cursor, and the examples."""


@dataclass(frozen=True)
class JobRecord:
    """A job: how many photos it queued and how each finished so far; `preview`, for a dry run,
    the classes it decides with (it moves nothing)."""

    total: int
    counts: Counts
    preview: SortConfig | None = None
    undone_at: float | None = None  # when an undo put its photos back (time.time())


class Totals(Ledger, Protocol):
    def totals(self) -> tuple[int, Counts]: ...

    def job(self, job_id: str) -> JobRecord | None: ...

    # The rows below go into the JSON answers as they are (their fields: StateStore's docstrings).
    def job_left(self, job_id: str) -> list[dict[str, object]]: ...

    def job_previews(self, job_id: str) -> list[dict[str, object]]: ...

    def recent_events(self) -> list[dict[str, object]]: ...

    def recent_decisions(self) -> list[dict[str, object]]: ...

    def recent_jobs(self) -> list[tuple[str, str, str]]: ...


@dataclass(frozen=True)
class OriginalClaim:
    """The photo a content (Dropbox's content_hash) is known by: its file id and where it was when
    it claimed the content; `replaces`, when claiming, the file id of a claim it takes over (a
    photo since deleted or changed), None for content never seen."""

    content_hash: str
    file_id: str
    path: str
    replaces: str | None = None


class OriginalsState(Ledger, Protocol):
    def originals(self, content_hashes: Sequence[str]) -> dict[str, OriginalClaim]:
        """The claim on each of these contents that has one, in a few reads."""
        ...

    def claim_originals(self, claims: Sequence[OriginalClaim]) -> list[bool]:
        """Each claim made, unless another photo claimed that content since it was read (False)."""
        ...

    def withdraw_originals(self, held: Sequence[tuple[str, str]]) -> None:
        """(content hash, file id): each claim that file holds on that content is given up (its
        move failed, or an undo took it back), so the next photo with those bytes is no copy."""
        ...


class FileLookup(Protocol):
    def get_file(self, file_id: str) -> "FileInfo | None":
        """Where a file is now and its content hash; None once it is deleted."""
        ...


class UndoStore(FileLookup, Protocol):
    """What POST /undo needs of Dropbox: where a job's photos are now, and moves back."""

    def list_folder(self, path: str) -> tuple[list["FileInfo"], str]: ...

    def move_batch(self, moves: Sequence[tuple[str, str]]) -> Sequence["FileInfo | Exception"]:
        """One result per move, in order: the moved file, or the error that stopped that move."""
        ...

    def remove_tag(self, path: str, tag_text: str) -> bool:
        """Take a tag off the file at `path`: False when it did not have it."""
        ...


class UndoState(Ledger, Protocol):
    def job(self, job_id: str) -> JobRecord | None: ...

    def withdraw_originals(self, held: Sequence[tuple[str, str]]) -> None: ...

    def job_moves(self, job_id: str) -> list[tuple[str, str, str]]:
        """(file id, where it was, where the job put it) of every photo the job moved."""
        ...

    def job_tags(self, job_id: str) -> list[tuple[str, str, tuple[str, ...]]]:
        """(file id, where it was, the tags the job added) of every photo the job tagged."""
        ...

    def mark_undone(self, job_id: str, file_ids: Sequence[str]) -> None: ...


# --- the review page's ports ------------------------------------------------------------------------

class ReviewStore(UndoStore, Protocol):
    """Dropbox as the review page uses it: listings, thumbnails, and moves by file id."""

    def thumbnails(self, paths_or_ids: Sequence[str], size: str = "w256h256"
                   ) -> Sequence[tuple[FileInfo, bytes] | Exception]:
        """Per file, where it is now and its JPEG thumbnail, or why there is none."""
        ...


class ReviewState(Ledger, ConfigState, Protocol):
    """The classes, each photo's ledger, the recent decisions, and the examples a move takes away."""

    def recent_decisions(self, limit: int = ...) -> list[dict[str, object]]: ...

    def followers(self, file_id: str) -> list[str]:
        """The files that followed this photo into its folder (a Live Photo's video, its RAW...)."""
        ...

    def forget_examples(self, paths: Sequence[str]) -> int: ...
